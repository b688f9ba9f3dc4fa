// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/routing/subscription_tree.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

/// Shared subscriptions, `$share/{group}/{filter}` (MQTT 5.0 section 4.8.2; Mosquitto and EMQX
/// accept them from 3.1.1 clients too): every group is one subscription with many members, and
/// each matching message goes to one of them, in turn. Groups are found through a
/// subscription_tree over their filters, so matching costs what it costs for ordinary ones.
/// Thread safety: none; one owner thread per instance (the broker keeps one per I/O thread).
/// The turn of a group is an atomic counter that the replicas of one group may share, so that
/// messages routed on different threads still go round the members in turn.
namespace edgemq::broker::routing {

template <typename Subscriber, typename Options> class shared_subscriptions {
public:
    using turn_counter = std::shared_ptr<std::atomic<std::size_t>>;

    /// Adds or updates `subscriber` as a member of `group` on `filter`. True when it was new.
    /// A group made by this call counts its turns in `turn` (a new counter when null).
    bool insert(std::string_view group, std::string_view filter, const Subscriber& subscriber,
                const Options& options, turn_counter turn = nullptr) {
        auto it = groups_.find(key(group, filter));
        if (it == groups_.end()) {
            auto g = std::make_unique<members>();
            g->turn = turn ? std::move(turn) : std::make_shared<std::atomic<std::size_t>>(0);
            it = groups_.emplace(key(group, filter), std::move(g)).first;
            index_.insert(filter, it->second.get(), 0);
        }
        auto& list = it->second->list;
        for (auto& m : list) {
            if (m.first == subscriber) {
                m.second = options;
                return false;
            }
        }
        list.emplace_back(subscriber, options);
        return true;
    }

    /// Removes `subscriber` from `group` on `filter`; the group goes with its last member.
    bool erase(std::string_view group, std::string_view filter, const Subscriber& subscriber) {
        auto it = groups_.find(key(group, filter));
        if (it == groups_.end()) {
            return false;
        }
        auto& list = it->second->list;
        const auto m = std::find_if(list.begin(), list.end(),
                                    [&](const auto& e) { return e.first == subscriber; });
        if (m == list.end()) {
            return false;
        }
        list.erase(m); // keeps the others' turn order
        if (list.empty()) {
            index_.erase(filter, it->second.get());
            groups_.erase(it);
        }
        return true;
    }

    /// For every group whose filter matches `topic`, calls `f(subscriber, options)` once, for the
    /// member whose turn it is among those `prefer` accepts (connected ones, say), or among all
    /// when it accepts none.
    template <typename P, typename F> void match(std::string_view topic, P&& prefer, F&& f) {
        index_.match(topic, [&](members* g, char) {
            const auto& [subscriber, options] = g->next(prefer);
            f(subscriber, options);
        });
    }

    /// The member of `group` on `filter` whose turn it is, as in match; none when it has none.
    template <typename P>
    std::optional<std::pair<Subscriber, Options>> pick(std::string_view group,
                                                       std::string_view filter, P&& prefer) {
        const auto it = groups_.find(key(group, filter));
        if (it == groups_.end()) {
            return std::nullopt;
        }
        return it->second->next(prefer);
    }

private:
    struct members {
        std::vector<std::pair<Subscriber, Options>> list; ///< never empty
        turn_counter turn;

        template <typename P> const std::pair<Subscriber, Options>& next(P& prefer) {
            const std::size_t n = list.size();
            const std::size_t t = turn->fetch_add(1, std::memory_order_relaxed);
            for (std::size_t i = 0; i < n; ++i) {
                if (prefer(list[(t + i) % n].first)) {
                    return list[(t + i) % n];
                }
            }
            return list[t % n];
        }
    };

public:
    /// A group name holds no `/` [MQTT-4.8.2-2], so "group/filter" names one group.
    static std::string key(std::string_view group, std::string_view filter) {
        std::string k;
        k.reserve(group.size() + 1 + filter.size());
        k.append(group).append(1, '/').append(filter);
        return k;
    }

private:
    std::map<std::string, std::unique_ptr<members>, std::less<>> groups_;
    subscription_tree<members*, char> index_;
};

} // namespace edgemq::broker::routing
