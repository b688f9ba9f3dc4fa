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
