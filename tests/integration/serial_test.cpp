// SPDX-License-Identifier: Apache-2.0
// Serial devices end to end: a socat pty pair stands in for the device (the driver opens the
// "dev" end, the test plays the device on the "sim" end), the broker runs in-process, and
// mosquitto_sub / mosquitto_pub are the MQTT clients.

#include "real_clients.hpp"
#include "test_broker.hpp"

#include <edgemq/serial/device.hpp>

#include <catch2/catch.hpp>
#include <spdlog/sinks/null_sink.h>

#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <filesystem>

using namespace edgemq;
using namespace edgemq::test;
using namespace std::chrono_literals;

namespace {

namespace fs = std::filesystem;

/// `socat` joining two ptys, linked as DIR/dev (for the driver) and DIR/sim (for the test).
std::unique_ptr<background_process> start_socat(const fs::path& dir) {
    fs::remove(dir / "dev");
    fs::remove(dir / "sim");
    auto p = std::make_unique<background_process>(std::vector<std::string>{
        "socat", "pty,raw,echo=0,link=" + (dir / "dev").string(),
        "pty,raw,echo=0,link=" + (dir / "sim").string()});
    REQUIRE(eventually([&] { return fs::exists(dir / "dev") && fs::exists(dir / "sim"); }));
    return p;
}

/// The device's end of the pair.
class sim_port {
public:
    explicit sim_port(const fs::path& path)
        : fd_(::open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK)) {
        REQUIRE(fd_ >= 0);
        termios tio{};
        ::tcgetattr(fd_, &tio);
        ::cfmakeraw(&tio);
        ::tcsetattr(fd_, TCSANOW, &tio);
    }
    ~sim_port() { ::close(fd_); }
    sim_port(const sim_port&) = delete;
    sim_port& operator=(const sim_port&) = delete;

    void write(std::string_view bytes) {
        REQUIRE(::write(fd_, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    }
    /// Whatever arrives within `timeout` until `until` is seen.
    std::string read(std::chrono::milliseconds timeout, std::string_view until = "\n") {
        std::string got;
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (got.find(until) == std::string::npos) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            pollfd p{fd_, POLLIN, 0};
            if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
                break;
            }
            char buf[256];
            const auto n = ::read(fd_, buf, sizeof buf);
            if (n <= 0) {
                break;
            }
            got.append(buf, static_cast<std::size_t>(n));
        }
        return got;
    }

private:
    int fd_;
};

std::shared_ptr<spdlog::logger> quiet_logger() {
    return std::make_shared<spdlog::logger>("serial",
                                            std::make_shared<spdlog::sinks::null_sink_mt>());
}

} // namespace

TEST_CASE("a kv sensor on a pty: state, fields, commands, unplug and replug",
          "[integration][serial]") {
    const auto dir = fs::temp_directory_path() / ("edgemq-serial-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    auto socat = start_socat(dir);

    auto broker = std::make_unique<test_broker>();
    auto sub = start_mosquitto_sub(broker->port(), {"-v", "-t", "edgemq/#"});
    const auto& cfg = config::load_string(R"(
[[devices]]
id = "sensor"
match = { path = ")" + (dir / "dev").string() + R"(" }
stats_interval = 0
parser = { kind = "kv" }
publish = { fields = true }
commands.led = { type = "enum", values = ["on", "off"], format = "LED {value}", reply = "^OK LED", timeout = "2s" }
)",
                                          "test.toml");
    serial::service drivers(cfg.devices, broker->get(), quiet_logger());
    drivers.start();
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/sensor/availability online"));

    {
        sim_port sim(dir / "sim");
        sim.write("temp=25.1,hum=60\n");
        EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line(R"(edgemq/sensor {"temp":25.1,"hum":60,"ts":)"));
        EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/sensor/temp 25.1"));
        EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/sensor/hum 60"));

        // A command goes down with the right bytes; the device's reply is matched.
        mosquitto_pub(broker->port(), {"-q", "1", "-t", "edgemq/sensor/set/led", "-m", "on"});
        CHECK(sim.read(3s) == "LED on\n");
        sim.write("OK LED on\r\n");
        EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line(
                                      R"(edgemq/sensor/response/led {"ok":true,"seq":1,"reply":"OK LED on"})"));

        // An invalid payload is refused on the response topic and nothing is written.
        mosquitto_pub(broker->port(), {"-q", "1", "-t", "edgemq/sensor/set/led", "-m", "blink"});
        EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line(
                                      R"(edgemq/sensor/response/led {"ok":false,"seq":2,"error":"expected one of \"on\", \"off\", got \"blink\""})"));
        CHECK(sim.read(300ms).empty());

        // A garbled line goes to the log topic.
        sim.write("garbage\n");
        EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/sensor/log expected key=value"));
    }

    // Unplug: the device's end disappears; the driver says offline at once.
    socat->stop();
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/sensor/availability offline"));

    // Replug on the same path: online again, and data flows, without restarting anything.
    socat = start_socat(dir);
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_lines_containing("edgemq/sensor/availability online", 2));
    {
        sim_port sim(dir / "sim");
        sim.write("temp=26,hum=61\n");
        EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line(R"(edgemq/sensor {"temp":26,"hum":61,"ts":)"));
    }
    drivers.stop();
    socat->stop();
    fs::remove_all(dir);
}

namespace {

/// A device on DIR/dev, kv parser, no stats.
std::string kv_device(const std::string& id, const fs::path& dir, std::string extra = {}) {
    return "[[devices]]\nid = \"" + id + "\"\nmatch = { path = \"" + (dir / "dev").string() +
           "\" }\nstats_interval = 0\nparser = { kind = \"kv\" }\n" + extra + "\n";
}

const serial::device_status* find_status(const std::vector<serial::device_status>& all,
                                         std::string_view id) {
    const auto it = std::ranges::find(all, id, &serial::device_status::id);
    return it == all.end() ? nullptr : &*it;
}

/// Polls service::devices() until `pred` holds for device `id`.
bool status_eventually(const serial::service& s, std::string_view id,
                       const std::function<bool(const serial::device_status&)>& pred) {
    return eventually([&] {
        const auto all = s.devices();
        const auto* d = find_status(all, id);
        return d != nullptr && pred(*d);
    });
}

std::size_t count_lines(const background_process& p, std::string_view line) {
    const auto lines = p.lines();
    return static_cast<std::size_t>(std::ranges::count(lines, std::string(line)));
}

} // namespace

TEST_CASE("service: devices() snapshots, restart() reopens one device, apply() touches only "
          "what changed",
          "[integration][serial]") {
    const auto root = fs::temp_directory_path() / ("edgemq-svc-" + std::to_string(::getpid()));
    const auto dir_a = root / "a";
    const auto dir_b = root / "b";
    fs::create_directories(dir_a);
    fs::create_directories(dir_b);
    auto socat_a = start_socat(dir_a);
    auto socat_b = start_socat(dir_b);

    auto broker = std::make_unique<test_broker>();
    auto sub = start_mosquitto_sub(broker->port(), {"-v", "-t", "edgemq/#"});
    const auto cfg =
        config::load_string(kv_device("a", dir_a) + kv_device("b", dir_b), "test.toml");
    serial::service drivers(cfg.devices, broker->get(), quiet_logger());

    // Before start: configured devices are listed, offline.
    {
        const auto all = drivers.devices();
        REQUIRE(all.size() == 2);
        CHECK(all[0].id == "a");
        CHECK(all[1].id == "b");
        CHECK_FALSE(all[0].online);
        CHECK(all[0].last_state == "{}");
    }
    drivers.start();
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/a/availability online"));
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/b/availability online"));

    sim_port sim_a(dir_a / "sim");
    sim_port sim_b(dir_b / "sim");
    sim_a.write("temp=1\n");
    sim_b.write("hum=2\nnot a pair\n");
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line(R"(edgemq/a {"temp":1,"ts":)"));
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/b/log"));

    // The snapshot follows the device's io thread.
    const auto a_node = fs::canonical(dir_a / "dev").string();
    REQUIRE(status_eventually(drivers, "a", [](const auto& d) { return d.frames == 1; }));
    REQUIRE(status_eventually(drivers, "b", [](const auto& d) { return d.parse_errors == 1; }));
    {
        const auto all = drivers.devices();
        const auto& a = *find_status(all, "a");
        CHECK(a.online);
        CHECK(a.port == a_node);
        CHECK(a.last_error.empty());
        CHECK(a.bytes == 7);
        CHECK(a.reconnects == 0);
        CHECK(a.last_seen_ms > 0);
        CHECK(a.last_state.starts_with(R"({"temp":1,"ts":)"));
        const auto& b = *find_status(all, "b");
        CHECK(b.frames == 2);
        CHECK(b.bytes == 17);
        CHECK(b.last_state.starts_with(R"({"hum":2,"ts":)"));
    }

    // restart(): offline, then online again, for that device only; counters carry on.
    CHECK_FALSE(drivers.restart("nope"));
    CHECK(drivers.restart("a"));
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/a/availability offline"));
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_lines_containing("edgemq/a/availability online", 2));
    REQUIRE(status_eventually(drivers, "a", [](const auto& d) {
        return d.online && d.reconnects == 1 && d.frames == 1;
    }));
    sim_a.write("temp=3\n");
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line(R"(edgemq/a {"temp":3,"ts":)"));

    // apply(): a unchanged, b changed (fields published too). Only b goes offline and online.
    const auto reloaded = config::load_string(
        kv_device("a", dir_a) + kv_device("b", dir_b, "publish = { fields = true }"), "test.toml");
    REQUIRE(reloaded.devices[0] == cfg.devices[0]);
    drivers.apply(reloaded.devices);
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/b/availability offline"));
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_lines_containing("edgemq/b/availability online", 2));
    sim_b.write("hum=5\n");
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/b/hum 5"));
    // A marker published after all of that: whatever a published would have arrived before it.
    mosquitto_pub(broker->port(), {"-q", "1", "-t", "edgemq/marker", "-m", "1"});
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/marker 1"));
    CHECK(count_lines(*sub, "edgemq/a/availability offline") == 1);
    CHECK(count_lines(*sub, "edgemq/a/availability online") == 2);
    {
        // a is the same instance (its counters kept); b is a new one.
        REQUIRE(status_eventually(drivers, "b", [](const auto& d) { return d.frames == 1; }));
        const auto all = drivers.devices();
        REQUIRE(all.size() == 2);
        CHECK(find_status(all, "a")->frames == 2);
        CHECK(find_status(all, "a")->reconnects == 1);
        CHECK(find_status(all, "b")->parse_errors == 0);
    }

    // apply() that removes b: offline, and gone from devices().
    drivers.apply({reloaded.devices[0]});
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_lines_containing("edgemq/b/availability offline", 2));
    CHECK(drivers.devices().size() == 1);

    // A bad device (its regex does not compile) is refused and the running set stays.
    auto bad = reloaded.devices;
    bad[1].parser.kind = config::parser_kind::regex;
    bad[1].parser.pattern = "(";
    CHECK_THROWS_AS(drivers.apply(bad), std::invalid_argument);
    CHECK(drivers.devices().size() == 1);

    drivers.stop();
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/a/availability offline"));
    CHECK(drivers.devices().size() == 1);
    fs::remove_all(root);
}

TEST_CASE("service: started with no devices, apply() adds one later and stop() is clean",
          "[integration][serial]") {
    const auto dir = fs::temp_directory_path() / ("edgemq-svc0-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    auto socat = start_socat(dir);
    auto broker = std::make_unique<test_broker>();
    auto sub = start_mosquitto_sub(broker->port(), {"-v", "-t", "edgemq/#"});

    serial::service drivers({}, broker->get(), quiet_logger());
    drivers.start();
    CHECK(drivers.devices().empty());
    drivers.apply(config::load_string(kv_device("late", dir), "test.toml").devices);
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/late/availability online"));
    {
        sim_port sim(dir / "sim");
        sim.write("x=1\n");
        EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line(R"(edgemq/late {"x":1,"ts":)"));
    }
    drivers.apply({});
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/late/availability offline"));
    CHECK(drivers.devices().empty());
    drivers.stop();
    drivers.stop(); // idempotent
    socat->stop();
    fs::remove_all(dir);
}
