// SPDX-License-Identifier: Apache-2.0
// The bridge's MQTT client session without sockets: packets and a fake clock in, bytes and
// actions out.
#include "edgemq/broker/error.hpp"
#include "edgemq/broker/protocol/client_session.hpp"
#include "edgemq/broker/protocol/packet_id_pool.hpp"
#include "edgemq/broker/protocol/packet_reader.hpp"

#include "hex.hpp"

#include "written_packets.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <vector>

namespace codec = edgemq::broker::codec;
using edgemq::broker::errc;
using edgemq::broker::make_message;
using edgemq::broker::net::write_queue;
using edgemq::broker::protocol::client_actions;
using edgemq::broker::protocol::client_options;
using edgemq::broker::protocol::client_session;
using edgemq::broker::protocol::packet_id_pool;
using edgemq::broker::protocol::packet_reader;
using edgemq::test::hex;
using namespace std::chrono_literals;

namespace {

using clock = client_session::clock;
const clock::time_point t0{};

/// Records every action, as the bridge's upstream would carry them out.
struct recorder final : client_actions {
    std::optional<bool> session_present;
    std::size_t resent = 0;
    std::vector<codec::publish> delivered;
    std::vector<std::int64_t> acked;
    std::vector<std::vector<std::uint8_t>> subacks;
    std::optional<codec::connect_return_code> refusal;
    boost::system::error_code closed;

    void connected(bool present, std::size_t n) override {
        session_present = present;
        resent = n;
    }
    void deliver(codec::publish p) override { delivered.push_back(std::move(p)); }
    void acknowledged(std::int64_t token) override { acked.push_back(token); }
    void subscribed(const std::vector<std::uint8_t>& codes) override { subacks.push_back(codes); }
    std::vector<std::pair<std::int64_t, std::uint8_t>> rejections;
    std::optional<std::uint8_t> disconnect_reason;

    std::vector<std::string> reasons; ///< the Reason Strings of refusals, in order

    void refused(codec::connect_return_code code, std::string_view why) override {
        refusal = code;
        reasons.emplace_back(why);
    }
    void rejected(std::int64_t token, std::uint8_t code, std::string_view why) override {
        rejections.emplace_back(token, code);
        reasons.emplace_back(why);
    }
    void disconnected(std::uint8_t code, std::string_view why) override {
        disconnect_reason = code;
        reasons.emplace_back(why);
    }
    void close(boost::system::error_code reason) override { closed = reason; }
};

using edgemq::test::bytes_of;

std::vector<codec::packet> drain(write_queue& q) {
    return edgemq::test::packets_of(q);
}

template <typename T> const T& as(const codec::packet& p) {
    REQUIRE(std::holds_alternative<T>(p));
    return std::get<T>(p);
}

client_options options(std::uint16_t max_inflight = 10) {
    client_options o;
    o.client_id = "c";
    o.clean_session = false;
    o.keep_alive = 60;
    o.max_inflight = max_inflight;
    return o;
}

/// A session connected with CONNACK(session_present = false), its CONNECT drained.
struct fixture {
    recorder actions;
    client_session s;
    write_queue out;

    explicit fixture(client_options o = options()) : s(std::move(o), actions) {
        s.connect(t0, out);
        out.clear();
        s.on_packet(codec::connack{false, codec::connect_return_code::accepted}, t0, out);
        REQUIRE(s.connected());
    }

    void publish(const char* payload, std::uint8_t qos, std::optional<std::int64_t> token) {
        REQUIRE(s.publish(make_message("t", payload, qos), token, out) ==
                client_session::publish_result::written);
    }
    void receive(codec::packet p) { s.on_packet(std::move(p), t0, out); }
};

} // namespace

TEST_CASE("client session: the CONNECT carries the options", "[protocol]") {
    recorder actions;
    write_queue out;
    SECTION("everything set, with the bridge bit") {
        auto o = options();
        o.username = "u";
        o.password = "p";
        o.will = codec::will_message{"w", "offline", 1, true};
        o.bridge = true;
        client_session s{o, actions};
        s.connect(t0, out);
        CHECK(bytes_of(out) == hex("10 1f"                      // CONNECT, remaining length 31
                                   "00 04 4d 51 54 54"          // "MQTT"
                                   "84"                         // level 4 | 0x80 (bridge)
                                   "ec"                         // user, password, will retain,
                                                                // will QoS 1, will; not clean
                                   "00 3c"                      // keep-alive 60
                                   "00 01 63"                   // client id "c"
                                   "00 01 77"                   // will topic "w"
                                   "00 07 6f 66 66 6c 69 6e 65" // "offline"
                                   "00 01 75"                   // user name "u"
                                   "00 01 70"));                // password "p"
    }
    SECTION("the least") {
        client_options o;
        o.client_id = "id";
        o.keep_alive = 0;
        client_session s{o, actions};
        s.connect(t0, out);
        CHECK(bytes_of(out) == hex("10 0e 00 04 4d 51 54 54"
                                   "04"    // MQTT 3.1.1
                                   "02"    // clean session
                                   "00 00" // no keep-alive
                                   "00 02 69 64"));
    }
    CHECK_FALSE(actions.session_present);
}

TEST_CASE("client session: CONNACK", "[protocol]") {
    recorder actions;
    write_queue out;
    client_session s{options(), actions};
    s.connect(t0, out);
    out.clear();
    SECTION("accepted, with the session present") {
        s.on_packet(codec::connack{true, codec::connect_return_code::accepted}, t0, out);
        CHECK(s.connected());
        CHECK(actions.session_present == true);
        CHECK(out.empty()); // nothing was in flight
    }
    SECTION("each refusal is reported with its code and closes the session") {
        const auto code = GENERATE(codec::connect_return_code::unacceptable_protocol_version,
                                   codec::connect_return_code::identifier_rejected,
                                   codec::connect_return_code::server_unavailable,
                                   codec::connect_return_code::bad_username_or_password,
                                   codec::connect_return_code::not_authorized);
        s.on_packet(codec::connack{false, code}, t0, out);
        CHECK(actions.refusal == code);
        CHECK_FALSE(s.connected());
        CHECK_FALSE(actions.session_present);
        // What follows the refusal is not acted on.
        s.on_packet(codec::publish{"t", "x", 0, 0, false, false}, t0, out);
        CHECK(actions.delivered.empty());
    }
    SECTION("anything else first is a protocol error [MQTT-3.2.0-1]") {
        s.on_packet(codec::publish{"t", "x", 0, 0, false, false}, t0, out);
        CHECK(actions.closed == errc::protocol_error);
        CHECK(actions.delivered.empty());
        CHECK_FALSE(s.connected());
    }
}

TEST_CASE("client session: QoS 1 out, PUBLISH then PUBACK", "[protocol]") {
    fixture f{options(2)};
    f.publish("a", 1, 10);
    f.publish("b", 1, 11);
    CHECK(f.s.window_full());
    const auto sent = drain(f.out);
    REQUIRE(sent.size() == 2);
    const auto& a = as<codec::publish>(sent[0]);
    CHECK(a.payload == "a");
    CHECK(a.qos == 1);
    CHECK(a.packet_id == 1);
    CHECK_FALSE(a.dup);
    CHECK(as<codec::publish>(sent[1]).packet_id == 2);

    f.receive(codec::puback{2});
    CHECK(f.actions.acked == std::vector<std::int64_t>{11});
    CHECK_FALSE(f.s.window_full());
    f.receive(codec::puback{2}); // a late duplicate: ignored
    f.receive(codec::puback{1});
    CHECK(f.actions.acked == std::vector<std::int64_t>{11, 10});
    CHECK(f.s.inflight() == 0);
    CHECK(f.out.empty());
    CHECK(!f.actions.closed);
}

TEST_CASE("client session: QoS 2 out, PUBLISH, PUBREC, PUBREL, PUBCOMP", "[protocol]") {
    fixture f;
    f.publish("a", 2, 5);
    const auto sent = drain(f.out);
    REQUIRE(sent.size() == 1);
    CHECK(as<codec::publish>(sent[0]).qos == 2);

    f.receive(codec::pubrec{1});
    auto rel = drain(f.out);
    REQUIRE(rel.size() == 1);
    CHECK(as<codec::pubrel>(rel[0]).packet_id == 1);
    CHECK(f.actions.acked.empty());
    f.receive(codec::pubrec{1}); // repeated: PUBREL again
    CHECK(as<codec::pubrel>(drain(f.out).at(0)).packet_id == 1);

    f.receive(codec::pubcomp{1});
    CHECK(f.actions.acked == std::vector<std::int64_t>{5});
    CHECK(f.s.inflight() == 0);
    CHECK(!f.actions.closed);
}

TEST_CASE("client session: QoS 1 and 2 in", "[protocol]") {
    fixture f;
    SECTION("QoS 1: delivered and PUBACK'd") {
        f.receive(codec::publish{"in/a", "x", 7, 1, true, false});
        REQUIRE(f.actions.delivered.size() == 1);
        CHECK(f.actions.delivered[0].topic == "in/a");
        CHECK(f.actions.delivered[0].retain);
        CHECK(as<codec::puback>(drain(f.out).at(0)).packet_id == 7);
    }
    SECTION("QoS 2: delivered once however often it is resent before PUBREL") {
        f.receive(codec::publish{"in/a", "x", 7, 2, false, false});
        f.receive(codec::publish{"in/a", "x", 7, 2, false, true}); // resent with DUP
        CHECK(f.actions.delivered.size() == 1);
        auto acks = drain(f.out);
        REQUIRE(acks.size() == 2);
        CHECK(as<codec::pubrec>(acks[0]).packet_id == 7);
        CHECK(as<codec::pubrec>(acks[1]).packet_id == 7);

        f.receive(codec::pubrel{7});
        CHECK(as<codec::pubcomp>(drain(f.out).at(0)).packet_id == 7);
        // After PUBREL the id is free: a new message with it is delivered.
        f.receive(codec::publish{"in/a", "y", 7, 2, false, false});
        CHECK(f.actions.delivered.size() == 2);
    }
    SECTION("QoS 0: delivered, nothing sent") {
        f.receive(codec::publish{"in/a", "x", 0, 0, false, false});
        CHECK(f.actions.delivered.size() == 1);
        CHECK(f.out.empty());
    }
    SECTION("a PUBREL for an unknown id is still answered") {
        f.receive(codec::pubrel{9});
        CHECK(as<codec::pubcomp>(drain(f.out).at(0)).packet_id == 9);
    }
}

TEST_CASE("client session: after a reconnect the window is resent with DUP", "[protocol]") {
    fixture f;
    f.publish("a", 1, 1);
    f.publish("b", 2, 2);
    f.publish("c", 2, 3);
    f.publish("online", 1, std::nullopt); // an untracked notice: this connection only
    CHECK(f.s.inflight() == 3);
    f.receive(codec::pubrec{2}); // b is at PUBREL
    f.out.clear();
    f.s.connection_lost();
    CHECK_FALSE(f.s.connected());

    f.s.connect(t0, f.out);
    f.out.clear();
    SECTION("session present: PUBLISH again with DUP, PUBREL again, in the original order") {
        f.s.on_packet(codec::connack{true, codec::connect_return_code::accepted}, t0, f.out);
        CHECK(f.actions.resent == 2);
        const auto again = drain(f.out);
        REQUIRE(again.size() == 3);
        const auto& a = as<codec::publish>(again[0]);
        CHECK(a.payload == "a");
        CHECK(a.packet_id == 1);
        CHECK(a.dup);
        CHECK(as<codec::pubrel>(again[1]).packet_id == 2);
        const auto& c = as<codec::publish>(again[2]);
        CHECK(c.payload == "c");
        CHECK(c.packet_id == 3);
        CHECK(c.qos == 2);
        CHECK(c.dup);
        f.receive(codec::pubcomp{2});
        CHECK(f.actions.acked == std::vector<std::int64_t>{2});
    }
    SECTION("no session: everything is published again, b too") {
        f.s.on_packet(codec::connack{false, codec::connect_return_code::accepted}, t0, f.out);
        CHECK(f.actions.resent == 3);
        const auto again = drain(f.out);
        REQUIRE(again.size() == 3);
        for (const auto& p : again) {
            CHECK(as<codec::publish>(p).dup);
        }
        CHECK(as<codec::publish>(again[1]).payload == "b");
        f.receive(codec::pubrec{2}); // b's exchange starts over
        CHECK(as<codec::pubrel>(drain(f.out).at(0)).packet_id == 2);
    }
}

TEST_CASE("client session: the ids of SUBSCRIBE come from the same pool", "[protocol]") {
    fixture f;
    f.s.subscribe({{"cmd/#", 1}, {"x/#", 2}}, f.out);
    f.publish("a", 1, 1);
    const auto sent = drain(f.out);
    REQUIRE(sent.size() == 2);
    const auto& sub = as<codec::subscribe>(sent[0]);
    CHECK(sub.packet_id == 1);
    REQUIRE(sub.subscriptions.size() == 2);
    CHECK(sub.subscriptions[1].filter == "x/#");
    CHECK(as<codec::publish>(sent[1]).packet_id == 2);
    f.receive(codec::suback{1, {1, codec::suback_failure}});
    REQUIRE(f.actions.subacks.size() == 1);
    CHECK(f.actions.subacks[0][1] == codec::suback_failure);
    f.s.subscribe({}, f.out); // nothing to subscribe to: no SUBSCRIBE
    CHECK(f.out.empty());
}

TEST_CASE("client session: an acknowledgement of the wrong type is a protocol error",
          "[protocol]") {
    fixture f;
    f.publish("one", 1, 1);
    f.publish("two", 2, 2);
    SECTION("PUBACK for QoS 2") {
        f.receive(codec::puback{2});
    }
    SECTION("PUBREC for QoS 1") {
        f.receive(codec::pubrec{1});
    }
    SECTION("PUBCOMP before PUBREC") {
        f.receive(codec::pubcomp{2});
    }
    SECTION("PUBCOMP for QoS 1") {
        f.receive(codec::pubcomp{1});
    }
    CHECK(f.actions.closed == errc::protocol_error);
    CHECK(f.actions.acked.empty());
    CHECK_FALSE(f.s.connected());
}

TEST_CASE("client session: packets a server never sends are protocol errors", "[protocol]") {
    fixture f;
    SECTION("a second CONNACK") {
        f.receive(codec::connack{false, codec::connect_return_code::accepted});
    }
    SECTION("SUBSCRIBE") {
        f.receive(codec::subscribe{1, {{"a", 0}}});
    }
    SECTION("PINGREQ") {
        f.receive(codec::pingreq{});
    }
    SECTION("DISCONNECT") {
        f.receive(codec::disconnect{});
    }
    CHECK(f.actions.closed == errc::protocol_error);
}

TEST_CASE("client session: keep-alive on a fake clock", "[protocol]") {
    fixture f; // keep-alive 60 s, connected at t0
    f.s.on_timer(t0 + 59s, f.out);
    CHECK(f.out.empty());
    SECTION("idle: PINGREQ after 60 s, closed when PINGRESP is more than 60 s late") {
        f.s.on_timer(t0 + 60s, f.out);
        CHECK(bytes_of(f.out) == hex("c0 00"));
        f.s.on_timer(t0 + 90s, f.out); // one ping at a time
        CHECK(f.out.empty());
        f.s.on_timer(t0 + 120s, f.out);
        CHECK(!f.actions.closed);
        f.s.on_timer(t0 + 121s, f.out);
        CHECK(f.actions.closed == errc::keep_alive_timeout);
        CHECK_FALSE(f.s.connected());
    }
    SECTION("any bytes read answer the ping") {
        f.s.on_timer(t0 + 60s, f.out);
        f.out.clear();
        f.s.on_read(t0 + 70s);
        f.s.on_timer(t0 + 125s, f.out);
        CHECK(!f.actions.closed);
        // Read 55 s ago, but nothing written for 125 s: ping again.
        CHECK(bytes_of(f.out) == hex("c0 00"));
    }
    SECTION("traffic both ways keeps it quiet") {
        f.s.on_read(t0 + 50s);
        f.s.on_written(t0 + 50s);
        f.s.on_timer(t0 + 100s, f.out);
        CHECK(f.out.empty());
        f.s.on_timer(t0 + 110s, f.out);
        CHECK(bytes_of(f.out) == hex("c0 00"));
    }
}

TEST_CASE("client session: after DISCONNECT nothing is sent, acknowledgements still count",
          "[protocol]") {
    fixture f;
    f.publish("a", 1, 1);
    f.publish("b", 2, 2);
    f.receive(codec::pubrec{2});
    f.out.clear();
    f.s.disconnect(f.out);
    CHECK(bytes_of(f.out) == hex("e0 00"));
    CHECK_FALSE(f.s.connected());
    f.receive(codec::puback{1});
    f.receive(codec::pubcomp{2});
    CHECK(f.actions.acked == std::vector<std::int64_t>{1, 2});
    f.receive(codec::publish{"in/a", "x", 7, 1, false, false}); // not taken: no PUBACK
    f.s.on_timer(t0 + 1h, f.out);                               // no PINGREQ either
    CHECK(f.actions.delivered.empty());
    CHECK(f.out.empty());
    CHECK(!f.actions.closed);
}

TEST_CASE("packet id pool: in sequence, never 0, skipping ids in use", "[protocol]") {
    packet_id_pool pool;
    std::set<std::uint16_t> used;
    const auto in_use = [&used](std::uint16_t id) { return used.contains(id); };
    CHECK(pool.allocate(in_use) == 1);
    CHECK(pool.allocate(in_use) == 2);
    used = {3, 4};
    CHECK(pool.allocate(in_use) == 5);
    for (int i = 6; i < 65535; ++i) {
        pool.allocate(in_use);
    }
    used = {1};
    CHECK(pool.allocate(in_use) == 65535);
    CHECK(pool.allocate(in_use) == 2); // round again past 0 and the 1 in use
    std::set<std::uint16_t> all;
    for (unsigned id = 1; id <= 65535; ++id) {
        all.insert(static_cast<std::uint16_t>(id));
    }
    CHECK(pool.allocate([&all](std::uint16_t id) { return all.contains(id); }) == 0);
}

// ---------------------------------------------------------------------------------------------
// MQTT 5.0 (a bridge with protocol_version = 5)

namespace {

client_options options_v5() {
    auto o = options();
    o.protocol_level = codec::protocol_level_5;
    o.bridge = true; // ignored at 5.0: No Local says it per subscription
    o.session_expiry_interval = 3600;
    o.maximum_packet_size = 1000;
    return o;
}

/// A 5.0 session connected with a CONNACK carrying `props`.
struct fixture_v5 {
    recorder actions;
    client_session s;
    write_queue out;

    explicit fixture_v5(codec::properties props = {}) : s(options_v5(), actions) {
        s.connect(t0, out);
        out.clear();
        codec::connack ack{false, codec::connect_return_code::accepted};
        ack.props.edit() = std::move(props);
        s.on_packet(std::move(ack), t0, out);
        REQUIRE(s.connected());
    }
    std::vector<codec::packet> written() { return edgemq::test::packets_of(out, 5); }
};

} // namespace

TEST_CASE("client session 5.0: the CONNECT says level 5, Session Expiry and Maximum Packet Size",
          "[protocol]") {
    recorder actions;
    write_queue out;
    client_session s{options_v5(), actions};
    CHECK_FALSE(s.bridge_bit());
    s.connect(t0, out);
    const auto bytes = bytes_of(out);
    packet_reader reader{bytes, codec::protocol_level_5};
    auto p = reader.next(bytes.size());
    REQUIRE(p.has_value());
    REQUIRE(p->has_value());
    const auto& c = as<codec::connect>(**p);
    CHECK(c.protocol_level == 5); // no 0x80: the bridge bit is 3.1.1's
    CHECK(c.props->session_expiry_interval == 3600u);
    CHECK(c.props->maximum_packet_size == 1000u);
}

TEST_CASE("client session 5.0: the server's Receive Maximum bounds the window", "[protocol]") {
    codec::properties props;
    props.receive_maximum = 2;
    fixture_v5 f{props};
    CHECK_FALSE(f.s.window_full());
    REQUIRE(f.s.publish(make_message("t", "1", 1), 1, f.out) == client_session::publish_result::written);
    REQUIRE(f.s.publish(make_message("t", "2", 2), 2, f.out) == client_session::publish_result::written);
    CHECK(f.s.window_full()); // 2 of max_inflight 10, but the server takes 2 at once
    f.s.on_packet(codec::puback{1}, t0, f.out);
    CHECK_FALSE(f.s.window_full());
}

TEST_CASE("client session 5.0: Maximum QoS, Retain Available and Maximum Packet Size of the server",
          "[protocol]") {
    codec::properties props;
    props.maximum_qos = 1;
    props.retain_available = 0;
    props.maximum_packet_size = 64;
    fixture_v5 f{props};
    auto m = std::make_shared<edgemq::broker::message>(
        edgemq::broker::message{"t", "x", 2, true, 0});
    REQUIRE(f.s.publish(m, 1, f.out) == client_session::publish_result::written);
    CHECK(f.s.publish(make_message("t", std::string(100, 'a'), 1), 2, f.out) ==
          client_session::publish_result::too_large); // [MQTT-3.2.2-15]
    const auto sent = f.written();
    REQUIRE(sent.size() == 1);
    const auto& p = as<codec::publish>(sent[0]);
    CHECK(p.qos == 1);     // [MQTT-3.2.2-11]
    CHECK_FALSE(p.retain); // [MQTT-3.2.2-14]
}

TEST_CASE("client session 5.0: user properties go out with the PUBLISH", "[protocol]") {
    fixture_v5 f;
    edgemq::broker::message m{"t", "x", 1, false, 0};
    m.props.edit().user_properties = {{"k", "v1"}, {"a", "2"}, {"k", "v2"}};
    REQUIRE(f.s.publish(std::make_shared<edgemq::broker::message>(std::move(m)), 1, f.out) ==
            client_session::publish_result::written);
    const auto sent = f.written();
    REQUIRE(sent.size() == 1);
    const auto& up = as<codec::publish>(sent[0]).props->user_properties;
    REQUIRE(up.size() == 3);
    CHECK(up[0].key == "k");
    CHECK(up[0].value == "v1");
    CHECK(up[2].value == "v2");
}

TEST_CASE("client session 5.0: a refusal on PUBACK or PUBREC ends the exchange as rejected",
          "[protocol]") {
    fixture_v5 f;
    REQUIRE(f.s.publish(make_message("t", "1", 1), 1, f.out) == client_session::publish_result::written);
    REQUIRE(f.s.publish(make_message("t", "2", 2), 2, f.out) == client_session::publish_result::written);
    const auto sent = f.written();
    REQUIRE(sent.size() == 2);
    codec::property_set why;
    why.edit().reason_string = "not authorized";
    f.s.on_packet(codec::puback{as<codec::publish>(sent[0]).packet_id, 0x87, why}, t0, f.out);
    f.s.on_packet(codec::pubrec{as<codec::publish>(sent[1]).packet_id, 0x97}, t0, f.out);
    CHECK(f.actions.acked.empty());
    REQUIRE(f.actions.rejections.size() == 2);
    CHECK(f.actions.rejections[0] == std::pair<std::int64_t, std::uint8_t>{1, 0x87});
    CHECK(f.actions.rejections[1] == std::pair<std::int64_t, std::uint8_t>{2, 0x97});
    CHECK(f.actions.reasons == std::vector<std::string>{"not authorized", ""}); // its words
    CHECK(f.out.empty()); // no PUBREL after a refused PUBREC [MQTT-4.3.3]
    CHECK(f.s.inflight() == 0);
}

TEST_CASE("client session 5.0: a DISCONNECT from the server is reported with its reason",
          "[protocol]") {
    fixture_v5 f;
    codec::property_set why;
    why.edit().reason_string = "session taken over";
    f.s.on_packet(codec::disconnect{0x8E, why}, t0, f.out);
    CHECK(f.actions.disconnect_reason == std::uint8_t{0x8E});
    CHECK(f.actions.reasons == std::vector<std::string>{"session taken over"});
    CHECK_FALSE(f.s.connected());
}

TEST_CASE("client session 5.0: a Topic Alias from the server is a protocol error (we allow none)",
          "[protocol]") {
    fixture_v5 f;
    codec::publish p{"t", "x"};
    p.props.edit().topic_alias = 1;
    f.s.on_packet(std::move(p), t0, f.out);
    CHECK(f.actions.closed == errc::protocol_error);
    CHECK(f.actions.delivered.empty());
}

TEST_CASE("client session 3.1.1: a server that refuses the bridge bit can be connected without it",
          "[protocol]") {
    recorder actions;
    write_queue out;
    auto o = options();
    o.bridge = true;
    client_session s{o, actions};
    CHECK(s.bridge_bit());
    s.drop_bridge_bit();
    CHECK_FALSE(s.bridge_bit());
    s.connect(t0, out);
    CHECK(bytes_of(out)[8] == 0x04); // the protocol level byte: plain 3.1.1
}
