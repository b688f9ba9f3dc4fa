// SPDX-License-Identifier: Apache-2.0
// The log format escapes what came from the network (issue 13: a client id with a newline wrote
// a fake line into the log).

#include "log_format.hpp"

#include <catch2/catch.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

using edgemq::app::escape_for_log;

TEST_CASE("control characters, backslashes and stray bytes are escaped", "[gateway]") {
    CHECK(escape_for_log("plain ascii: a/b+c#") == "plain ascii: a/b+c#");
    CHECK(escape_for_log("a\nb\rc\td") == "a\\nb\\rc\\td");
    CHECK(escape_for_log("back\\slash") == "back\\\\slash");
    CHECK(escape_for_log("\x1b[2J") == "\\x1b[2J"); // a terminal escape
    CHECK(escape_for_log(std::string_view{"nul\0x", 5}) == "nul\\x00x");
    CHECK(escape_for_log("\x7f") == "\\x7f");
    CHECK(escape_for_log("\xc2\x9b"
                         "31m") == "\\u009b31m");               // C1 CSI in UTF-8
    CHECK(escape_for_log("\xff\xfe") == "\\xff\\xfe");          // not UTF-8
    CHECK(escape_for_log("\xc0\xaf") == "\\xc0\\xaf");          // an overlong '/'
    CHECK(escape_for_log("\xed\xa0\x80") == "\\xed\\xa0\\x80"); // a surrogate
    CHECK(escape_for_log("\xe2\x82") == "\\xe2\\x82");          // cut short
}

TEST_CASE("UTF-8 text stays as it is", "[gateway]") {
    CHECK(escape_for_log("Gewächshaus 25 °C") == "Gewächshaus 25 °C");
    CHECK(escape_for_log("温度 🌡") == "温度 🌡");
}

TEST_CASE("a logger with the gateway's format writes one line per event", "[gateway]") {
    std::ostringstream out;
    auto log = std::make_shared<spdlog::logger>(
        "broker", std::make_shared<spdlog::sinks::ostream_sink_st>(out));
    log->set_formatter(edgemq::app::make_log_formatter());
    log->info("client connected client_id={}", "evil\n2026-12-03T00:00:00.000 info broker: fake");
    const auto text = out.str();
    CHECK(std::count(text.begin(), text.end(), '\n') == 1);
    CHECK(text.find(" info broker: client connected client_id=evil\\n2026-12-03T00:00:00.000 "
                    "info broker: fake\n") != std::string::npos);
}
