// SPDX-License-Identifier: Apache-2.0
// Modbus slaves in Home Assistant discovery: each slave announces itself as a device, from the
// same builder as line devices (through modbus::slave_device), with its registers as sensors
// and its writable registers as switches and numbers.

#include "homeassistant.hpp"

#include <edgemq/config/load.hpp>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

namespace json = boost::json;
using edgemq::app::discovery_messages;

TEST_CASE("homeassistant: a Modbus slave is a device with its registers as entities",
          "[homeassistant][modbus]") {
    const auto cfg = edgemq::config::load_string(R"(
[homeassistant]
enabled = true
gateway_id = "site-7"

[[modbus]]
match = { path = "/dev/ttyUSB1" }
[[modbus.slaves]]
id = 1
name = "meter"
display_name = "Energy meter"
manufacturer = "Eastron"
model = "SDM120"
registers.voltage = { table = "input", address = 0, type = "f32", unit = "V", device_class = "voltage", state_class = "measurement" }
registers.relay = { table = "coil", address = 0, writable = true }
registers.limit = { address = 10, writable = true, min = 0, max = 100 }
)",
                                                 "t.toml");
    const auto messages = discovery_messages(cfg, "site-7");
    const auto it = std::ranges::find(messages, "homeassistant/device/edgemq_site-7_meter/config",
                                      &edgemq::app::discovery_message::topic);
    REQUIRE(it != messages.end());
    const auto root = json::parse(it->payload).as_object();
    const auto& dev = root.at("device").as_object();
    CHECK(dev.at("name") == "Energy meter");
    CHECK(dev.at("manufacturer") == "Eastron");
    CHECK(dev.at("model") == "SDM120");
    CHECK(root.at("availability").as_array().at(0).as_object().at("topic") ==
          "edgemq/meter/availability");
    const auto& c = root.at("components").as_object();
    const auto& voltage = c.at("voltage").as_object();
    CHECK(voltage.at("platform") == "sensor");
    CHECK(voltage.at("state_topic") == "edgemq/meter");
    CHECK(voltage.at("value_template") == "{{ value_json.voltage }}");
    CHECK(voltage.at("unit_of_measurement") == "V");
    CHECK(voltage.at("device_class") == "voltage");
    CHECK(voltage.at("unique_id") == "edgemq_site-7_meter_voltage");
    CHECK(c.at("relay").as_object().at("platform") == "binary_sensor");
    const auto& relay = c.at("set_relay").as_object();
    CHECK(relay.at("platform") == "switch");
    CHECK(relay.at("command_topic") == "edgemq/meter/set/relay");
    const auto& limit = c.at("set_limit").as_object();
    CHECK(limit.at("platform") == "number");
    CHECK(limit.at("command_topic") == "edgemq/meter/set/limit");
    CHECK(limit.at("min").to_number<double>() == 0);
    CHECK(limit.at("max").to_number<double>() == 100);
}
