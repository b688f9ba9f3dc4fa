// SPDX-License-Identifier: Apache-2.0
// The failed-login throttle of the admin server, on a made-up clock.

#include "login_throttle.hpp"

#include <catch2/catch.hpp>

using edgemq::app::login_throttle;
using namespace std::chrono_literals;

namespace {
const login_throttle::clock::time_point t0{std::chrono::hours(1000)};
}

TEST_CASE("login_throttle blocks after five failures within a minute, for the rest of it",
          "[admin]") {
    login_throttle t;
    for (int i = 0; i < 4; ++i) {
        CHECK_FALSE(t.failed("10.0.0.1", t0 + i * 10s));
        CHECK(t.blocked_for("10.0.0.1", t0 + i * 10s) == 0s);
    }
    CHECK(t.failed("10.0.0.1", t0 + 40s));             // the fifth: the one change of state to log
    CHECK(t.blocked_for("10.0.0.1", t0 + 40s) == 20s); // until the first is a minute old
    CHECK(t.blocked_for("10.0.0.1", t0 + 59s) == 1s);
    CHECK(t.blocked_for("10.0.0.2", t0 + 40s) == 0s); // per address
    CHECK(t.expire(t0 + 59s).empty());
    CHECK(t.blocked_for("10.0.0.1", t0 + 60s) == 0s);
    // The end of the block is reported once.
    CHECK(t.expire(t0 + 60s) == std::vector<std::string>{"10.0.0.1"});
    CHECK(t.expire(t0 + 61s).empty());
    // The four later failures are still in the window: one more blocks again, until the
    // second failure (at 10 s) is a minute old.
    CHECK(t.failed("10.0.0.1", t0 + 65s));
    CHECK(t.blocked_for("10.0.0.1", t0 + 65s) == 5s);
}

TEST_CASE("login_throttle: failures spread over more than a minute never block", "[admin]") {
    login_throttle t;
    for (int i = 0; i < 20; ++i) {
        CHECK_FALSE(t.failed("10.0.0.1", t0 + i * 16s));
        CHECK(t.blocked_for("10.0.0.1", t0 + i * 16s) == 0s);
    }
    // Everything older than the window is forgotten, and with it the address.
    CHECK(t.expire(t0 + 20 * 16s + 60s).empty());
    CHECK(t.peers() == 0);
}

TEST_CASE("login_throttle: a success forgets the failures", "[admin]") {
    login_throttle t;
    for (int i = 0; i < 4; ++i) {
        t.failed("10.0.0.1", t0);
    }
    t.succeeded("10.0.0.1");
    CHECK_FALSE(t.failed("10.0.0.1", t0 + 1s));
    CHECK(t.blocked_for("10.0.0.1", t0 + 1s) == 0s);
}

TEST_CASE("login_throttle remembers at most max_peers addresses", "[admin]") {
    login_throttle t{{.max_failures = 2, .window = 60s, .max_peers = 3}};
    t.failed("a", t0);
    t.failed("a", t0 + 1s);
    CHECK(t.blocked_for("a", t0 + 1s) == 59s);
    t.failed("b", t0 + 2s);
    t.failed("c", t0 + 3s);
    t.failed("d", t0 + 4s); // "a" has the oldest last failure: it goes
    CHECK(t.peers() == 3);
    CHECK(t.blocked_for("a", t0 + 4s) == 0s);
}
