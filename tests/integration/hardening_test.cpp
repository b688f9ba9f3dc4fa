// SPDX-License-Identifier: Apache-2.0
// The holes issue 13's attacker found, over real sockets: memory held before and after login,
// wills the ACL forbids, and user names nothing can check.

#include "hex.hpp"
#include "raw_mqtt_client.hpp"
#include "scratch_dir.hpp"
#include "test_broker.hpp"

#include "edgemq/broker/codec/encode.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <fstream>
#include <thread>

namespace codec = edgemq::broker::codec;
using edgemq::test::raw_mqtt_client;
using edgemq::test::read_status;
using edgemq::test::scratch_dir;
using edgemq::test::test_broker;
using namespace std::chrono_literals;

namespace {

std::vector<std::uint8_t> connect_packet(std::string id, std::optional<std::string> user = {},
                                         std::optional<codec::will_message> will = {},
                                         std::optional<std::string> password = {}) {
    codec::connect c;
    c.client_id = std::move(id);
    c.keep_alive = 60;
    c.username = std::move(user);
    c.password = std::move(password);
    c.will = std::move(will);
    codec::byte_buffer out;
    codec::encode(c, out);
    return out;
}

std::vector<std::uint8_t> subscribe_packet(std::string filter) {
    codec::byte_buffer out;
    codec::encode(codec::subscribe{1, {{std::move(filter), 0}}}, out);
    return out;
}

/// The CONNACK return code, or -1 when none came.
int connack_code(raw_mqtt_client& c) {
    const auto r = c.read_packet(3000ms);
    if (r.status != read_status::packet || r.bytes.size() != 4 || r.bytes[0] != 0x20) {
        return -1;
    }
    return r.bytes[3];
}

/// Resident memory of this process (the broker runs in it), in bytes.
std::size_t resident_bytes() {
    std::ifstream statm{"/proc/self/statm"};
    std::size_t pages = 0;
    std::size_t resident = 0;
    statm >> pages >> resident;
    return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

edgemq::config::gateway with_acl(const std::string& acl_file) {
    auto cfg = edgemq::config::defaults();
    cfg.listeners.at(0).acl_file = acl_file;
    return cfg;
}

} // namespace

TEST_CASE("a PUBLISH declaring 192 MiB holds the bytes sent, not the bytes declared",
          "[integration][hardening]") {
    test_broker b;
    std::vector<raw_mqtt_client> clients;
    const auto before = resident_bytes();
    for (int i = 0; i < 4; ++i) {
        auto& c = clients.emplace_back(b.port());
        REQUIRE_FALSE(c.send(connect_packet("big-" + std::to_string(i))));
        REQUIRE(connack_code(c) == 0);
        // PUBLISH qos0, remaining length 201326592 (192 MiB), then 13 bytes of it.
        REQUIRE_FALSE(
            c.send(edgemq::test::hex("30 80 80 80 60 00 01 74 61 62 63 64 65 66 67 68 69 6a")));
    }
    std::this_thread::sleep_for(300ms);
    const auto after = resident_bytes();
    INFO("resident before " << before << " after " << after);
    CHECK(after < before + 32 * 1024 * 1024); // was +1 GiB: 4 x 192 MiB reserved and zeroed
    for (auto& c : clients) {
        CHECK(c.read_packet(50ms).status == read_status::timeout); // still open, still waiting
    }
}

TEST_CASE("connections that have not logged in share max_unauthenticated_memory",
          "[integration][hardening]") {
    auto cfg = edgemq::config::defaults();
    cfg.broker.max_unauthenticated_memory = 6000;
    test_broker b{cfg};
    // A CONNECT of about 4 KiB, sent all but its last byte: each holds it before login.
    auto big = connect_packet(std::string(4000, 'x'));
    const std::span<const std::uint8_t> head{big.data(), big.size() - 1};
    raw_mqtt_client first{b.port()};
    REQUIRE_FALSE(first.send(head));
    std::this_thread::sleep_for(100ms);
    raw_mqtt_client second{b.port()};
    REQUIRE_FALSE(second.send(head));
    CHECK(second.read_packet(2000ms).status == read_status::closed); // 8 KB > 6000 together
    // The first keeps its share and logs in; then its memory no longer counts.
    REQUIRE_FALSE(first.send(std::span<const std::uint8_t>{big.data() + big.size() - 1, 1}));
    CHECK(connack_code(first) == 0);
    raw_mqtt_client third{b.port()};
    REQUIRE_FALSE(third.send(big));
    CHECK(connack_code(third) == 0);
    CHECK(b.get().stats().unauthenticated_closed == 1);
}

TEST_CASE("a will the ACL does not let its client publish refuses the CONNECT",
          "[integration][hardening][acl]") {
    const scratch_dir dir;
    const auto acl = dir.write("acl", "user alice\ntopic write alice/#\n");
    test_broker b{with_acl(acl)};
    for (const std::string topic : {"cmd/door", "$SYS/x"}) {
        INFO("will topic " << topic);
        raw_mqtt_client c{b.port()};
        REQUIRE_FALSE(c.send(
            connect_packet("alice-1", "alice", codec::will_message{topic, "open", 1, true})));
        CHECK(connack_code(c) == 5); // not authorized, as Mosquitto
        CHECK(c.read_packet(2000ms).status == read_status::closed);
    }
    raw_mqtt_client ok{b.port()};
    REQUIRE_FALSE(ok.send(
        connect_packet("alice-2", "alice", codec::will_message{"alice/status", "gone", 0, false})));
    CHECK(connack_code(ok) == 0);
}

TEST_CASE("a will is checked again at publication against the ACL of a reload",
          "[integration][hardening][acl]") {
    const scratch_dir dir;
    const auto acl = dir.write("acl", "user alice\ntopic write alice/#\n"
                                      "user reader\ntopic read #\n");
    test_broker b{with_acl(acl)};
    raw_mqtt_client reader{b.port()};
    REQUIRE_FALSE(reader.send(connect_packet("reader", "reader")));
    REQUIRE(connack_code(reader) == 0);
    REQUIRE_FALSE(reader.send(subscribe_packet("alice/#")));
    REQUIRE(reader.read_packet(2000ms).status == read_status::packet); // SUBACK

    const auto will = [](const char* id) {
        return connect_packet(id, "alice", codec::will_message{"alice/status", "gone", 0, false});
    };
    {
        raw_mqtt_client alice{b.port()};
        REQUIRE_FALSE(alice.send(will("alice-1")));
        REQUIRE(connack_code(alice) == 0);
    } // dropped without DISCONNECT: the will goes out
    const auto delivered = reader.read_packet(2000ms);
    REQUIRE(delivered.status == read_status::packet);
    CHECK(delivered.bytes[0] == 0x30);

    raw_mqtt_client alice{b.port()};
    REQUIRE_FALSE(alice.send(will("alice-2")));
    REQUIRE(connack_code(alice) == 0);
    dir.write("acl", "user alice\ntopic write alice/data\nuser reader\ntopic read #\n");
    b.get().reload_files();
    alice.close();
    CHECK(reader.read_packet(1000ms).status == read_status::timeout); // refused now
    CHECK(b.get().stats().messages_denied == 1);
}

TEST_CASE("allow_anonymous = false without a password file refuses every user name",
          "[integration][hardening][auth]") {
    // check-config refuses this configuration; the broker must refuse clients all the same.
    auto cfg = edgemq::config::defaults();
    cfg.listeners.at(0).allow_anonymous = false;
    test_broker b{cfg};
    raw_mqtt_client named{b.port()};
    REQUIRE_FALSE(named.send(connect_packet("c1", "anyone", {}, "anything")));
    CHECK(connack_code(named) == 5);
    raw_mqtt_client anonymous{b.port()};
    REQUIRE_FALSE(anonymous.send(connect_packet("c2")));
    CHECK(connack_code(anonymous) == 5);
}
