// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "web.hpp"

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace spdlog {
class logger;
}

namespace edgemq::broker {
class broker;
}

namespace edgemq::serial {
class service;
struct device_status;
} // namespace edgemq::serial

namespace edgemq::bridge {
class supervisor;
struct bridge_status;
} // namespace edgemq::bridge

namespace edgemq::modbus {
class service;
} // namespace edgemq::modbus

namespace edgemq::app {

/// The JSON API under /api/v1/ once the request is authenticated, the Prometheus text of
/// /metrics, and the message-rate history of the dashboard's chart.
///
/// Thread safety: none; the admin server's thread only. The broker's admin queries block until
/// every I/O thread has answered, so they must never run on a broker thread.
class admin_api {
public:
    /// The admin server itself, as /api/v1/status lists it among the listeners.
    struct self_listener {
        std::string type; // "http" or "https"
        std::string host;
        std::uint16_t port = 0;
    };

    /// How often the server calls sample(); the history keeps ten minutes of them.
    static constexpr std::chrono::seconds sample_period{5};

    /// `devices`, `bridges` and `buses` may be null: none of them.
    admin_api(broker::broker& b, serial::service* devices, bridge::supervisor* bridges,
              std::shared_ptr<spdlog::logger> log, modbus::service* buses = nullptr);

    void set_self(self_listener self) { self_ = std::move(self); }

    /// Answers `route` (the path after /api/v1/) of an authenticated request.
    web::response handle(const web::request& req, const web::target& t, std::string_view route);

    /// /metrics in the Prometheus text format 0.0.4.
    std::string metrics() const;

    /// The data of one `stats` server-sent event: the broker's counters and the time.
    std::string stats_event() const;

    /// Adds one point to the rate history (ten minutes, served by /api/v1/rates).
    void sample();

private:
    web::response handle_devices(const web::request& req, const web::target& t,
                                 std::string_view route);
    web::response handle_bridges(const web::request& req, const web::target& t,
                                 std::string_view route);
    web::response handle_modbus(const web::request& req, const web::target& t,
                                std::string_view route);
    static void device_metrics(std::string& out, const std::vector<serial::device_status>& devices);
    static void bridge_metrics(std::string& out, const std::vector<bridge::bridge_status>& bridges);

    struct rate_sample {
        std::int64_t time = 0;
        std::uint64_t received = 0;
        std::uint64_t sent = 0;
    };

    broker::broker& broker_;
    serial::service* devices_;
    bridge::supervisor* bridges_;
    modbus::service* buses_;
    std::shared_ptr<spdlog::logger> log_;
    self_listener self_;
    std::deque<rate_sample> samples_;
};

} // namespace edgemq::app
