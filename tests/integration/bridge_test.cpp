// SPDX-License-Identifier: Apache-2.0
// The bridge against a real remote: Debian's mosquitto on a free loopback port plays the remote
// EMQX, started and stopped by the test. The gateway is the built edgemq binary, so that outages,
// SIGHUP and kill -9 are the real thing.

#include "certs.hpp"
#include "gateway_process.hpp"
#include "real_clients.hpp"

#include "edgemq/broker/codec/encode.hpp"
#include "edgemq/broker/protocol/packet_reader.hpp"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <regex>
#include <set>
#include <string>

namespace {

using edgemq::test::background_process;
using edgemq::test::eventually;
using edgemq::test::gateway;
using edgemq::test::messages;
using edgemq::test::mosquitto_pub;
using edgemq::test::paho_script;
using edgemq::test::remote_broker;
using edgemq::test::run_process;
using edgemq::test::scratch_dir;
using edgemq::test::start_mosquitto_sub;
using edgemq::test::test_certs;
using namespace std::chrono_literals;

/// The gateway's config: a tcp listener on a free port and one bridge named "up".
std::string gateway_config(const scratch_dir& dir, const std::string& bridge_lines) {
    return R"([broker]
sys_interval = "1s"

[[listeners]]
bind = "127.0.0.1:0"

[admin]
enabled = false

[[bridges]]
name = "up"
client_id = "edgemq-test-bridge"
queue_file = ")" +
           (dir.path / "queue" / "up.db").string() + R"("
reconnect_min = "100ms"
reconnect_max = "500ms"
)" + bridge_lines;
}

/// The value of a retained $SYS topic of the gateway.
std::string sys_value(std::uint16_t port, const std::string& topic) {
    const auto r = run_process({"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(port),
                                "-t", topic, "-C", "1", "-W", "3"},
                               std::nullopt, 5s);
    auto v = r.out;
    while (!v.empty() && v.back() == '\n') {
        v.pop_back();
    }
    return v;
}

/// A paho subscriber with a persistent session on the remote, so that the remote keeps what the
/// bridge delivers while the test is not looking.
std::unique_ptr<background_process> remote_subscriber(std::uint16_t port, const std::string& topic,
                                                      int count, bool wait_subscribed = true) {
    auto p = std::make_unique<background_process>(paho_script(
        "subscriber.py", port,
        {topic, "1", std::to_string(count), "--id", "test-subscriber", "--persistent"}));
    if (wait_subscribed) {
        EDGEMQ_REQUIRE_PROC(*p, p->wait_for_line("subscribed granted=1"));
    }
    return p;
}

/// The payloads among a paho subscriber's lines ("TOPIC qos=1 retain=0 PAYLOAD").
std::vector<std::string> payloads(const std::vector<std::string>& lines) {
    std::vector<std::string> out;
    for (const auto& l : lines) {
        if (l.find(" qos=") != std::string::npos) {
            out.push_back(l.substr(l.rfind(' ') + 1));
        }
    }
    return out;
}

std::vector<std::string> numbered(int from, int to) {
    std::vector<std::string> out;
    for (int i = from; i < to; ++i) {
        out.push_back("msg-" + std::to_string(i));
    }
    return out;
}

/// The start of the outage cases: a gateway whose bridge "up" forwards sensors/# to `remote`
/// (with `bridge_lines` added), connected; a persistent session for the test's subscriber on the
/// remote; then the remote stopped and `count` QoS 1 messages published on sensors/a.
gateway backlog_during_outage(const scratch_dir& dir, remote_broker& remote,
                              const std::string& bridge_lines, int count,
                              std::chrono::seconds publish_timeout) {
    gateway gw{dir, gateway_config(dir, "address = \"127.0.0.1:" + std::to_string(remote.port()) +
                                            "\"\n" + bridge_lines +
                                            "[[bridges.topics]]\npattern = \"sensors/#\"\n")};
    EDGEMQ_REQUIRE_PROC(gw.process(), gw.process().wait_for_stderr("bridge up: connected to"));
    remote_subscriber(remote.port(), "sensors/#", 0)->wait();

    remote.stop();
    EDGEMQ_REQUIRE_PROC(gw.process(), gw.process().wait_for_stderr("lost the connection"));
    background_process pub{
        paho_script("publisher.py", gw.port(), {"sensors/a", "1", std::to_string(count)})};
    EDGEMQ_REQUIRE_PROC(pub, pub.wait_for_line("published " + std::to_string(count),
                                               publish_timeout));
    return gw;
}

namespace codec = edgemq::broker::codec;

/// The remote played by the test itself, packet by packet, for what mosquitto cannot be made to
/// do on cue (answer with session present, withhold an acknowledgement, send a wrong one).
class scripted_remote {
public:
    scripted_remote() {
        listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        REQUIRE(::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(listener_, 4) == 0);
        REQUIRE(::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
        port_ = ntohs(a.sin_port);
    }
    ~scripted_remote() {
        drop();
        ::close(listener_);
    }
    scripted_remote(const scripted_remote&) = delete;
    scripted_remote& operator=(const scripted_remote&) = delete;

    std::uint16_t port() const { return port_; }

    /// Takes the bridge's next connection (the one before is dropped).
    void accept() {
        drop();
        pollfd p{listener_, POLLIN, 0};
        REQUIRE(::poll(&p, 1, 10'000) == 1);
        fd_ = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        REQUIRE(fd_ >= 0);
    }
    /// The bytes of the next packet from the bridge (its CONNECT, level 0x84, is not one the
    /// codec decodes: only a broker that knows the bridge bit would).
    std::vector<std::uint8_t> read_bytes() {
        for (;;) {
            edgemq::broker::protocol::packet_reader reader{in_};
            const auto h = reader.header();
            REQUIRE(h.has_value());
            if (*h && reader.complete()) {
                const auto end = in_.begin() + static_cast<std::ptrdiff_t>((*h)->packet_size());
                std::vector<std::uint8_t> bytes(in_.begin(), end);
                in_.erase(in_.begin(), end);
                return bytes;
            }
            pollfd pfd{fd_, POLLIN, 0};
            REQUIRE(::poll(&pfd, 1, 10'000) == 1);
            std::uint8_t chunk[4096];
            const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
            REQUIRE(n > 0);
            in_.insert(in_.end(), chunk, chunk + n);
        }
    }
    template <typename T> T read_as() {
        const auto bytes = read_bytes();
        edgemq::broker::protocol::packet_reader reader{bytes};
        auto p = reader.next(bytes.size());
        REQUIRE(p.has_value());
        REQUIRE(p->has_value());
        REQUIRE(std::holds_alternative<T>(**p));
        return std::get<T>(**p);
    }
    void send(const codec::packet& p) {
        codec::byte_buffer b;
        codec::encode(p, b);
        REQUIRE(::send(fd_, b.data(), b.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(b.size()));
    }
    /// Closes the connection without a word, as a dying uplink does.
    void drop() {
        if (fd_ >= 0) {
            ::close(fd_);
            fd_ = -1;
        }
        in_.clear();
    }

private:
    int listener_ = -1;
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::vector<std::uint8_t> in_;
};

} // namespace

TEST_CASE("bridge: out, in and both directions with prefixes, and nothing echoed back",
          "[integration][bridge]") {
    scratch_dir dir;
    remote_broker remote{dir};
    gateway gw{dir,
               gateway_config(dir, R"(address = "127.0.0.1:)" + std::to_string(remote.port()) + R"("
[[bridges.topics]]
pattern = "sensors/#"
remote_prefix = "site-7/"
[[bridges.topics]]
pattern = "cmd/#"
direction = "in"
local_prefix = "down/"
remote_prefix = "site-7/"
[[bridges.topics]]
pattern = "shared/#"
direction = "both"
)")};
    EDGEMQ_REQUIRE_PROC(gw.process(), gw.process().wait_for_stderr("bridge up: connected to"));

    // -T: the bridge's retained online notification (site-7/$bridge/up/state) may arrive
    // before or after the subscription; it is checked elsewhere, not counted here.
    auto up = start_mosquitto_sub(remote.port(), {"-t", "site-7/#", "-t", "shared/#", "-T",
                                                  "site-7/$bridge/#", "-v"});
    auto down = start_mosquitto_sub(gw.port(), {"-t", "down/#", "-t", "shared/#", "-v"});

    // Out: local sensors/# arrives as site-7/sensors/#.
    mosquitto_pub(gw.port(), {"-q", "1", "-t", "sensors/greenhouse/temp", "-m", "21.5"});
    REQUIRE(edgemq::test::wait_for_messages(*up, 1));
    CHECK(messages(*up).back() == "site-7/sensors/greenhouse/temp 21.5");

    // In: remote site-7/cmd/# arrives as local down/cmd/#.
    mosquitto_pub(remote.port(), {"-q", "1", "-t", "site-7/cmd/fan", "-m", "on"});
    REQUIRE(edgemq::test::wait_for_messages(*down, 1));
    CHECK(messages(*down).back() == "down/cmd/fan on");

    // Both: a message from the remote comes down once and is never sent back up. A local
    // message published after it travels the same way an echo would, so once it is up an
    // echo would be too.
    mosquitto_pub(remote.port(), {"-q", "1", "-t", "shared/x", "-m", "from-remote"});
    REQUIRE(edgemq::test::wait_for_messages(*down, 2));
    CHECK(messages(*down).back() == "shared/x from-remote");
    mosquitto_pub(gw.port(), {"-q", "1", "-t", "shared/y", "-m", "from-local"});
    REQUIRE(edgemq::test::wait_for_messages(*up, 3));
    std::this_thread::sleep_for(300ms); // room for a (wrong) echo to show up
    const auto seen_up = messages(*up);
    CHECK(std::count(seen_up.begin(), seen_up.end(), "shared/x from-remote") == 1);
    CHECK(std::count(seen_up.begin(), seen_up.end(), "shared/y from-local") == 1);
    const auto seen_down = messages(*down);
    CHECK(std::count(seen_down.begin(), seen_down.end(), "shared/y from-local") == 1);

    // Status: $SYS on the gateway, the retained notification on the remote.
    CHECK(sys_value(gw.port(), "$SYS/broker/bridges/up/state") == "connected");
    const auto note =
        run_process({"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(remote.port()), "-t",
                     "site-7/$bridge/#", "-v", "-C", "1", "-W", "3"},
                    std::nullopt, 5s);
    CHECK(note.out == "site-7/$bridge/up/state online\n");
}

TEST_CASE("bridge: mutual TLS to the remote, a wrong CA is refused with the reason and retried",
          "[integration][bridge][tls]") {
    const auto& certs = test_certs();
    scratch_dir dir;
    remote_broker remote{dir, "cafile " + certs.ca.cert + "\ncertfile " + certs.server.cert +
                                  "\nkeyfile " + certs.server.key + "\nrequire_certificate true\n"};
    const auto bridge = [&](const std::string& ca) {
        return gateway_config(dir, R"(address = "localhost:)" + std::to_string(remote.tls_port()) +
                                       R"("
ca = ")" + ca + R"("
cert = ")" + certs.client.cert +
                                       R"("
key = ")" + certs.client.key + R"("
[[bridges.topics]]
pattern = "sensors/#"
)");
    };
    gateway gw{dir, bridge(certs.untrusted_ca.cert)};
    EDGEMQ_REQUIRE_PROC(gw.process(),
                        gw.process().wait_for_stderr("TLS certificate verification failed: "));
    CHECK(sys_value(gw.port(), "$SYS/broker/bridges/up/state") == "disconnected");
    // Messages published meanwhile wait in the queue.
    mosquitto_pub(gw.port(), {"-q", "1", "-t", "sensors/a", "-m", "queued-while-refused"});

    // The operator fixes the CA and reloads: the bridge reconnects and the backlog goes up.
    auto sub = remote_subscriber(remote.port(), "sensors/#", 0);
    sub->wait();
    dir.write("edgemq.toml", bridge(certs.ca.cert));
    gw.process().signal(SIGHUP);
    EDGEMQ_REQUIRE_PROC(gw.process(), gw.process().wait_for_stderr("over TLS"));
    // The session queued it: it may arrive before the SUBACK.
    auto after = remote_subscriber(remote.port(), "sensors/#", 1, false);
    EDGEMQ_REQUIRE_PROC(*after, after->wait_for_line("disconnected received=1"));
    CHECK(payloads(after->lines()) == std::vector<std::string>{"queued-while-refused"});
    // The reason was logged once, not once per retry.
    const auto err = gw.process().err();
    const auto first = err.find("TLS certificate verification failed");
    CHECK(err.find("TLS certificate verification failed", first + 1) == std::string::npos);
}

TEST_CASE("bridge: 10,000 QoS 1 messages published during an outage all arrive, in order",
          "[integration][bridge][outage]") {
    scratch_dir dir;
    remote_broker remote{dir};
    auto gw = backlog_during_outage(dir, remote, "", 10000, 60s);
    REQUIRE(eventually(
        [&] { return sys_value(gw.port(), "$SYS/broker/bridges/up/queue/messages") == "10000"; },
        15s));

    remote.start();
    auto sub = remote_subscriber(remote.port(), "sensors/#", 10000, false);
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("disconnected received=10000", 60s));
    CHECK(payloads(sub->lines()) == numbered(0, 10000));
    REQUIRE(eventually(
        [&] { return sys_value(gw.port(), "$SYS/broker/bridges/up/queue/messages") == "0"; }, 15s));
    CHECK(sys_value(gw.port(), "$SYS/broker/bridges/up/messages/dropped") == "0");
}

TEST_CASE("bridge: kill -9 with a backlog and again in the middle of draining it loses nothing",
          "[integration][bridge][crash]") {
    scratch_dir dir;
    remote_broker remote{dir};
    // One message in flight at a time, so that draining takes long enough to be interrupted.
    auto gw = backlog_during_outage(dir, remote, "max_inflight = 1\n", 3000, 60s);
    gw.kill9(); // with all 3000 queued and none sent

    remote.start();
    gw.start();
    EDGEMQ_REQUIRE_PROC(gw.process(), gw.process().wait_for_stderr("3000 messages waiting"));
    auto sub = remote_subscriber(remote.port(), "sensors/#", 1'000'000, false);
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_until(
                                  [](const std::vector<std::string>& lines) {
                                      return payloads(lines).size() >= 100;
                                  },
                                  30s));
    gw.kill9(); // in the middle of the drain
    const auto before = payloads(sub->lines()).size();
    CHECK(before < 3000);
    gw.start();

    // Everything arrives. QoS 1 is at least once: a message in flight at the kill may come
    // twice, but the first arrivals keep the order of publication.
    const auto complete = [](const std::vector<std::string>& lines) {
        const auto p = payloads(lines);
        return std::set<std::string>(p.begin(), p.end()).size() == 3000;
    };
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_until(complete, 60s));
    std::vector<std::string> first_seen;
    std::set<std::string> seen;
    for (const auto& p : payloads(sub->lines())) {
        if (seen.insert(p).second) {
            first_seen.push_back(p);
        }
    }
    CHECK(first_seen == numbered(0, 3000));
    CHECK(payloads(sub->lines()).size() - 3000 <= 2); // at most the one in flight, resent
}

TEST_CASE("bridge: a full queue drops the oldest and counts them", "[integration][bridge]") {
    scratch_dir dir;
    remote_broker remote{dir};
    auto gw = backlog_during_outage(dir, remote, "max_messages = 100\n", 150, 30s);
    REQUIRE(eventually(
        [&] { return sys_value(gw.port(), "$SYS/broker/bridges/up/messages/dropped") == "50"; },
        15s));
    CHECK(sys_value(gw.port(), "$SYS/broker/bridges/up/queue/messages") == "100");

    remote.start();
    auto sub = remote_subscriber(remote.port(), "sensors/#", 100, false);
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("disconnected received=100", 30s));
    CHECK(payloads(sub->lines()) == numbered(50, 150));
}

TEST_CASE("bridges on the admin surface: edgemq ctl bridges list and /metrics",
          "[integration][bridge][admin]") {
    scratch_dir dir;
    // Port 1 on loopback: nothing listens, so the bridge stays disconnected with a reason.
    gateway gw{dir, R"([[listeners]]
bind = "127.0.0.1:0"

[admin]
bind = "127.0.0.1:0"
users_file = ")" + (dir.path / "admins").string() +
                        R"("

[[bridges]]
name = "up"
address = "127.0.0.1:1"
queue_file = ")" + (dir.path / "up.db").string() +
                        R"("
[[bridges.topics]]
pattern = "sensors/#"
)"};
    const std::regex admin{
        R"(password=(\S+) .*\n(?:.*\n)*.*ready: admin http on 127\.0\.0\.1:(\d+))"};
    std::smatch m;
    std::string err;
    EDGEMQ_REQUIRE_PROC(gw.process(), gw.process().wait_until_stderr([&](const std::string& e) {
        err = e;
        return std::regex_search(err, m, admin) &&
               e.find("cannot connect to 127.0.0.1:1") != std::string::npos;
    }));
    const auto url = "http://127.0.0.1:" + m[2].str();
    const auto password = m[1].str();

    const auto list = run_process({EDGEMQ_BINARY, "ctl", "--url", url, "--user", "admin",
                                   "--password", password, "bridges", "list"},
                                  std::nullopt, 10s);
    REQUIRE(list.exited_ok());
    CHECK_THAT(list.out, Catch::StartsWith("NAME  STATE         ADDRESS      QUEUED"));
    CHECK_THAT(list.out, Catch::Contains("up    disconnected  127.0.0.1:1  0") &&
                             Catch::Contains("Connection refused"));

    const auto metrics = run_process(
        {"/usr/bin/python3", "-c",
         "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())",
         url + "/metrics"},
        std::nullopt, 10s);
    REQUIRE(metrics.exited_ok());
    CHECK_THAT(metrics.out, Catch::Contains("# TYPE edgemq_bridge_connected gauge\n"
                                            "edgemq_bridge_connected{bridge=\"up\"} 0\n"));
    CHECK_THAT(metrics.out,
               Catch::Contains("edgemq_bridge_messages_dropped_total{bridge=\"up\"} 0"));
}

TEST_CASE("bridge: on the wire, CONNECT, the window resent with DUP to a session present, and a "
          "wrong acknowledgement",
          "[integration][bridge]") {
    scratch_dir dir;
    scripted_remote remote;
    gateway gw{dir, gateway_config(dir, "address = \"127.0.0.1:" + std::to_string(remote.port()) +
                                            "\"\n[[bridges.topics]]\npattern = \"sensors/#\"\n")};
    const auto connect_and_accept = [&](bool session_present) {
        remote.accept();
        const auto bytes = remote.read_bytes();
        // The CONNECT the old link wrote: level 0x84 (the bridge bit), will "offline"
        // retained at QoS 1, no clean session, keep-alive 60.
        codec::connect expected;
        expected.protocol_level = 0x84;
        expected.clean_session = false;
        expected.keep_alive = 60;
        expected.client_id = "edgemq-test-bridge";
        expected.will = codec::will_message{"$bridge/up/state", "offline", 1, true};
        codec::byte_buffer golden;
        codec::encode(expected, golden);
        CHECK(bytes == golden);
        remote.send(codec::connack{session_present, codec::connect_return_code::accepted});
    };

    connect_and_accept(false);
    const auto online = remote.read_as<codec::publish>();
    CHECK(online.topic == "$bridge/up/state");
    CHECK(online.payload == "online");
    CHECK(online.qos == 1);
    CHECK(online.retain);
    remote.send(codec::puback{online.packet_id});

    // A message that the remote receives and never acknowledges.
    mosquitto_pub(gw.port(), {"-q", "1", "-t", "sensors/a", "-m", "m1"});
    const auto first = remote.read_as<codec::publish>();
    CHECK(first.topic == "sensors/a");
    CHECK(first.payload == "m1");
    CHECK(first.qos == 1);
    CHECK_FALSE(first.dup);
    remote.drop();
    EDGEMQ_REQUIRE_PROC(gw.process(), gw.process().wait_for_stderr("lost the connection"));

    // Session present: the same PUBLISH again, same id, DUP set, before anything else.
    connect_and_accept(true);
    const auto again = remote.read_as<codec::publish>();
    CHECK(again.payload == "m1");
    CHECK(again.packet_id == first.packet_id);
    CHECK(again.dup);
    CHECK(remote.read_as<codec::publish>().payload == "online");

    // A PUBREC for a QoS 1 message is a protocol error: the bridge drops the link.
    remote.send(codec::pubrec{again.packet_id});
    EDGEMQ_REQUIRE_PROC(gw.process(),
                        gw.process().wait_for_stderr("unexpected packet from the remote"));

    // The message is still in flight, and a PUBACK finally takes it out of the queue.
    connect_and_accept(true);
    const auto third = remote.read_as<codec::publish>();
    CHECK(third.payload == "m1");
    CHECK(third.dup);
    remote.send(codec::puback{third.packet_id});
    CHECK(eventually(
        [&] { return sys_value(gw.port(), "$SYS/broker/bridges/up/messages/acked") == "1"; }, 10s));
    CHECK(sys_value(gw.port(), "$SYS/broker/bridges/up/queue/messages") == "0");
}

TEST_CASE("bridge: a remote that refuses the bridge bit is connected to again without it, once",
          "[integration][bridge]") {
    scratch_dir dir;
    scripted_remote remote;
    gateway gw{dir, gateway_config(dir, "address = \"127.0.0.1:" + std::to_string(remote.port()) +
                                            "\"\n[[bridges.topics]]\npattern = \"sensors/#\"\n")};
    remote.accept();
    auto connect = remote.read_bytes();
    REQUIRE(connect.size() > 8);
    CHECK(connect[8] == 0x84); // the protocol level byte of the first CONNECT: the bridge bit
    remote.send(codec::connack{false, codec::connect_return_code::unacceptable_protocol_version});

    remote.accept();
    connect = remote.read_bytes();
    REQUIRE(connect.size() > 8);
    CHECK(connect[8] == 0x04); // plain 3.1.1, at once
    remote.send(codec::connack{false, codec::connect_return_code::accepted});
    EDGEMQ_REQUIRE_PROC(gw.process(), gw.process().wait_for_stderr("bridge up: connected to"));
    const auto err = gw.process().err();
    CHECK(err.find("refused the bridge bit (protocol level 0x84); connecting without it") !=
          std::string::npos);
}

TEST_CASE("bridge: MQTT 5.0 to mosquitto: both directions, No Local instead of the bridge bit, "
          "user properties carried both ways",
          "[integration][bridge]") {
    scratch_dir dir;
    remote_broker remote{dir};
    gateway gw{dir, gateway_config(dir, R"(address = "127.0.0.1:)" + std::to_string(remote.port()) +
                                            R"("
protocol_version = 5
session_expiry_interval = 600
[[bridges.topics]]
pattern = "shared/#"
direction = "both"
)")};
    EDGEMQ_REQUIRE_PROC(gw.process(), gw.process().wait_for_stderr("bridge up: connected to"));
    // mosquitto's log shows the CONNECT: MQTT v5, no clean start, keep-alive 60.
    EDGEMQ_REQUIRE_PROC(remote.process(), remote.process().wait_for_stderr(
                                              "as edgemq-test-bridge (p5, c0, k60"));

    const std::vector<std::string> v5_format{"-V", "mqttv5", "-F", "%t %p %P"};
    auto up_args = std::vector<std::string>{"-t", "shared/#"};
    up_args.insert(up_args.end(), v5_format.begin(), v5_format.end());
    auto up = start_mosquitto_sub(remote.port(), up_args);
    auto down = start_mosquitto_sub(gw.port(), up_args);

    mosquitto_pub(remote.port(), {"-V", "mqttv5", "-q", "1", "-t", "shared/x", "-m", "from-remote",
                                  "-D", "publish", "user-property", "origin", "cloud"});
    REQUIRE(edgemq::test::wait_for_messages(*down, 1));
    CHECK(messages(*down).back() == "shared/x from-remote origin:cloud");
    mosquitto_pub(gw.port(), {"-V", "mqttv5", "-q", "1", "-t", "shared/y", "-m", "from-local",
                              "-D", "publish", "user-property", "origin", "site"});
    REQUIRE(edgemq::test::wait_for_messages(*up, 2));
    std::this_thread::sleep_for(300ms); // room for a (wrong) echo to show up
    const auto seen_up = messages(*up);
    CHECK(std::count(seen_up.begin(), seen_up.end(), "shared/x from-remote origin:cloud") == 1);
    CHECK(std::count(seen_up.begin(), seen_up.end(), "shared/y from-local origin:site") == 1);
    const auto seen_down = messages(*down);
    CHECK(std::count(seen_down.begin(), seen_down.end(), "shared/y from-local origin:site") == 1);
    CHECK(std::count(seen_down.begin(), seen_down.end(), "shared/x from-remote origin:cloud") == 1);
}

TEST_CASE("bridge: edgemq to edgemq (tiered gateways), 3.1.1 with the bridge bit and 5.0",
          "[integration][bridge]") {
    const int version = GENERATE(4, 5);
    INFO("protocol_version = " << version);
    scratch_dir remote_dir;
    gateway area{remote_dir, "[[listeners]]\nbind = \"127.0.0.1:0\"\n\n[admin]\nenabled = false\n"};
    scratch_dir dir;
    gateway site{dir, gateway_config(dir, "address = \"127.0.0.1:" + std::to_string(area.port()) +
                                              "\"\nprotocol_version = " + std::to_string(version) +
                                              R"(
[[bridges.topics]]
pattern = "sensors/#"
remote_prefix = "site-7/"
[[bridges.topics]]
pattern = "shared/#"
direction = "both"
)")};
    EDGEMQ_REQUIRE_PROC(site.process(), site.process().wait_for_stderr("bridge up: connected to"));
    CHECK(site.process().err().find("refused the bridge bit") == std::string::npos);

    auto up = start_mosquitto_sub(area.port(), {"-t", "site-7/#", "-t", "shared/#", "-T",
                                                "site-7/$bridge/#", "-T", "$bridge/#", "-v"});
    auto down = start_mosquitto_sub(site.port(), {"-t", "shared/#", "-v"});
    mosquitto_pub(site.port(), {"-q", "1", "-t", "sensors/a", "-m", "21.5"});
    REQUIRE(edgemq::test::wait_for_messages(*up, 1));
    CHECK(messages(*up).back() == "site-7/sensors/a 21.5");

    mosquitto_pub(area.port(), {"-q", "1", "-t", "shared/x", "-m", "from-area"});
    REQUIRE(edgemq::test::wait_for_messages(*down, 1));
    mosquitto_pub(site.port(), {"-q", "1", "-t", "shared/y", "-m", "from-site"});
    REQUIRE(edgemq::test::wait_for_messages(*up, 3));
    std::this_thread::sleep_for(300ms); // room for a (wrong) echo to show up
    const auto seen_up = messages(*up);
    CHECK(std::count(seen_up.begin(), seen_up.end(), "shared/x from-area") == 1);
    CHECK(std::count(seen_up.begin(), seen_up.end(), "shared/y from-site") == 1);
    const auto seen_down = messages(*down);
    CHECK(std::count(seen_down.begin(), seen_down.end(), "shared/x from-area") == 1);
    CHECK(std::count(seen_down.begin(), seen_down.end(), "shared/y from-site") == 1);
}

TEST_CASE("bridge: MQTT 5.0, the remote's Reason String is in the log when it disconnects the "
          "bridge",
          "[integration][bridge]") {
    scratch_dir remote_dir;
    gateway area{remote_dir, "[[listeners]]\nbind = \"127.0.0.1:0\"\n\n[admin]\nenabled = false\n"};
    scratch_dir dir;
    gateway site{dir, gateway_config(dir, "address = \"127.0.0.1:" + std::to_string(area.port()) +
                                              "\"\nprotocol_version = 5\n"
                                              "[[bridges.topics]]\npattern = \"sensors/#\"\n")};
    EDGEMQ_REQUIRE_PROC(site.process(), site.process().wait_for_stderr("bridge up: connected to"));
    // A client with the bridge's id takes its session over on the remote.
    run_process({"mosquitto_sub", "-V", "5", "-h", "127.0.0.1", "-p", std::to_string(area.port()),
                 "-i", "edgemq-test-bridge", "-t", "x", "-W", "1"},
                std::nullopt, 5s);
    EDGEMQ_REQUIRE_PROC(site.process(),
                        site.process().wait_for_stderr(
                            "the remote disconnected: 0x8e, Session taken over (the remote says "
                            "\"session taken over by a new connection\")"));
}
