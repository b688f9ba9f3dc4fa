// SPDX-License-Identifier: Apache-2.0
#include "edgemq/bridge/queue.hpp"

#include <spdlog/logger.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <system_error>
#include <tuple>

namespace edgemq::bridge {
namespace {

/// Rolls a transaction back unless it was committed (an error path left early).
class transaction {
public:
    explicit transaction(sqlite3* db) : db_(db) {
        ok_ = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
    }
    ~transaction() {
        if (ok_ && !committed_) {
            sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
        }
    }
    bool ok() const noexcept { return ok_; }
    bool commit() {
        committed_ = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
        return committed_;
    }

private:
    sqlite3* db_;
    bool ok_ = false;
    bool committed_ = false;
};

bool over(std::size_t value, std::size_t limit) {
    return limit != 0 && value > limit;
}

} // namespace

durable_queue::durable_queue(std::filesystem::path file, limits bounds, spdlog::logger& log)
    : file_(std::move(file)), limits_(bounds), log_(log) {
    std::error_code ec;
    if (file_.has_parent_path()) {
        std::filesystem::create_directories(file_.parent_path(), ec);
        if (ec) {
            throw std::runtime_error("cannot create the directory of the bridge queue " +
                                     file_.string() + ": " + ec.message());
        }
    }
    try {
        open();
    } catch (const std::runtime_error& e) {
        // A file SQLite cannot read (a torn or foreign file) must not keep the gateway from
        // starting: keep it aside for a post-mortem and start an empty queue.
        if (db_ != nullptr && sqlite3_errcode(db_) == SQLITE_BUSY) {
            throw;
        }
        sqlite3_close_v2(db_);
        db_ = nullptr;
        const auto stamp = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
        const auto aside = file_.string() + ".corrupt-" + std::to_string(stamp);
        for (const char* suffix : {"", "-wal", "-shm"}) {
            std::filesystem::rename(file_.string() + suffix, aside + suffix, ec);
        }
        log_.error("bridge queue {} is unreadable ({}); moved it to {} and started an empty queue",
                   file_.string(), e.what(), aside);
        open();
    }
}

durable_queue::~durable_queue() {
    for (auto* s : {insert_, select_, delete_, drop_}) {
        sqlite3_finalize(s);
    }
    sqlite3_close_v2(db_);
}

void durable_queue::exec(const char* sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
        std::string why = error != nullptr ? error : sqlite3_errmsg(db_);
        sqlite3_free(error);
        if (sqlite3_errcode(db_) == SQLITE_BUSY) {
            why = "it is locked by another process (another edgemq using the same queue_file?)";
        }
        throw std::runtime_error(why);
    }
}

sqlite3_stmt* durable_queue::prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
        throw std::runtime_error(sqlite3_errmsg(db_));
    }
    return s;
}

void durable_queue::open() {
    if (sqlite3_open_v2(file_.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
        SQLITE_OK) {
        const std::string why = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
        sqlite3_close_v2(db_);
        db_ = nullptr;
        throw std::runtime_error("cannot open the bridge queue " + file_.string() + ": " + why);
    }
    // Exclusive locking: one gateway per queue, and WAL needs no shared-memory file then.
    // synchronous=NORMAL: a commit survives a crash of the process; at power loss the last
    // commits may be lost but the file stays consistent.
    exec("PRAGMA locking_mode=EXCLUSIVE");
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");
    exec("CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, topic TEXT NOT NULL, "
         "payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL)");
    sqlite3_stmt* check = prepare("PRAGMA quick_check");
    const bool healthy =
        sqlite3_step(check) == SQLITE_ROW &&
        std::string_view(reinterpret_cast<const char*>(sqlite3_column_text(check, 0))) == "ok";
    sqlite3_finalize(check);
    if (!healthy) {
        throw std::runtime_error("integrity check failed");
    }
    sqlite3_stmt* totals = prepare("SELECT count(*), coalesce(sum(length(CAST(topic AS BLOB)) + "
                                   "length(payload)), 0), coalesce(max(seq), 0) FROM messages");
    if (sqlite3_step(totals) == SQLITE_ROW) {
        count_ = static_cast<std::size_t>(sqlite3_column_int64(totals, 0));
        bytes_ = static_cast<std::size_t>(sqlite3_column_int64(totals, 1));
        last_seq_ = sqlite3_column_int64(totals, 2);
    }
    sqlite3_finalize(totals);
    insert_ = prepare("INSERT INTO messages (seq, topic, payload, qos, retain) "
                      "VALUES (?1, ?2, ?3, ?4, ?5)");
    select_ = prepare("SELECT seq, topic, payload, qos, retain FROM messages WHERE seq > ?1 "
                      "ORDER BY seq LIMIT ?2");
    delete_ = prepare("DELETE FROM messages WHERE seq = ?1 "
                      "RETURNING length(CAST(topic AS BLOB)) + length(payload)");
    drop_ = prepare("DELETE FROM messages WHERE seq IN (SELECT seq FROM messages WHERE seq > ?1 "
                    "ORDER BY seq LIMIT ?2) RETURNING seq, length(CAST(topic AS BLOB)) + "
                    "length(payload)");
}

std::uint64_t durable_queue::drop_oldest(std::int64_t after, std::size_t n, std::int64_t& through) {
    std::uint64_t dropped = 0;
    sqlite3_bind_int64(drop_, 1, after);
    sqlite3_bind_int64(drop_, 2, static_cast<sqlite3_int64>(n));
    while (sqlite3_step(drop_) == SQLITE_ROW) {
        through = std::max<std::int64_t>(through, sqlite3_column_int64(drop_, 0));
        bytes_ -= static_cast<std::size_t>(sqlite3_column_int64(drop_, 1));
        --count_;
        ++dropped;
    }
    sqlite3_reset(drop_);
    return dropped;
}

durable_queue::push_result durable_queue::push(std::vector<queued_message>& batch,
                                               std::int64_t in_flight_through) {
    push_result result;
    if (batch.empty()) {
        return result;
    }
    const auto saved = std::tuple(count_, bytes_, last_seq_);
    const std::size_t offered = batch.size();
    transaction tx{db_};
    bool ok = tx.ok();
    std::size_t kept = 0;
    for (std::size_t i = 0; ok && i < batch.size(); ++i) {
        auto& m = batch[i];
        const bool full = (limits_.max_messages != 0 && count_ + 1 > limits_.max_messages) ||
                          over(bytes_ + m.size(), limits_.max_bytes);
        if (full && limits_.when_full == config::queue_full_policy::drop_newest) {
            ++result.dropped;
            continue;
        }
        m.seq = ++last_seq_;
        sqlite3_bind_int64(insert_, 1, m.seq);
        sqlite3_bind_text(insert_, 2, m.topic.data(), static_cast<int>(m.topic.size()),
                          SQLITE_STATIC);
        sqlite3_bind_blob(insert_, 3, m.payload.data(), static_cast<int>(m.payload.size()),
                          SQLITE_STATIC);
        sqlite3_bind_int(insert_, 4, m.qos);
        sqlite3_bind_int(insert_, 5, m.retain ? 1 : 0);
        ok = sqlite3_step(insert_) == SQLITE_DONE;
        sqlite3_reset(insert_);
        ++count_;
        bytes_ += m.size();
        if (kept != i) {
            batch[kept] = std::move(m);
        }
        ++kept;
    }
    batch.resize(kept);
    // drop_oldest: make room by dropping the oldest messages not on the wire; a batch larger
    // than the whole queue drops its own first messages.
    while (ok && (over(count_, limits_.max_messages) || over(bytes_, limits_.max_bytes))) {
        // Over max_bytes alone: one at a time, as message sizes differ.
        const std::size_t n =
            over(count_, limits_.max_messages) ? count_ - limits_.max_messages : 1;
        const auto dropped = drop_oldest(in_flight_through, n, result.dropped_through);
        result.dropped += dropped;
        if (dropped == 0) {
            break; // only in-flight messages left: they stay until acknowledged
        }
    }
    if (ok && tx.commit()) {
        std::erase_if(batch,
                      [&](const queued_message& m) { return m.seq <= result.dropped_through; });
        return result;
    }
    log_.error("bridge queue {}: write failed: {}; {} messages not stored", file_.string(),
               sqlite3_errmsg(db_), offered);
    std::tie(count_, bytes_, last_seq_) = saved;
    batch.clear();
    return {offered, 0, false};
}

std::vector<queued_message> durable_queue::read_after(std::int64_t after, std::size_t max) {
    std::vector<queued_message> out;
    sqlite3_bind_int64(select_, 1, after);
    sqlite3_bind_int64(select_, 2, static_cast<sqlite3_int64>(max));
    int rc = SQLITE_ROW;
    while ((rc = sqlite3_step(select_)) == SQLITE_ROW) {
        auto& m = out.emplace_back();
        m.seq = sqlite3_column_int64(select_, 0);
        m.topic.assign(reinterpret_cast<const char*>(sqlite3_column_text(select_, 1)),
                       static_cast<std::size_t>(sqlite3_column_bytes(select_, 1)));
        const auto* payload = static_cast<const char*>(sqlite3_column_blob(select_, 2));
        m.payload.assign(payload != nullptr ? payload : "",
                         static_cast<std::size_t>(sqlite3_column_bytes(select_, 2)));
        m.qos = static_cast<std::uint8_t>(sqlite3_column_int(select_, 3));
        m.retain = sqlite3_column_int(select_, 4) != 0;
    }
    if (rc != SQLITE_DONE) {
        log_.error("bridge queue {}: read failed: {}", file_.string(), sqlite3_errmsg(db_));
    }
    sqlite3_reset(select_);
    return out;
}

void durable_queue::remove(std::span<const std::int64_t> seqs) {
    if (seqs.empty()) {
        return;
    }
    const auto saved = std::pair(count_, bytes_);
    transaction tx{db_};
    for (const auto seq : seqs) {
        sqlite3_bind_int64(delete_, 1, seq);
        if (sqlite3_step(delete_) == SQLITE_ROW) { // absent when it was dropped meanwhile
            bytes_ -= static_cast<std::size_t>(sqlite3_column_int64(delete_, 0));
            --count_;
        }
        sqlite3_reset(delete_);
    }
    if (!tx.ok() || !tx.commit()) {
        // Nothing lost: the messages stay queued and are sent again after a restart.
        std::tie(count_, bytes_) = saved;
        log_.error("bridge queue {}: removing acknowledged messages failed: {}", file_.string(),
                   sqlite3_errmsg(db_));
    }
}

} // namespace edgemq::bridge
