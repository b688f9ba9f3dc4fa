// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/protocol/server_session.hpp"
#include "edgemq/broker/protocol/session_state.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

/// What the broker is told to be: its own options, so that broker_core knows nothing of the
/// configuration file. The gateway converts `[broker]` and `[[listeners]]` into these
/// (gateway/src/broker_options.cpp); config/model.hpp documents each setting and its default.
/// Thread safety: plain values.
namespace edgemq::broker {

enum class listener_type : std::uint8_t { tcp, tls, ws, wss };

/// "tcp", "tls", "ws", "wss": as the configuration, the API and the logs name them.
std::string_view to_string(listener_type t) noexcept;

/// True for the types that speak TLS.
constexpr bool uses_tls(listener_type t) noexcept {
    return t == listener_type::tls || t == listener_type::wss;
}

/// A socket the broker accepts MQTT clients on, and who may connect through it.
struct listener_options {
    listener_type type = listener_type::tcp;
    std::string host = "127.0.0.1";
    std::uint16_t port = 1883; ///< 0: the kernel chooses
    std::size_t max_connections = 0; ///< 0: no per-listener limit
    std::string cert;                ///< "tls", "wss"
    std::string key;
    std::string ca; ///< client certificates' CAs
    bool require_client_certificate = false;
    bool use_identity_as_username = false;
    std::string path = "/mqtt"; ///< WebSocket endpoint
    bool allow_anonymous = true; ///< decided: the gateway resolves the configured default
    std::string password_file;
    std::string acl_file;
    std::uint32_t max_publish_rate = 0; ///< PUBLISH packets a second per client; 0: no limit
};

struct broker_options {
    unsigned threads = 0; ///< I/O threads; 0: one per core
    std::size_t max_connections = 0; ///< over all listeners; 0: unlimited
    /// Bytes all connections that have not completed CONNECT may hold together.
    std::size_t max_unauthenticated_memory = 16 * 1024 * 1024;
    std::chrono::seconds sys_interval{10}; ///< 0: no $SYS updates
    /// Retained messages kept in persistence_file, sessions in sessions_file.
    bool persistence = false;
    std::string persistence_file = "/var/lib/edgemq/retained.db";
    /// Persistent sessions: subscriptions, queued and in-flight messages, wills. Empty:
    /// sessions.db in the directory of persistence_file.
    std::string sessions_file;
    /// How a commit to disk is made: `normal` survives a crash of the process (kill -9); `full`
    /// also a power loss or a kernel crash, at the cost of an fsync per commit.
    enum class sync_mode : std::uint8_t { normal, full };
    sync_mode sync = sync_mode::normal;
    protocol::server_limits connection; ///< per connection: sizes and deadlines
    protocol::session_limits session;   ///< per session: in-flight window and queues
    /// A connected subscriber whose queue is congested and that took no bytes for this long is a
    /// slow consumer: it no longer holds its publishers back. 0: never. Default 5s.
    std::chrono::milliseconds slow_consumer_timeout{5000};
    /// What a slow consumer gets: its queue cut at max_queued (new messages dropped and counted
    /// until it catches up), or disconnected (5.0: reason 0x97, Quota exceeded).
    enum class slow_consumer_policy : std::uint8_t { drop, disconnect };
    slow_consumer_policy slow_consumer = slow_consumer_policy::drop;
    std::vector<listener_options> listeners;
};

} // namespace edgemq::broker
