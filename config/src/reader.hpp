// SPDX-License-Identifier: Apache-2.0
#pragma once

// The machinery that every section of the configuration is read with (private to
// edgemq_config; the only header besides the .cpp files that includes toml++).
//
// Every table is read against a list of fields: a key and a function that checks its value and
// stores it. Reading never stops at a problem: each one becomes a diagnostic at the position
// toml++ recorded for the offending key or value, and all of them leave together in one
// load_error, sorted back into file order (toml++ tables iterate in key order). Messages read
// "<dotted.path>: <what is wrong>; <what would be right>".

#include <edgemq/config/load.hpp>
#include <edgemq/config/model.hpp>

#include <toml++/toml.h>

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace edgemq::config::detail {

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

using names = std::span<const std::string_view>;

// Wording -------------------------------------------------------------------------------------

inline std::string double_quoted(std::string_view text) {
    return '"' + std::string(text) + '"';
}

inline std::string single_quoted(std::string_view text) {
    return '\'' + std::string(text) + '\'';
}

/// "an integer", "a string"...: what the user wrote, for "expected X, got Y".
std::string_view described(toml::node_type type);

/// ", got an integer": the node's type, for "expected X, got Y".
std::string got(const toml::node& node);

/// The value as the user wrote it, for "must be between A and B, got X".
std::string shown(const toml::node& node);

/// "A, B, C", each shown by `show`.
std::string listed(names candidates, std::string (*show)(std::string_view));

/// "; did you mean X?" when a candidate is close to `word`, else "".
std::string did_you_mean(std::string_view word, names candidates,
                         std::string (*show)(std::string_view));

// Tables --------------------------------------------------------------------------------------

/// Reads each key of the table `node` with its field in `known`; an unknown key is reported
/// with the closest known one, or with the list of all of them.
void read_table(context& cx, const toml::node& node, const std::string& path, const fields& known);

/// A sub-table read against `known`.
field table(std::string_view key, fields known);

/// The path of element `i` of the array at `array_path`: "devices[2]".
inline std::string item_path(const std::string& array_path, std::size_t i) {
    return array_path + '[' + std::to_string(i) + ']';
}

/// An array of tables, written `[[written]]`: `read_one(cx, element, array_path, i)` reads
/// element i; anything but an array is an error that shows how the array is written.
template <class ReadOne>
field table_array(std::string_view key, std::string written, ReadOne read_one) {
    return {key, [written = std::move(written), read_one = std::move(read_one)](
                     context& cx, const toml::node& node, const std::string& path) {
                const auto* array = node.as_array();
                if (array == nullptr) {
                    cx.error(node, path,
                             "expected an array of tables, written [[" + written + "]]" +
                                 got(node));
                    return;
                }
                for (std::size_t i = 0; i < array->size(); ++i) {
                    read_one(cx, *array->get(i), path, i);
                }
            }};
}

// Scalars -------------------------------------------------------------------------------------

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

field boolean(std::string_view key, bool& out);

field optional_boolean(std::string_view key, std::optional<bool>& out);

/// A TOML integer or floating-point number.
field real(std::string_view key, double& out);

field optional_real(std::string_view key, std::optional<double>& out);

/// A string value, or nullopt after reporting that it is not one.
std::optional<std::string_view> read_string(context& cx, const toml::node& node,
                                            const std::string& path);

/// A string stored as is (file paths, URL paths).
field text(std::string_view key, std::string& out);

/// A string that must not be empty.
field nonempty_text(std::string_view key, std::string& out);

field text_array(std::string_view key, std::vector<std::string>& out);

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

/// Letters, digits, '_' and '-': what device ids, command names and bridge names may hold.
bool is_id_char(char c);

/// "host:port" or "[ipv6]:port" into out.host and out.port; else what is wrong with it.
/// Listeners, [admin] and bridge addresses share this syntax.
std::optional<std::string> parse_bind(std::string_view text, listener& out);

// Durations -----------------------------------------------------------------------------------

/// count * unit, saturated so that an overflow still fails the range check.
milliseconds scaled(std::int64_t count, std::int64_t unit_ms);

/// "<integer><unit>", e.g. "500ms", or a bare "0"; nullopt if `text` is not of that form.
std::optional<milliseconds> parse_duration(std::string_view text);

/// The largest unit that shows `d` exactly: "10s", "24h", "1500ms".
std::string format_duration(milliseconds d);

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

} // namespace edgemq::config::detail
