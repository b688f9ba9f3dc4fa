// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/config/model.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace edgemq::serial {

/// A command's bytes, or why its payload was refused.
struct encoded_command {
    std::string bytes; ///< what to write, end of line included
    std::string error; ///< empty when the payload is valid

    bool ok() const noexcept { return error.empty(); }
};

/// An MQTT command payload to the bytes written to the port (Sans-I/O), validated first:
/// string (at most max_length bytes, no CR/LF or delimiter, which would split it into frames),
/// int and float (within min/max), bool (true/false, on/off, 1/0 → "1"/"0"), enum (one of
/// values), none (payload ignored). Then `format` with {value}, {seq} and {device}, plus `eol`
/// when append_eol.
/// Thread safety: a pure function.
encoded_command encode_command(const config::device_command& command, std::string_view payload,
                               std::uint64_t seq, std::string_view device, std::string_view eol);

/// The command's reply regex with {seq} filled in; empty when no reply is awaited.
std::string reply_pattern(const config::device_command& command, std::uint64_t seq);

/// The response JSON: {"ok":true,"seq":N,"reply":"..."} or {"ok":false,"seq":N,"error":"..."}.
std::string response_json(bool ok, std::uint64_t seq, std::string_view reply_or_error);

} // namespace edgemq::serial
