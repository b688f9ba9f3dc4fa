// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/codec/packets.hpp"
#include "edgemq/broker/error.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

/// Bytes to packets (MQTT 3.1.1 and 5.0, sections 2 and 3). Stateless and allocation-light; validation of
/// everything the spec says a receiver must reject happens here, so the layers above can trust a
/// decoded packet. Thread safety: pure functions.
namespace edgemq::broker::codec {

/// The fixed header of a packet [MQTT-2.2].
struct fixed_header {
    std::uint8_t first_byte = 0;
    std::uint32_t remaining_length = 0;
    std::uint8_t size = 0; ///< bytes taken by the fixed header itself (2..5)

    packet_type type() const noexcept { return static_cast<packet_type>(first_byte >> 4); }
    std::uint8_t flags() const noexcept { return first_byte & 0x0f; }
    std::size_t packet_size() const noexcept { return size + std::size_t{remaining_length}; }
};

/// Reads a fixed header from the front of `bytes`. An empty optional means "need more bytes".
/// Fails on a remaining length longer than four bytes [MQTT-2.2.3].
result<std::optional<fixed_header>> decode_fixed_header(std::span<const std::uint8_t> bytes);

/// Decodes one packet whose fixed header is `header` and whose variable header and payload are
/// `body` (exactly `header.remaining_length` bytes), in the layout of protocol `level` (the
/// connection's; a CONNECT declares its own and decodes as that).
result<packet> decode(const fixed_header& header, std::span<const std::uint8_t> body,
                      std::uint8_t level = protocol_level_311);

/// True when `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
/// above U+10FFFF).
bool is_well_formed_utf8(std::string_view s) noexcept;

/// True when `s` is a valid MQTT string: well-formed UTF-8 without U+0000 [MQTT-1.5.3-1/2].
bool is_valid_utf8(std::string_view s) noexcept;

} // namespace edgemq::broker::codec
