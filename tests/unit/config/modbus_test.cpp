// SPDX-License-Identifier: Apache-2.0
#include <edgemq/config/load.hpp>

#include "commented_example.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace edgemq::config;
using namespace std::chrono_literals;

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

const char* meter = R"(
[[modbus]]
name = "rs485"
match = { path = "/dev/ttyUSB0" }
baud = 19200
parity = "none"
stop_bits = 2
response_timeout = "200ms"
frame_delay = "5ms"

[[modbus.slaves]]
id = 7
name = "meter"
poll_interval = "2s"
max_failures = 5
manufacturer = "Eastron"
model = "SDM120"

[modbus.slaves.registers.voltage]
table = "input"
address = 0
type = "f32"
unit = "V"
device_class = "voltage"
state_class = "measurement"

[modbus.slaves.registers.relay]
table = "coil"
address = 3
writable = true

[modbus.slaves.registers.setpoint]
address = 10
type = "i32"
word_order = "little"
byte_order = "little"
scale = 0.1
offset = -5
writable = true
min = 0
max = 100
)";

} // namespace

TEST_CASE("modbus: a bus with a slave and its registers is read with every key", "[config][modbus]") {
    const auto g = load_string(meter, "t.toml");
    REQUIRE(g.modbus.size() == 1);
    const auto& b = g.modbus[0];
    CHECK(b.name == "rs485");
    CHECK(b.match.path == "/dev/ttyUSB0");
    CHECK(b.baud == 19200);
    CHECK(b.parity == parity::none);
    CHECK(b.stop_bits == 2);
    CHECK(b.response_timeout == 200ms);
    CHECK(b.frame_delay == 5ms);
    REQUIRE(b.slaves.size() == 1);
    const auto& s = b.slaves[0];
    CHECK(s.id == 7);
    CHECK(s.name == "meter");
    CHECK(s.poll_interval == 2s);
    CHECK(s.max_failures == 5);
    CHECK(s.manufacturer == "Eastron");
    REQUIRE(s.registers.size() == 3);
    // toml++ tables iterate in key order.
    CHECK(s.registers[0].name == "relay");
    CHECK(s.registers[0].table == modbus_table::coil);
    CHECK(s.registers[0].type == modbus_type::boolean); // the default for a coil
    CHECK(s.registers[0].writable);
    CHECK(s.registers[1].name == "setpoint");
    CHECK(s.registers[1].table == modbus_table::holding); // the default table
    CHECK(s.registers[1].type == modbus_type::i32);
    CHECK(s.registers[1].word_order == modbus_order::little);
    CHECK(s.registers[1].byte_order == modbus_order::little);
    CHECK(s.registers[1].scale == 0.1);
    CHECK(s.registers[1].offset == -5);
    CHECK(s.registers[1].min == 0);
    CHECK(s.registers[1].max == 100);
    CHECK(s.registers[2].name == "voltage");
    CHECK(s.registers[2].type == modbus_type::f32);
    CHECK(s.registers[2].unit == "V");
    CHECK(s.registers[2].device_class == "voltage");
}

TEST_CASE("modbus: the defaults are 9600 8E1, 500ms, 1s polls and 3 failures", "[config][modbus]") {
    const auto g = load_string(R"(
[[modbus]]
match = { path = "/dev/ttyUSB0" }
[[modbus.slaves]]
id = 1
name = "m"
registers.a = { address = 0 }
)",
                               "t.toml");
    REQUIRE(g.modbus.size() == 1);
    const auto& b = g.modbus[0];
    CHECK(b.name == "modbus0");
    CHECK(b.baud == 9600);
    CHECK(b.data_bits == 8);
    CHECK(b.parity == parity::even);
    CHECK(b.stop_bits == 1);
    CHECK(b.response_timeout == 500ms);
    CHECK(b.frame_delay == 0ms);
    const auto& s = b.slaves.at(0);
    CHECK(s.poll_interval == 1s);
    CHECK(s.max_failures == 3);
    CHECK(s.publish.base == "edgemq");
    CHECK(s.registers.at(0).type == modbus_type::u16);
    CHECK(s.registers.at(0).table == modbus_table::holding);
    CHECK_FALSE(s.registers.at(0).writable);
}

TEST_CASE("modbus: overlapping registers are refused at the later one", "[config][modbus]") {
    CHECK(errors(R"([[modbus]]
match = { path = "/dev/ttyUSB0" }
[[modbus.slaves]]
id = 1
name = "m"
registers.a = { table = "input", address = 0, type = "f32" }
registers.b = { table = "input", address = 1 }
registers.c = { table = "holding", address = 1 }
)") == std::vector<std::string>{
              "t.toml:7:15: modbus[0].slaves[0].registers.b: input 1-1 overlaps "
              "modbus[0].slaves[0].registers.a (0-1)"});
}

TEST_CASE("modbus: a type that does not fit its table or count is refused", "[config][modbus]") {
    CHECK(errors(R"([[modbus]]
match = { path = "/dev/ttyUSB0" }
[[modbus.slaves]]
id = 1
name = "m"
registers.a = { table = "coil", address = 0, type = "u16" }
registers.b = { address = 2, type = "bool" }
registers.c = { address = 4, type = "f64", count = 2 }
registers.d = { address = 65535, type = "u32" }
registers.e = { table = "input", address = 9, writable = true }
)") == std::vector<std::string>{
              R"(t.toml:6:53: modbus[0].slaves[0].registers.a.type: a coil holds one bit: type must be "bool")",
              R"(t.toml:7:37: modbus[0].slaves[0].registers.b.type: type = "bool" needs table = "coil" or "discrete_input"; a register is "u16", "i16", "u32", "i32", "u64", "i64", "f32" or "f64")",
              R"(t.toml:8:52: modbus[0].slaves[0].registers.c.count: type "f64" takes 4 registers, not 2)",
              R"(t.toml:9:27: modbus[0].slaves[0].registers.d.address: a value of 2 registers at 65535 runs past the last address, 65535)",
              R"(t.toml:10:58: modbus[0].slaves[0].registers.e.writable: only coils and holding registers can be written)"});
}

TEST_CASE("modbus: two buses on one port are refused", "[config][modbus]") {
    CHECK(errors(R"([[modbus]]
match = { path = "/dev/ttyUSB0" }
[[modbus.slaves]]
id = 1
name = "a"
registers.x = { address = 0 }
[[modbus]]
match = { path = "/dev/ttyUSB0" }
[[modbus.slaves]]
id = 1
name = "b"
registers.x = { address = 0 }
)") == std::vector<std::string>{
              R"(t.toml:8:9: modbus[1].match: path "/dev/ttyUSB0" is already used by modbus[0])"});
}

TEST_CASE("modbus: two buses with one name are refused", "[config][modbus]") {
    CHECK(errors(R"([[modbus]]
name = "rs485"
match = { path = "/dev/ttyUSB0" }
[[modbus.slaves]]
id = 1
name = "a"
registers.x = { address = 0 }
[[modbus]]
name = "rs485"
match = { path = "/dev/ttyUSB1" }
[[modbus.slaves]]
id = 1
name = "b"
registers.x = { address = 0 }
)") == std::vector<std::string>{
              R"(t.toml:9:8: modbus[1].name: name "rs485" is already used by modbus[0])"});
}

TEST_CASE("modbus: a bus on the port of a line device is refused", "[config][modbus]") {
    CHECK(errors(R"([[devices]]
id = "sensor"
match = { vid = "1a86", pid = "7523", serial = "A1" }
[[modbus]]
match = { vid = "1A86", pid = "7523", serial = "A1" }
[[modbus.slaves]]
id = 1
name = "sensor"
registers.x = { address = 0 }
)") == std::vector<std::string>{
              R"(t.toml:5:9: modbus[0].match: vid "1A86", pid "7523" and serial "A1" are already used by devices[0] (a line device and a Modbus bus cannot share a port))",
              R"(t.toml:8:8: modbus[0].slaves[0].name: name "sensor" is already used by devices[0] (slaves and devices share the topic names))"});
}

TEST_CASE("modbus: slave ids, names and missing keys", "[config][modbus]") {
    CHECK(errors(R"([[modbus]]
match = { path = "/dev/ttyUSB0" }
[[modbus.slaves]]
id = 1
name = "a"
registers.x = { address = 0 }
[[modbus.slaves]]
id = 1
name = "a b"
registers.x = { address = 0 }
[[modbus.slaves]]
id = 248
name = "c"
[[modbus]]
match = { path = "/dev/ttyUSB1" }
[[modbus.slaves]]
registers.x = { table = "input" }
)") == std::vector<std::string>{
              R"(t.toml:8:6: modbus[0].slaves[1].id: slave id 1 is already used by modbus[0].slaves[0])",
              R"(t.toml:9:8: modbus[0].slaves[1].name: name "a b" may hold only letters, digits, '_' and '-' (it is used in topics))",
              R"(t.toml:11:1: modbus[0].slaves[2]: no registers to read; add e.g. [modbus.slaves.registers.voltage] with table = "input", address = 0, type = "f32")",
              R"(t.toml:12:6: modbus[0].slaves[2].id: must be between 1 and 247, got 248)",
              R"(t.toml:16:1: modbus[1].slaves[0]: missing "id", the slave address (1 to 247), e.g. id = 1)",
              R"(t.toml:16:1: modbus[1].slaves[0]: missing "name", used in topics, e.g. name = "meter")",
              R"(t.toml:17:15: modbus[1].slaves[0].registers.x: missing "address", e.g. address = 0 (the protocol address, 0-based))"});
}

TEST_CASE("modbus: the commented example in config/edgemq.toml loads", "[config][modbus]") {
    const auto text =
        edgemq::test::commented_example(edgemq::test::reference_config(), "# [[modbus]]");
    const auto g = load_string(text, "edgemq.toml");
    REQUIRE(g.modbus.size() == 1);
    REQUIRE(g.modbus[0].slaves.size() == 1);
    const auto& s = g.modbus[0].slaves[0];
    CHECK(s.name == "meter");
    CHECK(s.registers.size() == 4);
    CHECK(g.modbus[0].parity == parity::even);
}
