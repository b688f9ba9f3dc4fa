// SPDX-License-Identifier: Apache-2.0
#include "edgemq/broker/routing/retained_store.hpp"

#include "edgemq/broker/routing/topic.hpp"

namespace edgemq::broker::routing {

void retained_store::set(const message_ptr& m) {
    const std::lock_guard lock{mutex_};
    if (m->payload.empty()) {
        messages_.erase(m->topic);
    } else {
        messages_.insert_or_assign(m->topic, m);
    }
}

std::vector<message_ptr> retained_store::match(std::string_view filter) const {
    std::vector<message_ptr> out;
    const std::lock_guard lock{mutex_};
    if (!has_wildcard(filter)) {
        if (auto it = messages_.find(filter); it != messages_.end()) {
            out.push_back(it->second);
        }
        return out;
    }
    // TODO(edgemq): a trie like subscription_tree once sites keep many thousands of retained
    // topics; a linear scan is fine for the hundreds an edge gateway holds.
    for (const auto& [topic, m] : messages_) {
        if (topic_matches(filter, topic)) {
            out.push_back(m);
        }
    }
    return out;
}

std::vector<message_ptr> retained_store::all() const {
    const std::lock_guard lock{mutex_};
    std::vector<message_ptr> out;
    out.reserve(messages_.size());
    for (const auto& [topic, m] : messages_) {
        out.push_back(m);
    }
    return out;
}

bool retained_store::erase(std::string_view topic) {
    const std::lock_guard lock{mutex_};
    auto it = messages_.find(topic);
    if (it == messages_.end()) {
        return false;
    }
    messages_.erase(it);
    return true;
}

std::size_t retained_store::size() const {
    const std::lock_guard lock{mutex_};
    return messages_.size();
}

} // namespace edgemq::broker::routing
