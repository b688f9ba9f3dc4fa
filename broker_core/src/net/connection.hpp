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

/// One network connection: a reader, a writer and a watchdog coroutine on the connection's
/// worker. The reader takes up to 64 KiB per system call and handles every packet in it; what
/// the packets produce is gathered in the write queue and leaves in one write per turn.
/// Thread safety: everything runs on the owning worker's thread.
class connection : public std::enable_shared_from_this<connection> {
public:
    connection(broker::impl& broker, worker& w, asio::ip::tcp::socket socket);

    void start();

    /// Ends the connection (idempotent). `reason` decides the log line and whether the will is
    /// published: every end but a clean DISCONNECT publishes it [MQTT-3.1.2-8].
    void close(boost::system::error_code reason);

    net::write_queue& out() noexcept { return out_; }
    /// Wakes the writer; everything queued in this turn leaves in one write.
    void notify_writer();
    const std::string& client_id() const noexcept { return client_id_; }

private:
    asio::awaitable<void> read_loop();
    asio::awaitable<void> write_loop();
    asio::awaitable<void> watchdog();

    /// Handles the complete packets at the front of `bytes`, stopping after a CONNECT (which
    /// waits in pending_connect_, since attaching a session may take a trip to another thread).
    /// Returns the bytes consumed; sets needed_ to the size of an incomplete packet at the end.
    std::size_t handle_packets(std::span<const std::uint8_t> bytes);
    asio::awaitable<void> on_connect(codec::connect p);
    void on_packet(codec::packet& p);
    void on_publish(codec::publish& p);
    void on_subscribe(const codec::subscribe& p);
    void on_unsubscribe(const codec::unsubscribe& p);
    void refuse(codec::connect_return_code code, boost::system::error_code reason);
    void protocol_violation(boost::system::error_code ec);

    broker::impl& broker_;
    worker& worker_;
    asio::ip::tcp::socket socket_;
    std::string peer_;
    asio::steady_timer watchdog_timer_;
    asio::steady_timer writer_wake_;

    /// The bytes of an incomplete packet between reads. Reads go to the worker's shared buffer,
    /// so an idle connection holds no read buffer of its own.
    std::vector<std::uint8_t> partial_;
    std::size_t needed_ = 0;
    std::optional<codec::connect> pending_connect_;
    net::write_queue out_;
    net::write_queue sending_;
    bool writing_ = false;
    bool wake_pending_ = false;
    bool close_after_flush_ = false;

    bool open_ = true;
    bool connected_ = false;
    std::string client_id_;
    std::uint16_t keep_alive_ = 0;
    std::optional<codec::will_message> will_;
    session_ptr session_;
    std::chrono::steady_clock::time_point accepted_at_;
    std::chrono::steady_clock::time_point last_read_;
};

} // namespace edgemq::broker
