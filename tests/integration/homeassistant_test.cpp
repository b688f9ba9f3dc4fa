// SPDX-License-Identifier: Apache-2.0
// Home Assistant discovery end to end: the built binary with [homeassistant] on, a socat pty
// pair as one device (the other has no port), and mosquitto_sub / mosquitto_pub playing Home
// Assistant: the retained configs it finds on subscribing, the topics and payloads in them
// used as HA would (availability, a state frame, commands down to the device), the resend on
// its birth message, and the config cleared when a reload removes a device.

#include "gateway_process.hpp"
#include "pty.hpp"
#include "real_clients.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace edgemq::test;
using namespace std::chrono_literals;

/// One message printed by mosquitto_sub -F "%r %q %t %p".
struct received {
    bool retain = false;
    int qos = 0;
    std::string topic;
    std::string payload;
};

received parse_line(const std::string& line) {
    received r;
    const auto a = line.find(' ');
    const auto b = line.find(' ', a + 1);
    const auto c = line.find(' ', b + 1);
    REQUIRE(c != std::string::npos);
    r.retain = line.substr(0, a) == "1";
    r.qos = std::stoi(line.substr(a + 1, b - a - 1));
    r.topic = line.substr(b + 1, c - b - 1);
    r.payload = line.substr(c + 1);
    return r;
}

std::vector<received> received_by(const background_process& sub) {
    std::vector<received> out;
    for (const auto& line : messages(sub)) {
        out.push_back(parse_line(line));
    }
    return out;
}

/// mosquitto_sub on the discovery configs, printing retain flag, QoS, topic and payload.
std::unique_ptr<background_process> discovery_sub(std::uint16_t port) {
    return start_mosquitto_sub(
        port, {"-q", "1", "-t", "homeassistant/device/+/config", "-F", "%r %q %t %p"});
}

std::string config_toml(const fs::path& dir, bool with_pump) {
    std::string toml = R"([[listeners]]
bind = "127.0.0.1:0"

[admin]
enabled = false

[homeassistant]
enabled = true
gateway_id = "site-7"

[[devices]]
id = "greenhouse"
match = { path = ")" + (dir / "gh" / "dev").string() +
                       R"(" }
name = "Greenhouse"
manufacturer = "ACME"
model = "TH-1"
stats_interval = 0
parser = { kind = "kv" }
fields.temp = { type = "float", unit = "°C", device_class = "temperature", state_class = "measurement" }
fields.door = { type = "bool", device_class = "door" }
commands.led = { type = "enum", values = ["on", "off"], format = "LED {value}" }
commands.relay = { type = "bool", format = "RELAY {value}" }
commands.reset = { type = "none", format = "RESET" }
)";
    if (with_pump) {
        // No port behind it: it is announced, and offline.
        toml += "\n[[devices]]\nid = \"pump\"\nmatch = { path = \"" +
                (dir / "pump" / "dev").string() +
                "\" }\nstats_interval = 0\nfields.rpm = { type = \"int\" }\n";
    }
    return toml;
}

const std::string gateway_topic = "homeassistant/device/edgemq_site-7/config";
const std::string greenhouse_topic = "homeassistant/device/edgemq_site-7_greenhouse/config";
const std::string pump_topic = "homeassistant/device/edgemq_site-7_pump/config";

std::map<std::string, std::string> by_topic(const std::vector<received>& rs) {
    std::map<std::string, std::string> out;
    for (const auto& r : rs) {
        out[r.topic] = r.payload;
    }
    return out;
}

} // namespace

TEST_CASE("Home Assistant discovery: retained device configs that match what the devices "
          "publish, resent on homeassistant/status online, cleared when a reload removes a "
          "device",
          "[integration][homeassistant]") {
    scratch_dir dir;
    fs::create_directories(dir.path / "gh");
    fs::create_directories(dir.path / "pump");
    const auto socat = start_pty_pair(dir.path / "gh");
    gateway gw{dir, config_toml(dir.path, true)};
    auto& log = gw.process();
    EDGEMQ_REQUIRE_PROC(log, log.wait_for_stderr("device=greenhouse opened"));
    sim_port sim{dir.path / "gh" / "sim"};

    // What Home Assistant finds when it subscribes: one retained config per device, and the
    // gateway's (the devices' via_device).
    auto first = discovery_sub(gw.port());
    EDGEMQ_REQUIRE_PROC(*first, wait_for_messages(*first, 3));
    const auto announced = received_by(*first);
    REQUIRE(announced.size() == 3);
    for (const auto& r : announced) {
        INFO(r.topic);
        CHECK(r.retain);
        CHECK(r.qos == 1);
    }
    const auto configs = by_topic(announced);
    REQUIRE(configs.size() == 3);
    REQUIRE(configs.contains(gateway_topic));
    REQUIRE(configs.contains(greenhouse_topic));
    REQUIRE(configs.contains(pump_topic));

    const auto gh = json::parse(configs.at(greenhouse_topic)).as_object();
    INFO(configs.at(greenhouse_topic));
    const auto& dev = gh.at("device").as_object();
    CHECK(dev.at("identifiers") == json::array{"edgemq_site-7_greenhouse"});
    CHECK(dev.at("name") == "Greenhouse");
    CHECK(dev.at("manufacturer") == "ACME");
    CHECK(dev.at("model") == "TH-1");
    CHECK(dev.at("via_device") == "edgemq_site-7");
    CHECK(json::parse(configs.at(gateway_topic))
              .as_object()
              .at("device")
              .as_object()
              .at("identifiers") == json::array{"edgemq_site-7"});
    CHECK(gh.at("origin").as_object().at("name") == "edgemq");
    const auto& cmps = gh.at("components").as_object();
    const auto text = [](const json::value& v) { return std::string(v.as_string()); };

    // Availability: the topic and payloads in the configs are the ones the devices publish.
    const auto& avail = gh.at("availability").as_array().at(0).as_object();
    const auto pump = json::parse(configs.at(pump_topic)).as_object();
    const auto& pump_avail = pump.at("availability").as_array().at(0).as_object();
    auto availability = start_mosquitto_sub(
        gw.port(), {"-t", text(avail.at("topic")), "-t", text(pump_avail.at("topic")), "-v"});
    EDGEMQ_REQUIRE_PROC(*availability,
                        availability->wait_for_line(text(avail.at("topic")) + " " +
                                                    text(avail.at("payload_available"))));
    EDGEMQ_REQUIRE_PROC(*availability,
                        availability->wait_for_line(text(pump_avail.at("topic")) + " " +
                                                    text(pump_avail.at("payload_not_available"))));

    // A frame: the state topic of the sensors carries the keys their templates read.
    const auto& temp = cmps.at("temp").as_object();
    const auto& door = cmps.at("door").as_object();
    CHECK(temp.at("platform") == "sensor");
    CHECK(temp.at("unit_of_measurement") == "\u00b0C");
    CHECK(temp.at("value_template") == "{{ value_json.temp }}");
    CHECK(door.at("platform") == "binary_sensor");
    auto state = start_mosquitto_sub(gw.port(), {"-t", text(temp.at("state_topic"))});
    sim.write("temp=21.5,door=true\n");
    EDGEMQ_REQUIRE_PROC(*state, wait_for_messages(*state, 1));
    const auto values = json::parse(messages(*state).at(0)).as_object();
    CHECK(values.at("temp") == 21.5);
    CHECK(json::serialize(values.at("door")) == text(door.at("payload_on")));

    // Commands: HA's payloads on the discovered command topics reach the port as the device's
    // commands.
    const auto& relay = cmps.at("set_relay").as_object();
    CHECK(relay.at("platform") == "switch");
    mosquitto_pub(gw.port(), {"-q", "1", "-t", text(relay.at("command_topic")), "-m",
                              text(relay.at("payload_on"))});
    CHECK(sim.read(3s) == "RELAY 1\n");
    const auto& led = cmps.at("set_led").as_object();
    CHECK(led.at("platform") == "select");
    mosquitto_pub(gw.port(), {"-q", "1", "-t", text(led.at("command_topic")), "-m",
                              text(led.at("options").as_array().at(1))});
    CHECK(sim.read(3s) == "LED off\n");
    const auto& reset = cmps.at("set_reset").as_object();
    CHECK(reset.at("platform") == "button");
    mosquitto_pub(gw.port(), {"-q", "1", "-t", text(reset.at("command_topic")), "-m",
                              text(reset.at("payload_press"))});
    CHECK(sim.read(3s) == "RESET\n");

    // Home Assistant's birth message: every config again; its will ("offline") changes nothing.
    auto live = discovery_sub(gw.port());
    EDGEMQ_REQUIRE_PROC(*live, wait_for_messages(*live, 3)); // the retained ones
    mosquitto_pub(gw.port(), {"-q", "1", "-t", "homeassistant/status", "-m", "offline"});
    mosquitto_pub(gw.port(), {"-q", "1", "-t", "homeassistant/status", "-m", "online"});
    EDGEMQ_REQUIRE_PROC(*live, wait_for_messages(*live, 6));
    EDGEMQ_REQUIRE_PROC(
        log, log.wait_for_stderr("homeassistant/status said online, sending 3 discovery configs"));
    std::this_thread::sleep_for(300ms);
    auto seen = received_by(*live);
    REQUIRE(seen.size() == 6);
    CHECK(by_topic({seen.begin() + 3, seen.end()}) == configs);

    // A reload without the pump: its config is cleared (an empty retained message), the
    // greenhouse's, unchanged, is not sent again.
    gw.write_config(config_toml(dir.path, false));
    log.signal(SIGHUP);
    EDGEMQ_REQUIRE_PROC(log, log.wait_for_stderr("reload done"));
    EDGEMQ_REQUIRE_PROC(*live, wait_for_messages(*live, 7));
    std::this_thread::sleep_for(300ms);
    seen = received_by(*live);
    REQUIRE(seen.size() == 7);
    CHECK(seen[6].topic == pump_topic);
    CHECK(seen[6].payload.empty());
    CHECK(log.err().find("2 discovery configs on homeassistant/device/ (gateway_id=site-7), 0 "
                         "published, 1 cleared") != std::string::npos);

    // A subscriber arriving now finds the gateway's and the greenhouse's configs only.
    auto after = discovery_sub(gw.port());
    EDGEMQ_REQUIRE_PROC(*after, wait_for_messages(*after, 2));
    std::this_thread::sleep_for(500ms);
    const auto remaining = by_topic(received_by(*after));
    CHECK(remaining.size() == 2);
    CHECK(remaining.contains(gateway_topic));
    CHECK(remaining.contains(greenhouse_topic));
    CHECK_FALSE(remaining.contains(pump_topic));
    CHECK(remaining.at(greenhouse_topic) == configs.at(greenhouse_topic));

    const auto r = log.stop(SIGTERM, 5s);
    CHECK(r.exit_code == 0);
}

TEST_CASE("Home Assistant discovery: a device removed while the gateway was stopped has its "
          "retained config cleared at the next start",
          "[integration][homeassistant]") {
    scratch_dir dir;
    fs::create_directories(dir.path / "gh");
    fs::create_directories(dir.path / "pump");
    // Retained messages survive the restart only with persistence, as on a packaged install.
    const auto persist = "\n[broker]\npersistence = true\npersistence_file = \"" +
                         (dir.path / "retained.db").string() + "\"\n";
    gateway gw{dir, config_toml(dir.path, true) + persist};
    auto first = discovery_sub(gw.port());
    EDGEMQ_REQUIRE_PROC(*first, wait_for_messages(*first, 3));
    REQUIRE(by_topic(received_by(*first)).contains(pump_topic));
    first.reset();
    CHECK(gw.process().stop(SIGTERM, 5s).exit_code == 0);

    // Started again without the pump: the gateway never announced it in this run, yet clears
    // the config it finds retained; the other two stay as they were.
    gw.write_config(config_toml(dir.path, false) + persist);
    gw.start();
    auto& log = gw.process();
    EDGEMQ_REQUIRE_PROC(log, log.wait_for_stderr("clearing " + pump_topic +
                                                 ": retained from an earlier run"));
    CHECK(log.err().find("2 discovery configs on homeassistant/device/ (gateway_id=site-7), 2 "
                         "published, 1 cleared") != std::string::npos);
    auto after = discovery_sub(gw.port());
    EDGEMQ_REQUIRE_PROC(*after, wait_for_messages(*after, 2));
    std::this_thread::sleep_for(500ms);
    const auto remaining = by_topic(received_by(*after));
    CHECK(remaining.size() == 2);
    CHECK(remaining.contains(gateway_topic));
    CHECK(remaining.contains(greenhouse_topic));
    CHECK_FALSE(remaining.contains(pump_topic));

    // And a third start finds nothing left to clear.
    after.reset();
    CHECK(log.stop(SIGTERM, 5s).exit_code == 0);
    gw.start();
    EDGEMQ_REQUIRE_PROC(gw.process(), gw.process().wait_for_stderr("2 published, 0 cleared"));
    CHECK(gw.process().err().find("clearing ") == std::string::npos);
    CHECK(gw.process().stop(SIGTERM, 5s).exit_code == 0);
}
