// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <spdlog/formatter.h>

#include <memory>
#include <string>
#include <string_view>

/// The one format of every log line the gateway writes, with the message escaped: client ids,
/// user names, topics, device lines and remote errors come from the network or a device, and a
/// newline or a terminal escape in one of them must not forge a line or rewrite the screen.
namespace edgemq::app {

/// `text` with control characters (C0, DEL, C1), backslashes and bytes that are not UTF-8
/// written as escapes (\n, \t, \\, \x1b, \u009b); everything else, UTF-8 included, unchanged.
std::string escape_for_log(std::string_view text);

/// "2026-12-03T09:00:00.123 info broker: <escaped message>", for spdlog::logger::set_formatter.
std::unique_ptr<spdlog::formatter> make_log_formatter();

} // namespace edgemq::app
