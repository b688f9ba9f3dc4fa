// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/auth/password_file.hpp"
#include "edgemq/broker/codec/decode.hpp"
#include "edgemq/broker/codec/packets.hpp"
#include "edgemq/broker/message.hpp"
#include "edgemq/broker/net/write_queue.hpp"
#include "edgemq/broker/protocol/access.hpp"
#include "edgemq/broker/protocol/fifo.hpp"
#include "edgemq/broker/protocol/session_state.hpp"

#include <boost/system/error_code.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

/// The broker's side of one MQTT connection, Sans-I/O: fed packets and the time, it writes the
/// packets to send into the connection's write_queue and asks its owner, through server_actions,
/// for everything outside the connection (route, subscribe, attach a session, close). Every rule
/// the broker applies to a client's packets is here or in session_state (QoS), each marked with
/// its spec id; net::connection only moves bytes and carries out the actions.
///
/// The life of a connection: `awaiting_connect` (only a CONNECT of at most max_connect_size is
/// read [MQTT-3.1.0-1]) → on a valid CONNECT, authenticated and its will allowed, the owner is
/// asked to attach a session (which may take a trip to another thread) → `connected`, once
/// on_attached() has written the CONNACK → `closed`.
/// Thread safety: none; owned by the connection's thread.
namespace edgemq::broker::protocol {

/// What the broker's settings say about every connection (shared by all of them).
struct server_limits {
    std::size_t max_packet_size = 268'435'455;
    std::size_t max_connect_size = 65536; ///< before CONNECT, a packet may be at most this
    std::chrono::milliseconds connect_timeout{10'000};
    std::chrono::milliseconds packet_timeout{60'000}; ///< for a packet to finish arriving
    std::uint16_t max_keepalive = 65535;              ///< a longer keep-alive is clamped to it
    // MQTT 5.0, told to clients in CONNACK:
    std::uint16_t max_topic_alias = 10;    ///< Topic aliases each way per connection; 0: none
    std::uint16_t receive_maximum = 65535; ///< inbound QoS 2 exchanges open at once
};

/// Who may connect to a listener, read at each CONNECT (a reload swaps the files in between).
struct admission_rules {
    std::shared_ptr<const auth::password_file> passwords; ///< null: none configured
    std::shared_ptr<const auth::acl> acl;                 ///< null: none configured
    bool anonymous_allowed = true;
    bool use_identity_as_username = false;
    /// The CN of a verified client certificate (TLS listeners).
    std::optional<std::string> certificate_identity;
};

/// A Session Expiry Interval that never ends (also what 3.1.1's clean session 0 means).
inline constexpr std::uint32_t session_never_expires = 0xFFFFFFFF;

/// What a server session needs of the session it is attached to, which outlives connections:
/// the client id, what the client may touch, the QoS state. The broker's session is one.
struct session_core {
    session_core(std::string id, std::uint32_t origin, const session_limits& limits)
        : client_id(std::move(id)), origin(origin), state(limits) {}

    const std::string client_id;
    const std::uint32_t origin; ///< message::origin of what it publishes
    /// Seconds it outlives its connection (0: ends with it) [MQTT-3.1.2-11]. Set by CONNECT
    /// and DISCONNECT on the session's thread, read by the registry under its lock.
    std::atomic<std::uint32_t> expiry_interval{0}; // beside origin: no padding
    std::shared_ptr<const client_access> access; ///< null: anonymous, no ACL
    session_state state;
};

/// A CONNECT that passed every check, for the owner to attach to a session.
struct attach_request {
    std::string client_id;
    bool clean_start = true; ///< 3.1.1: clean session
    std::uint32_t expiry_interval = 0; ///< 3.1.1: 0 for clean session, else never
    std::shared_ptr<const client_access> access; ///< null: anonymous, no ACL
};

/// What a server session asks of its owner, carried out synchronously.
class server_actions {
public:
    /// Counted events (the broker's $SYS and metrics).
    enum class event : std::uint8_t { publish_received, publish_denied };

    virtual ~server_actions() = default;
    /// The broker's limits (asked for rather than stored: an idle connection stays small).
    virtual const server_limits& limits() = 0;
    /// Finds or creates the session of `r`, then calls on_attached() or close().
    virtual void attach(attach_request r) = 0;
    /// Sends an application message to its subscribers.
    virtual void route(message_ptr m) = 0;
    /// Adds or replaces a subscription; true when it is new [MQTT-3.8.4-3].
    virtual bool subscribe(const std::string& filter, const subscription_options& o) = 0;
    /// True when there was such a subscription.
    virtual bool unsubscribe(const std::string& filter) = 0;
    /// Publishes the will `m` after `delay` seconds, unless the session is resumed before, or
    /// when the session ends, whichever comes first [MQTT-3.1.3-9].
    virtual void defer_will(message_ptr m, std::uint32_t delay) = 0;
    /// The retained messages matching `filter`.
    virtual std::vector<message_ptr> retained_for(std::string_view filter) = 0;
    /// The listener's rules as they are now.
    virtual admission_rules rules() = 0;
    virtual void count(event e) = 0;
    /// The position of the last change this thread recorded in the session store (always 0
    /// without persistence). The response to a packet that moved it waits until it is on disk.
    virtual std::uint64_t durable_mark() = 0;
    /// True when `mark` is not committed yet; the owner then calls on_committed() once it is.
    virtual bool await_commit(std::uint64_t mark) = 0;
    /// A login refused for its credentials (logged rate-limited by the owner).
    virtual void login_refused(std::string_view client_id, std::string_view user) = 0;
    /// A CONNECT refused with the CONNACK already written: close once it is sent.
    virtual void refused(codec::connect_return_code code, boost::system::error_code reason,
                         std::string_view client_id) = 0;
    /// Closes the connection now; `reason` is empty for a clean DISCONNECT.
    virtual void close(boost::system::error_code reason) = 0;
};

class server_session {
public:
    using clock = std::chrono::steady_clock;

    server_session(server_actions& actions, clock::time_point now)
        : actions_(&actions), last_read_(now) {}

    /// The bytes to send, in order; the owner writes them out and clears what it sent.
    net::write_queue& out() noexcept { return out_; }

    /// Checks the fixed header of the next packet before its body is read: before CONNECT only
    /// a CONNECT of at most max_connect_size, never one over max_packet_size. An error means
    /// the packet is refused (pass it to fail()).
    boost::system::error_code check_header(const codec::fixed_header& h) const;

    /// Handles one complete packet.
    void on_packet(codec::packet p);

    /// Handles a broken stream or a refused packet: a CONNECT of an unknown protocol level is
    /// answered with CONNACK 0x01 [MQTT-3.1.2-2]; anything else closes.
    void fail(boost::system::error_code ec);

    /// When the connection is closed by the server for `reason` (the owner's close()): writes
    /// the DISCONNECT that tells a 5.0 client why [MQTT-3.14.2-1]; true when it did, and the
    /// owner sends it before it closes the transport.
    bool farewell(boost::system::error_code reason);

    /// Bytes arrived at `now` (keep-alive counts from the last read once CONNECT passed).
    void on_read(clock::time_point now) noexcept;

    /// After the packets of a read were handled: `took_packets` when some were complete,
    /// `incomplete` when part of one is left (its packet_timeout clock runs from when it began).
    void on_progress(clock::time_point now, bool took_packets, bool incomplete) noexcept;

    /// Completes a CONNECT once the owner has attached `s` (with `session_present` when it
    /// resumed one; its access set from the attach_request): writes the CONNACK and resends
    /// what was in flight [MQTT-4.4.0-1]. The connection holds the session from here on.
    void on_attached(std::shared_ptr<session_core> s, bool session_present,
                     clock::time_point now);

    /// The session store has committed every change up to `through` (`ok`: written; false: the
    /// disk refused them): sends the responses that waited for it. A PUBLISH whose message did
    /// not reach the disk is not acknowledged (3.1.1: the client sends it again when it
    /// reconnects) or acknowledged with 0x80, Unspecified error (5.0).
    void on_committed(std::uint64_t through, bool ok);
    /// Responses wait for the session store.
    bool holding_responses() const noexcept { return held_ && !held_->empty(); }

    /// The will the connection would publish if it ended now, and its Will Delay Interval.
    message_ptr will() const;
    std::uint32_t will_delay() const noexcept { return will_delay_; }

    /// The attached session; null before on_attached() and after release_session().
    const std::shared_ptr<session_core>& session() const noexcept { return session_; }
    /// Lets go of the session, once the connection has closed (after on_closed()).
    std::shared_ptr<session_core> release_session() noexcept { return std::move(session_); }

    /// The reason to close when a deadline has passed at `now`: CONNECT, packet_timeout,
    /// 1.5 x keep-alive [MQTT-3.1.2-24]; empty while none has.
    boost::system::error_code check_deadline(clock::time_point now) const;

    /// The connection has ended: every end but a clean DISCONNECT (which dropped it) publishes
    /// the will [MQTT-3.1.2-8], if the ACL in force now still allows it.
    void on_closed();

    /// True while reading must wait (a CONNECT being attached, or a refusal being sent).
    bool paused() const noexcept { return stage_ == stage::attaching || stage_ == stage::closing; }
    bool connected() const noexcept { return stage_ == stage::connected; }
    /// A CONNECT passed its checks: packets other than CONNECT may follow.
    bool authenticated() const noexcept { return stage_ != stage::awaiting_connect; }
    /// The client id once attached, else empty.
    std::string_view client_id() const noexcept {
        return session_ ? std::string_view{session_->client_id} : std::string_view{};
    }
    std::uint16_t keep_alive() const noexcept { return keep_alive_; }
    /// 3 (MQTT 3.1), 4 (3.1.1) or 5; 0 before a CONNECT was read.
    std::uint8_t protocol_level() const noexcept { return protocol_level_; }
    /// A bridge connected with the bridge bit (Mosquitto's try_private): what it publishes
    /// does not come back to it, and retain flags reach it as published.
    bool bridge() const noexcept { return bridge_; }

private:
    enum class stage : std::uint8_t { awaiting_connect, attaching, connected, closing, closed };

    void on_connect(codec::connect& p);
    /// The 5.0 CONNECT properties that refuse it, as a CONNACK; false then.
    bool check_connect_v5(const codec::connect& p);
    /// The topic of a PUBLISH, through its Topic Alias (5.0); false when that closed.
    bool resolve_alias(codec::publish& p);
    /// The message a PUBLISH or a will carries, properties moved along (5.0).
    message_ptr make_routed(std::string topic, std::string payload, std::uint8_t qos,
                            bool retain, codec::property_set props) const;
    bool is_v5() const noexcept { return protocol_level_ == codec::protocol_level_5; }
    void on_disconnect(const codec::disconnect& p);
    /// The access a CONNECT's credentials give, or nullopt when they are refused.
    std::optional<std::shared_ptr<const client_access>> authenticate(const codec::connect& p);
    void on_publish(codec::publish& p);
    void on_subscribe(const codec::subscribe& p);
    void on_unsubscribe(const codec::unsubscribe& p);
    /// Closes for an ack of the wrong type; false then.
    bool on_ack(session_state::ack_result r);
    /// Writes the refusing CONNACK: `code` is a 3.1.1 return code (5.0 gets its match) or a 5.0
    /// reason code of 0x80 and above, which 3.1.1 has none for.
    void refuse(codec::connect_return_code code, boost::system::error_code reason,
                std::string_view id);
    /// `words` as the Reason String of a 5.0 CONNACK, DISCONNECT or (`on_ack`) PUBACK/PUBREC/
    /// PUBCOMP/SUBACK that refuses, where the client accepts one; empty otherwise. `rest`: bytes
    /// of the packet beyond the usual few (a SUBACK's reason codes).
    codec::property_set explain(std::string_view words, bool on_ack, std::size_t rest = 0) const;
    void close(boost::system::error_code reason);
    /// The response written to out_ at bytes [from, to) (an acknowledgement of a QoS
    /// `publish_qos` PUBLISH `id`, or of a SUBSCRIBE, UNSUBSCRIBE, PUBREL: publish_qos 0) waits
    /// when what handling its packet recorded since `mark` is not on disk yet, or when an
    /// earlier response waits (acknowledgements keep their order [MQTT-4.6.0-2]).
    void respond(std::size_t from, std::uint64_t mark, std::uint8_t publish_qos = 0,
                 std::uint16_t id = 0, std::size_t to = std::string::npos);

    /// A response waiting for the session store to commit up to `mark`.
    struct held_response {
        std::uint64_t mark = 0;
        std::uint16_t packet_id = 0;
        std::uint8_t publish_qos = 0;
        codec::byte_buffer bytes;
    };

    const client_access* access() const noexcept { return session_->access.get(); }

    net::write_queue out_;
    server_actions* actions_;
    std::shared_ptr<session_core> session_; ///< once attached
    std::unique_ptr<codec::will_message> will_;
    stage stage_ = stage::awaiting_connect;
    std::uint8_t protocol_level_ = 0;
    bool bridge_ = false;
    bool assigned_id_ = false; ///< the broker chose the client id (5.0 tells it in CONNACK)
    bool problem_information_ = true; ///< 5.0 Request Problem Information
    std::uint16_t keep_alive_ = 0;
    std::uint16_t asked_keep_alive_ = 0;
    std::uint32_t will_delay_ = 0; ///< 5.0 Will Delay Interval, seconds
    peer_limits peer_{}; ///< what the CONNECT said the client accepts, until on_attached
    std::unique_ptr<fifo<held_response>> held_; ///< allocated on first use
    /// Inbound Topic Aliases (5.0), indexed by alias - 1; allocated on first use, so that the
    /// many clients that never use one do not pay for it.
    std::unique_ptr<std::vector<std::string>> aliases_;
    /// Accept time until CONNECT, then the time of the last read (keep-alive).
    clock::time_point last_read_;
    /// When the unfinished packet at the end of the last read began; zero when none is.
    clock::time_point receiving_since_{};
};

} // namespace edgemq::broker::protocol
