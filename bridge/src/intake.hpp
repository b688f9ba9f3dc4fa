// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/broker.hpp"

#include <cstdint>
#include <functional>
#include <vector>

namespace edgemq::bridge {

/// A bridge's messages from the local broker on their way into its queue: taken on the
/// broker's threads, written on the bridge's thread, and reported written so that, with
/// persistence on, their publishers are acknowledged only once the queue has them. Shared with
/// the broker's session store, which may still wait on it after the forwarder is gone.
/// Thread safety: all members from any thread.
class intake final : public broker::internal_store {
public:
    /// Starts taking messages; `wake` is called (with the lock held: it must only post) when a
    /// batch begins, so that the bridge's thread comes for it.
    void open(std::function<void()> wake);
    /// Takes nothing more.
    void close();
    /// Drops what was never collected: it counts as not written.
    void discard();

    std::uint64_t take(const broker::message_ptr& m) override;

    struct batch {
        std::vector<broker::message_ptr> messages;
        std::uint64_t through = 0; ///< the position of the last of them
    };
    /// What was taken since the last call.
    batch collect();
    /// The messages up to `through` are in the queue (`ok`), or their write failed.
    void stored(std::uint64_t through, bool ok);

private:
    std::function<void()> wake_; ///< empty: closed; guarded by mutex_
    std::vector<broker::message_ptr> messages_; ///< guarded by mutex_
};

} // namespace edgemq::bridge
