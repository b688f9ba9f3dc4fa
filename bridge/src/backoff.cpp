// SPDX-License-Identifier: Apache-2.0
#include "backoff.hpp"

#include <algorithm>
#include <cstdint>

namespace edgemq::bridge {

std::chrono::milliseconds backoff::delay(unsigned failures) {
    auto d = min_;
    for (unsigned i = 1; i < failures && d < max_; ++i) {
        d *= 2;
    }
    d = std::min(d, max_);
    std::uniform_int_distribution<std::int64_t> jitter(d.count() / 2, d.count());
    return std::chrono::milliseconds(jitter(random_));
}

} // namespace edgemq::bridge
