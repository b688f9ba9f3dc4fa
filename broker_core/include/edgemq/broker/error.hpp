// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <type_traits>

namespace edgemq::broker {

/// Errors of the broker core's data path: bytes from a peer that break MQTT.
/// Thread safety: stateless, usable from any thread.
enum class errc {
    malformed_packet = 1,       ///< the bytes do not form a valid packet [MQTT-1.5.3, 2.2]
    malformed_remaining_length, ///< a variable byte integer longer than 4 bytes [MQTT-2.2.3]
    packet_too_large,           ///< over the configured max_packet_size
    reserved_flags,     ///< fixed-header flags not as the packet type requires [MQTT-2.2.2-2]
    invalid_qos,        ///< QoS 3 [MQTT-3.3.1-4]
    invalid_utf8,       ///< a string that is not well-formed UTF-8 [MQTT-1.5.3-1]
    invalid_topic_name, ///< wildcard or empty topic in PUBLISH [MQTT-3.3.2-2]
    invalid_topic_filter,         ///< an empty filter in SUBSCRIBE or UNSUBSCRIBE [MQTT-4.7.3-1]
    unsupported_protocol_version, ///< CONNECT with a protocol level other than 3 or 4
    protocol_error,               ///< a valid packet at the wrong time (second CONNECT, ...)
    first_packet_not_connect,     ///< [MQTT-3.1.0-1]
    keep_alive_timeout,           ///< no packet within 1.5 x keep-alive [MQTT-3.1.2-24]
    connect_timeout,              ///< no CONNECT within the configured deadline
    session_taken_over,           ///< a new connection with the same client id [MQTT-3.1.4-2]
    slow_consumer, ///< a congested queue and no bytes taken for slow_consumer_timeout
    server_shutting_down,
    kicked,                   ///< closed by an operator
    bad_username_or_password, ///< CONNACK 0x04
    not_authorized,           ///< CONNACK 0x05
    packet_timeout,           ///< a packet begun and not finished within packet_timeout
    unauthenticated_limit,    ///< more buffered before CONNECT than max_connect_size allows
    unauthenticated_memory,   ///< max_unauthenticated_memory reached over all connections
    will_not_authorized,      ///< a will on a topic the client may not publish to (CONNACK 5)
    // MQTT 5.0
    topic_alias_invalid,      ///< 0 or over the Topic Alias Maximum [MQTT-3.3.2-8/9]
    receive_maximum_exceeded, ///< more QoS 2 exchanges open than Receive Maximum [MQTT-3.3.4-9]
    payload_format_invalid,   ///< Payload Format Indicator 1 with a payload not UTF-8
    bad_authentication_method, ///< enhanced authentication, which edgemq does not offer
};

const boost::system::error_category& broker_category() noexcept;

inline boost::system::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), broker_category()};
}

template <typename T> using result = boost::system::result<T>;

} // namespace edgemq::broker

template <> struct boost::system::is_error_code_enum<edgemq::broker::errc> : std::true_type {};
