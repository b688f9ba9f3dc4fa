// SPDX-License-Identifier: Apache-2.0
#include "broker_impl.hpp"
#include "heap_trimmer.hpp"
#include "net/connection.hpp"

#include "edgemq/broker/error.hpp"
#include "edgemq/broker/log_exception.hpp"
#include "edgemq/broker/routing/topic.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <future>

namespace edgemq::broker {
namespace {

/// What a rate-limited log line adds for the lines it held back.
std::string held_back(std::uint64_t n) {
    return n > 0 ? " (" + std::to_string(n) + " more in the last second)" : std::string{};
}

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
constexpr const char* version_string = "edgemq version " EDGEMQ_VERSION;

} // namespace

// ---------------------------------------------------------------------------------------------
// Lifecycle

broker_impl::broker_impl(broker_options o, std::shared_ptr<spdlog::logger> l)
    : opts(std::move(o)), log(*l), log_owner_(std::move(l)) {
    unsigned n = opts.threads;
    if (n == 0) {
        n = std::max(1u, std::thread::hardware_concurrency());
    }
    for (unsigned i = 0; i < n; ++i) {
        workers.push_back(std::make_unique<worker>(i));
        workers.back()->outbox.resize(n);
    }
}

void broker_impl::start() {
    auto& ctx0 = workers.front()->ctx;
    if (opts.persistence) {
        retained_db_ = std::make_unique<persist::retained_db>(opts.persistence_file, log);
        const auto stored = retained_db_->load();
        for (const auto& m : stored) {
            retained_.set(m);
        }
        log.info("{} retained messages restored from {}", stored.size(),
                 retained_db_->path().string());
    }
    for (const auto& l : opts.listeners) {
        const asio::ip::tcp::endpoint ep{asio::ip::make_address(l.host), l.port};
        auto state = std::make_unique<listener_state>(l, ctx0);
        // A bad file stops the start, naming it.
        if (uses_tls(l.type)) {
            state->tls = make_tls_context(l);
        }
        if (!l.password_file.empty()) {
            state->passwords = std::make_shared<const auth::password_file>(
                auth::password_file::load(l.password_file));
        }
        if (!l.acl_file.empty()) {
            auto acl = std::make_shared<const auth::acl>(auth::acl::load(l.acl_file));
            for (const auto& w : acl->warnings()) {
                log.warn("acl_file {}", w);
            }
            state->acl = std::move(acl);
        }
        auto& acceptor = state->acceptor;
        try {
            acceptor.open(ep.protocol());
            acceptor.set_option(asio::socket_base::reuse_address(true));
            acceptor.bind(ep);
            acceptor.listen(asio::socket_base::max_listen_connections);
        } catch (const boost::system::system_error& e) {
            throw std::system_error(e.code(), "cannot listen on " + l.host + ":" +
                                                  std::to_string(l.port) + " (" +
                                                  std::string{to_string(l.type)} + ")");
        }
        const auto port = acceptor.local_endpoint().port();
        bound.push_back({l.type, l.host, port});
        log.info("listener started type={} bind={}:{}", to_string(l.type), l.host, port);
        asio::co_spawn(ctx0, accept_loop(*state), log_exception(log, "accept loop"));
        listeners_.push_back(std::move(state));
    }
    // The version is retained and never changes [Mosquitto: $SYS/broker/version].
    retained_.set(make_message("$SYS/broker/version", version_string, 0, true));
    if (opts.sys_interval.count() > 0) {
        sys_timer_.emplace(ctx0);
        asio::co_spawn(ctx0, sys_loop(), log_exception(log, "$SYS publisher"));
    }
    for (auto& w : workers) {
        asio::co_spawn(w->ctx, sweep_loop(*w), log_exception(log, "deadline sweep"));
    }
    running_ = true;
    for (auto& w : workers) {
        w->thread = std::thread([&ctx = w->ctx] {
            auto guard = asio::make_work_guard(ctx);
            ctx.run();
        });
    }
}

void broker_impl::stop() {
    if (!running_) {
        return;
    }
    running_ = false;
    std::vector<std::future<void>> closed;
    for (auto& w : workers) {
        std::promise<void> done;
        closed.push_back(done.get_future());
        asio::post(w->ctx, [this, &w = *w, done = std::move(done)]() mutable {
            w.sweep_timer.cancel();
            if (w.index == 0) {
                for (auto& l : listeners_) {
                    boost::system::error_code ignored;
                    l->acceptor.close(ignored);
                }
                if (sys_timer_) {
                    sys_timer_->cancel();
                }
            }
            while (w.connections != nullptr) {
                w.connections->close(errc::server_shutting_down); // unlinks it
            }
            done.set_value();
        });
    }
    for (auto& f : closed) {
        f.wait();
    }
    for (auto& w : workers) {
        w->ctx.stop();
    }
    for (auto& w : workers) {
        if (w->thread.joinable()) {
            w->thread.join();
        }
    }
    // Sessions hold subscriptions that point back at them; drop both.
    for (auto& w : workers) {
        w->subscriptions = {};
    }
    {
        const std::lock_guard lock{registry_mutex_};
        sessions_.clear();
    }
    retained_db_.reset(); // writes what is pending
    log.info("broker stopped");
}

// ---------------------------------------------------------------------------------------------
// Connections

asio::awaitable<void> broker_impl::accept_loop(listener_state& l) {
    auto& acceptor = l.acceptor;
    while (acceptor.is_open()) {
        auto& w = *workers[next_worker_.fetch_add(1, std::memory_order_relaxed) % workers.size()];
        auto [ec, socket] = co_await acceptor.async_accept(w.ctx, use_nothrow);
        if (ec) {
            if (ec == asio::error::operation_aborted) {
                co_return;
            }
            // EMFILE and friends: back off briefly instead of spinning.
            log.warn("accept failed listener={}:{} error={}", l.cfg.host, l.cfg.port, ec.message());
            asio::steady_timer pause{acceptor.get_executor(), std::chrono::milliseconds(100)};
            co_await pause.async_wait(use_nothrow);
            continue;
        }
        if (!admit(l)) {
            continue; // the socket closes as it goes out of scope
        }
        asio::post(w.ctx, [this, &w, &l, s = std::move(socket), tls = l.tls]() mutable {
            std::shared_ptr<connection> c;
            if (l.cfg.type == listener_type::tcp) {
                c = std::make_shared<tcp_connection>(*this, w, l, std::move(s));
            } else {
                c = make_stream_connection(*this, w, l, std::move(s), std::move(tls));
            }
            w.link(*c);
            c->start();
        });
    }
}

void broker_impl::reload_files() {
    // Read everything first: one bad file changes nothing.
    struct fresh_files {
        listener_state* l;
        std::shared_ptr<asio::ssl::context> tls;
        std::shared_ptr<const auth::password_file> passwords;
        std::shared_ptr<const auth::acl> acl;
    };
    std::vector<fresh_files> fresh;
    for (auto& l : listeners_) {
        fresh_files f{l.get(), nullptr, nullptr, nullptr};
        if (l->tls) {
            f.tls = make_tls_context(l->cfg);
        }
        if (!l->cfg.password_file.empty()) {
            f.passwords = std::make_shared<const auth::password_file>(
                auth::password_file::load(l->cfg.password_file));
        }
        if (!l->cfg.acl_file.empty()) {
            f.acl = std::make_shared<const auth::acl>(auth::acl::load(l->cfg.acl_file));
        }
        fresh.push_back(std::move(f));
    }
    for (auto& f : fresh) {
        f.l->passwords.store(std::move(f.passwords));
        f.l->acl.store(std::move(f.acl));
    }
    asio::post(workers.front()->ctx, [fresh = std::move(fresh)]() mutable {
        for (auto& f : fresh) {
            if (f.tls) {
                f.l->tls = std::move(f.tls); // the accept loop reads it on this thread
            }
        }
    });
    log.info("certificates, password and ACL files reloaded");
}

void broker_impl::log_auth_failure(std::string_view client_id, std::string_view user,
                                   std::string peer) {
    if (const auto suppressed = auth_log_.admit()) { // a password-guessing client must not flood
        log.warn("login refused client_id={} user={} peer={}{}", client_id,
                 user.empty() ? std::string_view{"(anonymous)"} : user, peer,
                 held_back(*suppressed));
    }
}

void broker_impl::log_limit_closed(std::string_view client_id, const std::string& peer,
                                   boost::system::error_code reason) {
    if (const auto suppressed = limit_log_.admit()) {
        log.warn("client disconnected client_id={} peer={} reason={}{}", client_id, peer,
                 reason.message(), held_back(*suppressed));
    }
}

bool broker_impl::admit(listener_state& l) {
    if (l.cfg.max_connections != 0 &&
        l.connections.fetch_add(1, std::memory_order_relaxed) >= l.cfg.max_connections) {
        l.connections.fetch_sub(1, std::memory_order_relaxed);
        log.warn("connection refused: listener {}:{} max_connections={} reached", l.cfg.host,
                 l.cfg.port, l.cfg.max_connections);
        return false;
    }
    if (l.cfg.max_connections == 0) {
        l.connections.fetch_add(1, std::memory_order_relaxed);
    }
    const auto n = connections_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (opts.max_connections != 0 && n > opts.max_connections) {
        connections_.fetch_sub(1, std::memory_order_relaxed);
        l.connections.fetch_sub(1, std::memory_order_relaxed);
        log.warn("connection refused: max_connections={} reached", opts.max_connections);
        return false;
    }
    auto max = connections_max_.load(std::memory_order_relaxed);
    while (n > max && !connections_max_.compare_exchange_weak(max, n)) {
    }
    return true;
}

asio::awaitable<broker_impl::attach_result> broker_impl::async_attach(worker& w,
                                                                      std::shared_ptr<connection> c,
                                                                      std::string client_id,
                                                                      bool clean) {
    attach_result result;
    session_ptr previous;
    std::uint64_t my_claim = 0;
    {
        const std::lock_guard lock{registry_mutex_};
        if (auto it = sessions_.find(client_id); it != sessions_.end()) {
            previous = it->second;
        }
        if (previous && !clean && !previous->clean) {
            result.session = previous; // [MQTT-3.1.2-4]: resume
            result.session_present = true;
        } else {
            result.session = std::make_shared<session>(client_id, clean, w.index, opts.session);
            if (previous) {
                sessions_.erase(previous->client_id);
            }
            sessions_.emplace(result.session->client_id, result.session);
        }
        my_claim = result.session->claim = ++claims_;
    }
    if (previous) {
        // Close the previous connection [MQTT-3.1.4-2] on the thread that owns the session,
        // then either move the session here or discard it [MQTT-3.1.2-6].
        const bool resume = previous == result.session;
        while (true) {
            const unsigned home = previous->home.load(std::memory_order_acquire);
            auto& owner = *workers[home];
            // A member coroutine, not a capturing lambda (CP.51): GCC 12 destroys a lambda
            // coroutine handed to co_spawn inside co_await twice, releasing `previous` once too
            // often and freeing a session that is still in use.
            const bool done = co_await asio::co_spawn(
                owner.ctx, take_over(owner, previous, resume, w.index), asio::use_awaitable);
            if (done) {
                break;
            }
        }
    }
    {
        const std::lock_guard lock{registry_mutex_};
        if (result.session->claim != my_claim) {
            co_return attach_result{}; // a newer CONNECT for this id arrived meanwhile
        }
    }
    result.session->conn = c.get();
    clients_connected_.fetch_add(1, std::memory_order_relaxed);
    co_return result;
}

asio::awaitable<bool> broker_impl::take_over(worker& owner, session_ptr previous, bool resume,
                                             unsigned to) {
    if (previous->home.load(std::memory_order_acquire) != owner.index) {
        co_return false; // it moved meanwhile; follow it
    }
    if (previous->conn != nullptr) {
        previous->conn->close(errc::session_taken_over);
    }
    if (resume) {
        previous->home.store(to, std::memory_order_release);
    } else if (!previous->clean) {
        end_session(owner, previous);
    }
    co_return true;
}

void broker_impl::on_connection_closed(worker& w, connection& c, listener_state& l, session_ptr s) {
    w.unlink(c);
    l.connections.fetch_sub(1, std::memory_order_relaxed);
    connections_.fetch_sub(1, std::memory_order_relaxed);
    detach(w, c, std::move(s));
}

void broker_impl::detach(worker& w, connection& c, session_ptr s) {
    if (!s || s->conn != &c) {
        return;
    }
    s->conn = nullptr;
    clients_connected_.fetch_sub(1, std::memory_order_relaxed);
    if (s->clean) {
        end_session(w, s); // [MQTT-3.1.2-6]
    }
}

void broker_impl::end_session(worker& w, const session_ptr& s) {
    subscriptions_.fetch_sub(static_cast<std::int64_t>(s->subscriptions.size()),
                             std::memory_order_relaxed);
    for (const auto& [filter, qos] : s->subscriptions) {
        on_every_worker(w, [filter = filter, s](worker& x) { x.subscriptions.erase(filter, s); });
    }
    s->subscriptions.clear();
    const std::lock_guard lock{registry_mutex_};
    if (auto it = sessions_.find(s->client_id); it != sessions_.end() && it->second == s) {
        sessions_.erase(it);
    }
}

void worker::link(connection& c) {
    c.next_in_worker = connections;
    if (connections != nullptr) {
        connections->prev_in_worker = &c;
    }
    connections = &c;
}

void worker::unlink(connection& c) {
    if (c.prev_in_worker != nullptr) {
        c.prev_in_worker->next_in_worker = c.next_in_worker;
    } else if (connections == &c) {
        connections = c.next_in_worker;
    }
    if (c.next_in_worker != nullptr) {
        c.next_in_worker->prev_in_worker = c.prev_in_worker;
    }
    c.prev_in_worker = c.next_in_worker = nullptr;
}

// ---------------------------------------------------------------------------------------------
// Subscriptions and routing

template <typename F> void broker_impl::on_every_worker(worker& self, F f) {
    for (auto& w : workers) {
        if (w.get() == &self) {
            f(self);
        } else {
            asio::post(w->ctx, [f, &x = *w]() mutable { f(x); });
        }
    }
}

void broker_impl::subscribe(worker& w, const session_ptr& s, const std::string& filter,
                            std::uint8_t qos) {
    if (s->subscriptions.insert_or_assign(filter, qos).second) { // a repeat replaces [MQTT-3.8.4-3]
        subscriptions_.fetch_add(1, std::memory_order_relaxed);
    }
    on_every_worker(w, [filter, s, qos](worker& x) { x.subscriptions.insert(filter, s, qos); });
}

void broker_impl::unsubscribe(worker& w, const session_ptr& s, const std::string& filter) {
    if (s->subscriptions.erase(filter) == 0) {
        return;
    }
    subscriptions_.fetch_sub(1, std::memory_order_relaxed);
    on_every_worker(w, [filter, s](worker& x) { x.subscriptions.erase(filter, s); });
}

void broker_impl::route(worker& w, const message_ptr& m) {
    if (m->retain) {
        retained_.set(m); // [MQTT-3.3.1-5]
        if (retained_db_) {
            retained_db_->record(m);
        }
    }
    auto& targets = w.targets;
    targets.clear();
    w.subscriptions.match(m->topic, [&targets](const session_ptr& s, std::uint8_t qos) {
        targets.emplace_back(&s, qos);
    });
    // A client with overlapping subscriptions gets the message once, at the highest QoS granted.
    if (targets.size() > 1) {
        std::sort(targets.begin(), targets.end(), [](const auto& a, const auto& b) {
            return a.first->get() < b.first->get() ||
                   (a.first->get() == b.first->get() && a.second > b.second);
        });
        targets.erase(std::unique(targets.begin(), targets.end(),
                                  [](const auto& a, const auto& b) {
                                      return a.first->get() == b.first->get();
                                  }),
                      targets.end());
    }
    for (const auto& [s, granted] : targets) {
        // The forwarded copy never carries the retain flag [MQTT-3.3.1-9].
        protocol::delivery d{m, std::min(m->qos, granted), false};
        const unsigned home = (*s)->home.load(std::memory_order_acquire);
        if (home == w.index) {
            deliver_local(w, *s, std::move(d));
        } else {
            w.outbox[home].push_back({*s, std::move(d)});
        }
    }
}

void broker_impl::deliver_local(worker& w, const session_ptr& s, protocol::delivery d) {
    if (s->internal) {
        if (d.msg->origin != s->internal_id) { // never back to its publisher
            w.messages_sent.add();
            (*s->internal)(d.msg);
        }
        return;
    }
    if (!s->may_receive(d.msg->topic)) {
        return; // an ACL read rule keeps this topic from this client
    }
    connection* c = s->conn;
    if (s->state.deliver(std::move(d), c != nullptr ? &c->out() : nullptr)) {
        if (c != nullptr) {
            w.messages_sent.add();
            c->notify_writer();
        }
    } else {
        w.messages_dropped.add();
    }
}

void broker_impl::flush(worker& w) {
    for (std::size_t i = 0; i < w.outbox.size(); ++i) {
        auto& batch = w.outbox[i];
        if (batch.empty()) {
            continue;
        }
        asio::post(workers[i]->ctx, [this, &dst = *workers[i], batch = std::move(batch)]() mutable {
            for (auto& r : batch) {
                const unsigned home = r.target->home.load(std::memory_order_acquire);
                if (home == dst.index) {
                    deliver_local(dst, r.target, std::move(r.d));
                } else {
                    dst.outbox[home].push_back(std::move(r)); // the session moved; follow it
                }
            }
            flush(dst);
        });
        batch = {};
    }
}

asio::awaitable<void> broker_impl::sweep_loop(worker& w) {
    // One timer per thread, not per connection: deadlines are checked four times a second, so a
    // keep-alive of k seconds closes between 1.5 k and 1.5 k + 0.25 s of silence.
    constexpr auto period = std::chrono::milliseconds(250);
    constexpr unsigned sweeps_per_trim = 20; // every 5 s, on worker 0
    heap_trimmer heap;
    for (unsigned n = 1;; ++n) {
        w.sweep_timer.expires_after(period);
        auto [ec] = co_await w.sweep_timer.async_wait(use_nothrow);
        if (ec) {
            co_return;
        }
        const auto now = std::chrono::steady_clock::now();
        for (connection* c = w.connections; c != nullptr;) {
            connection* next = c->next_in_worker; // closing unlinks c
            c->check_deadline(now);
            c = next;
        }
        if (w.index == 0 && n % sweeps_per_trim == 0) {
            heap.poll();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// $SYS and statistics

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
    put("$SYS/broker/bytes/received", std::to_string(s.bytes_received));
    put("$SYS/broker/bytes/sent", std::to_string(s.bytes_sent));
    put("$SYS/broker/subscriptions/count", std::to_string(s.subscriptions));
    put("$SYS/broker/retained messages/count", std::to_string(s.retained_messages));
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
    s.uptime_seconds = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                                      std::chrono::steady_clock::now() - started_)
                                                      .count());
    return s;
}

// ---------------------------------------------------------------------------------------------
// In-process clients

namespace {

class internal_client_impl final : public internal_client {
public:
    internal_client_impl(broker_impl& b, session_ptr s, std::string name)
        : broker_(b), session_(std::move(s)), name_(std::move(name)) {}
    ~internal_client_impl() override { disconnect(); }

    std::uint32_t id() const noexcept override { return session_->internal_id; }
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
broker_impl::connect_internal(std::string name,
                              std::function<void(const message_ptr&)> on_message) {
    const unsigned home = next_worker_.fetch_add(1, std::memory_order_relaxed) % workers.size();
    auto s = std::make_shared<session>("$internal/" + name, true, home, opts.session);
    s->internal = std::make_unique<std::function<void(const message_ptr&)>>(std::move(on_message));
    {
        const std::lock_guard lock{registry_mutex_};
        s->internal_id = ++internal_ids_;
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
        if (!s->internal) {
            return; // disconnected meanwhile
        }
        subscribe(w, s, filter, qos);
        for (const auto& m : retained_.match(filter)) {
            if (m->origin != s->internal_id) {
                (*s->internal)(m);
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
        s->internal.reset();
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

// ---------------------------------------------------------------------------------------------
// The admin surface's view

template <typename F> void broker_impl::on_every_worker_and_wait(F f) {
    std::vector<std::future<void>> done;
    for (auto& w : workers) {
        auto task = std::make_shared<std::packaged_task<void()>>([&f, &w = *w] { f(w); });
        done.push_back(task->get_future());
        asio::post(w->ctx, [task] { (*task)(); });
    }
    for (auto& d : done) {
        d.get();
    }
}

std::vector<session_ptr> broker_impl::all_sessions() {
    const std::lock_guard lock{registry_mutex_};
    std::vector<session_ptr> all;
    all.reserve(sessions_.size() + internal_sessions_.size());
    for (const auto& [id, s] : sessions_) {
        all.push_back(s);
    }
    all.insert(all.end(), internal_sessions_.begin(), internal_sessions_.end());
    return all;
}

std::vector<client_info> broker_impl::clients() {
    const auto all = all_sessions();
    std::mutex out_mutex;
    std::vector<client_info> out;
    on_every_worker_and_wait([&](worker& w) {
        for (const auto& s : all) {
            if (s->home.load(std::memory_order_acquire) != w.index) {
                continue;
            }
            client_info info;
            info.client_id = s->client_id;
            info.internal = s->internal_id != 0;
            info.connected = s->conn != nullptr || info.internal;
            info.clean_session = s->clean;
            if (s->access) {
                info.username = s->access->username;
            }
            info.subscriptions = s->subscriptions.size();
            info.inflight = s->state.inflight();
            info.queued = s->state.queued();
            info.dropped = s->state.dropped();
            if (s->conn != nullptr) {
                s->conn->describe(info);
            }
            const std::lock_guard lock{out_mutex};
            out.push_back(std::move(info));
        }
    });
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.client_id < b.client_id; });
    return out;
}

std::vector<subscription_info> broker_impl::subscriptions() {
    const auto all = all_sessions();
    std::mutex out_mutex;
    std::vector<subscription_info> out;
    on_every_worker_and_wait([&](worker& w) {
        for (const auto& s : all) {
            if (s->home.load(std::memory_order_acquire) != w.index) {
                continue;
            }
            const std::lock_guard lock{out_mutex};
            for (const auto& [filter, qos] : s->subscriptions) {
                out.push_back({s->client_id, filter, qos});
            }
        }
    });
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        return std::tie(a.client_id, a.filter) < std::tie(b.client_id, b.filter);
    });
    return out;
}

bool broker_impl::kick(std::string_view client_id) {
    session_ptr s;
    {
        const std::lock_guard lock{registry_mutex_};
        if (auto it = sessions_.find(client_id); it != sessions_.end()) {
            s = it->second;
        }
    }
    if (!s) {
        return false;
    }
    bool kicked = false;
    on_every_worker_and_wait([&](worker& w) {
        if (s->home.load(std::memory_order_acquire) == w.index && s->conn != nullptr) {
            s->conn->close(errc::kicked);
            kicked = true;
        }
    });
    return kicked;
}

// ---------------------------------------------------------------------------------------------
// The public face

broker::broker(broker_options opts, std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_unique<broker_impl>(std::move(opts), std::move(log))) {}

broker::~broker() {
    stop();
}

void broker::start() {
    impl_->start();
}
void broker::stop() {
    impl_->stop();
}

std::vector<bound_listener> broker::listeners() const {
    return impl_->bound;
}

void broker::publish(message_ptr m) {
    impl_->publish(std::move(m));
}

broker_stats broker::stats() const {
    return impl_->stats();
}

void broker::reload_files() {
    impl_->reload_files();
}

std::shared_ptr<internal_client>
broker::connect_internal(std::string name, std::function<void(const message_ptr&)> on_message) {
    return impl_->connect_internal(std::move(name), std::move(on_message));
}

std::vector<client_info> broker::clients() const {
    return impl_->clients();
}
std::vector<subscription_info> broker::subscriptions() const {
    return impl_->subscriptions();
}
std::vector<message_ptr> broker::retained() const {
    return impl_->retained();
}
bool broker::delete_retained(std::string_view topic) {
    return impl_->delete_retained(topic);
}
bool broker::kick(std::string_view client_id) {
    return impl_->kick(client_id);
}

} // namespace edgemq::broker
