// SPDX-License-Identifier: Apache-2.0
#include "edgemq/broker/codec/decode.hpp"
#include "reader.hpp"

#include "edgemq/broker/codec/properties.hpp"
#include "edgemq/broker/routing/topic.hpp"

#include <algorithm>
#include <initializer_list>

namespace edgemq::broker::codec {
namespace {

using detail::reader;

/// Bit 7 of a CONNECT's level is the bridge bit (Mosquitto's "try_private"), not the version.
constexpr bool is_v5(std::uint8_t level) noexcept {
    return (level & 0x7f) >= protocol_level_5;
}

/// A 5.0 property block at the reader's position [MQTT-2.2.2].
result<properties> read_properties(reader& r, property_scope scope) {
    EDGEMQ_TRY(block, decode_properties(r.unread(), scope));
    r.skip(block.second);
    return std::move(block.first);
}

/// The reason codes each 5.0 packet may carry (OASIS MQTT 5.0, section 2.4 and each packet's
/// "Reason Code" table); any other value is a malformed packet.
using codes = std::initializer_list<std::uint8_t>;
constexpr codes connack_codes = {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
                                 0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F};
constexpr codes puback_codes = {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99};
constexpr codes pubrel_codes = {0x00, 0x92}; // also PUBCOMP
constexpr codes suback_codes = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87,
                                0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2};
constexpr codes unsuback_codes = {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91};
constexpr codes disconnect_codes = {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D,
                                    0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
                                    0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2};
constexpr codes auth_codes = {0x00, 0x18, 0x19};
constexpr codes connack_codes_311 = {0, 1, 2, 3, 4, 5};         // [MQTT-3.2.2.3]
constexpr codes suback_codes_311 = {0x00, 0x01, 0x02, suback_failure}; // [MQTT-3.9.3]

result<std::uint8_t> read_reason(reader& r, codes allowed) {
    EDGEMQ_TRY(code, r.u8());
    if (std::ranges::find(allowed, code) == allowed.end()) {
        return errc::malformed_packet;
    }
    return code;
}

/// The flags a packet type must carry [MQTT-2.2.2-1/2]; PUBLISH is checked separately.
constexpr std::uint8_t required_flags(packet_type t) noexcept {
    switch (t) {
    case packet_type::pubrel:
    case packet_type::subscribe:
    case packet_type::unsubscribe:
        return 0x02;
    default:
        return 0x00;
    }
}

result<packet> decode_connect(reader& r) {
    connect p;
    EDGEMQ_TRY(name, r.utf8());
    EDGEMQ_TRY(level, r.u8());
    p.protocol_name = std::move(name);
    p.protocol_level = level;
    const auto version = static_cast<std::uint8_t>(level & 0x7f); // bit 7: a bridge's bit
    const bool mqtt311 = p.protocol_name == "MQTT" && version == protocol_level_311;
    const bool mqtt31 = p.protocol_name == "MQIsdp" && version == protocol_level_31;
    const bool mqtt5 = p.protocol_name == "MQTT" && version == protocol_level_5;
    if (!mqtt311 && !mqtt31 && !mqtt5) {
        // [MQTT-3.1.2-2]: answered with CONNACK 0x01 by the caller.
        return errc::unsupported_protocol_version;
    }
    EDGEMQ_TRY(flags, r.u8());
    if (flags & 0x01) {
        return errc::malformed_packet; // [MQTT-3.1.2-3]
    }
    p.clean_session = (flags & 0x02) != 0;
    const bool will_flag = (flags & 0x04) != 0;
    const auto will_qos = static_cast<std::uint8_t>((flags >> 3) & 0x03);
    const bool will_retain = (flags & 0x20) != 0;
    const bool password_flag = (flags & 0x40) != 0;
    const bool username_flag = (flags & 0x80) != 0;
    if (!will_flag && (will_qos != 0 || will_retain)) {
        return errc::malformed_packet; // [MQTT-3.1.2-11], [MQTT-3.1.2-13], [MQTT-3.1.2-15]
    }
    if (will_qos == 3) {
        return errc::invalid_qos; // [MQTT-3.1.2-14]
    }
    if (password_flag && !username_flag && mqtt311) {
        return errc::malformed_packet; // [MQTT-3.1.2-22]
    }
    EDGEMQ_TRY(keep_alive, r.u16());
    p.keep_alive = keep_alive;
    if (mqtt5) {
        EDGEMQ_TRY(props, read_properties(r, property_scope::connect)); // [MQTT-3.1.2.11]
        p.props = std::move(props);
    }
    EDGEMQ_TRY(client_id, r.utf8());
    p.client_id = std::move(client_id);
    if (will_flag) {
        property_set will_props;
        if (mqtt5) {
            EDGEMQ_TRY(props, read_properties(r, property_scope::will)); // [MQTT-3.1.3.2]
            will_props = std::move(props);
        }
        EDGEMQ_TRY(topic, r.utf8());
        EDGEMQ_TRY(payload, r.binary());
        if (!routing::is_valid_topic_name(topic)) {
            return errc::invalid_topic_name;
        }
        p.will = will_message{std::move(topic), std::move(payload), will_qos, will_retain,
                              std::move(will_props)};
    }
    if (username_flag) {
        EDGEMQ_TRY(username, r.utf8());
        p.username = std::move(username);
    }
    if (password_flag) {
        EDGEMQ_TRY(password, r.binary());
        p.password = std::move(password);
    }
    if (!r.empty()) {
        return errc::malformed_packet;
    }
    return packet{std::move(p)};
}

result<packet> decode_publish(std::uint8_t flags, reader& r, std::uint8_t level) {
    publish p;
    p.dup = (flags & 0x08) != 0;
    p.qos = static_cast<std::uint8_t>((flags >> 1) & 0x03);
    p.retain = (flags & 0x01) != 0;
    if (p.qos == 3) {
        return errc::invalid_qos; // [MQTT-3.3.1-4]
    }
    if (p.qos == 0 && p.dup) {
        return errc::malformed_packet; // [MQTT-3.3.1-2]
    }
    EDGEMQ_TRY(topic, r.utf8());
    // In 5.0 an empty topic stands for the one a Topic Alias maps to [MQTT-3.3.2.3.4].
    if (!(is_v5(level) && topic.empty()) && !routing::is_valid_topic_name(topic)) {
        return errc::invalid_topic_name; // [MQTT-3.3.2-2]
    }
    p.topic = std::move(topic);
    if (p.qos > 0) {
        EDGEMQ_TRY(id, r.packet_id()); // [MQTT-2.3.1-1]
        p.packet_id = id;
    }
    if (is_v5(level)) {
        EDGEMQ_TRY(props, read_properties(r, property_scope::publish));
        if (p.topic.empty() && !props.topic_alias) {
            return errc::protocol_error; // an empty topic without an alias [MQTT-3.3.2.1]
        }
        p.props = std::move(props);
    }
    p.payload = r.rest();
    return packet{std::move(p)};
}

/// PUBACK, PUBREC, PUBREL, PUBCOMP: a non-zero packet id; in 5.0 then a reason code and
/// properties, each of which may be left out at the end [MQTT-3.4.2.1], [MQTT-3.4.2.2.1].
template <typename Packet> result<packet> decode_ack(reader& r, std::uint8_t level, codes allowed) {
    // An acknowledgement carries the id of a packet that could not have id 0 [MQTT-2.3.1-1].
    EDGEMQ_TRY(id, r.packet_id());
    Packet p{id};
    if (is_v5(level) && !r.empty()) {
        EDGEMQ_TRY(code, read_reason(r, allowed));
        p.reason_code = code;
        if (!r.empty()) {
            EDGEMQ_TRY(props, read_properties(r, property_scope::puback));
            p.props = std::move(props);
        }
    }
    if (!r.empty()) {
        return errc::malformed_packet;
    }
    return packet{std::move(p)};
}

/// UNSUBACK: the packet id; in 5.0 then properties and a reason code per filter [MQTT-3.11].
result<packet> decode_unsuback(reader& r, std::uint8_t level) {
    EDGEMQ_TRY(id, r.packet_id()); // [MQTT-2.3.1-1]
    unsuback p{id};
    if (is_v5(level)) {
        EDGEMQ_TRY(props, read_properties(r, property_scope::unsuback));
        p.props = std::move(props);
        while (!r.empty()) {
            EDGEMQ_TRY(code, read_reason(r, unsuback_codes));
            p.reason_codes.push_back(code);
        }
    }
    if (!r.empty()) {
        return errc::malformed_packet;
    }
    return packet{std::move(p)};
}

/// DISCONNECT (5.0) and AUTH: a reason code and properties, both optional at the end
/// [MQTT-3.14.2.1], [MQTT-3.15.2.1].
template <typename Packet>
result<packet> decode_reason_only(reader& r, property_scope scope, codes allowed) {
    Packet p;
    if (!r.empty()) {
        EDGEMQ_TRY(code, read_reason(r, allowed));
        p.reason_code = code;
        if (!r.empty()) {
            EDGEMQ_TRY(props, read_properties(r, scope));
            p.props = std::move(props);
        }
    }
    if (!r.empty()) {
        return errc::malformed_packet;
    }
    return packet{std::move(p)};
}

result<packet> decode_subscribe(reader& r, std::uint8_t level) {
    subscribe p;
    EDGEMQ_TRY(id, r.packet_id()); // [MQTT-2.3.1-1]
    p.packet_id = id;
    if (is_v5(level)) {
        EDGEMQ_TRY(props, read_properties(r, property_scope::subscribe));
        if (props.subscription_identifiers.size() > 1) {
            return errc::protocol_error; // at most one [MQTT-3.8.2.1.2]
        }
        p.props = std::move(props);
    }
    // 3.1.1 has only the QoS bits; 5.0 adds No Local, Retain As Published and Retain Handling
    // and keeps the top two bits reserved [MQTT-3.8.3-4], [MQTT-3.8.3-5].
    const std::uint8_t reserved = is_v5(level) ? 0xc0 : 0xfc;
    while (!r.empty()) {
        EDGEMQ_TRY(filter, r.utf8());
        if (filter.empty()) {
            return errc::invalid_topic_filter; // [MQTT-4.7.3-1]
        }
        EDGEMQ_TRY(options, r.u8());
        if (options & reserved) {
            return errc::malformed_packet;
        }
        subscription s{std::move(filter), static_cast<std::uint8_t>(options & 0x03)};
        if (s.qos == 3) {
            return errc::invalid_qos; // [MQTT-3.8.3-4]
        }
        s.no_local = (options & 0x04) != 0;
        s.retain_as_published = (options & 0x08) != 0;
        s.retain_handling = static_cast<std::uint8_t>((options >> 4) & 0x03);
        if (s.retain_handling == 3) {
            return errc::protocol_error; // [MQTT-3.8.3.1]
        }
        p.subscriptions.push_back(std::move(s));
    }
    if (p.subscriptions.empty()) {
        return errc::protocol_error; // [MQTT-3.8.3-3]
    }
    return packet{std::move(p)};
}

result<packet> decode_suback(reader& r, std::uint8_t level) {
    suback p;
    EDGEMQ_TRY(id, r.packet_id()); // [MQTT-2.3.1-1]
    p.packet_id = id;
    if (is_v5(level)) {
        EDGEMQ_TRY(props, read_properties(r, property_scope::suback));
        p.props = std::move(props);
    }
    const codes allowed = is_v5(level) ? suback_codes : suback_codes_311;
    while (!r.empty()) {
        EDGEMQ_TRY(code, read_reason(r, allowed));
        p.return_codes.push_back(code);
    }
    return packet{std::move(p)};
}

result<packet> decode_unsubscribe(reader& r, std::uint8_t level) {
    unsubscribe p;
    EDGEMQ_TRY(id, r.packet_id()); // [MQTT-2.3.1-1]
    p.packet_id = id;
    if (is_v5(level)) {
        EDGEMQ_TRY(props, read_properties(r, property_scope::unsubscribe));
        p.props = std::move(props);
    }
    while (!r.empty()) {
        EDGEMQ_TRY(filter, r.utf8());
        if (filter.empty()) {
            return errc::invalid_topic_filter; // [MQTT-4.7.3-1]
        }
        p.filters.push_back(std::move(filter));
    }
    if (p.filters.empty()) {
        return errc::protocol_error; // [MQTT-3.10.3-2]
    }
    return packet{std::move(p)};
}

result<packet> decode_connack(reader& r, std::uint8_t level) {
    EDGEMQ_TRY(ack_flags, r.u8());
    EDGEMQ_TRY(code, read_reason(r, is_v5(level) ? connack_codes : connack_codes_311));
    if ((ack_flags & 0xfe) != 0) {
        return errc::malformed_packet; // [MQTT-3.2.2.1]
    }
    connack p{(ack_flags & 0x01) != 0, static_cast<connect_return_code>(code)};
    if (is_v5(level)) {
        EDGEMQ_TRY(props, read_properties(r, property_scope::connack));
        p.props = std::move(props);
    }
    if (!r.empty()) {
        return errc::malformed_packet;
    }
    return packet{std::move(p)};
}

template <typename Packet> result<packet> decode_empty(const reader& r) {
    if (!r.empty()) {
        return errc::malformed_packet;
    }
    return packet{Packet{}};
}

} // namespace

result<std::optional<fixed_header>> decode_fixed_header(std::span<const std::uint8_t> bytes) {
    if (bytes.size() < 2) {
        return std::optional<fixed_header>{};
    }
    std::uint32_t value = 0;
    for (std::size_t i = 1; i <= 4; ++i) {
        if (i >= bytes.size()) {
            return std::optional<fixed_header>{};
        }
        const std::uint8_t b = bytes[i];
        value |= std::uint32_t{b & 0x7fu} << (7 * (i - 1));
        if ((b & 0x80) == 0) {
            return std::optional<fixed_header>{
                fixed_header{bytes[0], value, static_cast<std::uint8_t>(i + 1)}};
        }
    }
    return errc::malformed_remaining_length; // [MQTT-2.2.3]: at most four bytes
}

result<packet> decode(const fixed_header& header, std::span<const std::uint8_t> body,
                      std::uint8_t level) {
    const auto type = header.type();
    const auto flags = header.flags();
    if (type != packet_type::publish && flags != required_flags(type)) {
        return errc::reserved_flags; // [MQTT-2.2.2-2]
    }
    reader r{body};
    switch (type) {
    case packet_type::connect:
        return decode_connect(r);
    case packet_type::connack:
        return decode_connack(r, level);
    case packet_type::publish:
        return decode_publish(flags, r, level);
    case packet_type::puback:
        return decode_ack<puback>(r, level, puback_codes);
    case packet_type::pubrec:
        return decode_ack<pubrec>(r, level, puback_codes);
    case packet_type::pubrel:
        return decode_ack<pubrel>(r, level, pubrel_codes);
    case packet_type::pubcomp:
        return decode_ack<pubcomp>(r, level, pubrel_codes);
    case packet_type::subscribe:
        return decode_subscribe(r, level);
    case packet_type::suback:
        return decode_suback(r, level);
    case packet_type::unsubscribe:
        return decode_unsubscribe(r, level);
    case packet_type::unsuback:
        return decode_unsuback(r, level);
    case packet_type::pingreq:
        return decode_empty<pingreq>(r);
    case packet_type::pingresp:
        return decode_empty<pingresp>(r);
    case packet_type::disconnect:
        if (is_v5(level)) {
            return decode_reason_only<disconnect>(r, property_scope::disconnect, disconnect_codes);
        }
        return decode_empty<disconnect>(r);
    case packet_type::auth:
        if (is_v5(level)) {
            return decode_reason_only<auth>(r, property_scope::auth, auth_codes);
        }
        break; // type 15 is reserved before 5.0 [MQTT-2.2.1]
    }
    return errc::malformed_packet; // type 0 is reserved [MQTT-2.2.1]
}

bool is_well_formed_utf8(std::string_view s) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* end = p + s.size();
    while (p < end) {
        const unsigned char c = *p;
        if (c < 0x80) {
            ++p;
            continue;
        }
        std::size_t n = 0;
        std::uint32_t cp = 0;
        if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (static_cast<std::size_t>(end - p) <= n) {
            return false;
        }
        for (std::size_t i = 1; i <= n; ++i) {
            if ((p[i] & 0xc0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        constexpr std::uint32_t min_for_length[] = {0, 0x80, 0x800, 0x10000};
        if (cp < min_for_length[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return false; // overlong, out of range, or a surrogate [MQTT-1.5.3-1]
        }
        p += n + 1;
    }
    return true;
}

bool is_valid_utf8(std::string_view s) noexcept {
    return s.find('\0') == std::string_view::npos && is_well_formed_utf8(s); // [MQTT-1.5.3-2]
}

} // namespace edgemq::broker::codec
