// SPDX-License-Identifier: Apache-2.0
#include "edgemq/broker/routing/shared_subscriptions.hpp"
#include "edgemq/broker/routing/topic.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

using edgemq::broker::routing::parse_shared;
using edgemq::broker::routing::shared_subscriptions;

namespace {

using groups = shared_subscriptions<std::string, std::uint8_t>;

const auto anyone = [](const std::string&) { return true; };

/// Who gets each of `n` messages on `topic`, with the options they were given.
std::vector<std::string> deliveries(groups& g, const char* topic, int n,
                                    const std::set<std::string>& offline = {}) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) {
        g.match(
            topic, [&offline](const std::string& s) { return !offline.contains(s); },
            [&out](const std::string& s, std::uint8_t qos) {
                out.push_back(s + ":" + std::to_string(qos));
            });
    }
    return out;
}

} // namespace

TEST_CASE("shared filters: $share/{group}/{filter}, the group without / + #", "[unit][routing]") {
    const auto s = parse_shared("$share/g1/a/+/c");
    REQUIRE(s);
    CHECK(s->group == "g1");
    CHECK(s->filter == "a/+/c");
    CHECK(parse_shared("$share/g/#")->filter == "#");
    for (const char* bad : {"$share/g", "$share//t", "$share/g+/t", "$share/#/t", "$share/g/",
                            "$share/g/a/#/b", "a/b", "$sharex/g/t", "$SHARE/g/t"}) {
        INFO(bad);
        CHECK_FALSE(parse_shared(bad));
    }
    CHECK(edgemq::broker::routing::is_shared("$share/g"));
    CHECK_FALSE(edgemq::broker::routing::is_shared("$sharing/g/t"));
}

TEST_CASE("a shared group gives each message to one member, in turn", "[unit][routing]") {
    groups g;
    CHECK(g.insert("g", "t/#", "a", 1));
    CHECK(g.insert("g", "t/#", "b", 2));
    CHECK(g.insert("g", "t/#", "c", 0));
    CHECK_FALSE(g.insert("g", "t/#", "b", 1)); // a repeat updates its options
    CHECK(deliveries(g, "t/x", 4) == std::vector<std::string>{"a:1", "b:1", "c:0", "a:1"});
    CHECK(deliveries(g, "u", 1).empty());
}

TEST_CASE("groups and filters are separate shared subscriptions", "[unit][routing]") {
    groups g;
    g.insert("g1", "t", "a", 0);
    g.insert("g2", "t", "b", 0);
    g.insert("g1", "+", "c", 0);
    auto got = deliveries(g, "t", 1);
    std::sort(got.begin(), got.end());
    CHECK(got == std::vector<std::string>{"a:0", "b:0", "c:0"});
}

TEST_CASE("a shared group passes over members it is told to avoid, unless all are",
          "[unit][routing]") {
    groups g;
    g.insert("g", "t", "a", 0);
    g.insert("g", "t", "b", 0);
    g.insert("g", "t", "c", 0);
    // b's turn goes to the next one that is not avoided.
    CHECK(deliveries(g, "t", 3, {"b"}) == std::vector<std::string>{"a:0", "c:0", "c:0"});
    CHECK(deliveries(g, "t", 2, {"a", "b", "c"}).size() == 2); // somebody gets it anyway
    const auto next = g.pick("g", "t", [](const std::string& s) { return s == "c"; });
    REQUIRE(next);
    CHECK(next->first == "c");
    CHECK_FALSE(g.pick("g", "u", anyone));
}

TEST_CASE("replicas of one group that share a turn counter go round the members together",
          "[unit][routing]") {
    groups one;
    groups other;
    const auto turn = std::make_shared<std::atomic<std::size_t>>(0);
    for (auto* g : {&one, &other}) {
        g->insert("g", "t", "a", 0, turn);
        g->insert("g", "t", "b", 0);
    }
    std::vector<std::string> got;
    for (auto* g : {&one, &other, &one, &other}) {
        const auto more = deliveries(*g, "t", 1);
        got.insert(got.end(), more.begin(), more.end());
    }
    CHECK(got == std::vector<std::string>{"a:0", "b:0", "a:0", "b:0"});
}

TEST_CASE("members leave a shared group, the last one takes the group with it",
          "[unit][routing]") {
    groups g;
    g.insert("g", "t", "a", 0);
    g.insert("g", "t", "b", 0);
    CHECK(g.erase("g", "t", "a"));
    CHECK_FALSE(g.erase("g", "t", "a"));
    CHECK_FALSE(g.erase("h", "t", "b"));
    CHECK(deliveries(g, "t", 2) == std::vector<std::string>{"b:0", "b:0"});
    CHECK(g.erase("g", "t", "b"));
    CHECK(deliveries(g, "t", 1).empty());
    CHECK_FALSE(g.pick("g", "t", anyone));
    g.insert("g", "t", "c", 0); // the group comes back with a new member
    CHECK(deliveries(g, "t", 1) == std::vector<std::string>{"c:0"});
}
