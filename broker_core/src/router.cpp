// SPDX-License-Identifier: Apache-2.0
// Subscriptions and routing: every worker's replica of the subscription index, and deliveries
// to sessions on this thread or, batched, on the others (DESIGN.md, "Threading").
#include "broker_impl.hpp"
#include "net/connection.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>

namespace edgemq::broker {

void broker_impl::subscribe(worker& w, const session_ptr& s, const std::string& filter,
                            std::uint8_t qos) {
    if (s->subscriptions.insert_or_assign(filter, qos).second) { // a repeat replaces [MQTT-3.8.4-3]
        subscriptions_.fetch_add(1, std::memory_order_relaxed);
    }
    on_every_worker(w, [filter, s, qos](worker& x) { x.subscriptions.insert(filter, s, qos); });
}

void broker_impl::unsubscribe(worker& w, const session_ptr& s, const std::string& filter) {
    if (s->subscriptions.erase(filter) == 0) {
        return;
    }
    subscriptions_.fetch_sub(1, std::memory_order_relaxed);
    on_every_worker(w, [filter, s](worker& x) { x.subscriptions.erase(filter, s); });
}

void broker_impl::route(worker& w, const message_ptr& m) {
    if (m->retain) {
        retained_.set(m); // [MQTT-3.3.1-5]
        if (retained_db_) {
            retained_db_->record(m);
        }
    }
    auto& targets = w.targets;
    targets.clear();
    w.subscriptions.match(m->topic, [&targets](const session_ptr& s, std::uint8_t qos) {
        targets.emplace_back(&s, qos);
    });
    // A client with overlapping subscriptions gets the message once, at the highest QoS granted.
    if (targets.size() > 1) {
        std::sort(targets.begin(), targets.end(), [](const auto& a, const auto& b) {
            return a.first->get() < b.first->get() ||
                   (a.first->get() == b.first->get() && a.second > b.second);
        });
        targets.erase(std::unique(targets.begin(), targets.end(),
                                  [](const auto& a, const auto& b) {
                                      return a.first->get() == b.first->get();
                                  }),
                      targets.end());
    }
    for (const auto& [s, granted] : targets) {
        // The forwarded copy never carries the retain flag [MQTT-3.3.1-9].
        protocol::delivery d{m, std::min(m->qos, granted), false};
        const unsigned home = (*s)->home.load(std::memory_order_acquire);
        if (home == w.index) {
            deliver_local(w, *s, std::move(d));
        } else {
            w.outbox[home].push_back({*s, std::move(d)});
        }
    }
}

void broker_impl::deliver_local(worker& w, const session_ptr& s, protocol::delivery d) {
    if (s->internal) {
        if (d.msg->origin != s->internal_id) { // never back to its publisher
            w.messages_sent.add();
            (*s->internal)(d.msg);
        }
        return;
    }
    if (!s->may_receive(d.msg->topic)) {
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
