// SPDX-License-Identifier: Apache-2.0
#include "edgemq/broker/persist/session_db.hpp"

#include "columns.hpp"

#include "edgemq/broker/codec/properties.hpp"

#include <spdlog/logger.h>
#include <sqlite3.h>

#include <chrono>
#include <map>

namespace edgemq::broker::persist {
namespace {

using namespace columns;

thread_local std::uint64_t last_recorded = 0;

constexpr const char* schema = R"sql(
CREATE TABLE IF NOT EXISTS sessions (
    sid INTEGER PRIMARY KEY, client_id TEXT NOT NULL, expiry INTEGER NOT NULL,
    connected INTEGER NOT NULL, disconnected_at INTEGER NOT NULL, username TEXT,
    listener INTEGER NOT NULL, will_topic TEXT, will_payload BLOB, will_qos INTEGER,
    will_retain INTEGER, will_props BLOB, will_delay INTEGER);
CREATE TABLE IF NOT EXISTS subscriptions (
    sid INTEGER NOT NULL, filter TEXT NOT NULL, qos INTEGER NOT NULL, flags INTEGER NOT NULL,
    identifier INTEGER NOT NULL, PRIMARY KEY (sid, filter)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deliveries (
    sid INTEGER NOT NULL, seq INTEGER NOT NULL, packet_id INTEGER NOT NULL,
    stage INTEGER NOT NULL, qos INTEGER NOT NULL, flags INTEGER NOT NULL,
    subscription_ids BLOB, topic TEXT NOT NULL, payload BLOB NOT NULL,
    message_qos INTEGER NOT NULL, props BLOB, expires_at INTEGER NOT NULL,
    PRIMARY KEY (sid, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inbound_qos2 (
    sid INTEGER NOT NULL, packet_id INTEGER NOT NULL, PRIMARY KEY (sid, packet_id)) WITHOUT ROWID;
)sql";

// Delivery flags: its retain flag, and whether it came through a shared subscription.
constexpr int flag_retain = 1;
constexpr int flag_shared = 2;
// Subscription flags.
constexpr int flag_no_local = 1;
constexpr int flag_retain_as_published = 2;

} // namespace

struct session_db::statements {
    sqlite3_stmt* upsert_session;
    sqlite3_stmt* end_session[4];
    sqlite3_stmt* upsert_subscription;
    sqlite3_stmt* erase_subscription;
    sqlite3_stmt* insert_delivery;
    sqlite3_stmt* update_delivery;
    sqlite3_stmt* erase_deliveries;
    sqlite3_stmt* insert_inbound;
    sqlite3_stmt* erase_inbound;
};

session_db::session_db(std::filesystem::path file, bool full_sync, spdlog::logger& log)
    : db_(std::move(file), "session store", schema, log, full_sync), log_(log) {
    prepare_statements();
}

void session_db::prepare_statements() {
    st_ = std::make_unique<statements>();
    st_->upsert_session = db_.prepare(
        "INSERT OR REPLACE INTO sessions (sid, client_id, expiry, connected, disconnected_at, "
        "username, listener, will_topic, will_payload, will_qos, will_retain, will_props, "
        "will_delay) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
    st_->end_session[0] = db_.prepare("DELETE FROM sessions WHERE sid = ?1");
    st_->end_session[1] = db_.prepare("DELETE FROM subscriptions WHERE sid = ?1");
    st_->end_session[2] = db_.prepare("DELETE FROM deliveries WHERE sid = ?1");
    st_->end_session[3] = db_.prepare("DELETE FROM inbound_qos2 WHERE sid = ?1");
    st_->upsert_subscription = db_.prepare(
        "INSERT OR REPLACE INTO subscriptions (sid, filter, qos, flags, identifier) "
        "VALUES (?1, ?2, ?3, ?4, ?5)");
    st_->erase_subscription = db_.prepare("DELETE FROM subscriptions WHERE sid = ?1 AND filter = ?2");
    st_->insert_delivery = db_.prepare(
        "INSERT OR REPLACE INTO deliveries (sid, seq, packet_id, stage, qos, flags, "
        "subscription_ids, topic, payload, message_qos, props, expires_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
    st_->update_delivery = db_.prepare(
        "UPDATE deliveries SET packet_id = ?3, stage = ?4 WHERE sid = ?1 AND seq = ?2");
    st_->erase_deliveries =
        db_.prepare("DELETE FROM deliveries WHERE sid = ?1 AND seq BETWEEN ?2 AND ?3");
    st_->insert_inbound =
        db_.prepare("INSERT OR IGNORE INTO inbound_qos2 (sid, packet_id) VALUES (?1, ?2)");
    st_->erase_inbound = db_.prepare("DELETE FROM inbound_qos2 WHERE sid = ?1 AND packet_id = ?2");
}

session_db::~session_db() {
    {
        const std::lock_guard lock{mutex_};
        stopping_ = true;
    }
    wake_.notify_one();
    if (writer_.joinable()) {
        writer_.join();
    } else {
        std::vector<change> rest;
        take(rest);
        write(rest); // never started: what was recorded still goes to disk
    }
}

std::vector<stored_session> session_db::load() {
    // Rows a session left behind when it ended in a transaction that was cut short.
    db_.exec("DELETE FROM sessions WHERE sid NOT IN "
             "(SELECT max(sid) FROM sessions GROUP BY client_id)");
    for (const char* table : {"subscriptions", "deliveries", "inbound_qos2"}) {
        const std::string sql = std::string{"DELETE FROM "} + table +
                                " WHERE sid NOT IN (SELECT sid FROM sessions)";
        db_.exec(sql.c_str());
    }
    std::vector<stored_session> out;
    std::map<std::uint64_t, std::size_t> index;
    std::uint64_t max_sid = 0;
    auto* q = db_.prepare(
        "SELECT sid, client_id, expiry, connected, disconnected_at, username, listener, "
        "will_topic, will_payload, will_qos, will_retain, will_props, will_delay FROM sessions "
        "ORDER BY sid");
    while (sqlite3_step(q) == SQLITE_ROW) {
        stored_session s;
        s.sid = static_cast<std::uint64_t>(sqlite3_column_int64(q, 0));
        s.client_id = column_text(q, 1);
        s.expiry_interval = static_cast<std::uint32_t>(sqlite3_column_int64(q, 2));
        s.connected = sqlite3_column_int(q, 3) != 0;
        s.disconnected_at = sqlite3_column_int64(q, 4);
        if (sqlite3_column_type(q, 5) != SQLITE_NULL) {
            s.username = column_text(q, 5);
        }
        s.listener = static_cast<std::uint32_t>(sqlite3_column_int(q, 6));
        if (sqlite3_column_type(q, 7) != SQLITE_NULL) {
            auto m = std::make_shared<message>(message{
                column_text(q, 7), column_blob(q, 8), static_cast<std::uint8_t>(sqlite3_column_int(q, 9)),
                sqlite3_column_int(q, 10) != 0});
            m->props = column_props(q, 11);
            s.will = std::move(m);
            s.will_delay = static_cast<std::uint32_t>(sqlite3_column_int64(q, 12));
        }
        max_sid = std::max(max_sid, s.sid);
        index.emplace(s.sid, out.size());
        out.push_back(std::move(s));
    }
    sqlite3_reset(q);
    next_sid_.store(max_sid + 1, std::memory_order_relaxed);

    auto* subs = db_.prepare("SELECT sid, filter, qos, flags, identifier FROM subscriptions");
    while (sqlite3_step(subs) == SQLITE_ROW) {
        auto& s = out[index.at(static_cast<std::uint64_t>(sqlite3_column_int64(subs, 0)))];
        const int flags = sqlite3_column_int(subs, 3);
        s.subscriptions.emplace_back(
            column_text(subs, 1),
            protocol::subscription_options{static_cast<std::uint8_t>(sqlite3_column_int(subs, 2)),
                                           (flags & flag_no_local) != 0,
                                           (flags & flag_retain_as_published) != 0,
                                           static_cast<std::uint32_t>(sqlite3_column_int64(subs, 4))});
    }
    sqlite3_reset(subs);

    auto* dels = db_.prepare(
        "SELECT sid, seq, packet_id, stage, qos, flags, subscription_ids, topic, payload, "
        "message_qos, props, expires_at FROM deliveries ORDER BY sid, seq");
    while (sqlite3_step(dels) == SQLITE_ROW) {
        auto& s = out[index.at(static_cast<std::uint64_t>(sqlite3_column_int64(dels, 0)))];
        auto m = std::make_shared<message>(message{column_text(dels, 7), column_blob(dels, 8),
                                                   static_cast<std::uint8_t>(sqlite3_column_int(dels, 9)),
                                                   false});
        m->props = column_props(dels, 10);
        m->expires_at = from_unix_ms(sqlite3_column_int64(dels, 11));
        const int flags = sqlite3_column_int(dels, 5);
        stored_session::delivery d;
        d.d.msg = std::move(m);
        d.d.qos = static_cast<std::uint8_t>(sqlite3_column_int(dels, 4));
        d.d.retain = (flags & flag_retain) != 0;
        d.d.shared = (flags & flag_shared) != 0;
        const auto ids = column_blob(dels, 6);
        for (std::size_t i = 0; i + 4 <= ids.size(); i += 4) {
            std::uint32_t v = 0;
            for (int b = 0; b < 4; ++b) {
                v |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(ids[i + b])) << (8 * b);
            }
            d.d.subscription_ids.push_back(v);
        }
        d.d.seq = static_cast<std::uint64_t>(sqlite3_column_int64(dels, 1));
        d.packet_id = static_cast<std::uint16_t>(sqlite3_column_int(dels, 2));
        d.stage = static_cast<stage>(sqlite3_column_int(dels, 3));
        s.deliveries.push_back(std::move(d));
    }
    sqlite3_reset(dels);

    auto* in = db_.prepare("SELECT sid, packet_id FROM inbound_qos2");
    while (sqlite3_step(in) == SQLITE_ROW) {
        out[index.at(static_cast<std::uint64_t>(sqlite3_column_int64(in, 0)))]
            .inbound_qos2.push_back(static_cast<std::uint16_t>(sqlite3_column_int(in, 1)));
    }
    sqlite3_reset(in);
    return out;
}

void session_db::start(commit_handler on_commit) {
    on_commit_ = std::move(on_commit);
    writer_ = std::thread([this] { run(); });
}

std::uint64_t session_db::push(change c) {
    bool was_idle = false;
    std::uint64_t at = 0;
    {
        const std::lock_guard lock{mutex_};
        at = ++recorded_;
        was_idle = pending_.empty();
        if (auto* u = std::get_if<delivery_update>(&c)) {
            if (auto it = pending_deliveries_.find({u->sid, u->seq}); it != pending_deliveries_.end()) {
                auto& row = std::get<delivery_row>(pending_[it->second]);
                row.packet_id = u->packet_id;
                row.st = u->st;
                last_recorded = at;
                return at; // folded into the row not yet written
            }
        } else if (auto* e = std::get_if<delivery_end>(&c)) {
            if (auto it = pending_deliveries_.find({e->sid, e->seq}); it != pending_deliveries_.end()) {
                std::get<delivery_row>(pending_[it->second]).cancelled = true;
                pending_deliveries_.erase(it);
                last_recorded = at;
                return at; // never reaches the disk
            }
            if (auto it = writing_deliveries_.find({e->sid, e->seq}); it != writing_deliveries_.end()) {
                auto expected = claim::open;
                if (claims_[it->second].compare_exchange_strong(expected, claim::cancelled)) {
                    last_recorded = at;
                    return at; // the writer had not reached it: it skips it
                }
            }
        } else if (auto* r = std::get_if<delivery_row>(&c)) {
            pending_deliveries_[{r->sid, r->d.seq}] = pending_.size();
        }
        pending_.push_back(std::move(c));
    }
    last_recorded = at;
    // The writer takes everything pending at once: one wake-up per batch, not per change.
    if (was_idle) {
        wake_.notify_one();
    }
    return at;
}

std::uint64_t session_db::last_recorded_here() noexcept {
    return last_recorded;
}

std::uint64_t session_db::record_session(const stored_session& s) {
    auto row = std::make_unique<stored_session>();
    row->sid = s.sid;
    row->client_id = s.client_id;
    row->expiry_interval = s.expiry_interval;
    row->connected = s.connected;
    row->disconnected_at = s.disconnected_at;
    row->username = s.username;
    row->listener = s.listener;
    row->will = s.will;
    row->will_delay = s.will_delay;
    return push(session_row{std::move(row)});
}

std::uint64_t session_db::record_session_end(std::uint64_t sid) {
    return push(session_end{sid});
}

std::uint64_t session_db::record_subscription(std::uint64_t sid, const std::string& filter,
                                              const protocol::subscription_options& o) {
    return push(subscription_row{sid, filter, o});
}

std::uint64_t session_db::record_unsubscription(std::uint64_t sid, const std::string& filter) {
    return push(unsubscription{sid, filter});
}

std::uint64_t session_db::record_delivery(std::uint64_t sid, const protocol::delivery& d) {
    return push(delivery_row{sid, d});
}

std::uint64_t session_db::record_handoff(std::shared_ptr<durable_store> store,
                                         std::uint64_t position) {
    return push(handoff{std::move(store), position});
}

void session_db::sent(std::uint64_t sid, std::uint64_t seq, std::uint16_t packet_id, stage s) {
    push(delivery_update{sid, seq, packet_id, s});
}

void session_db::removed(std::uint64_t sid, std::uint64_t seq) {
    push(delivery_end{sid, seq});
}

void session_db::inbound(std::uint64_t sid, std::uint16_t packet_id, bool open) {
    push(inbound_id{sid, packet_id, open});
}

void session_db::flush() {
    std::unique_lock lock{mutex_};
    const auto target = recorded_;
    written_.wait(lock, [&] { return committed_.load() >= target || !writer_.joinable(); });
}

void session_db::run() {
    std::vector<change> batch;
    std::unique_lock lock{mutex_};
    for (;;) {
        wake_.wait(lock, [&] { return !pending_.empty() || stopping_; });
        if (pending_.empty()) {
            return; // stopping, and everything is written
        }
        take(batch);
        const auto through = recorded_;
        lock.unlock();
        const bool ok = write(batch);
        batch.clear(); // the messages it held go here, not under the lock
        if (batch.capacity() > 65536) {
            batch.shrink_to_fit(); // a burst's memory goes back
        }
        committed_.store(through, std::memory_order_release);
        if (on_commit_) {
            on_commit_(through, ok);
        }
        lock.lock();
        written_.notify_all();
    }
}

void session_db::take(std::vector<change>& batch) {
    batch.swap(pending_); // both keep their capacity: no growing anew for every batch
    writing_deliveries_.swap(pending_deliveries_);
    pending_deliveries_.clear();
    if (claims_size_ < batch.size()) {
        claims_size_ = std::max(batch.size(), 2 * claims_size_);
        claims_ = std::make_unique<std::atomic<claim>[]>(claims_size_);
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
        claims_[i].store(claim::open, std::memory_order_relaxed);
    }
}

bool session_db::claim_for_writing(std::size_t i) {
    auto expected = claim::open;
    return claims_[i].compare_exchange_strong(expected, claim::written);
}

bool session_db::write(std::vector<change>& batch) {
    transaction tx{db_};
    bool ok = tx.ok();
    // A client acknowledges in order, so the removals of a session's deliveries come in runs
    // of consecutive seqs: one DELETE for each run. Deferring a removal past other changes is
    // safe: none of them touches a delivery that is already removed.
    std::optional<removal_run> run;
    for (auto it = batch.begin(); ok && it != batch.end(); ++it) {
        if (const auto* e = std::get_if<delivery_end>(&*it)) {
            if (run && run->sid == e->sid && run->to + 1 == e->seq) {
                run->to = e->seq;
                continue;
            }
            ok = !run || erase(*run);
            run = removal_run{e->sid, e->seq, e->seq};
        } else if (std::holds_alternative<delivery_row>(*it) &&
                   !claim_for_writing(static_cast<std::size_t>(it - batch.begin()))) {
            continue; // removed while this batch was being written
        } else {
            ok = apply(*it);
        }
    }
    ok = ok && (!run || erase(*run)) && tx.commit();
    // What the batch handed to other stores: committed only once those have it too.
    bool others_ok = true;
    for (const auto& c : batch) {
        if (const auto* h = std::get_if<handoff>(&c)) {
            others_ok = h->store->written(h->position) && others_ok;
        }
    }
    if (ok) {
        if (failing_.exchange(false, std::memory_order_relaxed)) {
            log_.info("session store {}: writing again", db_.path().string());
        }
        return others_ok; // a store that failed logged it itself
    }
    errors_.fetch_add(1, std::memory_order_relaxed);
    if (!failing_.exchange(true, std::memory_order_relaxed)) {
        // Once per failing streak: a full disk fails every batch.
        log_.error("session store {}: write failed: {}; the sessions' latest changes are in "
                   "memory only, and new QoS 1/2 messages for persistent sessions are not "
                   "acknowledged until it writes again",
                   db_.path().string(), db_.error());
    }
    return false;
}

bool session_db::apply(const change& c) {
    return std::visit(
        [this](const auto& v) -> bool {
            using T = std::decay_t<decltype(v)>;
            auto run = [](sqlite3_stmt* s) {
                const bool done = sqlite3_step(s) == SQLITE_DONE;
                sqlite3_reset(s);
                sqlite3_clear_bindings(s);
                return done;
            };
            if constexpr (std::is_same_v<T, session_row>) {
                const stored_session& r = *v.row;
                auto* s = st_->upsert_session;
                sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(r.sid));
                bind_text(s, 2, r.client_id);
                sqlite3_bind_int64(s, 3, r.expiry_interval);
                sqlite3_bind_int(s, 4, r.connected ? 1 : 0);
                sqlite3_bind_int64(s, 5, r.disconnected_at);
                if (r.username) {
                    bind_text(s, 6, *r.username);
                }
                sqlite3_bind_int(s, 7, static_cast<int>(r.listener));
                if (r.will) {
                    bind_text(s, 8, r.will->topic);
                    bind_blob(s, 9, r.will->payload);
                    sqlite3_bind_int(s, 10, r.will->qos);
                    sqlite3_bind_int(s, 11, r.will->retain ? 1 : 0);
                    bind_props(s, 12, r.will->props);
                    sqlite3_bind_int64(s, 13, r.will_delay);
                }
                return run(s);
            } else if constexpr (std::is_same_v<T, session_end>) {
                for (auto* s : st_->end_session) {
                    sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(v.sid));
                    if (!run(s)) {
                        return false;
                    }
                }
                return true;
            } else if constexpr (std::is_same_v<T, subscription_row>) {
                auto* s = st_->upsert_subscription;
                sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(v.sid));
                bind_text(s, 2, v.filter);
                sqlite3_bind_int(s, 3, v.o.qos);
                sqlite3_bind_int(s, 4, (v.o.no_local ? flag_no_local : 0) |
                                           (v.o.retain_as_published ? flag_retain_as_published : 0));
                sqlite3_bind_int64(s, 5, v.o.identifier);
                return run(s);
            } else if constexpr (std::is_same_v<T, unsubscription>) {
                auto* s = st_->erase_subscription;
                sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(v.sid));
                bind_text(s, 2, v.filter);
                return run(s);
            } else if constexpr (std::is_same_v<T, delivery_row>) {
                if (v.cancelled) {
                    return true;
                }
                const auto& m = *v.d.msg;
                auto* s = st_->insert_delivery;
                sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(v.sid));
                sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(v.d.seq));
                sqlite3_bind_int(s, 3, v.packet_id);
                sqlite3_bind_int(s, 4, static_cast<int>(v.st));
                sqlite3_bind_int(s, 5, v.d.qos);
                sqlite3_bind_int(s, 6, (v.d.retain ? flag_retain : 0) | (v.d.shared ? flag_shared : 0));
                if (!v.d.subscription_ids.empty()) {
                    std::string ids;
                    for (const auto id : v.d.subscription_ids) {
                        for (int b = 0; b < 4; ++b) {
                            ids.push_back(static_cast<char>((id >> (8 * b)) & 0xff));
                        }
                    }
                    sqlite3_bind_blob(s, 7, ids.data(), static_cast<int>(ids.size()),
                                      SQLITE_TRANSIENT);
                }
                bind_text(s, 8, m.topic);
                bind_blob(s, 9, m.payload);
                sqlite3_bind_int(s, 10, m.qos);
                bind_props(s, 11, m.props);
                sqlite3_bind_int64(s, 12, to_unix_ms(m.expires_at));
                return run(s);
            } else if constexpr (std::is_same_v<T, delivery_update>) {
                auto* s = st_->update_delivery;
                sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(v.sid));
                sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(v.seq));
                sqlite3_bind_int(s, 3, v.packet_id);
                sqlite3_bind_int(s, 4, static_cast<int>(v.st));
                return run(s);
            } else if constexpr (std::is_same_v<T, delivery_end>) {
                return true; // write() erases these, a run of them at a time
            } else if constexpr (std::is_same_v<T, handoff>) {
                return true; // its store writes it; write() waits for that
            } else {
                auto* s = v.open ? st_->insert_inbound : st_->erase_inbound;
                sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(v.sid));
                sqlite3_bind_int(s, 2, v.packet_id);
                return run(s);
            }
        },
        c);
}

bool session_db::erase(const removal_run& r) {
    auto* s = st_->erase_deliveries;
    sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(r.sid));
    sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(r.from));
    sqlite3_bind_int64(s, 3, static_cast<sqlite3_int64>(r.to));
    const bool done = sqlite3_step(s) == SQLITE_DONE;
    sqlite3_reset(s);
    return done;
}

} // namespace edgemq::broker::persist
