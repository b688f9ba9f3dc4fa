// SPDX-License-Identifier: Apache-2.0
// The in-process broker against the clients people actually use: paho-mqtt 1.6 scripts written
// as the tutorials write them, and Debian's mosquitto_pub / mosquitto_sub. Every test asserts on
// the exact lines the clients print, and waits for lines rather than sleeping. A raw-bytes
// client stands in where a real one would hide what the broker did (it would reconnect).

#include "hex.hpp"
#include "raw_mqtt_client.hpp"
#include "real_clients.hpp"
#include "test_broker.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <string>
#include <vector>

namespace {

using edgemq::test::background_process;
using edgemq::test::eventually;
using edgemq::test::messages;
using edgemq::test::mosquitto_pub;
using edgemq::test::paho_script;
using edgemq::test::raw_mqtt_client;
using edgemq::test::read_status;
using edgemq::test::start_mosquitto_sub;
using edgemq::test::test_broker;
using edgemq::test::wait_for_messages;
using namespace std::chrono_literals;
using lines = std::vector<std::string>;

std::uint64_t connected_clients(test_broker& b) {
    return b.get().stats().clients_connected;
}

} // namespace

// ---------------------------------------------------------------------------------------------
// paho-mqtt

TEST_CASE("paho publisher to paho subscriber at QoS 0, 1 and 2", "[integration][clients][paho]") {
    // A subscriber gets min(published QoS, granted QoS) [MQTT-3.8.4-6].
    const auto [pub_qos, sub_qos] =
        GENERATE(table<int, int>({{0, 0}, {1, 1}, {2, 2}, {2, 1}, {1, 0}, {0, 2}}));
    const int got = std::min(pub_qos, sub_qos);
    INFO("publish QoS " << pub_qos << ", subscribe QoS " << sub_qos);
    test_broker b;

    background_process sub{paho_script("subscriber.py", b.port(),
                                       {"sensors/room1/temp", std::to_string(sub_qos), "3"})};
    EDGEMQ_REQUIRE_PROC(sub, sub.wait_for_line("subscribed granted="));

    background_process pub{paho_script("publisher.py", b.port(),
                                       {"sensors/room1/temp", std::to_string(pub_qos), "3"})};
    const auto p = pub.wait(10s);
    EDGEMQ_REQUIRE_PROC(pub, p.exited_ok());
    CHECK(pub.lines() == lines{"connected rc=0", "published 3"});

    const auto s = sub.wait(10s);
    EDGEMQ_REQUIRE_PROC(sub, s.exited_ok());
    const std::string q = "qos=" + std::to_string(got);
    CHECK(sub.lines() == lines{
                             "connected rc=0 session_present=0",
                             "subscribed granted=" + std::to_string(sub_qos),
                             "sensors/room1/temp " + q + " retain=0 msg-0",
                             "sensors/room1/temp " + q + " retain=0 msg-1",
                             "sensors/room1/temp " + q + " retain=0 msg-2",
                             "disconnected received=3",
                         });
}

TEST_CASE("10000 QoS 1 messages through paho all arrive, in order",
          "[integration][clients][paho]") {
    constexpr int count = 10000;
    // The publisher outruns the Python subscriber; with the default max_queued_messages (1000,
    // as in Mosquitto) the broker drops what overflows the subscriber's queue, as Mosquitto
    // 2.0.11 does ("Outgoing messages are being dropped"). This test is about the transport.
    auto b = test_broker::from_toml("[broker]\nmax_queued_messages = 0\n");
    background_process sub{
        paho_script("subscriber.py", b->port(), {"load/seq", "1", std::to_string(count)})};
    EDGEMQ_REQUIRE_PROC(sub, sub.wait_for_line("subscribed granted=1"));

    background_process pub{
        paho_script("publisher.py", b->port(), {"load/seq", "1", std::to_string(count)})};
    EDGEMQ_REQUIRE_PROC(pub, pub.wait(30s).exited_ok());
    EDGEMQ_REQUIRE_PROC(sub, sub.wait(30s).exited_ok());

    CHECK(b->get().stats().messages_dropped == 0);
    const auto got = sub.lines();
    REQUIRE(got.size() == count + 3);
    CHECK(got.front() == "connected rc=0 session_present=0");
    CHECK(got[1] == "subscribed granted=1");
    for (int i = 0; i < count; ++i) {
        const auto& line = got[static_cast<std::size_t>(i) + 2];
        if (line != "load/seq qos=1 retain=0 msg-" + std::to_string(i)) {
            FAIL("message " << i << " arrived as: " << line);
        }
    }
    CHECK(got.back() == "disconnected received=" + std::to_string(count));
}

TEST_CASE("paho clean_session=False: QoS 1 messages wait for the client to come back",
          "[integration][clients][paho]") {
    test_broker b;
    const std::vector<std::string> persistent{"--id", "paho-persist", "--persistent"};
    {
        auto args = std::vector<std::string>{"plant/#", "1", "0"};
        args.insert(args.end(), persistent.begin(), persistent.end());
        background_process first{paho_script("subscriber.py", b.port(), args)};
        EDGEMQ_REQUIRE_PROC(first, first.wait(10s).exited_ok());
        CHECK(first.lines() == lines{"connected rc=0 session_present=0", "subscribed granted=1",
                                     "disconnected received=0"});
    }
    REQUIRE(eventually([&] { return connected_clients(b) == 0; }));

    background_process pub{paho_script("publisher.py", b.port(), {"plant/pump", "1", "3"})};
    EDGEMQ_REQUIRE_PROC(pub, pub.wait(10s).exited_ok());

    auto args = std::vector<std::string>{"plant/#", "1", "3"};
    args.insert(args.end(), persistent.begin(), persistent.end());
    background_process again{paho_script("subscriber.py", b.port(), args)};
    EDGEMQ_REQUIRE_PROC(again, again.wait(10s).exited_ok());
    const auto got = again.lines();
    REQUIRE(!got.empty());
    CHECK(got.front() == "connected rc=0 session_present=1"); // [MQTT-3.2.2-2]
    lines received;
    for (const auto& l : got) {
        if (l.find(" qos=") != std::string::npos) {
            received.push_back(l);
        }
    }
    // The queued messages may come before or after the SUBACK of the renewed subscription.
    CHECK(received == lines{"plant/pump qos=1 retain=0 msg-0", "plant/pump qos=1 retain=0 msg-1",
                            "plant/pump qos=1 retain=0 msg-2"});
    CHECK(got.back() == "disconnected received=3");
}

// ---------------------------------------------------------------------------------------------
// mosquitto_pub / mosquitto_sub

TEST_CASE("mosquitto_pub to mosquitto_sub -t 'test/#' -v", "[integration][clients][mosquitto]") {
    test_broker b;
    auto sub = start_mosquitto_sub(b.port(), {"-t", "test/#", "-v", "-C", "4"});

    mosquitto_pub(b.port(), {"-q", "1", "-t", "test/a", "-m", "hello"});
    mosquitto_pub(b.port(), {"-q", "1", "-t", "test/b/c", "-m", "two words"});
    mosquitto_pub(b.port(), {"-q", "1", "-t", "other/x", "-m", "not for test/#"});
    mosquitto_pub(b.port(), {"-q", "1", "-t", "test", "-m", "the parent level"});
    mosquitto_pub(b.port(), {"-q", "1", "-t", "test/end", "-m", "bye"});

    EDGEMQ_REQUIRE_PROC(*sub, sub->wait(10s).exited_ok());
    // '#' also matches the parent level [MQTT-4.7.1-2].
    CHECK(messages(*sub) ==
          lines{"test/a hello", "test/b/c two words", "test the parent level", "test/end bye"});
}

TEST_CASE("mosquitto_sub -q 2 gets each message at the QoS it was published with",
          "[integration][clients][mosquitto]") {
    test_broker b;
    auto sub =
        start_mosquitto_sub(b.port(), {"-q", "2", "-t", "test/qos", "-F", "%q %t %p", "-C", "3"});

    const auto p2 = mosquitto_pub(b.port(), {"-d", "-q", "2", "-t", "test/qos", "-m", "two"});
    CHECK(p2.out.find("received PUBREC (Mid: 1)") != std::string::npos);
    CHECK(p2.out.find("received PUBCOMP (Mid: 1, RC:0)") != std::string::npos);
    const auto p1 = mosquitto_pub(b.port(), {"-d", "-q", "1", "-t", "test/qos", "-m", "one"});
    CHECK(p1.out.find("received PUBACK (Mid: 1, RC:0)") != std::string::npos);
    mosquitto_pub(b.port(), {"-q", "0", "-t", "test/qos", "-m", "zero"}); // last: unacknowledged

    EDGEMQ_REQUIRE_PROC(*sub, sub->wait(10s).exited_ok());
    CHECK(messages(*sub) == lines{"2 test/qos two", "1 test/qos one", "0 test/qos zero"});
    // The QoS 2 delivery to the subscriber went through the whole exchange.
    const auto out = sub->out();
    CHECK(out.find("sending PUBREC") != std::string::npos);
    CHECK(out.find("received PUBREL") != std::string::npos);
    CHECK(out.find("sending PUBCOMP") != std::string::npos);
    CHECK(out.find("sending PUBACK") != std::string::npos);
}

TEST_CASE("mosquitto_sub with '+' and '#' wildcards", "[integration][clients][mosquitto]") {
    test_broker b;
    auto plus = start_mosquitto_sub(b.port(), {"-t", "home/+/temp", "-v", "-C", "3"});
    auto hash = start_mosquitto_sub(b.port(), {"-t", "home/kitchen/#", "-v", "-C", "4"});
    auto both = start_mosquitto_sub(b.port(), {"-t", "+/+/temp", "-t", "home/#", "-v", "-C", "6"});

    for (const auto& [topic, payload] : std::vector<std::pair<std::string, std::string>>{
             {"home/kitchen/temp", "21.5"},
             {"home/kitchen/hum", "40"},
             {"home/attic/temp", "12.0"},
             {"home/kitchen", "kitchen itself"},
             {"home/kitchen/fridge/temp", "4.0"},
             {"garden/shed/temp", "9.5"},
             {"home//temp", "empty level"},
         }) {
        mosquitto_pub(b.port(), {"-q", "1", "-t", topic, "-m", payload});
    }

    EDGEMQ_REQUIRE_PROC(*plus, plus->wait(10s).exited_ok());
    EDGEMQ_REQUIRE_PROC(*hash, hash->wait(10s).exited_ok());
    EDGEMQ_REQUIRE_PROC(*both, both->wait(10s).exited_ok());
    // '+' matches exactly one level, an empty one included [MQTT-4.7.1-3].
    CHECK(messages(*plus) ==
          lines{"home/kitchen/temp 21.5", "home/attic/temp 12.0", "home//temp empty level"});
    CHECK(messages(*hash) == lines{"home/kitchen/temp 21.5", "home/kitchen/hum 40",
                                   "home/kitchen kitchen itself", "home/kitchen/fridge/temp 4.0"});
    // Overlapping subscriptions deliver a message once; garden/shed/temp only via '+/+/temp'.
    CHECK(messages(*both) == lines{"home/kitchen/temp 21.5", "home/kitchen/hum 40",
                                   "home/attic/temp 12.0", "home/kitchen kitchen itself",
                                   "home/kitchen/fridge/temp 4.0", "garden/shed/temp 9.5"});
}

TEST_CASE("$SYS topics match '$SYS/#' but not '#' or '+/...'",
          "[integration][clients][mosquitto]") {
    auto b = test_broker::from_toml("[broker]\nsys_interval = 1\n");
    auto sys = start_mosquitto_sub(b->port(), {"-t", "$SYS/#", "-F", "%r %t"});
    auto all = start_mosquitto_sub(b->port(), {"-t", "#", "-t", "+/broker/uptime", "-v"});

    // Wait for a periodic $SYS update published after `all` subscribed.
    const auto updates = [](const lines& ls) {
        return std::count(ls.begin(), ls.end(), "0 $SYS/broker/uptime");
    };
    const auto before = updates(sys->lines());
    EDGEMQ_REQUIRE_PROC(*sys,
                        sys->wait_until([&](const lines& ls) { return updates(ls) > before; }, 5s));
    mosquitto_pub(b->port(), {"-q", "1", "-t", "test/marker", "-m", "end"});

    EDGEMQ_REQUIRE_PROC(*all, wait_for_messages(*all, 1));
    CHECK(messages(*all) == lines{"test/marker end"}); // [MQTT-4.7.2-1]
    // $SYS/broker/version is retained, so a new subscriber gets it with the retain flag.
    const auto s = messages(*sys);
    CHECK(std::count(s.begin(), s.end(), "1 $SYS/broker/version") == 1);
}

TEST_CASE("mosquitto_pub -r: retained for later subscribers, deleted by -r -n",
          "[integration][clients][mosquitto]") {
    test_broker b;
    auto live = start_mosquitto_sub(b.port(), {"-t", "test/ret", "-F", "%r %t %p"});

    mosquitto_pub(b.port(), {"-q", "1", "-r", "-t", "test/ret", "-m", "kept"});
    {
        auto later = start_mosquitto_sub(b.port(), {"-t", "test/ret", "-F", "%r %t %p", "-C", "1"});
        EDGEMQ_REQUIRE_PROC(*later, later->wait(10s).exited_ok());
        CHECK(messages(*later) == lines{"1 test/ret kept"}); // [MQTT-3.3.1-6], [MQTT-3.3.1-8]
    }
    {
        // A wildcard subscription gets the retained message as well.
        auto later = start_mosquitto_sub(b.port(), {"-t", "test/+", "-F", "%r %t %p", "-C", "1"});
        EDGEMQ_REQUIRE_PROC(*later, later->wait(10s).exited_ok());
        CHECK(messages(*later) == lines{"1 test/ret kept"});
    }

    mosquitto_pub(b.port(), {"-q", "1", "-r", "-n", "-t", "test/ret"}); // [MQTT-3.3.1-10]
    {
        auto after = start_mosquitto_sub(b.port(), {"-t", "test/ret", "-F", "%r %t %p", "-C", "1"});
        mosquitto_pub(b.port(), {"-q", "1", "-t", "test/ret", "-m", "not retained"});
        EDGEMQ_REQUIRE_PROC(*after, after->wait(10s).exited_ok());
        CHECK(messages(*after) == lines{"0 test/ret not retained"}); // [MQTT-3.3.1-11]
    }

    // A subscriber that was there all along gets each message with retain 0 [MQTT-3.3.1-9],
    // the empty deleting one included [MQTT-3.3.1-10].
    EDGEMQ_REQUIRE_PROC(*live, wait_for_messages(*live, 3));
    CHECK(messages(*live) == lines{"0 test/ret kept", "0 test/ret ", "0 test/ret not retained"});
}

TEST_CASE("mosquitto_sub -c: a persistent session gets what was published while it was away",
          "[integration][clients][mosquitto]") {
    const bool queue_qos0 = GENERATE(false, true);
    INFO("queue_qos0_messages = " << queue_qos0);
    auto b = test_broker::from_toml(std::string{"[broker]\nqueue_qos0_messages = "} +
                                    (queue_qos0 ? "true" : "false") + "\n");
    const std::vector<std::string> session{"-c", "-i", "persist-1", "-q",
                                           "1",  "-t", "plant/#",   "-v"};
    {
        auto first = start_mosquitto_sub(b->port(), session);
        first->stop(SIGTERM);
    }
    REQUIRE(eventually([&] { return connected_clients(*b) == 0; }));

    mosquitto_pub(b->port(), {"-q", "1", "-t", "plant/a", "-m", "one"});
    mosquitto_pub(b->port(), {"-q", "0", "-t", "plant/b", "-m", "zero"});
    mosquitto_pub(b->port(), {"-q", "1", "-t", "plant/c", "-m", "two"});
    // The QoS 0 message must be in the session (or dropped) before the client comes back.
    REQUIRE(eventually([&] { return b->get().stats().messages_received == 3; }));

    auto args = session;
    args.insert(args.end(), {"-C", queue_qos0 ? "4" : "3"});
    auto again = start_mosquitto_sub(b->port(), args);
    mosquitto_pub(b->port(), {"-q", "1", "-t", "plant/end", "-m", "live"});
    EDGEMQ_REQUIRE_PROC(*again, again->wait(10s).exited_ok());
    if (queue_qos0) {
        CHECK(messages(*again) ==
              lines{"plant/a one", "plant/b zero", "plant/c two", "plant/end live"});
    } else {
        CHECK(messages(*again) == lines{"plant/a one", "plant/c two", "plant/end live"});
    }
}

TEST_CASE("a client killed with SIGKILL has its will published",
          "[integration][clients][mosquitto]") {
    test_broker b;
    auto watcher = start_mosquitto_sub(b.port(), {"-t", "status/#", "-v", "-q", "1"});
    auto device = start_mosquitto_sub(b.port(), {"-i", "dev-1", "-t", "cmd/dev-1", "--will-topic",
                                                 "status/dev-1", "--will-payload", "offline",
                                                 "--will-qos", "1"});

    const auto r = device->stop(SIGKILL);
    REQUIRE(r.term_signal == SIGKILL);
    EDGEMQ_REQUIRE_PROC(*watcher, wait_for_messages(*watcher, 1));
    CHECK(messages(*watcher) == lines{"status/dev-1 offline"}); // [MQTT-3.1.2-8]
}

TEST_CASE("a clean DISCONNECT discards the will", "[integration][clients][mosquitto]") {
    test_broker b;
    auto watcher = start_mosquitto_sub(b.port(), {"-t", "status/#", "-v", "-q", "1"});
    auto device = start_mosquitto_sub(b.port(), {"-i", "dev-1", "-t", "cmd/dev-1", "-C", "1",
                                                 "--will-topic", "status/dev-1", "--will-payload",
                                                 "offline", "--will-qos", "1"});

    mosquitto_pub(b.port(), {"-q", "1", "-t", "cmd/dev-1", "-m", "bye"});
    EDGEMQ_REQUIRE_PROC(*device, device->wait(10s).exited_ok());
    CHECK(messages(*device) == lines{"bye"});
    CHECK(device->out().find("sending DISCONNECT") != std::string::npos);
    // Once the broker has dropped the device, any will would already be on its way.
    REQUIRE(eventually([&] { return connected_clients(b) == 1; }));

    mosquitto_pub(b.port(), {"-q", "1", "-t", "status/marker", "-m", "end"});
    EDGEMQ_REQUIRE_PROC(*watcher, wait_for_messages(*watcher, 1));
    CHECK(messages(*watcher) == lines{"status/marker end"}); // [MQTT-3.14.4-3]
}

TEST_CASE("a second client with the same client id takes over",
          "[integration][clients][mosquitto]") {
    test_broker b;
    // The first client is a raw one: mosquitto_sub would reconnect when it is closed and take
    // the id back, so two of them flap instead of showing which connection the broker keeps.
    raw_mqtt_client first{b.port()};
    REQUIRE_FALSE(first.send(edgemq::test::hex("10 13 00 04 4d 51 54 54 04 02 00 3c 00 07"
                                               "73 61 6d 65 2d 69 64"))); // CONNECT id="same-id"
    auto connack = first.read_packet(5s);
    REQUIRE(connack.status == read_status::packet);
    REQUIRE(connack.bytes == edgemq::test::hex("20 02 00 00"));

    auto second = start_mosquitto_sub(b.port(), {"-i", "same-id", "-t", "t/second", "-v"});

    // The broker closes the first connection [MQTT-3.1.4-2], sending nothing before it.
    const auto closed = first.read_packet(5s);
    INFO("first connection: " << edgemq::test::to_hex(closed.bytes) << " " << closed.detail);
    CHECK(closed.status == read_status::closed);
    CHECK(closed.detail == "eof");
    CHECK(closed.bytes.empty());

    // The second one stays connected and keeps working: a message reaches it, and it never
    // had to reconnect.
    REQUIRE(eventually([&] { return connected_clients(b) == 1; }));
    mosquitto_pub(b.port(), {"-q", "1", "-t", "t/second", "-m", "still here"});
    EDGEMQ_REQUIRE_PROC(*second, wait_for_messages(*second, 1));
    CHECK(messages(*second) == lines{"t/second still here"});
    EDGEMQ_REQUIRE_PROC(*second, second->running());
    const auto out = second->lines();
    CHECK(std::count_if(out.begin(), out.end(), [](const std::string& l) {
              return l.find("sending CONNECT") != std::string::npos;
          }) == 1);
    CHECK(connected_clients(b) == 1);
}

TEST_CASE("a 1 MB payload goes through mosquitto_pub -s and mosquitto_sub",
          "[integration][clients][mosquitto]") {
    test_broker b;
    std::string payload(1024 * 1024, ' ');
    std::uint32_t x = 12345;
    for (auto& c : payload) {
        x = x * 1664525u + 1013904223u;
        c = static_cast<char>('!' + (x >> 24) % 94); // printable, no newline, no space
    }
    auto sub = start_mosquitto_sub(b.port(), {"-q", "1", "-t", "big/blob", "-C", "1"});
    mosquitto_pub(b.port(), {"-q", "1", "-t", "big/blob", "-s"}, payload);

    EDGEMQ_REQUIRE_PROC(*sub, sub->wait(10s).exited_ok());
    const auto got = messages(*sub);
    REQUIRE(got.size() == 1);
    CHECK(got.front().size() == payload.size());
    CHECK((got.front() == payload)); // not decomposed: no megabyte in the failure message
}
