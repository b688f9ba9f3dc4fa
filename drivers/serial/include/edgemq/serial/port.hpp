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
/// holds it, the message names that process (from /proc/*/fd); on EACCES it names the group
/// owning the node.
/// Thread safety: a free function; blocking only on open(2) itself.
open_result open_port(const std::string& path, const config::device& device);

/// The device node `match` resolves to now (a realpath), if any: `path`, else `by_id` (a name
/// under /dev/serial/by-id or a full path), else the first by-id entry naming vid:pid/serial.
std::optional<std::string> resolve_port(const config::device_match& match);

/// One serial port of the machine, for `edgemq ports`.
struct port_info {
    std::string path;  ///< the device node (/dev/ttyUSB0)
    std::string by_id; ///< its /dev/serial/by-id name, if any
};

/// The tty devices that are serial ports (ttyUSB*, ttyACM*, ttyAMA*, ttyS* with a driver) and
/// every /dev/serial/by-id link, by device node.
std::vector<port_info> list_ports();

/// "pid 1234 (minicom)" for every process holding `path` open, or "".
std::string holders_of(const std::string& path);

} // namespace edgemq::serial
