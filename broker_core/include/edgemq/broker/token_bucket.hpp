// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <algorithm>
#include <chrono>
#include <optional>

namespace edgemq::broker {

/// A token bucket: `rate` events a second on average, bursts of up to `burst`; fed the time, so
/// that it can be tested with a fake clock. Used for max_publish_rate and for rate-limited logs.
/// Thread safety: none.
class token_bucket {
public:
    using clock = std::chrono::steady_clock;

    token_bucket(double rate, double burst) noexcept : rate_(rate), burst_(burst), tokens_(burst) {}

    /// Takes a token at `now` if there is one.
    bool take(clock::time_point now) noexcept {
        if (last_) {
            const std::chrono::duration<double> elapsed = now - *last_;
            tokens_ = std::min(burst_, tokens_ + elapsed.count() * rate_);
        }
        last_ = now;
        if (tokens_ < 1.0) {
            return false;
        }
        tokens_ -= 1.0;
        return true;
    }

    /// How long after the last take() the next token accrues (zero when one is there).
    clock::duration until_next() const noexcept {
        const std::chrono::duration<double> wait{std::max(0.0, (1.0 - tokens_) / rate_)};
        return std::chrono::duration_cast<clock::duration>(wait);
    }

private:
    double rate_;
    double burst_;
    double tokens_;
    std::optional<clock::time_point> last_;
};

} // namespace edgemq::broker
