// SPDX-License-Identifier: Apache-2.0
// Serial devices end to end: a socat pty pair stands in for the device (the driver opens the
// "dev" end, the test plays the device on the "sim" end), the broker runs in-process, and
// mosquitto_sub / mosquitto_pub are the MQTT clients.

#include "pty.hpp"
#include "real_clients.hpp"
#include "test_broker.hpp"

#include <edgemq/serial/device.hpp>

#include <catch2/catch.hpp>
#include <spdlog/sinks/null_sink.h>

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>

using namespace edgemq;
using namespace edgemq::test;
using namespace std::chrono_literals;

namespace {

namespace fs = std::filesystem;

std::shared_ptr<spdlog::logger> quiet_logger() {
    return std::make_shared<spdlog::logger>("serial",
                                            std::make_shared<spdlog::sinks::null_sink_mt>());
}

} // namespace

TEST_CASE("a kv sensor on a pty: state, fields, commands, unplug and replug",
          "[integration][serial]") {
    const auto dir = fs::temp_directory_path() / ("edgemq-serial-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    auto socat = start_pty_pair(dir);

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
    socat = start_pty_pair(dir);
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
    auto socat_a = start_pty_pair(dir_a);
    auto socat_b = start_pty_pair(dir_b);

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
    auto socat = start_pty_pair(dir);
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

// ---------------------------------------------------------------------------------------------
// Issue #4's test list, one device per socat pair.

namespace {

/// A socat pair in a directory of its own, removed with it.
class pty_pair {
public:
    explicit pty_pair(const std::string& name)
        : dir_(fs::temp_directory_path() / ("edgemq-" + name + "-" + std::to_string(::getpid()))) {
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        socat_ = start_pty_pair(dir_);
    }
    ~pty_pair() {
        socat_.reset();
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }
    pty_pair(const pty_pair&) = delete;
    pty_pair& operator=(const pty_pair&) = delete;

    const fs::path& dir() const { return dir_; }
    fs::path dev() const { return dir_ / "dev"; }
    fs::path sim() const { return dir_ / "sim"; }
    /// The pty node the driver opens.
    std::string node() const { return fs::canonical(dev()).string(); }
    void unplug() { socat_.reset(); }

private:
    fs::path dir_;
    std::unique_ptr<background_process> socat_;
};

std::string device_toml(const std::string& id, const std::string& match, const std::string& extra) {
    return "[[devices]]\nid = \"" + id + "\"\nmatch = " + match + "\nstats_interval = 0\n" + extra +
           "\n";
}

std::string path_match(const fs::path& p) {
    return "{ path = \"" + p.string() + "\" }";
}

/// A mosquitto_sub -v line without the state's "ts" (which changes every run).
std::string without_ts(const std::string& line) {
    static const std::regex ts{R"(,"ts":\d+)"};
    return std::regex_replace(line, ts, "");
}

/// The messages of one device among mosquitto_sub lines, other than availability, without "ts".
std::vector<std::string> device_messages(const std::vector<std::string>& lines,
                                         const std::string& id) {
    std::vector<std::string> out;
    for (const auto& l : messages(lines)) {
        if ((l.starts_with("edgemq/" + id + " ") || l.starts_with("edgemq/" + id + "/")) &&
            !l.starts_with("edgemq/" + id + "/availability ")) {
            out.push_back(without_ts(l));
        }
    }
    return out;
}

std::vector<std::string> device_messages(const background_process& sub, const std::string& id) {
    return device_messages(sub.lines(), id);
}

struct frame_case {
    const char* name;
    std::string toml;
    /// Written one after the other; the test waits for each step's messages before the next.
    std::vector<std::pair<std::string, std::vector<std::string>>> steps;
};

} // namespace

TEST_CASE("framing, parsers and encodings over a real pty", "[integration][serial]") {
    const std::vector<frame_case> cases{
        {"line-eols",
         R"(parser = { kind = "raw" })",
         // \n, \r\n, a lone \r, and a \r\n split across two writes: one terminator each.
         {{"a\nb\r\nc\rd\ne\r",
           {R"(edgemq/d {"value":"a"})", R"(edgemq/d {"value":"b"})", R"(edgemq/d {"value":"c"})",
            R"(edgemq/d {"value":"d"})", R"(edgemq/d {"value":"e"})"}},
          {"\nf\n", {R"(edgemq/d {"value":"f"})"}}}},
        {"delimiter-kv",
         R"(framing = "delimiter"
delimiter = ";"
parser = { kind = "kv", pair_separator = "&", kv_separator = ":" })",
         {{"t:1&h:2;t:3;", {R"(edgemq/d {"t":1,"h":2})", R"(edgemq/d {"t":3})"}}}},
        {"fixed-binary",
         R"(framing = "fixed"
frame_length = 2
encoding = "binary")",
         {{std::string("\x00\xff\x41\x42", 4),
           {R"(edgemq/d {"value":"00ff"})", R"(edgemq/d {"value":"4142"})"}}}},
        {"idle-gap",
         R"(framing = "idle_gap"
idle_gap = "50ms")",
         {{"ABCD", {R"(edgemq/d {"value":"ABCD"})"}}, {"EF", {R"(edgemq/d {"value":"EF"})"}}}},
        {"csv",
         R"(parser = { kind = "csv", columns = ["v", "_", "w"] })",
         {{"1.5,x,7\n", {R"(edgemq/d {"v":1.5,"w":7})"}}}},
        {"json",
         R"(parser = { kind = "json" })",
         {{R"({"a":{"b":2},"s":"x","ok":true})"
           "\n",
           {R"(edgemq/d {"a.b":2,"s":"x","ok":true})"}}}},
        {"regex-typed-scaled",
         R"(parser = { kind = "regex", pattern = 'T(?<t>[0-9]+) H(?<h>[0-9]+)' }
fields.t = { type = "float", scale = 0.1 })",
         {{"T215 H40\n", {R"(edgemq/d {"t":21.5,"h":40})"}}}},
        {"utf8-invalid-and-latin1",
         R"(parser = { kind = "raw" })",
         {{"caf\xc3\xa9\n\xff\x41\n",
           {"edgemq/d {\"value\":\"caf\xc3\xa9\"}", "edgemq/d/log invalid UTF-8, hex: ff41"}}}},
        {"latin1",
         "encoding = \"latin1\"",
         {{"25\xb0"
           "C\n",
           {"edgemq/d {\"value\":\"25\xc2\xb0"
            "C\"}"}}}},
        {"oversize-resync",
         "max_frame_bytes = 8\nparser = { kind = \"kv\" }",
         {{"x=0123456789abcdef\ny=1\n", {R"(edgemq/d {"y":1})"}}}},
        {"deadband",
         "parser = { kind = \"kv\" }\nfields.t = { deadband = 1.0 }",
         {{"t=20\nt=20.5\nt=21.5\nt=21\nt=22.5\n",
           {R"(edgemq/d {"t":20})", R"(edgemq/d {"t":21.5})", R"(edgemq/d {"t":22.5})"}}}},
        {"min-interval",
         "parser = { kind = \"kv\" }\npublish = { min_interval = \"300ms\" }",
         // The first goes out at once, the latest of the rest when the interval is over.
         {{"v=1\nv=2\nv=3\n", {R"(edgemq/d {"v":1})", R"(edgemq/d {"v":3})"}}}},
    };
    auto broker = std::make_unique<test_broker>();
    for (const auto& c : cases) {
        SECTION(c.name) {
            pty_pair pty(c.name);
            auto sub = start_mosquitto_sub(broker->port(), {"-v", "-t", "edgemq/#"});
            const auto cfg =
                config::load_string(device_toml("d", path_match(pty.dev()), c.toml), "test.toml");
            serial::service drivers(cfg.devices, broker->get(), quiet_logger());
            drivers.start();
            EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/d/availability online"));
            sim_port sim(pty.sim());
            std::vector<std::string> expected;
            for (const auto& [bytes, lines] : c.steps) {
                sim.write(bytes);
                expected.insert(expected.end(), lines.begin(), lines.end());
                EDGEMQ_REQUIRE_PROC(*sub, sub->wait_until([&](const std::vector<std::string>& l) {
                    return device_messages(l, "d").size() >= expected.size();
                }));
            }
            // Every frame before the last expected one was handled before it: nothing else
            // can come.
            CHECK(device_messages(*sub, "d") == expected);
            drivers.stop();
        }
    }
}

TEST_CASE("over-long and invalid frames count as dropped in devices()", "[integration][serial]") {
    pty_pair pty("dropped");
    auto broker = std::make_unique<test_broker>();
    auto sub = start_mosquitto_sub(broker->port(), {"-v", "-t", "edgemq/#"});
    const auto cfg = config::load_string(
        device_toml("d", path_match(pty.dev()), "max_frame_bytes = 8\nparser = { kind = \"kv\" }"),
        "test.toml");
    serial::service drivers(cfg.devices, broker->get(), quiet_logger());
    drivers.start();
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/d/availability online"));
    sim_port sim(pty.sim());
    sim.write("x=0123456789abcdef\n\xfe\ny=1\n");
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line(R"(edgemq/d {"y":1,)"));
    REQUIRE(status_eventually(drivers, "d", [](const auto& d) { return d.frames == 2; }));
    const auto all = drivers.devices();
    CHECK(all[0].dropped == 2);
    CHECK(all[0].parse_errors == 0);
    CHECK(all[0].bytes == 25);
    drivers.stop();
}

TEST_CASE("boot noise during settle is discarded, frames after it are published",
          "[integration][serial]") {
    pty_pair pty("settle");
    auto broker = std::make_unique<test_broker>();
    auto sub = start_mosquitto_sub(broker->port(), {"-v", "-t", "edgemq/#"});
    sim_port sim(pty.sim());
    // Waiting in the pty before the driver opens it: read at once, inside the settle time.
    // The last line has no end: the first line after settle must not be glued to it.
    sim.write("ets Jun  8 2016 rst:0x1\r\nboot: \xff\xfe garbage\nload:0x3fff0018 len");
    const auto cfg = config::load_string(
        device_toml("d", path_match(pty.dev()), "settle = \"400ms\"\nparser = { kind = \"kv\" }"),
        "test.toml");
    serial::service drivers(cfg.devices, broker->get(), quiet_logger());
    drivers.start();
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/d/availability online"));
    // Lines until one is published, whenever the settle time ends.
    int n = 0;
    REQUIRE(eventually(
        [&] {
            sim.write("n=" + std::to_string(n++) + "\n");
            return sub->wait_for_line("edgemq/d {", 50ms);
        },
        5s));
    const auto got = device_messages(*sub, "d");
    REQUIRE_FALSE(got.empty());
    CHECK(got.front().starts_with("edgemq/d {\"n\":"));
    for (const auto& l : got) {
        CHECK_FALSE(l.starts_with("edgemq/d/log"));
    }
    drivers.stop();
}

TEST_CASE("rate policy: max_interval republishes the last state as a heartbeat",
          "[integration][serial]") {
    pty_pair pty("heartbeat");
    auto broker = std::make_unique<test_broker>();
    auto sub = start_mosquitto_sub(broker->port(), {"-v", "-t", "edgemq/#"});
    const auto cfg = config::load_string(
        device_toml("d", path_match(pty.dev()),
                    "parser = { kind = \"kv\" }\npublish = { max_interval = \"200ms\" }"),
        "test.toml");
    serial::service drivers(cfg.devices, broker->get(), quiet_logger());
    drivers.start();
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/d/availability online"));
    sim_port sim(pty.sim());
    sim.write("v=7\n");
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_lines_containing(R"(edgemq/d {"v":7,"ts":)", 3));
    // The heartbeats carry the same values with a new ts.
    std::vector<std::string> states;
    for (const auto& l : messages(*sub)) {
        if (l.starts_with("edgemq/d {")) {
            states.push_back(l);
        }
    }
    REQUIRE(states.size() >= 3);
    CHECK(states[0] != states[1]);
    CHECK(without_ts(states[1]) == R"(edgemq/d {"v":7})");
    drivers.stop();
}

TEST_CASE("a command published by paho-mqtt reaches the device with the right bytes",
          "[integration][serial]") {
    pty_pair pty("paho");
    auto broker = std::make_unique<test_broker>();
    auto sub = start_mosquitto_sub(broker->port(), {"-v", "-t", "edgemq/#"});
    const auto cfg = config::load_string(
        device_toml("d", path_match(pty.dev()),
                    "commands.say = { format = \"SAY {value} #{seq}\", reply = '^ACK #{seq}$', "
                    "timeout = \"3s\" }\n"
                    "commands.ping = { type = \"none\", format = \"PING\", reply = '^PONG', "
                    "timeout = \"200ms\" }"),
        "test.toml");
    serial::service drivers(cfg.devices, broker->get(), quiet_logger());
    drivers.start();
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/d/availability online"));
    sim_port sim(pty.sim());
    background_process paho{paho_script("publisher.py", broker->port(),
                                        {"edgemq/d/set/say", "1", "1", "--prefix", "hello "})};
    EDGEMQ_REQUIRE_PROC(paho, paho.wait(10s).exited_ok());
    CHECK(sim.read(3s) == "SAY hello 0 #1\n");
    // An unrelated line first: it is telemetry, not the reply.
    sim.write("ACK #7\nACK #1\n");
    EDGEMQ_REQUIRE_PROC(
        *sub, sub->wait_for_line(R"(edgemq/d/response/say {"ok":true,"seq":1,"reply":"ACK #1"})"));
    CHECK(std::ranges::count(device_messages(*sub, "d"), R"(edgemq/d {"value":"ACK #7"})") == 1);

    // A reply that never comes is a timeout on the response topic.
    mosquitto_pub(broker->port(), {"-q", "1", "-t", "edgemq/d/set/ping", "-n"});
    CHECK(sim.read(3s) == "PING\n");
    EDGEMQ_REQUIRE_PROC(
        *sub,
        sub->wait_for_line(R"(edgemq/d/response/ping {"ok":false,"seq":2,"error":"timeout"})"));
    drivers.stop();
}

TEST_CASE("stats are published with the right counters", "[integration][serial]") {
    pty_pair pty("stats");
    auto broker = std::make_unique<test_broker>();
    auto sub = start_mosquitto_sub(broker->port(), {"-v", "-t", "edgemq/d/stats"});
    auto cfg = config::load_string(
        device_toml("d", path_match(pty.dev()), "max_frame_bytes = 16\nparser = { kind = \"kv\" }"),
        "test.toml");
    cfg.devices[0].stats_interval = std::chrono::milliseconds(100);
    serial::service drivers(cfg.devices, broker->get(), quiet_logger());
    drivers.start();
    REQUIRE(status_eventually(drivers, "d", [](const auto& d) { return d.online; }));
    sim_port sim(pty.sim());
    // 2 good frames, 1 that does not parse, 1 over 16 bytes, 1 invalid UTF-8: 39 bytes.
    const std::string input = "a=1\nb=2\ngarbage\nx=0123456789abcdefgh\n\xff\n";
    REQUIRE(input.size() == 39);
    sim.write(input);
    const std::vector<std::string> expected{
        R"("bytes":39,)",     R"("frames":4,)",       R"("overflows":1,)",
        R"("dropped":2,)",    R"("parse_errors":1,)", R"("encoding_errors":1,)",
        R"("reconnects":0,)", R"("commands":0,)",     R"("online":true,)"};
    const auto has_all = [&](const std::string& line) {
        return std::ranges::all_of(
            expected, [&](const std::string& e) { return line.find(e) != std::string::npos; });
    };
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_until([&](const std::vector<std::string>& lines) {
        return std::ranges::any_of(lines, has_all);
    }));
    // last_seen is a recent Unix time in milliseconds.
    const auto lines = messages(*sub);
    const auto it = std::ranges::find_if(lines, has_all);
    std::smatch m;
    REQUIRE(std::regex_search(*it, m, std::regex(R"("last_seen":(\d+))")));
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    CHECK(std::abs(now_ms - std::stoll(m[1].str())) < 60'000);
    drivers.stop();
}

TEST_CASE("a device matched by a by-id style symlink follows the link to a new node",
          "[integration][serial]") {
    // /dev/serial/by-id names are symlinks; a replugged adapter may come back as another node.
    pty_pair first("byid1");
    const auto by_id = first.dir() / "by-id";
    fs::create_directories(by_id);
    const auto link = by_id / "usb-Edgemq_Fake_Sensor_0001-if00-port0";
    auto broker = std::make_unique<test_broker>();
    auto sub = start_mosquitto_sub(broker->port(), {"-v", "-t", "edgemq/#"});
    const auto cfg = config::load_string(
        device_toml("d", "{ by_id = \"" + link.string() + "\" }", "parser = { kind = \"kv\" }"),
        "test.toml");
    serial::service drivers(cfg.devices, broker->get(), quiet_logger());
    drivers.start();
    // Not plugged in yet: the reason is in the status.
    REQUIRE(status_eventually(drivers, "d", [&](const auto& d) {
        return d.last_error == "no port matches by_id " + link.string();
    }));
    fs::create_symlink(first.dev(), link);
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/d/availability online"));
    REQUIRE(status_eventually(drivers, "d", [&](const auto& d) {
        return d.online && d.port == first.node() && d.last_error.empty();
    }));
    {
        sim_port sim(first.sim());
        sim.write("n=1\n");
        EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line(R"(edgemq/d {"n":1,)"));
    }
    // Replugged as another pty (made first, so that it gets another number); udev points the
    // by-id link at it.
    pty_pair second("byid2");
    const auto first_node = first.node();
    first.unplug();
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/d/availability offline"));
    fs::remove(link);
    fs::create_symlink(second.dev(), link);
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_lines_containing("edgemq/d/availability online", 2));
    REQUIRE(status_eventually(drivers, "d", [&](const auto& d) {
        return d.online && d.port == second.node() && d.reconnects == 1;
    }));
    CHECK(second.node() != first_node);
    sim_port sim(second.sim());
    sim.write("n=2\n");
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line(R"(edgemq/d {"n":2,)"));
    drivers.stop();
}

TEST_CASE("a port held by another process: the error names it, and the device opens once it "
          "lets go",
          "[integration][serial]") {
    pty_pair pty("held");
    auto broker = std::make_unique<test_broker>();
    auto sub = start_mosquitto_sub(broker->port(), {"-v", "-t", "edgemq/#"});
    const auto cfg = config::load_string(device_toml("d", path_match(pty.dev()), ""), "test.toml");

    SECTION("a python process holding flock") {
        auto holder = std::make_unique<background_process>(
            std::vector<std::string>{debian_python, "-u", "-c",
                                     "import fcntl, os, sys, time\n"
                                     "fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)\n"
                                     "fcntl.flock(fd, fcntl.LOCK_EX)\n"
                                     "print('locked')\n"
                                     "time.sleep(60)\n",
                                     pty.dev().string()});
        EDGEMQ_REQUIRE_PROC(*holder, holder->wait_for_line("locked"));
        const auto expected = pty.node() + " is locked by another process: pid " +
                              std::to_string(holder->pid()) + " (python3)";
        serial::service drivers(cfg.devices, broker->get(), quiet_logger());
        drivers.start();
        EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/d/availability offline"));
        REQUIRE(status_eventually(
            drivers, "d", [&](const auto& d) { return !d.online && d.last_error == expected; }));
        holder.reset(); // SIGKILL: the lock goes with the process
        EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/d/availability online"));
        REQUIRE(status_eventually(drivers, "d",
                                  [](const auto& d) { return d.online && d.last_error.empty(); }));
        drivers.stop();
    }

    SECTION("a second edgemq, which publishes the device's data meanwhile") {
        const auto file = pty.dir() / "edgemq.toml";
        std::ofstream(file) << "[[listeners]]\ntype = \"tcp\"\nbind = \"127.0.0.1:0\"\n"
                               "[admin]\nenabled = false\n"
                            << device_toml("d", path_match(pty.dev()), "");
        background_process gateway{{EDGEMQ_BINARY, "--config", file.string()}};
        const std::regex ready{R"(ready: mqtt tcp on 127\.0\.0\.1:(\d+)\n)"};
        std::smatch m;
        std::string err;
        EDGEMQ_REQUIRE_PROC(gateway, gateway.wait_until_stderr([&](const std::string& e) {
            err = e;
            return std::regex_search(err, m, ready);
        }));
        const auto port = static_cast<std::uint16_t>(std::stoi(m[1].str()));
        auto gateway_sub = start_mosquitto_sub(port, {"-v", "-t", "edgemq/#"});
        EDGEMQ_REQUIRE_PROC(*gateway_sub,
                            gateway_sub->wait_for_line("edgemq/d/availability online"));
        {
            // The binary end to end: a line on the pty shows up in mosquitto_sub.
            sim_port sim(pty.sim());
            sim.write("hello from the pty\n");
            EDGEMQ_REQUIRE_PROC(*gateway_sub, gateway_sub->wait_for_line(
                                                  R"(edgemq/d {"value":"hello from the pty",)"));
        }
        const auto expected = pty.node() + " is locked by another process: pid " +
                              std::to_string(gateway.pid()) + " (edgemq)";
        serial::service drivers(cfg.devices, broker->get(), quiet_logger());
        drivers.start();
        REQUIRE(status_eventually(
            drivers, "d", [&](const auto& d) { return !d.online && d.last_error == expected; }));
        const auto r = gateway.stop(SIGTERM, 5s);
        CHECK(r.exit_code == 0);
        EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/d/availability online"));
        drivers.stop();
    }
}

TEST_CASE("a permission error names the group that owns the device node", "[integration][serial]") {
    pty_pair pty("perm");
    const auto node = pty.node();
    // The binary runs as a user without access to the node: as root, nobody (root itself opens
    // anything); otherwise ourselves, with the node's mode cleared.
    std::vector<std::string> argv;
    if (::geteuid() == 0) {
        REQUIRE(::chown(node.c_str(), 0, ::getgrnam("dialout")->gr_gid) == 0);
        REQUIRE(::chmod(node.c_str(), 0660) == 0);
        argv = {"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"};
    } else {
        REQUIRE(::chmod(node.c_str(), 0) == 0);
    }
    struct stat st {};
    REQUIRE(::stat(node.c_str(), &st) == 0);
    const std::string group = ::getgrgid(st.st_gid)->gr_name;
    const auto file = pty.dir() / "edgemq.toml";
    std::ofstream(file) << "[[listeners]]\ntype = \"tcp\"\nbind = \"127.0.0.1:0\"\n"
                           "[admin]\nenabled = false\n"
                        << device_toml("d", path_match(pty.dev()), "");
    fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                              fs::perms::others_read);
    argv.insert(argv.end(), {EDGEMQ_BINARY, "--config", file.string()});
    background_process gateway{argv};
    const auto expected = "device=d permission denied opening " + node +
                          "; the device node belongs to group '" + group + "'";
    EDGEMQ_REQUIRE_PROC(gateway, gateway.wait_for_stderr(expected));
    // Refused, not fatal: the gateway keeps running (and retrying).
    CHECK(gateway.running());
    // Generous: under TSan on a loaded machine a clean stop has taken over 5 s.
    const auto r = gateway.stop(SIGTERM, 30s);
    INFO(gateway.describe());
    CHECK(r.exit_code == 0);
}

TEST_CASE("unparsable lines: every one counted, the log topic rate-limited",
          "[integration][serial]") {
    pty_pair pty("lograte");
    auto broker = std::make_unique<test_broker>();
    auto sub = start_mosquitto_sub(broker->port(), {"-v", "-t", "edgemq/#"});
    auto cfg = config::load_string(
        device_toml("d", path_match(pty.dev()), "parser = { kind = \"kv\" }"), "test.toml");
    cfg.devices[0].stats_interval = std::chrono::milliseconds(100);
    serial::service drivers(cfg.devices, broker->get(), quiet_logger());
    drivers.start();
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line("edgemq/d/availability online"));
    sim_port sim(pty.sim());
    std::string burst;
    for (int i = 0; i < 20; ++i) {
        burst += "noise " + std::to_string(i) + "\n";
    }
    sim.write(burst + "ok=1\n");
    // Published after every log line of the burst, by the same client.
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_for_line(R"(edgemq/d {"ok":1,)"));
    const auto logged = std::ranges::count_if(
        messages(*sub), [](const std::string& l) { return l.starts_with("edgemq/d/log "); });
    // Stats: every line counted, and what the log topic did not carry is counted as dropped.
    std::smatch m;
    EDGEMQ_REQUIRE_PROC(*sub, sub->wait_until([&](const std::vector<std::string>& lines) {
        return std::ranges::any_of(lines, [&](const std::string& l) {
            return l.starts_with("edgemq/d/stats ") &&
                   l.find(R"("parse_errors":20,)") != std::string::npos;
        });
    }));
    const auto lines = messages(*sub);
    const auto stats = std::ranges::find_if(lines, [](const std::string& l) {
        return l.starts_with("edgemq/d/stats ") &&
               l.find(R"("parse_errors":20,)") != std::string::npos;
    });
    REQUIRE(std::regex_search(*stats, m, std::regex(R"("log_dropped":(\d+))")));
    CHECK(logged >= 5); // the burst allowance
    CHECK(logged < 20); // 20 lines in one read cannot all pass at 1/s
    CHECK(logged + std::stoll(m[1].str()) == 20);
    drivers.stop();
}
