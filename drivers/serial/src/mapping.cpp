// SPDX-License-Identifier: Apache-2.0
#include "edgemq/serial/mapping.hpp"

#include "edgemq/broker/hex.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace edgemq::serial {

std::string expand_topic(std::string_view pattern, std::string_view base, std::string_view device,
                         std::string_view field) {
    std::string out;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        const auto rest = pattern.substr(i);
        if (rest.starts_with("{base}")) {
            out += base;
            i += 5;
        } else if (rest.starts_with("{device}")) {
            out += device;
            i += 7;
        } else if (rest.starts_with("{field}")) {
            out += field;
            i += 6;
        } else {
            out.push_back(pattern[i]);
        }
    }
    return out;
}

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                out += "\\u00";
                out.push_back(broker::hex_digits[(c >> 4) & 0xF]);
                out.push_back(broker::hex_digits[c & 0xF]);
            } else {
                out.push_back(c);
            }
        }
    }
    return out + '"';
}

std::string to_text(const value& v) {
    struct visitor {
        std::string operator()(bool b) const { return b ? "true" : "false"; }
        std::string operator()(std::int64_t i) const { return std::to_string(i); }
        std::string operator()(double d) const {
            if (!std::isfinite(d)) {
                return "null";
            }
            char buf[32];
            const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
            return ec == std::errc() ? std::string(buf, end) : "null";
        }
        std::string operator()(const std::string& s) const { return s; }
    };
    return std::visit(visitor{}, v);
}

std::string to_json(const value& v) {
    if (const auto* s = std::get_if<std::string>(&v)) {
        return json_string(*s);
    }
    return to_text(v);
}

std::string state_json(const std::vector<named_value>& values, std::int64_t ts_ms) {
    std::string out = "{";
    for (const auto& [name, v] : values) {
        out += json_string(name) + ':' + to_json(v) + ',';
    }
    return out + "\"ts\":" + std::to_string(ts_ms) + '}';
}

mapper::mapper(const config::device& device) : id_(device.id), options_(device.publish) {
    for (const auto& f : device.fields) {
        if (f.deadband) {
            deadbands_.emplace(f.name, *f.deadband);
        }
    }
}

namespace {

std::optional<double> numeric(const value& v) {
    if (const auto* i = std::get_if<std::int64_t>(&v)) {
        return static_cast<double>(*i);
    }
    if (const auto* d = std::get_if<double>(&v)) {
        return *d;
    }
    return std::nullopt;
}

} // namespace

bool mapper::changed(const std::vector<named_value>& values) const {
    if (!last_time_) {
        return true;
    }
    for (const auto& [name, v] : values) {
        const auto before = std::ranges::find(last_, name, &named_value::name);
        if (before == last_.end()) {
            return true;
        }
        const auto band = deadbands_.find(name);
        const auto a = numeric(v);
        const auto b = numeric(before->value);
        if (band != deadbands_.end() && a && b) {
            if (std::abs(*a - *b) >= band->second) {
                return true;
            }
        } else if (!(v == before->value)) {
            return true;
        }
    }
    return false;
}

std::vector<broker::message> mapper::publish(std::vector<named_value> values, steady_time now,
                                             std::int64_t ts_ms) {
    std::vector<broker::message> out;
    if (options_.state) {
        out.push_back({expand_topic(options_.state_topic, options_.base, id_),
                       state_json(values, ts_ms), options_.qos, options_.retain, 0});
    }
    if (options_.fields) {
        for (const auto& [name, v] : values) {
            out.push_back({expand_topic(options_.field_topic, options_.base, id_, name),
                           to_text(v), options_.qos, options_.retain, 0});
        }
    }
    last_ = std::move(values);
    last_time_ = now;
    pending_.reset();
    return out;
}

std::vector<broker::message> mapper::on_frame(std::vector<named_value> values, steady_time now,
                                              std::int64_t ts_ms) {
    if (!deadbands_.empty() && !changed(values)) {
        ++suppressed_;
        return {};
    }
    if (options_.min_interval.count() > 0 && last_time_ &&
        now - *last_time_ < options_.min_interval) {
        if (pending_) {
            ++suppressed_; // superseded: the latest wins
        }
        pending_ = std::move(values);
        return {};
    }
    return publish(std::move(values), now, ts_ms);
}

std::vector<broker::message> mapper::on_timer(steady_time now, std::int64_t ts_ms) {
    const auto due = next_timer();
    if (!due || now < *due) {
        return {};
    }
    if (pending_) {
        return publish(std::move(*pending_), now, ts_ms);
    }
    return publish(last_, now, ts_ms); // max_interval heartbeat
}

std::optional<steady_time> mapper::next_timer() const {
    if (pending_ && last_time_) {
        return *last_time_ + options_.min_interval;
    }
    if (options_.max_interval.count() > 0 && last_time_) {
        return *last_time_ + options_.max_interval;
    }
    return std::nullopt;
}

} // namespace edgemq::serial
