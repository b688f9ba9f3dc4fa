// SPDX-License-Identifier: Apache-2.0
// In-process clients (serial drivers, bridges): sessions without a connection.
#include "broker_impl.hpp"

#include "edgemq/broker/routing/topic.hpp"

#include <boost/asio/post.hpp>

namespace edgemq::broker {

namespace {

class internal_client_impl final : public internal_client {
public:
    internal_client_impl(broker_impl& b, session_ptr s, std::string name)
        : broker_(b), session_(std::move(s)), name_(std::move(name)) {}
    ~internal_client_impl() override { disconnect(); }

    std::uint32_t id() const noexcept override { return session_->in_process->id; }
    const std::string& name() const noexcept override { return name_; }

    void publish(message m) override {
        m.origin = id();
        broker_.publish(std::make_shared<const message>(std::move(m)));
    }

    void subscribe(std::string filter, std::uint8_t qos) override {
        if (!closed_) {
            broker_.subscribe_internal(session_, std::move(filter), qos);
        }
    }

    void unsubscribe(std::string filter) override {
        if (closed_) {
            return;
        }
        auto& w = *broker_.workers[session_->home.load(std::memory_order_acquire)];
        asio::post(w.ctx, [&b = broker_, &w, s = session_, filter = std::move(filter)] {
            b.unsubscribe(w, s, filter);
        });
    }

    void disconnect() override {
        if (!closed_.exchange(true)) {
            broker_.end_internal(session_);
        }
    }

private:
    broker_impl& broker_;
    session_ptr session_;
    std::string name_;
    std::atomic<bool> closed_{false};
};

} // namespace

std::shared_ptr<internal_client>
broker_impl::connect_internal(std::string name, std::function<void(const message_ptr&)> on_message,
                              std::shared_ptr<internal_store> store) {
    const unsigned home = next_worker_.fetch_add(1, std::memory_order_relaxed) % workers.size();
    const auto origin = origins_.fetch_add(1, std::memory_order_relaxed) + 1;
    auto s = std::make_shared<session>("$internal/" + name, origin, home, opts.session);
    s->in_process = std::make_unique<session::in_process_client>(
        session::in_process_client{origin, std::move(on_message), std::move(store)});
    s->online.store(true, std::memory_order_relaxed);
    {
        const std::lock_guard lock{registry_mutex_};
        internal_sessions_.push_back(s);
    }
    return std::make_shared<internal_client_impl>(*this, std::move(s), std::move(name));
}

void broker_impl::subscribe_internal(const session_ptr& s, std::string filter, std::uint8_t qos) {
    if (!routing::is_valid_topic_filter(filter) || qos > 2) {
        log.error("in-process client {} asked for an invalid subscription filter={} qos={}",
                  s->client_id, filter, qos);
        return;
    }
    auto& w = *workers[s->home.load(std::memory_order_acquire)];
    asio::post(w.ctx, [this, &w, s, filter = std::move(filter), qos] {
        if (!s->receives_in_process()) {
            return; // disconnected meanwhile
        }
        subscribe(w, s, filter, protocol::subscription_options{qos});
        for (const auto& m : retained_.match(filter)) {
            if (m->origin != s->in_process->id) {
                s->in_process->deliver(m);
            }
        }
    });
}

void broker_impl::end_internal(const session_ptr& s) {
    {
        const std::lock_guard lock{registry_mutex_};
        std::erase(internal_sessions_, s);
    }
    if (!running_) {
        return; // the broker is gone or going: its threads no longer run handlers
    }
    auto& w = *workers[s->home.load(std::memory_order_acquire)];
    asio::post(w.ctx, [this, &w, s] {
        s->in_process->deliver = nullptr;
        end_session(w, s);
    });
}

void broker_impl::publish(message_ptr m) {
    auto& w = *workers.front();
    asio::post(w.ctx, [this, &w, m = std::move(m)] {
        route(w, m);
        flush(w);
    });
}

} // namespace edgemq::broker
