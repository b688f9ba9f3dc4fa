// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <filesystem>
#include <string>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace spdlog {
class logger;
}

namespace edgemq::broker::persist {

/// An SQLite database file the way edgemq keeps state on disk (the bridge queues, the retained
/// messages): its directory created, WAL with synchronous=NORMAL (a commit survives a crash of
/// the process; at power loss the last commits may be lost but the file stays consistent), and
/// an exclusive lock (one gateway per file). A file SQLite cannot read (torn, foreign) is set
/// aside as FILE.corrupt-<unix time> and a new one started: it never keeps the gateway from
/// starting. Statements made by prepare() are finalized with the file.
/// Thread safety: none; one thread owns it.
class sqlite_file {
public:
    /// Opens or creates `file` and runs `schema` (CREATE TABLE IF NOT EXISTS ...). `what` names
    /// the file in errors and logs ("bridge queue"). Throws std::runtime_error naming the file
    /// when it cannot be created or another process holds it.
    /// With `full_sync`, each commit is also fsynced (survives a power loss, not only a crash
    /// of the process).
    sqlite_file(std::filesystem::path file, std::string what, const char* schema,
                spdlog::logger& log, bool full_sync = false);
    ~sqlite_file();
    sqlite_file(const sqlite_file&) = delete;
    sqlite_file& operator=(const sqlite_file&) = delete;

    sqlite3* get() const noexcept { return db_; }
    const std::filesystem::path& path() const noexcept { return file_; }

    /// Runs `sql`; throws std::runtime_error with SQLite's reason.
    void exec(const char* sql);
    /// A statement kept for the file's life.
    sqlite3_stmt* prepare(const char* sql);
    /// SQLite's last error message.
    std::string error() const;

private:
    void open(const char* schema, bool full_sync);
    void close() noexcept;

    std::filesystem::path file_;
    std::string what_;
    sqlite3* db_ = nullptr;
    std::vector<sqlite3_stmt*> statements_;
};

/// BEGIN IMMEDIATE ... COMMIT; rolled back unless committed (an error path left early).
class transaction {
public:
    explicit transaction(sqlite_file& db);
    ~transaction();
    transaction(const transaction&) = delete;
    transaction& operator=(const transaction&) = delete;

    bool ok() const noexcept { return ok_; }
    bool commit();

private:
    sqlite3* db_;
    bool ok_ = false;
    bool committed_ = false;
};

} // namespace edgemq::broker::persist
