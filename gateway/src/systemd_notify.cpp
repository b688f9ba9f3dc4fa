// SPDX-License-Identifier: Apache-2.0
#include "systemd_notify.hpp"

#include <systemd/sd-daemon.h>

#include <ctime>
#include <string>

namespace edgemq::app::systemd {

void ready(std::string_view status) {
    // A status line is one line: the protocol separates its assignments with newlines.
    std::string line{status};
    for (auto& c : line) {
        if (c == '\n') {
            c = ' ';
        }
    }
    sd_notifyf(0, "READY=1\nSTATUS=%s", line.c_str());
}

void reloading() {
    // MONOTONIC_USEC lets a systemd that supports Type=notify-reload (253 and later) match this
    // message to the reload it asked for; older ones ignore it.
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    const auto usec = static_cast<unsigned long long>(now.tv_sec) * 1'000'000ULL +
                      static_cast<unsigned long long>(now.tv_nsec) / 1'000ULL;
    sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", usec);
}

void stopping() {
    sd_notify(0, "STOPPING=1");
}

} // namespace edgemq::app::systemd
