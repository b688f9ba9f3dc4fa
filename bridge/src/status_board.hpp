// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/bridge/status.hpp"
#include "edgemq/broker/broker.hpp"

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace edgemq::bridge {

/// What one bridge shows of itself: the bridge_status the admin surface reads, and the same on
/// the local broker's `$SYS/broker/bridges/<name>/...` (state, queue and message counters,
/// retained).
/// Thread safety: snapshot() from any thread; the counters from any thread; the rest from the
/// bridge's own thread.
class status_board {
public:
    status_board(std::string name, std::string address);

    /// The local client that publishes the `$SYS` topics; until then they are not published.
    void attach(std::shared_ptr<broker::internal_client> client);

    void set_state(bridge_state state, std::string error);
    void set_address(std::string address);
    bridge_status snapshot() const;

    void add_sent(std::uint64_t n = 1) noexcept { sent_.fetch_add(n, std::memory_order_relaxed); }
    void add_acked() noexcept { acked_.fetch_add(1, std::memory_order_relaxed); }
    void add_dropped(std::uint64_t n = 1) noexcept {
        dropped_.fetch_add(n, std::memory_order_relaxed);
    }
    void add_received() noexcept { received_.fetch_add(1, std::memory_order_relaxed); }
    void set_queue(std::uint64_t messages, std::uint64_t bytes) noexcept {
        queued_.store(messages, std::memory_order_relaxed);
        queued_bytes_.store(bytes, std::memory_order_relaxed);
    }

    /// Publishes the counters on `$SYS` every `interval`, for ever (cancelled with the context).
    boost::asio::awaitable<void> async_publish(std::chrono::seconds interval);

private:
    void publish_counters();

    std::shared_ptr<broker::internal_client> client_;
    mutable std::mutex mutex_;
    bridge_status status_;            ///< guarded by mutex_; the counters live below
    std::optional<bridge_state> sys_; ///< guarded by mutex_: the state last on `$SYS`
    std::atomic<std::uint64_t> sent_{0};
    std::atomic<std::uint64_t> acked_{0};
    std::atomic<std::uint64_t> dropped_{0};
    std::atomic<std::uint64_t> received_{0};
    std::atomic<std::uint64_t> queued_{0};
    std::atomic<std::uint64_t> queued_bytes_{0};
};

} // namespace edgemq::bridge
