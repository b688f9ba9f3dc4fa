// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <chrono>
#include <cstdint>

/// Wall-clock time as the API, $SYS, logs and file names show it. Deadlines use
/// std::chrono::steady_clock instead, which a clock change cannot move.
/// Thread safety: pure functions.
namespace edgemq::broker {

/// Seconds since 1970-01-01 UTC.
inline std::int64_t unix_seconds() noexcept {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// Milliseconds since 1970-01-01 UTC.
inline std::int64_t unix_millis() noexcept {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

} // namespace edgemq::broker
