// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/message.hpp"
#include "edgemq/broker/token_bucket.hpp"
#include "edgemq/config/model.hpp"
#include "edgemq/serial/parser.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edgemq::serial {

using steady_time = std::chrono::steady_clock::time_point;

/// "{base}/{device}/{field}" with the placeholders filled in.
std::string expand_topic(std::string_view pattern, std::string_view base, std::string_view device,
                         std::string_view field = {});

/// `s` as a JSON string literal, quotes included.
std::string json_string(std::string_view s);
/// A value as JSON (strings quoted, non-finite numbers null).
std::string to_json(const value& v);
/// A value as a plain MQTT payload ("25.1", "60", "true", or the string itself).
std::string to_text(const value& v);
/// {"name":value,...,"ts":ts_ms}.
std::string state_json(const std::vector<named_value>& values, std::int64_t ts_ms);

/// Values to MQTT messages (Sans-I/O; time is passed in): the JSON state on state_topic and,
/// if configured, one message per field on field_topic. Rate policy:
/// - deadband: when any field has one, a frame in which no field changed (a number by at least
///   its deadband, anything else at all) since the last publish is suppressed;
/// - min_interval: at most one publish per interval; frames in between are held, the latest
///   wins, and go out from on_timer() when the interval is over;
/// - max_interval: the last state is published again (new ts) after that long without one.
/// Thread safety: none; one mapper belongs to one device.
class mapper {
public:
    explicit mapper(const config::device& device);

    /// A parsed frame at `now`; `ts_ms` is the wall clock in Unix milliseconds for "ts".
    std::vector<broker::message> on_frame(std::vector<named_value> values, steady_time now,
                                          std::int64_t ts_ms);
    /// Called at (or after) next_timer().
    std::vector<broker::message> on_timer(steady_time now, std::int64_t ts_ms);
    /// When on_timer() has work next, if ever.
    std::optional<steady_time> next_timer() const;

    /// Frames not published because of deadband or superseded within min_interval.
    std::uint64_t suppressed() const noexcept { return suppressed_; }

private:
    bool changed(const std::vector<named_value>& values) const;
    std::vector<broker::message> publish(std::vector<named_value> values, steady_time now,
                                         std::int64_t ts_ms);

    std::string id_;
    config::device_publish options_;
    std::map<std::string, double, std::less<>> deadbands_;
    std::vector<named_value> last_;
    std::optional<steady_time> last_time_;
    std::optional<std::vector<named_value>> pending_;
    std::uint64_t suppressed_ = 0;
};

/// Rate-limits a device's log lines (a garbled line a second, bursts of five).
using rate_limiter = broker::token_bucket;

} // namespace edgemq::serial
