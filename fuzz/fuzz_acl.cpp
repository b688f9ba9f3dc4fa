// SPDX-License-Identifier: Apache-2.0
//
// libFuzzer target: the ACL reader and its checks (auth/acl.hpp). The input is the file's text,
// optionally followed by NUL-separated query fields: user name (empty: anonymous), client id,
// topic, filter, and a second filter. parse throws exactly std::runtime_error for a bad file;
// anything else escapes and is a finding. Properties checked:
// * for a topic without wildcards, can_subscribe to it as a filter answers as can_receive
//   does (the class comment defines SUBSCRIBE through coverage and delivery through matching,
//   and for a single topic the two are the same question);
// * filter_covers(r, f) and f matching a topic imply that r matches it; every valid filter
//   covers itself.
#include "edgemq/broker/auth/acl.hpp"
#include "edgemq/broker/routing/topic.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>

namespace auth = edgemq::broker::auth;
namespace routing = edgemq::broker::routing;

namespace {

[[noreturn]] void fail(const char* what, std::string_view a, std::string_view b = {}) {
    std::fprintf(stderr, "fuzz_acl: %s (\"%.*s\", \"%.*s\")\n", what, static_cast<int>(a.size()),
                 a.data(), static_cast<int>(b.size()), b.data());
    std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input{reinterpret_cast<const char*>(data), size};
    auto pos = input.find('\0');
    const auto text = input.substr(0, pos);
    // user, client id, topic, filter, rule filter; defaults where the input has none.
    std::array<std::string_view, 5> fields{"alice", "dev1", "sensors/dev1/temp", "sensors/#",
                                           "sensors/+/temp"};
    for (auto& f : fields) {
        if (pos == std::string_view::npos) {
            break;
        }
        const auto next = input.find('\0', pos + 1);
        f = input.substr(pos + 1, next == std::string_view::npos ? next : next - pos - 1);
        pos = next;
    }
    const std::optional<std::string> user =
        fields[0].empty() ? std::nullopt : std::optional<std::string>{fields[0]};
    const auto client_id = fields[1];
    const auto topic = fields[2];
    const auto filter = fields[3];
    const auto rule = fields[4];

    std::optional<auth::acl> acl;
    try {
        acl = auth::acl::parse(text, "fuzz.acl");
    } catch (const std::runtime_error& e) {
        if (typeid(e) != typeid(std::runtime_error)) {
            throw; // a subclass (regex_error, system_error...) is not the documented error
        }
    }
    if (acl) {
        (void)acl->warnings();
        if (routing::is_valid_topic_name(topic)) {
            (void)acl->can_publish(user, client_id, topic);
            const bool receive = acl->can_receive(user, client_id, topic);
            if (!routing::has_wildcard(topic) && routing::is_valid_topic_filter(topic)) {
                if (acl->can_subscribe(user, client_id, topic) != receive) {
                    fail("can_subscribe and can_receive disagree on a plain topic", topic);
                }
            }
        }
        if (routing::is_valid_topic_filter(filter)) {
            (void)acl->can_subscribe(user, client_id, filter);
        }
    }

    if (routing::is_valid_topic_filter(filter)) {
        if (!auth::filter_covers(filter, filter)) {
            fail("a filter does not cover itself", filter);
        }
        if (routing::is_valid_topic_filter(rule) && auth::filter_covers(rule, filter) &&
            routing::is_valid_topic_name(topic) && routing::topic_matches(filter, topic) &&
            !routing::topic_matches(rule, topic)) {
            fail("filter_covers(rule, filter) but a topic of filter escapes rule", rule, filter);
        }
    }
    return 0;
}
