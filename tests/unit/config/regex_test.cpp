// SPDX-License-Identifier: Apache-2.0
// Device regexes (parser pattern, command reply) are compiled at load, as the driver will
// compile them, and a bad one is refused with file:line:col of its value.

#include <edgemq/config/load.hpp>
#include <edgemq/config/regex.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace edgemq::config;

namespace {

std::string first_error(const std::string& toml) {
    try {
        load_string(toml, "t.toml");
    } catch (const load_error& e) {
        return e.diagnostics().front().to_string();
    }
    return "";
}

const std::string head = "[[devices]]\nid = \"a\"\nmatch = { path = \"/dev/x\" }\n";

} // namespace

TEST_CASE("a parser pattern that does not compile is refused at its value", "[config][serial]") {
    const auto e =
        first_error(head + "parser = { kind = \"regex\", pattern = \"T(?<t>[0-9.]+\" }\n");
    CHECK(e.starts_with("t.toml:4:38: devices[0].parser.pattern: \"T(?<t>[0-9.]+\" is not a "
                        "valid regex (ECMAScript): "));
    CHECK(first_error(head + "parser = { kind = \"regex\", pattern = \"[a-\" }\n")
              .starts_with("t.toml:4:38: devices[0].parser.pattern: \"[a-\" is not a valid regex"));
}

TEST_CASE("good patterns load: named groups, classes, quantifiers", "[config][serial]") {
    const auto g = load_string(
        head +
            R"(parser = { kind = "regex", pattern = 'T(?<temp>-?\d+(\.\d+)?)\s*[(](?<unit>[CF])[)]\d{0,3}' })"
            "\n",
        "t.toml");
    CHECK(g.devices.at(0).parser.pattern.starts_with("T(?<temp>"));
}

TEST_CASE("a command reply that does not compile is refused at its value", "[config][serial]") {
    CHECK(first_error(head + "commands.led = { reply = \"^OK (\" }\n")
              .starts_with("t.toml:4:26: devices[0].commands.led.reply: \"^OK (\" is not a "
                           "valid regex (ECMAScript): "));
    // {seq} is a placeholder (a number at run time), {2} a quantifier; {sq} is a typo.
    const auto g = load_string(head + R"(commands.led = { reply = '^ACK {seq} [0-9a-f]{2}$' })"
                                      "\n",
                               "t.toml");
    CHECK(g.devices.at(0).commands.at(0).reply == "^ACK {seq} [0-9a-f]{2}$");
    CHECK(first_error(head + "commands.led = { reply = \"^ACK {sq}\" }\n") ==
          "t.toml:4:26: devices[0].commands.led.reply: unknown placeholder {sq}; valid ones are "
          "{seq}");
}

TEST_CASE("strip_named_groups keeps group numbers and skips escapes and classes",
          "[config][serial]") {
    const auto [pattern, names] = strip_named_groups(R"(\((?<a>x)[(](?:y)(z)(?<=w))");
    CHECK(pattern == R"(\((x)[(](?:y)(z)(?<=w))");
    CHECK(names == std::vector<std::string>{"a", "2"});
    CHECK(regex_problem("(?<a>x)").empty());
    CHECK_FALSE(regex_problem("(?<a>x").empty());
}
