// SPDX-License-Identifier: Apache-2.0
// Real MQTT 5.0 clients: paho-mqtt with protocol=MQTTv5 and mosquitto_pub / mosquitto_sub
// -V mqttv5, side by side with 3.1.1 clients on the same broker. (MQTT.js: tests/mqttjs.)

#include "real_clients.hpp"
#include "test_broker.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <thread>
#include <vector>

namespace {

using edgemq::test::background_process;
using edgemq::test::eventually;
using edgemq::test::messages;
using edgemq::test::mosquitto_pub;
using edgemq::test::paho_script;
using edgemq::test::start_mosquitto_sub;
using edgemq::test::test_broker;
using edgemq::test::wait_for_messages;
using namespace std::chrono_literals;
using lines = std::vector<std::string>;

/// The received-message lines of a paho5.py subscriber.
lines received(const background_process& p) {
    lines out;
    for (const auto& l : p.lines()) {
        if (l.find(" qos=") != std::string::npos) {
            out.push_back(l);
        }
    }
    return out;
}

} // namespace

TEST_CASE("MQTT 5.0 clients: paho MQTTv5 and mosquitto -V mqttv5 exchange properties, 3.1.1 "
          "clients on the same topics get the messages without them",
          "[integration][clients][mqtt5]") {
    test_broker b;
    background_process paho_sub{paho_script("paho5.py", b.port(), {"subscribe", "room/#", "3"})};
    EDGEMQ_REQUIRE_PROC(paho_sub, paho_sub.wait_for_line("subscribed reason=1"));
    auto sub_311 = start_mosquitto_sub(b.port(), {"-t", "room/#", "-v"});
    auto sub_5 = start_mosquitto_sub(b.port(), {"-V", "mqttv5", "-t", "room/#", "-F", "%t %p %P"});

    // mosquitto_pub at 5.0 with user properties (in order, a key repeated).
    CHECK(mosquitto_pub(b.port(), {"-V", "mqttv5", "-q", "1", "-t", "room/temp", "-m", "21.5",
                                   "-D", "publish", "user-property", "unit", "C", "-D", "publish",
                                   "user-property", "unit", "K"})
              .exited_ok());
    // paho at 5.0 with a user property and a content type.
    background_process paho_pub{paho_script(
        "paho5.py", b.port(),
        {"publish", "room/hum", "40", "--user", "sensor=dht22", "--content-type", "text/plain"})};
    EDGEMQ_REQUIRE_PROC(paho_pub, paho_pub.wait(10s).exited_ok());
    CHECK(paho_pub.lines() ==
          lines{"connected rc=0 session_present=0", "published", "disconnected received=0"});
    // A 3.1.1 publisher: a 5.0 subscriber gets it with no properties.
    CHECK(mosquitto_pub(b.port(), {"-q", "1", "-t", "room/co2", "-m", "420"}).exited_ok());

    EDGEMQ_REQUIRE_PROC(paho_sub, paho_sub.wait(10s).exited_ok());
    CHECK(received(paho_sub) == lines{"room/temp qos=1 21.5 user=unit:C,unit:K content_type=",
                                      "room/hum qos=1 40 user=sensor:dht22 content_type=text/plain",
                                      "room/co2 qos=1 420 user= content_type="});
    REQUIRE(wait_for_messages(*sub_5, 3));
    CHECK(messages(*sub_5) == lines{"room/temp 21.5 unit:C unit:K", "room/hum 40 sensor:dht22",
                                    "room/co2 420 "});
    REQUIRE(wait_for_messages(*sub_311, 3));
    CHECK(messages(*sub_311) == lines{"room/temp 21.5", "room/hum 40", "room/co2 420"});
}

TEST_CASE("MQTT 5.0 clients: a paho session with a Session Expiry Interval gets what was "
          "published while it was away, one without is gone at disconnect",
          "[integration][clients][mqtt5]") {
    test_broker b;
    const auto run = [&](const lines& args) {
        auto p = std::make_unique<background_process>(paho_script("paho5.py", b.port(), args));
        EDGEMQ_REQUIRE_PROC(*p, p->wait(10s).exited_ok());
        return p;
    };
    run({"subscribe", "plant/#", "0", "--id", "kept", "--expiry", "60"});
    run({"subscribe", "plant/#", "0", "--id", "gone"}); // Session Expiry Interval 0
    for (const char* n : {"1", "2", "3"}) {
        CHECK(mosquitto_pub(b.port(), {"-V", "mqttv5", "-q", "1", "-t", "plant/pump", "-m", n})
                  .exited_ok());
    }
    const auto kept = run({"subscribe", "plant/#", "3", "--id", "kept", "--expiry", "60", "--resume"});
    CHECK(kept->lines().front() == "connected rc=0 session_present=1"); // [MQTT-3.2.2-2]
    CHECK(received(*kept) == lines{"plant/pump qos=1 1 user= content_type=",
                                   "plant/pump qos=1 2 user= content_type=",
                                   "plant/pump qos=1 3 user= content_type="});

    background_process gone{paho_script("paho5.py", b.port(),
                                        {"subscribe", "plant/#", "1", "--id", "gone", "--resume"})};
    EDGEMQ_REQUIRE_PROC(gone, gone.wait_for_line("subscribed reason=1"));
    CHECK(gone.lines().front() == "connected rc=0 session_present=0"); // [MQTT-3.1.2-23]
    CHECK(received(gone).empty());
    gone.stop();
}

TEST_CASE("MQTT 5.0 clients: mosquitto_sub -V mqttv5 members of a shared subscription split "
          "the messages, a 3.1.1 member takes its turn",
          "[integration][clients][mqtt5]") {
    test_broker b;
    auto a = start_mosquitto_sub(b.port(), {"-V", "mqttv5", "-q", "1", "-t", "$share/g/jobs", "-v"});
    auto c = start_mosquitto_sub(b.port(), {"-q", "1", "-t", "$share/g/jobs", "-v"});
    REQUIRE(eventually([&] { return b.get().subscriptions().size() == 2; }));
    for (int i = 0; i < 6; ++i) {
        CHECK(mosquitto_pub(b.port(), {"-q", "1", "-t", "jobs", "-m", std::to_string(i)})
                  .exited_ok());
    }
    REQUIRE(wait_for_messages(*a, 3));
    REQUIRE(wait_for_messages(*c, 3));
    std::this_thread::sleep_for(200ms); // a (wrong) extra copy would show by now
    CHECK(messages(*a).size() == 3);
    CHECK(messages(*c).size() == 3);
}
