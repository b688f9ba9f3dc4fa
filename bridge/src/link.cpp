// SPDX-License-Identifier: Apache-2.0
#include "link.hpp"

#include "edgemq/broker/log_exception.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/fmt/chrono.h>
#include <spdlog/logger.h>

#include <unistd.h>

#include <algorithm>
#include <limits>

namespace edgemq::bridge {
namespace {

using namespace std::chrono_literals;

std::string host_name() {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') {
        return "edgemq";
    }
    return name;
}

/// "host:port" or "[v6]:port" into host and port.
std::pair<std::string, std::string> split_address(const std::string& address) {
    const auto colon = address.rfind(':');
    std::string host = address.substr(0, colon);
    if (host.starts_with('[') && host.ends_with(']')) {
        host = host.substr(1, host.size() - 2);
    }
    return {host, address.substr(colon + 1)};
}

upstream::settings upstream_settings(const config::bridge& cfg, std::string client_id,
                                     std::vector<broker::codec::subscription> subscriptions,
                                     std::size_t max_packet_size) {
    upstream::settings s;
    s.name = cfg.name;
    s.mqtt.client_id = std::move(client_id);
    s.mqtt.clean_session = cfg.clean_session;
    s.mqtt.keep_alive = cfg.keepalive;
    if (!cfg.username.empty()) {
        s.mqtt.username = cfg.username;
    }
    s.mqtt.password = cfg.password;
    s.mqtt.protocol_level = cfg.protocol_version;
    s.mqtt.bridge = cfg.try_private; // the remote does not echo our messages (3.1.1)
    s.mqtt.session_expiry_interval = cfg.clean_session ? 0 : cfg.session_expiry_interval;
    s.mqtt.maximum_packet_size = static_cast<std::uint32_t>(
        std::min<std::size_t>(max_packet_size, std::numeric_limits<std::uint32_t>::max()));
    s.mqtt.max_inflight = cfg.max_inflight;
    if (cfg.notifications) {
        s.mqtt.will = broker::codec::will_message{cfg.notification_topic, "offline", 1, true};
        s.notification_topic = cfg.notification_topic;
    }
    if (cfg.protocol_version == broker::codec::protocol_level_5) {
        // 5.0 says per subscription what the bridge bit said for the connection: not our own
        // messages back, and their retain flags as published [MQTT-3.8.3.1].
        for (auto& sub : subscriptions) {
            sub.no_local = true;
            sub.retain_as_published = true;
        }
    }
    s.subscriptions = std::move(subscriptions);
    s.max_packet_size = max_packet_size;
    return s;
}

} // namespace

link::link(config::bridge cfg, broker::broker& broker, std::shared_ptr<spdlog::logger> log,
           std::chrono::seconds sys_interval, std::size_t max_packet_size)
    : cfg_(std::move(cfg)), log_(std::move(log)), sys_interval_(sys_interval),
      client_id_(cfg_.client_id.empty() ? host_name() + "-" + cfg_.name : cfg_.client_id),
      status_(cfg_.name, cfg_.addresses.front()), transport_(ctx_, cfg_),
      forwarder_(cfg_, broker, *log_, status_),
      upstream_(
          ctx_, transport_,
          upstream_settings(cfg_, client_id_, forwarder_.remote_subscriptions(), max_packet_size),
          *log_, forwarder_),
      backoff_(cfg_.reconnect_min, cfg_.reconnect_max), stop_timer_(ctx_) {
    forwarder_.attach(upstream_);
}

link::~link() {
    stop();
}

void link::start() {
    forwarder_.start(ctx_);
    status_.attach(forwarder_.client());
    status_.set_state(bridge_state::connecting, "");
    const auto on_done = broker::log_exception(*log_, "bridge " + cfg_.name);
    asio::co_spawn(ctx_, async_run(), on_done);
    if (sys_interval_.count() > 0) {
        asio::co_spawn(ctx_, status_.async_publish(sys_interval_), on_done);
    }
    thread_ = std::thread([this] { ctx_.run(); });
}

void link::stop() {
    if (!thread_.joinable()) {
        return;
    }
    forwarder_.close_intake();
    asio::post(ctx_, [this] {
        // Messages the broker handed over are queued before anything else: they were
        // acknowledged to their publishers.
        forwarder_.drain();
        stopping_ = true;
        if (!upstream_.finish([this] { ctx_.stop(); })) {
            ctx_.stop();
            return;
        }
        stop_timer_.expires_after(1s);
        stop_timer_.async_wait([this](boost::system::error_code) { ctx_.stop(); });
    });
    thread_.join();
    status_.set_state(bridge_state::disconnected, "stopped");
    log_->info("bridge {} stopped; {} messages stay queued", cfg_.name, forwarder_.queued());
}

asio::awaitable<void> link::async_run() {
    asio::steady_timer pause{ctx_};
    unsigned failures = 0;
    std::size_t next_address = 0;
    while (!stopping_) {
        const auto& address = cfg_.addresses[next_address % cfg_.addresses.size()];
        const auto [host, port] = split_address(address);
        status_.set_address(address);
        auto why = co_await upstream_.async_connect(host, port);
        if (stopping_) {
            break;
        }
        if (upstream_.bridge_bit() &&
            upstream_.refused() == broker::codec::connect_return_code::unacceptable_protocol_version) {
            // Some brokers refuse the bridge bit (3.1.1 with 0x80): retry at once without it, as
            // Mosquitto's bridge does, for the rest of this link's life.
            log_->warn("bridge {}: {} refused the bridge bit (protocol level 0x84); connecting "
                       "without it (set try_private = false to skip this)",
                       cfg_.name, address);
            upstream_.drop_bridge_bit();
            continue;
        }
        if (why.empty()) {
            failures = 0;
            log_->info("bridge {}: connected to {} as {}{}; {} messages queued", cfg_.name, address,
                       client_id_, cfg_.tls ? " over TLS" : "", forwarder_.queued());
            last_failure_.clear();
            status_.set_state(bridge_state::connected, "");
            why = co_await upstream_.async_run();
            forwarder_.connection_lost();
            if (stopping_) {
                break;
            }
            log_->warn("bridge {}: lost the connection to {}: {}; {} messages queued", cfg_.name,
                       address, why, forwarder_.queued());
            status_.set_state(bridge_state::disconnected, why);
        } else {
            if (why != last_failure_) {
                log_->warn("bridge {}: cannot connect to {}: {}; retrying with backoff up to {:g}s",
                           cfg_.name, address, why,
                           std::chrono::duration<double>(cfg_.reconnect_max).count());
                last_failure_ = why;
            } else {
                log_->debug("bridge {}: cannot connect to {}: {}", cfg_.name, address, why);
            }
            status_.set_state(bridge_state::disconnected, why);
            ++failures;
            ++next_address; // failover: the next address, if there are several
        }
        pause.expires_after(backoff_.delay(failures));
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
    }
}

} // namespace edgemq::bridge
