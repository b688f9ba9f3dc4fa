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
                                                                      bool clean) {
    attach_result result;
    session_ptr previous;
    std::uint64_t my_claim = 0;
    {
        const std::lock_guard lock{registry_mutex_};
        if (auto it = sessions_.find(client_id); it != sessions_.end()) {
            previous = it->second;
        }
        if (previous && !clean && !previous->clean) {
            result.session = previous; // [MQTT-3.1.2-4]: resume
            result.session_present = true;
        } else {
            result.session = std::make_shared<session>(client_id, clean, w.index, opts.session);
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
        previous->home.store(to, std::memory_order_release);
    } else if (!previous->clean) {
        end_session(owner, previous);
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
    clients_connected_.fetch_sub(1, std::memory_order_relaxed);
    if (s->clean) {
        end_session(w, s); // [MQTT-3.1.2-6]
    }
}

void broker_impl::end_session(worker& w, const session_ptr& s) {
    subscriptions_.fetch_sub(static_cast<std::int64_t>(s->subscriptions.size()),
                             std::memory_order_relaxed);
    for (const auto& [filter, qos] : s->subscriptions) {
        on_every_worker(w, [filter = filter, s](worker& x) { x.subscriptions.erase(filter, s); });
    }
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
