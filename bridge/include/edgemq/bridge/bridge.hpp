// SPDX-License-Identifier: Apache-2.0
#pragma once

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

/// One bridge as the admin surface shows it (service::bridges()).
struct bridge_status {
    std::string name;
    /// "connecting", "connected" or "disconnected".
    std::string state = "disconnected";
    /// The remote in use, or the last one tried ("host:port").
    std::string address;
    /// Why the last attempt or connection failed; empty while connected.
    std::string last_error;
    std::uint64_t queued = 0;         ///< messages in the durable queue (in flight included)
    std::uint64_t queued_bytes = 0;   ///< their topics and payloads
    std::uint64_t sent = 0;           ///< PUBLISH packets sent to the remote (resends included)
    std::uint64_t acked = 0;          ///< acknowledged by the remote (PUBACK / PUBCOMP)
    std::uint64_t dropped = 0;        ///< lost on purpose: queue full, or QoS 0 while offline
    std::uint64_t received = 0;       ///< messages from the remote published locally
    std::int64_t connected_since = 0; ///< Unix seconds, 0 while not connected
};

class link;

/// Every configured bridge: each one a client of a remote broker on an I/O thread of its own
/// (connecting, DNS and TLS never stall the local broker or another bridge), fed by an
/// in-process client of the local broker, with a durable queue in between (queue.hpp).
/// Thread safety: start/stop/apply from one controlling thread; bridges() from any thread.
class service {
public:
    service(std::vector<config::bridge> bridges, broker::broker& broker,
            std::shared_ptr<spdlog::logger> log, std::chrono::seconds sys_interval,
            std::size_t max_packet_size);
    ~service();
    service(const service&) = delete;
    service& operator=(const service&) = delete;

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
