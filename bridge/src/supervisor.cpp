// SPDX-License-Identifier: Apache-2.0
#include "edgemq/bridge/supervisor.hpp"

#include "link.hpp"

#include <spdlog/logger.h>

namespace edgemq::bridge {

supervisor::supervisor(std::vector<config::bridge> bridges, broker::broker& broker,
                       std::shared_ptr<spdlog::logger> log, std::chrono::seconds sys_interval,
                       std::size_t max_packet_size)
    : broker_(broker), log_(std::move(log)), sys_interval_(sys_interval),
      max_packet_size_(max_packet_size), configs_(std::move(bridges)) {}

supervisor::~supervisor() {
    stop();
}

std::unique_ptr<link> supervisor::make_link(const config::bridge& cfg) {
    auto l = std::make_unique<link>(cfg, broker_, log_, sys_interval_, max_packet_size_);
    l->start();
    return l;
}

void supervisor::start() {
    const std::lock_guard lock{links_mutex_};
    if (!links_.empty()) {
        return;
    }
    for (const auto& cfg : configs_) {
        links_.push_back(make_link(cfg));
    }
}

void supervisor::stop() {
    const std::lock_guard lock{links_mutex_};
    for (auto& l : links_) {
        l->stop();
    }
    links_.clear();
}

std::vector<bridge_status> supervisor::bridges() const {
    const std::lock_guard lock{links_mutex_};
    std::vector<bridge_status> all;
    for (const auto& l : links_) {
        all.push_back(l->status());
    }
    return all;
}

std::vector<std::string> supervisor::apply(const std::vector<config::bridge>& bridges) {
    const std::lock_guard lock{links_mutex_};
    std::vector<std::string> restarted;
    std::vector<std::unique_ptr<link>> kept;
    // Stop first what goes away or changes: a changed bridge may keep its queue file.
    for (auto& l : links_) {
        const auto it = std::ranges::find(bridges, l->config().name, &config::bridge::name);
        if (it != bridges.end() && *it == l->config()) {
            kept.push_back(std::move(l));
        } else {
            log_->info("bridge {}: {}", l->config().name,
                       it == bridges.end() ? "removed from the configuration, stopping"
                                           : "configuration changed, restarting");
            l->stop();
            l.reset();
        }
    }
    links_.clear();
    std::string failure;
    for (const auto& cfg : bridges) {
        const auto it = std::ranges::find_if(
            kept, [&](const auto& l) { return l && l->config().name == cfg.name; });
        if (it != kept.end()) {
            links_.push_back(std::move(*it));
            continue;
        }
        try {
            links_.push_back(make_link(cfg));
            restarted.push_back(cfg.name);
        } catch (const std::exception& e) {
            log_->error("{}", e.what());
            failure = e.what();
        }
    }
    configs_ = bridges;
    if (!failure.empty()) {
        throw std::runtime_error(failure);
    }
    return restarted;
}

} // namespace edgemq::bridge
