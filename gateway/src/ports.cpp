// SPDX-License-Identifier: Apache-2.0
#include "ports.hpp"

#include "edgemq/config/load.hpp"
#include "edgemq/serial/port.hpp"

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <optional>

namespace edgemq::app {
namespace {

constexpr const char* default_config = "/etc/edgemq/edgemq.toml";

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
    } else if (std::filesystem::exists(default_config)) {
        file = std::filesystem::path{default_config};
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
    // Which device node each configured device resolves to now.
    std::vector<std::pair<std::string, std::string>> resolved; // node, device id
    for (const auto& d : cfg.devices) {
        if (const auto node = serial::resolve_port(d.match)) {
            resolved.emplace_back(canonical_or_same(*node), d.id);
        }
    }
    const auto ports = serial::list_ports();
    std::cout << std::left << std::setw(16) << "PORT" << std::setw(56) << "BY-ID" << "DEVICE\n";
    for (const auto& p : ports) {
        std::string device = "-";
        const auto node = canonical_or_same(p.path);
        for (const auto& [path, id] : resolved) {
            if (path == node) {
                device = id;
            }
        }
        std::cout << std::setw(16) << p.path << std::setw(56) << (p.by_id.empty() ? "-" : p.by_id)
                  << device << '\n';
    }
    if (ports.empty()) {
        std::cout << "(no serial ports found)\n";
    }
    for (const auto& d : cfg.devices) {
        bool found = false;
        for (const auto& [path, id] : resolved) {
            found = found || id == d.id;
        }
        if (!found) {
            std::cout << "device " << d.id << ": no port matches it now\n";
        }
    }
    return 0;
}

} // namespace edgemq::app
