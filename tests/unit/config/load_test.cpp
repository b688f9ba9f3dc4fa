// SPDX-License-Identifier: Apache-2.0
#include <edgemq/config/load.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#ifndef EDGEMQ_SOURCE_DIR
#error "EDGEMQ_SOURCE_DIR must name the source tree, to find config/edgemq.toml"
#endif

namespace {

using namespace std::chrono_literals;
using namespace edgemq::config;
using lines = std::vector<std::string>;

const std::filesystem::path reference_config =
    std::filesystem::path(EDGEMQ_SOURCE_DIR) / "config" / "edgemq.toml";

listener tcp(std::string host, std::uint16_t port, std::size_t max_connections = 0) {
    listener l;
    l.host = std::move(host);
    l.port = port;
    l.max_connections = max_connections;
    return l;
}

/// Every diagnostic of loading `text` as "t.toml", as the user would read it.
lines errors(std::string_view text) {
    try {
        (void)load_string(text, "t.toml");
    } catch (const load_error& e) {
        lines out;
        for (const auto& d : e.diagnostics()) {
            out.push_back(d.to_string());
        }
        return out;
    }
    return {};
}

std::string read(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

/// `text` with every "#setting" line turned into "setting" ("# prose" lines stay comments).
std::string uncommented(const std::string& text) {
    std::istringstream in(text);
    std::string out;
    for (std::string line; std::getline(in, line);) {
        const bool setting = line.size() > 1 && line[0] == '#' && line[1] != ' ' && line[1] != '#';
        out += (setting ? line.substr(1) : line) + '\n';
    }
    return out;
}

} // namespace

TEST_CASE("defaults are one tcp listener on 127.0.0.1:1883", "[config]") {
    const auto g = defaults();
    REQUIRE(g.listeners.size() == 1);
    CHECK(g.listeners[0] == tcp("127.0.0.1", 1883));
    CHECK(g.broker == broker{});
    CHECK(g.log.level == log_level::info);
}

TEST_CASE("an empty file and empty tables give the defaults", "[config]") {
    CHECK(load_string("") == defaults());
    CHECK(load_string("[broker]\n[log]\n") == defaults());
    CHECK(load_string("listeners = []\n") == defaults());
}

TEST_CASE("every setting is read", "[config]") {
    const auto g = load_string(R"([broker]
threads = 4
max_packet_size = 1048576
max_connections = 5000
max_inflight_messages = 100
max_queued_messages = 0
slow_consumer_timeout = "30s"
slow_consumer = "disconnect"
queue_qos0_messages = true
connect_timeout = "500ms"
sys_interval = 0
max_keepalive = 600
max_outbound_bytes = 1024
persistence = true
persistence_file = "/srv/edgemq/retained.db"
sync = "full"

[log]
level = "debug"

[[listeners]]
bind = "0.0.0.0:1883"
max_connections = 100
allow_anonymous = true

[[listeners]]
type = "tcp"
bind = "[::1]:0"
)");
    broker expected;
    expected.threads = 4;
    expected.max_packet_size = 1048576;
    expected.max_connections = 5000;
    expected.max_inflight_messages = 100;
    expected.max_queued_messages = 0;
    expected.slow_consumer_timeout = 30s;
    expected.slow_consumer = slow_consumer_policy::disconnect;
    expected.queue_qos0_messages = true;
    expected.connect_timeout = 500ms;
    expected.sys_interval = 0s;
    expected.max_keepalive = 600;
    expected.max_outbound_bytes = 1024;
    expected.persistence = true;
    expected.sync = sync_mode::full;
    expected.persistence_file = "/srv/edgemq/retained.db";
    CHECK(g.broker == expected);
    CHECK(g.log.level == log_level::debug);
    auto open = tcp("0.0.0.0", 1883, 100);
    open.allow_anonymous = true;
    CHECK(g.listeners == std::vector<listener>{open, tcp("::1", 0)});
}

TEST_CASE("bind takes host:port, IPv6 in brackets", "[config]") {
    const std::pair<std::string_view, std::pair<std::string, std::uint16_t>> cases[] = {
        {"127.0.0.1:1883", {"127.0.0.1", 1883}},
        {"0.0.0.0:65535", {"0.0.0.0", 65535}},
        {"localhost:0", {"localhost", 0}},
        {"[::]:1883", {"::", 1883}},
        {"[fe80::1%eth0]:8883", {"fe80::1%eth0", 8883}},
        {"[::ffff:10.0.0.1]:1883", {"::ffff:10.0.0.1", 1883}},
    };
    for (const auto& [bind, expected] : cases) {
        INFO("bind = " << bind);
        const auto g = load_string("[[listeners]]\nallow_anonymous = true\nbind = \"" +
                                   std::string(bind) + "\"\n");
        REQUIRE(g.listeners.size() == 1);
        CHECK(std::pair(g.listeners[0].host, g.listeners[0].port) == expected);
    }
}

TEST_CASE("durations take seconds or a string with a unit", "[config]") {
    const std::pair<std::string_view, std::chrono::milliseconds> cases[] = {
        {"30", 30s},       {R"("500ms")", 500ms}, {R"("10s")", 10s},
        {R"("2m")", 2min}, {R"("1h")", 1h},       {R"("24h")", 24h},
    };
    for (const auto& [text, expected] : cases) {
        INFO("connect_timeout = " << text);
        CHECK(load_string("[broker]\nconnect_timeout = " + std::string(text))
                  .broker.connect_timeout == expected);
    }
    CHECK(load_string("[broker]\nsys_interval = \"2m\"").broker.sys_interval == 120s);
    CHECK(load_string("[broker]\nsys_interval = \"2000ms\"").broker.sys_interval == 2s);
    // "0 = off" is written without a unit, as a string too.
    CHECK(load_string("[broker]\nsys_interval = \"0\"").broker.sys_interval == 0s);
    CHECK(load_string("[broker]\nsys_interval = \"0s\"").broker.sys_interval == 0s);
    CHECK(errors("[broker]\nsys_interval = \"10\"\n").size() == 1); // other numbers need a unit
}

TEST_CASE("the limits before login and the packet deadline are read and checked", "[config]") {
    const auto g = load_string("[broker]\nmax_connect_size = 4096\n"
                               "max_unauthenticated_memory = 1048576\npacket_timeout = \"5s\"\n");
    CHECK(g.broker.max_connect_size == 4096);
    CHECK(g.broker.max_unauthenticated_memory == 1048576);
    CHECK(g.broker.packet_timeout == 5s);
    CHECK(defaults().broker.max_connect_size == 65536);
    CHECK(defaults().broker.packet_timeout == 60s);
    CHECK(errors("[broker]\nmax_connect_size = 1\n").size() == 1);
    CHECK(errors("[broker]\npacket_timeout = 0\n").size() == 1);
}

TEST_CASE("a syntax error is reported at toml++'s position", "[config]") {
    CHECK(errors("[broker]\nthreads = = 4\n") ==
          lines{"t.toml:2:11: Error while parsing value: could not determine value type"});
    CHECK(errors("[broker]\nthreads = 1\nthreads = 2\n") ==
          lines{"t.toml:3:11: Error while parsing key-value pair: cannot redefine existing "
                "integer 'threads'"});
}

TEST_CASE("unknown keys and tables name the closest valid one", "[config]") {
    CHECK(errors("[broker]\nmax_inflight_msgs = 10\n") ==
          lines{"t.toml:2:1: broker.max_inflight_msgs: unknown key; did you mean "
                "'max_inflight_messages'?"});
    CHECK(errors("[brokr]\n") == lines{"t.toml:1:2: brokr: unknown table; did you mean 'broker'?"});
    CHECK(errors("[[listener]]\nbind = \"0.0.0.0:1883\"\n") ==
          lines{"t.toml:1:3: listener: unknown key; did you mean 'listeners'?"});
    CHECK(errors("[broker]\nThreads = 2\n") ==
          lines{"t.toml:2:1: broker.Threads: unknown key; did you mean 'threads'?"});
    // Nothing close: list what would be valid.
    CHECK(errors("[log]\nfile = \"/var/log/edgemq.log\"\n") ==
          lines{"t.toml:2:1: log.file: unknown key; valid keys are 'level'"});
    CHECK(errors("[[listeners]]\nbind = \"127.0.0.1:1\"\nhostname_of_server = 1883\n") ==
          lines{"t.toml:3:1: listeners[0].hostname_of_server: unknown key; valid keys are "
                "'type', 'bind', 'max_connections', 'cert', 'key', 'ca', "
                "'require_client_certificate', 'use_identity_as_username', 'path', "
                "'allow_anonymous', 'password_file', 'acl_file', 'max_publish_rate'"});
    CHECK(errors("bridge = 1\n") ==
          lines{"t.toml:1:1: bridge: unknown key; did you mean 'bridges'?"});
    CHECK(errors("uplink = 1\n") ==
          lines{"t.toml:1:1: uplink: unknown key; valid keys are 'broker', 'listeners', 'log', "
                "'admin', 'devices', 'bridges', 'modbus', 'homeassistant'"});
}

TEST_CASE("a value of the wrong type says what was expected", "[config]") {
    CHECK(errors("[broker]\nthreads = \"4\"\n") ==
          lines{"t.toml:2:11: broker.threads: expected an integer, got a string"});
    CHECK(errors("[broker]\nqueue_qos0_messages = 1\n") ==
          lines{"t.toml:2:23: broker.queue_qos0_messages: expected a boolean (true or false), got "
                "an integer"});
    CHECK(errors("[broker]\nconnect_timeout = 1.5\n") ==
          lines{"t.toml:2:19: broker.connect_timeout: expected a duration: an integer number of "
                "seconds or a string such as \"500ms\", \"10s\", \"2m\" or \"1h\", got a "
                "floating-point number"});
    CHECK(errors("broker = 4\n") == lines{"t.toml:1:10: broker: expected a table, got an integer"});
    CHECK(errors("[listeners]\nbind = \"0.0.0.0:1883\"\n") ==
          lines{"t.toml:1:1: listeners: expected an array of tables, written [[listeners]], got "
                "a table"});
    CHECK(errors("listeners = [4]\n") ==
          lines{"t.toml:1:14: listeners[0]: expected a table, got an integer"});
    CHECK(errors("[log]\nlevel = 3\n") ==
          lines{"t.toml:2:9: log.level: expected a string, got an integer"});
}

TEST_CASE("a value out of range gives the range", "[config]") {
    CHECK(errors("[broker]\nthreads = 300\n") ==
          lines{"t.toml:2:11: broker.threads: must be between 0 and 256, got 300"});
    CHECK(errors("[broker]\nmax_inflight_messages = 0\n") ==
          lines{"t.toml:2:25: broker.max_inflight_messages: must be between 1 and 65535, got 0"});
    CHECK(errors("[broker]\nmax_inflight_messages = 65536\n") ==
          lines{"t.toml:2:25: broker.max_inflight_messages: must be between 1 and 65535, got "
                "65536"});
    CHECK(errors("[broker]\nmax_packet_size = 1\n") ==
          lines{"t.toml:2:19: broker.max_packet_size: must be between 2 and 268435455, got 1"});
    CHECK(errors("[broker]\nmax_packet_size = 268435456\n") ==
          lines{"t.toml:2:19: broker.max_packet_size: must be between 2 and 268435455, got "
                "268435456"});
    CHECK(errors("[broker]\nmax_connections = -1\n") ==
          lines{"t.toml:2:19: broker.max_connections: must be at least 0, got -1"});
    CHECK(errors("[broker]\nmax_keepalive = 70000\n") ==
          lines{"t.toml:2:17: broker.max_keepalive: must be between 0 and 65535, got 70000"});
    CHECK(errors("[broker]\nconnect_timeout = 0\n") ==
          lines{"t.toml:2:19: broker.connect_timeout: must be between 1ms and 24h, got 0"});
    CHECK(errors("[broker]\nsys_interval = \"25h\"\n") ==
          lines{"t.toml:2:16: broker.sys_interval: must be between 0 and 24h, got \"25h\""});
    CHECK(errors("[broker]\nsys_interval = \"99999999999999999999h\"\n") ==
          lines{"t.toml:2:16: broker.sys_interval: must be between 0 and 24h, got "
                "\"99999999999999999999h\""});
    CHECK(errors("[broker]\nsys_interval = -9223372036854775807\n") ==
          lines{"t.toml:2:16: broker.sys_interval: must be between 0 and 24h, got "
                "-9223372036854775807"});
}

TEST_CASE("a malformed duration shows the accepted forms", "[config]") {
    for (const std::string_view text : {"10", "10 s", "10sec", "1.5s", "ms", ""}) {
        INFO("connect_timeout = \"" << text << '"');
        CHECK(errors("[broker]\nconnect_timeout = \"" + std::string(text) + "\"\n") ==
              lines{"t.toml:2:19: broker.connect_timeout: expected a number followed by ms, s, m "
                    "or h, such as \"500ms\", \"10s\", \"2m\" or \"1h\", got \"" +
                    std::string(text) + '"'});
    }
    CHECK(errors("[broker]\nsys_interval = \"1500ms\"\n") ==
          lines{"t.toml:2:16: broker.sys_interval: must be a multiple of 1s, got \"1500ms\""});
}

TEST_CASE("a bad bind shows the expected form", "[config]") {
    const auto bind_error = [](std::string_view bind) {
        return errors("[[listeners]]\nbind = \"" + std::string(bind) + "\"\n");
    };
    CHECK(bind_error("1883") == lines{R"(t.toml:2:8: listeners[0].bind: expected "host:port", )"
                                      R"(e.g. "0.0.0.0:1883", got "1883")"});
    CHECK(bind_error(":1883") == lines{R"(t.toml:2:8: listeners[0].bind: expected "host:port", )"
                                       R"(e.g. "0.0.0.0:1883", got ":1883")"});
    CHECK(bind_error("my host:1883") ==
          lines{R"(t.toml:2:8: listeners[0].bind: expected "host:port", e.g. "0.0.0.0:1883", )"
                R"(got "my host:1883")"});
    CHECK(bind_error("0.0.0.0:") ==
          lines{R"(t.toml:2:8: listeners[0].bind: expected a port number after the last ':', )"
                R"(e.g. "0.0.0.0:1883", got "0.0.0.0:")"});
    CHECK(bind_error("0.0.0.0:mqtt") ==
          lines{R"(t.toml:2:8: listeners[0].bind: expected a port number after the last ':', )"
                R"(e.g. "0.0.0.0:1883", got "0.0.0.0:mqtt")"});
    CHECK(bind_error("0.0.0.0:65536") ==
          lines{R"(t.toml:2:8: listeners[0].bind: the port must be between 0 and 65535, )"
                R"(got "0.0.0.0:65536")"});
    CHECK(bind_error("0.0.0.0:99999999999999999999") ==
          lines{R"(t.toml:2:8: listeners[0].bind: the port must be between 0 and 65535, )"
                R"(got "0.0.0.0:99999999999999999999")"});
    CHECK(bind_error("::1:1883") ==
          lines{R"(t.toml:2:8: listeners[0].bind: an IPv6 address needs brackets, )"
                R"(e.g. "[::1]:1883", got "::1:1883")"});
    CHECK(bind_error("[localhost]:1883") ==
          lines{R"(t.toml:2:8: listeners[0].bind: expected an IPv6 address in the brackets, )"
                R"(e.g. "[::1]:1883", got "[localhost]:1883")"});
    CHECK(bind_error("[::1]") ==
          lines{R"(t.toml:2:8: listeners[0].bind: expected "[address]:port" for IPv6, )"
                R"(e.g. "[::1]:1883", got "[::1]")"});
    CHECK(bind_error("[]:1883") ==
          lines{R"(t.toml:2:8: listeners[0].bind: expected an IPv6 address in the brackets, )"
                R"(e.g. "[::1]:1883", got "[]:1883")"});
    CHECK(bind_error("[::1]:") ==
          lines{R"(t.toml:2:8: listeners[0].bind: expected a port number after the last ':', )"
                R"(e.g. "0.0.0.0:1883", got "[::1]:")"});
    CHECK(errors("[[listeners]]\ntype = \"tcp\"\n") ==
          lines{R"(t.toml:1:1: listeners[0]: missing "bind", e.g. bind = "0.0.0.0:1883")"});
}

TEST_CASE("an unknown listener type names the valid types", "[config]") {
    CHECK(errors("[[listeners]]\ntype = \"udp\"\nbind = \"127.0.0.1:1883\"\n") ==
          lines{R"(t.toml:2:8: listeners[0].type: unknown listener type "udp"; )"
                R"(valid types are "tcp", "tls", "ws", "wss")"});
}

TEST_CASE("TLS and WebSocket listeners take their files and path", "[config]") {
    const auto g = load_string(R"([[listeners]]
type = "tls"
bind = "127.0.0.1:8883"
cert = "/etc/edgemq/server.crt"
key = "/etc/edgemq/server.key"
ca = "/etc/edgemq/ca.crt"
require_client_certificate = true
use_identity_as_username = true

[[listeners]]
type = "wss"
bind = "127.0.0.1:8084"
cert = "s.crt"
key = "s.key"
path = "/ws"
)");
    REQUIRE(g.listeners.size() == 2);
    const auto& tls = g.listeners[0];
    CHECK(tls.type == "tls");
    CHECK(tls.cert == "/etc/edgemq/server.crt");
    CHECK(tls.key == "/etc/edgemq/server.key");
    CHECK(tls.ca == "/etc/edgemq/ca.crt");
    CHECK(tls.require_client_certificate);
    CHECK(tls.use_identity_as_username);
    CHECK(g.listeners[1].path == "/ws");

    CHECK(errors("[[listeners]]\ntype = \"tls\"\nbind = \"127.0.0.1:8883\"\n") ==
          lines{R"(t.toml:1:1: listeners[0]: a "tls" listener needs cert and key, e.g. )"
                R"(cert = "/etc/edgemq/server.crt" and key = "/etc/edgemq/server.key")"});
    CHECK(errors("[[listeners]]\nbind = \"127.0.0.1:1883\"\ncert = \"a\"\n") ==
          lines{"t.toml:1:1: listeners[0]: cert, key, ca, require_client_certificate and "
                R"(use_identity_as_username need type = "tls" or "wss")"});
    CHECK(errors("[[listeners]]\ntype = \"tls\"\nbind = \"127.0.0.1:1\"\ncert = \"c\"\n"
                 "key = \"k\"\nuse_identity_as_username = true\n") ==
          lines{"t.toml:1:1: listeners[0]: use_identity_as_username needs "
                "require_client_certificate = true"});
    CHECK(errors("[[listeners]]\ntype = \"tls\"\nbind = \"127.0.0.1:1\"\ncert = \"c\"\n"
                 "key = \"k\"\nrequire_client_certificate = true\n") ==
          lines{"t.toml:1:1: listeners[0]: require_client_certificate needs ca, the CA file that "
                "signs clients"});
    CHECK(errors("[[listeners]]\ntype = \"ws\"\nbind = \"127.0.0.1:1\"\npath = \"mqtt\"\n") ==
          lines{R"(t.toml:1:1: listeners[0]: path must start with '/', e.g. path = "/mqtt")"});
}

TEST_CASE("a listener off loopback without authentication must say allow_anonymous", "[config]") {
    CHECK(errors("[[listeners]]\nbind = \"0.0.0.0:1883\"\n") ==
          lines{"t.toml:1:1: listeners[0]: listening on 0.0.0.0:1883 without authentication "
                "would let anyone on the network connect; add password_file = "
                R"("/etc/edgemq/passwd" (create it with `edgemq passwd -c /etc/edgemq/passwd )"
                "USER`), or write allow_anonymous = true to accept anonymous clients there"});
    // Each of these is an explicit choice.
    CHECK_NOTHROW(load_string("[[listeners]]\nbind = \"0.0.0.0:1883\"\nallow_anonymous = true\n"));
    CHECK_NOTHROW(load_string("[[listeners]]\nbind = \"0.0.0.0:1883\"\npassword_file = \"p\"\n"));
    CHECK_NOTHROW(load_string("[[listeners]]\nbind = \"[::1]:1883\"\n"));
    const auto g = load_string("[[listeners]]\nbind = \"0.0.0.0:1\"\nallow_anonymous = false\n"
                               "password_file = \"p\"\nacl_file = \"a\"\nmax_publish_rate = 50\n");
    CHECK(g.listeners[0].allow_anonymous == false);
    CHECK(g.listeners[0].acl_file == "a");
    CHECK(g.listeners[0].max_publish_rate == 50);
}

TEST_CASE("allow_anonymous = false with nothing to authenticate clients is refused", "[config]") {
    // Otherwise every client would be refused, or (before) every user name accepted.
    CHECK(errors("[[listeners]]\nbind = \"127.0.0.1:1883\"\nallow_anonymous = false\n") ==
          lines{"t.toml:3:19: listeners[0].allow_anonymous: allow_anonymous = false but nothing "
                "authenticates clients, so no client could connect; add password_file = "
                R"("/etc/edgemq/passwd" (create it with `edgemq passwd -c /etc/edgemq/passwd )"
                "USER`), or use_identity_as_username = true on a TLS listener"});
    CHECK_NOTHROW(load_string("[[listeners]]\nbind = \"127.0.0.1:1883\"\nallow_anonymous = false\n"
                              "password_file = \"p\"\n"));
}

TEST_CASE("a bad log level lists the valid ones", "[config]") {
    CHECK(errors("[log]\nlevel = \"verbose\"\n") ==
          lines{R"(t.toml:2:9: log.level: expected one of "trace", "debug", "info", "warn", )"
                R"("error", "off", got "verbose")"});
    CHECK(errors("[log]\nlevel = \"INFO\"\n") ==
          lines{R"(t.toml:2:9: log.level: expected one of "trace", "debug", "info", "warn", )"
                R"("error", "off", got "INFO"; did you mean "info"?)"});
}

TEST_CASE("every error is reported, in file order", "[config]") {
    const std::string_view text = R"([broker]
threads = 1000
max_inflight_msgs = 5
queue_qos0_messages = "yes"

[[listeners]]
type = "websocket"
bind = "0.0.0.0"

[[listeners]]
bind = "[::]:1883"
max_connections = -5

[log]
level = "loud"
)";
    const lines expected{
        "t.toml:2:11: broker.threads: must be between 0 and 256, got 1000",
        "t.toml:3:1: broker.max_inflight_msgs: unknown key; did you mean "
        "'max_inflight_messages'?",
        "t.toml:4:23: broker.queue_qos0_messages: expected a boolean (true or false), got a "
        "string",
        R"(t.toml:7:8: listeners[0].type: unknown listener type "websocket"; )"
        R"(valid types are "tcp", "tls", "ws", "wss")",
        R"(t.toml:8:8: listeners[0].bind: expected "host:port", e.g. "0.0.0.0:1883", )"
        R"(got "0.0.0.0")",
        "t.toml:10:1: listeners[1]: listening on [::]:1883 without authentication would let "
        "anyone on the network connect; add password_file = \"/etc/edgemq/passwd\" (create it "
        "with `edgemq passwd -c /etc/edgemq/passwd USER`), or write allow_anonymous = true to "
        "accept anonymous clients there",
        "t.toml:12:19: listeners[1].max_connections: must be at least 0, got -5",
        R"(t.toml:15:9: log.level: expected one of "trace", "debug", "info", "warn", "error", )"
        R"("off", got "loud")",
    };
    CHECK(errors(text) == expected);

    try {
        (void)load_string(text, "t.toml");
        FAIL("no load_error");
    } catch (const load_error& e) {
        std::string what;
        for (const auto& line : expected) {
            what += (what.empty() ? "" : "\n") + line;
        }
        CHECK(e.what() == what);
        CHECK(e.diagnostics().at(1) ==
              diagnostic{"t.toml", 3, 1,
                         "broker.max_inflight_msgs: unknown key; did you mean "
                         "'max_inflight_messages'?"});
    }
}

TEST_CASE("load_file reads a file and names it in diagnostics", "[config]") {
    const auto dir = std::filesystem::temp_directory_path() / "edgemq_config_load_test";
    std::filesystem::create_directories(dir);
    const auto path = dir / "bad.toml";
    std::ofstream(path) << "[broker]\nthreads = -1\n";

    try {
        (void)load_file(path);
        FAIL("no load_error");
    } catch (const load_error& e) {
        CHECK(e.what() ==
              path.string() + ":2:11: broker.threads: must be between 0 and 256, got -1");
    }
    try {
        (void)load_file(dir / "missing.toml");
        FAIL("no load_error");
    } catch (const load_error& e) {
        CHECK(e.diagnostics() ==
              std::vector<diagnostic>{{(dir / "missing.toml").string(), 0, 0,
                                       "cannot read the configuration: No such file or "
                                       "directory"}});
    }
    try {
        (void)load_file(dir);
        FAIL("no load_error");
    } catch (const load_error& e) {
        CHECK(e.what() == dir.string() + ": cannot read the configuration: it is a directory");
    }
    std::filesystem::remove_all(dir);
}

TEST_CASE("the reference config/edgemq.toml is the defaults, with persistence on",
          "[config]") {
    auto expected = defaults();
    CHECK_FALSE(expected.broker.persistence);
    expected.broker.persistence = true;
    CHECK(load_file(reference_config) == expected);
    // Its commented-out settings are the defaults: uncommenting all of them changes nothing.
    const auto text = uncommented(read(reference_config));
    REQUIRE(text.find("\nmax_outbound_bytes = 1048576\n") != std::string::npos);
    REQUIRE(text.find("\npersistence_file = \"/var/lib/edgemq/retained.db\"\n") != std::string::npos);
    CHECK(load_string(text, reference_config.string()) == expected);
}

TEST_CASE("[admin] is read, with bind as host:port and cert and key as a pair", "[config]") {
    const auto g = load_string(R"(
[admin]
enabled = false
bind = "0.0.0.0:8080"
users_file = "/tmp/admins"
metrics_auth = true
cert = "/etc/edgemq/admin.crt"
key = "/etc/edgemq/admin.key"
)",
                               "t.toml");
    CHECK_FALSE(g.admin.enabled);
    CHECK(g.admin.host == "0.0.0.0");
    CHECK(g.admin.port == 8080);
    CHECK(g.admin.users_file == "/tmp/admins");
    CHECK(g.admin.metrics_auth);
    CHECK(g.admin.cert == "/etc/edgemq/admin.crt");
    CHECK(g.admin.key == "/etc/edgemq/admin.key");
    CHECK(defaults().admin.host == "127.0.0.1");
    CHECK(defaults().admin.port == 18083);
    CHECK(defaults().admin.users_file == "/var/lib/edgemq/admins");

    CHECK(errors("[admin]\ncert = \"a.crt\"\n") ==
          lines{"t.toml:1:1: admin: HTTPS needs both cert and key, e.g. cert = "
                "\"/etc/edgemq/admin.crt\" and key = \"/etc/edgemq/admin.key\""});
    CHECK(errors("[admin]\nbind = \"18083\"\n") ==
          lines{"t.toml:2:8: admin.bind: expected \"host:port\", e.g. \"0.0.0.0:1883\", got "
                "\"18083\""});
}
