// SPDX-License-Identifier: Apache-2.0
#pragma once

// Private to broker_core: the broker's threads, sessions and routing.

#include "edgemq/broker/auth/acl.hpp"
#include "edgemq/broker/auth/password_file.hpp"
#include "edgemq/broker/broker.hpp"
#include "edgemq/broker/detail/string_hash.hpp"
#include "edgemq/broker/persist/retained_db.hpp"
#include "edgemq/broker/persist/session_db.hpp"
#include "edgemq/broker/protocol/access.hpp"
#include "edgemq/broker/protocol/server_session.hpp"
#include "edgemq/broker/protocol/session_state.hpp"
#include "edgemq/broker/routing/retained_store.hpp"
#include "edgemq/broker/routing/shared_subscriptions.hpp"
#include "edgemq/broker/routing/subscription_tree.hpp"
#include "net/tcp_poller.hpp"
#include "swappable.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

namespace boost::asio::ssl {
class context;
}

namespace edgemq::broker {

namespace asio = boost::asio;

class broker_impl;
class connection;
class session;
namespace net::detail {
class memory_link;
}
using session_ptr = std::shared_ptr<session>;

/// A counter written by one thread and read by others: a relaxed load and store, no lock prefix.
class counter {
public:
    void add(std::uint64_t n = 1) noexcept {
        value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    std::uint64_t get() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> value_{0};
};

using protocol::client_access;
using protocol::may_publish;

/// At most one log line a second for one kind of misbehaviour, with a count of the ones held
/// back, so that a hostile or broken client cannot flood the journal.
/// Thread safety: admit() may be called from any thread.
class log_limiter {
public:
    /// The lines held back since the last admitted one, or nullopt when this one is held back.
    std::optional<std::uint64_t> admit() {
        const auto now = std::chrono::steady_clock::now();
        const std::lock_guard lock{mutex_};
        if (now - last_ < std::chrono::seconds(1)) {
            ++suppressed_;
            return std::nullopt;
        }
        last_ = now;
        return std::exchange(suppressed_, 0);
    }

private:
    std::mutex mutex_;
    std::chrono::steady_clock::time_point last_{};
    std::uint64_t suppressed_ = 0;
};

/// An MQTT session: identity, subscriptions and QoS state. It outlives connections while its
/// expiry interval says so (3.1.1: clean session 0). All mutable state belongs to the worker
/// named by `home`, which changes only when a client reconnects on another thread and the
/// session moves with it.
class session : public protocol::session_core {
public:
    session(std::string client_id, std::uint32_t origin, unsigned home,
            const protocol::session_limits& limits)
        : session_core(std::move(client_id), origin, limits), home(home) {}

    std::atomic<unsigned> home;
    /// A client is attached; read by other threads to prefer connected members of a shared
    /// subscription.
    std::atomic<bool> online{false};
    /// Flow control: its queue is congested while its client reads. Written by the home worker,
    /// read by the workers that route to it, whose publishing connections then wait
    /// (broker_impl::wait_until_relieved).
    std::atomic<bool> congested{false};
    /// Its messages, subscriptions and QoS state are kept in the session store (persistence
    /// on, an expiry interval that outlives the connection). Set at attach, read by routing.
    std::atomic<bool> durable{false};
    /// It has a row in the session store. Here, among the flags: a session is mostly idle
    /// memory (docs/PERFORMANCE.md).
    bool stored = false;
    /// Seqs of the deliveries kept for it in the session store, taken by whoever routes.
    std::atomic<std::uint64_t> next_seq{1};
    /// Its key in the session store (0: persistence off, or an in-process client).
    std::uint64_t sid = 0;

    /// What a session without its client waits for (5.0): the end of its Session Expiry
    /// Interval, a will held back by its Will Delay Interval. Only while there is either.
    struct waiting {
        explicit waiting(asio::io_context& ctx) : timer(ctx) {}
        asio::steady_timer timer;
        message_ptr will; ///< published at will_at, or when the session ends first
        std::chrono::steady_clock::time_point will_at{};
        std::chrono::steady_clock::time_point ends_at{}; ///< zero: never
    };

    // Owned by the home worker (and session_core's client id, access and QoS state):
    std::map<std::string, protocol::subscription_options, std::less<>> subscriptions;
    std::unique_ptr<waiting> parked;
    connection* conn = nullptr;
    /// What an in-process client (internal_client) has instead of a connection.
    struct in_process_client {
        std::uint32_t id; ///< its message::origin
        /// Receives its messages; emptied when the client ends.
        std::function<void(const message_ptr&)> deliver;
        /// Or its store (internal_store): routing hands it the messages on the publisher's
        /// thread. Set at creation, never changed.
        std::shared_ptr<internal_store> store;
    };
    /// Set at creation for an in-process client, never for one that connects.
    std::unique_ptr<in_process_client> in_process;
    /// An in-process client that has not ended: it receives through its callback.
    bool receives_in_process() const noexcept { return in_process && in_process->deliver; }
    std::uint64_t claim = 0; ///< which CONNECT may attach (guarded by the registry mutex)
    std::uint32_t connected_at = 0; ///< Unix seconds of the current connection's CONNECT
    std::uint32_t listener = 0; ///< index of the listener its client came through (its ACL)

    bool may_receive(std::string_view topic) const {
        return protocol::may_receive(access.get(), client_id, topic);
    }
};

/// A delivery on its way to a session on another thread.
struct remote_delivery {
    session_ptr target;
    protocol::delivery d;
};

/// One I/O thread: its io_context, its replica of the subscription index, and the batches of
/// deliveries it will post to the other workers at the end of the current turn.
struct worker {
    worker(broker_impl& broker, unsigned index)
        : broker(broker), index(index), ctx(1), tcp(ctx), read_buffer(64 * 1024), sweep_timer(ctx) {}

    broker_impl& broker;
    const unsigned index;
    asio::io_context ctx;
    tcp_poller tcp; ///< the readiness of this thread's plain TCP connections
    routing::subscription_tree<session_ptr, protocol::subscription_options> subscriptions;
    using shared_index = routing::shared_subscriptions<session_ptr, protocol::subscription_options>;
    shared_index shared;
    /// Adds or removes a subscription of this replica (ordinary or shared; a shared group made
    /// here counts its turns in `turn`, which every replica of the group shares).
    void add_subscription(std::string_view filter, const session_ptr& s,
                          const protocol::subscription_options& o,
                          shared_index::turn_counter turn = nullptr);
    void remove_subscription(std::string_view filter, const session_ptr& s);
    std::vector<std::vector<remote_delivery>> outbox; ///< indexed by destination worker
    /// Scratch for route(): the matching subscriptions.
    std::vector<std::pair<const session_ptr*, const protocol::subscription_options*>> targets;
    connection* connections = nullptr; ///< intrusive list through connection::next_in_worker
    void link(connection& c);
    void unlink(connection& c);
    /// Closes every connection in the list (closing unlinks it).
    void close_connections(boost::system::error_code reason);
    std::vector<std::uint8_t> read_buffer; ///< every read of this thread's connections lands here
    asio::steady_timer sweep_timer;        ///< checks CONNECT and keep-alive deadlines
    std::thread thread;

    counter messages_received;
    counter messages_sent;
    counter bytes_received;
    counter bytes_sent;
    counter messages_dropped;
    counter messages_denied; ///< PUBLISH packets (and wills) an ACL refused
    counter packet_timeouts; ///< connections closed for a packet not finished in packet_timeout
    counter unauthenticated_closed; ///< closed for holding too much before CONNECT
    counter slow_consumers; ///< subscribers found not reading while congested
    /// Set by route() when the message went to a congested session: the publishing connection
    /// waits for it before it reads on.
    session_ptr blocked_by;
    /// Connections whose responses wait for the session store to commit (rule 7).
    std::vector<std::shared_ptr<connection>> commit_waiters;
};

/// A listening socket and the connections it admitted.
struct listener_state {
    listener_state(listener_options c, asio::io_context& ctx) : cfg(std::move(c)), acceptor(ctx) {}

    const listener_options cfg;
    std::uint32_t index = 0; ///< in broker_options::listeners
    asio::ip::tcp::acceptor acceptor;
    std::atomic<std::size_t> connections{0};
    /// "tls" and "wss": swapped by a certificate reload; read and written on worker 0 only.
    std::shared_ptr<asio::ssl::context> tls;
    /// Swapped by a reload while connections on every thread read them at CONNECT.
    swappable<const auth::password_file> passwords;
    swappable<const auth::acl> acl;
};

/// The TLS context of a "tls" or "wss" listener: TLS 1.2 and 1.3 only, its cert, key and CA.
/// Throws std::runtime_error naming the file and the reason (net/tls_context.cpp).
std::shared_ptr<asio::ssl::context> make_tls_context(const listener_options& l);

class broker_impl {
public:
    broker_impl(broker_options opts, std::shared_ptr<spdlog::logger> log);

    void start();
    void stop();

    // Used by connections, on their own worker.
    struct attach_result {
        session_ptr session;
        bool session_present = false;
    };
    asio::awaitable<attach_result> async_attach(worker& w, std::shared_ptr<connection> c,
                                                std::string client_id, bool clean_start,
                                                std::uint32_t expiry_interval);
    void on_connection_closed(worker& w, connection& c, listener_state& l, session_ptr s);
    /// After CONNACK: keeps the session in the session store (with persistence, when it
    /// outlives its connection or has a will to publish should the broker crash).
    void persist_attached(const session_ptr& s, const message_ptr& will, std::uint32_t will_delay);
    /// The session store, with persistence; else null.
    persist::session_db* session_store() noexcept { return session_db_.get(); }
    /// Unbinds `s` from `c`; a session with expiry interval 0 ends here [MQTT-3.1.2-6], one
    /// with a finite one waits for its client until it expires [MQTT-3.1.2-23].
    void detach(worker& w, connection& c, session_ptr s);
    /// Holds back the will of `s`, whose connection is closing, for `delay` seconds.
    void defer_will(worker& w, const session_ptr& s, message_ptr will, std::uint32_t delay);
    void route(worker& w, const message_ptr& m);
    void flush(worker& w);
    /// True when the subscription is new.
    bool subscribe(worker& w, const session_ptr& s, const std::string& filter,
                   const protocol::subscription_options& o);
    /// True when there was such a subscription.
    bool unsubscribe(worker& w, const session_ptr& s, const std::string& filter);
    /// The retained messages matching `filter` that have not expired.
    std::vector<message_ptr> retained_for(std::string_view filter) const;

    // Flow control (README.md, "Flow control"), on the home worker of `s` unless said.
    /// After `s`'s queue changed: marks it congested, or relieved (waking who waits for it).
    void note_backlog(session& s);
    /// `s` has a slow consumer: it stops holding its publishers back (slow_consumer_policy).
    void relieve(session& s);
    /// On the waiting connection's worker: true when `c` must wait until `s` is relieved (it is
    /// then resumed on `w`), false when `s` is no longer congested.
    bool wait_until_relieved(worker& w, session& s, const std::shared_ptr<connection>& c);

    const broker_options opts;
    spdlog::logger& log;
    std::vector<bound_listener> bound;
    std::vector<std::unique_ptr<worker>> workers;

    broker_stats stats() const;

    // In-process clients and the admin surface's view (broker.hpp documents them).
    std::shared_ptr<internal_client>
    connect_internal(std::string name, std::function<void(const message_ptr&)> on_message,
                     std::shared_ptr<internal_store> store);
    void publish(message_ptr m);
    std::vector<client_info> clients();
    std::vector<subscription_info> subscriptions();
    std::vector<message_ptr> retained() const { return retained_.all(); }
    bool delete_retained(std::string_view topic) {
        if (!retained_.erase(topic)) {
            return false;
        }
        if (retained_db_) {
            retained_db_->record(make_message(std::string{topic}, {}, 0, true));
        }
        return true;
    }
    bool kick(std::string_view client_id);
    void end_internal(const session_ptr& s);
    /// Every in-memory link handed out (connect_in_memory): stop() cuts the ones still open,
    /// since their clients may outlive the broker and must never post to a worker that is gone.
    std::mutex memory_links_mutex_;
    std::vector<std::weak_ptr<net::detail::memory_link>> memory_links_;
    void sever_memory_links(); // net/memory_connection.cpp
    /// Runs `f(worker&)` on every worker and waits for all (control path only).
    template <typename F> void on_every_worker_and_wait(F f);
    /// Every session: the registered ones and the in-process ones.
    std::vector<session_ptr> all_sessions();
    void subscribe_internal(const session_ptr& s, std::string filter, std::uint8_t qos);

private:
    asio::awaitable<void> accept_loop(listener_state& l);

public:
    /// Counts a new connection against the listener's and the broker's max_connections.
    bool admit(listener_state& l);
    /// The listener of opts.listeners[index], once started (throws std::out_of_range).
    listener_state& listener(std::size_t index) { return *listeners_.at(index); }
    /// Re-reads the TLS, password and ACL files (throws naming a bad file, changing nothing)
    /// and swaps them in for new connections; open connections keep what they had.
    void reload_files();
    /// Logs a refused login, at most once a second with a count of the ones not logged.
    void log_auth_failure(std::string_view client_id, std::string_view user, std::string peer);
    /// Logs a connection closed for abuse of a resource limit (a slow drip, memory before
    /// CONNECT), at most once a second with a count of the ones not logged.
    void log_limit_closed(std::string_view client_id, const std::string& peer,
                          boost::system::error_code reason);

    /// Bytes held by connections that have not completed CONNECT, over all threads; a
    /// connection adds and removes its own share (max_unauthenticated_memory).
    std::atomic<std::size_t> unauthenticated_bytes{0};

private:
    asio::awaitable<void> sys_loop();
    asio::awaitable<void> sweep_loop(worker& w);
    void publish_sys();
    void deliver_local(worker& w, const session_ptr& s, protocol::delivery d);
    /// Delivers here when `s` lives on `w`, else batches it for its home thread (flush).
    void dispatch(worker& w, const session_ptr& s, protocol::delivery d);
    /// Hands what `s` (ending) got through its shared subscriptions and its client never
    /// received to the other members of those groups [MQTT-4.8.2].
    void pass_on_shared(worker& w, const session_ptr& s);
    /// Writes the row of `s` (with the will it holds back, if any) to the session store.
    void persist_row(session& s, bool connected, const message_ptr& will,
                     std::uint32_t will_delay);
    /// Puts a session of the store back, at start-up: in the registry with its subscriptions
    /// and messages, waiting for its client; a client connected at a crash lost its connection,
    /// so its will goes out [MQTT-3.1.2-8].
    void restore_session(persist::stored_session st);
    /// Adds `s`'s subscription to every worker's index.
    void index_subscription(worker& w, const session_ptr& s, const std::string& filter,
                            const protocol::subscription_options& o);
    /// On `w`: the session store committed up to `through`; responses waiting for it go out.
    void on_committed(worker& w, std::uint64_t through, bool ok);
    /// Arms the timer of a session waiting for its client (session::waiting).
    void arm(worker& w, const session_ptr& s);
    void on_waited(worker& w, const session_ptr& s);

public:
    void end_session(worker& w, const session_ptr& s);

private:
    /// On `owner`, the session's home: closes the previous connection of `previous` and moves
    /// the session to worker `to` (resume) or ends it. False when it had moved elsewhere.
    asio::awaitable<bool> take_over(worker& owner, session_ptr previous, bool resume, unsigned to);
    /// Runs `f(worker&)` on every worker's thread; directly on `self`.
    template <typename F> void on_every_worker(worker& self, F f);

    std::shared_ptr<spdlog::logger> log_owner_;
    std::vector<std::unique_ptr<listener_state>> listeners_;
    std::optional<asio::steady_timer> sys_timer_;
    routing::retained_store retained_;
    /// The retained messages on disk, with [broker] persistence.
    std::shared_ptr<persist::retained_db> retained_db_;
    /// The sessions on disk, with [broker] persistence.
    std::unique_ptr<persist::session_db> session_db_;

    /// The connections waiting for each congested session, with their workers. Held strongly:
    /// a connection that does not read has no operation pending that would keep it alive.
    std::mutex flow_mutex_;
    std::unordered_map<const session*, std::vector<std::pair<worker*, std::shared_ptr<connection>>>>
        flow_waiters_;
    /// The turn counter of every shared subscription group ever made, one for all replicas.
    std::mutex shared_turns_mutex_;
    std::unordered_map<std::string, worker::shared_index::turn_counter> shared_turns_;

    mutable std::mutex registry_mutex_;
    /// Keys view session::client_id. string_hash, unlike std::hash, is one the node does not
    /// store a copy of the hash for: 8 bytes less a session (docs/PERFORMANCE.md).
    std::unordered_map<std::string_view, session_ptr, detail::string_hash> sessions_;
    std::vector<session_ptr> internal_sessions_;
    /// message::origin of every session and in-process client, never reused.
    std::atomic<std::uint32_t> origins_{0};
    std::uint64_t claims_ = 0;

    std::atomic<std::uint64_t> connections_{0};       ///< open sockets, for max_connections
    std::atomic<std::uint64_t> clients_connected_{0}; ///< sockets with an attached session
    std::atomic<std::uint64_t> connections_max_{0};
    std::atomic<std::int64_t> subscriptions_{0};
    log_limiter auth_log_;
    log_limiter limit_log_;
    std::atomic<unsigned> next_worker_{0};
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    std::atomic<bool> running_{false};
};

template <typename F> void broker_impl::on_every_worker(worker& self, F f) {
    for (auto& w : workers) {
        if (w.get() == &self) {
            f(self);
        } else {
            asio::post(w->ctx, [f, &x = *w]() mutable { f(x); });
        }
    }
}

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

} // namespace edgemq::broker
