// SPDX-License-Identifier: Apache-2.0
// MQTT 3.1.1 codec (5.0: codec_v5_test.cpp): golden bytes both ways, remaining-length boundaries, and every malformed
// input the decoder must reject with its exact error (OASIS MQTT 3.1.1, sections 1.5, 2 and 3).
#include "edgemq/broker/codec/decode.hpp"
#include "edgemq/broker/codec/encode.hpp"
#include "edgemq/broker/codec/packets.hpp"
#include "edgemq/broker/error.hpp"

#include "hex.hpp"

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

// GCC 12 warns about members left out of a designated initializer even though they take their
// default member initializers (GCC bug 96868); the golden table relies on exactly that.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif

namespace {

namespace codec = edgemq::broker::codec;
using edgemq::broker::errc;
using edgemq::test::hex;
using edgemq::test::hex_string;
using edgemq::test::to_hex;
using bytes = std::vector<std::uint8_t>;

// --- describing packets ----------------------------------------------------------------------
// The packet structs have no operator==, so tests compare a canonical text form that spells out
// every field; a failing CHECK then prints both packets in full.

std::string quote(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u < 0x7f && c != '"' && c != '\\') {
            out.push_back(c);
        } else {
            out += "\\x" + to_hex(std::string_view{&c, 1});
        }
    }
    return out + "\"";
}

std::string quote_optional(const std::optional<std::string>& s) {
    return s ? quote(*s) : "none";
}

std::string num(unsigned v) {
    return std::to_string(v);
}

std::string describe_one(const codec::connect& p) {
    std::string will = "none";
    if (p.will) {
        will = "{topic=" + quote(p.will->topic) + " payload=" + quote(p.will->payload) +
               " qos=" + num(p.will->qos) + " retain=" + num(p.will->retain) + "}";
    }
    return "CONNECT{name=" + quote(p.protocol_name) + " level=" + num(p.protocol_level) +
           " clean=" + num(p.clean_session) + " keep_alive=" + num(p.keep_alive) +
           " client_id=" + quote(p.client_id) + " will=" + will +
           " username=" + quote_optional(p.username) + " password=" + quote_optional(p.password) +
           "}";
}
std::string describe_one(const codec::connack& p) {
    return "CONNACK{session_present=" + num(p.session_present) +
           " code=" + num(static_cast<unsigned>(p.code)) + "}";
}
std::string describe_one(const codec::publish& p) {
    return "PUBLISH{topic=" + quote(p.topic) + " payload=" + quote(p.payload) +
           " id=" + num(p.packet_id) + " qos=" + num(p.qos) + " retain=" + num(p.retain) +
           " dup=" + num(p.dup) + "}";
}
std::string describe_one(const codec::puback& p) {
    return "PUBACK{" + num(p.packet_id) + "}";
}
std::string describe_one(const codec::pubrec& p) {
    return "PUBREC{" + num(p.packet_id) + "}";
}
std::string describe_one(const codec::pubrel& p) {
    return "PUBREL{" + num(p.packet_id) + "}";
}
std::string describe_one(const codec::pubcomp& p) {
    return "PUBCOMP{" + num(p.packet_id) + "}";
}
std::string describe_one(const codec::subscribe& p) {
    std::string s = "SUBSCRIBE{id=" + num(p.packet_id);
    for (const auto& sub : p.subscriptions) {
        s += " " + quote(sub.filter) + ":" + num(sub.qos);
    }
    return s + "}";
}
std::string describe_one(const codec::suback& p) {
    std::string s = "SUBACK{id=" + num(p.packet_id);
    for (const auto code : p.return_codes) {
        s += " " + num(code);
    }
    return s + "}";
}
std::string describe_one(const codec::unsubscribe& p) {
    std::string s = "UNSUBSCRIBE{id=" + num(p.packet_id);
    for (const auto& f : p.filters) {
        s += " " + quote(f);
    }
    return s + "}";
}
std::string describe_one(const codec::unsuback& p) {
    return "UNSUBACK{" + num(p.packet_id) + "}";
}
std::string describe_one(const codec::pingreq&) {
    return "PINGREQ{}";
}
std::string describe_one(const codec::pingresp&) {
    return "PINGRESP{}";
}
std::string describe_one(const codec::disconnect&) {
    return "DISCONNECT{}";
}
std::string describe_one(const codec::auth& p) {
    return "AUTH{" + num(p.reason_code) + "}";
}

std::string describe(const codec::packet& p) {
    return std::visit([](const auto& v) { return describe_one(v); }, p);
}

/// "ok PUBLISH{...}" or "error <message>", for INFO lines.
std::string outcome(const edgemq::broker::result<codec::packet>& r) {
    return r ? "ok " + describe(*r) : "error " + r.error().message();
}

// --- running the codec -----------------------------------------------------------------------

bytes encoded(const codec::packet& p) {
    bytes out;
    codec::encode(p, out);
    return out;
}

/// Decodes one whole packet. The table's remaining length must describe exactly the bytes that
/// follow it, so a miscounted table fails here rather than testing something else.
edgemq::broker::result<codec::packet> decode_bytes(const bytes& b) {
    INFO("bytes: " << to_hex(b));
    const auto header = codec::decode_fixed_header(b);
    REQUIRE(header.has_value());
    REQUIRE(header->has_value());
    REQUIRE((*header)->packet_size() == b.size());
    return codec::decode(**header, std::span<const std::uint8_t>{b}.subspan((*header)->size));
}

// --- golden packets --------------------------------------------------------------------------

struct golden_case {
    std::string name;
    codec::packet packet;
    bytes wire;
};

const std::vector<golden_case>& goldens() {
    static const std::vector<golden_case> cases = {
        {"CONNECT 3.1.1, clean session, client id only",
         codec::connect{.keep_alive = 60, .client_id = "c1"},
         hex("10 0e"             // CONNECT, flags 0000; remaining length 14
             "00 04 4d 51 54 54" // protocol name "MQTT"
             "04"                // protocol level 4 (3.1.1)
             "02"                // connect flags: clean session
             "00 3c"             // keep alive 60 s
             "00 02 63 31")},    // client id "c1"
        {"CONNECT with will (QoS 1, retain), username, binary password, no clean session",
         codec::connect{.clean_session = false,
                        .keep_alive = 300,
                        .client_id = "dev-1",
                        .will = codec::will_message{"w/t", "bye", 1, true},
                        .username = "u",
                        .password = std::string("\x00\xff", 2)},
         hex("10 22"                // CONNECT; remaining length 34
             "00 04 4d 51 54 54"    // protocol name "MQTT"
             "04"                   // protocol level 4
             "ec"                   // flags: user 80 | password 40 | will retain 20 |
                                    //        will QoS 1 (08) | will 04 | clean 0
             "01 2c"                // keep alive 300 s
             "00 05 64 65 76 2d 31" // client id "dev-1"
             "00 03 77 2f 74"       // will topic "w/t"
             "00 03 62 79 65"       // will payload "bye"
             "00 01 75"             // username "u"
             "00 02 00 ff")},       // password: two binary bytes 00 ff
        {"CONNECT with will QoS 2, empty will payload, username only, empty client id",
         codec::connect{.keep_alive = 0,
                        .client_id = "",
                        .will = codec::will_message{"t", "", 2, false},
                        .username = "bob"},
         hex("10 16"             // CONNECT; remaining length 22
             "00 04 4d 51 54 54" // protocol name "MQTT"
             "04"                // protocol level 4
             "96"                // flags: user 80 | will QoS 2 (10) | will 04 | clean 02
             "00 00"             // keep alive 0: disabled
             "00 00"             // client id "" (the server assigns one)
             "00 01 74"          // will topic "t"
             "00 00"             // will payload, empty
             "00 03 62 6f 62")}, // username "bob"
        {"CONNECT 3.1 (MQIsdp, level 3)",
         codec::connect{.protocol_name = "MQIsdp",
                        .protocol_level = codec::protocol_level_31,
                        .keep_alive = 10,
                        .client_id = "c"},
         hex("10 0f"                   // CONNECT; remaining length 15
             "00 06 4d 51 49 73 64 70" // protocol name "MQIsdp"
             "03"                      // protocol level 3 (3.1)
             "02"                      // flags: clean session
             "00 0a"                   // keep alive 10 s
             "00 01 63")},             // client id "c"
        {"CONNECT 3.1 with a password and no username (allowed before 3.1.1)",
         codec::connect{.protocol_name = "MQIsdp",
                        .protocol_level = codec::protocol_level_31,
                        .keep_alive = 10,
                        .client_id = "c",
                        .password = "pw"},
         hex("10 13"                   // CONNECT; remaining length 19
             "00 06 4d 51 49 73 64 70" // protocol name "MQIsdp"
             "03"                      // protocol level 3
             "42"                      // flags: password 40 | clean 02
             "00 0a"                   // keep alive 10 s
             "00 01 63"                // client id "c"
             "00 02 70 77")},          // password "pw"
        {"CONNACK accepted", codec::connack{},
         hex("20 02" // CONNACK; remaining length 2
             "00"    // acknowledge flags: no session present
             "00")}, // return code 0: accepted
        {"CONNACK session present", codec::connack{.session_present = true},
         hex("20 02" // CONNACK; remaining length 2
             "01"    // acknowledge flags: session present
             "00")}, // accepted
        {"CONNACK not authorized",
         codec::connack{.code = codec::connect_return_code::not_authorized},
         hex("20 02" // CONNACK; remaining length 2
             "00"    // no session present
             "05")}, // return code 5: not authorized
        {"PUBLISH QoS 0", codec::publish{.topic = "a/b", .payload = "hi"},
         hex("30 07"          // PUBLISH, dup 0, QoS 0, retain 0; remaining length 7
             "00 03 61 2f 62" // topic "a/b"; no packet id at QoS 0
             "68 69")},       // payload "hi"
        {"PUBLISH QoS 0 retained, empty payload", codec::publish{.topic = "a/b", .retain = true},
         hex("31 05"             // PUBLISH, retain 1; remaining length 5
             "00 03 61 2f 62")}, // topic "a/b"; empty payload
        {"PUBLISH QoS 1",
         codec::publish{.topic = "a/b", .payload = "hi", .packet_id = 10, .qos = 1},
         hex("32 09"          // PUBLISH, QoS 1 (flags 0010); remaining length 9
             "00 03 61 2f 62" // topic "a/b"
             "00 0a"          // packet id 10
             "68 69")},       // payload "hi"
        {"PUBLISH QoS 1 duplicate",
         codec::publish{.topic = "a/b", .payload = "hi", .packet_id = 1, .qos = 1, .dup = true},
         hex("3a 09"          // PUBLISH, dup 1, QoS 1 (flags 1010); remaining length 9
             "00 03 61 2f 62" // topic "a/b"
             "00 01"          // packet id 1
             "68 69")},       // payload "hi"
        {"PUBLISH QoS 2 duplicate retained, packet id 65535",
         codec::publish{.topic = "a/b",
                        .payload = "hi",
                        .packet_id = 0xffff,
                        .qos = 2,
                        .retain = true,
                        .dup = true},
         hex("3d 09"          // PUBLISH, dup 1, QoS 2, retain 1 (flags 1101); remaining 9
             "00 03 61 2f 62" // topic "a/b"
             "ff ff"          // packet id 65535
             "68 69")},       // payload "hi"
        {"PUBLISH QoS 2, multi-byte UTF-8 topic, binary payload",
         codec::publish{.topic = "t/\xc3\xbc",
                        .payload = std::string("\x00\xff\x0a", 3),
                        .packet_id = 0x0102,
                        .qos = 2},
         hex("34 0b"             // PUBLISH, QoS 2 (flags 0100); remaining length 11
             "00 04 74 2f c3 bc" // topic "t/ü" (U+00FC as c3 bc)
             "01 02"             // packet id 258
             "00 ff 0a")},       // payload: three binary bytes
        {"PUBACK", codec::puback{1},
         hex("40 02"    // PUBACK; remaining length 2
             "00 01")}, // packet id 1
        {"PUBREC", codec::pubrec{0x1234},
         hex("50 02"    // PUBREC; remaining length 2
             "12 34")}, // packet id 0x1234
        {"PUBREL", codec::pubrel{0xffff},
         hex("62 02"    // PUBREL, flags 0010 as required [MQTT-3.6.1-1]; remaining length 2
             "ff ff")}, // packet id 65535
        {"PUBCOMP", codec::pubcomp{7},
         hex("70 02"    // PUBCOMP; remaining length 2
             "00 07")}, // packet id 7
        {"SUBSCRIBE with three filters", codec::subscribe{1, {{"a/+", 0}, {"#", 1}, {"s/#", 2}}},
         hex("82 12"          // SUBSCRIBE, flags 0010 as required [MQTT-3.8.1-1]; remaining 18
             "00 01"          // packet id 1
             "00 03 61 2f 2b" // filter "a/+"
             "00"             // requested QoS 0
             "00 01 23"       // filter "#"
             "01"             // requested QoS 1
             "00 03 73 2f 23" // filter "s/#"
             "02")},          // requested QoS 2
        {"SUBACK with every return code", codec::suback{1, {0, 1, 2, codec::suback_failure}},
         hex("90 06"          // SUBACK; remaining length 6
             "00 01"          // packet id 1
             "00 01 02 80")}, // granted QoS 0, 1, 2, then failure 0x80
        {"UNSUBSCRIBE with two filters", codec::unsubscribe{2, {"a/+", "/#"}},
         hex("a2 0b"          // UNSUBSCRIBE, flags 0010 as required [MQTT-3.10.1-1]; remaining 11
             "00 02"          // packet id 2
             "00 03 61 2f 2b" // filter "a/+"
             "00 02 2f 23")}, // filter "/#"
        {"UNSUBACK", codec::unsuback{2},
         hex("b0 02"    // UNSUBACK; remaining length 2
             "00 02")}, // packet id 2
        {"PINGREQ", codec::pingreq{},
         hex("c0"    // PINGREQ, flags 0000
             "00")}, // remaining length 0
        {"PINGRESP", codec::pingresp{},
         hex("d0"    // PINGRESP, flags 0000
             "00")}, // remaining length 0
        {"DISCONNECT", codec::disconnect{},
         hex("e0"    // DISCONNECT, flags 0000
             "00")}, // remaining length 0
    };
    return cases;
}

bool is_publish(const golden_case& c) {
    return std::holds_alternative<codec::publish>(c.packet);
}

/// Packets whose body has a fixed layout, so every shorter body is malformed.
bool has_fixed_body(const golden_case& c) {
    return std::visit(
        [](const auto& p) {
            using T = std::decay_t<decltype(p)>;
            return std::is_same_v<T, codec::connect> || std::is_same_v<T, codec::connack> ||
                   std::is_same_v<T, codec::puback> || std::is_same_v<T, codec::pubrec> ||
                   std::is_same_v<T, codec::pubrel> || std::is_same_v<T, codec::pubcomp> ||
                   std::is_same_v<T, codec::unsuback> || std::is_same_v<T, codec::pingreq> ||
                   std::is_same_v<T, codec::pingresp> || std::is_same_v<T, codec::disconnect>;
        },
        c.packet);
}

} // namespace

TEST_CASE("the golden table covers every packet type", "[codec]") {
    std::set<std::size_t> seen;
    for (const auto& c : goldens()) {
        seen.insert(c.packet.index());
    }
    // Every type but AUTH, which 3.1.1 does not have (codec_v5_test.cpp covers it).
    CHECK(seen.size() == std::variant_size_v<codec::packet> - 1);
    CHECK_FALSE(seen.contains(std::variant_size_v<codec::packet> - 1));
}

TEST_CASE("golden bytes: encode produces them and decode gives the packet back", "[codec]") {
    const auto& c = GENERATE(from_range(goldens()));
    INFO(c.name);

    SECTION("encode") {
        CHECK(to_hex(encoded(c.packet)) == to_hex(c.wire));
    }

    SECTION("encode appends to what is already in the buffer") {
        bytes out = hex("ab cd");
        codec::encode(c.packet, out);
        CHECK(to_hex(out) == "ab cd " + to_hex(c.wire));
    }

    SECTION("decode") {
        const auto r = decode_bytes(c.wire);
        INFO(outcome(r));
        REQUIRE(r.has_value());
        CHECK(r->index() == c.packet.index());
        CHECK(describe(*r) == describe(c.packet));
        // And back again: the decoded value carries everything the bytes said.
        CHECK(to_hex(encoded(*r)) == to_hex(c.wire));
    }

    SECTION("fixed header") {
        const auto h = codec::decode_fixed_header(c.wire);
        REQUIRE(h.has_value());
        REQUIRE(h->has_value());
        CHECK((*h)->first_byte == c.wire[0]);
        CHECK(static_cast<std::size_t>((*h)->type()) == c.packet.index() + 1);
        CHECK((*h)->flags() == (c.wire[0] & 0x0f));
        CHECK((*h)->size == 2);
        CHECK((*h)->remaining_length == c.wire.size() - 2);
    }

    SECTION("every truncated prefix of the fixed header needs more bytes") {
        for (std::size_t n = 0; n < 2; ++n) {
            const auto h = codec::decode_fixed_header(std::span{c.wire}.first(n));
            INFO("prefix length " << n);
            REQUIRE(h.has_value());
            CHECK_FALSE(h->has_value());
        }
    }
}

TEST_CASE("a fixed header is read from the front and ignores the next packet", "[codec]") {
    bytes stream = hex("32 09 00 03 61 2f 62 00 0a 68 69"); // PUBLISH QoS 1, 11 bytes
    const auto next = hex("c0 00");                         // PINGREQ right behind it
    stream.insert(stream.end(), next.begin(), next.end());
    const auto h = codec::decode_fixed_header(stream);
    REQUIRE(h.has_value());
    REQUIRE(h->has_value());
    CHECK((*h)->type() == codec::packet_type::publish);
    CHECK((*h)->remaining_length == 9);
    CHECK((*h)->packet_size() == 11);
}

TEST_CASE("CONNACK encodes and decodes every return code", "[codec]") {
    const auto code = GENERATE(range(0, 6));
    const codec::packet p = codec::connack{false, static_cast<codec::connect_return_code>(code)};
    bytes wire = hex("20 02 00 00");
    wire[3] = static_cast<std::uint8_t>(code);
    CHECK(to_hex(encoded(p)) == to_hex(wire));
    const auto r = decode_bytes(wire);
    REQUIRE(r.has_value());
    CHECK(describe(*r) == describe(p));
}

TEST_CASE("encode_publish_head writes what encode(publish) writes before the payload", "[codec]") {
    bytes head;
    codec::encode_publish_head("a/b", 2, 1, false, false, 10, head);
    CHECK(to_hex(head) == "32 09 00 03 61 2f 62 00 0a");

    bytes qos0;
    codec::encode_publish_head("a/b", 2, 0, true, false, 77, qos0);
    CHECK(to_hex(qos0) == "31 07 00 03 61 2f 62"); // QoS 0 writes no packet id
}

// --- remaining length ------------------------------------------------------------------------

TEST_CASE("remaining length: variable byte integer boundaries", "[codec]") {
    struct boundary {
        std::uint32_t value;
        const char* wire;
    };
    // [MQTT-2.2.3], table 2.4: the first and last value of each encoded length.
    const auto b = GENERATE(values<boundary>({
        {0, "00"},
        {127, "7f"},
        {128, "80 01"},
        {16'383, "ff 7f"},
        {16'384, "80 80 01"},
        {2'097'151, "ff ff 7f"},
        {2'097'152, "80 80 80 01"},
        {268'435'455, "ff ff ff 7f"},
    }));
    INFO("value " << b.value);
    const auto varint = hex(b.wire);

    SECTION("encode_varint") {
        bytes out;
        codec::encode_varint(b.value, out);
        CHECK(to_hex(out) == to_hex(varint));
    }

    SECTION("decode_fixed_header") {
        bytes header = hex("30"); // PUBLISH, QoS 0
        header.insert(header.end(), varint.begin(), varint.end());
        const auto h = codec::decode_fixed_header(header);
        REQUIRE(h.has_value());
        REQUIRE(h->has_value());
        CHECK((*h)->remaining_length == b.value);
        CHECK((*h)->size == 1 + varint.size());
        CHECK((*h)->packet_size() == 1 + varint.size() + b.value);

        for (std::size_t n = 0; n < header.size(); ++n) {
            INFO("prefix length " << n);
            const auto partial = codec::decode_fixed_header(std::span{header}.first(n));
            REQUIRE(partial.has_value());
            CHECK_FALSE(partial->has_value()); // need more bytes, not an error
        }
    }

    SECTION("encode_publish_head") {
        if (b.value >= 5) { // topic "a/b" alone takes 5 bytes
            bytes out;
            codec::encode_publish_head("a/b", b.value - 5, 0, false, false, 0, out);
            CHECK(to_hex(out) == "30 " + to_hex(varint) + " 00 03 61 2f 62");
        }
    }
}

TEST_CASE("remaining length longer than four bytes is malformed", "[codec]") {
    // [MQTT-2.2.3]: the fourth byte must not have the continuation bit; the decoder knows that
    // without waiting for a fifth byte.
    const auto* wire = GENERATE("30 ff ff ff ff", "30 80 80 80 80", "30 ff ff ff ff 7f",
                                "30 80 80 80 80 01", "c0 ff ff ff ff 7f");
    INFO(wire);
    const auto h = codec::decode_fixed_header(hex(wire));
    REQUIRE(h.has_error());
    CHECK(h.error() == errc::malformed_remaining_length);
}

// --- malformed packets -----------------------------------------------------------------------

TEST_CASE("reserved fixed-header flags are rejected on every type but PUBLISH", "[codec]") {
    // [MQTT-2.2.2-1/2]: PUBREL, SUBSCRIBE and UNSUBSCRIBE carry 0010, every other type 0000.
    for (const auto& c : goldens()) {
        if (is_publish(c)) {
            continue;
        }
        for (unsigned flags = 0; flags < 16; ++flags) {
            bytes wire = c.wire;
            wire[0] = static_cast<std::uint8_t>((wire[0] & 0xf0) | flags);
            const auto r = decode_bytes(wire);
            INFO(c.name << ", flags " << flags << ": " << outcome(r));
            if (wire[0] == c.wire[0]) {
                CHECK(r.has_value());
            } else {
                REQUIRE(r.has_error());
                CHECK(r.error() == errc::reserved_flags);
            }
        }
    }
}

TEST_CASE("PUBLISH QoS 3 is rejected with every dup and retain", "[codec]") {
    // [MQTT-3.3.1-4]
    const auto first = GENERATE(as<std::uint8_t>{}, 0x36, 0x37, 0x3e, 0x3f);
    bytes wire = hex("36 07 00 03 61 2f 62 00 01");
    wire[0] = first;
    const auto r = decode_bytes(wire);
    INFO(outcome(r));
    REQUIRE(r.has_error());
    CHECK(r.error() == errc::invalid_qos);
}

namespace {

struct malformed_case {
    const char* name;
    const char* wire;
    errc expected;
};

// Each case breaks exactly one rule of an otherwise valid packet.
const malformed_case malformed_cases[] = {
    // Reserved packet types [MQTT-2.2.1].
    {"type 0", "00 00", errc::malformed_packet},
    {"type 15", "f0 00", errc::malformed_packet},

    // Reserved flags, the cases named in [MQTT-2.2.2-2] (all flags are swept above).
    {"PUBREL flags 0000", "60 02 00 01", errc::reserved_flags},
    {"SUBSCRIBE flags 0000", "80 06 00 01 00 01 61 00", errc::reserved_flags},
    {"UNSUBSCRIBE flags 0000", "a0 05 00 01 00 01 61", errc::reserved_flags},
    {"PINGREQ flags 0001", "c1 00", errc::reserved_flags},
    {"CONNECT flags 0001", "11 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 63 31", errc::reserved_flags},

    // PUBLISH [MQTT-3.3].
    {"PUBLISH QoS 0 with dup", "38 05 00 03 61 2f 62", errc::malformed_packet},
    {"PUBLISH QoS 0 with dup and retain", "39 05 00 03 61 2f 62", errc::malformed_packet},
    {"PUBLISH QoS 1 packet id 0", "32 07 00 03 61 2f 62 00 00", errc::malformed_packet},
    {"PUBLISH QoS 2 packet id 0", "34 07 00 03 61 2f 62 00 00", errc::malformed_packet},
    {"PUBLISH QoS 1 without packet id", "32 05 00 03 61 2f 62", errc::malformed_packet},
    {"PUBLISH QoS 1 with half a packet id", "32 06 00 03 61 2f 62 00", errc::malformed_packet},
    {"PUBLISH empty body", "30 00", errc::malformed_packet},
    {"PUBLISH one byte of topic length", "30 01 00", errc::malformed_packet},
    {"PUBLISH topic length past the end", "30 03 00 05 61", errc::malformed_packet},
    {"PUBLISH empty topic", "30 04 00 00 68 69", errc::invalid_topic_name},
    {"PUBLISH topic +", "30 03 00 01 2b", errc::invalid_topic_name},
    {"PUBLISH topic #", "30 03 00 01 23", errc::invalid_topic_name},
    {"PUBLISH topic a/+", "30 05 00 03 61 2f 2b", errc::invalid_topic_name},
    {"PUBLISH topic a/#", "30 05 00 03 61 2f 23", errc::invalid_topic_name},
    {"PUBLISH topic sport+", "30 08 00 06 73 70 6f 72 74 2b", errc::invalid_topic_name},
    {"PUBLISH QoS 1 topic a/#", "32 07 00 03 61 2f 23 00 01", errc::invalid_topic_name},
    {"PUBLISH topic overlong '/' (c0 af)", "30 04 00 02 c0 af", errc::invalid_utf8},
    {"PUBLISH topic overlong U+0000 (c0 80)", "30 04 00 02 c0 80", errc::invalid_utf8},
    {"PUBLISH topic surrogate U+D800 (ed a0 80)", "30 05 00 03 ed a0 80", errc::invalid_utf8},
    {"PUBLISH topic with U+0000", "30 05 00 03 61 00 62", errc::invalid_utf8},
    {"PUBLISH topic truncated sequence (e2 82)", "30 04 00 02 e2 82", errc::invalid_utf8},
    {"PUBLISH topic lone continuation byte", "30 03 00 01 80", errc::invalid_utf8},
    {"PUBLISH topic byte ff", "30 03 00 01 ff", errc::invalid_utf8},

    // CONNECT [MQTT-3.1]. Base: "MQTT" level 4, clean session, keep alive 60, client id "c1".
    {"CONNECT reserved flag bit 0", "10 0e 00 04 4d 51 54 54 04 03 00 3c 00 02 63 31",
     errc::malformed_packet},
    {"CONNECT will QoS 1 without will flag", "10 0e 00 04 4d 51 54 54 04 0a 00 3c 00 02 63 31",
     errc::malformed_packet},
    {"CONNECT will QoS 2 without will flag", "10 0e 00 04 4d 51 54 54 04 12 00 3c 00 02 63 31",
     errc::malformed_packet},
    {"CONNECT will retain without will flag", "10 0e 00 04 4d 51 54 54 04 22 00 3c 00 02 63 31",
     errc::malformed_packet},
    {"CONNECT will QoS 3", "10 13 00 04 4d 51 54 54 04 1e 00 3c 00 02 63 31 00 01 74 00 00",
     errc::invalid_qos},
    {"CONNECT password without username",
     "10 12 00 04 4d 51 54 54 04 42 00 3c 00 02 63 31 00 02 70 77", errc::malformed_packet},
    {"CONNECT unknown protocol name MQTX", "10 0e 00 04 4d 51 54 58 04 02 00 3c 00 02 63 31",
     errc::unsupported_protocol_version},
    {"CONNECT lower-case protocol name mqtt", "10 0e 00 04 6d 71 74 74 04 02 00 3c 00 02 63 31",
     errc::unsupported_protocol_version},
    {"CONNECT empty protocol name", "10 0a 00 00 04 02 00 3c 00 02 63 31",
     errc::unsupported_protocol_version},
    {"CONNECT MQTT level 3", "10 0e 00 04 4d 51 54 54 03 02 00 3c 00 02 63 31",
     errc::unsupported_protocol_version},
    {"CONNECT MQTT level 6", "10 0e 00 04 4d 51 54 54 06 02 00 3c 00 02 63 31",
     errc::unsupported_protocol_version},
    {"CONNECT MQTT level 0", "10 0e 00 04 4d 51 54 54 00 02 00 3c 00 02 63 31",
     errc::unsupported_protocol_version},
    {"CONNECT MQIsdp level 4", "10 0f 00 06 4d 51 49 73 64 70 04 02 00 0a 00 01 63",
     errc::unsupported_protocol_version},
    {"CONNECT client id overlong (c0 af)", "10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 c0 af",
     errc::invalid_utf8},
    {"CONNECT client id surrogate U+D800", "10 0f 00 04 4d 51 54 54 04 02 00 3c 00 03 ed a0 80",
     errc::invalid_utf8},
    {"CONNECT client id with U+0000", "10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 63 00",
     errc::invalid_utf8},
    {"CONNECT client id truncated sequence", "10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 63 c3",
     errc::invalid_utf8},
    {"CONNECT username invalid UTF-8",
     "10 12 00 04 4d 51 54 54 04 82 00 3c 00 02 63 31 00 02 c0 80", errc::invalid_utf8},
    {"CONNECT will topic invalid UTF-8",
     "10 13 00 04 4d 51 54 54 04 06 00 3c 00 02 63 31 00 01 ff 00 00", errc::invalid_utf8},
    {"CONNECT will topic with wildcard",
     "10 13 00 04 4d 51 54 54 04 06 00 3c 00 02 63 31 00 01 23 00 00", errc::invalid_topic_name},
    {"CONNECT will topic empty", "10 12 00 04 4d 51 54 54 04 06 00 3c 00 02 63 31 00 00 00 00",
     errc::invalid_topic_name},
    {"CONNECT username flag without username", "10 0e 00 04 4d 51 54 54 04 82 00 3c 00 02 63 31",
     errc::malformed_packet},
    {"CONNECT will flag without will topic", "10 0e 00 04 4d 51 54 54 04 06 00 3c 00 02 63 31",
     errc::malformed_packet},
    {"CONNECT trailing byte", "10 0f 00 04 4d 51 54 54 04 02 00 3c 00 02 63 31 00",
     errc::malformed_packet},

    // CONNACK [MQTT-3.2].
    {"CONNACK reserved acknowledge flag", "20 02 02 00", errc::malformed_packet},
    {"CONNACK acknowledge flag 80", "20 02 80 00", errc::malformed_packet},
    {"CONNACK return code 6", "20 02 00 06", errc::malformed_packet},
    {"CONNACK return code ff", "20 02 00 ff", errc::malformed_packet},

    // Packet id 0 on acknowledgements of packets that cannot carry id 0 [MQTT-2.3.1-1].
    {"PUBACK packet id 0", "40 02 00 00", errc::malformed_packet},
    {"PUBREC packet id 0", "50 02 00 00", errc::malformed_packet},
    {"PUBREL packet id 0", "62 02 00 00", errc::malformed_packet},
    {"PUBCOMP packet id 0", "70 02 00 00", errc::malformed_packet},
    {"UNSUBACK packet id 0", "b0 02 00 00", errc::malformed_packet},
    {"SUBACK packet id 0", "90 03 00 00 00", errc::malformed_packet},

    // SUBSCRIBE [MQTT-3.8].
    {"SUBSCRIBE without filters", "82 02 00 01", errc::protocol_error},
    {"SUBSCRIBE packet id 0", "82 06 00 00 00 01 61 00", errc::malformed_packet},
    {"SUBSCRIBE half a packet id", "82 01 00", errc::malformed_packet},
    {"SUBSCRIBE options with bit 2", "82 06 00 01 00 01 61 04", errc::malformed_packet},
    {"SUBSCRIBE options with bit 7", "82 06 00 01 00 01 61 80", errc::malformed_packet},
    {"SUBSCRIBE options fc", "82 06 00 01 00 01 61 fc", errc::malformed_packet},
    {"SUBSCRIBE options QoS 3", "82 06 00 01 00 01 61 03", errc::invalid_qos},
    {"SUBSCRIBE second filter bad options", "82 0a 00 01 00 01 61 00 00 01 62 04",
     errc::malformed_packet},
    {"SUBSCRIBE filter without options", "82 05 00 01 00 01 61", errc::malformed_packet},
    {"SUBSCRIBE filter invalid UTF-8", "82 06 00 01 00 01 ff 00", errc::invalid_utf8},

    // SUBACK [MQTT-3.9.3].
    {"SUBACK return code 3", "90 03 00 01 03", errc::malformed_packet},
    {"SUBACK return code 81", "90 03 00 01 81", errc::malformed_packet},

    // UNSUBSCRIBE [MQTT-3.10].
    {"UNSUBSCRIBE without filters", "a2 02 00 01", errc::protocol_error},
    {"UNSUBSCRIBE packet id 0", "a2 05 00 00 00 01 61", errc::malformed_packet},
    {"UNSUBSCRIBE filter length past the end", "a2 05 00 01 00 02 61", errc::malformed_packet},
    {"UNSUBSCRIBE filter invalid UTF-8", "a2 05 00 01 00 01 ff", errc::invalid_utf8},
};

} // namespace

TEST_CASE("malformed packets give the exact error", "[codec]") {
    const auto c = GENERATE(from_range(std::begin(malformed_cases), std::end(malformed_cases)));
    const auto r = decode_bytes(hex(c.wire));
    INFO(c.name << ": " << c.wire << " -> " << outcome(r));
    REQUIRE(r.has_error());
    CHECK(r.error() == c.expected);
}

TEST_CASE("trailing bytes after a fixed-size packet are malformed", "[codec]") {
    for (const auto& c : goldens()) {
        if (is_publish(c) || !has_fixed_body(c) ||
            std::holds_alternative<codec::connect>(c.packet)) {
            continue;
        }
        bytes wire = c.wire;
        wire.push_back(0x00);
        wire[1] = static_cast<std::uint8_t>(wire[1] + 1); // every fixed body is < 127 bytes
        const auto r = decode_bytes(wire);
        INFO(c.name << ": " << to_hex(wire) << " -> " << outcome(r));
        REQUIRE(r.has_error());
        CHECK(r.error() == errc::malformed_packet);
    }
}

TEST_CASE("every truncated body of a fixed-layout packet is malformed", "[codec]") {
    for (const auto& c : goldens()) {
        if (!has_fixed_body(c)) {
            continue;
        }
        const auto body = std::span<const std::uint8_t>{c.wire}.subspan(2);
        for (std::size_t n = 0; n < body.size(); ++n) {
            const codec::fixed_header header{c.wire[0], static_cast<std::uint32_t>(n), 2};
            const auto r = codec::decode(header, body.first(n));
            INFO(c.name << ", body cut to " << n << " bytes -> " << outcome(r));
            REQUIRE(r.has_error());
            CHECK(r.error() == errc::malformed_packet);
        }
    }
}

TEST_CASE("PUBLISH bodies cut inside the topic or packet id are malformed", "[codec]") {
    // "32 09 00 03 61 2f 62 00 0a 68 69": topic and packet id take the first 7 body bytes; any
    // cut after them is a valid PUBLISH with a shorter payload.
    const auto wire = hex("32 09 00 03 61 2f 62 00 0a 68 69");
    const auto body = std::span<const std::uint8_t>{wire}.subspan(2);
    for (std::size_t n = 0; n <= body.size(); ++n) {
        const codec::fixed_header header{wire[0], static_cast<std::uint32_t>(n), 2};
        const auto r = codec::decode(header, body.first(n));
        INFO("body cut to " << n << " bytes -> " << outcome(r));
        if (n < 7) {
            REQUIRE(r.has_error());
            CHECK(r.error() == errc::malformed_packet);
        } else {
            REQUIRE(r.has_value());
            const auto& p = std::get<codec::publish>(*r);
            CHECK(p.packet_id == 10);
            CHECK(p.payload == std::string("hi").substr(0, n - 7));
        }
    }
}

TEST_CASE("CONNECT password is binary and skips the UTF-8 check", "[codec]") {
    // [MQTT-3.1.3.5]: the password is Binary Data, so ff and 00 are fine there.
    const auto r = decode_bytes(hex("10 16"             // CONNECT; remaining length 22
                                    "00 04 4d 51 54 54" // "MQTT"
                                    "04"                // level 4
                                    "c2"                // user 80 | password 40 | clean 02
                                    "00 3c"             // keep alive 60
                                    "00 02 63 31"       // client id "c1"
                                    "00 01 75"          // username "u"
                                    "00 03 ff 00 c0")); // password ff 00 c0
    INFO(outcome(r));
    REQUIRE(r.has_value());
    const auto& p = std::get<codec::connect>(*r);
    CHECK(p.username == "u");
    CHECK(p.password == std::string("\xff\x00\xc0", 3));
}

TEST_CASE("PUBLISH payload is binary and skips the UTF-8 check", "[codec]") {
    const auto r = decode_bytes(hex("30 08 00 03 61 2f 62 ff 00 c0"));
    INFO(outcome(r));
    REQUIRE(r.has_value());
    CHECK(std::get<codec::publish>(*r).payload == std::string("\xff\x00\xc0", 3));
}

// --- UTF-8 -----------------------------------------------------------------------------------

TEST_CASE("is_valid_utf8", "[codec]") {
    struct utf8_case {
        const char* name;
        const char* bytes;
        bool valid;
    };
    // [MQTT-1.5.3-1]: well-formed UTF-8 (RFC 3629), no surrogates; [MQTT-1.5.3-2]: no U+0000.
    const auto c = GENERATE(values<utf8_case>({
        {"empty", "", true},
        {"ASCII", "4d 51 54 54", true},
        {"U+0001, discouraged but allowed", "01", true},
        {"U+007F", "7f", true},
        {"U+0080, smallest 2-byte", "c2 80", true},
        {"U+00E9", "c3 a9", true},
        {"U+07FF, largest 2-byte", "df bf", true},
        {"U+0800, smallest 3-byte", "e0 a0 80", true},
        {"U+20AC", "e2 82 ac", true},
        {"U+D7FF, just below the surrogates", "ed 9f bf", true},
        {"U+E000, just above the surrogates", "ee 80 80", true},
        {"U+FEFF, BOM kept as a character [MQTT-1.5.3-3]", "ef bb bf", true},
        {"U+FFFF, non-character allowed", "ef bf bf", true},
        {"U+10000, smallest 4-byte", "f0 90 80 80", true},
        {"U+1D11E", "f0 9d 84 9e", true},
        {"U+10FFFF, largest code point", "f4 8f bf bf", true},
        {"mixed", "61 c3 a9 e2 82 ac f0 9d 84 9e 7a", true},

        {"U+0000", "00", false},
        {"U+0000 inside", "61 00 62", false},
        {"overlong U+0000 (c0 80)", "c0 80", false},
        {"overlong '/' (c0 af)", "c0 af", false},
        {"overlong U+007F (c1 bf)", "c1 bf", false},
        {"overlong 3-byte U+0000", "e0 80 80", false},
        {"overlong 3-byte U+07FF", "e0 9f bf", false},
        {"overlong 4-byte U+0000", "f0 80 80 80", false},
        {"overlong 4-byte U+FFFF", "f0 8f bf bf", false},
        {"surrogate U+D800", "ed a0 80", false},
        {"surrogate U+DBFF", "ed af bf", false},
        {"surrogate U+DC00", "ed b0 80", false},
        {"surrogate U+DFFF", "ed bf bf", false},
        {"surrogate pair as CESU-8", "ed a0 bd ed b8 80", false},
        {"above U+10FFFF (f4 90 80 80)", "f4 90 80 80", false},
        {"lead byte f5", "f5 80 80 80", false},
        {"5-byte form", "f8 88 80 80 80", false},
        {"6-byte form", "fc 84 80 80 80 80", false},
        {"byte fe", "fe", false},
        {"byte ff", "ff", false},
        {"lone continuation 80", "80", false},
        {"lone continuation bf after ASCII", "61 bf", false},
        {"truncated 2-byte at end", "61 c3", false},
        {"truncated 3-byte at end", "e2 82", false},
        {"truncated 4-byte at end", "f0 9d 84", false},
        {"lead byte alone", "e2", false},
        {"continuation replaced by ASCII", "e2 82 61", false},
        {"2-byte lead followed by ASCII", "c3 28", false},
        {"4-byte lead followed by 2-byte lead", "f0 c3 a9 80", false},
    }));
    INFO(c.name << ": " << c.bytes);
    CHECK(codec::is_valid_utf8(hex_string(c.bytes)) == c.valid);
}

TEST_CASE("is_valid_utf8 stops at the end of the view", "[codec]") {
    // The bytes after the view would complete the sequence; reading them would accept a
    // truncated string (and read past the end of a packet).
    const std::string backing = hex_string("61 f0 9d 84 9e");
    for (std::size_t n = 2; n < backing.size(); ++n) {
        INFO("view of " << n << " bytes");
        CHECK_FALSE(codec::is_valid_utf8(std::string_view{backing}.substr(0, n)));
    }
    CHECK(codec::is_valid_utf8(backing));
}

// --- error category --------------------------------------------------------------------------

TEST_CASE("broker errors have their own category and distinct messages", "[codec]") {
    std::set<std::string> messages;
    for (int e = static_cast<int>(errc::malformed_packet); e <= static_cast<int>(errc::kicked);
         ++e) {
        const boost::system::error_code ec = static_cast<errc>(e);
        INFO("errc " << e << ": " << ec.message());
        CHECK(std::string(ec.category().name()) == "edgemq.broker");
        CHECK(ec.value() == e);
        CHECK(ec == static_cast<errc>(e));
        CHECK(ec.message().find("unknown") == std::string::npos);
        messages.insert(ec.message());
    }
    CHECK(messages.size() == static_cast<std::size_t>(errc::kicked) -
                                 static_cast<std::size_t>(errc::malformed_packet) + 1);
    CHECK(make_error_code(errc::invalid_qos) != make_error_code(errc::malformed_packet));
}
