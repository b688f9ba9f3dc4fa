// SPDX-License-Identifier: Apache-2.0
#include "edgemq/broker/codec/encode.hpp"
#include "edgemq/broker/codec/properties.hpp"

namespace edgemq::broker::codec {
namespace {

void put_u16(std::uint16_t v, byte_buffer& out) {
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v & 0xff));
}

void put_string(std::string_view s, byte_buffer& out) {
    put_u16(static_cast<std::uint16_t>(s.size()), out);
    out.insert(out.end(), s.begin(), s.end());
}

constexpr std::size_t string_size(std::string_view s) noexcept {
    return 2 + s.size();
}

void put_header(packet_type type, std::uint8_t flags, std::size_t remaining, byte_buffer& out) {
    out.push_back(static_cast<std::uint8_t>((static_cast<std::uint8_t>(type) << 4) | flags));
    encode_varint(static_cast<std::uint32_t>(remaining), out);
}

/// Bit 7 of a CONNECT's level is the bridge bit (Mosquitto's "try_private"), not the version.
constexpr bool is_v5(std::uint8_t level) noexcept {
    return (level & 0x7f) >= protocol_level_5;
}

/// PUBACK, PUBREC, PUBREL, PUBCOMP: the id, and in 5.0 the reason code and properties, both
/// left out when they say nothing (success, no properties) [MQTT-3.4.2.1].
void put_ack(packet_type type, std::uint8_t flags, std::uint16_t id, std::uint8_t reason,
             const property_set& props, std::uint8_t level, byte_buffer& out) {
    const bool with_props = is_v5(level) && !props.empty();
    const bool with_reason = is_v5(level) && (reason != 0 || with_props);
    put_header(type, flags, 2 + (with_reason ? 1 : 0) + (with_props ? properties_size(props.get()) : 0),
               out);
    put_u16(id, out);
    if (with_reason) {
        out.push_back(reason);
    }
    if (with_props) {
        encode_properties(props.get(), out);
    }
}

/// DISCONNECT and AUTH: a reason code and properties, both left out when they say nothing.
void put_reason_only(packet_type type, std::uint8_t reason, const property_set& props,
                     byte_buffer& out) {
    const bool with_props = !props.empty();
    const bool with_reason = reason != 0 || with_props;
    put_header(type, 0, (with_reason ? 1 : 0) + (with_props ? properties_size(props.get()) : 0), out);
    if (with_reason) {
        out.push_back(reason);
    }
    if (with_props) {
        encode_properties(props.get(), out);
    }
}

std::size_t props_size(const property_set& p, std::uint8_t level) {
    return is_v5(level) ? properties_size(p.get()) : 0;
}

void put_props(const property_set& p, std::uint8_t level, byte_buffer& out) {
    if (is_v5(level)) {
        encode_properties(p.get(), out);
    }
}

} // namespace

void encode_varint(std::uint32_t value, byte_buffer& out) {
    do {
        auto b = static_cast<std::uint8_t>(value & 0x7f);
        value >>= 7;
        if (value != 0) {
            b |= 0x80;
        }
        out.push_back(b);
    } while (value != 0);
}

void encode_publish_head(std::string_view topic, std::size_t payload_size, std::uint8_t qos,
                         bool retain, bool dup, std::uint16_t packet_id, byte_buffer& out,
                         const properties* props) {
    const auto flags = static_cast<std::uint8_t>((dup ? 0x08 : 0) | (qos << 1) | (retain ? 1 : 0));
    put_header(packet_type::publish, flags,
               string_size(topic) + (qos > 0 ? 2 : 0) + (props ? properties_size(*props) : 0) +
                   payload_size,
               out);
    put_string(topic, out);
    if (qos > 0) {
        put_u16(packet_id, out);
    }
    if (props) {
        encode_properties(*props, out);
    }
}

void encode(const connect& p, byte_buffer& out) {
    const auto level = p.protocol_level;
    std::size_t size = string_size(p.protocol_name) + 1 + 1 + 2 + props_size(p.props, level) +
                       string_size(p.client_id);
    std::uint8_t flags = p.clean_session ? 0x02 : 0x00;
    if (p.will) {
        size += props_size(p.will->props, level) + string_size(p.will->topic) +
                string_size(p.will->payload);
        flags |= static_cast<std::uint8_t>(0x04 | (p.will->qos << 3) | (p.will->retain ? 0x20 : 0));
    }
    if (p.username) {
        size += string_size(*p.username);
        flags |= 0x80;
    }
    if (p.password) {
        size += string_size(*p.password);
        flags |= 0x40;
    }
    put_header(packet_type::connect, 0, size, out);
    put_string(p.protocol_name, out);
    out.push_back(p.protocol_level);
    out.push_back(flags);
    put_u16(p.keep_alive, out);
    put_props(p.props, level, out);
    put_string(p.client_id, out);
    if (p.will) {
        put_props(p.will->props, level, out);
        put_string(p.will->topic, out);
        put_string(p.will->payload, out);
    }
    if (p.username) {
        put_string(*p.username, out);
    }
    if (p.password) {
        put_string(*p.password, out);
    }
}

void encode(const connack& p, byte_buffer& out, std::uint8_t level) {
    put_header(packet_type::connack, 0, 2 + props_size(p.props, level), out);
    out.push_back(p.session_present ? 1 : 0);
    out.push_back(static_cast<std::uint8_t>(p.code));
    put_props(p.props, level, out);
}

void encode(const publish& p, byte_buffer& out, std::uint8_t level) {
    encode_publish_head(p.topic, p.payload.size(), p.qos, p.retain, p.dup, p.packet_id, out,
                        is_v5(level) ? &p.props.get() : nullptr);
    out.insert(out.end(), p.payload.begin(), p.payload.end());
}

void encode(const puback& p, byte_buffer& out, std::uint8_t level) {
    put_ack(packet_type::puback, 0, p.packet_id, p.reason_code, p.props, level, out);
}
void encode(const pubrec& p, byte_buffer& out, std::uint8_t level) {
    put_ack(packet_type::pubrec, 0, p.packet_id, p.reason_code, p.props, level, out);
}
void encode(const pubrel& p, byte_buffer& out, std::uint8_t level) {
    put_ack(packet_type::pubrel, 2, p.packet_id, p.reason_code, p.props, level, out);
}
void encode(const pubcomp& p, byte_buffer& out, std::uint8_t level) {
    put_ack(packet_type::pubcomp, 0, p.packet_id, p.reason_code, p.props, level, out);
}

void encode(const unsuback& p, byte_buffer& out, std::uint8_t level) {
    const std::size_t codes = is_v5(level) ? p.reason_codes.size() : 0;
    put_header(packet_type::unsuback, 0, 2 + props_size(p.props, level) + codes, out);
    put_u16(p.packet_id, out);
    if (is_v5(level)) {
        encode_properties(p.props.get(), out);
        out.insert(out.end(), p.reason_codes.begin(), p.reason_codes.end());
    }
}

void encode(const subscribe& p, byte_buffer& out, std::uint8_t level) {
    std::size_t size = 2 + props_size(p.props, level);
    for (const auto& s : p.subscriptions) {
        size += string_size(s.filter) + 1;
    }
    put_header(packet_type::subscribe, 2, size, out);
    put_u16(p.packet_id, out);
    put_props(p.props, level, out);
    for (const auto& s : p.subscriptions) {
        put_string(s.filter, out);
        auto options = s.qos;
        if (is_v5(level)) { // [MQTT-3.8.3.1]
            options |= static_cast<std::uint8_t>((s.no_local ? 0x04 : 0) |
                                                 (s.retain_as_published ? 0x08 : 0) |
                                                 (s.retain_handling << 4));
        }
        out.push_back(options);
    }
}

void encode(const suback& p, byte_buffer& out, std::uint8_t level) {
    put_header(packet_type::suback, 0, 2 + props_size(p.props, level) + p.return_codes.size(),
               out);
    put_u16(p.packet_id, out);
    put_props(p.props, level, out);
    out.insert(out.end(), p.return_codes.begin(), p.return_codes.end());
}

void encode(const unsubscribe& p, byte_buffer& out, std::uint8_t level) {
    std::size_t size = 2 + props_size(p.props, level);
    for (const auto& f : p.filters) {
        size += string_size(f);
    }
    put_header(packet_type::unsubscribe, 2, size, out);
    put_u16(p.packet_id, out);
    put_props(p.props, level, out);
    for (const auto& f : p.filters) {
        put_string(f, out);
    }
}

void encode(const pingreq&, byte_buffer& out) {
    put_header(packet_type::pingreq, 0, 0, out);
}
void encode(const pingresp&, byte_buffer& out) {
    put_header(packet_type::pingresp, 0, 0, out);
}
void encode(const disconnect& p, byte_buffer& out, std::uint8_t level) {
    if (!is_v5(level)) {
        put_header(packet_type::disconnect, 0, 0, out);
        return;
    }
    put_reason_only(packet_type::disconnect, p.reason_code, p.props, out);
}
void encode(const auth& p, byte_buffer& out) {
    put_reason_only(packet_type::auth, p.reason_code, p.props, out);
}

void encode(const packet& p, byte_buffer& out, std::uint8_t level) {
    std::visit(
        [&out, level](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, connect> || std::is_same_v<T, pingreq> ||
                          std::is_same_v<T, pingresp> || std::is_same_v<T, auth>) {
                encode(v, out);
            } else {
                encode(v, out, level);
            }
        },
        p);
}

} // namespace edgemq::broker::codec
