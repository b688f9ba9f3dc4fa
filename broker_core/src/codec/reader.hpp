// SPDX-License-Identifier: Apache-2.0
#pragma once

// Private to the codec: reading the fields of a packet body (decode.cpp, properties.cpp).

#include "edgemq/broker/codec/decode.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace edgemq::broker::codec::detail {

/// A cursor over a packet body; every read checks the bounds and reports malformed_packet.
class reader {
public:
    explicit reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

    bool empty() const noexcept { return pos_ == bytes_.size(); }
    std::size_t remaining() const noexcept { return bytes_.size() - pos_; }

    result<std::uint8_t> u8() {
        if (remaining() < 1) {
            return errc::malformed_packet;
        }
        return bytes_[pos_++];
    }

    result<std::uint16_t> u16() {
        if (remaining() < 2) {
            return errc::malformed_packet;
        }
        const auto v = static_cast<std::uint16_t>((bytes_[pos_] << 8) | bytes_[pos_ + 1]);
        pos_ += 2;
        return v;
    }

    result<std::uint32_t> u32() {
        if (remaining() < 4) {
            return errc::malformed_packet;
        }
        const auto v = (std::uint32_t{bytes_[pos_]} << 24) | (std::uint32_t{bytes_[pos_ + 1]} << 16) |
                       (std::uint32_t{bytes_[pos_ + 2]} << 8) | std::uint32_t{bytes_[pos_ + 3]};
        pos_ += 4;
        return v;
    }

    /// A variable byte integer of at most four bytes [MQTT-1.5.5].
    result<std::uint32_t> varint() {
        std::uint32_t value = 0;
        for (int i = 0; i < 4; ++i) {
            auto b = u8();
            if (!b) {
                return b.error();
            }
            value |= std::uint32_t{*b & 0x7fu} << (7 * i);
            if ((*b & 0x80) == 0) {
                return value;
            }
        }
        return errc::malformed_packet;
    }

    /// The next `n` bytes as a reader of their own (a property block).
    result<reader> sub(std::size_t n) {
        if (remaining() < n) {
            return errc::malformed_packet;
        }
        reader r{bytes_.subspan(pos_, n)};
        pos_ += n;
        return r;
    }

    /// A packet identifier, which is never 0 [MQTT-2.3.1-1].
    result<std::uint16_t> packet_id() {
        auto id = u16();
        if (id && *id == 0) {
            return errc::malformed_packet;
        }
        return id;
    }

    /// Length-prefixed binary data [MQTT-1.5.3].
    result<std::string> binary() {
        auto len = u16();
        if (!len) {
            return len.error();
        }
        if (remaining() < *len) {
            return errc::malformed_packet;
        }
        std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), *len);
        pos_ += *len;
        return s;
    }

    /// Length-prefixed UTF-8 string [MQTT-1.5.3-1].
    result<std::string> utf8() {
        auto s = binary();
        if (s && !is_valid_utf8(*s)) {
            return errc::invalid_utf8;
        }
        return s;
    }

    /// The bytes not read yet, without moving past them.
    std::span<const std::uint8_t> unread() const noexcept { return bytes_.subspan(pos_); }

    /// Moves past `n` bytes that unread() showed.
    void skip(std::size_t n) noexcept { pos_ += n; }

    std::string rest() {
        std::string s(reinterpret_cast<const char*>(bytes_.data() + pos_), remaining());
        pos_ = bytes_.size();
        return s;
    }

private:
    std::span<const std::uint8_t> bytes_;
    std::size_t pos_ = 0;
};

/// Evaluates `expr` (a result<T>) into `var`, or returns its error from the enclosing function.
#define EDGEMQ_TRY(var, expr)                                                                      \
    auto var##_r = (expr);                                                                         \
    if (!var##_r) {                                                                                \
        return var##_r.error();                                                                    \
    }                                                                                              \
    auto var = std::move(*var##_r)


} // namespace edgemq::broker::codec::detail
