// SPDX-License-Identifier: Apache-2.0
// [broker] persistence: retained messages survive a clean restart and a kill -9 of the built
// binary, as they do with Mosquitto's `persistence true`.

#include "gateway_process.hpp"
#include "real_clients.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <thread>

namespace {

using edgemq::test::gateway;
using edgemq::test::messages;
using edgemq::test::mosquitto_pub;
using edgemq::test::run_process;
using edgemq::test::scratch_dir;
using namespace std::chrono_literals;

std::string persistent_config(const scratch_dir& dir) {
    return "[broker]\npersistence = true\npersistence_file = \"" +
           (dir.path / "state" / "retained.db").string() +
           "\"\n\n[[listeners]]\nbind = \"127.0.0.1:0\"\n\n[admin]\nenabled = false\n";
}

/// The retained messages under `filter`, as "topic payload" lines, sorted.
std::vector<std::string> retained(std::uint16_t port, const std::string& filter, int count) {
    const auto r = run_process({"mosquitto_sub", "-h", "127.0.0.1", "-p", std::to_string(port),
                                "-t", filter, "-v", "--retained-only", "-C",
                                std::to_string(count), "-W", "3"},
                               std::nullopt, 10s);
    std::vector<std::string> lines;
    std::string line;
    for (const char c : r.out) {
        if (c == '\n') {
            lines.push_back(line);
            line.clear();
        } else {
            line += c;
        }
    }
    std::ranges::sort(lines);
    return lines;
}

} // namespace

TEST_CASE("persistence: retained messages survive a restart and a kill -9, deletions too",
          "[integration][persistence]") {
    scratch_dir dir;
    gateway gw{dir, persistent_config(dir)};
    mosquitto_pub(gw.port(), {"-r", "-q", "1", "-t", "home/kitchen/temp", "-m", "21.5"});
    mosquitto_pub(gw.port(), {"-r", "-q", "1", "-t", "home/hall/light", "-m", "on"});
    mosquitto_pub(gw.port(), {"-r", "-q", "1", "-t", "home/gone", "-m", "soon"});
    mosquitto_pub(gw.port(), {"-r", "-q", "1", "-t", "home/gone", "-n"}); // deletes it
    mosquitto_pub(gw.port(), {"-q", "1", "-t", "home/not-retained", "-m", "x"});

    // A clean stop writes everything.
    gw.process().signal(SIGTERM);
    REQUIRE(gw.process().wait().exited_ok());
    gw.start();
    EDGEMQ_REQUIRE_PROC(gw.process(), gw.process().wait_for_stderr("2 retained messages restored"));
    CHECK(retained(gw.port(), "home/#", 2) ==
          std::vector<std::string>{"home/hall/light on", "home/kitchen/temp 21.5"});

    // A crash: what was published is on disk within milliseconds (one transaction per batch,
    // on a thread of its own); the test gives it a second.
    mosquitto_pub(gw.port(), {"-r", "-q", "1", "-t", "home/kitchen/temp", "-m", "22.0"});
    mosquitto_pub(gw.port(), {"-r", "-q", "1", "-t", "home/hall/light", "-n"});
    for (int i = 0; i < 100; ++i) {
        mosquitto_pub(gw.port(), {"-r", "-q", "0", "-t", "sensors/" + std::to_string(i),
                                  "-m", std::to_string(i)});
    }
    std::this_thread::sleep_for(1s);
    gw.kill9();
    gw.start();
    CHECK(retained(gw.port(), "home/#", 1) == std::vector<std::string>{"home/kitchen/temp 22.0"});
    CHECK(retained(gw.port(), "sensors/#", 100).size() == 100);
    // kitchen/temp and the 100 sensors; $SYS topics are the broker's own and never stored.
    CHECK(gw.process().err().find("101 retained messages restored") != std::string::npos);
}
