// SPDX-License-Identifier: Apache-2.0
#include "connection.hpp"

#include "edgemq/broker/codec/decode.hpp"
#include "edgemq/broker/codec/encode.hpp"
#include "edgemq/broker/error.hpp"
#include "edgemq/broker/routing/topic.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <cstring>
#include <random>

namespace edgemq::broker {
namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t read_chunk = 64 * 1024;
/// iovecs per writev: what the kernel takes in one call (IOV_MAX is 1024 on Linux).
constexpr std::size_t max_iovecs = 1024;

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

connection::connection(broker::impl& broker, worker& w, asio::ip::tcp::socket socket)
    : broker_(broker), worker_(w), socket_(std::move(socket)), watchdog_timer_(w.ctx),
      writer_wake_(w.ctx), accepted_at_(std::chrono::steady_clock::now()),
      last_read_(accepted_at_) {
    boost::system::error_code ec;
    const auto ep = socket_.remote_endpoint(ec);
    peer_ = ec ? "unknown" : ep.address().to_string() + ":" + std::to_string(ep.port());
    socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

void connection::start() {
    auto self = shared_from_this();
    asio::co_spawn(worker_.ctx, [self] { return self->read_loop(); }, log_coroutine_exception);
    asio::co_spawn(worker_.ctx, [self] { return self->write_loop(); }, log_coroutine_exception);
    asio::co_spawn(worker_.ctx, [self] { return self->watchdog(); }, log_coroutine_exception);
}

asio::awaitable<void> connection::read_loop() {
    auto self = shared_from_this();
    boost::system::error_code ec;
    socket_.non_blocking(true, ec);
    auto& shared = worker_.read_buffer;
    while (open_ && !close_after_flush_) {
        // The tail of an incomplete packet goes in front of the new bytes. A packet larger than
        // the shared buffer is assembled in partial_ itself.
        const std::size_t carry = partial_.size();
        const bool in_place = needed_ > shared.size();
        if (in_place) {
            partial_.resize(needed_);
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
            auto [wait_ec] = co_await socket_.async_wait(asio::socket_base::wait_read, use_nothrow);
            if (wait_ec) {
                close(wait_ec);
                co_return;
            }
            continue;
        }
        if (ec) {
            close(ec);
            co_return;
        }
        last_read_ = std::chrono::steady_clock::now();
        worker_.bytes_received.add(n);
        const std::span<const std::uint8_t> bytes{base, carry + n};
        const std::size_t used = handle_packets(bytes);
        if (in_place) {
            partial_.erase(partial_.begin(), partial_.begin() + static_cast<std::ptrdiff_t>(used));
        } else {
            partial_.assign(bytes.begin() + static_cast<std::ptrdiff_t>(used), bytes.end());
        }
        broker_.flush(worker_); // what this read routed to other threads, as one batch each
        while (pending_connect_ && open_ && !close_after_flush_) {
            auto connect = std::move(*pending_connect_);
            pending_connect_.reset();
            co_await on_connect(std::move(connect));
            const std::size_t more = handle_packets(partial_); // pipelined behind the CONNECT
            partial_.erase(partial_.begin(), partial_.begin() + static_cast<std::ptrdiff_t>(more));
            broker_.flush(worker_);
        }
        if (partial_.empty() && partial_.capacity() > read_chunk) {
            partial_ = {}; // give a large packet's memory back
        }
        if (carry + n < capacity) {
            // A short read drained the socket. Waiting now cannot miss an edge: this thread is
            // the only one polling the reactor, and it polls after this handler returns.
            auto [wait_ec] = co_await socket_.async_wait(asio::socket_base::wait_read, use_nothrow);
            if (wait_ec) {
                close(wait_ec);
                co_return;
            }
        } else {
            // More may be waiting; let the other connections of this thread have a turn first.
            co_await asio::post(worker_.ctx, asio::use_awaitable);
        }
    }
}

std::size_t connection::handle_packets(std::span<const std::uint8_t> bytes) {
    std::size_t pos = 0;
    needed_ = 0;
    while (open_ && !close_after_flush_ && !pending_connect_) {
        const auto rest = bytes.subspan(pos);
        auto header = codec::decode_fixed_header(rest);
        if (!header) {
            protocol_violation(header.error());
            break;
        }
        if (!*header) {
            break; // need more bytes
        }
        const auto& h = **header;
        if (h.packet_size() > broker_.cfg.broker.max_packet_size) {
            protocol_violation(errc::packet_too_large);
            break;
        }
        if (rest.size() < h.packet_size()) {
            needed_ = h.packet_size();
            break;
        }
        auto p = codec::decode(h, rest.subspan(h.size, h.remaining_length));
        pos += h.packet_size();
        if (!p) {
            protocol_violation(p.error());
            break;
        }
        if (auto* c = std::get_if<codec::connect>(&*p)) {
            pending_connect_ = std::move(*c);
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
    if (p.client_id.empty()) {
        if (!p.clean_session) {
            refuse(codec::connect_return_code::identifier_rejected, // [MQTT-3.1.3-8]
                   errc::protocol_error);
            co_return;
        }
        p.client_id = assigned_client_id(); // [MQTT-3.1.3-6]
    }
    client_id_ = p.client_id;
    if (!limits.allow_anonymous && !p.username) {
        refuse(codec::connect_return_code::not_authorized, errc::protocol_error);
        co_return;
    }
    keep_alive_ = std::min(p.keep_alive, limits.max_keepalive);
    will_ = std::move(p.will);
    connected_ = true; // from here on, packets other than CONNECT are allowed

    auto attached = co_await broker_.async_attach(worker_, shared_from_this(), p.client_id,
                                                  p.clean_session);
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
    codec::encode(codec::connack{attached.session_present, codec::connect_return_code::accepted},
                  out_.bytes());
    if (attached.session_present) {
        session_->state.resume(out_); // [MQTT-4.4.0-1]
    }
    notify_writer();
    watchdog_timer_.cancel(); // re-arm for keep-alive
    broker_.log.debug("client connected client_id={} peer={} clean_session={} keep_alive={}",
                      client_id_, peer_, p.clean_session, keep_alive_);
}

void connection::on_packet(codec::packet& p) {
    if (!connected_) {
        protocol_violation(errc::first_packet_not_connect); // [MQTT-3.1.0-1]
        return;
    }
    std::visit(
        [this](auto& v) {
            using T = std::decay_t<decltype(v)>;
            auto& state = session_->state;
            if constexpr (std::is_same_v<T, codec::publish>) {
                on_publish(v);
            } else if constexpr (std::is_same_v<T, codec::puback>) {
                state.on_puback(v.packet_id, out_);
            } else if constexpr (std::is_same_v<T, codec::pubrec>) {
                state.on_pubrec(v.packet_id, out_);
            } else if constexpr (std::is_same_v<T, codec::pubrel>) {
                state.on_pubrel(v.packet_id, out_);
            } else if constexpr (std::is_same_v<T, codec::pubcomp>) {
                state.on_pubcomp(v.packet_id, out_);
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

void connection::on_publish(codec::publish& p) {
    worker_.messages_received.add();
    // Clients do not write the broker's own $SYS tree.
    const bool deliver = p.topic.rfind("$SYS", 0) != 0;
    bool fresh = true;
    if (p.qos == 1) {
        codec::encode(codec::puback{p.packet_id}, out_.bytes());
    } else if (p.qos == 2) {
        fresh = session_->state.on_publish_qos2(p.packet_id, out_);
    }
    if (deliver && fresh) {
        broker_.route(worker_, make_message(std::move(p.topic), std::move(p.payload), p.qos,
                                            p.retain));
    }
}

void connection::on_subscribe(const codec::subscribe& p) {
    codec::suback ack{p.packet_id, {}};
    ack.return_codes.reserve(p.subscriptions.size());
    for (const auto& s : p.subscriptions) {
        if (!routing::is_valid_topic_filter(s.filter)) {
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

void connection::refuse(codec::connect_return_code code, boost::system::error_code reason) {
    codec::encode(codec::connack{false, code}, out_.bytes()); // [MQTT-3.2.2-4]
    broker_.log.info("client refused client_id={} peer={} code={} reason={}", client_id_, peer_,
                     static_cast<int>(code), reason.message());
    close_after_flush_ = true;
    notify_writer();
}

void connection::protocol_violation(boost::system::error_code ec) {
    if (ec == errc::unsupported_protocol_version && !connected_) {
        refuse(codec::connect_return_code::unacceptable_protocol_version, ec); // [MQTT-3.1.2-2]
        return;
    }
    close(ec);
}

void connection::notify_writer() {
    if (!writing_ && !wake_pending_) {
        wake_pending_ = true;
        writer_wake_.cancel();
    }
}

asio::awaitable<void> connection::write_loop() {
    auto self = shared_from_this();
    std::vector<asio::const_buffer> buffers;
    while (open_) {
        if (out_.empty()) {
            if (close_after_flush_) {
                close(errc::protocol_error);
                co_return;
            }
            wake_pending_ = false;
            writer_wake_.expires_at(std::chrono::steady_clock::time_point::max());
            co_await writer_wake_.async_wait(use_nothrow);
            continue;
        }
        writing_ = true;
        sending_.swap(out_);
        buffers.clear();
        sending_.for_each_buffer(
            [&buffers](const void* data, std::size_t size) { buffers.emplace_back(data, size); });
        std::size_t total = 0;
        boost::system::error_code ec;
        for (std::size_t i = 0; i < buffers.size() && !ec; i += max_iovecs) {
            const auto end = std::min(buffers.size(), i + max_iovecs);
            std::span<const asio::const_buffer> part{buffers.data() + i, end - i};
            auto [e, n] = co_await asio::async_write(socket_, part, use_nothrow);
            ec = e;
            total += n;
        }
        worker_.bytes_sent.add(total);
        sending_.clear();
        writing_ = false;
        if (ec) {
            close(ec);
            co_return;
        }
    }
}

asio::awaitable<void> connection::watchdog() {
    auto self = shared_from_this();
    using clock = std::chrono::steady_clock;
    while (open_) {
        clock::time_point deadline = clock::time_point::max();
        boost::system::error_code reason;
        if (!connected_) {
            deadline = accepted_at_ + broker_.cfg.broker.connect_timeout;
            reason = errc::connect_timeout;
        } else if (keep_alive_ > 0) {
            deadline = last_read_ + std::chrono::milliseconds(keep_alive_ * 1500); // [MQTT-3.1.2-24]
            reason = errc::keep_alive_timeout;
        }
        if (clock::now() >= deadline) {
            close(reason);
            co_return;
        }
        watchdog_timer_.expires_at(deadline);
        co_await watchdog_timer_.async_wait(use_nothrow);
    }
}

void connection::close(boost::system::error_code reason) {
    if (!open_) {
        return;
    }
    open_ = false;
    if (!reason || is_benign(reason)) {
        broker_.log.debug("client disconnected client_id={} peer={} reason={}", client_id_, peer_,
                          reason ? reason.message() : "disconnect");
    } else {
        broker_.log.info("client disconnected client_id={} peer={} reason={}", client_id_, peer_,
                         reason.message());
    }
    boost::system::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    watchdog_timer_.cancel();
    writer_wake_.cancel();
    if (will_ && session_) {
        // [MQTT-3.1.2-8]: every end but a clean DISCONNECT publishes the will.
        broker_.route(worker_, make_message(std::move(will_->topic), std::move(will_->payload),
                                            will_->qos, will_->retain));
        will_.reset();
        broker_.flush(worker_);
    }
    broker_.on_connection_closed(worker_, *this, std::move(session_));
}

} // namespace edgemq::broker
