// SPDX-License-Identifier: Apache-2.0
// MQTT 5.0 packets in the codec: golden bytes both ways for every packet type, the short forms of
// acknowledgements, subscription options, and what the decoder must refuse (OASIS MQTT 5.0,
// section 3). The 3.1.1 layout of the same packets is codec_test.cpp's.
#include "edgemq/broker/codec/decode.hpp"
#include "edgemq/broker/codec/encode.hpp"
#include "edgemq/broker/codec/packets.hpp"
#include "edgemq/broker/error.hpp"

#include "hex.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <span>
#include <variant>

namespace {

namespace codec = edgemq::broker::codec;
using edgemq::broker::errc;
using edgemq::test::hex;
using edgemq::test::to_hex;
using bytes = std::vector<std::uint8_t>;

edgemq::broker::result<codec::packet> decode(const bytes& b,
                                             std::uint8_t level = codec::protocol_level_5) {
    INFO("bytes: " << to_hex(b));
    const auto header = codec::decode_fixed_header(b);
    REQUIRE(header.has_value());
    REQUIRE(header->has_value());
    REQUIRE((*header)->packet_size() == b.size()); // the table counts its remaining length right
    return codec::decode(**header, std::span<const std::uint8_t>{b}.subspan((*header)->size), level);
}

template <typename Packet> Packet decoded(const char* wire) {
    auto r = decode(hex(wire));
    INFO(wire << " -> " << (r ? "ok" : r.error().message()));
    REQUIRE(r.has_value());
    REQUIRE(std::holds_alternative<Packet>(*r));
    return std::get<Packet>(std::move(*r));
}

bytes encoded(const codec::packet& p, std::uint8_t level = codec::protocol_level_5) {
    bytes out;
    codec::encode(p, out, level);
    return out;
}

struct golden {
    const char* name;
    const char* wire;
};

// Each decodes at level 5 and encodes back to the same bytes.
const golden goldens[] = {
    {"CONNECT with session expiry and receive maximum",
     "10 17 00 04 4d 51 54 54 05 02 00 3c 08 11 00 00 00 3c 21 00 0a 00 02 63 31"},
    {"CONNECT with a will and its delay",
     "10 1a 00 04 4d 51 54 54 05 2e 00 3c 00 00 01 63 05 18 00 00 00 05 00 01 77 00 01 78"},
    {"CONNECT password without user name (allowed in 5.0)",
     "10 12 00 04 4d 51 54 54 05 42 00 3c 00 00 01 63 00 02 70 77"},
    {"CONNACK 0x84 unsupported protocol version", "20 03 00 84 00"},
    {"CONNACK with assigned client id and receive maximum",
     "20 0b 01 00 08 12 00 02 61 62 21 00 14"},
    {"PUBLISH QoS 1 with topic alias and user property",
     "32 14 00 03 61 2f 62 00 0a 0a 23 00 01 26 00 01 6b 00 01 76 68 69"},
    {"PUBLISH empty topic with a topic alias", "30 07 00 00 03 23 00 05 78"},
    {"PUBACK success, short form", "40 02 00 01"},
    {"PUBACK no matching subscribers, without properties", "40 03 00 01 10"},
    {"PUBACK not authorized with a reason string", "40 09 00 01 87 05 1f 00 02 6e 6f"},
    {"PUBREC", "50 02 00 07"},
    {"PUBREL packet identifier not found", "62 03 00 01 92"},
    {"PUBCOMP", "70 02 00 01"},
    {"SUBSCRIBE with subscription identifier and every option",
     "82 0b 00 01 02 0b 05 00 03 74 2f 23 2d"},
    {"SUBACK granted 1 and not authorized", "90 05 00 01 00 01 87"},
    {"UNSUBSCRIBE", "a2 06 00 02 00 00 01 74"},
    {"UNSUBACK success and no subscription existed", "b0 05 00 02 00 00 11"},
    {"PINGREQ", "c0 00"},
    {"PINGRESP", "d0 00"},
    {"DISCONNECT normal, short form", "e0 00"},
    {"DISCONNECT session taken over", "e0 01 8e"},
    {"DISCONNECT with session expiry 0", "e0 07 00 05 11 00 00 00 00"},
    {"AUTH success, short form", "f0 00"},
    {"AUTH continue with a method", "f0 0a 18 08 15 00 05 53 43 52 41 4d"},
};

struct refused {
    const char* name;
    const char* wire;
    errc error;
};

const refused refusals[] = {
    {"CONNECT with a topic alias (a PUBLISH property)",
     "10 11 00 04 4d 51 54 54 05 02 00 3c 03 23 00 01 00 01 63", errc::protocol_error},
    {"CONNECT in the 3.1.1 layout (no property length)",
     "10 0d 00 04 4d 51 54 54 05 02 00 3c 00 01 61", errc::malformed_packet},
    {"CONNECT will with a session expiry (a CONNECT property)",
     "10 1a 00 04 4d 51 54 54 05 06 00 3c 00 00 01 63 05 11 00 00 00 05 00 01 77 00 01 78",
     errc::protocol_error},
    {"CONNACK reason 0x01 (a 3.1.1 code)", "20 03 00 01 00", errc::malformed_packet},
    {"PUBLISH empty topic without a topic alias", "30 04 00 00 00 78", errc::protocol_error},
    {"PUBLISH topic alias 0", "30 07 00 00 03 23 00 00 78", errc::protocol_error},
    {"PUBLISH property block longer than the packet", "30 05 00 01 74 09 78",
     errc::malformed_packet},
    {"PUBACK reason 0x92 (a PUBREL code)", "40 03 00 01 92", errc::malformed_packet},
    {"PUBREL reason 0x10 (a PUBACK code)", "62 03 00 01 10", errc::malformed_packet},
    {"PUBACK bytes after the properties", "40 05 00 01 00 00 ff", errc::malformed_packet},
    {"SUBSCRIBE reserved option bit 6", "82 07 00 01 00 00 01 74 41", errc::malformed_packet},
    {"SUBSCRIBE retain handling 3", "82 07 00 01 00 00 01 74 30", errc::protocol_error},
    {"SUBSCRIBE QoS 3", "82 07 00 01 00 00 01 74 03", errc::invalid_qos},
    {"SUBSCRIBE two subscription identifiers",
     "82 0b 00 01 04 0b 01 0b 02 00 01 74 00", errc::protocol_error},
    {"SUBSCRIBE subscription identifier 0", "82 09 00 01 02 0b 00 00 01 74 00",
     errc::protocol_error},
    {"SUBSCRIBE without a filter", "82 03 00 01 00", errc::protocol_error},
    {"SUBACK reason 0x03", "90 04 00 01 00 03", errc::malformed_packet},
    {"UNSUBACK reason 0x01", "b0 04 00 02 00 01", errc::malformed_packet},
    {"UNSUBACK without its property length", "b0 02 00 02", errc::malformed_packet},
    {"DISCONNECT reason 0x01", "e0 01 01", errc::malformed_packet},
    {"DISCONNECT with a topic alias", "e0 05 00 03 23 00 01", errc::protocol_error},
    {"AUTH reason 0x87", "f0 01 87", errc::malformed_packet},
    {"AUTH with reserved flags", "f1 00", errc::reserved_flags},
};

} // namespace

TEST_CASE("MQTT 5 codec: the golden table covers every packet type", "[codec][mqtt5]") {
    std::set<std::size_t> seen;
    for (const auto& g : goldens) {
        auto r = decode(hex(g.wire));
        REQUIRE(r.has_value());
        seen.insert(r->index());
    }
    CHECK(seen.size() == std::variant_size_v<codec::packet>);
}

TEST_CASE("MQTT 5 codec: golden bytes decode and encode back to the same bytes", "[codec][mqtt5]") {
    for (const auto& g : goldens) {
        INFO(g.name << ": " << g.wire);
        const auto wire = hex(g.wire);
        auto r = decode(wire);
        REQUIRE(r.has_value());
        CHECK(to_hex(encoded(*r)) == to_hex(wire));
    }
}

TEST_CASE("MQTT 5 codec: refused packets give the exact error", "[codec][mqtt5]") {
    for (const auto& c : refusals) {
        INFO(c.name << ": " << c.wire);
        auto r = decode(hex(c.wire));
        REQUIRE_FALSE(r.has_value());
        CHECK(r.error() == make_error_code(c.error));
    }
}

TEST_CASE("MQTT 5 codec: decoded fields", "[codec][mqtt5]") {
    SECTION("CONNECT properties and will properties [MQTT-3.1.2.11], [MQTT-3.1.3.2]") {
        const auto c = decoded<codec::connect>(goldens[0].wire);
        CHECK(c.protocol_level == codec::protocol_level_5);
        CHECK(c.client_id == "c1");
        CHECK(c.props->session_expiry_interval == 60u);
        CHECK(c.props->receive_maximum == 10);
        const auto w = decoded<codec::connect>(goldens[1].wire);
        REQUIRE(w.will);
        CHECK(w.will->topic == "w");
        CHECK(w.will->payload == "x");
        CHECK(w.will->qos == 1);
        CHECK(w.will->retain);
        CHECK(w.will->props->will_delay_interval == 5u);
        CHECK(w.props.empty());
        const auto p = decoded<codec::connect>(goldens[2].wire);
        CHECK_FALSE(p.username);
        CHECK(p.password == "pw");
    }
    SECTION("PUBLISH properties sit between the packet id and the payload [MQTT-3.3.2.3]") {
        const auto p = decoded<codec::publish>(goldens[5].wire);
        CHECK(p.topic == "a/b");
        CHECK(p.packet_id == 10);
        CHECK(p.payload == "hi");
        CHECK(p.props->topic_alias == 1);
        REQUIRE(p.props->user_properties.size() == 1);
        CHECK(p.props->user_properties[0] == codec::user_property{"k", "v"});
        const auto aliased = decoded<codec::publish>(goldens[6].wire);
        CHECK(aliased.topic.empty());
        CHECK(aliased.props->topic_alias == 5);
    }
    SECTION("acknowledgements: reason code and properties may be left out [MQTT-3.4.2.1]") {
        CHECK(decoded<codec::puback>("40 02 00 01").reason_code == 0);
        CHECK(decoded<codec::puback>("40 03 00 01 10").reason_code == 0x10);
        const auto with_props = decoded<codec::puback>("40 09 00 01 87 05 1f 00 02 6e 6f");
        CHECK(with_props.reason_code == 0x87);
        CHECK(with_props.props->reason_string == "no");
        // An explicit success with an empty block is the same acknowledgement.
        const auto explicit_success = decoded<codec::pubcomp>("70 04 00 01 00 00");
        CHECK(explicit_success.reason_code == 0);
        CHECK(to_hex(encoded(explicit_success)) == "70 02 00 01");
    }
    SECTION("subscription options [MQTT-3.8.3.1]") {
        const auto s = decoded<codec::subscribe>(goldens[13].wire);
        CHECK(s.props->subscription_identifiers == std::vector<std::uint32_t>{5});
        REQUIRE(s.subscriptions.size() == 1);
        const auto& sub = s.subscriptions[0];
        CHECK(sub.filter == "t/#");
        CHECK(sub.qos == 1);
        CHECK(sub.no_local);
        CHECK(sub.retain_as_published);
        CHECK(sub.retain_handling == 2);
    }
    SECTION("UNSUBACK reason codes, one per filter [MQTT-3.11.3]") {
        const auto u = decoded<codec::unsuback>(goldens[16].wire);
        CHECK(u.reason_codes == std::vector<std::uint8_t>{0x00, 0x11});
    }
    SECTION("DISCONNECT reason and properties [MQTT-3.14.2]") {
        CHECK(decoded<codec::disconnect>("e0 00").reason_code == 0);
        CHECK(decoded<codec::disconnect>("e0 01 8e").reason_code == 0x8e);
        CHECK(decoded<codec::disconnect>(goldens[21].wire).props->session_expiry_interval == 0u);
    }
    SECTION("AUTH [MQTT-3.15]") {
        const auto a = decoded<codec::auth>(goldens[23].wire);
        CHECK(a.reason_code == 0x18);
        CHECK(a.props->authentication_method == "SCRAM");
    }
}

TEST_CASE("MQTT 5 codec: the 3.1.1 layout leaves the 5.0 fields out", "[codec][mqtt5]") {
    codec::puback ack{1, 0x87, {}};
    ack.props.edit().reason_string = "no";
    CHECK(to_hex(encoded(ack, codec::protocol_level_311)) == "40 02 00 01");
    codec::publish p;
    p.topic = "t";
    p.payload = "x";
    p.props.edit().user_properties.push_back({"k", "v"});
    CHECK(to_hex(encoded(p, codec::protocol_level_311)) == "30 04 00 01 74 78");
    CHECK(to_hex(encoded(p)) == "30 0c 00 01 74 07 26 00 01 6b 00 01 76 78");
    codec::subscribe s{1, {{"t", 1, true, true, 2}}, {}};
    CHECK(to_hex(encoded(s, codec::protocol_level_311)) == "82 06 00 01 00 01 74 01");
    CHECK(to_hex(encoded(codec::disconnect{0x8e, {}}, codec::protocol_level_311)) == "e0 00");
    CHECK(to_hex(encoded(codec::unsuback{2, {0x11}, {}}, codec::protocol_level_311)) ==
          "b0 02 00 02");
}

TEST_CASE("MQTT 5 codec: 5.0-only layouts are refused on a 3.1.1 connection", "[codec][mqtt5]") {
    // AUTH is a reserved type before 5.0 [MQTT-2.2.1].
    auto r = decode(hex("f0 00"), codec::protocol_level_311);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == make_error_code(errc::malformed_packet));
    // No Local is a reserved option bit in 3.1.1 [MQTT-3.8.3-4].
    r = decode(hex("82 06 00 01 00 01 74 05"), codec::protocol_level_311);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == make_error_code(errc::malformed_packet));
    // A 5.0 reason code is trailing garbage to a 3.1.1 reader.
    r = decode(hex("40 03 00 01 10"), codec::protocol_level_311);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == make_error_code(errc::malformed_packet));
}

TEST_CASE("MQTT 5 codec: encode_publish_head with properties matches encode(publish)",
          "[codec][mqtt5]") {
    codec::publish p;
    p.topic = "a/b";
    p.qos = 1;
    p.packet_id = 9;
    p.payload = "hello";
    p.props.edit().message_expiry_interval = 30;
    bytes head;
    codec::encode_publish_head(p.topic, p.payload.size(), p.qos, false, false, p.packet_id, head,
                               &p.props.get());
    head.insert(head.end(), p.payload.begin(), p.payload.end());
    CHECK(to_hex(head) == to_hex(encoded(p)));
}
