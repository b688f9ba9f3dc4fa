// SPDX-License-Identifier: Apache-2.0
// The broker's MQTT rules for one connection, driven without sockets: packets and a fake clock
// in, the bytes the session writes and the actions it asks for out.
#include "edgemq/broker/error.hpp"
#include "edgemq/broker/protocol/packet_reader.hpp"
#include "edgemq/broker/protocol/server_session.hpp"

#include "written_packets.hpp"

#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

namespace codec = edgemq::broker::codec;
namespace auth = edgemq::broker::auth;
using edgemq::broker::errc;
using edgemq::broker::make_message;
using edgemq::broker::message_ptr;
using edgemq::broker::net::write_queue;
using namespace edgemq::broker::protocol;
using namespace std::chrono_literals;
using event = server_actions::event;

namespace {

constexpr const char* alice_secret = // alice:correct horse (password_file_test.cpp's known answer)
    "alice:$7$101$ZWRnZW1xLXNhbHQx$viPjuOAtU+HYBqTkNhGd/1+Diq+gzblBTfH5Fpb2HSjrgfU+G6jT5K+QvKrnI6Y"
    "n+bxHVO7/Iuh4yqmzJW/d6g==\n";

/// The owner of a session under test: records every action, attaches on request.
struct recorder final : server_actions {
    server_limits limits_;
    std::vector<attach_request> attaches;
    std::vector<message_ptr> routed;
    std::vector<std::pair<std::string, subscription_options>> subscribed;
    std::vector<std::string> unsubscribed;
    std::vector<std::pair<message_ptr, std::uint32_t>> deferred_wills;
    std::vector<message_ptr> retained;
    admission_rules admission;
    std::vector<event> events;
    std::vector<std::string> logins_refused;
    std::optional<codec::connect_return_code> refusal;
    std::vector<boost::system::error_code> closes;

    const server_limits& limits() override { return limits_; }
    void attach(attach_request r) override { attaches.push_back(std::move(r)); }
    /// Called for each routed message: a test that subscribes the publisher delivers it back.
    std::function<void(const message_ptr&)> on_route;
    void route(message_ptr m) override {
        if (on_route) {
            on_route(m);
        }
        routed.push_back(std::move(m));
        if (durable_routes) {
            ++mark;
        }
    }
    bool subscribe(const std::string& f, const subscription_options& o) override {
        const bool fresh = std::none_of(subscribed.begin(), subscribed.end(),
                                        [&f](const auto& s) { return s.first == f; });
        subscribed.emplace_back(f, o);
        return fresh;
    }
    bool unsubscribe(const std::string& f) override {
        unsubscribed.push_back(f);
        return std::any_of(subscribed.begin(), subscribed.end(),
                           [&f](const auto& s) { return s.first == f; });
    }
    void defer_will(message_ptr m, std::uint32_t delay) override {
        deferred_wills.emplace_back(std::move(m), delay);
    }
    std::vector<message_ptr> retained_for(std::string_view) override { return retained; }
    admission_rules rules() override { return admission; }
    void count(event e) override { events.push_back(e); }
    /// A session store: routing a message to a durable destination (durable_routes) records a
    /// change; `committed` says how far it is on disk.
    bool durable_routes = false;
    std::uint64_t mark = 0;
    std::uint64_t committed = 0;
    std::uint64_t durable_mark() override { return mark; }
    bool await_commit(std::uint64_t m) override { return m > committed; }
    void login_refused(std::string_view, std::string_view user) override {
        logins_refused.emplace_back(user);
    }
    void refused(codec::connect_return_code code, boost::system::error_code,
                 std::string_view) override {
        refusal = code;
    }
    void close(boost::system::error_code reason) override { closes.push_back(reason); }
};

/// One connection: a session, its owner and its output, at a fake time.
struct fixture {
    session_limits qos_limits;
    recorder actions;
    server_limits& limits = actions.limits_;
    server_session::clock::time_point now{};
    server_session session{actions, now};
    write_queue& out = session.out();
    std::shared_ptr<session_core> attached;
    session_state* state = nullptr;

    /// Sends CONNECT and, when the session asks, attaches it.
    void connect(codec::connect c = {}, bool session_present = false) {
        if (c.client_id.empty() && c.clean_session && c.protocol_level == 4) {
            c.client_id = "c1";
        }
        session.on_packet(c);
        if (!actions.attaches.empty()) {
            auto& r = actions.attaches.back();
            attached = std::make_shared<session_core>(r.client_id, 1, qos_limits);
            attached->access = r.access;
            state = &attached->state;
            session.on_attached(attached, session_present, now);
        }
    }

    /// The packets written so far, decoded; empties the output.
    std::vector<codec::packet> sent() { return edgemq::test::packets_of(out); }

    codec::connack connack() {
        auto packets = sent();
        REQUIRE(packets.size() == 1);
        REQUIRE(std::holds_alternative<codec::connack>(packets[0]));
        return std::get<codec::connack>(packets[0]);
    }
};

codec::fixed_header header_of(codec::packet_type type, std::uint32_t remaining) {
    return {static_cast<std::uint8_t>(static_cast<unsigned>(type) << 4), remaining, 2};
}

} // namespace

TEST_CASE("server session: before CONNECT only a small CONNECT is read [MQTT-3.1.0-1]",
          "[protocol]") {
    fixture f;
    f.limits.max_connect_size = 100;
    CHECK(f.session.check_header(header_of(codec::packet_type::publish, 10)) ==
          errc::first_packet_not_connect);
    CHECK(f.session.check_header(header_of(codec::packet_type::connect, 200)) ==
          errc::unauthenticated_limit);
    CHECK_FALSE(f.session.check_header(header_of(codec::packet_type::connect, 50)));
    f.connect();
    // Once connected, the packet size limit is max_packet_size.
    CHECK_FALSE(f.session.check_header(header_of(codec::packet_type::publish, 200)));
    f.limits.max_packet_size = 150;
    CHECK(f.session.check_header(header_of(codec::packet_type::publish, 200)) ==
          errc::packet_too_large);
}

TEST_CASE("server session: CONNECT attaches, CONNACK follows, 3.1 has no session-present "
          "[MQTT-3.2.2-2]",
          "[protocol]") {
    fixture f;
    codec::connect c;
    c.client_id = "sensor-1";
    c.clean_session = false;
    c.keep_alive = 30;
    f.connect(c, true);
    REQUIRE(f.actions.attaches.size() == 1);
    CHECK(f.actions.attaches[0].client_id == "sensor-1");
    CHECK_FALSE(f.actions.attaches[0].clean_start);
    CHECK(f.connack().session_present);
    CHECK(f.session.connected());
    CHECK(f.session.client_id() == "sensor-1");
    CHECK(f.session.keep_alive() == 30);

    fixture old;
    codec::connect c31;
    c31.protocol_name = "MQIsdp";
    c31.protocol_level = codec::protocol_level_31;
    c31.client_id = "legacy";
    c31.clean_session = false;
    old.connect(c31, true);
    CHECK_FALSE(old.connack().session_present);
}

TEST_CASE("server session: client ids [MQTT-3.1.3-6] [MQTT-3.1.3-8]", "[protocol]") {
    SECTION("an empty id with clean session gets one assigned") {
        fixture f;
        codec::connect c;
        c.client_id.clear();
        f.session.on_packet(c);
        REQUIRE(f.actions.attaches.size() == 1);
        CHECK(f.actions.attaches[0].client_id.starts_with("edgemq-"));
        CHECK(f.actions.attaches[0].client_id.size() == 23);
    }
    SECTION("an empty id without clean session is refused with 0x02") {
        fixture f;
        codec::connect c;
        c.clean_session = false;
        f.session.on_packet(c);
        CHECK(f.actions.attaches.empty());
        CHECK(f.actions.refusal == codec::connect_return_code::identifier_rejected);
        CHECK(f.connack().code == codec::connect_return_code::identifier_rejected);
        CHECK(f.session.paused()); // nothing more is read while the refusal goes out
    }
    SECTION("MQTT 3.1 ids have 1 to 23 characters") {
        fixture f;
        codec::connect c;
        c.protocol_level = codec::protocol_level_31;
        c.client_id = std::string(24, 'x');
        f.session.on_packet(c);
        CHECK(f.actions.refusal == codec::connect_return_code::identifier_rejected);
    }
}

TEST_CASE("server session: authentication against the listener's rules", "[protocol]") {
    fixture f;
    f.actions.admission.passwords =
        std::make_shared<auth::password_file>(auth::password_file::parse(alice_secret, "pw"));
    f.actions.admission.anonymous_allowed = false;
    codec::connect c;
    c.client_id = "a";
    SECTION("anonymous is refused with 0x05") {
        f.session.on_packet(c);
        CHECK(f.actions.refusal == codec::connect_return_code::not_authorized);
        CHECK(f.actions.logins_refused == std::vector<std::string>{""});
    }
    SECTION("a wrong password is refused with 0x04") {
        c.username = "alice";
        c.password = "wrong";
        f.session.on_packet(c);
        CHECK(f.actions.refusal == codec::connect_return_code::bad_username_or_password);
        CHECK(f.actions.logins_refused == std::vector<std::string>{"alice"});
    }
    SECTION("a user name without a password never matches") {
        c.username = "alice";
        f.session.on_packet(c);
        CHECK(f.actions.refusal == codec::connect_return_code::bad_username_or_password);
    }
    SECTION("the right password attaches with the user name for the ACL") {
        c.username = "alice";
        c.password = "correct horse";
        f.session.on_packet(c);
        REQUIRE(f.actions.attaches.size() == 1);
        REQUIRE(f.actions.attaches[0].access);
        CHECK(f.actions.attaches[0].access->username == "alice");
    }
    SECTION("no password file and no anonymous: a user name is not enough") {
        f.actions.admission.passwords = nullptr;
        c.username = "anyone";
        c.password = "anything";
        f.session.on_packet(c);
        CHECK(f.actions.refusal == codec::connect_return_code::not_authorized);
    }
    SECTION("use_identity_as_username takes the certificate's CN, or refuses") {
        f.actions.admission.use_identity_as_username = true;
        c.username = "alice";
        c.password = "wrong"; // ignored
        f.session.on_packet(c);
        CHECK(f.actions.refusal == codec::connect_return_code::not_authorized);

        fixture g;
        g.actions.admission.use_identity_as_username = true;
        g.actions.admission.certificate_identity = "device-7";
        g.session.on_packet(c);
        REQUIRE(g.actions.attaches.size() == 1);
        CHECK(g.actions.attaches[0].access->username == "device-7");
    }
}

TEST_CASE("server session: a will the client may not publish refuses the CONNECT", "[protocol]") {
    fixture f;
    f.actions.admission.acl = std::make_shared<auth::acl>(
        auth::acl::parse("user alice\ntopic write alice/#\n", "acl"));
    codec::connect c;
    c.client_id = "a";
    c.username = "alice";
    SECTION("outside the ACL: 0x05, counted as denied") {
        c.will = codec::will_message{"cmd/door", "open", 0, false};
        f.session.on_packet(c);
        CHECK(f.actions.refusal == codec::connect_return_code::not_authorized);
        CHECK(f.actions.events == std::vector<event>{event::publish_denied});
    }
    SECTION("in $SYS: 0x05, not counted") {
        c.will = codec::will_message{"$SYS/x", "", 0, false};
        f.session.on_packet(c);
        CHECK(f.actions.refusal == codec::connect_return_code::not_authorized);
        CHECK(f.actions.events.empty());
    }
    SECTION("inside the ACL: published when the connection breaks [MQTT-3.1.2-8]") {
        c.will = codec::will_message{"alice/status", "gone", 1, true};
        f.connect(c);
        f.session.on_closed();
        REQUIRE(f.actions.routed.size() == 1);
        CHECK(f.actions.routed[0]->topic == "alice/status");
        CHECK(f.actions.routed[0]->retain);
    }
    SECTION("not after a clean DISCONNECT [MQTT-3.14.4-3]") {
        c.will = codec::will_message{"alice/status", "gone", 1, true};
        f.connect(c);
        f.session.on_packet(codec::disconnect{});
        CHECK(f.actions.closes == std::vector<boost::system::error_code>{{}});
        f.session.on_closed();
        CHECK(f.actions.routed.empty());
    }
    SECTION("not when a reload has narrowed the ACL since CONNECT") {
        c.will = codec::will_message{"alice/status", "gone", 1, true};
        f.connect(c);
        f.actions.admission.acl = std::make_shared<auth::acl>(
            auth::acl::parse("user alice\ntopic read alice/#\n", "acl"));
        f.session.on_closed();
        CHECK(f.actions.routed.empty());
        CHECK(f.actions.events == std::vector<event>{event::publish_denied});
    }
}

TEST_CASE("server session: PUBLISH at each QoS [MQTT-4.3.1] [MQTT-4.3.2-2] [MQTT-4.3.3-2]",
          "[protocol]") {
    fixture f;
    f.connect();
    f.sent();
    f.session.on_packet(codec::publish{"a/b", "0", 0, 0, false, false});
    f.session.on_packet(codec::publish{"a/b", "1", 7, 1, false, false});
    f.session.on_packet(codec::publish{"a/b", "2", 8, 2, false, false});
    f.session.on_packet(codec::publish{"a/b", "2", 8, 2, false, true}); // resent before PUBREL
    f.session.on_packet(codec::pubrel{8});
    CHECK(f.actions.routed.size() == 3); // the resent QoS 2 message is not delivered twice
    const auto packets = f.sent();
    REQUIRE(packets.size() == 4);
    CHECK(std::get<codec::puback>(packets[0]).packet_id == 7);
    CHECK(std::get<codec::pubrec>(packets[1]).packet_id == 8);
    CHECK(std::get<codec::pubrec>(packets[2]).packet_id == 8);
    CHECK(std::get<codec::pubcomp>(packets[3]).packet_id == 8);
    CHECK(f.actions.events.size() == 4); // every PUBLISH received is counted
}

TEST_CASE("server session: acknowledgements wait for the session store, in order (rule 7)",
          "[protocol]") {
    fixture f;
    SECTION("3.1.1") {
        f.connect();
        f.sent();
        f.actions.durable_routes = true; // the first message reaches a persistent session
        f.session.on_packet(codec::publish{"a/b", "1", 7, 1, false, false});
        f.actions.durable_routes = false;
        f.session.on_packet(codec::publish{"a/b", "2", 8, 2, false, false}); // no durable place
        f.session.on_packet(codec::pingreq{});
        auto packets = f.sent();
        REQUIRE(packets.size() == 1); // the PUBACK, and the PUBREC behind it, wait
        CHECK(std::holds_alternative<codec::pingresp>(packets[0]));
        CHECK(f.session.holding_responses());
        f.actions.committed = f.actions.mark;
        f.session.on_committed(f.actions.mark, true);
        packets = f.sent();
        REQUIRE(packets.size() == 2);
        CHECK(std::get<codec::puback>(packets[0]).packet_id == 7);
        CHECK(std::get<codec::pubrec>(packets[1]).packet_id == 8);
        CHECK_FALSE(f.session.holding_responses());

        // The disk refused it: 3.1.1 cannot say so, so it is not acknowledged at all.
        f.actions.durable_routes = true;
        f.session.on_packet(codec::publish{"a/b", "3", 9, 1, false, false});
        f.session.on_committed(f.actions.mark, false);
        CHECK(f.sent().empty());
        CHECK_FALSE(f.session.holding_responses());
    }
    SECTION("5.0: a message the disk refused is acknowledged with Unspecified error") {
        codec::connect c;
        c.protocol_level = 5;
        c.client_id = "c5";
        f.connect(c);
        f.out.clear();
        f.actions.durable_routes = true;
        f.session.on_packet(codec::publish{"a/b", "1", 7, 1, false, false});
        CHECK(f.out.empty());
        f.session.on_committed(f.actions.mark, false);
        const auto packets = edgemq::test::packets_of(f.out, codec::protocol_level_5);
        REQUIRE(packets.size() == 1);
        CHECK(std::get<codec::puback>(packets[0]).packet_id == 7);
        CHECK(std::get<codec::puback>(packets[0]).reason_code == 0x80);
    }
}

TEST_CASE("server session: a publisher subscribed to its topic gets the PUBACK before its copy, "
          "and after it once the PUBACK waits for the disk",
          "[protocol]") {
    fixture f;
    f.connect();
    f.sent();
    f.actions.on_route = [&f](const message_ptr& m) {
        f.state->deliver({m, 1, false}, &f.out);
    };
    f.session.on_packet(codec::publish{"a/b", "small", 7, 1, false, false});
    auto packets = f.sent();
    REQUIRE(packets.size() == 2);
    CHECK(std::get<codec::puback>(packets[0]).packet_id == 7); // as before the session store
    CHECK(std::get<codec::publish>(packets[1]).payload == "small");

    // Held: the PUBACK leaves the buffer, the copy (a large payload, referenced) stays intact.
    const std::string big(5000, 'x');
    f.actions.durable_routes = true;
    f.session.on_packet(codec::publish{"a/b", big, 8, 1, false, false});
    packets = f.sent();
    REQUIRE(packets.size() == 1);
    CHECK(std::get<codec::publish>(packets[0]).payload == big);
    f.actions.committed = f.actions.mark;
    f.session.on_committed(f.actions.mark, true);
    packets = f.sent();
    REQUIRE(packets.size() == 1);
    CHECK(std::get<codec::puback>(packets[0]).packet_id == 8);
}

TEST_CASE("server session: $SYS and the ACL drop a PUBLISH but acknowledge it", "[protocol]") {
    fixture f;
    f.connect();
    f.sent();
    f.session.on_packet(codec::publish{"$SYS/broker/uptime", "0", 3, 1, false, false});
    CHECK(f.actions.routed.empty());
    CHECK(std::holds_alternative<codec::puback>(f.sent().at(0)));
    CHECK(f.actions.events == std::vector<event>{event::publish_received}); // $SYS: not denied
}

TEST_CASE("server session: SUBSCRIBE grants in order and sends retained messages after the "
          "SUBACK [MQTT-3.9.3-1] [MQTT-3.3.1-6]",
          "[protocol]") {
    fixture f;
    f.connect();
    f.sent();
    f.actions.retained = {make_message("a/b", "kept", 1, true)};
    f.session.on_packet(codec::subscribe{5, {{"a/#", 2}, {"bad/#/x", 1}}});
    CHECK(f.actions.subscribed ==
          std::vector<std::pair<std::string, subscription_options>>{{"a/#", {2}}});
    const auto packets = f.sent();
    REQUIRE(packets.size() == 2);
    const auto& ack = std::get<codec::suback>(packets[0]);
    CHECK(ack.packet_id == 5);
    CHECK(ack.return_codes == std::vector<std::uint8_t>{2, codec::suback_failure});
    const auto& retained = std::get<codec::publish>(packets[1]);
    CHECK(retained.topic == "a/b");
    CHECK(retained.retain); // [MQTT-3.3.1-8]
    CHECK(retained.qos == 1); // min(granted, published)

    f.session.on_packet(codec::unsubscribe{6, {"a/#"}});
    CHECK(f.actions.unsubscribed == std::vector<std::string>{"a/#"});
    CHECK(std::get<codec::unsuback>(f.sent().at(0)).packet_id == 6); // [MQTT-3.10.4-4]
}

TEST_CASE("server session: protocol errors close the connection", "[protocol]") {
    fixture f;
    SECTION("an unknown protocol level gets CONNACK 0x01 [MQTT-3.1.2-2]") {
        f.session.fail(errc::unsupported_protocol_version);
        CHECK(f.connack().code == codec::connect_return_code::unacceptable_protocol_version);
        CHECK(f.actions.closes.empty()); // closed once the CONNACK is sent
    }
    SECTION("a second CONNECT [MQTT-3.1.0-2]") {
        f.connect();
        f.session.on_packet(codec::connect{});
        CHECK(f.actions.closes == std::vector<boost::system::error_code>{errc::protocol_error});
    }
    SECTION("a packet only servers send") {
        f.connect();
        f.session.on_packet(codec::suback{1, {0}});
        CHECK(f.actions.closes == std::vector<boost::system::error_code>{errc::protocol_error});
    }
    SECTION("an ack of the wrong type for an id in flight [MQTT-4.3]") {
        f.connect();
        f.state->deliver({make_message("t", "x", 1), 1, false}, &f.out);
        const auto pub = std::get<codec::publish>(f.sent().back());
        f.session.on_packet(codec::pubrec{pub.packet_id});
        CHECK(f.actions.closes == std::vector<boost::system::error_code>{errc::protocol_error});
    }
    SECTION("PINGREQ is answered [MQTT-3.12.4-1]") {
        f.connect();
        f.sent();
        f.session.on_packet(codec::pingreq{});
        CHECK(std::holds_alternative<codec::pingresp>(f.sent().at(0)));
        CHECK(f.actions.closes.empty());
    }
}

TEST_CASE("server session: a 5.0 refusal says why in a Reason String where the client takes "
          "one [MQTT-3.1.2-29]",
          "[protocol]") {
    fixture f;
    codec::connect c;
    c.protocol_level = codec::protocol_level_5;
    c.client_id = "c5";
    codec::properties asked;
    const auto v5_sent = [&f] { return edgemq::test::packets_of(f.out, codec::protocol_level_5); };
    const auto connect_with = [&](const codec::properties& props) {
        c.props = props;
        f.connect(c);
        f.out.clear();
    };
    SECTION("a refused CONNACK") {
        f.actions.admission.anonymous_allowed = false;
        f.session.on_packet(c);
        const auto packets = v5_sent();
        REQUIRE(packets.size() == 1);
        const auto& ack = std::get<codec::connack>(packets[0]);
        CHECK(static_cast<int>(ack.code) == 0x87);
        CHECK(ack.props->reason_string == "not authorized");
    }
    SECTION("a PUBACK that refuses, unless the client asked for no problem information") {
        const bool problem_information = GENERATE(true, false);
        if (!problem_information) {
            asked.request_problem_information = 0;
        }
        connect_with(asked);
        f.session.on_packet(codec::publish{"$SYS/broker/uptime", "0", 3, 1, false, false});
        const auto packets = v5_sent();
        REQUIRE(packets.size() == 1);
        const auto& ack = std::get<codec::puback>(packets[0]);
        CHECK(ack.reason_code == 0x87);
        CHECK(ack.props->reason_string ==
              (problem_information ? std::optional<std::string>{"not authorized"} : std::nullopt));
    }
    SECTION("a SUBACK names the filters it refuses") {
        connect_with(asked);
        f.session.on_packet(codec::subscribe{1, {{"a/#/b", 0}, {"ok", 1}, {"x/+y", 0}}});
        const auto packets = v5_sent();
        REQUIRE(packets.size() == 1);
        const auto& ack = std::get<codec::suback>(packets[0]);
        CHECK(ack.return_codes == std::vector<std::uint8_t>{0x8F, 1, 0x8F});
        CHECK(ack.props->reason_string == "topic filter invalid: filters 1, 3");
    }
    SECTION("a PUBCOMP for an id that is not there") {
        connect_with(asked);
        f.session.on_packet(codec::pubrel{42});
        const auto packets = v5_sent();
        REQUIRE(packets.size() == 1);
        const auto& comp = std::get<codec::pubcomp>(packets[0]);
        CHECK(comp.reason_code == 0x92);
        CHECK(comp.props->reason_string == "packet identifier not found");
    }
    SECTION("an accepted PUBLISH gets none") {
        connect_with(asked);
        f.session.on_packet(codec::publish{"a/b", "0", 3, 1, false, false});
        const auto packets = v5_sent();
        REQUIRE(packets.size() == 1);
        CHECK(std::get<codec::puback>(packets[0]).props.empty());
    }
    SECTION("the server's DISCONNECT, within the client's Maximum Packet Size") {
        const std::uint32_t maximum = GENERATE(0U, 20U);
        if (maximum != 0) {
            asked.maximum_packet_size = maximum; // too small for the words
        }
        connect_with(asked);
        REQUIRE(f.session.farewell(errc::keep_alive_timeout));
        const auto packets = v5_sent();
        REQUIRE(packets.size() == 1);
        const auto& d = std::get<codec::disconnect>(packets[0]);
        CHECK(d.reason_code == 0x8D);
        CHECK(d.props->reason_string ==
              (maximum == 0 ? std::optional<std::string>{"keep-alive timeout"} : std::nullopt));
    }
}

TEST_CASE("server session: deadlines on a fake clock [MQTT-3.1.2-24]", "[protocol]") {
    fixture f;
    f.limits.connect_timeout = 10s;
    f.limits.packet_timeout = 60s;
    const auto t0 = f.now;
    CHECK_FALSE(f.session.check_deadline(t0 + 9s));
    CHECK(f.session.check_deadline(t0 + 10s) == errc::connect_timeout);

    codec::connect c;
    c.client_id = "k";
    c.keep_alive = 10;
    f.connect(c);
    CHECK_FALSE(f.session.check_deadline(t0 + 14s));
    CHECK(f.session.check_deadline(t0 + 15s) == errc::keep_alive_timeout); // 1.5 x 10 s
    f.session.on_read(t0 + 10s);
    CHECK_FALSE(f.session.check_deadline(t0 + 24s));
    CHECK(f.session.check_deadline(t0 + 25s) == errc::keep_alive_timeout);

    // A packet begun and never finished: packet_timeout, whatever keep-alive says.
    fixture g;
    codec::connect slow;
    slow.client_id = "slow";
    g.connect(slow);
    g.session.on_progress(t0 + 1s, false, true);
    g.session.on_read(t0 + 50s); // a byte now and then keeps keep-alive happy
    g.session.on_progress(t0 + 50s, false, true);
    CHECK_FALSE(g.session.check_deadline(t0 + 60s));
    CHECK(g.session.check_deadline(t0 + 61s) == errc::packet_timeout);
    g.session.on_progress(t0 + 62s, true, false); // it finished
    CHECK_FALSE(g.session.check_deadline(t0 + 62s));
}
