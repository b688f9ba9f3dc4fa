// SPDX-License-Identifier: Apache-2.0
#include <edgemq/serial/parser.hpp>

#include <catch2/catch.hpp>

using namespace edgemq;
using namespace edgemq::serial;
using values = std::vector<named_value>;

namespace {

config::device with_parser(config::parser_kind kind) {
    config::device d;
    d.parser.kind = kind;
    return d;
}

} // namespace

TEST_CASE("raw parser: the whole frame is field value", "[serial]") {
    const parser p(with_parser(config::parser_kind::raw));
    CHECK(p.parse("hello 42").values == values{{"value", std::string("hello 42")}});
}

TEST_CASE("kv parser: auto-typed values, configurable separators, bad pairs reported",
          "[serial]") {
    auto d = with_parser(config::parser_kind::kv);
    const parser p(d);
    const auto r = p.parse("temp=25.1,hum=60, ok = true ,name=boiler");
    CHECK(r.errors.empty());
    CHECK(r.values == values{{"temp", 25.1},
                             {"hum", std::int64_t{60}},
                             {"ok", true},
                             {"name", std::string("boiler")}});
    const auto bad = p.parse("garbage");
    CHECK(bad.values.empty());
    CHECK(bad.errors == std::vector<std::string>{"expected key=value, got \"garbage\""});
    d.parser.pair_separator = " ";
    d.parser.kv_separator = ":";
    CHECK(parser(d).parse("T:1 H:2").values ==
          values{{"T", std::int64_t{1}}, {"H", std::int64_t{2}}});
}

// Found by fuzz/fuzz_serial (fuzz/regressions/fuzz_serial/oom-empty-pair-separator): the loader
// accepts pair_separator = "", and splitting at an empty separator never ended.
TEST_CASE("kv parser: an empty pair separator makes the frame one pair", "[serial]") {
    auto d = with_parser(config::parser_kind::kv);
    d.parser.pair_separator = "";
    const auto r = parser(d).parse("temp=25,hum=60");
    CHECK(r.errors.empty());
    CHECK(r.values == values{{"temp", std::string("25,hum=60")}});
}

// std::regex recurses per character: a frame of 100,000 digits overflowed an 8 MiB stack with
// the documented example pattern. Frames above max_regex_frame are refused instead.
TEST_CASE("regex parser: a frame longer than max_regex_frame is refused, not matched",
          "[serial]") {
    auto d = with_parser(config::parser_kind::regex);
    d.parser.pattern = "T(?<temp>[0-9.]+)";
    const parser p(d);
    const auto longest = "T" + std::string(parser::max_regex_frame - 1, '1');
    CHECK(p.parse(longest).values.size() == 1);
    const auto r = p.parse("T" + std::string(100'000, '1'));
    CHECK(r.values.empty());
    CHECK(r.errors == std::vector<std::string>{
                          "frame of 100001 bytes is longer than the 4096 that the regex parser "
                          "matches"});
}

TEST_CASE("typed fields: int, float, bool, string, scale and offset", "[serial]") {
    auto d = with_parser(config::parser_kind::kv);
    config::device_field t{"temperature", "t", config::field_type::number, 0.1, -1.0, "C", {}};
    config::device_field n{"count", "n", config::field_type::integer, 1.0, 0.0, "", {}};
    config::device_field on{"on", "on", config::field_type::boolean, 1.0, 0.0, "", {}};
    config::device_field id{"id", "id", config::field_type::string, 1.0, 0.0, "", {}};
    d.fields = {t, n, on, id};
    const parser p(d);
    const auto r = p.parse("t=251,n=7,on=off,id=0042");
    CHECK(r.errors.empty());
    REQUIRE(r.values.size() == 4);
    CHECK(std::get<double>(r.values[0].value) == Approx(24.1));
    CHECK(r.values[0].name == "temperature");
    CHECK(r.values[1].value == value(std::int64_t{7}));
    CHECK(r.values[2].value == value(false));
    CHECK(r.values[3].value == value(std::string("0042")));
    const auto partial = p.parse("t=abc,n=3");
    CHECK(partial.values == values{{"count", std::int64_t{3}}});
    CHECK(partial.errors == std::vector<std::string>{"t: expected a number, got \"abc\""});
}

TEST_CASE("csv parser: named columns, '_' skipped, short rows refused", "[serial]") {
    auto d = with_parser(config::parser_kind::csv);
    d.parser.columns = {"voltage", "_", "status"};
    const parser p(d);
    CHECK(p.parse("230.4,0.52,OK,extra").values ==
          values{{"voltage", 230.4}, {"status", std::string("OK")}});
    const auto shorter = p.parse("230.4,0.5");
    CHECK(shorter.values.empty());
    CHECK(shorter.errors == std::vector<std::string>{"expected 3 columns, got 2"});
}

TEST_CASE("json parser: nested keys flattened, strings stay strings, non-JSON refused",
          "[serial]") {
    const parser p(with_parser(config::parser_kind::json));
    const auto r = p.parse(R"({"level":42.5,"pump":"off","id":"17","n":null,"a":{"b":true}})");
    CHECK(r.errors.empty());
    CHECK(r.values == values{{"level", 42.5},
                             {"pump", std::string("off")},
                             {"id", std::string("17")},
                             {"a.b", true}});
    CHECK(p.parse("I (12) boot: ESP-IDF").errors.size() == 1);
    CHECK(p.parse("[1,2]").errors == std::vector<std::string>{"expected a JSON object"});
}

TEST_CASE("regex parser: named groups", "[serial]") {
    auto d = with_parser(config::parser_kind::regex);
    d.parser.pattern = R"(T(?<temp>-?[0-9.]+) (?:H)(?<hum>[0-9]+)(x)?)";
    const parser p(d);
    CHECK(p.parse("now T-3.5 H40").values == values{{"temp", -3.5}, {"hum", std::int64_t{40}}});
    CHECK(p.parse("nothing").errors == std::vector<std::string>{"does not match parser.pattern"});
    CHECK(strip_named_groups(R"(\((?<a>x)[(](y))").second == std::vector<std::string>{"a", "2"});
    d.parser.pattern = "(unclosed";
    CHECK_THROWS_AS(parser(d), std::invalid_argument);
}
