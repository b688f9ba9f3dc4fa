// SPDX-License-Identifier: Apache-2.0
#include "written_packets.hpp"

#include "edgemq/broker/protocol/session_state.hpp"

#include <catch2/catch.hpp>

#include <vector>

namespace codec = edgemq::broker::codec;
using edgemq::broker::make_message;
using edgemq::broker::net::write_queue;
using edgemq::broker::protocol::delivery;
using edgemq::broker::protocol::session_limits;
using edgemq::broker::protocol::session_state;
using ack_result = edgemq::broker::protocol::session_state::ack_result;

namespace {

std::vector<codec::packet> drain(write_queue& q) {
    return edgemq::test::packets_of(q);
}

const codec::publish& as_publish(const codec::packet& p) {
    REQUIRE(std::holds_alternative<codec::publish>(p));
    return std::get<codec::publish>(p);
}

delivery d(const char* payload, std::uint8_t qos) {
    return {make_message("t", payload, qos), qos, false};
}

} // namespace

TEST_CASE("QoS 1 deliveries wait in order behind the in-flight window", "[protocol]") {
    const session_limits limits{2, 10, false, 1 << 20};
    session_state s{limits};
    write_queue out;
    CHECK(s.deliver(d("a", 1), &out));
    CHECK(s.deliver(d("b", 1), &out));
    CHECK(s.deliver(d("c", 1), &out));
    auto sent = drain(out);
    REQUIRE(sent.size() == 2);
    CHECK(as_publish(sent[0]).payload == "a");
    CHECK(as_publish(sent[1]).payload == "b");
    CHECK(s.inflight() == 2);
    CHECK(s.queued() == 1);

    const auto id_a = as_publish(sent[0]).packet_id;
    const auto id_b = as_publish(sent[1]).packet_id;
    CHECK(id_a != id_b);
    CHECK(s.on_puback(999, out) == ack_result::unknown_id); // ignored
    CHECK(s.on_puback(id_a, out) == ack_result::accepted);
    sent = drain(out);
    REQUIRE(sent.size() == 1);
    CHECK(as_publish(sent[0]).payload == "c");
    CHECK(as_publish(sent[0]).packet_id != id_b); // b is still in flight
}

TEST_CASE("QoS 2 outbound goes PUBLISH, PUBREC, PUBREL, PUBCOMP", "[protocol]") {
    const session_limits limits{};
    session_state s{limits};
    write_queue out;
    s.deliver(d("x", 2), &out);
    const auto id = as_publish(drain(out).at(0)).packet_id;
    CHECK(s.on_pubcomp(id, out) == ack_result::wrong_type); // PUBCOMP before PUBREC
    CHECK(s.on_puback(id, out) == ack_result::wrong_type);  // a QoS 1 ack for QoS 2
    CHECK(s.on_pubrec(id, out) == ack_result::accepted);
    auto sent = drain(out);
    REQUIRE(sent.size() == 1);
    CHECK(std::get<codec::pubrel>(sent[0]).packet_id == id);
    CHECK(s.on_puback(id, out) == ack_result::wrong_type);
    CHECK(s.on_pubrec(id, out) == ack_result::accepted); // a repeated PUBREC: PUBREL again
    CHECK(std::get<codec::pubrel>(drain(out).at(0)).packet_id == id);
    CHECK(s.on_pubcomp(id, out) == ack_result::accepted);
    CHECK(s.inflight() == 0);
    CHECK(s.on_pubcomp(id, out) == ack_result::unknown_id);
}

TEST_CASE("an ack of the wrong type for a QoS 1 delivery is a protocol error", "[protocol]") {
    const session_limits limits{};
    session_state s{limits};
    write_queue out;
    s.deliver(d("x", 1), &out);
    const auto id = as_publish(drain(out).at(0)).packet_id;
    CHECK(s.on_pubrec(id, out) == ack_result::wrong_type);
    CHECK(s.on_pubcomp(id, out) == ack_result::wrong_type);
    CHECK(out.empty()); // no PUBREL for a QoS 1 message
    CHECK(s.inflight() == 1);
    CHECK(s.on_puback(id, out) == ack_result::accepted);
}

TEST_CASE("resume resends unacknowledged PUBLISH with DUP and PUBREL again", "[protocol]") {
    const session_limits limits{};
    session_state s{limits};
    write_queue out;
    s.deliver(d("one", 1), &out);
    s.deliver(d("two", 2), &out);
    auto first = drain(out);
    const auto id_two = as_publish(first[1]).packet_id;
    s.on_pubrec(id_two, out);
    drain(out);
    // Offline: a new message queues.
    CHECK(s.deliver(d("three", 1), nullptr));
    s.resume(out);
    auto again = drain(out);
    REQUIRE(again.size() == 3);
    CHECK(as_publish(again[0]).payload == "one");
    CHECK(as_publish(again[0]).dup); // [MQTT-4.4.0-1]
    CHECK(as_publish(again[0]).packet_id == as_publish(first[0]).packet_id);
    CHECK(std::get<codec::pubrel>(again[1]).packet_id == id_two);
    CHECK(as_publish(again[2]).payload == "three");
    CHECK_FALSE(as_publish(again[2]).dup);
}

TEST_CASE("a durable delivery restored after a crash goes out with DUP and the id it had",
          "[protocol]") {
    // Before the crash: sent, but the record of it sent never reached the disk.
    const session_limits limits{};
    session_state before{limits};
    write_queue out;
    auto two = d("two", 2);
    two.seq = 70000; // past 65535: the id wraps, never 0
    before.deliver(two, &out);
    const auto seen = as_publish(drain(out).at(0));
    CHECK_FALSE(seen.dup);
    // After: the delivery comes back from the disk as queued.
    session_state after{limits};
    auto restored = two;
    restored.maybe_sent = true;
    after.restore(std::move(restored), 0, edgemq::broker::protocol::state_journal::stage::queued);
    after.resume(out);
    const auto again = as_publish(drain(out).at(0));
    CHECK(again.payload == "two");
    CHECK(again.dup); // [MQTT-3.3.1-1]
    CHECK(again.packet_id == seen.packet_id); // a QoS 2 receiver knows it [MQTT-4.3.3-2]
    CHECK(again.packet_id == 70000 - 65535);
}

namespace {

struct recorded_journal final : edgemq::broker::protocol::state_journal {
    struct send {
        std::uint64_t seq;
        std::uint16_t packet_id;
        stage st;
    };
    std::vector<send> sends;
    std::vector<std::uint64_t> removals;
    void sent(std::uint64_t, std::uint64_t seq, std::uint16_t id, stage st) override {
        sends.push_back({seq, id, st});
    }
    void removed(std::uint64_t, std::uint64_t seq) override { removals.push_back(seq); }
    void inbound(std::uint64_t, std::uint16_t, bool) override {}
};

} // namespace

TEST_CASE("a durable send is journalled only when its id is not the one its seq gives",
          "[protocol]") {
    using stage = edgemq::broker::protocol::state_journal::stage;
    const session_limits limits{};
    session_state s{limits};
    recorded_journal journal;
    s.set_journal(&journal, 1);
    write_queue out;
    auto one = d("one", 2);
    one.seq = 5;
    auto two = d("two", 1);
    two.seq = 5 + 65535; // its seq's id (5) is still in flight with "one"
    s.deliver(one, &out);
    s.deliver(two, &out);
    const auto sent = drain(out);
    REQUIRE(sent.size() == 2);
    CHECK(as_publish(sent[0]).packet_id == 5);
    REQUIRE(journal.sends.size() == 1); // "one" went with its seq's id: restored, it gets it again
    CHECK(journal.sends[0].seq == two.seq);
    CHECK(journal.sends[0].packet_id == as_publish(sent[1]).packet_id);
    CHECK(journal.sends[0].st == stage::awaiting_puback);
    // A PUBREC changes what a restart must send (PUBREL, not the PUBLISH): always journalled.
    CHECK(s.on_pubrec(5, out) == ack_result::accepted);
    REQUIRE(journal.sends.size() == 2);
    CHECK(journal.sends[1].st == stage::awaiting_pubcomp);
    CHECK(s.on_puback(as_publish(sent[1]).packet_id, out) == ack_result::accepted);
    CHECK(journal.removals == std::vector<std::uint64_t>{two.seq});
}

TEST_CASE("restored queued deliveries within the first window go out with DUP", "[protocol]") {
    // The session disconnected cleanly: its sends with the seq's id left no record, so any of
    // the first window (2 here) may have reached the client.
    const session_limits limits{2, 10, false, 1 << 20};
    session_state s{limits};
    write_queue out;
    for (std::uint64_t seq = 1; seq <= 3; ++seq) {
        auto r = d("m", 1);
        r.seq = seq;
        s.restore(std::move(r), 0, edgemq::broker::protocol::state_journal::stage::queued);
    }
    s.resume(out);
    auto first = drain(out);
    REQUIRE(first.size() == 2); // the window
    CHECK(as_publish(first[0]).dup);
    CHECK(as_publish(first[1]).dup);
    CHECK(as_publish(first[0]).packet_id == 1);
    CHECK(s.on_puback(1, out) == ack_result::accepted);
    const auto third = drain(out);
    REQUIRE(third.size() == 1);
    CHECK_FALSE(as_publish(third[0]).dup); // it was behind the window: never sent
    CHECK(as_publish(third[0]).packet_id == 3);
}

TEST_CASE("inbound QoS 2 is delivered once until PUBREL", "[protocol]") {
    const session_limits limits{};
    session_state s{limits};
    write_queue out;
    CHECK(s.on_publish_qos2(7));
    CHECK_FALSE(s.on_publish_qos2(7)); // resend with DUP: acknowledged, not delivered
    CHECK(s.on_pubrel(7) == 0);
    CHECK(s.on_pubrel(7) == 0x92); // 5.0: Packet Identifier not found
    CHECK(s.on_publish_qos2(7)); // the id is free again after PUBCOMP
    CHECK(s.inbound_pending() == 1);
    CHECK(out.empty()); // the acknowledgements are the server session's to write
}

TEST_CASE("offline queue is bounded and counts what it drops", "[protocol]") {
    const session_limits limits{20, 2, false, 1 << 20};
    session_state s{limits};
    CHECK(s.deliver(d("a", 1), nullptr));
    CHECK(s.deliver(d("b", 1), nullptr));
    CHECK_FALSE(s.deliver(d("c", 1), nullptr));
    CHECK_FALSE(s.deliver(d("q0", 0), nullptr)); // QoS 0 is not queued offline by default
    CHECK(s.queued() == 2);
    CHECK(s.dropped() == 1);

    const session_limits queue_qos0{20, 10, true, 1 << 20};
    session_state q0{queue_qos0};
    CHECK(q0.deliver(d("q0", 0), nullptr));
    write_queue out;
    q0.resume(out);
    CHECK(as_publish(drain(out).at(0)).payload == "q0");
}

TEST_CASE("a session that goes offline keeps its queue and collects max_queued more",
          "[protocol]") {
    const session_limits limits{1, 3, false, 1 << 20};
    session_state s{limits};
    write_queue out;
    for (int i = 0; i < 5; ++i) {
        CHECK(s.deliver(d("online", 1), &out)); // 1 in flight, 4 queued: congested, not cut
    }
    s.went_offline();
    for (int i = 0; i < 3; ++i) {
        CHECK(s.deliver(d("offline", 1), nullptr));
    }
    CHECK_FALSE(s.deliver(d("one too many", 1), nullptr));
    CHECK(s.queued() == 7);
    CHECK(s.dropped() == 1);
    // Back and gone again with the queue as it is: 3 more, not 3 in all.
    s.went_offline();
    for (int i = 0; i < 3; ++i) {
        CHECK(s.deliver(d("offline again", 1), nullptr));
    }
    CHECK(s.queued() == 10);
    CHECK(s.dropped() == 1);
}

TEST_CASE("a connected client's queue is not cut: it becomes congested and then relieved",
          "[protocol]") {
    const session_limits limits{1, 4, false, 1 << 20};
    session_state s{limits};
    write_queue out;
    for (int i = 0; i < 10; ++i) {
        CHECK(s.deliver(d(std::to_string(i).c_str(), 1), &out)); // none dropped
    }
    CHECK(s.inflight() == 1);
    CHECK(s.queued() == 9);
    CHECK(s.congested());
    CHECK(s.dropped() == 0);
    // The client acknowledges; the queue drains in order through the window of one.
    std::vector<std::string> got;
    for (int i = 0; i < 10; ++i) {
        auto sent = drain(out);
        REQUIRE(sent.size() == 1);
        const auto& p = as_publish(sent[0]);
        got.push_back(p.payload);
        s.on_puback(p.packet_id, out);
        CHECK(s.relieved() == (s.queued() <= 2));
    }
    CHECK(got == std::vector<std::string>{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
    CHECK_FALSE(s.congested());
}

TEST_CASE("a slow session's queue is cut at max_queued as an offline one", "[protocol]") {
    const session_limits limits{1, 2, false, 1 << 20};
    session_state s{limits};
    write_queue out;
    s.set_slow(true);
    CHECK(s.deliver(d("a", 1), &out)); // in flight
    CHECK(s.deliver(d("b", 1), &out));
    CHECK(s.deliver(d("c", 1), &out));
    CHECK_FALSE(s.deliver(d("d", 1), &out));
    CHECK(s.queued() == 2);
    CHECK(s.dropped() == 1);
}

TEST_CASE("QoS 0 waits in the queue while the write buffer is full, never dropped", "[protocol]") {
    const session_limits limits{20, 2, false, 100}; // 100 bytes of write buffer
    session_state s{limits};
    write_queue out;
    const std::string payload(60, 'x');
    for (int i = 0; i < 5; ++i) {
        CHECK(s.deliver(d((std::to_string(i) + payload).c_str(), 0), &out));
    }
    CHECK(s.queued() == 3); // two fit below 100 bytes, three wait
    CHECK(s.congested());
    CHECK(drain(out).size() == 2); // the socket took the buffer
    s.on_writable(out);
    CHECK(s.queued() == 1);
    auto next = drain(out);
    REQUIRE(next.size() == 2);
    CHECK(as_publish(next[0]).payload[0] == '2');
    s.on_writable(out);
    CHECK(s.queued() == 0);
    CHECK(as_publish(drain(out).at(0)).payload[0] == '4');
    CHECK(s.dropped() == 0);
}

TEST_CASE("large payloads are referenced, not copied, and keep their order", "[protocol]") {
    write_queue q;
    const auto big = make_message("big", std::string(5000, 'x'), 0);
    codec::encode(codec::pingresp{}, q.bytes());
    q.append_publish(big, 0, false, false, 0);
    codec::encode(codec::pingresp{}, q.bytes());
    std::vector<std::size_t> sizes;
    q.for_each_buffer([&](const void* data, std::size_t size) {
        sizes.push_back(size);
        if (size == 5000) {
            CHECK(data == big->payload.data());
        }
    });
    CHECK(sizes == std::vector<std::size_t>{2 + 3 + 2 + 3, 5000, 2}); // PINGRESP+head | payload | PINGRESP
    auto packets = drain(q);
    REQUIRE(packets.size() == 3);
    CHECK(as_publish(packets[1]).payload.size() == 5000);
}

TEST_CASE("an ending session gives up what its client has not received, not what it has",
          "[protocol]") {
    const session_limits limits{3, 10, false, 1 << 20};
    session_state s{limits};
    write_queue out;
    CHECK(s.deliver(d("acked", 1), &out));
    CHECK(s.deliver(d("unacked", 1), &out));
    CHECK(s.deliver(d("received", 2), &out));
    CHECK(s.deliver(d("sent-later", 1), &out));
    CHECK(s.deliver(d("queued", 1), &out));
    const auto sent = drain(out);
    REQUIRE(sent.size() == 3);
    CHECK(s.on_puback(as_publish(sent[0]).packet_id, out) == ack_result::accepted);
    // PUBREC: the client has the QoS 2 message; only its PUBCOMP is outstanding.
    CHECK(s.on_pubrec(as_publish(sent[2]).packet_id, out) == ack_result::accepted);
    drain(out);

    REQUIRE(s.queued() == 1);

    const auto left = s.take_undelivered();
    REQUIRE(left.size() == 3);
    CHECK(left[0].msg->payload == "unacked");
    CHECK(left[1].msg->payload == "sent-later");
    CHECK(left[2].msg->payload == "queued");
    CHECK(s.inflight() == 0);
    CHECK(s.queued() == 0);
    CHECK(s.take_undelivered().empty());
}

TEST_CASE("a 5.0 client that accepts topic aliases gets them for the first topics it is sent",
          "[protocol]") {
    const session_limits limits{};
    session_state s{limits};
    edgemq::broker::protocol::peer_limits peer;
    peer.protocol_level = codec::protocol_level_5;
    peer.topic_alias_maximum = 2;
    s.set_peer(peer);
    write_queue out;
    const auto to = [](const char* topic) {
        return delivery{make_message(topic, "x"), 0, false};
    };
    const auto sent = [&] {
        auto p = as_publish(edgemq::test::packets_of(out, codec::protocol_level_5).at(0));
        return std::pair{p.topic, p.props->topic_alias.value_or(0)};
    };
    s.deliver(to("sensors/a"), &out);
    CHECK(sent() == std::pair{std::string{"sensors/a"}, std::uint16_t{1}}); // set [MQTT-3.3.2-12]
    s.deliver(to("sensors/a"), &out);
    CHECK(sent() == std::pair{std::string{}, std::uint16_t{1}}); // used: no topic name
    s.deliver(to("sensors/b"), &out);
    CHECK(sent() == std::pair{std::string{"sensors/b"}, std::uint16_t{2}});
    s.deliver(to("sensors/c"), &out); // both taken: the topic in full [MQTT-3.3.2-10]
    CHECK(sent() == std::pair{std::string{"sensors/c"}, std::uint16_t{0}});

    // A message too big for the client is not sent, so its topic does not take an alias.
    session_state t{limits};
    peer.maximum_packet_size = 64;
    t.set_peer(peer);
    t.deliver({make_message("big", std::string(100, 'x')), 0, false}, &out);
    CHECK(out.empty());
    t.deliver(to("big"), &out);
    CHECK(sent() == std::pair{std::string{"big"}, std::uint16_t{1}});

    // A new connection starts without aliases [MQTT-3.3.2-7].
    s.set_peer(peer);
    s.deliver(to("sensors/a"), &out);
    CHECK(sent() == std::pair{std::string{"sensors/a"}, std::uint16_t{1}});
}

TEST_CASE("a 3.1.1 client, or a 5.0 one that takes none, gets no topic aliases", "[protocol]") {
    const session_limits limits{};
    for (const std::uint8_t level : {codec::protocol_level_311, codec::protocol_level_5}) {
        session_state s{limits};
        edgemq::broker::protocol::peer_limits peer;
        peer.protocol_level = level;
        s.set_peer(peer);
        write_queue out;
        for (int i = 0; i < 2; ++i) {
            s.deliver({make_message("t/a", "x"), 0, false}, &out);
            const auto p = as_publish(edgemq::test::packets_of(out, level).at(0));
            CHECK(p.topic == "t/a");
            CHECK_FALSE(p.props->topic_alias.has_value());
        }
    }
}
