// SPDX-License-Identifier: Apache-2.0
// Connections without a socket: the client's end is a net::memory_stream, the broker's a
// memory_connection on one worker, linked into its connection list like any other, so that the
// deadline sweep and stop() see it. The conformance suite's second back end runs over these.

#include "memory_connection.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <atomic>
#include <bit>

namespace edgemq::broker {

namespace net {

namespace detail {

bool memory_link::write(std::span<const std::uint8_t> bytes) {
    const std::lock_guard lock{mutex_};
    if (client_closed_ || ctx_ == nullptr) {
        return false;
    }
    // A post from this thread runs after the ones before it: the bytes arrive in order.
    asio::post(*ctx_, [self = shared_from_this(), b = std::vector<std::uint8_t>(bytes.begin(),
                                                                                bytes.end())]() mutable {
        if (self->conn_) {
            self->conn_->on_bytes(std::move(b));
        }
    });
    return true;
}

std::vector<std::uint8_t> memory_link::read_some(std::chrono::milliseconds timeout) {
    std::unique_lock lock{mutex_};
    readable_.wait_for(lock, timeout,
                       [this] { return !to_client_.empty() || broker_closed_ || client_closed_; });
    return std::exchange(to_client_, {});
}

bool memory_link::eof() const {
    const std::lock_guard lock{mutex_};
    return broker_closed_ && to_client_.empty();
}

void memory_link::close() {
    const std::lock_guard lock{mutex_};
    if (client_closed_) {
        return;
    }
    client_closed_ = true;
    to_client_.clear(); // as a closed socket discards what it had received
    if (ctx_ != nullptr) {
        asio::post(*ctx_, [self = shared_from_this()] {
            if (self->conn_) {
                self->conn_->on_client_closed();
            }
        });
    }
    readable_.notify_all();
}

bool memory_link::deliver(const std::vector<asio::const_buffer>& buffers) {
    const std::lock_guard lock{mutex_};
    if (client_closed_) {
        return false;
    }
    for (const auto& b : buffers) {
        const auto* p = static_cast<const std::uint8_t*>(b.data());
        to_client_.insert(to_client_.end(), p, p + b.size());
    }
    readable_.notify_all();
    return true;
}

std::shared_ptr<memory_connection> memory_link::broker_closed() {
    const std::lock_guard lock{mutex_};
    broker_closed_ = true;
    ctx_ = nullptr;
    readable_.notify_all();
    return std::move(conn_);
}

} // namespace detail

memory_stream::memory_stream(std::shared_ptr<detail::memory_link> link) : link_(std::move(link)) {}

memory_stream::~memory_stream() {
    close();
}

bool memory_stream::write(std::span<const std::uint8_t> bytes) {
    return link_->write(bytes);
}

std::vector<std::uint8_t> memory_stream::read_some(std::chrono::milliseconds timeout) {
    return link_->read_some(timeout);
}

bool memory_stream::eof() const {
    return link_->eof();
}

void memory_stream::close() {
    link_->close();
}

} // namespace net

// ---------------------------------------------------------------------------------------------
// The broker's end

memory_connection::memory_connection(worker& w, listener_state& l,
                                     std::shared_ptr<net::detail::memory_link> link)
    : connection(w, l), link_(std::move(link)) {}

void memory_connection::on_bytes(std::vector<std::uint8_t> bytes) {
    if (!open()) {
        return;
    }
    if (inbox_read_ == inbox_.size()) {
        inbox_ = std::move(bytes);
        inbox_read_ = 0;
    } else {
        inbox_.insert(inbox_.end(), bytes.begin(), bytes.end());
    }
    read();
}

void memory_connection::on_client_closed() {
    client_closed_ = true;
    read(); // the end of the stream comes after the bytes before it, as over TCP
}

void memory_connection::resume_reading() {
    paused_ = false;
    read();
}

void memory_connection::read() {
    if (!open() || paused_) {
        return; // while paused, what arrives waits in inbox_ as in a socket's buffer
    }
    if (inbox_read_ == inbox_.size()) {
        inbox_ = {};
        inbox_read_ = 0;
        if (client_closed_) {
            close(asio::error::eof);
        }
        return;
    }
    // As tcp_connection::on_readable, with inbox_ for the socket.
    const auto space = prepare_read();
    const std::size_t n = std::min(space.room(), inbox_.size() - inbox_read_);
    std::copy_n(inbox_.begin() + static_cast<std::ptrdiff_t>(inbox_read_), n, space.free());
    inbox_read_ += n;
    finish_read(space, n);
    if (!consume_read(space, n)) {
        paused_ = true; // closed, refused, or waiting: resume_reading() clears it
        return;
    }
    if (inbox_read_ < inbox_.size() || client_closed_) {
        // More is waiting: read on after the other connections of this thread had a turn.
        asio::post(worker_.ctx, [self = shared_from_this(), this] { read(); });
    }
}

void memory_connection::send_buffers(std::vector<asio::const_buffer>& buffers) {
    const bool delivered = link_->deliver(buffers);
    // Completes later, as an asynchronous write does: on_written() starts the next write.
    asio::post(worker_.ctx, [self = shared_from_this(), this, delivered] {
        on_written(delivered ? boost::system::error_code{}
                             : make_error_code(asio::error::broken_pipe));
    });
}

void memory_connection::close_transport() {
    // The link held this connection alive; release it only once close() has returned.
    if (auto self = link_->broker_closed()) {
        asio::post(worker_.ctx, [self = std::move(self)] {});
    }
}

// ---------------------------------------------------------------------------------------------
// broker::connect_in_memory

namespace {

/// Memory connections take the workers in turn, as accepted sockets do.
std::atomic<unsigned> next_memory_worker{0};

} // namespace

std::shared_ptr<net::memory_stream> broker::connect_in_memory(std::size_t listener_index) {
    auto& b = *impl_;
    auto& l = b.listener(listener_index);
    auto& w = *b.workers[next_memory_worker.fetch_add(1, std::memory_order_relaxed) %
                         b.workers.size()];
    auto link = std::make_shared<net::detail::memory_link>(w.ctx);
    auto stream = std::make_shared<net::memory_stream>(link);
    {
        const std::lock_guard lock{b.memory_links_mutex_};
        auto& links = b.memory_links_;
        if (std::has_single_bit(links.size())) { // forget closed links now and then
            std::erase_if(links, [](const auto& l) { return l.expired(); });
        }
        links.push_back(link);
    }
    if (!b.admit(l)) {
        link->broker_closed(); // as an accepted socket that is closed at once
        return stream;
    }
    // Created on its worker like an accepted socket's connection; the client's first bytes,
    // posted after this, find it bound.
    asio::post(w.ctx, [&w, &l, link] {
        auto c = std::make_shared<memory_connection>(w, l, link);
        link->bind(c);
        w.link(*c);
        c->start();
    });
    return stream;
}

void broker_impl::sever_memory_links() {
    std::vector<std::weak_ptr<net::detail::memory_link>> links;
    {
        const std::lock_guard lock{memory_links_mutex_};
        links.swap(memory_links_);
    }
    for (const auto& weak : links) {
        if (auto link = weak.lock()) {
            link->broker_closed(); // the connection it held ends here, while its worker exists
        }
    }
}

} // namespace edgemq::broker
