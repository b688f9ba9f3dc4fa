// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <random>

namespace edgemq::bridge {

/// The pause before the next connection attempt: exponential from `min`, capped at `max`,
/// with "equal jitter" (half fixed, half random) so that many gateways behind one uplink do not
/// reconnect in step.
/// Thread safety: none; the bridge's thread.
class backoff {
public:
    backoff(std::chrono::milliseconds min, std::chrono::milliseconds max) : min_(min), max_(max) {}

    /// The pause after `failures` failed attempts in a row (0 after a connection that worked).
    std::chrono::milliseconds delay(unsigned failures);

private:
    std::chrono::milliseconds min_;
    std::chrono::milliseconds max_;
    std::minstd_rand random_{std::random_device{}()};
};

} // namespace edgemq::bridge
