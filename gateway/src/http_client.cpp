// SPDX-License-Identifier: Apache-2.0
#include "http_client.hpp"

#include "edgemq/broker/net/tls.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <chrono>
#include <exception>
#include <stdexcept>

namespace edgemq::app {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

template <class Stream>
asio::awaitable<http_reply> exchange_on(Stream& stream, http::request<http::string_body>& req) {
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
    co_await http::async_write(stream, req, asio::use_awaitable);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
    auto res = parser.release();
    co_return http_reply{res.result_int(), std::move(res.body())};
}

/// One request and its answer. With `tls`, over TLS; `verify_error` receives why the server's
/// certificate was refused, if it is.
asio::awaitable<http_reply> exchange(url u, http::request<http::string_body> req,
                                     asio::ssl::context* tls, bool verify,
                                     std::shared_ptr<std::string> verify_error) {
    auto executor = co_await asio::this_coro::executor;
    tcp::resolver resolver{executor};
    const auto endpoints = co_await resolver.async_resolve(u.host, u.port, asio::use_awaitable);
    beast::tcp_stream tcp_stream{executor};
    tcp_stream.expires_after(std::chrono::seconds(10));
    co_await tcp_stream.async_connect(endpoints, asio::use_awaitable);
    boost::system::error_code ignored;
    if (tls == nullptr) {
        auto r = co_await exchange_on(tcp_stream, req);
        tcp_stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        co_return r;
    }
    beast::ssl_stream<beast::tcp_stream> stream{std::move(tcp_stream), *tls};
    boost::system::error_code address_ec;
    asio::ip::make_address(u.host, address_ec);
    // SNI for names only (RFC 6066 forbids IP literals); the name check covers both.
    if (address_ec && !SSL_set_tlsext_host_name(stream.native_handle(), u.host.c_str())) {
        throw std::runtime_error("cannot set the TLS server name " + u.host);
    }
    if (verify) {
        stream.set_verify_callback(
            [verify_error, host = u.host, check = asio::ssl::host_name_verification(u.host)](
                bool preverified, asio::ssl::verify_context& vc) mutable {
                if (!preverified) {
                    *verify_error =
                        X509_verify_cert_error_string(X509_STORE_CTX_get_error(vc.native_handle()));
                    return false;
                }
                if (!check(preverified, vc)) {
                    *verify_error = "it does not name " + host;
                    return false;
                }
                return true;
            });
    }
    stream.next_layer().expires_after(std::chrono::seconds(10));
    co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
    auto r = co_await exchange_on(stream, req);
    // The answer is complete: a peer that closes without close_notify changes nothing.
    stream.next_layer().expires_after(std::chrono::seconds(1));
    co_await stream.async_shutdown(asio::as_tuple(asio::use_awaitable));
    co_return r;
}

std::runtime_error bad_url(const std::string& text) {
    return std::runtime_error("expected a URL like http://127.0.0.1:18083, got " + text);
}

/// `text` without `prefix`, if it starts with it.
std::string without_prefix(std::string text, const std::string& prefix) {
    return text.starts_with(prefix) ? text.substr(prefix.size()) : text;
}

/// The client context for an https URL.
std::shared_ptr<asio::ssl::context> client_tls(const tls_options& options) {
    try {
        return broker::net::make_client_tls_context(
            {.ca = options.cacert, .cert = {}, .key = {}, .verify = !options.insecure});
    } catch (const std::runtime_error& e) {
        // The builder names the file ("ca FILE: reason"); this message names it already.
        throw std::runtime_error(
            "cannot load the CA certificates " +
            (options.cacert.empty()
                 ? "of the system: " + without_prefix(e.what(), "the system's CA certificates: ")
                 : "from " + options.cacert + ": " +
                       without_prefix(e.what(), "ca " + options.cacert + ": ")));
    }
}

/// The OpenSSL reason of a TLS error, 0 for other errors.
int tls_reason(const boost::system::error_code& e) {
    return e.category() == asio::error::get_ssl_category()
               ? ERR_GET_REASON(static_cast<unsigned long>(e.value()))
               : 0;
}

} // namespace

url parse_url(std::string_view text) {
    url u{std::string(text), {}, "18083"};
    u.tls = text.starts_with("https://");
    if (!u.tls && !text.starts_with("http://")) {
        throw bad_url(u.text);
    }
    auto rest = text.substr(u.tls ? 8 : 7);
    rest = rest.substr(0, rest.find('/'));
    if (rest.starts_with('[')) {
        const auto close = rest.find(']');
        if (close == std::string_view::npos) {
            throw std::runtime_error("bad IPv6 address in " + u.text);
        }
        u.host = std::string(rest.substr(1, close - 1));
        if (close + 1 < rest.size() && rest[close + 1] == ':') {
            u.port = std::string(rest.substr(close + 2));
        }
    } else {
        const auto colon = rest.find(':');
        u.host = std::string(rest.substr(0, colon));
        if (colon != std::string_view::npos) {
            u.port = std::string(rest.substr(colon + 1));
        }
    }
    if (u.host.empty() || u.port.empty()) {
        throw bad_url(u.text);
    }
    return u;
}

http_client::http_client(url u, const tls_options& tls)
    : url_(std::move(u)), verify_(!tls.insecure), tls_(url_.tls ? client_tls(tls) : nullptr) {}

http_client::~http_client() = default;

http_reply http_client::request(http::verb method, const std::string& target,
                                const std::string& authorization) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, url_.host);
    req.set(http::field::user_agent, "edgemq-ctl");
    if (!authorization.empty()) {
        req.set(http::field::authorization, authorization);
    }
    req.keep_alive(false);
    req.prepare_payload();
    asio::io_context ctx;
    std::exception_ptr failure;
    http_reply r;
    auto verify_error = std::make_shared<std::string>();
    asio::co_spawn(ctx, exchange(url_, std::move(req), tls_.get(), verify_, verify_error),
                   [&](std::exception_ptr e, http_reply got) {
                       failure = e;
                       r = std::move(got);
                   });
    ctx.run();
    if (!failure) {
        return r;
    }
    try {
        std::rethrow_exception(failure);
    } catch (const boost::system::system_error& e) {
        const auto reason = tls_reason(e.code());
        if (e.code() == asio::error::connection_refused) {
            throw std::runtime_error("edgemq is not running at " + url_.text);
        }
        if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED) {
            throw std::runtime_error(
                "the TLS certificate of " + url_.text +
                " was refused: " + (verify_error->empty() ? e.code().message() : *verify_error) +
                "; give --cacert FILE with the CA that signed it (or --insecure to skip the "
                "check)");
        }
        std::string hint;
        if (reason == SSL_R_WRONG_VERSION_NUMBER) {
            hint = " (does the admin server serve plain http?)";
        } else if (!url_.tls &&
                   (e.code() == http::error::end_of_stream ||
                    e.code() == asio::error::connection_reset || e.code() == asio::error::eof)) {
            hint = " (if the admin server serves https, use an https:// URL)";
        }
        throw std::runtime_error("cannot reach edgemq at " + url_.text + ": " + e.code().message() +
                                 hint);
    }
}

} // namespace edgemq::app
