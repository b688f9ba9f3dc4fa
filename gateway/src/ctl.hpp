// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <span>
#include <string_view>

namespace edgemq::app {

/// `edgemq ctl [--url URL] [--user U --password P] COMMAND`: talks to a running gateway's admin
/// API (status, clients list|kick, devices list|restart, bridges list), or edits the admin users
/// file directly (admins add|passwd|del, like `emqx ctl admins`). The login comes from --user
/// and --password, else from EDGEMQ_ADMIN_USER and EDGEMQ_ADMIN_PASSWORD. `args` are the
/// arguments after `ctl`; returns the process exit code (0 done, 1 failed, 2 bad usage).
/// Thread safety: runs on the main thread of the process.
int ctl_main(std::span<const std::string_view> args);

/// The usage text of `edgemq ctl`.
extern const char* const ctl_usage;

} // namespace edgemq::app
