// SPDX-License-Identifier: Apache-2.0
#pragma once

// The machine's serial ports straight from libserialport (sp_list_ports), as the tests' own
// account of them, to hold `edgemq ports` and /api/v1/ports against.

#include <libserialport.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace edgemq::test {

struct listed_port {
    std::string name;      ///< "/dev/ttyS0"
    std::string transport; ///< "native", "usb", "bluetooth"
    std::string vid_pid;   ///< "1a86:7523", "" when not USB
};

/// Every port sp_list_ports reports, sorted by name.
inline std::vector<listed_port> libserialport_ports() {
    sp_port** list = nullptr;
    REQUIRE(sp_list_ports(&list) == SP_OK);
    std::vector<listed_port> ports;
    for (auto** p = list; *p != nullptr; ++p) {
        listed_port l{sp_get_port_name(*p), "native", ""};
        const auto t = sp_get_port_transport(*p);
        l.transport = t == SP_TRANSPORT_USB         ? "usb"
                      : t == SP_TRANSPORT_BLUETOOTH ? "bluetooth"
                                                    : "native";
        int vid = -1;
        int pid = -1;
        if (t == SP_TRANSPORT_USB && sp_get_port_usb_vid_pid(*p, &vid, &pid) == SP_OK) {
            char text[16];
            std::snprintf(text, sizeof text, "%04x:%04x", vid, pid);
            l.vid_pid = text;
        }
        ports.push_back(std::move(l));
    }
    sp_free_port_list(list);
    std::ranges::sort(ports, {}, &listed_port::name);
    return ports;
}

} // namespace edgemq::test
