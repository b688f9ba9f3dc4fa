// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/codec/packets.hpp"
#include "edgemq/broker/message.hpp"
#include "edgemq/broker/net/write_queue.hpp"
#include "edgemq/broker/protocol/fifo.hpp"
#include "edgemq/broker/protocol/packet_id_pool.hpp"

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

/// The client's side of an MQTT 3.1.1 or 5.0 connection (the bridge's link to a remote broker),
/// Sans-I/O: fed the server's packets and the time, it writes the packets to send into a
/// write_queue and tells its owner, through client_actions, what the connection brought.
///
/// The life of a connection: connect() writes the CONNECT → `awaiting_connack` (only a CONNACK
/// may come [MQTT-3.2.0-1]) → `connected`, when it accepts; the window of unacknowledged
/// PUBLISHes is then resent → connection_lost() → `disconnected`, the window kept for the next
/// connect(); disconnect() → `disconnecting` until the owner closes.
///
/// Outbound QoS 1: PUBLISH → PUBACK; QoS 2: PUBLISH → PUBREC → PUBREL → PUBCOMP [MQTT-4.3.2],
/// [MQTT-4.3.3]. Inbound QoS 2 ids are remembered from PUBLISH to PUBREL, so that a resent
/// PUBLISH is acknowledged but not delivered twice (method B of [MQTT-4.3.3-2]). Every rule is
/// marked with its spec id where it is enforced, in client_session.cpp.
/// Thread safety: none; owned by the connection's thread.
namespace edgemq::broker::protocol {

/// What the CONNECT says and how much may be in flight.
struct client_options {
    std::string client_id;
    bool clean_session = true;
    std::uint16_t keep_alive = 60; ///< seconds; 0 turns keep-alive off
    std::optional<std::string> username;
    std::optional<std::string> password;
    std::optional<codec::will_message> will;
    /// 4 (MQTT 3.1.1) or 5 (MQTT 5.0).
    std::uint8_t protocol_level = codec::protocol_level_311;
    /// 3.1.1 only: protocol level 0x84 instead of 4, the "bridge" bit of Mosquitto's
    /// try_private, which Mosquitto and EMQX read as "do not send this client its own messages
    /// back". A 5.0 client asks for that with No Local on its subscriptions instead.
    bool bridge = false;
    /// 5.0: how long the server keeps the session once the connection ends, in seconds
    /// [MQTT-3.1.2-11]; 3.1.1 keeps it exactly when clean_session is false.
    std::uint32_t session_expiry_interval = 0;
    /// 5.0: the largest packet this client accepts; 0 says nothing (no limit).
    std::uint32_t maximum_packet_size = 0;
    /// Tracked QoS 1/2 messages sent and not yet acknowledged.
    std::uint16_t max_inflight = 100;
};

/// What a client session tells its owner, synchronously, from on_packet() and the others.
class client_actions {
public:
    virtual ~client_actions() = default;
    /// The server accepted the CONNECT; the window was resent, `resent` PUBLISH packets of it
    /// (PUBRELs not counted).
    virtual void connected(bool session_present, std::size_t resent) = 0;
    /// An application message from the server, to deliver (once per id at QoS 2).
    virtual void deliver(codec::publish p) = 0;
    /// The server has acknowledged the message published with `token` (PUBACK or PUBCOMP).
    virtual void acknowledged(std::int64_t token) = 0;
    /// A SUBACK: a return code per filter, codec::suback_failure where refused.
    virtual void subscribed(const std::vector<std::uint8_t>& return_codes) = 0;
    /// The server refused the CONNECT with `code` [MQTT-3.2.2.3] (5.0: a reason code of 0x80 or
    /// more); the session is closed. `why`: its Reason String (5.0), empty when it sent none.
    virtual void refused(codec::connect_return_code code, std::string_view why) = 0;
    /// 5.0: the server refused a message published with `token` (PUBACK or PUBREC with a reason
    /// code of 0x80 or more): the exchange is over, it will not be sent again.
    virtual void rejected(std::int64_t token, std::uint8_t reason_code, std::string_view why) = 0;
    /// 5.0: the server sent DISCONNECT with `reason_code`; the connection ends.
    virtual void disconnected(std::uint8_t reason_code, std::string_view why) = 0;
    /// The connection must close: errc::protocol_error (a packet a server must not send, or an
    /// acknowledgement of the wrong type) or errc::keep_alive_timeout (no PINGRESP).
    virtual void close(boost::system::error_code reason) = 0;
};

class client_session {
public:
    using clock = std::chrono::steady_clock;

    /// `actions` must outlive the session.
    client_session(client_options options, client_actions& actions)
        : options_(std::move(options)), actions_(&actions) {}

    /// Starts a connection: writes the CONNECT [MQTT-3.1.0-1].
    void connect(clock::time_point now, net::write_queue& out);

    /// Handles one packet from the server.
    void on_packet(codec::packet p, clock::time_point now, net::write_queue& out);

    /// Bytes arrived at `now`: any of them shows that the server is alive.
    void on_read(clock::time_point now) noexcept;
    /// Bytes were written at `now`.
    void on_written(clock::time_point now) noexcept;

    /// Keep-alive, to call at least every keep_alive / 4 while connected: writes a PINGREQ when
    /// nothing was read or written for keep_alive seconds, and closes (keep_alive_timeout) when
    /// the PINGRESP is keep_alive seconds late [MQTT-3.1.2-23].
    void on_timer(clock::time_point now, net::write_queue& out);

    /// The connection has ended: messages published with a token stay in the window and are
    /// resent after the next connect(); the others, and SUBSCRIBEs awaiting SUBACK, are gone.
    void connection_lost() noexcept;

    enum class publish_result : std::uint8_t {
        written,
        no_packet_id, ///< none is free: nothing written
        too_large,    ///< over the server's Maximum Packet Size (5.0): never sendable
    };
    /// Publishes `m` at m->qos with m->retain, within what the server's CONNACK allows (5.0:
    /// Maximum QoS, Retain Available). With a token, a QoS 1/2 message is tracked: resent until
    /// acknowledged, then acknowledged(token); without one it belongs to this connection only.
    publish_result publish(const message_ptr& m, std::optional<std::int64_t> token,
                           net::write_queue& out);

    /// Subscribes to `filters` in one SUBSCRIBE (nothing when empty).
    void subscribe(const std::vector<codec::subscription>& filters, net::write_queue& out);

    /// Ends the connection cleanly: writes DISCONNECT, after which nothing is sent
    /// [MQTT-3.14.4-2]; PUBACK and PUBCOMP read until the owner closes still acknowledge.
    void disconnect(net::write_queue& out);

    bool connected() const noexcept { return stage_ == stage::connected; }
    /// No tracked message may be published until one is acknowledged: max_inflight of them
    /// are, or (with a window near 65535) no packet id is left.
    bool window_full() const noexcept {
        return tracked_ >= options_.max_inflight || inflight_.size() >= server_.receive_maximum ||
               inflight_.size() + subscribes_.size() >= max_packet_ids;
    }
    /// Tracked messages in the window.
    std::size_t inflight() const noexcept { return tracked_; }
    /// The keep-alive in force: ours, or the server's Server Keep Alive (5.0) [MQTT-3.2.2-21].
    std::uint16_t keep_alive() const noexcept { return keep_alive_; }
    std::uint8_t protocol_level() const noexcept { return options_.protocol_level; }
    /// Whether the next CONNECT sets the bridge bit (3.1.1), and turning it off for a server
    /// that refuses it, as Mosquitto's bridge retries.
    bool bridge_bit() const noexcept {
        return options_.bridge && options_.protocol_level != codec::protocol_level_5;
    }
    void drop_bridge_bit() noexcept { options_.bridge = false; }

private:
    static constexpr std::size_t max_packet_ids = 65535;
    enum class stage : std::uint8_t {
        disconnected,
        awaiting_connack,
        connected,
        disconnecting, ///< DISCONNECT written: nothing more is sent, acknowledgements count
        closed,
    };
    enum class step : std::uint8_t { awaiting_puback, awaiting_pubrec, awaiting_pubcomp };

    struct inflight_entry {
        std::uint16_t id = 0;
        step at = step::awaiting_puback;
        std::optional<std::int64_t> token;
        message_ptr msg; ///< released at PUBREC: only the id is needed then
    };

    void on_connack(const codec::connack& p, clock::time_point now, net::write_queue& out);
    void on_publish(codec::publish p, net::write_queue& out);
    void on_puback(const codec::puback& p);
    void on_pubrec(const codec::pubrec& p, net::write_queue& out);
    void on_pubcomp(std::uint16_t id);
    void on_suback(const codec::suback& p);
    /// Resends the window [MQTT-4.4.0-1]; returns the PUBLISH packets written.
    std::size_t resend(bool session_present, net::write_queue& out);
    /// Removes an acknowledged (or, with a reason code of 0x80 or more, refused) entry and tells
    /// the owner.
    void finish(fifo<inflight_entry>::iterator it, std::uint8_t reason_code = 0,
                std::string_view why = {});
    /// Appends a PUBLISH of `m` in the connection's layout (5.0: with its properties). False,
    /// writing nothing, when it is over the server's Maximum Packet Size.
    bool write_publish(const message_ptr& m, std::uint8_t qos, bool retain, bool dup,
                       std::uint16_t id, net::write_queue& out) const;
    std::uint8_t level() const noexcept { return options_.protocol_level; }
    void fail(boost::system::error_code reason);
    fifo<inflight_entry>::iterator find(std::uint16_t id);
    std::uint16_t next_packet_id();

    /// What the server's CONNACK allows (5.0); 3.1.1 servers allow everything.
    struct server_limits {
        std::uint16_t receive_maximum = 65535; ///< QoS 1/2 PUBLISHes unacknowledged at once
        std::uint32_t maximum_packet_size = 268'435'460;
        std::uint8_t maximum_qos = 2;
        bool retain_available = true;
    };

    bool is_v5() const noexcept { return options_.protocol_level == codec::protocol_level_5; }

    client_options options_;
    client_actions* actions_;
    server_limits server_;
    stage stage_ = stage::disconnected;
    fifo<inflight_entry> inflight_;           ///< in send order, which is resend order
    std::size_t tracked_ = 0;                 ///< entries with a token
    std::vector<std::uint16_t> subscribes_;   ///< SUBSCRIBE ids awaiting SUBACK
    std::vector<std::uint16_t> inbound_qos2_; ///< received, PUBREL not yet
    packet_id_pool ids_;
    std::uint16_t keep_alive_ = 0;
    bool ping_outstanding_ = false;
    clock::time_point ping_sent_{};
    clock::time_point last_read_{};
    clock::time_point last_write_{};
};

} // namespace edgemq::broker::protocol
