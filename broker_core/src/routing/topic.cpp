// SPDX-License-Identifier: Apache-2.0
#include "edgemq/broker/routing/topic.hpp"

namespace edgemq::broker::routing {

bool is_valid_topic_name(std::string_view name) noexcept {
    return !name.empty() && name.find_first_of("+#") == std::string_view::npos;
}

bool is_valid_topic_filter(std::string_view filter) noexcept {
    if (filter.empty()) {
        return false;
    }
    for (std::size_t i = 0; i < filter.size(); ++i) {
        const char c = filter[i];
        const bool level_start = i == 0 || filter[i - 1] == '/';
        const bool level_end = i + 1 == filter.size() || filter[i + 1] == '/';
        if (c == '+' && !(level_start && level_end)) {
            return false; // [MQTT-4.7.1-3]
        }
        if (c == '#' && !(level_start && i + 1 == filter.size())) {
            return false; // [MQTT-4.7.1-2]
        }
    }
    return true;
}

bool has_wildcard(std::string_view filter) noexcept {
    return filter.find_first_of("+#") != std::string_view::npos;
}

bool is_shared(std::string_view filter) noexcept {
    return filter.starts_with("$share/");
}

std::optional<shared_filter> parse_shared(std::string_view filter) noexcept {
    if (!is_shared(filter)) {
        return std::nullopt;
    }
    const auto rest = filter.substr(7);
    const auto slash = rest.find('/');
    if (slash == 0 || slash == std::string_view::npos) {
        return std::nullopt;
    }
    shared_filter s{rest.substr(0, slash), rest.substr(slash + 1)};
    if (s.group.find_first_of("+#") != std::string_view::npos || !is_valid_topic_filter(s.filter)) {
        return std::nullopt;
    }
    return s;
}

bool topic_matches(std::string_view filter, std::string_view name) noexcept {
    if (!name.empty() && name.front() == '$' && !filter.empty() &&
        (filter.front() == '+' || filter.front() == '#')) {
        return false; // [MQTT-4.7.2-1]
    }
    std::size_t f = 0;
    std::size_t n = 0;
    while (true) {
        const auto f_end = std::min(filter.find('/', f), filter.size());
        const auto level = filter.substr(f, f_end - f);
        if (level == "#") {
            return true; // matches this level, all below it, and the parent [MQTT-4.7.1-2]
        }
        if (n > name.size()) {
            return false; // the name ran out of levels before the filter
        }
        const auto n_end = std::min(name.find('/', n), name.size());
        if (level != "+" && level != name.substr(n, n_end - n)) {
            return false;
        }
        const bool filter_done = f_end == filter.size();
        const bool name_done = n_end == name.size();
        if (filter_done || name_done) {
            if (filter_done && name_done) {
                return true;
            }
            // "a/#" also matches "a": the filter's next (last) level is "#".
            return name_done && filter.substr(f_end) == "/#";
        }
        f = f_end + 1;
        n = n_end + 1;
    }
}

} // namespace edgemq::broker::routing
