// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/config/model.hpp"

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

/// Opens `path` with open(2) (O_NONBLOCK, O_NOCTTY; ptys and USB adapters alike) and termios
/// (raw, the device's baud, data bits, parity, stop bits and flow control; DTR/RTS as asked),
/// then takes it exclusively with flock(LOCK_EX|LOCK_NB) and TIOCEXCL. When another process
/// holds it, the message names that process (the flock holder from /proc/locks; for TIOCEXCL,
/// or a lock not listed, every process with the node open, from /proc/*/fd); on EACCES it
/// names the group owning the node.
/// Thread safety: a free function; blocking only on open(2) itself.
open_result open_port(const std::string& path, const config::device& device);

/// One serial port of the machine, for `edgemq ports` and USB matching.
struct port_info {
    std::string path;  ///< the device node (/dev/ttyUSB0)
    std::string by_id; ///< its /dev/serial/by-id name, if any
    /// USB identity from sysfs (idVendor, idProduct, serial), empty for a port that is not USB.
    std::string vid;
    std::string pid;
    std::string serial;
};

/// The tty devices that are serial ports (ttyUSB*, ttyACM*, ttyAMA*, ttyS* with a driver) and
/// every /dev/serial/by-id link, by device node, with their USB identity.
std::vector<port_info> list_ports();

/// Where a device's `match` points now.
struct resolved_port {
    std::string path;  ///< the device node (a realpath); empty when there is none to open
    std::string error; ///< when path is empty: nothing matches, or which ports all match
    bool ok() const noexcept { return !path.empty(); }
};

/// The device node `match` resolves to now: `path`, else `by_id` (a name under
/// /dev/serial/by-id or a full path to any symlink), else the one port among `ports` whose USB
/// identity has every key given (vid, pid, serial; hex digits in either case). When several
/// ports match, none is chosen: the error names them all (two adapters without a serial number
/// look the same, and guessing would swap their topics on the next boot).
resolved_port resolve_port(const config::device_match& match, const std::vector<port_info>& ports);
/// As above with list_ports(), read only when the match has USB keys.
resolved_port resolve_port(const config::device_match& match);

/// "path /dev/ttyUSB0", "by_id usb-FTDI...", "usb 0403:6001 serial A900": for messages.
std::string describe(const config::device_match& match);

/// "pid 1234 (minicom)" for every process holding `path` open, or "".
std::string holders_of(const std::string& path);

} // namespace edgemq::serial
