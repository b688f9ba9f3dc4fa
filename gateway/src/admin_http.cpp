// SPDX-License-Identifier: Apache-2.0
// The admin HTTP server.
//
// One io_context on one thread: an accept loop, one coroutine per connection reading requests
// with Beast's parser (header and body limits, a deadline on every read and write), and a
// sampler that keeps the message counters of the last ten minutes for the dashboard's chart.
// Everything that touches the broker's admin queries runs on this thread, which is what the
// broker asks of them (they block until every I/O thread has answered).
//
// This file is the server and the authentication in front of everything: the pages, /metrics
// and the login routes. The JSON API behind the login is admin_api; the users and their
// sessions are admin_users.
//
// Password guessing: login_throttle counts failed logins per peer address (a wrong password
// on POST /api/v1/login or in HTTP Basic, an unknown bearer token). After 5 within a minute,
// the address gets 429 with Retry-After for every password it sends, without the password
// being checked, until the window has passed. Tokens still work from there: they were earned
// by a login, cannot be guessed, and an attacker on a shared address should not lock the
// operators out of their open dashboards. A stale cookie is not a failure (browsers send one
// after every restart). The block and its end are logged once each.

#include "admin_http.hpp"
#include "admin_api.hpp"
#include "admin_users.hpp"
#include "dashboard.hpp"
#include "encoding.hpp"
#include "login_throttle.hpp"
#include "web.hpp"

#include "edgemq/broker/log_exception.hpp"
#include "edgemq/broker/net/tls.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <type_traits>

namespace edgemq::app {
namespace {

namespace asio = boost::asio;
using namespace web;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

constexpr std::size_t body_limit = 64 * 1024;
constexpr std::size_t header_limit = 8 * 1024;
constexpr auto read_timeout = 30s;
constexpr auto write_timeout = 30s;
constexpr auto tls_handshake_timeout = 10s;
constexpr auto events_period = 2s;
constexpr std::string_view cookie_name = "edgemq_session";

/// Who sent a request: `peer` (address:port) for the logs, `address` for the throttle.
struct client {
    std::string peer;
    std::string address;
};

/// The outcome of authenticating a request: the user, or refused (401), or throttled (429).
struct auth_result {
    std::optional<std::string> user;
    std::chrono::seconds retry_after{0}; // non-zero: throttled
};

/// The value of cookie `name` in the request's Cookie headers.
std::optional<std::string_view> cookie(const request& req, std::string_view name) {
    for (auto field = req.find(http::field::cookie);
         field != req.end() && field->name() == http::field::cookie; ++field) {
        std::string_view rest = field->value();
        while (!rest.empty()) {
            const auto semi = rest.find(';');
            auto pair = rest.substr(0, semi);
            rest = semi == std::string_view::npos ? std::string_view{} : rest.substr(semi + 1);
            while (!pair.empty() && pair.front() == ' ') {
                pair.remove_prefix(1);
            }
            if (pair.starts_with(name) && pair.size() > name.size() && pair[name.size()] == '=') {
                return pair.substr(name.size() + 1);
            }
        }
    }
    return std::nullopt;
}

} // namespace

class admin_http_impl {
public:
    admin_http_impl(config::admin cfg, broker::broker& b, std::shared_ptr<spdlog::logger> log,
                    serial::service* devices, bridge::supervisor* bridges,
                    modbus::service* buses)
        : cfg_(std::move(cfg)), log_(std::move(log)), api_(b, devices, bridges, log_, buses),
          users_(cfg_.users_file, log_) {}

    ~admin_http_impl() { stop(); }

    void start() {
        if (auto password = ensure_admin_user(cfg_.users_file)) {
            log_->warn("created the first admin user: admin password={} (also written to {}, "
                       "mode 0600); change it with `edgemq ctl admins passwd admin PASSWORD`",
                       *password, initial_password_file(cfg_.users_file).string());
        }
        users_.reload();
        if (!cfg_.cert.empty()) {
            try {
                tls_ = broker::net::make_server_tls_context({.cert = cfg_.cert,
                                                             .key = cfg_.key,
                                                             .ca = {},
                                                             .require_client_certificate = false});
            } catch (const std::exception& e) {
                throw std::runtime_error("admin: cannot load cert " + cfg_.cert + " and key " +
                                         cfg_.key + ": " + e.what());
            }
        }
        const tcp::endpoint ep{asio::ip::make_address(cfg_.host), cfg_.port};
        try {
            acceptor_.open(ep.protocol());
            acceptor_.set_option(tcp::acceptor::reuse_address(true));
            acceptor_.bind(ep);
            acceptor_.listen();
        } catch (const boost::system::system_error& e) {
            throw std::system_error(e.code(), "admin: cannot listen on " + cfg_.host + ":" +
                                                  std::to_string(cfg_.port));
        }
        port_ = acceptor_.local_endpoint().port();
        api_.set_self({tls_ ? "https" : "http", cfg_.host, port_});
        api_.sample();
        asio::co_spawn(ctx_, accept_loop(), broker::log_exception(*log_, "admin accept loop"));
        asio::co_spawn(ctx_, sample_loop(), broker::log_exception(*log_, "admin sampler"));
        thread_ = std::thread([this] { ctx_.run(); });
    }

    void stop() {
        if (!thread_.joinable()) {
            return;
        }
        asio::post(ctx_, [this] {
            boost::system::error_code ignored;
            acceptor_.close(ignored);
            ctx_.stop();
        });
        thread_.join();
    }

    std::uint16_t port() const { return port_; }

private:
    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [ec, sock] = co_await acceptor_.async_accept(use_nothrow);
            if (ec == asio::error::operation_aborted || !acceptor_.is_open()) {
                co_return;
            }
            if (ec) {
                // Out of descriptors, most likely: wait a little instead of spinning.
                log_->warn("admin accept failed: {}", ec.message());
                asio::steady_timer pause{ctx_, 100ms};
                co_await pause.async_wait(use_nothrow);
                continue;
            }
            const auto done = broker::log_exception(*log_, "admin session");
            if (tls_) {
                asio::co_spawn(ctx_,
                               serve(beast::ssl_stream<beast::tcp_stream>{
                                   beast::tcp_stream{std::move(sock)}, *tls_}),
                               done);
            } else {
                asio::co_spawn(ctx_, serve(beast::tcp_stream{std::move(sock)}), done);
            }
        }
    }

    asio::awaitable<void> sample_loop() {
        asio::steady_timer timer{ctx_};
        for (;;) {
            timer.expires_after(admin_api::sample_period);
            auto [ec] = co_await timer.async_wait(use_nothrow);
            if (ec) {
                co_return;
            }
            api_.sample();
            for (const auto& address : throttle_.expire(login_throttle::clock::now())) {
                log_->info("admin logins from address={} allowed again", address);
            }
        }
    }

    template <class Stream> asio::awaitable<void> serve(Stream stream) {
        boost::system::error_code ignored;
        const auto remote = beast::get_lowest_layer(stream).socket().remote_endpoint(ignored);
        const client from{remote.address().to_string() + ":" + std::to_string(remote.port()),
                          remote.address().to_string()};
        const auto& peer = from.peer;
        if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
            beast::get_lowest_layer(stream).expires_after(tls_handshake_timeout);
            auto [ec] =
                co_await stream.async_handshake(asio::ssl::stream_base::server, use_nothrow);
            if (ec) {
                log_->debug("admin tls handshake failed peer={}: {}", peer, ec.message());
                co_return;
            }
        }
        beast::flat_buffer buffer;
        for (;;) {
            http::request_parser<http::string_body> parser;
            parser.body_limit(body_limit);
            parser.header_limit(header_limit);
            beast::get_lowest_layer(stream).expires_after(read_timeout);
            auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_nothrow);
            if (ec) {
                std::optional<response> refusal;
                if (ec == http::error::body_limit) {
                    refusal = error_response(
                        http::status::payload_too_large, 11, "payload_too_large",
                        "request bodies are limited to " + std::to_string(body_limit) + " bytes");
                } else if (ec == http::error::header_limit) {
                    refusal = error_response(http::status::request_header_fields_too_large, 11,
                                             "header_too_large",
                                             "request headers are limited to " +
                                                 std::to_string(header_limit) + " bytes");
                } else if (ec.category() ==
                               http::make_error_code(http::error::bad_target).category() &&
                           ec != http::error::end_of_stream && ec != http::error::partial_message) {
                    refusal = error_response(http::status::bad_request, 11, "bad_request",
                                             "malformed HTTP request: " + ec.message());
                }
                if (refusal) {
                    refusal->keep_alive(false);
                    refusal->prepare_payload();
                    beast::get_lowest_layer(stream).expires_after(write_timeout);
                    co_await http::async_write(stream, *refusal, use_nothrow);
                    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
                        co_await linger(stream);
                        co_return;
                    }
                }
                break;
            }
            request req = parser.release();
            const auto t = split_target(req.target());
            std::optional<response> answer;
            if (t.path == "/api/v1/events" && req.method() == http::verb::get) {
                const auto auth = authenticate(req, from);
                if (auth.user) {
                    co_await serve_events(stream, req.version());
                    break;
                }
                answer = refusal(req, auth);
            }
            response res = answer ? std::move(*answer) : handle(req, t, from);
            res.keep_alive(req.keep_alive());
            res.prepare_payload();
            beast::get_lowest_layer(stream).expires_after(write_timeout);
            auto [wec, wn] = co_await http::async_write(stream, res, use_nothrow);
            if (wec || !res.keep_alive()) {
                break;
            }
        }
        if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
            stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
        } else {
            beast::get_lowest_layer(stream).expires_after(1s);
            co_await stream.async_shutdown(use_nothrow);
        }
    }

    /// Closes after a refusal without losing it: closing a socket with unread request bytes
    /// sends a reset, which can destroy the answer before the client reads it. So: FIN first,
    /// then read and drop what the client still sends, for a second and 64 KiB at most.
    static asio::awaitable<void> linger(beast::tcp_stream& stream) {
        boost::system::error_code ec;
        stream.socket().shutdown(tcp::socket::shutdown_send, ec);
        stream.expires_after(1s);
        std::array<char, 4096> sink;
        for (std::size_t total = 0; !ec && total < 64 * 1024;) {
            std::size_t n = 0;
            std::tie(ec, n) = co_await stream.async_read_some(asio::buffer(sink), use_nothrow);
            total += n;
        }
    }

    /// Server-sent events: a `stats` event every events_period until the client goes away.
    template <class Stream> asio::awaitable<void> serve_events(Stream& stream, unsigned version) {
        http::response<http::empty_body> res{http::status::ok, version};
        res.set(http::field::server, "edgemq/" EDGEMQ_VERSION);
        res.set(http::field::content_type, "text/event-stream");
        res.set(http::field::cache_control, "no-store");
        res.keep_alive(false);
        http::response_serializer<http::empty_body> sr{res};
        beast::get_lowest_layer(stream).expires_after(write_timeout);
        auto [ec, n] = co_await http::async_write_header(stream, sr, use_nothrow);
        asio::steady_timer timer{ctx_};
        while (!ec) {
            const std::string event = "event: stats\ndata: " + api_.stats_event() + "\n\n";
            beast::get_lowest_layer(stream).expires_after(write_timeout);
            std::tie(ec, n) = co_await asio::async_write(stream, asio::buffer(event), use_nothrow);
            if (ec) {
                break;
            }
            timer.expires_after(events_period);
            std::tie(ec) = co_await timer.async_wait(use_nothrow);
        }
    }

    // Authentication ----------------------------------------------------------------------

    /// The user a request authenticates as: bearer token, Basic, or the session cookie; see
    /// the top of the file for what counts as a failure and what a throttled address may do.
    auth_result authenticate(const request& req, const client& from) {
        const auto auth = req[http::field::authorization];
        if (auth.starts_with("Bearer ")) {
            if (auto user = users_.session_user(auth.substr(7))) {
                return {std::move(user)};
            }
            if (const auto wait = throttled(from); wait.count() != 0) {
                return {std::nullopt, wait};
            }
            return failed_login(from);
        }
        if (auth.starts_with("Basic ")) {
            if (const auto wait = throttled(from); wait.count() != 0) {
                return {std::nullopt, wait};
            }
            const auto decoded = base64_decoded(auth.substr(6));
            const auto colon = decoded ? decoded->find(':') : std::string::npos;
            if (colon == std::string::npos ||
                !users_.verify(decoded->substr(0, colon),
                               std::string_view(*decoded).substr(colon + 1))) {
                return failed_login(from);
            }
            throttle_.succeeded(from.address);
            return {decoded->substr(0, colon)};
        }
        if (const auto token = cookie(req, cookie_name)) {
            return {users_.session_user(*token)};
        }
        return {};
    }

    /// Non-zero while `from` is refused for too many failed logins (rounded up to seconds).
    std::chrono::seconds throttled(const client& from) const {
        const auto wait = throttle_.blocked_for(from.address, login_throttle::clock::now());
        return std::chrono::ceil<std::chrono::seconds>(wait);
    }

    /// Counts a failure (answered 401; the attempts after the one that blocks get 429).
    auth_result failed_login(const client& from) {
        if (throttle_.failed(from.address, login_throttle::clock::now())) {
            log_->warn("admin logins from address={} refused for {}s: too many failed logins",
                       from.address, throttled(from).count());
        }
        return {};
    }

    /// 401, or 429 with Retry-After when the address is throttled.
    static response refusal(const request& req, const auth_result& auth) {
        if (auth.retry_after.count() == 0) {
            return unauthorized(req);
        }
        const auto seconds = std::to_string(auth.retry_after.count());
        auto res = error_response(
            http::status::too_many_requests, req.version(), "too_many_requests",
            "too many failed logins from this address; try again in " + seconds + " s");
        res.set(http::field::retry_after, seconds);
        return res;
    }

    response login(const request& req, const client& from) {
        boost::system::error_code ec;
        const auto body = json::parse(req.body(), ec);
        const auto* o = ec ? nullptr : body.if_object();
        const auto* user = o ? o->if_contains("username") : nullptr;
        const auto* password = o ? o->if_contains("password") : nullptr;
        if (user == nullptr || password == nullptr || !user->is_string() ||
            !password->is_string()) {
            return error_response(http::status::bad_request, req.version(), "bad_request",
                                  R"(expected a JSON body {"username": "...", "password": "..."})");
        }
        if (const auto wait = throttled(from); wait.count() != 0) {
            return refusal(req, {std::nullopt, wait});
        }
        const std::string name(user->as_string().data(), user->as_string().size());
        if (!users_.verify(name, {password->as_string().data(), password->as_string().size()})) {
            log_->warn("admin login refused user={} peer={}", name, from.peer);
            failed_login(from);
            return error_response(http::status::unauthorized, req.version(), "unauthorized",
                                  "bad username or password");
        }
        throttle_.succeeded(from.address);
        const auto token = users_.open_session(name);
        log_->info("admin login user={} peer={}", name, from.peer);
        const auto seconds =
            std::chrono::duration_cast<std::chrono::seconds>(admin_users::session_lifetime).count();
        auto res = json_response(
            http::status::ok, req.version(),
            json::object{{"token", token}, {"username", name}, {"expires_in", seconds}});
        res.set(http::field::set_cookie, std::string(cookie_name) + "=" + token +
                                             "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                                             std::to_string(seconds) + (tls_ ? "; Secure" : ""));
        return res;
    }

    response logout(const request& req) {
        if (const auto auth = req[http::field::authorization]; auth.starts_with("Bearer ")) {
            users_.close_session(auth.substr(7));
        }
        if (const auto token = cookie(req, cookie_name)) {
            users_.close_session(*token);
        }
        auto res = make_response(http::status::no_content, req.version(), "", "application/json");
        res.set(http::field::set_cookie,
                std::string(cookie_name) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
        return res;
    }

    static response unauthorized(const request& req) {
        auto res = error_response(http::status::unauthorized, req.version(), "unauthorized",
                                  "log in: POST /api/v1/login, then send the session cookie or "
                                  "'Authorization: Bearer TOKEN'; or use HTTP Basic");
        // Bearer, not Basic: a browser would pop up its own login dialog for Basic.
        res.set(http::field::www_authenticate, R"(Bearer realm="edgemq")");
        return res;
    }

    // Routing -----------------------------------------------------------------------------

    response handle(const request& req, const target& t, const client& from) {
        const auto v = req.version();
        const auto method = req.method();
        const std::string_view path = t.path;
        if (path == "/" || path == "/index.html" || path == "/dashboard.js" ||
            path == "/dashboard.css") {
            if (method != http::verb::get && method != http::verb::head) {
                return not_allowed(req, "GET");
            }
            response res = path == "/dashboard.js"
                               ? make_response(http::status::ok, v, std::string(dashboard_js),
                                               "text/javascript; charset=utf-8")
                           : path == "/dashboard.css"
                               ? make_response(http::status::ok, v, std::string(dashboard_css),
                                               "text/css; charset=utf-8")
                               : make_response(http::status::ok, v, std::string(dashboard_html),
                                               "text/html; charset=utf-8");
            res.set("Content-Security-Policy",
                    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
            res.set("X-Frame-Options", "DENY");
            return res;
        }
        if (path == "/metrics") {
            if (method != http::verb::get) {
                return not_allowed(req, "GET");
            }
            if (cfg_.metrics_auth) {
                if (const auto auth = authenticate(req, from); !auth.user) {
                    return refusal(req, auth);
                }
            }
            return make_response(http::status::ok, v, api_.metrics(),
                                 "text/plain; version=0.0.4; charset=utf-8");
        }
        constexpr std::string_view prefix = "/api/v1/";
        if (!path.starts_with(prefix)) {
            return error_response(http::status::not_found, v, "not_found",
                                  "no such page: " + std::string(path));
        }
        const std::string_view route = path.substr(prefix.size());
        if (route == "login") {
            return method == http::verb::post ? login(req, from) : not_allowed(req, "POST");
        }
        if (route == "logout") {
            return method == http::verb::post ? logout(req) : not_allowed(req, "POST");
        }
        if (const auto auth = authenticate(req, from); !auth.user) {
            return refusal(req, auth);
        }
        if (t.bad_query) {
            return error_response(http::status::bad_request, v, "bad_request",
                                  "malformed percent-encoding in the query string");
        }
        return api_.handle(req, t, route);
    }

    config::admin cfg_;
    std::shared_ptr<spdlog::logger> log_;
    admin_api api_;
    admin_users users_;
    login_throttle throttle_;
    asio::io_context ctx_{1};
    std::shared_ptr<asio::ssl::context> tls_; // for https only
    tcp::acceptor acceptor_{ctx_};
    std::uint16_t port_ = 0;
    std::thread thread_;
};

admin_http::admin_http(config::admin cfg, broker::broker& b, std::shared_ptr<spdlog::logger> log,
                       serial::service* devices, bridge::supervisor* bridges,
                       modbus::service* buses)
    : impl_(std::make_unique<admin_http_impl>(std::move(cfg), b, std::move(log), devices,
                                              bridges, buses)) {}

admin_http::~admin_http() = default;

void admin_http::start() {
    impl_->start();
}

void admin_http::stop() {
    impl_->stop();
}

std::uint16_t admin_http::port() const {
    return impl_->port();
}

} // namespace edgemq::app
