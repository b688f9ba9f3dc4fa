// SPDX-License-Identifier: Apache-2.0
#pragma once

// Private to broker_core: one client connection on one worker thread.

#include "../broker_impl.hpp"

#include "edgemq/broker/codec/packets.hpp"
#include "edgemq/broker/net/write_queue.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>

#include <optional>
#include <span>
#include <vector>

namespace edgemq::broker {

/// One client connection on its worker's thread: the MQTT side (packets, session, will, keep-alive)
/// over a transport that a subclass provides (tcp_connection, and stream_connection for TLS and
/// WebSocket). Transports hand received bytes to consume() and send through send_buffers().
///
/// The steady state is written with completion handlers, not coroutines, and deadlines are
/// checked by one sweep per thread instead of a timer per connection: an idle TCP connection then
/// holds one pending readiness wait of about a hundred bytes, where a reader, a writer and a
/// watchdog coroutine held about 5 KiB of frames. With 10,000 idle clients that is the
/// difference between beating Mosquitto's memory and losing to it (docs/PERFORMANCE.md).
/// CONNECT, which may wait for a session to move between threads, is still a coroutine.
/// Thread safety: everything runs on the owning worker's thread.
class connection : public std::enable_shared_from_this<connection> {
public:
    using socket_type = asio::basic_stream_socket<asio::ip::tcp, asio::io_context::executor_type>;

    connection(broker_impl& broker, worker& w, listener_state& l);
    virtual ~connection() = default;

    /// Starts the transport (handshakes, then reading).
    virtual void start() = 0;

    /// Ends the connection (idempotent). `reason` decides the log line and whether the will is
    /// published: every end but a clean DISCONNECT publishes it [MQTT-3.1.2-8].
    void close(boost::system::error_code reason);

    net::write_queue& out() noexcept { return out_; }
    /// Wakes the writer; everything queued in this turn leaves in one write.
    void notify_writer();

    /// Closes the connection when its CONNECT deadline or 1.5 x keep-alive has passed; called
    /// by the worker's periodic sweep.
    void check_deadline(std::chrono::steady_clock::time_point now);

    /// Fills what the connection knows of `info` (peer, listener, keep-alive, since when).
    void describe(client_info& info) const;

    // The worker's intrusive list of its connections (no allocation per connection).
    connection* prev_in_worker = nullptr;
    connection* next_in_worker = nullptr;

protected:
    // The transport's side.

    /// Reads again after a pause (consume() returned false because a CONNECT was attaching).
    virtual void resume_reading() = 0;
    /// Sends `buffers` (valid until completion) and calls on_written().
    virtual void send_buffers(const std::vector<asio::const_buffer>& buffers) = 0;
    /// Closes the socket; pending operations complete with an error.
    virtual void close_transport() = 0;
    virtual std::string peer() const = 0;
    /// The CN of a verified client certificate, for use_identity_as_username.
    virtual std::optional<std::string> certificate_identity() const { return std::nullopt; }

    /// Handles received bytes: `bytes` is the carried tail of the last read followed by the new
    /// ones, either in the worker's shared buffer or (`in_place`) in partial_ itself. Returns
    /// false when reading must pause (closed, refused, or a CONNECT being attached).
    bool consume(std::span<const std::uint8_t> bytes, bool in_place);
    void on_written(boost::system::error_code ec, std::size_t n);
    void note_read(std::size_t n);
    bool open() const noexcept { return open_; }
    /// Logs why a transport refused a connection before MQTT began, and closes it.
    void transport_failed(std::string_view what, boost::system::error_code ec);

    broker_impl& broker_;
    worker& worker_;
    listener_state& listener_;

    /// The bytes of an incomplete packet between reads. TCP reads go to the worker's shared
    /// buffer, so an idle TCP connection holds no read buffer of its own.
    std::vector<std::uint8_t> partial_;
    /// The size of the incomplete packet at the end of partial_, once its header is known.
    std::size_t needed_ = 0;

private:
    asio::awaitable<void> attach_then_resume(codec::connect p);
    /// True when reading must wait: for a CONNECT to attach, or for the publish rate limit.
    bool paused();
    /// Handles what arrived during a pause, then reads on.
    void continue_reading();
    void start_write();

    /// Handles the complete packets at the front of `bytes`, stopping after a CONNECT (which
    /// waits in pending_connect_, since attaching a session may take a trip to another thread).
    /// Returns the bytes consumed; sets needed_ to the size of an incomplete packet at the end.
    std::size_t handle_packets(std::span<const std::uint8_t> bytes);
    /// After handle_packets consumed `used` bytes: starts or ends the packet_timeout clock of an
    /// incomplete packet, and before CONNECT accounts what partial_ holds. False when that
    /// closed the connection.
    bool note_progress(std::size_t used);
    /// Adds (or, with 0, gives back) this connection's share of the broker's
    /// unauthenticated_bytes; false when max_unauthenticated_memory would be passed.
    bool hold_unauthenticated(std::size_t bytes);
    asio::awaitable<void> on_connect(codec::connect p);
    /// Checks the credentials against the listener's rules; refuses the CONNECT and returns
    /// nullopt when they fail, else what the session's ACL checks need (null when nothing).
    std::optional<std::shared_ptr<const client_access>> authenticate(const codec::connect& p);
    void on_packet(codec::packet& p);
    /// Closes the connection for an ack of the wrong type; false then.
    bool on_ack(protocol::session_state::ack_result r);
    void on_publish(codec::publish& p);
    void on_subscribe(const codec::subscribe& p);
    void on_unsubscribe(const codec::unsubscribe& p);
    void refuse(codec::connect_return_code code, boost::system::error_code reason,
                std::string_view id);
    void protocol_violation(boost::system::error_code ec);
    std::string_view client_id() const noexcept;

    std::unique_ptr<codec::connect> pending_connect_;

    /// A token bucket for max_publish_rate: `rate` tokens a second, at most one second's worth.
    struct publish_throttle {
        publish_throttle(asio::io_context& ctx, double rate)
            : rate(rate), tokens(rate), timer(ctx) {}

        bool take() {
            const auto now = std::chrono::steady_clock::now();
            tokens =
                std::min(rate, tokens + rate * std::chrono::duration<double>(now - last).count());
            last = now;
            if (tokens < 1.0) {
                throttled = true;
                return false;
            }
            tokens -= 1.0;
            return true;
        }

        double rate;
        double tokens;
        std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();
        bool throttled = false;
        asio::steady_timer timer;
    };
    std::unique_ptr<publish_throttle> throttle_; ///< only with max_publish_rate
    net::write_queue out_;
    /// The write on its way to the kernel; null when none is.
    struct write_in_flight {
        net::write_queue data;
        std::vector<asio::const_buffer> buffers;
    };
    std::unique_ptr<write_in_flight> sending_;
    bool write_scheduled_ = false;
    bool close_after_flush_ = false;
    bool incomplete_ = false; ///< handle_packets stopped inside a packet

    bool open_ = true;
    bool connected_ = false;
    std::uint16_t keep_alive_ = 0;
    std::int64_t connected_at_ = 0; ///< Unix seconds
    std::unique_ptr<codec::will_message> will_;
    session_ptr session_;
    /// Accept time until CONNECT, then the time of the last read (keep-alive).
    std::chrono::steady_clock::time_point last_read_;
    /// When the incomplete packet at the end of partial_ began to arrive; zero when none is.
    std::chrono::steady_clock::time_point receiving_since_{};
    /// This connection's share of broker_impl::unauthenticated_bytes (before CONNECT only).
    std::size_t unauthenticated_held_ = 0;
};

/// Plain TCP: waits for readiness, then reads without blocking into the worker's shared buffer,
/// so an idle connection owns no read buffer; one read per wake-up drains the socket.
class tcp_connection final : public connection {
public:
    tcp_connection(broker_impl& broker, worker& w, listener_state& l, socket_type socket);

    void start() override;

private:
    void resume_reading() override { on_readable({}); }
    void send_buffers(const std::vector<asio::const_buffer>& buffers) override;
    void close_transport() override;
    std::string peer() const override;

    void wait_readable();
    void on_readable(boost::system::error_code ec);

    socket_type socket_;
};

/// Creates the connection for a listener of type "tls", "ws" or "wss" (net/stream_connection.cpp);
/// `tls` is the listener's context at accept time (null for "ws").
std::shared_ptr<connection> make_stream_connection(broker_impl& broker, worker& w,
                                                   listener_state& l,
                                                   connection::socket_type socket,
                                                   std::shared_ptr<asio::ssl::context> tls);

} // namespace edgemq::broker
