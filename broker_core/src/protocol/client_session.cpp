// SPDX-License-Identifier: Apache-2.0
#include "edgemq/broker/protocol/client_session.hpp"

#include "edgemq/broker/codec/encode.hpp"
#include "edgemq/broker/error.hpp"

#include <algorithm>
#include <variant>

namespace edgemq::broker::protocol {

void client_session::connect(clock::time_point now, net::write_queue& out) {
    codec::connect c;
    c.protocol_level =
        static_cast<std::uint8_t>(codec::protocol_level_311 | (options_.bridge ? 0x80 : 0));
    c.clean_session = options_.clean_session;
    c.keep_alive = options_.keep_alive;
    c.client_id = options_.client_id;
    c.username = options_.username;
    c.password = options_.password;
    c.will = options_.will;
    codec::encode(c, out.bytes()); // the first packet on the connection [MQTT-3.1.0-1]
    stage_ = stage::awaiting_connack;
    ping_outstanding_ = false;
    last_read_ = last_write_ = now;
}

void client_session::on_packet(codec::packet p, clock::time_point now, net::write_queue& out) {
    if (stage_ == stage::awaiting_connack) {
        if (const auto* ack = std::get_if<codec::connack>(&p)) {
            on_connack(*ack, now, out);
        } else {
            fail(errc::protocol_error); // the first packet from the server [MQTT-3.2.0-1]
        }
        return;
    }
    if (stage_ == stage::disconnecting) {
        // Our DISCONNECT is queued: only what acknowledges a message still counts.
        if (const auto* ack = std::get_if<codec::puback>(&p)) {
            on_puback(ack->packet_id);
        } else if (const auto* comp = std::get_if<codec::pubcomp>(&p)) {
            on_pubcomp(comp->packet_id);
        }
        return;
    }
    if (stage_ != stage::connected) {
        return; // closed: what was read after it does not count
    }
    std::visit(
        [&](auto& packet) {
            using type = std::decay_t<decltype(packet)>;
            if constexpr (std::is_same_v<type, codec::publish>) {
                on_publish(std::move(packet), out);
            } else if constexpr (std::is_same_v<type, codec::puback>) {
                on_puback(packet.packet_id);
            } else if constexpr (std::is_same_v<type, codec::pubrec>) {
                on_pubrec(packet.packet_id, out);
            } else if constexpr (std::is_same_v<type, codec::pubrel>) {
                auto it = std::ranges::find(inbound_qos2_, packet.packet_id);
                if (it != inbound_qos2_.end()) {
                    *it = inbound_qos2_.back();
                    inbound_qos2_.pop_back();
                }
                // Even for an unknown id: the PUBCOMP may have been lost [MQTT-4.3.3-2].
                codec::encode(codec::pubcomp{packet.packet_id}, out.bytes());
            } else if constexpr (std::is_same_v<type, codec::pubcomp>) {
                on_pubcomp(packet.packet_id);
            } else if constexpr (std::is_same_v<type, codec::suback>) {
                on_suback(packet);
            } else if constexpr (std::is_same_v<type, codec::pingresp> ||
                                 std::is_same_v<type, codec::unsuback>) {
                // Liveness only (on_read); an UNSUBACK, which we never ask for, is ignored.
            } else {
                // CONNECT, a second CONNACK, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT: never
                // from a server; a protocol violation closes [MQTT-4.8.0-1].
                fail(errc::protocol_error);
            }
        },
        p);
}

void client_session::on_connack(const codec::connack& p, clock::time_point now,
                                net::write_queue& out) {
    if (p.code != codec::connect_return_code::accepted) {
        stage_ = stage::closed; // the server closes after a refusal [MQTT-3.2.2-5]
        actions_->refused(p.code);
        return;
    }
    stage_ = stage::connected;
    last_read_ = last_write_ = now;
    const auto resent = resend(p.session_present, out);
    actions_->connected(p.session_present, resent);
}

std::size_t client_session::resend(bool session_present, net::write_queue& out) {
    if (!session_present) {
        inbound_qos2_.clear(); // the server forgot its side of those exchanges too
    }
    std::size_t publishes = 0;
    // In the order first sent [MQTT-4.6.0-1], with the original ids [MQTT-4.4.0-1].
    for (auto& e : inflight_) {
        if (!session_present && e.at == step::awaiting_pubcomp) {
            // The server forgot the PUBLISH it had PUBREC'd: start over. msg was kept for this
            // case (see on_pubrec).
            e.at = step::awaiting_pubrec;
        }
        if (e.at == step::awaiting_pubcomp) {
            codec::encode(codec::pubrel{e.id}, out.bytes()); // PUBREL again [MQTT-4.4.0-1]
        } else {
            out.append_publish(e.msg, e.msg->qos, e.msg->retain, true, e.id); // DUP [MQTT-3.3.1-1]
            ++publishes;
        }
    }
    return publishes;
}

void client_session::on_publish(codec::publish p, net::write_queue& out) {
    if (p.qos == 0) {
        actions_->deliver(std::move(p));
        return;
    }
    const auto id = p.packet_id;
    if (p.qos == 1) {
        actions_->deliver(std::move(p));
        codec::encode(codec::puback{id}, out.bytes()); // [MQTT-4.3.2-2]
        return;
    }
    // QoS 2: delivered once, at the first PUBLISH of this id; a resend before the PUBREL is
    // acknowledged again but not delivered again [MQTT-4.3.3-2].
    if (std::ranges::find(inbound_qos2_, id) == inbound_qos2_.end()) {
        inbound_qos2_.push_back(id);
        actions_->deliver(std::move(p));
    }
    codec::encode(codec::pubrec{id}, out.bytes()); // [MQTT-4.3.3-2]
}

void client_session::on_puback(std::uint16_t id) {
    const auto it = find(id);
    if (it == inflight_.end()) {
        return; // a late duplicate of an acknowledgement already taken
    }
    if (it->at != step::awaiting_puback) {
        fail(errc::protocol_error); // a PUBACK for a QoS 2 message [MQTT-4.3.2-1], [MQTT-4.8.0-1]
        return;
    }
    finish(it);
}

void client_session::on_pubrec(std::uint16_t id, net::write_queue& out) {
    const auto it = find(id);
    if (it != inflight_.end()) {
        if (it->at == step::awaiting_puback) {
            fail(errc::protocol_error); // a PUBREC for a QoS 1 message [MQTT-4.8.0-1]
            return;
        }
        // A repeated PUBREC (awaiting_pubcomp) is answered with PUBREL again. The message is
        // kept: a server that forgets the session forgets this PUBLISH too (resend()).
        it->at = step::awaiting_pubcomp;
    }
    // PUBREL also for an unknown id, so that a server left with the PUBLISH (after we lost
    // the window) can let go of it [MQTT-4.3.3-1].
    codec::encode(codec::pubrel{id}, out.bytes());
}

void client_session::on_pubcomp(std::uint16_t id) {
    const auto it = find(id);
    if (it == inflight_.end()) {
        return;
    }
    if (it->at != step::awaiting_pubcomp) {
        // PUBCOMP before PUBREC, or for a QoS 1 message [MQTT-4.3.3-1], [MQTT-4.8.0-1].
        fail(errc::protocol_error);
        return;
    }
    finish(it);
}

void client_session::on_suback(const codec::suback& p) {
    std::erase(subscribes_, p.packet_id);
    actions_->subscribed(p.return_codes);
}

void client_session::finish(fifo<inflight_entry>::iterator it) {
    const auto token = it->token;
    inflight_.erase(it);
    if (token) {
        --tracked_;
        actions_->acknowledged(*token);
    }
}

void client_session::fail(boost::system::error_code reason) {
    stage_ = stage::closed;
    actions_->close(reason);
}

void client_session::on_read(clock::time_point now) noexcept {
    last_read_ = now;
    ping_outstanding_ = false; // any packet shows the server alive, not only PINGRESP
}

void client_session::on_written(clock::time_point now) noexcept {
    last_write_ = now;
}

void client_session::on_timer(clock::time_point now, net::write_queue& out) {
    if (stage_ != stage::connected || options_.keep_alive == 0) {
        return;
    }
    const auto keep_alive = std::chrono::seconds(options_.keep_alive);
    if (ping_outstanding_ && now - ping_sent_ > keep_alive) {
        fail(errc::keep_alive_timeout);
        return;
    }
    // Ping when idle either way: the server wants a packet within the keep-alive
    // [MQTT-3.1.2-23], and a client that only writes would not notice a dead server otherwise.
    if (!ping_outstanding_ && (now - last_write_ >= keep_alive || now - last_read_ >= keep_alive)) {
        codec::encode(codec::pingreq{}, out.bytes());
        ping_outstanding_ = true;
        ping_sent_ = now;
    }
}

void client_session::connection_lost() noexcept {
    stage_ = stage::disconnected;
    ping_outstanding_ = false;
    subscribes_.clear();
    // Untracked messages (tokenless) belong to the connection that sent them.
    for (auto it = inflight_.begin(); it != inflight_.end();) {
        if (it->token) {
            ++it;
        } else {
            inflight_.erase(it);
            it = inflight_.begin(); // erase() may compact the fifo; untracked entries are few
        }
    }
}

bool client_session::publish(const message_ptr& m, std::optional<std::int64_t> token,
                             net::write_queue& out) {
    if (m->qos == 0) {
        out.append_publish(m, 0, m->retain, false, 0);
        return true;
    }
    const auto id = next_packet_id();
    if (id == 0) {
        return false;
    }
    // Unacknowledged until PUBACK / PUBCOMP [MQTT-4.3.2-1], [MQTT-4.3.3-1].
    out.append_publish(m, m->qos, m->retain, false, id);
    const auto at = m->qos == 1 ? step::awaiting_puback : step::awaiting_pubrec;
    inflight_.push_back({id, at, token, m});
    if (token) {
        ++tracked_;
    }
    return true;
}

void client_session::subscribe(const std::vector<codec::subscription>& filters,
                               net::write_queue& out) {
    if (filters.empty()) {
        return; // a SUBSCRIBE needs at least one filter [MQTT-3.8.3-3]
    }
    const auto id = next_packet_id();
    if (id == 0) {
        return;
    }
    subscribes_.push_back(id);
    codec::encode(codec::subscribe{id, filters}, out.bytes());
}

void client_session::disconnect(net::write_queue& out) {
    // The owner closes once it is out [MQTT-3.14.4-1].
    codec::encode(codec::disconnect{}, out.bytes());
    stage_ = stage::disconnecting;
}

fifo<client_session::inflight_entry>::iterator client_session::find(std::uint16_t id) {
    return std::find_if(inflight_.begin(), inflight_.end(),
                        [id](const inflight_entry& e) { return e.id == id; });
}

std::uint16_t client_session::next_packet_id() {
    return ids_.allocate([this](std::uint16_t id) {
        return find(id) != inflight_.end() ||
               std::ranges::find(subscribes_, id) != subscribes_.end();
    });
}

} // namespace edgemq::broker::protocol
