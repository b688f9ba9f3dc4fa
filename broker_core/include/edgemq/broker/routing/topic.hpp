// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <optional>
#include <string_view>

/// Topic names and filters (MQTT 3.1.1 section 4.7). Thread safety: pure functions.
namespace edgemq::broker::routing {

/// A topic name for PUBLISH: at least one character, no `+` or `#` [MQTT-4.7.3-1], [MQTT-3.3.2-2].
bool is_valid_topic_name(std::string_view name) noexcept;

/// A topic filter for SUBSCRIBE: `+` fills a whole level, `#` is the whole last level
/// [MQTT-4.7.1-2], [MQTT-4.7.1-3], and the filter is not empty [MQTT-4.7.3-1].
bool is_valid_topic_filter(std::string_view filter) noexcept;

/// True when `filter` (valid) matches `name` (valid). A wildcard in the first level does not
/// match a name that starts with `$` [MQTT-4.7.2-1].
bool topic_matches(std::string_view filter, std::string_view name) noexcept;

/// True when the filter holds `+` or `#`.
bool has_wildcard(std::string_view filter) noexcept;

/// A shared subscription's filter, `$share/{group}/{filter}` [MQTT-4.8.2].
struct shared_filter {
    std::string_view group;
    std::string_view filter;
};

/// True when `filter` names a shared subscription, valid or not: it begins with `$share/`.
bool is_shared(std::string_view filter) noexcept;

/// The parts of a valid shared subscription: a group of at least one character without `/`,
/// `+` or `#` [MQTT-4.8.2-1/2], then a valid topic filter. None otherwise.
std::optional<shared_filter> parse_shared(std::string_view filter) noexcept;

} // namespace edgemq::broker::routing
