// SPDX-License-Identifier: Apache-2.0
#include "app.hpp"
#include "admin_http.hpp"
#include "broker_options.hpp"
#include "homeassistant.hpp"
#include "log_format.hpp"
#include "systemd_notify.hpp"

#include "edgemq/bridge/supervisor.hpp"
#include "edgemq/broker/broker.hpp"
#include "edgemq/config/load.hpp"
#include "edgemq/modbus/bus.hpp"
#include "edgemq/serial/device.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <pthread.h>

#include <csignal>
#include <functional>
#include <iostream>

namespace edgemq::app {
namespace {

spdlog::level::level_enum to_spdlog(config::log_level l) {
    switch (l) {
    case config::log_level::trace: return spdlog::level::trace;
    case config::log_level::debug: return spdlog::level::debug;
    case config::log_level::info: return spdlog::level::info;
    case config::log_level::warn: return spdlog::level::warn;
    case config::log_level::error: return spdlog::level::err;
    case config::log_level::off: return spdlog::level::off;
    }
    return spdlog::level::info;
}

/// One named logger per component, all to stderr (journald adds its own timestamps, but a
/// terminal user wants them too).
std::shared_ptr<spdlog::logger> make_logger(const std::string& name, config::log_level level) {
    auto log = spdlog::stderr_logger_mt(name);
    log->set_formatter(make_log_formatter());
    log->set_level(to_spdlog(level));
    return log;
}

/// While it lives, SIGINT, SIGTERM and SIGHUP are blocked in this thread and so in every thread it
/// starts; what arrives meanwhile waits until the main thread unblocks them and takes it. A
/// signal that landed in a busy worker would interrupt its serial read or SQLite write, and under
/// TSan it waits there until that thread's next intercepted call, or is lost.
class handled_signals_blocked {
public:
    handled_signals_blocked() {
        sigset_t handled;
        sigemptyset(&handled);
        for (const int s : {SIGINT, SIGTERM, SIGHUP}) {
            sigaddset(&handled, s);
        }
        pthread_sigmask(SIG_BLOCK, &handled, &before_);
    }
    ~handled_signals_blocked() { pthread_sigmask(SIG_SETMASK, &before_, nullptr); }
    handled_signals_blocked(const handled_signals_blocked&) = delete;
    handled_signals_blocked& operator=(const handled_signals_blocked&) = delete;

private:
    sigset_t before_{};
};

/// Re-reads the configuration file (SIGHUP) and applies what changed; returns the status line
/// for the service manager: what happened, or why the reload was refused.
std::string reload(const std::optional<std::filesystem::path>& config_file,
                   config::gateway& running, broker::broker& b, serial::service& devices,
                   modbus::service& buses, bridge::supervisor& bridges, homeassistant_discovery& discovery,
                   spdlog::logger& log) {
    if (!config_file) {
        log.info("SIGHUP: running on the embedded defaults, nothing to reload");
        return "running on the embedded defaults";
    }
    config::gateway fresh;
    try {
        fresh = config::load_file(*config_file);
    } catch (const config::load_error& e) {
        for (const auto& d : e.diagnostics()) {
            log.error("reload refused: {}", d.to_string());
        }
        log.error("reload refused: keeping the running configuration");
        return "reload refused, running the previous configuration: " +
               e.diagnostics().front().to_string();
    }
    try {
        b.reload_files();
    } catch (const std::exception& e) {
        log.error("reload refused: {}; keeping the running certificates, passwords and ACLs", e.what());
        return std::string{"reload refused, running the previous configuration: "} + e.what();
    }
    if (fresh.broker != running.broker || fresh.listeners != running.listeners) {
        log.warn("reload: changes to [broker] and [[listeners]] other than certificate files "
                 "take effect at the next restart");
    }
    // Only what changed restarts: the other devices keep their ports, the other bridges
    // their connections.
    try {
        devices.apply(fresh.devices);
        running.devices = fresh.devices;
    } catch (const std::exception& e) {
        log.error("reload refused for [[devices]]: {}; the running devices stay", e.what());
    }
    buses.apply(fresh.modbus);
    running.modbus = fresh.modbus;
    // The devices that run now: a refused [[devices]] keeps the running ones announced.
    running.homeassistant = fresh.homeassistant;
    discovery.apply(running);
    try {
        for (const auto& name : bridges.apply(fresh.bridges)) {
            log.info("reload: bridge {} (re)started", name);
        }
    } catch (const std::exception& e) {
        log.error("reload: {}", e.what());
    }
    running.bridges = fresh.bridges;
    log.info("reload done");
    return "reloaded " + config_file->string();
}

/// The status line systemd shows once the gateway is up: where it listens.
std::string listening_status(const broker::broker& b, const admin_http* admin,
                             const config::admin& admin_cfg) {
    std::string out = "listening:";
    for (const auto& l : b.listeners()) {
        out += fmt::format(" mqtt {} {}:{},", broker::to_string(l.type), l.host, l.port);
    }
    if (admin) {
        out += fmt::format(" admin {} {}:{}", admin_cfg.cert.empty() ? "http" : "https",
                           admin_cfg.host, admin->port());
    }
    if (out.back() == ',') {
        out.pop_back();
    }
    return out;
}

} // namespace

int run(const std::optional<std::filesystem::path>& config_file) {
    config::gateway cfg;
    try {
        cfg = config_file ? config::load_file(*config_file) : config::defaults();
    } catch (const config::load_error& e) {
        std::cerr << e.what() << "\nedgemq: refusing to start with an invalid configuration\n";
        return 2;
    }
    auto main_log = make_logger("main", cfg.log.level);
    spdlog::default_logger()->set_formatter(make_log_formatter()); // the few spdlog::error()s
    auto broker_log = make_logger("broker", cfg.log.level);
    main_log->info("edgemq starting config={}",
                   config_file ? config_file->string() : std::string{"(embedded defaults)"});

    // Handle the signals before "ready" is logged: a supervisor may send SIGTERM as soon as it
    // reads that line, and the default action would kill the process without a clean stop.
    boost::asio::io_context ctx;
    boost::asio::signal_set signals{ctx, SIGINT, SIGTERM};
    boost::asio::signal_set hangup{ctx, SIGHUP};
    // Every thread the gateway starts from here on keeps them blocked; the main thread unblocks
    // them once the last is started, before it says it is ready.
    std::optional<handled_signals_blocked> starting{std::in_place};

    broker::broker b{to_broker_options(cfg), broker_log};
    try {
        b.start();
    } catch (const std::exception& e) {
        main_log->error("{}", e.what());
        return 1;
    }
    // Serial devices: built before the admin server (which shows them), started after the
    // broker, stopped before it.
    serial::service serial_devices{cfg.devices, b, make_logger("serial", cfg.log.level)};
    // Modbus buses likewise, each on a scheduler thread of its own.
    modbus::service modbus_buses{cfg.modbus, b, make_logger("modbus", cfg.log.level)};
    // Bridges likewise; started after the serial devices.
    bridge::supervisor bridges{cfg.bridges, b, make_logger("bridge", cfg.log.level),
                               cfg.broker.sys_interval, cfg.broker.max_packet_size};
    // The admin server after the broker (it serves the broker's state), stopped before it.
    std::unique_ptr<admin_http> admin;
    if (cfg.admin.enabled) {
        try {
            admin = std::make_unique<admin_http>(cfg.admin, b, make_logger("http", cfg.log.level),
                                                 &serial_devices, &bridges, &modbus_buses);
            admin->start();
        } catch (const std::exception& e) {
            main_log->error("{}", e.what());
            b.stop();
            return 1;
        }
        main_log->info("ready: admin {} on {}:{}", cfg.admin.cert.empty() ? "http" : "https",
                       cfg.admin.host, admin->port());
    }
    serial_devices.start();
    modbus_buses.start();
    // Home Assistant discovery: retained configs published before "ready", so that a client
    // subscribing after it finds them.
    const auto discovery = std::make_shared<homeassistant_discovery>(
        ctx, b, make_logger("homeassistant", cfg.log.level));
    discovery->apply(cfg);
    // Bridges: after the broker (they are its clients), stopped before it.
    try {
        bridges.start();
    } catch (const std::exception& e) {
        main_log->error("{}", e.what());
        bridges.stop();
        discovery->stop();
        modbus_buses.stop();
        serial_devices.stop();
        if (admin) {
            admin->stop();
        }
        b.stop();
        return 1;
    }
    starting.reset(); // a supervisor may signal as soon as it reads "ready"
    for (const auto& l : b.listeners()) {
        main_log->info("ready: mqtt {} on {}:{}", broker::to_string(l.type), l.host, l.port);
    }
    const auto listening = listening_status(b, admin.get(), cfg.admin);
    systemd::ready(listening);

    signals.async_wait([&](const boost::system::error_code& ec, int signo) {
        if (!ec) {
            main_log->info("signal {} received, shutting down", signo);
            systemd::stopping();
            hangup.cancel();
        }
    });
    // SIGHUP (systemctl reload): validate the file again; a bad one is refused and the running
    // configuration stays. TLS certificates are re-read without dropping connections.
    std::function<void()> wait_for_hangup = [&] {
        hangup.async_wait([&](const boost::system::error_code& ec, int) {
            if (ec) {
                return;
            }
            systemd::reloading();
            const auto outcome = [&] {
                const handled_signals_blocked restarting; // for the threads a reload starts
                return reload(config_file, cfg, b, serial_devices, modbus_buses, bridges,
                              *discovery, *main_log);
            }();
            systemd::ready(listening + "; " + outcome);
            wait_for_hangup();
        });
    };
    wait_for_hangup();
    ctx.run();
    bridges.stop();
    discovery->stop();
    modbus_buses.stop();
    serial_devices.stop();
    if (admin) {
        admin->stop();
    }
    b.stop();
    main_log->info("edgemq stopped");
    return 0;
}

int check_config(const std::filesystem::path& config_file) {
    try {
        config::load_file(config_file);
    } catch (const config::load_error& e) {
        std::cerr << e.what() << '\n';
        return 1;
    }
    std::cout << config_file.string() << ": OK\n";
    return 0;
}

} // namespace edgemq::app
