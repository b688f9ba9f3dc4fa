// SPDX-License-Identifier: Apache-2.0
#include "tcp_poller.hpp"

#include "connection.hpp"

#include <boost/asio/post.hpp>
#include <boost/system/system_error.hpp>

#include <cerrno>

namespace edgemq::broker {
namespace {

int make_epoll_set() {
    const int fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0) {
        throw boost::system::system_error(errno, boost::system::system_category(),
                                          "epoll_create1");
    }
    return fd;
}

} // namespace

tcp_poller::tcp_poller(asio::io_context& ctx) : epoll_(ctx, make_epoll_set()) {
    wait();
}

boost::system::error_code tcp_poller::add(int fd, tcp_connection& c) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = &c;
    if (::epoll_ctl(epoll_.native_handle(), EPOLL_CTL_ADD, fd, &ev) != 0) {
        return {errno, boost::system::system_category()};
    }
    return {};
}

void tcp_poller::remove(int fd) noexcept {
    ::epoll_ctl(epoll_.native_handle(), EPOLL_CTL_DEL, fd, nullptr);
}

void tcp_poller::wait() {
    epoll_.async_wait(asio::posix::stream_descriptor::wait_read,
                      [this](boost::system::error_code ec) {
                          if (!ec) {
                              on_ready();
                          }
                      });
}

void tcp_poller::on_ready() {
    const int n = ::epoll_wait(epoll_.native_handle(), events_.data(), batch, 0);
    for (int i = 0; i < n; ++i) {
        // A connection closed by an earlier handler of this batch is still alive: it lets go
        // of itself in a handler posted after this one (tcp_connection::close_transport).
        static_cast<tcp_connection*>(events_[i].data.ptr)->on_ready(events_[i].events);
    }
    if (n == batch) {
        // More may be ready; the set stays readable, which an edge-triggered wait would not
        // report again. Let the thread's other handlers run first.
        asio::post(epoll_.get_executor(), [this] { on_ready(); });
        return;
    }
    // Drained: whatever becomes ready from now on makes the set readable again, and this
    // thread polls for that only after this handler returns.
    wait();
}

} // namespace edgemq::broker
