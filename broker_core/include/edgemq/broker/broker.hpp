// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/message.hpp"
#include "edgemq/broker/net/memory_stream.hpp"
#include "edgemq/broker/options.hpp"
#include "edgemq/broker/persist/durable_store.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spdlog {
class logger;
}

namespace edgemq::broker {

class broker_impl;

/// A listener after bind: the port is the real one when the config asked for port 0.
struct bound_listener {
    listener_type type = listener_type::tcp;
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
    std::uint64_t messages_denied = 0; ///< PUBLISH packets (and wills) an ACL refused
    /// Connections closed for not finishing a packet within packet_timeout (a slow drip).
    std::uint64_t packet_timeouts = 0;
    /// Connections closed for holding more than max_connect_size or max_unauthenticated_memory
    /// before their CONNECT.
    std::uint64_t unauthenticated_closed = 0;
    /// Subscribers found not reading while their queue was congested (slow_consumer_timeout).
    std::uint64_t slow_consumers = 0;
    std::uint64_t clients_connected = 0;
    std::uint64_t clients_total = 0; ///< connected + disconnected persistent sessions
    std::uint64_t clients_maximum = 0;
    std::uint64_t subscriptions = 0;
    std::uint64_t retained_messages = 0;
    std::uint64_t uptime_seconds = 0;
    /// Transactions the session or retained store could not write (a full or read-only disk).
    std::uint64_t persistence_errors = 0;
    /// The session or retained store's last transaction failed: QoS 1/2 messages it should
    /// hold are not acknowledged until it writes again.
    bool persistence_failing = false;
};

/// A client as the admin surface shows it.
struct client_info {
    std::string client_id;
    bool connected = false; ///< false: a persistent session waiting for its client
    bool internal = false;  ///< an in-process client (driver, bridge)
    std::string peer;       ///< "address:port", empty when not connected
    std::string listener;   ///< "tcp", "tls", "ws", "wss"
    std::optional<std::string> username;
    bool clean_session = true; ///< its session ends with its connection
    std::uint32_t session_expiry_interval = 0; ///< seconds; 4294967295: never
    std::uint8_t protocol_version = 0; ///< 3 (MQTT 3.1), 4 (3.1.1), 5; 0 when not connected
    std::uint16_t keep_alive = 0;
    std::int64_t connected_at = 0; ///< Unix time in seconds, 0 when not connected
    std::size_t subscriptions = 0;
    std::size_t inflight = 0;
    std::size_t queued = 0;
    std::uint64_t dropped = 0;
    /// Its queue is congested: what it subscribed to is published more slowly for it.
    bool congested = false;
    /// Found not reading: its queue is cut at max_queued_messages until it catches up.
    bool slow_consumer = false;
};

struct subscription_info {
    std::string client_id;
    std::string filter;       ///< as subscribed: `$share/GROUP/FILTER` for a shared one
    std::string share_group;  ///< empty: not shared
    std::uint8_t qos = 0;
    bool no_local = false;             ///< MQTT 5.0 subscription options
    bool retain_as_published = false;
    std::uint32_t identifier = 0;      ///< Subscription Identifier, 0 when none
};

/// An in-process client of the broker (a serial driver, a bridge): it publishes and subscribes
/// like a network client, without a socket. Create one with broker::connect_internal.
/// Thread safety: all members may be called from any thread. The handler given at creation runs
/// on a broker I/O thread: it must be quick and must not block (post to your own executor).
class internal_client {
public:
    virtual ~internal_client() = default;
    /// Identifies this client's messages (message::origin).
    virtual std::uint32_t id() const noexcept = 0;
    virtual const std::string& name() const noexcept = 0;
    /// Publishes `m` (its origin is set to id()).
    virtual void publish(message m) = 0;
    /// Subscribes; retained messages matching `filter` are delivered after it, as to a network
    /// client. The handler never sees messages this client published itself.
    virtual void subscribe(std::string filter, std::uint8_t qos) = 0;
    virtual void unsubscribe(std::string filter) = 0;
    /// Ends the session and its subscriptions. Deliveries already running on a broker thread
    /// may still complete; none start afterwards. The destructor does it too. Destroy internal
    /// clients before the broker.
    virtual void disconnect() = 0;
};

/// What an in-process client that keeps its messages on disk (a bridge's queue) receives into.
/// take() runs on the thread of the message's publisher, concurrently from several; with
/// persistence on, a QoS 1/2 publisher is acknowledged only once durable_store::written() says
/// the store has what take() returned a position for (DESIGN.md rule 7).
class internal_store : public persist::durable_store {
public:
    /// Takes `m` (quick, never blocking on I/O); returns its position, 0 when it is not kept.
    virtual std::uint64_t take(const message_ptr& m) = 0;
};

/// The MQTT 3.1.1 broker: listeners, sessions, routing, retained messages, wills and `$SYS`.
///
/// It runs one io_context per I/O thread; a connection lives on one thread for its whole life,
/// each thread keeps its own replica of the subscription index, and deliveries to sessions on
/// other threads travel in batches (see DESIGN.md, "Threading and performance shape").
/// Thread safety: start/stop from one controlling thread; publish and stats from any thread.
class broker {
public:
    broker(broker_options opts, std::shared_ptr<spdlog::logger> log);
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

    /// Creates an in-process client named `name` (shown as client id "$internal/<name>").
    /// `on_message` receives the messages matching its subscriptions, on a broker I/O thread.
    std::shared_ptr<internal_client>
    connect_internal(std::string name, std::function<void(const message_ptr&)> on_message);
    /// The same for a client whose messages go into `store` (see internal_store).
    std::shared_ptr<internal_client> connect_internal(std::string name,
                                                      std::shared_ptr<internal_store> store);

    /// A client connection without a socket, under the rules of listener `listener_index`
    /// (its limits, passwords, ACL and max_connections, and the broker's deadlines), for tests
    /// and tools. A connection the limits refuse comes back already closed (eof()). Call it
    /// between start() and stop(); throws std::out_of_range for a listener that does not exist.
    std::shared_ptr<net::memory_stream> connect_in_memory(std::size_t listener_index = 0);

    // The admin surface's view. These block until every I/O thread has answered: call them
    // from a thread of your own, never from a broker handler.

    std::vector<client_info> clients() const;
    std::vector<subscription_info> subscriptions() const;
    std::vector<message_ptr> retained() const;
    /// Deletes the retained message of `topic`; false when there was none.
    bool delete_retained(std::string_view topic);
    /// Disconnects the client with this id (its will is published); false when not connected.
    bool kick(std::string_view client_id);

private:
    std::unique_ptr<broker_impl> impl_;
};

} // namespace edgemq::broker
