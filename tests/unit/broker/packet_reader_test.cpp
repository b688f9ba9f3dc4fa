// SPDX-License-Identifier: Apache-2.0
#include "hex.hpp"

#include "edgemq/broker/protocol/packet_reader.hpp"

#include <catch2/catch.hpp>

#include <variant>

namespace codec = edgemq::broker::codec;
using edgemq::broker::errc;
using edgemq::broker::protocol::packet_reader;
using edgemq::test::hex;

TEST_CASE("packet reader: cuts a stream into packets and keeps an unfinished tail",
          "[protocol]") {
    const auto bytes = hex("c0 00"          // PINGREQ
                           "30 05 00 01 61 68 69" // PUBLISH a "hi"
                           "30 05 00 01");  // the first half of another
    packet_reader r{bytes};
    auto p = r.next(1024);
    REQUIRE(p.has_value());
    REQUIRE(p->has_value());
    CHECK(std::holds_alternative<codec::pingreq>(**p));
    p = r.next(1024);
    REQUIRE(p.has_value());
    REQUIRE(p->has_value());
    const auto& pub = std::get<codec::publish>(**p);
    CHECK(pub.topic == "a");
    CHECK(r.consumed() == 9);
    p = r.next(1024);
    REQUIRE(p.has_value());
    CHECK_FALSE(p->has_value()); // more bytes needed
    CHECK(r.consumed() == 9);
    CHECK(r.incomplete());
    CHECK(r.needed() == 7);
}

TEST_CASE("packet reader: the header is known before the body, so a packet can be refused "
          "unread [MQTT-2.2]",
          "[protocol]") {
    // A PUBLISH declaring 268,435,455 bytes, of which 2 arrived.
    const auto bytes = hex("30 ff ff ff 7f 00 01");
    packet_reader r{bytes};
    auto h = r.header();
    REQUIRE(h.has_value());
    REQUIRE(h->has_value());
    CHECK((*h)->type() == codec::packet_type::publish);
    CHECK((*h)->packet_size() == 268'435'460);
    CHECK_FALSE(r.complete());
    auto p = packet_reader{bytes}.next(65536);
    REQUIRE_FALSE(p.has_value());
    CHECK(p.error() == errc::packet_too_large);
}

TEST_CASE("packet reader: a header cut anywhere waits, a five-byte length is malformed "
          "[MQTT-2.2.3]",
          "[protocol]") {
    for (const char* part : {"", "30", "30 ff", "30 ff ff ff"}) {
        const auto bytes = hex(part);
        packet_reader r{bytes};
        auto h = r.header();
        REQUIRE(h.has_value());
        CHECK_FALSE(h->has_value());
        CHECK(r.consumed() == 0);
    }
    const auto bad = hex("30 ff ff ff ff 01");
    packet_reader r{bad};
    auto p = r.next(1024);
    REQUIRE_FALSE(p.has_value());
    CHECK(p.error() == errc::malformed_remaining_length);
}

TEST_CASE("packet reader: a malformed body is an error and is consumed", "[protocol]") {
    const auto bytes = hex("e0 01 00"); // DISCONNECT with a body byte
    packet_reader r{bytes};
    auto p = r.next(1024);
    REQUIRE_FALSE(p.has_value());
    CHECK(r.consumed() == 3);
}
