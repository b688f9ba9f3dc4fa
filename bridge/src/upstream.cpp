// SPDX-License-Identifier: Apache-2.0
#include "upstream.hpp"

#include "edgemq/broker/error.hpp"
#include "edgemq/broker/protocol/packet_reader.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/fmt/fmt.h>
#include <spdlog/logger.h>

#include <array>
#include <utility>
#include <variant>

namespace edgemq::bridge {
namespace {

namespace codec = broker::codec;
using clock = std::chrono::steady_clock;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

/// A remote's Reason String (5.0) for a log line, quoted and escaped (it is the remote's text,
/// not ours), or nothing when it sent none.
std::string in_its_words(std::string_view why) {
    return why.empty() ? std::string{} : fmt::format(" (the remote says {:?})", why);
}

std::string connack_reason(codec::connect_return_code code, std::uint8_t level) {
    if (level == codec::protocol_level_5) {
        const auto c = static_cast<std::uint8_t>(code);
        return fmt::format("{:#04x}, {}", c, codec::reason_name(c));
    }
    switch (code) {
    case codec::connect_return_code::unacceptable_protocol_version:
        return "1, unacceptable protocol version";
    case codec::connect_return_code::identifier_rejected:
        return "2, client id rejected";
    case codec::connect_return_code::server_unavailable:
        return "3, server unavailable";
    case codec::connect_return_code::bad_username_or_password:
        return "4, bad user name or password";
    case codec::connect_return_code::not_authorized:
        return "5, not authorized";
    default:
        return std::to_string(static_cast<int>(code));
    }
}

std::vector<asio::const_buffer> buffers_of(const broker::net::write_queue& q) {
    std::vector<asio::const_buffer> buffers;
    q.for_each_buffer(
        [&buffers](const void* data, std::size_t size) { buffers.emplace_back(data, size); });
    return buffers;
}

} // namespace

upstream::upstream(asio::io_context& ctx, transport& t, settings s, spdlog::logger& log,
                   upstream_handler& handler)
    : ctx_(ctx), transport_(t), settings_(std::move(s)), log_(log), handler_(handler),
      mqtt_(settings_.mqtt, *this), writer_wake_(ctx) {}

// ---------------------------------------------------------------------------------------------
// Connecting

asio::awaitable<std::string> upstream::async_connect(std::string host, std::string port) {
    in_.clear();
    out_.clear();
    failure_.clear();
    refused_.reset();
    finished_ = nullptr;
    auto why = co_await transport_.async_open(std::move(host), std::move(port));
    if (why.empty()) {
        why = co_await async_handshake();
    }
    transport_.disarm();
    handshaking_ = false;
    if (!why.empty()) {
        mqtt_.connection_lost();
        transport_.close();
    }
    co_return why;
}

asio::awaitable<std::string> upstream::async_handshake() {
    mqtt_.connect(clock::now(), out_);
    handshaking_ = true;
    sending_.swap(out_);
    auto [write_ec, written] = co_await transport_.async_write(buffers_of(sending_));
    sending_.clear();
    if (write_ec) {
        co_return transport_.timed_out() ? "CONNECT: " + transport::timeout()
                                         : "sending CONNECT failed: " + write_ec.message();
    }
    mqtt_.on_written(clock::now());
    // Read until CONNACK; anything the remote sends after it stays in in_ for async_run().
    std::array<std::uint8_t, 512> chunk{};
    for (;;) {
        if (!read_packets()) {
            co_return failure_;
        }
        if (mqtt_.connected()) {
            co_return std::string{};
        }
        auto [read_ec, n] = co_await transport_.async_read_some(asio::buffer(chunk));
        if (read_ec) {
            co_return transport_.timed_out()
                ? "CONNACK: " + transport::timeout()
                : "the remote closed the connection before CONNACK (" + read_ec.message() + ")";
        }
        mqtt_.on_read(clock::now());
        in_.insert(in_.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
    }
}

// ---------------------------------------------------------------------------------------------
// The connected session: three loops; the first to end ends the others (awaitable operator ||).

asio::awaitable<std::string> upstream::async_run() {
    using namespace asio::experimental::awaitable_operators;
    mqtt_.subscribe(settings_.subscriptions, out_);
    if (settings_.notification_topic) {
        // Not from the queue: its PUBACK acknowledges nothing there, and it is not resent.
        mqtt_.publish(broker::make_message(*settings_.notification_topic, "online", 1, true),
                      std::nullopt, out_);
    }
    handler_.on_connected(resent_);
    std::string why;
    if (!in_.empty() && !read_packets()) { // what the remote sent right behind its CONNACK
        why = failure_;
    } else {
        auto ended = co_await (async_reader() || async_writer() || async_keepalive());
        why = std::visit([](std::string& w) { return std::move(w); }, ended);
    }
    // What is in flight stays for the next connection; the rest goes.
    mqtt_.connection_lost();
    transport_.close();
    co_return why;
}

asio::awaitable<std::string> upstream::async_reader() {
    std::vector<std::uint8_t> chunk(64 * 1024);
    for (;;) {
        auto [ec, n] = co_await transport_.async_read_some(asio::buffer(chunk));
        if (ec) {
            transport_.close();
            co_return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated
                ? std::string("the remote closed the connection")
                : "read failed: " + ec.message();
        }
        mqtt_.on_read(clock::now());
        in_.insert(in_.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
        if (!read_packets()) {
            co_return failure_;
        }
        handler_.on_packets_handled();
    }
}

asio::awaitable<std::string> upstream::async_writer() {
    auto cancelled = [](asio::cancellation_state cs) {
        return cs.cancelled() != asio::cancellation_type::none;
    };
    for (;;) {
        if (out_.empty()) {
            writer_wake_.expires_at(clock::time_point::max());
            writer_idle_ = true;
            co_await writer_wake_.async_wait(use_nothrow); // notify_writer() cancels it
            writer_idle_ = false;
            if (cancelled(co_await asio::this_coro::cancellation_state)) {
                co_return std::string("closed");
            }
            continue;
        }
        sending_.swap(out_);
        auto [ec, n] = co_await transport_.async_write(buffers_of(sending_));
        sending_.clear();
        if (ec) {
            transport_.close();
            co_return "write failed: " + ec.message();
        }
        mqtt_.on_written(clock::now());
        if (finished_ && out_.empty()) {
            std::exchange(finished_, nullptr)(); // the offline notice and DISCONNECT are out
        }
    }
}

asio::awaitable<std::string> upstream::async_keepalive() {
    const auto keepalive = std::chrono::seconds(mqtt_.keep_alive());
    asio::steady_timer tick{ctx_};
    for (;;) {
        if (keepalive.count() == 0) {
            tick.expires_at(clock::time_point::max()); // keep-alive off: only cancelled
        } else {
            tick.expires_after(keepalive / 4);
        }
        auto [ec] = co_await tick.async_wait(use_nothrow);
        if (ec) {
            co_return std::string("closed");
        }
        mqtt_.on_timer(clock::now(), out_);
        if (!failure_.empty()) {
            co_return failure_;
        }
        if (!out_.empty()) {
            notify_writer();
        }
    }
}

bool upstream::read_packets() {
    broker::protocol::packet_reader reader{in_, mqtt_.protocol_level()};
    const auto now = clock::now();
    // While connecting, only up to the CONNACK: the rest is for the session.
    while (failure_.empty() && !(handshaking_ && mqtt_.connected())) {
        auto p = reader.next(settings_.max_packet_size);
        if (!p) {
            if (handshaking_) {
                fail("the remote answered CONNECT with something other than CONNACK");
            } else if (p.error() == broker::errc::packet_too_large) {
                fail("the remote sent a packet of " + std::to_string(reader.needed()) +
                     " bytes, over max_packet_size");
            } else if (p.error() == broker::errc::malformed_remaining_length) {
                fail("malformed packet from the remote");
            } else {
                fail("malformed packet from the remote: " + p.error().message());
            }
            break;
        }
        if (!*p) {
            break;
        }
        mqtt_.on_packet(std::move(**p), now, out_);
    }
    in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(reader.consumed()));
    if (!out_.empty()) {
        notify_writer();
    }
    return failure_.empty();
}

// ---------------------------------------------------------------------------------------------
// For the forwarder and the link

bool upstream::publish(const broker::message_ptr& m, std::optional<std::int64_t> seq) {
    using result = broker::protocol::client_session::publish_result;
    if (mqtt_.publish(m, seq, out_) == result::too_large) {
        log_.warn("bridge {}: a message on {} of {} bytes is over the remote's Maximum Packet Size; "
                  "dropped",
                  settings_.name, m->topic, m->payload.size());
        return false;
    }
    notify_writer();
    return true;
}

bool upstream::finish(std::function<void()> written) {
    if (!mqtt_.connected()) {
        return false;
    }
    if (settings_.notification_topic) {
        mqtt_.publish(broker::make_message(*settings_.notification_topic, "offline", 0, true),
                      std::nullopt, out_);
    }
    mqtt_.disconnect(out_);
    finished_ = std::move(written);
    notify_writer(); // the writer calls `written` once these are out
    return true;
}

void upstream::notify_writer() {
    // Once per wake-up, not per packet: a cancel takes the reactor's mutex, and a drain from
    // the queue publishes a whole window in one go.
    if (writer_idle_) {
        writer_idle_ = false;
        writer_wake_.cancel();
    }
}

void upstream::fail(std::string why) {
    if (failure_.empty()) {
        failure_ = std::move(why);
    }
    transport_.close();
}

// ---------------------------------------------------------------------------------------------
// What the session asks for (client_actions)

void upstream::connected(bool, std::size_t resent) {
    resent_ = resent;
}

void upstream::deliver(codec::publish p) {
    handler_.on_message(std::move(p));
}

void upstream::acknowledged(std::int64_t token) {
    handler_.on_acknowledged(token);
}

void upstream::subscribed(const std::vector<std::uint8_t>& return_codes) {
    for (std::size_t i = 0; i < return_codes.size(); ++i) {
        if (return_codes[i] >= codec::suback_failure) { // 5.0: any reason code from 0x80
            log_.warn("bridge {}: the remote refused subscription number {} (see its ACL)",
                      settings_.name, i + 1);
        }
    }
}

void upstream::refused(codec::connect_return_code code, std::string_view why) {
    refused_ = code;
    fail("the remote refused the connection: CONNACK " +
         connack_reason(code, mqtt_.protocol_level()) + in_its_words(why));
}

void upstream::rejected(std::int64_t token, std::uint8_t reason_code, std::string_view why) {
    // Told no, the remote will never take it: resending would stall the queue behind it.
    log_.warn("bridge {}: the remote refused a message: {:#04x}, {}{}; it leaves the queue",
              settings_.name, reason_code, codec::reason_name(reason_code), in_its_words(why));
    handler_.on_rejected(token);
}

void upstream::disconnected(std::uint8_t reason_code, std::string_view why) {
    fail(fmt::format("the remote disconnected: {:#04x}, {}{}", reason_code,
                     codec::reason_name(reason_code), in_its_words(why)));
}

void upstream::close(boost::system::error_code reason) {
    if (reason == broker::errc::keep_alive_timeout) {
        fail("no answer to PINGREQ within " + std::to_string(settings_.mqtt.keep_alive) + "s");
    } else if (handshaking_) {
        fail("the remote answered CONNECT with something other than CONNACK");
    } else if (reason == broker::errc::protocol_error) {
        fail("unexpected packet from the remote");
    } else {
        fail(reason.message());
    }
}

} // namespace edgemq::bridge
