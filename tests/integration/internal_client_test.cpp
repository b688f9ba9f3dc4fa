// SPDX-License-Identifier: Apache-2.0
// The broker's in-process API (drivers, bridges) and its admin view, against real clients.

#include "real_clients.hpp"
#include "test_broker.hpp"

#include <catch2/catch.hpp>

#include <mutex>

using namespace edgemq::test;
using edgemq::broker::make_message;
using edgemq::broker::message;
using edgemq::broker::message_ptr;

namespace {

/// Collects what an internal client receives, from the broker's threads.
struct inbox {
    std::mutex mutex;
    std::vector<std::string> lines;

    auto handler() {
        return [this](const message_ptr& m) {
            const std::lock_guard lock{mutex};
            lines.push_back(m->topic + " " + m->payload + (m->retain ? " retained" : ""));
        };
    }
    std::vector<std::string> snapshot() {
        const std::lock_guard lock{mutex};
        return lines;
    }
};

} // namespace

TEST_CASE("an internal client receives what network clients publish", "[integration][internal]") {
    test_broker b;
    inbox in;
    auto client = b.get().connect_internal("driver", in.handler());
    mosquitto_pub(b.port(), {"-t", "sensors/old", "-m", "kept", "-r", "-q", "1"});
    client->subscribe("sensors/#", 1);
    REQUIRE(eventually([&] { return in.snapshot().size() == 1; }));
    CHECK(in.snapshot()[0] == "sensors/old kept retained"); // retained follow a subscribe

    mosquitto_pub(b.port(), {"-t", "sensors/a", "-m", "21.5", "-q", "1"});
    mosquitto_pub(b.port(), {"-t", "other/a", "-m", "no", "-q", "1"});
    REQUIRE(eventually([&] { return in.snapshot().size() == 2; }));
    CHECK(in.snapshot()[1] == "sensors/a 21.5");

    client->unsubscribe("sensors/#");
    mosquitto_pub(b.port(), {"-t", "sensors/b", "-m", "late", "-q", "1"});
    const auto clients = b.get().clients(); // a round trip through every thread: all settled
    CHECK(in.snapshot().size() == 2);
    client->disconnect();
}

TEST_CASE("an internal client publishes to network clients, never to itself",
          "[integration][internal]") {
    test_broker b;
    inbox in;
    auto client = b.get().connect_internal("bridge", in.handler());
    client->subscribe("site/#", 1);
    auto sub = start_mosquitto_sub(b.port(), {"-t", "site/#", "-v", "-q", "1"});
    client->publish(message{"site/temp", "25.1", 1, false, 0});
    REQUIRE(wait_for_messages(*sub, 1));
    CHECK(messages(*sub) == std::vector<std::string>{"site/temp 25.1"});
    // Its own message did not come back to it, but a network client's does.
    mosquitto_pub(b.port(), {"-t", "site/hum", "-m", "60", "-q", "1"});
    REQUIRE(eventually([&] { return !in.snapshot().empty(); }));
    CHECK(in.snapshot() == std::vector<std::string>{"site/hum 60"});
}

TEST_CASE("the admin view lists clients, subscriptions and retained, and kicks",
          "[integration][internal]") {
    test_broker b;
    auto sub = start_mosquitto_sub(b.port(), {"-i", "watcher", "-t", "a/#", "-t", "b/+", "-q", "1"});
    auto internal = b.get().connect_internal("probe", [](const message_ptr&) {});
    mosquitto_pub(b.port(), {"-t", "a/kept", "-m", "x", "-r", "-q", "1"});

    const auto clients = b.get().clients();
    const auto watcher = std::find_if(clients.begin(), clients.end(),
                                      [](const auto& c) { return c.client_id == "watcher"; });
    REQUIRE(watcher != clients.end());
    CHECK(watcher->connected);
    CHECK(watcher->listener == "tcp");
    CHECK(watcher->peer.rfind("127.0.0.1:", 0) == 0);
    CHECK(watcher->subscriptions == 2);
    CHECK(watcher->connected_at > 0);
    CHECK(std::any_of(clients.begin(), clients.end(), [](const auto& c) {
        return c.client_id == "$internal/probe" && c.internal;
    }));

    const auto subs = b.get().subscriptions();
    std::vector<std::string> watched;
    for (const auto& s : subs) {
        if (s.client_id == "watcher") {
            watched.push_back(s.filter + ":" + std::to_string(s.qos));
        }
    }
    CHECK(watched == std::vector<std::string>{"a/#:1", "b/+:1"});

    const auto retained = b.get().retained();
    CHECK(std::any_of(retained.begin(), retained.end(),
                      [](const auto& m) { return m->topic == "a/kept"; }));
    CHECK(b.get().delete_retained("a/kept"));
    CHECK_FALSE(b.get().delete_retained("a/kept"));

    CHECK(b.get().kick("watcher"));
    // mosquitto_sub -d reports the lost connection and reconnects with the same id.
    REQUIRE(sub->wait_for_lines_containing("sending CONNECT", 2));
    CHECK_FALSE(b.get().kick("nobody"));
}
