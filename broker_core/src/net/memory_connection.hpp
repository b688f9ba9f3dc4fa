// SPDX-License-Identifier: Apache-2.0
#pragma once

// Private to broker_core: a connection whose "socket" is a pair of in-process byte queues
// (broker::connect_in_memory, net::memory_stream).

#include "connection.hpp"

#include "edgemq/broker/net/memory_stream.hpp"

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace edgemq::broker {

class memory_connection;

namespace net::detail {

/// What the two ends of an in-memory connection share. The client's bytes travel to the
/// broker by posts to the worker's io_context (so they arrive in order, on the connection's
/// thread); the broker's bytes wait here, under the mutex, for the client's reader.
class memory_link : public std::enable_shared_from_this<memory_link> {
public:
    explicit memory_link(asio::io_context& ctx) : ctx_(&ctx) {}

    // The client's side, on any thread.
    bool write(std::span<const std::uint8_t> bytes);
    std::vector<std::uint8_t> read_some(std::chrono::milliseconds timeout);
    bool eof() const;
    void close();

    // The broker's side, on the worker's thread.

    /// Binds the connection the client's bytes go to (held until the broker closes it).
    void bind(std::shared_ptr<memory_connection> c) { conn_ = std::move(c); }
    /// Appends what the broker sends; false when the client has closed its end.
    bool deliver(const std::vector<asio::const_buffer>& buffers);
    /// The broker closed the link (or refused it): the client reads to the end, then eof().
    /// Gives back the connection, for the caller to release once it has returned.
    std::shared_ptr<memory_connection> broker_closed();

private:
    mutable std::mutex mutex_;
    std::condition_variable readable_;
    std::vector<std::uint8_t> to_client_;
    /// Null once the broker closed the link: nothing may be posted to it afterwards, since its
    /// io_context may be gone.
    asio::io_context* ctx_;
    bool client_closed_ = false;
    bool broker_closed_ = false;
    std::shared_ptr<memory_connection> conn_; ///< on the worker's thread only
};

} // namespace net::detail

/// The broker's end of an in-memory link. It reads as tcp_connection does, from the bytes the
/// client posted instead of a socket: through the worker's shared buffer, one chunk at a time,
/// so that size limits, unauthenticated memory and pauses apply exactly as over TCP.
/// Thread safety: everything runs on the owning worker's thread.
class memory_connection final : public connection {
public:
    memory_connection(worker& w, listener_state& l,
                      std::shared_ptr<net::detail::memory_link> link);

    void start() override {}

    /// Bytes the client wrote.
    void on_bytes(std::vector<std::uint8_t> bytes);
    /// The client closed its end: after the bytes before it are read, the stream ends.
    void on_client_closed();

private:
    void resume_reading() override;
    void send_buffers(std::vector<asio::const_buffer>& buffers) override;
    void close_transport() override;
    std::string peer() const override { return "memory"; }

    /// Feeds what arrived to consume() while reading is not paused.
    void read();

    std::shared_ptr<net::detail::memory_link> link_;
    std::vector<std::uint8_t> inbox_; ///< arrived, not read yet (as in a socket's buffer)
    std::size_t inbox_read_ = 0;      ///< bytes at the front of inbox_ already read
    bool paused_ = false;             ///< consume() asked to wait for resume_reading()
    bool client_closed_ = false;
};

} // namespace edgemq::broker
