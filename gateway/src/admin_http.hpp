// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/config/model.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace spdlog {
class logger;
}

namespace edgemq::broker {
class broker;
}

namespace edgemq::app {

class admin_http_impl;

/// The admin surface over HTTP(S): a JSON API under /api/v1/, Prometheus metrics at /metrics,
/// the dashboard at / and server-sent events at /api/v1/events (see docs in the README).
///
/// It runs one io_context on a thread of its own, so that the broker's blocking admin queries
/// (clients(), retained(), kick()...) are called from there and never from a broker handler.
/// Devices and bridges are not part of the gateway yet: /api/v1/devices and /api/v1/bridges
/// answer empty lists, and the page shows them as such.
///
/// Users come from `cfg.users_file` (Mosquitto password file format, PBKDF2-SHA512), re-read
/// when the file changes, so `edgemq ctl admins ...` takes effect without a restart. Clients
/// authenticate with the session cookie set by POST /api/v1/login (the page), the bearer token
/// that login returns, or HTTP Basic.
///
/// Thread safety: start, stop and port from one controlling thread.
class admin_http {
public:
    admin_http(config::admin cfg, broker::broker& b, std::shared_ptr<spdlog::logger> log);
    ~admin_http();
    admin_http(const admin_http&) = delete;
    admin_http& operator=(const admin_http&) = delete;

    /// Creates the first admin user if the users file has none (ensure_admin_user), loads the
    /// TLS files if configured, binds (throws std::system_error naming the address) and starts
    /// the server thread.
    void start();

    /// Closes the listener and every connection, and joins the thread. Idempotent.
    void stop();

    /// The bound port (the real one when the config asked for port 0).
    std::uint16_t port() const;

private:
    std::unique_ptr<admin_http_impl> impl_;
};

/// Where ensure_admin_user writes the first admin's password: `<users_file>.initial`.
std::filesystem::path initial_password_file(const std::filesystem::path& users_file);

/// When `users_file` is missing or has no user, adds `admin` with a random password (24
/// characters from the OpenSSL CSPRNG), writes "admin:<password>" to initial_password_file()
/// with mode 0600 and returns the password so that the caller logs it once. Returns nullopt
/// when there already is a user. Throws std::runtime_error naming the file on failure.
std::optional<std::string> ensure_admin_user(const std::filesystem::path& users_file);

} // namespace edgemq::app
