// SPDX-License-Identifier: Apache-2.0
#pragma once

// Private to broker_core.

#include <memory>
#include <mutex>
#include <utility>

namespace edgemq::broker {

/// A shared_ptr that one thread replaces while others take copies of it (a file a reload
/// swapped in). Not std::atomic<std::shared_ptr>: GCC 12's load() releases its internal lock
/// with memory_order_relaxed, so the reader's read of the pointer is not ordered before the
/// next writer's swap (a data race ThreadSanitizer reports, and a real one on arm64). The
/// mutex costs nothing that matters here: it is taken once per CONNECT and once per reload.
/// Thread safety: load() and store() from any thread.
template <typename T> class swappable {
public:
    swappable() = default;
    explicit swappable(std::shared_ptr<T> p) : p_(std::move(p)) {}

    std::shared_ptr<T> load() const {
        const std::lock_guard lock{mutex_};
        return p_;
    }
    void store(std::shared_ptr<T> p) {
        {
            const std::lock_guard lock{mutex_};
            p_.swap(p);
        }
        // The old value, if this was its last owner, is destroyed here, outside the lock.
    }

private:
    mutable std::mutex mutex_;
    std::shared_ptr<T> p_;
};

} // namespace edgemq::broker
