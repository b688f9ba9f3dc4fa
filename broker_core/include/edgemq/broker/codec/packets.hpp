// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

/// MQTT 3.1.1 control packets as plain values (OASIS MQTT 3.1.1, section 3). The codec turns
/// bytes into these and back; it never touches a socket.
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
};

/// CONNACK return codes [MQTT-3.2.2.3].
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

/// Protocol levels: 3 is MQTT 3.1 ("MQIsdp"), 4 is MQTT 3.1.1.
inline constexpr std::uint8_t protocol_level_31 = 3;
inline constexpr std::uint8_t protocol_level_311 = 4;

struct will_message {
    std::string topic;
    std::string payload;
    std::uint8_t qos = 0;
    bool retain = false;
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
};

struct connack {
    bool session_present = false;
    connect_return_code code = connect_return_code::accepted;
};

struct publish {
    std::string topic;
    std::string payload;
    std::uint16_t packet_id = 0; ///< only for QoS 1 and 2
    std::uint8_t qos = 0;
    bool retain = false;
    bool dup = false;
};

struct puback {
    std::uint16_t packet_id = 0;
};
struct pubrec {
    std::uint16_t packet_id = 0;
};
struct pubrel {
    std::uint16_t packet_id = 0;
};
struct pubcomp {
    std::uint16_t packet_id = 0;
};

struct subscription {
    std::string filter;
    std::uint8_t qos = 0;
};

struct subscribe {
    std::uint16_t packet_id = 0;
    std::vector<subscription> subscriptions;
};

struct suback {
    std::uint16_t packet_id = 0;
    std::vector<std::uint8_t> return_codes; ///< granted QoS, or suback_failure
};

struct unsubscribe {
    std::uint16_t packet_id = 0;
    std::vector<std::string> filters;
};

struct unsuback {
    std::uint16_t packet_id = 0;
};

struct pingreq {};
struct pingresp {};
struct disconnect {};

using packet = std::variant<connect, connack, publish, puback, pubrec, pubrel, pubcomp, subscribe,
                            suback, unsubscribe, unsuback, pingreq, pingresp, disconnect>;

} // namespace edgemq::broker::codec
