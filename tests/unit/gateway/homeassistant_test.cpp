// SPDX-License-Identifier: Apache-2.0
// Home Assistant discovery payloads built from a configuration (gateway/src/homeassistant.hpp),
// checked against HA's documented device discovery schema
// (https://www.home-assistant.io/integrations/mqtt/, "Device discovery payload", and each
// platform's page): the root's required mappings, each component's platform, unique_id and
// required options, only documented option names, and topics and payloads that are the ones the
// serial driver really publishes and accepts (checked with its own mapper and command encoder).

#include "homeassistant.hpp"

#include <edgemq/config/load.hpp>
#include <edgemq/serial/command.hpp>
#include <edgemq/serial/mapping.hpp>
#include <edgemq/serial/parser.hpp>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace json = boost::json;
using edgemq::app::discovery_changes;
using edgemq::app::discovery_gateway_id;
using edgemq::app::discovery_message;
using edgemq::app::discovery_messages;
using edgemq::app::stale_discovery_topics;

namespace {

/// Per platform: the options HA requires, and every option it documents that edgemq may send
/// (common ones included). A typo in a key ("unit_of_measurment") would be ignored by Home
/// Assistant, so it fails here.
struct platform_schema {
    std::set<std::string> required;
    std::set<std::string> documented;
};

const std::set<std::string> common_options{"platform",
                                           "unique_id",
                                           "name",
                                           "availability",
                                           "availability_topic",
                                           "device",
                                           "origin",
                                           "qos",
                                           "entity_category",
                                           "icon",
                                           "enabled_by_default",
                                           "encoding"};

const std::map<std::string, platform_schema>& schemas() {
    static const std::map<std::string, platform_schema> s{
        {"sensor",
         {{"state_topic"},
          {"state_topic", "value_template", "unit_of_measurement", "device_class", "state_class",
           "expire_after", "force_update", "suggested_display_precision"}}},
        {"binary_sensor",
         {{"state_topic"},
          {"state_topic", "value_template", "payload_on", "payload_off", "device_class",
           "expire_after", "force_update", "off_delay"}}},
        {"switch",
         {{"command_topic"},
          {"command_topic", "payload_on", "payload_off", "state_topic", "state_on", "state_off",
           "optimistic", "retain", "device_class", "value_template", "command_template"}}},
        {"select",
         {{"command_topic", "options"},
          {"command_topic", "options", "state_topic", "optimistic", "retain", "value_template",
           "command_template"}}},
        {"number",
         {{"command_topic"},
          {"command_topic", "min", "max", "step", "mode", "state_topic", "optimistic", "retain",
           "unit_of_measurement", "device_class", "value_template", "command_template"}}},
        {"button",
         {{"command_topic"},
          {"command_topic", "payload_press", "retain", "device_class", "command_template"}}},
        {"text",
         {{"command_topic"},
          {"command_topic", "min", "max", "mode", "pattern", "state_topic", "retain",
           "value_template", "command_template"}}},
    };
    return s;
}

const std::set<std::string> device_keys{"identifiers",  "connections",    "name",
                                        "manufacturer", "model",          "model_id",
                                        "sw_version",   "hw_version",     "serial_number",
                                        "via_device",   "suggested_area", "configuration_url"};

/// Checks one discovery payload against the schema; returns it parsed.
json::object check_schema(const discovery_message& m) {
    INFO(m.topic << " " << m.payload);
    // <discovery_prefix>/device/<object_id>/config, object_id of [a-zA-Z0-9_-].
    CHECK(std::regex_match(m.topic, std::regex{R"([^#+]+/device/[a-zA-Z0-9_-]+/config)"}));
    const auto root = json::parse(m.payload).as_object();
    for (const auto& [key, value] : root) {
        CHECK((key == "device" || key == "origin" || key == "components" || key == "availability" ||
               key == "state_topic" || key == "command_topic" || key == "qos" ||
               key == "encoding"));
    }
    // The device and origin mappings are mandatory at the root.
    REQUIRE(root.contains("device"));
    REQUIRE(root.contains("origin"));
    const auto& dev = root.at("device").as_object();
    for (const auto& [key, value] : dev) {
        INFO("device key " << key);
        CHECK(device_keys.contains(std::string(key)));
    }
    REQUIRE(dev.contains("identifiers"));
    CHECK(!dev.at("identifiers").as_array().empty());
    CHECK(root.at("origin").as_object().at("name") == "edgemq");
    CHECK(root.at("origin").as_object().contains("sw_version"));
    if (root.contains("availability")) {
        for (const auto& a : root.at("availability").as_array()) {
            CHECK(a.as_object().contains("topic"));
        }
    }
    REQUIRE(root.contains("components"));
    for (const auto& [id, value] : root.at("components").as_object()) {
        INFO("component " << id);
        const auto& c = value.as_object();
        // platform and unique_id are required for each component.
        REQUIRE(c.contains("platform"));
        REQUIRE(c.contains("unique_id"));
        const std::string platform{c.at("platform").as_string()};
        REQUIRE(schemas().contains(platform));
        const auto& schema = schemas().at(platform);
        for (const auto& key : schema.required) {
            INFO("required " << key);
            CHECK(c.contains(key));
        }
        for (const auto& [key, v] : c) {
            INFO("option " << key);
            CHECK((common_options.contains(std::string(key)) ||
                   schema.documented.contains(std::string(key))));
        }
    }
    return root;
}

const json::object& component(const json::object& root, std::string_view id) {
    return root.at("components").as_object().at(id).as_object();
}

std::string str(const json::object& o, std::string_view key) {
    return std::string(o.at(key).as_string());
}

const std::string greenhouse_toml = R"(
[homeassistant]
enabled = true
gateway_id = "site-7"

[[devices]]
id = "greenhouse"
match = { path = "/dev/ttyUSB0", vid = "1a86", pid = "7523", serial = "A9X1" }
name = "Greenhouse"
manufacturer = "ACME"
model = "TH-1"
parser = { kind = "kv" }
fields.temp = { type = "float", unit = "°C", device_class = "temperature", state_class = "measurement" }
fields.door = { type = "bool", device_class = "door", name = "Door open" }
fields."flow.rate" = { type = "float", unit = "L/min" }
fields.items = { type = "int" }
fields.mode = { type = "string" }
commands.led = { type = "enum", values = ["on", "off"], format = "LED {value}" }
commands.relay = { type = "bool", format = "RELAY {value}" }
commands.setpoint = { type = "float", min = 5, max = 30.5 }
commands.count = { type = "int", min = 0, max = 10 }
commands.reset = { type = "none", format = "RESET" }
commands.label = { type = "string", max_length = 1000 }
)";

/// The greenhouse's message of `messages` (the gateway's comes first).
const discovery_message& greenhouse(const std::vector<discovery_message>& messages) {
    const std::string topic = "homeassistant/device/edgemq_site-7_greenhouse/config";
    const auto it = std::ranges::find(messages, topic, &discovery_message::topic);
    REQUIRE(it != messages.end());
    return *it;
}

} // namespace

TEST_CASE("discovery is off unless [homeassistant] enabled", "[homeassistant]") {
    const auto cfg = edgemq::config::load_string(
        "[[devices]]\nid = \"a\"\nmatch = { path = \"/dev/x\" }\n", "t.toml");
    CHECK(discovery_messages(cfg, "gw").empty());
}

TEST_CASE("one device config per device plus the gateway's, on HA's device discovery topic",
          "[homeassistant]") {
    auto cfg = edgemq::config::load_string(greenhouse_toml +
                                               "[[devices]]\nid = \"pump\"\nmatch = { path = "
                                               "\"/dev/ttyUSB1\" }\nparser = { kind = \"csv\", "
                                               "columns = [\"rpm\", \"_\", \"amps\"] }\n",
                                           "t.toml");
    const auto messages = discovery_messages(cfg, "site-7");
    REQUIRE(messages.size() == 3);
    CHECK(messages[0].topic == "homeassistant/device/edgemq_site-7/config");
    CHECK(messages[1].topic == "homeassistant/device/edgemq_site-7_greenhouse/config");
    CHECK(messages[2].topic == "homeassistant/device/edgemq_site-7_pump/config");
    for (const auto& m : messages) {
        check_schema(m);
    }

    // The gateway: every device's via_device, with its $SYS sensors.
    const auto gw = json::parse(messages[0].payload).as_object();
    CHECK(gw.at("device").as_object().at("identifiers") == json::array{"edgemq_site-7"});
    CHECK(str(component(gw, "uptime"), "state_topic") == "$SYS/broker/uptime");
    CHECK(str(component(gw, "clients_connected"), "state_topic") ==
          "$SYS/broker/clients/connected");

    // A csv device without fields: its columns are sensors, "_" skipped.
    const auto pump = json::parse(messages[2].payload).as_object();
    const auto& pump_cmps = pump.at("components").as_object();
    CHECK(pump_cmps.size() == 2);
    CHECK(str(component(pump, "rpm"), "value_template") == "{{ value_json.rpm }}");
    CHECK(str(component(pump, "amps"), "platform") == "sensor");
    CHECK(pump.at("device").as_object().at("name") == "pump"); // the id, without name

    // With $SYS off Home Assistant would not create a device without entities: no gateway
    // config, and the devices still name it.
    cfg.broker.sys_interval = std::chrono::seconds(0);
    const auto without_sys = discovery_messages(cfg, "site-7");
    REQUIRE(without_sys.size() == 2);
    CHECK(without_sys[0].topic == "homeassistant/device/edgemq_site-7_greenhouse/config");

    // The prefix is the configured one.
    cfg.homeassistant.discovery_prefix = "ha";
    CHECK(discovery_messages(cfg, "site-7")[0].topic ==
          "ha/device/edgemq_site-7_greenhouse/config");
}

TEST_CASE("the device block, availability and origin", "[homeassistant]") {
    const auto cfg = edgemq::config::load_string(greenhouse_toml, "t.toml");
    const auto root = check_schema(greenhouse(discovery_messages(cfg, "site-7")));
    const auto& dev = root.at("device").as_object();
    CHECK(dev.at("identifiers") == json::array{"edgemq_site-7_greenhouse"});
    CHECK(dev.at("name") == "Greenhouse");
    CHECK(dev.at("manufacturer") == "ACME");
    CHECK(dev.at("model") == "TH-1");
    CHECK(dev.at("serial_number") == "A9X1");
    CHECK(dev.at("via_device") == "edgemq_site-7");
    CHECK(root.at("origin") == json::object{{"name", "edgemq"}, {"sw_version", EDGEMQ_VERSION}});
    // The topic and payloads serial::device publishes its availability with.
    CHECK(root.at("availability") ==
          json::array{json::object{{"topic", "edgemq/greenhouse/availability"},
                                   {"payload_available", "online"},
                                   {"payload_not_available", "offline"}}});
}

TEST_CASE("fields are sensors and binary_sensors on the JSON state the driver publishes",
          "[homeassistant]") {
    const auto cfg = edgemq::config::load_string(greenhouse_toml, "t.toml");
    const auto root = check_schema(greenhouse(discovery_messages(cfg, "site-7")));

    const auto& temp = component(root, "temp");
    CHECK(str(temp, "platform") == "sensor");
    CHECK(str(temp, "unique_id") == "edgemq_site-7_greenhouse_temp");
    CHECK(str(temp, "name") == "temp");
    CHECK(str(temp, "state_topic") == "edgemq/greenhouse");
    CHECK(str(temp, "value_template") == "{{ value_json.temp }}");
    CHECK(str(temp, "unit_of_measurement") == "\u00b0C");
    CHECK(str(temp, "device_class") == "temperature");
    CHECK(str(temp, "state_class") == "measurement");

    const auto& door = component(root, "door");
    CHECK(str(door, "platform") == "binary_sensor");
    CHECK(str(door, "name") == "Door open");
    CHECK(str(door, "device_class") == "door");
    CHECK(str(door, "value_template") == "{{ value_json.door | to_json }}");
    CHECK(str(door, "payload_on") == "true");
    CHECK(str(door, "payload_off") == "false");

    // Names that are no plain identifier, or that a dict method would shadow, are subscripted.
    CHECK(str(component(root, "flow.rate"), "value_template") == "{{ value_json['flow.rate'] }}");
    CHECK(str(component(root, "items"), "value_template") == "{{ value_json['items'] }}");
    CHECK(!component(root, "mode").contains("unit_of_measurement"));

    // What the device really publishes for a frame: the keys the templates read are in its
    // JSON state, with the types the entities expect (a JSON bool for the binary_sensor).
    const auto& device = cfg.devices.at(0);
    const edgemq::serial::parser parser{device};
    edgemq::serial::mapper mapper{device};
    auto parsed = parser.parse("temp=21.5,door=true,flow.rate=3.25,items=4,mode=auto");
    REQUIRE(parsed.errors.empty());
    const auto out = mapper.on_frame(std::move(parsed.values), {}, 1);
    REQUIRE(out.size() == 1);
    CHECK(out[0].topic == str(temp, "state_topic"));
    const auto state = json::parse(out[0].payload).as_object();
    CHECK(state.at("temp") == 21.5);
    CHECK(state.at("door") == true);
    CHECK(json::serialize(state.at("door")) == str(door, "payload_on"));
    CHECK(state.at("flow.rate") == 3.25);
    CHECK(state.at("items") == 4);
}

TEST_CASE("field topics are read when the JSON state is off", "[homeassistant]") {
    auto cfg = edgemq::config::load_string(greenhouse_toml, "t.toml");
    cfg.devices[0].publish.state = false;
    cfg.devices[0].publish.fields = true;
    auto root = check_schema(greenhouse(discovery_messages(cfg, "site-7")));
    CHECK(str(component(root, "temp"), "state_topic") == "edgemq/greenhouse/temp");
    CHECK(!component(root, "temp").contains("value_template"));
    // The plain payload of a bool field is what payload_on says.
    CHECK(edgemq::serial::to_text(edgemq::serial::value{true}) ==
          str(component(root, "door"), "payload_on"));

    // A device that publishes neither has no field entities, only its commands.
    cfg.devices[0].publish.fields = false;
    root = check_schema(greenhouse(discovery_messages(cfg, "site-7")));
    CHECK(!root.at("components").as_object().contains("temp"));
    CHECK(root.at("components").as_object().contains("set_led"));
}

TEST_CASE("commands are the fitting entities, on the driver's set topics, with payloads it "
          "accepts",
          "[homeassistant]") {
    const auto cfg = edgemq::config::load_string(greenhouse_toml, "t.toml");
    const auto root = check_schema(greenhouse(discovery_messages(cfg, "site-7")));
    const auto& device = cfg.devices.at(0);
    const auto command = [&](const std::string& name) -> const edgemq::config::device_command& {
        const auto it =
            std::ranges::find(device.commands, name, &edgemq::config::device_command::name);
        REQUIRE(it != device.commands.end());
        return *it;
    };
    const auto encoded = [&](const std::string& name, const std::string& payload) {
        return edgemq::serial::encode_command(command(name), payload, 1, "greenhouse", "\n");
    };

    const auto& led = component(root, "set_led");
    CHECK(str(led, "platform") == "select");
    CHECK(str(led, "unique_id") == "edgemq_site-7_greenhouse_set_led");
    CHECK(str(led, "command_topic") == "edgemq/greenhouse/set/led");
    CHECK(led.at("options") == json::array{"on", "off"});
    CHECK(encoded("led", "on").bytes == "LED on\n");

    const auto& relay = component(root, "set_relay");
    CHECK(str(relay, "platform") == "switch");
    CHECK(encoded("relay", str(relay, "payload_on")).bytes == "RELAY 1\n");
    CHECK(encoded("relay", str(relay, "payload_off")).bytes == "RELAY 0\n");

    const auto& setpoint = component(root, "set_setpoint");
    CHECK(str(setpoint, "platform") == "number");
    CHECK(setpoint.at("min") == 5);
    CHECK(setpoint.at("max") == 30.5);
    CHECK(setpoint.at("step") == 0.001);
    CHECK(str(setpoint, "mode") == "box");
    CHECK(encoded("setpoint", "21.5").ok());
    CHECK(!encoded("setpoint", "31").ok()); // HA's max is the device's

    const auto& count = component(root, "set_count");
    CHECK(count.at("step") == 1);
    CHECK(!count.contains("mode"));     // bounded: HA's slider
    CHECK(encoded("count", "10").ok()); // HA sends an integral number without ".0"

    const auto& reset = component(root, "set_reset");
    CHECK(str(reset, "platform") == "button");
    CHECK(encoded("reset", str(reset, "payload_press")).bytes == "RESET\n");

    const auto& label = component(root, "set_label");
    CHECK(str(label, "platform") == "text");
    CHECK(label.at("max") == 255); // HA's limit, below max_length = 1000
    CHECK(encoded("label", "hello").ok());
}

TEST_CASE("unique_ids are stable across loads and other devices, and unique", "[homeassistant]") {
    const auto first =
        discovery_messages(edgemq::config::load_string(greenhouse_toml, "a.toml"), "site-7");
    const auto again =
        discovery_messages(edgemq::config::load_string(greenhouse_toml, "b.toml"), "site-7");
    CHECK(first == again); // byte for byte: nothing random, nothing from the clock
    // Another device before it changes nothing of the greenhouse's.
    const auto more = discovery_messages(
        edgemq::config::load_string(
            greenhouse_toml + "[[devices]]\nid = \"other\"\nmatch = { path = \"/dev/ttyS0\" }\n",
            "c.toml"),
        "site-7");
    CHECK(greenhouse(more) == greenhouse(first));

    std::set<std::string> ids;
    std::size_t count = 0;
    for (const auto& m : more) {
        const auto root = json::parse(m.payload); // kept: the loop reads into it
        for (const auto& [id, c] : root.as_object().at("components").as_object()) {
            ids.insert(std::string(c.as_object().at("unique_id").as_string()));
            ++count;
        }
    }
    CHECK(ids.size() == count);
    // Another gateway gets other ids.
    CHECK(greenhouse(first).payload !=
          discovery_messages(edgemq::config::load_string(greenhouse_toml, "a.toml"), "site-8")
              .at(1)
              .payload);
}

TEST_CASE("a reload publishes what changed and clears what is gone", "[homeassistant]") {
    const auto two = discovery_messages(
        edgemq::config::load_string(
            greenhouse_toml + "[[devices]]\nid = \"pump\"\nmatch = { path = \"/dev/ttyS0\" }\n",
            "t.toml"),
        "site-7");
    REQUIRE(two.size() == 3);
    CHECK(discovery_changes(two, two).empty());
    CHECK(discovery_changes({}, two) == two);

    auto changed_toml = greenhouse_toml;
    changed_toml.replace(changed_toml.find("model = \"TH-1\""), 14, "model = \"TH-2\"");
    const auto one =
        discovery_messages(edgemq::config::load_string(changed_toml, "t.toml"), "site-7");
    const auto changes = discovery_changes(two, one);
    REQUIRE(changes.size() == 2);
    CHECK(changes[0] == discovery_message{"homeassistant/device/edgemq_site-7_pump/config", ""});
    CHECK(changes[1] == greenhouse(one));
    // Turned off: everything is cleared.
    const auto off = discovery_changes(one, {});
    REQUIRE(off.size() == 2);
    CHECK(std::ranges::all_of(off, [](const auto& m) { return m.payload.empty(); }));
}

TEST_CASE("configs an earlier run left retained are stale when no longer configured, and only "
          "this gateway's",
          "[homeassistant]") {
    const auto cfg = [](const std::string& extra) {
        return edgemq::config::load_string(greenhouse_toml + extra, "t.toml");
    };
    const auto pump = "[[devices]]\nid = \"pump\"\nmatch = { path = \"/dev/ttyS0\" }\n";
    // What the broker kept: this gateway's configs with a pump (under the old prefix "ha" too),
    // another gateway's, one whose object id only begins like ours, and unrelated messages.
    auto retained = discovery_messages(cfg(pump), "site-7");
    auto old_prefix = cfg(pump);
    old_prefix.homeassistant.discovery_prefix = "ha";
    const auto under_ha = discovery_messages(old_prefix, "site-7");
    retained.insert(retained.end(), under_ha.begin(), under_ha.end());
    const auto other = discovery_messages(cfg(pump), "site-7_b");
    retained.insert(retained.end(), other.begin(), other.end());
    retained.push_back({"homeassistant/device/edgemq_site-7_x/config", "not json"});
    retained.push_back({"homeassistant/sensor/edgemq_site-7_y/config", "{}"});
    retained.push_back({"site/edgemq_site-7_pump/state", "{}"});

    // Now without the pump and under the default prefix.
    const auto now = discovery_messages(cfg(""), "site-7");
    CHECK(stale_discovery_topics(retained, "site-7", now) ==
          std::vector<std::string>{"homeassistant/device/edgemq_site-7_pump/config",
                                   "ha/device/edgemq_site-7/config",
                                   "ha/device/edgemq_site-7_greenhouse/config",
                                   "ha/device/edgemq_site-7_pump/config"});
    // Turned off: all of this gateway's, none of site-7_b's.
    CHECK(stale_discovery_topics(retained, "site-7", {}).size() == 6);
    CHECK(stale_discovery_topics(retained, "site-7_b", {}).size() == 3);
    CHECK(stale_discovery_topics(retained, "site-7", retained).empty());
}

TEST_CASE("the gateway id is the configured one, or the host name made safe", "[homeassistant]") {
    edgemq::config::homeassistant ha;
    CHECK(discovery_gateway_id(ha, "pi-4.local") == "pi-4-local");
    CHECK(discovery_gateway_id(ha, "my_pi") == "my-pi");
    CHECK(discovery_gateway_id(ha, "") == "gateway");
    ha.gateway_id = "site-7";
    CHECK(discovery_gateway_id(ha, "pi-4.local") == "site-7");
}
