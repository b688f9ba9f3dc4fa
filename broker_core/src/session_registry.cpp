// SPDX-License-Identifier: Apache-2.0
// The session registry: which session a client id has, taking a session over from an older
// connection (possibly on another thread) [MQTT-3.1.4-2], and ending sessions.
#include "broker_impl.hpp"
#include "net/connection.hpp"

#include "edgemq/broker/error.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace edgemq::broker {

asio::awaitable<broker_impl::attach_result> broker_impl::async_attach(worker& w,
                                                                      std::shared_ptr<connection> c,
                                                                      std::string client_id,
                                                                      bool clean_start,
                                                                      std::uint32_t expiry) {
    attach_result result;
    session_ptr previous;
    std::uint64_t my_claim = 0;
    {
        const std::lock_guard lock{registry_mutex_};
        if (auto it = sessions_.find(client_id); it != sessions_.end()) {
            previous = it->second;
        }
        if (previous && !clean_start &&
            previous->expiry_interval.load(std::memory_order_relaxed) > 0) {
            result.session = previous; // [MQTT-3.1.2-4]: resume
            result.session_present = true;
        } else {
            result.session = std::make_shared<session>(
                client_id, origins_.fetch_add(1, std::memory_order_relaxed) + 1, w.index,
                opts.session);
            if (previous) {
                sessions_.erase(previous->client_id);
            }
            sessions_.emplace(result.session->client_id, result.session);
        }
        my_claim = result.session->claim = ++claims_;
    }
    if (previous) {
        // Close the previous connection [MQTT-3.1.4-2] on the thread that owns the session,
        // then either move the session here or discard it [MQTT-3.1.2-6].
        const bool resume = previous == result.session;
        while (true) {
            const unsigned home = previous->home.load(std::memory_order_acquire);
            auto& owner = *workers[home];
            // A member coroutine, not a capturing lambda (CP.51): GCC 12 destroys a lambda
            // coroutine handed to co_spawn inside co_await twice, releasing `previous` once too
            // often and freeing a session that is still in use.
            const bool done = co_await asio::co_spawn(
                owner.ctx, take_over(owner, previous, resume, w.index), asio::use_awaitable);
            if (done) {
                break;
            }
        }
    }
    {
        const std::lock_guard lock{registry_mutex_};
        if (result.session->claim != my_claim) {
            co_return attach_result{}; // a newer CONNECT for this id arrived meanwhile
        }
    }
    result.session->conn = c.get();
    result.session->online.store(true, std::memory_order_relaxed);
    // This CONNECT's Session Expiry Interval applies from now on [MQTT-3.1.2-11].
    result.session->expiry_interval.store(expiry, std::memory_order_relaxed);
    clients_connected_.fetch_add(1, std::memory_order_relaxed);
    co_return result;
}

asio::awaitable<bool> broker_impl::take_over(worker& owner, session_ptr previous, bool resume,
                                             unsigned to) {
    if (previous->home.load(std::memory_order_acquire) != owner.index) {
        co_return false; // it moved meanwhile; follow it
    }
    if (previous->conn != nullptr) {
        previous->conn->close(errc::session_taken_over);
    }
    if (resume) {
        // Its client is back in time: the expiry ends and a held-back will is never published
        // [MQTT-3.1.3-9]. The timer belongs to this thread, so it goes here.
        previous->parked.reset();
        previous->home.store(to, std::memory_order_release);
    } else if (previous->expiry_interval.load(std::memory_order_relaxed) > 0) {
        end_session(owner, previous); // a clean start discards it [MQTT-3.1.2-4]
    }
    co_return true;
}

void broker_impl::on_connection_closed(worker& w, connection& c, listener_state& l, session_ptr s) {
    w.unlink(c);
    l.connections.fetch_sub(1, std::memory_order_relaxed);
    connections_.fetch_sub(1, std::memory_order_relaxed);
    detach(w, c, std::move(s));
}

void broker_impl::detach(worker& w, connection& c, session_ptr s) {
    if (!s || s->conn != &c) {
        return;
    }
    s->conn = nullptr;
    s->online.store(false, std::memory_order_relaxed);
    s->state.set_slow(false);
    note_backlog(*s); // offline, it holds no publisher back: its queue is cut instead
    clients_connected_.fetch_sub(1, std::memory_order_relaxed);
    const auto expiry = s->expiry_interval.load(std::memory_order_relaxed);
    if (expiry == 0) {
        end_session(w, s); // [MQTT-3.1.2-6]
        return;
    }
    if (expiry != protocol::session_never_expires) {
        if (!s->parked) {
            s->parked = std::make_unique<session::waiting>(w.ctx);
        }
        s->parked->ends_at = std::chrono::steady_clock::now() + std::chrono::seconds(expiry);
    }
    if (s->parked) {
        arm(w, s);
    }
}

void broker_impl::defer_will(worker& w, const session_ptr& s, message_ptr will,
                             std::uint32_t delay) {
    if (!s->parked) {
        s->parked = std::make_unique<session::waiting>(w.ctx);
    }
    s->parked->will = std::move(will);
    s->parked->will_at = std::chrono::steady_clock::now() + std::chrono::seconds(delay);
}

void broker_impl::arm(worker& w, const session_ptr& s) {
    auto& p = *s->parked;
    auto at = p.ends_at;
    if (p.will && (at == std::chrono::steady_clock::time_point{} || p.will_at < at)) {
        at = p.will_at;
    }
    p.timer.expires_at(at);
    p.timer.async_wait([this, &w, s](boost::system::error_code ec) {
        if (!ec) {
            on_waited(w, s); // cancelled when its client came back (take_over)
        }
    });
}

void broker_impl::on_waited(worker& w, const session_ptr& s) {
    if (!s->parked || s->conn != nullptr) {
        return;
    }
    const auto now = std::chrono::steady_clock::now();
    auto& p = *s->parked;
    if (p.will && now >= p.will_at) {
        route(w, std::exchange(p.will, nullptr)); // [MQTT-3.1.3-9]
        flush(w);
    }
    if (p.ends_at != std::chrono::steady_clock::time_point{} && now >= p.ends_at) {
        end_session(w, s); // expired [MQTT-3.1.2-23]
        return;
    }
    if (p.will || p.ends_at != std::chrono::steady_clock::time_point{}) {
        arm(w, s);
    } else {
        s->parked.reset();
    }
}

void broker_impl::end_session(worker& w, const session_ptr& s) {
    if (s->parked) {
        if (auto will = std::exchange(s->parked->will, nullptr)) {
            route(w, will); // a held-back will goes when its session ends [MQTT-3.1.3-9]
            flush(w);
        }
        s->parked.reset();
    }
    subscriptions_.fetch_sub(static_cast<std::int64_t>(s->subscriptions.size()),
                             std::memory_order_relaxed);
    for (const auto& [filter, qos] : s->subscriptions) {
        on_every_worker(w, [filter = filter, s](worker& x) { x.remove_subscription(filter, s); });
    }
    pass_on_shared(w, s); // after this replica has forgotten it, so it is not chosen again
    s->subscriptions.clear();
    const std::lock_guard lock{registry_mutex_};
    if (auto it = sessions_.find(s->client_id); it != sessions_.end() && it->second == s) {
        sessions_.erase(it);
    }
}

void worker::link(connection& c) {
    c.next_in_worker = connections;
    if (connections != nullptr) {
        connections->prev_in_worker = &c;
    }
    connections = &c;
}

void worker::unlink(connection& c) {
    if (c.prev_in_worker != nullptr) {
        c.prev_in_worker->next_in_worker = c.next_in_worker;
    } else if (connections == &c) {
        connections = c.next_in_worker;
    }
    if (c.next_in_worker != nullptr) {
        c.next_in_worker->prev_in_worker = c.prev_in_worker;
    }
    c.prev_in_worker = c.next_in_worker = nullptr;
}

} // namespace edgemq::broker
