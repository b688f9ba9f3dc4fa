// SPDX-License-Identifier: Apache-2.0
// The broker's life: start (the retained store, listeners, $SYS, the I/O threads), the
// per-thread deadline sweep, stop; and the public face. The rest of broker_impl lives in
// admission.cpp, session_registry.cpp, router.cpp, sys_topics.cpp, internal_client.cpp and
// admin_view.cpp.
#include "broker_impl.hpp"
#include "heap_trimmer.hpp"
#include "net/connection.hpp"

#include "edgemq/broker/error.hpp"
#include "edgemq/broker/log_exception.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <filesystem>
#include <future>

namespace edgemq::broker {
namespace {

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
        workers.push_back(std::make_unique<worker>(*this, i));
        workers.back()->outbox.resize(n);
    }
}

void broker_impl::start() {
    auto& ctx0 = workers.front()->ctx;
    const bool full_sync = opts.sync == broker_options::sync_mode::full;
    if (opts.persistence) {
        retained_db_ = std::make_shared<persist::retained_db>(opts.persistence_file, log, full_sync);
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
        state->index = static_cast<std::uint32_t>(listeners_.size());
        // A bad file stops the start, naming it.
        if (uses_tls(l.type)) {
            state->tls = make_tls_context(l);
        }
        if (!l.password_file.empty()) {
            state->passwords.store(std::make_shared<const auth::password_file>(
                auth::password_file::load(l.password_file)));
        }
        if (!l.acl_file.empty()) {
            auto acl = std::make_shared<const auth::acl>(auth::acl::load(l.acl_file));
            for (const auto& w : acl->warnings()) {
                log.warn("acl_file {}", w);
            }
            state->acl.store(std::move(acl));
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
    if (opts.persistence) {
        // After the listeners: a restored session reads its listener's ACL.
        auto file = opts.sessions_file;
        if (file.empty()) {
            file = (std::filesystem::path{opts.persistence_file}.parent_path() / "sessions.db").string();
        }
        session_db_ = std::make_unique<persist::session_db>(file, full_sync, log);
        auto stored = session_db_->load();
        const auto count = stored.size();
        for (auto& st : stored) {
            restore_session(std::move(st));
        }
        session_db_->start([this](std::uint64_t through, bool ok) {
            for (auto& w : workers) {
                asio::post(w->ctx, [this, &w = *w, through, ok] { on_committed(w, through, ok); });
            }
        });
        log.info("{} sessions restored from {}", count, session_db_->path().string());
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
        sever_memory_links(); // links handed out before start()
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
            w.close_connections(errc::server_shutting_down);
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
    // A connection accepted just before its acceptor closed may have started after its thread's
    // loop above; a plain TCP one owns itself until closed.
    for (auto& w : workers) {
        w->close_connections(errc::server_shutting_down);
    }
    // A connection still saying goodbye (linger) or not yet created holds its link open.
    sever_memory_links();
    // Sessions hold subscriptions that point back at them; drop both.
    for (auto& w : workers) {
        w->subscriptions = {};
        w->commit_waiters.clear();
    }
    {
        const std::lock_guard lock{registry_mutex_};
        sessions_.clear();
    }
    session_db_.reset(); // writes what is pending, waiting for the retained store's part
    retained_db_.reset();
    log.info("broker stopped");
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
    return impl_->connect_internal(std::move(name), std::move(on_message), nullptr);
}

std::shared_ptr<internal_client> broker::connect_internal(std::string name,
                                                          std::shared_ptr<internal_store> store) {
    auto take = [store](const message_ptr& m) { store->take(m); };
    return impl_->connect_internal(std::move(name), std::move(take), std::move(store));
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