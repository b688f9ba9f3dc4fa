// SPDX-License-Identifier: Apache-2.0
// [homeassistant] and the Home Assistant keys of devices and fields: defaults, every key read,
// and mistakes refused at file:line:col.

#include <edgemq/config/load.hpp>

#include "commented_example.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

using namespace edgemq::config;

namespace {

std::vector<std::string> errors(const std::string& toml) {
    std::vector<std::string> lines;
    try {
        load_string(toml, "t.toml");
    } catch (const load_error& e) {
        for (const auto& d : e.diagnostics()) {
            lines.push_back(d.to_string());
        }
    }
    return lines;
}

/// A device with one field table `field` (the text inside { }).
std::string device_with_field(const std::string& field) {
    return "[[devices]]\nid = \"a\"\nmatch = { path = \"/dev/x\" }\nfields.t = { " + field + " }\n";
}

using lines = std::vector<std::string>;

} // namespace

TEST_CASE("Home Assistant discovery is off by default, with HA's prefix and status topic",
          "[config][homeassistant]") {
    const auto g = load_string("", "t.toml");
    CHECK_FALSE(g.homeassistant.enabled);
    CHECK(g.homeassistant.discovery_prefix == "homeassistant");
    CHECK(g.homeassistant.status_topic == "homeassistant/status");
    CHECK(g.homeassistant.gateway_id.empty());
    CHECK(g.homeassistant == defaults().homeassistant);
}

TEST_CASE("homeassistant keys are read, and status_topic follows the prefix unless given",
          "[config][homeassistant]") {
    auto g = load_string("[homeassistant]\nenabled = true\ndiscovery_prefix = \"ha\"\n"
                         "gateway_id = \"site-7\"\n",
                         "t.toml");
    CHECK(g.homeassistant.enabled);
    CHECK(g.homeassistant.discovery_prefix == "ha");
    CHECK(g.homeassistant.status_topic == "ha/status");
    CHECK(g.homeassistant.gateway_id == "site-7");
    g = load_string("[homeassistant]\ndiscovery_prefix = \"ha\"\nstatus_topic = \"hass/birth\"\n",
                    "t.toml");
    CHECK(g.homeassistant.status_topic == "hass/birth");
}

TEST_CASE("device and field keys for Home Assistant are read", "[config][homeassistant]") {
    const auto g = load_string(R"([[devices]]
id = "meter"
match = { path = "/dev/x" }
name = "Energy meter"
manufacturer = "ACME"
model = "EM-3"
fields.temp = { type = "float", unit = "°C", device_class = "temperature", state_class = "measurement", name = "Water temperature" }
fields.door = { type = "bool", device_class = "door" }
fields.level = { component = "sensor", type = "bool" }
)",
                               "t.toml");
    const auto& d = g.devices.at(0);
    CHECK(d.name == "Energy meter");
    CHECK(d.manufacturer == "ACME");
    CHECK(d.model == "EM-3");
    REQUIRE(d.fields.size() == 3);
    // toml++ tables iterate in key order: door, level, temp.
    CHECK(d.fields[0].name == "door");
    CHECK(d.fields[0].component == entity_component::automatic);
    CHECK(d.fields[0].device_class == "door");
    CHECK(d.fields[1].component == entity_component::sensor);
    CHECK(d.fields[2].name == "temp");
    CHECK(d.fields[2].entity_name == "Water temperature");
    CHECK(d.fields[2].device_class == "temperature");
    CHECK(d.fields[2].state_class == "measurement");
}

TEST_CASE("Home Assistant mistakes are refused at file:line:col", "[config][homeassistant]") {
    // An unknown component, with the closest valid one.
    CHECK(errors(device_with_field("component = \"binary\"")) ==
          lines{"t.toml:4:26: devices[0].fields.t.component: expected one of \"auto\", "
                "\"sensor\", \"binary_sensor\", got \"binary\""});
    // A device_class that is no string, and one Home Assistant does not know.
    CHECK(errors(device_with_field("device_class = 1")) ==
          lines{"t.toml:4:29: devices[0].fields.t.device_class: expected a string, got an "
                "integer"});
    CHECK(errors(device_with_field("device_class = \"temprature\"")) ==
          lines{"t.toml:4:29: devices[0].fields.t.device_class: unknown sensor device_class "
                "\"temprature\" (Home Assistant's are listed at "
                "https://www.home-assistant.io/integrations/sensor/#device-class); did you mean "
                "\"temperature\"?"});
    // A sensor class on a binary_sensor (a bool field) is refused with the binary_sensor list.
    CHECK(errors(device_with_field("type = \"bool\", device_class = \"temperature\""))
              .at(0)
              .starts_with("t.toml:4:44: devices[0].fields.t.device_class: unknown "
                           "binary_sensor device_class \"temperature\""));
    CHECK(errors(device_with_field("type = \"float\", component = \"binary_sensor\"")) ==
          lines{"t.toml:4:42: devices[0].fields.t.component: component = \"binary_sensor\" "
                "needs type = \"bool\" (or \"auto\" with true/false values)"});
    CHECK(errors(device_with_field("state_class = \"measurment\"")) ==
          lines{"t.toml:4:28: devices[0].fields.t.state_class: expected one of "
                "\"measurement\", \"measurement_angle\", \"total\", \"total_increasing\", got "
                "\"measurment\"; did you mean \"measurement\"?"});
    CHECK(errors(device_with_field("type = \"string\", state_class = \"measurement\"")) ==
          lines{"t.toml:4:45: devices[0].fields.t.state_class: a state_class needs a numeric "
                "field (type \"int\", \"float\" or \"auto\")"});
    CHECK(errors(device_with_field("type = \"bool\", state_class = \"total\"")) ==
          lines{"t.toml:4:43: devices[0].fields.t.state_class: a binary_sensor has no "
                "state_class; only a sensor does"});
    CHECK(errors(device_with_field("name = \"\"")) ==
          lines{"t.toml:4:21: devices[0].fields.t.name: must not be empty"});

    // [homeassistant] itself.
    CHECK(errors("[homeassistant]\nenabled = \"yes\"\n") ==
          lines{"t.toml:2:11: homeassistant.enabled: expected a boolean (true or false), got "
                "a string"});
    CHECK(errors("[homeassistant]\ndiscovery_prefix = \"ha/#\"\n") ==
          lines{"t.toml:2:20: homeassistant.discovery_prefix: must not hold the wildcards '+' "
                "or '#', got \"ha/#\""});
    CHECK(errors("[homeassistant]\ndiscovery_prefix = \"ha/\"\n") ==
          lines{"t.toml:2:20: homeassistant.discovery_prefix: must not end with '/' (the "
                "topics are <discovery_prefix>/device/...), got \"ha/\""});
    CHECK(errors("[homeassistant]\nstatus_topic = \"\"\n") ==
          lines{"t.toml:2:16: homeassistant.status_topic: must not be empty, got \"\""});
    CHECK(errors("[homeassistant]\ngateway_id = \"site_7\"\n") ==
          lines{"t.toml:2:14: homeassistant.gateway_id: may hold only letters, digits and '-' "
                "(it is followed by '_' and the device id in identifiers), got \"site_7\""});
    CHECK(errors("[homeassistant]\nprefix = \"ha\"\n") ==
          lines{"t.toml:2:1: homeassistant.prefix: unknown key; valid keys are 'enabled', "
                "'discovery_prefix', 'status_topic', 'gateway_id'"});
}

TEST_CASE("the commented [homeassistant] keys in config/edgemq.toml are the defaults",
          "[config][homeassistant]") {
    // Its settings are "#key = value" lines after "#[homeassistant]": load them uncommented.
    std::ifstream in{edgemq::test::reference_config()};
    REQUIRE(in);
    std::string text;
    bool inside = false;
    for (std::string line; std::getline(in, line);) {
        inside = inside || line == "#[homeassistant]";
        if (inside && line.size() > 1 && line[0] == '#' && line[1] != ' ') {
            text += line.substr(1) + '\n';
        }
    }
    INFO(text);
    REQUIRE(text.starts_with("[homeassistant]\nenabled = false\n"));
    CHECK(text.find("discovery_prefix = ") != std::string::npos);
    CHECK(text.find("status_topic = ") != std::string::npos);
    CHECK(load_string(text, "example.toml").homeassistant == defaults().homeassistant);
}

TEST_CASE("the commented device example in config/edgemq.toml has Home Assistant keys",
          "[config][homeassistant]") {
    const auto g = load_string(
        edgemq::test::commented_example(edgemq::test::reference_config(), "# [[devices]]"),
        "example.toml");
    const auto& d = g.devices.at(0);
    CHECK(d.name == "Greenhouse");
    CHECK(d.manufacturer == "ACME");
    CHECK(d.model == "TH-1");
    const auto temp = std::ranges::find(d.fields, std::string{"temp"}, &device_field::name);
    REQUIRE(temp != d.fields.end());
    CHECK(temp->device_class == "temperature");
    CHECK(temp->state_class == "measurement");
}
