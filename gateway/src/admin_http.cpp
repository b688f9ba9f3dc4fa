// SPDX-License-Identifier: Apache-2.0
// The admin HTTP server.
//
// One io_context on one thread: an accept loop, one coroutine per connection reading requests
// with Beast's parser (header and body limits, a deadline on every read and write), and a
// sampler that keeps the message counters of the last ten minutes for the dashboard's chart.
// Everything that touches the broker's admin queries runs on this thread, which is what the
// broker asks of them (they block until every I/O thread has answered).
//
// Sessions (cookie or bearer token) live in memory: a restart logs everybody out, which is
// what an operator expects of a restart. Users live in the users file and are re-read when its
// modification time changes, so `edgemq ctl admins` edits apply at the next request.

#include "admin_http.hpp"
#include "dashboard.hpp"

#include "edgemq/broker/auth/password_file.hpp"
#include "edgemq/broker/broker.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <deque>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <type_traits>
#include <unordered_map>

namespace edgemq::app {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

constexpr std::size_t body_limit = 64 * 1024;
constexpr std::size_t header_limit = 8 * 1024;
constexpr auto read_timeout = 30s;
constexpr auto write_timeout = 30s;
constexpr auto tls_handshake_timeout = 10s;
constexpr auto session_lifetime = 8h;
constexpr std::size_t max_sessions = 1024;
constexpr auto events_period = 2s;
constexpr auto sample_period = 5s;
constexpr std::size_t max_samples = 120; // ten minutes at sample_period
constexpr std::size_t default_limit = 100;
constexpr std::size_t max_limit = 1000;
constexpr std::string_view cookie_name = "edgemq_session";

using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

std::string random_hex(std::size_t bytes) {
    std::string raw(bytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
        throw std::runtime_error("OpenSSL RAND_bytes failed");
    }
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : raw) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/// Percent-decoding; `plus` turns '+' into a blank (query strings). nullopt on a bad escape.
std::optional<std::string> percent_decoded(std::string_view text, bool plus) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%') {
            if (i + 2 >= text.size()) {
                return std::nullopt;
            }
            const int hi = hex_value(text[i + 1]);
            const int lo = hex_value(text[i + 2]);
            if (hi < 0 || lo < 0) {
                return std::nullopt;
            }
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else if (plus && text[i] == '+') {
            out += ' ';
        } else {
            out += text[i];
        }
    }
    return out;
}

/// Base64 (standard alphabet, padded) to bytes; nullopt when malformed.
std::optional<std::string> base64_decoded(std::string_view text) {
    if (text.empty() || text.size() % 4 != 0 || text.size() > 4096) {
        return text.empty() ? std::optional<std::string>{""} : std::nullopt;
    }
    std::string out(text.size() / 4 * 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(text.data()),
                                  static_cast<int>(text.size()));
    if (n < 0) {
        return std::nullopt;
    }
    std::size_t padding = 0;
    for (std::size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) {
        ++padding;
    }
    out.resize(static_cast<std::size_t>(n) - std::min<std::size_t>(padding, 2));
    return out;
}

bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t extra = 0;
        if (c < 0x80) {
            extra = 0;
        } else if ((c & 0xE0) == 0xC0 && c >= 0xC2) {
            extra = 1;
        } else if ((c & 0xF0) == 0xE0) {
            extra = 2;
        } else if ((c & 0xF8) == 0xF0 && c <= 0xF4) {
            extra = 3;
        } else {
            return false;
        }
        if (i + extra >= s.size()) {
            return false;
        }
        for (std::size_t k = 1; k <= extra; ++k) {
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) {
                return false;
            }
        }
        i += extra + 1;
    }
    return true;
}

/// The path and the decoded `?a=b&c=d` of a request target.
struct target {
    std::string_view path;
    std::unordered_map<std::string, std::string> query;
    bool bad_query = false;
};

target split_target(std::string_view raw) {
    target t;
    const auto q = raw.find('?');
    t.path = raw.substr(0, q);
    if (q == std::string_view::npos) {
        return t;
    }
    std::string_view rest = raw.substr(q + 1);
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const auto pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        if (pair.empty()) {
            continue;
        }
        const auto eq = pair.find('=');
        auto key = percent_decoded(pair.substr(0, eq), true);
        auto value = percent_decoded(
            eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
        if (!key || !value) {
            t.bad_query = true;
            continue;
        }
        t.query[*key] = *value;
    }
    return t;
}

response make_response(http::status status, unsigned version, std::string body,
                       std::string_view content_type) {
    response res{status, version};
    res.set(http::field::server, "edgemq/" EDGEMQ_VERSION);
    res.set(http::field::content_type, content_type);
    res.set(http::field::cache_control, "no-store");
    res.set("X-Content-Type-Options", "nosniff");
    res.body() = std::move(body);
    return res;
}

response json_response(http::status status, unsigned version, const json::value& v) {
    return make_response(status, version, json::serialize(v), "application/json");
}

response error_response(http::status status, unsigned version, std::string_view code,
                        std::string_view message) {
    return json_response(status, version, json::object{{"code", code}, {"message", message}});
}

json::object stats_json(const broker::broker_stats& s) {
    return {
        {"messages_received", s.messages_received},
        {"messages_sent", s.messages_sent},
        {"bytes_received", s.bytes_received},
        {"bytes_sent", s.bytes_sent},
        {"messages_dropped", s.messages_dropped},
        {"messages_denied", s.messages_denied},
        {"clients_connected", s.clients_connected},
        {"clients_total", s.clients_total},
        {"clients_maximum", s.clients_maximum},
        {"subscriptions", s.subscriptions},
        {"retained_messages", s.retained_messages},
        {"uptime_seconds", s.uptime_seconds},
    };
}

json::object client_json(const broker::client_info& c) {
    json::object o{
        {"client_id", c.client_id},
        {"connected", c.connected},
        {"internal", c.internal},
        {"peer", c.peer},
        {"listener", c.listener},
        {"clean_session", c.clean_session},
        {"keep_alive", c.keep_alive},
        {"connected_at", c.connected_at},
        {"subscriptions", c.subscriptions},
        {"inflight", c.inflight},
        {"queued", c.queued},
        {"dropped", c.dropped},
    };
    o["username"] = c.username ? json::value(*c.username) : json::value(nullptr);
    return o;
}

json::object message_json(const broker::message& m) {
    json::object o{{"topic", m.topic}, {"qos", m.qos}, {"payload_size", m.payload.size()}};
    if (valid_utf8(m.payload)) {
        o["payload"] = m.payload;
    } else {
        o["payload"] = nullptr; // binary payloads are not shown as text
    }
    return o;
}

/// One Prometheus metric with its HELP and TYPE lines.
void metric(std::string& out, std::string_view name, std::string_view type,
            std::string_view help, std::uint64_t value) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
    out += name;
    out += ' ';
    out += std::to_string(value);
    out += '\n';
}

std::string metrics_text(const broker::broker_stats& s) {
    std::string out;
    metric(out, "edgemq_messages_received_total", "counter",
           "PUBLISH messages received from clients.", s.messages_received);
    metric(out, "edgemq_messages_sent_total", "counter", "PUBLISH messages sent to clients.",
           s.messages_sent);
    metric(out, "edgemq_bytes_received_total", "counter", "Bytes received from clients.",
           s.bytes_received);
    metric(out, "edgemq_bytes_sent_total", "counter", "Bytes sent to clients.", s.bytes_sent);
    metric(out, "edgemq_messages_dropped_total", "counter",
           "Messages dropped (full queues, ACL refusals).", s.messages_dropped);
    metric(out, "edgemq_clients_connected", "gauge", "Clients connected now.",
           s.clients_connected);
    metric(out, "edgemq_subscriptions", "gauge", "Subscriptions held by all sessions.",
           s.subscriptions);
    metric(out, "edgemq_retained_messages", "gauge", "Retained messages stored.",
           s.retained_messages);
    metric(out, "edgemq_uptime_seconds", "gauge", "Seconds since the broker started.",
           s.uptime_seconds);
    return out;
}

/// `?page=&limit=` as 1-based page and page size; nullopt with a message when malformed.
struct paging {
    std::size_t page = 1;
    std::size_t limit = default_limit;
};

std::optional<std::size_t> positive(const std::unordered_map<std::string, std::string>& q,
                                    const std::string& key, std::size_t fallback) {
    const auto it = q.find(key);
    if (it == q.end()) {
        return fallback;
    }
    std::size_t v = 0;
    const auto& s = it->second;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v == 0) {
        return std::nullopt;
    }
    return v;
}

template <class T, class ToJson>
json::object page_of(const std::vector<T>& all, const paging& p, ToJson to_json) {
    json::array data;
    const std::size_t first = (p.page - 1) * p.limit;
    for (std::size_t i = first; i < all.size() && i < first + p.limit; ++i) {
        data.push_back(to_json(all[i]));
    }
    return {{"data", std::move(data)},
            {"meta", {{"page", p.page}, {"limit", p.limit}, {"count", all.size()}}}};
}

struct rate_sample {
    std::int64_t time = 0;
    std::uint64_t received = 0;
    std::uint64_t sent = 0;
};

struct session_entry {
    std::string user;
    std::chrono::steady_clock::time_point expires;
};

} // namespace

class admin_http_impl {
public:
    admin_http_impl(config::admin cfg, broker::broker& b, std::shared_ptr<spdlog::logger> log)
        : cfg_(std::move(cfg)), broker_(b), log_(std::move(log)) {}

    ~admin_http_impl() { stop(); }

    void start() {
        if (auto password = ensure_admin_user(cfg_.users_file)) {
            log_->warn("created the first admin user: admin password={} (also written to {}, "
                       "mode 0600); change it with `edgemq ctl admins passwd admin PASSWORD`",
                       *password, initial_password_file(cfg_.users_file).string());
        }
        reload_users();
        if (!cfg_.cert.empty()) {
            tls_.emplace(asio::ssl::context::tls_server);
            tls_->set_options(asio::ssl::context::default_workarounds |
                              asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                              asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
            try {
                tls_->use_certificate_chain_file(cfg_.cert);
                tls_->use_private_key_file(cfg_.key, asio::ssl::context::pem);
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
        sample();
        asio::co_spawn(ctx_, accept_loop(), [log = log_](std::exception_ptr e) {
            log_exception(*log, e, "accept loop");
        });
        asio::co_spawn(ctx_, sample_loop(), [log = log_](std::exception_ptr e) {
            log_exception(*log, e, "sampler");
        });
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
    static void log_exception(spdlog::logger& log, std::exception_ptr e, std::string_view what) {
        if (!e) {
            return;
        }
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            log.error("admin {} failed: {}", what, x.what());
        }
    }

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
            auto done = [log = log_](std::exception_ptr e) { log_exception(*log, e, "session"); };
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
            timer.expires_after(sample_period);
            auto [ec] = co_await timer.async_wait(use_nothrow);
            if (ec) {
                co_return;
            }
            sample();
        }
    }

    void sample() {
        const auto s = broker_.stats();
        samples_.push_back({unix_now(), s.messages_received, s.messages_sent});
        while (samples_.size() > max_samples) {
            samples_.pop_front();
        }
    }

    template <class Stream> asio::awaitable<void> serve(Stream stream) {
        boost::system::error_code ignored;
        const auto remote = beast::get_lowest_layer(stream).socket().remote_endpoint(ignored);
        const std::string peer = remote.address().to_string() + ":" + std::to_string(remote.port());
        if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
            beast::get_lowest_layer(stream).expires_after(tls_handshake_timeout);
            auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server,
                                                        use_nothrow);
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
                    refusal = error_response(http::status::payload_too_large, 11,
                                             "payload_too_large",
                                             "request bodies are limited to " +
                                                 std::to_string(body_limit) + " bytes");
                } else if (ec == http::error::header_limit) {
                    refusal = error_response(http::status::request_header_fields_too_large, 11,
                                             "header_too_large",
                                             "request headers are limited to " +
                                                 std::to_string(header_limit) + " bytes");
                } else if (ec.category() == http::make_error_code(http::error::bad_target)
                                                .category() &&
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
            if (t.path == "/api/v1/events" && req.method() == http::verb::get && authorize(req)) {
                co_await serve_events(stream, req.version());
                break;
            }
            response res = handle(req, t, peer);
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
            auto o = stats_json(broker_.stats());
            o["time"] = unix_now();
            const std::string event = "event: stats\ndata: " + json::serialize(o) + "\n\n";
            beast::get_lowest_layer(stream).expires_after(write_timeout);
            std::tie(ec, n) = co_await asio::async_write(stream, asio::buffer(event), use_nothrow);
            if (ec) {
                break;
            }
            timer.expires_after(events_period);
            std::tie(ec) = co_await timer.async_wait(use_nothrow);
        }
    }

    // Users and sessions ------------------------------------------------------------------

    void reload_users() {
        std::error_code ec;
        const auto mtime = std::filesystem::last_write_time(cfg_.users_file, ec);
        if (ec) {
            if (users_loaded_) {
                log_->error("admin users file {} is gone: {}; nobody can log in until it is back",
                            cfg_.users_file, ec.message());
            }
            users_ = {};
            users_loaded_ = false;
            return;
        }
        if (users_loaded_ && mtime == users_mtime_) {
            return;
        }
        try {
            users_ = broker::auth::password_file::load(cfg_.users_file);
            users_mtime_ = mtime;
            users_loaded_ = true;
        } catch (const std::exception& e) {
            log_->error("admin users file refused, keeping the previous users: {}", e.what());
            users_mtime_ = mtime; // report once per change, not per request
        }
    }

    bool verify(std::string_view user, std::string_view password) {
        reload_users();
        return users_.contains(user) && users_.verify(user, password);
    }

    std::optional<std::string> session_user(std::string_view token) {
        const auto now = std::chrono::steady_clock::now();
        const auto it = sessions_.find(std::string(token));
        if (it == sessions_.end()) {
            return std::nullopt;
        }
        if (it->second.expires < now) {
            sessions_.erase(it);
            return std::nullopt;
        }
        return it->second.user;
    }

    static std::optional<std::string_view> cookie(const request& req, std::string_view name) {
        for (auto field = req.find(http::field::cookie); field != req.end() &&
                                                          field->name() == http::field::cookie;
             ++field) {
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

    /// The user a request authenticates as: bearer token, Basic, or the session cookie.
    std::optional<std::string> authorize(const request& req) {
        const auto auth = req[http::field::authorization];
        if (auth.starts_with("Bearer ")) {
            return session_user(auth.substr(7));
        }
        if (auth.starts_with("Basic ")) {
            const auto decoded = base64_decoded(auth.substr(6));
            if (!decoded) {
                return std::nullopt;
            }
            const auto colon = decoded->find(':');
            if (colon == std::string::npos) {
                return std::nullopt;
            }
            const auto user = decoded->substr(0, colon);
            if (!verify(user, std::string_view(*decoded).substr(colon + 1))) {
                return std::nullopt;
            }
            return user;
        }
        if (const auto token = cookie(req, cookie_name)) {
            return session_user(*token);
        }
        return std::nullopt;
    }

    response login(const request& req, const std::string& peer) {
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
        const std::string name(user->as_string().data(), user->as_string().size());
        if (!verify(name, {password->as_string().data(), password->as_string().size()})) {
            log_->warn("admin login refused user={} peer={}", name, peer);
            return error_response(http::status::unauthorized, req.version(), "unauthorized",
                                  "bad username or password");
        }
        // Drop expired sessions, and the oldest ones when there are too many.
        const auto now = std::chrono::steady_clock::now();
        std::erase_if(sessions_, [&](const auto& s) { return s.second.expires < now; });
        while (sessions_.size() >= max_sessions) {
            sessions_.erase(std::ranges::min_element(sessions_, {}, [](const auto& s) {
                                return s.second.expires;
                            }));
        }
        const auto token = random_hex(32);
        sessions_[token] = {name, now + session_lifetime};
        log_->info("admin login user={} peer={}", name, peer);
        const auto seconds =
            std::chrono::duration_cast<std::chrono::seconds>(session_lifetime).count();
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
            sessions_.erase(std::string(auth.substr(7)));
        }
        if (const auto token = cookie(req, cookie_name)) {
            sessions_.erase(std::string(*token));
        }
        auto res = make_response(http::status::no_content, req.version(), "", "application/json");
        res.set(http::field::set_cookie,
                std::string(cookie_name) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
        return res;
    }

    // Routing -----------------------------------------------------------------------------

    static response not_allowed(const request& req, std::string_view allow) {
        auto res = error_response(http::status::method_not_allowed, req.version(),
                                  "method_not_allowed",
                                  std::string(req.method_string()) + " is not allowed here; use " +
                                      std::string(allow));
        res.set(http::field::allow, allow);
        return res;
    }

    response handle(const request& req, const target& t, const std::string& peer) {
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
            if (cfg_.metrics_auth && !authorize(req)) {
                return unauthorized(req);
            }
            return make_response(http::status::ok, v, metrics_text(broker_.stats()),
                                 "text/plain; version=0.0.4; charset=utf-8");
        }
        constexpr std::string_view api = "/api/v1/";
        if (!path.starts_with(api)) {
            return error_response(http::status::not_found, v, "not_found",
                                  "no such page: " + std::string(path));
        }
        const std::string_view route = path.substr(api.size());
        if (route == "login") {
            return method == http::verb::post ? login(req, peer) : not_allowed(req, "POST");
        }
        if (route == "logout") {
            return method == http::verb::post ? logout(req) : not_allowed(req, "POST");
        }
        if (!authorize(req)) {
            return unauthorized(req);
        }
        if (t.bad_query) {
            return error_response(http::status::bad_request, v, "bad_request",
                                  "malformed percent-encoding in the query string");
        }
        return handle_api(req, t, route);
    }

    response unauthorized(const request& req) {
        auto res = error_response(http::status::unauthorized, req.version(), "unauthorized",
                                  "log in: POST /api/v1/login, then send the session cookie or "
                                  "'Authorization: Bearer TOKEN'; or use HTTP Basic");
        // Bearer, not Basic: a browser would pop up its own login dialog for Basic.
        res.set(http::field::www_authenticate, R"(Bearer realm="edgemq")");
        return res;
    }

    response handle_api(const request& req, const target& t, std::string_view route) {
        const auto v = req.version();
        const auto method = req.method();
        const auto get_only = [&](auto&& make) {
            return method == http::verb::get ? make() : not_allowed(req, "GET");
        };
        const auto page = [&]() -> std::optional<paging> {
            const auto p = positive(t.query, "page", 1);
            const auto l = positive(t.query, "limit", default_limit);
            if (!p || !l || *l > max_limit) {
                return std::nullopt;
            }
            return paging{*p, *l};
        };
        const auto bad_paging = [&] {
            return error_response(http::status::bad_request, v, "bad_request",
                                  "page must be a positive integer and limit one from 1 to " +
                                      std::to_string(max_limit));
        };
        const auto filter = [&]() -> std::string {
            const auto it = t.query.find("client_id");
            return it == t.query.end() ? std::string{} : it->second;
        };

        if (route == "status") {
            return get_only([&] {
                json::array listeners;
                for (const auto& l : broker_.listeners()) {
                    listeners.push_back({{"type", l.type}, {"host", l.host}, {"port", l.port}});
                }
                listeners.push_back({{"type", tls_ ? "https" : "http"},
                                     {"host", cfg_.host},
                                     {"port", port_}});
                const auto s = broker_.stats();
                return json_response(http::status::ok, v,
                                     json::object{{"version", EDGEMQ_VERSION},
                                                  {"uptime_seconds", s.uptime_seconds},
                                                  {"listeners", std::move(listeners)},
                                                  {"counters", stats_json(s)}});
            });
        }
        if (route == "rates") {
            return get_only([&] {
                json::array data;
                for (const auto& s : samples_) {
                    data.push_back(
                        {{"time", s.time}, {"received", s.received}, {"sent", s.sent}});
                }
                return json_response(http::status::ok, v, json::object{{"data", std::move(data)}});
            });
        }
        if (route == "clients") {
            return get_only([&] {
                const auto p = page();
                if (!p) {
                    return bad_paging();
                }
                auto all = broker_.clients();
                if (const auto f = filter(); !f.empty()) {
                    std::erase_if(all, [&](const broker::client_info& c) {
                        return c.client_id.find(f) == std::string::npos;
                    });
                }
                std::ranges::sort(all, {}, &broker::client_info::client_id);
                return json_response(http::status::ok, v, page_of(all, *p, client_json));
            });
        }
        if (route.starts_with("clients/")) {
            const auto id = percent_decoded(route.substr(8), false);
            if (!id || id->empty()) {
                return error_response(http::status::bad_request, v, "bad_request",
                                      "expected /api/v1/clients/CLIENT_ID, percent-encoded");
            }
            if (method == http::verb::delete_) {
                if (!broker_.kick(*id)) {
                    return error_response(http::status::not_found, v, "not_found",
                                          "no connected client " + *id);
                }
                log_->info("admin kicked client_id={}", *id);
                return make_response(http::status::no_content, v, "", "application/json");
            }
            if (method == http::verb::get) {
                for (const auto& c : broker_.clients()) {
                    if (c.client_id == *id) {
                        return json_response(http::status::ok, v, client_json(c));
                    }
                }
                return error_response(http::status::not_found, v, "not_found",
                                      "no client " + *id);
            }
            return not_allowed(req, "GET, DELETE");
        }
        if (route == "subscriptions") {
            return get_only([&] {
                const auto p = page();
                if (!p) {
                    return bad_paging();
                }
                auto all = broker_.subscriptions();
                if (const auto f = filter(); !f.empty()) {
                    std::erase_if(all, [&](const broker::subscription_info& s) {
                        return s.client_id.find(f) == std::string::npos;
                    });
                }
                return json_response(http::status::ok, v,
                                     page_of(all, *p, [](const broker::subscription_info& s) {
                                         return json::object{{"client_id", s.client_id},
                                                             {"filter", s.filter},
                                                             {"qos", s.qos}};
                                     }));
            });
        }
        if (route == "retained") {
            return get_only([&] {
                const auto p = page();
                if (!p) {
                    return bad_paging();
                }
                auto all = broker_.retained();
                std::ranges::sort(all, {}, [](const broker::message_ptr& m) { return m->topic; });
                return json_response(
                    http::status::ok, v,
                    page_of(all, *p, [](const broker::message_ptr& m) { return message_json(*m); }));
            });
        }
        if (route.starts_with("retained/")) {
            const auto topic = percent_decoded(route.substr(9), false);
            if (!topic || topic->empty()) {
                return error_response(http::status::bad_request, v, "bad_request",
                                      "expected /api/v1/retained/TOPIC, percent-encoded");
            }
            if (method == http::verb::delete_) {
                if (!broker_.delete_retained(*topic)) {
                    return error_response(http::status::not_found, v, "not_found",
                                          "no retained message on " + *topic);
                }
                log_->info("admin deleted the retained message topic={}", *topic);
                return make_response(http::status::no_content, v, "", "application/json");
            }
            if (method == http::verb::get) {
                for (const auto& m : broker_.retained()) {
                    if (m->topic == *topic) {
                        return json_response(http::status::ok, v, message_json(*m));
                    }
                }
                return error_response(http::status::not_found, v, "not_found",
                                      "no retained message on " + *topic);
            }
            return not_allowed(req, "GET, DELETE");
        }
        // Devices and bridges do not exist yet: empty lists in the final shape, so that the
        // dashboard and `edgemq ctl` need no change when they arrive.
        if (route == "devices" || route == "bridges") {
            return get_only([&] {
                return json_response(http::status::ok, v,
                                     json::object{{"data", json::array{}},
                                                  {"meta", {{"page", 1},
                                                            {"limit", default_limit},
                                                            {"count", 0}}}});
            });
        }
        if (route.starts_with("devices/") || route.starts_with("bridges/")) {
            const bool device = route.starts_with("devices/");
            auto rest = route.substr(8); // "devices/" and "bridges/" are both 8 long
            const auto slash = rest.find('/');
            const auto id = percent_decoded(rest.substr(0, slash), false).value_or("");
            if (device && slash != std::string_view::npos && rest.substr(slash) == "/restart" &&
                method != http::verb::post) {
                return not_allowed(req, "POST");
            }
            return error_response(http::status::not_found, v, "not_found",
                                  std::string(device ? "no device " : "no bridge ") + id);
        }
        return error_response(http::status::not_found, v, "not_found",
                              "no such API: " + std::string(t.path));
    }

    config::admin cfg_;
    broker::broker& broker_;
    std::shared_ptr<spdlog::logger> log_;
    asio::io_context ctx_{1};
    std::optional<asio::ssl::context> tls_;
    tcp::acceptor acceptor_{ctx_};
    std::uint16_t port_ = 0;
    std::thread thread_;
    std::deque<rate_sample> samples_;
    broker::auth::password_file users_;
    std::filesystem::file_time_type users_mtime_{};
    bool users_loaded_ = false;
    std::unordered_map<std::string, session_entry> sessions_;
};

admin_http::admin_http(config::admin cfg, broker::broker& b, std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_unique<admin_http_impl>(std::move(cfg), b, std::move(log))) {}

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

std::filesystem::path initial_password_file(const std::filesystem::path& users_file) {
    return std::filesystem::path(users_file.string() + ".initial");
}

std::optional<std::string> ensure_admin_user(const std::filesystem::path& users_file) {
    namespace auth = broker::auth;
    std::error_code ec;
    const bool exists = std::filesystem::exists(users_file, ec);
    if (exists && auth::password_file::load(users_file).size() > 0) {
        return std::nullopt;
    }
    if (!exists && users_file.has_parent_path()) {
        std::filesystem::create_directories(users_file.parent_path(), ec);
        if (ec) {
            throw std::runtime_error(users_file.parent_path().string() + ": " + ec.message());
        }
    }
    // 24 characters of 64 possible each (144 bits); 256 % 64 == 0, so `& 63` has no bias.
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char random[24];
    if (RAND_bytes(random, sizeof random) != 1) {
        throw std::runtime_error("OpenSSL RAND_bytes failed");
    }
    std::string password;
    for (unsigned char c : random) {
        password += alphabet[c & 63];
    }
    const auto initial = initial_password_file(users_file);
    const int fd = ::open(initial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                          0600);
    if (fd < 0) {
        throw std::system_error(errno, std::generic_category(), initial.string());
    }
    const std::string line = "admin:" + password + "\n";
    const bool written = ::fchmod(fd, 0600) == 0 &&
                         ::write(fd, line.data(), line.size()) ==
                             static_cast<ssize_t>(line.size()) &&
                         ::fsync(fd) == 0;
    const int saved = errno;
    ::close(fd);
    if (!written) {
        throw std::system_error(saved, std::generic_category(), initial.string());
    }
    auth::set_password(users_file, "admin", password, !exists);
    return password;
}

} // namespace edgemq::app
