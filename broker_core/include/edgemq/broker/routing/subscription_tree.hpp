// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/detail/string_hash.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

/// The subscription index: a trie with one node per topic level, where `+` and `#` are ordinary
/// child keys (as in Mosquitto's subs.c). Matching a topic walks the levels of the name once,
/// following at each node the exact child, the `+` child and the `#` child, so its cost depends on
/// the depth of the name and on how many filters really match, not on how many exist.
///
/// The broker keeps one replica per I/O thread and applies changes to every replica by posting,
/// so the publish path reads its own replica without locks.
/// Thread safety: none; one owner thread per instance.
namespace edgemq::broker::routing {

/// `Options` is what a subscription holds besides its subscriber: its granted QoS, or the
/// broker's subscription options (QoS, No Local, Retain As Published, identifier).
template <typename Subscriber, typename Options = std::uint8_t> class subscription_tree {
public:
    /// Adds or updates `subscriber`'s subscription to `filter` (valid). True when it was new.
    bool insert(std::string_view filter, const Subscriber& subscriber, const Options& options) {
        node* n = &root_;
        for_each_level(filter, [&n](std::string_view level) {
            auto it = n->children.find(level);
            if (it == n->children.end()) {
                it = n->children.emplace(std::string{level}, std::make_unique<node>()).first;
            }
            n = it->second.get();
        });
        for (auto& entry : n->subscribers) {
            if (entry.first == subscriber) {
                entry.second = options;
                return false;
            }
        }
        n->subscribers.emplace_back(subscriber, options);
        ++size_;
        return true;
    }

    /// Removes `subscriber`'s subscription to `filter`. True when there was one.
    bool erase(std::string_view filter, const Subscriber& subscriber) {
        std::vector<std::pair<node*, std::string_view>> path;
        node* n = &root_;
        bool found = true;
        for_each_level(filter, [&](std::string_view level) {
            if (!found) {
                return;
            }
            auto it = n->children.find(level);
            if (it == n->children.end()) {
                found = false;
                return;
            }
            path.emplace_back(n, it->first);
            n = it->second.get();
        });
        if (!found) {
            return false;
        }
        auto& subs = n->subscribers;
        auto it = std::find_if(subs.begin(), subs.end(),
                               [&](const auto& e) { return e.first == subscriber; });
        if (it == subs.end()) {
            return false;
        }
        *it = std::move(subs.back());
        subs.pop_back();
        --size_;
        // Prune the branch bottom-up while nodes are empty.
        for (auto p = path.rbegin(); p != path.rend(); ++p) {
            auto child = p->first->children.find(p->second);
            if (!child->second->subscribers.empty() || !child->second->children.empty()) {
                break;
            }
            p->first->children.erase(child);
        }
        return true;
    }

    /// Calls `f(subscriber, options)` for every subscription whose filter matches `topic` (a valid
    /// topic name). A subscriber with several matching filters is reported once per filter.
    template <typename F> void match(std::string_view topic, F&& f) const {
        // [MQTT-4.7.2-1]: wildcards in the first level never match a `$` topic.
        const bool dollar = !topic.empty() && topic.front() == '$';
        match_from(root_, topic, 0, !dollar, f);
    }

    std::size_t size() const noexcept { return size_; }

private:
    struct node {
        detail::string_map<std::unique_ptr<node>> children;
        std::vector<std::pair<Subscriber, Options>> subscribers;

        const node* child(std::string_view level) const {
            auto it = children.find(level);
            return it == children.end() ? nullptr : it->second.get();
        }
    };

    template <typename F> static void for_each_level(std::string_view s, F&& f) {
        std::size_t start = 0;
        while (true) {
            const auto slash = s.find('/', start);
            f(s.substr(start, slash == std::string_view::npos ? s.npos : slash - start));
            if (slash == std::string_view::npos) {
                return;
            }
            start = slash + 1;
        }
    }

    template <typename F> static void emit(const node& n, F& f) {
        for (const auto& [subscriber, options] : n.subscribers) {
            f(subscriber, options);
        }
    }

    /// `pos` is the start of the next level of `topic`, or npos when every level is consumed.
    template <typename F>
    static void match_from(const node& n, std::string_view topic, std::size_t pos, bool wildcards,
                           F& f) {
        if (pos == std::string_view::npos) {
            emit(n, f);
            if (const node* hash = n.child("#")) {
                emit(*hash, f); // "a/#" matches "a" [MQTT-4.7.1-2]
            }
            return;
        }
        const auto slash = topic.find('/', pos);
        const auto level =
            topic.substr(pos, slash == std::string_view::npos ? topic.npos : slash - pos);
        const auto next = slash == std::string_view::npos ? std::string_view::npos : slash + 1;
        if (wildcards) {
            if (const node* hash = n.child("#")) {
                emit(*hash, f);
            }
            if (const node* plus = n.child("+")) {
                match_from(*plus, topic, next, true, f);
            }
        }
        if (const node* exact = n.child(level)) {
            match_from(*exact, topic, next, true, f);
        }
    }

    node root_;
    std::size_t size_ = 0;
};

} // namespace edgemq::broker::routing
