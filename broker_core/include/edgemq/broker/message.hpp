// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
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
    /// The in-process client that published it (internal_client::id()), 0 for network
    /// clients. An internal client never receives its own messages back, which is what keeps
    /// a bridge from echoing the remote's messages to it.
    std::uint32_t origin = 0;
};

using message_ptr = std::shared_ptr<const message>;

inline message_ptr make_message(std::string topic, std::string payload, std::uint8_t qos = 0,
                                bool retain = false, std::uint32_t origin = 0) {
    return std::make_shared<const message>(
        message{std::move(topic), std::move(payload), qos, retain, origin});
}

} // namespace edgemq::broker
