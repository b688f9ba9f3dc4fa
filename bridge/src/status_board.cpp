// SPDX-License-Identifier: Apache-2.0
#include "status_board.hpp"

#include "edgemq/broker/clock.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <utility>

namespace edgemq::bridge {
namespace asio = boost::asio;

status_board::status_board(std::string name, std::string address) {
    status_.name = std::move(name);
    status_.address = std::move(address);
}

void status_board::attach(std::shared_ptr<broker::internal_client> client) {
    client_ = std::move(client);
}

void status_board::set_state(bridge_state state, std::string error) {
    // $SYS shows Mosquitto's two states; "connecting" counts as disconnected there.
    const auto sys =
        state == bridge_state::connected ? bridge_state::connected : bridge_state::disconnected;
    {
        const std::lock_guard lock{mutex_};
        if (state != bridge_state::connected) {
            status_.connected_since = 0;
        } else if (status_.state != bridge_state::connected) {
            status_.connected_since = broker::unix_seconds();
        }
        status_.state = state;
        status_.last_error = std::move(error);
        if (sys_ == sys) {
            return;
        }
        sys_ = sys;
    }
    if (client_) {
        client_->publish({"$SYS/broker/bridges/" + status_.name + "/state",
                          std::string(to_string(sys)), 0, true, 0});
    }
}

void status_board::set_address(std::string address) {
    const std::lock_guard lock{mutex_};
    status_.address = std::move(address);
}

bridge_status status_board::snapshot() const {
    const std::lock_guard lock{mutex_};
    auto s = status_;
    s.queued = queued_.load(std::memory_order_relaxed);
    s.queued_bytes = queued_bytes_.load(std::memory_order_relaxed);
    s.sent = sent_.load(std::memory_order_relaxed);
    s.acked = acked_.load(std::memory_order_relaxed);
    s.dropped = dropped_.load(std::memory_order_relaxed);
    s.received = received_.load(std::memory_order_relaxed);
    return s;
}

void status_board::publish_counters() {
    const auto s = snapshot();
    const auto prefix = "$SYS/broker/bridges/" + s.name + "/";
    const std::pair<const char*, std::uint64_t> values[] = {
        {"queue/messages", s.queued},    {"queue/bytes", s.queued_bytes},
        {"messages/sent", s.sent},       {"messages/acked", s.acked},
        {"messages/dropped", s.dropped}, {"messages/received", s.received},
    };
    for (const auto& [name, value] : values) {
        client_->publish({prefix + name, std::to_string(value), 0, true, 0});
    }
}

asio::awaitable<void> status_board::async_publish(std::chrono::seconds interval) {
    asio::steady_timer tick{co_await asio::this_coro::executor};
    for (;;) {
        tick.expires_after(interval);
        auto [ec] = co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec) {
            co_return;
        }
        publish_counters();
    }
}

} // namespace edgemq::bridge
