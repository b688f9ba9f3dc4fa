// SPDX-License-Identifier: Apache-2.0
// edgemq_serial_bench: the serial-device benchmark behind bench/serial.sh (issue #4). It runs the
// real edgemq binary with N simulated devices on ptys, each printing `dev=I,seq=K` lines at a
// fixed rate, subscribes to their state topics over MQTT, and reports
//  * whether every line was published (lost, duplicated),
//  * the latency from the moment the write(2) of a line's last byte returned to the moment the
//    subscriber's recv(2) returned with the state message for it (p50/p90/p99/p99.9/max),
//  * the CPU the gateway used, from utime + stime in /proc/<pid>/stat over the writing phase.
//
// Devices. `--pty socat` (the default, as the tests do it) puts a `socat` between two ptys per
// device: the tool writes one end, edgemq opens the other; the latency then includes socat's
// relay. `--pty direct` opens a pty pair itself (posix_openpt) and edgemq opens its slave: only
// the kernel's pty and the gateway are between the write and the broker.
//
// Pacing. One thread writes every line at its scheduled time (device i, line k at
// start + k/rate + i/(rate*N): the devices are spread evenly, not in phase), each line in one
// write(2); a late writer catches up rather than skipping, and each line's own write time is
// what its latency is measured from. A second thread reads the subscriber's socket.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

extern char** environ;

namespace {

namespace fs = std::filesystem;

struct options {
    std::string edgemq;
    std::size_t devices = 32;
    unsigned rate = 200; ///< lines per second per device
    double seconds = 20;
    bool socat = true;
    unsigned baud = 115200;
};

[[noreturn]] void usage(int code) {
    std::cerr << "usage: edgemq_serial_bench --edgemq BIN [--devices N] [--rate LINES_PER_S]\n"
                 "                           [--seconds S] [--pty socat|direct] [--baud B]\n";
    std::exit(code);
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "-h" || a == "--help") {
            usage(0);
        }
        if (i + 1 >= argc) {
            usage(2);
        }
        const std::string v = argv[++i];
        if (a == "--edgemq") {
            o.edgemq = v;
        } else if (a == "--devices") {
            o.devices = std::stoul(v);
        } else if (a == "--rate") {
            o.rate = static_cast<unsigned>(std::stoul(v));
        } else if (a == "--seconds") {
            o.seconds = std::stod(v);
        } else if (a == "--pty") {
            if (v != "socat" && v != "direct") {
                usage(2);
            }
            o.socat = v == "socat";
        } else if (a == "--baud") {
            o.baud = static_cast<unsigned>(std::stoul(v));
        } else {
            usage(2);
        }
    }
    if (o.edgemq.empty() || o.devices == 0 || o.rate == 0 || o.seconds <= 0) {
        usage(2);
    }
    return o;
}

std::int64_t now_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void sleep_until_ns(std::int64_t t) {
    timespec ts{static_cast<time_t>(t / 1'000'000'000), static_cast<long>(t % 1'000'000'000)};
    while (::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
}

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error(what + (errno != 0 ? std::string(": ") + std::strerror(errno) : ""));
}

/// A child process with stdout and stderr sent to `log` (or /dev/null), killed on destruction.
class child {
public:
    child(std::vector<std::string> argv, const std::string& log) {
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                         0644);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        std::vector<char*> args;
        for (auto& a : argv) {
            args.push_back(a.data());
        }
        args.push_back(nullptr);
        const int rc = ::posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0) {
            errno = rc;
            fail("cannot start " + argv[0]);
        }
    }
    ~child() { stop(SIGKILL); }
    child(const child&) = delete;
    child& operator=(const child&) = delete;

    pid_t pid() const { return pid_; }

    /// Sends `sig` and reaps; the exit status, or -1.
    int stop(int sig = SIGTERM) {
        if (pid_ <= 0) {
            return -1;
        }
        ::kill(pid_, sig);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

private:
    pid_t pid_ = -1;
};

/// utime + stime of a process, in seconds.
double cpu_seconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), {});
    // Fields after the command name (which may hold spaces) start after the last ')'.
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    std::string field;
    unsigned long long utime = 0;
    unsigned long long stime = 0;
    for (int i = 3; rest >> field; ++i) {
        if (i == 14) {
            utime = std::stoull(field);
        } else if (i == 15) {
            stime = std::stoull(field);
            break;
        }
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double self_cpu_seconds() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    const auto s = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
    return s(ru.ru_utime) + s(ru.ru_stime);
}

/// Opens a pty pair with a raw line discipline; returns the master and the slave's path.
std::pair<int, std::string> open_pty() {
    const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) {
        fail("posix_openpt");
    }
    char name[128];
    if (::ptsname_r(master, name, sizeof name) != 0) {
        fail("ptsname_r");
    }
    termios tio{};
    ::tcgetattr(master, &tio);
    ::cfmakeraw(&tio);
    ::tcsetattr(master, TCSANOW, &tio);
    return {master, name};
}

// ---------------------------------------------------------------------------------------------
// A minimal MQTT 3.1.1 subscriber (QoS 0): enough for CONNECT, SUBSCRIBE and PUBLISH.

void send_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0) {
            fail("send");
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

std::string with_length(char type, const std::string& body) {
    std::string p(1, type);
    auto n = body.size();
    do {
        auto byte = static_cast<char>(n % 128);
        n /= 128;
        if (n > 0) {
            byte = static_cast<char>(byte | 0x80);
        }
        p.push_back(byte);
    } while (n > 0);
    return p + body;
}

std::string mqtt_string(std::string_view s) {
    return std::string{static_cast<char>(s.size() >> 8), static_cast<char>(s.size() & 0xff)} +
           std::string(s);
}

/// One complete packet at the front of `buf`: {type byte, body}, or nothing yet.
bool next_packet(std::string& buf, std::size_t& offset, unsigned char& type,
                 std::string_view& body) {
    std::size_t i = offset + 1;
    std::size_t length = 0;
    for (int shift = 0;; shift += 7) {
        if (i >= buf.size()) {
            return false;
        }
        const auto b = static_cast<unsigned char>(buf[i++]);
        length |= static_cast<std::size_t>(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            break;
        }
    }
    if (buf.size() - i < length) {
        return false;
    }
    type = static_cast<unsigned char>(buf[offset]);
    body = std::string_view(buf).substr(i, length);
    offset = i + length;
    return true;
}

int connect_subscriber(std::uint16_t port, const std::vector<std::string>& filters) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        fail("connect");
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // CONNECT: protocol "MQTT" level 4, clean session, keep-alive 0 (none).
    send_all(fd, with_length(0x10, mqtt_string("MQTT") + std::string{4, 0x02, 0, 0} +
                                       mqtt_string("serial-bench")));
    std::string body = std::string{0, 1};
    for (const auto& f : filters) {
        body += mqtt_string(f) + std::string(1, '\0');
    }
    send_all(fd, with_length(static_cast<char>(0x82), body));
    return fd;
}

// ---------------------------------------------------------------------------------------------

struct run_state {
    std::size_t devices;
    std::size_t lines;
    std::vector<std::int64_t> sent_ns;     ///< [device * lines + seq], 0 = not written yet
    std::vector<std::int64_t> received_ns; ///< same index, 0 = not received
    std::atomic<std::size_t> online{0};
    std::atomic<std::size_t> received{0};
    std::atomic<std::size_t> duplicates{0};
    std::atomic<std::size_t> unexpected{0};
    std::atomic<std::int64_t> last_receipt_ns{0};
    std::atomic<bool> stop{false};
};

/// "edgemq/d12" → 12; "edgemq/d12/availability" → 12 with `availability` set.
bool device_of(std::string_view topic, std::size_t& device, bool& availability) {
    constexpr std::string_view prefix = "edgemq/d";
    if (!topic.starts_with(prefix)) {
        return false;
    }
    topic.remove_prefix(prefix.size());
    const auto [end, ec] = std::from_chars(topic.data(), topic.data() + topic.size(), device);
    if (ec != std::errc()) {
        return false;
    }
    const std::string_view rest(end, static_cast<std::size_t>(topic.data() + topic.size() - end));
    availability = rest == "/availability";
    return rest.empty() || availability;
}

void read_loop(int fd, run_state& s) {
    std::string buf;
    std::vector<char> chunk(64 * 1024);
    std::vector<bool> seen_online(s.devices, false);
    while (!s.stop.load(std::memory_order_relaxed)) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) {
            continue;
        }
        const auto n = ::recv(fd, chunk.data(), chunk.size(), 0);
        const auto t = now_ns();
        if (n <= 0) {
            std::cerr << "serial_bench: the broker closed the subscriber's connection\n";
            return;
        }
        buf.append(chunk.data(), static_cast<std::size_t>(n));
        std::size_t offset = 0;
        unsigned char type = 0;
        std::string_view body;
        while (next_packet(buf, offset, type, body)) {
            if ((type >> 4) != 3 || body.size() < 2) {
                continue; // CONNACK, SUBACK
            }
            const auto topic_length =
                (static_cast<std::size_t>(static_cast<unsigned char>(body[0])) << 8) |
                static_cast<unsigned char>(body[1]);
            const auto topic = body.substr(2, topic_length);
            // QoS 0 (the tool subscribes at 0): no packet id.
            const auto payload = body.substr(2 + topic_length);
            std::size_t device = 0;
            bool availability = false;
            if (!device_of(topic, device, availability) || device >= s.devices) {
                ++s.unexpected;
                continue;
            }
            if (availability) {
                if (payload == "online" && !seen_online[device]) {
                    seen_online[device] = true;
                    ++s.online;
                }
                continue;
            }
            const auto key = payload.find("\"seq\":");
            std::size_t seq = 0;
            if (key == std::string_view::npos ||
                std::from_chars(payload.data() + key + 6, payload.data() + payload.size(), seq)
                        .ec != std::errc() ||
                seq >= s.lines) {
                ++s.unexpected;
                continue;
            }
            auto& r = s.received_ns[device * s.lines + seq];
            if (r != 0) {
                ++s.duplicates;
                continue;
            }
            r = t;
            s.last_receipt_ns.store(t, std::memory_order_relaxed);
            s.received.fetch_add(1, std::memory_order_release);
        }
        buf.erase(0, offset);
    }
}

std::uint16_t wait_ready(const std::string& log, child& gateway) {
    const std::regex ready{R"(ready: mqtt tcp on 127\.0\.0\.1:(\d+))"};
    for (int i = 0; i < 1000; ++i) {
        std::ifstream in(log);
        const std::string text((std::istreambuf_iterator<char>(in)), {});
        std::smatch m;
        if (std::regex_search(text, m, ready)) {
            return static_cast<std::uint16_t>(std::stoi(m[1].str()));
        }
        int status = 0;
        if (::waitpid(gateway.pid(), &status, WNOHANG) == gateway.pid()) {
            throw std::runtime_error("edgemq exited at start-up:\n" + text);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw std::runtime_error("edgemq did not report ready within 10 s; see " + log);
}

std::int64_t percentile(const std::vector<std::int64_t>& sorted, double p) {
    if (sorted.empty()) {
        return 0;
    }
    const auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size() - 1));
    return sorted[i];
}

int run(const options& o) {
    const auto work = fs::path(::mkdtemp(std::string("/tmp/edgemq-serial-bench.XXXXXX").data()));
    std::vector<std::unique_ptr<child>> socats;
    std::vector<int> writers; // the fd the tool writes each device's lines to
    std::vector<std::string> nodes;
    for (std::size_t i = 0; i < o.devices; ++i) {
        if (o.socat) {
            const auto dev = work / ("dev" + std::to_string(i));
            const auto sim = work / ("sim" + std::to_string(i));
            socats.push_back(std::make_unique<child>(
                std::vector<std::string>{"socat", "pty,raw,echo=0,link=" + dev.string(),
                                         "pty,raw,echo=0,link=" + sim.string()},
                "/dev/null"));
            for (int k = 0; k < 500 && !(fs::exists(dev) && fs::exists(sim)); ++k) {
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
            const int fd = ::open(sim.c_str(), O_RDWR | O_NOCTTY);
            if (fd < 0) {
                fail("open " + sim.string());
            }
            termios tio{};
            ::tcgetattr(fd, &tio);
            ::cfmakeraw(&tio);
            ::tcsetattr(fd, TCSANOW, &tio);
            writers.push_back(fd);
            nodes.push_back(dev.string());
        } else {
            auto [master, slave] = open_pty();
            writers.push_back(master);
            nodes.push_back(slave);
        }
    }

    const auto config = work / "edgemq.toml";
    {
        std::ofstream out(config);
        out << "[broker]\nsys_interval = 0\n\n[[listeners]]\ntype = \"tcp\"\n"
               "bind = \"127.0.0.1:0\"\n\n[admin]\nenabled = false\n";
        for (std::size_t i = 0; i < o.devices; ++i) {
            out << "\n[[devices]]\nid = \"d" << i << "\"\nmatch = { path = \"" << nodes[i]
                << "\" }\nbaud = " << o.baud
                << "\nstats_interval = 0\nparser = { kind = \"kv\" }\n";
        }
    }
    const auto log = (work / "edgemq.log").string();
    child gateway({o.edgemq, "--config", config.string()}, log);
    const auto port = wait_ready(log, gateway);

    run_state s;
    s.devices = o.devices;
    s.lines = static_cast<std::size_t>(o.rate * o.seconds);
    s.sent_ns.assign(s.devices * s.lines, 0);
    s.received_ns.assign(s.devices * s.lines, 0);
    const int sub = connect_subscriber(port, {"edgemq/+", "edgemq/+/availability"});
    std::thread reader([&] { read_loop(sub, s); });
    const auto online_deadline = now_ns() + 10'000'000'000;
    while (s.online.load() < o.devices && now_ns() < online_deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (s.online.load() < o.devices) {
        s.stop = true;
        reader.join();
        throw std::runtime_error(std::to_string(s.online.load()) + " of " +
                                 std::to_string(o.devices) + " devices online after 10 s; see " +
                                 log);
    }

    // The writing phase.
    const double slot_ns = 1e9 / (static_cast<double>(o.rate) * static_cast<double>(o.devices));
    const auto start = now_ns() + 100'000'000;
    sleep_until_ns(start - 1'000'000);
    const auto cpu_gateway_0 = cpu_seconds(gateway.pid());
    double cpu_socat_0 = 0;
    for (const auto& c : socats) {
        cpu_socat_0 += cpu_seconds(c->pid());
    }
    const auto cpu_self_0 = self_cpu_seconds();
    std::int64_t max_behind = 0;
    char line[64];
    for (std::size_t seq = 0; seq < s.lines; ++seq) {
        for (std::size_t d = 0; d < o.devices; ++d) {
            const auto slot = seq * o.devices + d;
            const auto due = start + static_cast<std::int64_t>(static_cast<double>(slot) * slot_ns);
            if (now_ns() < due) {
                sleep_until_ns(due);
            }
            max_behind = std::max(max_behind, now_ns() - due);
            const int n = std::snprintf(line, sizeof line, "dev=%zu,seq=%zu\n", d, seq);
            if (::write(writers[d], line, static_cast<std::size_t>(n)) != n) {
                fail("write to device " + std::to_string(d));
            }
            s.sent_ns[d * s.lines + seq] = now_ns();
        }
    }
    const auto written = now_ns();
    const auto cpu_gateway = cpu_seconds(gateway.pid()) - cpu_gateway_0;
    double cpu_socat = 0;
    for (const auto& c : socats) {
        cpu_socat += cpu_seconds(c->pid());
    }
    cpu_socat = socats.empty() ? 0.0 : cpu_socat - cpu_socat_0;
    const auto cpu_self = self_cpu_seconds() - cpu_self_0;
    const double wall = static_cast<double>(written - start) / 1e9;

    // Stragglers: until everything is in, or nothing came for 3 s.
    const auto total = s.devices * s.lines;
    while (s.received.load(std::memory_order_acquire) < total) {
        const auto last = std::max(s.last_receipt_ns.load(), written);
        if (now_ns() - last > 3'000'000'000) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    s.stop = true;
    reader.join();
    ::close(sub);
    const int exit_code = gateway.stop(SIGTERM);
    for (auto& c : socats) {
        c->stop(SIGTERM);
    }
    for (const int fd : writers) {
        ::close(fd);
    }

    std::vector<std::int64_t> latencies;
    latencies.reserve(total);
    std::size_t lost = 0;
    for (std::size_t i = 0; i < total; ++i) {
        if (s.received_ns[i] == 0) {
            ++lost;
        } else {
            latencies.push_back(s.received_ns[i] - s.sent_ns[i]);
        }
    }
    std::ranges::sort(latencies);
    const auto us = [&](double p) { return percentile(latencies, p) / 1000; };
    const double gateway_pct = 100.0 * cpu_gateway / wall;
    const double socat_pct = 100.0 * cpu_socat / wall;
    const double self_pct = 100.0 * cpu_self / wall;
    const double rate = static_cast<double>(total) / wall;
    std::printf("serial %s: %zu devices x %u lines/s for %.1f s: %zu/%zu lines published "
                "(lost %zu, dup %zu), %.0f lines/s written; latency us p50 %lld p90 %lld p99 %lld "
                "p99.9 %lld max %lld; CPU (%% of one core) edgemq %.1f, socat %.1f, tool %.1f; "
                "writer at most %.2f ms behind; edgemq exit %d\n",
                o.socat ? "socat" : "direct", o.devices, o.rate, wall, latencies.size(), total,
                lost, s.duplicates.load(), rate, static_cast<long long>(us(50)),
                static_cast<long long>(us(90)), static_cast<long long>(us(99)),
                static_cast<long long>(us(99.9)), static_cast<long long>(us(100)), gateway_pct,
                socat_pct, self_pct, static_cast<double>(max_behind) / 1e6, exit_code);
    std::printf("{\"pty\":\"%s\",\"devices\":%zu,\"rate\":%u,\"seconds\":%.2f,\"lines\":%zu,"
                "\"published\":%zu,\"lost\":%zu,\"dup\":%zu,\"unexpected\":%zu,"
                "\"lines_per_sec\":%.0f,\"p50_us\":%lld,\"p90_us\":%lld,\"p99_us\":%lld,"
                "\"p999_us\":%lld,\"max_us\":%lld,\"cpu_edgemq_pct\":%.1f,\"cpu_socat_pct\":%.1f,"
                "\"cpu_tool_pct\":%.1f,\"writer_behind_max_ms\":%.2f,\"edgemq_exit\":%d}\n",
                o.socat ? "socat" : "direct", o.devices, o.rate, wall, total, latencies.size(),
                lost, s.duplicates.load(), s.unexpected.load(), rate,
                static_cast<long long>(us(50)), static_cast<long long>(us(90)),
                static_cast<long long>(us(99)), static_cast<long long>(us(99.9)),
                static_cast<long long>(us(100)), gateway_pct, socat_pct, self_pct,
                static_cast<double>(max_behind) / 1e6, exit_code);
    std::error_code ignored;
    fs::remove_all(work, ignored);
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    try {
        return run(parse(argc, argv));
    } catch (const std::exception& e) {
        std::cerr << "edgemq_serial_bench: " << e.what() << '\n';
        return 1;
    }
}
