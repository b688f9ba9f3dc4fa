// SPDX-License-Identifier: Apache-2.0
#pragma once

// Private to broker_core: one client connection on one worker thread.

#include "../broker_impl.hpp"

#include "edgemq/broker/codec/packets.hpp"
#include "edgemq/broker/protocol/server_session.hpp"
#include "edgemq/broker/token_bucket.hpp"
#include "edgemq/broker/net/write_queue.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>

#include <optional>
#include <span>
#include <vector>

namespace edgemq::broker {

/// One client connection on its worker's thread: a transport that a subclass provides
/// (tcp_connection, and stream_connection for TLS and WebSocket) under the MQTT rules of
/// protocol::server_session. The connection moves bytes, holds the write queue and carries out
/// what the session asks (the server_actions): it decides no MQTT rule of its own. Transports
/// hand received bytes to consume() and send through send_buffers().
///
/// The steady state is written with completion handlers, not coroutines, and deadlines are
/// checked by one sweep per thread instead of a timer per connection: an idle TCP connection then
/// holds one pending readiness wait of about a hundred bytes, where a reader, a writer and a
/// watchdog coroutine held about 5 KiB of frames. With 10,000 idle clients that is the
/// difference between beating Mosquitto's memory and losing to it (docs/PERFORMANCE.md).
/// Attaching a session, which may wait for it to move between threads, is still a coroutine.
/// Thread safety: everything runs on the owning worker's thread.
class connection : public std::enable_shared_from_this<connection>,
                   private protocol::server_actions {
public:
    using socket_type = asio::basic_stream_socket<asio::ip::tcp, asio::io_context::executor_type>;

    connection(worker& w, listener_state& l);
    ~connection() override = default;

    /// Starts the transport (handshakes, then reading).
    virtual void start() = 0;

    /// Ends the connection (idempotent). `reason` decides the log line; the session publishes
    /// the will unless a clean DISCONNECT dropped it [MQTT-3.1.2-8].
    void close(boost::system::error_code reason) override;

    net::write_queue& out() noexcept { return mqtt_.out(); }
    /// Wakes the writer; everything queued in this turn leaves in one write.
    void notify_writer();

    /// Closes the connection when one of the session's deadlines has passed; called by the
    /// worker's periodic sweep.
    void check_deadline(std::chrono::steady_clock::time_point now);

    /// Fills what the connection knows of `info` (peer, listener, keep-alive, since when).
    void describe(client_info& info) const;

    /// The session store committed up to `through` (broker_impl::on_committed).
    void on_committed(std::uint64_t through, bool ok);

    // Flow control (broker_impl::note_backlog).
    /// The session this connection was waiting for is relieved: read on.
    void unblock();
    /// Its session's queue became congested: the slow-consumer clock starts.
    void congestion_began() noexcept { progress_at_ = std::chrono::steady_clock::now(); }

    // The worker's intrusive list of its connections (no allocation per connection).
    connection* prev_in_worker = nullptr;
    connection* next_in_worker = nullptr;

protected:
    // The transport's side.

    /// Reads again after a pause (consume() returned false because a CONNECT was attaching).
    virtual void resume_reading() = 0;
    /// Sends `buffers` (valid until completion, which the transport may consume as it writes)
    /// and calls on_written() in a later handler.
    virtual void send_buffers(std::vector<asio::const_buffer>& buffers) = 0;
    /// Closes the socket; pending operations complete with an error.
    virtual void close_transport() = 0;
    virtual std::string peer() const = 0;
    /// The CN of a verified client certificate, for use_identity_as_username.
    virtual std::optional<std::string> certificate_identity() const { return std::nullopt; }

    /// Handles received bytes: `bytes` is the carried tail of the last read followed by the new
    /// ones, either in the worker's shared buffer or (`in_place`) in partial_ itself. Returns
    /// false when reading must pause (closed, refused, or a CONNECT being attached).
    bool consume(std::span<const std::uint8_t> bytes, bool in_place);

    /// Where a transport that reads into memory of its own choosing (TCP, memory) puts the next
    /// bytes: after the carried tail of an incomplete packet, in the worker's shared buffer, or
    /// for a packet larger than that buffer in partial_ itself, which grows by what arrives,
    /// never to the size the header declares (13 bytes declaring 256 MiB hold 13 bytes).
    struct read_space {
        std::uint8_t* base;
        std::size_t carry;    ///< bytes of the incomplete packet already at base
        std::size_t capacity; ///< base's size; read at most capacity - carry more
        bool in_place;
        std::uint8_t* free() const noexcept { return base + carry; }
        std::size_t room() const noexcept { return capacity - carry; }
    };
    read_space prepare_read();
    /// After `n` bytes (0 on an error) went to `space.free()`: trims partial_ to what it holds.
    void finish_read(const read_space& space, std::size_t n);
    /// Counts the `n` new bytes and consumes what `space` holds now (as consume()).
    bool consume_read(const read_space& space, std::size_t n);
    /// The write send_buffers() began is done (or failed: `ec`).
    void on_written(boost::system::error_code ec);
    /// The buffers of the write in flight: what send_buffers() was given.
    std::vector<asio::const_buffer>& unsent() noexcept { return sending_->buffers; }
    void note_read(std::size_t n);
    bool open() const noexcept { return open_; }
    /// Logs why a transport refused a connection before MQTT began, and closes it.
    void transport_failed(std::string_view what, boost::system::error_code ec);

    broker_impl& broker() const noexcept { return worker_.broker; }

    worker& worker_;
    listener_state& listener_;

    /// The bytes of an incomplete packet between reads. TCP reads go to the worker's shared
    /// buffer, so an idle TCP connection holds no read buffer of its own.
    std::vector<std::uint8_t> partial_;
    /// The size of the incomplete packet at the end of partial_, once its header is known (0
    /// when it is not).
    std::uint32_t needed() const noexcept { return needed_; }

private:
    // protocol::server_actions
    const protocol::server_limits& limits() override;
    void attach(protocol::attach_request r) override;
    void route(message_ptr m) override;
    bool subscribe(const std::string& filter, const protocol::subscription_options& o) override;
    bool unsubscribe(const std::string& filter) override;
    void defer_will(message_ptr m, std::uint32_t delay) override;
    std::vector<message_ptr> retained_for(std::string_view filter) override;
    protocol::admission_rules rules() override;
    void count(event e) override;
    std::uint64_t durable_mark() override;
    bool await_commit(std::uint64_t mark) override;
    void login_refused(std::string_view client_id, std::string_view user) override;
    void refused(codec::connect_return_code code, boost::system::error_code reason,
                 std::string_view client_id) override;

    asio::awaitable<void> async_attach_then_resume(protocol::attach_request r);
    /// True when reading must wait: for a CONNECT to attach (or a refusal to go out), or for the
    /// publish rate limit.
    bool paused();
    /// Handles what arrived during a pause, then reads on.
    void continue_reading();
    void start_write();
    /// After close(): sends what is queued (the DISCONNECT telling a 5.0 client why), then
    /// closes the transport; after linger_timeout at the latest.
    void linger();
    void end_linger();

    /// Feeds the complete packets at the front of `bytes` to the session, stopping when it
    /// pauses (a CONNECT attaching). Returns the bytes consumed; sets needed_ to the size of an
    /// incomplete packet at the end.
    std::size_t handle_packets(std::span<const std::uint8_t> bytes);
    /// After handle_packets consumed `used` bytes: tells the session how the stream stands, and
    /// before CONNECT accounts what partial_ holds. False when that closed the connection.
    bool note_progress(std::size_t used);
    /// Adds (or, with 0, gives back) this connection's share of the broker's
    /// unauthenticated_bytes; false when max_unauthenticated_memory would be passed.
    bool hold_unauthenticated(std::size_t bytes);
    std::string_view client_id() const noexcept { return mqtt_.client_id(); }
    /// The session the server session holds once attached (null before).
    session* attached() const noexcept { return static_cast<session*>(mqtt_.session().get()); }
    session_ptr attached_ptr() const { return std::static_pointer_cast<session>(mqtt_.session()); }

    protocol::server_session mqtt_; ///< with the write queue
    /// max_publish_rate: the tokens, and the wait for the next one when they ran out.
    struct publish_throttle {
        token_bucket bucket;
        asio::steady_timer timer;
    };
    std::unique_ptr<publish_throttle> throttle_; ///< only with max_publish_rate
    /// The write on its way to the kernel; null when none is.
    struct write_in_flight {
        net::write_queue data;
        std::vector<asio::const_buffer> buffers;
    };
    std::unique_ptr<write_in_flight> sending_;
    /// A message this connection published went to this congested session: once what was read
    /// is handled, reading waits (waiting_flow_) until it is relieved.
    session_ptr blocked_by_;
    /// The last write the client took, or the start of its session's congestion if later.
    std::chrono::steady_clock::time_point progress_at_{};
    std::unique_ptr<asio::steady_timer> linger_timer_;
    /// This connection's share of broker_impl::unauthenticated_bytes (before CONNECT only, so at
    /// most max_connect_size).
    std::uint32_t unauthenticated_held_ = 0;
    /// The size of the incomplete packet at the end of partial_, once its header is known.
    std::uint32_t needed_ = 0;
    // The flags last, side by side: a connection is mostly idle memory (docs/PERFORMANCE.md).
    bool write_scheduled_ = false;
    bool throttled_ = false; ///< out of publish tokens
    bool waiting_flow_ = false;
    bool awaiting_commit_ = false; ///< in its worker's commit_waiters
    bool close_after_flush_ = false;
    bool lingering_ = false; ///< closed, the transport still sending its last bytes
    bool incomplete_ = false; ///< handle_packets stopped inside a packet
    bool open_ = true;
};

/// Plain TCP: its descriptor is watched by the worker's tcp_poller, and it reads without
/// blocking into the worker's shared buffer, so an idle connection owns neither a read buffer
/// nor a pending operation (net/tcp_connection.cpp).
class tcp_connection final : public connection {
public:
    /// Takes the descriptor out of `socket` (Asio no longer watches it).
    tcp_connection(worker& w, listener_state& l, socket_type socket);
    ~tcp_connection() override;

    void start() override;
    /// Also lets go of the connection's hold on itself (a lingering one is kept by its timer).
    void close(boost::system::error_code reason) override;
    /// The poller saw `events` (EPOLLIN, EPOLLOUT, ...) on the descriptor.
    void on_ready(std::uint32_t events);

private:
    void resume_reading() override { read(); }
    void send_buffers(std::vector<asio::const_buffer>& buffers) override;
    void close_transport() override;
    std::string peer() const override;

    /// Reads once; when the socket may hold more, reads again in a later turn.
    void read();
    /// Writes what is left of the buffers send_buffers() was given.
    void write();

    /// The poller's events point here: the connection owns itself until close() (a lingering
    /// one is then kept by its linger timer until its descriptor closes).
    std::shared_ptr<connection> self_;
    int fd_;
    bool writing_ = false; ///< send_buffers() was called, its completion not posted yet
    bool wants_readable_ = false; ///< the last read drained the socket: the next edge reads
    bool wants_writable_ = false; ///< the last write filled the socket: the next edge writes
};

/// Creates the connection for a listener of type "tls", "ws" or "wss" (net/stream_connection.cpp);
/// `tls` is the listener's context at accept time (null for "ws").
std::shared_ptr<connection> make_stream_connection(worker& w, listener_state& l,
                                                   connection::socket_type socket,
                                                   std::shared_ptr<asio::ssl::context> tls);

} // namespace edgemq::broker
