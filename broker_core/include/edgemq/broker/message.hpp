// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/codec/properties.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace edgemq::broker {

/// An application message as the router sees it: published once, shared by reference among all
/// of its subscribers (only the packet id differs per delivery, and that lives in the session).
/// Thread safety: immutable once published; share freely through message_ptr.
struct message {
    std::string topic;
    std::string payload;
    std::uint8_t qos = 0;
    bool retain = false;
    /// The session or in-process client that published it (session::origin,
    /// internal_client::id()), 0 when unknown. Nothing goes back to its publisher where that is
    /// asked for: an in-process client never receives its own messages (which keeps a bridge
    /// from echoing the remote's messages to it), a No Local subscription [MQTT-3.8.3-3] neither.
    std::uint32_t origin = 0;
    /// The MQTT 5.0 properties forwarded to subscribers unaltered [MQTT-3.3.2-17/18/20]: Payload
    /// Format Indicator, Content Type, Response Topic, Correlation Data, User Properties. Its
    /// Message Expiry Interval is kept as `expires_at` instead; the rest is never set here.
    codec::property_set props{};
    /// When its Message Expiry Interval ends; zero when it never expires [MQTT-3.3.2-5].
    std::chrono::steady_clock::time_point expires_at{};

    bool expired(std::chrono::steady_clock::time_point now) const noexcept {
        return expires_at != std::chrono::steady_clock::time_point{} && now >= expires_at;
    }
};

using message_ptr = std::shared_ptr<const message>;

inline message_ptr make_message(std::string topic, std::string payload, std::uint8_t qos = 0,
                                bool retain = false, std::uint32_t origin = 0) {
    return std::make_shared<const message>(
        message{std::move(topic), std::move(payload), qos, retain, origin});
}

/// Takes the properties a PUBLISH arrived with into `m`: its Message Expiry Interval becomes
/// `expires_at`, and what is for that hop only (Topic Alias, Subscription Identifiers) stays
/// behind [MQTT-3.3.2-7] [MQTT-3.3.4-6].
void adopt_properties(message& m, codec::property_set props);

/// The properties of a 5.0 PUBLISH of `m`: its own, the time left of its Message Expiry
/// Interval, rounded up so that it never reads 0 before it has run out [MQTT-3.3.2-6], and
/// `subscription_ids` [MQTT-3.3.4-3].
codec::properties outbound_properties(const message& m,
                                      std::span<const std::uint32_t> subscription_ids = {});

/// True when a PUBLISH of `m` needs properties at 5.0 (else the empty block will do).
inline bool has_outbound_properties(const message& m) noexcept {
    return m.expires_at != std::chrono::steady_clock::time_point{} || !m.props.empty();
}

/// The size of a whole PUBLISH packet of `m` at `qos` with `props` (5.0) or none (3.1.1: null);
/// `topic_omitted`: with an empty topic name (a Topic Alias stands for it).
std::size_t publish_packet_size(const message& m, std::uint8_t qos, const codec::properties* props,
                                bool topic_omitted = false);

} // namespace edgemq::broker
