// SPDX-License-Identifier: Apache-2.0
#include "edgemq/broker/protocol/client_session.hpp"

#include "edgemq/broker/codec/encode.hpp"
#include "edgemq/broker/error.hpp"

#include <algorithm>
#include <variant>

namespace edgemq::broker::protocol {
namespace {

/// What a 5.0 server said in words about a refusal; empty when nothing (3.1.1: always).
std::string_view reason_string(const codec::property_set& props) {
    const auto& s = props->reason_string;
    return s ? std::string_view{*s} : std::string_view{};
}

} // namespace

void client_session::connect(clock::time_point now, net::write_queue& out) {
    codec::connect c;
    c.protocol_level =
        static_cast<std::uint8_t>(options_.protocol_level | (bridge_bit() ? 0x80 : 0));
    c.clean_session = options_.clean_session;
    c.keep_alive = options_.keep_alive;
    c.client_id = options_.client_id;
    c.username = options_.username;
    c.password = options_.password;
    c.will = options_.will;
    if (is_v5()) {
        auto& props = c.props.edit();
        if (options_.session_expiry_interval != 0) {
            props.session_expiry_interval = options_.session_expiry_interval;
        }
        if (options_.maximum_packet_size != 0) {
            props.maximum_packet_size = options_.maximum_packet_size;
        }
    }
    codec::encode(c, out.bytes()); // the first packet on the connection [MQTT-3.1.0-1]
    stage_ = stage::awaiting_connack;
    server_ = {};
    keep_alive_ = options_.keep_alive;
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
            on_puback(*ack);
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
                on_puback(packet);
            } else if constexpr (std::is_same_v<type, codec::pubrec>) {
                on_pubrec(packet, out);
            } else if constexpr (std::is_same_v<type, codec::pubrel>) {
                auto it = std::ranges::find(inbound_qos2_, packet.packet_id);
                if (it != inbound_qos2_.end()) {
                    *it = inbound_qos2_.back();
                    inbound_qos2_.pop_back();
                }
                // Even for an unknown id: the PUBCOMP may have been lost [MQTT-4.3.3-2].
                codec::encode(codec::pubcomp{packet.packet_id}, out.bytes(), level());
            } else if constexpr (std::is_same_v<type, codec::pubcomp>) {
                on_pubcomp(packet.packet_id);
            } else if constexpr (std::is_same_v<type, codec::suback>) {
                on_suback(packet);
            } else if constexpr (std::is_same_v<type, codec::disconnect>) {
                if (is_v5()) {
                    stage_ = stage::closed; // a 5.0 server says why it closes [MQTT-3.14]
                    actions_->disconnected(packet.reason_code, reason_string(packet.props));
                } else {
                    fail(errc::protocol_error); // 3.1.1 servers never send one [MQTT-4.8.0-1]
                }
            } else if constexpr (std::is_same_v<type, codec::pingresp> ||
                                 std::is_same_v<type, codec::unsuback>) {
                // Liveness only (on_read); an UNSUBACK, which we never ask for, is ignored.
            } else {
                // CONNECT, a second CONNACK, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, AUTH (we ask for no
                // enhanced authentication), a 3.1.1 DISCONNECT: never from a server; a protocol
                // violation closes [MQTT-4.8.0-1].
                fail(errc::protocol_error);
            }
        },
        p);
}

void client_session::on_connack(const codec::connack& p, clock::time_point now,
                                net::write_queue& out) {
    if (p.code != codec::connect_return_code::accepted) {
        stage_ = stage::closed; // the server closes after a refusal [MQTT-3.2.2-5]
        actions_->refused(p.code, reason_string(p.props));
        return;
    }
    if (is_v5()) {
        const auto& props = p.props.get();
        server_.receive_maximum = props.receive_maximum.value_or(65535);
        server_.maximum_packet_size = props.maximum_packet_size.value_or(server_.maximum_packet_size);
        server_.maximum_qos = props.maximum_qos.value_or(2);
        server_.retain_available = props.retain_available.value_or(1) != 0;
        if (props.server_keep_alive) {
            keep_alive_ = *props.server_keep_alive; // the server's, not ours [MQTT-3.2.2-21]
        }
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
            codec::encode(codec::pubrel{e.id}, out.bytes(), level()); // PUBREL again [MQTT-4.4.0-1]
        } else {
            write_publish(e.msg, e.msg->qos, e.msg->retain, true, e.id, out); // DUP [MQTT-3.3.1-1]
            ++publishes;
        }
    }
    return publishes;
}

void client_session::on_publish(codec::publish p, net::write_queue& out) {
    if (p.props->topic_alias) {
        fail(errc::protocol_error); // our CONNECT allowed no Topic Alias [MQTT-3.3.2-10]
        return;
    }
    if (p.qos == 0) {
        actions_->deliver(std::move(p));
        return;
    }
    const auto id = p.packet_id;
    if (p.qos == 1) {
        actions_->deliver(std::move(p));
        codec::encode(codec::puback{id}, out.bytes(), level()); // [MQTT-4.3.2-2]
        return;
    }
    // QoS 2: delivered once, at the first PUBLISH of this id; a resend before the PUBREL is
    // acknowledged again but not delivered again [MQTT-4.3.3-2].
    if (std::ranges::find(inbound_qos2_, id) == inbound_qos2_.end()) {
        inbound_qos2_.push_back(id);
        actions_->deliver(std::move(p));
    }
    codec::encode(codec::pubrec{id}, out.bytes(), level()); // [MQTT-4.3.3-2]
}

void client_session::on_puback(const codec::puback& p) {
    const auto it = find(p.packet_id);
    if (it == inflight_.end()) {
        return; // a late duplicate of an acknowledgement already taken
    }
    if (it->at != step::awaiting_puback) {
        fail(errc::protocol_error); // a PUBACK for a QoS 2 message [MQTT-4.3.2-1], [MQTT-4.8.0-1]
        return;
    }
    finish(it, p.reason_code, reason_string(p.props));
}

void client_session::on_pubrec(const codec::pubrec& p, net::write_queue& out) {
    const auto id = p.packet_id;
    const auto it = find(id);
    if (it != inflight_.end()) {
        if (it->at == step::awaiting_puback) {
            fail(errc::protocol_error); // a PUBREC for a QoS 1 message [MQTT-4.8.0-1]
            return;
        }
        if (p.reason_code >= 0x80) {
            finish(it, p.reason_code, reason_string(p.props)); // refused: the exchange ends here, no PUBREL [MQTT-4.3.3]
            return;
        }
        // A repeated PUBREC (awaiting_pubcomp) is answered with PUBREL again. The message is
        // kept: a server that forgets the session forgets this PUBLISH too (resend()).
        it->at = step::awaiting_pubcomp;
    }
    // PUBREL also for an unknown id, so that a server left with the PUBLISH (after we lost
    // the window) can let go of it [MQTT-4.3.3-1].
    codec::encode(codec::pubrel{id}, out.bytes(), level());
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

void client_session::finish(fifo<inflight_entry>::iterator it, std::uint8_t reason_code,
                            std::string_view why) {
    const auto token = it->token;
    inflight_.erase(it);
    if (!token) {
        return;
    }
    --tracked_;
    if (reason_code >= 0x80) {
        actions_->rejected(*token, reason_code, why);
    } else {
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
    if (stage_ != stage::connected || keep_alive_ == 0) {
        return;
    }
    const auto keep_alive = std::chrono::seconds(keep_alive_);
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

client_session::publish_result client_session::publish(const message_ptr& original,
                                                       std::optional<std::int64_t> token,
                                                       net::write_queue& out) {
    auto m = original;
    // Never above the server's Maximum QoS [MQTT-3.2.2-11], never retained where it has no
    // retained messages [MQTT-3.2.2-14].
    if (m->qos > server_.maximum_qos || (m->retain && !server_.retain_available)) {
        auto copy = std::make_shared<message>(*m);
        copy->qos = std::min(copy->qos, server_.maximum_qos);
        copy->retain = copy->retain && server_.retain_available;
        m = std::move(copy);
    }
    const auto id = m->qos == 0 ? std::uint16_t{0} : next_packet_id();
    if (m->qos > 0 && id == 0) {
        return publish_result::no_packet_id;
    }
    if (!write_publish(m, m->qos, m->retain, false, id, out)) {
        return publish_result::too_large; // [MQTT-3.2.2-15]
    }
    if (m->qos == 0) {
        return publish_result::written;
    }
    // Unacknowledged until PUBACK / PUBCOMP [MQTT-4.3.2-1], [MQTT-4.3.3-1].
    const auto at = m->qos == 1 ? step::awaiting_puback : step::awaiting_pubrec;
    inflight_.push_back({id, at, token, m});
    if (token) {
        ++tracked_;
    }
    return publish_result::written;
}

bool client_session::write_publish(const message_ptr& m, std::uint8_t qos, bool retain, bool dup,
                                   std::uint16_t id, net::write_queue& out) const {
    if (!is_v5()) {
        out.append_publish(m, qos, retain, dup, id);
        return true;
    }
    static const codec::properties none;
    codec::properties props; // only built when the message has properties to send
    const codec::properties* sent = &none;
    if (has_outbound_properties(*m)) {
        props = outbound_properties(*m);
        sent = &props;
    }
    if (publish_packet_size(*m, qos, sent) > server_.maximum_packet_size) {
        return false;
    }
    out.append_publish(m, qos, retain, dup, id, sent);
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
    codec::encode(codec::subscribe{id, filters}, out.bytes(), level());
}

void client_session::disconnect(net::write_queue& out) {
    // The owner closes once it is out [MQTT-3.14.4-1].
    codec::encode(codec::disconnect{}, out.bytes(), level());
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
