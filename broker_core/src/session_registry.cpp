// SPDX-License-Identifier: Apache-2.0
// The session registry: which session a client id has, taking a session over from an older
// connection (possibly on another thread) [MQTT-3.1.4-2], and ending sessions.
#include "broker_impl.hpp"
#include "net/connection.hpp"

#include "edgemq/broker/clock.hpp"
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
            if (session_db_) {
                result.session->sid = session_db_->new_sid();
            }
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

void broker_impl::persist_attached(const session_ptr& s, const message_ptr& will,
                                   std::uint32_t will_delay) {
    if (!session_db_ || s->sid == 0) {
        return;
    }
    const bool durable = s->expiry_interval.load(std::memory_order_relaxed) > 0;
    if (durable && !s->durable.load(std::memory_order_relaxed)) {
        s->state.set_journal(session_db_.get(), s->sid);
        s->durable.store(true, std::memory_order_relaxed);
    }
    // A clean session is kept only for its will: published at start-up after a crash.
    if (durable || will || s->stored) {
        persist_row(*s, true, will, will_delay);
    }
}

void broker_impl::persist_row(session& s, bool connected, const message_ptr& will,
                              std::uint32_t will_delay) {
    persist::stored_session row;
    row.sid = s.sid;
    row.client_id = s.client_id;
    row.expiry_interval = s.expiry_interval.load(std::memory_order_relaxed);
    row.connected = connected;
    row.disconnected_at = connected ? 0 : unix_seconds();
    if (s.access) {
        row.username = s.access->username;
    }
    row.listener = s.listener;
    row.will = will;
    row.will_delay = will_delay;
    session_db_->record_session(row);
    s.stored = true;
}

void broker_impl::restore_session(persist::stored_session st) {
    auto& w = *workers[next_worker_.fetch_add(1, std::memory_order_relaxed) % workers.size()];
    auto s = std::make_shared<session>(std::move(st.client_id),
                                       origins_.fetch_add(1, std::memory_order_relaxed) + 1,
                                       w.index, opts.session);
    s->sid = st.sid;
    s->stored = true;
    s->expiry_interval.store(st.expiry_interval, std::memory_order_relaxed);
    if (st.listener < listeners_.size()) {
        s->listener = st.listener;
        auto acl = listeners_[st.listener]->acl.load();
        if (st.username || acl) {
            s->access = std::make_shared<const client_access>(
                client_access{std::move(st.username), std::move(acl)});
        }
    }
    const auto now_unix = unix_seconds();
    // How long it has been without its client: since the row said so, or since the crash.
    const auto away = st.connected ? 0 : std::max<std::int64_t>(0, now_unix - st.disconnected_at);
    const bool expired = st.expiry_interval != protocol::session_never_expires &&
                         away >= static_cast<std::int64_t>(st.expiry_interval);
    if (st.expiry_interval == 0 || expired) {
        // A clean session connected at a crash, or one that expired while the broker was down:
        // only its will is left to publish [MQTT-3.1.2-8] [MQTT-3.1.3-9].
        if (st.will) {
            route(w, st.will);
            flush(w);
        }
        session_db_->record_session_end(s->sid);
        return;
    }
    s->durable.store(true, std::memory_order_relaxed);
    s->state.set_journal(session_db_.get(), s->sid);
    for (auto& [filter, o] : st.subscriptions) {
        s->subscriptions.insert_or_assign(filter, o);
        subscriptions_.fetch_add(1, std::memory_order_relaxed);
        index_subscription(w, s, filter, o);
    }
    std::uint64_t last_seq = 0;
    for (auto& d : st.deliveries) {
        last_seq = d.d.seq;
        d.d.maybe_sent = st.connected; // its record of being sent may not have reached the disk
        s->state.restore(std::move(d.d), d.packet_id, d.stage);
    }
    s->state.went_offline(); // until its client is back
    s->next_seq.store(last_seq + 1, std::memory_order_relaxed);
    for (const auto id : st.inbound_qos2) {
        s->state.restore_inbound(id);
    }
    {
        const std::lock_guard lock{registry_mutex_};
        sessions_.emplace(s->client_id, s);
    }
    if (st.will) {
        const auto left = static_cast<std::int64_t>(st.will_delay) - away;
        if (left > 0) {
            defer_will(w, s, st.will, static_cast<std::uint32_t>(left));
        } else {
            route(w, st.will); // its client's connection ended with the broker [MQTT-3.1.2-8]
            flush(w);
        }
    }
    if (st.expiry_interval != protocol::session_never_expires) {
        if (!s->parked) {
            s->parked = std::make_unique<session::waiting>(w.ctx);
        }
        s->parked->ends_at = std::chrono::steady_clock::now() +
                             std::chrono::seconds(static_cast<std::int64_t>(st.expiry_interval) - away);
    }
    if (s->parked) {
        arm(w, s);
    }
    if (st.connected || (st.will && !(s->parked && s->parked->will))) {
        // It waits for its client from now on; a will published is not published again.
        persist_row(*s, false, s->parked ? s->parked->will : nullptr,
                    s->parked && s->parked->will ? static_cast<std::uint32_t>(
                        std::max<std::int64_t>(0, static_cast<std::int64_t>(st.will_delay) - away))
                                                 : 0);
    }
}

void broker_impl::on_committed(worker& w, std::uint64_t through, bool ok) {
    if (w.commit_waiters.empty()) {
        return;
    }
    auto waiting = std::move(w.commit_waiters);
    w.commit_waiters.clear();
    for (auto& c : waiting) {
        c->on_committed(through, ok); // one still waiting for a later commit joins again
    }
}

void broker_impl::detach(worker& w, connection& c, session_ptr s) {
    if (!s || s->conn != &c) {
        return;
    }
    s->conn = nullptr;
    s->online.store(false, std::memory_order_relaxed);
    s->state.went_offline();
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
    if (s->stored) {
        message_ptr will;
        std::uint32_t delay = 0;
        if (s->parked && s->parked->will) {
            will = s->parked->will;
            delay = static_cast<std::uint32_t>(std::chrono::ceil<std::chrono::seconds>(
                                                   s->parked->will_at - std::chrono::steady_clock::now())
                                                   .count());
        }
        persist_row(*s, false, will, delay);
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
        if (s->stored && !(p.ends_at != std::chrono::steady_clock::time_point{} && now >= p.ends_at)) {
            persist_row(*s, false, nullptr, 0); // published: not again after a restart
        }
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
    if (s->stored) {
        session_db_->record_session_end(s->sid);
        s->stored = false;
    }
    s->durable.store(false, std::memory_order_relaxed);
    s->state.set_journal(nullptr, 0);
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

void worker::close_connections(boost::system::error_code reason) {
    while (connections != nullptr) {
        connections->close(reason);
    }
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
