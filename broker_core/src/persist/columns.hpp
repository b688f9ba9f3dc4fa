// SPDX-License-Identifier: Apache-2.0
#pragma once

// How the stores put values into SQLite and read them back (session_db, retained_db).

#include "edgemq/broker/codec/encode.hpp"
#include "edgemq/broker/codec/properties.hpp"

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace edgemq::broker::persist::columns {

using steady = std::chrono::steady_clock;
using system = std::chrono::system_clock;

/// A steady-clock deadline as Unix milliseconds (0: none), so that it means the same after a
/// restart.
inline std::int64_t to_unix_ms(steady::time_point t) {
    if (t == steady::time_point{}) {
        return 0;
    }
    const auto at = system::now() + std::chrono::duration_cast<system::duration>(t - steady::now());
    return std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count();
}

inline steady::time_point from_unix_ms(std::int64_t ms) {
    if (ms == 0) {
        return {};
    }
    const auto at = system::time_point{std::chrono::milliseconds(ms)};
    return steady::now() + std::chrono::duration_cast<steady::duration>(at - system::now());
}

// Static bindings: the batch that holds the values outlives the statement's step.
inline void bind_text(sqlite3_stmt* s, int i, std::string_view v) {
    sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}
inline void bind_blob(sqlite3_stmt* s, int i, std::string_view v) {
    // A zero-length blob, never NULL: payload is NOT NULL.
    sqlite3_bind_blob(s, i, v.empty() ? "" : v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}
inline void bind_props(sqlite3_stmt* s, int i, const codec::property_set& p) {
    if (p.empty()) {
        sqlite3_bind_null(s, i);
        return;
    }
    codec::byte_buffer bytes;
    codec::encode_properties(p.get(), bytes);
    sqlite3_bind_blob(s, i, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
}

inline std::string column_text(sqlite3_stmt* s, int i) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
    return p == nullptr ? std::string{} : std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, i)));
}
inline std::string column_blob(sqlite3_stmt* s, int i) {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(s, i));
    return p == nullptr ? std::string{} : std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, i)));
}
inline codec::property_set column_props(sqlite3_stmt* s, int i) {
    const auto bytes = column_blob(s, i);
    if (bytes.empty()) {
        return {};
    }
    auto decoded = codec::decode_properties(
        {reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()},
        codec::property_scope::publish);
    return decoded ? codec::property_set{std::move(decoded->first)} : codec::property_set{};
}

} // namespace edgemq::broker::persist::columns
