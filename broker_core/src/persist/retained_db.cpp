// SPDX-License-Identifier: Apache-2.0
#include "edgemq/broker/persist/retained_db.hpp"

#include "columns.hpp"

#include <spdlog/logger.h>
#include <sqlite3.h>

namespace edgemq::broker::persist {

using namespace columns;

retained_db::retained_db(std::filesystem::path file, spdlog::logger& log, bool full_sync)
    : db_(std::move(file), "retained message store",
          "CREATE TABLE IF NOT EXISTS retained (topic TEXT PRIMARY KEY, payload BLOB NOT NULL, "
          "qos INTEGER NOT NULL, props BLOB, expires_at INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID",
          log, full_sync),
      log_(log) {
    // A file written before the 5.0 properties were kept has neither column.
    sqlite3_stmt* probe = nullptr;
    if (sqlite3_prepare_v2(db_.get(), "SELECT props, expires_at FROM retained", -1, &probe,
                           nullptr) != SQLITE_OK) {
        db_.exec("ALTER TABLE retained ADD COLUMN props BLOB; "
                 "ALTER TABLE retained ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0");
    }
    sqlite3_finalize(probe);
    upsert_ = db_.prepare("INSERT OR REPLACE INTO retained (topic, payload, qos, props, expires_at) "
                          "VALUES (?1, ?2, ?3, ?4, ?5)");
    erase_ = db_.prepare("DELETE FROM retained WHERE topic = ?1");
    writer_ = std::thread([this] { run(); });
}

retained_db::~retained_db() {
    {
        const std::lock_guard lock{mutex_};
        stopping_ = true;
    }
    wake_.notify_one();
    writer_.join();
}

std::vector<message_ptr> retained_db::load() {
    std::vector<message_ptr> out;
    sqlite3_stmt* all =
        db_.prepare("SELECT topic, payload, qos, props, expires_at FROM retained ORDER BY topic");
    const auto now = steady::now();
    while (sqlite3_step(all) == SQLITE_ROW) {
        message m{column_text(all, 0), column_blob(all, 1),
                  static_cast<std::uint8_t>(sqlite3_column_int(all, 2)), true};
        m.props = column_props(all, 3);
        m.expires_at = from_unix_ms(sqlite3_column_int64(all, 4));
        if (!m.expired(now)) { // its Message Expiry Interval ran out while the broker was down
            out.push_back(std::make_shared<const message>(std::move(m)));
        }
    }
    sqlite3_reset(all);
    return out;
}

std::uint64_t retained_db::record(const message_ptr& m) {
    if (m->topic.starts_with('$')) {
        return 0;
    }
    bool was_idle = false;
    std::uint64_t at = 0;
    {
        const std::lock_guard lock{mutex_};
        was_idle = pending_.empty();
        pending_.insert_or_assign(m->topic, m);
        at = hand_over();
    }
    // The writer takes everything pending at once: one wake-up per batch, not per message.
    if (was_idle) {
        wake_.notify_one();
    }
    return at;
}

void retained_db::flush() {
    std::unique_lock lock{mutex_};
    wait_for_all(lock);
}

void retained_db::run() {
    std::unique_lock lock{mutex_};
    for (;;) {
        wake_.wait(lock, [&] { return !pending_.empty() || stopping_; });
        if (pending_.empty()) {
            return; // stopping, and everything is written
        }
        auto batch = std::move(pending_);
        pending_.clear();
        const auto through = handed();
        lock.unlock();
        const bool ok = write(batch);
        lock.lock();
        reached(through, ok);
    }
}

bool retained_db::write(const std::map<std::string, message_ptr, std::less<>>& batch) {
    transaction tx{db_};
    bool ok = tx.ok();
    for (auto it = batch.begin(); ok && it != batch.end(); ++it) {
        const auto& m = *it->second;
        auto* s = m.payload.empty() ? erase_ : upsert_;
        bind_text(s, 1, m.topic);
        if (!m.payload.empty()) {
            bind_blob(s, 2, m.payload);
            sqlite3_bind_int(s, 3, m.qos);
            bind_props(s, 4, m.props);
            sqlite3_bind_int64(s, 5, to_unix_ms(m.expires_at));
        }
        ok = sqlite3_step(s) == SQLITE_DONE;
        sqlite3_reset(s);
    }
    if (ok && tx.commit()) {
        if (failing_.exchange(false, std::memory_order_relaxed)) {
            log_.info("retained message store {}: writing again", db_.path().string());
        }
        return true;
    }
    errors_.fetch_add(1, std::memory_order_relaxed);
    if (!failing_.exchange(true, std::memory_order_relaxed)) {
        // Once per failing streak: a full disk fails every batch.
        log_.error("retained message store {}: write failed: {}; new retained messages are in "
                   "memory only, and QoS 1/2 ones are not acknowledged until it writes again",
                   db_.path().string(), db_.error());
    }
    return false;
}

} // namespace edgemq::broker::persist
