// SPDX-License-Identifier: Apache-2.0
#pragma once

/// Real MQTT clients for the integration tests: Debian's mosquitto_pub / mosquitto_sub and the
/// paho-mqtt 1.6 scripts in tests/integration/python/, run as child processes against a broker
/// on 127.0.0.1.
///
/// mosquitto_sub always runs with -d so a test can wait for its "Subscribed (mid: N)" line
/// instead of sleeping; messages() separates the received messages from those debug lines. It
/// runs under `stdbuf -oL`: it flushes stdout after each message but not after a debug line,
/// and stdio fully buffers a pipe.

#include "process.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace edgemq::test {

/// Fails the current test with the child's command line and output unless `cond` holds.
#define EDGEMQ_REQUIRE_PROC(proc, cond)                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            FAIL(#cond << "\n" << (proc).describe());                                              \
        }                                                                                          \
    } while (false)

inline constexpr const char* loopback = "127.0.0.1";

/// Debian's interpreter: the python3 first on PATH may not see python3-paho-mqtt.
inline constexpr const char* debian_python = "/usr/bin/python3";

/// argv for a paho script: python -u (unbuffered, so each print reaches the test at once),
/// the script, host, port, then `args`.
inline std::vector<std::string> paho_script(std::string_view name, std::uint16_t port,
                                            std::vector<std::string> args) {
    std::vector<std::string> argv{debian_python, "-u",
                                  std::string{EDGEMQ_SOURCE_DIR} + "/tests/integration/python/" +
                                      std::string{name},
                                  loopback, std::to_string(port)};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

/// Whether a mosquitto_sub -d output line is a debug line rather than a received message.
inline bool is_debug_line(std::string_view line) {
    return line.rfind("Client ", 0) == 0 || line.rfind("Subscribed (mid: ", 0) == 0;
}

/// The received messages among mosquitto_sub -d output lines, in order.
inline std::vector<std::string> messages(const std::vector<std::string>& lines) {
    std::vector<std::string> m;
    for (const auto& l : lines) {
        if (!is_debug_line(l)) {
            m.push_back(l);
        }
    }
    return m;
}

inline std::vector<std::string> messages(const background_process& p) {
    return messages(p.lines());
}

/// Waits until mosquitto_sub has printed `n` messages (or exits, or `timeout` passes).
inline bool wait_for_messages(background_process& p, std::size_t n,
                              std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return p.wait_until(
        [n](const std::vector<std::string>& lines) { return messages(lines).size() >= n; },
        timeout);
}

/// Starts `mosquitto_sub -h 127.0.0.1 -p PORT -d ARGS...` and, unless told otherwise, waits
/// for the broker's SUBACK.
inline std::unique_ptr<background_process> start_mosquitto_sub(std::uint16_t port,
                                                               std::vector<std::string> args,
                                                               bool wait_subscribed = true) {
    std::vector<std::string> argv{"stdbuf", "-oL", "mosquitto_sub",      "-h",
                                  loopback, "-p",  std::to_string(port), "-d"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto p = std::make_unique<background_process>(std::move(argv));
    if (wait_subscribed) {
        EDGEMQ_REQUIRE_PROC(*p, p->wait_for_line("Subscribed (mid: "));
    }
    return p;
}

/// Runs `mosquitto_pub -h 127.0.0.1 -p PORT ARGS...` to completion and requires exit status 0.
/// With -q 1 or -q 2 it returns only after the broker acknowledged the message, so messages
/// published by consecutive calls reach subscribers in that order.
inline process_result mosquitto_pub(std::uint16_t port, std::vector<std::string> args,
                                    std::optional<std::string> stdin_text = std::nullopt) {
    std::vector<std::string> argv{"mosquitto_pub", "-h", loopback, "-p", std::to_string(port)};
    argv.insert(argv.end(), args.begin(), args.end());
    background_process p{std::move(argv), std::move(stdin_text)};
    auto r = p.wait(std::chrono::seconds(10));
    EDGEMQ_REQUIRE_PROC(p, r.exited_ok());
    return r;
}

/// Polls `cond` every 5 ms until it holds or `timeout` passes.
inline bool eventually(const std::function<bool()>& cond,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!cond()) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

} // namespace edgemq::test
