// SPDX-License-Identifier: Apache-2.0
// ACL files in Mosquitto's syntax: who gets which rules (users, anonymous clients, patterns with
// %c and %u), read/write/readwrite/deny, deny winning over allow, SUBSCRIBE coverage, $SYS
// [MQTT-4.7.2-1], and load errors as FILE:LINE.
#include "edgemq/broker/auth/acl.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>

namespace auth = edgemq::broker::auth;

namespace {

constexpr const char* site_acl = R"(# Rules before the first user line are for anonymous clients.
topic read public/#
topic write public/anon/#
topic read $SYS/broker/uptime

user alice
topic readwrite sensors/#
topic deny sensors/secret
topic read $SYS/#
topic write cmd/+/set
topic read a b/c

user bob
topic read sensors/+
topic sensors/bob/out

user reader
topic read #

user eve
topic deny #

# A second section for bob adds to the first, as in Mosquitto.
user bob
topic write bob/extra

# Patterns apply to every client, whatever user line they follow.
pattern write devices/%c/status
pattern read devices/%c/#
pattern deny devices/%c/locked
pattern readwrite users/%u/#
pattern read shared/%u-%c/x
pattern read pct/%x/%c
)";

enum class op { publish, subscribe, receive };

struct acl_case {
    op what;
    std::optional<std::string> user;
    std::string client_id;
    std::string topic;
    bool allowed;
};

const char* name(op o) {
    switch (o) {
    case op::publish:
        return "publish";
    case op::subscribe:
        return "subscribe";
    case op::receive:
        return "receive";
    }
    return "?";
}

std::string load_error(const std::string& text) {
    try {
        (void)auth::acl::parse(text, "acl");
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "(no error)";
}

} // namespace

TEST_CASE("acl: users, anonymous clients, patterns, deny and $SYS", "[auth]") {
    const auto acl = auth::acl::parse(site_acl, "acl");
    const std::optional<std::string> anon;
    const std::optional<std::string> alice{"alice"};
    const std::optional<std::string> bob{"bob"};
    const std::optional<std::string> reader{"reader"};
    const std::optional<std::string> eve{"eve"};
    const std::optional<std::string> mallory{"mallory"}; // in no user section

    const auto c = GENERATE_COPY(values<acl_case>({
        // Anonymous clients: the rules before the first user line, plus the patterns.
        {op::receive, anon, "anon1", "public/news", true},
        {op::publish, anon, "anon1", "public/news", false},
        {op::publish, anon, "anon1", "public/anon/x", true},
        {op::receive, anon, "anon1", "public/anon/x", true},
        {op::subscribe, anon, "anon1", "public/#", true},
        {op::subscribe, anon, "anon1", "public/+/x", true},
        {op::subscribe, anon, "anon1", "#", false},
        {op::subscribe, anon, "anon1", "$SYS/broker/uptime", true},
        {op::subscribe, anon, "anon1", "$SYS/#", false},
        {op::receive, anon, "anon1", "$SYS/broker/uptime", true},
        {op::receive, anon, "anon1", "$SYS/broker/load", false},
        {op::publish, anon, "anon1", "devices/anon1/status", true}, // %c pattern
        {op::publish, anon, "anon1", "devices/other/status", false},
        {op::receive, anon, "anon1", "devices/anon1/temp", true},
        {op::publish, anon, "anon1", "users//x", false},  // %u needs a username
        {op::receive, anon, "anon1", "sensors/x", false}, // alice's rules only
        // alice: readwrite sensors/# with sensors/secret denied.
        {op::publish, alice, "a1", "sensors/x", true},
        {op::receive, alice, "a1", "sensors/x/y", true},
        {op::receive, alice, "a1", "sensors", true},         // "a/#" matches "a"
        {op::publish, alice, "a1", "sensors/secret", false}, // deny wins
        {op::receive, alice, "a1", "sensors/secret", false},
        {op::receive, alice, "a1", "sensors/secret/x", true},  // deny names one topic
        {op::subscribe, alice, "a1", "sensors/#", true},       // partly denied: kept,
        {op::subscribe, alice, "a1", "sensors/+", true},       //   filtered at delivery
        {op::subscribe, alice, "a1", "sensors/secret", false}, // wholly denied
        {op::subscribe, alice, "a1", "sensors/secret/#", true},
        {op::publish, alice, "a1", "public/news", false}, // anonymous rules
        {op::receive, alice, "a1", "public/news", false}, //   are not alice's
        {op::subscribe, alice, "a1", "$SYS/#", true},
        {op::receive, alice, "a1", "$SYS/broker/load", true},
        {op::publish, alice, "a1", "$SYS/broker/load", false}, // read only
        {op::publish, alice, "a1", "cmd/x/set", true},
        {op::publish, alice, "a1", "cmd/x/y/set", false},
        {op::subscribe, alice, "a1", "cmd/+/set", false},  // write only
        {op::receive, alice, "a1", "a b/c", true},         // a filter with a blank
        {op::publish, alice, "a1", "users/alice/x", true}, // %u pattern
        {op::receive, alice, "a1", "users/alice", true},
        {op::publish, alice, "a1", "users/bob/x", false},
        {op::subscribe, alice, "a1", "users/alice/#", true},
        {op::subscribe, alice, "a1", "users/+/#", false},
        {op::publish, alice, "a1", "devices/a1/status", true},
        {op::receive, alice, "a1", "devices/a1/locked", false}, // deny pattern
        {op::receive, alice, "a1", "devices/a1/temp", true},
        {op::subscribe, alice, "a1", "devices/a1/#", true},
        {op::subscribe, alice, "a1", "devices/a1/locked", false},
        {op::receive, alice, "a1", "shared/alice-a1/x", true}, // inside a level
        {op::receive, alice, "a1", "shared/alice-a2/x", false},
        {op::receive, alice, "a1", "pct/%x/a1", true}, // other '%' literal
        // bob: single-level read, default readwrite, a second section.
        {op::subscribe, bob, "b1", "sensors/+", true},
        {op::subscribe, bob, "b1", "sensors/a", true},
        {op::subscribe, bob, "b1", "sensors/#", false}, // "+" does not cover "#"
        {op::subscribe, bob, "b1", "sensors/+/temp", false},
        {op::subscribe, bob, "b1", "+/a", false},
        {op::receive, bob, "b1", "sensors/a", true},
        {op::receive, bob, "b1", "sensors/a/b", false},
        {op::receive, bob, "b1", "sensors/secret", true}, // alice's deny is hers
        {op::publish, bob, "b1", "sensors/a", false},
        {op::publish, bob, "b1", "sensors/bob/out", true},
        {op::subscribe, bob, "b1", "sensors/bob/out", true},
        {op::publish, bob, "b1", "bob/extra", true},
        // reader: "#" reads everything except $-topics [MQTT-4.7.2-1].
        {op::subscribe, reader, "r1", "#", true},
        {op::subscribe, reader, "r1", "+/x", true},
        {op::subscribe, reader, "r1", "a/b/c", true},
        {op::receive, reader, "r1", "a/b", true},
        {op::receive, reader, "r1", "/leading", true},
        {op::subscribe, reader, "r1", "$SYS/#", false},
        {op::subscribe, reader, "r1", "$SYS/broker/uptime", false},
        {op::receive, reader, "r1", "$SYS/broker/uptime", false},
        {op::receive, reader, "r1", "$other", false},
        {op::publish, reader, "r1", "a/b", false},
        // eve: deny # wins over the patterns' allows.
        {op::publish, eve, "e1", "devices/e1/status", false},
        {op::receive, eve, "e1", "users/eve/x", false},
        {op::subscribe, eve, "e1", "devices/e1/#", false},
        // A username in no section gets the patterns only.
        {op::publish, mallory, "m1", "users/mallory/x", true},
        {op::publish, mallory, "m1", "devices/m1/status", true},
        {op::receive, mallory, "m1", "public/news", false},
        // '+' or '#' in the username or client id would widen a pattern: no pattern allows.
        {op::publish, std::optional<std::string>{"+"}, "x", "users/victim/x", false},
        {op::publish, anon, "#", "devices/victim/status", false},
        {op::receive, anon, "+", "devices/victim/temp", false},
        {op::publish, std::optional<std::string>{"a#"}, "c", "devices/c/status", false},
    }));
    INFO(name(c.what) << " user=" << c.user.value_or("(anonymous)") << " client_id=" << c.client_id
                      << " topic=" << c.topic);
    switch (c.what) {
    case op::publish:
        CHECK(acl.can_publish(c.user, c.client_id, c.topic) == c.allowed);
        break;
    case op::subscribe:
        CHECK(acl.can_subscribe(c.user, c.client_id, c.topic) == c.allowed);
        break;
    case op::receive:
        CHECK(acl.can_receive(c.user, c.client_id, c.topic) == c.allowed);
        break;
    }
}

TEST_CASE("acl: deny patterns still apply to a client id holding a wildcard", "[auth]") {
    const auto acl = auth::acl::parse("user alice\n"
                                      "topic readwrite devices/#\n"
                                      "pattern deny devices/%c/#\n",
                                      "acl");
    CHECK(acl.can_publish(std::string{"alice"}, "a1", "devices/a2/x"));
    CHECK_FALSE(acl.can_publish(std::string{"alice"}, "a1", "devices/a1/x"));
    // "devices/+/#" denies more, never less.
    CHECK_FALSE(acl.can_publish(std::string{"alice"}, "+", "devices/a2/x"));
}

TEST_CASE("acl: an empty file allows nothing", "[auth]") {
    const auto acl = auth::acl::parse("# nothing yet\n\n", "acl");
    CHECK_FALSE(acl.can_publish(std::nullopt, "c", "a"));
    CHECK_FALSE(acl.can_subscribe(std::string{"u"}, "c", "#"));
    CHECK_FALSE(acl.can_receive(std::string{"u"}, "c", "a"));
    CHECK(acl.warnings().empty());
}

TEST_CASE("acl: the access word is optional, and a lone word is the filter", "[auth]") {
    const auto acl = auth::acl::parse("topic a/b\n"
                                      "topic read\n"   // Mosquitto: the filter "read", readwrite
                                      "pattern deny\n" // the filter "deny", readwrite
                                      "topic\tread\tc/d\n"
                                      "  topic   write   e/f   \r\n",
                                      "acl");
    const std::optional<std::string> anon;
    CHECK(acl.can_publish(anon, "c", "a/b"));
    CHECK(acl.can_receive(anon, "c", "a/b"));
    CHECK(acl.can_publish(anon, "c", "read"));
    CHECK(acl.can_publish(std::string{"u"}, "c", "deny"));
    CHECK(acl.can_receive(anon, "c", "c/d"));
    CHECK_FALSE(acl.can_publish(anon, "c", "c/d"));
    CHECK(acl.can_publish(anon, "c", "e/f"));
    REQUIRE(acl.warnings().size() == 1);
    CHECK(acl.warnings()[0] == "acl:3: pattern \"deny\" has neither %c nor %u, so it applies "
                               "to every client alike");
}

TEST_CASE("acl: warnings for lines that probably do not mean what they say", "[auth]") {
    const auto acl = auth::acl::parse("user a\n"
                                      "topic read devices/%c/x\n"
                                      "pattern read all/#\n",
                                      "acl");
    REQUIRE(acl.warnings().size() == 2);
    CHECK_THAT(acl.warnings()[0], Catch::StartsWith("acl:2: topic \"devices/%c/x\" holds %c"));
    CHECK_THAT(acl.warnings()[1], Catch::StartsWith("acl:3: pattern \"all/#\" has neither"));
    // A topic line does not substitute: %c is literal text there.
    CHECK(acl.can_receive(std::string{"a"}, "c1", "devices/%c/x"));
    CHECK_FALSE(acl.can_receive(std::string{"a"}, "c1", "devices/c1/x"));
}

TEST_CASE("acl: load errors name the file and line", "[auth]") {
    struct bad_case {
        std::string line;
        std::string reason;
    };
    const auto c = GENERATE(values<bad_case>({
        {"topic", "`topic` needs a topic"},
        {"pattern   ", "`pattern` needs a topic"},
        {"topic readonly a/b", "unknown access \"readonly\""},
        {"topic Read a/b", "unknown access \"Read\""},
        {"topic read a/#/b", "not a valid topic filter"},
        {"topic read sport+", "not a valid topic filter"},
        {"pattern write a#", "not a valid topic filter"},
        {"user", "`user` needs a user name"},
        {"user   \t", "`user` needs a user name"},
        {"users alice", "unknown keyword \"users\""},
        {"Topic read a", "unknown keyword \"Topic\""},
    }));
    INFO(c.line);
    const auto what = load_error("# header\nuser x\n" + c.line + "\n");
    CHECK_THAT(what, Catch::StartsWith("acl:3: "));
    CHECK_THAT(what, Catch::Contains(c.reason));
}

TEST_CASE("acl::load reads a file and names it in errors", "[auth]") {
    const auto dir = std::filesystem::temp_directory_path();
    const auto file = dir / ("edgemq-acl-" + std::to_string(::getpid()));
    std::ofstream{file} << "user alice\ntopic readwrite a/#\n";
    const auto acl = auth::acl::load(file);
    CHECK(acl.can_publish(std::string{"alice"}, "c", "a/b"));
    std::ofstream{file} << "user alice\ntopic rw a/#\n";
    CHECK_THROWS_WITH(auth::acl::load(file), Catch::StartsWith(file.string() + ":2: "));
    std::filesystem::remove(file);
    CHECK_THROWS_WITH(auth::acl::load(file), Catch::StartsWith(file.string() + ": cannot open"));
}

TEST_CASE("filter_covers: every topic of the filter is matched by the rule", "[auth]") {
    struct cover_case {
        const char* rule;
        const char* filter;
        bool covers;
    };
    const auto c = GENERATE(values<cover_case>({
        {"sensors/#", "sensors/#", true},
        {"sensors/#", "sensors/+/temp", true},
        {"sensors/#", "sensors/a", true},
        {"sensors/#", "sensors", true}, // "a/#" matches its parent
        {"sensors/#", "sensors/a/b/c/#", true},
        {"sensors/#", "sensorsx", false},
        {"sensors/#", "+/a", false},
        {"sensors/#", "#", false},
        {"sensors/+", "sensors/#", false},
        {"sensors/+", "sensors/+", true},
        {"sensors/+", "sensors/a", true},
        {"sensors/+", "sensors", false},
        {"sensors/+", "sensors/a/b", false},
        {"sensors/+", "sensors/+/temp", false},
        {"sensors/a", "sensors/+", false},
        {"sensors/a", "sensors/a", true},
        {"sensors/a", "sensors/a/#", false}, // also matches sensors/a/b
        {"sensors/a/#", "sensors/a/#", true},
        {"sensors/a/#", "sensors/a", true},
        {"sensors/a/#", "sensors/#", false},
        {"+/+", "a/b", true},
        {"+/+", "+/+", true},
        {"+/+", "+/#", false},
        {"+/#", "+", true}, // "+/#" matches "x" (the parent of "x/...")
        {"+", "+/#", false},
        {"#", "#", true},
        {"#", "+/a/#", true},
        {"#", "/", true},
        {"a//b", "a//b", true},
        {"a/+/b", "a//b", true},
        {"a/b", "a//b", false},
        // [MQTT-4.7.2-1]: wildcards in the first level never match "$" topics.
        {"#", "$SYS/#", false},
        {"#", "$SYS/broker/uptime", false},
        {"+/#", "$SYS/broker", false},
        {"+/broker", "$SYS/broker", false},
        {"$SYS/#", "$SYS/#", true},
        {"$SYS/#", "$SYS/broker/+", true},
        {"$SYS/+/uptime", "$SYS/broker/uptime", true},
        {"$SYS/#", "#", false},
        {"$SYS/#", "+/broker", false},
        {"a/$x/#", "a/$x/y", true},
        {"a/+", "a/$x", true}, // '$' matters only in the first level
    }));
    INFO(c.rule << " covers " << c.filter);
    CHECK(auth::filter_covers(c.rule, c.filter) == c.covers);
}
