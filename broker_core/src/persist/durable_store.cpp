// SPDX-License-Identifier: Apache-2.0
#include "edgemq/broker/persist/durable_store.hpp"

#include <algorithm>

namespace edgemq::broker::persist {

bool durable_store::written(std::uint64_t position) {
    std::unique_lock lock{mutex_};
    done_cv_.wait(lock, [&] { return done_ >= position; });
    return std::none_of(failed_.begin(), failed_.end(), [position](const auto& range) {
        return position > range.first && position <= range.second;
    });
}

std::uint64_t durable_store::committed() {
    const std::lock_guard lock{mutex_};
    return done_;
}

void durable_store::reached(std::uint64_t through, bool ok) {
    if (through <= done_) {
        return;
    }
    if (!ok) {
        if (!failed_.empty() && failed_.back().second == done_) {
            failed_.back().second = through; // a full disk fails every batch: one range
        } else {
            failed_.emplace_back(done_, through);
            if (failed_.size() > 64) {
                failed_.erase(failed_.begin()); // long past: nobody waits for those
            }
        }
    }
    done_ = through;
    done_cv_.notify_all();
}

void durable_store::wait_for_all(std::unique_lock<std::mutex>& lock) {
    const auto target = handed_;
    done_cv_.wait(lock, [&] { return done_ >= target; });
}

} // namespace edgemq::broker::persist
