// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/config/model.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace edgemq::bridge {

/// One `[[bridges.topics]]` rule with Mosquitto's prefix semantics (mosquitto.conf(5), "topic
/// pattern [[[out | in | both] qos-level] local-prefix remote-prefix]"): the local side
/// subscribes to local_prefix + pattern, the remote side to remote_prefix + pattern, and a
/// topic crossing over has one prefix replaced by the other.
/// Thread safety: immutable after construction.
class topic_rule {
public:
    explicit topic_rule(config::bridge_topic cfg);

    bool outbound() const noexcept { return cfg_.direction != config::bridge_direction::in; }
    bool inbound() const noexcept { return cfg_.direction != config::bridge_direction::out; }
    std::uint8_t qos() const noexcept { return cfg_.qos; }

    /// The filters subscribed to on each side.
    const std::string& local_filter() const noexcept { return local_filter_; }
    const std::string& remote_filter() const noexcept { return remote_filter_; }

    /// The remote topic for a local one, or nullopt when this rule does not carry it out.
    std::optional<std::string> to_remote(std::string_view local_topic) const;
    /// The local topic for a remote one, or nullopt when this rule does not carry it in.
    std::optional<std::string> to_local(std::string_view remote_topic) const;

private:
    config::bridge_topic cfg_;
    std::string local_filter_;
    std::string remote_filter_;
};

} // namespace edgemq::bridge
