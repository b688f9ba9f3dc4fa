// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/bridge/status.hpp"
#include "edgemq/broker/broker.hpp"
#include "edgemq/config/model.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace spdlog {
class logger;
}

namespace edgemq::bridge {

class link;

/// Every configured bridge: each one a client of a remote broker on an I/O thread of its own
/// (connecting, DNS and TLS never stall the local broker or another bridge), fed by an
/// in-process client of the local broker, with a durable queue in between (queue.hpp).
/// The supervisor starts them, stops them and applies a reload to them (only what changed
/// restarts).
/// Thread safety: start/stop/apply from one controlling thread; bridges() from any thread.
class supervisor {
public:
    supervisor(std::vector<config::bridge> bridges, broker::broker& broker,
               std::shared_ptr<spdlog::logger> log, std::chrono::seconds sys_interval,
               std::size_t max_packet_size);
    ~supervisor();
    supervisor(const supervisor&) = delete;
    supervisor& operator=(const supervisor&) = delete;

    /// Opens every queue and starts connecting. Throws std::runtime_error naming a queue file
    /// that cannot be created or is held by another process.
    void start();
    /// Tells each remote "offline", closes the links and joins their threads. Idempotent.
    void stop();

    /// A snapshot of every bridge, in configuration order.
    std::vector<bridge_status> bridges() const;

    /// SIGHUP: restarts the bridges whose configuration changed, stops removed ones, starts
    /// new ones; the others keep their connections. Returns the names restarted or started.
    /// Throws as start() does for a new bridge's queue (the others are applied).
    std::vector<std::string> apply(const std::vector<config::bridge>& bridges);

private:
    std::unique_ptr<link> make_link(const config::bridge& cfg);

    broker::broker& broker_;
    std::shared_ptr<spdlog::logger> log_;
    std::chrono::seconds sys_interval_;
    std::size_t max_packet_size_;
    std::vector<config::bridge> configs_;
    /// Held by start/stop/apply and by bridges(), which the admin server calls from its own
    /// thread (found by TSan: a request during start() read links_ while it grew).
    mutable std::mutex links_mutex_;
    std::vector<std::unique_ptr<link>> links_; ///< guarded by links_mutex_
};

} // namespace edgemq::bridge
