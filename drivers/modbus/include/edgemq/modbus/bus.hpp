// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/broker.hpp"
#include "edgemq/config/model.hpp"
#include "edgemq/serial/mapping.hpp"

#include <spdlog/logger.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace edgemq::modbus {

/// One slave as the admin surface and tests see it.
struct slave_status {
    std::string name;
    std::uint8_t id = 0;
    bool online = false;
    std::uint64_t polls = 0;       ///< polls in which every request was answered
    std::uint64_t failures = 0;    ///< polls that failed (timeout, exception, bad frame)
    std::uint64_t timeouts = 0;
    std::uint64_t exceptions = 0;  ///< exception responses
    std::uint64_t writes = 0;
    std::uint64_t write_errors = 0;
    std::string last_error;        ///< "read holding registers 0-3: timeout", ...
    /// The last exception response, named: "illegal data address (exception 2)"; empty if none.
    std::string last_exception;
    std::int64_t last_seen_ms = 0; ///< Unix time of the last answered poll, 0 if never
};

/// One bus as the admin surface sees it: its port and line settings, and its slaves.
struct bus_status {
    std::string name;
    std::string port;       ///< the path opened, or last resolved; empty if none matched yet
    bool open = false;      ///< the port is open and the scheduler on the wire
    std::string last_error; ///< why the port is not open; empty while it is
    std::uint32_t baud = 0;
    std::string line;       ///< "8E1": data bits, parity, stop bits
    std::uint64_t reconnects = 0; ///< opens after the first
    std::vector<slave_status> slaves;
};

/// One `[[modbus]]` bus: a scheduler thread of its own owns the port (libmodbus is blocking)
/// and is the only one on the wire, so reads of all slaves and writes never overlap.
///
/// Each turn of the scheduler serves the oldest queued write, if any, else polls the slave
/// whose poll is due first (all its read requests, adjacent registers in one request, see
/// plan_reads), else sleeps until the next poll, mapper timer or write. A write so waits for at
/// most one slave's poll. Every transaction is followed by `frame_delay` of silence. A slave
/// that misses its slot (the bus is busy with slow ones) is polled as soon as possible and
/// then keeps its interval from there; a failing slave costs at most response_timeout per
/// request, so the others keep their rate unless the bus is overbooked.
///
/// A slave's values go through serial::mapper with the slave's line-device view
/// (slave_device), so the JSON state, field topics, deadband and intervals are those of a line
/// device named like the slave; availability ({base}/{slave}/availability, retained) goes
/// online at the first answered poll and offline after max_failures failed polls in a row or
/// when the port goes; failures are logged (warn, once per change of error) and published to
/// {base}/{slave}/log (rate-limited); stats to {base}/{slave}/stats. A write arrives on
/// {base}/{slave}/set/<register> (writable coils and holding registers), is validated as a
/// line device's command (a number, or true/false/on/off/1/0 for a coil), and answered on
/// {base}/{slave}/response/<register> with {"ok":...,"seq":...}.
/// An I/O error on the port (an unplugged adapter) closes it and retries with the line
/// devices' backoff (200ms doubling to 5s).
/// Thread safety: start() and stop() from one controlling thread; status() from any thread;
/// the broker's delivery thread only queues writes. Made with std::make_shared: the broker's
/// handlers hold it weakly, so a delivery still running after stop() finds it alive or gone.
class bus : public std::enable_shared_from_this<bus> {
public:
    bus(config::modbus_bus cfg, broker::broker& broker, std::shared_ptr<spdlog::logger> log);
    ~bus();
    bus(const bus&) = delete;
    bus& operator=(const bus&) = delete;

    void start();
    /// Publishes every slave offline, closes the port and joins the thread. Idempotent.
    void stop();

    const config::modbus_bus& config() const noexcept { return cfg_; }
    bus_status status() const;

private:
    struct slave_state;
    struct write_job {
        std::size_t slave;
        std::size_t reg;
        std::vector<std::uint16_t> words;
        std::uint64_t seq;
    };

    void run();
    void on_command(std::size_t slave, const broker::message_ptr& m);

    config::modbus_bus cfg_;
    broker::broker& broker_;
    std::shared_ptr<spdlog::logger> log_;
    std::vector<std::unique_ptr<slave_state>> slaves_;

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<write_job> writes_; ///< guarded by mutex_
    bool stopping_ = false;        ///< guarded by mutex_
    std::vector<slave_status> status_; ///< guarded by mutex_
    bus_status port_status_;           ///< guarded by mutex_; its slaves stay empty
    std::thread thread_;
    bool started_ = false;
};

/// Every configured bus. Start it after the broker and stop it before the broker stops.
/// Thread safety: start(), stop() and apply() from one controlling thread; slaves() from any.
class service {
public:
    service(const std::vector<config::modbus_bus>& buses, broker::broker& broker,
            std::shared_ptr<spdlog::logger> log);
    ~service();
    service(const service&) = delete;
    service& operator=(const service&) = delete;

    void start();
    void stop();
    /// SIGHUP: restarts the buses whose configuration changed, stops removed ones, starts new
    /// ones; an unchanged bus keeps polling.
    void apply(const std::vector<config::modbus_bus>& buses);
    /// Every slave of every bus, in configuration order.
    std::vector<slave_status> slaves() const;
    /// Every bus with its slaves, in configuration order.
    std::vector<bus_status> buses() const;

private:
    broker::broker& broker_;
    std::shared_ptr<spdlog::logger> log_;
    mutable std::mutex mutex_;
    std::vector<std::shared_ptr<bus>> buses_; ///< guarded by mutex_
    bool started_ = false;
    bool stopped_ = false;
};

} // namespace edgemq::modbus
