// SPDX-License-Identifier: Apache-2.0
#pragma once

// Private to broker_core: one client connection on one worker thread.

#include "../broker_impl.hpp"

#include "edgemq/broker/codec/packets.hpp"
#include "edgemq/broker/net/write_queue.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include <optional>
#include <span>
#include <vector>

namespace edgemq::broker {

/// One network connection on its worker's thread. The reader takes up to 64 KiB per system call
/// into the worker's shared buffer and handles every packet in it; what the packets produce is
/// gathered in the write queue and leaves in one gathered write per turn of the event loop.
///
/// The steady state is written with completion handlers, not coroutines, and deadlines are
/// checked by one sweep per thread instead of a timer per connection: an idle connection then
/// holds one pending readiness wait of about a hundred bytes, where a reader, a writer and a
/// watchdog coroutine held about 5 KiB of frames. With 10,000 idle
/// clients that is the difference between beating Mosquitto's memory and losing to it
/// (docs/PERFORMANCE.md). CONNECT, which may wait for a session to move between threads, is
/// still a coroutine.
/// Thread safety: everything runs on the owning worker's thread.
class connection : public std::enable_shared_from_this<connection> {
public:
    using socket_type = asio::basic_stream_socket<asio::ip::tcp, asio::io_context::executor_type>;

    connection(broker::impl& broker, worker& w, listener_state& l, socket_type socket);

    void start();

    /// Ends the connection (idempotent). `reason` decides the log line and whether the will is
    /// published: every end but a clean DISCONNECT publishes it [MQTT-3.1.2-8].
    void close(boost::system::error_code reason);

    net::write_queue& out() noexcept { return out_; }
    /// Wakes the writer; everything queued in this turn leaves in one write.
    void notify_writer();

    /// Closes the connection when its CONNECT deadline or 1.5 x keep-alive has passed; called
    /// by the worker's periodic sweep.
    void check_deadline(std::chrono::steady_clock::time_point now);

private:
    void wait_readable();
    void on_readable(boost::system::error_code ec);
    /// Reads and handles what the socket holds; false when reading must pause (closed, or a
    /// CONNECT is being attached).
    bool read_some();
    asio::awaitable<void> attach_then_resume(codec::connect p);
    void start_write();
    void on_written(boost::system::error_code ec, std::size_t n);

    /// Handles the complete packets at the front of `bytes`, stopping after a CONNECT (which
    /// waits in pending_connect_, since attaching a session may take a trip to another thread).
    /// Returns the bytes consumed; sets needed_ to the size of an incomplete packet at the end.
    std::size_t handle_packets(std::span<const std::uint8_t> bytes);
    asio::awaitable<void> on_connect(codec::connect p);
    void on_packet(codec::packet& p);
    void on_publish(codec::publish& p);
    void on_subscribe(const codec::subscribe& p);
    void on_unsubscribe(const codec::unsubscribe& p);
    void refuse(codec::connect_return_code code, boost::system::error_code reason,
                std::string_view id);
    void protocol_violation(boost::system::error_code ec);
    std::string peer() const;
    std::string_view client_id() const noexcept;

public:
    // The worker's intrusive list of its connections (no allocation per connection).
    connection* prev_in_worker = nullptr;
    connection* next_in_worker = nullptr;

private:

    broker::impl& broker_;
    worker& worker_;
    listener_state& listener_;
    socket_type socket_;

    /// The bytes of an incomplete packet between reads. Reads go to the worker's shared buffer,
    /// so an idle connection holds no read buffer of its own.
    std::vector<std::uint8_t> partial_;
    std::size_t needed_ = 0;
    std::unique_ptr<codec::connect> pending_connect_;
    net::write_queue out_;
    /// The write on its way to the kernel; null when none is.
    struct write_in_flight {
        net::write_queue data;
        std::vector<asio::const_buffer> buffers;
    };
    std::unique_ptr<write_in_flight> sending_;
    bool write_scheduled_ = false;
    bool close_after_flush_ = false;

    bool open_ = true;
    bool connected_ = false;
    std::uint16_t keep_alive_ = 0;
    std::unique_ptr<codec::will_message> will_;
    session_ptr session_;
    /// Accept time until CONNECT, then the time of the last read (keep-alive).
    std::chrono::steady_clock::time_point last_read_;
};

} // namespace edgemq::broker
