// SPDX-License-Identifier: Apache-2.0
#include "forwarder.hpp"

#include "edgemq/broker/codec/properties.hpp"

#include <boost/asio/post.hpp>
#include <spdlog/logger.h>

#include <algorithm>
#include <iterator>
#include <span>

namespace edgemq::bridge {
namespace {

/// Messages read from the queue at a time, and held in memory ahead of the window.
constexpr std::size_t read_chunk = 1024;
constexpr std::size_t max_pending = 4 * read_chunk;
/// QoS 0 messages are dropped rather than buffered beyond this while the remote is slow.
constexpr std::size_t max_unwritten_bytes = 8 << 20;

/// A message's properties as the queue keeps them: the PUBLISH's property block, or nothing.
std::string stored_properties(const broker::message& m) {
    if (m.props.empty()) {
        return {};
    }
    broker::codec::byte_buffer block;
    broker::codec::encode_properties(m.props.get(), block);
    return {block.begin(), block.end()};
}

broker::message_ptr from_queue(queued_message& q) {
    auto m = std::make_shared<broker::message>(
        broker::message{std::move(q.topic), std::move(q.payload), q.qos, q.retain, 0});
    if (!q.properties.empty()) {
        const std::span bytes{reinterpret_cast<const std::uint8_t*>(q.properties.data()),
                              q.properties.size()};
        if (auto decoded = broker::codec::decode_properties(bytes, broker::codec::property_scope::publish)) {
            m->props.edit() = std::move(decoded->first);
        }
    }
    return m;
}

} // namespace

forwarder::forwarder(const config::bridge& cfg, broker::broker& broker, spdlog::logger& log,
                     status_board& status)
    : cfg_(cfg), broker_(broker), log_(log), status_(status) {
    for (const auto& t : cfg_.topics) {
        rules_.emplace_back(t);
    }
}

forwarder::~forwarder() {
    close_intake();
    intake_->discard(); // what drain() did not queue: its publishers are not acknowledged
}

std::vector<broker::codec::subscription> forwarder::remote_subscriptions() const {
    std::vector<broker::codec::subscription> subs;
    for (const auto& r : rules_) {
        if (r.inbound()) {
            subs.push_back({r.remote_filter(), r.qos()});
        }
    }
    return subs;
}

void forwarder::start(asio::io_context& ctx) {
    queue_ = std::make_unique<durable_queue>(
        cfg_.queue_file, durable_queue::limits{cfg_.max_messages, cfg_.max_bytes, cfg_.when_full},
        log_);
    update_queue_stats();
    if (queue_->size() > 0) {
        log_.info("bridge {}: {} messages waiting in {} from before the restart", cfg_.name,
                  queue_->size(), cfg_.queue_file);
    }
    ctx_ = &ctx;
    intake_->open([this] { asio::post(*ctx_, [this] { drain_intake(); }); });
    client_ = broker_.connect_internal("bridge/" + cfg_.name, intake_);
    for (const auto& r : rules_) {
        if (r.outbound()) {
            client_->subscribe(r.local_filter(), r.qos());
        }
    }
}

void forwarder::close_intake() {
    intake_->close();
    if (client_) {
        client_->disconnect();
    }
}

void forwarder::drain() {
    drain_intake();
    flush_acks();
}

void forwarder::connection_lost() {
    pending_.clear();
    loaded_through_ = cursor_;
    caught_up_ = false;
}

// ---------------------------------------------------------------------------------------------
// From the remote

void forwarder::on_message(broker::codec::publish p) {
    for (const auto& r : rules_) {
        if (auto local = r.to_local(p.topic)) {
            // Published as this bridge's client: the broker never routes it back here.
            broker::message m{std::move(*local), std::move(p.payload), p.qos, p.retain, 0};
            broker::adopt_properties(m, std::move(p.props)); // 5.0: user properties and the rest
            client_->publish(std::move(m));
            status_.add_received();
            break;
        }
    }
}

void forwarder::on_acknowledged(std::int64_t seq) {
    acked_seqs_.push_back(seq);
    status_.add_acked();
}

void forwarder::on_rejected(std::int64_t seq) {
    acked_seqs_.push_back(seq); // out of the queue: the remote will never take it
    status_.add_dropped();
}

void forwarder::on_connected(std::size_t resent) {
    status_.add_sent(resent);
    pump();
}

// ---------------------------------------------------------------------------------------------
// From the local broker, through the queue, to the remote

void forwarder::drain_intake() {
    auto batch = intake_->collect();
    intake_->stored(batch.through, on_local(std::move(batch.messages)));
}

bool forwarder::on_local(std::vector<broker::message_ptr> batch) {
    bool ok = true;
    std::vector<queued_message> store;
    for (const auto& m : batch) {
        for (const auto& r : rules_) {
            auto remote = r.to_remote(m->topic);
            if (!remote) {
                continue;
            }
            const auto qos = std::min(m->qos, r.qos());
            if (qos > 0 || cfg_.queue_qos0) {
                store.push_back(
                    {0, std::move(*remote), m->payload, qos, m->retain, stored_properties(*m)});
            } else if (up_->connected() && up_->unwritten() < max_unwritten_bytes) {
                auto copy = std::make_shared<broker::message>(*m);
                copy->topic = std::move(*remote);
                copy->qos = 0;
                if (up_->publish(copy, std::nullopt)) {
                    status_.add_sent();
                } else {
                    status_.add_dropped();
                }
            } else {
                status_.add_dropped();
            }
            break;
        }
    }
    if (!store.empty()) {
        const auto r = queue_->push(store, cursor_);
        ok = r.ok;
        status_.add_dropped(r.dropped);
        while (!pending_.empty() && pending_.front().seq <= r.dropped_through) {
            pending_.pop_front();
        }
        if (up_->connected() && caught_up_ && !store.empty()) {
            // The common case while connected: hand the new messages straight to the window
            // instead of reading back what was just written.
            if (pending_.size() + store.size() <= max_pending) {
                loaded_through_ = store.back().seq;
                std::ranges::move(store, std::back_inserter(pending_));
            } else {
                caught_up_ = false;
            }
        }
    }
    pump();
    return ok;
}

void forwarder::pump() {
    while (up_->connected() && !up_->window_full()) {
        if (pending_.empty()) {
            if (caught_up_) {
                break;
            }
            auto more = queue_->read_after(loaded_through_, read_chunk);
            caught_up_ = more.size() < read_chunk;
            if (more.empty()) {
                break;
            }
            loaded_through_ = more.back().seq;
            std::ranges::move(more, std::back_inserter(pending_));
        }
        auto m = std::move(pending_.front());
        pending_.pop_front();
        cursor_ = m.seq;
        const auto seq = m.seq;
        const auto qos = m.qos;
        if (!up_->publish(from_queue(m), seq)) {
            acked_seqs_.push_back(seq); // it can never be sent: out of the queue, counted
            status_.add_dropped();
            continue;
        }
        status_.add_sent();
        if (qos == 0) {
            acked_seqs_.push_back(seq); // nothing to wait for
        }
    }
    flush_acks_soon();
    update_queue_stats();
}

void forwarder::flush_acks_soon() {
    if (acked_seqs_.empty() || flush_posted_) {
        return;
    }
    flush_posted_ = true;
    asio::post(*ctx_, [this] {
        flush_posted_ = false;
        flush_acks();
        update_queue_stats();
    });
}

void forwarder::flush_acks() {
    if (!acked_seqs_.empty()) {
        queue_->remove(acked_seqs_);
        acked_seqs_.clear();
    }
}

void forwarder::update_queue_stats() {
    status_.set_queue(queue_->size(), queue_->bytes());
}

} // namespace edgemq::bridge
