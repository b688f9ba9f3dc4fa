// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <span>
#include <string_view>

namespace edgemq::app {

/// `edgemq ports [--config FILE]`: the machine's serial ports, their /dev/serial/by-id names and
/// the configured device each one matches. Returns the process exit code.
int ports_main(std::span<const std::string_view> args);

} // namespace edgemq::app
