// SPDX-License-Identifier: Apache-2.0
//
// libFuzzer target: the serial framer and the frame parsers (serial/framing.hpp, parser.hpp),
// the Sans-I/O half of a serial device. Input layout (fuzz_input; fuzz/make_seeds.py writes
// seeds in it):
//
//   byte 0       framing mode (% 4) and encoding ((>> 2) % 3)
//   byte 1       max_frame_bytes: 0 = 1024 (the default), else 4 * value
//   byte 2       frame_length for fixed framing: 1 + value % max_frame_bytes
//   then         the delimiter, kv pair and key separators and the csv separator, each as a
//                length byte (0: the default, 1..3: that many bytes follow, more: empty where
//                the loader allows it, which is for the two kv separators, else the default)
//   then ops     a byte: feed (a length byte and bytes), on_idle, discard (length, bytes), reset
//
// Every frame is decoded per the encoding and given to each parser kind (raw, kv, csv, json,
// two regexes). Checked: frames are never empty and never longer than max_frame_bytes (fixed:
// exactly frame_length), carry no terminator, and stats().frames counts them; parse never
// throws.
#include "fuzz_input.hpp"

#include "edgemq/serial/framing.hpp"
#include "edgemq/serial/parser.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace config = edgemq::config;
namespace serial = edgemq::serial;
using edgemq::fuzz::fuzz_input;

namespace {

[[noreturn]] void fail(const char* what, std::size_t a = 0, std::size_t b = 0) {
    std::fprintf(stderr, "fuzz_serial: %s (%zu, %zu)\n", what, a, b);
    std::abort();
}

config::device_field field(std::string name, std::string source, config::field_type type,
                           double scale = 1.0, double offset = 0.0) {
    config::device_field f;
    f.name = std::move(name);
    f.source = std::move(source);
    f.type = type;
    f.scale = scale;
    f.offset = offset;
    return f;
}

config::device base_device() {
    config::device d;
    d.id = "fuzz";
    d.fields = {
        field("temp", "temp", config::field_type::number, 0.1, -40.0),
        field("count", "n", config::field_type::integer),
        field("on", "state", config::field_type::boolean),
        field("label", "name", config::field_type::string),
        field("raw_int", "value", config::field_type::automatic, 2.0),
    };
    return d;
}

serial::parser regex_parser(std::string pattern) {
    auto d = base_device();
    d.parser.kind = config::parser_kind::regex;
    d.parser.pattern = std::move(pattern);
    return serial::parser{d};
}

/// The regex parsers are compiled once: std::regex construction costs more than a run.
const std::vector<serial::parser>& regex_parsers() {
    static const std::vector<serial::parser> parsers{
        regex_parser(R"(T(?<temp>-?[0-9.]+)\s*H(?<n>[0-9]+))"),
        regex_parser(R"(^(\w+);(?<state>on|off)?;?(.*)$)"),
    };
    return parsers;
}

class harness {
public:
    explicit harness(fuzz_input& in) : in_(in), device_(base_device()) {
        const auto b = in.u8();
        device_.framing = static_cast<config::framing_mode>(b % 4);
        device_.encoding = static_cast<config::text_encoding>((b >> 2) % 3);
        const auto max = in.u8();
        device_.max_frame_bytes = max == 0 ? 1024 : std::size_t{max} * 4;
        device_.frame_length = 1 + in.u8() % device_.max_frame_bytes;
        device_.delimiter = text_or(";");
        device_.parser.pair_separator = text_or(",", true);
        device_.parser.kv_separator = text_or("=", true);
        device_.parser.separator = text_or(",");
        device_.parser.columns = {"temp", "_", "n", "name"};
    }

    void run() {
        serial::framer f{device_};
        auto kv = device_;
        kv.parser.kind = config::parser_kind::kv;
        auto csv = device_;
        csv.parser.kind = config::parser_kind::csv;
        auto json = device_;
        json.parser.kind = config::parser_kind::json;
        parsers_ = {serial::parser{device_}, serial::parser{kv}, serial::parser{csv},
                    serial::parser{json}};

        std::size_t frames = 0;
        while (!in_.empty()) {
            switch (in_.u8() % 8) {
            case 5:
                if (auto frame = f.on_idle()) {
                    ++frames;
                    on_frame(*frame);
                }
                break;
            case 6:
                f.discard(in_.bytes(64));
                break;
            case 7:
                f.reset();
                break;
            default:
                for (const auto& frame : f.feed(in_.bytes(255))) {
                    ++frames;
                    on_frame(frame);
                }
                break;
            }
            if (f.stats().frames != frames) {
                fail("stats().frames differs from the frames returned", f.stats().frames, frames);
            }
        }
    }

private:
    /// A separator from the input, `fallback`, or empty where the loader allows that.
    std::string text_or(const char* fallback, bool empty_allowed = false) {
        const auto n = in_.u8();
        if (n == 0 || (n > 3 && !empty_allowed)) {
            return fallback;
        }
        std::string s;
        for (std::uint8_t i = 0; i < n && n <= 3; ++i) {
            s.push_back(static_cast<char>(in_.u8()));
        }
        return s;
    }

    void on_frame(const std::string& frame) {
        if (frame.empty()) {
            fail("an empty frame");
        }
        if (frame.size() > device_.max_frame_bytes) {
            fail("a frame longer than max_frame_bytes", frame.size(), device_.max_frame_bytes);
        }
        switch (device_.framing) {
        case config::framing_mode::line:
            if (frame.find_first_of("\r\n") != std::string::npos) {
                fail("a line frame holds a line terminator");
            }
            break;
        case config::framing_mode::delimiter:
            if (frame.find(device_.delimiter) != std::string::npos) {
                fail("a frame holds its delimiter");
            }
            break;
        case config::framing_mode::fixed:
            if (frame.size() != device_.frame_length) {
                fail("a fixed frame of the wrong length", frame.size(), device_.frame_length);
            }
            break;
        case config::framing_mode::idle_gap:
            break;
        }
        const auto text = serial::decode(frame, device_.encoding);
        if (!text) {
            if (device_.encoding != config::text_encoding::utf8) {
                fail("only utf-8 decoding can refuse a frame");
            }
            return;
        }
        if (!serial::is_valid_utf8(*text)) {
            fail("decode gave text that is not UTF-8");
        }
        for (const auto& p : parsers_) {
            (void)p.parse(*text);
        }
        for (const auto& p : regex_parsers()) {
            (void)p.parse(*text);
        }
    }

    fuzz_input& in_;
    config::device device_;
    std::vector<serial::parser> parsers_;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz_input in{data, size};
    harness h{in};
    h.run();
    return 0;
}
