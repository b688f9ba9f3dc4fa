// SPDX-License-Identifier: Apache-2.0
// Flow control over real sockets (README.md, "Flow control"): publishers faster than their
// subscriber lose nothing with the default limits, and a subscriber that stops reading becomes a
// slow consumer instead of stalling them forever.

#include "raw_mqtt_client.hpp"
#include "test_broker.hpp"

#include "edgemq/broker/codec/decode.hpp"
#include "edgemq/broker/codec/encode.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace codec = edgemq::broker::codec;
using edgemq::test::raw_mqtt_client;
using edgemq::test::read_status;
using edgemq::test::test_broker;
using namespace std::chrono_literals;

namespace {

constexpr std::uint8_t puback_type = 0x40;

/// A connected client. Throws instead of REQUIRE: publishers run on threads of their own, where
/// Catch's assertions must not be used.
raw_mqtt_client connected(std::uint16_t port, const std::string& id) {
    raw_mqtt_client c{port};
    codec::connect p;
    p.client_id = id;
    p.keep_alive = 60;
    codec::byte_buffer out;
    codec::encode(p, out);
    if (c.send(out)) {
        throw std::runtime_error(id + ": CONNECT not sent");
    }
    const auto r = c.read_packet(3000ms);
    if (r.status != read_status::packet || r.bytes.size() != 4 || r.bytes[3] != 0) {
        throw std::runtime_error(id + ": no CONNACK accepting it");
    }
    return c;
}

void subscribe(raw_mqtt_client& c, const std::string& filter, std::uint8_t qos) {
    codec::byte_buffer out;
    codec::encode(codec::subscribe{1, {{filter, qos}}}, out);
    REQUIRE_FALSE(c.send(out));
    const auto r = c.read_packet(3000ms);
    REQUIRE(r.status == read_status::packet);
    REQUIRE(r.bytes[0] == 0x90); // SUBACK
}

std::optional<codec::publish> as_publish(const std::vector<std::uint8_t>& bytes) {
    auto h = codec::decode_fixed_header(bytes);
    if (!h || !*h || ((*h)->first_byte >> 4) != 3) {
        return std::nullopt;
    }
    auto p = codec::decode(**h, std::span{bytes}.subspan((*h)->size, (*h)->remaining_length));
    if (!p) {
        return std::nullopt;
    }
    return std::get<codec::publish>(std::move(*p));
}

/// Publishes `count` QoS 1 messages "<publisher> <seq>" as fast as the broker acknowledges them,
/// `window` unacknowledged at most; returns the PUBACKs received before `deadline`.
std::size_t publish_open_loop(std::uint16_t port, int publisher, std::size_t count,
                              std::size_t window, const std::string& topic,
                              std::chrono::steady_clock::time_point deadline) {
    auto c = connected(port, "pub-" + std::to_string(publisher));
    std::size_t sent = 0;
    std::size_t acked = 0;
    while (acked < count && std::chrono::steady_clock::now() < deadline) {
        codec::byte_buffer batch;
        for (; sent < count && sent - acked < window; ++sent) {
            codec::publish p;
            p.topic = topic;
            p.qos = 1;
            p.packet_id = static_cast<std::uint16_t>(sent % 65535 + 1);
            p.payload = std::to_string(publisher) + " " + std::to_string(sent) +
                        std::string(48, 'x');
            codec::encode(p, batch);
        }
        if (!batch.empty() && c.send(batch)) {
            break;
        }
        const auto r = c.read_packet(200ms);
        if (r.status == read_status::closed) {
            break;
        }
        if (r.status == read_status::packet && r.bytes[0] == puback_type) {
            ++acked;
            while (auto more = c.take_buffered_packet()) {
                acked += more->bytes[0] == puback_type ? 1 : 0;
            }
        }
    }
    return acked;
}

/// Reads QoS 1 messages and acknowledges them, `pause` after every 100, until `expected` arrived
/// or nothing came for 3 s. Counts each (publisher, seq) once.
struct subscriber_result {
    std::size_t unique = 0;
    std::size_t duplicates = 0;
    bool in_order = true;
};

subscriber_result read_all(raw_mqtt_client& c, int publishers, std::size_t per_publisher,
                           std::chrono::microseconds pause) {
    subscriber_result out;
    std::vector<std::vector<bool>> seen(publishers, std::vector<bool>(per_publisher));
    std::vector<long> last(publishers, -1);
    std::size_t n = 0;
    while (out.unique < static_cast<std::size_t>(publishers) * per_publisher) {
        auto r = c.read_packet(3000ms);
        if (r.status != read_status::packet) {
            break;
        }
        codec::byte_buffer acks;
        for (std::optional<edgemq::test::read_result> next = std::move(r); next;
             next = c.take_buffered_packet()) {
            const auto p = as_publish(next->bytes);
            REQUIRE(p);
            codec::encode(codec::puback{p->packet_id}, acks);
            const auto space = p->payload.find(' ');
            const int pub = std::stoi(p->payload.substr(0, space));
            const long seq = std::stol(p->payload.substr(space + 1));
            if (seen[pub][seq]) {
                ++out.duplicates;
            } else {
                seen[pub][seq] = true;
                ++out.unique;
            }
            out.in_order = out.in_order && seq > last[pub];
            last[pub] = seq;
            if (++n % 100 == 0) {
                std::this_thread::sleep_for(pause); // a subscriber slower than its publishers
            }
        }
        REQUIRE_FALSE(c.send(acks));
    }
    return out;
}

std::optional<edgemq::broker::client_info> client(test_broker& b, const std::string& id) {
    for (auto& c : b.get().clients()) {
        if (c.client_id == id) {
            return c;
        }
    }
    return std::nullopt;
}

} // namespace

TEST_CASE("8 QoS 1 publishers faster than their subscriber: with the default limits nothing "
          "acknowledged is lost",
          "[integration][flow]") {
    test_broker b; // max_queued_messages = 1000, max_inflight_messages = 200
    constexpr int publishers = 8;
    constexpr std::size_t per_publisher = 5000; // 40 times max_queued_messages in all
    auto sub = connected(b.port(), "sub");
    subscribe(sub, "flow/t", 1);

    std::atomic<bool> done{false};
    std::atomic<bool> saw_congestion{false};
    std::thread watcher([&] {
        while (!done) {
            if (auto c = client(b, "sub"); c && c->congested) {
                saw_congestion = true;
            }
            std::this_thread::sleep_for(5ms);
        }
    });
    std::vector<std::size_t> acked(publishers);
    std::vector<std::thread> pubs;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    for (int i = 0; i < publishers; ++i) {
        pubs.emplace_back([&, i] {
            try {
                acked[i] = publish_open_loop(b.port(), i, per_publisher, 100, "flow/t", deadline);
            } catch (const std::exception&) {
                acked[i] = 0; // checked below
            }
        });
    }
    const auto got = read_all(sub, publishers, per_publisher, 300us);
    for (auto& t : pubs) {
        t.join();
    }
    done = true;
    watcher.join();

    for (int i = 0; i < publishers; ++i) {
        CHECK(acked[i] == per_publisher);
    }
    CHECK(got.unique == publishers * per_publisher);
    CHECK(got.duplicates == 0);
    CHECK(got.in_order);
    CHECK(b.get().stats().messages_dropped == 0);
    CHECK(b.get().stats().slow_consumers == 0);
    // The subscriber was slower than the publishers: the test measured flow control, not a
    // subscriber that kept up anyway.
    CHECK(saw_congestion);
}

TEST_CASE("a subscriber that stops reading becomes a slow consumer and stalls its publisher "
          "only for slow_consumer_timeout",
          "[integration][flow]") {
    auto b = test_broker::from_toml("[broker]\nslow_consumer_timeout = \"300ms\"\n");
    auto stuck = connected(b->port(), "stuck");
    subscribe(stuck, "slow/t", 1);
    constexpr std::size_t count = 5000;
    const auto started = std::chrono::steady_clock::now();
    const auto acked =
        publish_open_loop(b->port(), 0, count, 100, "slow/t", started + 30s);
    CHECK(acked == count); // held back for 300 ms, not forever
    const auto stats = b->get().stats();
    CHECK(stats.slow_consumers == 1);
    const auto info = client(*b, "stuck");
    REQUIRE(info);
    CHECK(info->slow_consumer);
    CHECK_FALSE(info->congested);
    // Cut at max_queued_messages. The subscriber's own I/O thread marks it congested, so what
    // the publisher's thread routed before it saw the mark comes on top: 100 in flight, and
    // CI saw 1,401 queued on a loaded machine.
    CHECK(info->queued <= 2 * 1000);
    CHECK(info->dropped > 0);
    CHECK(info->dropped + info->queued + info->inflight == count);

    // It reads again: it gets what was kept, in order, and is no longer slow once it has read
    // half of it.
    const auto got = read_all(stuck, 1, count, 0us);
    CHECK(got.unique == info->queued + info->inflight);
    CHECK(got.in_order);
    const auto after = client(*b, "stuck");
    REQUIRE(after);
    CHECK(after->queued == 0);
    CHECK_FALSE(after->slow_consumer);
}

TEST_CASE("slow_consumer = \"disconnect\" closes a subscriber that stopped reading",
          "[integration][flow]") {
    auto b = test_broker::from_toml("[broker]\nslow_consumer_timeout = \"300ms\"\n"
                                    "slow_consumer = \"disconnect\"\n");
    auto stuck = connected(b->port(), "stuck");
    subscribe(stuck, "slow/t", 1);
    const auto acked = publish_open_loop(b->port(), 0, 3000, 100, "slow/t",
                                         std::chrono::steady_clock::now() + 30s);
    CHECK(acked == 3000);
    CHECK(b->get().stats().slow_consumers == 1);
    // What was written before the close is readable, then the stream ends.
    read_status last = read_status::packet;
    for (int i = 0; i < 10'000 && last == read_status::packet; ++i) {
        last = stuck.read_packet(3000ms).status;
    }
    CHECK(last == read_status::closed);
}

TEST_CASE("a publisher held back by a congested subscriber first handles the packets it has "
          "already sent, then is not read until the subscriber catches up",
          "[integration][flow]") {
    auto b = test_broker::from_toml("[broker]\nmax_inflight_messages = 1\n"
                                    "max_queued_messages = 10\nslow_consumer_timeout = 0\n");
    auto sub = connected(b->port(), "sub");
    subscribe(sub, "held/t", 1);
    auto pub = connected(b->port(), "pub");
    std::uint16_t next_id = 1;
    const auto publish = [&](int n) {
        codec::byte_buffer batch; // one send: the broker reads it in one piece
        for (int i = 0; i < n; ++i, ++next_id) {
            codec::publish p;
            p.topic = "held/t";
            p.qos = 1;
            p.packet_id = next_id;
            p.payload = std::to_string(next_id);
            codec::encode(p, batch);
        }
        REQUIRE_FALSE(pub.send(batch));
    };
    const auto pubacks = [&](std::size_t want, std::chrono::milliseconds wait) {
        std::size_t got = 0;
        while (got < want) {
            const auto r = pub.read_packet(wait);
            if (r.status != read_status::packet) {
                break;
            }
            got += r.bytes[0] == puback_type ? 1 : 0;
        }
        return got;
    };
    // Eleven, one at a time: the subscriber (not reading) has 1 in flight and 10 queued, so it
    // is congested; before the eleventh it was not, so none of them held the publisher back.
    for (int i = 0; i < 11; ++i) {
        publish(1);
        REQUIRE(pubacks(1, 3000ms) == 1);
    }
    const auto congested = [&] {
        const auto info = client(*b, "sub");
        return info && info->congested;
    };
    for (int i = 0; i < 200 && !congested(); ++i) {
        std::this_thread::sleep_for(10ms); // its own I/O thread marks it
    }
    REQUIRE(congested());
    const int before = next_id - 1;

    // Five in one piece: all five are handled (the old code stopped after the first and left
    // the other four waiting for the subscriber), then the publisher is not read.
    publish(5);
    CHECK(pubacks(5, 3000ms) == 5);
    publish(1);
    CHECK(pubacks(1, 300ms) == 0);

    // The subscriber reads everything, in order; the held publish is then acknowledged.
    int expected = 1;
    while (expected <= before + 6) {
        const auto r = sub.read_packet(3000ms);
        REQUIRE(r.status == read_status::packet);
        const auto p = as_publish(r.bytes);
        REQUIRE(p);
        CHECK(p->payload == std::to_string(expected++));
        codec::byte_buffer ack;
        codec::encode(codec::puback{p->packet_id}, ack);
        REQUIRE_FALSE(sub.send(ack));
    }
    CHECK(pubacks(1, 3000ms) == 1);
    CHECK(b->get().stats().messages_dropped == 0);
}

TEST_CASE("a wildcard subscriber gets every one of 1100 retained 64 KiB messages (70 MB, past "
          "the old 64 MiB write-buffer cut)",
          "[integration][flow]") {
    test_broker b;
    constexpr int count = 1100;
    {
        auto pub = connected(b.port(), "retainer");
        codec::byte_buffer batch;
        for (int i = 0; i < count; ++i) {
            codec::publish p;
            p.topic = "r/" + std::to_string(i);
            p.retain = true;
            p.payload = std::string(64 * 1024, static_cast<char>('a' + i % 26));
            codec::encode(p, batch);
            if (batch.size() > (1 << 20)) {
                REQUIRE_FALSE(pub.send(batch));
                batch.clear();
            }
        }
        REQUIRE_FALSE(pub.send(batch));
        // A PINGREQ after them: its PINGRESP says every PUBLISH before it was handled.
        const std::uint8_t ping[] = {0xC0, 0x00};
        REQUIRE_FALSE(pub.send(ping));
        REQUIRE(pub.read_packet(10'000ms).status == read_status::packet);
    }
    REQUIRE(b.get().stats().retained_messages >= count); // and the $SYS ones
    auto sub = connected(b.port(), "late");
    subscribe(sub, "r/#", 0);
    int got = 0;
    while (got < count) {
        const auto r = sub.read_packet(5000ms);
        if (r.status != read_status::packet) {
            break;
        }
        const auto p = as_publish(r.bytes);
        REQUIRE(p);
        CHECK(p->retain);
        CHECK(p->payload.size() == 64 * 1024);
        ++got;
    }
    CHECK(got == count);
    CHECK(b.get().stats().messages_dropped == 0);
}
