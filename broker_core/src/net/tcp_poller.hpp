// SPDX-License-Identifier: Apache-2.0
#pragma once

// Private to broker_core.

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <sys/epoll.h>

#include <array>
#include <cstdint>

namespace edgemq::broker {

namespace asio = boost::asio;

class tcp_connection;

/// The readiness of one worker's plain TCP connections, watched by an epoll set of the
/// worker's own instead of one Asio socket each. Asio keeps about 340 bytes for every socket it
/// watches (its reactor's entry for the descriptor with a mutex and three operation queues,
/// and the pending wait); here a connection is one entry in the kernel's epoll set and a file
/// descriptor in the connection. With 10,000 idle clients that is 3.4 MB, the difference
/// between Mosquitto's memory per connection and a third more (docs/PERFORMANCE.md).
/// Asio still runs the thread: it waits for the epoll set itself to become readable.
/// Thread safety: the worker's thread only.
class tcp_poller {
public:
    /// Throws boost::system::system_error when the kernel gives no epoll set.
    explicit tcp_poller(asio::io_context& ctx);

    /// Watches `fd` (edge-triggered, reading and writing) for `c`, whose on_ready() is called
    /// with the epoll events until the descriptor is closed.
    boost::system::error_code add(int fd, tcp_connection& c);
    /// Stops watching `fd`; before it is closed. Closing alone is not enough: the kernel keeps
    /// the entry while another descriptor refers to the socket (a child between fork and exec
    /// holds a copy of every one), and would then report events for a connection that is gone.
    void remove(int fd) noexcept;

private:
    void wait();
    void on_ready();

    /// Events taken per epoll_wait; a fuller set is drained in more rounds.
    static constexpr int batch = 128;

    asio::posix::stream_descriptor epoll_;
    std::array<epoll_event, batch> events_{};
};

} // namespace edgemq::broker
