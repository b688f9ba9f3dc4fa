// SPDX-License-Identifier: Apache-2.0
#include <edgemq/serial/framing.hpp>

#include <catch2/catch.hpp>

using namespace edgemq;
using namespace edgemq::serial;
using frames = std::vector<std::string>;

namespace {

config::device line_device(std::size_t max = 1024) {
    config::device d;
    d.max_frame_bytes = max;
    return d;
}

} // namespace

TEST_CASE("line framing accepts LF, CRLF and a lone CR, even split across reads",
          "[serial]") {
    framer f(line_device());
    CHECK(f.feed("a=1\nb=2\r\nc=3\rd=4") == frames{"a=1", "b=2", "c=3"});
    CHECK(f.has_partial());
    CHECK(f.feed("\r") == frames{"d=4"});
    CHECK(f.feed("\ne=5\n") == frames{"e=5"}); // the \n completes "\r\n": no empty frame
    CHECK(f.feed("\n\n\r\n") == frames{});     // empty lines are skipped
    CHECK(f.stats().frames == 5);
}

TEST_CASE("an over-long line is dropped up to the next end of line, and counted", "[serial]") {
    framer f(line_device(8));
    CHECK(f.feed("0123456789abc") == frames{});
    CHECK(f.stats().overflows == 1);
    CHECK(f.feed("def\nok=1\n") == frames{"ok=1"});
    CHECK(f.feed("12345678\n") == frames{"12345678"}); // exactly the limit is fine
    CHECK(f.stats().overflows == 1);
}

TEST_CASE("delimiter framing with a multi-byte delimiter and resync", "[serial]") {
    config::device d;
    d.framing = config::framing_mode::delimiter;
    d.delimiter = "##";
    d.max_frame_bytes = 4;
    framer f(d);
    CHECK(f.feed("ab#") == frames{});
    CHECK(f.feed("#cd##") == frames{"ab", "cd"});
    CHECK(f.feed("toolong#") == frames{});
    CHECK(f.feed("#x##") == frames{"x"});
    CHECK(f.stats().overflows == 1);
    CHECK(f.eol() == "##");
}

TEST_CASE("fixed framing cuts every frame_length bytes, binary included", "[serial]") {
    config::device d;
    d.framing = config::framing_mode::fixed;
    d.frame_length = 3;
    framer f(d);
    CHECK(f.feed(std::string("\x00\x01\x02\x03", 4)) == frames{std::string("\x00\x01\x02", 3)});
    CHECK(f.feed(std::string("\n\xff", 2)) == frames{std::string("\x03\n\xff", 3)});
}

TEST_CASE("idle_gap framing ends a frame when the line goes quiet", "[serial]") {
    config::device d;
    d.framing = config::framing_mode::idle_gap;
    d.max_frame_bytes = 4;
    framer f(d);
    CHECK(f.feed("ab\ncd") == frames{});
    CHECK_FALSE(f.on_idle()); // 5 bytes > 4: dropped as an overflow
    CHECK(f.stats().overflows == 1);
    CHECK(f.feed("xy") == frames{});
    CHECK(f.on_idle() == std::optional<std::string>("xy"));
    CHECK_FALSE(f.on_idle());
}

TEST_CASE("bytes discarded during settle resync to the next end of line", "[serial]") {
    framer f(line_device());
    f.discard("\xff\xfe boot garbage wi");
    CHECK(f.feed("thout end\ntemp=1\n") == frames{"temp=1"});
    f.discard("boot done\n");
    CHECK(f.feed("temp=2\n") == frames{"temp=2"});
    f.discard("boot\r");
    CHECK(f.feed("\ntemp=3\n") == frames{"temp=3"});
    CHECK(f.stats().settle_discarded == 33);
}

TEST_CASE("decoding: UTF-8 is validated, Latin-1 converted, binary shown as hex", "[serial]") {
    CHECK(decode("temp=25.1 °C", config::text_encoding::utf8) == "temp=25.1 °C");
    CHECK_FALSE(decode("bad \xff byte", config::text_encoding::utf8));
    CHECK_FALSE(decode("\xc0\xaf", config::text_encoding::utf8));         // overlong '/'
    CHECK_FALSE(decode("\xed\xa0\x80", config::text_encoding::utf8));     // surrogate
    CHECK_FALSE(decode("\xe2\x82", config::text_encoding::utf8));         // truncated
    CHECK(decode("25\xb0", config::text_encoding::latin1) == "25\xc2\xb0"); // ° in Latin-1
    CHECK(decode(std::string("\x00\xab\n", 3), config::text_encoding::binary) == "00ab0a");
}
