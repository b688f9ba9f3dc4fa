// SPDX-License-Identifier: Apache-2.0
#include "edgemq/broker/protocol/session_state.hpp"

#include "edgemq/broker/codec/encode.hpp"

#include <algorithm>
#include <chrono>

namespace edgemq::broker::protocol {
namespace {

using clock = std::chrono::steady_clock;

bool has_expired(const message& m) {
    return m.expires_at != clock::time_point{} && m.expired(clock::now());
}

} // namespace

bool session_state::write_publish(const delivery& d, bool dup, std::uint16_t id,
                                  net::write_queue& out) {
    if (peer_.protocol_level < codec::protocol_level_5) {
        out.append_publish(d.msg, d.qos, d.retain, dup, id);
        return true;
    }
    static const codec::properties none;
    const codec::properties* props = &none;
    codec::properties forwarded; // only built when there are properties to send
    if (!d.subscription_ids.empty() || has_outbound_properties(*d.msg)) {
        forwarded = outbound_properties(*d.msg, d.subscription_ids);
        props = &forwarded;
    }
    const auto alias = peer_.topic_alias_maximum > 0 ? alias_for(d.msg->topic) : topic_alias{};
    if (alias.id != 0) {
        forwarded.topic_alias = alias.id;
        props = &forwarded;
    }
    if (publish_packet_size(*d.msg, d.qos, props, alias.known) > peer_.maximum_packet_size) {
        return false; // [MQTT-3.1.2-24]
    }
    if (alias.id != 0 && !alias.known) {
        q().aliases->emplace(d.msg->topic, alias.id); // only once the client is told
    }
    out.append_publish(d.msg, d.qos, d.retain, dup, id, props, alias.known);
    return true;
}

session_state::topic_alias session_state::alias_for(const std::string& topic) {
    auto& aliases = q().aliases;
    if (!aliases) {
        aliases = std::make_unique<detail::string_map<std::uint16_t>>();
    }
    if (const auto it = aliases->find(topic); it != aliases->end()) {
        return {it->second, true};
    }
    // The first topics take the aliases and keep them for the connection: a gateway's
    // subscribers see the same few topics again and again. [MQTT-3.3.2-10]
    if (aliases->size() < peer_.topic_alias_maximum) {
        return {static_cast<std::uint16_t>(aliases->size() + 1), false};
    }
    return {};
}

bool session_state::deliver(delivery d, net::write_queue* out) {
    if (has_expired(*d.msg)) {
        forget(d);
        return true; // gone by its own terms, not dropped [MQTT-3.3.2-5]
    }
    if (out == nullptr && d.qos == 0 && !limits_->queue_qos0) {
        return false; // not queued for offline clients unless configured; not a drop
    }
    if (out != nullptr && queued() == 0 && has_room(d.qos, *out)) {
        return send(std::move(d), *out);
    }
    // A connected client that reads gets everything: its publishers are slowed down instead.
    const bool offline = out == nullptr;
    const auto kept = offline && q_ ? q_->queued_when_offline : 0;
    if ((offline || slow_) && limits_->max_queued != 0 && queued() >= kept + limits_->max_queued) {
        ++dropped_;
        forget(d);
        return false;
    }
    q().queue.push_back(std::move(d));
    return true;
}

namespace {

/// The packet id a durable delivery goes out with unless another message in flight holds it.
std::uint16_t seq_packet_id(std::uint64_t seq) noexcept {
    return static_cast<std::uint16_t>((seq - 1) % 65535 + 1);
}

} // namespace

void session_state::restore(delivery d, std::uint16_t packet_id, state_journal::stage st) {
    if (st == stage::queued) {
        // Sent in order, at most a window at a time, and a send with the seq's own id is not
        // journalled (see send): one of the first window may have reached the client [MQTT-3.3.1-1].
        if (queued() + inflight() < limits_->max_inflight) {
            d.maybe_sent = true;
        }
        q().queue.push_back(std::move(d));
    } else {
        q().inflight.push_back({packet_id, st, std::move(d)});
    }
}

bool session_state::has_room(std::uint8_t qos, const net::write_queue& out) const noexcept {
    return out.size() < limits_->max_outbound_bytes && (qos == 0 || !window_full());
}

bool session_state::send(delivery d, net::write_queue& out) {
    if (has_expired(*d.msg)) {
        forget(d);
        return true; // [MQTT-3.3.2-5]
    }
    const auto id = d.qos == 0 ? std::uint16_t{0} : next_packet_id(d.seq);
    if (!write_publish(d, d.maybe_sent, id, out)) {
        // Too big for the client: dropped as if it had been delivered [MQTT-3.1.2-25].
        ++dropped_;
        forget(d);
        return false;
    }
    if (d.qos > 0) {
        const auto st = d.qos == 1 ? stage::awaiting_puback : stage::awaiting_pubrec;
        // Restored as queued, a delivery goes out again with DUP and the id its seq gives
        // (restore): only a send with another id needs a record, which saves a write for
        // nearly every durable delivery the client has not acknowledged by the next commit.
        if (journal_ != nullptr && d.seq != 0 && id != seq_packet_id(d.seq)) {
            journal_->sent(sid_, d.seq, id, st);
        }
        q().inflight.push_back({id, st, std::move(d)});
    }
    return true;
}

void session_state::pump(net::write_queue& out) {
    if (!q_) {
        return; // nothing was ever queued
    }
    while (!q().queue.empty() && has_room(q().queue.front().qos, out)) {
        auto d = std::move(q().queue.front());
        q().queue.pop_front();
        send(std::move(d), out); // a message too big for the client is counted and skipped
    }
}

fifo<session_state::inflight_entry>::iterator session_state::find(std::uint16_t id) {
    return std::find_if(q().inflight.begin(), q().inflight.end(),
                        [id](const inflight_entry& e) { return e.id == id; });
}

std::uint16_t session_state::next_packet_id(std::uint64_t seq) {
    const auto in_use = [this](std::uint16_t id) { return find(id) != q().inflight.end(); };
    if (seq != 0) {
        // A durable delivery's id follows from its seq, so that after a crash that lost the
        // record of it sent, it goes out again with the id the client saw: a QoS 2 receiver
        // that holds that id does not deliver it twice [MQTT-4.3.3-2].
        const auto derived = seq_packet_id(seq);
        if (!in_use(derived)) {
            return derived;
        }
    }
    // window_full() keeps fewer than 65535 ids in flight, so one is always free.
    return ids_.allocate(in_use);
}

session_state::ack_result session_state::on_puback(std::uint16_t id, net::write_queue& out) {
    auto it = find(id);
    if (it == q().inflight.end()) {
        return ack_result::unknown_id;
    }
    if (it->st != stage::awaiting_puback) {
        return ack_result::wrong_type; // a PUBACK for a QoS 2 delivery
    }
    forget(it->d);
    q().inflight.erase(it);
    pump(out);
    return ack_result::accepted;
}

session_state::ack_result session_state::on_pubrec(std::uint16_t id, net::write_queue& out,
                                                   std::uint8_t reason_code) {
    auto it = find(id);
    if (it == q().inflight.end()) {
        return ack_result::unknown_id;
    }
    if (it->st == stage::awaiting_puback) {
        return ack_result::wrong_type; // a PUBREC for a QoS 1 delivery
    }
    if (reason_code >= 0x80) {
        forget(it->d);
        q().inflight.erase(it); // the client refused it: the exchange ends here [MQTT-4.3.3]
        pump(out);
        return ack_result::accepted;
    }
    // A repeated PUBREC (awaiting_pubcomp) is answered with PUBREL again.
    if (it->st != stage::awaiting_pubcomp && journal_ != nullptr && it->d.seq != 0) {
        journal_->sent(sid_, it->d.seq, id, stage::awaiting_pubcomp);
    }
    it->st = stage::awaiting_pubcomp;
    it->d.msg.reset(); // the message is delivered; only the id is needed now [MQTT-4.3.3-1]
    codec::encode(codec::pubrel{id}, out.bytes(), peer_.protocol_level);
    return ack_result::accepted;
}

session_state::ack_result session_state::on_pubcomp(std::uint16_t id, net::write_queue& out) {
    auto it = find(id);
    if (it == q().inflight.end()) {
        return ack_result::unknown_id;
    }
    if (it->st != stage::awaiting_pubcomp) {
        return ack_result::wrong_type; // PUBCOMP before PUBREC, or for a QoS 1 delivery
    }
    forget(it->d);
    q().inflight.erase(it);
    pump(out);
    return ack_result::accepted;
}

bool session_state::on_publish_qos2(std::uint16_t id, std::uint8_t reason_code) {
    if (reason_code >= 0x80) {
        return false; // refused: no PUBREL follows, no id to keep
    }
    if (std::find(q().inbound_qos2.begin(), q().inbound_qos2.end(), id) != q().inbound_qos2.end()) {
        return false; // a resend before PUBREL: acknowledge, do not deliver again
    }
    q().inbound_qos2.push_back(id);
    if (journal_ != nullptr) {
        journal_->inbound(sid_, id, true); // exactly once, across a restart too
    }
    return true;
}

std::uint8_t session_state::on_pubrel(std::uint16_t id) {
    if (!q_) {
        return 0x92;
    }
    auto it = std::find(q_->inbound_qos2.begin(), q_->inbound_qos2.end(), id);
    if (it == q_->inbound_qos2.end()) {
        // PUBCOMP even for an unknown id [MQTT-4.3.3-1]; 5.0 says Packet Identifier not found.
        return 0x92;
    }
    *it = q_->inbound_qos2.back();
    q_->inbound_qos2.pop_back();
    if (journal_ != nullptr) {
        journal_->inbound(sid_, id, false);
    }
    return 0;
}

void session_state::resume(net::write_queue& out) {
    if (!q_) {
        return;
    }
    for (const auto& e : q().inflight) {
        if (e.st == stage::awaiting_pubcomp) {
            codec::encode(codec::pubrel{e.id}, out.bytes(), peer_.protocol_level);
        } else {
            write_publish(e.d, true, e.id, out); // [MQTT-4.4.0-1]
        }
    }
    pump(out);
}

std::vector<delivery> session_state::take_undelivered() {
    std::vector<delivery> out;
    if (!q_) {
        return out;
    }
    for (auto& e : q_->inflight) {
        if (e.st != stage::awaiting_pubcomp) {
            out.push_back(std::move(e.d));
        }
    }
    q_->inflight.clear();
    for (auto& d : q_->queue) {
        out.push_back(std::move(d));
    }
    q_->queue.clear();
    return out;
}

} // namespace edgemq::broker::protocol
