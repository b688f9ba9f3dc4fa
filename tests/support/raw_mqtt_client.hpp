// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/protocol/packet_reader.hpp"

#include <boost/system/error_code.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

/// A blocking MQTT client that speaks raw bytes, for conformance and integration tests: it sends
/// whatever it is given (also malformed packets) and reads the server's answer one whole packet
/// at a time, each read with a deadline, telling a packet from silence from a closed connection.
/// Plain POSIX sockets with poll(2), so a test needs no io_context of its own.
/// Thread safety: none; one thread per client.
namespace edgemq::test {

/// What a read with a deadline saw.
enum class read_status {
    packet,    ///< one complete packet, in read_result::bytes
    timeout,   ///< nothing complete before the deadline (bytes of a partial packet stay buffered)
    closed,    ///< the server closed the connection (EOF or reset) before a complete packet
    malformed, ///< the server sent a remaining length longer than four bytes [MQTT-2.2.3]
};

struct read_result {
    read_status status = read_status::timeout;
    /// The packet (fixed header included) for `packet`; the partial bytes left for `closed`.
    std::vector<std::uint8_t> bytes;
    /// For `closed`: "eof", "reset" or the errno text.
    std::string detail;
};

/// Takes the first whole packet off the front of `in` (bytes received from a server), through
/// the broker's own packet_reader: nullopt while it is incomplete, `malformed` (leaving `in` as
/// it is) for a remaining length longer than four bytes.
inline std::optional<read_result> take_packet(std::vector<std::uint8_t>& in) {
    broker::protocol::packet_reader reader{in};
    auto header = reader.header();
    if (!header) {
        return read_result{read_status::malformed, in, header.error().message()};
    }
    if (!*header || !reader.complete()) {
        return std::nullopt;
    }
    reader.take_body();
    const auto size = static_cast<std::ptrdiff_t>(reader.consumed());
    read_result r{read_status::packet, {in.begin(), in.begin() + size}, {}};
    in.erase(in.begin(), in.begin() + size);
    return r;
}

class raw_mqtt_client {
public:
    using milliseconds = std::chrono::milliseconds;

    /// Connects to `host:port` (IPv4). Throws std::system_error when the connection fails:
    /// that is test setup, not the behaviour under test.
    explicit raw_mqtt_client(std::uint16_t port, const char* host = "127.0.0.1") {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) {
            throw std::system_error(errno, std::generic_category(), "socket()");
        }
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        if (::inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
            close();
            throw std::system_error(EINVAL, std::generic_category(), "bad IPv4 address");
        }
        if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
            const int e = errno;
            close();
            throw std::system_error(e, std::generic_category(),
                                    "connect to " + std::string(host) + ":" + std::to_string(port));
        }
        // Each send() should leave at once, so a test controls how bytes are split into segments.
        const int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }

    raw_mqtt_client(const raw_mqtt_client&) = delete;
    raw_mqtt_client& operator=(const raw_mqtt_client&) = delete;
    raw_mqtt_client(raw_mqtt_client&& other) noexcept
        : fd_(std::exchange(other.fd_, -1)), in_(std::move(other.in_)),
          peer_closed_(other.peer_closed_), closed_detail_(std::move(other.closed_detail_)) {}
    raw_mqtt_client& operator=(raw_mqtt_client&& other) noexcept {
        if (this != &other) {
            close();
            fd_ = std::exchange(other.fd_, -1);
            in_ = std::move(other.in_);
            peer_closed_ = other.peer_closed_;
            closed_detail_ = std::move(other.closed_detail_);
        }
        return *this;
    }
    ~raw_mqtt_client() { close(); }

    /// Writes all of `bytes`. Fails with the errno (EPIPE, ECONNRESET) when the server has gone.
    boost::system::error_code send(std::span<const std::uint8_t> bytes) {
        if (fd_ < 0) {
            return make_errno(EBADF);
        }
        std::size_t done = 0;
        while (done < bytes.size()) {
            const auto n = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                return make_errno(errno);
            }
            done += static_cast<std::size_t>(n);
        }
        return {};
    }

    /// Reads the next whole packet, waiting at most `timeout`.
    read_result read_packet(milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (true) {
            if (auto r = take_buffered_packet()) {
                return std::move(*r);
            }
            if (peer_closed_) {
                return {read_status::closed, in_, closed_detail_};
            }
            const auto left = std::chrono::duration_cast<milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() < 0 || fd_ < 0) {
                return {read_status::timeout, {}, {}};
            }
            pollfd p{fd_, POLLIN, 0};
            const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
            if (ready < 0 && errno == EINTR) {
                continue;
            }
            if (ready <= 0) {
                // Take the last look at the buffer before giving up on a 0 ms poll.
                if (auto r = take_buffered_packet()) {
                    return std::move(*r);
                }
                return {read_status::timeout, {}, {}};
            }
            std::uint8_t chunk[4096];
            const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
            if (n > 0) {
                in_.insert(in_.end(), chunk, chunk + n);
            } else if (n == 0) {
                peer_closed_ = true;
                closed_detail_ = "eof";
            } else if (errno != EINTR && errno != EAGAIN) {
                peer_closed_ = true;
                closed_detail_ = errno == ECONNRESET ? "reset" : make_errno(errno).message();
            }
        }
    }

    /// Bytes received but not yet returned as a packet (a partial packet).
    std::size_t buffered() const noexcept { return in_.size(); }

    /// True once a read saw the server close the connection.
    bool peer_closed() const noexcept { return peer_closed_; }

    /// Drops the TCP connection without an MQTT DISCONNECT (an abnormal close for the server).
    void close() noexcept {
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }

    bool is_open() const noexcept { return fd_ >= 0; }

    /// The next whole packet already received, without reading the socket.
    std::optional<read_result> take_buffered_packet() { return take_packet(in_); }

private:
    static boost::system::error_code make_errno(int e) {
        return {e, boost::system::generic_category()};
    }

    int fd_ = -1;
    std::vector<std::uint8_t> in_;
    bool peer_closed_ = false;
    std::string closed_detail_;
};

} // namespace edgemq::test
