// SPDX-License-Identifier: Apache-2.0
#include "edgemq/broker/persist/sqlite_file.hpp"

#include "edgemq/broker/clock.hpp"

#include <spdlog/logger.h>
#include <sqlite3.h>

#include <chrono>
#include <stdexcept>
#include <string_view>
#include <system_error>

namespace edgemq::broker::persist {

sqlite_file::sqlite_file(std::filesystem::path file, std::string what, const char* schema,
                         spdlog::logger& log, bool full_sync)
    : file_(std::move(file)), what_(std::move(what)) {
    std::error_code ec;
    if (file_.has_parent_path()) {
        std::filesystem::create_directories(file_.parent_path(), ec);
        if (ec) {
            throw std::runtime_error("cannot create the directory of the " + what_ + " " +
                                     file_.string() + ": " + ec.message());
        }
    }
    try {
        open(schema, full_sync);
    } catch (const std::runtime_error& e) {
        if (db_ != nullptr && sqlite3_errcode(db_) == SQLITE_BUSY) {
            close();
            throw;
        }
        close();
        const auto stamp = unix_seconds();
        const auto aside = file_.string() + ".corrupt-" + std::to_string(stamp);
        for (const char* suffix : {"", "-wal", "-shm"}) {
            std::filesystem::rename(file_.string() + suffix, aside + suffix, ec);
        }
        log.error("{} {} is unreadable ({}); moved it to {} and started an empty one", what_,
                  file_.string(), e.what(), aside);
        open(schema, full_sync);
    }
}

sqlite_file::~sqlite_file() {
    close();
}

void sqlite_file::close() noexcept {
    for (auto* s : statements_) {
        sqlite3_finalize(s);
    }
    statements_.clear();
    sqlite3_close_v2(db_);
    db_ = nullptr;
}

void sqlite_file::open(const char* schema, bool full_sync) {
    // NOMUTEX: one thread uses the file at a time (see the class), so SQLite need not lock a
    // mutex in every call (a dozen per row written).
    if (sqlite3_open_v2(file_.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
        const std::string why = db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory";
        close();
        throw std::runtime_error("cannot open the " + what_ + " " + file_.string() + ": " + why);
    }
    // Exclusive locking: one gateway per file, and WAL needs no shared-memory file then.
    exec("PRAGMA locking_mode=EXCLUSIVE");
    exec("PRAGMA journal_mode=WAL");
    exec(full_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    exec(schema);
    sqlite3_stmt* check = prepare("PRAGMA quick_check");
    const bool healthy =
        sqlite3_step(check) == SQLITE_ROW &&
        std::string_view(reinterpret_cast<const char*>(sqlite3_column_text(check, 0))) == "ok";
    if (!healthy) {
        throw std::runtime_error("integrity check failed");
    }
}

void sqlite_file::exec(const char* sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
        std::string why = message != nullptr ? message : sqlite3_errmsg(db_);
        sqlite3_free(message);
        if (sqlite3_errcode(db_) == SQLITE_BUSY) {
            why = file_.string() + " is locked by another process (another edgemq using the same file?)";
        }
        throw std::runtime_error(why);
    }
}

sqlite3_stmt* sqlite_file::prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
        throw std::runtime_error(sqlite3_errmsg(db_));
    }
    statements_.push_back(s);
    return s;
}

std::string sqlite_file::error() const {
    return sqlite3_errmsg(db_);
}

transaction::transaction(sqlite_file& db) : db_(db.get()) {
    ok_ = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
}

transaction::~transaction() {
    if (ok_ && !committed_) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
}

bool transaction::commit() {
    committed_ = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
    return committed_;
}

} // namespace edgemq::broker::persist
