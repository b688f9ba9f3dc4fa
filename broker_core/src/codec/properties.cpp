// SPDX-License-Identifier: Apache-2.0
#include "edgemq/broker/codec/properties.hpp"
#include "edgemq/broker/codec/encode.hpp"
#include "reader.hpp"

#include <type_traits>

namespace edgemq::broker::codec {
namespace {

using detail::reader;

/// How a property's value is written [MQTT-2.2.2.2].
enum class kind : std::uint8_t { byte, two, four, varint, utf8, binary, pair };

constexpr std::uint16_t bit(property_scope s) noexcept {
    return static_cast<std::uint16_t>(1u << static_cast<unsigned>(s));
}

using ps = property_scope;
constexpr std::uint16_t message = bit(ps::publish) | bit(ps::will);
constexpr std::uint16_t acks = bit(ps::connack) | bit(ps::puback) | bit(ps::suback) | bit(ps::unsuback) |
                               bit(ps::disconnect) | bit(ps::auth);
constexpr std::uint16_t every = 0x7ff;

/// Calls `f(id, kind, scopes, field)` for every property of `p`, in identifier order: the one
/// table of which packet may carry what (OASIS MQTT 5.0, table 2-4).
template <typename P, typename F> void for_each_field(P& p, F&& f) {
    f(0x01, kind::byte, message, p.payload_format_indicator);
    f(0x02, kind::four, message, p.message_expiry_interval);
    f(0x03, kind::utf8, message, p.content_type);
    f(0x08, kind::utf8, message, p.response_topic);
    f(0x09, kind::binary, message, p.correlation_data);
    f(0x0B, kind::varint, bit(ps::publish) | bit(ps::subscribe), p.subscription_identifiers);
    f(0x11, kind::four, bit(ps::connect) | bit(ps::connack) | bit(ps::disconnect), p.session_expiry_interval);
    f(0x12, kind::utf8, bit(ps::connack), p.assigned_client_identifier);
    f(0x13, kind::two, bit(ps::connack), p.server_keep_alive);
    f(0x15, kind::utf8, bit(ps::connect) | bit(ps::connack) | bit(ps::auth), p.authentication_method);
    f(0x16, kind::binary, bit(ps::connect) | bit(ps::connack) | bit(ps::auth), p.authentication_data);
    f(0x17, kind::byte, bit(ps::connect), p.request_problem_information);
    f(0x18, kind::four, bit(ps::will), p.will_delay_interval);
    f(0x19, kind::byte, bit(ps::connect), p.request_response_information);
    f(0x1A, kind::utf8, bit(ps::connack), p.response_information);
    f(0x1C, kind::utf8, bit(ps::connack) | bit(ps::disconnect), p.server_reference);
    f(0x1F, kind::utf8, acks, p.reason_string);
    f(0x21, kind::two, bit(ps::connect) | bit(ps::connack), p.receive_maximum);
    f(0x22, kind::two, bit(ps::connect) | bit(ps::connack), p.topic_alias_maximum);
    f(0x23, kind::two, bit(ps::publish), p.topic_alias);
    f(0x24, kind::byte, bit(ps::connack), p.maximum_qos);
    f(0x25, kind::byte, bit(ps::connack), p.retain_available);
    f(0x26, kind::pair, every, p.user_properties);
    f(0x27, kind::four, bit(ps::connect) | bit(ps::connack), p.maximum_packet_size);
    f(0x28, kind::byte, bit(ps::connack), p.wildcard_subscription_available);
    f(0x29, kind::byte, bit(ps::connack), p.subscription_identifier_available);
    f(0x2A, kind::byte, bit(ps::connack), p.shared_subscription_available);
}

std::size_t varint_size(std::uint32_t v) noexcept {
    return v < 128 ? 1 : v < 16'384 ? 2 : v < 2'097'152 ? 3 : 4;
}

/// The value rules beyond the type [MQTT-3.1.2-*], [MQTT-3.2.2-*], [MQTT-3.3.2-*].
bool valid_value(int id, std::uint32_t v) noexcept {
    switch (id) {
    case 0x01: // payload format indicator
    case 0x17: // request problem information
    case 0x19: // request response information
    case 0x24: // maximum QoS
    case 0x25: // retain available
    case 0x28: // wildcard subscription available
    case 0x29: // subscription identifier available
    case 0x2A: // shared subscription available
        return v <= 1;
    case 0x0B: // subscription identifier [MQTT-3.8.2.1.2]
    case 0x21: // receive maximum [MQTT-3.1.2.11.3]
    case 0x23: // topic alias [MQTT-3.3.2.3.4]
    case 0x27: // maximum packet size [MQTT-3.1.2.11.4]
        return v != 0;
    default:
        return true;
    }
}

/// Reads one value of `k` into `field`; false (with `ec`) when it does not decode or is invalid.
template <typename Field>
boost::system::error_code read_value(reader& r, int id, kind k, Field& field) {
    using T = std::decay_t<Field>;
    if constexpr (std::is_same_v<T, std::vector<user_property>>) {
        auto key = r.utf8();
        if (!key) {
            return key.error();
        }
        auto value = r.utf8();
        if (!value) {
            return value.error();
        }
        field.push_back({std::move(*key), std::move(*value)}); // repeatable [MQTT-3.1.3-10]
        return {};
    } else if constexpr (std::is_same_v<T, std::vector<std::uint32_t>>) {
        auto v = r.varint();
        if (!v) {
            return v.error();
        }
        if (!valid_value(id, *v)) {
            return errc::protocol_error;
        }
        field.push_back(*v);
        return {};
    } else {
        if (field) {
            return errc::protocol_error; // given twice [MQTT-2.2.2]
        }
        using V = typename T::value_type;
        if constexpr (std::is_same_v<V, std::string>) {
            auto s = k == kind::binary ? r.binary() : r.utf8();
            if (!s) {
                return s.error();
            }
            field = std::move(*s);
        } else {
            result<std::uint32_t> v = errc::malformed_packet;
            if (k == kind::byte) {
                auto b = r.u8();
                v = b ? result<std::uint32_t>{*b} : result<std::uint32_t>{b.error()};
            } else if (k == kind::two) {
                auto b = r.u16();
                v = b ? result<std::uint32_t>{*b} : result<std::uint32_t>{b.error()};
            } else {
                v = r.u32();
            }
            if (!v) {
                return v.error();
            }
            if (!valid_value(id, *v)) {
                return errc::protocol_error;
            }
            field = static_cast<V>(*v);
        }
        return {};
    }
}

void put_u16(std::uint16_t v, byte_buffer& out) {
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v & 0xff));
}

void put_u32(std::uint32_t v, byte_buffer& out) {
    put_u16(static_cast<std::uint16_t>(v >> 16), out);
    put_u16(static_cast<std::uint16_t>(v & 0xffff), out);
}

void put_string(const std::string& s, byte_buffer& out) {
    put_u16(static_cast<std::uint16_t>(s.size()), out);
    out.insert(out.end(), s.begin(), s.end());
}

/// The bytes of the properties alone, without the length prefix.
std::size_t body_size(const properties& p) {
    std::size_t n = 0;
    for_each_field(p, [&n](int, kind k, std::uint16_t, const auto& field) {
        using T = std::decay_t<decltype(field)>;
        if constexpr (std::is_same_v<T, std::vector<user_property>>) {
            for (const auto& u : field) {
                n += 1 + 2 + u.key.size() + 2 + u.value.size();
            }
        } else if constexpr (std::is_same_v<T, std::vector<std::uint32_t>>) {
            for (const auto v : field) {
                n += 1 + varint_size(v);
            }
        } else if (field) {
            if constexpr (std::is_same_v<typename T::value_type, std::string>) {
                n += 1 + 2 + field->size();
            } else {
                n += 1 + (k == kind::byte ? 1 : k == kind::two ? 2 : 4);
            }
        }
    });
    return n;
}

} // namespace

result<std::pair<properties, std::size_t>> decode_properties(std::span<const std::uint8_t> bytes,
                                                             property_scope scope) {
    reader outer{bytes};
    EDGEMQ_TRY(length, outer.varint());
    EDGEMQ_TRY(r, outer.sub(length));
    properties p;
    while (!r.empty()) {
        EDGEMQ_TRY(id, r.varint());
        boost::system::error_code ec = errc::malformed_packet; // an unknown identifier
        for_each_field(p, [&](int field_id, kind k, std::uint16_t scopes, auto& field) {
            if (static_cast<std::uint32_t>(field_id) != id) {
                return;
            }
            ec = (scopes & bit(scope)) == 0 ? make_error_code(errc::protocol_error) // [MQTT-2.2.2]
                                            : read_value(r, field_id, k, field);
        });
        if (ec) {
            return ec;
        }
    }
    return std::pair{std::move(p), bytes.size() - outer.remaining()};
}

std::size_t properties_size(const properties& p) {
    const auto n = body_size(p);
    return varint_size(static_cast<std::uint32_t>(n)) + n;
}

void encode_properties(const properties& p, byte_buffer& out) {
    encode_varint(static_cast<std::uint32_t>(body_size(p)), out);
    for_each_field(p, [&out](int id, kind k, std::uint16_t, const auto& field) {
        using T = std::decay_t<decltype(field)>;
        const auto put_id = [&out, id] { out.push_back(static_cast<std::uint8_t>(id)); };
        if constexpr (std::is_same_v<T, std::vector<user_property>>) {
            for (const auto& u : field) {
                put_id();
                put_string(u.key, out);
                put_string(u.value, out);
            }
        } else if constexpr (std::is_same_v<T, std::vector<std::uint32_t>>) {
            for (const auto v : field) {
                put_id();
                encode_varint(v, out);
            }
        } else if (field) {
            put_id();
            if constexpr (std::is_same_v<typename T::value_type, std::string>) {
                put_string(*field, out);
            } else if (k == kind::byte) {
                out.push_back(static_cast<std::uint8_t>(*field));
            } else if (k == kind::two) {
                put_u16(static_cast<std::uint16_t>(*field), out);
            } else {
                put_u32(static_cast<std::uint32_t>(*field), out);
            }
        }
    });
}

} // namespace edgemq::broker::codec
