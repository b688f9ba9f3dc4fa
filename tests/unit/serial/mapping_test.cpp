// SPDX-License-Identifier: Apache-2.0
#include <edgemq/serial/command.hpp>
#include <edgemq/serial/mapping.hpp>

#include <catch2/catch.hpp>

using namespace edgemq;
using namespace edgemq::serial;
using namespace std::chrono_literals;

namespace {

config::device sensor() {
    config::device d;
    d.id = "greenhouse";
    return d;
}

const steady_time t0{};

std::vector<named_value> reading(double temp, std::int64_t hum) {
    return {{"temp", temp}, {"hum", hum}};
}

} // namespace

TEST_CASE("a frame becomes the JSON state with ts and, if asked, per-field messages",
          "[serial]") {
    auto d = sensor();
    d.publish.fields = true;
    d.publish.qos = 1;
    d.publish.retain = true;
    mapper m(d);
    const auto out = m.on_frame(reading(25.1, 60), t0, 1717000000123);
    REQUIRE(out.size() == 3);
    CHECK(out[0].topic == "edgemq/greenhouse");
    CHECK(out[0].payload == R"({"temp":25.1,"hum":60,"ts":1717000000123})");
    CHECK(out[0].qos == 1);
    CHECK(out[0].retain);
    CHECK(out[1].topic == "edgemq/greenhouse/temp");
    CHECK(out[1].payload == "25.1");
    CHECK(out[2].topic == "edgemq/greenhouse/hum");
    CHECK(out[2].payload == "60");
}

TEST_CASE("topic templates and JSON escaping", "[serial]") {
    CHECK(expand_topic("site/{base}/{device}/x/{field}", "b", "dev", "f") == "site/b/dev/x/f");
    CHECK(state_json({{"s", std::string("a\"b\\\n")}, {"ok", true}}, 5) ==
          R"({"s":"a\"b\\\n","ok":true,"ts":5})");
}

TEST_CASE("deadband suppresses frames where nothing moved enough", "[serial]") {
    auto d = sensor();
    d.fields = {{"temp", "temp", config::field_type::number, 1, 0, "", 0.5}};
    mapper m(d);
    CHECK(m.on_frame(reading(25.0, 60), t0, 1).size() == 1);
    CHECK(m.on_frame(reading(25.4, 60), t0 + 1s, 2).empty()); // within the deadband
    CHECK(m.on_frame(reading(24.6, 60), t0 + 2s, 3).empty()); // compared to 25.0, not 25.4
    CHECK(m.on_frame(reading(25.5, 60), t0 + 3s, 4).size() == 1);
    CHECK(m.on_frame(reading(25.5, 61), t0 + 4s, 5).size() == 1); // hum has no deadband
    CHECK(m.suppressed() == 2);
}

TEST_CASE("min_interval holds frames, latest wins, max_interval republishes", "[serial]") {
    auto d = sensor();
    d.publish.min_interval = 10s;
    d.publish.max_interval = 60s;
    mapper m(d);
    CHECK(m.on_frame(reading(1, 1), t0, 1000).size() == 1);
    CHECK(m.next_timer() == t0 + 60s);
    CHECK(m.on_frame(reading(2, 2), t0 + 1s, 2000).empty());
    CHECK(m.on_frame(reading(3, 3), t0 + 2s, 3000).empty());
    CHECK(m.next_timer() == t0 + 10s);
    CHECK(m.on_timer(t0 + 9s, 9000).empty()); // early: nothing
    const auto held = m.on_timer(t0 + 10s, 10000);
    REQUIRE(held.size() == 1);
    CHECK(held[0].payload == R"({"temp":3,"hum":3,"ts":10000})");
    CHECK(m.suppressed() == 1);
    CHECK(m.next_timer() == t0 + 70s);
    const auto heartbeat = m.on_timer(t0 + 70s, 70000);
    REQUIRE(heartbeat.size() == 1);
    CHECK(heartbeat[0].payload == R"({"temp":3,"hum":3,"ts":70000})");
    CHECK(m.on_frame(reading(4, 4), t0 + 81s, 81000).size() == 1); // 11s later: straight out
}

TEST_CASE("the log rate limiter allows bursts then one a second", "[serial]") {
    rate_limiter r(1.0, 3.0);
    CHECK(r.take(t0));
    CHECK(r.take(t0));
    CHECK(r.take(t0));
    CHECK_FALSE(r.take(t0 + 100ms));
    CHECK(r.take(t0 + 1100ms));
    CHECK_FALSE(r.take(t0 + 1200ms));
}

TEST_CASE("command templates and validation", "[serial]") {
    config::device_command led;
    led.name = "led";
    led.type = config::command_type::enumeration;
    led.values = {"on", "off"};
    led.format = "LED {value} #{seq} {device}";
    CHECK(encode_command(led, "on", 7, "dev", "\n").bytes == "LED on #7 dev\n");
    CHECK(encode_command(led, "blink", 7, "dev", "\n").error ==
          R"(expected one of "on", "off", got "blink")");

    config::device_command sp;
    sp.type = config::command_type::integer;
    sp.min = 0;
    sp.max = 100;
    sp.format = "SP={value}";
    sp.append_eol = false;
    CHECK(encode_command(sp, " 42 ", 1, "d", "\n").bytes == "SP=42");
    CHECK(encode_command(sp, "101", 1, "d", "\n").error ==
          R"(expected an integer between 0 and 100, got "101")");
    CHECK_FALSE(encode_command(sp, "4.5", 1, "d", "\n").ok());

    config::device_command f;
    f.type = config::command_type::number;
    f.max = 1.5;
    CHECK(encode_command(f, "1.25", 1, "d", ";").bytes == "1.25;");
    CHECK_FALSE(encode_command(f, "nan", 1, "d", ";").ok());

    config::device_command b;
    b.type = config::command_type::boolean;
    CHECK(encode_command(b, "on", 1, "d", "\n").bytes == "1\n");
    CHECK(encode_command(b, "false", 1, "d", "\n").bytes == "0\n");
    CHECK_FALSE(encode_command(b, "maybe", 1, "d", "\n").ok());

    config::device_command s; // string
    s.max_length = 5;
    CHECK(encode_command(s, "hello", 1, "d", "\n").bytes == "hello\n");
    CHECK(encode_command(s, "hello!", 1, "d", "\n").error == "payload longer than 5 bytes");
    CHECK(encode_command(s, "a\nb", 1, "d", "\n").error ==
          "payload must not contain an end of line");

    config::device_command none;
    none.type = config::command_type::none;
    none.format = "REBOOT";
    CHECK(encode_command(none, "whatever", 1, "d", "\r\n").bytes == "REBOOT\r\n");

    led.reply = "^ACK {seq}$";
    CHECK(reply_pattern(led, 12) == "^ACK 12$");
    CHECK(response_json(true, 3, "ACK 3") == R"({"ok":true,"seq":3,"reply":"ACK 3"})");
    CHECK(response_json(false, 4, "timeout") == R"({"ok":false,"seq":4,"error":"timeout"})");
}
