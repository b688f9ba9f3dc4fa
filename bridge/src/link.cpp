// SPDX-License-Identifier: Apache-2.0
#include "link.hpp"

#include "edgemq/broker/codec/decode.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <spdlog/fmt/chrono.h>
#include <spdlog/logger.h>

#include <unistd.h>

#include <algorithm>
#include <variant>

namespace edgemq::bridge {
namespace {

namespace codec = broker::codec;
using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

/// Time allowed for DNS, TCP, TLS and CONNACK together.
constexpr auto connect_deadline = 10s;
/// Messages read from the queue at a time, and held in memory ahead of the window.
constexpr std::size_t read_chunk = 1024;
constexpr std::size_t max_pending = 4 * read_chunk;
/// QoS 0 messages are dropped rather than buffered beyond this while the remote is slow.
constexpr std::size_t max_unwritten_bytes = 8 << 20;

std::string host_name() {
    char name[256] = {};
    if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') {
        return "edgemq";
    }
    return name;
}

std::string connack_reason(codec::connect_return_code code) {
    switch (code) {
    case codec::connect_return_code::unacceptable_protocol_version:
        return "1, unacceptable protocol version (try try_private = false)";
    case codec::connect_return_code::identifier_rejected:
        return "2, client id rejected";
    case codec::connect_return_code::server_unavailable:
        return "3, server unavailable";
    case codec::connect_return_code::bad_username_or_password:
        return "4, bad user name or password";
    case codec::connect_return_code::not_authorized:
        return "5, not authorized";
    default:
        return std::to_string(static_cast<int>(code));
    }
}

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
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

} // namespace

link::link(config::bridge cfg, broker::broker& broker, std::shared_ptr<spdlog::logger> log,
           std::chrono::seconds sys_interval, std::size_t max_packet_size)
    : cfg_(std::move(cfg)), broker_(broker), log_(std::move(log)), sys_interval_(sys_interval),
      max_packet_size_(max_packet_size),
      client_id_(cfg_.client_id.empty() ? host_name() + "-" + cfg_.name : cfg_.client_id),
      tls_(asio::ssl::context::tls_client), writer_wake_(ctx_), stop_timer_(ctx_) {
    for (const auto& t : cfg_.topics) {
        rules_.emplace_back(t);
    }
    status_.name = cfg_.name;
    status_.address = cfg_.addresses.front();
    if (!cfg_.tls) {
        return;
    }
    SSL_CTX_set_min_proto_version(tls_.native_handle(), TLS1_2_VERSION);
    const auto load = [&](const std::string& what, const std::string& file, auto&& call) {
        try {
            call();
        } catch (const boost::system::system_error& e) {
            throw std::runtime_error("bridge " + cfg_.name + ": cannot use " + what + " " + file +
                                     ": " + e.code().message());
        }
    };
    if (cfg_.ca.empty()) {
        tls_.set_default_verify_paths();
    } else {
        load("ca", cfg_.ca, [&] { tls_.load_verify_file(cfg_.ca); });
    }
    if (!cfg_.cert.empty()) {
        load("cert", cfg_.cert, [&] { tls_.use_certificate_chain_file(cfg_.cert); });
        load("key", cfg_.key,
             [&] { tls_.use_private_key_file(cfg_.key, asio::ssl::context::pem); });
    }
    tls_.set_verify_mode(asio::ssl::verify_peer);
}

link::~link() {
    stop();
}

void link::start() {
    queue_ = std::make_unique<durable_queue>(
        cfg_.queue_file, durable_queue::limits{cfg_.max_messages, cfg_.max_bytes, cfg_.when_full},
        *log_);
    update_queue_stats();
    if (queue_->size() > 0) {
        log_->info("bridge {}: {} messages waiting in {} from before the restart", cfg_.name,
                   queue_->size(), cfg_.queue_file);
    }
    handoff_->owner = this;
    client_ = broker_.connect_internal(
        "bridge/" + cfg_.name, [h = handoff_](const broker::message_ptr& m) {
            const std::lock_guard lock{h->mutex};
            if (h->owner == nullptr) {
                return;
            }
            h->messages.push_back(m);
            if (h->messages.size() == 1) { // one wake-up per batch
                asio::post(h->owner->ctx_, [owner = h->owner] { owner->drain_handoff(); });
            }
        });
    for (const auto& r : rules_) {
        if (r.outbound()) {
            client_->subscribe(r.local_filter(), r.qos());
        }
    }
    set_state("connecting", "");
    const auto on_done = [log = log_, name = cfg_.name](std::exception_ptr e) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& x) {
                log->error("bridge {}: {}", name, x.what());
            }
        }
    };
    asio::co_spawn(ctx_, async_run(), on_done);
    if (sys_interval_.count() > 0) {
        asio::co_spawn(ctx_, async_sys(), on_done);
    }
    thread_ = std::thread([this] { ctx_.run(); });
}

void link::stop() {
    if (!thread_.joinable()) {
        return;
    }
    {
        const std::lock_guard lock{handoff_->mutex};
        handoff_->owner = nullptr;
    }
    client_->disconnect();
    asio::post(ctx_, [this] {
        // Messages the broker handed over are queued before anything else: they were
        // acknowledged to their publishers.
        drain_handoff();
        flush_acks();
        stopping_ = true;
        if (!connected_) {
            ctx_.stop();
            return;
        }
        if (cfg_.notifications) {
            codec::encode_publish_head(cfg_.notification_topic, 7, 0, true, false, 0, out_);
            out_.insert(out_.end(), {'o', 'f', 'f', 'l', 'i', 'n', 'e'});
        }
        codec::encode(codec::disconnect{}, out_);
        notify_writer(); // the writer stops the context once these are written
        stop_timer_.expires_after(1s);
        stop_timer_.async_wait([this](boost::system::error_code) { ctx_.stop(); });
    });
    thread_.join();
    set_state("disconnected", "stopped");
    log_->info("bridge {} stopped; {} messages stay queued", cfg_.name, queue_->size());
}

bridge_status link::status() const {
    const std::lock_guard lock{status_mutex_};
    auto s = status_;
    s.queued = queued_.load(std::memory_order_relaxed);
    s.queued_bytes = queued_bytes_.load(std::memory_order_relaxed);
    s.sent = sent_.load(std::memory_order_relaxed);
    s.acked = acked_.load(std::memory_order_relaxed);
    s.dropped = dropped_.load(std::memory_order_relaxed);
    s.received = received_.load(std::memory_order_relaxed);
    return s;
}

// ---------------------------------------------------------------------------------------------
// Connection lifecycle

asio::awaitable<void> link::async_run() {
    asio::steady_timer pause{ctx_};
    unsigned failures = 0;
    std::size_t next_address = 0;
    while (!stopping_) {
        const auto& address = cfg_.addresses[next_address % cfg_.addresses.size()];
        const auto [host, port] = split_address(address);
        {
            const std::lock_guard lock{status_mutex_};
            status_.address = address;
        }
        auto why = co_await async_connect(host, port);
        if (stopping_) {
            break;
        }
        if (why.empty()) {
            failures = 0;
            log_->info("bridge {}: connected to {} as {}{}; {} messages queued", cfg_.name, address,
                       client_id_, cfg_.tls ? " over TLS" : "", queue_->size());
            last_failure_.clear();
            set_state("connected", "");
            why = co_await async_session();
            connected_ = false;
            close_stream();
            // What was read ahead is read again from the queue after the next connect; what
            // is in flight is resent then.
            pending_.clear();
            loaded_through_ = cursor_;
            caught_up_ = false;
            std::erase_if(inflight_ids_, [](const auto& e) { return e.second == 0; });
            if (stopping_) {
                break;
            }
            log_->warn("bridge {}: lost the connection to {}: {}; {} messages queued", cfg_.name,
                       address, why, queue_->size());
            set_state("disconnected", why);
        } else {
            if (why != last_failure_) {
                log_->warn("bridge {}: cannot connect to {}: {}; retrying with backoff up to {:g}s",
                           cfg_.name, address, why,
                           std::chrono::duration<double>(cfg_.reconnect_max).count());
                last_failure_ = why;
            } else {
                log_->debug("bridge {}: cannot connect to {}: {}", cfg_.name, address, why);
            }
            set_state("disconnected", why);
            ++failures;
            ++next_address; // failover: the next address, if there are several
        }
        pause.expires_after(backoff(failures));
        co_await pause.async_wait(use_nothrow);
    }
}

std::chrono::milliseconds link::backoff(unsigned failures) {
    // Exponential from reconnect_min, capped, with "equal jitter" (half fixed, half random) so
    // that many gateways behind one uplink do not reconnect in step.
    auto delay = cfg_.reconnect_min;
    for (unsigned i = 1; i < failures && delay < cfg_.reconnect_max; ++i) {
        delay *= 2;
    }
    delay = std::min(delay, cfg_.reconnect_max);
    std::uniform_int_distribution<std::int64_t> jitter(delay.count() / 2, delay.count());
    return std::chrono::milliseconds(jitter(random_));
}

asio::awaitable<std::string> link::async_connect(std::string host, std::string port) {
    stream_ = std::make_unique<stream>(ctx_, tls_);
    in_.clear();
    out_.clear();
    tcp::resolver resolver{ctx_};
    bool timed_out = false;
    asio::steady_timer deadline{ctx_};
    deadline.expires_after(connect_deadline);
    deadline.async_wait([&](boost::system::error_code ec) {
        if (!ec) {
            timed_out = true;
            resolver.cancel();
            close_stream();
        }
    });
    const auto timeout = [&] {
        return "no answer within " + std::to_string(connect_deadline.count()) + "s";
    };

    auto [resolve_ec, endpoints] = co_await resolver.async_resolve(host, port, use_nothrow);
    if (resolve_ec) {
        co_return timed_out ? "DNS lookup of " + host + ": " + timeout()
                            : "DNS lookup of " + host + " failed: " + resolve_ec.message();
    }
    auto [connect_ec, endpoint] =
        co_await asio::async_connect(stream_->lowest_layer(), endpoints, use_nothrow);
    if (connect_ec) {
        co_return timed_out ? "TCP connect: " + timeout()
                            : "TCP connect failed: " + connect_ec.message();
    }
    boost::system::error_code ignored;
    stream_->lowest_layer().set_option(tcp::no_delay(true), ignored);

    if (cfg_.tls) {
        SSL* ssl = stream_->native_handle();
        boost::system::error_code not_ip;
        asio::ip::make_address(host, not_ip);
        if (not_ip) {
            SSL_set_tlsext_host_name(ssl, host.c_str()); // SNI is for names only (RFC 6066)
        }
        if (!cfg_.insecure) {
            // OpenSSL's own check, so that a mismatch reports "hostname mismatch".
            if (not_ip) {
                SSL_set1_host(ssl, host.c_str());
            } else {
                X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
            }
        }
        auto [tls_ec] =
            co_await stream_->async_handshake(asio::ssl::stream_base::client, use_nothrow);
        if (tls_ec) {
            const long verify = SSL_get_verify_result(ssl);
            co_return timed_out   ? "TLS handshake: " + timeout()
            : verify != X509_V_OK ? std::string("TLS certificate verification failed: ") +
                                        X509_verify_cert_error_string(verify)
                                  : "TLS handshake failed: " + tls_ec.message();
        }
    }

    codec::connect c;
    // 0x80 marks a bridge (Mosquitto's try_private): the remote does not echo our messages.
    c.protocol_level =
        static_cast<std::uint8_t>(codec::protocol_level_311 | (cfg_.try_private ? 0x80 : 0));
    c.clean_session = cfg_.clean_session;
    c.keep_alive = cfg_.keepalive;
    c.client_id = client_id_;
    if (!cfg_.username.empty()) {
        c.username = cfg_.username;
    }
    c.password = cfg_.password;
    if (cfg_.notifications) {
        c.will = codec::will_message{cfg_.notification_topic, "offline", 1, true};
    }
    codec::byte_buffer hello;
    codec::encode(c, hello);
    auto [write_ec, written] = co_await async_write(asio::buffer(hello));
    if (write_ec) {
        co_return timed_out ? "CONNECT: " + timeout()
                            : "sending CONNECT failed: " + write_ec.message();
    }
    // Read until CONNACK; anything the remote sends after it stays in in_ for the session.
    std::array<std::uint8_t, 512> chunk{};
    for (;;) {
        const auto header = codec::decode_fixed_header(in_);
        if (header && *header && in_.size() >= (*header)->packet_size()) {
            const auto& h = **header;
            auto p = codec::decode(h, std::span(in_).subspan(h.size, h.remaining_length));
            if (!p || !std::holds_alternative<codec::connack>(*p)) {
                co_return "the remote answered CONNECT with something other than CONNACK";
            }
            in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(h.packet_size()));
            const auto ack = std::get<codec::connack>(*p);
            if (ack.code != codec::connect_return_code::accepted) {
                co_return "the remote refused the connection: CONNACK " + connack_reason(ack.code);
            }
            session_present_ = ack.session_present;
            break;
        }
        if (!header) {
            co_return "the remote answered CONNECT with something other than CONNACK";
        }
        auto [read_ec, n] = co_await async_read_some(asio::buffer(chunk));
        if (read_ec) {
            co_return timed_out
                ? "CONNACK: " + timeout()
                : "the remote closed the connection before CONNACK (" + read_ec.message() + ")";
        }
        in_.insert(in_.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
    }
    deadline.cancel();
    co_return std::string{};
}

asio::awaitable<std::string> link::async_session() {
    using namespace asio::experimental::awaitable_operators;
    last_read_ = last_write_ = clock::now();
    ping_outstanding_ = false;
    connected_ = true;
    resend_inflight(session_present_);
    codec::subscribe sub{next_packet_id(), {}};
    for (const auto& r : rules_) {
        if (r.inbound()) {
            sub.subscriptions.push_back({r.remote_filter(), r.qos()});
        }
    }
    if (!sub.subscriptions.empty()) {
        codec::encode(sub, out_);
    }
    if (cfg_.notifications) {
        const auto id = next_packet_id();
        inflight_ids_[id] = 0; // not from the queue: its PUBACK acknowledges nothing there
        codec::encode_publish_head(cfg_.notification_topic, 6, 1, true, false, id, out_);
        out_.insert(out_.end(), {'o', 'n', 'l', 'i', 'n', 'e'});
    }
    pump();
    if (!in_.empty()) { // what the remote sent right behind its CONNACK
        std::string why;
        if (!on_bytes(why)) {
            co_return why;
        }
    }
    auto ended = co_await (async_reader() || async_writer() || async_keepalive());
    co_return std::visit([](std::string& why) { return std::move(why); }, ended);
}

void link::close_stream() {
    if (stream_) {
        boost::system::error_code ignored;
        stream_->lowest_layer().close(ignored);
    }
}

asio::awaitable<std::tuple<boost::system::error_code, std::size_t>>
link::async_read_some(asio::mutable_buffer buffer) {
    if (cfg_.tls) {
        co_return co_await stream_->async_read_some(buffer, use_nothrow);
    }
    co_return co_await stream_->next_layer().async_read_some(buffer, use_nothrow);
}

asio::awaitable<std::tuple<boost::system::error_code, std::size_t>>
link::async_write(asio::const_buffer buffer) {
    if (cfg_.tls) {
        co_return co_await asio::async_write(*stream_, buffer, use_nothrow);
    }
    co_return co_await asio::async_write(stream_->next_layer(), buffer, use_nothrow);
}

// ---------------------------------------------------------------------------------------------
// The session's three loops; the first to end ends the others (awaitable operator ||).

asio::awaitable<std::string> link::async_reader() {
    std::vector<std::uint8_t> chunk(64 * 1024);
    for (;;) {
        auto [ec, n] = co_await async_read_some(asio::buffer(chunk));
        if (ec) {
            close_stream();
            co_return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated
                ? std::string("the remote closed the connection")
                : "read failed: " + ec.message();
        }
        last_read_ = clock::now();
        ping_outstanding_ = false;
        in_.insert(in_.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
        std::string why;
        if (!on_bytes(why)) {
            close_stream();
            co_return why;
        }
        pump(); // the window may have room again
    }
}

asio::awaitable<std::string> link::async_writer() {
    auto cancelled = [](asio::cancellation_state cs) {
        return cs.cancelled() != asio::cancellation_type::none;
    };
    for (;;) {
        if (out_.empty()) {
            writer_wake_.expires_at(clock::time_point::max());
            co_await writer_wake_.async_wait(use_nothrow); // notify_writer() cancels it
            if (cancelled(co_await asio::this_coro::cancellation_state)) {
                co_return std::string("closed");
            }
            continue;
        }
        wbuf_.swap(out_);
        auto [ec, n] = co_await async_write(asio::buffer(wbuf_));
        wbuf_.clear();
        if (ec) {
            close_stream();
            co_return "write failed: " + ec.message();
        }
        last_write_ = clock::now();
        if (stopping_ && out_.empty()) {
            ctx_.stop(); // the offline notice and DISCONNECT are out
        }
    }
}

asio::awaitable<std::string> link::async_keepalive() {
    const auto keepalive = std::chrono::seconds(cfg_.keepalive);
    asio::steady_timer tick{ctx_};
    for (;;) {
        tick.expires_after(keepalive / 4);
        auto [ec] = co_await tick.async_wait(use_nothrow);
        if (ec) {
            co_return std::string("closed");
        }
        const auto now = clock::now();
        if (ping_outstanding_ && now - ping_sent_ > keepalive) {
            close_stream();
            co_return "no answer to PINGREQ within " + std::to_string(cfg_.keepalive) + "s";
        }
        // Ping when idle either way: the remote wants a packet within 1.5 x keepalive, and a
        // link that only writes would not notice a dead remote otherwise.
        if (!ping_outstanding_ &&
            (now - last_write_ >= keepalive || now - last_read_ >= keepalive)) {
            codec::encode(codec::pingreq{}, out_);
            ping_outstanding_ = true;
            ping_sent_ = now;
            notify_writer();
        }
    }
}

void link::notify_writer() {
    writer_wake_.cancel();
}

// ---------------------------------------------------------------------------------------------
// Packets from the remote

bool link::on_bytes(std::string& why) {
    std::size_t used = 0;
    for (;;) {
        const auto rest = std::span<const std::uint8_t>(in_).subspan(used);
        const auto header = codec::decode_fixed_header(rest);
        if (!header) {
            why = "malformed packet from the remote";
            return false;
        }
        if (!*header) {
            break;
        }
        const auto& h = **header;
        if (h.packet_size() > max_packet_size_) {
            why = "the remote sent a packet of " + std::to_string(h.packet_size()) +
                  " bytes, over max_packet_size";
            return false;
        }
        if (rest.size() < h.packet_size()) {
            break;
        }
        const auto p = codec::decode(h, rest.subspan(h.size, h.remaining_length));
        used += h.packet_size();
        if (!p) {
            why = "malformed packet from the remote: " + p.error().message();
            return false;
        }
        if (!on_packet(*p)) {
            why = "unexpected packet from the remote";
            return false;
        }
    }
    in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(used));
    return true;
}

bool link::on_packet(const codec::packet& packet) {
    return std::visit(
        [&](const auto& p) {
            using type = std::decay_t<decltype(p)>;
            if constexpr (std::is_same_v<type, codec::publish>) {
                on_inbound(p);
            } else if constexpr (std::is_same_v<type, codec::puback> ||
                                 std::is_same_v<type, codec::pubcomp>) {
                acknowledged(p.packet_id);
            } else if constexpr (std::is_same_v<type, codec::pubrec>) {
                const auto it = inflight_ids_.find(p.packet_id);
                if (it != inflight_ids_.end() && it->second != 0) {
                    inflight_[it->second].at = stage::pubrel_sent;
                }
                codec::encode(codec::pubrel{p.packet_id}, out_);
                notify_writer();
            } else if constexpr (std::is_same_v<type, codec::pubrel>) {
                inbound_qos2_.erase(p.packet_id);
                codec::encode(codec::pubcomp{p.packet_id}, out_);
                notify_writer();
            } else if constexpr (std::is_same_v<type, codec::suback>) {
                for (std::size_t i = 0; i < p.return_codes.size(); ++i) {
                    if (p.return_codes[i] == codec::suback_failure) {
                        log_->warn("bridge {}: the remote refused subscription number {} "
                                   "(see its ACL)",
                                   cfg_.name, i + 1);
                    }
                }
            } else if constexpr (std::is_same_v<type, codec::pingresp> ||
                                 std::is_same_v<type, codec::unsuback>) {
                // liveness only
            } else {
                return false; // CONNECT, SUBSCRIBE, ... never come from a server
            }
            return true;
        },
        packet);
}

void link::on_inbound(const codec::publish& p) {
    const bool duplicate = p.qos == 2 && !inbound_qos2_.insert(p.packet_id).second;
    if (!duplicate) {
        for (const auto& r : rules_) {
            if (auto local = r.to_local(p.topic)) {
                // Published as this bridge's client: the broker never routes it back here.
                client_->publish({std::move(*local), p.payload, p.qos, p.retain, 0});
                received_.fetch_add(1, std::memory_order_relaxed);
                break;
            }
        }
    }
    if (p.qos == 1) {
        codec::encode(codec::puback{p.packet_id}, out_);
    } else if (p.qos == 2) {
        codec::encode(codec::pubrec{p.packet_id}, out_);
    }
    notify_writer();
}

void link::acknowledged(std::uint16_t id) {
    const auto it = inflight_ids_.find(id);
    if (it == inflight_ids_.end()) {
        return;
    }
    const auto seq = it->second;
    inflight_ids_.erase(it);
    if (seq != 0) {
        inflight_.erase(seq);
        acked_seqs_.push_back(seq);
        acked_.fetch_add(1, std::memory_order_relaxed);
    }
}

// ---------------------------------------------------------------------------------------------
// Messages from the local broker, through the queue, to the remote

void link::drain_handoff() {
    std::vector<broker::message_ptr> batch;
    {
        const std::lock_guard lock{handoff_->mutex};
        batch.swap(handoff_->messages);
    }
    on_local(std::move(batch));
}

void link::on_local(std::vector<broker::message_ptr> batch) {
    std::vector<queued_message> store;
    for (const auto& m : batch) {
        for (const auto& r : rules_) {
            auto remote = r.to_remote(m->topic);
            if (!remote) {
                continue;
            }
            const auto qos = std::min(m->qos, r.qos());
            if (qos > 0 || cfg_.queue_qos0) {
                store.push_back({0, std::move(*remote), m->payload, qos, m->retain});
            } else if (connected_ && out_.size() < max_unwritten_bytes) {
                send_publish({0, std::move(*remote), m->payload, 0, m->retain}, 0, false);
            } else {
                dropped_.fetch_add(1, std::memory_order_relaxed);
            }
            break;
        }
    }
    if (!store.empty()) {
        const auto r = queue_->push(store, cursor_);
        dropped_.fetch_add(r.dropped, std::memory_order_relaxed);
        while (!pending_.empty() && pending_.front().seq <= r.dropped_through) {
            pending_.pop_front();
        }
        if (connected_ && caught_up_ && !store.empty()) {
            // The common case while connected: hand the new messages straight to the window
            // instead of reading back what was just written.
            if (pending_.size() + store.size() <= max_pending) {
                loaded_through_ = store.back().seq;
                std::ranges::move(store, std::back_inserter(pending_));
            } else {
                caught_up_ = false;
            }
        }
    }
    pump();
}

void link::pump() {
    while (connected_ && inflight_.size() < cfg_.max_inflight) {
        if (pending_.empty()) {
            if (caught_up_) {
                break;
            }
            auto more = queue_->read_after(loaded_through_, read_chunk);
            caught_up_ = more.size() < read_chunk;
            if (more.empty()) {
                break;
            }
            loaded_through_ = more.back().seq;
            std::ranges::move(more, std::back_inserter(pending_));
        }
        auto m = std::move(pending_.front());
        pending_.pop_front();
        cursor_ = m.seq;
        if (m.qos == 0) {
            send_publish(m, 0, false);
            acked_seqs_.push_back(m.seq);
            continue;
        }
        const auto id = next_packet_id();
        send_publish(m, id, false);
        inflight_ids_[id] = m.seq;
        inflight_.emplace(m.seq, inflight_entry{id, stage::publish_sent, std::move(m)});
    }
    flush_acks();
    update_queue_stats();
}

void link::resend_inflight(bool session_present) {
    if (!session_present) {
        inbound_qos2_.clear();
    }
    for (auto& [seq, e] : inflight_) {
        if (!session_present) {
            e.at = stage::publish_sent; // the remote forgot it: start over
        }
        if (e.at == stage::publish_sent) {
            send_publish(e.msg, e.id, true);
        } else {
            codec::encode(codec::pubrel{e.id}, out_);
        }
    }
}

void link::send_publish(const queued_message& m, std::uint16_t id, bool dup) {
    codec::encode_publish_head(m.topic, m.payload.size(), m.qos, m.retain, dup, id, out_);
    out_.insert(out_.end(), m.payload.begin(), m.payload.end());
    sent_.fetch_add(1, std::memory_order_relaxed);
    notify_writer();
}

std::uint16_t link::next_packet_id() {
    do {
        last_id_ = static_cast<std::uint16_t>(last_id_ == 65535 ? 1 : last_id_ + 1);
    } while (inflight_ids_.contains(last_id_));
    return last_id_;
}

void link::flush_acks() {
    if (!acked_seqs_.empty()) {
        queue_->remove(acked_seqs_);
        acked_seqs_.clear();
    }
}

void link::update_queue_stats() {
    queued_.store(queue_->size(), std::memory_order_relaxed);
    queued_bytes_.store(queue_->bytes(), std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------------------------
// Status

void link::set_state(const char* state, std::string error) {
    // $SYS shows Mosquitto's two states; "connecting" counts as disconnected there.
    const char* sys = std::string_view(state) == "connected" ? "connected" : "disconnected";
    {
        const std::lock_guard lock{status_mutex_};
        if (status_.state != "connected" && std::string_view(state) == "connected") {
            status_.connected_since = unix_now();
        } else if (std::string_view(state) != "connected") {
            status_.connected_since = 0;
        }
        status_.state = state;
        status_.last_error = std::move(error);
        if (sys_state_ == sys) {
            return;
        }
        sys_state_ = sys;
    }
    if (client_) {
        client_->publish({"$SYS/broker/bridges/" + cfg_.name + "/state", sys, 0, true, 0});
    }
}

void link::publish_sys() {
    const auto s = status();
    const auto prefix = "$SYS/broker/bridges/" + cfg_.name + "/";
    const std::pair<const char*, std::uint64_t> values[] = {
        {"queue/messages", s.queued},    {"queue/bytes", s.queued_bytes},
        {"messages/sent", s.sent},       {"messages/acked", s.acked},
        {"messages/dropped", s.dropped}, {"messages/received", s.received},
    };
    for (const auto& [name, value] : values) {
        client_->publish({prefix + name, std::to_string(value), 0, true, 0});
    }
}

asio::awaitable<void> link::async_sys() {
    asio::steady_timer tick{ctx_};
    for (;;) {
        tick.expires_after(sys_interval_);
        auto [ec] = co_await tick.async_wait(use_nothrow);
        if (ec) {
            co_return;
        }
        publish_sys();
    }
}

} // namespace edgemq::bridge
