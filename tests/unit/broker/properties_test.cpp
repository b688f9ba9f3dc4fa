// SPDX-License-Identifier: Apache-2.0
#include "hex.hpp"

#include "edgemq/broker/codec/properties.hpp"

#include <catch2/catch.hpp>

namespace codec = edgemq::broker::codec;
using codec::property_scope;
using edgemq::broker::errc;
using edgemq::test::hex;

namespace {

boost::system::error_code error_of(const char* bytes, property_scope scope) {
    const auto b = hex(bytes);
    auto r = codec::decode_properties(b, scope);
    REQUIRE_FALSE(r.has_value());
    return r.error();
}

} // namespace

TEST_CASE("MQTT 5 properties: golden bytes both ways [MQTT-2.2.2]", "[codec][mqtt5]") {
    const auto bytes = hex("0e"                     // property length 14
                           "01 01"                  // payload format indicator: UTF-8
                           "02 00 00 00 3c"         // message expiry interval 60 s
                           "26 00 01 6b 00 01 76"); // user property "k" = "v"
    auto r = codec::decode_properties(bytes, property_scope::publish);
    REQUIRE(r.has_value());
    const auto& [p, used] = *r;
    CHECK(used == bytes.size());
    CHECK(p.payload_format_indicator == 1);
    CHECK(p.message_expiry_interval == 60u);
    REQUIRE(p.user_properties.size() == 1);
    CHECK(p.user_properties[0] == codec::user_property{"k", "v"});
    codec::byte_buffer out;
    codec::encode_properties(p, out);
    CHECK(out == bytes);
    CHECK(codec::properties_size(p) == bytes.size());
    // No properties: a length of 0.
    out.clear();
    codec::encode_properties({}, out);
    CHECK(out == hex("00"));
}

TEST_CASE("MQTT 5 properties: every CONNACK property survives a round trip", "[codec][mqtt5]") {
    codec::properties p;
    p.session_expiry_interval = 3600;
    p.assigned_client_identifier = "edgemq-1234";
    p.server_keep_alive = 30;
    p.reason_string = "ok";
    p.receive_maximum = 20;
    p.topic_alias_maximum = 10;
    p.maximum_qos = 1;
    p.retain_available = 1;
    p.user_properties = {{"a", "1"}, {"a", "2"}, {"b", ""}}; // repeated keys kept, in order
    p.maximum_packet_size = 268'435'455;
    p.wildcard_subscription_available = 1;
    p.subscription_identifier_available = 0;
    p.shared_subscription_available = 1;
    p.response_information = "r/";
    p.server_reference = "other:1883";
    p.authentication_method = "SCRAM";
    p.authentication_data = std::string("\x00\xff", 2);
    codec::byte_buffer out;
    codec::encode_properties(p, out);
    CHECK(out.size() == codec::properties_size(p));
    auto back = codec::decode_properties(out, property_scope::connack);
    REQUIRE(back.has_value());
    CHECK(back->first == p);
    CHECK(back->second == out.size());
}

TEST_CASE("MQTT 5 properties: PUBLISH may carry several subscription identifiers [MQTT-3.3.4-3]",
          "[codec][mqtt5]") {
    codec::properties p;
    p.subscription_identifiers = {1, 200, 268'435'455};
    p.topic_alias = 3;
    p.correlation_data = std::string("\x01\x02", 2);
    p.response_topic = "reply/to";
    p.content_type = "application/json";
    codec::byte_buffer out;
    codec::encode_properties(p, out);
    auto back = codec::decode_properties(out, property_scope::publish);
    REQUIRE(back.has_value());
    CHECK(back->first == p);
}

TEST_CASE("MQTT 5 properties: refused blocks", "[codec][mqtt5]") {
    // A property the packet may not carry: Topic Alias in CONNECT, Will Delay in PUBLISH.
    CHECK(error_of("03 23 00 01", property_scope::connect) == errc::protocol_error);
    CHECK(error_of("05 18 00 00 00 05", property_scope::publish) == errc::protocol_error);
    const auto will_delay = hex("05 18 00 00 00 05");
    auto will = codec::decode_properties(will_delay, property_scope::will);
    REQUIRE(will.has_value());
    CHECK(will->first.will_delay_interval == 5u);
    // Twice what may appear once [MQTT-2.2.2].
    CHECK(error_of("06 21 00 05 21 00 06", property_scope::connect) == errc::protocol_error);
    // Values the spec forbids.
    CHECK(error_of("03 21 00 00", property_scope::connect) == errc::protocol_error); // rx max 0
    CHECK(error_of("02 01 02", property_scope::publish) == errc::protocol_error);    // format 2
    CHECK(error_of("02 0b 00", property_scope::subscribe) == errc::protocol_error);  // sub id 0
    CHECK(error_of("05 27 00 00 00 00", property_scope::connect) == errc::protocol_error);
    // An identifier MQTT 5 does not define, a block longer than the packet, a cut value.
    CHECK(error_of("02 05 00", property_scope::publish) == errc::malformed_packet);
    CHECK(error_of("09 01 01", property_scope::publish) == errc::malformed_packet);
    CHECK(error_of("03 02 00 00", property_scope::publish) == errc::malformed_packet);
    // Strings are UTF-8 without U+0000 [MQTT-1.5.4-1/2].
    CHECK(error_of("05 03 00 02 c3 28", property_scope::publish) == errc::invalid_utf8);
}
