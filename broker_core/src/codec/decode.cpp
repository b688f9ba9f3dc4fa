// SPDX-License-Identifier: Apache-2.0
#include "edgemq/broker/codec/decode.hpp"
#include "reader.hpp"

#include "edgemq/broker/routing/topic.hpp"

namespace edgemq::broker::codec {
namespace {

using detail::reader;

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
    const bool mqtt311 = p.protocol_name == "MQTT" && level == protocol_level_311;
    const bool mqtt31 = p.protocol_name == "MQIsdp" && level == protocol_level_31;
    if (!mqtt311 && !mqtt31) {
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
    EDGEMQ_TRY(client_id, r.utf8());
    p.client_id = std::move(client_id);
    if (will_flag) {
        EDGEMQ_TRY(topic, r.utf8());
        EDGEMQ_TRY(payload, r.binary());
        if (!routing::is_valid_topic_name(topic)) {
            return errc::invalid_topic_name;
        }
        p.will = will_message{std::move(topic), std::move(payload), will_qos, will_retain};
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

result<packet> decode_publish(std::uint8_t flags, reader& r) {
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
    if (!routing::is_valid_topic_name(topic)) {
        return errc::invalid_topic_name; // [MQTT-3.3.2-2]
    }
    p.topic = std::move(topic);
    if (p.qos > 0) {
        EDGEMQ_TRY(id, r.packet_id()); // [MQTT-2.3.1-1]
        p.packet_id = id;
    }
    p.payload = r.rest();
    return packet{std::move(p)};
}

/// PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK: exactly a non-zero packet id.
template <typename Packet> result<packet> decode_id_only(reader& r) {
    // An acknowledgement carries the id of a packet that could not have id 0 [MQTT-2.3.1-1].
    EDGEMQ_TRY(id, r.packet_id());
    if (!r.empty()) {
        return errc::malformed_packet;
    }
    return packet{Packet{id}};
}

result<packet> decode_subscribe(reader& r) {
    subscribe p;
    EDGEMQ_TRY(id, r.packet_id()); // [MQTT-2.3.1-1]
    p.packet_id = id;
    while (!r.empty()) {
        EDGEMQ_TRY(filter, r.utf8());
        if (filter.empty()) {
            return errc::invalid_topic_filter; // [MQTT-4.7.3-1]
        }
        EDGEMQ_TRY(options, r.u8());
        if (options & 0xfc) {
            return errc::malformed_packet; // [MQTT-3.8.3-4]
        }
        if (options == 3) {
            return errc::invalid_qos; // [MQTT-3.8.3-4]
        }
        p.subscriptions.push_back({std::move(filter), options});
    }
    if (p.subscriptions.empty()) {
        return errc::protocol_error; // [MQTT-3.8.3-3]
    }
    return packet{std::move(p)};
}

result<packet> decode_suback(reader& r) {
    suback p;
    EDGEMQ_TRY(id, r.packet_id()); // [MQTT-2.3.1-1]
    p.packet_id = id;
    while (!r.empty()) {
        EDGEMQ_TRY(code, r.u8());
        if (code > 2 && code != suback_failure) {
            return errc::malformed_packet;
        }
        p.return_codes.push_back(code);
    }
    return packet{std::move(p)};
}

result<packet> decode_unsubscribe(reader& r) {
    unsubscribe p;
    EDGEMQ_TRY(id, r.packet_id()); // [MQTT-2.3.1-1]
    p.packet_id = id;
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

result<packet> decode_connack(reader& r) {
    EDGEMQ_TRY(ack_flags, r.u8());
    EDGEMQ_TRY(code, r.u8());
    if ((ack_flags & 0xfe) != 0 || code > 5 || !r.empty()) {
        return errc::malformed_packet;
    }
    return packet{connack{(ack_flags & 0x01) != 0, static_cast<connect_return_code>(code)}};
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

result<packet> decode(const fixed_header& header, std::span<const std::uint8_t> body) {
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
        return decode_connack(r);
    case packet_type::publish:
        return decode_publish(flags, r);
    case packet_type::puback:
        return decode_id_only<puback>(r);
    case packet_type::pubrec:
        return decode_id_only<pubrec>(r);
    case packet_type::pubrel:
        return decode_id_only<pubrel>(r);
    case packet_type::pubcomp:
        return decode_id_only<pubcomp>(r);
    case packet_type::subscribe:
        return decode_subscribe(r);
    case packet_type::suback:
        return decode_suback(r);
    case packet_type::unsubscribe:
        return decode_unsubscribe(r);
    case packet_type::unsuback:
        return decode_id_only<unsuback>(r);
    case packet_type::pingreq:
        return decode_empty<pingreq>(r);
    case packet_type::pingresp:
        return decode_empty<pingresp>(r);
    case packet_type::disconnect:
        return decode_empty<disconnect>(r);
    }
    return errc::malformed_packet; // types 0 and 15 are reserved [MQTT-2.2.1]
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
