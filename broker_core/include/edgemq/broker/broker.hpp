// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/message.hpp"
#include "edgemq/config/model.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace spdlog {
class logger;
}

namespace edgemq::broker {

class broker_impl;

/// A listener after bind: the port is the real one when the config asked for port 0.
struct bound_listener {
    std::string type;
    std::string host;
    std::uint16_t port = 0;
};

/// Counters over the broker's life, summed over its I/O threads.
struct broker_stats {
    std::uint64_t messages_received = 0;
    std::uint64_t messages_sent = 0;
    std::uint64_t bytes_received = 0;
    std::uint64_t bytes_sent = 0;
    std::uint64_t messages_dropped = 0;
    std::uint64_t messages_denied = 0; ///< PUBLISH packets an ACL refused
    std::uint64_t clients_connected = 0;
    std::uint64_t clients_total = 0; ///< connected + disconnected persistent sessions
    std::uint64_t clients_maximum = 0;
    std::uint64_t subscriptions = 0;
    std::uint64_t retained_messages = 0;
    std::uint64_t uptime_seconds = 0;
};

/// The MQTT 3.1.1 broker: listeners, sessions, routing, retained messages, wills and `$SYS`.
///
/// It runs one io_context per I/O thread; a connection lives on one thread for its whole life,
/// each thread keeps its own replica of the subscription index, and deliveries to sessions on
/// other threads travel in batches (see DESIGN.md, "Threading and performance shape").
/// Thread safety: start/stop from one controlling thread; publish and stats from any thread.
class broker {
public:
    broker(config::gateway cfg, std::shared_ptr<spdlog::logger> log);
    ~broker();
    broker(const broker&) = delete;
    broker& operator=(const broker&) = delete;

    /// Binds every listener (throws std::system_error naming the address on failure) and starts
    /// the I/O threads. Returns once the broker accepts connections.
    void start();

    /// Closes listeners and connections and joins the I/O threads. Idempotent.
    void stop();

    std::vector<bound_listener> listeners() const;

    /// Publishes an application message as if a client had (in-process clients: drivers,
    /// bridges, the admin API).
    void publish(message_ptr m);

    /// Re-reads the certificate, key, password and ACL files of the listeners (SIGHUP). New
    /// connections use them; open ones keep theirs. Throws std::runtime_error naming a bad
    /// file, and then changes nothing.
    void reload_files();

    broker_stats stats() const;

private:
    std::unique_ptr<broker_impl> impl_;
};

} // namespace edgemq::broker
