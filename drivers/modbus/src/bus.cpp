// SPDX-License-Identifier: Apache-2.0
// The bus scheduler. libmodbus is blocking, so each bus has a thread of its own that alone
// touches the port and the libmodbus context; the broker's delivery thread only queues writes
// (under mutex_) and wakes it. Publishing goes through one internal client per slave, from the
// bus thread, except for writes refused before they are queued (bad payload, queue full).
#include "edgemq/modbus/bus.hpp"
#include "edgemq/modbus/registers.hpp"

#include "edgemq/broker/clock.hpp"
#include "edgemq/serial/command.hpp"
#include "edgemq/serial/port.hpp"

#include <modbus/modbus.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <optional>

namespace edgemq::modbus {
namespace {

using clock = std::chrono::steady_clock;
using serial::steady_time;

constexpr auto backoff_initial = std::chrono::milliseconds(200);
constexpr auto backoff_max = std::chrono::milliseconds(5000);
constexpr std::size_t write_queue_max = 16;

constexpr std::string_view table_name(config::modbus_table t) {
    switch (t) {
    case config::modbus_table::coil:
        return "coils";
    case config::modbus_table::discrete_input:
        return "discrete inputs";
    case config::modbus_table::holding:
        return "holding registers";
    case config::modbus_table::input:
        return "input registers";
    }
    return "?";
}

/// errno values that mean the port itself is gone (an unplugged adapter, a closed pty),
/// rather than one slave not answering.
bool port_lost(int err) {
    return err == EIO || err == ENXIO || err == ENODEV || err == EBADF || err == EPIPE ||
           err == ENOENT;
}

bool is_exception(int err) {
    return err > MODBUS_ENOBASE && err <= EMBXGTAR;
}

char parity_letter(config::parity p) {
    return p == config::parity::even ? 'E' : p == config::parity::odd ? 'O' : 'N';
}

std::chrono::milliseconds frame_delay(const config::modbus_bus& b) {
    if (b.frame_delay.count() > 0) {
        return b.frame_delay;
    }
    // 3.5 characters of start + data + parity + stop bits.
    const auto bits = 1 + b.data_bits + (b.parity == config::parity::none ? 0 : 1) + b.stop_bits;
    const auto ms = static_cast<long>(3.5 * bits * 1000.0 / b.baud + 0.999);
    return std::chrono::milliseconds(std::max(2L, ms));
}

/// The bus's line settings as a line device's, for serial::open_port.
config::device line_settings(const config::modbus_bus& b) {
    config::device d;
    d.id = b.name;
    d.match = b.match;
    d.baud = b.baud;
    d.data_bits = b.data_bits;
    d.parity = b.parity;
    d.stop_bits = b.stop_bits;
    return d;
}

} // namespace

std::string error_text(int err) {
    if (err == ETIMEDOUT) {
        return "timeout";
    }
    std::string text = modbus_strerror(err);
    if (!text.empty()) {
        text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
    }
    if (is_exception(err)) {
        text += " (exception " + std::to_string(err - MODBUS_ENOBASE) + ")";
    }
    return text;
}

struct bus::slave_state {
    const config::modbus_slave* cfg = nullptr;
    config::device dev;
    serial::mapper mapper;
    std::vector<read_request> plan;
    std::string prefix; ///< {base}/{name}
    std::string state_topic;
    std::shared_ptr<broker::internal_client> client;
    std::mutex publish_mutex; ///< the bus thread and the broker thread (refusals) publish
    steady_time next_poll{};
    steady_time next_stats{};
    std::optional<bool> online;
    std::uint32_t consecutive_failures = 0;
    std::string last_error;
    serial::rate_limiter log_limiter{1.0, 5.0};
    std::atomic<std::uint64_t> seq{0};
    std::uint64_t log_dropped = 0;
    std::int64_t last_seen_ms = 0;
    std::string last_state = "{}";
    slave_status st;

    explicit slave_state(const config::modbus_slave& s)
        : cfg(&s), dev(slave_device(s)), mapper(dev), plan(plan_reads(s.registers)),
          prefix(s.publish.base + '/' + s.name) {
        if (s.publish.state) {
            state_topic = serial::expand_topic(s.publish.state_topic, s.publish.base, s.name);
        }
        st.name = s.name;
        st.id = s.id;
    }

    void publish(std::string topic, std::string payload, std::uint8_t qos, bool retain) {
        const std::lock_guard lock{publish_mutex};
        client->publish({std::move(topic), std::move(payload), qos, retain, 0});
    }
    void availability(bool up) {
        if (online == up) {
            return;
        }
        online = up;
        st.online = up;
        publish(prefix + "/availability", up ? "online" : "offline", 1, true);
    }
    void respond(const std::string& name, bool ok, std::uint64_t seq, std::string_view text) {
        publish(prefix + "/response/" + name, serial::response_json(ok, seq, text), 1, false);
    }
};

bus::bus(config::modbus_bus cfg, broker::broker& broker, std::shared_ptr<spdlog::logger> log)
    : cfg_(std::move(cfg)), broker_(broker), log_(std::move(log)) {
    for (const auto& s : cfg_.slaves) {
        slaves_.push_back(std::make_unique<slave_state>(s));
        status_.push_back(slaves_.back()->st);
    }
    port_status_.name = cfg_.name;
    port_status_.baud = cfg_.baud;
    port_status_.line = std::to_string(cfg_.data_bits) + parity_letter(cfg_.parity) +
                        std::to_string(cfg_.stop_bits);
    port_status_.last_error = "not started";
}

bus::~bus() {
    stop();
}

void bus::start() {
    if (started_) {
        return;
    }
    started_ = true;
    for (std::size_t i = 0; i < slaves_.size(); ++i) {
        auto& s = *slaves_[i];
        s.client = broker_.connect_internal(
            "modbus/" + s.cfg->name,
            [weak = weak_from_this(), i](const broker::message_ptr& m) {
                if (auto self = weak.lock()) {
                    self->on_command(i, m);
                }
            });
        s.client->subscribe(s.prefix + "/set/+", 1);
    }
    thread_ = std::thread([this] { run(); });
}

void bus::stop() {
    {
        const std::lock_guard lock{mutex_};
        if (stopping_) {
            return;
        }
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
    for (auto& s : slaves_) {
        if (s->client) {
            s->client->disconnect(); // no more commands from here on
            s->online.reset();
            s->availability(false);
        }
    }
}

bus_status bus::status() const {
    const std::lock_guard lock{mutex_};
    auto out = port_status_;
    out.slaves = status_;
    return out;
}

void bus::on_command(std::size_t index, const broker::message_ptr& m) {
    auto& s = *slaves_[index];
    const auto prefix = s.prefix + "/set/";
    if (!m->topic.starts_with(prefix)) {
        return;
    }
    const auto name = m->topic.substr(prefix.size());
    const auto seq = ++s.seq;
    const auto fail = [&](std::string why) {
        log_->info("bus={} slave={} write {} refused: {}", cfg_.name, s.cfg->name, name, why);
        s.respond(name, false, seq, why);
        const std::lock_guard lock{mutex_};
        ++status_[index].write_errors;
    };
    const auto& regs = s.cfg->registers;
    const auto reg = std::ranges::find(regs, name, &config::modbus_register::name);
    const auto cmd = std::ranges::find(s.dev.commands, name, &config::device_command::name);
    if (reg == regs.end() || cmd == s.dev.commands.end()) {
        std::string known;
        for (const auto& c : s.dev.commands) {
            known += (known.empty() ? "" : ", ") + c.name;
        }
        fail("not a writable register; this slave has " + (known.empty() ? "none" : known));
        return;
    }
    const auto valid = serial::encode_command(*cmd, m->payload, seq, s.cfg->name, "");
    if (!valid.ok()) {
        fail(valid.error);
        return;
    }
    double v = 0;
    std::from_chars(valid.bytes.data(), valid.bytes.data() + valid.bytes.size(), v);
    auto words = encode(*reg, v);
    if (!words.ok()) {
        fail(words.error);
        return;
    }
    {
        const std::lock_guard lock{mutex_};
        if (writes_.size() >= write_queue_max) {
            ++status_[index].write_errors;
        } else {
            writes_.push_back({index, static_cast<std::size_t>(reg - regs.begin()),
                               std::move(words.words), seq});
            wake_.notify_all();
            return;
        }
    }
    s.respond(name, false, seq, "write queue full");
}

void bus::run() {
    const auto delay = frame_delay(cfg_);
    const auto line = line_settings(cfg_);
    auto backoff = backoff_initial;
    std::string last_problem;
    std::uint64_t opens = 0;
    const auto stopping = [this] {
        const std::lock_guard lock{mutex_};
        return stopping_;
    };
    const auto sleep_until = [this](steady_time t) {
        std::unique_lock lock{mutex_};
        wake_.wait_until(lock, t, [this] { return stopping_ || !writes_.empty(); });
    };
    const auto publish_status = [this](std::size_t i) {
        const std::lock_guard lock{mutex_};
        status_[i] = slaves_[i]->st;
    };
    const auto port_state = [this](const std::string& path, bool open, std::string why,
                                   std::uint64_t opens) {
        const std::lock_guard lock{mutex_};
        port_status_.port = path;
        port_status_.open = open;
        port_status_.last_error = std::move(why);
        port_status_.reconnects = opens > 0 ? opens - 1 : 0;
    };
    const auto fail_all = [&](std::string_view why) {
        // Refused here rather than left waiting for a bus that is not there.
        std::deque<write_job> dropped;
        {
            const std::lock_guard lock{mutex_};
            dropped.swap(writes_);
        }
        for (const auto& job : dropped) {
            auto& s = *slaves_[job.slave];
            ++s.st.write_errors;
            s.respond(s.cfg->registers[job.reg].name, false, job.seq, why);
        }
        for (std::size_t i = 0; i < slaves_.size(); ++i) {
            slaves_[i]->availability(false);
            publish_status(i);
        }
    };

    while (!stopping()) {
        const auto path = serial::resolve_port(cfg_.match);
        const auto opened = path.ok() ? serial::open_port(path.path, line)
                                      : serial::open_result{-1, {}, path.error};
        if (!opened.ok()) {
            port_state(path.path, false, opened.message, opens);
            if (opened.message != last_problem) {
                log_->warn("bus={} {}; retrying", cfg_.name, opened.message);
                last_problem = opened.message;
            }
            fail_all("bus is offline: " + opened.message);
            sleep_until(clock::now() + backoff);
            backoff = std::min(backoff * 2, backoff_max);
            continue;
        }
        backoff = backoff_initial;
        last_problem.clear();
        modbus_t* ctx = modbus_new_rtu(path.path.c_str(), static_cast<int>(cfg_.baud),
                                       parity_letter(cfg_.parity), cfg_.data_bits,
                                       cfg_.stop_bits);
        if (ctx == nullptr) {
            port_state(path.path, false, std::string("libmodbus: ") + modbus_strerror(errno), opens);
            log_->error("bus={} libmodbus: {}", cfg_.name, modbus_strerror(errno));
            ::close(opened.fd);
            sleep_until(clock::now() + backoff_max);
            continue;
        }
        // The port is opened, locked and configured by the serial driver (flock + TIOCEXCL,
        // ptys too); libmodbus only frames on it. Never modbus_close(): it would restore
        // termios it never saved.
        modbus_set_socket(ctx, opened.fd);
        const auto timeout_us = static_cast<std::uint32_t>(cfg_.response_timeout.count() * 1000);
        modbus_set_response_timeout(ctx, timeout_us / 1'000'000, timeout_us % 1'000'000);
        ++opens;
        port_state(path.path, true, "", opens);
        log_->info("bus={} opened {} ({} baud {}{}{}, {} slave(s))", cfg_.name, path.path,
                   cfg_.baud, cfg_.data_bits, parity_letter(cfg_.parity), cfg_.stop_bits,
                   slaves_.size());
        const auto start = clock::now();
        for (auto& s : slaves_) {
            s->next_poll = start;
            s->next_stats = start + s->cfg->stats_interval;
            s->consecutive_failures = 0;
        }
        bool lost = false;
        int lost_errno = 0;

        // One slave failed a transaction with errno `err` while doing `what`.
        const auto failed = [&](std::size_t i, int err, const std::string& what) {
            auto& s = *slaves_[i];
            ++s.st.failures;
            s.st.timeouts += err == ETIMEDOUT ? 1 : 0;
            s.st.exceptions += is_exception(err) ? 1 : 0;
            const auto text = what + ": " + error_text(err);
            if (text != s.last_error) {
                log_->warn("bus={} slave={} id={} {}", cfg_.name, s.cfg->name, s.cfg->id, text);
                s.last_error = text;
            }
            s.st.last_error = text;
            if (is_exception(err)) {
                s.st.last_exception = error_text(err);
            }
            if (s.log_limiter.take(clock::now())) {
                s.publish(s.prefix + "/log", text, 0, false);
            } else {
                ++s.log_dropped;
            }
            // A late or partial answer must not be read as the next one's.
            modbus_flush(ctx);
        };

        while (!lost && !stopping()) {
            std::optional<write_job> job;
            {
                const std::lock_guard lock{mutex_};
                if (!writes_.empty()) {
                    job = std::move(writes_.front());
                    writes_.pop_front();
                }
            }
            if (job) {
                auto& s = *slaves_[job->slave];
                const auto& r = s.cfg->registers[job->reg];
                modbus_set_slave(ctx, s.cfg->id);
                int rc = 0;
                if (r.table == config::modbus_table::coil) {
                    rc = modbus_write_bit(ctx, r.address, job->words.at(0) != 0 ? 1 : 0);
                } else if (job->words.size() == 1) {
                    rc = modbus_write_register(ctx, r.address, job->words[0]);
                } else {
                    rc = modbus_write_registers(ctx, r.address,
                                                static_cast<int>(job->words.size()),
                                                job->words.data());
                }
                const int err = errno;
                if (rc == -1 && port_lost(err)) {
                    lost = true;
                    lost_errno = err;
                    s.respond(r.name, false, job->seq, "bus went offline: " + error_text(err));
                    ++s.st.write_errors;
                } else if (rc == -1) {
                    const auto why = error_text(err);
                    log_->warn("bus={} slave={} id={} write {} ({} {}): {}", cfg_.name,
                               s.cfg->name, s.cfg->id, r.name, table_name(r.table), r.address,
                               why);
                    ++s.st.write_errors;
                    s.respond(r.name, false, job->seq, why);
                    modbus_flush(ctx);
                } else {
                    ++s.st.writes;
                    log_->debug("bus={} slave={} write {} seq={} done", cfg_.name, s.cfg->name,
                                r.name, job->seq);
                    s.respond(r.name, true, job->seq, "");
                    s.next_poll = clock::now(); // show the written value at once
                }
                publish_status(job->slave);
                std::this_thread::sleep_for(delay);
                continue;
            }

            auto now = clock::now();
            // Mapper timers (min_interval, max_interval) and stats.
            for (std::size_t i = 0; i < slaves_.size(); ++i) {
                auto& s = *slaves_[i];
                if (const auto t = s.mapper.next_timer(); t && *t <= now) {
                    for (auto& m : s.mapper.on_timer(now, broker::unix_millis())) {
                        s.publish(std::move(m.topic), std::move(m.payload), m.qos, m.retain);
                    }
                }
                if (s.cfg->stats_interval.count() > 0 && s.next_stats <= now) {
                    s.next_stats = now + s.cfg->stats_interval;
                    s.publish(
                        s.prefix + "/stats",
                        "{\"polls\":" + std::to_string(s.st.polls) +
                            ",\"failures\":" + std::to_string(s.st.failures) +
                            ",\"timeouts\":" + std::to_string(s.st.timeouts) +
                            ",\"exceptions\":" + std::to_string(s.st.exceptions) +
                            ",\"consecutive_failures\":" +
                            std::to_string(s.consecutive_failures) +
                            ",\"writes\":" + std::to_string(s.st.writes) +
                            ",\"write_errors\":" + std::to_string(s.st.write_errors) +
                            ",\"suppressed\":" + std::to_string(s.mapper.suppressed()) +
                            ",\"log_dropped\":" + std::to_string(s.log_dropped) +
                            ",\"reconnects\":" + std::to_string(opens > 0 ? opens - 1 : 0) +
                            ",\"online\":" + (s.online.value_or(false) ? "true" : "false") +
                            ",\"last_error\":" + serial::json_string(s.st.last_error) +
                            ",\"last_seen\":" + std::to_string(s.last_seen_ms) +
                            ",\"ts\":" + std::to_string(broker::unix_millis()) + "}",
                        0, false);
                }
            }
            const auto due = std::ranges::min_element(
                slaves_, {}, [](const auto& s) { return s->next_poll; });
            if (due == slaves_.end()) {
                sleep_until(now + std::chrono::hours(1));
                continue;
            }
            if ((*due)->next_poll > now) {
                auto wake = (*due)->next_poll;
                for (const auto& s : slaves_) {
                    if (const auto t = s->mapper.next_timer()) {
                        wake = std::min(wake, *t);
                    }
                    if (s->cfg->stats_interval.count() > 0) {
                        wake = std::min(wake, s->next_stats);
                    }
                }
                sleep_until(wake);
                continue;
            }

            // Poll the slave that is due first.
            const auto i = static_cast<std::size_t>(due - slaves_.begin());
            auto& s = **due;
            s.next_poll += s.cfg->poll_interval;
            if (s.next_poll < now) {
                s.next_poll = now; // behind: as soon as possible, then the interval again
            }
            modbus_set_slave(ctx, s.cfg->id);
            std::vector<std::optional<serial::value>> values(s.cfg->registers.size());
            bool ok = true;
            for (std::size_t q = 0; q < s.plan.size() && ok; ++q) {
                const auto& req = s.plan[q];
                if (q > 0) {
                    std::this_thread::sleep_for(delay);
                }
                int rc = 0;
                std::vector<std::uint16_t> words;
                std::vector<std::uint8_t> bits;
                switch (req.table) {
                case config::modbus_table::coil:
                    bits.resize(req.count);
                    rc = modbus_read_bits(ctx, req.address, req.count, bits.data());
                    break;
                case config::modbus_table::discrete_input:
                    bits.resize(req.count);
                    rc = modbus_read_input_bits(ctx, req.address, req.count, bits.data());
                    break;
                case config::modbus_table::holding:
                    words.resize(req.count);
                    rc = modbus_read_registers(ctx, req.address, req.count, words.data());
                    break;
                case config::modbus_table::input:
                    words.resize(req.count);
                    rc = modbus_read_input_registers(ctx, req.address, req.count, words.data());
                    break;
                }
                if (rc == -1) {
                    const int err = errno;
                    if (port_lost(err)) {
                        lost = true;
                        lost_errno = err;
                    } else {
                        failed(i, err,
                               "read " + std::string(table_name(req.table)) + " " +
                                   std::to_string(req.address) + "-" +
                                   std::to_string(req.address + req.count - 1));
                    }
                    ok = false;
                    break;
                }
                for (const auto r : req.registers) {
                    const auto& reg = s.cfg->registers[r];
                    const auto at = static_cast<std::size_t>(reg.address - req.address);
                    if (bits.empty()) {
                        values[r] = decode(reg, std::span(words).subspan(
                                                    at, config::modbus_width(reg.type)));
                    } else {
                        values[r] = decode_bit(reg, bits[at] != 0);
                    }
                }
            }
            if (lost) {
                break;
            }
            if (!ok) {
                if (++s.consecutive_failures >= s.cfg->max_failures && s.online != false) {
                    log_->warn("bus={} slave={} id={} offline after {} failed polls", cfg_.name,
                               s.cfg->name, s.cfg->id, s.consecutive_failures);
                    s.availability(false);
                }
            } else {
                ++s.st.polls;
                s.consecutive_failures = 0;
                if (!s.last_error.empty()) {
                    log_->info("bus={} slave={} id={} answers again", cfg_.name, s.cfg->name,
                               s.cfg->id);
                    s.last_error.clear();
                }
                s.last_seen_ms = broker::unix_millis();
                s.st.last_seen_ms = s.last_seen_ms;
                s.availability(true);
                std::vector<serial::named_value> named;
                for (std::size_t r = 0; r < values.size(); ++r) {
                    named.push_back({s.cfg->registers[r].name, std::move(*values[r])});
                }
                for (auto& m : s.mapper.on_frame(std::move(named), clock::now(), s.last_seen_ms)) {
                    s.publish(std::move(m.topic), std::move(m.payload), m.qos, m.retain);
                }
            }
            publish_status(i);
            std::this_thread::sleep_for(delay);
        }

        modbus_set_socket(ctx, -1);
        modbus_free(ctx);
        ::close(opened.fd);
        if (lost) {
            port_state(path.path, false, "port lost: " + error_text(lost_errno), opens);
            log_->warn("bus={} port {} lost: {} (unplugged?)", cfg_.name, path.path,
                       error_text(lost_errno));
            fail_all("bus went offline");
        } else {
            port_state(path.path, false, "stopped", opens);
        }
    }
}

service::service(const std::vector<config::modbus_bus>& buses, broker::broker& broker,
                 std::shared_ptr<spdlog::logger> log)
    : broker_(broker), log_(std::move(log)) {
    for (const auto& b : buses) {
        buses_.push_back(std::make_shared<bus>(b, broker_, log_));
    }
}

service::~service() {
    stop();
}

void service::start() {
    const std::lock_guard lock{mutex_};
    if (started_ || stopped_) {
        return;
    }
    started_ = true;
    for (auto& b : buses_) {
        b->start();
    }
}

void service::stop() {
    const std::lock_guard lock{mutex_};
    if (stopped_) {
        return;
    }
    stopped_ = true;
    for (auto& b : buses_) {
        b->stop();
    }
}

void service::apply(const std::vector<config::modbus_bus>& buses) {
    const std::lock_guard lock{mutex_};
    std::vector<std::shared_ptr<bus>> next;
    for (const auto& cfg : buses) {
        const auto same = std::ranges::find_if(
            buses_, [&cfg](const auto& b) { return b && b->config() == cfg; });
        if (same != buses_.end()) {
            next.push_back(std::move(*same));
        } else {
            next.push_back(std::make_shared<bus>(cfg, broker_, log_));
        }
    }
    // Stopped before the new ones start, so that a changed bus's port is free again.
    for (auto& b : buses_) {
        if (b) {
            log_->info("bus {}: configuration changed or removed, stopping", b->config().name);
            b->stop();
        }
    }
    buses_ = std::move(next);
    if (started_ && !stopped_) {
        for (auto& b : buses_) {
            b->start();
        }
    }
}

std::vector<slave_status> service::slaves() const {
    const std::lock_guard lock{mutex_};
    std::vector<slave_status> out;
    for (const auto& b : buses_) {
        for (auto& s : b->status().slaves) {
            out.push_back(std::move(s));
        }
    }
    return out;
}

std::vector<bus_status> service::buses() const {
    const std::lock_guard lock{mutex_};
    std::vector<bus_status> out;
    for (const auto& b : buses_) {
        out.push_back(b->status());
    }
    return out;
}

} // namespace edgemq::modbus
