// SPDX-License-Identifier: Apache-2.0
// Modbus RTU end to end: a socat pty pair is the RS-485 bus, edgemq_modbus_slave
// (tests/support/modbus_slave.cpp, libmodbus' modbus_reply) plays three real slaves on its
// "sim" end, the bus scheduler runs in-process against an in-process broker, and
// mosquitto_sub / mosquitto_pub are the MQTT clients; the admin server in-process with
// `edgemq ctl modbus` as a process shows the buses.

#include "admin_http.hpp"
#include "gateway_process.hpp"
#include "pty.hpp"
#include "real_clients.hpp"
#include "test_broker.hpp"

#include <edgemq/broker/auth/password_file.hpp>
#include <edgemq/config/load.hpp>
#include <edgemq/modbus/bus.hpp>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

using namespace edgemq;
using namespace edgemq::test;
using namespace std::chrono_literals;

namespace {

namespace fs = std::filesystem;

std::shared_ptr<spdlog::logger> modbus_logger() {
    if (const char* v = std::getenv("EDGEMQ_TEST_LOG"); v != nullptr && std::string{v} == "1") {
        auto log = std::make_shared<spdlog::logger>(
            "modbus", std::make_shared<spdlog::sinks::stderr_sink_mt>());
        log->set_level(spdlog::level::debug);
        return log;
    }
    return std::make_shared<spdlog::logger>("modbus",
                                            std::make_shared<spdlog::sinks::null_sink_mt>());
}

/// A bus: a socat pair and the slave program on its sim end, in a directory of their own.
class modbus_bench {
public:
    explicit modbus_bench(std::string name)
        : dir_(fs::temp_directory_path() / ("edgemq-" + name + "-" + std::to_string(::getpid()))) {
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        control("");
        plug();
    }
    ~modbus_bench() {
        slaves_.reset();
        socat_.reset();
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }

    fs::path dev() const { return dir_ / "dev"; }

    /// socat and the slaves, started again.
    void plug() {
        REQUIRE(fs::exists(EDGEMQ_MODBUS_SLAVE)); // built with the tests; never skipped
        socat_ = start_pty_pair(dir_);
        // Slave 1 "meter": voltage 230.5 (f32 at input 0), current 1.5 (f32 at input 2),
        // setpoint raw 43 (holding 10, scale 0.5 = 21.5), relay (coil 0) off.
        // Slave 2 "thermo": temp raw 50 (input 0, i16, scale 0.5 = 25).
        // Slave 3 "pump": flow 100000 (u32 at holding 0, low word first), speed (holding 5).
        slaves_ = std::make_unique<background_process>(std::vector<std::string>{
            EDGEMQ_MODBUS_SLAVE, (dir_ / "sim").string(), "9600", (dir_ / "control").string(),
            "1,2,3", "input:1:0=17254", "input:1:1=32768", "input:1:2=16320", "input:1:3=0",
            "holding:1:10=43", "input:2:0=50", "holding:3:0=34464", "holding:3:1=1",
            "holding:3:5=7"});
        EDGEMQ_REQUIRE_PROC(*slaves_, slaves_->wait_for_line("ready"));
    }
    void unplug() {
        slaves_.reset();
        socat_.reset();
    }
    /// Replaces the slaves' control file (atomically: the program re-reads it every 20 ms).
    void control(const std::string& text) {
        {
            std::ofstream out(dir_ / "control.tmp");
            out << text;
        }
        fs::rename(dir_ / "control.tmp", dir_ / "control");
    }
    background_process& slaves() { return *slaves_; }

private:
    fs::path dir_;
    std::unique_ptr<background_process> socat_;
    std::unique_ptr<background_process> slaves_;
};

std::string bus_toml(const fs::path& dev) {
    return R"(
[[modbus]]
name = "rs485"
match = { path = ")" + dev.string() + R"(" }
baud = 9600
parity = "none"
response_timeout = "100ms"

[[modbus.slaves]]
id = 1
name = "meter"
poll_interval = "100ms"
stats_interval = 0
publish = { fields = true }
registers.voltage = { table = "input", address = 0, type = "f32", unit = "V" }
registers.current = { table = "input", address = 2, type = "f32", unit = "A" }
registers.setpoint = { address = 10, scale = 0.5, writable = true, min = 0, max = 50 }
registers.relay = { table = "coil", address = 0, writable = true }

[[modbus.slaves]]
id = 2
name = "thermo"
poll_interval = "500ms"
stats_interval = 0
registers.temp = { table = "input", address = 0, type = "i16", scale = 0.5 }

[[modbus.slaves]]
id = 3
name = "pump"
poll_interval = "100ms"
stats_interval = "1s"
registers.flow = { address = 0, type = "u32", word_order = "little" }
registers.speed = { address = 5, writable = true }
)";
}

std::size_t count_lines(const background_process& p, const std::string& needle) {
    const auto lines = p.lines();
    return static_cast<std::size_t>(std::ranges::count_if(
        lines, [&](const std::string& l) { return l.find(needle) != std::string::npos; }));
}

} // namespace

TEST_CASE("modbus: three real slaves on one bus: grouped reads, writes between polls, a mute "
          "slave and an exception code",
          "[integration][modbus]") {
    modbus_bench bench("modbus");
    test_broker broker;
    auto sub = start_mosquitto_sub(broker.port(), {"-v", "-t", "edgemq/#"});
    const auto cfg = config::load_string(bus_toml(bench.dev()), "test.toml");
    modbus::service buses(cfg.modbus, broker.get(), modbus_logger());
    buses.start();

    // Every slave's JSON state, as a line device's (fields in key order) and field topics.
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/meter/availability online"));
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line(
        R"(edgemq/meter {"current":1.5,"relay":false,"setpoint":21.5,"voltage":230.5,"ts":)"));
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/meter/voltage 230.5"));
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line(R"(edgemq/thermo {"temp":25,"ts":)"));
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line(R"(edgemq/pump {"flow":100000,"speed":7,"ts":)"));
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/thermo/availability online"));
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/pump/availability online"));

    // Adjacent registers in one request: voltage and current are one read of input 0-3;
    // setpoint (holding 10) and relay (coil 0) one each; pump's flow (0-1) and speed (5) two.
    auto& slaves = bench.slaves();
    EDGEMQ_REQUIRE_PROC(slaves, slaves.wait_for_line("req 1 4 0 4"));
    EDGEMQ_REQUIRE_PROC(slaves, slaves.wait_for_line("req 1 3 10 1"));
    EDGEMQ_REQUIRE_PROC(slaves, slaves.wait_for_line("req 1 1 0 1"));
    EDGEMQ_REQUIRE_PROC(slaves, slaves.wait_for_line("req 3 3 0 2"));
    EDGEMQ_REQUIRE_PROC(slaves, slaves.wait_for_line("req 3 3 5 1"));
    CHECK(count_lines(slaves, "req 1 4 2") == 0);

    // Writes while polling: FC 6 for a holding register (30 / 0.5 = 60), FC 5 for a coil, each
    // answered on response/<name>; the next state shows them.
    mosquitto_pub(broker.port(), {"-q", "1", "-t", "edgemq/meter/set/setpoint", "-m", "30"});
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line(
        R"(edgemq/meter/response/setpoint {"ok":true,"seq":1,"reply":""})"));
    EDGEMQ_REQUIRE_PROC(slaves, slaves.wait_for_line("req 1 6 10 1"));
    mosquitto_pub(broker.port(), {"-q", "1", "-t", "edgemq/meter/set/relay", "-m", "ON"});
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line(
        R"(edgemq/meter/response/relay {"ok":true,"seq":2,"reply":""})"));
    EDGEMQ_REQUIRE_PROC(slaves, slaves.wait_for_line("req 1 5 0 1"));
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line(
        R"(edgemq/meter {"current":1.5,"relay":true,"setpoint":30,"voltage":230.5,"ts":)"));
    // Refused before the wire: out of min/max, not a number, not writable.
    mosquitto_pub(broker.port(), {"-q", "1", "-t", "edgemq/meter/set/setpoint", "-m", "51"});
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line(
        R"(edgemq/meter/response/setpoint {"ok":false,"seq":3,"error":"expected a number between 0 and 50, got \"51\""})"));
    mosquitto_pub(broker.port(), {"-q", "1", "-t", "edgemq/meter/set/voltage", "-m", "1"});
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line(
        R"(edgemq/meter/response/voltage {"ok":false,"seq":4,"error":"not a writable register; this slave has relay, setpoint"})"));
    CHECK(count_lines(slaves, "req 1 6") == 1);

    // Slave 2 stops answering: offline after 3 failed polls, the others keep their rate.
    bench.control("mute 2\n");
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/thermo/availability offline", 5s));
    const auto before = count_lines(slaves, "req 1 4 0 4");
    std::this_thread::sleep_for(2s);
    const auto polls = count_lines(slaves, "req 1 4 0 4") - before;
    INFO("meter polls in 2 s while thermo times out: " << polls);
    CHECK(polls >= 14); // 10 per second configured; room for a loaded machine
    CHECK(polls <= 22);
    bench.control("");
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_lines_containing("edgemq/thermo/availability online", 2));

    // Slave 3 answers exception 2: named in its log topic and stats, offline after 3; a write
    // to it fails with the exception's name.
    bench.control("exception 3 2\n");
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line(
        "edgemq/pump/log read holding registers 0-1: illegal data address (exception 2)"));
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/pump/availability offline"));
    mosquitto_pub(broker.port(), {"-q", "1", "-t", "edgemq/pump/set/speed", "-m", "9"});
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line(
        R"x(edgemq/pump/response/speed {"ok":false,"seq":1,"error":"illegal data address (exception 2)"})x"));
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_until([](const std::vector<std::string>& lines) {
        return std::ranges::any_of(lines, [](const std::string& l) {
            return l.starts_with("edgemq/pump/stats ") &&
                   l.find(R"("exceptions":0,)") == std::string::npos &&
                   l.find(R"("online":false)") != std::string::npos &&
                   l.find(R"x("last_error":"read holding registers 0-1: illegal data address (exception 2)")x") !=
                       std::string::npos;
        });
    }, 5s));
    bench.control("");
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_lines_containing("edgemq/pump/availability online", 2));
    const auto status = buses.slaves();
    REQUIRE(status.size() == 3);
    CHECK(status[0].failures == 0);
    CHECK(status[1].timeouts >= 3);
    CHECK(status[2].exceptions >= 3);
    CHECK(status[2].write_errors == 1);
    CHECK(status[0].writes == 2);

    // Nothing ran together on the wire: every request the slaves saw had a good CRC.
    CHECK(count_lines(slaves, "bad frame") == 0);
    buses.stop();
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/meter/availability offline"));
}

TEST_CASE("modbus: an unplugged adapter takes every slave offline and recovers when it is back",
          "[integration][modbus]") {
    modbus_bench bench("modbus-replug");
    test_broker broker;
    auto sub = start_mosquitto_sub(broker.port(), {"-v", "-t", "edgemq/+/availability"});
    const auto cfg = config::load_string(bus_toml(bench.dev()), "test.toml");
    modbus::service buses(cfg.modbus, broker.get(), modbus_logger());
    buses.start();
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/meter/availability online"));
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/thermo/availability online"));
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/pump/availability online"));

    bench.unplug();
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/meter/availability offline", 5s));
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/thermo/availability offline", 5s));
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/pump/availability offline", 5s));

    bench.plug();
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_lines_containing("edgemq/meter/availability online", 2, 15s));
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_lines_containing("edgemq/pump/availability online", 2, 15s));
    buses.stop();
}

TEST_CASE("modbus: the gateway binary shows a Modbus meter and a line sensor in Home Assistant "
          "discovery, and a reload that removes the meter clears its config",
          "[integration][modbus][homeassistant]") {
    namespace json = boost::json;
    modbus_bench bench("modbus-ha");
    scratch_dir dir;
    fs::create_directories(dir.path / "line");
    const auto socat = start_pty_pair(dir.path / "line");
    const auto sensor = R"(
[[devices]]
id = "greenhouse"
match = { path = ")" + (dir.path / "line" / "dev").string() + R"(" }
stats_interval = 0
parser = { kind = "kv" }
fields.temp = { type = "float", unit = "°C", device_class = "temperature" }
)";
    const std::string head = R"([[listeners]]
bind = "127.0.0.1:0"
[admin]
enabled = false
[homeassistant]
enabled = true
gateway_id = "site-7"
)";
    const auto meter = R"(
[[modbus]]
match = { path = ")" + bench.dev().string() + R"(" }
parity = "none"
response_timeout = "100ms"
[[modbus.slaves]]
id = 1
name = "meter"
poll_interval = "200ms"
stats_interval = 0
display_name = "Energy meter"
manufacturer = "Eastron"
registers.voltage = { table = "input", address = 0, type = "f32", unit = "V", device_class = "voltage", state_class = "measurement" }
registers.relay = { table = "coil", address = 0, writable = true }
)";
    gateway gw{dir, head + sensor + meter};
    const std::string meter_topic = "homeassistant/device/edgemq_site-7_meter/config";
    auto ha = start_mosquitto_sub(gw.port(), {"-q", "1", "-t", "homeassistant/device/+/config",
                                              "-v"});
    EDGEMQ_REQUIRE_PROC(*ha, ha->wait_for_line("homeassistant/device/edgemq_site-7_greenhouse/config {"));
    EDGEMQ_REQUIRE_PROC(*ha, ha->wait_for_line(meter_topic + " {"));
    std::string payload;
    for (const auto& l : messages(*ha)) {
        if (l.starts_with(meter_topic + " ")) {
            payload = l.substr(meter_topic.size() + 1);
        }
    }
    INFO(payload);
    const auto cfg = json::parse(payload).as_object();
    CHECK(cfg.at("device").as_object().at("name") == "Energy meter");
    CHECK(cfg.at("device").as_object().at("via_device") == "edgemq_site-7");
    const auto& cmps = cfg.at("components").as_object();
    const auto& voltage = cmps.at("voltage").as_object();
    CHECK(voltage.at("unit_of_measurement") == "V");
    const auto text = [](const json::value& v) { return std::string(v.as_string()); };

    // Used as Home Assistant would: the state topic carries the templated key, the switch's
    // payload_on reaches the slave as FC 5.
    auto state = start_mosquitto_sub(gw.port(), {"-t", text(voltage.at("state_topic")),
                                                 "-t", text(cfg.at("availability").as_array().at(0).as_object().at("topic")),
                                                 "-v"});
    EDGEMQ_REQUIRE_PROC(*state, state->wait_for_line(R"(edgemq/meter {"relay":false,"voltage":230.5,"ts":)"));
    EDGEMQ_REQUIRE_PROC(*state, state->wait_for_line("edgemq/meter/availability online"));
    const auto& relay = cmps.at("set_relay").as_object();
    CHECK(relay.at("platform") == "switch");
    mosquitto_pub(gw.port(), {"-q", "1", "-t", text(relay.at("command_topic")), "-m",
                              text(relay.at("payload_on"))});
    EDGEMQ_REQUIRE_PROC(bench.slaves(), bench.slaves().wait_for_line("req 1 5 0 1"));
    EDGEMQ_REQUIRE_PROC(*state, state->wait_for_line(R"(edgemq/meter {"relay":true,"voltage":230.5,"ts":)"));

    // SIGHUP without the bus: the meter goes offline and its config is cleared.
    gw.write_config(head + sensor);
    gw.process().signal(SIGHUP);
    EDGEMQ_REQUIRE_PROC(gw.process(), gw.process().wait_for_stderr("reload done"));
    EDGEMQ_REQUIRE_PROC(*state, state->wait_for_line("edgemq/meter/availability offline"));
    // mosquitto_sub -v shows the empty payload as "(null)".
    EDGEMQ_REQUIRE_PROC(*ha, ha->wait_for_line(meter_topic + " (null)"));
}

TEST_CASE("modbus on the admin surface: /api/v1/modbus and edgemq ctl modbus show buses, "
          "slaves, polls ok and failed, the last exception named and availability",
          "[integration][modbus][admin]") {
    namespace json = boost::json;
    modbus_bench bench("modbus-admin");
    scratch_dir dir;
    test_broker broker;
    auto sub = start_mosquitto_sub(broker.port(), {"-v", "-t", "edgemq/+/availability"});
    // The three slaves, and a bus whose adapter is not plugged in.
    const auto cfg = config::load_string(bus_toml(bench.dev()) + R"(
[[modbus]]
name = "spare"
match = { path = ")" + (dir.path / "missing").string() + R"(" }
baud = 115200
[[modbus.slaves]]
id = 9
name = "heater"
registers.power = { address = 0 }
)",
                                         "test.toml");
    modbus::service buses(cfg.modbus, broker.get(), modbus_logger());
    buses.start();
    config::admin admin_cfg;
    admin_cfg.host = "127.0.0.1";
    admin_cfg.port = 0;
    admin_cfg.users_file = (dir.path / "admins").string();
    broker::auth::set_password(admin_cfg.users_file, "ops", "s3cret-pass", true);
    app::admin_http admin{admin_cfg, broker.get(),
                          std::make_shared<spdlog::logger>(
                              "http", std::make_shared<spdlog::sinks::null_sink_mt>()),
                          nullptr, nullptr, &buses};
    admin.start();
    const auto url = "http://127.0.0.1:" + std::to_string(admin.port());
    // curl as the API's client: the body, then the HTTP status on a line of its own.
    const auto get = [&url](const std::string& path) {
        const auto r = run_process({"curl", "-sS", "-u", "ops:s3cret-pass", "-w", "\n%{http_code}",
                                    url + path});
        REQUIRE(r.exit_code == 0);
        const auto nl = r.out.rfind('\n');
        return std::pair{std::stoi(r.out.substr(nl + 1)), json::parse(r.out.substr(0, nl))};
    };

    // Slave 3 answers exception 2 until it is offline; the others keep answering.
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/pump/availability online"));
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/thermo/availability online"));
    bench.control("exception 3 2\n");
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/pump/availability offline", 5s));

    const auto [status, list] = get("/api/v1/modbus");
    CHECK(status == 200);
    INFO(json::serialize(list));
    CHECK(list.at("meta").at("count") == 2);
    const auto& rs485 = list.at("data").at(0);
    CHECK(rs485.at("name") == "rs485");
    CHECK(rs485.at("open") == true);
    CHECK(rs485.at("port").is_string());
    CHECK(rs485.at("last_error").is_null());
    CHECK(rs485.at("baud") == 9600);
    CHECK(rs485.at("line") == "8N1");
    const auto& slaves = rs485.at("slaves").as_array();
    REQUIRE(slaves.size() == 3);
    const auto& meter = slaves.at(0);
    CHECK(meter.at("name") == "meter");
    CHECK(meter.at("id") == 1);
    CHECK(meter.at("availability") == "online");
    CHECK(meter.at("stats").at("polls").to_number<int>() > 0);
    CHECK(meter.at("stats").at("failed_polls") == 0);
    CHECK(meter.at("last_exception").is_null());
    CHECK(meter.at("last_seen_ms").to_number<std::int64_t>() > 0);
    const auto& pump = slaves.at(2);
    CHECK(pump.at("name") == "pump");
    CHECK(pump.at("availability") == "offline");
    CHECK(pump.at("online") == false);
    CHECK(pump.at("stats").at("failed_polls").to_number<int>() >= 3);
    CHECK(pump.at("stats").at("exceptions").to_number<int>() >= 3);
    CHECK(pump.at("last_exception") == "illegal data address (exception 2)");
    CHECK(pump.at("last_error") == "read holding registers 0-1: illegal data address (exception 2)");
    const auto& spare = list.at("data").at(1);
    CHECK(spare.at("name") == "spare");
    CHECK(spare.at("open") == false);
    CHECK(spare.at("last_error").is_string());
    CHECK(spare.at("line") == "8E1");
    CHECK(spare.at("slaves").at(0).at("availability") == "offline");
    CHECK(spare.at("slaves").at(0).at("last_seen_ms") == 0);

    // One bus by name; an unknown one is a 404 with the API's message.
    CHECK(get("/api/v1/modbus/spare").second.at("name") == "spare");
    const auto [missing, why] = get("/api/v1/modbus/nope");
    CHECK(missing == 404);
    CHECK(why.at("message") == "no Modbus bus nope");

    // edgemq ctl modbus: a table, one row per slave.
    const auto ctl = run_process({"env", "EDGEMQ_ADMIN_USER=ops", "EDGEMQ_ADMIN_PASSWORD=s3cret-pass",
                                  EDGEMQ_BINARY, "ctl", "--url", url, "modbus"});
    INFO(ctl.out << ctl.err);
    REQUIRE(ctl.exit_code == 0);
    std::vector<std::string> rows;
    std::istringstream lines{ctl.out};
    for (std::string l; std::getline(lines, l);) {
        rows.push_back(l);
    }
    REQUIRE(rows.size() == 5);
    CHECK(rows[0].starts_with("BUS "));
    CHECK(rows[0].find("POLLS  FAILED  LAST EXCEPTION") != std::string::npos);
    const auto row = [&rows](const std::string& slave) {
        const auto it = std::ranges::find_if(
            rows, [&](const std::string& r) { return r.find("  " + slave + "  ") != std::string::npos; });
        REQUIRE(it != rows.end());
        return *it;
    };
    CHECK(row("meter").find("online") != std::string::npos);
    CHECK(row("pump").find("offline") != std::string::npos);
    CHECK(row("pump").find("illegal data address (exception 2)") != std::string::npos);
    // The closed bus's reason is in its slaves' LAST ERROR.
    CHECK(std::regex_search(row("heater"),
                            std::regex{R"(^spare +closed +heater +9 +offline +0 +0 +- +never +\S)"}));
    const auto again = run_process({"env", "EDGEMQ_ADMIN_USER=ops",
                                    "EDGEMQ_ADMIN_PASSWORD=s3cret-pass", EDGEMQ_BINARY, "ctl",
                                    "--url", url, "modbus", "list"});
    CHECK(again.exit_code == 0);
    CHECK(again.out.starts_with(rows[0]));

    admin.stop();
    buses.stop();
}
