// SPDX-License-Identifier: Apache-2.0
#include "edgemq/broker/protocol/server_session.hpp"

#include "edgemq/broker/codec/encode.hpp"
#include "edgemq/broker/error.hpp"
#include "edgemq/broker/hex.hpp"
#include "edgemq/broker/routing/topic.hpp"

#include <algorithm>
#include <random>
#include <type_traits>
#include <variant>

namespace edgemq::broker::protocol {
namespace {

std::string assigned_client_id() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::string id = "edgemq-";
    for (int i = 0; i < 16; ++i) {
        id += hex_digits[rng() & 0x0f];
    }
    return id;
}

} // namespace

boost::system::error_code server_session::check_header(const codec::fixed_header& h) const {
    // Before CONNECT, only a CONNECT of at most max_connect_size: refused at its fixed header,
    // before a byte of its body is buffered.
    if (!authenticated() && h.type() != codec::packet_type::connect) {
        return errc::first_packet_not_connect; // [MQTT-3.1.0-1]
    }
    if (!authenticated() &&
        h.packet_size() > std::min(actions_->limits().max_connect_size, actions_->limits().max_packet_size)) {
        return errc::unauthenticated_limit;
    }
    if (h.packet_size() > actions_->limits().max_packet_size) {
        return errc::packet_too_large;
    }
    return {};
}

void server_session::on_read(clock::time_point now) noexcept {
    if (authenticated()) {
        last_read_ = now; // before CONNECT it stays the accept time
    }
}

void server_session::on_progress(clock::time_point now, bool took_packets,
                                 bool incomplete) noexcept {
    if (!incomplete) {
        receiving_since_ = {};
    } else if (took_packets || receiving_since_ == clock::time_point{}) {
        receiving_since_ = now; // a new packet began
    }
}

boost::system::error_code server_session::check_deadline(clock::time_point now) const {
    if (stage_ == stage::closed) {
        return {};
    }
    if (!authenticated()) {
        return now >= last_read_ + actions_->limits().connect_timeout
                   ? make_error_code(errc::connect_timeout)
                   : boost::system::error_code{};
    }
    if (receiving_since_ != clock::time_point{} &&
        now >= receiving_since_ + actions_->limits().packet_timeout) {
        return errc::packet_timeout; // a slow drip: keep-alive alone would let it go on
    }
    if (keep_alive_ > 0 && now >= last_read_ + std::chrono::milliseconds(keep_alive_ * 1500)) {
        return errc::keep_alive_timeout; // [MQTT-3.1.2-24]
    }
    return {};
}

void server_session::on_packet(codec::packet p) {
    if (auto* c = std::get_if<codec::connect>(&p)) {
        if (stage_ != stage::awaiting_connect) {
            close(errc::protocol_error); // a second CONNECT [MQTT-3.1.0-2]
            return;
        }
        on_connect(*c);
        return;
    }
    // check_header refused anything else before CONNECT [MQTT-3.1.0-1]; the owner reads
    // nothing while the session is attaching.
    std::visit(
        [this](auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, codec::publish>) {
                on_publish(v);
            } else if constexpr (std::is_same_v<T, codec::puback>) {
                on_ack(session_->state.on_puback(v.packet_id, out_));
            } else if constexpr (std::is_same_v<T, codec::pubrec>) {
                on_ack(session_->state.on_pubrec(v.packet_id, out_));
            } else if constexpr (std::is_same_v<T, codec::pubrel>) {
                session_->state.on_pubrel(v.packet_id, out_);
            } else if constexpr (std::is_same_v<T, codec::pubcomp>) {
                on_ack(session_->state.on_pubcomp(v.packet_id, out_));
            } else if constexpr (std::is_same_v<T, codec::subscribe>) {
                on_subscribe(v);
            } else if constexpr (std::is_same_v<T, codec::unsubscribe>) {
                on_unsubscribe(v);
            } else if constexpr (std::is_same_v<T, codec::pingreq>) {
                codec::encode(codec::pingresp{}, out_.bytes()); // [MQTT-3.12.4-1]
            } else if constexpr (std::is_same_v<T, codec::disconnect>) {
                will_.reset(); // [MQTT-3.14.4-3]
                close({});
            } else {
                // CONNACK, SUBACK, UNSUBACK, PINGRESP only travel server to client.
                close(errc::protocol_error);
            }
        },
        p);
}

void server_session::fail(boost::system::error_code ec) {
    if (ec == errc::unsupported_protocol_version && !authenticated()) {
        refuse(codec::connect_return_code::unacceptable_protocol_version, ec, {}); // [MQTT-3.1.2-2]
        return;
    }
    close(ec);
}

void server_session::on_connect(codec::connect& p) {
    if (p.protocol_level == codec::protocol_level_5) {
        // The codec reads 5.0, the session does not speak it yet (issue 17): refuse in the
        // CONNACK a 5.0 client parses, 0x84, so that it can fall back [MQTT-3.1.2-2].
        protocol_level_ = p.protocol_level; // what was written is read as 5.0
        const auto code = static_cast<codec::connect_return_code>(
            codec::reason_code::unsupported_protocol_version);
        codec::encode(codec::connack{false, code}, out_.bytes(), codec::protocol_level_5);
        stage_ = stage::closing;
        actions_->refused(code, errc::unsupported_protocol_version, p.client_id);
        return;
    }
    if (p.protocol_level == codec::protocol_level_31 &&
        (p.client_id.empty() || p.client_id.size() > 23)) {
        // MQTT 3.1 (section 3.1): a client id of 1 to 23 characters.
        refuse(codec::connect_return_code::identifier_rejected, errc::protocol_error, p.client_id);
        return;
    }
    if (p.client_id.empty()) {
        if (!p.clean_session) {
            refuse(codec::connect_return_code::identifier_rejected, // [MQTT-3.1.3-8]
                   errc::protocol_error, p.client_id);
            return;
        }
        p.client_id = assigned_client_id(); // [MQTT-3.1.3-6]
    }
    auto access = authenticate(p);
    if (!access) {
        return; // refused
    }
    if (p.will && !may_publish(access->get(), p.client_id, p.will->topic)) {
        // As Mosquitto: a will the client could not publish itself refuses the CONNECT.
        if (!p.will->topic.starts_with("$SYS")) {
            actions_->count(server_actions::event::publish_denied);
        }
        refuse(codec::connect_return_code::not_authorized, errc::will_not_authorized,
               p.client_id);
        return;
    }
    protocol_level_ = p.protocol_level;
    keep_alive_ = std::min(p.keep_alive, actions_->limits().max_keepalive);
    if (p.will) {
        will_ = std::make_unique<codec::will_message>(std::move(*p.will));
    }
    stage_ = stage::attaching; // from here on, packets other than CONNECT are allowed
    actions_->attach({std::move(p.client_id), p.clean_session, std::move(*access)});
}

std::optional<std::shared_ptr<const client_access>>
server_session::authenticate(const codec::connect& p) {
    const auto rules = actions_->rules();
    std::optional<std::string> user = p.username;
    if (rules.use_identity_as_username) {
        user = rules.certificate_identity; // the CONNECT's user name and password are ignored
        if (!user) {
            refuse(codec::connect_return_code::not_authorized, errc::not_authorized, p.client_id);
            return std::nullopt;
        }
    } else if (user) {
        // A CONNECT without a password never matches, not even an empty one (as Mosquitto).
        if (rules.passwords && (!p.password || !rules.passwords->verify(*user, *p.password))) {
            actions_->login_refused(p.client_id, *user);
            refuse(codec::connect_return_code::bad_username_or_password,
                   errc::bad_username_or_password, p.client_id);
            return std::nullopt;
        }
        if (!rules.passwords && !rules.anonymous_allowed) {
            // Nothing to check the name against: the client is anonymous, whatever it claims.
            actions_->login_refused(p.client_id, *user);
            refuse(codec::connect_return_code::not_authorized, errc::not_authorized, p.client_id);
            return std::nullopt;
        }
    } else if (!rules.anonymous_allowed) {
        actions_->login_refused(p.client_id, "");
        refuse(codec::connect_return_code::not_authorized, errc::not_authorized, p.client_id);
        return std::nullopt;
    }
    if (!user && !rules.acl) {
        return std::shared_ptr<const client_access>{}; // nothing to remember: no allocation
    }
    return std::make_shared<const client_access>(client_access{std::move(user), rules.acl});
}

void server_session::on_attached(std::shared_ptr<session_core> s, bool session_present,
                                 clock::time_point now) {
    session_ = std::move(s);
    stage_ = stage::connected;
    last_read_ = now; // keep-alive counts from here
    // MQTT 3.1's CONNACK has no session-present flag: its first byte is reserved (3.1, 3.2).
    codec::encode(codec::connack{session_present && protocol_level_ != codec::protocol_level_31,
                                 codec::connect_return_code::accepted},
                  out_.bytes());
    if (session_present) {
        session_->state.resume(out_); // [MQTT-4.4.0-1]
    }
}

bool server_session::on_ack(session_state::ack_result r) {
    if (r == session_state::ack_result::wrong_type) {
        close(errc::protocol_error); // e.g. PUBREC for a QoS 1 PUBLISH [MQTT-4.3]
        return false;
    }
    return true;
}

void server_session::on_publish(codec::publish& p) {
    actions_->count(server_actions::event::publish_received);
    // Clients do not write the broker's own $SYS tree; the ACL may forbid other topics. 3.1.1
    // has no way to refuse a PUBLISH, so a denied one is acknowledged and dropped.
    const bool deliver = may_publish(access(), session_->client_id, p.topic);
    if (!deliver && !p.topic.starts_with("$SYS")) {
        actions_->count(server_actions::event::publish_denied);
    }
    bool fresh = true;
    if (p.qos == 1) {
        codec::encode(codec::puback{p.packet_id}, out_.bytes()); // [MQTT-4.3.2-2]
    } else if (p.qos == 2) {
        fresh = session_->state.on_publish_qos2(p.packet_id, out_); // [MQTT-4.3.3-2]
    }
    if (deliver && fresh) {
        actions_->route(make_message(std::move(p.topic), std::move(p.payload), p.qos, p.retain));
    }
}

void server_session::on_subscribe(const codec::subscribe& p) {
    codec::suback ack{p.packet_id, {}};
    ack.return_codes.reserve(p.subscriptions.size());
    for (const auto& s : p.subscriptions) {
        if (!routing::is_valid_topic_filter(s.filter) ||
            !may_subscribe(access(), session_->client_id, s.filter)) {
            ack.return_codes.push_back(codec::suback_failure); // [MQTT-3.9.3]
            continue;
        }
        actions_->subscribe(s.filter, s.qos);
        ack.return_codes.push_back(s.qos); // [MQTT-3.9.3-1] in request order
    }
    codec::encode(ack, out_.bytes());
    // Retained messages follow the SUBACK, with the retain flag set [MQTT-3.3.1-6/8].
    for (std::size_t i = 0; i < p.subscriptions.size(); ++i) {
        const auto granted = ack.return_codes[i];
        if (granted == codec::suback_failure) {
            continue;
        }
        for (auto& m : actions_->retained_for(p.subscriptions[i].filter)) {
            if (!may_receive(access(), session_->client_id, m->topic)) {
                continue;
            }
            const auto qos = std::min(granted, m->qos);
            session_->state.deliver({std::move(m), qos, true}, &out_);
        }
    }
}

void server_session::on_unsubscribe(const codec::unsubscribe& p) {
    for (const auto& f : p.filters) {
        actions_->unsubscribe(f);
    }
    codec::encode(codec::unsuback{p.packet_id}, out_.bytes()); // [MQTT-3.10.4-4]
}

void server_session::refuse(codec::connect_return_code code, boost::system::error_code reason,
                            std::string_view id) {
    codec::encode(codec::connack{false, code}, out_.bytes()); // [MQTT-3.2.2-4]
    stage_ = stage::closing;
    actions_->refused(code, reason, id);
}

void server_session::close(boost::system::error_code reason) {
    if (stage_ == stage::closed) {
        return;
    }
    stage_ = stage::closed;
    actions_->close(reason);
}

void server_session::on_closed() {
    stage_ = stage::closed;
    if (!will_ || session_ == nullptr) {
        return; // no will, or closed before the session was attached
    }
    auto will = std::move(will_);
    // A reload may have narrowed the ACL since CONNECT.
    const auto acl = actions_->rules().acl;
    const auto* a = access();
    if (may_publish(acl.get(), a ? a->username : std::nullopt, session_->client_id,
                    will->topic)) {
        actions_->route(make_message(std::move(will->topic), std::move(will->payload), will->qos,
                                     will->retain));
    } else {
        actions_->count(server_actions::event::publish_denied);
    }
}

} // namespace edgemq::broker::protocol
