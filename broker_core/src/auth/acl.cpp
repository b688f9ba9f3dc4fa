// SPDX-License-Identifier: Apache-2.0
//
// ACL evaluation. Rules are parsed once at load time and grouped by who they apply to (a hash
// map from username to that user's rules, the anonymous rules, the patterns), each group with
// its deny rules apart. A check is then one map lookup and a walk over the few rules of that
// client: deny rules first (any match refuses), allow rules after (the first match with the
// right access allows). Topic and filter are compared level by level in one pass over the
// string views, without splitting them into vectors: splitting the topic of every PUBLISH
// would cost more than the single scan it saves. Patterns are expanded into a per-thread
// buffer that keeps its capacity, so a check does not allocate once the buffer has grown.
#include "edgemq/broker/auth/acl.hpp"
#include "text.hpp"

#include "edgemq/broker/routing/topic.hpp"

#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace edgemq::broker::auth {
namespace {

using detail::acl_rule;
using detail::acl_rule_set;

/// Splits off the first blank-separated word of `s` (already trimmed); the rest is trimmed.
std::pair<std::string_view, std::string_view> first_word(std::string_view s) noexcept {
    const auto end = s.find_first_of(blanks);
    if (end == std::string_view::npos) {
        return {s, {}};
    }
    return {s.substr(0, end), trim(s.substr(end))};
}

bool has_wildcard_char(std::string_view s) noexcept {
    return s.find_first_of("+#") != std::string_view::npos;
}

/// Walks the levels of a topic or filter.
class level_cursor {
public:
    explicit level_cursor(std::string_view s) noexcept : s_(s) { find_end(); }

    std::string_view level() const noexcept { return s_.substr(begin_, end_ - begin_); }
    bool last() const noexcept { return end_ == s_.size(); }
    /// Everything after the current level, starting with its `/`.
    std::string_view rest() const noexcept { return s_.substr(end_); }
    void next() noexcept {
        begin_ = end_ + 1;
        find_end();
    }

private:
    void find_end() noexcept {
        const auto slash = s_.find('/', begin_);
        end_ = slash == std::string_view::npos ? s_.size() : slash;
    }

    std::string_view s_;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
};

std::string_view expand(const acl_rule& rule, const std::optional<std::string>& username,
                        std::string_view client_id) {
    thread_local std::string buffer;
    buffer.clear();
    for (const auto& p : rule.parts) {
        switch (p.kind) {
        case acl_rule::part_kind::text:
            buffer.append(p.text);
            break;
        case acl_rule::part_kind::client_id:
            buffer.append(client_id);
            break;
        case acl_rule::part_kind::username:
            buffer.append(*username); // only called when the rule's %u has a value
            break;
        }
    }
    return buffer;
}

std::runtime_error line_error(const std::string& name, std::size_t line, const std::string& why) {
    return std::runtime_error(name + ":" + std::to_string(line) + ": " + why);
}

acl_rule make_rule(std::string_view filter, bool read, bool write, bool pattern) {
    acl_rule rule;
    rule.filter = std::string{filter};
    rule.read = read;
    rule.write = write;
    if (!pattern) {
        return rule;
    }
    // Mosquitto substitutes `%c` and `%u` anywhere in the filter, even inside a level; any
    // other `%` is literal.
    std::string text;
    for (std::size_t i = 0; i < filter.size(); ++i) {
        if (filter[i] == '%' && i + 1 < filter.size() &&
            (filter[i + 1] == 'c' || filter[i + 1] == 'u')) {
            if (!text.empty()) {
                rule.parts.push_back({acl_rule::part_kind::text, std::move(text)});
                text.clear();
            }
            if (filter[i + 1] == 'c') {
                rule.parts.push_back({acl_rule::part_kind::client_id, {}});
                rule.uses_client_id = true;
            } else {
                rule.parts.push_back({acl_rule::part_kind::username, {}});
                rule.uses_username = true;
            }
            ++i;
            continue;
        }
        text.push_back(filter[i]);
    }
    if (!text.empty()) {
        rule.parts.push_back({acl_rule::part_kind::text, std::move(text)});
    }
    return rule;
}

void add(acl_rule_set& set, acl_rule rule, bool deny) {
    (deny ? set.deny : set.allow).push_back(std::move(rule));
}

} // namespace

bool filter_covers(std::string_view rule, std::string_view filter) noexcept {
    if (rule.empty() || filter.empty()) {
        return false;
    }
    // Every topic of a filter whose first level is "$..." starts with '$', and a rule whose
    // first level is a wildcard matches none of those [MQTT-4.7.2-1].
    if (filter.front() == '$' && (rule.front() == '+' || rule.front() == '#')) {
        return false;
    }
    level_cursor r{rule};
    level_cursor f{filter};
    while (true) {
        const auto rl = r.level();
        const auto fl = f.level();
        if (rl == "#") {
            return true; // this level, everything below it, and the parent [MQTT-4.7.1-2]
        }
        if (fl == "#") {
            return false; // the filter reaches deeper (and up to the parent) than the rule
        }
        if (rl != "+" && (fl == "+" || rl != fl)) {
            return false;
        }
        if (f.last()) {
            // The filter's topics end here: the rule matches them if it ends here too, or if
            // its only remaining level is "#", which also matches the parent ("a/#" matches "a").
            return r.last() || r.rest() == "/#";
        }
        if (r.last()) {
            return false;
        }
        r.next();
        f.next();
    }
}

acl acl::load(const std::filesystem::path& file) {
    std::ifstream in{file, std::ios::binary};
    if (!in) {
        throw std::runtime_error(file.string() +
                                 ": cannot open: " + std::generic_category().message(errno));
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
        throw std::runtime_error(file.string() +
                                 ": cannot read: " + std::generic_category().message(errno));
    }
    return parse(text.str(), file.string());
}

acl acl::parse(std::string_view text, const std::string& name) {
    acl result;
    std::optional<std::string> user; // nullopt: lines before the first `user` (anonymous)
    std::size_t number = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const auto nl = text.find('\n', pos);
        const auto raw = text.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
        pos = nl == std::string_view::npos ? text.size() : nl + 1;
        ++number;

        const auto line = trim(raw);
        if (line.empty() || line.front() == '#') {
            continue;
        }
        const auto [keyword, rest] = first_word(line);
        if (keyword == "user") {
            if (rest.empty()) {
                throw line_error(name, number, "`user` needs a user name");
            }
            user = std::string{rest};
            continue;
        }
        if (keyword != "topic" && keyword != "pattern") {
            throw line_error(name, number,
                             "unknown keyword \"" + std::string{keyword} +
                                 "\" (expected topic, pattern or user)");
        }
        const bool pattern = keyword == "pattern";
        if (rest.empty()) {
            throw line_error(name, number, "`" + std::string{keyword} + "` needs a topic");
        }
        // "topic [access] FILTER": with a single word, that word is the filter (as in
        // Mosquitto, which lets a filter hold spaces only after an explicit access type).
        auto [access, filter] = first_word(rest);
        if (filter.empty()) {
            filter = access;
            access = "readwrite";
        }
        bool read = false;
        bool write = false;
        bool deny = false;
        if (access == "read") {
            read = true;
        } else if (access == "write") {
            write = true;
        } else if (access == "readwrite") {
            read = write = true;
        } else if (access == "deny") {
            deny = true;
        } else {
            throw line_error(name, number,
                             "unknown access \"" + std::string{access} +
                                 "\" (expected read, write, readwrite or deny)");
        }
        if (!routing::is_valid_topic_filter(filter)) {
            throw line_error(name, number,
                             "\"" + std::string{filter} +
                                 "\" is not a valid topic filter ('+' and '#' must fill a level, "
                                 "'#' only as the last level)");
        }
        auto rule = make_rule(filter, read, write, pattern);
        if (pattern) {
            if (!rule.uses_client_id && !rule.uses_username) {
                result.warnings_.push_back(name + ":" + std::to_string(number) + ": pattern \"" +
                                           rule.filter +
                                           "\" has neither %c nor %u, so it applies to every "
                                           "client alike");
            }
            add(result.patterns_, std::move(rule), deny);
        } else {
            if (filter.find("%c") != std::string_view::npos ||
                filter.find("%u") != std::string_view::npos) {
                result.warnings_.push_back(name + ":" + std::to_string(number) + ": topic \"" +
                                           rule.filter +
                                           "\" holds %c or %u, which only `pattern` lines "
                                           "substitute");
            }
            // Repeated `user` sections for one name add to the same rules, as in Mosquitto.
            add(user ? result.users_[*user] : result.anonymous_, std::move(rule), deny);
        }
    }
    return result;
}

bool acl::allowed(const std::optional<std::string>& username, std::string_view client_id,
                  std::string_view subject, check what) const noexcept {
    const acl_rule_set* own = &anonymous_;
    if (username) {
        const auto it = users_.find(std::string_view{*username});
        own = it == users_.end() ? nullptr : &it->second;
    }
    const auto matches = [&](std::string_view filter) {
        return what == check::subscribe ? filter_covers(filter, subject)
                                        : routing::topic_matches(filter, subject);
    };
    const auto pattern_matches = [&](const acl_rule& rule) {
        if (rule.uses_username && !username) {
            return false; // Mosquitto skips %u patterns for anonymous clients
        }
        return matches(expand(rule, username, client_id));
    };
    const auto grants = [&](const acl_rule& rule) {
        return what == check::publish ? rule.write : rule.read;
    };

    // Deny first: a matching deny rule wins over every allow rule.
    if (own != nullptr) {
        for (const auto& rule : own->deny) {
            if (matches(rule.filter)) {
                return false;
            }
        }
    }
    for (const auto& rule : patterns_.deny) {
        if (pattern_matches(rule)) {
            return false;
        }
    }

    if (own != nullptr) {
        for (const auto& rule : own->allow) {
            if (grants(rule) && matches(rule.filter)) {
                return true;
            }
        }
    }
    // A '+' or '#' in the username or client id would turn an allow pattern into a wildcard
    // of the client's choosing.
    if ((username && has_wildcard_char(*username)) || has_wildcard_char(client_id)) {
        return false;
    }
    for (const auto& rule : patterns_.allow) {
        if (grants(rule) && pattern_matches(rule)) {
            return true;
        }
    }
    return false;
}

bool acl::can_publish(const std::optional<std::string>& username, std::string_view client_id,
                      std::string_view topic) const noexcept {
    return allowed(username, client_id, topic, check::publish);
}

bool acl::can_subscribe(const std::optional<std::string>& username, std::string_view client_id,
                        std::string_view filter) const noexcept {
    return allowed(username, client_id, filter, check::subscribe);
}

bool acl::can_receive(const std::optional<std::string>& username, std::string_view client_id,
                      std::string_view topic) const noexcept {
    return allowed(username, client_id, topic, check::receive);
}

} // namespace edgemq::broker::auth
