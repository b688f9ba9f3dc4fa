// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/config/model.hpp"
#include "edgemq/config/regex.hpp"

#include <cstddef>
#include <cstdint>
#include <regex>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace edgemq::serial {

/// A typed field value.
using value = std::variant<bool, std::int64_t, double, std::string>;

/// One published field: its name (the field's name, or the parser's key when no field entry
/// names it) and its typed, scaled value.
struct named_value {
    std::string name;
    serial::value value;

    bool operator==(const named_value&) const = default;
};

/// What one frame gave: the values that parsed, and one message per problem. A frame with
/// problems and no values is unparsable (counted, published to {base}/{device}/log); one with
/// both published its good values and counts the bad ones.
struct parse_result {
    std::vector<named_value> values;
    std::vector<std::string> errors;
};

/// Frame text to named typed values (Sans-I/O), per `[devices.parser]` and `[devices.fields]`:
/// raw (field "value"), kv, csv with named columns ("_" skips one), json (one object; nested
/// keys joined with '.', arrays kept as JSON text, null skipped), regex (ECMAScript with
/// `(?<name>...)` groups; unnamed groups are called "1", "2"...; frames longer than
/// max_regex_frame are refused, as std::regex recurses per character). Numbers are scaled as
/// value * scale + offset; an int with a scale or offset becomes a float.
/// Thread safety: parse() is const and may run concurrently.
class parser {
public:
    /// The longest frame the regex parser matches (bytes).
    static constexpr std::size_t max_regex_frame = 4096;

    /// Throws std::invalid_argument naming the device if the regex does not compile.
    explicit parser(const config::device& device);

    parse_result parse(std::string_view frame) const;

private:
    struct token {
        std::string key;
        std::string text;
        bool quoted = false; ///< a JSON string: never auto-typed as a number
    };
    std::vector<token> tokenize(std::string_view frame, std::vector<std::string>& errors) const;

    config::device_parser options_;
    std::vector<config::device_field> fields_;
    std::regex regex_;
    std::vector<std::string> group_names_;
};

/// Named groups for std::regex; shared with the config loader, which checks patterns with it.
using config::strip_named_groups;

/// `v` converted to `type` and scaled; an error message if it does not convert.
std::variant<value, std::string> typed(std::string_view text, bool quoted,
                                       const config::device_field& field);

} // namespace edgemq::serial
