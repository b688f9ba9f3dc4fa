// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "backoff.hpp"
#include "forwarder.hpp"
#include "status_board.hpp"
#include "transport.hpp"
#include "upstream.hpp"

#include "edgemq/bridge/status.hpp"
#include "edgemq/broker/broker.hpp"
#include "edgemq/config/model.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

namespace edgemq::bridge {

/// One bridge: its own I/O thread, on which the upstream session connects (with failover
/// between the addresses and backoff between attempts), the forwarder moves messages and the
/// status board publishes `$SYS`. Everything but the constructor, stop() and status() runs on
/// that thread.
class link {
public:
    /// Throws std::runtime_error for a TLS file that cannot be used.
    link(config::bridge cfg, broker::broker& broker, std::shared_ptr<spdlog::logger> log,
         std::chrono::seconds sys_interval, std::size_t max_packet_size);
    ~link();

    /// Opens the queue (throws std::runtime_error), subscribes locally and starts the thread.
    void start();
    /// Tells the remote "offline", disconnects and joins the thread. Idempotent.
    void stop();
    bridge_status status() const { return status_.snapshot(); }
    const config::bridge& config() const noexcept { return cfg_; }

private:
    asio::awaitable<void> async_run();

    asio::io_context ctx_; // first: destroyed last, with the coroutines still suspended in it
    config::bridge cfg_;
    std::shared_ptr<spdlog::logger> log_;
    std::chrono::seconds sys_interval_;
    std::string client_id_;
    status_board status_;
    transport transport_;
    forwarder forwarder_;
    upstream upstream_;
    backoff backoff_;
    asio::steady_timer stop_timer_;
    bool stopping_ = false;
    std::string last_failure_;
    std::thread thread_;
};

} // namespace edgemq::bridge
