// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/message.hpp"

#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace edgemq::broker::routing {

/// The last retained message per topic [MQTT-3.3.1-5]. Written by retained publishes and read by
/// new subscriptions, both far off the per-message hot path, so one mutex guards it.
/// Thread safety: all members may be called from any thread.
class retained_store {
public:
    /// Stores `m` for its topic, or deletes the topic's message when the payload is empty
    /// [MQTT-3.3.1-10], [MQTT-3.3.1-11].
    void set(const message_ptr& m);

    /// The retained messages whose topics match `filter` (a valid filter).
    std::vector<message_ptr> match(std::string_view filter) const;

    /// Every retained message, ordered by topic.
    std::vector<message_ptr> all() const;

    bool erase(std::string_view topic);
    std::size_t size() const;

private:
    mutable std::mutex mutex_;
    std::map<std::string, message_ptr, std::less<>> messages_;
};

} // namespace edgemq::broker::routing
