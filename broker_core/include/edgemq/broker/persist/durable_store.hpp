// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

namespace edgemq::broker::persist {

/// A store that writes what the broker hands it on a thread of its own (the retained store, a
/// bridge's queue). Each hand-over gets a position; the writer reports how far it has written.
/// The session store reports a transaction committed only once every such store has written
/// what was handed to it for that transaction, so that one position covers all of them for the
/// publisher's acknowledgement (DESIGN.md rule 7).
/// Thread safety: written() and committed() from any thread; the protected members with
/// mutex_ held, which also guards what the derived store keeps pending.
class durable_store {
public:
    virtual ~durable_store() = default;

    /// Waits until what was handed over at `position` is written; false when its write failed
    /// (a full or read-only disk) or the store closed before writing it.
    bool written(std::uint64_t position);
    /// Every position up to this one is written (or failed).
    std::uint64_t committed();

protected:
    /// The next position; with mutex_ held, in the same critical section as the hand-over.
    std::uint64_t hand_over() { return ++handed_; }
    /// The last position handed over; with mutex_ held.
    std::uint64_t handed() const noexcept { return handed_; }
    /// Everything up to `through` was written (`ok`) or failed; with mutex_ held.
    void reached(std::uint64_t through, bool ok);
    /// Waits, with `lock` on mutex_, until everything handed over before the call is done.
    void wait_for_all(std::unique_lock<std::mutex>& lock);

    std::mutex mutex_;

private:
    std::condition_variable done_cv_;
    std::uint64_t handed_ = 0;
    std::uint64_t done_ = 0; ///< written or failed
    /// The positions (from, to] of the last writes that failed, adjacent ones merged.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> failed_;
};

} // namespace edgemq::broker::persist
