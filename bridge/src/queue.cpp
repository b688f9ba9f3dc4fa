// SPDX-License-Identifier: Apache-2.0
#include "edgemq/bridge/queue.hpp"

#include <spdlog/logger.h>
#include <sqlite3.h>

#include <algorithm>
#include <tuple>

namespace edgemq::bridge {

using broker::persist::transaction;

namespace {

bool over(std::size_t value, std::size_t limit) {
    return limit != 0 && value > limit;
}

} // namespace

durable_queue::durable_queue(std::filesystem::path file, limits bounds, spdlog::logger& log)
    : db_(std::move(file), "bridge queue",
          "CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, topic TEXT NOT NULL, "
          "payload BLOB NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL, properties BLOB)",
          log),
      limits_(bounds), log_(log) {
    add_properties_column();
    sqlite3_stmt* totals = db_.prepare("SELECT count(*), coalesce(sum(length(CAST(topic AS BLOB)) "
                                       "+ length(payload)), 0), coalesce(max(seq), 0) FROM messages");
    if (sqlite3_step(totals) == SQLITE_ROW) {
        count_ = static_cast<std::size_t>(sqlite3_column_int64(totals, 0));
        bytes_ = static_cast<std::size_t>(sqlite3_column_int64(totals, 1));
        last_seq_ = sqlite3_column_int64(totals, 2);
    }
    insert_ = db_.prepare("INSERT INTO messages (seq, topic, payload, qos, retain, properties) "
                          "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    select_ = db_.prepare("SELECT seq, topic, payload, qos, retain, properties FROM messages "
                          "WHERE seq > ?1 ORDER BY seq LIMIT ?2");
    // remove(): a run of consecutive seqs at a time, counted first. Not DELETE ... RETURNING:
    // SQLite gathers RETURNING rows in an ephemeral table, a B-tree opened and closed on every
    // execution; one per acknowledged message was 70 % of the bridge thread's time while it
    // drained a backlog (perf, bench/bridge_drain.sh).
    measure_ = db_.prepare("SELECT count(*), coalesce(sum(length(CAST(topic AS BLOB)) + "
                           "length(payload)), 0) FROM messages WHERE seq BETWEEN ?1 AND ?2");
    delete_ = db_.prepare("DELETE FROM messages WHERE seq BETWEEN ?1 AND ?2");
    drop_ = db_.prepare("DELETE FROM messages WHERE seq IN (SELECT seq FROM messages WHERE seq > "
                        "?1 ORDER BY seq LIMIT ?2) RETURNING seq, length(CAST(topic AS BLOB)) + "
                        "length(payload)");
}

void durable_queue::add_properties_column() {
    // Queue files from before MQTT 5.0 bridges have no properties column; their rows keep none.
    sqlite3_stmt* columns = db_.prepare("SELECT 1 FROM pragma_table_info('messages') "
                                        "WHERE name = 'properties'");
    const bool present = sqlite3_step(columns) == SQLITE_ROW;
    sqlite3_reset(columns);
    if (!present) {
        db_.exec("ALTER TABLE messages ADD COLUMN properties BLOB");
    }
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
        if (m.properties.empty()) {
            sqlite3_bind_null(insert_, 6);
        } else {
            sqlite3_bind_blob(insert_, 6, m.properties.data(),
                              static_cast<int>(m.properties.size()), SQLITE_STATIC);
        }
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
    log_.error("bridge queue {}: write failed: {}; {} messages not stored", db_.path().string(),
               db_.error(), offered);
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
        if (const auto* props = static_cast<const char*>(sqlite3_column_blob(select_, 5))) {
            m.properties.assign(props, static_cast<std::size_t>(sqlite3_column_bytes(select_, 5)));
        }
    }
    if (rc != SQLITE_DONE) {
        log_.error("bridge queue {}: read failed: {}", db_.path().string(), db_.error());
    }
    sqlite3_reset(select_);
    return out;
}

bool durable_queue::remove_range(std::int64_t first, std::int64_t last) {
    sqlite3_bind_int64(measure_, 1, first);
    sqlite3_bind_int64(measure_, 2, last);
    bool ok = sqlite3_step(measure_) == SQLITE_ROW;
    // Rows absent from the range were dropped meanwhile: only those present count.
    const auto n = ok ? static_cast<std::size_t>(sqlite3_column_int64(measure_, 0)) : 0;
    const auto bytes = ok ? static_cast<std::size_t>(sqlite3_column_int64(measure_, 1)) : 0;
    sqlite3_reset(measure_);
    if (ok && n > 0) {
        sqlite3_bind_int64(delete_, 1, first);
        sqlite3_bind_int64(delete_, 2, last);
        ok = sqlite3_step(delete_) == SQLITE_DONE;
        sqlite3_reset(delete_);
    }
    if (ok) {
        count_ -= n;
        bytes_ -= bytes;
    }
    return ok;
}

void durable_queue::remove(std::span<const std::int64_t> seqs) {
    if (seqs.empty()) {
        return;
    }
    // Acknowledgements come in the order the messages were sent, so the runs of consecutive
    // seqs are long: usually the whole batch is one DELETE.
    std::vector<std::int64_t> sorted(seqs.begin(), seqs.end());
    std::ranges::sort(sorted);
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    const auto saved = std::pair(count_, bytes_);
    transaction tx{db_};
    bool ok = tx.ok();
    for (std::size_t i = 0; ok && i < sorted.size();) {
        std::size_t end = i + 1;
        while (end < sorted.size() && sorted[end] == sorted[end - 1] + 1) {
            ++end;
        }
        ok = remove_range(sorted[i], sorted[end - 1]);
        i = end;
    }
    if (!ok || !tx.commit()) {
        // Nothing lost: the messages stay queued and are sent again after a restart.
        std::tie(count_, bytes_) = saved;
        log_.error("bridge queue {}: removing acknowledged messages failed: {}", db_.path().string(),
                   db_.error());
    }
}

} // namespace edgemq::bridge
