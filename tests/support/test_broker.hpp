// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "broker_options.hpp"
#include "edgemq/broker/broker.hpp"
#include "edgemq/config/load.hpp"

#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <memory>
#include <string>

namespace edgemq::test {

/// A broker running in-process on 127.0.0.1 with a kernel-chosen port, stopped on destruction.
/// Logs are dropped unless EDGEMQ_TEST_LOG=1 is set in the environment.
class test_broker {
public:
    explicit test_broker(config::gateway cfg = config::defaults()) {
        for (auto& l : cfg.listeners) {
            l.host = "127.0.0.1";
            l.port = 0;
        }
        std::shared_ptr<spdlog::logger> log;
        if (const char* v = std::getenv("EDGEMQ_TEST_LOG"); v != nullptr && std::string{v} == "1") {
            log = std::make_shared<spdlog::logger>(
                "broker", std::make_shared<spdlog::sinks::stderr_sink_mt>());
            log->set_level(spdlog::level::debug);
        } else {
            log = std::make_shared<spdlog::logger>("broker",
                                                   std::make_shared<spdlog::sinks::null_sink_mt>());
        }
        broker_ = std::make_unique<broker::broker>(app::to_broker_options(cfg), std::move(log));
        broker_->start();
    }

    /// A broker configured by a TOML snippet (listeners are forced to 127.0.0.1:0).
    static std::unique_ptr<test_broker> from_toml(const std::string& toml) {
        return std::make_unique<test_broker>(config::load_string(toml, "test.toml"));
    }

    std::uint16_t port() const { return broker_->listeners().front().port; }
    broker::broker& get() { return *broker_; }

private:
    std::unique_ptr<broker::broker> broker_;
};

} // namespace edgemq::test
