// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/message.hpp"
#include "edgemq/broker/persist/durable_store.hpp"
#include "edgemq/broker/persist/sqlite_file.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace edgemq::broker::persist {

/// The retained messages on disk ([broker] persistence), so that they survive a restart, an
/// upgrade or a crash. The broker loads them once at start; after that it hands every retained
/// publish (an empty payload deletes the topic's message) to record(), which returns at once: a
/// thread of its own writes what has accumulated in one transaction, only the last message per
/// topic, with its 5.0 properties and the end of its Message Expiry Interval (as Unix time, so
/// that the time it spent on disk counts). Topics starting with '$' ($SYS) are not kept: the
/// broker writes those itself.
/// Thread safety: record(), flush() and durable_store's from any thread; load() before the
/// first record().
class retained_db final : public durable_store {
public:
    /// Opens or creates `file` (see sqlite_file). Throws std::runtime_error naming the file.
    retained_db(std::filesystem::path file, spdlog::logger& log, bool full_sync = false);
    /// Writes what is pending, then stops the writer thread.
    ~retained_db();
    retained_db(const retained_db&) = delete;
    retained_db& operator=(const retained_db&) = delete;

    /// Every stored message that has not expired, retain flag set, ordered by topic.
    std::vector<message_ptr> load();

    /// Stores `m` (or deletes its topic when the payload is empty) soon; returns its position
    /// for written() (0: a '$' topic, never stored).
    std::uint64_t record(const message_ptr& m);

    /// Waits until everything recorded before the call is committed (or failed, logged).
    void flush();

    /// The last transaction failed ($SYS/broker/persistence/failing).
    bool failing() const noexcept { return failing_.load(std::memory_order_relaxed); }
    /// Transactions that failed so far.
    std::uint64_t write_errors() const noexcept { return errors_.load(std::memory_order_relaxed); }

    const std::filesystem::path& path() const noexcept { return db_.path(); }

private:
    void run();
    /// One transaction; false when it failed, logged (the messages stay in memory, not on disk).
    bool write(const std::map<std::string, message_ptr, std::less<>>& batch);

    sqlite_file db_;
    spdlog::logger& log_;
    sqlite3_stmt* upsert_ = nullptr;
    sqlite3_stmt* erase_ = nullptr;

    std::condition_variable wake_;
    std::map<std::string, message_ptr, std::less<>> pending_; ///< guarded by mutex_
    bool stopping_ = false;                                   ///< guarded by mutex_
    std::atomic<bool> failing_{false};
    std::atomic<std::uint64_t> errors_{0};
    std::thread writer_;
};

} // namespace edgemq::broker::persist
