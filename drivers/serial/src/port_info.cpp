// SPDX-License-Identifier: Apache-2.0
#include "edgemq/serial/port_info.hpp"

#include <libserialport.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>

namespace edgemq::serial {
namespace {

namespace fs = std::filesystem;

std::string text_of(const char* s) {
    return s == nullptr ? std::string() : std::string(s);
}

std::string hex4(int id) {
    char out[8];
    std::snprintf(out, sizeof out, "%04x", static_cast<unsigned>(id) & 0xffffu);
    return out;
}

sp_port_report report_of(const sp_port* port) {
    sp_port_report r;
    r.name = text_of(sp_get_port_name(port));
    r.description = text_of(sp_get_port_description(port));
    r.transport = sp_get_port_transport(port);
    if (r.transport == SP_TRANSPORT_USB) {
        if (sp_get_port_usb_bus_address(port, &r.usb_bus, &r.usb_address) != SP_OK) {
            r.usb_bus = r.usb_address = -1;
        }
        if (sp_get_port_usb_vid_pid(port, &r.usb_vid, &r.usb_pid) != SP_OK) {
            r.usb_vid = r.usb_pid = -1;
        }
        r.usb_manufacturer = text_of(sp_get_port_usb_manufacturer(port));
        r.usb_product = text_of(sp_get_port_usb_product(port));
        r.usb_serial = text_of(sp_get_port_usb_serial(port));
    } else if (r.transport == SP_TRANSPORT_BLUETOOTH) {
        r.bluetooth_address = text_of(sp_get_port_bluetooth_address(port));
    }
    return r;
}

/// Device node → its /dev/serial/by-id name (udev's links; the first in name order when a
/// node has several). These are names to show and match by, not a listing of ports.
std::map<std::string, std::string> by_id_names() {
    std::map<std::string, std::string> names;
    std::error_code ec;
    for (const auto& link : fs::directory_iterator("/dev/serial/by-id", ec)) {
        std::error_code link_ec;
        const auto target = fs::canonical(link.path(), link_ec);
        if (link_ec) {
            continue;
        }
        auto name = link.path().filename().string();
        auto [it, added] = names.try_emplace(target.string(), name);
        if (!added && name < it->second) {
            it->second = std::move(name);
        }
    }
    return names;
}

port_info complete(const sp_port_report& r, const std::map<std::string, std::string>& by_id) {
    const auto it = by_id.find(r.name);
    // libserialport 0.1.1 tells the bus and the device address, and the address changes at
    // every plug-in; what names the socket is the USB port path Linux gives the device
    // ("1-1.2", udev's ID_PATH and /dev/serial/by-path), read from sysfs for the very device
    // libserialport described (same busnum and devnum).
    auto location =
        r.transport == SP_TRANSPORT_USB
            ? usb_location("/sys", fs::path(r.name).filename().string(), r.usb_bus, r.usb_address)
            : std::string();
    return to_port_info(r, it == by_id.end() ? std::string() : it->second, std::move(location));
}

} // namespace

std::string_view to_string(port_transport t) noexcept {
    switch (t) {
    case port_transport::usb:
        return "usb";
    case port_transport::bluetooth:
        return "bluetooth";
    case port_transport::native:
        break;
    }
    return "native";
}

port_info to_port_info(const sp_port_report& r, std::string by_id, std::string location) {
    port_info p;
    p.path = r.name;
    p.by_id = std::move(by_id);
    p.description = r.description;
    switch (r.transport) {
    case SP_TRANSPORT_USB:
        p.transport = port_transport::usb;
        break;
    case SP_TRANSPORT_BLUETOOTH:
        p.transport = port_transport::bluetooth;
        break;
    default:
        p.transport = port_transport::native;
        break;
    }
    if (p.transport == port_transport::usb) {
        // libserialport fills the USB fields only once it found the device's idVendor and
        // idProduct; without both there is no identity to match.
        if (r.usb_vid >= 0 && r.usb_pid >= 0) {
            p.vid = hex4(r.usb_vid);
            p.pid = hex4(r.usb_pid);
            p.serial = r.usb_serial;
            p.manufacturer = r.usb_manufacturer;
            p.product = r.usb_product;
            p.location = std::move(location);
        }
        if (r.usb_bus >= 0 && r.usb_address >= 0) {
            p.bus = r.usb_bus;
            p.address = r.usb_address;
        }
    } else if (p.transport == port_transport::bluetooth) {
        p.bluetooth_address = r.bluetooth_address;
    }
    return p;
}

std::string usb_location(const fs::path& sys, std::string_view name, int bus, int address) {
    if (bus < 0 || address < 0) {
        return {};
    }
    std::error_code ec;
    auto dir = fs::canonical(sys / "class" / "tty" / name / "device", ec);
    const auto number_in = [](const fs::path& file) {
        std::ifstream in(file);
        int n = -1;
        in >> n;
        return in ? n : -1;
    };
    // The tty's node hangs off a USB interface ("1-1.2:1.0"), one or two levels below the
    // USB device ("1-1.2") that has busnum and devnum.
    for (int up = 0; !ec && up < 5 && dir.has_relative_path(); ++up, dir = dir.parent_path()) {
        if (number_in(dir / "busnum") == bus && number_in(dir / "devnum") == address) {
            return dir.filename().string();
        }
    }
    return {};
}

std::vector<port_info> list_ports() {
    sp_port** list = nullptr;
    if (sp_list_ports(&list) != SP_OK) {
        return {};
    }
    const std::unique_ptr<sp_port*, void (*)(sp_port**)> owned(list, sp_free_port_list);
    const auto by_id = by_id_names();
    std::vector<port_info> ports;
    for (auto** p = list; *p != nullptr; ++p) {
        ports.push_back(complete(report_of(*p), by_id));
    }
    std::ranges::sort(ports, {}, &port_info::path);
    return ports;
}

std::optional<port_info> describe_port(const std::string& path) {
    sp_port* port = nullptr;
    if (sp_get_port_by_name(path.c_str(), &port) != SP_OK) {
        return std::nullopt;
    }
    const std::unique_ptr<sp_port, void (*)(sp_port*)> owned(port, sp_free_port);
    return complete(report_of(port), by_id_names());
}

} // namespace edgemq::serial
