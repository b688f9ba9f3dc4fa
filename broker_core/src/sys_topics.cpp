// SPDX-License-Identifier: Apache-2.0
// $SYS/broker/... and the counters behind it (Mosquitto's names).
#include "broker_impl.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace edgemq::broker {
namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

} // namespace

asio::awaitable<void> broker_impl::sys_loop() {
    while (true) {
        publish_sys();
        sys_timer_->expires_after(opts.sys_interval);
        auto [ec] = co_await sys_timer_->async_wait(use_nothrow);
        if (ec) {
            co_return;
        }
    }
}

void broker_impl::publish_sys() {
    const auto s = stats();
    auto& w = *workers.front();
    const auto put = [this, &w](const char* topic, std::string value) {
        route(w, make_message(topic, std::move(value), 0, true));
    };
    put("$SYS/broker/uptime", std::to_string(s.uptime_seconds) + " seconds");
    put("$SYS/broker/clients/connected", std::to_string(s.clients_connected));
    put("$SYS/broker/clients/active", std::to_string(s.clients_connected));
    put("$SYS/broker/clients/total", std::to_string(s.clients_total));
    put("$SYS/broker/clients/disconnected",
        std::to_string(s.clients_total - std::min(s.clients_total, s.clients_connected)));
    put("$SYS/broker/clients/maximum", std::to_string(s.clients_maximum));
    put("$SYS/broker/messages/received", std::to_string(s.messages_received));
    put("$SYS/broker/messages/sent", std::to_string(s.messages_sent));
    put("$SYS/broker/publish/messages/dropped", std::to_string(s.messages_dropped));
    put("$SYS/broker/publish/messages/denied", std::to_string(s.messages_denied));
    put("$SYS/broker/clients/packet_timeouts", std::to_string(s.packet_timeouts));
    put("$SYS/broker/clients/unauthenticated_closed", std::to_string(s.unauthenticated_closed));
    put("$SYS/broker/clients/slow_consumers", std::to_string(s.slow_consumers));
    put("$SYS/broker/bytes/received", std::to_string(s.bytes_received));
    put("$SYS/broker/bytes/sent", std::to_string(s.bytes_sent));
    put("$SYS/broker/subscriptions/count", std::to_string(s.subscriptions));
    put("$SYS/broker/retained messages/count", std::to_string(s.retained_messages));
    if (session_db_) {
        put("$SYS/broker/persistence/errors", std::to_string(s.persistence_errors));
        put("$SYS/broker/persistence/failing", s.persistence_failing ? "1" : "0");
    }
    flush(w);
}

broker_stats broker_impl::stats() const {
    broker_stats s;
    for (const auto& w : workers) {
        s.messages_received += w->messages_received.get();
        s.messages_sent += w->messages_sent.get();
        s.bytes_received += w->bytes_received.get();
        s.bytes_sent += w->bytes_sent.get();
        s.messages_dropped += w->messages_dropped.get();
        s.messages_denied += w->messages_denied.get();
        s.packet_timeouts += w->packet_timeouts.get();
        s.unauthenticated_closed += w->unauthenticated_closed.get();
        s.slow_consumers += w->slow_consumers.get();
    }
    s.clients_connected = clients_connected_.load(std::memory_order_relaxed);
    s.clients_maximum = connections_max_.load(std::memory_order_relaxed);
    {
        const std::lock_guard lock{registry_mutex_};
        s.clients_total = sessions_.size();
    }
    s.subscriptions = static_cast<std::uint64_t>(
        std::max<std::int64_t>(0, subscriptions_.load(std::memory_order_relaxed)));
    s.retained_messages = retained_.size();
    if (session_db_) {
        s.persistence_errors = session_db_->write_errors();
        s.persistence_failing = session_db_->failing();
    }
    if (retained_db_) {
        s.persistence_errors += retained_db_->write_errors();
        s.persistence_failing = s.persistence_failing || retained_db_->failing();
    }
    s.uptime_seconds = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                                      std::chrono::steady_clock::now() - started_)
                                                      .count());
    return s;
}

} // namespace edgemq::broker
