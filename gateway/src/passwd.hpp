// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <span>
#include <string_view>

namespace edgemq::app {

/// `edgemq passwd [-c] [-b] [-D] FILE USER [PASSWORD]`: manages a Mosquitto-format password
/// file as mosquitto_passwd does. Without `-b` it asks for the password twice on the terminal
/// with echo off (on /dev/tty, else on stdin); `-b` takes it from the command line; `-D`
/// deletes USER; `-c` starts a new file, overwriting one that exists. Prints nothing on success
/// and never prints or stores the plain password. `args` are the arguments after `passwd`;
/// returns the process exit code (0 done, 1 failed, 2 bad usage).
/// Thread safety: runs on the main thread of the process; installs signal handlers while a
/// prompt has echo turned off.
int passwd_main(std::span<const std::string_view> args);

/// The usage text of `edgemq passwd`.
extern const char* const passwd_usage;

} // namespace edgemq::app
