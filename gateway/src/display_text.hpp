// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <boost/json/value.hpp>

#include <cstdint>
#include <string>

/// Values of the admin API as `edgemq ctl` shows them to a person.
/// Thread safety: all functions are pure.
namespace edgemq::app {

/// A string without its quotes, null as nothing, anything else as its JSON.
std::string text_of(const boost::json::value& v);

/// As text_of, but numbers in their shortest form (25.1, not Boost.JSON's 2.51E1).
std::string value_text(const boost::json::value& v);

/// `{"temp":25.1,"hum":60}` as `temp=25.1 hum=60`; anything but an object as its JSON. `ts`
/// is left out: the time is shown on its own.
std::string values_text(const boost::json::value& v);

/// Seconds as `1d 2h 3m 4s` (the days only when there are any).
std::string duration_text(std::uint64_t seconds);

/// Unix seconds as UTC in ISO 8601, `2024-05-01T12:00:00Z`.
std::string utc_text(std::int64_t unix_seconds);

} // namespace edgemq::app
