// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "admin_users.hpp"

#include "edgemq/config/model.hpp"

#include <cstdint>
#include <memory>

namespace spdlog {
class logger;
}

namespace edgemq::broker {
class broker;
}

namespace edgemq::serial {
class service;
}

namespace edgemq::bridge {
class supervisor;
}

namespace edgemq::modbus {
class service;
}

namespace edgemq::app {

class admin_http_impl;

/// The admin surface over HTTP(S): a JSON API under /api/v1/, Prometheus metrics at /metrics,
/// the dashboard at / and server-sent events at /api/v1/events (see docs in the README).
///
/// It runs one io_context on a thread of its own, so that the broker's blocking admin queries
/// (clients(), retained(), kick()...) are called from there and never from a broker handler.
/// Serial devices, bridges and Modbus buses come from the services given at construction (none
/// without).
///
/// Users come from `cfg.users_file` (see admin_users). Clients authenticate with the session
/// cookie set by POST /api/v1/login (the page), the bearer token that login returns, or HTTP
/// Basic.
///
/// Thread safety: start, stop and port from one controlling thread.
class admin_http {
public:
    /// `devices`, `bridges` and `buses` may be null; they must outlive stop().
    admin_http(config::admin cfg, broker::broker& b, std::shared_ptr<spdlog::logger> log,
               serial::service* devices = nullptr, bridge::supervisor* bridges = nullptr,
               modbus::service* buses = nullptr);
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

} // namespace edgemq::app
