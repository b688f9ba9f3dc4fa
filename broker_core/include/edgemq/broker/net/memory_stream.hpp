// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace edgemq::broker::net {

namespace detail {
class memory_link;
}

/// The client's end of a connection to the broker without a socket (broker::connect_in_memory):
/// the bytes written here are read by a broker connection on one of its I/O threads, under the
/// same MQTT rules, limits and deadlines as a TCP client of the same listener, and what the
/// broker sends comes back through read_some(). For tests and tools; not a hot path (every write
/// is one copy and one post to the broker's thread).
///
/// As on a socket, the bytes are a stream: several writes may reach the broker as one read, and
/// read_some() returns whatever has arrived, not whole packets.
/// Thread safety: one client thread calls the members (a second may call close()); the broker's
/// side runs on its I/O thread.
class memory_stream {
public:
    explicit memory_stream(std::shared_ptr<detail::memory_link> link);
    /// Closes the link (close()).
    ~memory_stream();
    memory_stream(const memory_stream&) = delete;
    memory_stream& operator=(const memory_stream&) = delete;

    /// Hands a copy of `bytes` to the broker. False, dropping them, when the link is closed:
    /// by close(), or by the broker (as bytes sent to a socket its peer closed are lost).
    bool write(std::span<const std::uint8_t> bytes);

    /// The bytes the broker sent that were not read yet, waiting up to `timeout` for the first
    /// one. Empty on a timeout and at the end (see eof()).
    std::vector<std::uint8_t> read_some(std::chrono::milliseconds timeout);

    /// True once the broker has closed the link and every byte it sent before was read.
    bool eof() const;

    /// Drops the link as a client dropping its TCP connection: the broker sees an end of stream
    /// without an MQTT DISCONNECT (so a will is published). Idempotent.
    void close();

private:
    std::shared_ptr<detail::memory_link> link_;
};

} // namespace edgemq::broker::net
