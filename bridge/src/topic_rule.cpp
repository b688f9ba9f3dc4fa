// SPDX-License-Identifier: Apache-2.0
#include "edgemq/bridge/topic_rule.hpp"

#include "edgemq/broker/routing/topic.hpp"

namespace edgemq::bridge {
namespace {

/// `topic` with `from` replaced by `to` when it starts with `from` and matches `filter`.
std::optional<std::string> rewrite(std::string_view topic, const std::string& filter,
                                   const std::string& from, const std::string& to) {
    if (!topic.starts_with(from) || !broker::routing::topic_matches(filter, topic)) {
        return std::nullopt;
    }
    return to + std::string(topic.substr(from.size()));
}

} // namespace

topic_rule::topic_rule(config::bridge_topic cfg)
    : cfg_(std::move(cfg)), local_filter_(cfg_.local_prefix + cfg_.pattern),
      remote_filter_(cfg_.remote_prefix + cfg_.pattern) {}

std::optional<std::string> topic_rule::to_remote(std::string_view local_topic) const {
    if (!outbound()) {
        return std::nullopt;
    }
    return rewrite(local_topic, local_filter_, cfg_.local_prefix, cfg_.remote_prefix);
}

std::optional<std::string> topic_rule::to_local(std::string_view remote_topic) const {
    if (!inbound()) {
        return std::nullopt;
    }
    return rewrite(remote_topic, remote_filter_, cfg_.remote_prefix, cfg_.local_prefix);
}

} // namespace edgemq::bridge
