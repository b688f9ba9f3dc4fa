// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace edgemq::bridge {

/// Where a bridge's link to its remote stands.
enum class bridge_state : std::uint8_t { connecting, connected, disconnected };

/// The word the admin API, `edgemq ctl` and the dashboard show.
constexpr std::string_view to_string(bridge_state s) noexcept {
    switch (s) {
    case bridge_state::connecting:
        return "connecting";
    case bridge_state::connected:
        return "connected";
    case bridge_state::disconnected:
        break;
    }
    return "disconnected";
}

/// One bridge as the admin surface shows it (supervisor::bridges()).
/// Thread safety: a plain value.
struct bridge_status {
    std::string name;
    bridge_state state = bridge_state::disconnected;
    /// The remote in use, or the last one tried ("host:port").
    std::string address;
    /// Why the last attempt or connection failed; empty while connected.
    std::string last_error;
    std::uint64_t queued = 0;         ///< messages in the durable queue (in flight included)
    std::uint64_t queued_bytes = 0;   ///< their topics and payloads
    std::uint64_t sent = 0;           ///< PUBLISH packets sent to the remote (resends included)
    std::uint64_t acked = 0;          ///< acknowledged by the remote (PUBACK / PUBCOMP)
    std::uint64_t dropped = 0;        ///< lost on purpose: queue full, or QoS 0 while offline
    std::uint64_t received = 0;       ///< messages from the remote published locally
    std::int64_t connected_since = 0; ///< Unix seconds, 0 while not connected
};

} // namespace edgemq::bridge
