// SPDX-License-Identifier: Apache-2.0
#include "ports.hpp"
#include "default_paths.hpp"
#include "table_printer.hpp"

#include "edgemq/config/load.hpp"
#include "edgemq/serial/port.hpp"

#include <filesystem>
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
    // What libserialport reports, one port a line; "-" where it reports nothing (a port
    // that is not USB has no USB identity).
    const auto shown = [](const std::string& text) { return text.empty() ? "-" : text; };
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : ports) {
        std::string device = "-";
        const auto node = canonical_or_same(p.path);
        for (const auto& [path, id] : resolved) {
            if (path == node) {
                device = id;
            }
        }
        rows.push_back({p.path, device, std::string(serial::to_string(p.transport)),
                        p.vid.empty() ? "-" : p.vid + ":" + p.pid, shown(p.serial),
                        shown(p.location), shown(p.manufacturer), shown(p.product),
                        shown(p.by_id)});
    }
    print_table(std::cout,
                {"PORT", "DEVICE", "TRANSPORT", "VID:PID", "SERIAL", "LOCATION", "MANUFACTURER",
                 "PRODUCT", "BY-ID"},
                rows);
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
