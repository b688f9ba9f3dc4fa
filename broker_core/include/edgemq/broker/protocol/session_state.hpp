// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/detail/string_hash.hpp"
#include "edgemq/broker/message.hpp"
#include "edgemq/broker/net/write_queue.hpp"
#include "edgemq/broker/protocol/fifo.hpp"
#include "edgemq/broker/protocol/packet_id_pool.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

/// The QoS state of one MQTT session (MQTT 3.1.1 sections 4.3 and 4.4), Sans-I/O: fed
/// deliveries and acknowledgements, it writes the packets to send into a write_queue.
///
/// Outbound: a delivery at QoS 1/2 takes a packet id and a slot of the in-flight window, and one
/// at QoS 0 a place in the write buffer below max_outbound_bytes; otherwise it waits in order in
/// the queue. While the client is connected the queue is not cut: past max_queued it is
/// congested(), and the broker slows the publishers down until it is relieved() (flow control,
/// README.md). A session that goes offline keeps what was queued and collects up to max_queued
/// more; beyond that, and for a slow session (a client that stopped reading) beyond max_queued,
/// the new message is dropped and counted. On reconnect, every unacknowledged PUBLISH is sent
/// again with DUP set, and PUBREL again for those already PUBREC'd [MQTT-4.4.0-1]. Inbound QoS
/// 2: the packet id is remembered from PUBLISH to PUBREL, so a resent PUBLISH is acknowledged but
/// not delivered twice [MQTT-4.3.3-2].
/// Thread safety: none; owned by the session's home thread.
namespace edgemq::broker::protocol {

/// What a subscription holds besides its filter [MQTT-3.8.3.1].
struct subscription_options {
    std::uint8_t qos = 0; ///< the granted QoS
    bool no_local = false;            ///< not the subscriber's own messages [MQTT-3.8.3-3]
    bool retain_as_published = false; ///< keep the retain flag when forwarding [MQTT-3.3.1-12]
    std::uint32_t identifier = 0;     ///< Subscription Identifier, 0 when none [MQTT-3.8.2.1.2]
    bool operator==(const subscription_options&) const = default;
};

struct delivery {
    message_ptr msg;
    std::uint8_t qos = 0; ///< effective QoS: min(publish QoS, granted QoS)
    bool retain = false;  ///< retained messages sent on subscribe [MQTT-3.3.1-8/9], or the
                          ///< published flag for Retain As Published [MQTT-3.3.1-12]
    /// Reached its session through a shared subscription: if the session ends before its client
    /// has it, another member of the group gets it [MQTT-4.8.2].
    bool shared = false;
    /// Restored from the disk of a broker that crashed while its client was connected: it may
    /// have been sent before the crash (the record of it sent had not been committed), so it
    /// goes out with DUP [MQTT-3.3.1-1].
    bool maybe_sent = false;
    /// The Subscription Identifiers of every subscription that matched (5.0) [MQTT-3.3.4-3].
    std::vector<std::uint32_t> subscription_ids{};
    /// Its place in a durable session's queue on disk; 0 when it is not kept there.
    std::uint64_t seq = 0;
};

/// Told every change a durable session's QoS state makes to what is kept on disk
/// (persist::session_db), in order: deliveries with a seq being sent, acknowledged or dropped,
/// and the inbound QoS 2 packet ids.
class state_journal {
public:
    enum class stage : std::uint8_t { queued, awaiting_puback, awaiting_pubrec, awaiting_pubcomp };
    virtual void sent(std::uint64_t sid, std::uint64_t seq, std::uint16_t packet_id, stage s) = 0;
    virtual void removed(std::uint64_t sid, std::uint64_t seq) = 0;
    virtual void inbound(std::uint64_t sid, std::uint16_t packet_id, bool open) = 0;

protected:
    ~state_journal() = default;
};

/// What the client of a session said it accepts at CONNECT (MQTT 5.0; 3.1.1 clients get the
/// defaults): the layout of the packets it is sent and how many and how big they may be.
struct peer_limits {
    std::uint8_t protocol_level = 4;
    std::uint16_t receive_maximum = 65535;      ///< QoS 1/2 PUBLISHes unacknowledged at once
    std::uint32_t maximum_packet_size = 268'435'460; ///< bigger ones are not sent [MQTT-3.1.2-24]
    std::uint16_t topic_alias_maximum = 0; ///< aliases it accepts from the server [MQTT-3.1.2-26]
};

struct session_limits {
    std::uint16_t max_inflight = 200;
    /// Messages waiting for a client: the offline (and slow) limit, and the connected queue's
    /// congestion mark. 0 = unlimited (no drops, no flow control).
    std::size_t max_queued = 1000;
    bool queue_qos0 = false;                  ///< queue QoS 0 while the client is offline
    std::size_t max_outbound_bytes = 1 << 20; ///< write buffer; beyond it messages wait queued
};

class session_state {
public:
    /// `limits` is shared by many sessions and must outlive them.
    explicit session_state(const session_limits& limits) : limits_(&limits) {}
    explicit session_state(session_limits&&) = delete;

    /// From now on, tells `j` what happens to deliveries with a seq and to inbound QoS 2 ids,
    /// as the session `sid` (a durable session; null: none, the default).
    void set_journal(state_journal* j, std::uint64_t sid) noexcept {
        journal_ = j;
        sid_ = sid;
    }
    /// Puts back what a durable session held when the broker stopped: queued (`packet_id` 0)
    /// or in flight at `st`; resume() sends it again. In seq order, before any deliver(). A
    /// queued one within the first window goes with DUP: it may have been sent.
    void restore(delivery d, std::uint16_t packet_id, state_journal::stage st);
    void restore_inbound(std::uint16_t packet_id) { q().inbound_qos2.push_back(packet_id); }

    /// Sets what the client of the connection now attached accepts (at CONNECT). The topic
    /// aliases of the connection before end with it [MQTT-3.3.2-7].
    void set_peer(const peer_limits& p) noexcept {
        peer_ = p;
        if (q_) {
            q_->aliases.reset();
        }
    }
    const peer_limits& peer() const noexcept { return peer_; }

    /// Sends `d` into `out`, or queues it when the window or the write buffer is full or `out`
    /// is null (offline). Returns false when the message was dropped (an offline or slow
    /// session's queue full, or too big for the client).
    /// An expired message is neither sent nor queued [MQTT-3.3.2-5].
    bool deliver(delivery d, net::write_queue* out);

    /// What an acknowledgement of an outbound delivery was to the state machine.
    enum class ack_result : std::uint8_t {
        accepted,
        unknown_id, ///< no delivery in flight has this id: ignored (a late duplicate)
        wrong_type, ///< the id is in flight at another stage (PUBREC for QoS 1): a protocol error
    };
    /// Acknowledgements of outbound deliveries [MQTT-4.3.2], [MQTT-4.3.3].
    ack_result on_puback(std::uint16_t id, net::write_queue& out);
    /// A PUBREC with a reason code of 0x80 or more ends the exchange: no PUBREL [MQTT-4.3.3].
    ack_result on_pubrec(std::uint16_t id, net::write_queue& out, std::uint8_t reason_code = 0);
    ack_result on_pubcomp(std::uint16_t id, net::write_queue& out);

    /// Inbound QoS 2 PUBLISH, before its PUBREC is sent: true when this id is new and must be
    /// delivered. With a failure `reason_code` (5.0, 0x80 or more) the id is not kept: the
    /// exchange ends.
    bool on_publish_qos2(std::uint16_t id, std::uint8_t reason_code = 0);
    /// Inbound PUBREL: forgets the id [MQTT-4.3.3-2]; returns the reason code of the PUBCOMP
    /// to send (0, or 5.0's 0x92 for an id it does not know).
    std::uint8_t on_pubrel(std::uint16_t id);
    /// Inbound QoS 2 exchanges begun and not yet released.
    std::size_t inbound_pending() const noexcept { return q_ ? q_->inbound_qos2.size() : 0; }

    /// After a reconnect with session present: resend the window with DUP, then fill it.
    void resume(net::write_queue& out);
    /// The write buffer was taken by the socket: sends what waits, as far as room allows.
    void on_writable(net::write_queue& out) { pump(out); }

    /// The queue has reached max_queued while its client reads: publishers must slow down.
    bool congested() const noexcept {
        return limits_->max_queued != 0 && queued() >= limits_->max_queued;
    }
    /// Down to half of max_queued: publishers may go on.
    bool relieved() const noexcept { return queued() <= limits_->max_queued / 2; }
    /// A slow session's client stopped reading: its queue is cut at max_queued.
    void set_slow(bool slow) noexcept { slow_ = slow; }
    /// Its client went away, or the broker restarted without it: what is queued now stays, and
    /// max_queued more may join it. A reading client's queue reaches max_queued under flow
    /// control, so counting those would drop, acknowledged, the first messages after every
    /// disconnect or restart.
    void went_offline() noexcept {
        slow_ = false;
        if (q_) {
            q_->queued_when_offline = q_->queue.size();
        }
    }
    bool slow() const noexcept { return slow_; }

    /// Drops the queued deliveries (not those in flight) for which `pred` is true, as a
    /// reload's narrower ACL asks; returns how many.
    template <typename P> std::size_t drop_queued_if(P pred) {
        if (!q_) {
            return 0;
        }
        fifo<delivery> kept;
        std::size_t dropped = 0;
        for (auto& d : q_->queue) {
            if (pred(d)) {
                forget(d);
                ++dropped;
            } else {
                kept.push_back(std::move(d));
            }
        }
        q_->queue = std::move(kept);
        return dropped;
    }

    /// Takes out what was sent or queued and not yet received by the client (QoS 0 queued, QoS
    /// 1 unacknowledged, QoS 2 before PUBREC), for a session that ends with it.
    std::vector<delivery> take_undelivered();

    std::size_t inflight() const noexcept { return q_ ? q_->inflight.size() : 0; }
    std::size_t queued() const noexcept { return q_ ? q_->queue.size() : 0; }
    std::uint64_t dropped() const noexcept { return dropped_; }

private:
    using stage = state_journal::stage;

    struct inflight_entry {
        std::uint16_t id;
        stage st;
        delivery d;
    };

    /// Sends `d` now; false when it was too big for the client (and counted as dropped).
    bool send(delivery d, net::write_queue& out);
    /// Appends the PUBLISH of `d`: in the peer's layout, with the properties a 5.0 peer gets.
    /// False, writing nothing, when it exceeds the peer's Maximum Packet Size [MQTT-3.1.2-24].
    bool write_publish(const delivery& d, bool dup, std::uint16_t id, net::write_queue& out);
    /// Tells the journal that `d` left the session without reaching its client (or reached it).
    void forget(const delivery& d) {
        if (journal_ != nullptr && d.seq != 0) {
            journal_->removed(sid_, d.seq);
        }
    }
    /// Sends from the queue, in order, while has_room().
    void pump(net::write_queue& out);
    /// The window has a slot for a QoS 1/2 message and the write buffer is below its limit.
    bool has_room(std::uint8_t qos, const net::write_queue& out) const noexcept;
    fifo<inflight_entry>::iterator find(std::uint16_t id);
    std::uint16_t next_packet_id(std::uint64_t seq);
    /// The alias a PUBLISH to `topic` goes with: one the client knows (the topic is left out),
    /// a new one (sent with the topic), or 0 (none: every alias the client takes is in use).
    struct topic_alias {
        std::uint16_t id = 0;
        bool known = false;
    };
    topic_alias alias_for(const std::string& topic);
    bool window_full() const noexcept {
        return inflight() >= std::min<std::size_t>(limits_->max_inflight, peer_.receive_maximum);
    }

    /// Everything beyond QoS 0: allocated on first use, so that the many sessions that only
    /// ever see QoS 0 (or nothing: idle sensors) stay small.
    struct queues {
        fifo<inflight_entry> inflight; ///< in send order; acks usually arrive in this order
        fifo<delivery> queue;
        std::vector<std::uint16_t> inbound_qos2;
        std::size_t queued_when_offline = 0; ///< see went_offline()
        /// The topic aliases this connection's client has been sent (5.0), when it takes any.
        std::unique_ptr<detail::string_map<std::uint16_t>> aliases;
    };
    queues& q() {
        if (!q_) {
            q_ = std::make_unique<queues>();
        }
        return *q_;
    }

    const session_limits* limits_;
    peer_limits peer_{};
    packet_id_pool ids_; // beside peer_, in its padding
    std::unique_ptr<queues> q_;
    std::uint64_t dropped_ = 0;
    state_journal* journal_ = nullptr;
    std::uint64_t sid_ = 0;
    bool slow_ = false;
};

} // namespace edgemq::broker::protocol
