// SPDX-License-Identifier: Apache-2.0
// The plain-TCP transport: connections watched by their worker's epoll set (tcp_poller).

#include "raw_mqtt_client.hpp"
#include "test_broker.hpp"

#include "edgemq/broker/codec/encode.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace codec = edgemq::broker::codec;
using edgemq::test::raw_mqtt_client;
using edgemq::test::read_status;
using edgemq::test::test_broker;
using namespace std::chrono_literals;

namespace {

/// How many descriptors the epoll sets of this process watch (the "tfd:" lines of their fdinfo).
std::size_t epoll_entries() {
    namespace fs = std::filesystem;
    std::size_t n = 0;
    for (const auto& fd : fs::directory_iterator("/proc/self/fd")) {
        std::error_code ec;
        if (fs::read_symlink(fd.path(), ec).string() != "anon_inode:[eventpoll]") {
            continue;
        }
        std::ifstream info{"/proc/self/fdinfo/" + fd.path().filename().string()};
        for (std::string line; std::getline(info, line);) {
            n += line.starts_with("tfd:") ? 1 : 0;
        }
    }
    return n;
}

/// A forked child that only waits, holding a copy of every descriptor, as a child between fork
/// and exec (posix_spawn, system()) does; killed and reaped when it goes, also when a REQUIRE
/// ends the test (else it would keep ctest's output pipe open).
class idle_child {
public:
    idle_child() : pid_(::fork()) {
        if (pid_ == 0) {
            ::pause();
            ::_exit(0);
        }
    }
    ~idle_child() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    idle_child(const idle_child&) = delete;
    idle_child& operator=(const idle_child&) = delete;
    bool started() const { return pid_ > 0; }

private:
    pid_t pid_;
};

void send(raw_mqtt_client& c, const codec::packet& p) {
    codec::byte_buffer out;
    std::visit([&out](const auto& v) { codec::encode(v, out); }, p);
    REQUIRE_FALSE(c.send(out));
}

} // namespace

TEST_CASE("a closed TCP connection leaves its worker's epoll set while a forked child still "
          "holds a copy of its socket",
          "[integration][tcp]") {
    test_broker broker;
    const auto before = epoll_entries();
    raw_mqtt_client c{broker.port()};
    codec::connect connect;
    connect.client_id = "forked";
    send(c, connect);
    REQUIRE(c.read_packet(3000ms).status == read_status::packet); // CONNACK: it is watched
    CHECK(epoll_entries() == before + 1);

    {
        // The socket lives on in the child, and closing the broker's descriptor alone would
        // leave the entry, whose events then name a connection that is gone.
        const idle_child child;
        REQUIRE(child.started());
        send(c, codec::disconnect{});
        CHECK(c.read_packet(3000ms).status == read_status::closed);
        const auto deadline = std::chrono::steady_clock::now() + 2s;
        while (epoll_entries() != before && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(10ms);
        }
        CHECK(epoll_entries() == before);
    }

    // The broker goes on serving.
    raw_mqtt_client again{broker.port()};
    send(again, connect);
    CHECK(again.read_packet(3000ms).status == read_status::packet);
}
