// SPDX-License-Identifier: Apache-2.0
#pragma once

/// The regex dialect of device configuration (parser `pattern`, command `reply`): ECMAScript as
/// std::regex reads it, plus named groups `(?<name>...)`, which std::regex lacks and which are
/// turned into plain groups whose names are kept aside. Header-only so that the loader checks a
/// pattern exactly as the serial driver compiles it.
/// Thread safety: free functions without shared state.

#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edgemq::config {

/// `pattern` with `(?<name>` turned into `(` for std::regex, and the name of every capturing
/// group in order ("1", "2"... for unnamed ones).
inline std::pair<std::string, std::vector<std::string>>
strip_named_groups(std::string_view pattern) {
    std::string out;
    std::vector<std::string> names;
    bool in_class = false;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        const char c = pattern[i];
        if (c == '\\' && i + 1 < pattern.size()) {
            out += pattern.substr(i, 2);
            ++i;
            continue;
        }
        if (in_class) {
            in_class = c != ']';
            out.push_back(c);
            continue;
        }
        if (c == '[') {
            in_class = true;
        } else if (c == '(') {
            const auto rest = pattern.substr(i + 1);
            if (rest.starts_with("?<") && !rest.starts_with("?<=") && !rest.starts_with("?<!")) {
                const auto close = rest.find('>');
                if (close != std::string_view::npos) {
                    names.emplace_back(rest.substr(2, close - 2));
                    out.push_back('(');
                    i += close + 1;
                    continue;
                }
            } else if (!rest.starts_with("?")) {
                names.push_back(std::to_string(names.size() + 1));
            }
        }
        out.push_back(c);
    }
    return {out, names};
}

/// Why `pattern` does not compile, or "" when it does.
inline std::string regex_problem(std::string_view pattern) {
    try {
        std::regex(strip_named_groups(pattern).first, std::regex::ECMAScript);
        return {};
    } catch (const std::regex_error& e) {
        return e.what();
    }
}

} // namespace edgemq::config
