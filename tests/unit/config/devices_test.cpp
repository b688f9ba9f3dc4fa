// SPDX-License-Identifier: Apache-2.0
#include <edgemq/config/load.hpp>

#include "commented_example.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace edgemq::config;
using namespace std::chrono_literals;

namespace {

std::string first_error(const std::string& toml) {
    try {
        load_string(toml, "t.toml");
    } catch (const load_error& e) {
        return e.diagnostics().front().to_string();
    }
    return "";
}

/// Every diagnostic, one "file:line:col: message" each.
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

} // namespace

TEST_CASE("a minimal device gets the documented defaults", "[config][serial]") {
    const auto g = load_string(R"(
[[devices]]
id = "greenhouse"
match = { path = "/dev/ttyUSB0" }
)",
                               "t.toml");
    REQUIRE(g.devices.size() == 1);
    const auto& d = g.devices[0];
    CHECK(d.id == "greenhouse");
    CHECK(d.match.path == "/dev/ttyUSB0");
    CHECK(d.baud == 9600);
    CHECK(d.data_bits == 8);
    CHECK(d.parity == parity::none);
    CHECK(d.framing == framing_mode::line);
    CHECK(d.max_frame_bytes == 1024);
    CHECK(d.parser.kind == parser_kind::raw);
    CHECK(d.publish.base == "edgemq");
    CHECK(d.publish.state);
    CHECK_FALSE(d.publish.fields);
    CHECK(d.stats_interval == 60s);
}

TEST_CASE("every device key is read", "[config][serial]") {
    const auto g = load_string(R"(
[[devices]]
id = "meter"
match = { by_id = "usb-FTDI-if00", vid = "0403", pid = "6001", serial = "A9" }
baud = 115200
data_bits = 7
parity = "even"
stop_bits = 2
flow_control = "rtscts"
dtr = "off"
rts = "on"
settle = "500ms"
framing = "delimiter"
delimiter = ";"
max_frame_bytes = 64
encoding = "latin1"
stats_interval = "10s"
[devices.parser]
kind = "csv"
separator = ";"
columns = ["v", "a"]
[devices.fields.v]
type = "float"
scale = 0.1
offset = -1
unit = "V"
deadband = 0.5
[devices.publish]
base = "site"
fields = true
qos = 1
retain = true
min_interval = "1s"
max_interval = "1m"
[devices.commands.relay]
type = "enum"
values = ["on", "off"]
format = "R{value}#{seq}"
reply = "^ACK {seq}"
timeout = "3s"
)",
                               "t.toml");
    const auto& d = g.devices.at(0);
    CHECK(d.match.by_id == "usb-FTDI-if00");
    CHECK(d.match.vid == "0403");
    CHECK(d.baud == 115200);
    CHECK(d.data_bits == 7);
    CHECK(d.parity == parity::even);
    CHECK(d.stop_bits == 2);
    CHECK(d.flow_control == flow_control::rtscts);
    CHECK(d.dtr == modem_line::off);
    CHECK(d.rts == modem_line::on);
    CHECK(d.settle == 500ms);
    CHECK(d.framing == framing_mode::delimiter);
    CHECK(d.delimiter == ";");
    CHECK(d.encoding == text_encoding::latin1);
    CHECK(d.parser.columns == std::vector<std::string>{"v", "a"});
    REQUIRE(d.fields.size() == 1);
    CHECK(d.fields[0].name == "v");
    CHECK(d.fields[0].source == "v");
    CHECK(d.fields[0].type == field_type::number);
    CHECK(d.fields[0].scale == Approx(0.1));
    CHECK(d.fields[0].offset == -1.0);
    CHECK(d.fields[0].deadband == 0.5);
    CHECK(d.publish.base == "site");
    CHECK(d.publish.qos == 1);
    CHECK(d.publish.min_interval == 1s);
    CHECK(d.publish.max_interval == 60s);
    REQUIRE(d.commands.size() == 1);
    CHECK(d.commands[0].name == "relay");
    CHECK(d.commands[0].type == command_type::enumeration);
    CHECK(d.commands[0].format == "R{value}#{seq}");
    CHECK(d.commands[0].timeout == 3s);
}

TEST_CASE("device errors carry file:line:col", "[config][serial]") {
    CHECK(first_error("[[devices]]\nmatch = { path = \"/dev/x\" }\n") ==
          R"(t.toml:1:1: devices[0]: missing "id", e.g. id = "greenhouse")");
    CHECK(first_error("[[devices]]\nid = \"a b\"\nmatch = { path = \"/dev/x\" }\n")
              .starts_with("t.toml:1:1: devices[0]: id \"a b\" may hold only"));
    CHECK(first_error("[[devices]]\nid = \"a\"\n").find("missing \"match\"") !=
          std::string::npos);
    CHECK(first_error("[[devices]]\nid = \"a\"\nmatch = { path = \"/dev/x\" }\nparity = \"od\"\n") ==
          R"(t.toml:4:10: devices[0].parity: expected one of "none", "even", "odd", got "od"; did you mean "odd"?)");
    CHECK(first_error("[[devices]]\nid = \"a\"\nmatch = { path = \"/dev/x\" }\nbaud = 0\n") ==
          "t.toml:4:8: devices[0].baud: must be between 50 and 4000000, got 0");
    CHECK(first_error("[[devices]]\nid = \"a\"\nmatch = { path = \"/x\" }\n"
                      "publish = { state_topic = \"{base}/{dev}\" }\n")
              .find("unknown placeholder {dev}") != std::string::npos);
    CHECK(first_error("[[devices]]\nid = \"a\"\nmatch = { path = \"/x\" }\n"
                      "parser = { kind = \"csv\" }\n")
              .find("needs columns") != std::string::npos);
    CHECK(first_error("[[devices]]\nid = \"a\"\nmatch = { path = \"/x\" }\n"
                      "commands.led = { type = \"enum\" }\n")
              .find("needs values") != std::string::npos);
    CHECK(first_error("[[devices]]\nid = \"a\"\nmatch = { path = \"/x\" }\n"
                      "[[devices]]\nid = \"a\"\nmatch = { path = \"/y\" }\n") ==
          R"(t.toml:4:1: devices[1]: id "a" is already used by devices[0])");
    CHECK(first_error("[[devices]]\nid = \"a\"\nmatch = { path = \"/x\" }\nbogus = 1\n") ==
          "t.toml:4:1: devices[0].bogus: unknown key; valid keys are 'id', 'match', 'baud', "
          "'data_bits', 'parity', 'stop_bits', 'flow_control', 'dtr', 'rts', 'settle', "
          "'framing', 'delimiter', 'frame_length', 'idle_gap', 'max_frame_bytes', 'encoding', "
          "'parser', 'fields', 'publish', 'commands', 'stats_interval', 'name', "
          "'manufacturer', 'model'");
}

TEST_CASE("match reads product and location, and refuses ids and locations that never match",
          "[config][serial]") {
    const auto g = load_string("[[devices]]\nid = \"a\"\n"
                               "match = { vid = \"1A86\", pid = \"7523\", product = \"USB "
                               "Serial\", location = \"1-1.2\" }\n"
                               "[[devices]]\nid = \"b\"\nmatch = { location = \"3-2.4.1\" }\n",
                               "t.toml");
    REQUIRE(g.devices.size() == 2);
    CHECK(g.devices[0].match.vid == "1A86");
    CHECK(g.devices[0].match.product == "USB Serial");
    CHECK(g.devices[0].match.location == "1-1.2");
    // A location alone is a match of its own.
    CHECK(g.devices[1].match.location == "3-2.4.1");

    CHECK(errors("[[devices]]\nid = \"a\"\nmatch = { vid = \"0x1a86\", pid = \"7523\" }\n") ==
          std::vector<std::string>{
              R"(t.toml:3:17: devices[0].match.vid: expected 4 hex digits, e.g. "1a86", got )"
              R"("0x1a86")"});
    CHECK(first_error("[[devices]]\nid = \"a\"\nmatch = { vid = \"1a86\", pid = \"75g3\" }\n") ==
          R"(t.toml:3:31: devices[0].match.pid: expected 4 hex digits, e.g. "7523", got "75g3")");
    for (const auto* bad : {"1.2", "1-", "-1", "1-1.", "1-1..2", "usb1", "1-1.2:1.0", "a-1"}) {
        INFO(bad);
        CHECK(first_error("[[devices]]\nid = \"a\"\n\nmatch = { location = \"" + std::string(bad) +
                          "\" }\n") ==
              "t.toml:4:22: devices[0].match.location: expected a USB port as `edgemq ports` "
              "shows it, e.g. \"1-1.2\", got \"" +
                  std::string(bad) + "\"");
    }
    // (and, with nothing else in it, the match is missing as well)
    const auto empty_product = errors("[[devices]]\nid = \"a\"\nmatch = { product = \"\" }\n");
    REQUIRE(empty_product.size() == 2);
    CHECK(empty_product[1] == "t.toml:3:21: devices[0].match.product: must not be empty");
}

TEST_CASE("two devices cannot claim one port", "[config][serial]") {
    // At the second device's match, against the first device that has the port.
    CHECK(errors("[[devices]]\nid = \"a\"\nmatch = { path = \"/dev/ttyUSB0\" }\n"
                 "[[devices]]\nid = \"b\"\nmatch = { path = \"/dev/ttyUSB0\" }\n"
                 "[[devices]]\nid = \"c\"\nmatch = { path = \"/dev/ttyUSB0\" }\n") ==
          std::vector<std::string>{
              R"(t.toml:6:9: devices[1].match: path "/dev/ttyUSB0" is already used by devices[0])",
              R"(t.toml:9:9: devices[2].match: path "/dev/ttyUSB0" is already used by devices[0])",
          });
    // A [devices.match] table is reported at its header.
    CHECK(first_error("[[devices]]\nid = \"a\"\n[devices.match]\npath = \"/dev/x\"\n"
                      "[[devices]]\nid = \"b\"\n[devices.match]\npath = \"/dev/x\"\n") ==
          R"(t.toml:7:1: devices[1].match: path "/dev/x" is already used by devices[0])");
    CHECK(first_error("[[devices]]\nid = \"a\"\nmatch = { by_id = \"usb-FTDI_A9-if00-port0\" }\n"
                      "[[devices]]\nid = \"b\"\nmatch = { by_id = \"usb-FTDI_A9-if00-port0\" }\n") ==
          R"(t.toml:6:9: devices[1].match: by_id "usb-FTDI_A9-if00-port0" is already used by )"
          "devices[0]");
    // The same USB adapter: vid and pid ignore case, as the driver compares them.
    CHECK(first_error("[[devices]]\nid = \"a\"\n"
                      "match = { vid = \"1A86\", pid = \"7523\", serial = \"A9\" }\n"
                      "[[devices]]\nid = \"b\"\n"
                      "match = { vid = \"1a86\", pid = \"7523\", serial = \"A9\" }\n") ==
          R"(t.toml:6:9: devices[1].match: vid "1a86", pid "7523" and serial "A9" are already )"
          R"(used by devices[0])");
    CHECK(first_error("[[devices]]\nid = \"a\"\nmatch = { vid = \"0403\", pid = \"6001\" }\n"
                      "[[devices]]\nid = \"b\"\nmatch = { vid = \"0403\", pid = \"6001\" }\n") ==
          R"(t.toml:6:9: devices[1].match: vid "0403" and pid "6001" are already used by )"
          "devices[0]; add each adapter's serial or location to match, or match by_id (see "
          "`edgemq ports`)");
    // The same USB port, whatever else the matches leave out.
    CHECK(first_error("[[devices]]\nid = \"a\"\nmatch = { location = \"1-1.2\" }\n"
                      "[[devices]]\nid = \"b\"\nmatch = { location = \"1-1.2\" }\n") ==
          R"(t.toml:6:9: devices[1].match: location "1-1.2" is already used by devices[0])");
    // Ports that can be told apart load: another path or serial, or a path tried before the
    // shared USB ids.
    CHECK(load_string("[[devices]]\nid = \"a\"\nmatch = { path = \"/dev/ttyUSB0\" }\n"
                      "[[devices]]\nid = \"b\"\nmatch = { path = \"/dev/ttyUSB1\" }\n"
                      "[[devices]]\nid = \"c\"\n"
                      "match = { vid = \"1a86\", pid = \"7523\", serial = \"A9\" }\n"
                      "[[devices]]\nid = \"d\"\n"
                      "match = { vid = \"1a86\", pid = \"7523\", serial = \"B1\" }\n"
                      "[[devices]]\nid = \"e\"\n"
                      "match = { path = \"/dev/ttyS0\", vid = \"1a86\", pid = \"7523\", "
                      "serial = \"A9\" }\n"
                      "[[devices]]\nid = \"f\"\n"
                      "match = { vid = \"0403\", pid = \"6001\", location = \"1-1.2\" }\n"
                      "[[devices]]\nid = \"g\"\n"
                      "match = { vid = \"0403\", pid = \"6001\", location = \"1-1.3\" }\n",
                      "t.toml")
              .devices.size() == 7);
}

TEST_CASE("the commented device example in config/edgemq.toml loads", "[config][serial]") {
    // The example's lines start with "# " so that the reference file stays the defaults; this
    // loads the file's own text, so an example that drifts from the loader fails here.
    const auto example =
        edgemq::test::commented_example(edgemq::test::reference_config(), "# [[devices]]");
    INFO(example);
    const auto g = load_string(example, "example.toml");
    REQUIRE(g.devices.size() == 1);
    const auto& d = g.devices.front();
    CHECK(d.id == "greenhouse");
    CHECK(d.match == device_match{.path = "/dev/ttyUSB0"});
    CHECK(d.baud == 9600);
    CHECK(d.flow_control == flow_control::none);
    CHECK(d.dtr == modem_line::keep);
    CHECK(d.settle == 2s);
    CHECK(d.framing == framing_mode::line);
    CHECK(d.max_frame_bytes == 1024);
    CHECK(d.encoding == text_encoding::utf8);
    CHECK(d.stats_interval == 60s);

    CHECK(d.parser.kind == parser_kind::kv);
    CHECK(d.parser.pair_separator == ",");
    CHECK(d.parser.kv_separator == "=");

    REQUIRE(d.fields.size() == 2);
    const auto field = [&](const std::string& name) {
        const auto it = std::find_if(d.fields.begin(), d.fields.end(),
                                     [&](const device_field& f) { return f.name == name; });
        REQUIRE(it != d.fields.end());
        return *it;
    };
    const auto temp = field("temp");
    CHECK(temp.type == field_type::number);
    CHECK(temp.unit == "\u00b0C");
    CHECK(temp.deadband == 0.2);
    const auto hum = field("hum");
    CHECK(hum.type == field_type::integer);
    CHECK(hum.unit == "%");
    CHECK_FALSE(hum.deadband);

    CHECK(d.publish.base == "edgemq");
    CHECK(d.publish.state);
    CHECK(d.publish.fields); // not the default
    CHECK(d.publish.qos == 0);
    CHECK_FALSE(d.publish.retain);
    CHECK(d.publish.min_interval == 0s);
    CHECK(d.publish.max_interval == 5min);

    REQUIRE(d.commands.size() == 1);
    const auto& led = d.commands.front();
    CHECK(led.name == "led");
    CHECK(led.type == command_type::enumeration);
    CHECK(led.values == std::vector<std::string>{"on", "off"});
    CHECK(led.format == "LED {value}");
    CHECK(led.reply == "^OK LED");
    CHECK(led.timeout == 2s);
}
