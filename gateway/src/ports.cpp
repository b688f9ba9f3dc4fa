// SPDX-License-Identifier: Apache-2.0
#include "ports.hpp"
#include "default_paths.hpp"

#include "edgemq/config/load.hpp"
#include "edgemq/serial/port.hpp"

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <optional>

namespace edgemq::app {
namespace {

std::string canonical_or_same(const std::string& path) {
    std::error_code ec;
    const auto real = std::filesystem::canonical(path, ec);
    return ec ? path : real.string();
}

} // namespace

int ports_main(std::span<const std::string_view> args) {
    std::optional<std::filesystem::path> file;
    if (args.size() == 2 && args[0] == "--config") {
        file = std::filesystem::path{args[1]};
    } else if (!args.empty()) {
        std::cerr << "usage: edgemq ports [--config FILE]\n";
        return 2;
    } else {
        file = installed_config_file();
    }
    config::gateway cfg = config::defaults();
    if (file) {
        try {
            cfg = config::load_file(*file);
        } catch (const config::load_error& e) {
            std::cerr << e.what() << '\n';
            return 1;
        }
    }
    const auto ports = serial::list_ports();
    // Which device node each configured device resolves to now, or why none.
    std::vector<std::pair<std::string, std::string>> resolved;   // node, device id
    std::vector<std::pair<std::string, std::string>> unresolved; // device id, why
    for (const auto& d : cfg.devices) {
        const auto r = serial::resolve_port(d.match, ports);
        if (r.ok()) {
            resolved.emplace_back(canonical_or_same(r.path), d.id);
        } else {
            unresolved.emplace_back(d.id, r.error);
        }
    }
    std::cout << std::left << std::setw(16) << "PORT" << std::setw(56) << "BY-ID" << std::setw(24)
              << "USB"
              << "DEVICE\n";
    for (const auto& p : ports) {
        std::string device = "-";
        const auto node = canonical_or_same(p.path);
        for (const auto& [path, id] : resolved) {
            if (path == node) {
                device = id;
            }
        }
        const auto usb = p.vid.empty()
                             ? std::string("-")
                             : p.vid + ":" + p.pid + (p.serial.empty() ? "" : " " + p.serial);
        std::cout << std::setw(16) << p.path << std::setw(56) << (p.by_id.empty() ? "-" : p.by_id)
                  << std::setw(24) << usb << device << '\n';
    }
    if (ports.empty()) {
        std::cout << "(no serial ports found)\n";
    }
    for (const auto& [id, why] : unresolved) {
        if (why.starts_with("no port matches")) {
            std::cout << "device " << id << ": no port matches it now\n";
        } else {
            std::cout << "device " << id << ": " << why << '\n';
        }
    }
    return 0;
}

} // namespace edgemq::app
