// SPDX-License-Identifier: Apache-2.0
#include "log_format.hpp"

#include "edgemq/broker/hex.hpp"

#include <spdlog/pattern_formatter.h>

#include <cstdint>

namespace edgemq::app {
namespace {

void append_escaped(std::string_view text, spdlog::memory_buf_t& out) {
    const auto put = [&out](std::string_view s) { out.append(s.data(), s.data() + s.size()); };
    const auto put_hex = [&out](const char* prefix, unsigned value, int digits) {
        out.append(prefix, prefix + std::char_traits<char>::length(prefix));
        for (int shift = 4 * (digits - 1); shift >= 0; shift -= 4) {
            out.push_back(broker::hex_digits[(value >> shift) & 0x0f]);
        }
    };
    std::size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c < 0x7f) {
            if (c == '\\') {
                put("\\\\");
            } else {
                out.push_back(static_cast<char>(c));
            }
            ++i;
            continue;
        }
        if (const char* e = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : nullptr) {
            put(e);
            ++i;
            continue;
        }
        // A well-formed UTF-8 sequence (RFC 3629: no overlong forms, no surrogates).
        std::size_t len = 0;
        std::uint32_t cp = 0;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        }
        bool valid = len > 0 && i + len <= text.size();
        for (std::size_t k = 1; valid && k < len; ++k) {
            const auto b = static_cast<unsigned char>(text[i + k]);
            valid = (b & 0xc0) == 0x80;
            cp = (cp << 6) | (b & 0x3f);
        }
        valid = valid && !(len == 3 && cp < 0x800) &&
                !(len == 4 && (cp < 0x10000 || cp > 0x10ffff)) && !(cp >= 0xd800 && cp <= 0xdfff);
        if (!valid) {
            put_hex("\\x", c, 2); // C0 controls, DEL, stray bytes
            ++i;
        } else if (cp < 0xa0) {
            put_hex("\\u", cp, 4); // C1 controls (0x9b is CSI to many terminals)
            i += len;
        } else {
            put(text.substr(i, len));
            i += len;
        }
    }
}

/// %* : the message, escaped.
class escaped_message final : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&,
                spdlog::memory_buf_t& dest) override {
        append_escaped({msg.payload.data(), msg.payload.size()}, dest);
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<escaped_message>();
    }
};

} // namespace

std::string escape_for_log(std::string_view text) {
    spdlog::memory_buf_t buf;
    append_escaped(text, buf);
    return {buf.data(), buf.size()};
}

std::unique_ptr<spdlog::formatter> make_log_formatter() {
    auto f = std::make_unique<spdlog::pattern_formatter>();
    f->add_flag<escaped_message>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %n: %*");
    return f;
}

} // namespace edgemq::app
