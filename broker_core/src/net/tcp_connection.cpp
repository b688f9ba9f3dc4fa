// SPDX-License-Identifier: Apache-2.0
// Plain TCP on the worker's tcp_poller: reads and writes are the system calls themselves, done
// when the descriptor's edge says they can make progress.
#include "connection.hpp"

#include <boost/asio/post.hpp>

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>

namespace edgemq::broker {
namespace {

/// Buffers per sendmsg (a message is two or three: header, payload, properties).
constexpr std::size_t iov_batch = 128;

boost::system::error_code last_error() {
    return {errno, boost::system::system_category()};
}

bool would_block() {
    return errno == EAGAIN || errno == EWOULDBLOCK;
}

} // namespace

tcp_connection::tcp_connection(worker& w, listener_state& l, socket_type socket)
    : connection(w, l) {
    boost::system::error_code ec;
    socket.set_option(asio::ip::tcp::no_delay(true), ec);
    socket.non_blocking(true, ec);
    fd_ = socket.release(ec);
}

tcp_connection::~tcp_connection() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

void tcp_connection::start() {
    if (const auto ec = fd_ < 0 ? make_error_code(asio::error::bad_descriptor)
                                : worker_.tcp.add(fd_, *this)) {
        close(ec);
        return;
    }
    self_ = shared_from_this();
    read(); // the CONNECT may be there already
}

void tcp_connection::on_ready(std::uint32_t events) {
    constexpr std::uint32_t broken = EPOLLERR | EPOLLHUP;
    if (wants_writable_ && (events & (EPOLLOUT | broken)) != 0) {
        wants_writable_ = false;
        write();
    }
    if (wants_readable_ && (events & (EPOLLIN | EPOLLRDHUP | broken)) != 0) {
        wants_readable_ = false;
        read();
    }
}

void tcp_connection::read() {
    if (!open() || fd_ < 0) {
        return;
    }
    const auto space = prepare_read();
    ssize_t got;
    do {
        got = ::recv(fd_, space.free(), space.room(), 0);
    } while (got < 0 && errno == EINTR);
    const auto ec = got < 0 && !would_block() ? last_error() : boost::system::error_code{};
    const bool drained = got < 0 && !ec;
    const std::size_t n = got > 0 ? static_cast<std::size_t>(got) : 0;
    finish_read(space, n);
    if (drained) {
        // Waiting now cannot miss an edge: this thread is the only one polling its set, and it
        // polls after this handler returns.
        wants_readable_ = true;
        return;
    }
    if (ec || got == 0) {
        close(ec ? ec : make_error_code(asio::error::eof));
        return;
    }
    if (!consume_read(space, n)) {
        return; // paused: resume_reading() reads on
    }
    if (n == space.room()) {
        // More may be waiting: read again after the other connections of this thread had a
        // turn.
        asio::post(worker_.ctx, [self = shared_from_this(), this] { read(); });
        return;
    }
    wants_readable_ = true; // a short read drained the socket
}

void tcp_connection::send_buffers(std::vector<asio::const_buffer>& /* unsent() */) {
    // write() consumes the buffers where the connection keeps them, across edges if it must.
    writing_ = true;
    write();
}

void tcp_connection::write() {
    if (!writing_ || fd_ < 0) {
        return;
    }
    auto& buffers = unsent();
    std::size_t done = 0; // buffers written whole
    boost::system::error_code ec;
    while (done < buffers.size()) {
        std::array<iovec, iov_batch> iov;
        const std::size_t count = std::min(iov_batch, buffers.size() - done);
        for (std::size_t i = 0; i < count; ++i) {
            iov[i] = {const_cast<void*>(buffers[done + i].data()), buffers[done + i].size()};
        }
        msghdr msg{};
        msg.msg_iov = iov.data();
        msg.msg_iovlen = count;
        const ssize_t sent = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (would_block()) {
                // The socket is full: go on from here at the next edge.
                buffers.erase(buffers.begin(), buffers.begin() + static_cast<std::ptrdiff_t>(done));
                wants_writable_ = true;
                return;
            }
            ec = last_error();
            break;
        }
        for (auto left = static_cast<std::size_t>(sent); left > 0;) {
            auto& b = buffers[done];
            if (left < b.size()) {
                b += left;
                break;
            }
            left -= b.size();
            ++done;
        }
    }
    writing_ = false;
    // Completes in a later handler, as an asynchronous write does: on_written() may start the
    // next write at once.
    asio::post(worker_.ctx, [self = shared_from_this(), this, ec] { on_written(ec); });
}

void tcp_connection::close(boost::system::error_code reason) {
    connection::close(reason);
    if (self_) {
        // A lingering connection is kept by its linger timer from now on; anything else that
        // still runs for it holds it too. Let go after the handlers of this turn.
        asio::post(worker_.ctx, [self = std::move(self_)] {});
    }
}

void tcp_connection::close_transport() {
    if (fd_ < 0) {
        return;
    }
    worker_.tcp.remove(fd_);
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    fd_ = -1;
    wants_readable_ = wants_writable_ = false;
    if (writing_) {
        writing_ = false; // the write fails, as one Asio cancels
        asio::post(worker_.ctx, [self = shared_from_this(), this] {
            on_written(make_error_code(asio::error::operation_aborted));
        });
    }
}

std::string tcp_connection::peer() const {
    asio::ip::tcp::endpoint ep;
    auto len = static_cast<socklen_t>(ep.capacity());
    if (fd_ < 0 || ::getpeername(fd_, ep.data(), &len) != 0) {
        return "unknown";
    }
    ep.resize(len);
    return ep.address().to_string() + ":" + std::to_string(ep.port());
}

} // namespace edgemq::broker
