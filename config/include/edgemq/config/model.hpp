// SPDX-License-Identifier: Apache-2.0
#pragma once

/// The gateway's configuration as plain aggregates. Each field is named after its TOML key
/// and carries its default; the one exception is gateway::listeners, which starts empty and
/// which config::defaults() and the loaders fill with one tcp listener on 127.0.0.1:1883 when
/// the file has none. load.hpp reads these from TOML; nothing here knows about TOML.
///
/// Thread safety: plain values; share them as you would any struct.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace edgemq::config {

/// `[log] level`, from most to least verbose.
enum class log_level { trace, debug, info, warn, error, off };

/// One `[[listeners]]` entry: a socket the broker accepts MQTT clients on.
struct listener {
    /// Transport: "tcp", "tls" (MQTT over TLS 1.2/1.3), "ws" (WebSocket) or "wss" (WebSocket
    /// over TLS). Default "tcp".
    std::string type = "tcp";
    /// Address to bind, from `bind = "host:port"` ("0.0.0.0:1883", "[::1]:1883"). Default
    /// "127.0.0.1".
    std::string host = "127.0.0.1";
    /// Port, from `bind`; 0 lets the kernel choose (tests use it). Default 1883.
    std::uint16_t port = 1883;
    /// Connections open at once on this listener; 0 = no per-listener limit. Default 0.
    std::size_t max_connections = 0;

    /// PEM server certificate (chain) and private key; required by "tls" and "wss".
    std::string cert;
    std::string key;
    /// PEM CA certificates that client certificates must chain to; required when
    /// require_client_certificate is true. Default none.
    std::string ca;
    /// Refuse TLS clients without a certificate signed by `ca` (mutual TLS). Default false.
    bool require_client_certificate = false;
    /// Use the client certificate's CN as the MQTT user name (for ACLs); the CONNECT's
    /// user name and password are then ignored, as in Mosquitto. Default false.
    bool use_identity_as_username = false;
    /// HTTP path of the WebSocket endpoint ("ws", "wss"). Default "/mqtt".
    std::string path = "/mqtt";

    /// Whether clients may connect without a user name. Unset means: allowed on a loopback
    /// address, and a start-up error on any other address unless password_file or
    /// use_identity_as_username authenticates clients (Mosquitto 2.0's safe default).
    std::optional<bool> allow_anonymous;
    /// A Mosquitto-format password file (`edgemq passwd` or `mosquitto_passwd` writes it).
    std::string password_file;
    /// A Mosquitto-format ACL file; without one every client may read and write every topic.
    std::string acl_file;
    /// PUBLISH packets per second one client may send; 0 = no limit. Default 0.
    std::uint32_t max_publish_rate = 0;

    bool operator==(const listener&) const = default;
};

/// `[broker]`: limits and timings of the MQTT broker.
struct broker {
    /// I/O threads, each with its own io_context; 0 = one per core. Default 0, at most 256.
    unsigned threads = 0;
    /// Largest MQTT packet accepted, in bytes; 2 to 268435455 (the MQTT maximum, also the
    /// default, as in Mosquitto).
    std::size_t max_packet_size = 268435455;
    /// Client connections open at once over all listeners; 0 = unlimited. Default 0.
    std::size_t max_connections = 0;
    /// QoS 1 and 2 deliveries per client awaiting acknowledgement; 1 to 65535. Default 20
    /// (Mosquitto's).
    std::uint16_t max_inflight_messages = 20;
    /// Messages per session waiting behind the in-flight window or while the client is
    /// offline; 0 = unlimited. Default 1000.
    std::size_t max_queued_messages = 1000;
    /// Whether QoS 0 messages are queued for offline clients with clean_session = 0.
    /// Default false.
    bool queue_qos0_messages = false;
    /// Time from TCP accept to a complete CONNECT packet; 1ms to 24h. Default 10s.
    std::chrono::milliseconds connect_timeout{10000};
    /// Period of the $SYS topic updates; 0 = off, at most 24h. Default 10s.
    std::chrono::seconds sys_interval{10};
    /// Largest keep-alive a client may ask for, in seconds. Default 65535.
    std::uint16_t max_keepalive = 65535;
    /// Bytes waiting in one connection's write buffer before QoS 0 messages to it are
    /// dropped; at least 1. Default 64 MiB.
    std::size_t max_outbound_bytes = 64 * 1024 * 1024;

    bool operator==(const broker&) const = default;
};

/// `[log]`.
struct logging {
    /// Least severe level written. Default info.
    log_level level = log_level::info;

    bool operator==(const logging&) const = default;
};

/// The whole configuration file.
struct gateway {
    /// `[broker]`.
    config::broker broker;
    /// `[[listeners]]`; a file without any gets one tcp listener on 127.0.0.1:1883.
    std::vector<listener> listeners;
    /// `[log]`.
    logging log;

    bool operator==(const gateway&) const = default;
};

} // namespace edgemq::config
