// SPDX-License-Identifier: Apache-2.0
#include "display_text.hpp"

#include <boost/json.hpp>

#include <charconv>
#include <ctime>
#include <iomanip>
#include <sstream>

namespace edgemq::app {

namespace json = boost::json;

std::string text_of(const json::value& v) {
    if (v.is_string()) {
        return std::string(v.as_string().data(), v.as_string().size());
    }
    if (v.is_null()) {
        return "";
    }
    return json::serialize(v);
}

std::string value_text(const json::value& v) {
    if (v.is_double()) {
        char buf[64];
        const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.get_double());
        return ec == std::errc() ? std::string(buf, end) : json::serialize(v);
    }
    return text_of(v);
}

std::string values_text(const json::value& v) {
    if (!v.is_object()) {
        return v.is_null() ? "" : json::serialize(v);
    }
    std::string out;
    for (const auto& [key, value] : v.as_object()) {
        if (key == "ts") {
            continue;
        }
        if (!out.empty()) {
            out += ' ';
        }
        out += std::string(key) + '=' + value_text(value);
    }
    return out;
}

std::string duration_text(std::uint64_t seconds) {
    const auto s = seconds;
    std::ostringstream out;
    if (s >= 86400) {
        out << s / 86400 << "d ";
    }
    out << (s / 3600) % 24 << "h " << (s / 60) % 60 << "m " << s % 60 << "s";
    return out.str();
}

std::string utc_text(std::int64_t unix_seconds) {
    const std::time_t t = unix_seconds;
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::ostringstream s;
    s << std::put_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
    return s.str();
}

} // namespace edgemq::app
