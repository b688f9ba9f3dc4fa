// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/codec/packets.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

/// Packets to bytes (MQTT 3.1.1 and 5.0, section 3). Every function appends to `out` so that
/// many packets can be gathered into one buffer and sent with one system call. `level` is the
/// protocol level of the connection (a CONNECT carries its own): at protocol_level_5 the
/// properties and reason codes are written, below it they are not.
/// Thread safety: pure functions.
namespace edgemq::broker::codec {

/// Appends a variable byte integer (1..4 bytes) [MQTT-2.2.3].
void encode_varint(std::uint32_t value, byte_buffer& out);

/// Appends the fixed header, topic and packet id of a PUBLISH whose payload has
/// `payload_size` bytes; the caller appends (or references) the payload itself. With `props`
/// (MQTT 5.0) their block follows the packet id.
void encode_publish_head(std::string_view topic, std::size_t payload_size, std::uint8_t qos,
                         bool retain, bool dup, std::uint16_t packet_id, byte_buffer& out,
                         const properties* props = nullptr);

void encode(const connect& p, byte_buffer& out);
void encode(const connack& p, byte_buffer& out, std::uint8_t level = protocol_level_311);
void encode(const publish& p, byte_buffer& out, std::uint8_t level = protocol_level_311);
void encode(const puback& p, byte_buffer& out, std::uint8_t level = protocol_level_311);
void encode(const pubrec& p, byte_buffer& out, std::uint8_t level = protocol_level_311);
void encode(const pubrel& p, byte_buffer& out, std::uint8_t level = protocol_level_311);
void encode(const pubcomp& p, byte_buffer& out, std::uint8_t level = protocol_level_311);
void encode(const subscribe& p, byte_buffer& out, std::uint8_t level = protocol_level_311);
void encode(const suback& p, byte_buffer& out, std::uint8_t level = protocol_level_311);
void encode(const unsubscribe& p, byte_buffer& out, std::uint8_t level = protocol_level_311);
void encode(const unsuback& p, byte_buffer& out, std::uint8_t level = protocol_level_311);
void encode(const pingreq& p, byte_buffer& out);
void encode(const pingresp& p, byte_buffer& out);
void encode(const disconnect& p, byte_buffer& out, std::uint8_t level = protocol_level_311);
/// AUTH exists only in MQTT 5.0.
void encode(const auth& p, byte_buffer& out);
void encode(const packet& p, byte_buffer& out, std::uint8_t level = protocol_level_311);

} // namespace edgemq::broker::codec
