// SPDX-License-Identifier: Apache-2.0
#include <edgemq/config/load.hpp>

#include "commented_example.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace edgemq::config;
using namespace std::chrono_literals;

namespace {

std::string errors(const std::string& toml) {
    try {
        load_string(toml, "t.toml");
    } catch (const load_error& e) {
        return e.what();
    }
    return "";
}

} // namespace

TEST_CASE("a minimal bridge gets the documented defaults", "[config][bridge]") {
    const auto g = load_string(R"(
[[bridges]]
name = "cloud"
address = "emqx.example.com"
[[bridges.topics]]
pattern = "sensors/#"
remote_prefix = "site-7/"
)",
                               "t.toml");
    REQUIRE(g.bridges.size() == 1);
    const auto& b = g.bridges[0];
    CHECK(b.addresses == std::vector<std::string>{"emqx.example.com:1883"});
    CHECK_FALSE(b.tls);
    CHECK_FALSE(b.clean_session);
    CHECK(b.keepalive == 60);
    CHECK(b.queue_file == "/var/lib/edgemq/bridge-cloud.db");
    CHECK(b.max_messages == 1'000'000);
    CHECK(b.when_full == queue_full_policy::drop_oldest);
    CHECK_FALSE(b.queue_qos0);
    CHECK(b.reconnect_min == 1s);
    CHECK(b.reconnect_max == 60s);
    CHECK(b.notification_topic == "site-7/$bridge/cloud/state");
    CHECK(b.protocol_version == 4);
    CHECK(b.session_expiry_interval == 86'400u);
    REQUIRE(b.topics.size() == 1);
    CHECK(b.topics[0].direction == bridge_direction::out);
    CHECK(b.topics[0].qos == 1);
}

TEST_CASE("a bridge with a CA speaks TLS on 8883 by default, addresses fail over",
          "[config][bridge]") {
    const auto g = load_string(R"(
[[bridges]]
name = "cloud"
address = ["emqx-1.example.com", "[::1]:8884"]
ca = "/etc/edgemq/ca.crt"
cert = "/etc/edgemq/gw.crt"
key = "/etc/edgemq/gw.key"
when_full = "drop_newest"
[[bridges.topics]]
pattern = "cmd/+/set"
direction = "in"
qos = 2
)",
                               "t.toml");
    const auto& b = g.bridges.at(0);
    CHECK(b.tls);
    CHECK(b.addresses == std::vector<std::string>{"emqx-1.example.com:8883", "[::1]:8884"});
    CHECK(b.when_full == queue_full_policy::drop_newest);
    CHECK(b.topics.at(0).direction == bridge_direction::in);
    CHECK(b.topics.at(0).qos == 2);
}

TEST_CASE("bridge mistakes are refused at file:line:col", "[config][bridge]") {
    CHECK_THAT(errors(R"(
[[bridges]]
name = "cloud"
address = "h:1883"
[[bridges.topics]]
pattern = "a/#/b"
)"),
               Catch::Contains("t.toml:6:11: bridges[0].topics[0].pattern: not a valid topic "
                               "filter"));
    CHECK_THAT(errors(R"(
[[bridges]]
name = "cloud"
address = "h:1883"
[[bridges.topics]]
pattern = "#"
remote_prefix = "site/+/"
)"),
               Catch::Contains("t.toml:7:17: bridges[0].topics[0].remote_prefix: a prefix must "
                               "not hold the wildcards"));
    CHECK_THAT(errors(R"(
[[bridges]]
name = "cloud"
[[bridges.topics]]
pattern = "#"
)"),
               Catch::Contains("missing \"address\""));
    CHECK_THAT(errors(R"(
[[bridges]]
name = "cloud"
address = "h"
)"),
               Catch::Contains("at least one [[bridges.topics]]"));
    CHECK_THAT(errors(R"(
[[bridges]]
name = "cloud"
address = "h"
tls = false
ca = "/ca.crt"
[[bridges.topics]]
pattern = "#"
)"),
               Catch::Contains("ca, cert and key need tls = true"));
    CHECK_THAT(errors(R"(
[[bridges]]
name = "a"
address = "h"
cert = "/gw.crt"
[[bridges.topics]]
pattern = "#"
[[bridges]]
name = "a"
address = "h"
[[bridges.topics]]
pattern = "#"
)"),
               Catch::Contains("cert and key come together") &&
                   Catch::Contains("name \"a\" is already used by bridges[0]"));
    CHECK_THAT(errors(R"(
[[bridges]]
name = "cloud"
address = "h"
protocol_version = 3
[[bridges.topics]]
pattern = "#"
)"),
               Catch::Contains("t.toml:5:20: bridges[0].protocol_version:"));
}

TEST_CASE("a bridge speaks MQTT 5.0 with protocol_version = 5", "[config][bridge]") {
    const auto g = load_string(R"(
[[bridges]]
name = "cloud"
address = "h"
protocol_version = 5
session_expiry_interval = 3600
[[bridges.topics]]
pattern = "#"
)",
                               "t.toml");
    CHECK(g.bridges.at(0).protocol_version == 5);
    CHECK(g.bridges.at(0).session_expiry_interval == 3600u);
}

TEST_CASE("the commented bridge example in config/edgemq.toml loads", "[config][bridge]") {
    const auto example =
        edgemq::test::commented_example(edgemq::test::reference_config(), "# [[bridges]]");
    INFO(example);
    const auto g = load_string(example, "example.toml");
    const auto& b = g.bridges.at(0);
    CHECK(b.tls);
    CHECK(b.addresses == std::vector<std::string>{"emqx.example.com:8883"});
    CHECK(b.topics.size() == 2);
    CHECK(b.topics.at(1).direction == bridge_direction::in);
}
