// SPDX-License-Identifier: Apache-2.0
// The listeners: accepting connections within the connection limits, reloading their files,
// and the rate-limited log lines of refused clients.
#include "broker_impl.hpp"
#include "net/connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace edgemq::broker {
namespace {

/// What a rate-limited log line adds for the lines it held back.
std::string held_back(std::uint64_t n) {
    return n > 0 ? " (" + std::to_string(n) + " more in the last second)" : std::string{};
}

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

} // namespace

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
                c = std::make_shared<tcp_connection>(w, l, std::move(s));
            } else {
                c = make_stream_connection(w, l, std::move(s), std::move(tls));
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
    // As Mosquitto: the new ACL applies to every session from now on, and what is queued for a
    // session is checked again, since it is delivered under the new rules.
    if (running_) {
        const auto sessions = all_sessions();
        std::atomic<std::size_t> dropped{0};
        on_every_worker_and_wait([&](worker& w) {
            for (const auto& s : sessions) {
                if (s->receives_in_process() || s->home.load(std::memory_order_acquire) != w.index ||
                    s->listener >= listeners_.size()) {
                    continue;
                }
                auto acl = listeners_[s->listener]->acl.load();
                auto user = s->access ? s->access->username : std::nullopt;
                s->access = user || acl ? std::make_shared<const client_access>(
                                              client_access{std::move(user), std::move(acl)})
                                        : nullptr;
                dropped += s->state.drop_queued_if(
                    [&s](const protocol::delivery& d) { return !s->may_receive(d.msg->topic); });
                note_backlog(*s);
            }
        });
        if (dropped > 0) {
            log.info("{} queued messages dropped: the reloaded ACL no longer lets their sessions read them",
                     dropped.load());
        }
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

} // namespace edgemq::broker
