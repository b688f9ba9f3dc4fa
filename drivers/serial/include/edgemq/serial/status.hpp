// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/serial/port_info.hpp"

#include <cstdint>
#include <string>

namespace edgemq::serial {

/// One configured device as the admin surface shows it (service::devices()).
struct device_status {
    std::string id;
    /// The port the device is bound to while it is open ("/dev/ttyUSB0"), else empty.
    std::string port;
    /// What libserialport tells about that port while it is open (transport, USB identity,
    /// location); only `path` for a port it cannot describe (a pty), empty while not open.
    port_info port_details;
    bool online = false;
    /// Why the port is not open (the last open error), empty while online.
    std::string last_error;
    std::uint64_t bytes = 0;
    std::uint64_t frames = 0;
    std::uint64_t parse_errors = 0;
    /// Frames dropped: over max_frame_bytes or invalid in the device's encoding. (Boot noise
    /// discarded during settle is counted in bytes, in the stats topic's settle_discarded.)
    std::uint64_t dropped = 0;
    /// Times the port was opened again after it went away.
    std::uint64_t reconnects = 0;
    std::uint64_t commands = 0;
    std::uint64_t command_errors = 0;
    /// Unix milliseconds of the moment the port was opened, 0 while it is not open.
    std::int64_t online_since_ms = 0;
    /// Unix milliseconds of the last byte read, 0 before any.
    std::int64_t last_seen_ms = 0;
    /// The last JSON state published on {base}/{device} ("{}" before the first frame).
    std::string last_state = "{}";
};

} // namespace edgemq::serial
