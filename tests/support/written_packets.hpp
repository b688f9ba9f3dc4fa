// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/net/write_queue.hpp"
#include "edgemq/broker/protocol/packet_reader.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

/// What a Sans-I/O session wrote: the bytes of a write_queue, and the same cut into packets by
/// the product's packet_reader (a test then fails on bytes that do not decode, or on a packet
/// left half-written). Both empty the queue.
namespace edgemq::test {

inline std::vector<std::uint8_t> bytes_of(broker::net::write_queue& q) {
    std::vector<std::uint8_t> bytes;
    q.for_each_buffer([&bytes](const void* data, std::size_t size) {
        const auto* p = static_cast<const std::uint8_t*>(data);
        bytes.insert(bytes.end(), p, p + size);
    });
    q.clear();
    return bytes;
}

inline std::vector<broker::codec::packet>
packets_of(broker::net::write_queue& q,
           std::uint8_t level = broker::codec::protocol_level_311) {
    const auto bytes = bytes_of(q);
    broker::protocol::packet_reader reader{bytes, level};
    std::vector<broker::codec::packet> out;
    for (;;) {
        auto p = reader.next(bytes.size());
        REQUIRE(p.has_value());
        if (!p->has_value()) {
            break;
        }
        out.push_back(std::move(**p));
    }
    CHECK(reader.consumed() == bytes.size());
    return out;
}

} // namespace edgemq::test
