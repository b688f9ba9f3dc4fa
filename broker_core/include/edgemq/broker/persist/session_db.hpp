// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/message.hpp"
#include "edgemq/broker/persist/durable_store.hpp"
#include "edgemq/broker/persist/sqlite_file.hpp"
#include "edgemq/broker/protocol/session_state.hpp"

#include <boost/unordered/unordered_flat_map.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace edgemq::broker::persist {

/// A session as sessions.db keeps it between runs.
struct stored_session {
    std::uint64_t sid = 0; ///< the key of its rows, never reused
    std::string client_id;
    std::uint32_t expiry_interval = 0;
    /// Its client was connected when the row was written: at start-up that means the broker
    /// ended abnormally (a crash, kill -9, power loss) while it was.
    bool connected = false;
    std::int64_t disconnected_at = 0; ///< Unix seconds, when not connected
    std::optional<std::string> username;
    std::uint32_t listener = 0; ///< index in broker_options::listeners, for its ACL
    message_ptr will;           ///< null: none
    std::uint32_t will_delay = 0;
    std::vector<std::pair<std::string, protocol::subscription_options>> subscriptions;
    struct delivery {
        protocol::delivery d; ///< d.seq set
        std::uint16_t packet_id = 0; ///< 0: queued
        protocol::state_journal::stage stage = protocol::state_journal::stage::queued;
    };
    std::vector<delivery> deliveries; ///< in seq order
    std::vector<std::uint16_t> inbound_qos2;
};

/// The broker's sessions on disk ([broker] persistence): persistent sessions, their
/// subscriptions, the QoS 1/2 messages queued for them or in flight, the inbound QoS 2 packet
/// ids, and the wills of connected clients, so that a restart, an upgrade or a crash loses none
/// of them.
///
/// Changes are recorded as they happen, from any thread, in the order they happen, and return a
/// position; a thread of its own writes what has accumulated in one transaction (a group
/// commit) and then reports how far it has committed to on_commit. The broker holds back the
/// acknowledgement of a PUBLISH until the position of what it recorded for it is committed
/// (DESIGN.md rule 7). A delivery removed before the writer reached it never reaches the disk: a
/// subscriber that acknowledges quickly costs a map insert and erase, not two SQL statements.
/// Thread safety: the record functions, position() and committed() from any thread; load()
/// before the first record.
class session_db final : public protocol::state_journal {
public:
    /// Called on the writer's thread after each transaction with the position it reached, and
    /// whether it was written (false: the disk refused it, logged).
    using commit_handler = std::function<void(std::uint64_t through, bool ok)>;

    /// Opens or creates `file` (see sqlite_file; `full_sync`: an fsync per commit, which
    /// survives a power loss too). Throws std::runtime_error naming the file.
    session_db(std::filesystem::path file, bool full_sync, spdlog::logger& log);
    /// Writes what is pending, then stops the writer.
    ~session_db();
    session_db(const session_db&) = delete;
    session_db& operator=(const session_db&) = delete;

    /// Every stored session (rows of sessions that no longer exist are discarded).
    std::vector<stored_session> load();
    /// A key for a new session, never used before in this file.
    std::uint64_t new_sid() noexcept { return next_sid_.fetch_add(1, std::memory_order_relaxed); }
    /// Starts the writer; `on_commit` is called after each transaction.
    void start(commit_handler on_commit);

    std::uint64_t record_session(const stored_session& s); ///< its row, without what it holds
    std::uint64_t record_session_end(std::uint64_t sid);   ///< the session and all it holds
    std::uint64_t record_subscription(std::uint64_t sid, const std::string& filter,
                                      const protocol::subscription_options& o);
    std::uint64_t record_unsubscription(std::uint64_t sid, const std::string& filter);
    /// A QoS 1/2 delivery `d` (d.seq set) entered the session's queue.
    std::uint64_t record_delivery(std::uint64_t sid, const protocol::delivery& d);
    /// A message was handed to `store` at `position` (the retained store, a bridge's queue): the
    /// transaction that holds this change is reported committed only once `store` has written
    /// it too, so that one position covers every store for the publisher's acknowledgement.
    std::uint64_t record_handoff(std::shared_ptr<durable_store> store, std::uint64_t position);

    // protocol::state_journal: what the session's QoS state did with a delivery.
    void sent(std::uint64_t sid, std::uint64_t seq, std::uint16_t packet_id, stage s) override;
    void removed(std::uint64_t sid, std::uint64_t seq) override;
    void inbound(std::uint64_t sid, std::uint16_t packet_id, bool open) override;

    /// The position of the last change recorded on the calling thread (0: none yet).
    static std::uint64_t last_recorded_here() noexcept;
    /// Everything up to this position is on disk (or failed).
    std::uint64_t committed() const noexcept { return committed_.load(std::memory_order_acquire); }
    /// The last transaction failed (a full or read-only disk); cleared by one that succeeds.
    bool failing() const noexcept { return failing_.load(std::memory_order_relaxed); }
    std::uint64_t write_errors() const noexcept { return errors_.load(std::memory_order_relaxed); }
    /// Waits until everything recorded before the call is committed.
    void flush();

    const std::filesystem::path& path() const noexcept { return db_.path(); }

private:
    /// A session's own row; behind a pointer, so that the common changes stay small.
    struct session_row {
        std::unique_ptr<stored_session> row;
    };
    struct session_end {
        std::uint64_t sid;
    };
    struct subscription_row {
        std::uint64_t sid;
        std::string filter;
        protocol::subscription_options o;
    };
    struct unsubscription {
        std::uint64_t sid;
        std::string filter;
    };
    struct delivery_row {
        std::uint64_t sid;
        protocol::delivery d;
        std::uint16_t packet_id = 0;
        stage st = stage::queued;
        bool cancelled = false; ///< removed before it was written
    };
    struct delivery_update {
        std::uint64_t sid;
        std::uint64_t seq;
        std::uint16_t packet_id;
        stage st;
    };
    struct delivery_end {
        std::uint64_t sid;
        std::uint64_t seq;
    };
    struct inbound_id {
        std::uint64_t sid;
        std::uint16_t packet_id;
        bool open;
    };
    struct handoff {
        std::shared_ptr<durable_store> store;
        std::uint64_t position;
    };
    /// The deliveries seq `from` to `to` of session `sid`, removed.
    struct removal_run {
        std::uint64_t sid, from, to;
    };
    using change = std::variant<session_row, session_end, subscription_row, unsubscription,
                                delivery_row, delivery_update, delivery_end, inbound_id,
                                handoff>;
    struct key {
        std::uint64_t sid, seq;
        bool operator==(const key&) const = default;
    };
    struct key_hash {
        std::size_t operator()(const key& k) const noexcept {
            return std::hash<std::uint64_t>{}(k.sid * 0x9E3779B97F4A7C15ull ^ k.seq);
        }
    };

    std::uint64_t push(change c);
    void run();
    /// Moves what is pending into `batch` for writing; with mutex_ held.
    void take(std::vector<change>& batch);
    /// The writer takes change `i` of the batch; false: a removal cancelled it first.
    bool claim_for_writing(std::size_t i);
    bool write(std::vector<change>& batch);
    bool apply(const change& c);
    bool erase(const removal_run& r);
    void prepare_statements();

    sqlite_file db_;
    spdlog::logger& log_;
    struct statements;
    std::unique_ptr<statements> st_;

    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable written_;
    std::vector<change> pending_; ///< guarded by mutex_
    /// The delivery rows in pending_ by (sid, seq): a later update or removal folds into them.
    /// Open addressing: no allocation per message, as a node-based map would make.
    boost::unordered_flat_map<key, std::size_t, key_hash> pending_deliveries_; ///< guarded by mutex_
    /// The delivery rows of the batch being written, and a claim on each change of it: a
    /// removal that comes before the writer reaches its row still keeps the row off the disk.
    /// The index is guarded by mutex_; the claims are taken without it, by one side only.
    enum class claim : std::uint8_t { open, written, cancelled };
    boost::unordered_flat_map<key, std::size_t, key_hash> writing_deliveries_;
    std::unique_ptr<std::atomic<claim>[]> claims_; ///< replaced only in take(), with mutex_ held
    std::size_t claims_size_ = 0;
    std::uint64_t recorded_ = 0; ///< guarded by mutex_
    bool stopping_ = false;      ///< guarded by mutex_
    std::atomic<std::uint64_t> next_sid_{1};
    std::atomic<std::uint64_t> committed_{0};
    std::atomic<bool> failing_{false};
    std::atomic<std::uint64_t> errors_{0};
    commit_handler on_commit_;
    std::thread writer_;
};

} // namespace edgemq::broker::persist
