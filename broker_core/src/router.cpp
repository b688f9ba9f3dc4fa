// SPDX-License-Identifier: Apache-2.0
// Subscriptions and routing: every worker's replica of the subscription index, and deliveries
// to sessions on this thread or, batched, on the others (DESIGN.md, "Threading").
#include "broker_impl.hpp"
#include "net/connection.hpp"

#include "edgemq/broker/routing/topic.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>

namespace edgemq::broker {
namespace {

/// The copy of `m` for a member of a shared subscription with options `o` [MQTT-4.8.2].
protocol::delivery shared_delivery(const message_ptr& m, const protocol::subscription_options& o) {
    protocol::delivery d{m, std::min(m->qos, o.qos), o.retain_as_published && m->retain};
    d.shared = true;
    if (o.identifier != 0) {
        d.subscription_ids.push_back(o.identifier);
    }
    return d;
}

} // namespace

bool broker_impl::subscribe(worker& w, const session_ptr& s, const std::string& filter,
                            const protocol::subscription_options& o) {
    const bool fresh = s->subscriptions.insert_or_assign(filter, o).second; // a repeat replaces [MQTT-3.8.4-3]
    if (fresh) {
        subscriptions_.fetch_add(1, std::memory_order_relaxed);
    }
    if (s->durable.load(std::memory_order_relaxed)) {
        session_db_->record_subscription(s->sid, filter, o);
    }
    index_subscription(w, s, filter, o);
    return fresh;
}

void broker_impl::index_subscription(worker& w, const session_ptr& s, const std::string& filter,
                                     const protocol::subscription_options& o) {
    worker::shared_index::turn_counter turn;
    if (const auto share = routing::parse_shared(filter)) {
        const std::lock_guard lock{shared_turns_mutex_};
        auto& t = shared_turns_[worker::shared_index::key(share->group, share->filter)];
        if (!t) {
            t = std::make_shared<std::atomic<std::size_t>>(0);
        }
        turn = t;
    }
    on_every_worker(w, [filter, s, o, turn](worker& x) { x.add_subscription(filter, s, o, turn); });
}

void worker::add_subscription(std::string_view filter, const session_ptr& s,
                              const protocol::subscription_options& o,
                              shared_index::turn_counter turn) {
    if (const auto share = routing::parse_shared(filter)) {
        shared.insert(share->group, share->filter, s, o, std::move(turn));
    } else {
        subscriptions.insert(filter, s, o);
    }
}

void worker::remove_subscription(std::string_view filter, const session_ptr& s) {
    if (const auto share = routing::parse_shared(filter)) {
        shared.erase(share->group, share->filter, s);
    } else {
        subscriptions.erase(filter, s);
    }
}

bool broker_impl::unsubscribe(worker& w, const session_ptr& s, const std::string& filter) {
    if (s->subscriptions.erase(filter) == 0) {
        return false;
    }
    subscriptions_.fetch_sub(1, std::memory_order_relaxed);
    if (s->durable.load(std::memory_order_relaxed)) {
        session_db_->record_unsubscription(s->sid, filter);
    }
    on_every_worker(w, [filter, s](worker& x) { x.remove_subscription(filter, s); });
    return true;
}

std::vector<message_ptr> broker_impl::retained_for(std::string_view filter) const {
    auto found = retained_.match(filter);
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(found, [now](const message_ptr& m) { return m->expired(now); }); // [MQTT-3.3.2-5]
    return found;
}

void broker_impl::route(worker& w, const message_ptr& m) {
    w.blocked_by.reset();
    if (m->retain) {
        retained_.set(m); // [MQTT-3.3.1-5]
        if (retained_db_) {
            const auto at = retained_db_->record(m);
            if (at != 0 && m->qos > 0 && session_db_) {
                // Its publisher's acknowledgement waits for the retained store too (rule 7).
                session_db_->record_handoff(retained_db_, at);
            }
        }
    }
    auto& targets = w.targets;
    targets.clear();
    w.subscriptions.match(m->topic, [&targets, &m](const session_ptr& s,
                                                   const protocol::subscription_options& o) {
        if (o.no_local && m->origin != 0 && m->origin == s->origin) {
            return; // not back to its publisher [MQTT-3.8.3-3]
        }
        targets.emplace_back(&s, &o);
    });
    // A client with overlapping subscriptions gets the message once, at the highest QoS granted,
    // with the identifiers of all of them [MQTT-3.3.4-2/3].
    if (targets.size() > 1) {
        std::sort(targets.begin(), targets.end(), [](const auto& a, const auto& b) {
            return a.first->get() < b.first->get() ||
                   (a.first->get() == b.first->get() && a.second->qos > b.second->qos);
        });
    }
    for (std::size_t i = 0; i < targets.size();) {
        const session_ptr& s = *targets[i].first;
        // The forwarded copy carries the retain flag only for Retain As Published [MQTT-3.3.1-12].
        protocol::delivery d{m, std::min(m->qos, targets[i].second->qos), false};
        for (; i < targets.size() && targets[i].first->get() == s.get(); ++i) {
            const auto& o = *targets[i].second;
            d.retain = d.retain || (o.retain_as_published && m->retain);
            if (o.identifier != 0) {
                d.subscription_ids.push_back(o.identifier);
            }
        }
        dispatch(w, s, std::move(d));
    }
    // Each shared subscription is one more subscription, whatever its member also has
    // [MQTT-4.8.2]: one copy to the member whose turn it is, a connected one if any.
    w.shared.match(
        m->topic, [](const session_ptr& s) { return s->online.load(std::memory_order_relaxed); },
        [this, &w, &m](const session_ptr& s, const protocol::subscription_options& o) {
            dispatch(w, s, shared_delivery(m, o));
        });
}

void broker_impl::dispatch(worker& w, const session_ptr& s, protocol::delivery d) {
    if (s->in_process && s->in_process->store) {
        // Taken here, on the publisher's thread, so that its position is recorded before the
        // publisher's acknowledgement is decided (rule 7).
        const auto& store = s->in_process->store;
        if (d.msg->origin != s->in_process->id) { // never back to its publisher
            w.messages_sent.add();
            const auto at = store->take(d.msg);
            if (at != 0 && d.qos > 0 && session_db_) {
                session_db_->record_handoff(store, at);
            }
        }
        return;
    }
    if (s->congested.load(std::memory_order_relaxed) && !w.blocked_by) {
        w.blocked_by = s; // the publisher waits for this one before it reads on
    }
    if (d.qos > 0 && s->durable.load(std::memory_order_relaxed)) {
        // On disk before its publisher is acknowledged (rule 7); recorded here, on the
        // publisher's thread, so that it precedes whatever the session's thread does with it.
        d.seq = s->next_seq.fetch_add(1, std::memory_order_relaxed);
        session_db_->record_delivery(s->sid, d);
    }
    const unsigned home = s->home.load(std::memory_order_acquire);
    if (home == w.index) {
        deliver_local(w, s, std::move(d));
    } else {
        w.outbox[home].push_back({s, std::move(d)});
    }
}

void broker_impl::pass_on_shared(worker& w, const session_ptr& s) {
    std::vector<routing::shared_filter> groups;
    for (const auto& [filter, o] : s->subscriptions) {
        if (const auto share = routing::parse_shared(filter)) {
            groups.push_back(*share);
        }
    }
    if (groups.empty()) {
        return;
    }
    const auto others = [&s](const session_ptr& x) {
        return x != s && x->online.load(std::memory_order_relaxed);
    };
    for (auto& d : s->state.take_undelivered()) {
        if (!d.shared) {
            continue;
        }
        for (const auto& g : groups) {
            if (!routing::topic_matches(g.filter, d.msg->topic)) {
                continue;
            }
            auto next = w.shared.pick(g.group, g.filter, others);
            if (next && next->first != s) {
                dispatch(w, next->first, shared_delivery(d.msg, next->second));
            }
            break; // one copy per message, as it came
        }
    }
    flush(w);
}

void broker_impl::deliver_local(worker& w, const session_ptr& s, protocol::delivery d) {
    if (s->receives_in_process()) {
        if (d.msg->origin != s->in_process->id) { // never back to its publisher
            w.messages_sent.add();
            s->in_process->deliver(d.msg);
        }
        return;
    }
    if (!s->may_receive(d.msg->topic)) {
        if (d.seq != 0) {
            session_db_->removed(s->sid, d.seq);
        }
        return; // an ACL read rule keeps this topic from this client
    }
    connection* c = s->conn;
    if (s->state.deliver(std::move(d), c != nullptr ? &c->out() : nullptr)) {
        if (c != nullptr) {
            w.messages_sent.add();
            c->notify_writer();
        }
    } else {
        w.messages_dropped.add();
    }
    note_backlog(*s);
}

void broker_impl::note_backlog(session& s) {
    auto& st = s.state;
    if (!s.congested.load(std::memory_order_relaxed)) {
        if (s.conn != nullptr && !st.slow() && st.congested()) {
            s.conn->congestion_began(); // the slow-consumer clock starts now
            s.congested.store(true, std::memory_order_relaxed);
        } else if (st.slow() && st.relieved()) {
            st.set_slow(false); // it has read half its queue: reading again
        }
    } else if (s.conn == nullptr || st.relieved()) {
        relieve(s);
    }
}

void broker_impl::relieve(session& s) {
    std::vector<std::pair<worker*, std::shared_ptr<connection>>> waiting;
    {
        const std::lock_guard lock{flow_mutex_};
        s.congested.store(false, std::memory_order_relaxed);
        if (auto it = flow_waiters_.find(&s); it != flow_waiters_.end()) {
            waiting = std::move(it->second);
            flow_waiters_.erase(it);
        }
    }
    for (auto& [w, c] : waiting) {
        asio::post(w->ctx, [c = std::move(c)] { c->unblock(); });
    }
}

bool broker_impl::wait_until_relieved(worker& w, session& s,
                                      const std::shared_ptr<connection>& c) {
    const std::lock_guard lock{flow_mutex_};
    if (!s.congested.load(std::memory_order_relaxed)) {
        return false; // relieved meanwhile
    }
    flow_waiters_[&s].emplace_back(&w, c);
    return true;
}

void broker_impl::flush(worker& w) {
    for (std::size_t i = 0; i < w.outbox.size(); ++i) {
        auto& batch = w.outbox[i];
        if (batch.empty()) {
            continue;
        }
        asio::post(workers[i]->ctx, [this, &dst = *workers[i], batch = std::move(batch)]() mutable {
            for (auto& r : batch) {
                const unsigned home = r.target->home.load(std::memory_order_acquire);
                if (home == dst.index) {
                    deliver_local(dst, r.target, std::move(r.d));
                } else {
                    dst.outbox[home].push_back(std::move(r)); // the session moved; follow it
                }
            }
            flush(dst);
        });
        batch = {};
    }
}

} // namespace edgemq::broker
