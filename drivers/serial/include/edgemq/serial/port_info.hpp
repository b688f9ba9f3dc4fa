// SPDX-License-Identifier: Apache-2.0
#pragma once

// The machine's serial ports and their identity, from libserialport (port_info.cpp). The
// mapping from what libserialport reports to port_info is a pure function, so that it is
// tested on libserialport's own values without a port; list_ports() and describe_port() are
// the thin part that asks libserialport.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edgemq::serial {

/// How the port is attached, as libserialport tells it (SP_TRANSPORT_*).
enum class port_transport { native, usb, bluetooth };

/// "native", "usb", "bluetooth".
std::string_view to_string(port_transport t) noexcept;

/// One serial port of the machine, for `edgemq ports`, USB matching and the admin API.
struct port_info {
    std::string path;  ///< the device node (/dev/ttyUSB0)
    std::string by_id; ///< its /dev/serial/by-id name, if any
    /// The USB identity, empty for a port that is not USB: vendor and product id as 4
    /// lowercase hex digits ("1a86"), the adapter's serial number, manufacturer and product.
    std::string vid;
    std::string pid;
    std::string serial;
    std::string manufacturer;
    std::string product;
    /// Where the adapter is plugged in, as Linux names the USB port ("1-1.2": bus 1, port 1 of
    /// the root hub, port 2 of the hub behind it). It stays the same across replugs and
    /// reboots, so two identical adapters without a serial number are told apart by it.
    std::string location;
    port_transport transport = port_transport::native;
    /// libserialport's text for the port: the USB product and serial ("USB Serial - A9"), or
    /// the node's name ("ttyS0").
    std::string description;
    /// USB bus number and device address (libserialport's sp_get_port_usb_bus_address), -1
    /// when not USB. The address is handed out anew at each plug-in: it names the adapter for
    /// now, not the socket; match on `location` for that.
    int bus = -1;
    int address = -1;
    /// A Bluetooth (rfcomm) port's remote address, "" otherwise.
    std::string bluetooth_address;

    bool operator==(const port_info&) const = default;
};

/// What libserialport 0.1.1 reports about one port through sp_get_port_*, as plain values:
/// -1 and "" where it reports nothing (libserialport's own "not known").
struct sp_port_report {
    std::string name;        ///< sp_get_port_name: "/dev/ttyUSB0"
    std::string description; ///< sp_get_port_description
    int transport = 0;       ///< sp_get_port_transport: an enum sp_transport value
    int usb_bus = -1;        ///< sp_get_port_usb_bus_address
    int usb_address = -1;
    int usb_vid = -1; ///< sp_get_port_usb_vid_pid
    int usb_pid = -1;
    std::string usb_manufacturer;  ///< sp_get_port_usb_manufacturer
    std::string usb_product;       ///< sp_get_port_usb_product
    std::string usb_serial;        ///< sp_get_port_usb_serial
    std::string bluetooth_address; ///< sp_get_port_bluetooth_address
};

/// The port_info of a libserialport report, with the by-id name and USB location that the
/// caller found for it. USB keys are kept only for a USB port with a vid and pid, so that a
/// non-USB port never matches USB keys. Pure.
port_info to_port_info(const sp_port_report& report, std::string by_id = {},
                       std::string location = {});

/// The USB location ("1-1.2") of tty `name` ("ttyUSB0") under the sysfs tree `sys`: the
/// nearest ancestor of `sys`/class/tty/<name>/device whose busnum and devnum are `bus` and
/// `address`, i.e. the USB device libserialport described. "" when there is none.
std::string usb_location(const std::filesystem::path& sys, std::string_view name, int bus,
                         int address);

/// Every serial port libserialport finds (sp_list_ports), sorted by path, each with its
/// /dev/serial/by-id name and USB location. Blocks on sysfs reads (and libserialport opens
/// each serial8250 UART briefly to see whether it exists); for the control plane and the
/// serial thread.
/// Thread safety: a free function.
std::vector<port_info> list_ports();

/// What libserialport tells about the one port at `path` (sp_get_port_by_name), or nullopt
/// for a node it cannot describe: a pty, a socat or ser2net end, a missing node.
std::optional<port_info> describe_port(const std::string& path);

} // namespace edgemq::serial
