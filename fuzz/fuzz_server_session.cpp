// SPDX-License-Identifier: Apache-2.0
//
// libFuzzer target: the broker's side of one connection (protocol/server_session.hpp) fed a
// client's byte stream exactly as net::connection feeds it: cut by protocol::packet_reader in
// reads of fuzzed sizes, every fixed header checked before its body, packets handed to the
// session, the clock moved on between reads and the deadlines checked. The session attaches at
// once (sometimes with a session present), and on_closed() runs at the end as a real close does.
//
// Input: one byte of settings (bit 0: anonymous clients refused; bit 1: attach with session
// present; bit 2: an ACL that only allows writes to a/#), then reads: a time byte (16 ms steps
// to move the clock), a length byte and that many bytes of the stream.
//
// Checked, besides what ASan and UBSan see:
// * everything the session writes decodes and is a packet a server sends (CONNACK, PUBLISH,
//   PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, PINGRESP) [MQTT-2.2];
// * before the session is attached, it writes at most one CONNACK and only a refusal or, after
//   attach, acceptance; nothing follows a refused CONNACK [MQTT-3.2.2-4/5];
// * it asks to attach at most once [MQTT-3.1.0-2], and routes nothing before it is attached;
// * no packet is handed on after the session asked to close, refused, or paused.
#include "fuzz_input.hpp"

#include "edgemq/broker/protocol/packet_reader.hpp"
#include "edgemq/broker/protocol/server_session.hpp"

#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

namespace codec = edgemq::broker::codec;
using namespace edgemq::broker::protocol;
using edgemq::broker::message_ptr;
using edgemq::broker::net::write_queue;
using edgemq::fuzz::fuzz_input;

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_server_session: %s\n", what);
    std::abort();
}

struct owner final : server_actions {
    server_limits server;
    admission_rules admission;
    int attaches = 0;
    bool attached = false;
    bool closed = false;
    bool refused_connect = false;
    std::vector<attach_request> pending;

    const server_limits& limits() override { return server; }
    void attach(attach_request r) override {
        if (++attaches > 1) {
            fail("a second attach for one connection");
        }
        pending.push_back(std::move(r));
    }
    void route(message_ptr) override {
        if (!attached) {
            fail("routed a message before the session was attached");
        }
    }
    bool subscribe(const std::string&, const subscription_options& o) override {
        if (o.qos > 2) {
            fail("subscribed at QoS above 2");
        }
        return true;
    }
    bool unsubscribe(const std::string&) override { return true; }
    void defer_will(message_ptr, std::uint32_t) override {
        if (!attached) {
            fail("a will deferred before the session was attached");
        }
    }
    std::vector<message_ptr> retained_for(std::string_view) override {
        return {edgemq::broker::make_message("a/b", "kept", 1, true)};
    }
    admission_rules rules() override { return admission; }
    void count(event) override {}
    std::uint64_t durable_mark() override { return 0; }
    bool await_commit(std::uint64_t) override { return false; }
    void login_refused(std::string_view, std::string_view) override {}
    void refused(codec::connect_return_code code, boost::system::error_code,
                 std::string_view) override {
        if (code == codec::connect_return_code::accepted) {
            fail("a refusal with return code 0");
        }
        refused_connect = true;
    }
    void close(boost::system::error_code) override { closed = true; }
};

/// Decodes what the session wrote and checks it is what a server may send now.
void check_output(write_queue& out, bool& connack_seen, const owner& o, std::uint8_t level) {
    std::vector<std::uint8_t> bytes;
    out.for_each_buffer([&bytes](const void* data, std::size_t size) {
        const auto* p = static_cast<const std::uint8_t*>(data);
        bytes.insert(bytes.end(), p, p + size);
    });
    out.clear();
    packet_reader reader{bytes, level};
    while (true) {
        auto p = reader.next(bytes.size() + 1);
        if (!p) {
            fail("the session wrote bytes that do not decode");
        }
        if (!*p) {
            break;
        }
        const auto type = static_cast<codec::packet_type>((**p).index() + 1);
        switch (type) {
        case codec::packet_type::connack:
            if (connack_seen) {
                fail("a second CONNACK");
            }
            connack_seen = true;
            break;
        case codec::packet_type::publish:
        case codec::packet_type::puback:
        case codec::packet_type::pubrec:
        case codec::packet_type::pubrel:
        case codec::packet_type::pubcomp:
        case codec::packet_type::suback:
        case codec::packet_type::unsuback:
        case codec::packet_type::pingresp:
            if (!o.attached) {
                fail("a packet other than CONNACK before the session was attached");
            }
            break;
        default:
            fail("the session wrote a packet only clients send");
        }
    }
    if (reader.incomplete()) {
        fail("the session wrote part of a packet");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz_input in{data, size};
    const auto settings = in.u8();
    owner o;
    o.server.max_packet_size = 4096;
    o.server.max_connect_size = 512;
    o.server.connect_timeout = std::chrono::milliseconds(2000);
    o.server.packet_timeout = std::chrono::milliseconds(3000);
    session_limits qos_limits;
    qos_limits.max_inflight = 4;
    qos_limits.max_queued = 8;
    o.admission.anonymous_allowed = (settings & 1) == 0;
    if (settings & 4) {
        o.admission.acl = std::make_shared<edgemq::broker::auth::acl>(
            edgemq::broker::auth::acl::parse("topic write a/#\ntopic read #\n", "fuzz"));
    }
    auto now = server_session::clock::time_point{} + std::chrono::hours(1);
    server_session session{o, now};
    write_queue& out = session.out();
    bool connack_seen = false;

    std::vector<std::uint8_t> buffered; // what a connection keeps between reads
    while (!in.empty() && !o.closed) {
        now += std::chrono::milliseconds(in.u8() * 16);
        const auto chunk = in.bytes(255);
        buffered.insert(buffered.end(), chunk.begin(), chunk.end());
        session.on_read(now);
        packet_reader reader{buffered};
        bool incomplete = false;
        while (!o.closed && !session.paused()) {
            auto h = reader.header();
            if (!h) {
                session.fail(h.error());
                break;
            }
            if (!*h) {
                incomplete = reader.incomplete();
                break;
            }
            if (const auto refused = session.check_header(**h)) {
                session.fail(refused);
                break;
            }
            if (!reader.complete()) {
                incomplete = true;
                break;
            }
            auto p = reader.take();
            if (!p) {
                session.fail(p.error());
                break;
            }
            session.on_packet(std::move(*p));
            if (!o.pending.empty()) { // the owner attaches at once
                auto s = std::make_shared<session_core>(o.pending.back().client_id, 1, qos_limits);
                s->access = o.pending.back().access;
                o.pending.clear();
                o.attached = true;
                session.on_attached(std::move(s), (settings & 2) != 0, now);
            }
        }
        session.on_progress(now, reader.consumed() > 0, incomplete);
        buffered.erase(buffered.begin(),
                       buffered.begin() + static_cast<std::ptrdiff_t>(reader.consumed()));
        check_output(out, connack_seen, o, session.protocol_level());
        if (o.refused_connect) {
            break; // the owner closes once the refusal is written
        }
        if (session.check_deadline(now)) {
            break; // the owner closes
        }
    }
    session.on_closed();
    return 0;
}
