// SPDX-License-Identifier: Apache-2.0
#include "connection.hpp"

#include "edgemq/broker/clock.hpp"
#include "edgemq/broker/codec/encode.hpp"
#include "edgemq/broker/error.hpp"
#include "edgemq/broker/log_exception.hpp"
#include "edgemq/broker/protocol/packet_reader.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstring>

namespace edgemq::broker {
namespace {

constexpr std::size_t read_chunk = 64 * 1024;

bool is_benign(const boost::system::error_code& ec) {
    return ec == asio::error::eof || ec == asio::error::operation_aborted ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
}

} // namespace

connection::connection(worker& w, listener_state& l)
    : worker_(w), listener_(l),
      mqtt_(*this, std::chrono::steady_clock::now()) {}

void connection::note_read(std::size_t n) {
    mqtt_.on_read(std::chrono::steady_clock::now());
    worker_.bytes_received.add(n);
}

bool connection::consume(std::span<const std::uint8_t> bytes, bool in_place) {
    const std::size_t used = handle_packets(bytes);
    if (in_place) {
        partial_.erase(partial_.begin(), partial_.begin() + static_cast<std::ptrdiff_t>(used));
    } else {
        partial_.assign(bytes.begin() + static_cast<std::ptrdiff_t>(used), bytes.end());
    }
    broker().flush(worker_); // what this read routed to other threads, as one batch each
    if (partial_.empty() && partial_.capacity() > read_chunk) {
        partial_ = {}; // give a large packet's memory back
    }
    if (!note_progress(used) || !open_ || close_after_flush_) {
        return false;
    }
    return !paused();
}

connection::read_space connection::prepare_read() {
    auto& shared = worker_.read_buffer;
    const std::size_t carry = partial_.size();
    if (needed_ > shared.size()) {
        partial_.resize(std::min<std::size_t>(needed_, carry + shared.size()));
        return {partial_.data(), carry, partial_.size(), true};
    }
    std::copy(partial_.begin(), partial_.end(), shared.begin());
    return {shared.data(), carry, shared.size(), false};
}

void connection::finish_read(const read_space& space, std::size_t n) {
    if (space.in_place) {
        partial_.resize(space.carry + n);
    }
}

bool connection::consume_read(const read_space& space, std::size_t n) {
    note_read(n);
    return consume({space.base, space.carry + n}, space.in_place);
}

bool connection::note_progress(std::size_t used) {
    mqtt_.on_progress(std::chrono::steady_clock::now(), used > 0, incomplete_);
    if (!mqtt_.authenticated() && open_ && !hold_unauthenticated(partial_.capacity())) {
        close(errc::unauthenticated_memory);
        return false;
    }
    return true;
}

bool connection::hold_unauthenticated(std::size_t bytes) {
    auto& total = broker().unauthenticated_bytes;
    if (bytes > unauthenticated_held_) {
        const auto more = bytes - unauthenticated_held_;
        if (total.fetch_add(more, std::memory_order_relaxed) + more >
            broker().opts.max_unauthenticated_memory) {
            total.fetch_sub(more, std::memory_order_relaxed);
            return false;
        }
    } else {
        total.fetch_sub(unauthenticated_held_ - bytes, std::memory_order_relaxed);
    }
    unauthenticated_held_ = static_cast<std::uint32_t>(bytes);
    return true;
}

bool connection::paused() {
    if (mqtt_.paused()) {
        return true; // reading resumes once the session is attached
    }
    if (blocked_by_) {
        // A subscriber of what this client published has too much queued: read no more until
        // it has caught up. The client's TCP window fills and it slows down; nothing is lost.
        // What was already read has been handled (handle_packets does not stop at it).
        const auto s = std::move(blocked_by_);
        if (broker().wait_until_relieved(worker_, *s, shared_from_this())) {
            waiting_flow_ = true; // unblock() is posted to this thread, so it comes after this
            return true;
        }
        // Relieved meanwhile: read on.
    }
    if (throttle_ && throttled_) {
        // Out of publish tokens: stop reading until one has accrued. The client's TCP window
        // fills and it slows down; nothing is dropped.
        throttle_->timer.expires_after(throttle_->bucket.until_next());
        throttle_->timer.async_wait([self = shared_from_this(), this](boost::system::error_code) {
            throttled_ = false;
            continue_reading();
        });
        return true;
    }
    return false;
}

void connection::unblock() {
    if (waiting_flow_) {
        waiting_flow_ = false;
        continue_reading();
    }
}

void connection::continue_reading() {
    if (!open_ || close_after_flush_) {
        return;
    }
    const std::size_t used = handle_packets(partial_); // what arrived during the pause
    partial_.erase(partial_.begin(), partial_.begin() + static_cast<std::ptrdiff_t>(used));
    broker().flush(worker_);
    if (!note_progress(used) || !open_ || close_after_flush_ || paused()) {
        return;
    }
    resume_reading();
}

void connection::transport_failed(std::string_view what, boost::system::error_code ec) {
    if (open_) {
        broker().log.info("connection refused peer={} listener={} {}: {}", peer(),
                         to_string(listener_.cfg.type), what, ec.message());
        close(ec ? ec : make_error_code(errc::protocol_error));
    }
}

// ---------------------------------------------------------------------------------------------
// MQTT: the session decides, the connection carries out

std::size_t connection::handle_packets(std::span<const std::uint8_t> bytes) {
    protocol::packet_reader reader{bytes, mqtt_.protocol_level() != 0
                                              ? mqtt_.protocol_level()
                                              : codec::protocol_level_311};
    needed_ = 0;
    incomplete_ = false;
    // A congested subscriber (blocked_by_) does not stop this loop: the packets already read
    // are handled now, so that none of them waits a second turn behind the other publishers;
    // paused() then stops reading.
    while (open_ && !mqtt_.paused()) {
        auto header = reader.header();
        if (!header) {
            mqtt_.fail(header.error());
            break;
        }
        if (!*header) {
            incomplete_ = reader.incomplete(); // need more bytes
            break;
        }
        if (const auto refused = mqtt_.check_header(**header)) {
            mqtt_.fail(refused);
            break;
        }
        if (!reader.complete()) {
            needed_ = static_cast<std::uint32_t>(reader.needed()); // at most max_packet_size
            incomplete_ = true;
            break;
        }
        if (throttle_ && (*header)->type() == codec::packet_type::publish &&
            !throttle_->bucket.take(std::chrono::steady_clock::now())) {
            throttled_ = true;
            break; // paused() waits for the next token
        }
        auto p = reader.take();
        if (!p) {
            mqtt_.fail(p.error());
            break;
        }
        mqtt_.on_packet(std::move(*p));
    }
    if (auto* s = attached()) {
        broker().note_backlog(*s); // its acknowledgements may have emptied its queue
    }
    notify_writer();
    return reader.consumed();
}

const protocol::server_limits& connection::limits() {
    return broker().opts.connection;
}

void connection::attach(protocol::attach_request r) {
    hold_unauthenticated(0);
    // Posted, not spawned here: co_spawn may run the coroutine at once on this thread, and it
    // must not read on (continue_reading) while handle_packets is still walking the bytes.
    asio::post(worker_.ctx, [self = shared_from_this(), this, r = std::move(r)]() mutable {
        asio::co_spawn(worker_.ctx, async_attach_then_resume(std::move(r)),
                       log_exception(broker().log, "connection coroutine"));
    });
}

asio::awaitable<void> connection::async_attach_then_resume(protocol::attach_request r) {
    auto self = shared_from_this();
    auto attached =
        co_await broker().async_attach(worker_, self, std::move(r.client_id), r.clean_start,
                                      r.expiry_interval);
    if (!open_) {
        if (attached.session) {
            broker().detach(worker_, *this, attached.session); // closed while attaching
        }
        co_return;
    }
    if (!attached.session) {
        close(errc::session_taken_over); // a newer CONNECT with the same id won the race
        co_return;
    }
    auto& s = *attached.session;
    s.access = std::move(r.access); // read by deliveries, on this (the home) thread
    s.listener = listener_.index;
    s.connected_at = static_cast<std::uint32_t>(unix_seconds());
    if (listener_.cfg.max_publish_rate > 0) {
        const double rate = listener_.cfg.max_publish_rate;
        throttle_ = std::make_unique<publish_throttle>(
            publish_throttle{token_bucket{rate, rate}, asio::steady_timer{worker_.ctx}});
    }
    mqtt_.on_attached(attached.session, attached.session_present,
                      std::chrono::steady_clock::now());
    broker().persist_attached(attached.session, mqtt_.will(), mqtt_.will_delay());
    notify_writer();
    if (broker().log.should_log(spdlog::level::debug)) {
        broker().log.debug("client connected client_id={} peer={} protocol={} session_expiry={} "
                          "keep_alive={}",
                          client_id(), peer(), mqtt_.protocol_level(),
                          s.expiry_interval.load(std::memory_order_relaxed), mqtt_.keep_alive());
    }
    continue_reading();
}

void connection::route(message_ptr m) {
    broker().route(worker_, m);
    if (!blocked_by_ && worker_.blocked_by && worker_.blocked_by.get() != attached()) {
        blocked_by_ = std::move(worker_.blocked_by); // never itself: it must read its acks
    }
}

bool connection::subscribe(const std::string& filter, const protocol::subscription_options& o) {
    return broker().subscribe(worker_, attached_ptr(), filter, o);
}

bool connection::unsubscribe(const std::string& filter) {
    return broker().unsubscribe(worker_, attached_ptr(), filter);
}

void connection::defer_will(message_ptr m, std::uint32_t delay) {
    broker().defer_will(worker_, attached_ptr(), std::move(m), delay);
}

std::vector<message_ptr> connection::retained_for(std::string_view filter) {
    return broker().retained_for(filter);
}

protocol::admission_rules connection::rules() {
    protocol::admission_rules r{listener_.passwords.load(), listener_.acl.load(),
                                listener_.cfg.allow_anonymous,
                                listener_.cfg.use_identity_as_username, std::nullopt};
    if (r.use_identity_as_username) {
        r.certificate_identity = certificate_identity();
    }
    return r;
}

void connection::count(event e) {
    switch (e) {
    case event::publish_received:
        worker_.messages_received.add();
        break;
    case event::publish_denied:
        worker_.messages_denied.add();
        break;
    }
}

std::uint64_t connection::durable_mark() {
    return broker().session_store() != nullptr ? persist::session_db::last_recorded_here() : 0;
}

bool connection::await_commit(std::uint64_t mark) {
    const auto* store = broker().session_store();
    if (store == nullptr || store->committed() >= mark) {
        return false;
    }
    if (!awaiting_commit_) {
        awaiting_commit_ = true;
        worker_.commit_waiters.push_back(shared_from_this());
    }
    return true;
}

void connection::on_committed(std::uint64_t through, bool ok) {
    awaiting_commit_ = false;
    if (!open_) {
        return; // what it held back is gone with it: the client sends it again
    }
    mqtt_.on_committed(through, ok);
    notify_writer();
}

void connection::login_refused(std::string_view id, std::string_view user) {
    broker().log_auth_failure(id, user, peer());
}

void connection::refused(codec::connect_return_code code, boost::system::error_code reason,
                         std::string_view id) {
    // Refused logins are logged, rate-limited, by log_auth_failure.
    const bool auth = reason == errc::bad_username_or_password || reason == errc::not_authorized;
    if (!auth) {
        broker().log.info("client refused client_id={} peer={} code={} reason={}", id, peer(),
                         static_cast<int>(code), reason.message());
    }
    close_after_flush_ = true;
    notify_writer();
}

void connection::describe(client_info& info) const {
    info.peer = peer();
    info.listener = std::string{to_string(listener_.cfg.type)};
    info.keep_alive = mqtt_.keep_alive();
    info.protocol_version = mqtt_.protocol_level();
    info.connected_at = attached() != nullptr ? attached()->connected_at : 0;
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
    if (sending_ || (!open_ && !lingering_)) {
        return;
    }
    if (out().empty()) {
        if (lingering_) {
            end_linger();
        } else if (close_after_flush_) {
            close({}); // the refusal was logged where it was decided
        }
        return;
    }
    sending_ = std::make_unique<write_in_flight>();
    sending_->data.swap(out());
    sending_->data.for_each_buffer(
        [this](const void* data, std::size_t size) { sending_->buffers.emplace_back(data, size); });
    send_buffers(sending_->buffers);
}

void connection::on_written(boost::system::error_code ec) {
    if (!ec) {
        worker_.bytes_sent.add(sending_->data.size());
    }
    // Hand the buffer back to the write queue when it is empty, so a busy connection reuses its capacity;
    // an idle one then holds no write state at all.
    sending_->data.clear();
    if (out().empty()) {
        out().swap(sending_->data);
    }
    sending_.reset();
    if (ec) {
        if (lingering_) {
            end_linger();
        }
        close(ec);
        return;
    }
    if (auto* s = attached(); s != nullptr && open_) {
        progress_at_ = std::chrono::steady_clock::now();
        s->state.on_writable(out()); // what waited for room in the write buffer
        broker().note_backlog(*s);
    }
    start_write();
}

void connection::linger() {
    constexpr std::chrono::seconds linger_timeout{2}; // a client that does not read gets no more
    lingering_ = true;
    linger_timer_ = std::make_unique<asio::steady_timer>(worker_.ctx, linger_timeout);
    linger_timer_->async_wait([self = shared_from_this(), this](boost::system::error_code ec) {
        if (!ec && lingering_) {
            end_linger();
        }
    });
    start_write();
}

void connection::end_linger() {
    lingering_ = false;
    if (linger_timer_) {
        linger_timer_->cancel();
    }
    close_transport();
}

void connection::check_deadline(std::chrono::steady_clock::time_point now) {
    if (!open_) {
        return;
    }
    if (waiting_flow_) {
        mqtt_.on_read(now); // not silent: this end is not reading
    }
    if (const auto reason = mqtt_.check_deadline(now)) {
        close(reason);
        return;
    }
    const auto timeout = broker().opts.slow_consumer_timeout;
    auto* s = attached();
    if (s != nullptr && s->congested.load(std::memory_order_relaxed) && timeout.count() > 0 &&
        now - progress_at_ >= timeout) {
        worker_.slow_consumers.add();
        const bool drop = broker().opts.slow_consumer == broker_options::slow_consumer_policy::drop;
        broker().log.warn("slow consumer client_id={} peer={} queued={} nothing read for {} ms: {}",
                         client_id(), peer(), s->state.queued(), timeout.count(),
                         drop ? "dropping what passes max_queued_messages" : "disconnecting");
        if (drop) {
            s->state.set_slow(true);
            broker().relieve(*s);
        } else {
            close(errc::slow_consumer);
        }
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
        broker().log_limit_closed(client_id(), peer(), reason); // one line a second at most
    } else if (!reason || is_benign(reason)) {
        if (broker().log.should_log(spdlog::level::debug)) {
            broker().log.debug("client disconnected client_id={} peer={} reason={}", client_id(),
                              peer(), reason ? reason.message() : "disconnect");
        }
    } else {
        broker().log.info("client disconnected client_id={} peer={} reason={}", client_id(), peer(),
                         reason.message());
    }
    // A 5.0 client is told why, unless the stream itself broke [MQTT-3.14.2-1].
    const bool farewell = !is_benign(reason) && mqtt_.farewell(reason);
    if (throttle_) {
        throttle_->timer.cancel();
    }
    mqtt_.on_closed(); // the will, if any, is routed now
    broker().flush(worker_);
    broker().on_connection_closed(worker_, *this, listener_,
                                 std::static_pointer_cast<session>(mqtt_.release_session()));
    if (farewell) {
        linger();
    } else {
        close_transport();
    }
}

} // namespace edgemq::broker
