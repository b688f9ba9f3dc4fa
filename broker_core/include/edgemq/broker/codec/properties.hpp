// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/error.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

/// MQTT 5.0 properties (OASIS MQTT 5.0, section 2.2.2) as one typed struct: each property is a
/// field, empty when absent. The codec reads a property block for one packet type, refusing an
/// identifier that packet may not carry, a property given twice that may appear once, and values
/// the spec forbids, all as protocol errors [MQTT-2.2.2]; it writes the fields that are set, in
/// identifier order, user properties in the order given [MQTT-3.3.2-18].
/// Thread safety: plain values and pure functions.
namespace edgemq::broker::codec {

/// Where the encoder appends bytes.
using byte_buffer = std::vector<std::uint8_t>;

/// Which packet (or the will of a CONNECT) a property block belongs to: each allows its own set.
enum class property_scope : std::uint8_t {
    connect,
    connack,
    publish,
    will,
    puback, ///< also PUBREC, PUBREL, PUBCOMP
    subscribe,
    suback,
    unsubscribe,
    unsuback,
    disconnect,
    auth,
};

struct user_property {
    std::string key;
    std::string value;
    bool operator==(const user_property&) const = default;
};

struct properties {
    std::optional<std::uint8_t> payload_format_indicator;      // 0x01: 0 bytes, 1 UTF-8
    std::optional<std::uint32_t> message_expiry_interval;      // 0x02, seconds
    std::optional<std::string> content_type;                   // 0x03
    std::optional<std::string> response_topic;                 // 0x08
    std::optional<std::string> correlation_data;               // 0x09, binary
    std::vector<std::uint32_t> subscription_identifiers;       // 0x0B, 1..268435455
    std::optional<std::uint32_t> session_expiry_interval;      // 0x11, seconds
    std::optional<std::string> assigned_client_identifier;     // 0x12
    std::optional<std::uint16_t> server_keep_alive;            // 0x13, seconds
    std::optional<std::string> authentication_method;          // 0x15
    std::optional<std::string> authentication_data;            // 0x16, binary
    std::optional<std::uint8_t> request_problem_information;   // 0x17: 0 or 1
    std::optional<std::uint32_t> will_delay_interval;          // 0x18, seconds
    std::optional<std::uint8_t> request_response_information;  // 0x19: 0 or 1
    std::optional<std::string> response_information;          // 0x1A
    std::optional<std::string> server_reference;               // 0x1C
    std::optional<std::string> reason_string;                  // 0x1F
    std::optional<std::uint16_t> receive_maximum;              // 0x21, not 0
    std::optional<std::uint16_t> topic_alias_maximum;          // 0x22
    std::optional<std::uint16_t> topic_alias;                  // 0x23, not 0
    std::optional<std::uint8_t> maximum_qos;                   // 0x24: 0 or 1
    std::optional<std::uint8_t> retain_available;              // 0x25: 0 or 1
    std::vector<user_property> user_properties;                // 0x26, repeatable, in order
    std::optional<std::uint32_t> maximum_packet_size;          // 0x27, not 0
    std::optional<std::uint8_t> wildcard_subscription_available;       // 0x28: 0 or 1
    std::optional<std::uint8_t> subscription_identifier_available;     // 0x29: 0 or 1
    std::optional<std::uint8_t> shared_subscription_available;         // 0x2A: 0 or 1

    bool operator==(const properties&) const = default;
};

/// The properties a packet holds. Kept apart from the packet, and only when there are any, so
/// that a packet without properties (every 3.1.1 packet, most 5.0 ones) stays small and cheap
/// to move: PUBLISH is on the hot path. Reads see an empty set when nothing was written.
class property_set {
public:
    property_set() noexcept = default;
    property_set(properties p) { // NOLINT(google-explicit-constructor): a set is its properties
        if (p != properties{}) {
            p_ = std::make_unique<properties>(std::move(p));
        }
    }
    property_set(const property_set& o) : p_(o.p_ ? std::make_unique<properties>(*o.p_) : nullptr) {}
    property_set(property_set&&) noexcept = default;
    property_set& operator=(const property_set& o) {
        if (this != &o) {
            p_ = o.p_ ? std::make_unique<properties>(*o.p_) : nullptr;
        }
        return *this;
    }
    property_set& operator=(property_set&&) noexcept = default;
    ~property_set() = default;

    const properties& get() const noexcept { return p_ ? *p_ : none(); }
    const properties* operator->() const noexcept { return &get(); }
    /// The properties to write into, created on first use.
    properties& edit() {
        if (!p_) {
            p_ = std::make_unique<properties>();
        }
        return *p_;
    }
    bool empty() const { return !p_ || *p_ == none(); }
    bool operator==(const property_set& o) const { return get() == o.get(); }

private:
    static const properties& none() noexcept {
        static const properties empty;
        return empty;
    }
    std::unique_ptr<properties> p_;
};

/// Reads a property block (its variable byte integer length, then the properties) from the
/// front of `bytes`; returns the properties and the bytes the block took.
result<std::pair<properties, std::size_t>> decode_properties(std::span<const std::uint8_t> bytes,
                                                             property_scope scope);

/// The bytes encode_properties() writes for `p`, its length prefix included.
std::size_t properties_size(const properties& p);

/// Appends the property block of `p`: its length, then every field that is set.
void encode_properties(const properties& p, byte_buffer& out);

} // namespace edgemq::broker::codec
