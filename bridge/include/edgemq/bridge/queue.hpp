// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/persist/sqlite_file.hpp"
#include "edgemq/config/model.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace spdlog {
class logger;
}

namespace edgemq::bridge {

/// A message waiting for the remote, with its remote topic already written.
struct queued_message {
    /// Position in the queue, assigned by durable_queue::push; increases for the file's life.
    std::int64_t seq = 0;
    std::string topic;
    std::string payload;
    std::uint8_t qos = 0;
    bool retain = false;
    /// Its MQTT 5.0 properties as a PUBLISH carries them (codec::encode_properties), empty when
    /// it has none: user properties, content type... survive the queue and restarts.
    std::string properties;

    /// What a message counts against max_bytes.
    std::size_t size() const noexcept { return topic.size() + payload.size(); }
};

/// The bridge's store-and-forward queue: an SQLite database in WAL mode, one row per message.
/// A message enters in a batched transaction before it is sent and leaves when the remote has
/// acknowledged it, so a restart or a `kill -9` loses nothing committed, and SQLite's journal
/// keeps a torn write at power loss from corrupting it. A file SQLite still cannot read is set
/// aside (renamed *.corrupt-<time>) and a new queue started, so that it never keeps the gateway
/// from starting. The file is locked exclusively: one gateway per queue.
/// Thread safety: none; one bridge thread owns it.
class durable_queue {
public:
    struct limits {
        std::size_t max_messages = 0; ///< 0 = unbounded
        std::size_t max_bytes = 0;    ///< 0 = unbounded
        config::queue_full_policy when_full = config::queue_full_policy::drop_oldest;
    };

    /// Opens or creates `file` (and its directory). Throws std::runtime_error naming the file
    /// when it cannot be created or is held by another process.
    durable_queue(std::filesystem::path file, limits bounds, spdlog::logger& log);
    durable_queue(const durable_queue&) = delete;
    durable_queue& operator=(const durable_queue&) = delete;

    struct push_result {
        std::uint64_t dropped = 0;        ///< messages dropped to stay within the limits
        std::int64_t dropped_through = 0; ///< the highest seq dropped (0: none)
        bool ok = true;                   ///< false: the write failed (logged); batch not stored
    };

    /// Appends `batch` in one transaction and assigns each message its seq. When the limits
    /// are exceeded, drops the oldest messages with seq > `in_flight_through` (those at or
    /// below are on the wire) or, with drop_newest, the new ones that do not fit; a dropped
    /// message is also erased from `batch`.
    push_result push(std::vector<queued_message>& batch, std::int64_t in_flight_through);

    /// Up to `max` messages with seq > `after`, in order.
    std::vector<queued_message> read_after(std::int64_t after, std::size_t max);

    /// Deletes the acknowledged messages, in one transaction.
    void remove(std::span<const std::int64_t> seqs);

    std::size_t size() const noexcept { return count_; }
    std::size_t bytes() const noexcept { return bytes_; }
    const std::filesystem::path& file() const noexcept { return db_.path(); }

private:
    std::uint64_t drop_oldest(std::int64_t after, std::size_t n, std::int64_t& through);
    /// Deletes the rows with first <= seq <= last; false when SQLite failed.
    bool remove_range(std::int64_t first, std::int64_t last);
    void add_properties_column();

    broker::persist::sqlite_file db_;
    limits limits_;
    spdlog::logger& log_;
    sqlite3_stmt* insert_ = nullptr;
    sqlite3_stmt* select_ = nullptr;
    sqlite3_stmt* measure_ = nullptr;
    sqlite3_stmt* delete_ = nullptr;
    sqlite3_stmt* drop_ = nullptr;
    std::size_t count_ = 0;
    std::size_t bytes_ = 0;
    std::int64_t last_seq_ = 0;
};

} // namespace edgemq::bridge
