// SPDX-License-Identifier: Apache-2.0
//
// libFuzzer target: the MQTT packet reader. The input is a byte stream as it arrives on a socket;
// it is cut into packets with decode_fixed_header and each packet is decoded, as the connection
// does. Findings are crashes and sanitizer reports, and these round-trip failures:
//
// * a packet that decodes re-encodes to exactly its input bytes whenever the input wrote the
//   remaining length in its shortest form (the encoder always does; MQTT 3.1.1 allows a longer
//   form, so a packet with one is only checked the next way);
// * the re-encoded bytes decode again, and re-encode to the same bytes.
//
// Every packet is decoded twice, in the 3.1.1 layout (MQTT 3.1 differs only in CONNECT, which
// carries its level) and in the 5.0 layout, so the same inputs reach both. In 5.0 a decoded
// packet need not re-encode to its input (properties may come in any order, an acknowledgement
// may spell out success), so there only the second check applies.
#include "edgemq/broker/codec/decode.hpp"
#include "edgemq/broker/codec/encode.hpp"
#include "edgemq/broker/routing/topic.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <variant>

namespace codec = edgemq::broker::codec;
namespace routing = edgemq::broker::routing;

namespace {

[[noreturn]] void fail(const char* what, std::span<const std::uint8_t> bytes) {
    std::fprintf(stderr, "fuzz_decode: %s; packet:", what);
    for (const auto b : bytes) {
        std::fprintf(stderr, " %02x", b);
    }
    std::fprintf(stderr, "\n");
    std::abort();
}

std::size_t varint_size(std::uint32_t value) {
    codec::byte_buffer out;
    codec::encode_varint(value, out);
    return out.size();
}

/// Exercises the topic functions with what the packet carries (they see the same bytes in the
/// broker right after decoding).
void touch_topics(const codec::packet& p) {
    if (const auto* pub = std::get_if<codec::publish>(&p)) {
        if (pub->topic.empty() && pub->props->topic_alias) {
            return; // 5.0: the topic is the one the alias maps to
        }
        if (!routing::is_valid_topic_name(pub->topic)) {
            fail("decode accepted a PUBLISH with an invalid topic name", {});
        }
        (void)routing::topic_matches("#", pub->topic);
        (void)routing::topic_matches("+/+/#", pub->topic);
    } else if (const auto* sub = std::get_if<codec::subscribe>(&p)) {
        for (const auto& s : sub->subscriptions) {
            if (routing::is_valid_topic_filter(s.filter)) {
                (void)routing::has_wildcard(s.filter);
                (void)routing::topic_matches(s.filter, "a/b/c");
                (void)routing::topic_matches(s.filter, "$SYS/x");
            }
        }
    }
}

void check_round_trip(const codec::fixed_header& header, const codec::packet& p,
                      std::span<const std::uint8_t> input, std::uint8_t level) {
    // A CONNECT is written in the layout of its own level.
    if (const auto* c = std::get_if<codec::connect>(&p)) {
        level = c->protocol_level;
    }
    codec::byte_buffer first;
    codec::encode(p, first, level);
    const bool shortest = level < codec::protocol_level_5 &&
                          header.size == 1 + varint_size(header.remaining_length);
    if (shortest && !std::equal(first.begin(), first.end(), input.begin(), input.end())) {
        fail("re-encoding a decoded packet gave other bytes", input);
    }
    auto h = codec::decode_fixed_header(first);
    if (!h || !*h || (*h)->packet_size() != first.size()) {
        fail("a re-encoded packet has no complete fixed header", first);
    }
    auto again = codec::decode(**h, std::span{first}.subspan((*h)->size), level);
    if (!again) {
        fail("a re-encoded packet does not decode", first);
    }
    codec::byte_buffer second;
    codec::encode(*again, second, level);
    if (second != first) {
        fail("decode(encode(p)) re-encodes to other bytes", first);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::span<const std::uint8_t> rest{data, size};
    (void)codec::is_valid_utf8({reinterpret_cast<const char*>(data), size});
    while (!rest.empty()) {
        auto header = codec::decode_fixed_header(rest);
        if (!header || !*header) {
            return 0; // a malformed remaining length closes the connection; or need more bytes
        }
        const auto& h = **header;
        if (h.size < 2 || h.size > 5 || h.size > rest.size()) {
            fail("decode_fixed_header reported an impossible header size", rest.first(1));
        }
        if (h.packet_size() > rest.size()) {
            return 0; // the rest of the packet has not arrived
        }
        const auto packet_bytes = rest.first(h.packet_size());
        for (const auto level : {codec::protocol_level_311, codec::protocol_level_5}) {
            auto p = codec::decode(h, packet_bytes.subspan(h.size), level);
            if (p) {
                touch_topics(*p);
                check_round_trip(h, *p, packet_bytes, level);
            }
        }
        // A real connection closes on a decode error; going on reaches more of the decoder.
        rest = rest.subspan(h.packet_size());
    }
    return 0;
}
