// SPDX-License-Identifier: Apache-2.0
// Topic names, topic filters and matching (OASIS MQTT 3.1.1, section 4.7), with the spec's own
// examples first and the edge cases (empty levels, "$" topics, "a/#" and its parent) after.
#include "edgemq/broker/routing/topic.hpp"

#include <catch2/catch.hpp>

#include <string_view>

namespace routing = edgemq::broker::routing;

TEST_CASE("is_valid_topic_name", "[routing]") {
    struct name_case {
        const char* name;
        bool valid;
    };
    const auto c = GENERATE(values<name_case>({
        // [MQTT-4.7.3-1]: at least one character; [MQTT-3.3.2-2]: no wildcards.
        {"sport/tennis/player1", true},
        {"sport/tennis/player1/ranking", true},
        {"a", true},
        {"/", true},
        {"//", true},
        {"/finance", true},
        {"a/", true},
        {"a//b", true},
        {"$SYS/monitor/Clients", true},
        {"a/$b", true},
        {"Accounts payable", true}, // spaces are allowed [4.7.3]
        {" ", true},
        {"t/\xc3\xbc", true},
        {"", false},
        {"+", false},
        {"#", false},
        {"a/+", false},
        {"a/#", false},
        {"+/a", false},
        {"sport+", false},
        {"sport/tennis#", false},
        {"a#b", false},
    }));
    INFO('"' << c.name << '"');
    CHECK(routing::is_valid_topic_name(c.name) == c.valid);
}

TEST_CASE("is_valid_topic_filter", "[routing]") {
    struct filter_case {
        const char* filter;
        bool valid;
    };
    const auto c = GENERATE(values<filter_case>({
        // Spec examples, 4.7.1.2 and 4.7.1.3.
        {"sport/tennis/player1/#", true},
        {"sport/tennis/#", true},
        {"sport/#", true},
        {"#", true},
        {"sport/tennis#", false},          // '#' not alone in its level
        {"sport/tennis/#/ranking", false}, // '#' not the last level
        {"+", true},
        {"+/tennis/#", true},
        {"sport/+/player1", true},
        {"sport+", false}, // '+' not alone in its level
        {"+/+", true},
        {"/+", true},
        {"/finance", true},
        {"$SYS/#", true},
        {"$SYS/monitor/+", true},
        {"+/monitor/Clients", true},
        // Empty levels are levels.
        {"/", true},
        {"//", true},
        {"a/", true},
        {"a//b", true},
        {"/#", true},
        {"+/", true},
        {"a/+/", true},
        {"a//+", true},
        {"a/+/+/#", true},
        // Wildcards glued to other characters or misplaced.
        {"", false}, // [MQTT-4.7.3-1]
        {"+sport", false},
        {"a/b+", false},
        {"a/+b/c", false},
        {"++", false},
        {"+#", false},
        {"#+", false},
        {"##", false},
        {"#/", false},
        {"#a", false},
        {"a#", false},
        {"a/#/b", false},
        {"a/#/", false},
    }));
    INFO('"' << c.filter << '"');
    CHECK(routing::is_valid_topic_filter(c.filter) == c.valid);
}

TEST_CASE("topic_matches", "[routing]") {
    struct match_case {
        const char* filter;
        const char* name;
        bool matches;
    };
    const auto c = GENERATE(values<match_case>({
        // 4.7.1.2, multi-level wildcard.
        {"sport/tennis/player1/#", "sport/tennis/player1", true},
        {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
        {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
        {"sport/tennis/player1/#", "sport/tennis/player2", false},
        {"sport/tennis/player1/#", "sport/tennis", false},
        {"sport/#", "sport", true}, // '#' includes the parent level
        {"sport/#", "sport/", true},
        {"sport/#", "sport/tennis/player1", true},
        {"sport/#", "sports", false},
        {"#", "sport", true},
        {"#", "sport/tennis/player1", true},
        {"#", "/", true},
        // 4.7.1.3, single-level wildcard.
        {"sport/tennis/+", "sport/tennis/player1", true},
        {"sport/tennis/+", "sport/tennis/player2", true},
        {"sport/tennis/+", "sport/tennis/player1/ranking", false},
        {"sport/tennis/+", "sport/tennis", false},
        {"sport/+", "sport", false},
        {"sport/+", "sport/", true}, // '+' matches an empty level
        {"sport/+/player1", "sport/tennis/player1", true},
        {"sport/+/player1", "sport/tennis/player2", false},
        {"+/tennis/#", "sport/tennis", true},
        {"+/tennis/#", "sport/tennis/player1/ranking", true},
        {"+/+", "/finance", true},
        {"/+", "/finance", true},
        {"+", "/finance", false},
        {"+", "finance", true},
        {"/finance", "/finance", true},
        {"/finance", "finance", false},
        {"finance", "/finance", false},
        // 4.7.2, topics beginning with '$' [MQTT-4.7.2-1].
        {"#", "$SYS/monitor/Clients", false},
        {"#", "$SYS", false},
        {"#", "$", false},
        {"+", "$SYS", false},
        {"+/monitor/Clients", "$SYS/monitor/Clients", false},
        {"+/#", "$SYS/monitor/Clients", false},
        {"$SYS/#", "$SYS/monitor/Clients", true},
        {"$SYS/#", "$SYS", true},
        {"$SYS/monitor/+", "$SYS/monitor/Clients", true},
        {"$SYS/monitor/Clients", "$SYS/monitor/Clients", true},
        {"a/+", "a/$b", true}, // only the first level is special
        {"#", "a$", true},
        // 4.7.3, case-sensitive, no normalisation.
        {"ACCOUNTS", "Accounts", false},
        {"Accounts", "Accounts", true},
        {"Accounts payable", "Accounts payable", true},
        // Empty levels.
        {"a//b", "a//b", true},
        {"a//b", "a/b", false},
        {"a/b", "a//b", false},
        {"a/+/b", "a//b", true},
        {"a/+/b", "a/b", false},
        {"a//+", "a//b", true},
        {"/", "/", true},
        {"+", "/", false},
        {"+/+", "/", true},
        {"/+", "/", true},
        {"/#", "/", true},
        {"/#", "/a/b", true},
        {"/#", "a", false},
        {"a/", "a/", true},
        {"a/", "a", false},
        {"a", "a/", false},
        {"a/+", "a/", true},
        {"+/", "a/", true},
        {"+/", "a", false},
        // "a/#" and its parent.
        {"a/#", "a", true},
        {"a/#", "a/", true},
        {"a/#", "a/b/c/d", true},
        {"a/#", "ab", false},
        {"a/#", "b", false},
        {"a/#", "b/a", false},
        {"a/b/#", "a", false},
        {"a/b/#", "a/b", true},
        {"+/#", "a", true},
        {"+/+/#", "a", false},
        {"+/+/#", "a/b", true},
        // Plain levels: exact, no prefixes.
        {"a/b", "a/b", true},
        {"a/b", "a/b/c", false},
        {"a/b/c", "a/b", false},
        {"a/b", "a/bc", false},
        {"a/bc", "a/b", false},
        {"a", "b", false},
    }));
    INFO("filter \"" << c.filter << "\", name \"" << c.name << '"');
    // The table itself must hold valid filters and names, the function's precondition.
    REQUIRE(routing::is_valid_topic_filter(c.filter));
    REQUIRE(routing::is_valid_topic_name(c.name));
    CHECK(routing::topic_matches(c.filter, c.name) == c.matches);
    // A filter without wildcards matches exactly the equal name.
    if (!routing::has_wildcard(c.filter)) {
        CHECK(c.matches == (std::string_view{c.filter} == c.name));
    }
}

TEST_CASE("has_wildcard", "[routing]") {
    struct wildcard_case {
        const char* filter;
        bool wildcard;
    };
    const auto c = GENERATE(values<wildcard_case>({
        {"a/b", false},
        {"/", false},
        {"$SYS/x", false},
        {"+", true},
        {"#", true},
        {"a/+/b", true},
        {"a/#", true},
    }));
    INFO('"' << c.filter << '"');
    CHECK(routing::has_wildcard(c.filter) == c.wildcard);
}
