// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/hex.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

/// Golden bytes for tests, written as hex: `hex("10 0c 00 04 4d 51 54 54")`. Whitespace separates
/// bytes, so one packet can be split over several string literals, each with its own comment.
/// Thread safety: pure functions.
namespace edgemq::test {

namespace detail {

inline int hex_digit(char c, std::string_view text) {
    if (const int d = broker::hex_value(c); d >= 0) {
        return d;
    }
    throw std::invalid_argument("hex(): bad character '" + std::string(1, c) + "' in \"" +
                                std::string(text) + "\"");
}

} // namespace detail

/// Parses bytes written as pairs of hex digits separated by optional whitespace. A typo (an odd
/// digit, a stray character, a space inside a byte) throws std::invalid_argument, so a broken
/// table fails its test instead of silently testing other bytes.
inline std::vector<std::uint8_t> hex(std::string_view text) {
    std::vector<std::uint8_t> out;
    int high = -1;
    for (const char c : text) {
        if (c == ' ' || c == '\n' || c == '\t') {
            if (high >= 0) {
                throw std::invalid_argument("hex(): half a byte in \"" + std::string(text) + "\"");
            }
            continue;
        }
        const int d = detail::hex_digit(c, text);
        if (high < 0) {
            high = d;
        } else {
            out.push_back(static_cast<std::uint8_t>((high << 4) | d));
            high = -1;
        }
    }
    if (high >= 0) {
        throw std::invalid_argument("hex(): half a byte in \"" + std::string(text) + "\"");
    }
    return out;
}

/// The same bytes as a std::string (payloads, UTF-8 test strings).
inline std::string hex_string(std::string_view text) {
    const auto bytes = hex(text);
    return {bytes.begin(), bytes.end()};
}

/// Bytes back to "10 0c 00 04": lower case, one space between bytes. Comparing these strings
/// instead of vectors makes a failing assertion print readable bytes.
inline std::string to_hex(std::span<const std::uint8_t> bytes) {
    std::string out;
    out.reserve(bytes.size() * 3);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (i != 0) {
            out.push_back(' ');
        }
        out.push_back(broker::hex_digits[bytes[i] >> 4]);
        out.push_back(broker::hex_digits[bytes[i] & 0x0f]);
    }
    return out;
}

inline std::string to_hex(std::string_view bytes) {
    return to_hex(std::span{reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
}

} // namespace edgemq::test
