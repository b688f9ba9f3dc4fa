// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

namespace edgemq::app {

/// Failed logins per peer address, to stop password guessing: after `max_failures` failures
/// within `window`, the address is refused until the oldest of them is `window` old (a sliding
/// window). A success forgets the address's failures.
///
/// Sans-I/O: the caller passes the time, so the rules are tested with a made-up clock. At most
/// `max_peers` addresses are remembered; beyond that the one whose last failure is oldest goes.
///
/// Thread safety: none; the admin server's thread only.
class login_throttle {
public:
    using clock = std::chrono::steady_clock;

    struct limits {
        std::size_t max_failures = 5;
        clock::duration window = std::chrono::minutes(1);
        std::size_t max_peers = 4096;
    };

    login_throttle() = default;
    explicit login_throttle(limits l) : limits_(l) {}

    /// How long `peer` must wait before it may try again; zero when it may try now.
    clock::duration blocked_for(const std::string& peer, clock::time_point now) const;

    /// Records a failed login. True when this failure blocks the peer: the one change of state
    /// for the caller to log.
    bool failed(const std::string& peer, clock::time_point now);

    /// Forgets the peer's failures.
    void succeeded(const std::string& peer);

    /// Forgets failures that are `window` old. Returns the peers whose block ended since the
    /// last call (each once), for the caller to log.
    std::vector<std::string> expire(clock::time_point now);

    std::size_t peers() const { return peers_.size(); }

private:
    struct peer_state {
        std::deque<clock::time_point> failures; // oldest first, at most max_failures
        bool blocked = false;
    };

    limits limits_;
    std::unordered_map<std::string, peer_state> peers_;
};

} // namespace edgemq::app
