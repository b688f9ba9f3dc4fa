// SPDX-License-Identifier: Apache-2.0
// The admin HTTP server over real HTTP on 127.0.0.1:0, with an in-process broker and Debian's
// mosquitto_sub / mosquitto_pub as the clients it shows; `edgemq ctl` against it as a process.

#include "admin_http.hpp"
#include "certs.hpp"
#include "libserialport_ports.hpp"
#include "process.hpp"
#include "pty.hpp"
#include "real_clients.hpp"
#include "test_broker.hpp"

#include "edgemq/broker/auth/password_file.hpp"
#include "edgemq/serial/device.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/ringbuffer_sink.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using edgemq::test::eventually;
using edgemq::test::mosquitto_pub;
using edgemq::test::run_process;
using edgemq::test::start_mosquitto_sub;

/// A directory of its own under /tmp, removed with everything in it.
class temp_dir {
public:
    temp_dir() {
        static std::atomic<int> n{0};
        path_ = std::filesystem::temp_directory_path() /
                ("edgemq-admin-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
        std::filesystem::create_directories(path_);
    }
    ~temp_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::filesystem::path& path() const { return path_; }

private:
    std::filesystem::path path_;
};

struct reply {
    unsigned status = 0;
    std::map<std::string, std::string> headers; // lower-case names
    std::string body;

    json::value json() const { return json::parse(body); }
    std::string header(const std::string& name) const {
        const auto it = headers.find(name);
        return it == headers.end() ? "" : it->second;
    }
};

using header_list = std::vector<std::pair<std::string, std::string>>;

/// One request on a connection of its own; from the loopback address `source` when given.
reply call(std::uint16_t port, http::verb method, const std::string& target,
           const header_list& headers = {}, std::string body = {},
           const std::string& source = {}) {
    asio::io_context ctx;
    beast::tcp_stream stream{ctx};
    if (!source.empty()) {
        stream.socket().open(tcp::v4());
        stream.socket().bind(tcp::endpoint{asio::ip::make_address(source), 0});
    }
    stream.connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), port});
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) {
        req.set(name, value);
    }
    req.body() = std::move(body);
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    reply r{res.result_int(), {}, res.body()};
    for (const auto& f : res) {
        std::string name(f.name_string());
        std::ranges::transform(name, name.begin(), [](unsigned char c) { return std::tolower(c); });
        r.headers[name] = std::string(f.value());
    }
    return r;
}

/// Raw bytes in, the whole answer up to the server's close (or the first response) out.
std::string raw_exchange(std::uint16_t port, const std::string& bytes) {
    asio::io_context ctx;
    tcp::socket sock{ctx};
    sock.connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), port});
    asio::write(sock, asio::buffer(bytes));
    std::string out;
    boost::system::error_code ec;
    asio::read(sock, asio::dynamic_buffer(out), ec); // until the server closes
    return out;
}

std::string text(const json::value& v) {
    return std::string(v.as_string().data(), v.as_string().size());
}

std::string basic(const std::string& user, const std::string& password) {
    // Small fixed inputs: a hand-rolled base64 keeps the test independent of the server's.
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const std::string in = user + ":" + password;
    std::string out;
    for (std::size_t i = 0; i < in.size(); i += 3) {
        std::uint32_t v = static_cast<unsigned char>(in[i]) << 16;
        if (i + 1 < in.size()) {
            v |= static_cast<unsigned char>(in[i + 1]) << 8;
        }
        if (i + 2 < in.size()) {
            v |= static_cast<unsigned char>(in[i + 2]);
        }
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += i + 1 < in.size() ? alphabet[(v >> 6) & 63] : '=';
        out += i + 2 < in.size() ? alphabet[v & 63] : '=';
    }
    return "Basic " + out;
}

std::shared_ptr<spdlog::logger> null_logger(const std::string& name) {
    return std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::null_sink_mt>());
}

/// A broker with its admin server, and one admin user "ops" / "s3cret-pass". With `devices`,
/// a serial::service runs them and the admin server shows it.
struct admin_fixture {
    /// `tweak` edits the [admin] configuration before the server starts.
    explicit admin_fixture(bool metrics_auth = false,
                           const std::vector<edgemq::config::device>& devices = {},
                           const std::function<void(edgemq::config::admin&)>& tweak = {}) {
        edgemq::broker::auth::set_password(users_file(), "ops", "s3cret-pass", true);
        edgemq::config::admin cfg;
        cfg.host = "127.0.0.1";
        cfg.port = 0;
        cfg.users_file = users_file().string();
        cfg.metrics_auth = metrics_auth;
        if (tweak) {
            tweak(cfg);
        }
        if (!devices.empty()) {
            serial = std::make_unique<edgemq::serial::service>(devices, broker.get(),
                                                               null_logger("serial"));
            serial->start();
        }
        auto log = std::make_shared<spdlog::logger>("http", log_lines);
        log->set_pattern("%l %v");
        admin = std::make_unique<edgemq::app::admin_http>(cfg, broker.get(), log, serial.get());
        admin->start();
    }

    std::filesystem::path users_file() const { return dir.path() / "admins"; }
    std::uint16_t port() const { return admin->port(); }
    reply get(const std::string& target, const header_list& h = {{"Authorization", ""}}) {
        return call(port(), http::verb::get, target, h);
    }
    reply authed(http::verb method, const std::string& target) {
        return call(port(), method, target, {{"Authorization", basic("ops", "s3cret-pass")}});
    }
    /// How many of the server's log lines contain `text`.
    std::size_t logged(const std::string& text) const {
        const auto lines = log_lines->last_formatted();
        return static_cast<std::size_t>(std::ranges::count_if(
            lines, [&](const std::string& l) { return l.find(text) != std::string::npos; }));
    }

    temp_dir dir;
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> log_lines =
        std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000);
    edgemq::test::test_broker broker;
    std::unique_ptr<edgemq::serial::service> serial; // stopped after the admin server
    std::unique_ptr<edgemq::app::admin_http> admin;
};

/// `edgemq ctl --url URL WORDS`, logged in as ops.
edgemq::test::process_result run_ctl(const std::string& url, const std::vector<std::string>& w) {
    std::vector<std::string> argv{"env", "EDGEMQ_ADMIN_USER=ops",
                                  "EDGEMQ_ADMIN_PASSWORD=s3cret-pass", EDGEMQ_BINARY, "ctl",
                                  "--url", url};
    argv.insert(argv.end(), w.begin(), w.end());
    return run_process(argv);
}

edgemq::test::process_result run_ctl(std::uint16_t port, const std::vector<std::string>& w) {
    return run_ctl("http://127.0.0.1:" + std::to_string(port), w);
}

/// The value of a sample line `name value` in Prometheus text, or -1.
double sample(const std::string& text, const std::string& name) {
    const std::regex line{"(^|\n)" + name + " ([0-9.e+]+)\n"};
    std::smatch m;
    return std::regex_search(text, m, line) ? std::stod(m[2].str()) : -1;
}

/// How many CONNECTs a mosquitto_sub -d has sent so far.
std::size_t connects_sent(edgemq::test::background_process& p) {
    const auto lines = p.lines();
    return static_cast<std::size_t>(std::count_if(lines.begin(), lines.end(), [](const auto& l) {
        return l.find("sending CONNECT") != std::string::npos;
    }));
}

} // namespace

TEST_CASE("the first start creates admin with a random password in a 0600 file",
          "[integration][admin]") {
    temp_dir dir;
    const auto users = dir.path() / "state" / "admins";
    const auto password = edgemq::app::ensure_admin_user(users);
    REQUIRE(password);
    CHECK(password->size() == 24);
    CHECK(edgemq::broker::auth::password_file::load(users).verify("admin", *password));
    const auto initial = edgemq::app::initial_password_file(users);
    struct stat st{};
    REQUIRE(::stat(initial.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    std::ifstream in(initial);
    std::string line;
    std::getline(in, line);
    CHECK(line == "admin:" + *password);
    // Never the same twice, and never again once there is an admin.
    temp_dir other;
    CHECK(edgemq::app::ensure_admin_user(other.path() / "admins") != password);
    CHECK_FALSE(edgemq::app::ensure_admin_user(users));
}

TEST_CASE("the admin API refuses requests without a valid login", "[integration][admin]") {
    admin_fixture f;
    for (const auto& auth : {std::string{}, basic("ops", "wrong"), basic("nobody", "s3cret-pass"),
                             std::string{"Bearer 0123456789abcdef"}, std::string{"Basic !!!"}}) {
        INFO(auth);
        const auto r = f.get("/api/v1/status", {{"Authorization", auth}});
        CHECK(r.status == 401);
        CHECK(r.json().at("code") == "unauthorized");
        CHECK(r.header("www-authenticate") == R"(Bearer realm="edgemq")");
    }
    CHECK(f.get("/api/v1/clients", {{"Cookie", "edgemq_session=forged"}}).status == 401);

    // Login: a token for the API and an HttpOnly, SameSite=Strict cookie for the page.
    const auto login = call(f.port(), http::verb::post, "/api/v1/login", {},
                            R"({"username":"ops","password":"s3cret-pass"})");
    REQUIRE(login.status == 200);
    const std::string token = text(login.json().at("token"));
    CHECK(token.size() == 64);
    const auto cookie = login.header("set-cookie");
    CHECK(cookie.starts_with("edgemq_session=" + token + ";"));
    CHECK(cookie.find("HttpOnly") != std::string::npos);
    CHECK(cookie.find("SameSite=Strict") != std::string::npos);

    CHECK(f.get("/api/v1/status", {{"Authorization", "Bearer " + token}}).status == 200);
    CHECK(f.get("/api/v1/status", {{"Cookie", "theme=dark; edgemq_session=" + token}}).status ==
          200);
    // After the success (which clears this address's four failures above: a fifth would
    // block it, see the rate limit test).
    const auto refused = call(f.port(), http::verb::post, "/api/v1/login", {},
                              R"({"username":"ops","password":"nope"})");
    CHECK(refused.status == 401);
    CHECK(refused.header("set-cookie").empty());
    const auto status = f.authed(http::verb::get, "/api/v1/status");
    REQUIRE(status.status == 200);
    CHECK(status.json().at("version").is_string());
    CHECK(status.json().at("listeners").as_array().size() == 2); // mqtt tcp + the admin itself
    CHECK(status.json().at("counters").at("clients_connected").is_number());

    // Logout ends the session.
    CHECK(call(f.port(), http::verb::post, "/api/v1/logout", {{"Authorization", "Bearer " + token}})
              .status == 204);
    CHECK(f.get("/api/v1/status", {{"Authorization", "Bearer " + token}}).status == 401);

    // A user added to the file later logs in without a restart.
    edgemq::broker::auth::set_password(f.users_file(), "late", "later-pass");
    CHECK(f.get("/api/v1/status", {{"Authorization", basic("late", "later-pass")}}).status == 200);

    // The page and its assets need no login (the page logs in itself), and nothing from a CDN.
    const auto page = f.get("/");
    CHECK(page.status == 200);
    CHECK(page.header("content-type").starts_with("text/html"));
    CHECK(page.body.find("id=\"login\"") != std::string::npos);
    CHECK(page.body.find("http") == std::string::npos); // no external URL at all
    CHECK(f.get("/dashboard.js").status == 200);
    CHECK(f.get("/dashboard.css").status == 200);
}

TEST_CASE("the admin API answers bad requests with JSON errors", "[integration][admin]") {
    admin_fixture f;
    const auto unknown = f.authed(http::verb::get, "/api/v1/nothing");
    CHECK(unknown.status == 404);
    CHECK(unknown.json().at("code") == "not_found");
    CHECK(f.get("/favicon.ico").status == 404);

    const auto wrong_method = f.authed(http::verb::post, "/api/v1/status");
    CHECK(wrong_method.status == 405);
    CHECK(wrong_method.header("allow") == "GET");
    CHECK(wrong_method.json().at("code") == "method_not_allowed");
    CHECK(f.get("/api/v1/login").status == 405);

    for (const auto* query : {"?limit=0", "?limit=1001", "?page=x", "?page=-1", "?limit=%zz"}) {
        INFO(query);
        const auto r = f.authed(http::verb::get, std::string("/api/v1/clients") + query);
        CHECK(r.status == 400);
        CHECK(r.json().at("code") == "bad_request");
    }
    const auto bad_login = call(f.port(), http::verb::post, "/api/v1/login", {}, "{not json");
    CHECK(bad_login.status == 400);

    // Limits: a body over 64 KiB, headers over 8 KiB, a request that is not HTTP.
    const auto big = raw_exchange(f.port(), "POST /api/v1/login HTTP/1.1\r\nHost: x\r\n"
                                            "Content-Length: 1000000\r\n\r\n");
    CHECK(big.starts_with("HTTP/1.1 413 "));
    CHECK(big.find(R"("code":"payload_too_large")") != std::string::npos);
    const auto huge_header = raw_exchange(
        f.port(), "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(10000, 'a') + "\r\n\r\n");
    CHECK(huge_header.starts_with("HTTP/1.1 431 "));
    const auto garbage = raw_exchange(f.port(), "HELLO\x01\x02 WORLD\r\n\r\n");
    CHECK(garbage.starts_with("HTTP/1.1 400 "));
    CHECK(garbage.find(R"("code":"bad_request")") != std::string::npos);

    // No serial service: no devices, and restarting one is a 404; no bridges yet.
    CHECK(f.authed(http::verb::get, "/api/v1/devices").json().at("data").as_array().empty());
    CHECK(f.authed(http::verb::get, "/api/v1/bridges").json().at("data").as_array().empty());
    CHECK(f.authed(http::verb::post, "/api/v1/devices/uart0/restart").status == 404);
}

TEST_CASE("the clients list shows a mosquitto_sub, and DELETE kicks it", "[integration][admin]") {
    admin_fixture f;
    auto sub = start_mosquitto_sub(f.broker.port(), {"-i", "admin-test-sub", "-t", "site/#"});
    auto other = start_mosquitto_sub(f.broker.port(), {"-i", "other-client", "-t", "x"});

    const auto all = f.authed(http::verb::get, "/api/v1/clients").json();
    CHECK(all.at("meta").at("count") == 2);
    const auto filtered = f.authed(http::verb::get, "/api/v1/clients?client_id=test-s").json();
    REQUIRE(filtered.at("data").as_array().size() == 1);
    const auto& c = filtered.at("data").at(0);
    CHECK(c.at("client_id") == "admin-test-sub");
    CHECK(c.at("connected") == true);
    CHECK(c.at("listener") == "tcp");
    CHECK(text(c.at("peer")).starts_with("127.0.0.1:"));
    const auto page2 = f.authed(http::verb::get, "/api/v1/clients?limit=1&page=2").json();
    REQUIRE(page2.at("data").as_array().size() == 1);
    CHECK(page2.at("data").at(0).at("client_id") == "other-client"); // sorted by client id

    const auto subs = f.authed(http::verb::get, "/api/v1/subscriptions?client_id=admin-test-sub");
    REQUIRE(subs.status == 200);
    REQUIRE(subs.json().at("data").as_array().size() == 1);
    CHECK(subs.json().at("data").at(0).at("filter") == "site/#");

    REQUIRE(connects_sent(*sub) == 1);
    CHECK(f.authed(http::verb::delete_, "/api/v1/clients/admin-test-sub").status == 204);
    // The broker closed the connection: mosquitto_sub (libmosquitto's loop_forever) reconnects
    // after a disconnect it did not ask for, so a second CONNECT from a process that is still
    // running shows the kick. An exit would mean something else went wrong.
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_lines_containing("sending CONNECT", 2, 10s));
    EDGEMQ_REQUIRE_PROC(*sub, sub->running());
    CHECK(connects_sent(*other) == 1); // the other client was left alone
    CHECK(f.authed(http::verb::delete_, "/api/v1/clients/no-such-client").status == 404);
}

TEST_CASE("the subscriptions list shows a shared subscription's group and topic, and lists a "
          "group's members",
          "[integration][admin]") {
    admin_fixture f;
    auto m1 = start_mosquitto_sub(f.broker.port(), {"-i", "member-1", "-t", "$share/meters/site/+/power"});
    auto m2 = start_mosquitto_sub(f.broker.port(),
                                  {"-i", "member-2", "-V", "mqttv5", "-q", "1", "-t", "$share/meters/site/+/power"});
    auto plain = start_mosquitto_sub(f.broker.port(), {"-i", "plain", "-t", "site/#"});

    const auto group = f.authed(http::verb::get, "/api/v1/subscriptions?share_group=meters");
    REQUIRE(group.status == 200);
    const auto body = group.json();
    const auto& members = body.at("data").as_array();
    REQUIRE(members.size() == 2);
    CHECK(members.at(0).at("client_id") == "member-1");
    CHECK(members.at(1).at("client_id") == "member-2");
    for (const auto& m : members) {
        CHECK(m.at("share_group") == "meters");
        CHECK(m.at("topic") == "site/+/power");
        CHECK(m.at("filter") == "$share/meters/site/+/power");
    }
    CHECK(members.at(1).at("qos") == 1);
    const auto all = f.authed(http::verb::get, "/api/v1/subscriptions?client_id=plain").json();
    REQUIRE(all.at("data").as_array().size() == 1);
    CHECK_FALSE(all.at("data").at(0).as_object().contains("share_group"));
    CHECK(all.at("data").at(0).at("no_local") == false);
    CHECK(f.authed(http::verb::get, "/api/v1/subscriptions?share_group=none")
              .json().at("data").as_array().empty());
}

TEST_CASE("retained messages are listed and deleted", "[integration][admin]") {
    admin_fixture f;
    const auto payload_of = [&](const std::string& topic) -> std::optional<std::string> {
        // $SYS topics are retained too: look for ours among them.
        const auto list = f.authed(http::verb::get, "/api/v1/retained?limit=1000").json();
        for (const auto& m : list.at("data").as_array()) {
            if (m.at("topic") == topic.c_str()) {
                return text(m.at("payload"));
            }
        }
        return std::nullopt;
    };
    mosquitto_pub(f.broker.port(), {"-q", "1", "-r", "-t", "site/gw1/status", "-m", "online"});
    REQUIRE(eventually([&] { return payload_of("site/gw1/status").has_value(); }));
    CHECK(payload_of("site/gw1/status") == "online");

    CHECK(f.authed(http::verb::delete_, "/api/v1/retained/site%2Fgw1%2Fstatus").status == 204);
    CHECK_FALSE(payload_of("site/gw1/status"));
    CHECK(f.authed(http::verb::delete_, "/api/v1/retained/site/gw1/status").status == 404);
}

TEST_CASE("/metrics is Prometheus text and its counters rise", "[integration][admin]") {
    admin_fixture f;
    const auto before = f.get("/metrics");
    REQUIRE(before.status == 200);
    CHECK(before.header("content-type").starts_with("text/plain; version=0.0.4"));
    for (const auto* name :
         {"edgemq_messages_received_total", "edgemq_messages_sent_total",
          "edgemq_bytes_received_total", "edgemq_bytes_sent_total",
          "edgemq_messages_dropped_total", "edgemq_clients_connected", "edgemq_subscriptions",
          "edgemq_retained_messages", "edgemq_uptime_seconds"}) {
        INFO(name);
        CHECK(before.body.find(std::string("# HELP ") + name + " ") != std::string::npos);
        CHECK(before.body.find(std::string("# TYPE ") + name + " ") != std::string::npos);
        CHECK(sample(before.body, name) >= 0);
    }
    const double received = sample(before.body, "edgemq_messages_received_total");
    for (int i = 0; i < 3; ++i) {
        mosquitto_pub(f.broker.port(), {"-q", "1", "-t", "m/" + std::to_string(i), "-m", "x"});
    }
    CHECK(eventually([&] {
        return sample(f.get("/metrics").body, "edgemq_messages_received_total") >= received + 3;
    }));

    admin_fixture guarded{true};
    CHECK(guarded.get("/metrics").status == 401);
    CHECK(guarded.authed(http::verb::get, "/metrics").status == 200);
}

TEST_CASE("/api/v1/events streams stats as server-sent events", "[integration][admin]") {
    admin_fixture f;
    asio::io_context ctx;
    tcp::socket sock{ctx};
    sock.connect(tcp::endpoint{asio::ip::make_address("127.0.0.1"), f.port()});
    asio::write(sock, asio::buffer("GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: " +
                                   basic("ops", "s3cret-pass") + "\r\n\r\n"));
    std::string in;
    asio::read_until(sock, asio::dynamic_buffer(in), "}\n\n");
    CHECK(in.starts_with("HTTP/1.1 200 "));
    CHECK(in.find("Content-Type: text/event-stream\r\n") != std::string::npos);
    const auto data = in.find("\r\n\r\nevent: stats\ndata: {");
    REQUIRE(data != std::string::npos);
    const auto first = json::parse(in.substr(in.find('{', data), in.size() - 2 - in.find('{', data)));
    CHECK(first.at("messages_received").is_number());
    CHECK(first.at("time").is_number());
    // And another one two seconds later.
    in.clear();
    asio::read_until(sock, asio::dynamic_buffer(in), "}\n\n");
    CHECK(in.starts_with("event: stats\ndata: {"));
}

TEST_CASE("edgemq ctl talks to the admin API and edits the admins file", "[integration][admin]") {
    admin_fixture f;
    const auto url = "http://127.0.0.1:" + std::to_string(f.port());
    const auto ctl = [&](const std::vector<std::string>& w) { return run_ctl(f.port(), w); };
    auto sub = start_mosquitto_sub(f.broker.port(), {"-i", "ctl-sub", "-t", "a"});

    auto r = ctl({"status"});
    INFO(r.out << r.err);
    CHECK(r.exited_ok());
    CHECK(r.out.starts_with("edgemq "));
    CHECK(r.out.find("clients_connected 1\n") != std::string::npos);

    r = ctl({"clients", "list"});
    CHECK(r.exited_ok());
    CHECK(r.out.starts_with("CLIENT ID"));
    CHECK(r.out.find("\nctl-sub ") != std::string::npos);

    REQUIRE(connects_sent(*sub) == 1);
    r = ctl({"clients", "kick", "ctl-sub"});
    CHECK(r.exited_ok());
    CHECK(r.out == "client ctl-sub kicked\n");
    // As with DELETE above: the kicked mosquitto_sub reconnects, and is still running.
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_lines_containing("sending CONNECT", 2, 10s));
    EDGEMQ_REQUIRE_PROC(*sub, sub->running());
    r = ctl({"clients", "kick", "nobody"});
    CHECK(r.exit_code == 1);
    CHECK(r.err == "edgemq ctl: no connected client nobody\n");

    CHECK(ctl({"devices", "list"}).out == "no devices\n");
    CHECK(ctl({"bridges", "list"}).out == "no bridges\n");
    CHECK(ctl({"devices", "restart", "uart0"}).err == "edgemq ctl: no device uart0\n");

    r = run_process({EDGEMQ_BINARY, "ctl", "--url", url, "status"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("refused the login (401)") != std::string::npos);
    r = run_process({EDGEMQ_BINARY, "ctl", "--url", url, "--user", "ops", "--password", "bad",
                     "status"});
    CHECK(r.err.find("wrong user or password") != std::string::npos);

    // Nothing listening: a port that was just free.
    std::uint16_t closed = 0;
    {
        asio::io_context ctx;
        tcp::acceptor a{ctx, tcp::endpoint{asio::ip::make_address("127.0.0.1"), 0}};
        closed = a.local_endpoint().port();
    }
    const auto closed_url = "http://127.0.0.1:" + std::to_string(closed);
    r = run_process({EDGEMQ_BINARY, "ctl", "--url", closed_url, "status"});
    CHECK(r.exit_code == 1);
    CHECK(r.err == "edgemq ctl: edgemq is not running at " + closed_url + "\n");

    // admins: the users file directly, no server involved.
    const auto users = f.users_file().string();
    const auto admins = [&](std::vector<std::string> words) {
        std::vector<std::string> argv{EDGEMQ_BINARY, "ctl", "--users-file", users, "admins"};
        argv.insert(argv.end(), words.begin(), words.end());
        return run_process(argv);
    };
    CHECK(admins({"add", "alice", "first-pass", "night shift"}).exited_ok());
    CHECK(admins({"add", "alice", "other"}).exit_code == 1);
    CHECK(edgemq::broker::auth::password_file::load(users).verify("alice", "first-pass"));
    CHECK(f.get("/api/v1/status", {{"Authorization", basic("alice", "first-pass")}}).status ==
          200);
    CHECK(admins({"passwd", "alice", "second-pass"}).exited_ok());
    CHECK(edgemq::broker::auth::password_file::load(users).verify("alice", "second-pass"));
    CHECK(admins({"del", "alice"}).exited_ok());
    CHECK_FALSE(edgemq::broker::auth::password_file::load(users).contains("alice"));
    CHECK(admins({"del", "alice"}).exit_code == 1);
    CHECK(admins({"passwd", "nobody", "x"}).exit_code == 1);
}

TEST_CASE("devices on the admin API: a socat pty sensor's availability, last values, counters, "
          "metrics, restart and ctl",
          "[integration][admin][serial]") {
    temp_dir pty;
    auto socat = edgemq::test::start_pty_pair(pty.path());
    const auto cfg = edgemq::config::load_string(
        "[[devices]]\nid = \"sensor\"\nmatch = { path = \"" + (pty.path() / "dev").string() +
            "\" }\nstats_interval = 0\nparser = { kind = \"kv\" }\n",
        "test.toml");
    admin_fixture f{false, cfg.devices};
    const auto device = [&] { return f.authed(http::verb::get, "/api/v1/devices/sensor").json(); };
    const auto stat = [&](const char* name) {
        return device().at("stats").at(name).to_number<std::uint64_t>();
    };
    REQUIRE(eventually([&] { return device().at("online") == true; }));

    const auto list = f.authed(http::verb::get, "/api/v1/devices");
    REQUIRE(list.status == 200);
    CHECK(list.header("content-type") == "application/json");
    REQUIRE(list.json().at("data").as_array().size() == 1);
    CHECK(list.json().at("meta").at("count") == 1);
    const auto first = list.json().at("data").at(0);
    CHECK(first.at("id") == "sensor");
    CHECK(first.at("availability") == "online");
    CHECK(text(first.at("port")).starts_with("/dev/pts/"));
    // libserialport cannot describe a pty: its details are the path alone.
    CHECK(first.at("port_details").at("path") == first.at("port"));
    CHECK(first.at("port_details").at("transport") == "native");
    CHECK(first.at("port_details").at("vid").is_null());
    CHECK(first.at("port_details").at("location").is_null());
    CHECK(first.at("last_seen_ms") == 0);
    CHECK(first.at("values").as_object().empty());
    const auto opened_ms = first.at("online_since_ms").to_number<std::int64_t>();
    CHECK(opened_ms > 0);

    // A line from the device: its values, parsed from the state JSON, and the counters.
    edgemq::test::sim_port sim(pty.path() / "sim");
    const auto before_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    sim.write("temp=25.1,hum=60\n");
    REQUIRE(eventually([&] { return stat("frames") == 1; }));
    auto d = device();
    CHECK(d.at("values").at("temp") == 25.1);
    CHECK(d.at("values").at("hum") == 60);
    // The number as the device sent it, not as 2.51E1.
    CHECK(f.authed(http::verb::get, "/api/v1/devices/sensor").body.find(R"("temp":25.1)") !=
          std::string::npos);
    CHECK(d.at("stats").at("bytes").to_number<std::uint64_t>() >= 17);
    CHECK(d.at("last_seen_ms").to_number<std::int64_t>() >= before_ms);
    sim.write("garbage\n");
    REQUIRE(eventually([&] { return stat("parse_errors") == 1; }));

    // /metrics: one series per device, labelled, with HELP and TYPE.
    const auto metrics = f.get("/metrics").body;
    for (const auto* name :
         {"edgemq_device_online", "edgemq_device_bytes_received_total",
          "edgemq_device_frames_total", "edgemq_device_parse_errors_total",
          "edgemq_device_dropped_total", "edgemq_device_reconnects_total",
          "edgemq_device_last_seen_timestamp_seconds"}) {
        INFO(name);
        CHECK(metrics.find(std::string("# HELP ") + name + " ") != std::string::npos);
        CHECK(metrics.find(std::string("# TYPE ") + name + " ") != std::string::npos);
        CHECK(sample(metrics, std::string(name) + R"(\{device="sensor"\})") >= 0);
    }
    CHECK(metrics.find("# TYPE edgemq_device_online gauge\n") != std::string::npos);
    CHECK(metrics.find("# TYPE edgemq_device_frames_total counter\n") != std::string::npos);
    CHECK(sample(metrics, R"(edgemq_device_online\{device="sensor"\})") == 1);
    CHECK(sample(metrics, R"(edgemq_device_parse_errors_total\{device="sensor"\})") == 1);
    CHECK(sample(metrics, R"(edgemq_device_bytes_received_total\{device="sensor"\})") >= 25);
    CHECK(sample(metrics, R"(edgemq_device_last_seen_timestamp_seconds\{device="sensor"\})") >=
          static_cast<double>(before_ms / 1000));

    // Errors: unknown devices, wrong methods, unknown sub-resources.
    const auto unknown = f.authed(http::verb::get, "/api/v1/devices/nope");
    CHECK(unknown.status == 404);
    CHECK(unknown.json().at("code") == "not_found");
    CHECK(unknown.json().at("message") == "no device nope");
    CHECK(f.authed(http::verb::post, "/api/v1/devices/nope/restart").status == 404);
    const auto get_restart = f.authed(http::verb::get, "/api/v1/devices/sensor/restart");
    CHECK(get_restart.status == 405);
    CHECK(get_restart.header("allow") == "POST");
    CHECK(f.authed(http::verb::delete_, "/api/v1/devices/sensor").status == 405);
    CHECK(f.authed(http::verb::post, "/api/v1/devices").status == 405);
    CHECK(f.authed(http::verb::get, "/api/v1/devices/sensor/other").status == 404);
    CHECK(f.authed(http::verb::get, "/api/v1/devices?limit=0").status == 400);
    CHECK(f.get("/api/v1/devices").status == 401);

    // Restart: accepted at once; the port closes and opens again (one reconnect).
    const auto restarted = f.authed(http::verb::post, "/api/v1/devices/sensor/restart");
    CHECK(restarted.status == 202);
    CHECK(restarted.json().at("status") == "restarting");
    CHECK(eventually([&] {
        const auto now = device();
        return now.at("stats").at("reconnects") == 1 && now.at("online") == true;
    }));
    CHECK(device().at("online_since_ms").to_number<std::int64_t>() > opened_ms);

    // And the same through edgemq ctl.
    auto r = run_ctl(f.port(), {"devices", "list"});
    INFO(r.out << r.err);
    CHECK(r.exited_ok());
    CHECK(r.out.starts_with("ID "));
    // ID, STATE, PORT, FRAMES, ERRORS, RECONNECTS, LAST SEEN, VALUES
    const std::regex row{
        R"(\nsensor +online +/dev/pts/[0-9]+ +[0-9]+ +1 +1 +[0-9T:-]+Z +temp=25.1 hum=60\n)"};
    CHECK(std::regex_search(r.out, row));
    r = run_ctl(f.port(), {"devices", "restart", "sensor"});
    CHECK(r.exited_ok());
    CHECK(r.out == "device sensor restarting\n");
    CHECK(eventually([&] { return stat("reconnects") == 2; }));
    r = run_ctl(f.port(), {"devices", "restart", "nope"});
    CHECK(r.exit_code == 1);
    CHECK(r.err == "edgemq ctl: no device nope\n");
}

TEST_CASE("/api/v1/ports lists the machine's serial ports as libserialport does",
          "[integration][admin][serial]") {
    admin_fixture f;
    const auto r = f.authed(http::verb::get, "/api/v1/ports?limit=1000");
    REQUIRE(r.status == 200);
    CHECK(r.header("content-type") == "application/json");
    const auto expected = edgemq::test::libserialport_ports();
    const auto body = r.json();
    const auto& data = body.at("data").as_array();
    REQUIRE(data.size() == expected.size());
    CHECK(body.at("meta").at("count") == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const auto& port = data[i].as_object();
        INFO(json::serialize(port));
        CHECK(text(port.at("path")) == expected[i].name);
        CHECK(text(port.at("transport")) == expected[i].transport);
        if (expected[i].vid_pid.empty()) {
            CHECK(port.at("vid").is_null());
            CHECK(port.at("bus").is_null());
        } else {
            CHECK(text(port.at("vid")) + ":" + text(port.at("pid")) == expected[i].vid_pid);
        }
        // No serial service in this fixture: no port is any device's.
        CHECK(port.at("device").is_null());
    }
    CHECK(f.authed(http::verb::post, "/api/v1/ports").status == 405);
    CHECK(f.authed(http::verb::get, "/api/v1/ports?limit=0").status == 400);
    CHECK(f.get("/api/v1/ports").status == 401);
}

TEST_CASE("failed logins from one address are refused with 429 for a minute, others are not",
          "[integration][admin]") {
    admin_fixture f{true}; // /metrics needs a login too
    const auto good = header_list{{"Authorization", basic("ops", "s3cret-pass")}};
    const auto from = [&](const std::string& source, http::verb method, const std::string& target,
                          const header_list& h = {}, const std::string& body = {}) {
        return call(f.port(), method, target, h, body, source);
    };
    // A session opened before the guessing starts, from the address that will be blocked.
    const auto login = from("127.0.0.2", http::verb::post, "/api/v1/login", {},
                            R"({"username":"ops","password":"s3cret-pass"})");
    REQUIRE(login.status == 200);
    const auto token = text(login.json().at("token"));

    // Five failures of every kind: page login, Basic, a bad Basic, an unknown bearer token.
    CHECK(from("127.0.0.2", http::verb::post, "/api/v1/login", {},
               R"({"username":"ops","password":"guess1"})")
              .status == 401);
    CHECK(from("127.0.0.2", http::verb::get, "/api/v1/status",
               {{"Authorization", basic("ops", "guess2")}})
              .status == 401);
    CHECK(from("127.0.0.2", http::verb::get, "/metrics", {{"Authorization", basic("ops", "g3")}})
              .status == 401);
    CHECK(from("127.0.0.2", http::verb::get, "/api/v1/clients", {{"Authorization", "Basic !!"}})
              .status == 401);
    // Not failures: no credentials, a stale cookie, a malformed login body.
    CHECK(from("127.0.0.2", http::verb::get, "/api/v1/status").status == 401);
    CHECK(from("127.0.0.2", http::verb::get, "/api/v1/status",
               {{"Cookie", "edgemq_session=stale"}})
              .status == 401);
    CHECK(from("127.0.0.2", http::verb::post, "/api/v1/login", {}, "{").status == 400);
    CHECK(f.logged("refused for") == 0);
    // The fifth failure is still answered 401, and blocks the address.
    CHECK(from("127.0.0.2", http::verb::get, "/api/v1/status",
               {{"Authorization", "Bearer 00ff"}})
              .status == 401);

    // Blocked now: even the right password is not checked.
    const auto blocked = from("127.0.0.2", http::verb::get, "/api/v1/status", good);
    CHECK(blocked.status == 429);
    CHECK(blocked.json().at("code") == "too_many_requests");
    const auto retry_after = std::stoi(blocked.header("retry-after"));
    CHECK(retry_after >= 1);
    CHECK(retry_after <= 60);
    const auto page_login = from("127.0.0.2", http::verb::post, "/api/v1/login", {},
                                 R"({"username":"ops","password":"s3cret-pass"})");
    CHECK(page_login.status == 429);
    CHECK(page_login.header("set-cookie").empty());
    CHECK(!page_login.header("retry-after").empty());
    CHECK(from("127.0.0.2", http::verb::get, "/metrics", good).status == 429);
    CHECK(from("127.0.0.2", http::verb::get, "/api/v1/status",
               {{"Authorization", "Bearer 00ff"}})
              .status == 429);
    // A session opened before still works from there; the block was logged once.
    CHECK(from("127.0.0.2", http::verb::get, "/api/v1/status",
               {{"Authorization", "Bearer " + token}})
              .status == 200);
    CHECK(from("127.0.0.2", http::verb::get, "/api/v1/status",
               {{"Cookie", "edgemq_session=" + token}})
              .status == 200);
    CHECK(f.logged("admin logins from address=127.0.0.2 refused for") == 1);

    // Another address is not affected, and its successes do not unblock the first one.
    CHECK(from("127.0.0.3", http::verb::get, "/api/v1/status", good).status == 200);
    CHECK(from("127.0.0.1", http::verb::post, "/api/v1/login", {},
               R"({"username":"ops","password":"s3cret-pass"})")
              .status == 200);
    CHECK(from("127.0.0.2", http::verb::get, "/api/v1/status", good).status == 429);
    CHECK(f.logged("refused for") == 1);
}

TEST_CASE("edgemq ctl over https: --cacert, the host name, --insecure and clear errors",
          "[integration][admin]") {
    const auto& certs = edgemq::test::test_certs();
    const auto tls = [&](const std::string& host) {
        return [&certs, host](edgemq::config::admin& cfg) {
            cfg.host = host;
            cfg.cert = certs.server.cert;
            cfg.key = certs.server.key;
        };
    };
    admin_fixture f{false, {}, tls("127.0.0.1")};
    const auto https = "https://127.0.0.1:" + std::to_string(f.port());
    const auto status_ok = [](const edgemq::test::process_result& r) {
        return r.exited_ok() && r.out.starts_with("edgemq ");
    };

    // The test CA: by IP (the certificate names 127.0.0.1) and by name (localhost).
    auto r = run_ctl(https, {"--cacert", certs.ca.cert, "status"});
    INFO(r.out << r.err);
    CHECK(status_ok(r));
    CHECK(r.out.find("listener https on 127.0.0.1:" + std::to_string(f.port())) !=
          std::string::npos);
    r = run_ctl("https://localhost:" + std::to_string(f.port()),
                {"--cacert", certs.ca.cert, "clients", "list"});
    CHECK(r.exited_ok());

    // Not trusted: the system's CAs do not know the test CA, nor does another CA.
    r = run_ctl(https, {"status"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.starts_with("edgemq ctl: the TLS certificate of " + https + " was refused: "));
    CHECK(r.err.find("--cacert") != std::string::npos);
    r = run_ctl(https, {"--cacert", certs.untrusted_ca.cert, "status"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("was refused") != std::string::npos);
    // --insecure skips the check.
    CHECK(status_ok(run_ctl(https, {"--insecure", "status"})));
    r = run_ctl(https, {"--cacert", "/nonexistent/ca.pem", "status"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("cannot load the CA certificates from /nonexistent/ca.pem") !=
          std::string::npos);

    // The wrong scheme either way says which.
    r = run_ctl("http://127.0.0.1:" + std::to_string(f.port()), {"status"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("use an https:// URL") != std::string::npos);
    admin_fixture plain;
    r = run_ctl("https://127.0.0.1:" + std::to_string(plain.port()),
                {"--cacert", certs.ca.cert, "status"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("plain http") != std::string::npos);

    // A certificate for another host: trusted CA, wrong name.
    admin_fixture other{false, {}, tls("127.0.0.2")};
    r = run_ctl("https://127.0.0.2:" + std::to_string(other.port()),
                {"--cacert", certs.ca.cert, "status"});
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("it does not name 127.0.0.2") != std::string::npos);
}
