// SPDX-License-Identifier: Apache-2.0
#include "app.hpp"
#include "ctl.hpp"
#include "default_paths.hpp"
#include "passwd.hpp"
#include "ports.hpp"

#include <filesystem>
#include <iostream>
#include <span>
#include <string_view>
#include <vector>

namespace {

constexpr const char* usage = R"(usage: edgemq [--config FILE]
       edgemq check-config FILE
       edgemq passwd [-c] [-b] [-D] FILE USER [PASSWORD]
       edgemq ctl [--url URL] [--user U --password P] COMMAND...
       edgemq ports [--config FILE]
       edgemq --help | --version

edgemq is an MQTT broker and serial-to-MQTT gateway for the edge.

  (no arguments)      run with /etc/edgemq/edgemq.toml if it exists, else with the embedded
                      defaults: MQTT on 127.0.0.1:1883, anonymous access
  --config FILE       run with FILE (TOML; see /etc/edgemq/edgemq.toml for every option)
  check-config FILE   validate FILE, print every error as file:line:col, exit non-zero on error
  passwd ...          add, update (-b: batch) or delete (-D) a user in a Mosquitto-format
                      password file; `edgemq passwd --help` for details
  ports               list the serial ports, their /dev/serial/by-id names and the configured
                      device each one matches
  ctl ...             talk to a running gateway (status, clients list|kick ID, devices
                      list|restart ID, bridges list) or edit its admin users (admins
                      add|passwd|del); `edgemq ctl --help` for details
)";

} // namespace

int main(int argc, char** argv) {
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    if (args.empty()) {
        return edgemq::app::run(edgemq::app::installed_config_file());
    }
    if (args[0] == "--help" || args[0] == "-h") {
        std::cout << usage;
        return 0;
    }
    if (args[0] == "--version") {
        std::cout << "edgemq " EDGEMQ_VERSION "\n";
        return 0;
    }
    if ((args[0] == "--config" || args[0] == "-c") && args.size() == 2) {
        return edgemq::app::run(std::filesystem::path{args[1]});
    }
    if (args[0] == "check-config" && args.size() == 2) {
        return edgemq::app::check_config(std::filesystem::path{args[1]});
    }
    if (args[0] == "passwd") {
        return edgemq::app::passwd_main(std::span{args}.subspan(1));
    }
    if (args[0] == "ports") {
        return edgemq::app::ports_main(std::span{args}.subspan(1));
    }
    if (args[0] == "ctl") {
        return edgemq::app::ctl_main(std::span{args}.subspan(1));
    }
    std::cerr << usage;
    return 2;
}
