// SPDX-License-Identifier: Apache-2.0
#include "edgemq/serial/parser.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace edgemq::serial {
namespace {

std::string_view trimmed(std::string_view s) {
    const auto first = s.find_first_not_of(" \t");
    if (first == std::string_view::npos) {
        return {};
    }
    return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

/// `s` cut at each `sep`; an empty `sep` (the loader allows `pair_separator = ""`) cuts nothing
/// instead of matching at every position forever.
std::vector<std::string_view> split(std::string_view s, std::string_view sep) {
    if (sep.empty()) {
        return {s};
    }
    std::vector<std::string_view> parts;
    for (std::size_t pos = 0;;) {
        const auto next = s.find(sep, pos);
        parts.push_back(s.substr(pos, next - pos));
        if (next == std::string_view::npos) {
            return parts;
        }
        pos = next + sep.size();
    }
}

std::optional<std::int64_t> as_int(std::string_view s) {
    std::int64_t v = 0;
    if (!s.empty() && s.front() == '+') {
        s.remove_prefix(1);
    }
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
        return std::nullopt;
    }
    return v;
}

std::optional<double> as_double(std::string_view s) {
    double v = 0;
    if (!s.empty() && s.front() == '+') {
        s.remove_prefix(1);
    }
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) {
        return std::nullopt;
    }
    return v;
}

std::optional<bool> as_bool(std::string_view s) {
    for (const auto t : {"true", "on", "yes", "1", "TRUE", "ON", "YES", "True", "On", "Yes"}) {
        if (s == t) {
            return true;
        }
    }
    for (const auto f : {"false", "off", "no", "0", "FALSE", "OFF", "NO", "False", "Off", "No"}) {
        if (s == f) {
            return false;
        }
    }
    return std::nullopt;
}

void flatten(const boost::json::value& v, const std::string& key,
             std::vector<std::pair<std::string, const boost::json::value*>>& out) {
    if (const auto* object = v.if_object()) {
        for (const auto& [k, child] : *object) {
            flatten(child, key.empty() ? std::string(k) : key + '.' + std::string(k), out);
        }
    } else {
        out.emplace_back(key, &v);
    }
}

} // namespace

std::variant<value, std::string> typed(std::string_view text, bool quoted,
                                       const config::device_field& field) {
    const auto number = [&](double v) -> value { return v * field.scale + field.offset; };
    const bool scaled = field.scale != 1.0 || field.offset != 0.0;
    const auto integer = [&](std::int64_t v) -> value {
        return scaled ? number(static_cast<double>(v)) : value(v);
    };
    const auto t = trimmed(text);
    switch (field.type) {
    case config::field_type::automatic:
        if (!quoted) {
            if (const auto i = as_int(t)) {
                return integer(*i);
            }
            if (const auto d = as_double(t)) {
                return number(*d);
            }
            if (t == "true" || t == "false") {
                return value(t == "true");
            }
        }
        return value(std::string(text));
    case config::field_type::integer:
        if (const auto i = as_int(t)) {
            return integer(*i);
        }
        return "expected an integer, got \"" + std::string(text) + "\"";
    case config::field_type::number:
        if (const auto d = as_double(t)) {
            return number(*d);
        }
        return "expected a number, got \"" + std::string(text) + "\"";
    case config::field_type::boolean:
        if (const auto b = as_bool(t)) {
            return value(*b);
        }
        return "expected true/false, on/off, yes/no or 1/0, got \"" + std::string(text) + "\"";
    case config::field_type::string:
        return value(std::string(text));
    }
    return value(std::string(text));
}

parser::parser(const config::device& device) : options_(device.parser), fields_(device.fields) {
    if (options_.kind == config::parser_kind::regex) {
        auto [pattern, names] = strip_named_groups(options_.pattern);
        try {
            regex_ = std::regex(pattern, std::regex::ECMAScript);
        } catch (const std::regex_error& e) {
            throw std::invalid_argument("device " + device.id + ": parser.pattern \"" +
                                        options_.pattern + "\" is not a valid regex: " +
                                        e.what());
        }
        group_names_ = std::move(names);
    }
}

std::vector<parser::token> parser::tokenize(std::string_view frame,
                                            std::vector<std::string>& errors) const {
    std::vector<token> tokens;
    switch (options_.kind) {
    case config::parser_kind::raw:
        tokens.push_back({"value", std::string(frame), true});
        break;
    case config::parser_kind::kv:
        for (const auto piece : split(frame, options_.pair_separator)) {
            const auto pair = trimmed(piece);
            if (pair.empty()) {
                continue;
            }
            const auto sep = pair.find(options_.kv_separator);
            const auto key = trimmed(pair.substr(0, sep));
            if (sep == std::string_view::npos || key.empty()) {
                errors.push_back("expected key" + options_.kv_separator + "value, got \"" +
                                 std::string(pair) + "\"");
                continue;
            }
            tokens.push_back({std::string(key),
                              std::string(trimmed(pair.substr(sep + options_.kv_separator.size()))),
                              false});
        }
        break;
    case config::parser_kind::csv: {
        const auto cells = split(frame, options_.separator);
        if (cells.size() < options_.columns.size()) {
            errors.push_back("expected " + std::to_string(options_.columns.size()) +
                             " columns, got " + std::to_string(cells.size()));
            break;
        }
        for (std::size_t i = 0; i < options_.columns.size(); ++i) {
            if (options_.columns[i] != "_") {
                tokens.push_back({options_.columns[i], std::string(trimmed(cells[i])), false});
            }
        }
        break;
    }
    case config::parser_kind::json: {
        boost::system::error_code ec;
        const auto parsed = boost::json::parse(frame, ec);
        if (ec || !parsed.is_object()) {
            errors.push_back(ec ? "not JSON: " + ec.message() : "expected a JSON object");
            break;
        }
        std::vector<std::pair<std::string, const boost::json::value*>> flat;
        flatten(parsed, "", flat);
        for (const auto& [key, v] : flat) {
            if (v->is_null()) {
                continue;
            }
            if (const auto* s = v->if_string()) {
                tokens.push_back({key, std::string(*s), true});
            } else {
                tokens.push_back({key, boost::json::serialize(*v), v->is_array()});
            }
        }
        break;
    }
    case config::parser_kind::regex: {
        // libstdc++'s std::regex matches by recursion, about one stack frame per character for
        // a repeated group: on an 8 MiB stack `T(?<t>[0-9.]+)` overflowed at 64,000 digits and
        // `(a|b)*c` at 16,000 (max_frame_bytes allows 1 MiB). Longer frames are refused.
        if (frame.size() > max_regex_frame) {
            errors.push_back("frame of " + std::to_string(frame.size()) +
                             " bytes is longer than the " + std::to_string(max_regex_frame) +
                             " that the regex parser matches");
            break;
        }
        std::cmatch m;
        if (!std::regex_search(frame.data(), frame.data() + frame.size(), m, regex_)) {
            errors.emplace_back("does not match parser.pattern");
            break;
        }
        for (std::size_t i = 0; i < group_names_.size() && i + 1 < m.size(); ++i) {
            if (m[i + 1].matched) {
                tokens.push_back({group_names_[i], m[i + 1].str(), false});
            }
        }
        break;
    }
    }
    return tokens;
}

parse_result parser::parse(std::string_view frame) const {
    parse_result result;
    for (auto& t : tokenize(frame, result.errors)) {
        const auto it = std::ranges::find(fields_, t.key, &config::device_field::source);
        config::device_field automatic;
        const auto& field = it != fields_.end() ? *it : automatic;
        auto v = typed(t.text, t.quoted, field);
        if (auto* error = std::get_if<std::string>(&v)) {
            result.errors.push_back(t.key + ": " + *error);
            continue;
        }
        result.values.push_back(
            {it != fields_.end() ? it->name : std::move(t.key), std::get<value>(std::move(v))});
    }
    return result;
}

} // namespace edgemq::serial
