// SPDX-License-Identifier: Apache-2.0
// Secure listeners and access control against the clients the tutorials use: paho-mqtt's
// tls_set() and websockets transport (python/secure_client.py), mosquitto_pub / mosquitto_sub
// with --cafile / --cert / --key, openssl s_client, password files made by `edgemq passwd` and
// by Debian's mosquitto_passwd, Mosquitto-syntax ACL files, and the real binary for SIGHUP and
// the safe-default refusal. Certificates are generated at run time (support/certs.hpp), once
// per test process.
//
// A message that must not arrive is always published before one that must, by the same
// client or in a later step, and the receiver's complete output is compared: a leaked message
// would show up in it instead of being waited out with a sleep.

#include "certs.hpp"
#include "real_clients.hpp"
#include "test_broker.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using edgemq::test::background_process;
using edgemq::test::cert_set;
using edgemq::test::key_pair;
using edgemq::test::messages;
using edgemq::test::mosquitto_pub;
using edgemq::test::paho_script;
using edgemq::test::process_result;
using edgemq::test::run_process;
using edgemq::test::start_mosquitto_sub;
using edgemq::test::test_broker;
using edgemq::test::test_certs;
using namespace std::chrono_literals;
using lines = std::vector<std::string>;
using args = std::vector<std::string>;

/// A fresh temporary directory for one test's password, ACL and config files.
class scratch_dir {
public:
    scratch_dir() {
        std::string templ = (std::filesystem::temp_directory_path() / "edgemq-sec-XXXXXX").string();
        if (::mkdtemp(templ.data()) == nullptr) {
            throw std::runtime_error("mkdtemp " + templ + " failed");
        }
        dir_ = templ;
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
    ~scratch_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }

    /// Writes `text` to the file `name` in the directory and returns its path.
    std::string write(const std::string& name, const std::string& text) const {
        const auto p = path(name);
        std::ofstream{p} << text;
        return p;
    }
    std::string path(const std::string& name) const { return (dir_ / name).string(); }

private:
    std::filesystem::path dir_;
};

/// A TOML basic string; the paths used here hold no quote or backslash.
std::string quoted(const std::string& s) {
    return '"' + s + '"';
}

/// One [[listeners]] table; test_broker binds it to 127.0.0.1:0 whatever `bind` says.
std::string listener(const std::string& type, const std::string& settings = "") {
    return "[[listeners]]\ntype = " + quoted(type) + "\nbind = \"127.0.0.1:0\"\n" + settings;
}

/// The server certificate settings of a "tls" or "wss" listener.
std::string server_cert(const cert_set& c) {
    return "cert = " + quoted(c.server.cert) + "\nkey = " + quoted(c.server.key) + "\n";
}

/// Mutual TLS: client certificates must chain to the test CA.
std::string client_cert_required(const cert_set& c) {
    return server_cert(c) + "ca = " + quoted(c.ca.cert) + "\nrequire_client_certificate = true\n";
}

/// The port of the `nth` listener of type `type`, in configuration order.
std::uint16_t port_of(test_broker& b, const std::string& type, int nth = 0) {
    for (const auto& l : b.get().listeners()) {
        if (edgemq::broker::to_string(l.type) == type && nth-- == 0) {
            return l.port;
        }
    }
    throw std::logic_error("no listener " + type);
}

args operator+(args a, const args& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

/// paho's tls_set(ca_certs=CA) and, with `client`, certfile= and keyfile=.
args paho_tls(const cert_set& c, const key_pair* client = nullptr) {
    args a{"--cafile", c.ca.cert};
    if (client != nullptr) {
        a = a + args{"--cert", client->cert, "--key", client->key};
    }
    return a;
}

/// mosquitto_pub / mosquitto_sub --cafile CA and, with `client`, --cert and --key.
args mosquitto_tls(const cert_set& c, const key_pair* client = nullptr) {
    args a{"--cafile", c.ca.cert};
    if (client != nullptr) {
        a = a + args{"--cert", client->cert, "--key", client->key};
    }
    return a;
}

/// Starts python/secure_client.py against 127.0.0.1:port.
std::unique_ptr<background_process> start_paho(std::uint16_t port, args a) {
    return std::make_unique<background_process>(
        paho_script("secure_client.py", port, std::move(a)));
}

/// Runs python/secure_client.py to completion and returns the lines it printed.
lines run_paho(std::uint16_t port, args a) {
    background_process p{paho_script("secure_client.py", port, std::move(a))};
    const auto r = p.wait(20s);
    EDGEMQ_REQUIRE_PROC(p, r.exited_ok());
    return p.lines();
}

/// Waits for a started secure_client.py to finish successfully and returns its lines.
lines finish(background_process& p) {
    EDGEMQ_REQUIRE_PROC(p, p.wait(20s).exited_ok());
    return p.lines();
}

/// Runs mosquitto_pub -h 127.0.0.1 -p PORT ARGS... to completion, whatever its exit status.
process_result try_mosquitto_pub(std::uint16_t port, args a) {
    return run_process(
        args{"mosquitto_pub", "-h", edgemq::test::loopback, "-p", std::to_string(port)} + a);
}

/// The line for a message of secure_client.py's --pub-bytes pattern, as the publisher printed
/// it ("published TOPIC len=N sha256=HEX") and as a subscriber must print it.
std::string published_line(const lines& out, const std::string& topic) {
    for (const auto& l : out) {
        if (l.rfind("published " + topic + " ", 0) == 0) {
            return l;
        }
    }
    return {};
}

} // namespace

// ---------------------------------------------------------------------------------------------
// TLS

TEST_CASE("paho tls_set(ca_certs=, certfile=, keyfile=) publishes and subscribes over TLS",
          "[integration][tls]") {
    const auto& c = test_certs();
    auto b = test_broker::from_toml(listener("tls", server_cert(c)) +
                                    listener("tls", client_cert_required(c)));

    struct variant {
        const char* name;
        std::uint16_t port;
        args tls;
    };
    for (const auto& v :
         {variant{"ca_certs only", port_of(*b, "tls", 0), paho_tls(c)},
          variant{"with a client certificate", port_of(*b, "tls", 1), paho_tls(c, &c.client)}}) {
        INFO(v.name);
        auto sub = start_paho(v.port, v.tls + args{"--sub", "sensors/#", "--expect", "2"});
        EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("subscribed granted=1"));

        CHECK(run_paho(v.port, v.tls + args{"--pub", "sensors/temp", "21.5", "--pub", "sensors/hum",
                                            "40"}) ==
              lines{"connected rc=0", "published sensors/temp 21.5", "published sensors/hum 40",
                    "disconnected received=0"});
        CHECK(finish(*sub) == lines{"connected rc=0", "subscribed granted=1",
                                    "message sensors/temp qos=1 21.5",
                                    "message sensors/hum qos=1 40", "disconnected received=2"});
    }
}

TEST_CASE("mosquitto_pub / mosquitto_sub with --cafile, and with --cert --key for mutual TLS",
          "[integration][tls]") {
    const auto& c = test_certs();
    auto b = test_broker::from_toml(listener("tls", server_cert(c)) +
                                    listener("tls", client_cert_required(c)));

    SECTION("--cafile") {
        const auto port = port_of(*b, "tls", 0);
        auto sub = start_mosquitto_sub(port, mosquitto_tls(c) +
                                                 args{"-q", "1", "-t", "site/#", "-v", "-C", "2"});
        mosquitto_pub(port, mosquitto_tls(c) + args{"-q", "1", "-t", "site/a", "-m", "one"});
        mosquitto_pub(port, mosquitto_tls(c) + args{"-q", "1", "-t", "site/b", "-m", "two"});
        EDGEMQ_REQUIRE_PROC(*sub, sub->wait(10s).exited_ok());
        CHECK(messages(*sub) == lines{"site/a one", "site/b two"});
    }
    SECTION("--cert --key against require_client_certificate = true") {
        const auto port = port_of(*b, "tls", 1);
        const auto tls = mosquitto_tls(c, &c.client);
        auto sub =
            start_mosquitto_sub(port, tls + args{"-q", "1", "-t", "site/#", "-v", "-C", "1"});
        mosquitto_pub(port, tls + args{"-q", "1", "-t", "site/m", "-m", "mutual"});
        EDGEMQ_REQUIRE_PROC(*sub, sub->wait(10s).exited_ok());
        CHECK(messages(*sub) == lines{"site/m mutual"});
    }
}

TEST_CASE("require_client_certificate refuses a certificate from another CA, and none at all",
          "[integration][tls]") {
    const auto& c = test_certs();
    auto b = test_broker::from_toml(listener("tls", client_cert_required(c)) + listener("tcp"));
    const auto tls = port_of(*b, "tls");
    const auto tcp = port_of(*b, "tcp");
    // Everything published on the broker reaches this subscriber on the plain listener.
    auto seen = start_mosquitto_sub(tcp, {"-q", "1", "-t", "#", "-v", "-C", "1"});

    // The untrusted certificate has the trusted one's CN: only its chain is wrong.
    const auto untrusted = try_mosquitto_pub(
        tls, mosquitto_tls(c, &c.untrusted) + args{"-q", "1", "-t", "leak/untrusted", "-m", "x"});
    INFO(untrusted.out << untrusted.err);
    CHECK_FALSE(untrusted.timed_out);
    CHECK(untrusted.exit_code != 0);
    const auto none =
        try_mosquitto_pub(tls, mosquitto_tls(c) + args{"-q", "1", "-t", "leak/none", "-m", "x"});
    INFO(none.out << none.err);
    CHECK_FALSE(none.timed_out);
    CHECK(none.exit_code != 0);

    // paho: the handshake or the first read fails; there is never a CONNACK.
    for (const auto* client : {&c.untrusted, static_cast<const key_pair*>(nullptr)}) {
        const auto out = run_paho(tls, paho_tls(c, client) + args{"--pub", "leak/paho", "x"});
        INFO((client != nullptr ? "untrusted certificate" : "no certificate"));
        REQUIRE(out.size() == 1);
        CHECK((out[0] == "connection lost before CONNACK" ||
               out[0].rfind("connect failed: ", 0) == 0));
    }

    // openssl s_client names the reason in the alert the broker sends; -ign_eof keeps it
    // reading after its empty stdin ends, until the broker closes the connection.
    const auto s_client = [&](const key_pair* client) {
        args a{"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(tls),
               "-CAfile", c.ca.cert,  "-ign_eof"};
        if (client != nullptr) {
            a = a + args{"-cert", client->cert, "-key", client->key};
        }
        return run_process(a, std::string{}, 10s);
    };
    const auto alert_untrusted = s_client(&c.untrusted);
    CHECK(alert_untrusted.err.find("alert unknown ca") != std::string::npos);
    const auto alert_none = s_client(nullptr);
    CHECK(alert_none.err.find("alert certificate required") != std::string::npos);

    // The trusted certificate gets in, and its message is the first the subscriber sees.
    mosquitto_pub(tls,
                  mosquitto_tls(c, &c.client) + args{"-q", "1", "-t", "ok/trusted", "-m", "in"});
    EDGEMQ_REQUIRE_PROC(*seen, seen->wait(10s).exited_ok());
    CHECK(messages(*seen) == lines{"ok/trusted in"});
}

TEST_CASE("openssl s_client: TLS 1.1 is refused, TLS 1.3 is negotiated", "[integration][tls]") {
    const auto& c = test_certs();
    auto b = test_broker::from_toml(listener("tls", server_cert(c)));
    const auto connect = "127.0.0.1:" + std::to_string(b->port());

    // SECLEVEL=0 lets this client offer TLS 1.1 (OpenSSL 3 refuses it at the default level on
    // its own), so the refusal below is the broker's.
    const auto old = run_process({"openssl", "s_client", "-connect", connect, "-tls1_1", "-cipher",
                                  "DEFAULT:@SECLEVEL=0", "-CAfile", c.ca.cert},
                                 std::string{}, 10s);
    INFO("--- -tls1_1 ---\n" << old.out << old.err);
    CHECK_FALSE(old.timed_out);
    CHECK(old.exit_code != 0);
    // The broker's own refusal (a TLS 1.2 minimum); a default OpenSSL 3 server would answer
    // "internal error" here, one that allowed TLS 1.1 would finish the handshake.
    CHECK(old.err.find("alert protocol version") != std::string::npos);
    CHECK(old.out.find("New, (NONE), Cipher is (NONE)") != std::string::npos);

    const auto tls13 = run_process({"openssl", "s_client", "-connect", connect, "-tls1_3",
                                    "-CAfile", c.ca.cert, "-verify_return_error"},
                                   std::string{}, 10s);
    INFO("--- -tls1_3 ---\n" << tls13.out << tls13.err);
    CHECK(tls13.exit_code == 0);
    CHECK(tls13.out.find("New, TLSv1.3, Cipher is ") != std::string::npos);
    // No "Protocol  : TLSv1.3" check: s_client prints its SSL-Session block only once the
    // server's session ticket arrived, which races with its exit on the closed stdin.
    CHECK(tls13.out.find("Verify return code: 0 (ok)") != std::string::npos);
}

TEST_CASE("use_identity_as_username: the certificate's CN gets its ACL",
          "[integration][tls][acl]") {
    const auto& c = test_certs();
    const scratch_dir dir;
    const auto acl = dir.write("acl", "user sensor-1\n"
                                      "topic write sensors/#\n"
                                      "topic read cmd/sensor-1/#\n");
    auto b = test_broker::from_toml(listener("tls", client_cert_required(c) +
                                                        "use_identity_as_username = true\n" +
                                                        "acl_file = " + quoted(acl) + "\n") +
                                    listener("tcp"));
    const auto tls = port_of(*b, "tls");
    const auto tcp = port_of(*b, "tcp");
    auto seen = start_mosquitto_sub(tcp, {"-q", "1", "-t", "#", "-v", "-C", "2"});

    // The denied publish goes first: had it been delivered, it would arrive before the others.
    auto sensor =
        start_paho(tls, paho_tls(c, &c.client) + args{"--sub", "other/#", "--sub", "cmd/sensor-1/#",
                                                      "--pub", "other/x", "denied", "--pub",
                                                      "sensors/x", "21.5", "--expect", "1"});
    EDGEMQ_REQUIRE_PROC(*sensor, sensor->wait_for_line("published sensors/x"));
    mosquitto_pub(tcp, {"-q", "1", "-t", "cmd/sensor-1/reboot", "-m", "now"});

    CHECK(finish(*sensor) == lines{"connected rc=0", "subscribed granted=128,1",
                                   "published other/x denied", "published sensors/x 21.5",
                                   "message cmd/sensor-1/reboot qos=1 now",
                                   "disconnected received=1"});
    EDGEMQ_REQUIRE_PROC(*seen, seen->wait(10s).exited_ok());
    CHECK(messages(*seen) == lines{"sensors/x 21.5", "cmd/sensor-1/reboot now"});
    CHECK(b->get().stats().messages_denied == 1);

    // mosquitto_sub says so when its only subscription is refused.
    auto refused =
        start_mosquitto_sub(tls, mosquitto_tls(c, &c.client) + args{"-t", "other/#"}, false);
    const auto r = refused->wait(10s);
    INFO(refused->describe());
    CHECK_FALSE(r.timed_out);
    CHECK(r.err.find("All subscription requests were denied.") != std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// WebSocket

TEST_CASE("paho websockets transport over ws and wss, 1 MB payloads both ways",
          "[integration][ws]") {
    const auto& c = test_certs();
    auto b = test_broker::from_toml(listener("ws") + listener("wss", server_cert(c)));
    const auto type = GENERATE(as<std::string>{}, "ws", "wss");
    INFO(type);
    const auto port = port_of(*b, type);
    args ws{"--transport", "websockets"};
    if (type == "wss") {
        ws = ws + paho_tls(c);
    }
    constexpr std::size_t mb = 1024 * 1024;

    auto sub = start_paho(port, ws + args{"--sub", "big/#", "--expect", "2"});
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("subscribed granted=1"));
    const auto pub = run_paho(port, ws + args{"--pub", "big/small", "hello", "--pub-bytes",
                                              "big/blob", std::to_string(mb)});
    const auto sent = published_line(pub, "big/blob");
    REQUIRE(sent.rfind("published big/blob len=1048576 sha256=", 0) == 0);
    CHECK(pub ==
          lines{"connected rc=0", "published big/small hello", sent, "disconnected received=0"});
    // "published big/blob len=... sha256=..." -> "message big/blob qos=1 len=... sha256=..."
    const auto arrived = "message big/blob qos=1 " + sent.substr(sent.find("len="));
    CHECK(finish(*sub) == lines{"connected rc=0", "subscribed granted=1",
                                "message big/small qos=1 hello", arrived,
                                "disconnected received=2"});
}

TEST_CASE("a WebSocket client on another path than the listener's is refused",
          "[integration][ws]") {
    auto b = test_broker::from_toml(listener("ws", "path = \"/mqtt\"\n"));
    CHECK(run_paho(b->port(), {"--transport", "websockets", "--path", "/other", "--pub", "a",
                               "b"}) == lines{"connect failed: WebsocketConnectionError"});
    // The same client on /mqtt is served.
    CHECK(
        run_paho(b->port(), {"--transport", "websockets", "--path", "/mqtt", "--pub", "a", "b"}) ==
        lines{"connected rc=0", "published a b", "disconnected received=0"});
}

// ---------------------------------------------------------------------------------------------
// Password files

TEST_CASE("password files from edgemq passwd and mosquitto_passwd, CONNACK 4 and 5",
          "[integration][auth]") {
    const scratch_dir dir;
    const auto ours = dir.path("edgemq.passwd");
    const auto theirs = dir.path("mosquitto.passwd");
    const auto made_ours =
        run_process({EDGEMQ_BINARY, "passwd", "-c", "-b", ours, "alice", "alice-pw"});
    INFO(made_ours.out << made_ours.err);
    REQUIRE(made_ours.exited_ok());
    const auto made_theirs = run_process({"mosquitto_passwd", "-c", "-b", theirs, "bob", "bob-pw"});
    INFO(made_theirs.out << made_theirs.err);
    REQUIRE(made_theirs.exited_ok());

    auto b = test_broker::from_toml(listener("tcp", "password_file = " + quoted(ours) + "\n") +
                                    listener("tcp", "password_file = " + quoted(theirs) + "\n"));
    const auto p_ours = port_of(*b, "tcp", 0);
    const auto p_theirs = port_of(*b, "tcp", 1);
    const lines accepted{"connected rc=0", "published auth/t ok", "disconnected received=0"};
    const args pub{"--pub", "auth/t", "ok"};

    // All at once: each is a separate Python process.
    struct attempt {
        const char* what;
        std::uint16_t port;
        args login;
        lines expected;
    };
    const std::vector<attempt> attempts{
        {"edgemq passwd file, right password",
         p_ours,
         {"--username", "alice", "--password", "alice-pw"},
         accepted},
        {"mosquitto_passwd file, right password",
         p_theirs,
         {"--username", "bob", "--password", "bob-pw"},
         accepted},
        {"edgemq passwd file, wrong password",
         p_ours,
         {"--username", "alice", "--password", "bob-pw"},
         {"connected rc=4"}},
        {"mosquitto_passwd file, wrong password",
         p_theirs,
         {"--username", "bob", "--password", "alice-pw"},
         {"connected rc=4"}},
        {"unknown user",
         p_theirs,
         {"--username", "alice", "--password", "alice-pw"},
         {"connected rc=4"}},
        {"no password", p_ours, {"--username", "alice"}, {"connected rc=4"}},
        {"no user name, edgemq passwd file", p_ours, {}, {"connected rc=5"}},
        {"no user name, mosquitto_passwd file", p_theirs, {}, {"connected rc=5"}},
    };
    std::vector<std::unique_ptr<background_process>> running;
    for (const auto& a : attempts) {
        running.push_back(start_paho(a.port, a.login + pub));
    }
    for (std::size_t i = 0; i < attempts.size(); ++i) {
        INFO(attempts[i].what);
        CHECK(finish(*running[i]) == attempts[i].expected);
    }

    // mosquitto_pub's own words for the two refusals.
    const auto wrong =
        try_mosquitto_pub(p_theirs, {"-u", "bob", "-P", "nope", "-t", "a", "-m", "b"});
    INFO(wrong.out << wrong.err);
    CHECK(wrong.exit_code != 0);
    CHECK((wrong.out + wrong.err).find("bad user name or password") != std::string::npos);
    const auto anonymous = try_mosquitto_pub(p_ours, {"-t", "a", "-m", "b"});
    INFO(anonymous.out << anonymous.err);
    CHECK(anonymous.exit_code != 0);
    CHECK((anonymous.out + anonymous.err).find("not authorised") != std::string::npos);
    mosquitto_pub(p_theirs, {"-u", "bob", "-P", "bob-pw", "-t", "a", "-m", "b"});
}

// ---------------------------------------------------------------------------------------------
// ACLs

TEST_CASE("ACL read, write, readwrite, deny, and patterns with %u and %c", "[integration][acl]") {
    const scratch_dir dir;
    const auto acl = dir.write("acl", R"(# Anonymous clients: no topic rules of their own.

user reader
topic read plant/#

user writer
topic write plant/#

user both
topic readwrite plant/#
topic deny plant/secret

pattern readwrite users/%u/#
pattern write devices/%c/status
pattern read devices/%c/cmd
)");
    // The ACL listener, and a plain one where `seen` watches everything that gets through.
    auto b = test_broker::from_toml(listener("tcp", "acl_file = " + quoted(acl) + "\n") +
                                    listener("tcp"));
    const auto guarded = port_of(*b, "tcp", 0);
    const auto open = port_of(*b, "tcp", 1);
    auto seen = start_mosquitto_sub(open, {"-q", "1", "-t", "#", "-v", "-C", "9"});

    // read: may subscribe and receive, may not publish.
    auto reader = start_paho(guarded, {"--username", "reader", "--sub", "plant/#", "--pub",
                                       "plant/from-reader", "denied", "--expect", "4"});
    EDGEMQ_REQUIRE_PROC(*reader, reader->wait_for_line("published plant/from-reader"));
    // readwrite with a deny rule under it: the subscription stays, plant/secret is withheld.
    auto both_sub =
        start_paho(guarded, {"--username", "both", "--sub", "plant/#", "--expect", "3"});
    EDGEMQ_REQUIRE_PROC(*both_sub, both_sub->wait_for_line("subscribed granted=1"));

    // write: may publish, may not subscribe.
    CHECK(run_paho(guarded, {"--username", "writer", "--sub", "plant/#", "--pub",
                             "plant/from-writer", "w"}) ==
          lines{"connected rc=0", "subscribed granted=128", "published plant/from-writer w",
                "disconnected received=0"});
    mosquitto_pub(open, {"-q", "1", "-t", "plant/secret", "-m", "classified"});
    mosquitto_pub(open, {"-q", "1", "-t", "plant/open", "-m", "o"});
    CHECK(run_paho(guarded, {"--username", "both", "--pub", "plant/secret", "denied", "--pub",
                             "plant/from-both", "b"}) ==
          lines{"connected rc=0", "published plant/secret denied", "published plant/from-both b",
                "disconnected received=0"});

    CHECK(finish(*reader) ==
          lines{"connected rc=0", "subscribed granted=1", "published plant/from-reader denied",
                "message plant/from-writer qos=1 w", "message plant/secret qos=1 classified",
                "message plant/open qos=1 o", "message plant/from-both qos=1 b",
                "disconnected received=4"});
    CHECK(finish(*both_sub) == lines{"connected rc=0", "subscribed granted=1",
                                     "message plant/from-writer qos=1 w",
                                     "message plant/open qos=1 o",
                                     "message plant/from-both qos=1 b", "disconnected received=3"});

    // %u: alice owns users/alice/#, not users/bob/#.
    auto alice = start_paho(guarded, {"--username", "alice", "--sub", "users/alice/in", "--sub",
                                      "users/bob/#", "--pub", "users/bob/x", "forged", "--pub",
                                      "users/alice/out", "mine", "--expect", "1"});
    EDGEMQ_REQUIRE_PROC(*alice, alice->wait_for_line("published users/alice/out"));
    mosquitto_pub(open, {"-q", "1", "-t", "users/alice/in", "-m", "for alice"});
    CHECK(finish(*alice) == lines{"connected rc=0", "subscribed granted=1,128",
                                  "published users/bob/x forged", "published users/alice/out mine",
                                  "message users/alice/in qos=1 for alice",
                                  "disconnected received=1"});

    // %c, for a client without a user name: dev42 writes its status and reads its commands.
    auto dev = start_paho(guarded, {"--id", "dev42", "--sub", "devices/dev42/cmd", "--sub",
                                    "devices/dev42/status", "--sub", "devices/dev43/cmd", "--pub",
                                    "devices/dev43/status", "forged", "--pub",
                                    "devices/dev42/status", "online", "--expect", "1"});
    EDGEMQ_REQUIRE_PROC(*dev, dev->wait_for_line("published devices/dev42/status"));
    mosquitto_pub(open, {"-q", "1", "-t", "devices/dev43/cmd", "-m", "not yours"});
    mosquitto_pub(open, {"-q", "1", "-t", "devices/dev42/cmd", "-m", "reboot"});
    CHECK(finish(*dev) ==
          lines{"connected rc=0", "subscribed granted=1,128,128",
                "published devices/dev43/status forged", "published devices/dev42/status online",
                "message devices/dev42/cmd qos=1 reboot", "disconnected received=1"});

    EDGEMQ_REQUIRE_PROC(*seen, seen->wait(10s).exited_ok());
    CHECK(messages(*seen) == lines{"plant/from-writer w", "plant/secret classified", "plant/open o",
                                   "plant/from-both b", "users/alice/out mine",
                                   "users/alice/in for alice", "devices/dev42/status online",
                                   "devices/dev43/cmd not yours", "devices/dev42/cmd reboot"});
    // plant/from-reader, plant/secret from both, users/bob/x, devices/dev43/status.
    CHECK(b->get().stats().messages_denied == 4);
}

TEST_CASE("$SYS is readable only where the ACL grants it, denied publishes are counted there",
          "[integration][acl]") {
    const scratch_dir dir;
    const auto acl = dir.write("acl", "user monitor\n"
                                      "topic read $SYS/#\n"
                                      "\n"
                                      "user alice\n"
                                      "topic readwrite #\n");
    auto b = test_broker::from_toml("[broker]\nsys_interval = 1\n" +
                                    listener("tcp", "acl_file = " + quoted(acl) + "\n"));
    const auto port = b->port();

    // '#' in a rule does not reach $SYS [MQTT-4.7.2-1]: alice's subscriptions there are refused.
    CHECK(run_paho(port, {"--username", "alice", "--sub", "$SYS/#", "--sub",
                          "$SYS/broker/publish/messages/denied", "--sub", "alice/#"}) ==
          lines{"connected rc=0", "subscribed granted=128,128,1", "disconnected received=0"});

    // The monitor has no write rule: its two publishes are denied, then it watches the count.
    CHECK(run_paho(port, {"--username", "monitor", "--pub", "sensors/a", "x", "--pub", "sensors/b",
                          "y"}) == lines{"connected rc=0", "published sensors/a x",
                                         "published sensors/b y", "disconnected received=0"});
    CHECK(b->get().stats().messages_denied == 2);
    auto monitor = start_mosquitto_sub(
        port, {"-u", "monitor", "-t", "$SYS/broker/publish/messages/denied", "-v"});
    EDGEMQ_REQUIRE_PROC(*monitor,
                        monitor->wait_for_line("$SYS/broker/publish/messages/denied 2", 5s));
    // Before it reads 2 it may show an older count (the retained value of an earlier tick),
    // never anything else.
    for (const auto& m : messages(*monitor)) {
        CHECK(std::regex_match(m, std::regex{R"(\$SYS/broker/publish/messages/denied [012])"}));
    }

    auto anonymous = start_mosquitto_sub(port, {"-t", "$SYS/#"}, false);
    const auto r = anonymous->wait(10s);
    INFO(anonymous->describe());
    CHECK_FALSE(r.timed_out);
    CHECK(r.err.find("All subscription requests were denied.") != std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// The real binary: SIGHUP and the safe default

TEST_CASE("edgemq on SIGHUP: a user added with edgemq passwd -b can connect, and an open TLS "
          "connection stays up",
          "[integration][auth][tls]") {
    const auto& c = test_certs();
    const scratch_dir dir;
    const auto passwd = dir.path("passwd");
    REQUIRE(run_process({EDGEMQ_BINARY, "passwd", "-c", "-b", passwd, "alice", "alice-pw"})
                .exited_ok());
    const auto config =
        // No admin server: 18083 may be taken by a test running beside this one.
        dir.write("edgemq.toml", "[broker]\nsys_interval = 0\n\n[log]\nlevel = \"info\"\n\n"
                                 "[admin]\nenabled = false\n\n" +
                                     listener("tcp", "password_file = " + quoted(passwd) + "\n") +
                                     "\n" + listener("tls", server_cert(c)));
    background_process gateway{{EDGEMQ_BINARY, "--config", config}};

    // The kernel chose the ports; the binary says which once it accepts connections.
    const auto ready_port = [&](const std::string& type) {
        const std::regex ready{"ready: mqtt " + type + R"( on 127\.0\.0\.1:(\d+)\n)"};
        std::smatch m;
        std::string err;
        EDGEMQ_REQUIRE_PROC(gateway, gateway.wait_until_stderr([&](const std::string& e) {
            err = e;
            return std::regex_search(err, m, ready);
        }));
        return static_cast<std::uint16_t>(std::stoi(m[1].str()));
    };
    const auto tcp = ready_port("tcp");
    const auto tls = ready_port("tls");

    auto sub = start_mosquitto_sub(tls, mosquitto_tls(c) +
                                            args{"-q", "1", "-t", "hup/#", "-v", "-C", "1"});
    const auto before =
        try_mosquitto_pub(tcp, {"-u", "carol", "-P", "carol-pw", "-t", "hup/x", "-m", "before"});
    INFO(before.out << before.err);
    CHECK(before.exit_code != 0);
    CHECK((before.out + before.err).find("bad user name or password") != std::string::npos);

    REQUIRE(run_process({EDGEMQ_BINARY, "passwd", "-b", passwd, "carol", "carol-pw"}).exited_ok());
    gateway.signal(SIGHUP);
    EDGEMQ_REQUIRE_PROC(gateway,
                        gateway.wait_for_stderr("certificates, password and ACL files reloaded"));

    mosquitto_pub(tcp, {"-u", "carol", "-P", "carol-pw", "-q", "1", "-t", "hup/x", "-m", "after"});
    mosquitto_pub(tcp, {"-u", "alice", "-P", "alice-pw", "-q", "1", "-t", "hup/y", "-m", "too"});
    // The TLS subscriber connected before SIGHUP gets the first message published after it.
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait(10s).exited_ok());
    CHECK(messages(*sub) == lines{"hup/x after"});

    const auto r = gateway.stop(SIGTERM, 5s);
    INFO(gateway.describe());
    CHECK(r.exit_code == 0);
}

TEST_CASE("edgemq refuses a listener on 0.0.0.0 without authentication, saying how to fix it",
          "[integration][auth]") {
    const scratch_dir dir;
    // Port 0: had the check been missing, nothing would have taken a well-known port.
    const auto config = dir.write("edgemq.toml", "[broker]\nsys_interval = 0\n\n"
                                                 "[[listeners]]\n"
                                                 "type = \"tcp\"\n"
                                                 "bind = \"0.0.0.0:0\"\n");
    const auto r = run_process({EDGEMQ_BINARY, "--config", config}, std::nullopt, 5s);
    INFO(r.out << r.err);
    CHECK_FALSE(r.timed_out);
    CHECK(r.term_signal == 0);
    CHECK(r.exit_code != 0);
    // file:line:col of the offending [[listeners]] table, at the start of a line.
    CHECK((r.err.rfind(config + ":4:1: ", 0) == 0 ||
           r.err.find("\n" + config + ":4:1: ") != std::string::npos));
    CHECK(r.err.find("allow_anonymous = true") != std::string::npos);
    CHECK(r.err.find("password_file") != std::string::npos);
    CHECK(r.err.find("ready:") == std::string::npos);
}
