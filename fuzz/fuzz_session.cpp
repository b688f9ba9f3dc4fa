// SPDX-License-Identifier: Apache-2.0
//
// libFuzzer target: the QoS state machine of a server-side session (protocol/session_state.hpp)
// driven by a sequence of operations read from the input: deliveries at QoS 0..2, the client's
// PUBACK / PUBREC / PUBCOMP, inbound QoS 2 PUBLISH and PUBREL, disconnect, reconnect (resume),
// the socket taking the queued bytes (on_writable) and the broker marking the session slow. The
// first four bytes are the session limits.
//
// Everything the session writes is decoded with the codec and checked against a model of the
// outbound window kept here from those packets:
//
// * every packet written decodes, and is one the server may send in that state: a new PUBLISH
//   at QoS 1/2 takes an id not in flight [MQTT-2.3.1-2]; a resent one (DUP) [MQTT-4.4.0-1] and
//   a PUBREL name an id in flight at the right stage; PUBREC and PUBCOMP answer the id given;
// * inflight() is the model's window and never above max_inflight; a delivery to an offline or
//   slow session never takes queued() past max_queued (a connected one's queue is not cut:
//   flow control holds its publishers back); while connected, messages wait in the queue only
//   when the window or the write buffer (max_outbound_bytes) is full;
// * QoS 1/2 messages leave in the order they were delivered [MQTT-4.6.0-6];
// * on_publish_qos2 reports a new id exactly when no PUBREL has released it yet, and on_pubrel
//   knows exactly those ids [MQTT-4.3.3-2]; the acknowledgements are the server session's.
//
// Only the calls are used, not the return values of on_puback/on_pubrec/on_pubcomp: the model
// decides from the packets what each acknowledgement must have done.
#include "fuzz_input.hpp"

#include "edgemq/broker/codec/decode.hpp"
#include "edgemq/broker/protocol/session_state.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace codec = edgemq::broker::codec;
using edgemq::broker::make_message;
using edgemq::broker::net::write_queue;
using edgemq::broker::protocol::delivery;
using edgemq::broker::protocol::session_limits;
using edgemq::broker::protocol::session_state;
using edgemq::fuzz::fuzz_input;

namespace {

[[noreturn]] void fail(const char* what, unsigned long a = 0, unsigned long b = 0) {
    std::fprintf(stderr, "fuzz_session: %s (%lu, %lu)\n", what, a, b);
    std::abort();
}

enum class stage { awaiting_puback, awaiting_pubrec, awaiting_pubcomp };

enum class op : std::uint8_t {
    deliver,
    puback,
    pubrec,
    pubcomp,
    publish_qos2,
    pubrel,
    disconnect,
    reconnect,
    flush,
    slow,
    count,
};

class harness {
public:
    explicit harness(fuzz_input& in) : in_(in) {
        limits_.max_inflight = static_cast<std::uint16_t>(1 + in.u8() % 32);
        limits_.max_queued = in.u8() % 16; // 0 = unlimited
        limits_.queue_qos0 = (in.u8() & 1) != 0;
        limits_.max_outbound_bytes = static_cast<std::size_t>(1 + in.u8() % 8) * 512;
    }

    void run() {
        session_state s{limits_};
        while (!in_.empty()) {
            step(s);
            check(s);
        }
    }

private:
    /// An id for an acknowledgement: mostly one the session handed out, sometimes any.
    std::uint16_t pick_id() {
        const auto b = in_.u8();
        if ((b & 0x80) != 0 && !ids_.empty()) {
            return ids_[b % ids_.size()];
        }
        const auto id = in_.u16();
        return id == 0 ? 1 : id; // the decoder never passes id 0 up [MQTT-2.3.1-1]
    }

    void step(session_state& s) {
        const auto o = static_cast<op>(in_.u8() % static_cast<std::uint8_t>(op::count));
        switch (o) {
        case op::deliver: {
            const auto b = in_.u8();
            const auto qos = static_cast<std::uint8_t>(b % 3);
            constexpr std::size_t sizes[] = {0, 3, 100, 1500}; // 1500: shared, not copied
            std::string payload = std::to_string(next_seq_++) + ":";
            payload.resize(std::max(payload.size(), sizes[(b >> 2) % 4]), 'x');
            auto msg = make_message("t/" + std::to_string((b >> 4) % 4), std::move(payload), qos);
            const auto before = s.queued();
            (void)s.deliver(delivery{std::move(msg), qos, (b & 0x40) != 0},
                            online_ ? &out_ : nullptr);
            const bool cut = !online_ || s.slow();
            if (cut && limits_.max_queued != 0 && s.queued() > std::max(before, limits_.max_queued)) {
                fail("an offline or slow session's queue grew past max_queued", s.queued(),
                     limits_.max_queued);
            }
            break;
        }
        case op::puback: {
            const auto id = pick_id();
            (void)s.on_puback(id, out_);
            if (auto it = window_.find(id);
                it != window_.end() && it->second == stage::awaiting_puback) {
                window_.erase(it);
            }
            break;
        }
        case op::pubrec: {
            const auto id = pick_id();
            (void)s.on_pubrec(id, out_);
            if (auto it = window_.find(id);
                it != window_.end() && it->second != stage::awaiting_puback) {
                it->second = stage::awaiting_pubcomp;
                expect_pubrel_ = id;
            }
            break;
        }
        case op::pubcomp: {
            const auto id = pick_id();
            (void)s.on_pubcomp(id, out_);
            if (auto it = window_.find(id);
                it != window_.end() && it->second == stage::awaiting_pubcomp) {
                window_.erase(it);
            }
            break;
        }
        case op::publish_qos2: {
            const auto id = pick_id();
            const bool fresh = s.on_publish_qos2(id);
            if (fresh != (inbound_.count(id) == 0)) {
                fail("on_publish_qos2 disagrees on whether the id is new", id, fresh);
            }
            inbound_.insert(id);
            break;
        }
        case op::pubrel: {
            const auto id = pick_id();
            const auto code = s.on_pubrel(id);
            if ((code == 0) != (inbound_.count(id) == 1)) {
                fail("on_pubrel disagrees on whether the id was known", id, code);
            }
            inbound_.erase(id);
            break;
        }
        case op::disconnect:
            online_ = false;
            drop_output();
            break;
        case op::reconnect:
            if (!online_) {
                online_ = true;
                drop_output();
                resuming_ = true;
                s.resume(out_);
            }
            break;
        case op::flush:
            drop_output();
            if (online_) {
                s.on_writable(out_);
            }
            break;
        case op::slow:
            s.set_slow(!s.slow());
            break;
        case op::count:
            break;
        }
        read_output();
        resuming_ = false;
        expect_pubrel_ = 0;
    }

    /// The socket took everything queued, or the connection went away with it.
    void drop_output() {
        out_.clear();
        parsed_ = 0;
    }

    void read_output() {
        std::vector<std::uint8_t> bytes;
        out_.for_each_buffer([&bytes](const void* data, std::size_t size) {
            const auto* p = static_cast<const std::uint8_t*>(data);
            bytes.insert(bytes.end(), p, p + size);
        });
        if (bytes.size() != out_.size()) {
            fail("write_queue::size() is not the sum of its buffers", bytes.size(), out_.size());
        }
        std::span<const std::uint8_t> rest = std::span{bytes}.subspan(parsed_);
        while (!rest.empty()) {
            auto h = codec::decode_fixed_header(rest);
            if (!h || !*h || (*h)->packet_size() > rest.size()) {
                fail("the session wrote an incomplete packet", rest.size());
            }
            auto p = codec::decode(**h, rest.subspan((*h)->size, (*h)->remaining_length));
            if (!p) {
                fail("the session wrote a packet that does not decode", (*h)->first_byte);
            }
            on_packet(*p);
            rest = rest.subspan((*h)->packet_size());
        }
        parsed_ = bytes.size();
    }

    void on_packet(const codec::packet& p) {
        if (const auto* pub = std::get_if<codec::publish>(&p)) {
            on_publish(*pub);
        } else if (const auto* rel = std::get_if<codec::pubrel>(&p)) {
            const auto it = window_.find(rel->packet_id);
            const bool ok = it != window_.end() && it->second == stage::awaiting_pubcomp &&
                            (rel->packet_id == expect_pubrel_ || resuming_);
            if (!ok) {
                fail("PUBREL for an id not awaiting PUBCOMP", rel->packet_id);
            }
        } else {
            fail("the session wrote a packet of an unexpected type", p.index());
        }
    }

    void on_publish(const codec::publish& pub) {
        if (pub.qos == 0) {
            return;
        }
        const auto seq = std::stoul(pub.payload.substr(0, pub.payload.find(':')));
        const auto it = window_.find(pub.packet_id);
        const auto want = pub.qos == 1 ? stage::awaiting_puback : stage::awaiting_pubrec;
        if (pub.dup) {
            if (!resuming_ || it == window_.end() || it->second != want) {
                fail("a resent PUBLISH for an id not in flight at its stage", pub.packet_id);
            }
            return;
        }
        if (it != window_.end()) {
            fail("a new PUBLISH reuses an id in flight", pub.packet_id);
        }
        if (have_last_seq_ && seq <= last_seq_) {
            fail("QoS 1/2 messages left out of order", seq, last_seq_);
        }
        have_last_seq_ = true;
        last_seq_ = seq;
        window_.emplace(pub.packet_id, want);
        if (ids_.size() < 64) {
            ids_.push_back(pub.packet_id);
        } else {
            ids_[seq % ids_.size()] = pub.packet_id;
        }
    }

    void check(const session_state& s) const {
        if (s.inflight() != window_.size()) {
            fail("inflight() differs from the window seen on the wire", s.inflight(),
                 window_.size());
        }
        if (s.inflight() > limits_.max_inflight) {
            fail("inflight() above max_inflight", s.inflight(), limits_.max_inflight);
        }
        if (online_ && s.queued() > 0 && s.inflight() < limits_.max_inflight &&
            out_.size() < limits_.max_outbound_bytes) {
            fail("connected, messages wait while the window and the write buffer have room",
                 s.queued(), s.inflight());
        }
    }

    fuzz_input& in_;
    session_limits limits_;
    write_queue out_;
    std::size_t parsed_ = 0; ///< bytes of out_ already read by read_output
    bool online_ = true;
    bool resuming_ = false;
    std::uint16_t expect_pubrel_ = 0;
    std::map<std::uint16_t, stage> window_;
    std::set<std::uint16_t> inbound_;
    std::vector<std::uint16_t> ids_;
    unsigned long next_seq_ = 0;
    unsigned long last_seq_ = 0;
    bool have_last_seq_ = false;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz_input in{data, size};
    harness h{in};
    h.run();
    return 0;
}
