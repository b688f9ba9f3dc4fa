// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string_view>

/// The service manager's readiness protocol (sd_notify(3)) for Type=notify: systemd starts the
/// units ordered after edgemq only once the listeners are up, shows the status line in
/// `systemctl status edgemq`, and knows when a reload is under way. Outside systemd
/// ($NOTIFY_SOCKET unset) every call does nothing.
namespace edgemq::app::systemd {

/// The listeners are up: READY=1, with `status` as the status line.
void ready(std::string_view status);

/// A reload (SIGHUP) begins: RELOADING=1. Follow it with ready() when it is done.
void reloading();

/// A clean shutdown begins: STOPPING=1.
void stopping();

} // namespace edgemq::app::systemd
