// SPDX-License-Identifier: Apache-2.0
#include "ctl.hpp"

#include "edgemq/broker/auth/password_file.hpp"
#include "edgemq/config/load.hpp"

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
#include <boost/json.hpp>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace edgemq::app {

const char* const ctl_usage =
    R"(usage: edgemq ctl [--url URL] [--cacert FILE | --insecure] [--user USER --password PASSWORD]
                  COMMAND
       edgemq ctl [--config FILE | --users-file FILE] admins COMMAND

Commands that talk to a running gateway (URL default http://127.0.0.1:18083; the login comes
from --user/--password or EDGEMQ_ADMIN_USER/EDGEMQ_ADMIN_PASSWORD). With an https:// URL the
server's certificate is checked against --cacert FILE (PEM), else the system's CAs, and must
name the URL's host; --insecure skips the check (the password is then sent to whoever answers):
  status                  version, uptime, listeners and counters
  clients list [FILTER]   connected clients (FILTER: part of the client id)
  clients kick ID         disconnect a client (its will is published)
  devices list            serial devices: availability, port, counters, last values
  devices restart ID      close and reopen a serial device's port
  bridges list            bridges to remote brokers: state, queue depth, counters

Commands that edit the admin users file (default: users_file of [admin] in --config FILE, else
of /etc/edgemq/edgemq.toml, else /var/lib/edgemq/admins); no running gateway needed:
  admins add USER PASSWORD [DESCRIPTION]
  admins passwd USER PASSWORD
  admins del USER
)";

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

/// Thrown for a failure to report to the user as is; main prints "edgemq ctl: " + what().
struct ctl_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct url {
    std::string text;
    std::string host;
    std::string port;
    bool tls = false;
};

/// How ctl checks an https server: against `cacert` (else the system's CAs), or not at all.
struct tls_options {
    std::string cacert;
    bool insecure = false;
};

url parse_url(std::string_view text) {
    url u{std::string(text), {}, "18083"};
    u.tls = text.starts_with("https://");
    if (!u.tls && !text.starts_with("http://")) {
        throw ctl_error("expected a URL like http://127.0.0.1:18083, got " + u.text);
    }
    auto rest = text.substr(u.tls ? 8 : 7);
    rest = rest.substr(0, rest.find('/'));
    if (rest.starts_with('[')) {
        const auto close = rest.find(']');
        if (close == std::string_view::npos) {
            throw ctl_error("bad IPv6 address in " + u.text);
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
        throw ctl_error("expected a URL like http://127.0.0.1:18083, got " + u.text);
    }
    return u;
}

std::string percent_encoded(std::string_view text) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += digits[c >> 4];
            out += digits[c & 15];
        }
    }
    return out;
}

std::string base64(std::string_view text) {
    std::string out(4 * ((text.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(text.data()),
                                  static_cast<int>(text.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

struct reply {
    unsigned status = 0;
    std::string body;
};

template <class Stream>
asio::awaitable<reply> exchange_on(Stream& stream, http::request<http::string_body>& req) {
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
    co_await http::async_write(stream, req, asio::use_awaitable);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
    auto res = parser.release();
    co_return reply{res.result_int(), std::move(res.body())};
}

/// One request and its answer. With `tls`, over TLS; `verify_error` receives why the server's
/// certificate was refused, if it is.
asio::awaitable<reply> exchange(url u, http::request<http::string_body> req,
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
        throw ctl_error("cannot set the TLS server name " + u.host);
    }
    if (verify) {
        stream.set_verify_callback(
            [verify_error, host = u.host, check = asio::ssl::host_name_verification(u.host)](
                bool preverified, asio::ssl::verify_context& vc) mutable {
                if (!preverified) {
                    *verify_error = X509_verify_cert_error_string(
                        X509_STORE_CTX_get_error(vc.native_handle()));
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

/// The client context for an https URL.
std::unique_ptr<asio::ssl::context> client_tls(const tls_options& options) {
    auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
    ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                     asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                     asio::ssl::context::no_tlsv1_1);
    if (options.insecure) {
        ctx->set_verify_mode(asio::ssl::verify_none);
        return ctx;
    }
    ctx->set_verify_mode(asio::ssl::verify_peer);
    boost::system::error_code ec;
    if (options.cacert.empty()) {
        ctx->set_default_verify_paths(ec);
    } else {
        ctx->load_verify_file(options.cacert, ec);
    }
    if (ec) {
        throw ctl_error("cannot load the CA certificates " +
                        (options.cacert.empty() ? std::string("of the system")
                                                : "from " + options.cacert) +
                        ": " + ec.message());
    }
    return ctx;
}

/// The OpenSSL reason of a TLS error, 0 for other errors.
int tls_reason(const boost::system::error_code& e) {
    return e.category() == asio::error::get_ssl_category()
               ? ERR_GET_REASON(static_cast<unsigned long>(e.value()))
               : 0;
}

/// The API client: one request per call, the login sent as HTTP Basic.
class api_client {
public:
    api_client(url u, std::string user, std::string password, const tls_options& tls)
        : url_(std::move(u)), user_(std::move(user)), password_(std::move(password)),
          verify_(!tls.insecure), tls_(url_.tls ? client_tls(tls) : nullptr) {}

    /// The JSON of a 2xx answer (null for 204); throws ctl_error with the server's message.
    json::value call(http::verb method, const std::string& target) {
        http::request<http::string_body> req{method, target, 11};
        req.set(http::field::host, url_.host);
        req.set(http::field::user_agent, "edgemq-ctl");
        if (!user_.empty()) {
            req.set(http::field::authorization, "Basic " + base64(user_ + ":" + password_));
        }
        req.keep_alive(false);
        req.prepare_payload();
        asio::io_context ctx;
        std::exception_ptr failure;
        reply r;
        auto verify_error = std::make_shared<std::string>();
        asio::co_spawn(ctx, exchange(url_, std::move(req), tls_.get(), verify_, verify_error),
                       [&](std::exception_ptr e, reply got) {
                           failure = e;
                           r = std::move(got);
                       });
        ctx.run();
        if (failure) {
            try {
                std::rethrow_exception(failure);
            } catch (const boost::system::system_error& e) {
                const auto reason = tls_reason(e.code());
                if (e.code() == asio::error::connection_refused) {
                    throw ctl_error("edgemq is not running at " + url_.text);
                }
                if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED) {
                    throw ctl_error("the TLS certificate of " + url_.text + " was refused: " +
                                    (verify_error->empty() ? e.code().message() : *verify_error) +
                                    "; give --cacert FILE with the CA that signed it (or "
                                    "--insecure to skip the check)");
                }
                std::string hint;
                if (reason == SSL_R_WRONG_VERSION_NUMBER) {
                    hint = " (does the admin server serve plain http?)";
                } else if (!url_.tls && (e.code() == http::error::end_of_stream ||
                                         e.code() == asio::error::connection_reset ||
                                         e.code() == asio::error::eof)) {
                    hint = " (if the admin server serves https, use an https:// URL)";
                }
                throw ctl_error("cannot reach edgemq at " + url_.text + ": " +
                                e.code().message() + hint);
            }
        }
        if (r.status == 401) {
            throw ctl_error(
                std::string("the admin API at ") + url_.text + " refused the login (401): " +
                (user_.empty() ? "give --user and --password, or set EDGEMQ_ADMIN_USER and "
                                 "EDGEMQ_ADMIN_PASSWORD"
                               : "wrong user or password"));
        }
        boost::system::error_code ec;
        auto body = r.body.empty() ? json::value(nullptr) : json::parse(r.body, ec);
        if (r.status / 100 != 2) {
            const auto* o = ec ? nullptr : body.if_object();
            const auto* message = o ? o->if_contains("message") : nullptr;
            throw ctl_error(
                message && message->is_string()
                    ? std::string(message->as_string().data(), message->as_string().size())
                    : "HTTP " + std::to_string(r.status) + " from " + url_.text);
        }
        if (ec) {
            throw ctl_error("the answer of " + url_.text + target + " is not JSON");
        }
        return body;
    }

private:
    url url_;
    std::string user_;
    std::string password_;
    bool verify_;
    std::unique_ptr<asio::ssl::context> tls_; // for https URLs only
};

std::string text_of(const json::value& v) {
    if (v.is_string()) {
        return std::string(v.as_string().data(), v.as_string().size());
    }
    if (v.is_null()) {
        return "";
    }
    return json::serialize(v);
}

void print_table(const std::vector<std::string>& headers,
                 const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> widths;
    for (const auto& h : headers) {
        widths.push_back(h.size());
    }
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
            widths[i] = std::max(widths[i], row[i].size());
        }
    }
    const auto line = [&](const std::vector<std::string>& cells) {
        for (std::size_t i = 0; i < cells.size(); ++i) {
            std::cout << cells[i];
            if (i + 1 < cells.size()) {
                std::cout << std::string(widths[i] - cells[i].size() + 2, ' ');
            }
        }
        std::cout << '\n';
    };
    line(headers);
    for (const auto& row : rows) {
        line(row);
    }
}

std::string duration_text(std::uint64_t s) {
    std::ostringstream out;
    if (s >= 86400) {
        out << s / 86400 << "d ";
    }
    out << (s / 3600) % 24 << "h " << (s / 60) % 60 << "m " << s % 60 << "s";
    return out.str();
}

int status(api_client& api) {
    const auto v = api.call(http::verb::get, "/api/v1/status");
    const auto& o = v.as_object();
    const auto& c = o.at("counters").as_object();
    std::cout << "edgemq " << text_of(o.at("version")) << " running, up "
              << duration_text(o.at("uptime_seconds").to_number<std::uint64_t>()) << '\n';
    for (const auto& l : o.at("listeners").as_array()) {
        std::cout << "listener " << text_of(l.at("type")) << " on " << text_of(l.at("host")) << ':'
                  << text_of(l.at("port")) << '\n';
    }
    for (const auto* key :
         {"clients_connected", "messages_received", "messages_sent", "messages_dropped",
          "bytes_received", "bytes_sent", "subscriptions", "retained_messages"}) {
        std::cout << key << ' ' << text_of(c.at(key)) << '\n';
    }
    return 0;
}

std::string utc_text(std::int64_t unix_seconds) {
    const std::time_t t = unix_seconds;
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::ostringstream s;
    s << std::put_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
    return s.str();
}

int clients_list(api_client& api, std::string_view filter) {
    std::vector<std::vector<std::string>> rows;
    for (std::size_t page = 1;; ++page) {
        auto target = "/api/v1/clients?limit=1000&page=" + std::to_string(page);
        if (!filter.empty()) {
            target += "&client_id=" + percent_encoded(filter);
        }
        const auto v = api.call(http::verb::get, target);
        const auto& data = v.at("data").as_array();
        for (const auto& c : data) {
            std::string since = "offline";
            if (const auto at = c.at("connected_at").to_number<std::int64_t>(); at != 0) {
                since = utc_text(at);
            }
            rows.push_back({text_of(c.at("client_id")), text_of(c.at("peer")),
                            text_of(c.at("listener")), text_of(c.at("username")),
                            text_of(c.at("subscriptions")), since});
        }
        if (data.empty() || rows.size() >= v.at("meta").at("count").to_number<std::size_t>()) {
            break;
        }
    }
    if (rows.empty()) {
        std::cout << "no clients\n";
        return 0;
    }
    print_table({"CLIENT ID", "PEER", "LISTENER", "USER", "SUBS", "CONNECTED"}, rows);
    return 0;
}

/// A JSON value for a person: numbers in their shortest form (25.1, not Boost.JSON's 2.51E1).
std::string value_text(const json::value& v) {
    if (v.is_double()) {
        char buf[64];
        const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.get_double());
        return ec == std::errc() ? std::string(buf, end) : json::serialize(v);
    }
    return text_of(v);
}

/// `{"temp":25.1,"hum":60}` as `temp=25.1 hum=60`; anything but an object as its JSON. `ts`
/// is left out: LAST SEEN has the time.
std::string values_text(const json::value& v) {
    if (!v.is_object()) {
        return v.is_null() ? "" : json::serialize(v);
    }
    std::string out;
    for (const auto& [key, value] : v.as_object()) {
        if (key == "ts") {
            continue;
        }
        if (!out.empty()) {
            out += ' ';
        }
        out += std::string(key) + '=' + value_text(value);
    }
    return out;
}

int devices_list(api_client& api) {
    std::vector<std::vector<std::string>> rows;
    for (std::size_t page = 1;; ++page) {
        const auto v =
            api.call(http::verb::get, "/api/v1/devices?limit=1000&page=" + std::to_string(page));
        const auto& data = v.at("data").as_array();
        for (const auto& d : data) {
            const auto& stats = d.at("stats");
            const auto seen = d.at("last_seen_ms").to_number<std::int64_t>();
            const auto port = text_of(d.at("port"));
            rows.push_back({text_of(d.at("id")), text_of(d.at("availability")),
                            port.empty() ? "-" : port, text_of(stats.at("frames")),
                            text_of(stats.at("parse_errors")), text_of(stats.at("reconnects")),
                            seen == 0 ? "never" : utc_text(seen / 1000),
                            values_text(d.at("values"))});
        }
        if (data.empty() || rows.size() >= v.at("meta").at("count").to_number<std::size_t>()) {
            break;
        }
    }
    if (rows.empty()) {
        std::cout << "no devices\n";
        return 0;
    }
    print_table({"ID", "STATE", "PORT", "FRAMES", "ERRORS", "RECONNECTS", "LAST SEEN", "VALUES"},
                rows);
    return 0;
}

int bridges_list(api_client& api) {
    const auto v = api.call(http::verb::get, "/api/v1/bridges?limit=1000");
    std::vector<std::vector<std::string>> rows;
    for (const auto& b : v.at("data").as_array()) {
        const auto& queue = b.at("queue");
        const auto& stats = b.at("stats");
        const auto error = text_of(b.at("last_error"));
        rows.push_back({text_of(b.at("name")), text_of(b.at("state")), text_of(b.at("address")),
                        text_of(queue.at("messages")), text_of(stats.at("sent")),
                        text_of(stats.at("acked")), text_of(stats.at("dropped")),
                        error.empty() ? "-" : error});
    }
    if (rows.empty()) {
        std::cout << "no bridges\n";
        return 0;
    }
    print_table({"NAME", "STATE", "ADDRESS", "QUEUED", "SENT", "ACKED", "DROPPED", "LAST ERROR"},
                rows);
    return 0;
}

std::filesystem::path users_file(const std::optional<std::string>& config_file,
                                 const std::optional<std::string>& explicit_file) {
    if (explicit_file) {
        return *explicit_file;
    }
    constexpr const char* system_config = "/etc/edgemq/edgemq.toml";
    if (config_file) {
        return config::load_file(*config_file).admin.users_file;
    }
    if (std::filesystem::exists(system_config)) {
        return config::load_file(system_config).admin.users_file;
    }
    return config::defaults().admin.users_file;
}

int admins(std::span<const std::string_view> args, const std::filesystem::path& file) {
    namespace auth = broker::auth;
    const auto exists = std::filesystem::exists(file);
    const auto sub = args.empty() ? std::string_view{} : args[0];
    if (sub == "add" && (args.size() == 3 || args.size() == 4)) {
        const std::string user(args[1]);
        auth::check_username(user);
        if (args[2].empty()) {
            throw ctl_error("the password must not be empty");
        }
        if (exists && auth::password_file::load(file).contains(user)) {
            throw ctl_error("admin " + user + " exists in " + file.string() +
                            "; change the password with `edgemq ctl admins passwd`");
        }
        std::string text;
        if (exists) {
            std::ifstream in(file, std::ios::binary);
            text.assign(std::istreambuf_iterator<char>(in), {});
            if (!text.empty() && text.back() != '\n') {
                text += '\n';
            }
        }
        if (args.size() == 4) {
            std::string description(args[3]);
            std::erase_if(description, [](char c) { return c == '\n' || c == '\r'; });
            text += "# " + user + ": " + description + '\n';
        }
        if (!exists && file.has_parent_path()) {
            std::filesystem::create_directories(file.parent_path());
        }
        auth::write_file_atomically(file,
                                    auth::with_user(text, user, auth::hash_password(args[2])));
        std::cout << "admin " << user << " added to " << file.string() << '\n';
        return 0;
    }
    if (sub == "passwd" && args.size() == 3) {
        const std::string user(args[1]);
        if (args[2].empty()) {
            throw ctl_error("the password must not be empty");
        }
        if (!exists || !auth::password_file::load(file).contains(user)) {
            throw ctl_error("no admin " + user + " in " + file.string());
        }
        auth::set_password(file, user, args[2]);
        std::cout << "password of admin " << user << " changed\n";
        return 0;
    }
    if (sub == "del" && args.size() == 2) {
        const std::string user(args[1]);
        if (!exists || !auth::remove_user(file, user)) {
            throw ctl_error("no admin " + user + " in " + file.string());
        }
        std::cout << "admin " << user << " deleted from " << file.string() << '\n';
        return 0;
    }
    std::cerr << ctl_usage;
    return 2;
}

} // namespace

int ctl_main(std::span<const std::string_view> args) {
    std::string url_text = "http://127.0.0.1:18083";
    const char* env_user = std::getenv("EDGEMQ_ADMIN_USER");
    const char* env_password = std::getenv("EDGEMQ_ADMIN_PASSWORD");
    std::string user = env_user ? env_user : "";
    std::string password = env_password ? env_password : "";
    std::optional<std::string> config_file;
    std::optional<std::string> explicit_users_file;
    tls_options tls;
    std::size_t i = 0;
    for (; i < args.size() && args[i].starts_with("--"); ++i) {
        const auto option = args[i];
        if (option == "--help") {
            std::cout << ctl_usage;
            return 0;
        }
        if (option == "--insecure") {
            tls.insecure = true;
            continue;
        }
        if (i + 1 >= args.size()) {
            std::cerr << "edgemq ctl: " << option << " needs a value\n" << ctl_usage;
            return 2;
        }
        const std::string value(args[++i]);
        if (option == "--url") {
            url_text = value;
        } else if (option == "--user") {
            user = value;
        } else if (option == "--password") {
            password = value;
        } else if (option == "--config") {
            config_file = value;
        } else if (option == "--cacert") {
            tls.cacert = value;
        } else if (option == "--users-file") {
            explicit_users_file = value;
        } else {
            std::cerr << "edgemq ctl: unknown option " << option << '\n' << ctl_usage;
            return 2;
        }
    }
    const auto rest = args.subspan(i);
    const auto word = [&](std::size_t k) { return k < rest.size() ? rest[k] : std::string_view{}; };
    try {
        if (word(0) == "admins") {
            return admins(rest.subspan(1), users_file(config_file, explicit_users_file));
        }
        api_client api{parse_url(url_text), user, password, tls};
        if (word(0) == "status" && rest.size() == 1) {
            return status(api);
        }
        if (word(0) == "clients" && word(1) == "list" && rest.size() <= 3) {
            return clients_list(api, word(2));
        }
        if (word(0) == "clients" && word(1) == "kick" && rest.size() == 3) {
            api.call(http::verb::delete_, "/api/v1/clients/" + percent_encoded(word(2)));
            std::cout << "client " << word(2) << " kicked\n";
            return 0;
        }
        if (word(0) == "devices" && word(1) == "list" && rest.size() == 2) {
            return devices_list(api);
        }
        if (word(0) == "bridges" && word(1) == "list" && rest.size() == 2) {
            return bridges_list(api);
        }
        if (word(0) == "devices" && word(1) == "restart" && rest.size() == 3) {
            api.call(http::verb::post, "/api/v1/devices/" + percent_encoded(word(2)) + "/restart");
            std::cout << "device " << word(2) << " restarting\n";
            return 0;
        }
    } catch (const ctl_error& e) {
        std::cerr << "edgemq ctl: " << e.what() << '\n';
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "edgemq ctl: " << e.what() << '\n';
        return 1;
    }
    std::cerr << ctl_usage;
    return 2;
}

} // namespace edgemq::app
