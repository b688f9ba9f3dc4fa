// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/config/model.hpp"
#include "edgemq/serial/port_info.hpp"

#include <boost/system/error_code.hpp>

#include <optional>
#include <string>
#include <vector>

namespace edgemq::serial {

/// An opened, configured, exclusively held port, or why it could not be opened.
struct open_result {
    int fd = -1;                  ///< owned by the caller; -1 on failure
    boost::system::error_code ec; ///< the failing system call's error
    std::string message;          ///< for the log: names the holder or the node's group

    bool ok() const noexcept { return fd >= 0; }
};

/// Opens `path` and configures it raw with the device's baud, data bits, parity, stop bits and
/// flow control, DTR/RTS as asked: through libserialport for a port it can describe (a USB
/// adapter, a UART), with open(2) + termios for one it cannot (a pty, a socat or ser2net end).
/// Either way the port is opened O_NONBLOCK and O_CLOEXEC and taken exclusively with
/// flock(LOCK_EX|LOCK_NB) and TIOCEXCL before it is configured. When another process holds
/// it, the message names that process (the flock holder from /proc/locks; for TIOCEXCL, or a
/// lock not listed, every process with the node open, from /proc/*/fd); on EACCES it names
/// the group owning the node.
/// Thread safety: a free function; blocking only on open(2) itself.
open_result open_port(const std::string& path, const config::device& device);

/// Where a device's `match` points now.
struct resolved_port {
    std::string path;  ///< the device node (a realpath); empty when there is none to open
    std::string error; ///< when path is empty: nothing matches, or which ports all match
    bool ok() const noexcept { return !path.empty(); }
};

/// The device node `match` resolves to now: `path`, else `by_id` (a name under
/// /dev/serial/by-id or a full path to any symlink), else the one port among `ports` whose USB
/// identity has every key given (vid, pid, serial, product, location; vid and pid in hex
/// digits of either case, the others exactly as `edgemq ports` shows them). When several
/// ports match, none is chosen: the error names them all (two adapters without a serial number
/// look the same, and guessing would swap their topics on the next boot).
resolved_port resolve_port(const config::device_match& match, const std::vector<port_info>& ports);
/// As above with list_ports(), read only when the match has USB keys.
/// Thread safety: a free function; blocks on sysfs reads (list_ports).
resolved_port resolve_port(const config::device_match& match);

/// Whether `match` has any USB key (vid, pid, serial, product, location).
bool has_usb_keys(const config::device_match& match) noexcept;

/// "path /dev/ttyUSB0", "by_id usb-FTDI...", "usb 0403:6001 serial A900 location 1-1.2": for
/// messages.
std::string describe(const config::device_match& match);

/// "pid 1234 (minicom)" for every process holding `path` open, or "".
std::string holders_of(const std::string& path);

} // namespace edgemq::serial
