// SPDX-License-Identifier: Apache-2.0
#include "edgemq/serial/command.hpp"

#include "edgemq/serial/mapping.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace edgemq::serial {
namespace {

std::string_view trimmed(std::string_view s) {
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) {
        return {};
    }
    return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

std::string replaced(std::string text, std::string_view key, std::string_view with) {
    for (auto pos = text.find(key); pos != std::string::npos;
         pos = text.find(key, pos + with.size())) {
        text.replace(pos, key.size(), with);
    }
    return text;
}

std::string bounds(const config::device_command& c) {
    const auto show = [](double d) {
        char buf[32];
        const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
        return std::string(buf, ec == std::errc() ? end : buf);
    };
    if (c.min && c.max) {
        return " between " + show(*c.min) + " and " + show(*c.max);
    }
    if (c.min) {
        return " of at least " + show(*c.min);
    }
    return c.max ? " of at most " + show(*c.max) : "";
}

} // namespace

encoded_command encode_command(const config::device_command& c, std::string_view payload,
                               std::uint64_t seq, std::string_view device, std::string_view eol) {
    std::string value;
    const auto t = trimmed(payload);
    const auto in_range = [&](double d) {
        return (!c.min || d >= *c.min) && (!c.max || d <= *c.max);
    };
    switch (c.type) {
    case config::command_type::none:
        break;
    case config::command_type::string:
        if (payload.size() > c.max_length) {
            return {{}, "payload longer than " + std::to_string(c.max_length) + " bytes"};
        }
        if (payload.find_first_of("\r\n") != std::string_view::npos ||
            (!eol.empty() && payload.find(eol) != std::string_view::npos)) {
            return {{}, "payload must not contain an end of line"};
        }
        value = payload;
        break;
    case config::command_type::integer: {
        std::int64_t i = 0;
        const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), i);
        if (t.empty() || ec != std::errc() || end != t.data() + t.size() ||
            !in_range(static_cast<double>(i))) {
            return {{}, "expected an integer" + bounds(c) + ", got " + json_string(payload)};
        }
        value = std::to_string(i);
        break;
    }
    case config::command_type::number: {
        double d = 0;
        const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), d);
        if (t.empty() || ec != std::errc() || end != t.data() + t.size() || !std::isfinite(d) ||
            !in_range(d)) {
            return {{}, "expected a number" + bounds(c) + ", got " + json_string(payload)};
        }
        value = t;
        break;
    }
    case config::command_type::boolean:
        if (t == "true" || t == "on" || t == "1" || t == "ON" || t == "true") {
            value = "1";
        } else if (t == "false" || t == "off" || t == "0" || t == "OFF") {
            value = "0";
        } else {
            return {{}, "expected true/false, on/off or 1/0, got " + json_string(payload)};
        }
        break;
    case config::command_type::enumeration:
        if (std::ranges::find(c.values, t) == c.values.end()) {
            std::string list;
            for (const auto& v : c.values) {
                list += (list.empty() ? "" : ", ") + json_string(v);
            }
            return {{}, "expected one of " + list + ", got " + json_string(payload)};
        }
        value = t;
        break;
    }
    auto bytes = replaced(c.format, "{seq}", std::to_string(seq));
    bytes = replaced(std::move(bytes), "{device}", device);
    bytes = replaced(std::move(bytes), "{value}", value);
    if (c.append_eol) {
        bytes += eol;
    }
    return {std::move(bytes), {}};
}

std::string reply_pattern(const config::device_command& command, std::uint64_t seq) {
    return replaced(command.reply, "{seq}", std::to_string(seq));
}

std::string response_json(bool ok, std::uint64_t seq, std::string_view reply_or_error) {
    return std::string("{\"ok\":") + (ok ? "true" : "false") + ",\"seq\":" + std::to_string(seq) +
           (ok ? ",\"reply\":" : ",\"error\":") + json_string(reply_or_error) + '}';
}

} // namespace edgemq::serial
