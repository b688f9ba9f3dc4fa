// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "transport.hpp"

#include "edgemq/broker/codec/packets.hpp"
#include "edgemq/broker/message.hpp"
#include "edgemq/broker/net/write_queue.hpp"
#include "edgemq/broker/protocol/client_session.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace spdlog {
class logger;
}

namespace edgemq::bridge {

/// What the upstream session hands over to the bridge's forwarder, on the bridge's thread.
class upstream_handler {
public:
    virtual ~upstream_handler() = default;
    /// Connected, the window resent (`resent` PUBLISH packets), subscribed and announced.
    virtual void on_connected(std::size_t resent) = 0;
    /// A message from the remote.
    virtual void on_message(broker::codec::publish p) = 0;
    /// The remote acknowledged the message published with token `seq`.
    virtual void on_acknowledged(std::int64_t seq) = 0;
    /// The remote refused the message published with token `seq` (5.0): it is not resent.
    virtual void on_rejected(std::int64_t seq) = 0;
    /// The packets of one read were handled: the window may have room again.
    virtual void on_packets_handled() = 0;
};

/// The bridge's MQTT client: protocol::client_session over a transport. It exchanges CONNECT
/// and CONNACK within the transport's deadline, then runs three loops until the connection
/// ends (a reader cutting packets with protocol::packet_reader, a writer sending what the
/// session queued in one gathered write, and the keep-alive tick); it subscribes to the remote
/// side of the inbound rules and keeps the retained online/offline notice (the will).
/// Thread safety: none; the bridge's thread.
class upstream final : private broker::protocol::client_actions {
public:
    struct settings {
        std::string name; ///< the bridge's, for the log
        broker::protocol::client_options mqtt;
        std::vector<broker::codec::subscription> subscriptions;
        std::optional<std::string> notification_topic; ///< "online", "offline" (the will)
        std::size_t max_packet_size = 0;
    };

    upstream(asio::io_context& ctx, transport& t, settings s, spdlog::logger& log,
             upstream_handler& handler);

    /// Opens the transport to host:port and exchanges CONNECT / CONNACK; empty on success,
    /// else why it failed, in words for the log.
    asio::awaitable<std::string> async_connect(std::string host, std::string port);
    /// Runs the connected session until it ends; returns why it ended.
    asio::awaitable<std::string> async_run();

    bool connected() const noexcept { return mqtt_.connected(); }
    /// No message with a token may be published until one is acknowledged.
    bool window_full() const noexcept { return mqtt_.window_full(); }
    /// Bytes waiting for the writer.
    std::size_t unwritten() const noexcept { return out_.size(); }
    /// Publishes `m` (see client_session::publish); connected() must be true. False when it can
    /// never be sent: it is over the remote's Maximum Packet Size (logged).
    bool publish(const broker::message_ptr& m, std::optional<std::int64_t> seq);
    /// The CONNACK code of the last refusal, until the next async_connect.
    std::optional<broker::codec::connect_return_code> refused() const noexcept { return refused_; }
    /// Connects without the bridge bit from now on (a remote that refused it).
    void drop_bridge_bit() noexcept { mqtt_.drop_bridge_bit(); }
    bool bridge_bit() const noexcept { return mqtt_.bridge_bit(); }

    /// The end: the offline notice and DISCONNECT; `written` runs once they are out. False
    /// (nothing written) while not connected.
    bool finish(std::function<void()> written);

private:
    // client_actions
    void connected(bool session_present, std::size_t resent) override;
    void deliver(broker::codec::publish p) override;
    void acknowledged(std::int64_t token) override;
    void subscribed(const std::vector<std::uint8_t>& return_codes) override;
    void refused(broker::codec::connect_return_code code, std::string_view why) override;
    void rejected(std::int64_t token, std::uint8_t reason_code, std::string_view why) override;
    void disconnected(std::uint8_t reason_code, std::string_view why) override;
    void close(boost::system::error_code reason) override;

    asio::awaitable<std::string> async_handshake();
    asio::awaitable<std::string> async_reader();
    asio::awaitable<std::string> async_writer();
    asio::awaitable<std::string> async_keepalive();
    /// Hands the complete packets in in_ to the session, up to CONNACK while connecting. False
    /// when the connection must end (failure_ says why).
    bool read_packets();
    void notify_writer();
    void fail(std::string why);

    asio::io_context& ctx_;
    transport& transport_;
    settings settings_;
    spdlog::logger& log_;
    upstream_handler& handler_;
    broker::protocol::client_session mqtt_;
    asio::steady_timer writer_wake_;
    broker::net::write_queue out_;     ///< packets waiting for the writer
    broker::net::write_queue sending_; ///< the bytes being written
    std::vector<std::uint8_t> in_;     ///< bytes read and not yet decoded
    bool writer_idle_ = false;         ///< the writer waits on writer_wake_ for out_
    bool handshaking_ = false;         ///< CONNECT sent, CONNACK not yet read
    std::size_t resent_ = 0;           ///< at the last CONNACK
    std::string failure_;              ///< why the connection must end, once it must
    std::optional<broker::codec::connect_return_code> refused_;
    std::function<void()> finished_;   ///< set by finish()
};

} // namespace edgemq::bridge
