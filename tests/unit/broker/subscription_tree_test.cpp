// SPDX-License-Identifier: Apache-2.0
#include "edgemq/broker/routing/subscription_tree.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

using edgemq::broker::routing::subscription_tree;

namespace {

/// The sorted "subscriber:qos" strings that match `topic`.
std::vector<std::string> matches(const subscription_tree<std::string>& tree, const char* topic) {
    std::vector<std::string> out;
    tree.match(topic, [&out](const std::string& s, std::uint8_t qos) {
        out.push_back(s + ":" + std::to_string(qos));
    });
    std::sort(out.begin(), out.end());
    return out;
}

using list = std::vector<std::string>;

} // namespace

TEST_CASE("subscription tree matches exact, + and # filters", "[routing]") {
    subscription_tree<std::string> tree;
    CHECK(tree.insert("sport/tennis/player1", "exact", 0));
    CHECK(tree.insert("sport/tennis/+", "plus", 1));
    CHECK(tree.insert("sport/#", "hash", 2));
    CHECK(tree.insert("#", "all", 0));
    CHECK(tree.insert("+/+", "two", 1));
    CHECK(tree.insert("/+", "root", 1));
    CHECK(tree.size() == 6);

    CHECK(matches(tree, "sport/tennis/player1") == list{"all:0", "exact:0", "hash:2", "plus:1"});
    CHECK(matches(tree, "sport/tennis/player2") == list{"all:0", "hash:2", "plus:1"});
    CHECK(matches(tree, "sport") == list{"all:0", "hash:2"}); // "sport/#" matches its parent
    CHECK(matches(tree, "sport/tennis") == list{"all:0", "hash:2", "two:1"});
    CHECK(matches(tree, "/finance") == list{"all:0", "root:1", "two:1"});
    CHECK(matches(tree, "sports") == list{"all:0"});
    CHECK(matches(tree, "sport/tennis/player1/ranking") == list{"all:0", "hash:2"});
}

TEST_CASE("subscription tree keeps wildcards out of $ topics", "[routing]") {
    subscription_tree<std::string> tree;
    tree.insert("#", "all", 0);
    tree.insert("+/broker/uptime", "plus", 0);
    tree.insert("$SYS/#", "sys", 0);
    tree.insert("$SYS/+/uptime", "sysplus", 0);
    CHECK(matches(tree, "$SYS/broker/uptime") == list{"sys:0", "sysplus:0"}); // [MQTT-4.7.2-1]
    CHECK(matches(tree, "a/broker/uptime") == list{"all:0", "plus:0"});
}

TEST_CASE("subscription tree updates, erases and prunes", "[routing]") {
    subscription_tree<std::string> tree;
    CHECK(tree.insert("a/b", "x", 0));
    CHECK_FALSE(tree.insert("a/b", "x", 2)); // a repeat replaces the QoS [MQTT-3.8.4-3]
    CHECK(matches(tree, "a/b") == list{"x:2"});
    CHECK(tree.size() == 1);
    CHECK(tree.insert("a/b", "y", 1));
    CHECK(tree.erase("a/b", "x"));
    CHECK_FALSE(tree.erase("a/b", "x"));
    CHECK_FALSE(tree.erase("a/c", "y"));
    CHECK(matches(tree, "a/b") == list{"y:1"});
    CHECK(tree.erase("a/b", "y"));
    CHECK(tree.size() == 0);
    CHECK(matches(tree, "a/b").empty());
    // Empty levels are levels of their own.
    tree.insert("a//b", "e", 0);
    CHECK(matches(tree, "a//b") == list{"e:0"});
    CHECK(matches(tree, "a/b").empty());
}
