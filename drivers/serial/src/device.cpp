// SPDX-License-Identifier: Apache-2.0
#include "edgemq/serial/device.hpp"

#include "edgemq/broker/clock.hpp"
#include "edgemq/broker/hex.hpp"
#include "edgemq/broker/log_exception.hpp"
#include "edgemq/serial/command.hpp"
#include "edgemq/serial/port.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>

namespace edgemq::serial {
namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
constexpr auto backoff_initial = std::chrono::milliseconds(200);
constexpr auto backoff_max = std::chrono::milliseconds(5000);
constexpr std::size_t command_queue_max = 16;


steady_time now() {
    return std::chrono::steady_clock::now();
}

} // namespace

device::device(asio::io_context& ctx, config::device cfg, broker::broker& broker,
               std::shared_ptr<spdlog::logger> log)
    : ctx_(ctx), cfg_(std::move(cfg)), broker_(broker), log_(std::move(log)), port_(ctx),
      retry_timer_(ctx), tick_timer_(ctx), writer_wake_(ctx), reply_timer_(ctx),
      stats_timer_(ctx), framer_(cfg_), parser_(cfg_), mapper_(cfg_) {
    status_.id = cfg_.id;
    if (cfg_.publish.state) {
        state_topic_ = expand_topic(cfg_.publish.state_topic, cfg_.publish.base, cfg_.id);
    }
}

device_status device::status() const {
    const std::lock_guard lock{status_mutex_};
    return status_;
}

void device::refresh_status() {
    const auto& f = framer_.stats();
    const std::lock_guard lock{status_mutex_};
    status_.online = port_.is_open();
    status_.port = status_.online ? port_path_ : std::string();
    status_.last_error = last_error_;
    status_.bytes = f.bytes;
    status_.frames = f.frames;
    status_.parse_errors = parse_errors_;
    status_.dropped = f.overflows + encoding_errors_;
    status_.reconnects = opens_ > 0 ? opens_ - 1 : 0;
    status_.commands = commands_;
    status_.command_errors = command_errors_;
    status_.online_since_ms = status_.online ? opened_ms_ : 0;
    status_.last_seen_ms = last_seen_ms_;
    if (state_changed_) {
        status_.last_state = last_state_;
        state_changed_ = false;
    }
}

void device::set_port_details(port_info details) {
    const std::lock_guard lock{status_mutex_};
    status_.port_details = std::move(details);
}

std::string device::topic(std::string_view suffix) const {
    return cfg_.publish.base + '/' + cfg_.id + std::string(suffix);
}

void device::start() {
    std::weak_ptr<device> weak = shared_from_this();
    client_ = broker_.connect_internal("serial/" + cfg_.id,
                                       [weak, &ctx = ctx_](const broker::message_ptr& m) {
                                           asio::post(ctx, [weak, m] {
                                               if (auto self = weak.lock()) {
                                                   self->on_command(m);
                                               }
                                           });
                                       });
    client_->subscribe(topic("/set/+"), 1);
    const auto on_done = broker::log_exception(*log_, "device=" + cfg_.id + " coroutine");
    auto self = shared_from_this();
    asio::co_spawn(ctx_, [self]() { return self->async_run(); }, on_done);
    asio::co_spawn(ctx_, [self]() { return self->async_write_commands(); }, on_done);
    asio::co_spawn(ctx_, [self]() { return self->async_tick(); }, on_done);
    if (cfg_.stats_interval.count() > 0) {
        asio::co_spawn(ctx_, [self]() { return self->async_stats(); }, on_done);
    }
}

void device::stop() {
    asio::post(ctx_, [self = shared_from_this()] {
        if (self->stopping_) {
            return;
        }
        self->stopping_ = true;
        boost::system::error_code ignored;
        self->port_.close(ignored);
        self->retry_timer_.cancel();
        self->tick_timer_.cancel();
        self->writer_wake_.cancel();
        self->reply_timer_.cancel();
        self->stats_timer_.cancel();
        self->refresh_status();
        if (self->client_) { // never started: nothing was published
            self->availability(false);
            self->client_->disconnect();
        }
    });
}

void device::restart() {
    asio::post(ctx_, [self = shared_from_this()] {
        if (self->stopping_ || !self->client_) {
            return;
        }
        self->log_->info("device={} restart requested", self->cfg_.id);
        self->restarting_ = true;
        // Either ends the read loop (async_run then publishes offline and reopens at once) or
        // ends the backoff wait of a device that is offline.
        boost::system::error_code ignored;
        self->port_.close(ignored);
        self->retry_timer_.cancel();
    });
}

void device::publish(std::string topic, std::string payload, std::uint8_t qos, bool retain) {
    client_->publish({std::move(topic), std::move(payload), qos, retain, 0});
}

void device::publish_all(std::vector<broker::message> messages) {
    for (auto& m : messages) {
        if (m.topic == state_topic_) {
            last_state_ = m.payload;
            state_changed_ = true;
        }
        client_->publish(std::move(m));
    }
}

void device::availability(bool online) {
    publish(topic("/availability"), online ? "online" : "offline", 1, true);
}

void device::log_line(const std::string& text) {
    if (log_limiter_.take(now())) {
        publish(topic("/log"), text, 0, false);
    } else {
        ++log_suppressed_;
    }
}

void device::respond(const std::string& command, bool ok, std::uint64_t seq,
                     std::string_view text) {
    if (!ok) {
        ++command_errors_;
    }
    publish(topic("/response/" + command), response_json(ok, seq, text), 1, false);
    refresh_status();
}

asio::awaitable<void> device::async_run() {
    auto backoff = backoff_initial;
    bool offline_published = false;
    std::string last_problem;
    while (!stopping_) {
        if (restarting_) {
            restarting_ = false;
            backoff = backoff_initial;
        }
        const auto path = resolve_port(cfg_.match);
        const auto opened = path.ok() ? open_port(path.path, cfg_) : open_result{-1, {}, path.error};
        if (!opened.ok()) {
            if (opened.message != last_problem) {
                log_->warn("device={} {}; retrying", cfg_.id, opened.message);
                last_problem = opened.message;
                last_error_ = opened.message;
                refresh_status();
            }
            if (!offline_published) {
                availability(false);
                offline_published = true;
            }
            retry_timer_.expires_after(backoff);
            co_await retry_timer_.async_wait(use_nothrow);
            backoff = std::min(backoff * 2, backoff_max);
            continue;
        }
        backoff = backoff_initial;
        last_problem.clear();
        last_error_.clear();
        port_path_ = path.path;
        auto details = describe_port(path.path);
        if (!details) {
            details.emplace();
            details->path = path.path; // a pty: nothing more to tell
        }
        set_port_details(std::move(*details));
        boost::system::error_code ec;
        port_.assign(opened.fd, ec);
        ++opens_;
        opened_ms_ = broker::unix_millis();
        log_->info("device={} opened {} ({} baud)", cfg_.id, port_path_, cfg_.baud);
        framer_.reset();
        settle_until_ = now() + cfg_.settle;
        refresh_status();
        availability(true);
        offline_published = false;
        writer_wake_.cancel();
        co_await async_read_port();
        port_.close(ec);
        set_port_details({});
        framer_.reset();
        reply_timer_.cancel(); // a command awaiting its reply fails now
        refresh_status();
        if (!stopping_) {
            availability(false);
            offline_published = true;
        }
    }
}

asio::awaitable<void> device::async_read_port() {
    using namespace asio::experimental::awaitable_operators;
    std::array<char, 4096> buffer{};
    asio::steady_timer idle(ctx_);
    for (;;) {
        boost::system::error_code ec;
        std::size_t n = 0;
        if (cfg_.framing == config::framing_mode::idle_gap && framer_.has_partial()) {
            idle.expires_after(cfg_.idle_gap);
            auto result = co_await (port_.async_read_some(asio::buffer(buffer), use_nothrow) ||
                                    idle.async_wait(use_nothrow));
            if (result.index() == 1) {
                if (auto frame = framer_.on_idle()) {
                    on_frame(*frame);
                }
                continue;
            }
            std::tie(ec, n) = std::get<0>(result);
        } else {
            std::tie(ec, n) = co_await port_.async_read_some(asio::buffer(buffer), use_nothrow);
        }
        if (ec) {
            if (!stopping_ && !restarting_) {
                log_->warn("device={} port {} closed: {}", cfg_.id, port_path_,
                           ec == asio::error::eof ? "end of file (unplugged?)" : ec.message());
            }
            co_return;
        }
        const std::string_view bytes(buffer.data(), n);
        if (now() < settle_until_) {
            framer_.discard(bytes);
            continue;
        }
        for (const auto& frame : framer_.feed(bytes)) {
            on_frame(frame);
        }
        refresh_status();
    }
}

void device::on_frame(const std::string& frame) {
    last_seen_ms_ = broker::unix_millis();
    const auto text = decode(frame, cfg_.encoding);
    if (!text) {
        ++encoding_errors_;
        log_line("invalid UTF-8, hex: " + broker::hex_encoded(frame));
        return;
    }
    if (awaiting_reply_ && std::regex_search(*text, *awaiting_reply_)) {
        awaiting_reply_.reset();
        reply_text_ = *text;
        reply_timer_.cancel();
        return;
    }
    auto result = parser_.parse(*text);
    if (!result.errors.empty()) {
        ++parse_errors_;
        std::string why;
        for (const auto& e : result.errors) {
            why += (why.empty() ? "" : "; ") + e;
        }
        log_line(why + ": " + *text);
    }
    if (!result.values.empty()) {
        publish_all(mapper_.on_frame(std::move(result.values), now(), broker::unix_millis()));
        rearm_tick();
    }
}

void device::rearm_tick() {
    const auto next = mapper_.next_timer();
    tick_timer_.expires_at(next ? *next : steady_time::max());
}

asio::awaitable<void> device::async_tick() {
    rearm_tick();
    while (!stopping_) {
        const auto [ec] = co_await tick_timer_.async_wait(use_nothrow);
        if (stopping_) {
            break;
        }
        if (!ec) {
            publish_all(mapper_.on_timer(now(), broker::unix_millis()));
            rearm_tick();
        }
    }
}

asio::awaitable<void> device::async_stats() {
    while (!stopping_) {
        stats_timer_.expires_after(cfg_.stats_interval);
        const auto [ec] = co_await stats_timer_.async_wait(use_nothrow);
        if (ec || stopping_) {
            break;
        }
        const auto& f = framer_.stats();
        publish(topic("/stats"),
                "{\"bytes\":" + std::to_string(f.bytes) +
                    ",\"frames\":" + std::to_string(f.frames) +
                    ",\"overflows\":" + std::to_string(f.overflows) +
                    ",\"dropped\":" + std::to_string(f.overflows + encoding_errors_) +
                    ",\"settle_discarded\":" + std::to_string(f.settle_discarded) +
                    ",\"parse_errors\":" + std::to_string(parse_errors_) +
                    ",\"encoding_errors\":" + std::to_string(encoding_errors_) +
                    ",\"suppressed\":" + std::to_string(mapper_.suppressed()) +
                    ",\"log_dropped\":" + std::to_string(log_suppressed_) +
                    ",\"reconnects\":" + std::to_string(opens_ > 0 ? opens_ - 1 : 0) +
                    ",\"commands\":" + std::to_string(commands_) +
                    ",\"command_errors\":" + std::to_string(command_errors_) +
                    ",\"online\":" + (port_.is_open() ? "true" : "false") +
                    ",\"last_seen\":" + std::to_string(last_seen_ms_) +
                    ",\"ts\":" + std::to_string(broker::unix_millis()) + "}",
                0, false);
    }
}

void device::on_command(const broker::message_ptr& m) {
    if (stopping_) {
        return;
    }
    const auto prefix = topic("/set/");
    if (!m->topic.starts_with(prefix)) {
        return;
    }
    const auto name = m->topic.substr(prefix.size());
    const auto seq = ++seq_;
    ++commands_;
    const auto it = std::ranges::find(cfg_.commands, name, &config::device_command::name);
    if (it == cfg_.commands.end()) {
        std::string known;
        for (const auto& c : cfg_.commands) {
            known += (known.empty() ? "" : ", ") + c.name;
        }
        respond(name, false, seq,
                "unknown command; this device has " + (known.empty() ? "none" : known));
        return;
    }
    auto encoded = encode_command(*it, m->payload, seq, cfg_.id, framer_.eol());
    if (!encoded.ok()) {
        log_->info("device={} command {} refused: {}", cfg_.id, name, encoded.error);
        respond(name, false, seq, encoded.error);
        return;
    }
    if (!port_.is_open()) {
        respond(name, false, seq, "device is offline");
        return;
    }
    if (queue_.size() >= command_queue_max) {
        respond(name, false, seq, "command queue full");
        return;
    }
    queue_.push_back({&*it, std::move(encoded.bytes), seq});
    writer_wake_.cancel();
}

asio::awaitable<void> device::async_write_commands() {
    while (!stopping_) {
        if (queue_.empty()) {
            writer_wake_.expires_at(steady_time::max());
            co_await writer_wake_.async_wait(use_nothrow);
            continue;
        }
        auto job = std::move(queue_.front());
        queue_.pop_front();
        const auto& name = job.command->name;
        if (!port_.is_open()) {
            respond(name, false, job.seq, "device is offline");
            continue;
        }
        std::optional<std::regex> reply;
        if (!job.command->reply.empty()) {
            try {
                reply.emplace(config::strip_named_groups(reply_pattern(*job.command, job.seq)).first,
                              std::regex::ECMAScript);
            } catch (const std::regex_error& e) {
                respond(name, false, job.seq, std::string("bad reply pattern: ") + e.what());
                continue;
            }
        }
        // Armed before the write: a fast device may answer before the write completes.
        awaiting_reply_ = std::move(reply);
        reply_text_.clear();
        const auto [ec, n] = co_await asio::async_write(port_, asio::buffer(job.bytes),
                                                        use_nothrow);
        if (ec) {
            awaiting_reply_.reset();
            respond(name, false, job.seq, "write failed: " + ec.message());
            continue;
        }
        log_->debug("device={} command {} seq={} written ({} bytes)", cfg_.id, name, job.seq, n);
        if (job.command->reply.empty()) {
            respond(name, true, job.seq, "");
            continue;
        }
        if (awaiting_reply_) {
            reply_timer_.expires_after(job.command->timeout);
            co_await reply_timer_.async_wait(use_nothrow);
        }
        if (awaiting_reply_) {
            awaiting_reply_.reset();
            respond(name, false, job.seq, port_.is_open() ? "timeout" : "device went offline");
        } else {
            respond(name, true, job.seq, reply_text_);
        }
    }
}

service::service(const std::vector<config::device>& devices, broker::broker& broker,
                 std::shared_ptr<spdlog::logger> log)
    : work_(ctx_.get_executor()), broker_(broker), log_(std::move(log)) {
    for (const auto& d : devices) {
        devices_.push_back(std::make_shared<device>(ctx_, d, broker_, log_));
    }
}

service::~service() {
    stop();
}

void service::start() {
    const std::lock_guard lock{devices_mutex_};
    if (started_ || stopped_) {
        return;
    }
    started_ = true;
    for (auto& d : devices_) {
        d->start();
    }
    thread_ = std::thread([this] { ctx_.run(); });
}

void service::stop() {
    {
        const std::lock_guard lock{devices_mutex_};
        if (stopped_) {
            return;
        }
        stopped_ = true;
        if (!started_) {
            return;
        }
        for (auto& d : devices_) {
            d->stop();
        }
    }
    // After every device's stop (handlers run in order on the one thread): the coroutines
    // still suspended are destroyed with the io_context.
    work_.reset();
    asio::post(ctx_, [this] { ctx_.stop(); });
    thread_.join();
}

std::vector<device_status> service::devices() const {
    std::vector<std::shared_ptr<device>> devices;
    {
        const std::lock_guard lock{devices_mutex_};
        devices = devices_;
    }
    std::vector<device_status> out;
    out.reserve(devices.size());
    for (const auto& d : devices) {
        out.push_back(d->status());
    }
    return out;
}

bool service::restart(std::string_view id) {
    const std::lock_guard lock{devices_mutex_};
    const auto it = std::ranges::find_if(devices_, [id](const auto& d) {
        return d->config().id == id;
    });
    if (it == devices_.end()) {
        return false;
    }
    (*it)->restart();
    return true;
}

void service::apply(const std::vector<config::device>& devices) {
    const std::lock_guard lock{devices_mutex_};
    // Build every new device before touching the running ones: a constructor that throws
    // leaves the running set as it was.
    std::vector<std::shared_ptr<device>> next;
    std::vector<std::shared_ptr<device>> fresh;
    for (const auto& cfg : devices) {
        const auto same =
            std::ranges::find_if(devices_, [&cfg](const auto& d) { return d->config() == cfg; });
        if (same != devices_.end()) {
            next.push_back(*same);
        } else {
            fresh.push_back(std::make_shared<device>(ctx_, cfg, broker_, log_));
            next.push_back(fresh.back());
        }
    }
    const auto named = [](const auto& list, const std::string& id) {
        return std::ranges::any_of(list, [&id](const auto& d) { return d->config().id == id; });
    };
    for (auto& d : devices_) {
        if (std::ranges::find(next, d) == next.end()) {
            log_->info("device {}: {}", d->config().id,
                       named(fresh, d->config().id) ? "configuration changed, restarting"
                                                    : "removed from the configuration, stopping");
            if (started_ && !stopped_) {
                d->stop();
            }
        }
    }
    for (const auto& d : fresh) {
        if (!named(devices_, d->config().id)) {
            log_->info("device {}: added to the configuration, starting", d->config().id);
        }
    }
    devices_ = std::move(next);
    if (!started_ || stopped_) {
        return;
    }
    // Started after the stops were posted, so a changed device's old instance has closed its
    // port (and published offline) before the new one opens it.
    for (auto& d : fresh) {
        asio::post(ctx_, [d] { d->start(); });
    }
}

} // namespace edgemq::serial
