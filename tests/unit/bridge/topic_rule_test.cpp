// SPDX-License-Identifier: Apache-2.0
#include "edgemq/bridge/topic_rule.hpp"

#include <catch2/catch.hpp>

using edgemq::bridge::topic_rule;
using edgemq::config::bridge_direction;
using edgemq::config::bridge_topic;

TEST_CASE("topic rules rewrite prefixes as Mosquitto's bridge does", "[unit][bridge]") {
    SECTION("out: local sensors/# becomes site-7/sensors/#") {
        const topic_rule r{bridge_topic{"sensors/#", bridge_direction::out, 1, "", "site-7/"}};
        CHECK(r.local_filter() == "sensors/#");
        CHECK(r.remote_filter() == "site-7/sensors/#");
        CHECK(r.to_remote("sensors/a/temp") == "site-7/sensors/a/temp");
        CHECK_FALSE(r.to_remote("other/a"));
        CHECK_FALSE(r.to_local("site-7/sensors/a")); // out only
    }
    SECTION("in: both prefixes replaced") {
        const topic_rule r{bridge_topic{"+/set", bridge_direction::in, 2, "local/", "cloud/"}};
        CHECK(r.local_filter() == "local/+/set");
        CHECK(r.remote_filter() == "cloud/+/set");
        CHECK(r.to_local("cloud/led/set") == "local/led/set");
        CHECK_FALSE(r.to_local("cloud/led/get"));
        CHECK_FALSE(r.to_remote("local/led/set")); // in only
    }
    SECTION("both: either way, the empty prefix is the whole tree") {
        const topic_rule r{bridge_topic{"#", bridge_direction::both, 1, "", "gw1/"}};
        CHECK(r.to_remote("a/b") == "gw1/a/b");
        CHECK(r.to_local("gw1/a/b") == "a/b");
        CHECK_FALSE(r.to_local("gw2/a/b"));
    }
}
