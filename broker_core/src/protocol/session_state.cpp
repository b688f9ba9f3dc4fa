// SPDX-License-Identifier: Apache-2.0
#include "edgemq/broker/protocol/session_state.hpp"

#include <algorithm>

namespace edgemq::broker::protocol {

bool session_state::deliver(delivery d, net::write_queue* out) {
    if (d.qos == 0) {
        if (out != nullptr) {
            if (out->size() > limits_->max_outbound_bytes) {
                ++dropped_; // a subscriber that cannot keep up loses QoS 0 first
                return false;
            }
            out->append_publish(d.msg, 0, d.retain, false, 0);
            return true;
        }
        if (!limits_->queue_qos0) {
            return false; // not queued for offline clients unless configured; not a drop
        }
    }
    if (out != nullptr && d.qos > 0 && q().queue.empty() && !window_full()) {
        send(std::move(d), *out);
        return true;
    }
    if (limits_->max_queued != 0 && q().queue.size() >= limits_->max_queued) {
        ++dropped_;
        return false;
    }
    q().queue.push_back(std::move(d));
    return true;
}

void session_state::send(delivery d, net::write_queue& out) {
    if (d.qos == 0) {
        out.append_publish(d.msg, 0, d.retain, false, 0);
        return;
    }
    const auto id = next_packet_id();
    out.append_publish(d.msg, d.qos, d.retain, false, id);
    const auto st = d.qos == 1 ? stage::awaiting_puback : stage::awaiting_pubrec;
    q().inflight.push_back({id, st, std::move(d)});
}

void session_state::pump(net::write_queue& out) {
    if (!q_) {
        return; // nothing was ever queued
    }
    while (!q().queue.empty() && (q().queue.front().qos == 0 || !window_full())) {
        auto d = std::move(q().queue.front());
        q().queue.pop_front();
        send(std::move(d), out);
    }
}

fifo<session_state::inflight_entry>::iterator session_state::find(std::uint16_t id) {
    return std::find_if(q().inflight.begin(), q().inflight.end(),
                        [id](const inflight_entry& e) { return e.id == id; });
}

std::uint16_t session_state::next_packet_id() {
    // window_full() keeps fewer than 65535 ids in flight, so one is always free.
    return ids_.allocate([this](std::uint16_t id) { return find(id) != q().inflight.end(); });
}

session_state::ack_result session_state::on_puback(std::uint16_t id, net::write_queue& out) {
    auto it = find(id);
    if (it == q().inflight.end()) {
        return ack_result::unknown_id;
    }
    if (it->st != stage::awaiting_puback) {
        return ack_result::wrong_type; // a PUBACK for a QoS 2 delivery
    }
    q().inflight.erase(it);
    pump(out);
    return ack_result::accepted;
}

session_state::ack_result session_state::on_pubrec(std::uint16_t id, net::write_queue& out) {
    auto it = find(id);
    if (it == q().inflight.end()) {
        return ack_result::unknown_id;
    }
    if (it->st == stage::awaiting_puback) {
        return ack_result::wrong_type; // a PUBREC for a QoS 1 delivery
    }
    // A repeated PUBREC (awaiting_pubcomp) is answered with PUBREL again.
    it->st = stage::awaiting_pubcomp;
    it->d.msg.reset(); // the message is delivered; only the id is needed now [MQTT-4.3.3-1]
    codec::encode(codec::pubrel{id}, out.bytes());
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
    q().inflight.erase(it);
    pump(out);
    return ack_result::accepted;
}

bool session_state::on_publish_qos2(std::uint16_t id, net::write_queue& out) {
    codec::encode(codec::pubrec{id}, out.bytes());
    if (std::find(q().inbound_qos2.begin(), q().inbound_qos2.end(), id) != q().inbound_qos2.end()) {
        return false; // a resend before PUBREL: acknowledge, do not deliver again
    }
    q().inbound_qos2.push_back(id);
    return true;
}

void session_state::on_pubrel(std::uint16_t id, net::write_queue& out) {
    auto it = std::find(q().inbound_qos2.begin(), q().inbound_qos2.end(), id);
    if (it != q().inbound_qos2.end()) {
        *it = q().inbound_qos2.back();
        q().inbound_qos2.pop_back();
    }
    codec::encode(codec::pubcomp{id}, out.bytes()); // even for an unknown id [MQTT-4.3.3-1]
}

void session_state::resume(net::write_queue& out) {
    if (!q_) {
        return;
    }
    for (const auto& e : q().inflight) {
        if (e.st == stage::awaiting_pubcomp) {
            codec::encode(codec::pubrel{e.id}, out.bytes());
        } else {
            out.append_publish(e.d.msg, e.d.qos, e.d.retain, true, e.id); // [MQTT-4.4.0-1]
        }
    }
    pump(out);
}

} // namespace edgemq::broker::protocol
