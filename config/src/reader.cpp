// SPDX-License-Identifier: Apache-2.0
// The shared field readers of reader.hpp; the design note is at the top of that header.

#include "reader.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <iterator>
#include <utility>

namespace edgemq::config::detail {

namespace {

/// Optimal string alignment distance (Levenshtein plus transpositions), ignoring case.
std::size_t edit_distance(std::string_view from, std::string_view to) {
    const auto same = [](char x, char y) {
        return std::tolower(static_cast<unsigned char>(x)) ==
               std::tolower(static_cast<unsigned char>(y));
    };
    // Three rows of the dynamic-programming matrix: two back, one back, current.
    std::vector<std::size_t> before(to.size() + 1);
    std::vector<std::size_t> previous(to.size() + 1);
    std::vector<std::size_t> row(to.size() + 1);
    for (std::size_t j = 0; j <= to.size(); ++j) {
        previous[j] = j;
    }
    for (std::size_t i = 1; i <= from.size(); ++i) {
        row[0] = i;
        for (std::size_t j = 1; j <= to.size(); ++j) {
            const std::size_t cost = same(from[i - 1], to[j - 1]) ? 0 : 1;
            row[j] = std::min({previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost});
            if (i > 1 && j > 1 && same(from[i - 1], to[j - 2]) && same(from[i - 2], to[j - 1])) {
                row[j] = std::min(row[j], before[j - 2] + 1);
            }
        }
        std::swap(before, previous);
        std::swap(previous, row);
    }
    return previous[to.size()];
}

/// The candidate a typo most likely meant, if one is close enough to suggest.
std::optional<std::string_view> closest(std::string_view word, names candidates) {
    std::optional<std::string_view> best;
    std::size_t best_distance = 0;
    for (std::string_view candidate : candidates) {
        const auto distance = edit_distance(word, candidate);
        if (distance <= std::max<std::size_t>(2, candidate.size() / 3) &&
            (!best || distance < best_distance)) {
            best = candidate;
            best_distance = distance;
        }
    }
    return best;
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

bool is_host_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == '_';
}

bool is_ipv6_char(char c) {
    // Hex digits, separators, embedded IPv4, and a zone after '%' ("fe80::1%eth0").
    return is_host_char(c) || c == ':' || c == '%';
}

constexpr std::array<std::pair<std::string_view, std::int64_t>, 4> duration_units{{
    {"h", 3'600'000},
    {"m", 60'000},
    {"s", 1'000},
    {"ms", 1},
}};

} // namespace

// Wording -------------------------------------------------------------------------------------

std::string_view described(toml::node_type type) {
    switch (type) {
    case toml::node_type::table:
        return "a table";
    case toml::node_type::array:
        return "an array";
    case toml::node_type::string:
        return "a string";
    case toml::node_type::integer:
        return "an integer";
    case toml::node_type::floating_point:
        return "a floating-point number";
    case toml::node_type::boolean:
        return "a boolean";
    case toml::node_type::date:
        return "a date";
    case toml::node_type::time:
        return "a time";
    case toml::node_type::date_time:
        return "a date-time";
    case toml::node_type::none:
        break;
    }
    return "nothing";
}

std::string got(const toml::node& node) {
    return ", got " + std::string(described(node.type()));
}

std::string shown(const toml::node& node) {
    if (const auto* s = node.as_string()) {
        return double_quoted(s->get());
    }
    if (const auto* i = node.as_integer()) {
        return std::to_string(i->get());
    }
    return std::string(described(node.type()));
}

std::string listed(names candidates, std::string (*show)(std::string_view)) {
    std::string list;
    for (std::string_view candidate : candidates) {
        list += (list.empty() ? "" : ", ") + show(candidate);
    }
    return list;
}

std::string did_you_mean(std::string_view word, names candidates,
                         std::string (*show)(std::string_view)) {
    const auto best = closest(word, candidates);
    return best ? "; did you mean " + show(*best) + "?" : "";
}

// Tables --------------------------------------------------------------------------------------

void read_table(context& cx, const toml::node& node, const std::string& path, const fields& known) {
    const auto* entries = node.as_table();
    if (entries == nullptr) {
        cx.error(node, path, "expected a table" + got(node));
        return;
    }
    for (const auto& [key, value] : *entries) {
        const auto child =
            path.empty() ? std::string(key.str()) : path + '.' + std::string(key.str());
        const auto it = std::ranges::find(known, key.str(), &field::key);
        if (it != known.end()) {
            it->read(cx, value, child);
            continue;
        }
        std::vector<std::string_view> keys;
        std::ranges::transform(known, std::back_inserter(keys), &field::key);
        auto hint = did_you_mean(key.str(), keys, single_quoted);
        if (hint.empty()) {
            hint = "; valid keys are " + listed(keys, single_quoted);
        }
        cx.error(key.source(), child, (value.is_table() ? "unknown table" : "unknown key") + hint);
    }
}

field table(std::string_view key, fields known) {
    return {key, [known = std::move(known)](context& cx, const toml::node& node,
                                            const std::string& path) {
                read_table(cx, node, path, known);
            }};
}

// Scalars -------------------------------------------------------------------------------------

field boolean(std::string_view key, bool& out) {
    return {key, [&out](context& cx, const toml::node& node, const std::string& path) {
                if (const auto* value = node.as_boolean()) {
                    out = value->get();
                } else {
                    cx.error(node, path, "expected a boolean (true or false)" + got(node));
                }
            }};
}

field optional_boolean(std::string_view key, std::optional<bool>& out) {
    return {key, [&out](context& cx, const toml::node& node, const std::string& path) {
                if (const auto* value = node.as_boolean()) {
                    out = value->get();
                } else {
                    cx.error(node, path, "expected a boolean (true or false)" + got(node));
                }
            }};
}

field real(std::string_view key, double& out) {
    return {key, [&out](context& cx, const toml::node& node, const std::string& path) {
                if (const auto* i = node.as_integer()) {
                    out = static_cast<double>(i->get());
                } else if (const auto* f = node.as_floating_point()) {
                    out = f->get();
                } else {
                    cx.error(node, path, "expected a number" + got(node));
                }
            }};
}

field optional_real(std::string_view key, std::optional<double>& out) {
    return {key, [&out](context& cx, const toml::node& node, const std::string& path) {
                double value = 0;
                real("", value).read(cx, node, path);
                if (node.is_number()) {
                    out = value;
                }
            }};
}

std::optional<std::string_view> read_string(context& cx, const toml::node& node,
                                            const std::string& path) {
    if (const auto* value = node.as_string()) {
        return std::string_view(value->get());
    }
    cx.error(node, path, "expected a string" + got(node));
    return std::nullopt;
}

field text(std::string_view key, std::string& out) {
    return {key, [&out](context& cx, const toml::node& node, const std::string& path) {
                if (const auto value = read_string(cx, node, path)) {
                    out = *value;
                }
            }};
}

field nonempty_text(std::string_view key, std::string& out) {
    return {key, [&out](context& cx, const toml::node& node, const std::string& path) {
                if (const auto value = read_string(cx, node, path)) {
                    if (value->empty()) {
                        cx.error(node, path, "must not be empty");
                    } else {
                        out = *value;
                    }
                }
            }};
}

field text_array(std::string_view key, std::vector<std::string>& out) {
    return {key, [&out](context& cx, const toml::node& node, const std::string& path) {
                const auto* array = node.as_array();
                if (array == nullptr) {
                    cx.error(node, path, "expected an array of strings" + got(node));
                    return;
                }
                out.clear();
                for (std::size_t i = 0; i < array->size(); ++i) {
                    const auto& element = *array->get(i);
                    if (const auto value = read_string(cx, element, item_path(path, i))) {
                        out.emplace_back(*value);
                    }
                }
            }};
}

bool is_id_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
}

std::optional<std::string> parse_bind(std::string_view text, listener& out) {
    std::string_view host;
    std::string_view port;
    if (text.starts_with('[')) {
        const auto close = text.find("]:");
        if (close == std::string_view::npos) {
            return R"(expected "[address]:port" for IPv6, e.g. "[::1]:1883")";
        }
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
        if (host.find(':') == std::string_view::npos || !std::ranges::all_of(host, is_ipv6_char)) {
            return R"(expected an IPv6 address in the brackets, e.g. "[::1]:1883")";
        }
    } else {
        const auto colon = text.rfind(':');
        host = text.substr(0, colon);
        port = colon == std::string_view::npos ? "" : text.substr(colon + 1);
        if (colon == std::string_view::npos || host.empty() ||
            !std::ranges::all_of(host, is_host_char)) {
            return host.find(':') != std::string_view::npos
                       ? R"(an IPv6 address needs brackets, e.g. "[::1]:1883")"
                       : R"(expected "host:port", e.g. "0.0.0.0:1883")";
        }
    }
    unsigned number = 0;
    if (port.empty() || !std::ranges::all_of(port, is_digit)) {
        return R"(expected a port number after the last ':', e.g. "0.0.0.0:1883")";
    }
    if (std::from_chars(port.data(), port.data() + port.size(), number).ec != std::errc() ||
        number > 65535) {
        return "the port must be between 0 and 65535";
    }
    out.host = host;
    out.port = static_cast<std::uint16_t>(number);
    return std::nullopt;
}

// Durations -----------------------------------------------------------------------------------

milliseconds scaled(std::int64_t count, std::int64_t unit_ms) {
    if (count > int64_max / unit_ms) {
        return milliseconds::max();
    }
    if (count < -(int64_max / unit_ms)) {
        return milliseconds::min();
    }
    return milliseconds(count * unit_ms);
}

std::optional<milliseconds> parse_duration(std::string_view text) {
    if (text == "0") {
        return milliseconds::zero(); // zero is zero in every unit; "0" turns periods off
    }
    std::int64_t count = 0;
    const auto* const end = text.data() + text.size();
    const auto [unit_begin, ec] = std::from_chars(text.data(), end, count);
    if (ec == std::errc::invalid_argument) {
        return std::nullopt;
    }
    for (const auto& [unit, unit_ms] : duration_units) {
        if (unit == std::string_view(unit_begin, end)) {
            if (ec == std::errc::result_out_of_range) {
                return text.starts_with('-') ? milliseconds::min() : milliseconds::max();
            }
            return scaled(count, unit_ms);
        }
    }
    return std::nullopt;
}

std::string format_duration(milliseconds d) {
    if (d == milliseconds::zero()) {
        return "0";
    }
    for (const auto& [unit, unit_ms] : duration_units) {
        if (d.count() % unit_ms == 0) {
            return std::to_string(d.count() / unit_ms) + std::string(unit);
        }
    }
    return std::to_string(d.count()) + "ms"; // not reached: the last unit divides everything
}

} // namespace edgemq::config::detail
