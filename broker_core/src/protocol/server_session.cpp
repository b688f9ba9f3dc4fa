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

using codec::reason_code;

/// A SUBSCRIBE or UNSUBSCRIBE filter no subscription can have: malformed, or `$share/` without a
/// group or a filter after it (`share` is what parse_shared made of it) [MQTT-4.8.2-1/2].
bool malformed_filter(std::string_view filter,
                      const std::optional<routing::shared_filter>& share) {
    return (routing::is_shared(filter) && !share) ||
           !routing::is_valid_topic_filter(share ? share->filter : filter);
}

/// Adds the number of the `i`th filter of a packet to `list` ("1, 3"), for naming_filters.
void add_filter_number(std::string& list, std::size_t i) {
    list += (list.empty() ? "" : ", ") + std::to_string(i + 1);
}

/// A Reason String's part for refused filters: "why: filter 2" or "why: filters 1, 3".
std::string naming_filters(std::string_view why, const std::string& list) {
    return std::string{why} + ": filter" + (list.find(',') == std::string::npos ? " " : "s ") +
           list;
}

/// The 5.0 reason code of a CONNACK that refuses with a 3.1.1 return code [MQTT-3.2.2.2].
std::uint8_t v5_code(codec::connect_return_code c) {
    if (static_cast<std::uint8_t>(c) >= 0x80) {
        return static_cast<std::uint8_t>(c); // a 5.0 reason code that 3.1.1 has no match for
    }
    switch (c) {
    case codec::connect_return_code::accepted:
        return 0x00;
    case codec::connect_return_code::unacceptable_protocol_version:
        return 0x84;
    case codec::connect_return_code::identifier_rejected:
        return 0x85; // Client Identifier not valid
    case codec::connect_return_code::server_unavailable:
        return 0x88;
    case codec::connect_return_code::bad_username_or_password:
        return 0x86;
    case codec::connect_return_code::not_authorized:
        return 0x87;
    }
    return 0x80;
}

/// The reason code of the DISCONNECT that tells a 5.0 client why the server closes; 0 when
/// it gets none (a clean end, a broken stream) [MQTT-3.14.2.1].
std::uint8_t disconnect_code(boost::system::error_code ec) {
    if (ec.category() != broker_category()) {
        return 0;
    }
    switch (static_cast<errc>(ec.value())) {
    case errc::malformed_packet:
    case errc::malformed_remaining_length:
    case errc::reserved_flags:
    case errc::invalid_qos:
    case errc::invalid_utf8:
    case errc::invalid_topic_filter:
        return 0x81;
    case errc::protocol_error:
        return 0x82;
    case errc::invalid_topic_name:
        return 0x90;
    case errc::packet_too_large:
        return 0x95;
    case errc::keep_alive_timeout:
        return 0x8D;
    case errc::session_taken_over:
        return 0x8E;
    case errc::slow_consumer:
        return 0x97; // quota exceeded
    case errc::server_shutting_down:
        return 0x8B;
    case errc::kicked:
        return 0x98; // administrative action
    case errc::not_authorized:
        return 0x87;
    case errc::packet_timeout:
        return 0x80;
    case errc::topic_alias_invalid:
        return 0x94;
    case errc::receive_maximum_exceeded:
        return 0x93;
    case errc::payload_format_invalid:
        return 0x99;
    default:
        return 0;
    }
}

/// A payload its Payload Format Indicator says is UTF-8 must be [MQTT-3.3.2-4].
bool payload_format_ok(const codec::properties& p, std::string_view payload) {
    return p.payload_format_indicator.value_or(0) != 1 || codec::is_well_formed_utf8(payload);
}

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
                on_ack(session_->state.on_pubrec(v.packet_id, out_, v.reason_code));
            } else if constexpr (std::is_same_v<T, codec::pubrel>) {
                const auto mark = actions_->durable_mark();
                const auto code = session_->state.on_pubrel(v.packet_id);
                const auto from = out_.bytes().size();
                auto why = code == 0 ? codec::property_set{}
                                     : explain("packet identifier not found", true);
                codec::encode(codec::pubcomp{v.packet_id, code, std::move(why)}, out_.bytes(),
                              protocol_level_);
                respond(from, mark); // the id is forgotten on disk too
            } else if constexpr (std::is_same_v<T, codec::pubcomp>) {
                on_ack(session_->state.on_pubcomp(v.packet_id, out_));
            } else if constexpr (std::is_same_v<T, codec::subscribe>) {
                on_subscribe(v);
            } else if constexpr (std::is_same_v<T, codec::unsubscribe>) {
                on_unsubscribe(v);
            } else if constexpr (std::is_same_v<T, codec::pingreq>) {
                codec::encode(codec::pingresp{}, out_.bytes()); // [MQTT-3.12.4-1]
            } else if constexpr (std::is_same_v<T, codec::disconnect>) {
                on_disconnect(v);
            } else {
                // CONNACK, SUBACK, UNSUBACK, PINGRESP only travel server to client; AUTH only
                // follows an Authentication Method, which no CONNECT got this far with.
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
    // Bit 7 of the level is the bridge bit (Mosquitto, FlashMQ and EMQX bridges set it).
    protocol_level_ = p.protocol_level & 0x7f; // from here on, what is written is in its layout
    bridge_ = (p.protocol_level & 0x80) != 0;
    if (is_v5() && !check_connect_v5(p)) {
        return;
    }
    if (protocol_level_ == codec::protocol_level_31 &&
        (p.client_id.empty() || p.client_id.size() > 23)) {
        // MQTT 3.1 (section 3.1): a client id of 1 to 23 characters.
        refuse(codec::connect_return_code::identifier_rejected, errc::protocol_error, p.client_id);
        return;
    }
    if (p.client_id.empty()) {
        if (!p.clean_session && !is_v5()) {
            refuse(codec::connect_return_code::identifier_rejected, // [MQTT-3.1.3-8]
                   errc::protocol_error, p.client_id);
            return;
        }
        p.client_id = assigned_client_id(); // [MQTT-3.1.3-6]
        assigned_id_ = true;
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
    asked_keep_alive_ = p.keep_alive;
    keep_alive_ = std::min(p.keep_alive, actions_->limits().max_keepalive);
    std::uint32_t expiry = p.clean_session ? 0 : session_never_expires; // 3.1.1
    if (is_v5()) {
        expiry = p.props->session_expiry_interval.value_or(0); // [MQTT-3.1.2-11]
        peer_.receive_maximum = p.props->receive_maximum.value_or(65535);
    }
    peer_.protocol_level = protocol_level_;
    if (p.will) {
        if (is_v5()) {
            will_delay_ = p.will->props->will_delay_interval.value_or(0);
        }
        will_ = std::make_unique<codec::will_message>(std::move(*p.will));
    }
    stage_ = stage::attaching; // from here on, packets other than CONNECT are allowed
    actions_->attach({std::move(p.client_id), p.clean_session, expiry, std::move(*access)});
}

bool server_session::check_connect_v5(const codec::connect& p) {
    // First, so that a refusal's CONNACK is within what the client accepts too.
    peer_.maximum_packet_size = p.props->maximum_packet_size.value_or(peer_.maximum_packet_size);
    problem_information_ = p.props->request_problem_information.value_or(1) != 0;
    // The broker's own limit caps how many topics it remembers for the client, too.
    peer_.topic_alias_maximum = std::min(p.props->topic_alias_maximum.value_or(0),
                                         actions_->limits().max_topic_alias);
    if (p.props->authentication_method) {
        // Enhanced authentication is not offered: the spec's answer [MQTT-4.12.0-1].
        refuse(static_cast<codec::connect_return_code>(reason_code::bad_authentication_method),
               errc::bad_authentication_method, p.client_id);
        return false;
    }
    if (p.will && !payload_format_ok(p.will->props.get(), p.will->payload)) {
        constexpr std::uint8_t payload_format_invalid = 0x99;
        refuse(static_cast<codec::connect_return_code>(payload_format_invalid),
               errc::payload_format_invalid, p.client_id);
        return false;
    }
    return true;
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
    session_->state.set_peer(peer_);
    if (is_v5()) {
        // CONNACK tells what the broker does differently from the spec's defaults [MQTT-3.2.2.3].
        const auto& lim = actions_->limits();
        codec::properties props;
        if (lim.receive_maximum != 65535) {
            props.receive_maximum = lim.receive_maximum;
        }
        if (lim.max_packet_size < 268'435'455) {
            props.maximum_packet_size = static_cast<std::uint32_t>(lim.max_packet_size);
        }
        if (lim.max_topic_alias > 0) {
            props.topic_alias_maximum = lim.max_topic_alias;
        }
        if (assigned_id_) {
            props.assigned_client_identifier = session_->client_id; // [MQTT-3.2.2-16]
        }
        if (keep_alive_ != asked_keep_alive_) {
            props.server_keep_alive = keep_alive_; // [MQTT-3.2.2-21]
        }
        codec::encode(codec::connack{session_present, codec::connect_return_code::accepted,
                                     std::move(props)},
                      out_.bytes(), protocol_level_);
    } else {
        // MQTT 3.1's CONNACK has no session-present flag: its first byte is reserved (3.1, 3.2).
        codec::encode(codec::connack{session_present && protocol_level_ != codec::protocol_level_31,
                                     codec::connect_return_code::accepted},
                      out_.bytes());
    }
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

bool server_session::resolve_alias(codec::publish& p) {
    if (!is_v5() || !p.props->topic_alias) {
        return true;
    }
    const auto alias = *p.props->topic_alias;
    if (alias == 0 || alias > actions_->limits().max_topic_alias) {
        close(errc::topic_alias_invalid); // [MQTT-3.3.2-8] [MQTT-3.3.2-9]
        return false;
    }
    if (!aliases_) {
        aliases_ = std::make_unique<std::vector<std::string>>();
    }
    if (aliases_->size() < alias) {
        aliases_->resize(alias);
    }
    auto& topic = (*aliases_)[alias - 1];
    if (p.topic.empty()) {
        if (topic.empty()) {
            close(errc::protocol_error); // an alias never set [MQTT-3.3.4]
            return false;
        }
        p.topic = topic;
    } else {
        topic = p.topic; // sets or replaces the alias [MQTT-3.3.2-12]
    }
    return true;
}

message_ptr server_session::make_routed(std::string topic, std::string payload, std::uint8_t qos,
                                        bool retain, codec::property_set props) const {
    auto m = std::make_shared<message>(
        message{std::move(topic), std::move(payload), qos, retain, session_->origin});
    adopt_properties(*m, std::move(props));
    return m;
}

void server_session::on_publish(codec::publish& p) {
    actions_->count(server_actions::event::publish_received);
    if (!resolve_alias(p)) {
        return;
    }
    if (is_v5() && !p.props->subscription_identifiers.empty()) {
        close(errc::protocol_error); // only the server sends them [MQTT-3.3.4-6]
        return;
    }
    std::uint8_t code = 0; // 5.0: the reason code of the acknowledgement
    if (is_v5() && !payload_format_ok(p.props.get(), p.payload)) {
        if (p.qos == 0) {
            close(errc::payload_format_invalid);
            return;
        }
        code = 0x99; // Payload format invalid: acknowledged, not delivered
    }
    if (p.qos == 2 && session_->state.inbound_pending() >= actions_->limits().receive_maximum) {
        close(errc::receive_maximum_exceeded); // [MQTT-3.3.4-9]
        return;
    }
    // Clients do not write the broker's own $SYS tree; the ACL may forbid other topics. 3.1.1
    // has no way to refuse a PUBLISH, so a denied one is acknowledged and dropped; 5.0 says
    // Not authorized.
    const bool allowed = may_publish(access(), session_->client_id, p.topic);
    if (!allowed && !p.topic.starts_with("$SYS")) {
        actions_->count(server_actions::event::publish_denied);
    }
    if (!allowed && is_v5()) {
        code = static_cast<std::uint8_t>(reason_code::not_authorized);
    }
    const auto mark = actions_->durable_mark();
    // [MQTT-4.3.3-2]: a QoS 2 id is remembered until PUBREL, a resend not delivered twice.
    const bool fresh = p.qos != 2 || session_->state.on_publish_qos2(p.packet_id, code);
    // The acknowledgement is written before the message is routed, so that it precedes the
    // copy a subscribing publisher gets back; it still waits for whatever routing recorded.
    const auto from = out_.bytes().size();
    const auto refusal = allowed ? errc::payload_format_invalid : errc::not_authorized;
    auto why = code == 0 ? codec::property_set{}
                         : explain(make_error_code(refusal).message(), true);
    if (p.qos == 1) { // [MQTT-4.3.2-2]
        codec::encode(codec::puback{p.packet_id, code, std::move(why)}, out_.bytes(),
                      protocol_level_);
    } else if (p.qos == 2) {
        codec::encode(codec::pubrec{p.packet_id, code, std::move(why)}, out_.bytes(),
                      protocol_level_);
    }
    const auto to = out_.bytes().size();
    const auto qos = p.qos;
    const auto id = p.packet_id;
    if (allowed && fresh && code == 0) {
        actions_->route(make_routed(std::move(p.topic), std::move(p.payload), p.qos, p.retain,
                                    std::move(p.props)));
    }
    if (qos > 0) {
        respond(from, mark, qos, id, to); // once every durable place the message went has it
    }
}

void server_session::respond(std::size_t from, std::uint64_t mark, std::uint8_t publish_qos,
                             std::uint16_t id, std::size_t to) {
    const auto now = actions_->durable_mark();
    const bool waits = holding_responses() || (now != mark && actions_->await_commit(now));
    if (!waits) {
        return; // nothing to wait for: it goes out as written
    }
    if (!held_) {
        held_ = std::make_unique<fifo<held_response>>();
    }
    held_->push_back({now, id, publish_qos, out_.take(from, std::min(to, out_.bytes().size()))});
}

void server_session::on_committed(std::uint64_t through, bool ok) {
    for (;;) {
        while (holding_responses() && held_->front().mark <= through) {
            auto& r = held_->front();
            if (ok || r.publish_qos == 0) {
                out_.bytes().insert(out_.bytes().end(), r.bytes.begin(), r.bytes.end());
            } else if (is_v5()) {
                constexpr std::uint8_t unspecified_error = 0x80;
                auto why = explain("not stored: the broker could not write it to disk", true);
                if (r.publish_qos == 1) {
                    codec::encode(codec::puback{r.packet_id, unspecified_error, std::move(why)},
                                  out_.bytes(), protocol_level_);
                } else {
                    codec::encode(codec::pubrec{r.packet_id, unspecified_error, std::move(why)},
                                  out_.bytes(), protocol_level_);
                }
            } // 3.1.1 has no way to refuse: not acknowledged, the client sends it again later
            held_->pop_front();
        }
        if (!holding_responses()) {
            held_.reset();
            return;
        }
        if (actions_->await_commit(held_->front().mark)) {
            return; // the owner calls again once it is committed
        }
        // Committed meanwhile, by a later transaction whose call came before this one joined.
        through = held_->front().mark;
        ok = true;
    }
}

void server_session::on_subscribe(const codec::subscribe& p) {
    constexpr std::uint8_t filter_invalid = 0x8F;
    const auto mark = actions_->durable_mark();
    codec::suback ack{p.packet_id, {}};
    ack.return_codes.reserve(p.subscriptions.size());
    std::vector<bool> send_retained(p.subscriptions.size(), false);
    std::string invalid, denied; // the numbers of the filters refused, for the Reason String
    const auto identifier = p.props->subscription_identifiers.empty()
                                ? std::uint32_t{0}
                                : p.props->subscription_identifiers.front();
    for (std::size_t i = 0; i < p.subscriptions.size(); ++i) {
        const auto& s = p.subscriptions[i];
        // A shared subscription is checked, and authorized, by the filter it shares.
        const auto share = routing::parse_shared(s.filter);
        const std::string_view filter = share ? share->filter : std::string_view{s.filter};
        if (share && s.no_local) {
            close(errc::protocol_error); // [MQTT-3.8.3-4]
            return;
        }
        if (malformed_filter(s.filter, share)) {
            ack.return_codes.push_back(is_v5() ? filter_invalid : codec::suback_failure);
            add_filter_number(invalid, i);
            continue;
        }
        if (!may_subscribe(access(), session_->client_id, filter)) {
            ack.return_codes.push_back(is_v5() ? static_cast<std::uint8_t>(reason_code::not_authorized)
                                               : codec::suback_failure); // [MQTT-3.9.3]
            add_filter_number(denied, i);
            continue;
        }
        // A bridge that set the bridge bit gets its messages as No Local and Retain As
        // Published, as Mosquitto gives them.
        const bool fresh = actions_->subscribe(
            s.filter, {s.qos, (s.no_local || bridge_) && !share,
                       s.retain_as_published || bridge_, identifier});
        ack.return_codes.push_back(s.qos); // [MQTT-3.9.3-1] in request order
        // Retain Handling: 0 always, 1 for a new subscription only, 2 never [MQTT-3.3.1-9/10/11];
        // a shared subscription gets none [MQTT-4.8.2].
        send_retained[i] = !share && (s.retain_handling == 0 || (s.retain_handling == 1 && fresh));
    }
    if (!invalid.empty() || !denied.empty()) {
        std::string words; // "topic filter invalid: filters 1, 3; not authorized: filter 2"
        for (const auto& [list, why] : {std::pair{&invalid, "topic filter invalid"},
                                        std::pair{&denied, "not authorized"}}) {
            if (!list->empty()) {
                words += (words.empty() ? "" : "; ") + naming_filters(why, *list);
            }
        }
        ack.props = explain(words, true, ack.return_codes.size());
    }
    const auto from = out_.bytes().size();
    codec::encode(ack, out_.bytes(), protocol_level_);
    respond(from, mark); // once the subscriptions are on disk
    // Retained messages follow the SUBACK, with the retain flag set [MQTT-3.3.1-6/8].
    for (std::size_t i = 0; i < p.subscriptions.size(); ++i) {
        if (!send_retained[i]) {
            continue;
        }
        const auto granted = ack.return_codes[i];
        for (auto& m : actions_->retained_for(p.subscriptions[i].filter)) {
            if (!may_receive(access(), session_->client_id, m->topic)) {
                continue;
            }
            const auto qos = std::min(granted, m->qos);
            protocol::delivery d{std::move(m), qos, true};
            if (identifier != 0) {
                d.subscription_ids.push_back(identifier);
            }
            session_->state.deliver(std::move(d), &out_);
        }
    }
}

void server_session::on_unsubscribe(const codec::unsubscribe& p) {
    constexpr std::uint8_t no_subscription_existed = 0x11;
    constexpr std::uint8_t filter_invalid = 0x8F;
    codec::unsuback ack{p.packet_id};
    const auto mark = actions_->durable_mark();
    std::string invalid; // the numbers of the invalid filters, for the Reason String
    for (std::size_t i = 0; i < p.filters.size(); ++i) {
        const auto& f = p.filters[i];
        if (is_v5() && malformed_filter(f, routing::parse_shared(f))) {
            ack.reason_codes.push_back(filter_invalid); // no subscription can have it
            add_filter_number(invalid, i);
            continue;
        }
        const bool existed = actions_->unsubscribe(f);
        if (is_v5()) {
            ack.reason_codes.push_back(existed ? 0 : no_subscription_existed); // [MQTT-3.11.3]
        }
    }
    if (!invalid.empty()) {
        ack.props = explain(naming_filters("topic filter invalid", invalid), true,
                            ack.reason_codes.size());
    }
    const auto from = out_.bytes().size();
    codec::encode(ack, out_.bytes(), protocol_level_); // [MQTT-3.10.4-4]
    respond(from, mark);
}

void server_session::on_disconnect(const codec::disconnect& p) {
    if (is_v5()) {
        if (const auto expiry = p.props->session_expiry_interval) {
            if (session_->expiry_interval.load(std::memory_order_relaxed) == 0 && *expiry != 0) {
                close(errc::protocol_error); // [MQTT-3.14.2-2]
                return;
            }
            session_->expiry_interval.store(*expiry, std::memory_order_relaxed);
        }
    }
    constexpr std::uint8_t disconnect_with_will = 0x04;
    if (!is_v5() || p.reason_code != disconnect_with_will) {
        will_.reset(); // [MQTT-3.14.4-3]
    }
    close({});
}

void server_session::refuse(codec::connect_return_code code, boost::system::error_code reason,
                            std::string_view id) {
    if (is_v5()) {
        code = static_cast<codec::connect_return_code>(v5_code(code));
    }
    codec::encode(codec::connack{false, code, explain(reason.message(), false)}, // [MQTT-3.2.2-4]
                  out_.bytes(), protocol_level_);
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

bool server_session::farewell(boost::system::error_code reason) {
    if (!is_v5() || session_ == nullptr) {
        return false; // not connected yet: a refused CONNECT got its CONNACK
    }
    const auto code = disconnect_code(reason);
    if (code == 0) {
        return false;
    }
    codec::encode(codec::disconnect{code, explain(reason.message(), false)}, out_.bytes(),
                  protocol_level_);
    return true;
}

codec::property_set server_session::explain(std::string_view words, bool on_ack,
                                            std::size_t rest) const {
    // A Reason String is left out where the client asked for no problem information (it may
    // still come on CONNACK and DISCONNECT) [MQTT-3.1.2-29] and where it would make the packet
    // bigger than the client accepts [MQTT-3.2.2-19]: 16 bytes cover the rest of any of them
    // but a SUBACK's reason codes (`rest`).
    if (!is_v5() || (on_ack && !problem_information_) ||
        words.size() + 16 + rest > peer_.maximum_packet_size) {
        return {};
    }
    codec::properties props;
    props.reason_string = std::string(words);
    return props;
}

message_ptr server_session::will() const {
    if (!will_ || session_ == nullptr) {
        return nullptr;
    }
    return make_routed(will_->topic, will_->payload, will_->qos, will_->retain, will_->props);
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
        auto m = make_routed(std::move(will->topic), std::move(will->payload), will->qos,
                             will->retain, std::move(will->props));
        if (will_delay_ > 0 && session_->expiry_interval.load(std::memory_order_relaxed) > 0) {
            actions_->defer_will(std::move(m), will_delay_); // [MQTT-3.1.3-9]
        } else {
            actions_->route(std::move(m));
        }
    } else {
        actions_->count(server_actions::event::publish_denied);
    }
}

} // namespace edgemq::broker::protocol
