// SPDX-License-Identifier: Apache-2.0
// `systemctl reload edgemq` is SIGHUP to the built binary: the file is validated again and only
// what changed restarts. Devices are socat pty pairs, the bridges' remote is Debian's mosquitto,
// and the service manager is played by a unix datagram socket in $NOTIFY_SOCKET, as systemd
// does for Type=notify.

#include "gateway_process.hpp"
#include "pty.hpp"
#include "real_clients.hpp"

#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using edgemq::test::gateway;
using edgemq::test::mosquitto_pub;
using edgemq::test::remote_broker;
using edgemq::test::scratch_dir;
using edgemq::test::sim_port;
using edgemq::test::start_mosquitto_sub;
using edgemq::test::start_pty_pair;
using namespace std::chrono_literals;

/// How many times `needle` occurs in `text`.
std::size_t occurrences(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
        ++n;
    }
    return n;
}

/// Two devices (a, b) and two bridges (x, y) to `remote`; `version` goes into device a's topic
/// base and bridge x's remote prefix, so that changing it changes exactly those two.
std::string two_of_each(const scratch_dir& dir, const remote_broker& remote, int version) {
    const auto v = std::to_string(version);
    const auto device = [&](const std::string& id, const std::string& base) {
        return "[[devices]]\nid = \"" + id + "\"\nmatch = { path = \"" +
               (dir.path / id / "dev").string() +
               "\" }\nstats_interval = 0\nparser = { kind = \"kv\" }\npublish = { fields = true, base = \"" +
               base + "\" }\n\n";
    };
    const auto bridge = [&](const std::string& name, const std::string& prefix) {
        return "[[bridges]]\nname = \"" + name + "\"\naddress = \"127.0.0.1:" +
               std::to_string(remote.port()) + "\"\nclient_id = \"edgemq-" + name +
               "\"\nqueue_file = \"" + (dir.path / (name + ".db")).string() +
               "\"\nreconnect_min = \"100ms\"\n[[bridges.topics]]\npattern = \"" + name +
               "/#\"\nremote_prefix = \"" + prefix + "\"\n\n";
    };
    return "[[listeners]]\nbind = \"127.0.0.1:0\"\n\n[admin]\nenabled = false\n\n" +
           device("a", "a" + v) + device("b", "b") + bridge("x", "rx" + v + "/") +
           bridge("y", "ry/");
}

/// The threads of process `pid` that do not block `signal` (from SigBlk in /proc), so that the
/// kernel may hand it to them.
std::vector<std::string> threads_taking(pid_t pid, int signal) {
    std::vector<std::string> out;
    for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
        std::ifstream status{task.path() / "status"};
        for (std::string line; std::getline(status, line);) {
            if (line.starts_with("SigBlk:")) {
                const auto blocked = std::stoull(line.substr(7), nullptr, 16);
                if ((blocked & (1ULL << (signal - 1))) == 0) {
                    out.push_back(task.path().filename().string());
                }
            }
        }
    }
    return out;
}

/// Sets an environment variable for the children started while it lives.
class scoped_env {
public:
    scoped_env(const char* name, const std::string& value) : name_(name) {
        ::setenv(name, value.c_str(), 1);
    }
    ~scoped_env() { ::unsetenv(name_); }
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;

private:
    const char* name_;
};

/// The service manager's end of sd_notify(3): a unix datagram socket at `path`.
class notify_socket {
public:
    explicit notify_socket(const fs::path& path)
        : fd_(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)), path_(path) {
        REQUIRE(fd_ >= 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        REQUIRE(path.string().size() < sizeof a.sun_path);
        std::ranges::copy(path.string(), a.sun_path);
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    }
    ~notify_socket() { ::close(fd_); }
    notify_socket(const notify_socket&) = delete;
    notify_socket& operator=(const notify_socket&) = delete;

    /// The next datagram, or "" when none came within `timeout`.
    std::string next(std::chrono::milliseconds timeout = 10s) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
            return {};
        }
        std::string buf(4096, '\0');
        const auto n = ::recv(fd_, buf.data(), buf.size(), 0);
        buf.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
        return buf;
    }

private:
    int fd_;
    fs::path path_;
};

} // namespace

TEST_CASE("reload: only the device and the bridge that changed restart, a broken file is "
          "refused and the old configuration keeps serving",
          "[integration][reload]") {
    scratch_dir dir;
    remote_broker remote{dir};
    fs::create_directories(dir.path / "a");
    fs::create_directories(dir.path / "b");
    const auto pty_a = start_pty_pair(dir.path / "a");
    const auto pty_b = start_pty_pair(dir.path / "b");
    gateway gw{dir, two_of_each(dir, remote, 1)};
    auto& log = gw.process();
    for (const auto* ready : {"device=a opened", "device=b opened", "bridge x: connected to",
                              "bridge y: connected to"}) {
        EDGEMQ_REQUIRE_PROC(log, log.wait_for_stderr(ready));
    }
    sim_port sim_a{dir.path / "a" / "sim"};
    sim_port sim_b{dir.path / "b" / "sim"};
    auto local = start_mosquitto_sub(gw.port(), {"-t", "a1/a/temp", "-t", "a2/a/temp",
                                                 "-t", "b/b/temp", "-v"});
    auto up = start_mosquitto_sub(remote.port(), {"-t", "#", "-v"});
    sim_a.write("temp=1\n");
    EDGEMQ_REQUIRE_PROC(*local, local->wait_for_line("a1/a/temp 1"));

    // Device a and bridge x change; b and y stay as they were.
    gw.write_config(two_of_each(dir, remote, 2));
    log.signal(SIGHUP);
    EDGEMQ_REQUIRE_PROC(log, log.wait_for_stderr("reload done"));
    EDGEMQ_REQUIRE_PROC(log, log.wait_until_stderr([](const std::string& e) {
        return occurrences(e, "device=a opened") == 2 &&
               occurrences(e, "bridge x: connected to") == 2;
    }));
    auto err = log.err();
    CHECK(occurrences(err, "device a: configuration changed, restarting") == 1);
    CHECK(occurrences(err, "bridge x: configuration changed, restarting") == 1);
    CHECK(occurrences(err, "device b:") == 0);
    CHECK(occurrences(err, "bridge y:") == 1); // its one "connected to", at start
    CHECK(occurrences(err, "device=b opened") == 1);
    // The remote saw x connect again and y never: y's connection was never dropped. The
    // remote's log reaches us through a pipe of its own, so wait for it rather than race it.
    EDGEMQ_REQUIRE_PROC(remote.process(), remote.process().wait_until_stderr([](const std::string& e) {
        return occurrences(e, "as edgemq-x ") == 2;
    }));
    CHECK(occurrences(remote.process().err(), "as edgemq-y ") == 1);

    // Signals reach only the main thread, which waits for them: the broker's workers, the
    // devices and the bridges, also the ones this reload restarted, block them.
    const std::vector<std::string> main_thread{std::to_string(log.pid())};
    for (const int signal : {SIGHUP, SIGTERM, SIGINT}) {
        CHECK(threads_taking(log.pid(), signal) == main_thread);
    }

    // The new configuration serves a and x; b and y go on as before.
    sim_a.write("temp=2\n");
    sim_b.write("temp=3\n");
    EDGEMQ_REQUIRE_PROC(*local, local->wait_for_line("a2/a/temp 2"));
    EDGEMQ_REQUIRE_PROC(*local, local->wait_for_line("b/b/temp 3"));
    mosquitto_pub(gw.port(), {"-q", "1", "-t", "x/t", "-m", "after-reload"});
    mosquitto_pub(gw.port(), {"-q", "1", "-t", "y/t", "-m", "after-reload"});
    EDGEMQ_REQUIRE_PROC(*up, up->wait_for_line("rx2/x/t after-reload"));
    EDGEMQ_REQUIRE_PROC(*up, up->wait_for_line("ry/y/t after-reload"));

    // A broken file: refused with file:line:col, nothing restarts, the running config serves.
    auto broken = two_of_each(dir, remote, 3);
    const auto bad_at = broken.find("stats_interval = 0");
    broken.replace(bad_at, 18, "stats_interval = \"often\"");
    const auto line = std::count(broken.begin(), broken.begin() + static_cast<long>(bad_at), '\n') + 1;
    gw.write_config(broken);
    log.signal(SIGHUP);
    EDGEMQ_REQUIRE_PROC(log, log.wait_for_stderr("reload refused: keeping the running configuration"));
    err = log.err();
    CHECK(err.find("reload refused: " + gw.config_file() + ":" + std::to_string(line) + ":") !=
          std::string::npos);
    CHECK(occurrences(err, "configuration changed, restarting") == 2); // the first reload's
    sim_a.write("temp=4\n");
    EDGEMQ_REQUIRE_PROC(*local, local->wait_for_line("a2/a/temp 4"));
    mosquitto_pub(gw.port(), {"-q", "1", "-t", "x/t", "-m", "after-refusal"});
    EDGEMQ_REQUIRE_PROC(*up, up->wait_for_line("rx2/x/t after-refusal"));
    CHECK(occurrences(log.err(), "device=a opened") == 2);
    CHECK(occurrences(remote.process().err(), "as edgemq-x ") == 2);
    CHECK(log.running());
}

TEST_CASE("reload: the service manager hears ready, reloading and stopping (sd_notify)",
          "[integration][reload]") {
    scratch_dir dir;
    notify_socket manager{dir.path / "notify"};
    const scoped_env env{"NOTIFY_SOCKET", (dir.path / "notify").string()};
    gateway gw{dir, "[[listeners]]\nbind = \"127.0.0.1:0\"\n\n[admin]\nenabled = false\n"};

    const auto ready = manager.next();
    CHECK(ready.starts_with("READY=1\nSTATUS=listening: mqtt tcp 127.0.0.1:" +
                            std::to_string(gw.port())));

    gw.process().signal(SIGHUP);
    CHECK(manager.next().starts_with("RELOADING=1\nMONOTONIC_USEC="));
    CHECK(manager.next().ends_with("; reloaded " + gw.config_file()));

    gw.write_config("[broker]\nmax_inflight_messages = \"many\"\n");
    gw.process().signal(SIGHUP);
    CHECK(manager.next().starts_with("RELOADING=1"));
    const auto refused = manager.next();
    CHECK(refused.starts_with("READY=1\n"));
    CHECK(refused.find("reload refused, running the previous configuration: " +
                       gw.config_file() + ":2:") != std::string::npos);

    gw.process().signal(SIGTERM);
    CHECK(manager.next() == "STOPPING=1");
    CHECK(gw.process().wait().exited_ok());
}
