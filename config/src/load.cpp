// SPDX-License-Identifier: Apache-2.0
// TOML -> edgemq::config::gateway.
//
// Every table is read against a list of fields: a key and a function that checks its value and
// stores it. Reading never stops at a problem: each one becomes a diagnostic at the position
// toml++ recorded for the offending key or value, and all of them leave together in one
// load_error, sorted back into file order (toml++ tables iterate in key order). Messages read
// "<dotted.path>: <what is wrong>; <what would be right>".

#include <edgemq/config/load.hpp>
#include <edgemq/config/regex.hpp>

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <optional>
#include <span>
#include <utility>

namespace edgemq::config {

std::string diagnostic::to_string() const {
    if (line == 0) {
        return file + ": " + message;
    }
    return file + ':' + std::to_string(line) + ':' + std::to_string(column) + ": " + message;
}

namespace {

std::string join_lines(const std::vector<diagnostic>& diagnostics) {
    std::string text;
    for (const auto& d : diagnostics) {
        text += (text.empty() ? "" : "\n") + d.to_string();
    }
    return text;
}

} // namespace

load_error::load_error(std::vector<diagnostic> diagnostics)
    : std::runtime_error(join_lines(diagnostics)), diagnostics_(std::move(diagnostics)) {}

namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();

/// The diagnostics of one source.
struct context {
    std::string file;
    std::vector<diagnostic> diagnostics;

    void error(const toml::source_region& where, const std::string& path,
               const std::string& message) {
        diagnostics.push_back({file, where.begin.line, where.begin.column, path + ": " + message});
    }
    void error(const toml::node& at, const std::string& path, const std::string& message) {
        error(at.source(), path, message);
    }
};

/// Checks one value and stores it: (context, value, dotted path of its key).
using reader = std::function<void(context&, const toml::node&, const std::string&)>;

struct field {
    std::string_view key;
    reader read;
};

using fields = std::vector<field>;

std::string double_quoted(std::string_view text) {
    return '"' + std::string(text) + '"';
}

/// "an integer", "a string"...: what the user wrote, for "expected X, got Y".
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

/// The value as the user wrote it, for "must be between A and B, got X".
std::string shown(const toml::node& node) {
    if (const auto* s = node.as_string()) {
        return double_quoted(s->get());
    }
    if (const auto* i = node.as_integer()) {
        return std::to_string(i->get());
    }
    return std::string(described(node.type()));
}

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

using names = std::span<const std::string_view>;

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

std::string single_quoted(std::string_view text) {
    return '\'' + std::string(text) + '\'';
}

/// "A, B, C", each shown by `show`.
std::string listed(names candidates, std::string (*show)(std::string_view)) {
    std::string list;
    for (std::string_view candidate : candidates) {
        list += (list.empty() ? "" : ", ") + show(candidate);
    }
    return list;
}

/// "; did you mean X?" when a candidate is close to `word`, else "".
std::string did_you_mean(std::string_view word, names candidates,
                         std::string (*show)(std::string_view)) {
    const auto best = closest(word, candidates);
    return best ? "; did you mean " + show(*best) + "?" : "";
}

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

template <std::integral T>
constexpr std::int64_t max_of =
    static_cast<std::int64_t>(std::min<std::uint64_t>(std::numeric_limits<T>::max(), int64_max));

template <std::integral T>
field integer(std::string_view key, T& out, std::int64_t min = 0, std::int64_t max = max_of<T>) {
    return {key, [&out, min, max](context& cx, const toml::node& node, const std::string& path) {
                const auto* value = node.as_integer();
                if (value == nullptr) {
                    cx.error(node, path, "expected an integer" + got(node));
                } else if (value->get() < min || value->get() > max) {
                    cx.error(node, path,
                             (max == int64_max ? "must be at least " + std::to_string(min)
                                               : "must be between " + std::to_string(min) +
                                                     " and " + std::to_string(max)) +
                                 ", got " + shown(node));
                } else {
                    out = static_cast<T>(value->get());
                }
            }};
}

field boolean(std::string_view key, bool& out) {
    return {key, [&out](context& cx, const toml::node& node, const std::string& path) {
                if (const auto* value = node.as_boolean()) {
                    out = value->get();
                } else {
                    cx.error(node, path, "expected a boolean (true or false)" + got(node));
                }
            }};
}

/// A string value, or nullopt after reporting that it is not one.
std::optional<std::string_view> read_string(context& cx, const toml::node& node,
                                            const std::string& path) {
    if (const auto* value = node.as_string()) {
        return std::string_view(value->get());
    }
    cx.error(node, path, "expected a string" + got(node));
    return std::nullopt;
}

/// One of a fixed set of words: `choices[i]` stands for the enumerator of value i.
template <class Enum> field one_of(std::string_view key, Enum& out, names choices) {
    return {key, [&out, choices](context& cx, const toml::node& node, const std::string& path) {
                const auto text = read_string(cx, node, path);
                if (!text) {
                    return;
                }
                const auto it = std::ranges::find(choices, *text);
                if (it != choices.end()) {
                    out = static_cast<Enum>(it - choices.begin());
                    return;
                }
                cx.error(node, path,
                         "expected one of " + listed(choices, double_quoted) + ", got " +
                             double_quoted(*text) + did_you_mean(*text, choices, double_quoted));
            }};
}

// Durations ----------------------------------------------------------------------------------

/// count * unit, saturated so that an overflow still fails the range check.
milliseconds scaled(std::int64_t count, std::int64_t unit_ms) {
    if (count > int64_max / unit_ms) {
        return milliseconds::max();
    }
    if (count < -(int64_max / unit_ms)) {
        return milliseconds::min();
    }
    return milliseconds(count * unit_ms);
}

constexpr std::array<std::pair<std::string_view, std::int64_t>, 4> duration_units{{
    {"h", 3'600'000},
    {"m", 60'000},
    {"s", 1'000},
    {"ms", 1},
}};

/// "<integer><unit>", e.g. "500ms"; nullopt if `text` is not of that form.
std::optional<milliseconds> parse_duration(std::string_view text) {
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

/// The largest unit that shows `d` exactly: "10s", "24h", "1500ms".
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

/// An integer number of seconds or a string such as "500ms"; a multiple of Duration's unit.
template <class Duration>
field duration(std::string_view key, Duration& out, Duration min, Duration max) {
    return {key, [&out, min, max](context& cx, const toml::node& node, const std::string& path) {
                std::optional<milliseconds> value;
                if (const auto* seconds = node.as_integer()) {
                    value = scaled(seconds->get(), 1'000);
                } else if (const auto* text = node.as_string()) {
                    value = parse_duration(text->get());
                    if (!value) {
                        cx.error(node, path,
                                 "expected a number followed by ms, s, m or h, such as \"500ms\", "
                                 "\"10s\", \"2m\" or \"1h\", got " +
                                     shown(node));
                        return;
                    }
                } else {
                    cx.error(node, path,
                             "expected a duration: an integer number of seconds or a string "
                             "such as \"500ms\", \"10s\", \"2m\" or \"1h\"" +
                                 got(node));
                    return;
                }
                if (*value < min || *value > max) {
                    cx.error(node, path,
                             "must be between " + format_duration(min) + " and " +
                                 format_duration(max) + ", got " + shown(node));
                } else if (*value % Duration(1) != milliseconds(0)) {
                    cx.error(node, path,
                             "must be a multiple of " + format_duration(Duration(1)) + ", got " +
                                 shown(node));
                } else {
                    out = std::chrono::duration_cast<Duration>(*value);
                }
            }};
}

// Listeners ----------------------------------------------------------------------------------

constexpr std::array<std::string_view, 4> listener_types{"tcp", "tls", "ws", "wss"};

field listener_type(std::string_view key, std::string& out) {
    return {key, [&out](context& cx, const toml::node& node, const std::string& path) {
                const auto text = read_string(cx, node, path);
                if (!text) {
                    return;
                }
                if (std::ranges::find(listener_types, *text) != listener_types.end()) {
                    out = *text;
                    return;
                }
                cx.error(node, path,
                         "unknown listener type " + double_quoted(*text) + "; valid types are " +
                             listed(listener_types, double_quoted));
            }};
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

/// "host:port" or "[ipv6]:port" into out.host and out.port; else what is wrong with it.
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

field bind_address(std::string_view key, listener& out) {
    return {key, [&out](context& cx, const toml::node& node, const std::string& path) {
                if (const auto text = read_string(cx, node, path)) {
                    if (const auto problem = parse_bind(*text, out)) {
                        cx.error(node, path, *problem + ", got " + double_quoted(*text));
                    }
                }
            }};
}

/// A string stored as is (file paths, URL paths).
field text(std::string_view key, std::string& out) {
    return {key, [&out](context& cx, const toml::node& node, const std::string& path) {
                if (const auto value = read_string(cx, node, path)) {
                    out = *value;
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

bool is_loopback(std::string_view host) {
    return host.starts_with("127.") || host == "::1" || host == "localhost";
}

/// The rules that need several keys of one listener; reported at the listener's table.
void check_listener(context& cx, const toml::node& at, const std::string& path,
                    const listener& l) {
    const bool tls = l.type == "tls" || l.type == "wss";
    if (tls && (l.cert.empty() || l.key.empty())) {
        cx.error(at, path,
                 "a \"" + l.type + "\" listener needs cert and key, e.g. cert = "
                 "\"/etc/edgemq/server.crt\" and key = \"/etc/edgemq/server.key\"");
    }
    if (!tls && (!l.cert.empty() || !l.key.empty() || !l.ca.empty() ||
                 l.require_client_certificate || l.use_identity_as_username)) {
        cx.error(at, path,
                 "cert, key, ca, require_client_certificate and use_identity_as_username need "
                 "type = \"tls\" or \"wss\"");
    }
    if (l.require_client_certificate && l.ca.empty()) {
        cx.error(at, path, "require_client_certificate needs ca, the CA file that signs clients");
    }
    if (l.use_identity_as_username && !l.require_client_certificate) {
        cx.error(at, path, "use_identity_as_username needs require_client_certificate = true");
    }
    if ((l.type == "ws" || l.type == "wss") && !l.path.starts_with('/')) {
        cx.error(at, path, "path must start with '/', e.g. path = \"/mqtt\"");
    }
    const bool authenticated = !l.password_file.empty() || l.use_identity_as_username;
    if (!is_loopback(l.host) && !authenticated && !l.allow_anonymous.has_value()) {
        cx.error(at, path,
                 "listening on " + (l.host.find(':') != std::string::npos ? "[" + l.host + "]" : l.host) +
                     ":" + std::to_string(l.port) +
                     " without authentication would let anyone on the network connect; add "
                     "password_file = \"/etc/edgemq/passwd\" (create it with `edgemq passwd "
                     "-c /etc/edgemq/passwd USER`), or write allow_anonymous = true to accept "
                     "anonymous clients there");
    }
}

/// [[listeners]]: each element must have a bind.
field listener_array(std::string_view key, std::vector<listener>& out) {
    return {key, [&out](context& cx, const toml::node& node, const std::string& path) {
                const auto* array = node.as_array();
                if (array == nullptr) {
                    cx.error(node, path,
                             "expected an array of tables, written [[listeners]]" + got(node));
                    return;
                }
                for (std::size_t i = 0; i < array->size(); ++i) {
                    const auto& element = *array->get(i);
                    const auto element_path = path + '[' + std::to_string(i) + ']';
                    listener& l = out.emplace_back();
                    read_table(cx, element, element_path,
                               {
                                   listener_type("type", l.type),
                                   bind_address("bind", l),
                                   integer("max_connections", l.max_connections),
                                   text("cert", l.cert),
                                   text("key", l.key),
                                   text("ca", l.ca),
                                   boolean("require_client_certificate",
                                           l.require_client_certificate),
                                   boolean("use_identity_as_username", l.use_identity_as_username),
                                   text("path", l.path),
                                   optional_boolean("allow_anonymous", l.allow_anonymous),
                                   text("password_file", l.password_file),
                                   text("acl_file", l.acl_file),
                                   integer("max_publish_rate", l.max_publish_rate),
                               });
                    if (element.is_table() && !element.as_table()->contains("bind")) {
                        cx.error(element, element_path,
                                 R"(missing "bind", e.g. bind = "0.0.0.0:1883")");
                    } else if (element.is_table()) {
                        check_listener(cx, element, element_path, l);
                    }
                }
            }};
}

// Devices ------------------------------------------------------------------------------------

/// A TOML integer or floating-point number.
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

/// A string that must not be empty.
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
                    if (const auto value =
                            read_string(cx, element, path + '[' + std::to_string(i) + ']')) {
                        out.emplace_back(*value);
                    }
                }
            }};
}

bool is_id_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
}

/// "{a}" placeholders of `text` that are not in `known`, as "{x}, {y}".
std::string unknown_placeholders(std::string_view text, names known) {
    std::string unknown;
    for (auto open = text.find('{'); open != std::string_view::npos;
         open = text.find('{', open + 1)) {
        const auto close = text.find('}', open);
        if (close == std::string_view::npos) {
            break;
        }
        const auto name = text.substr(open + 1, close - open - 1);
        if (std::ranges::find(known, name) == known.end()) {
            unknown += (unknown.empty() ? "{" : ", {") + std::string(name) + "}";
        }
    }
    return unknown;
}

field placeholder_text(std::string_view key, std::string& out, names known) {
    return {key, [&out, known](context& cx, const toml::node& node, const std::string& path) {
                const auto value = read_string(cx, node, path);
                if (!value) {
                    return;
                }
                if (const auto bad = unknown_placeholders(*value, known); !bad.empty()) {
                    cx.error(node, path,
                             "unknown placeholder " + bad + "; valid ones are " +
                                 listed(known, [](std::string_view n) {
                                     return "{" + std::string(n) + "}";
                                 }));
                    return;
                }
                out = *value;
            }};
}

/// A regex of the device dialect (config/regex.hpp), refused here, at its value, when the
/// driver could not compile it. Placeholders in `known` ({seq}) count as a number; other
/// `{name}`s are unknown placeholders, while `{3}` and `{2,5}` stay regex quantifiers.
field regex_text(std::string_view key, std::string& out, names known) {
    return {key, [&out, known](context& cx, const toml::node& node, const std::string& path) {
                const auto value = read_string(cx, node, path);
                if (!value) {
                    return;
                }
                std::string pattern;
                for (std::size_t i = 0; i < value->size(); ++i) {
                    const auto close = value->find('}', i);
                    const auto name = (*value)[i] == '{' && close != std::string::npos
                                          ? std::string_view(*value).substr(i + 1, close - i - 1)
                                          : std::string_view();
                    if (known.empty() || name.empty() ||
                        !(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) {
                        pattern.push_back((*value)[i]);
                    } else if (std::ranges::find(known, name) != known.end()) {
                        pattern += '1';
                        i = close;
                    } else {
                        cx.error(node, path,
                                 "unknown placeholder {" + std::string(name) +
                                     "}; valid ones are " + listed(known, [](std::string_view n) {
                                         return "{" + std::string(n) + "}";
                                     }));
                        return;
                    }
                }
                // Kept even when refused, so that "needs pattern" does not pile on.
                out = *value;
                if (const auto why = regex_problem(pattern); !why.empty()) {
                    cx.error(node, path,
                             double_quoted(*value) + " is not a valid regex (ECMAScript): " + why);
                }
            }};
}

constexpr std::array<std::string_view, 3> parities{"none", "even", "odd"};
constexpr std::array<std::string_view, 3> flow_controls{"none", "rtscts", "xonxoff"};
constexpr std::array<std::string_view, 3> modem_lines{"keep", "on", "off"};
constexpr std::array<std::string_view, 4> framing_modes{"line", "delimiter", "fixed", "idle_gap"};
constexpr std::array<std::string_view, 3> encodings{"utf-8", "latin1", "binary"};
constexpr std::array<std::string_view, 5> parser_kinds{"raw", "kv", "csv", "json", "regex"};
constexpr std::array<std::string_view, 5> field_types{"auto", "int", "float", "bool", "string"};
constexpr std::array<std::string_view, 6> command_types{"string", "int",  "float",
                                                        "bool",   "enum", "none"};
constexpr std::array<std::string_view, 3> topic_placeholders{"base", "device", "field"};
constexpr std::array<std::string_view, 3> command_placeholders{"value", "seq", "device"};
constexpr std::array<std::string_view, 1> reply_placeholders{"seq"};

/// `[devices.<key>.<name>]` tables: one element of `out` per name, read by `read_one`.
template <class T, class Read>
field named_tables(std::string_view key, std::vector<T>& out, Read read_one) {
    return {key, [&out, read_one](context& cx, const toml::node& node, const std::string& path) {
                const auto* entries = node.as_table();
                if (entries == nullptr) {
                    cx.error(node, path, "expected a table of named tables" + got(node));
                    return;
                }
                for (const auto& [name, value] : *entries) {
                    T& item = out.emplace_back();
                    item.name = name.str();
                    read_one(cx, value, path + '.' + std::string(name.str()), item);
                }
            }};
}

void read_field(context& cx, const toml::node& node, const std::string& path, device_field& f) {
    read_table(cx, node, path,
               {
                   nonempty_text("source", f.source),
                   one_of("type", f.type, field_types),
                   real("scale", f.scale),
                   real("offset", f.offset),
                   text("unit", f.unit),
                   optional_real("deadband", f.deadband),
               });
    if (f.source.empty()) {
        f.source = f.name;
    }
    if (f.deadband && *f.deadband < 0) {
        cx.error(node, path + ".deadband", "must not be negative");
    }
}

void read_command(context& cx, const toml::node& node, const std::string& path,
                  device_command& c) {
    read_table(cx, node, path,
               {
                   placeholder_text("format", c.format, command_placeholders),
                   one_of("type", c.type, command_types),
                   optional_real("min", c.min),
                   optional_real("max", c.max),
                   text_array("values", c.values),
                   integer("max_length", c.max_length, 1, 65536),
                   boolean("append_eol", c.append_eol),
                   regex_text("reply", c.reply, reply_placeholders),
                   duration("timeout", c.timeout, milliseconds(1), milliseconds(1h)),
               });
    if (!node.is_table()) {
        return;
    }
    if (!std::ranges::all_of(c.name, is_id_char) || c.name.empty()) {
        cx.error(node, path, "a command name may hold only letters, digits, '_' and '-'");
    }
    if (c.type == command_type::enumeration && c.values.empty()) {
        cx.error(node, path, R"(type = "enum" needs values, e.g. values = ["on", "off"])");
    }
    if (c.min && c.max && *c.min > *c.max) {
        cx.error(node, path, "min must not be greater than max");
    }
}

/// The rules that need several keys of one device; reported at the device's table.
void check_device(context& cx, const toml::node& at, const std::string& path, const device& d) {
    if (d.id.empty()) {
        cx.error(at, path, R"(missing "id", e.g. id = "greenhouse")");
    } else if (!std::ranges::all_of(d.id, is_id_char)) {
        cx.error(at, path,
                 "id " + double_quoted(d.id) +
                     " may hold only letters, digits, '_' and '-' (it is used in topics)");
    }
    const auto& m = d.match;
    if (m.path.empty() && m.by_id.empty() && m.vid.empty() && m.serial.empty()) {
        cx.error(at, path,
                 R"(missing "match", e.g. match = { by_id = "usb-FTDI_FT232R_A900WXPC-if00-port0" } )"
                 R"(or match = { path = "/dev/ttyUSB0" } or match = { vid = "1a86", pid = "7523" })");
    }
    if (m.vid.empty() != m.pid.empty()) {
        cx.error(at, path + ".match", "vid and pid come together");
    }
    if (d.framing == framing_mode::delimiter && d.delimiter.empty()) {
        cx.error(at, path, R"(framing = "delimiter" needs delimiter, e.g. delimiter = ";")");
    }
    if (d.framing == framing_mode::fixed && d.frame_length == 0) {
        cx.error(at, path, R"(framing = "fixed" needs frame_length, e.g. frame_length = 16)");
    }
    if (d.framing == framing_mode::fixed && d.frame_length > d.max_frame_bytes) {
        cx.error(at, path, "frame_length must not exceed max_frame_bytes");
    }
    if (d.parser.kind == parser_kind::csv && d.parser.columns.empty()) {
        cx.error(at, path + ".parser",
                 R"(kind = "csv" needs columns, e.g. columns = ["voltage", "current"])");
    }
    if (d.parser.kind == parser_kind::regex && d.parser.pattern.empty()) {
        cx.error(at, path + ".parser",
                 R"x(kind = "regex" needs pattern, e.g. pattern = "T(?<temp>[0-9.]+)")x");
    }
    if (d.parser.kind == parser_kind::kv &&
        (d.parser.pair_separator.empty() || d.parser.kv_separator.empty())) {
        cx.error(at, path + ".parser", "pair_separator and kv_separator must not be empty");
    }
    if (d.encoding == text_encoding::binary && d.parser.kind != parser_kind::raw) {
        cx.error(at, path, R"(encoding = "binary" needs the raw parser (it publishes hex))");
    }
}

/// [[devices]]: one serial device each.
field device_array(std::string_view key, std::vector<device>& out) {
    return {key, [&out](context& cx, const toml::node& node, const std::string& path) {
        const auto* array = node.as_array();
        if (array == nullptr) {
            cx.error(node, path, "expected an array of tables, written [[devices]]" + got(node));
            return;
        }
        for (std::size_t i = 0; i < array->size(); ++i) {
            const auto& element = *array->get(i);
            const auto element_path = path + '[' + std::to_string(i) + ']';
            device& d = out.emplace_back();
            auto& p = d.publish;
            read_table(
                cx, element, element_path,
                {
                    nonempty_text("id", d.id),
                    table("match",
                          {
                              nonempty_text("path", d.match.path),
                              nonempty_text("by_id", d.match.by_id),
                              nonempty_text("vid", d.match.vid),
                              nonempty_text("pid", d.match.pid),
                              nonempty_text("serial", d.match.serial),
                          }),
                    integer("baud", d.baud, 50, 4'000'000),
                    integer("data_bits", d.data_bits, 5, 8),
                    one_of("parity", d.parity, parities),
                    integer("stop_bits", d.stop_bits, 1, 2),
                    one_of("flow_control", d.flow_control, flow_controls),
                    one_of("dtr", d.dtr, modem_lines),
                    one_of("rts", d.rts, modem_lines),
                    duration("settle", d.settle, 0ms, milliseconds(1min)),
                    one_of("framing", d.framing, framing_modes),
                    nonempty_text("delimiter", d.delimiter),
                    integer("frame_length", d.frame_length, 1, 1 << 20),
                    duration("idle_gap", d.idle_gap, milliseconds(1), milliseconds(1min)),
                    integer("max_frame_bytes", d.max_frame_bytes, 1, 1 << 20),
                    one_of("encoding", d.encoding, encodings),
                    table("parser",
                          {
                              one_of("kind", d.parser.kind, parser_kinds),
                              text("pair_separator", d.parser.pair_separator),
                              text("kv_separator", d.parser.kv_separator),
                              nonempty_text("separator", d.parser.separator),
                              text_array("columns", d.parser.columns),
                              regex_text("pattern", d.parser.pattern, {}),
                          }),
                    named_tables("fields", d.fields, read_field),
                    table("publish",
                          {
                              nonempty_text("base", p.base),
                              boolean("state", p.state),
                              boolean("fields", p.fields),
                              placeholder_text("state_topic", p.state_topic, topic_placeholders),
                              placeholder_text("field_topic", p.field_topic, topic_placeholders),
                              integer("qos", p.qos, 0, 2),
                              boolean("retain", p.retain),
                              duration("min_interval", p.min_interval, 0ms, milliseconds(24h)),
                              duration("max_interval", p.max_interval, 0ms, milliseconds(24h)),
                          }),
                    named_tables("commands", d.commands, read_command),
                    duration("stats_interval", d.stats_interval, 0ms, milliseconds(24h)),
                });
            if (element.is_table()) {
                check_device(cx, element, element_path, d);
            }
            for (std::size_t j = 0; j + 1 < out.size(); ++j) {
                if (!d.id.empty() && out[j].id == d.id) {
                    cx.error(element, element_path,
                             "id " + double_quoted(d.id) + " is already used by " + path + '[' +
                                 std::to_string(j) + ']');
                }
            }
        }
    }};
}

// Bridges ------------------------------------------------------------------------------------

constexpr std::array<std::string_view, 3> directions{"out", "in", "both"};
constexpr std::array<std::string_view, 2> full_policies{"drop_oldest", "drop_newest"};

/// An MQTT topic filter: '#' only as the whole last level, '+' only as a whole level.
bool is_topic_filter(std::string_view f) {
    if (f.empty()) {
        return false;
    }
    for (std::size_t i = 0; i < f.size(); ++i) {
        const bool level_start = i == 0 || f[i - 1] == '/';
        const bool level_end = i + 1 == f.size() || f[i + 1] == '/';
        if (f[i] == '#' && !(level_start && i + 1 == f.size())) {
            return false;
        }
        if (f[i] == '+' && !(level_start && level_end)) {
            return false;
        }
    }
    return true;
}

field prefix(std::string_view key, std::string& out) {
    return {key, [&out](context& cx, const toml::node& node, const std::string& path) {
                if (const auto value = read_string(cx, node, path)) {
                    if (value->find_first_of("+#") != std::string_view::npos) {
                        cx.error(node, path, "a prefix must not hold the wildcards + or #");
                    } else {
                        out = *value;
                    }
                }
            }};
}

/// `address`: "host:port" or a list of them, tried in turn. A missing port is filled in
/// once TLS is known (8883 or 1883).
field addresses(std::string_view key, std::vector<std::string>& out) {
    return {key, [&out](context& cx, const toml::node& node, const std::string& path) {
                const auto read_one = [&](const toml::node& item, const std::string& at) {
                    const auto value = read_string(cx, item, at);
                    if (!value) {
                        return;
                    }
                    listener parsed;
                    const bool has_port = value->ends_with(']') ? false
                                          : value->starts_with('[')
                                              ? value->find("]:") != std::string_view::npos
                                              : value->find(':') != std::string_view::npos;
                    const std::string full = has_port ? std::string(*value) : std::string(*value) + ":0";
                    if (const auto problem = parse_bind(full, parsed); problem || parsed.host.empty()) {
                        cx.error(item, at,
                                 problem.value_or("a host is needed") +
                                     ", e.g. address = \"emqx.example.com:8883\", got " +
                                     double_quoted(*value));
                        return;
                    }
                    out.push_back(full);
                };
                out.clear();
                if (const auto* array = node.as_array()) {
                    for (std::size_t i = 0; i < array->size(); ++i) {
                        read_one(*array->get(i), path + '[' + std::to_string(i) + ']');
                    }
                    if (array->empty()) {
                        cx.error(node, path, "must name at least one \"host:port\"");
                    }
                } else {
                    read_one(node, path);
                }
            }};
}

void read_bridge_topic(context& cx, const toml::node& node, const std::string& path,
                       bridge_topic& t) {
    read_table(cx, node, path,
               {
                   nonempty_text("pattern", t.pattern),
                   one_of("direction", t.direction, directions),
                   integer("qos", t.qos, 0, 2),
                   prefix("local_prefix", t.local_prefix),
                   prefix("remote_prefix", t.remote_prefix),
               });
    if (!node.is_table()) {
        return;
    }
    if (t.pattern.empty()) {
        cx.error(node, path, R"(missing "pattern", e.g. pattern = "sensors/#")");
    } else if (!is_topic_filter(t.pattern)) {
        cx.error(*node.as_table()->get("pattern"), path + ".pattern",
                 "not a valid topic filter (# only as the last level, + only as a whole "
                 "level), got " +
                     double_quoted(t.pattern));
    }
}

/// The rules that need several keys of one bridge; reported at the bridge's table.
void check_bridge(context& cx, const toml::node& at, const std::string& path, bridge& b,
                  bool tls_written) {
    if (b.name.empty()) {
        cx.error(at, path, R"(missing "name", e.g. name = "cloud")");
    } else if (!std::ranges::all_of(b.name, is_id_char)) {
        cx.error(at, path,
                 "name " + double_quoted(b.name) +
                     " may hold only letters, digits, '_' and '-' (it names files and topics)");
    }
    if (b.addresses.empty() && !at.as_table()->contains("address")) {
        cx.error(at, path, R"(missing "address", e.g. address = "emqx.example.com:8883")");
    }
    if (b.topics.empty()) {
        cx.error(at, path,
                 R"(a bridge needs at least one [[bridges.topics]], e.g. pattern = "sensors/#")");
    }
    if (b.cert.empty() != b.key.empty()) {
        cx.error(at, path, "cert and key come together (the client certificate and its key)");
    }
    const bool tls_files = !b.ca.empty() || !b.cert.empty();
    if (!tls_written) {
        b.tls = tls_files;
    } else if (!b.tls && tls_files) {
        cx.error(at, path, "ca, cert and key need tls = true");
    }
    if (b.insecure && !b.tls) {
        cx.error(at, path, "insecure only applies to TLS");
    }
    if (b.reconnect_min > b.reconnect_max) {
        cx.error(at, path, "reconnect_min must not be greater than reconnect_max");
    }
    for (auto& a : b.addresses) {
        if (a.ends_with(":0")) {
            a.replace(a.size() - 1, 1, b.tls ? "8883" : "1883");
        }
    }
    if (b.queue_file.empty()) {
        b.queue_file = "/var/lib/edgemq/bridge-" + b.name + ".db";
    }
    if (b.notification_topic.empty()) {
        const auto first = std::ranges::find_if(
            b.topics, [](const bridge_topic& t) { return !t.remote_prefix.empty(); });
        b.notification_topic = (first == b.topics.end() ? std::string{} : first->remote_prefix) +
                               "$bridge/" + b.name + "/state";
    }
}

/// [[bridges]]: one remote broker each.
field bridge_array(std::string_view key, std::vector<bridge>& out) {
    return {key, [&out](context& cx, const toml::node& node, const std::string& path) {
        const auto* array = node.as_array();
        if (array == nullptr) {
            cx.error(node, path, "expected an array of tables, written [[bridges]]" + got(node));
            return;
        }
        for (std::size_t i = 0; i < array->size(); ++i) {
            const auto& element = *array->get(i);
            const auto element_path = path + '[' + std::to_string(i) + ']';
            bridge& b = out.emplace_back();
            std::string password;
            read_table(
                cx, element, element_path,
                {
                    nonempty_text("name", b.name),
                    addresses("address", b.addresses),
                    nonempty_text("client_id", b.client_id),
                    nonempty_text("username", b.username),
                    text("password", password),
                    integer("keepalive", b.keepalive, 5),
                    boolean("clean_session", b.clean_session),
                    boolean("try_private", b.try_private),
                    boolean("tls", b.tls),
                    nonempty_text("ca", b.ca),
                    nonempty_text("cert", b.cert),
                    nonempty_text("key", b.key),
                    boolean("insecure", b.insecure),
                    {"topics",
                     [&b](context& cx2, const toml::node& n, const std::string& p) {
                         const auto* topics = n.as_array();
                         if (topics == nullptr) {
                             cx2.error(n, p,
                                       "expected an array of tables, written [[bridges.topics]]" +
                                           got(n));
                             return;
                         }
                         for (std::size_t j = 0; j < topics->size(); ++j) {
                             read_bridge_topic(cx2, *topics->get(j),
                                               p + '[' + std::to_string(j) + ']',
                                               b.topics.emplace_back());
                         }
                     }},
                    nonempty_text("queue_file", b.queue_file),
                    integer("max_messages", b.max_messages),
                    integer("max_bytes", b.max_bytes),
                    one_of("when_full", b.when_full, full_policies),
                    boolean("queue_qos0", b.queue_qos0),
                    integer("max_inflight", b.max_inflight, 1),
                    duration("reconnect_min", b.reconnect_min, milliseconds(10),
                             milliseconds(1h)),
                    duration("reconnect_max", b.reconnect_max, milliseconds(10),
                             milliseconds(24h)),
                    boolean("notifications", b.notifications),
                    nonempty_text("notification_topic", b.notification_topic),
                });
            if (element.is_table()) {
                if (element.as_table()->contains("password")) {
                    b.password = password;
                }
                check_bridge(cx, element, element_path, b, element.as_table()->contains("tls"));
            }
            for (std::size_t j = 0; j + 1 < out.size(); ++j) {
                if (!b.name.empty() && out[j].name == b.name) {
                    cx.error(element, element_path,
                             "name " + double_quoted(b.name) + " is already used by " + path +
                                 '[' + std::to_string(j) + ']');
                }
            }
        }
    }};
}

/// [admin]: bind shares the listeners' "host:port" syntax; cert and key come as a pair.
field admin_table(std::string_view key, admin& out) {
    return {key, [&out](context& cx, const toml::node& node, const std::string& path) {
                listener bind;
                bind.host = out.host;
                bind.port = out.port;
                read_table(cx, node, path,
                           {
                               boolean("enabled", out.enabled),
                               bind_address("bind", bind),
                               text("users_file", out.users_file),
                               boolean("metrics_auth", out.metrics_auth),
                               text("cert", out.cert),
                               text("key", out.key),
                           });
                out.host = bind.host;
                out.port = bind.port;
                if (node.is_table() && out.cert.empty() != out.key.empty()) {
                    cx.error(node, path,
                             "HTTPS needs both cert and key, e.g. cert = "
                             "\"/etc/edgemq/admin.crt\" and key = \"/etc/edgemq/admin.key\"");
                }
                if (node.is_table() && out.enabled && out.users_file.empty()) {
                    cx.error(node, path,
                             "users_file must name a file, e.g. users_file = "
                             "\"/var/lib/edgemq/admins\"");
                }
            }};
}

// The file -----------------------------------------------------------------------------------

// In the order of log_level's enumerators.
constexpr std::array<std::string_view, 6> log_levels{"trace", "debug", "info",
                                                     "warn",  "error", "off"};
static_assert(static_cast<std::size_t>(log_level::off) == log_levels.size() - 1);

gateway read_gateway(context& cx, const toml::table& root) {
    gateway g;
    auto& b = g.broker;
    read_table(
        cx, root, "",
        {
            table("broker",
                  {
                      integer("threads", b.threads, 0, 256),
                      integer("max_packet_size", b.max_packet_size, 2, 268'435'455),
                      integer("max_connections", b.max_connections),
                      integer("max_inflight_messages", b.max_inflight_messages, 1),
                      integer("max_queued_messages", b.max_queued_messages),
                      boolean("queue_qos0_messages", b.queue_qos0_messages),
                      duration("connect_timeout", b.connect_timeout, milliseconds(1),
                               milliseconds(24h)),
                      duration("sys_interval", b.sys_interval, 0s, std::chrono::seconds(24h)),
                      integer("max_keepalive", b.max_keepalive),
                      integer("max_outbound_bytes", b.max_outbound_bytes, 1),
                  }),
            listener_array("listeners", g.listeners),
            table("log", {one_of("level", g.log.level, log_levels)}),
            admin_table("admin", g.admin),
            device_array("devices", g.devices),
            bridge_array("bridges", g.bridges),
        });
    if (g.listeners.empty()) {
        g.listeners = defaults().listeners;
    }
    return g;
}

} // namespace

gateway defaults() {
    gateway g;
    g.listeners.emplace_back();
    return g;
}

gateway load_string(std::string_view toml_text, std::string source_name) {
    toml::table root;
    try {
        root = toml::parse(toml_text, std::string_view(source_name));
    } catch (const toml::parse_error& e) {
        const auto where = e.source().begin;
        throw load_error(
            {{std::move(source_name), where.line, where.column, std::string(e.description())}});
    }
    context cx{std::move(source_name), {}};
    auto g = read_gateway(cx, root);
    if (!cx.diagnostics.empty()) {
        std::ranges::stable_sort(cx.diagnostics, {},
                                 [](const diagnostic& d) { return std::pair(d.line, d.column); });
        throw load_error(std::move(cx.diagnostics));
    }
    return g;
}

gateway load_file(const std::filesystem::path& path) {
    const auto fail = [&](const std::string& why) {
        return load_error({{path.string(), 0, 0, "cannot read the configuration: " + why}});
    };
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        throw fail("it is a directory");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw fail(std::strerror(errno)); // errno from the open(2) under the failed ifstream
    }
    const std::string text(std::istreambuf_iterator<char>(in), {});
    return load_string(text, path.string());
}

} // namespace edgemq::config
