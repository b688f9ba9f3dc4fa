// SPDX-License-Identifier: Apache-2.0
// The admin surface's view of the broker: clients, subscriptions, kicking a client.
#include "broker_impl.hpp"
#include "net/connection.hpp"

#include "edgemq/broker/error.hpp"
#include "edgemq/broker/routing/topic.hpp"

#include <algorithm>
#include <mutex>
#include <tuple>

namespace edgemq::broker {

std::vector<session_ptr> broker_impl::all_sessions() {
    const std::lock_guard lock{registry_mutex_};
    std::vector<session_ptr> all;
    all.reserve(sessions_.size() + internal_sessions_.size());
    for (const auto& [id, s] : sessions_) {
        all.push_back(s);
    }
    all.insert(all.end(), internal_sessions_.begin(), internal_sessions_.end());
    return all;
}

std::vector<client_info> broker_impl::clients() {
    const auto all = all_sessions();
    std::mutex out_mutex;
    std::vector<client_info> out;
    on_every_worker_and_wait([&](worker& w) {
        for (const auto& s : all) {
            if (s->home.load(std::memory_order_acquire) != w.index) {
                continue;
            }
            client_info info;
            info.client_id = s->client_id;
            info.internal = s->in_process != nullptr;
            info.connected = s->conn != nullptr || info.internal;
            const auto expiry = s->expiry_interval.load(std::memory_order_relaxed);
            info.clean_session = expiry == 0;
            info.session_expiry_interval = expiry;
            if (s->access) {
                info.username = s->access->username;
            }
            info.subscriptions = s->subscriptions.size();
            info.inflight = s->state.inflight();
            info.queued = s->state.queued();
            info.dropped = s->state.dropped();
            info.congested = s->congested.load(std::memory_order_relaxed);
            info.slow_consumer = s->state.slow();
            if (s->conn != nullptr) {
                s->conn->describe(info);
            }
            const std::lock_guard lock{out_mutex};
            out.push_back(std::move(info));
        }
    });
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.client_id < b.client_id; });
    return out;
}

std::vector<subscription_info> broker_impl::subscriptions() {
    const auto all = all_sessions();
    std::mutex out_mutex;
    std::vector<subscription_info> out;
    on_every_worker_and_wait([&](worker& w) {
        for (const auto& s : all) {
            if (s->home.load(std::memory_order_acquire) != w.index) {
                continue;
            }
            const std::lock_guard lock{out_mutex};
            for (const auto& [filter, o] : s->subscriptions) {
                const auto shared = routing::parse_shared(filter);
                out.push_back({s->client_id, filter,
                               shared ? std::string{shared->group} : std::string{}, o.qos,
                               o.no_local, o.retain_as_published, o.identifier});
            }
        }
    });
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return std::tie(a.client_id, a.filter) < std::tie(b.client_id, b.filter);
    });
    return out;
}

bool broker_impl::kick(std::string_view client_id) {
    session_ptr s;
    {
        const std::lock_guard lock{registry_mutex_};
        if (auto it = sessions_.find(client_id); it != sessions_.end()) {
            s = it->second;
        }
    }
    if (!s) {
        return false;
    }
    bool kicked = false;
    on_every_worker_and_wait([&](worker& w) {
        if (s->home.load(std::memory_order_acquire) == w.index && s->conn != nullptr) {
            s->conn->close(errc::kicked);
            kicked = true;
        }
    });
    return kicked;
}

} // namespace edgemq::broker
