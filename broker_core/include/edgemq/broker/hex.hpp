// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <string_view>

/// Hex digits, one definition for the product: generated client ids, session tokens, escapes in
/// logs and JSON, percent-encoding, undecodable serial lines.
/// Thread safety: pure functions.
namespace edgemq::broker {

/// Hex digits by nibble value, lower and upper case (RFC 3986 percent-encoding uses upper).
inline constexpr char hex_digits[] = "0123456789abcdef";
inline constexpr char upper_hex_digits[] = "0123456789ABCDEF";

/// Each byte as two lower-case hex digits.
inline std::string hex_encoded(std::string_view bytes) {
    std::string out;
    out.reserve(2 * bytes.size());
    for (const char c : bytes) {
        const auto b = static_cast<unsigned char>(c);
        out.push_back(hex_digits[b >> 4]);
        out.push_back(hex_digits[b & 0x0f]);
    }
    return out;
}

/// A hex digit's value (either case), or -1 for any other character.
constexpr int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

} // namespace edgemq::broker
