// SPDX-License-Identifier: Apache-2.0
#pragma once

// A simulated serial device: `socat` joins two ptys, linked as DIR/dev (the end the driver
// opens) and DIR/sim (the end the test writes to, playing the device).

#include "process.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

namespace edgemq::test {

/// Starts socat and waits (up to 10 s) until both links exist. The process stops with the
/// returned object.
inline std::unique_ptr<background_process> start_pty_pair(const std::filesystem::path& dir) {
    namespace fs = std::filesystem;
    fs::remove(dir / "dev");
    fs::remove(dir / "sim");
    auto p = std::make_unique<background_process>(
        std::vector<std::string>{"socat", "pty,raw,echo=0,link=" + (dir / "dev").string(),
                                 "pty,raw,echo=0,link=" + (dir / "sim").string()});
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!(fs::exists(dir / "dev") && fs::exists(dir / "sim")) &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    REQUIRE(fs::exists(dir / "dev"));
    REQUIRE(fs::exists(dir / "sim"));
    return p;
}

/// The device's end of a pty pair, in raw mode.
class sim_port {
public:
    explicit sim_port(const std::filesystem::path& path)
        : fd_(::open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)) {
        REQUIRE(fd_ >= 0);
        termios tio{};
        ::tcgetattr(fd_, &tio);
        ::cfmakeraw(&tio);
        ::tcsetattr(fd_, TCSANOW, &tio);
    }
    ~sim_port() { ::close(fd_); }
    sim_port(const sim_port&) = delete;
    sim_port& operator=(const sim_port&) = delete;

    void write(std::string_view bytes) {
        REQUIRE(::write(fd_, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    }

    /// What the driver sends (commands), read until `until` is seen or `timeout` passes.
    std::string read(std::chrono::milliseconds timeout, std::string_view until = "\n") {
        std::string got;
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (got.find(until) == std::string::npos) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            pollfd p{fd_, POLLIN, 0};
            if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
                break;
            }
            char buf[256];
            const auto n = ::read(fd_, buf, sizeof buf);
            if (n <= 0) {
                break;
            }
            got.append(buf, static_cast<std::size_t>(n));
        }
        return got;
    }

private:
    int fd_;
};

} // namespace edgemq::test
