// SPDX-License-Identifier: Apache-2.0
// The built edgemq binary as an operator runs it: `edgemq --config FILE` serving a real client
// and stopping cleanly on SIGTERM, and `edgemq check-config FILE` pointing at the bad line.

#include "libserialport_ports.hpp"
#include "real_clients.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

using edgemq::test::background_process;
using edgemq::test::messages;
using edgemq::test::mosquitto_pub;
using edgemq::test::run_process;
using edgemq::test::start_mosquitto_sub;
using namespace std::chrono_literals;

/// A file in the temporary directory, removed on destruction.
class temp_file {
public:
    explicit temp_file(const std::string& text) {
        static std::atomic<int> n{0};
        path_ = std::filesystem::temp_directory_path() /
                ("edgemq-it-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".toml");
        std::ofstream{path_} << text;
    }
    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;
    ~temp_file() {
        std::error_code ignored;
        std::filesystem::remove(path_, ignored);
    }
    std::string path() const { return path_.string(); }

private:
    std::filesystem::path path_;
};

} // namespace

TEST_CASE("edgemq --config serves a client and exits 0 on SIGTERM", "[integration][gateway]") {
    const temp_file config{R"([broker]
sys_interval = 0

[log]
level = "info"

[[listeners]]
type = "tcp"
bind = "127.0.0.1:0"

# Not under test here, and 18083 may be taken by a test running beside this one.
[admin]
enabled = false
)"};
    background_process gateway{{EDGEMQ_BINARY, "--config", config.path()}};

    // The kernel chose the port; the binary says which once it accepts connections.
    const std::regex ready{R"(ready: mqtt tcp on 127\.0\.0\.1:(\d+)\n)"};
    std::smatch m;
    std::string err;
    EDGEMQ_REQUIRE_PROC(gateway, gateway.wait_until_stderr([&](const std::string& e) {
        err = e;
        return std::regex_search(err, m, ready);
    }));
    const auto port = static_cast<std::uint16_t>(std::stoi(m[1].str()));
    REQUIRE(port != 0);
    REQUIRE(port != 1883);

    auto sub = start_mosquitto_sub(port, {"-q", "1", "-t", "site/+/status", "-v", "-C", "1"});
    mosquitto_pub(port, {"-q", "1", "-t", "site/gw1/status", "-m", "up"});
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait(10s).exited_ok());
    CHECK(messages(*sub) == std::vector<std::string>{"site/gw1/status up"});

    const auto r = gateway.stop(SIGTERM, 5s);
    INFO(gateway.describe());
    CHECK_FALSE(r.timed_out);
    CHECK(r.term_signal == 0);
    CHECK(r.exit_code == 0);
    CHECK(r.err.find("edgemq stopped") != std::string::npos);
}

TEST_CASE("edgemq exits 0 on a SIGTERM sent as soon as it reports ready",
          "[integration][gateway]") {
    // A supervisor may stop the gateway the moment it logs "ready:"; the signal must already
    // be handled then, not kill the process with its default action.
    const temp_file config{"[broker]\nsys_interval = 0\n[[listeners]]\ntype = \"tcp\"\n"
                           "bind = \"127.0.0.1:0\"\n[admin]\nenabled = false\n"};
    for (int run = 0; run < 20; ++run) {
        background_process gateway{{EDGEMQ_BINARY, "--config", config.path()}};
        EDGEMQ_REQUIRE_PROC(gateway, gateway.wait_for_stderr("ready: mqtt tcp on 127.0.0.1:"));
        const auto r = gateway.stop(SIGTERM, 5s);
        INFO("run " << run << "\n" << gateway.describe());
        REQUIRE(r.term_signal == 0);
        REQUIRE(r.exit_code == 0);
    }
}

TEST_CASE("edgemq check-config reports a bad file as file:line:col and fails",
          "[integration][gateway][config]") {
    SECTION("a value of the wrong type") {
        const temp_file bad{"[broker]\nmax_inflight_messages = \"lots\"\n"};
        const auto r = run_process({EDGEMQ_BINARY, "check-config", bad.path()});
        INFO(r.out << r.err);
        CHECK(r.exit_code != 0);
        CHECK(r.term_signal == 0);
        const auto out = r.out + r.err;
        CHECK(out.find(bad.path() + ":2:25: ") != std::string::npos);
        CHECK(out.find("max_inflight_messages") != std::string::npos);
    }
    SECTION("a TOML syntax error") {
        const temp_file bad{"[broker]\nsys_interval = 1\nmax_connections = [1\n"};
        const auto r = run_process({EDGEMQ_BINARY, "check-config", bad.path()});
        INFO(r.out << r.err);
        CHECK(r.exit_code != 0);
        CHECK(r.term_signal == 0);
        const std::regex where{"(^|\\n)" +
                               std::regex_replace(bad.path(), std::regex{R"([.])"}, R"(\.)") +
                               R"(:3:\d+: )"};
        CHECK(std::regex_search(r.out + r.err, where));
    }
    SECTION("a good file passes") {
        const temp_file good{"[broker]\nsys_interval = 1\n[[listeners]]\ntype = \"tcp\"\n"
                             "bind = \"127.0.0.1:0\"\n"};
        const auto r = run_process({EDGEMQ_BINARY, "check-config", good.path()});
        INFO(r.out << r.err);
        CHECK(r.exit_code == 0);
        CHECK(r.out == good.path() + ": OK\n");
    }
}

TEST_CASE("edgemq --config refuses to start with a bad file", "[integration][gateway][config]") {
    const temp_file bad{"[broker]\nmax_queued_messages = -1\n"};
    const auto r = run_process({EDGEMQ_BINARY, "--config", bad.path()}, std::nullopt, 5s);
    INFO(r.out << r.err);
    CHECK_FALSE(r.timed_out);
    CHECK(r.exit_code != 0);
    CHECK(r.term_signal == 0);
    CHECK(r.err.find(bad.path() + ":2:") != std::string::npos);
    CHECK(r.err.find("ready:") == std::string::npos);
}

TEST_CASE("edgemq ports lists the serial ports and which configured device matches each",
          "[integration][gateway][serial]") {
    // A pty stands in for an adapter: matched by a symlink to its node, as by-id names are.
    const std::string link = "/tmp/edgemq-ports-" + std::to_string(::getpid());
    background_process socat{{"socat", "pty,raw,echo=0,link=" + link, "pty,raw,echo=0"}};
    REQUIRE(edgemq::test::eventually([&] { return std::filesystem::exists(link); }));
    const temp_file config{"[admin]\nenabled = false\n\n[[devices]]\nid = \"bench\"\n"
                           "match = { path = \"" + link + "\" }\n\n[[devices]]\nid = \"ghost\"\n"
                           "match = { path = \"/dev/edgemq-no-such-port\" }\n"};
    const auto r = run_process({EDGEMQ_BINARY, "ports", "--config", config.path()});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.rfind("PORT", 0) == 0);
    CHECK(r.out.find("device ghost: no port matches it now\n") != std::string::npos);
    // The pty is not a serial port of the listing, but the device resolves to it, so it is not
    // reported missing.
    CHECK(r.out.find("device bench: no port matches it now") == std::string::npos);
}

TEST_CASE("edgemq ports shows the machine's real ports as libserialport lists them",
          "[integration][gateway][serial]") {
    // No config: only the ports. Each line is one of libserialport's ports, in its order,
    // with its transport and (for USB) its ids; nothing else is listed.
    const temp_file config{"[admin]\nenabled = false\n"};
    const auto r = run_process({EDGEMQ_BINARY, "ports", "--config", config.path()});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    const auto expected = edgemq::test::libserialport_ports();
    std::vector<std::string> lines;
    std::istringstream out(r.out);
    for (std::string line; std::getline(out, line);) {
        lines.push_back(line);
    }
    REQUIRE(!lines.empty());
    CHECK(lines[0].starts_with("PORT"));
    CHECK(lines[0].find("TRANSPORT") != std::string::npos);
    CHECK(lines[0].find("VID:PID") != std::string::npos);
    CHECK(lines[0].find("LOCATION") != std::string::npos);
    if (expected.empty()) {
        CHECK(lines == std::vector<std::string>{lines[0], "(no serial ports found)"});
        return;
    }
    REQUIRE(lines.size() == expected.size() + 1);
    for (std::size_t i = 0; i < expected.size(); ++i) {
        std::istringstream cells(lines[i + 1]);
        std::string port, device, transport, vid_pid;
        cells >> port >> device >> transport >> vid_pid;
        CHECK(port == expected[i].name);
        CHECK(device == "-");
        CHECK(transport == expected[i].transport);
        CHECK(vid_pid == (expected[i].vid_pid.empty() ? "-" : expected[i].vid_pid));
    }
}
