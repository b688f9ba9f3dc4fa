// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/config/model.hpp"

#include <filesystem>
#include <optional>

namespace edgemq::app {

/// Runs the gateway until SIGINT or SIGTERM; returns the process exit code.
/// `config_file` empty means the embedded defaults.
int run(const std::optional<std::filesystem::path>& config_file);

/// Validates a configuration file and prints every error; returns the process exit code.
int check_config(const std::filesystem::path& config_file);

} // namespace edgemq::app
