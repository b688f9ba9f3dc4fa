// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/codec/decode.hpp"
#include "edgemq/broker/codec/packets.hpp"
#include "edgemq/broker/error.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

/// Cuts a byte stream into MQTT packets [MQTT-2.2]: every reader in the product (the broker's
/// connections, the bridge, the bench tool and the test clients) goes through it.
///
/// A reader walks the bytes in front of it without owning or copying them; the caller keeps what
/// consumed() did not take for the next read. The fixed header is reported as soon as its bytes
/// are there, before the body has arrived, so that a receiver can refuse a packet by its type or
/// declared size without buffering a byte of its body (memory follows bytes received).
/// Thread safety: none; a reader is a short-lived value on one thread.
namespace edgemq::broker::protocol {

class packet_reader {
public:
    /// Reads `bytes` as packets of protocol `level` (the connection's, see codec::decode).
    explicit packet_reader(std::span<const std::uint8_t> bytes,
                           std::uint8_t level = codec::protocol_level_311) noexcept
        : bytes_(bytes), level_(level) {}

    /// The fixed header of the next packet once its bytes are there (the body may still be
    /// arriving); nullopt when even the header is incomplete. Fails on a remaining length of
    /// more than four bytes [MQTT-2.2.3].
    result<std::optional<codec::fixed_header>> header();

    /// True when the packet whose header() was returned is all there.
    bool complete() const noexcept {
        return header_ && rest().size() >= header_->packet_size();
    }

    /// Decodes the complete packet whose header() was returned and moves past it, also when it
    /// does not decode (the stream is then broken anyway).
    result<codec::packet> take();

    /// Moves past the complete packet whose header() was returned and gives its body as it is,
    /// for a reader that parses some packets in place (the bench tool's PUBLISH).
    std::span<const std::uint8_t> take_body() noexcept;

    /// The next complete packet: header(), a size check (errc::packet_too_large above
    /// `max_size` bytes, before the body is read) and take(). nullopt when more bytes are needed.
    result<std::optional<codec::packet>> next(std::size_t max_size);

    /// The bytes taken so far; the rest belongs to a packet still arriving.
    std::size_t consumed() const noexcept { return pos_; }

    /// True when bytes of an unfinished packet are left after consumed().
    bool incomplete() const noexcept { return pos_ < bytes_.size(); }

    /// The declared size of the unfinished packet after consumed(), once its header is known.
    std::size_t needed() const noexcept { return header_ ? header_->packet_size() : 0; }

private:
    std::span<const std::uint8_t> rest() const noexcept { return bytes_.subspan(pos_); }

    std::span<const std::uint8_t> bytes_;
    std::uint8_t level_;
    std::size_t pos_ = 0;
    std::optional<codec::fixed_header> header_; ///< of the packet at pos_, once known
};

} // namespace edgemq::broker::protocol
