// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/broker.hpp"
#include "edgemq/config/model.hpp"
#include "edgemq/serial/framing.hpp"
#include "edgemq/serial/mapping.hpp"
#include "edgemq/serial/parser.hpp"
#include "edgemq/serial/status.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/logger.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace edgemq::serial {

namespace asio = boost::asio;

/// One configured serial device: the port's read loop (a C++20 coroutine over an
/// asio::posix::stream_descriptor), framing, parsing and mapping to messages published through
/// an in-process broker client, and the command writer.
///
/// Lifecycle: the port is opened (exclusively) when `match` resolves; {base}/{device}/availability
/// becomes retained `online`. Input during `settle` is discarded. EOF, HUP or EIO close the port
/// at once, publish retained `offline`, and the driver retries with backoff (200ms doubling to
/// 5s) until the device is back. Unparsable frames are counted and published, at most 1/s with
/// bursts of 5, to {base}/{device}/log. Stats go to {base}/{device}/stats every stats_interval.
/// Commands arrive on {base}/{device}/set/<name>; they are validated (a refusal is published to
/// {base}/{device}/response/<name> and nothing is written), queued (at most 16), and written in
/// order by one writer; with `reply`, the first frame matching it within `timeout` is published
/// as the response (and not parsed as telemetry).
/// Thread safety: everything runs on the io_context given at construction, which must be run
/// by one thread; start(), stop(), restart() and status() may be called from any thread.
class device : public std::enable_shared_from_this<device> {
public:
    /// Throws std::invalid_argument on a configuration the loader cannot check (a bad regex).
    device(asio::io_context& ctx, config::device cfg, broker::broker& broker,
           std::shared_ptr<spdlog::logger> log);

    void start();
    /// Publishes `offline`, closes the port and ends the coroutines.
    void stop();
    /// Closes the port (publishing `offline`) and opens it again at once, or, while it cannot
    /// be opened, retries now with the backoff reset.
    void restart();

    const config::device& config() const noexcept { return cfg_; }
    /// A copy of the status, as of the device's last read, open, close or command.
    device_status status() const;

private:
    struct command_job {
        const config::device_command* command;
        std::string bytes;
        std::uint64_t seq;
    };

    asio::awaitable<void> async_run();
    asio::awaitable<void> async_read_port();
    asio::awaitable<void> async_write_commands();
    asio::awaitable<void> async_tick();
    asio::awaitable<void> async_stats();
    void on_frame(const std::string& frame);
    void on_command(const broker::message_ptr& m);
    void publish(std::string topic, std::string payload, std::uint8_t qos, bool retain);
    void publish_all(std::vector<broker::message> messages);
    void availability(bool online);
    void log_line(const std::string& text);
    void respond(const std::string& command, bool ok, std::uint64_t seq, std::string_view text);
    void rearm_tick();
    /// Copies the counters into the shared status (once per read, not per byte or frame).
    void refresh_status();
    /// The open port's identity into status_ (at open and close only, not per read).
    void set_port_details(port_info details);
    std::string topic(std::string_view suffix) const;

    asio::io_context& ctx_;
    config::device cfg_;
    broker::broker& broker_;
    std::shared_ptr<spdlog::logger> log_;
    std::shared_ptr<broker::internal_client> client_;
    asio::posix::stream_descriptor port_;
    asio::steady_timer retry_timer_;
    asio::steady_timer tick_timer_;
    asio::steady_timer writer_wake_;
    asio::steady_timer reply_timer_;
    asio::steady_timer stats_timer_;
    framer framer_;
    parser parser_;
    mapper mapper_;
    rate_limiter log_limiter_{1.0, 5.0};
    std::deque<command_job> queue_;
    std::optional<std::regex> awaiting_reply_;
    std::string reply_text_;
    bool stopping_ = false;
    bool restarting_ = false;
    std::string port_path_;
    std::string last_error_;
    std::string state_topic_; ///< the expanded state topic, empty without state messages
    std::string last_state_ = "{}";
    bool state_changed_ = false;
    steady_time settle_until_{};
    std::uint64_t seq_ = 0;
    // Stats.
    std::uint64_t parse_errors_ = 0;
    std::uint64_t encoding_errors_ = 0;
    std::uint64_t log_suppressed_ = 0;
    std::uint64_t opens_ = 0;
    std::uint64_t commands_ = 0;
    std::uint64_t command_errors_ = 0;
    std::int64_t last_seen_ms_ = 0;
    std::int64_t opened_ms_ = 0;

    mutable std::mutex status_mutex_;
    device_status status_; ///< guarded by status_mutex_
};

/// The serial subsystem: one io_context on one thread of its own running every configured
/// device. Start it after the broker and stop it before the broker stops. The thread runs even
/// with no device, so that apply() can add some later.
/// Thread safety: start(), stop() and apply() from one controlling thread; devices() and
/// restart() from any thread.
class service {
public:
    /// Throws std::invalid_argument as device's constructor does.
    service(const std::vector<config::device>& devices, broker::broker& broker,
            std::shared_ptr<spdlog::logger> log);
    ~service();
    service(const service&) = delete;
    service& operator=(const service&) = delete;

    void start();
    /// Publishes `offline` for every device and joins the thread. Idempotent.
    void stop();

    /// A snapshot of every device, in configuration order. Any thread.
    std::vector<device_status> devices() const;
    /// Closes and reopens one device (publishing offline, then online); false when no device
    /// has this id. Any thread.
    bool restart(std::string_view id);
    /// SIGHUP: stops devices that are gone or whose configuration changed, starts new and
    /// changed ones, and leaves the others running. From the controlling thread.
    void apply(const std::vector<config::device>& devices);

private:
    asio::io_context ctx_;
    asio::executor_work_guard<asio::io_context::executor_type> work_;
    broker::broker& broker_;
    std::shared_ptr<spdlog::logger> log_;
    mutable std::mutex devices_mutex_;
    std::vector<std::shared_ptr<device>> devices_; ///< guarded by devices_mutex_
    bool started_ = false;
    bool stopped_ = false;
    std::thread thread_;
};

} // namespace edgemq::serial
