// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace edgemq::broker::detail {

/// Hashes std::string and std::string_view alike, so that maps keyed by std::string can be
/// searched with a string_view without building a string (C++20 heterogeneous lookup).
/// Thread safety: stateless.
struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        return std::hash<std::string_view>{}(s);
    }
};

/// An unordered_map from std::string that string_views can search.
template <typename Value>
using string_map = std::unordered_map<std::string, Value, string_hash, std::equal_to<>>;

} // namespace edgemq::broker::detail
