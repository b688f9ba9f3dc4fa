// SPDX-License-Identifier: Apache-2.0
#pragma once

// The built edgemq binary as a test's gateway, with what such tests need around it: a scratch
// directory, free loopback ports, and Debian's mosquitto as a remote broker (playing EMQX).

#include "real_clients.hpp"
#include "scratch_dir.hpp"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <vector>

namespace edgemq::test {

using namespace std::chrono_literals;

/// A port the kernel has just handed out on loopback (mosquitto cannot bind port 0).
inline std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    ::close(fd);
    return ntohs(a.sin_port);
}

/// Debian's mosquitto as the remote broker. Sessions persist across its restarts (as EMQX's
/// would across an uplink outage) and its queues are unbounded, so that what it delivers
/// afterwards is exactly what the bridge sent. port() is plain MQTT for the test's clients;
/// with `tls_lines`, tls_port() is a second listener configured by them.
class remote_broker {
public:
    explicit remote_broker(const scratch_dir& dir, const std::string& tls_lines = "")
        : port_(free_port()), tls_port_(free_port()),
          conf_(dir.write("remote.conf",
                          "listener " + std::to_string(port_) + " 127.0.0.1\n" +
                              (tls_lines.empty() ? std::string{}
                                                 : "listener " + std::to_string(tls_port_) +
                                                       " 127.0.0.1\n" + tls_lines) +
                              // As root, mosquitto would drop to its own user, which
                              // cannot read the test's 0700 directories.
                              std::string(::getuid() == 0 ? "user root\n" : "") +
                              "allow_anonymous true\n"
                              "persistence true\n"
                              "persistence_location " +
                              dir.path.string() +
                              "/\n"
                              "max_queued_messages 0\n"
                              "log_type all\n")) {
        start();
    }
    void start() {
        process_ = std::make_unique<background_process>(
            std::vector<std::string>{"mosquitto", "-c", conf_});
        EDGEMQ_REQUIRE_PROC(*process_, process_->wait_for_stderr("mosquitto version", 10s));
        EDGEMQ_REQUIRE_PROC(*process_,
                            process_->wait_for_stderr("Opening ipv4 listen socket", 10s));
    }
    void stop() {
        process_->stop();
        process_.reset();
    }
    std::uint16_t port() const { return port_; }
    std::uint16_t tls_port() const { return tls_port_; }
    /// The running mosquitto; its stderr is its log (log_type all).
    background_process& process() { return *process_; }

private:
    std::uint16_t port_;
    std::uint16_t tls_port_;
    std::string conf_;
    std::unique_ptr<background_process> process_;
};

/// The edgemq binary with one config file; port() is its MQTT listener. With `wrapper`, the
/// binary runs under that command (its argv, to which the binary's own is appended).
class gateway {
public:
    gateway(const scratch_dir& dir, const std::string& toml, std::vector<std::string> wrapper = {})
        : config_(dir.write("edgemq.toml", toml)), wrapper_(std::move(wrapper)) {
        start();
    }
    void start() {
        auto argv = wrapper_;
        argv.insert(argv.end(), {EDGEMQ_BINARY, "--config", config_});
        process_ = std::make_unique<background_process>(std::move(argv));
        const std::regex ready{R"(ready: mqtt tcp on 127\.0\.0\.1:(\d+)\n)"};
        std::smatch m;
        std::string err;
        EDGEMQ_REQUIRE_PROC(*process_, process_->wait_until_stderr([&](const std::string& e) {
            err = e;
            return std::regex_search(err, m, ready);
        }));
        port_ = static_cast<std::uint16_t>(std::stoi(m[1].str()));
    }
    void kill9() {
        process_->signal(SIGKILL);
        process_->wait();
    }
    /// Replaces the config file (the running gateway reads it again on SIGHUP).
    void write_config(const std::string& toml) const { std::ofstream{config_} << toml; }
    std::uint16_t port() const { return port_; }
    background_process& process() { return *process_; }
    const std::string& config_file() const { return config_; }

private:
    std::string config_;
    std::vector<std::string> wrapper_;
    std::unique_ptr<background_process> process_;
    std::uint16_t port_ = 0;
};

} // namespace edgemq::test
