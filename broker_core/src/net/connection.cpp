// SPDX-License-Identifier: Apache-2.0
#include "connection.hpp"

#include "edgemq/broker/codec/decode.hpp"
#include "edgemq/broker/codec/encode.hpp"
#include "edgemq/broker/error.hpp"
#include "edgemq/broker/routing/topic.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <cstring>
#include <random>

namespace edgemq::broker {
namespace {

constexpr std::size_t read_chunk = 64 * 1024;

bool is_benign(const boost::system::error_code& ec) {
    return ec == asio::error::eof || ec == asio::error::operation_aborted ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
}

std::string assigned_client_id() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    static constexpr char digits[] = "0123456789abcdef";
    std::string id = "edgemq-";
    for (int i = 0; i < 16; ++i) {
        id += digits[rng() & 0x0f];
    }
    return id;
}

void log_coroutine_exception(std::exception_ptr e) {
    if (e) {
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            spdlog::error("connection coroutine failed: {}", ex.what());
        }
    }
}

} // namespace

connection::connection(broker_impl& broker, worker& w, listener_state& l)
    : broker_(broker), worker_(w), listener_(l), last_read_(std::chrono::steady_clock::now()) {}

void connection::note_read(std::size_t n) {
    if (connected_) {
        last_read_ = std::chrono::steady_clock::now(); // before CONNECT it is the accept time
    }
    worker_.bytes_received.add(n);
}

bool connection::consume(std::span<const std::uint8_t> bytes, bool in_place) {
    const std::size_t used = handle_packets(bytes);
    if (in_place) {
        partial_.erase(partial_.begin(), partial_.begin() + static_cast<std::ptrdiff_t>(used));
    } else {
        partial_.assign(bytes.begin() + static_cast<std::ptrdiff_t>(used), bytes.end());
    }
    broker_.flush(worker_); // what this read routed to other threads, as one batch each
    if (partial_.empty() && partial_.capacity() > read_chunk) {
        partial_ = {}; // give a large packet's memory back
    }
    if (!note_progress(used) || !open_ || close_after_flush_) {
        return false;
    }
    return !paused();
}

bool connection::note_progress(std::size_t used) {
    if (!incomplete_) {
        receiving_since_ = {};
    } else if (used > 0 || receiving_since_ == std::chrono::steady_clock::time_point{}) {
        receiving_since_ = std::chrono::steady_clock::now(); // a new packet began
    }
    if (!connected_ && open_ && !hold_unauthenticated(partial_.capacity())) {
        close(errc::unauthenticated_memory);
        return false;
    }
    return true;
}

bool connection::hold_unauthenticated(std::size_t bytes) {
    auto& total = broker_.unauthenticated_bytes;
    if (bytes > unauthenticated_held_) {
        const auto more = bytes - unauthenticated_held_;
        if (total.fetch_add(more, std::memory_order_relaxed) + more >
            broker_.cfg.broker.max_unauthenticated_memory) {
            total.fetch_sub(more, std::memory_order_relaxed);
            return false;
        }
    } else {
        total.fetch_sub(unauthenticated_held_ - bytes, std::memory_order_relaxed);
    }
    unauthenticated_held_ = bytes;
    return true;
}

bool connection::paused() {
    if (pending_connect_) {
        auto p = std::move(*pending_connect_);
        pending_connect_.reset();
        asio::co_spawn(worker_.ctx, attach_then_resume(std::move(p)), log_coroutine_exception);
        return true; // reading resumes once the session is attached
    }
    if (throttle_ && throttle_->throttled) {
        // Out of publish tokens: stop reading until one has accrued. The client's TCP window
        // fills and it slows down; nothing is dropped.
        const auto wait =
            std::chrono::duration<double>((1.0 - throttle_->tokens) / throttle_->rate);
        throttle_->timer.expires_after(
            std::chrono::duration_cast<std::chrono::steady_clock::duration>(wait));
        throttle_->timer.async_wait([self = shared_from_this(), this](boost::system::error_code) {
            throttle_->throttled = false;
            continue_reading();
        });
        return true;
    }
    return false;
}

void connection::continue_reading() {
    if (!open_ || close_after_flush_) {
        return;
    }
    const std::size_t used = handle_packets(partial_); // what arrived during the pause
    partial_.erase(partial_.begin(), partial_.begin() + static_cast<std::ptrdiff_t>(used));
    broker_.flush(worker_);
    if (!note_progress(used) || !open_ || close_after_flush_ || paused()) {
        return;
    }
    resume_reading();
}

asio::awaitable<void> connection::attach_then_resume(codec::connect p) {
    auto self = shared_from_this();
    co_await on_connect(std::move(p));
    if (pending_connect_) {
        protocol_violation(errc::protocol_error); // a second CONNECT [MQTT-3.1.0-2]
        co_return;
    }
    continue_reading();
}

void connection::transport_failed(std::string_view what, boost::system::error_code ec) {
    if (open_) {
        broker_.log.info("connection refused peer={} listener={} {}: {}", peer(),
                         listener_.cfg.type, what, ec.message());
        close(ec ? ec : make_error_code(errc::protocol_error));
    }
}

// ---------------------------------------------------------------------------------------------
// Plain TCP

tcp_connection::tcp_connection(broker_impl& broker, worker& w, listener_state& l,
                               socket_type socket)
    : connection(broker, w, l), socket_(std::move(socket)) {
    boost::system::error_code ec;
    socket_.set_option(asio::ip::tcp::no_delay(true), ec);
    socket_.non_blocking(true, ec);
}

void tcp_connection::start() {
    wait_readable();
}

void tcp_connection::wait_readable() {
    socket_.async_wait(
        asio::socket_base::wait_read,
        [self = shared_from_this(), this](boost::system::error_code ec) { on_readable(ec); });
}

void tcp_connection::on_readable(boost::system::error_code ec) {
    if (!open()) {
        return;
    }
    if (ec) {
        close(ec);
        return;
    }
    auto& shared = worker_.read_buffer;
    // The tail of an incomplete packet goes in front of the new bytes. A packet larger than the
    // shared buffer is assembled in partial_ itself, which grows by what arrives, never to the
    // size the header declares: 13 bytes declaring 256 MiB hold 13 bytes.
    const std::size_t carry = partial_.size();
    const bool in_place = needed_ > shared.size();
    if (in_place) {
        partial_.resize(std::min(needed_, carry + shared.size()));
    } else {
        std::copy(partial_.begin(), partial_.end(), shared.begin());
    }
    std::uint8_t* base = in_place ? partial_.data() : shared.data();
    const std::size_t capacity = in_place ? partial_.size() : shared.size();
    const std::size_t n = socket_.read_some(asio::buffer(base + carry, capacity - carry), ec);
    if (in_place) {
        partial_.resize(carry + n);
    }
    if (ec == asio::error::would_block) {
        wait_readable();
        return;
    }
    if (ec) {
        close(ec);
        return;
    }
    note_read(n);
    if (!consume({base, carry + n}, in_place)) {
        return;
    }
    if (carry + n == capacity) {
        // More may be waiting: read again after the other connections of this thread had a
        // turn.
        asio::post(worker_.ctx, [self = shared_from_this(), this] { on_readable({}); });
        return;
    }
    // A short read drained the socket. Waiting now cannot miss an edge: this thread is the only
    // one polling its reactor, and it polls after this handler returns.
    wait_readable();
}

void tcp_connection::send_buffers(const std::vector<asio::const_buffer>& buffers) {
    asio::async_write(socket_, buffers,
                      [self = shared_from_this(), this](boost::system::error_code ec,
                                                        std::size_t n) { on_written(ec, n); });
}

void tcp_connection::close_transport() {
    boost::system::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
}

std::string tcp_connection::peer() const {
    boost::system::error_code ec;
    const auto ep = socket_.remote_endpoint(ec);
    return ec ? std::string{"unknown"} : ep.address().to_string() + ":" + std::to_string(ep.port());
}

// ---------------------------------------------------------------------------------------------
// MQTT

std::size_t connection::handle_packets(std::span<const std::uint8_t> bytes) {
    std::size_t pos = 0;
    needed_ = 0;
    incomplete_ = false;
    const auto& limits = broker_.cfg.broker;
    while (open_ && !close_after_flush_ && !pending_connect_) {
        const auto rest = bytes.subspan(pos);
        auto header = codec::decode_fixed_header(rest);
        if (!header) {
            protocol_violation(header.error());
            break;
        }
        if (!*header) {
            incomplete_ = !rest.empty(); // need more bytes
            break;
        }
        const auto& h = **header;
        // Before CONNECT, only a CONNECT of at most max_connect_size: refused at its fixed
        // header, before a byte of its body is buffered.
        if (!connected_ && h.type() != codec::packet_type::connect) {
            protocol_violation(errc::first_packet_not_connect); // [MQTT-3.1.0-1]
            break;
        }
        if (!connected_ && h.packet_size() > std::min(limits.max_connect_size,
                                                       limits.max_packet_size)) {
            protocol_violation(errc::unauthenticated_limit);
            break;
        }
        if (h.packet_size() > limits.max_packet_size) {
            protocol_violation(errc::packet_too_large);
            break;
        }
        if (rest.size() < h.packet_size()) {
            needed_ = h.packet_size();
            incomplete_ = true;
            break;
        }
        if (throttle_ && h.type() == codec::packet_type::publish && !throttle_->take()) {
            break; // paused() waits for the next token
        }
        auto p = codec::decode(h, rest.subspan(h.size, h.remaining_length));
        pos += h.packet_size();
        if (!p) {
            protocol_violation(p.error());
            break;
        }
        if (auto* c = std::get_if<codec::connect>(&*p)) {
            pending_connect_ = std::make_unique<codec::connect>(std::move(*c));
        } else {
            on_packet(*p);
        }
    }
    return pos;
}

asio::awaitable<void> connection::on_connect(codec::connect p) {
    if (connected_) {
        protocol_violation(errc::protocol_error); // a second CONNECT [MQTT-3.1.0-2]
        co_return;
    }
    const auto& limits = broker_.cfg.broker;
    if (p.protocol_level == codec::protocol_level_31 &&
        (p.client_id.empty() || p.client_id.size() > 23)) {
        // MQTT 3.1 (section 3.1): a client id of 1 to 23 characters.
        refuse(codec::connect_return_code::identifier_rejected, errc::protocol_error, p.client_id);
        co_return;
    }
    if (p.client_id.empty()) {
        if (!p.clean_session) {
            refuse(codec::connect_return_code::identifier_rejected, // [MQTT-3.1.3-8]
                   errc::protocol_error, p.client_id);
            co_return;
        }
        p.client_id = assigned_client_id(); // [MQTT-3.1.3-6]
    }
    auto access = authenticate(p);
    if (!access) {
        co_return; // refused
    }
    if (p.will && !may_publish(*access ? (*access)->acl.get() : nullptr,
                               *access ? (*access)->username : std::nullopt, p.client_id,
                               p.will->topic)) {
        // As Mosquitto: a will the client could not publish itself refuses the CONNECT.
        if (!p.will->topic.starts_with("$SYS")) {
            worker_.messages_denied.add();
        }
        refuse(codec::connect_return_code::not_authorized, errc::will_not_authorized,
               p.client_id);
        co_return;
    }
    keep_alive_ = std::min(p.keep_alive, limits.max_keepalive);
    connected_at_ = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    if (p.will) {
        will_ = std::make_unique<codec::will_message>(std::move(*p.will));
    }
    connected_ = true; // from here on, packets other than CONNECT are allowed
    hold_unauthenticated(0);

    auto attached =
        co_await broker_.async_attach(worker_, shared_from_this(), p.client_id, p.clean_session);
    if (!open_) {
        if (attached.session) {
            broker_.detach(worker_, *this, attached.session); // closed while attaching
        }
        co_return;
    }
    if (!attached.session) {
        close(errc::session_taken_over); // a newer CONNECT with the same id won the race
        co_return;
    }
    session_ = attached.session;
    session_->access = std::move(*access); // read by deliveries, on this (the home) thread
    if (listener_.cfg.max_publish_rate > 0) {
        throttle_ = std::make_unique<publish_throttle>(worker_.ctx, listener_.cfg.max_publish_rate);
    }
    last_read_ = std::chrono::steady_clock::now(); // keep-alive counts from here
    // MQTT 3.1's CONNACK has no session-present flag: its first byte is reserved (3.1, 3.2).
    const bool session_present =
        attached.session_present && p.protocol_level != codec::protocol_level_31;
    codec::encode(codec::connack{session_present, codec::connect_return_code::accepted},
                  out_.bytes());
    if (attached.session_present) {
        session_->state.resume(out_); // [MQTT-4.4.0-1]
    }
    notify_writer();
    if (broker_.log.should_log(spdlog::level::debug)) {
        broker_.log.debug("client connected client_id={} peer={} clean_session={} keep_alive={}",
                          client_id(), peer(), p.clean_session, keep_alive_);
    }
}

std::optional<std::shared_ptr<const client_access>>
connection::authenticate(const codec::connect& p) {
    std::optional<std::string> user = p.username;
    if (listener_.cfg.use_identity_as_username) {
        user = certificate_identity(); // the CONNECT's user name and password are ignored
        if (!user) {
            refuse(codec::connect_return_code::not_authorized, errc::not_authorized, p.client_id);
            return std::nullopt;
        }
    } else if (user) {
        const auto passwords = listener_.passwords.load();
        // Hashing takes microseconds at Mosquitto's iteration count; it stays on this thread.
        // A CONNECT without a password never matches, not even an empty one (as Mosquitto).
        if (passwords && (!p.password || !passwords->verify(*user, *p.password))) {
            broker_.log_auth_failure(p.client_id, *user, peer());
            refuse(codec::connect_return_code::bad_username_or_password,
                   errc::bad_username_or_password, p.client_id);
            return std::nullopt;
        }
        if (!passwords && !broker_impl::anonymous_allowed(listener_)) {
            // Nothing to check the name against: the client is anonymous, whatever it claims.
            broker_.log_auth_failure(p.client_id, *user, peer());
            refuse(codec::connect_return_code::not_authorized, errc::not_authorized, p.client_id);
            return std::nullopt;
        }
    } else if (!broker_impl::anonymous_allowed(listener_)) {
        broker_.log_auth_failure(p.client_id, "", peer());
        refuse(codec::connect_return_code::not_authorized, errc::not_authorized, p.client_id);
        return std::nullopt;
    }
    auto acl = listener_.acl.load();
    if (!user && !acl) {
        return std::shared_ptr<const client_access>{}; // nothing to remember: no allocation
    }
    return std::make_shared<const client_access>(client_access{std::move(user), std::move(acl)});
}

void connection::on_packet(codec::packet& p) {
    // Only after CONNECT: handle_packets refuses anything else first [MQTT-3.1.0-1].
    std::visit(
        [this](auto& v) {
            using T = std::decay_t<decltype(v)>;
            auto& state = session_->state;
            if constexpr (std::is_same_v<T, codec::publish>) {
                on_publish(v);
            } else if constexpr (std::is_same_v<T, codec::puback>) {
                if (!on_ack(state.on_puback(v.packet_id, out_))) {
                    return;
                }
            } else if constexpr (std::is_same_v<T, codec::pubrec>) {
                if (!on_ack(state.on_pubrec(v.packet_id, out_))) {
                    return;
                }
            } else if constexpr (std::is_same_v<T, codec::pubrel>) {
                state.on_pubrel(v.packet_id, out_);
            } else if constexpr (std::is_same_v<T, codec::pubcomp>) {
                if (!on_ack(state.on_pubcomp(v.packet_id, out_))) {
                    return;
                }
            } else if constexpr (std::is_same_v<T, codec::subscribe>) {
                on_subscribe(v);
            } else if constexpr (std::is_same_v<T, codec::unsubscribe>) {
                on_unsubscribe(v);
            } else if constexpr (std::is_same_v<T, codec::pingreq>) {
                codec::encode(codec::pingresp{}, out_.bytes()); // [MQTT-3.12.4-1]
            } else if constexpr (std::is_same_v<T, codec::disconnect>) {
                will_.reset(); // [MQTT-3.14.4-3]
                close({});
                return;
            } else {
                // CONNACK, SUBACK, UNSUBACK, PINGRESP only travel server to client.
                protocol_violation(errc::protocol_error);
                return;
            }
            notify_writer();
        },
        p);
}

bool connection::on_ack(protocol::session_state::ack_result r) {
    if (r == protocol::session_state::ack_result::wrong_type) {
        protocol_violation(errc::protocol_error); // e.g. PUBREC for a QoS 1 PUBLISH [MQTT-4.3]
        return false;
    }
    return true;
}

void connection::on_publish(codec::publish& p) {
    worker_.messages_received.add();
    // Clients do not write the broker's own $SYS tree; the ACL may forbid other topics. 3.1.1
    // has no way to refuse a PUBLISH, so a denied one is acknowledged and dropped.
    const auto& access = session_->access;
    const bool deliver =
        may_publish(access ? access->acl.get() : nullptr, access ? access->username : std::nullopt,
                    session_->client_id, p.topic);
    if (!deliver && !p.topic.starts_with("$SYS")) {
        worker_.messages_denied.add();
    }
    bool fresh = true;
    if (p.qos == 1) {
        codec::encode(codec::puback{p.packet_id}, out_.bytes());
    } else if (p.qos == 2) {
        fresh = session_->state.on_publish_qos2(p.packet_id, out_);
    }
    if (deliver && fresh) {
        broker_.route(worker_,
                      make_message(std::move(p.topic), std::move(p.payload), p.qos, p.retain));
    }
}

void connection::on_subscribe(const codec::subscribe& p) {
    codec::suback ack{p.packet_id, {}};
    ack.return_codes.reserve(p.subscriptions.size());
    for (const auto& s : p.subscriptions) {
        if (!routing::is_valid_topic_filter(s.filter) || !session_->may_subscribe(s.filter)) {
            ack.return_codes.push_back(codec::suback_failure); // [MQTT-3.9.3]
            continue;
        }
        broker_.subscribe(worker_, session_, s.filter, s.qos);
        ack.return_codes.push_back(s.qos); // [MQTT-3.9.3-1] in request order
    }
    codec::encode(ack, out_.bytes());
    // Retained messages follow the SUBACK, with the retain flag set [MQTT-3.3.1-6/8].
    for (std::size_t i = 0; i < p.subscriptions.size(); ++i) {
        const auto granted = ack.return_codes[i];
        if (granted == codec::suback_failure) {
            continue;
        }
        for (auto& m : broker_.retained_for(p.subscriptions[i].filter)) {
            if (!session_->may_receive(m->topic)) {
                continue;
            }
            const auto qos = std::min(granted, m->qos);
            session_->state.deliver({std::move(m), qos, true}, &out_);
        }
    }
}

void connection::on_unsubscribe(const codec::unsubscribe& p) {
    for (const auto& f : p.filters) {
        broker_.unsubscribe(worker_, session_, f);
    }
    codec::encode(codec::unsuback{p.packet_id}, out_.bytes()); // [MQTT-3.10.4-4]
}

void connection::refuse(codec::connect_return_code code, boost::system::error_code reason,
                        std::string_view id) {
    codec::encode(codec::connack{false, code}, out_.bytes()); // [MQTT-3.2.2-4]
    // Refused logins are logged, rate-limited, by log_auth_failure.
    const bool auth = reason == errc::bad_username_or_password || reason == errc::not_authorized;
    if (!auth) {
        broker_.log.info("client refused client_id={} peer={} code={} reason={}", id, peer(),
                         static_cast<int>(code), reason.message());
    }
    close_after_flush_ = true;
    notify_writer();
}

void connection::protocol_violation(boost::system::error_code ec) {
    if (ec == errc::unsupported_protocol_version && !connected_) {
        refuse(codec::connect_return_code::unacceptable_protocol_version, ec, {}); // [MQTT-3.1.2-2]
        return;
    }
    close(ec);
}

void connection::describe(client_info& info) const {
    info.peer = peer();
    info.listener = listener_.cfg.type;
    info.keep_alive = keep_alive_;
    info.connected_at = connected_at_;
}

std::string_view connection::client_id() const noexcept {
    return session_ ? std::string_view{session_->client_id} : std::string_view{};
}

void connection::notify_writer() {
    // Everything queued until the end of this turn leaves in one write.
    if (!sending_ && !write_scheduled_ && open_) {
        write_scheduled_ = true;
        asio::post(worker_.ctx, [self = shared_from_this()] {
            self->write_scheduled_ = false;
            self->start_write();
        });
    }
}

void connection::start_write() {
    if (sending_ || !open_) {
        return;
    }
    if (out_.empty()) {
        if (close_after_flush_) {
            close({}); // the refusal was logged where it was decided
        }
        return;
    }
    sending_ = std::make_unique<write_in_flight>();
    sending_->data.swap(out_);
    sending_->data.for_each_buffer(
        [this](const void* data, std::size_t size) { sending_->buffers.emplace_back(data, size); });
    send_buffers(sending_->buffers);
}

void connection::on_written(boost::system::error_code ec, std::size_t n) {
    worker_.bytes_sent.add(n);
    // Hand the buffer back to out_ when it is empty, so a busy connection reuses its capacity;
    // an idle one then holds no write state at all.
    sending_->data.clear();
    if (out_.empty()) {
        out_.swap(sending_->data);
    }
    sending_.reset();
    if (ec) {
        close(ec);
        return;
    }
    start_write();
}

void connection::check_deadline(std::chrono::steady_clock::time_point now) {
    if (!open_) {
        return;
    }
    if (!connected_ && now >= last_read_ + broker_.cfg.broker.connect_timeout) {
        close(errc::connect_timeout);
    } else if (connected_ && receiving_since_ != std::chrono::steady_clock::time_point{} &&
               now >= receiving_since_ + broker_.cfg.broker.packet_timeout) {
        close(errc::packet_timeout); // a slow drip: keep-alive alone would let it go on
    } else if (connected_ && keep_alive_ > 0 &&
               now >= last_read_ + std::chrono::milliseconds(keep_alive_ * 1500)) {
        close(errc::keep_alive_timeout); // [MQTT-3.1.2-24]
    }
}

void connection::close(boost::system::error_code reason) {
    if (!open_) {
        return;
    }
    open_ = false;
    hold_unauthenticated(0);
    if (reason == errc::packet_timeout) {
        worker_.packet_timeouts.add();
    } else if (reason == errc::unauthenticated_limit || reason == errc::unauthenticated_memory) {
        worker_.unauthenticated_closed.add();
    }
    if (reason == errc::packet_timeout || reason == errc::unauthenticated_limit ||
        reason == errc::unauthenticated_memory) {
        broker_.log_limit_closed(client_id(), peer(), reason); // one line a second at most
    } else if (!reason || is_benign(reason)) {
        if (broker_.log.should_log(spdlog::level::debug)) {
            broker_.log.debug("client disconnected client_id={} peer={} reason={}", client_id(),
                              peer(), reason ? reason.message() : "disconnect");
        }
    } else {
        broker_.log.info("client disconnected client_id={} peer={} reason={}", client_id(), peer(),
                         reason.message());
    }
    close_transport();
    if (throttle_) {
        throttle_->timer.cancel();
    }
    if (will_ && session_) {
        // [MQTT-3.1.2-8]: every end but a clean DISCONNECT publishes the will, if the ACL in
        // force now (a reload may have narrowed it since CONNECT) still allows it.
        const auto acl = listener_.acl.load();
        const auto& access = session_->access;
        if (may_publish(acl.get(), access ? access->username : std::nullopt,
                        session_->client_id, will_->topic)) {
            broker_.route(worker_, make_message(std::move(will_->topic),
                                                std::move(will_->payload), will_->qos,
                                                will_->retain));
            broker_.flush(worker_);
        } else {
            worker_.messages_denied.add();
        }
        will_.reset();
    }
    broker_.on_connection_closed(worker_, *this, listener_, std::move(session_));
}

} // namespace edgemq::broker
