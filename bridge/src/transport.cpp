// SPDX-License-Identifier: Apache-2.0
#include "transport.hpp"

#include "edgemq/broker/net/tls.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <stdexcept>

namespace edgemq::bridge {
namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

std::shared_ptr<asio::ssl::context> client_context(const config::bridge& cfg) {
    if (!cfg.tls) {
        return nullptr;
    }
    try {
        // The chain is verified even with `insecure`, which skips only the host name check.
        return broker::net::make_client_tls_context({cfg.ca, cfg.cert, cfg.key, true});
    } catch (const std::runtime_error& e) {
        throw std::runtime_error("bridge " + cfg.name + ": " + e.what());
    }
}

} // namespace

transport::transport(asio::io_context& ctx, const config::bridge& cfg)
    : ctx_(ctx), insecure_(cfg.insecure), tls_(client_context(cfg)), resolver_(ctx),
      deadline_(ctx) {}

std::string transport::timeout() {
    return "no answer within " + std::to_string(connect_deadline.count()) + "s";
}

void transport::close() noexcept {
    if (tls_stream_ || socket_) {
        boost::system::error_code ignored;
        socket().close(ignored);
    }
}

void transport::disarm() noexcept {
    deadline_.cancel();
}

asio::awaitable<std::string> transport::async_open(std::string host, std::string port) {
    close();
    if (tls_) {
        socket_.reset();
        tls_stream_ = std::make_unique<asio::ssl::stream<tcp::socket>>(ctx_, *tls_);
    } else {
        socket_ = std::make_unique<tcp::socket>(ctx_);
    }
    timed_out_ = false;
    deadline_.expires_after(connect_deadline);
    deadline_.async_wait([this](boost::system::error_code ec) {
        if (!ec) {
            timed_out_ = true;
            resolver_.cancel();
            close();
        }
    });

    auto [resolve_ec, endpoints] = co_await resolver_.async_resolve(host, port, use_nothrow);
    if (resolve_ec) {
        co_return timed_out_ ? "DNS lookup of " + host + ": " + timeout()
                             : "DNS lookup of " + host + " failed: " + resolve_ec.message();
    }
    auto [connect_ec, endpoint] = co_await asio::async_connect(socket(), endpoints, use_nothrow);
    if (connect_ec) {
        co_return timed_out_ ? "TCP connect: " + timeout()
                             : "TCP connect failed: " + connect_ec.message();
    }
    boost::system::error_code ignored;
    socket().set_option(tcp::no_delay(true), ignored);
    if (!tls_stream_) {
        co_return std::string{};
    }

    SSL* ssl = tls_stream_->native_handle();
    boost::system::error_code not_ip;
    asio::ip::make_address(host, not_ip);
    if (not_ip) {
        SSL_set_tlsext_host_name(ssl, host.c_str()); // SNI is for names only (RFC 6066)
    }
    if (!insecure_) {
        // OpenSSL's own check, so that a mismatch reports "hostname mismatch".
        if (not_ip) {
            SSL_set1_host(ssl, host.c_str());
        } else {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
        }
    }
    auto [tls_ec] =
        co_await tls_stream_->async_handshake(asio::ssl::stream_base::client, use_nothrow);
    if (tls_ec) {
        const long verify = SSL_get_verify_result(ssl);
        co_return timed_out_  ? "TLS handshake: " + timeout()
        : verify != X509_V_OK ? std::string("TLS certificate verification failed: ") +
                                    X509_verify_cert_error_string(verify)
                              : "TLS handshake failed: " + tls_ec.message();
    }
    co_return std::string{};
}

asio::awaitable<std::tuple<boost::system::error_code, std::size_t>>
transport::async_read_some(asio::mutable_buffer buffer) {
    if (tls_stream_) {
        co_return co_await tls_stream_->async_read_some(buffer, use_nothrow);
    }
    co_return co_await socket_->async_read_some(buffer, use_nothrow);
}

asio::awaitable<std::tuple<boost::system::error_code, std::size_t>>
transport::async_write(std::vector<asio::const_buffer> buffers) {
    if (tls_stream_) {
        co_return co_await asio::async_write(*tls_stream_, buffers, use_nothrow);
    }
    co_return co_await asio::async_write(*socket_, buffers, use_nothrow);
}

} // namespace edgemq::bridge
