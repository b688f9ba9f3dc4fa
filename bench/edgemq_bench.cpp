// SPDX-License-Identifier: Apache-2.0
// edgemq_bench: an MQTT 3.1.1 / 5.0 load generator, used by bench/run.sh to measure edgemq,
// Mosquitto and FlashMQ side by side (docs/PERFORMANCE.md).
//
// Shape. The tool shares the machine with the broker under test (two cores here), so it must cost
// far less per message than any broker it measures. Everything runs on one io_context on one
// thread, and the unit of work is a buffer, not a message:
//  * a publisher appends as many PUBLISH packets as its window allows to its connection's write
//    buffer; the connection's writer coroutine sends whatever has accumulated in one write;
//  * every reader reads 64 KiB at a time and handles all complete packets in it (PUBLISH read in
//    place, the rest through codec::decode); the acks it owes (PUBACK, PUBREC, PUBREL, PUBCOMP)
//    go to its write buffer and leave in one write.
//
// Pacing. A QoS 1/2 publisher keeps at most --inflight publishes unacknowledged by the broker
// (fewer if a 5.0 broker's Receive Maximum says so). With --pacing delivery (the default) every
// publisher, at every QoS, also keeps at most --inflight messages between "sent" and "received by
// every subscriber" (the tool sees both ends), so QoS 0 cannot overrun a broker forever and no
// run measures a queue that only grows. With --pacing ack (open loop) that second window is gone:
// QoS 1/2 publishers go as fast as the broker acknowledges, and a QoS 0 publisher refills its
// write buffer (one batch of about 64 KiB) as soon as the writer has handed the previous one to
// the kernel, i.e. as fast as the socket takes bytes. Whatever the broker then buffers or drops
// shows as latency and loss. A window is refilled once a quarter of it is free, so that a broker
// acking one message per write does not drag the tool into one write per message as well.
//
// Measurement. Each payload starts with the publisher id, a sequence number and the
// CLOCK_MONOTONIC time of the batch it was sent in. Subscribers keep one bitmap per publisher
// (loss and duplicates) and feed a log-linear latency histogram. Throughput is messages received
// by all subscribers together, from the start of publishing to the last message received;
// "acknowledged" is PUBACK (QoS 1) or PUBCOMP (QoS 2) received, or for QoS 0 written to the
// socket, per second from the start of publishing to the last such event. Lost = acknowledged
// (QoS 2: PUBREC received; QoS 0: written) and never received, per subscriber; a message still
// unacknowledged at the end is not counted either way.
// The run ends when every subscriber has everything; when nothing has moved (no receipt, ack or
// QoS 0 write) for 3 s or twice the worst latency seen (what is missing then is lost; "stalled"
// if publishers still had messages to send or acks to get); on --timeout; or when a connection
// fails. The cost of the open-loop bookkeeping is per batch and per ack, not per byte.

#include "edgemq/broker/codec/decode.hpp"
#include "edgemq/broker/codec/encode.hpp"
#include "edgemq/broker/protocol/packet_reader.hpp"

#include <boost/asio.hpp>

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

namespace edgemq::bench {
namespace {

namespace asio = boost::asio;
namespace codec = broker::codec;
using asio::ip::tcp;
using boost::system::error_code;
using broker::result;

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

constexpr std::size_t read_chunk = 64 * 1024;
constexpr std::size_t idle_read_chunk = 64;
constexpr std::size_t max_packet = 16 * 1024 * 1024;
constexpr std::uint64_t quiet_ns = 3'000'000'000; ///< at least; 2x the worst latency if longer
constexpr std::uint32_t stamp_magic = 0x716d6265; // "ebmq"
constexpr std::size_t idle_connect_width = 64;
constexpr std::size_t qos0_batch_bytes = 64 * 1024; ///< --pacing ack, QoS 0: one write's worth

// ---------------------------------------------------------------------------------------------
// Options

struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

enum class scenario { fanin, fanout, idle };
constexpr std::array<std::string_view, 3> scenario_names{"fanin", "fanout", "idle"};

/// delivery: publishers wait for subscribers too (closed loop); ack: only for the broker's acks.
enum class pacing { delivery, ack };
constexpr std::array<std::string_view, 2> pacing_names{"delivery", "ack"};

/// both: publishers and subscribers in this process; pub or sub: only one side, the other being
/// another edgemq_bench (bench/bridge_drain.sh: publishers on a gateway, subscribers on the
/// remote end of its bridge, started before and kept through an outage).
enum class role { both, pub, sub };
constexpr std::array<std::string_view, 3> role_names{"both", "pub", "sub"};

struct options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 1883;
    bench::scenario scenario = scenario::fanin;
    std::uint32_t publishers = 1;
    std::uint32_t subscribers = 1;
    std::uint8_t qos = 0;
    std::uint32_t payload = 64;
    std::uint64_t messages = 10000;
    std::uint32_t inflight = 100;
    std::uint32_t connections = 1000;
    double hold = 10;
    double timeout = 60;
    bool retain = false;
    bench::pacing pacing = pacing::delivery;
    std::uint8_t protocol = codec::protocol_level_311;
    bench::role role = role::both;
    std::string sub_host; ///< empty: --host
    std::uint16_t sub_port = 0; ///< 0: --port
    double connect_retry = 0; ///< subscribers retry a refused connection for this long
    bool persistent = false; ///< subscribers with persistent sessions (clean session 0)
};

constexpr const char* usage_text =
    "usage: edgemq_bench [--host 127.0.0.1] [--port 1883] [--scenario fanin|fanout|idle]\n"
    "                    [--publishers N] [--subscribers N] [--qos 0|1|2] [--payload BYTES]\n"
    "                    [--messages N] [--inflight N] [--connections N] [--hold SECONDS]\n"
    "                    [--timeout SECONDS] [--retain 0|1] [--pacing delivery|ack]\n"
    "                    [--protocol 4|5] [--role both|pub|sub] [--sub-host IP]\n"
    "                    [--sub-port PORT] [--connect-retry SECONDS] [--persistent 0|1]\n"
    "  fanin:  N publishers on bench/<id>, subscribers on bench/#\n"
    "  fanout: N publishers and subscribers on bench/fanout\n"
    "  idle:   open --connections connections and hold them for --hold seconds\n"
    "  --messages is per publisher; --inflight is the per-publisher window (default 100);\n"
    "  --payload is at least 24 bytes (default 64); --timeout bounds setup and the run (60);\n"
    "  --retain 1 publishes with the retain flag (each publisher replaces its topic's message);\n"
    "  --pacing delivery (default): at most --inflight messages per publisher not yet received\n"
    "    by every subscriber; ack: open loop, QoS 1/2 only as far as the broker's acks allow,\n"
    "    QoS 0 as fast as the socket takes bytes;\n"
    "  --protocol 4 is MQTT 3.1.1 (default), 5 is MQTT 5.0 (no properties sent);\n"
    "  --sub-host/--sub-port: the subscribers' broker (default --host/--port), e.g. the remote\n"
    "    end of a bridge from the publishers' broker;\n"
    "  --role pub: only the publishers (done when all are acknowledged); --role sub: only the\n"
    "    subscribers, expecting --messages from each of --publishers, timed from the first\n"
    "    message to the last; prints 'subscribed' once subscribed; --connect-retry S: the\n"
    "    subscribers retry a refused connection for up to S seconds (a broker not up yet);\n"
    "  --persistent 1: subscribers have persistent sessions (3.1.1 clean session 0, 5.0 a\n"
    "    Session Expiry Interval of an hour), so that a broker with persistence keeps what\n"
    "    it queues for them on disk.\n";

template <typename T> T parse_number(std::string_view flag, std::string_view text, T min, T max) {
    T value{};
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || ptr != end || value < min || value > max) {
        throw usage_error("bad value for " + std::string(flag) + ": '" + std::string(text) + "'");
    }
    return value;
}

options parse_options(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (flag == "--help" || flag == "-h") {
            std::cout << usage_text;
            std::exit(0);
        }
        if (i + 1 >= argc) {
            throw usage_error("missing value for " + std::string(flag));
        }
        const std::string_view v = argv[++i];
        if (flag == "--host") {
            o.host = v;
        } else if (flag == "--port") {
            o.port = parse_number<std::uint16_t>(flag, v, 1, 65535);
        } else if (flag == "--scenario") {
            const auto it = std::find(scenario_names.begin(), scenario_names.end(), v);
            if (it == scenario_names.end()) {
                throw usage_error("unknown scenario '" + std::string(v) + "'");
            }
            o.scenario = static_cast<scenario>(it - scenario_names.begin());
        } else if (flag == "--publishers") {
            o.publishers = parse_number<std::uint32_t>(flag, v, 1, 10000);
        } else if (flag == "--subscribers") {
            o.subscribers = parse_number<std::uint32_t>(flag, v, 1, 10000);
        } else if (flag == "--qos") {
            o.qos = parse_number<std::uint8_t>(flag, v, 0, 2);
        } else if (flag == "--payload") {
            o.payload = parse_number<std::uint32_t>(flag, v, 24, 1024 * 1024);
        } else if (flag == "--messages") {
            o.messages = parse_number<std::uint64_t>(flag, v, 1, 1'000'000'000);
        } else if (flag == "--inflight") {
            o.inflight = parse_number<std::uint32_t>(flag, v, 1, 65535);
        } else if (flag == "--connections") {
            o.connections = parse_number<std::uint32_t>(flag, v, 1, 1'000'000);
        } else if (flag == "--hold") {
            o.hold = parse_number<double>(flag, v, 0, 86400);
        } else if (flag == "--timeout") {
            o.timeout = parse_number<double>(flag, v, 0.1, 86400);
        } else if (flag == "--retain") {
            o.retain = parse_number<int>(flag, v, 0, 1) == 1;
        } else if (flag == "--pacing") {
            const auto it = std::find(pacing_names.begin(), pacing_names.end(), v);
            if (it == pacing_names.end()) {
                throw usage_error("unknown pacing '" + std::string(v) + "'");
            }
            o.pacing = static_cast<pacing>(it - pacing_names.begin());
        } else if (flag == "--protocol") {
            o.protocol = parse_number<std::uint8_t>(flag, v, 4, 5);
        } else if (flag == "--role") {
            const auto it = std::find(role_names.begin(), role_names.end(), v);
            if (it == role_names.end()) {
                throw usage_error("unknown role '" + std::string(v) + "'");
            }
            o.role = static_cast<role>(it - role_names.begin());
        } else if (flag == "--sub-host") {
            o.sub_host = v;
        } else if (flag == "--sub-port") {
            o.sub_port = parse_number<std::uint16_t>(flag, v, 1, 65535);
        } else if (flag == "--persistent") {
            o.persistent = parse_number<int>(flag, v, 0, 1) == 1;
        } else if (flag == "--connect-retry") {
            o.connect_retry = parse_number<double>(flag, v, 0, 86400);
        } else {
            throw usage_error("unknown option " + std::string(flag));
        }
    }
    return o;
}

// ---------------------------------------------------------------------------------------------
// Clock, payload stamp, latency histogram

/// CLOCK_MONOTONIC in ns (vDSO, no system call).
std::uint64_t now_ns() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::uint64_t(ts.tv_sec) * 1'000'000'000u + std::uint64_t(ts.tv_nsec);
}

/// CLOCK_REALTIME in ns: only to report when the first and last message arrived, so that a
/// script can relate them to what it did (restarting a broker) in another process.
std::uint64_t realtime_ns() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return std::uint64_t(ts.tv_sec) * 1'000'000'000u + std::uint64_t(ts.tv_nsec);
}

/// The first 24 bytes of every payload, in host byte order (both ends run on this machine).
struct stamp {
    std::uint32_t publisher;
    std::uint32_t magic;
    std::uint64_t seq;
    std::uint64_t sent_ns;
};
static_assert(sizeof(stamp) == 24);

/// Log-linear histogram of nanosecond values: 64 sub-buckets per power of two, so a reported
/// percentile is within 1.6 % of the true value; fixed size, no allocation per sample.
class histogram {
public:
    void add(std::uint64_t v) noexcept {
        ++counts_[index(v)];
        ++count_;
        max_ = std::max(max_, v);
    }
    std::uint64_t max() const noexcept { return max_; }

    /// Upper bound of the bucket holding the q-quantile (0 < q <= 1), capped at the maximum.
    std::uint64_t quantile(double q) const noexcept {
        if (count_ == 0) {
            return 0;
        }
        const auto rank = std::max<std::uint64_t>(1, std::uint64_t(q * double(count_) + 0.5));
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < counts_.size(); ++i) {
            seen += counts_[i];
            if (seen >= rank) {
                return std::min(upper(i), max_);
            }
        }
        return max_;
    }

private:
    static constexpr unsigned sub_bits = 6;
    static constexpr std::size_t buckets = (64 - sub_bits + 1) * (std::size_t{1} << sub_bits);

    static std::size_t index(std::uint64_t v) noexcept {
        const unsigned width = std::bit_width(v);
        const unsigned shift = width > sub_bits + 1 ? width - sub_bits - 1 : 0;
        return (std::size_t{shift} << sub_bits) + (v >> shift);
    }
    static std::uint64_t upper(std::size_t i) noexcept {
        const std::size_t shift = i < (2u << sub_bits) ? 0 : (i >> sub_bits) - 1;
        const std::uint64_t top = i - (shift << sub_bits);
        return ((top + 1) << shift) - 1;
    }

    std::array<std::uint64_t, buckets> counts_{};
    std::uint64_t count_ = 0;
    std::uint64_t max_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Connection

/// A complete packet in the read buffer, not decoded yet.
struct raw_packet {
    codec::fixed_header header;
    std::span<const std::uint8_t> body;
};

/// What a subscriber needs from a PUBLISH, read in place. codec::decode copies the topic and
/// payload into strings and validates the topic: about 120 ns a message, more than all the rest
/// the tool spends on it, and the tool must stay much cheaper than any broker it measures. Every
/// other packet goes through codec::decode.
struct publish_view {
    std::uint8_t qos = 0;
    std::uint16_t packet_id = 0;
    std::span<const std::uint8_t> payload;
};

result<publish_view> parse_publish(const raw_packet& p, bool v5) {
    publish_view v;
    v.qos = (p.header.flags() >> 1) & 0x03;
    if (v.qos == 3) {
        return broker::errc::invalid_qos; // [MQTT-3.3.1-4]
    }
    if (p.body.size() < 2) {
        return broker::errc::malformed_packet;
    }
    std::size_t at = 2 + std::size_t((p.body[0] << 8) | p.body[1]); // after the topic
    if (v.qos > 0) {
        if (p.body.size() < at + 2) {
            return broker::errc::malformed_packet;
        }
        v.packet_id = static_cast<std::uint16_t>((p.body[at] << 8) | p.body[at + 1]);
        at += 2;
        if (v.packet_id == 0) {
            return broker::errc::malformed_packet; // [MQTT-2.3.1-1]
        }
    }
    if (v5) {
        // Skip the property block: its variable byte integer length, then that many bytes.
        std::uint32_t length = 0;
        for (unsigned shift = 0;; shift += 7) {
            if (shift > 21 || at >= p.body.size()) {
                return broker::errc::malformed_packet;
            }
            const auto b = p.body[at++];
            length |= std::uint32_t(b & 0x7f) << shift;
            if ((b & 0x80) == 0) {
                break;
            }
        }
        at += length;
    }
    if (p.body.size() < at) {
        return broker::errc::malformed_packet;
    }
    v.payload = p.body.subspan(at);
    return v;
}

/// One MQTT connection: a socket, a read buffer holding the unparsed tail of the last read, and a
/// write buffer that collects packets until the writer coroutine sends them all in one write.
/// Thread safety: used from the single io_context thread only.
class client {
public:
    /// What the writer tells an observer: it took out() into a write, or that write finished.
    enum class write_event { taken, written };

    client(asio::any_io_executor ex, std::size_t read_size, std::uint8_t level)
        : socket_(ex), wake_(ex, asio::steady_timer::time_point::max()), read_size_(read_size),
          level_(level) {}

    codec::byte_buffer& out() noexcept { return out_; }
    /// Bytes appended and not yet taken by the writer.
    std::size_t pending() const noexcept { return out_.size(); }
    bool closing() const noexcept { return closing_; }
    std::uint8_t level() const noexcept { return level_; }
    /// The broker's Receive Maximum from a 5.0 CONNACK (65535 when absent or 3.1.1).
    std::uint16_t receive_maximum() const noexcept { return receive_maximum_; }

    /// Called once per write, never per message.
    void on_write(std::function<void(write_event)> f) { on_write_ = std::move(f); }

    /// Wakes the writer; it sends everything appended to out() so far.
    void flush() { wake_.cancel(); }

    /// Sends DISCONNECT after the pending bytes, then half-closes; the broker closes the rest.
    void disconnect() {
        if (!closing_ && socket_.is_open()) {
            codec::encode(codec::disconnect{}, out_, level_);
        }
        closing_ = true;
        flush();
    }

    void close() {
        closing_ = true;
        error_code ignored;
        socket_.close(ignored);
        wake_.cancel();
    }

    bool ready() const noexcept { return ready_; }
    void set_ready() noexcept { ready_ = true; }

    /// TCP connect, CONNECT (clean session unless `persistent`, keep-alive 0: no PINGREQ
    /// needed), CONNACK.
    asio::awaitable<error_code> async_open(tcp::endpoint ep, std::string client_id,
                                           bool persistent = false) {
        if (auto [ec] = co_await socket_.async_connect(ep, use_nothrow); ec) {
            co_return ec;
        }
        error_code ignored;
        socket_.set_option(tcp::no_delay(true), ignored);
        codec::connect c;
        c.protocol_level = level_;
        c.client_id = std::move(client_id);
        if (persistent) {
            c.clean_session = false;
            if (level_ == codec::protocol_level_5) {
                c.props.edit().session_expiry_interval = 3600;
            }
        }
        codec::encode(c, out_);
        auto ack = co_await async_exchange();
        if (!ack) {
            co_return ack.error();
        }
        const auto* connack = std::get_if<codec::connack>(&*ack);
        if (!connack || connack->code != codec::connect_return_code::accepted) {
            co_return asio::error::connection_refused;
        }
        receive_maximum_ = connack->props->receive_maximum.value_or(65535);
        co_return error_code{};
    }

    /// SUBSCRIBE to one filter and wait for a SUBACK that grants it.
    asio::awaitable<error_code> async_subscribe(std::string filter, std::uint8_t qos) {
        codec::encode(codec::subscribe{1, {{std::move(filter), qos}}}, out_, level_);
        auto ack = co_await async_exchange();
        if (!ack) {
            co_return ack.error();
        }
        const auto* suback = std::get_if<codec::suback>(&*ack);
        if (!suback || suback->return_codes != std::vector<std::uint8_t>{qos}) {
            co_return asio::error::access_denied;
        }
        co_return error_code{};
    }

    /// Reads once (up to a whole read buffer) after the bytes already held.
    asio::awaitable<error_code> async_read_more() {
        if (begin_ > 0) {
            std::memmove(rx_.data(), rx_.data() + begin_, end_ - begin_);
            end_ -= begin_;
            begin_ = 0;
        }
        if (rx_.size() < std::max(need_, read_size_)) {
            rx_.resize(std::max(need_, read_size_));
        }
        auto [ec, n] = co_await socket_.async_read_some(
            asio::buffer(rx_.data() + end_, rx_.size() - end_), use_nothrow);
        end_ += n;
        co_return ec;
    }

    /// Takes the complete packet at the front of the read buffer, undecoded; an empty optional
    /// means "read more". The body stays valid until the next async_read_more().
    result<std::optional<raw_packet>> next_raw() {
        broker::protocol::packet_reader reader{{rx_.data() + begin_, end_ - begin_}};
        auto header = reader.header();
        if (!header) {
            return header.error();
        }
        if (!*header) {
            return std::optional<raw_packet>{};
        }
        if ((*header)->packet_size() > max_packet) {
            return broker::errc::packet_too_large;
        }
        if (!reader.complete()) {
            need_ = reader.needed();
            return std::optional<raw_packet>{};
        }
        const auto body = reader.take_body();
        begin_ += reader.consumed();
        need_ = 0;
        return std::optional<raw_packet>{raw_packet{**header, body}};
    }

    /// Hands every complete packet held to `on_packet`, in order, until one returns an error.
    template <typename OnPacket> error_code for_each_packet(OnPacket&& on_packet) {
        for (;;) {
            auto next = next_raw();
            if (!next) {
                return next.error();
            }
            if (!*next) {
                return {};
            }
            if (auto ec = on_packet(**next); ec) {
                return ec;
            }
        }
    }

    /// Sends out() until closing() and out() is empty, one write per wake-up.
    asio::awaitable<void> async_writer() {
        codec::byte_buffer sending;
        while (socket_.is_open()) {
            if (out_.empty()) {
                if (closing_) {
                    error_code ignored;
                    socket_.shutdown(tcp::socket::shutdown_send, ignored);
                    break;
                }
                co_await wake_.async_wait(use_nothrow);
                continue;
            }
            sending.swap(out_);
            if (on_write_) {
                on_write_(write_event::taken);
            }
            auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(sending), use_nothrow);
            sending.clear();
            if (!ec && on_write_) {
                on_write_(write_event::written);
            }
            if (ec) {
                // The reader sees the closed socket and reports the failure.
                error_code ignored;
                socket_.close(ignored);
            }
        }
    }

private:
    /// Handshake only, before the writer coroutine exists: sends out(), returns the next packet.
    asio::awaitable<result<codec::packet>> async_exchange() {
        auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(out_), use_nothrow);
        out_.clear();
        while (!ec) {
            auto p = next_raw();
            if (!p) {
                co_return p.error();
            }
            if (*p) {
                co_return codec::decode((*p)->header, (*p)->body, level_);
            }
            ec = co_await async_read_more();
        }
        co_return ec;
    }

    tcp::socket socket_;
    asio::steady_timer wake_;
    codec::byte_buffer out_;
    std::vector<std::uint8_t> rx_; // allocated on the first read: idle connections stay small
    std::size_t read_size_;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
    std::size_t need_ = 0;
    std::uint8_t level_;
    std::uint16_t receive_maximum_ = 65535;
    std::function<void(write_event)> on_write_;
    bool closing_ = false;
    bool ready_ = false; ///< set up (connected, subscribed); the setup deadline spares it
};

std::string client_id(char role, std::size_t i) {
    return "edgemq-bench-" + std::to_string(::getpid()) + "-" + role + std::to_string(i);
}

/// Raises the soft open-file limit to the hard one; the idle scenario needs one fd per connection.
void raise_fd_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
}

// ---------------------------------------------------------------------------------------------
// The scenarios

struct publisher {
    publisher(asio::any_io_executor ex, std::uint32_t id_, std::uint32_t inflight,
              std::uint8_t level)
        : conn(ex, read_chunk, level), wake(ex, asio::steady_timer::time_point::max()), id(id_),
          id_state(inflight + 1, 0), id_seq(inflight + 1, 0) {
        for (std::uint32_t i = inflight; i >= 1; --i) {
            free_ids.push_back(static_cast<std::uint16_t>(i));
        }
    }

    client conn;
    asio::steady_timer wake; ///< the producer waits here for window space
    std::uint32_t id;
    std::string topic;
    std::uint64_t sent = 0;  ///< PUBLISH packets handed to the writer
    std::uint64_t acked = 0; ///< PUBACK (QoS 1) or PUBCOMP (QoS 2) received; QoS 0: written
    std::uint64_t taken = 0; ///< QoS 0: `sent` when the writer took the buffer now being written
    std::vector<std::uint16_t> free_ids;
    std::vector<std::uint8_t> id_state; ///< per packet id: 0 free, 1 sent, 2 PUBREL sent
    std::vector<std::uint64_t> id_seq;  ///< per packet id: the sequence number it carries
    bool waiting = false;
};

struct subscriber {
    subscriber(asio::any_io_executor ex, std::uint32_t id_, std::uint32_t publishers,
               std::uint64_t messages, std::uint8_t level)
        : conn(ex, read_chunk, level), id(id_), next_seq(publishers, 0),
          words((messages + 63) / 64), seen(publishers * words, 0) {}

    client conn;
    std::uint32_t id;
    std::vector<std::uint64_t> next_seq; ///< per publisher: highest sequence seen + 1
    std::size_t words;                   ///< bitmap words per publisher
    std::vector<std::uint64_t> seen;     ///< per publisher, one bit per sequence number
    std::uint64_t received = 0;
    std::uint64_t unique = 0;
    std::uint64_t dup = 0;
    std::uint64_t invalid = 0;
    std::uint64_t out_of_order = 0; ///< first arrivals below a sequence number already seen
    std::int64_t awaiting_pubrel = 0; ///< QoS 2 deliveries answered with PUBREC, no PUBREL yet
};

class load_test {
public:
    load_test(asio::io_context& ioc, options opt)
        : ex_(ioc.get_executor()), opt_(std::move(opt)),
          endpoint_(asio::ip::make_address(opt_.host), opt_.port),
          sub_endpoint_(asio::ip::make_address(opt_.sub_host.empty() ? opt_.host : opt_.sub_host),
                        opt_.sub_port != 0 ? opt_.sub_port : opt_.port),
          filler_(opt_.payload, 0),
          v5_(opt_.protocol == codec::protocol_level_5),
          // fixed header, topic ("bench/<id>" or "bench/fanout") and property length, about
          qos0_batch_(std::max<std::size_t>(1, qos0_batch_bytes / (opt_.payload + 20))) {
        for (std::size_t i = 0; i < filler_.size(); ++i) {
            filler_[i] = static_cast<std::uint8_t>('a' + i % 26);
        }
    }

    asio::awaitable<int> async_run() {
        // Not `co_return c ? co_await a : co_await b;`: GCC 12 miscompiles co_await in ?:.
        if (opt_.scenario == scenario::idle) {
            co_return co_await async_idle();
        }
        co_return co_await async_pubsub();
    }

private:
    asio::awaitable<int> async_pubsub() {
        const bool fanin = opt_.scenario == scenario::fanin;
        for (std::uint32_t i = 0; i < opt_.subscribers && opt_.role != role::pub; ++i) {
            subs_.push_back(std::make_unique<subscriber>(ex_, i, opt_.publishers, opt_.messages,
                                                         opt_.protocol));
        }
        for (std::uint32_t i = 0; i < opt_.publishers && opt_.role != role::sub; ++i) {
            pubs_.push_back(std::make_unique<publisher>(ex_, i, opt_.inflight, opt_.protocol));
            pubs_.back()->topic = fanin ? "bench/" + std::to_string(i) : "bench/fanout";
        }

        // Setup: subscribers first, so that nothing is published before everyone listens.
        asio::steady_timer setup_deadline(ex_, seconds(opt_.timeout));
        spawn(async_guard_setup(&setup_deadline));
        error_code ec;
        const auto retry_until = now_ns() + std::uint64_t(opt_.connect_retry * 1e9);
        for (std::size_t i = 0; i < subs_.size() && !ec; ++i) {
            ec = co_await subs_[i]->conn.async_open(sub_endpoint_, client_id('s', i),
                                                    opt_.persistent);
            while (ec == asio::error::connection_refused && now_ns() < retry_until) {
                // Not listening yet: a new connection (a socket whose connect failed is spent).
                subs_[i] = std::make_unique<subscriber>(ex_, std::uint32_t(i), opt_.publishers,
                                                        opt_.messages, opt_.protocol);
                asio::steady_timer pause(ex_, std::chrono::milliseconds(2));
                co_await pause.async_wait(use_nothrow);
                ec = co_await subs_[i]->conn.async_open(sub_endpoint_, client_id('s', i),
                                                        opt_.persistent);
            }
            auto& c = subs_[i]->conn;
            if (!ec) {
                ec = co_await c.async_subscribe(fanin ? "bench/#" : "bench/fanout", opt_.qos);
            }
            c.set_ready();
            if (ec) {
                std::fprintf(stderr, "edgemq_bench: subscriber %zu: %s\n", i, ec.message().c_str());
            }
        }
        for (std::size_t i = 0; i < pubs_.size() && !ec; ++i) {
            auto& p = *pubs_[i];
            ec = co_await p.conn.async_open(endpoint_, client_id('p', i));
            p.conn.set_ready();
            if (ec) {
                std::fprintf(stderr, "edgemq_bench: publisher %zu: %s\n", i, ec.message().c_str());
            }
            // A 5.0 broker may allow fewer QoS 1/2 publishes in flight [MQTT-3.3.4-7].
            const auto receive_maximum = p.conn.receive_maximum();
            std::erase_if(p.free_ids, [&](std::uint16_t id) { return id > receive_maximum; });
            if (opt_.qos == 0) {
                p.conn.on_write([this, pp = &p](client::write_event e) { on_qos0_write(*pp, e); });
            }
        }
        setup_deadline.cancel();
        if (ec) {
            stopping_ = true;
            co_await async_shutdown();
            co_return 1;
        }
        if (opt_.role == role::sub) {
            std::printf("subscribed\n");
            std::fflush(stdout);
        }

        // Run.
        start_ns_ = last_progress_ns_ = last_ack_ns_ = now_ns();
        for (auto& s : subs_) {
            spawn(s->conn.async_writer());
            spawn(async_read_subscriber(s.get()));
        }
        for (auto& p : pubs_) {
            spawn(p->conn.async_writer());
            spawn(async_read_publisher(p.get()));
            spawn(async_produce(p.get()));
        }
        asio::steady_timer tick(ex_);
        for (;;) {
            tick.expires_after(std::chrono::milliseconds(20));
            co_await tick.async_wait(use_nothrow);
            const auto now = now_ns();
            // Done once every subscriber has everything and every publisher its last ack.
            if ((complete_subs_ == subs_.size() && publishers_done()) || failures_ > 0) {
                break;
            }
            // Quiet for longer than any message has taken: what is missing is lost, not late.
            // Only subscribers: they wait for the first message as long as --timeout allows.
            const bool waiting_for_first = opt_.role == role::sub && first_rx_ns_ == 0;
            if (!waiting_for_first &&
                now - last_progress_ns_ > std::max(quiet_ns, 2 * latency_.max())) {
                stalled_ = !publishers_done();
                break;
            }
            if (double(now - start_ns_) > opt_.timeout * 1e9) {
                timed_out_ = true;
                break;
            }
        }
        if (stalled_) {
            report_stall();
        }
        report();
        stopping_ = true;
        co_await async_shutdown();
        co_return failures_ > 0 ? 1 : 0;
    }

    /// Opens --connections connections, `idle_connect_width` at a time (a burst beyond the
    /// broker's listen backlog would only measure SYN retries), holds them for --hold seconds and
    /// reports how many are still open. run.sh reads the broker's RSS after "idle connected=".
    asio::awaitable<int> async_idle() {
        for (std::uint32_t i = 0; i < opt_.connections; ++i) {
            idle_.push_back(std::make_unique<client>(ex_, idle_read_chunk, opt_.protocol));
        }
        const auto start = now_ns();
        asio::steady_timer setup_deadline(ex_, seconds(opt_.timeout));
        spawn(async_guard_setup(&setup_deadline));
        std::size_t workers = std::min<std::size_t>(idle_connect_width, idle_.size());
        for (std::size_t w = 0; w < workers; ++w) {
            spawn(async_connect_idle(&workers));
        }
        asio::steady_timer t(ex_);
        while (workers > 0) {
            t.expires_after(std::chrono::milliseconds(10));
            co_await t.async_wait(use_nothrow);
        }
        setup_deadline.cancel();
        const double connect_secs = double(now_ns() - start) / 1e9;
        std::printf("idle connected=%zu/%u in %.2f s (%zu failed), holding %g s\n", connected_,
                    opt_.connections, connect_secs, failures_, opt_.hold);
        std::fflush(stdout);

        t.expires_after(seconds(connected_ > 0 ? opt_.hold : 0));
        co_await t.async_wait(use_nothrow);
        const auto open_at_end = connected_ - dropped_;
        std::printf("idle: %zu of %zu connections still open after %g s\n", open_at_end, connected_,
                    opt_.hold);
        std::printf("{\"scenario\":\"idle\",\"connections\":%u,\"connected\":%zu,\"failed\":%zu,"
                    "\"open_at_end\":%zu,\"connect_seconds\":%.3f,\"hold_seconds\":%g}\n",
                    opt_.connections, connected_, failures_, open_at_end, connect_secs, opt_.hold);
        std::fflush(stdout);
        stopping_ = true;
        co_await async_shutdown();
        co_return failures_ > 0 || open_at_end < connected_ ? 1 : 0;
    }

    asio::awaitable<void> async_connect_idle(std::size_t* workers) {
        while (next_idle_ < idle_.size()) {
            const auto i = next_idle_++;
            auto& c = *idle_[i];
            const auto ec = co_await c.async_open(endpoint_, client_id('c', i));
            c.set_ready();
            if (ec) {
                if (++failures_ <= 3) {
                    std::fprintf(stderr, "edgemq_bench: connection %zu: %s\n", i,
                                 ec.message().c_str());
                }
                c.close();
                continue;
            }
            ++connected_;
            spawn(c.async_writer()); // only for the DISCONNECT at the end
            spawn(async_watch_idle(&c));
        }
        --*workers;
    }

    /// Nothing should arrive on an idle connection; a read that ends means the broker dropped it.
    asio::awaitable<void> async_watch_idle(client* c) {
        error_code ec;
        while (!ec) {
            ec = co_await c->async_read_more();
            if (!ec) {
                ec = c->for_each_packet([](const raw_packet&) { return error_code{}; });
            }
        }
        if (!stopping_) {
            ++dropped_;
        }
    }

    static std::chrono::nanoseconds seconds(double s) {
        return std::chrono::nanoseconds(std::int64_t(s * 1e9));
    }

    /// Every coroutine is counted so that shutdown can wait for all of them to end.
    void spawn(asio::awaitable<void> task) {
        ++live_;
        asio::co_spawn(ex_, std::move(task), [this](std::exception_ptr e) {
            --live_;
            if (e) {
                try {
                    std::rethrow_exception(e);
                } catch (const std::exception& x) {
                    std::fprintf(stderr, "edgemq_bench: task failed: %s\n", x.what());
                }
                ++failures_;
            }
        });
    }

    void for_each_client(auto&& f) {
        for (auto& s : subs_) {
            f(s->conn);
        }
        for (auto& p : pubs_) {
            f(p->conn);
        }
        for (auto& c : idle_) {
            f(*c);
        }
    }

    /// Closes every connection still being set up when the deadline passes; the setup fails.
    asio::awaitable<void> async_guard_setup(asio::steady_timer* deadline) {
        if (auto [ec] = co_await deadline->async_wait(use_nothrow); !ec) {
            std::fprintf(stderr, "edgemq_bench: setup timed out after %g s\n", opt_.timeout);
            next_idle_ = idle_.size();
            for_each_client([](client& c) {
                if (!c.ready()) {
                    c.close();
                }
            });
        }
    }

    /// DISCONNECT everyone, give the brokers a second to close, then close what is left.
    asio::awaitable<void> async_shutdown() {
        for_each_client([](client& c) { c.disconnect(); });
        for (auto& p : pubs_) {
            p->wake.cancel();
        }
        asio::steady_timer t(ex_);
        for (int i = 0; live_ > 0; ++i) {
            if (i == 100) {
                for_each_client([](client& c) { c.close(); });
            }
            t.expires_after(std::chrono::milliseconds(10));
            co_await t.async_wait(use_nothrow);
        }
    }

    bool publishers_done() const {
        return std::all_of(pubs_.begin(), pubs_.end(), [this](const auto& p) {
            return p->sent == opt_.messages && (opt_.qos == 0 || p->acked == opt_.messages);
        });
    }

    /// How many more publishes `p` may send now (the windows, see the top of the file).
    std::uint64_t window_room(const publisher& p) const {
        std::uint64_t room = std::numeric_limits<std::uint64_t>::max();
        if (opt_.pacing == pacing::delivery) {
            std::uint64_t received_by_all = p.sent;
            for (const auto& s : subs_) {
                received_by_all = std::min(received_by_all, s->next_seq[p.id]);
            }
            const auto ahead = p.sent - received_by_all;
            room = ahead < opt_.inflight ? opt_.inflight - ahead : 0;
        } else if (opt_.qos == 0) {
            // Open loop at QoS 0: a new batch once the writer has taken the last one.
            room = p.conn.pending() == 0 ? qos0_batch_ : 0;
        }
        if (opt_.qos > 0) {
            room = std::min<std::uint64_t>(room, p.free_ids.size());
        }
        return std::min(room, opt_.messages - p.sent);
    }

    asio::awaitable<void> async_produce(publisher* p) {
        // A window is refilled once a quarter of it is free (the smaller window, if a 5.0
        // broker's Receive Maximum cut the ack window); open loop at QoS 0 takes any batch.
        const std::uint64_t window = opt_.qos > 0 ? p->free_ids.size() : opt_.inflight;
        const std::uint64_t refill = opt_.pacing == pacing::ack && opt_.qos == 0
                                         ? 1
                                         : std::max<std::uint64_t>(1, window / 4);
        while (!stopping_ && p->sent < opt_.messages && !p->conn.closing()) {
            const auto room = window_room(*p);
            if (room == 0 || room < std::min(refill, opt_.messages - p->sent)) {
                p->waiting = true;
                co_await p->wake.async_wait(use_nothrow);
                p->waiting = false;
                continue;
            }
            append_publishes(*p, room);
            p->conn.flush();
        }
    }

    void append_publishes(publisher& p, std::uint64_t n) {
        auto& out = p.conn.out();
        const auto sent_ns = now_ns(); // one timestamp per batch: the batch leaves in one write
        for (std::uint64_t i = 0; i < n; ++i) {
            std::uint16_t packet_id = 0;
            if (opt_.qos > 0) {
                packet_id = p.free_ids.back();
                p.free_ids.pop_back();
                p.id_state[packet_id] = 1;
                p.id_seq[packet_id] = p.sent;
            }
            codec::encode_publish_head(p.topic, filler_.size(), opt_.qos, opt_.retain, false,
                                       packet_id, out, v5_ ? &no_properties_ : nullptr);
            const auto at = out.size();
            out.insert(out.end(), filler_.begin(), filler_.end());
            const stamp s{p.id, stamp_magic, p.sent++, sent_ns};
            std::memcpy(out.data() + at, &s, sizeof s);
        }
    }

    void wake_publishers() {
        if (opt_.pacing == pacing::ack) {
            return; // open loop: deliveries free no window
        }
        for (auto& p : pubs_) {
            if (p->waiting) {
                p->wake.cancel();
            }
        }
    }

    /// QoS 0: a message counts as acknowledged once its write has finished; open-loop publishers
    /// refill as soon as the writer has taken their buffer.
    void on_qos0_write(publisher& p, client::write_event e) {
        if (e == client::write_event::taken) {
            p.taken = p.sent;
            if (opt_.pacing == pacing::ack && p.waiting) {
                p.wake.cancel();
            }
            return;
        }
        if (p.taken != p.acked) {
            p.acked = p.taken;
            last_ack_ns_ = last_progress_ns_ = now_ns();
        }
    }

    void free_packet_id(publisher& p, std::uint16_t id) {
        p.id_state[id] = 0;
        p.free_ids.push_back(id);
        ++p.acked;
    }

    asio::awaitable<void> async_read_publisher(publisher* p) {
        error_code ec;
        while (!ec) {
            ec = co_await p->conn.async_read_more();
            const auto acked = p->acked;
            if (!ec) {
                ec = p->conn.for_each_packet([&](const raw_packet& raw) -> error_code {
                    auto m = codec::decode(raw.header, raw.body, opt_.protocol);
                    if (!m) {
                        return m.error();
                    }
                    on_publisher_packet(*p, *m);
                    return {};
                });
            }
            if (!p->conn.out().empty()) {
                p->conn.flush();
            }
            if (p->acked != acked) {
                last_ack_ns_ = last_progress_ns_ = now_ns();
                if (p->waiting) {
                    p->wake.cancel();
                }
            }
        }
        connection_ended(*p, 'p', ec);
    }

    void on_publisher_packet(publisher& p, const codec::packet& packet) {
        const auto valid = [&](std::uint16_t id) { return id < p.id_state.size(); };
        if (const auto* a = std::get_if<codec::puback>(&packet)) {
            if (valid(a->packet_id) && p.id_state[a->packet_id] == 1 && opt_.qos == 1) {
                free_packet_id(p, a->packet_id);
            }
        } else if (const auto* r = std::get_if<codec::pubrec>(&packet)) {
            // A repeated PUBREC for an id already released is answered again [MQTT-4.3.3].
            if (valid(r->packet_id) && p.id_state[r->packet_id] != 0 && opt_.qos == 2) {
                p.id_state[r->packet_id] = 2;
                codec::encode(codec::pubrel{r->packet_id}, p.conn.out(), opt_.protocol);
            }
        } else if (const auto* c = std::get_if<codec::pubcomp>(&packet)) {
            if (valid(c->packet_id) && p.id_state[c->packet_id] == 2) {
                free_packet_id(p, c->packet_id);
            }
        }
    }

    asio::awaitable<void> async_read_subscriber(subscriber* s) {
        error_code ec;
        while (!ec) {
            ec = co_await s->conn.async_read_more();
            const auto now = now_ns();
            const auto received = s->received;
            if (!ec) {
                ec = s->conn.for_each_packet(
                    [&](const raw_packet& raw) { return on_subscriber_packet(*s, raw, now); });
            }
            if (!s->conn.out().empty()) {
                s->conn.flush();
            }
            if (s->received != received) {
                last_progress_ns_ = last_rx_ns_ = now;
                if (first_rx_ns_ == 0) {
                    first_rx_ns_ = now;
                }
                wake_publishers();
            }
        }
        connection_ended(*s, 's', ec);
    }

    error_code on_subscriber_packet(subscriber& s, const raw_packet& raw, std::uint64_t now) {
        if (raw.header.type() != codec::packet_type::publish) {
            auto p = codec::decode(raw.header, raw.body, opt_.protocol);
            if (!p) {
                return p.error();
            }
            if (const auto* rel = std::get_if<codec::pubrel>(&*p)) {
                codec::encode(codec::pubcomp{rel->packet_id}, s.conn.out(), opt_.protocol);
                --s.awaiting_pubrel;
            }
            return {};
        }
        auto m = parse_publish(raw, v5_);
        if (!m) {
            return m.error();
        }
        if (m->qos == 1) {
            codec::encode(codec::puback{m->packet_id}, s.conn.out(), opt_.protocol);
        } else if (m->qos == 2) {
            codec::encode(codec::pubrec{m->packet_id}, s.conn.out(), opt_.protocol);
            ++s.awaiting_pubrel;
        }
        ++s.received;
        stamp st{};
        if (m->payload.size() >= sizeof st) {
            std::memcpy(&st, m->payload.data(), sizeof st);
        }
        if (st.magic != stamp_magic || st.publisher >= opt_.publishers || st.seq >= opt_.messages) {
            ++s.invalid;
            return {};
        }
        auto& word = s.seen[st.publisher * s.words + st.seq / 64];
        const auto bit = std::uint64_t{1} << (st.seq % 64);
        if (word & bit) {
            ++s.dup;
            return {};
        }
        word |= bit;
        if (st.seq + 1 < s.next_seq[st.publisher]) {
            ++s.out_of_order;
        }
        s.next_seq[st.publisher] = std::max(s.next_seq[st.publisher], st.seq + 1);
        latency_.add(now > st.sent_ns ? now - st.sent_ns : 0);
        if (++s.unique == opt_.messages * opt_.publishers) {
            ++complete_subs_;
        }
        return {};
    }

    template <typename Party> void connection_ended(Party& party, char role, error_code ec) {
        if (stopping_ || party.conn.closing()) {
            return;
        }
        if (++failures_ <= 3) {
            const auto what =
                ec == asio::error::eof ? std::string("closed by the broker") : ec.message();
            std::fprintf(stderr, "edgemq_bench: %s %u: %s\n",
                         role == 'p' ? "publisher" : "subscriber", unsigned(party.id),
                         what.c_str());
        }
        party.conn.close();
    }

    /// Where the messages stopped, for whoever debugs the broker. The tool answers every packet
    /// at once, so what is outstanding is the broker's move.
    void report_stall() const {
        std::size_t awaiting_ack = 0, awaiting_comp = 0, behind = 0;
        std::int64_t awaiting_rel = 0;
        for (const auto& p : pubs_) {
            awaiting_ack += std::count(p->id_state.begin(), p->id_state.end(), 1);
            awaiting_comp += std::count(p->id_state.begin(), p->id_state.end(), 2);
        }
        for (const auto& s : subs_) {
            behind += s->unique < opt_.messages * opt_.publishers;
            awaiting_rel += s->awaiting_pubrel;
        }
        std::fprintf(stderr,
                     "edgemq_bench: stalled: publishers await %zu %s and %zu PUBCOMP, subscribers "
                     "await %lld PUBREL; %zu of %zu subscribers are missing messages\n",
                     awaiting_ack, opt_.qos == 2 ? "PUBREC" : "PUBACK", awaiting_comp,
                     (long long)awaiting_rel, behind, subs_.size());
    }

    /// Messages of `p` that count as acknowledged by the broker but `s` never received: at QoS
    /// 1/2 every sent message except those still waiting for PUBACK/PUBREC, at QoS 0 every
    /// message whose write has finished. Runs once, at the end.
    std::uint64_t lost_between(const publisher& p, const subscriber& sub) const {
        const auto has = [&](std::uint64_t seq) {
            return (sub.seen[p.id * sub.words + seq / 64] >> (seq % 64)) & 1;
        };
        const auto* bits = sub.seen.data() + p.id * sub.words;
        std::uint64_t acked = 0, received_of_acked = 0;
        if (opt_.qos == 0) {
            acked = p.acked;
            for (std::uint64_t w = 0; w < acked / 64; ++w) {
                received_of_acked += std::popcount(bits[w]);
            }
            for (std::uint64_t seq = acked / 64 * 64; seq < acked; ++seq) {
                received_of_acked += has(seq);
            }
            return acked - received_of_acked;
        }
        std::uint64_t unacked = 0, received_of_unacked = 0;
        for (std::size_t id = 1; id < p.id_state.size(); ++id) {
            if (p.id_state[id] == 1) {
                ++unacked;
                received_of_unacked += has(p.id_seq[id]);
            }
        }
        std::uint64_t received = 0;
        for (std::size_t w = 0; w < sub.words; ++w) {
            received += std::popcount(bits[w]);
        }
        acked = p.sent - unacked;
        received_of_acked = received - received_of_unacked;
        return acked - std::min(acked, received_of_acked);
    }

    void report() const {
        unsigned long long received = 0, unique = 0, dup = 0, invalid = 0, sent = 0, acked = 0;
        unsigned long long lost = 0, out_of_order = 0;
        const unsigned long long per_sub = opt_.messages * opt_.publishers;
        for (const auto& s : subs_) {
            received += s->received;
            unique += s->unique;
            dup += s->dup;
            invalid += s->invalid;
            out_of_order += s->out_of_order;
            for (const auto& p : pubs_) {
                lost += lost_between(*p, *s);
            }
            if (opt_.role == role::sub) {
                lost += per_sub - s->unique; // the publishers were elsewhere: all of them count
            }
        }
        for (const auto& p : pubs_) {
            sent += p->sent;
            acked += p->acked;
        }
        const unsigned long long expected =
            opt_.role == role::pub ? per_sub : per_sub * subs_.size();
        // Only subscribers: from the first message to the last (their publishers ran earlier).
        const auto from = opt_.role == role::sub ? first_rx_ns_ : start_ns_;
        const double secs = last_rx_ns_ > from ? double(last_rx_ns_ - from) / 1e9 : 0;
        const double to_unix = double(realtime_ns()) / 1e9 - double(now_ns()) / 1e9;
        const double first_rx_unix = first_rx_ns_ ? double(first_rx_ns_) / 1e9 + to_unix : 0;
        const double last_rx_unix = last_rx_ns_ ? double(last_rx_ns_) / 1e9 + to_unix : 0;
        const double rate = secs > 0 ? double(received) / secs : 0;
        const double ack_secs =
            last_ack_ns_ > start_ns_ ? double(last_ack_ns_ - start_ns_) / 1e9 : 0;
        const double ack_rate = ack_secs > 0 ? double(acked) / ack_secs : 0;
        const double p50 = double(latency_.quantile(0.50)) / 1e3;
        const double p99 = double(latency_.quantile(0.99)) / 1e3;
        const double max = double(latency_.max()) / 1e3;
        const char* name = scenario_names[std::size_t(opt_.scenario)].data();
        const char* pacing = pacing_names[std::size_t(opt_.pacing)].data();
        const char* end = timed_out_  ? " (timed out)"
                          : stalled_  ? " (stalled)"
                          : failures_ ? " (connection failed)"
                                      : "";
        std::printf("%s qos %u %s-paced mqtt%s: %zu pub -> %zu sub, %u B: %llu/%llu msgs in "
                    "%.3f s = %.0f msg/s, acked %llu at %.0f msg/s, latency p50 %.0f us p99 %.0f "
                    "us max %.0f us, lost %llu, dup %llu, out of order %llu%s\n",
                    name, unsigned(opt_.qos), pacing, v5_ ? "5" : "3.1.1", pubs_.size(),
                    subs_.size(), opt_.payload, received, expected, secs, rate, acked, ack_rate,
                    p50, p99, max, lost, dup, out_of_order, end);
        std::printf("{\"scenario\":\"%s\",\"qos\":%u,\"pacing\":\"%s\",\"protocol\":%u,"
                    "\"publishers\":%zu,\"subscribers\":%zu,\"payload\":%u,\"expected\":%llu,"
                    "\"sent\":%llu,\"acked\":%llu,\"received\":%llu,\"seconds\":%.3f,"
                    "\"msgs_per_sec\":%.0f,\"ack_seconds\":%.3f,\"acked_per_sec\":%.0f,"
                    "\"p50_us\":%.0f,\"p99_us\":%.0f,\"max_us\":%.0f,\"lost\":%llu,\"dup\":%llu,"
                    "\"invalid\":%llu,\"out_of_order\":%llu,\"role\":\"%s\",\"first_rx_unix\":%.6f,"
                    "\"last_rx_unix\":%.6f,\"timed_out\":%s,\"stalled\":%s,\"failed\":%s}\n",
                    name, unsigned(opt_.qos), pacing, unsigned(opt_.protocol), pubs_.size(),
                    subs_.size(), opt_.payload, expected, sent, acked, received, secs, rate,
                    ack_secs, ack_rate, p50, p99, max, lost, dup, invalid, out_of_order,
                    role_names[std::size_t(opt_.role)].data(), first_rx_unix, last_rx_unix,
                    timed_out_ ? "true" : "false", stalled_ ? "true" : "false",
                    failures_ ? "true" : "false");
        std::fflush(stdout);
    }

    asio::any_io_executor ex_;
    options opt_;
    tcp::endpoint endpoint_;
    tcp::endpoint sub_endpoint_;
    std::vector<std::uint8_t> filler_; ///< payload template; the stamp overwrites its head
    bool v5_;
    std::size_t qos0_batch_;          ///< --pacing ack, QoS 0: messages per write
    codec::properties no_properties_; ///< 5.0 PUBLISH: an empty property block
    std::vector<std::unique_ptr<subscriber>> subs_;
    std::vector<std::unique_ptr<publisher>> pubs_;
    histogram latency_;
    std::uint64_t start_ns_ = 0;
    std::uint64_t last_rx_ns_ = 0;
    std::uint64_t first_rx_ns_ = 0;
    std::uint64_t last_ack_ns_ = 0; ///< the last PUBACK/PUBCOMP (QoS 0: finished write)
    std::uint64_t last_progress_ns_ = 0;
    std::size_t complete_subs_ = 0;
    std::vector<std::unique_ptr<client>> idle_;
    std::size_t next_idle_ = 0;
    std::size_t connected_ = 0;
    std::size_t dropped_ = 0;
    std::size_t live_ = 0;
    std::size_t failures_ = 0;
    bool stopping_ = false;
    bool timed_out_ = false;
    bool stalled_ = false;
};

} // namespace
} // namespace edgemq::bench

int main(int argc, char** argv) {
    using namespace edgemq::bench;
    options opt;
    try {
        opt = parse_options(argc, argv);
        boost::system::error_code ec;
        asio::ip::make_address(opt.host, ec);
        if (ec) {
            throw usage_error("--host must be a numeric IP address, got '" + opt.host + "'");
        }
    } catch (const usage_error& e) {
        std::cerr << "edgemq_bench: " << e.what() << "\n" << usage_text;
        return 2;
    }
    raise_fd_limit();

    asio::io_context ioc{1};
    int rc = 1;
    const auto done = [&](std::exception_ptr e, int code) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                std::cerr << "edgemq_bench: " << x.what() << "\n";
            }
        }
        rc = e ? 1 : code;
        ioc.stop();
    };
    load_test test(ioc, opt);
    asio::co_spawn(ioc, test.async_run(), done);
    ioc.run();
    return rc;
}
