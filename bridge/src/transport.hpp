// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/config/model.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

namespace edgemq::bridge {

namespace asio = boost::asio;

/// The byte stream under one bridge's MQTT session: DNS, TCP and, when configured, TLS with the
/// remote's certificate and host name checked, all within one connect deadline; then reads and
/// gathered writes. One connection at a time; open() replaces the last.
/// Thread safety: none; the bridge's thread.
class transport {
public:
    /// Time allowed for DNS, TCP, TLS and the MQTT handshake together.
    static constexpr std::chrono::seconds connect_deadline{10};

    /// Builds the TLS context when `cfg.tls`: throws std::runtime_error("bridge NAME: ...")
    /// naming a CA, certificate or key file that cannot be used.
    transport(asio::io_context& ctx, const config::bridge& cfg);

    /// Resolves, connects and handshakes; empty on success, else why in words for the log. Starts
    /// the connect deadline, which runs on (for the MQTT handshake) until disarm().
    asio::awaitable<std::string> async_open(std::string host, std::string port);
    /// Stops the connect deadline.
    void disarm() noexcept;
    /// The connect deadline closed the connection.
    bool timed_out() const noexcept { return timed_out_; }
    /// "no answer within 10s"
    static std::string timeout();

    asio::awaitable<std::tuple<boost::system::error_code, std::size_t>>
    async_read_some(asio::mutable_buffer buffer);
    asio::awaitable<std::tuple<boost::system::error_code, std::size_t>>
    async_write(std::vector<asio::const_buffer> buffers);

    /// Closes the connection; pending reads and writes end with an error.
    void close() noexcept;

private:
    using tcp = asio::ip::tcp;
    tcp::socket& socket() noexcept { return tls_stream_ ? tls_stream_->next_layer() : *socket_; }

    asio::io_context& ctx_;
    bool insecure_;
    std::shared_ptr<asio::ssl::context> tls_; ///< null without TLS
    tcp::resolver resolver_;
    asio::steady_timer deadline_;
    bool timed_out_ = false;
    // One of the two, for the connection in use.
    std::unique_ptr<asio::ssl::stream<tcp::socket>> tls_stream_;
    std::unique_ptr<tcp::socket> socket_;
};

} // namespace edgemq::bridge
