// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/codec/properties.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

/// MQTT control packets as plain values (OASIS MQTT 3.1.1 and 5.0, section 3). One struct per
/// packet serves both versions: the 5.0 fields (properties, reason codes, subscription options)
/// stay at their defaults for 3.1/3.1.1. The codec turns bytes into these and back; it never
/// touches a socket.
namespace edgemq::broker::codec {

enum class packet_type : std::uint8_t {
    connect = 1,
    connack = 2,
    publish = 3,
    puback = 4,
    pubrec = 5,
    pubrel = 6,
    pubcomp = 7,
    subscribe = 8,
    suback = 9,
    unsubscribe = 10,
    unsuback = 11,
    pingreq = 12,
    pingresp = 13,
    disconnect = 14,
    auth = 15, ///< MQTT 5.0 only
};

/// CONNACK return codes [MQTT-3.2.2.3]. In MQTT 5.0 the same byte is a reason code
/// (reason_code below), so a 5.0 CONNACK stores one of those here.
enum class connect_return_code : std::uint8_t {
    accepted = 0x00,
    unacceptable_protocol_version = 0x01,
    identifier_rejected = 0x02,
    server_unavailable = 0x03,
    bad_username_or_password = 0x04,
    not_authorized = 0x05,
};

/// SUBACK return code for a refused filter [MQTT-3.9.3].
inline constexpr std::uint8_t suback_failure = 0x80;

/// MQTT 5.0 reason codes (OASIS MQTT 5.0, section 2.4) that edgemq names in code; every packet's
/// decoder accepts all the codes the spec lists for that packet.
enum class reason_code : std::uint8_t {
    success = 0x00,
    unspecified_error = 0x80,
    malformed_packet = 0x81,
    protocol_error = 0x82,
    implementation_specific_error = 0x83,
    unsupported_protocol_version = 0x84,
    not_authorized = 0x87,
    bad_authentication_method = 0x8C,
    packet_too_large = 0x95,
};

/// The name the spec gives a 5.0 reason code ("Session taken over" for 0x8E), for logs; "reason
/// code 0xNN" for one it does not list. Meanings differ by packet only below 0x80.
std::string reason_name(std::uint8_t code);

/// Protocol levels: 3 is MQTT 3.1 ("MQIsdp"), 4 is MQTT 3.1.1, 5 is MQTT 5.0.
inline constexpr std::uint8_t protocol_level_31 = 3;
inline constexpr std::uint8_t protocol_level_311 = 4;
inline constexpr std::uint8_t protocol_level_5 = 5;

struct will_message {
    std::string topic;
    std::string payload;
    std::uint8_t qos = 0;
    bool retain = false;
    property_set props{}; ///< the will properties (5.0)
};

struct connect {
    std::string protocol_name = "MQTT";
    std::uint8_t protocol_level = protocol_level_311;
    bool clean_session = true;
    std::uint16_t keep_alive = 0;
    std::string client_id;
    std::optional<will_message> will;
    std::optional<std::string> username;
    std::optional<std::string> password; ///< binary data [MQTT-3.1.3.5]
    property_set props{};
};

struct connack {
    bool session_present = false;
    connect_return_code code = connect_return_code::accepted;
    property_set props{};
};

struct publish {
    std::string topic;
    std::string payload;
    std::uint16_t packet_id = 0; ///< only for QoS 1 and 2
    std::uint8_t qos = 0;
    bool retain = false;
    bool dup = false;
    property_set props{};
};

struct puback {
    std::uint16_t packet_id = 0;
    std::uint8_t reason_code = 0; ///< 5.0
    property_set props{};
};
struct pubrec {
    std::uint16_t packet_id = 0;
    std::uint8_t reason_code = 0; ///< 5.0
    property_set props{};
};
struct pubrel {
    std::uint16_t packet_id = 0;
    std::uint8_t reason_code = 0; ///< 5.0
    property_set props{};
};
struct pubcomp {
    std::uint16_t packet_id = 0;
    std::uint8_t reason_code = 0; ///< 5.0
    property_set props{};
};

struct subscription {
    std::string filter;
    std::uint8_t qos = 0;
    // The 5.0 subscription options [MQTT-3.8.3.1].
    bool no_local = false;
    bool retain_as_published = false;
    std::uint8_t retain_handling = 0; ///< 0 send retained, 1 only if new, 2 never
};

struct subscribe {
    std::uint16_t packet_id = 0;
    std::vector<subscription> subscriptions;
    property_set props{};
};

struct suback {
    std::uint16_t packet_id = 0;
    std::vector<std::uint8_t> return_codes; ///< granted QoS, or suback_failure (5.0: a reason code)
    property_set props{};
};

struct unsubscribe {
    std::uint16_t packet_id = 0;
    std::vector<std::string> filters;
    property_set props{};
};

struct unsuback {
    std::uint16_t packet_id = 0;
    std::vector<std::uint8_t> reason_codes{}; ///< 5.0: one per filter
    property_set props{};
};

struct pingreq {};
struct pingresp {};
struct disconnect {
    std::uint8_t reason_code = 0; ///< 5.0
    property_set props{};
};

/// Enhanced authentication (5.0 only) [MQTT-3.15].
struct auth {
    std::uint8_t reason_code = 0;
    property_set props{};
};

using packet = std::variant<connect, connack, publish, puback, pubrec, pubrel, pubcomp, subscribe,
                            suback, unsubscribe, unsuback, pingreq, pingresp, disconnect, auth>;

} // namespace edgemq::broker::codec
