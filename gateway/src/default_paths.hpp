// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <filesystem>
#include <optional>

/// The gateway's installed paths (DESIGN.md, "Command line and files"). The state files under
/// /var/lib/edgemq are defaults of the config model (config/model.hpp), not listed here.
/// Thread safety: constants, and a function that only asks the file system.
namespace edgemq::app {

/// The configuration `edgemq`, `edgemq ports` and `edgemq ctl admins` read when given none.
inline constexpr const char* default_config_file = "/etc/edgemq/edgemq.toml";

/// default_config_file if it exists; nullopt means: run on the embedded defaults.
inline std::optional<std::filesystem::path> installed_config_file() {
    if (std::filesystem::exists(default_config_file)) {
        return std::filesystem::path{default_config_file};
    }
    return std::nullopt;
}

} // namespace edgemq::app
