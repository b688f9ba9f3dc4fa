// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/auth/password_file.hpp"

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <sys/types.h>

namespace spdlog {
class logger;
}

namespace edgemq::app {

/// The admin users and their login sessions.
///
/// Users live in a Mosquitto-format password file (PBKDF2-SHA512), re-read when its
/// modification time changes, so that `edgemq ctl admins ...` edits apply at the next request.
/// Sessions (the page's cookie and the API's bearer token are the same token) live in memory:
/// a restart logs everybody out, which is what an operator expects of a restart.
///
/// Thread safety: none; the admin server calls it from its one thread.
class admin_users {
public:
    static constexpr auto session_lifetime = std::chrono::hours(8);
    static constexpr std::size_t max_sessions = 1024;

    admin_users(std::filesystem::path users_file, std::shared_ptr<spdlog::logger> log);

    /// Re-reads the users file when it changed. A file that is refused keeps the previous
    /// users; a file that is gone leaves none. Each change is logged once.
    void reload();

    /// Whether `password` is the password of `user` (after reload()).
    bool verify(std::string_view user, std::string_view password);

    /// A new session for `user`: a token of 64 hex digits from the OpenSSL CSPRNG, valid for
    /// session_lifetime. Expired sessions go, and the oldest ones beyond max_sessions.
    std::string open_session(const std::string& user);

    /// The user of a live session, nullopt for an unknown or expired token.
    std::optional<std::string> session_user(std::string_view token);

    void close_session(std::string_view token);

private:
    struct session {
        std::string user;
        std::chrono::steady_clock::time_point expires;
    };

    std::filesystem::path file_;
    std::shared_ptr<spdlog::logger> log_;
    broker::auth::password_file users_;
    /// What tells a changed users file from the one loaded.
    struct file_stamp {
        dev_t device;
        ino_t inode;
        off_t size;
        time_t seconds;
        long nanoseconds;
        bool operator==(const file_stamp&) const = default;
    };
    file_stamp stamp_{};
    bool loaded_ = false;
    std::unordered_map<std::string, session> sessions_;
};

/// Where ensure_admin_user writes the first admin's password: `<users_file>.initial`.
std::filesystem::path initial_password_file(const std::filesystem::path& users_file);

/// When `users_file` is missing or has no user, adds `admin` with a random password (24
/// characters from the OpenSSL CSPRNG), writes "admin:<password>" to initial_password_file()
/// with mode 0600 and returns the password so that the caller logs it once. Returns nullopt
/// when there already is a user. Throws std::runtime_error naming the file on failure.
std::optional<std::string> ensure_admin_user(const std::filesystem::path& users_file);

} // namespace edgemq::app
