// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/bridge/bridge.hpp"
#include "edgemq/bridge/queue.hpp"
#include "edgemq/bridge/topic_rule.hpp"
#include "edgemq/broker/codec/encode.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

namespace edgemq::bridge {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

/// One bridge: the upstream MQTT 3.1.1 client and the pumps between it, the durable queue and
/// the local broker. Everything but the constructor, stop() and status() runs on the link's
/// own io_context thread.
class link {
public:
    link(config::bridge cfg, broker::broker& broker, std::shared_ptr<spdlog::logger> log,
         std::chrono::seconds sys_interval, std::size_t max_packet_size);
    ~link();

    /// Opens the queue (throws std::runtime_error), subscribes locally and starts the thread.
    void start();
    void stop();
    bridge_status status() const;
    const config::bridge& config() const noexcept { return cfg_; }

private:
    enum class stage : std::uint8_t { publish_sent, pubrel_sent };
    struct inflight_entry {
        std::uint16_t id = 0;
        stage at = stage::publish_sent;
        queued_message msg;
    };
    using stream = asio::ssl::stream<tcp::socket>;

    asio::awaitable<void> async_run();
    /// Resolves, connects, handshakes and exchanges CONNECT/CONNACK; empty on success, else
    /// why it failed, in words for the log.
    asio::awaitable<std::string> async_connect(std::string host, std::string port);
    /// Runs the connected session until it ends; returns why it ended.
    asio::awaitable<std::string> async_session();
    asio::awaitable<std::string> async_reader();
    asio::awaitable<std::string> async_writer();
    asio::awaitable<std::string> async_keepalive();
    asio::awaitable<void> async_sys();
    asio::awaitable<std::tuple<boost::system::error_code, std::size_t>>
    async_read_some(asio::mutable_buffer buffer);
    asio::awaitable<std::tuple<boost::system::error_code, std::size_t>>
    async_write(asio::const_buffer buffer);
    /// Decodes the packets complete in in_; false (with why) on a protocol error.
    bool on_bytes(std::string& why);

    void on_local(std::vector<broker::message_ptr> batch);
    void drain_handoff();
    bool on_packet(const broker::codec::packet& p);
    void on_inbound(const broker::codec::publish& p);
    void acknowledged(std::uint16_t id);
    void resend_inflight(bool session_present);
    void pump();
    void flush_acks();
    void update_queue_stats();
    void send_publish(const queued_message& m, std::uint16_t id, bool dup);
    std::uint16_t next_packet_id();
    void notify_writer();
    void close_stream();
    void set_state(const char* state, std::string error);
    void publish_sys();
    std::chrono::milliseconds backoff(unsigned failures);

    // Written once before the thread starts.
    asio::io_context ctx_; // first: destroyed last, with the coroutines still suspended in it
    config::bridge cfg_;
    broker::broker& broker_;
    std::shared_ptr<spdlog::logger> log_;
    std::chrono::seconds sys_interval_;
    std::size_t max_packet_size_;
    std::vector<topic_rule> rules_;
    std::string client_id_;
    asio::ssl::context tls_;
    std::unique_ptr<durable_queue> queue_;
    std::shared_ptr<broker::internal_client> client_;
    std::thread thread_;

    /// Messages from the local broker, handed over from its threads. Shared with the
    /// broker's handler so that a delivery racing with stop() finds `owner` null.
    struct handoff {
        std::mutex mutex;
        link* owner = nullptr;
        std::vector<broker::message_ptr> messages;
    };
    std::shared_ptr<handoff> handoff_ = std::make_shared<handoff>();

    // The bridge thread's own state.
    std::unique_ptr<stream> stream_;
    bool connected_ = false;
    bool stopping_ = false;
    asio::steady_timer writer_wake_;
    asio::steady_timer stop_timer_;
    broker::codec::byte_buffer out_;  ///< packets waiting for the writer
    broker::codec::byte_buffer wbuf_; ///< the bytes being written
    std::vector<std::uint8_t> in_;    ///< bytes read and not yet decoded
    bool session_present_ = false;
    bool ping_outstanding_ = false;
    std::chrono::steady_clock::time_point ping_sent_;
    std::chrono::steady_clock::time_point last_read_;
    std::chrono::steady_clock::time_point last_write_;
    std::map<std::int64_t, inflight_entry> inflight_; ///< by seq: resent in queue order
    std::unordered_map<std::uint16_t, std::int64_t> inflight_ids_;
    std::unordered_set<std::uint16_t> inbound_qos2_;
    std::deque<queued_message> pending_; ///< read from the queue, not yet sent
    std::int64_t cursor_ = 0;            ///< the last seq sent: those up to it are in flight
    std::int64_t loaded_through_ = 0;    ///< the last seq read into memory
    bool caught_up_ = false;             ///< nothing in the queue beyond loaded_through_
    std::vector<std::int64_t> acked_seqs_;
    std::uint16_t last_id_ = 0;
    std::string last_failure_;
    std::minstd_rand random_{std::random_device{}()};

    // Read by status() from other threads.
    mutable std::mutex status_mutex_;
    bridge_status status_;
    std::string sys_state_; ///< the value last published on $SYS/broker/bridges/<name>/state
    std::atomic<std::uint64_t> sent_{0};
    std::atomic<std::uint64_t> acked_{0};
    std::atomic<std::uint64_t> dropped_{0};
    std::atomic<std::uint64_t> received_{0};
    std::atomic<std::uint64_t> queued_{0};
    std::atomic<std::uint64_t> queued_bytes_{0};
};

} // namespace edgemq::bridge
