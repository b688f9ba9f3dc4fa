// SPDX-License-Identifier: Apache-2.0
#pragma once

// Private to broker_core: what the password and ACL file readers share.

#include <string_view>

namespace edgemq::broker::auth {

/// White space around a line or a word of a Mosquitto-format file.
constexpr std::string_view blanks = " \t\r\n\v\f";

/// `s` without leading and trailing white space.
constexpr std::string_view trim(std::string_view s) noexcept {
    const auto first = s.find_first_not_of(blanks);
    if (first == std::string_view::npos) {
        return {};
    }
    return s.substr(first, s.find_last_not_of(blanks) - first + 1);
}

} // namespace edgemq::broker::auth
