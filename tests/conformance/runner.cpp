// SPDX-License-Identifier: Apache-2.0
//
// The conformance runner: every `*.spec` file under tests/conformance/mqtt311 (MQTT 3.1.1) and
// tests/conformance/mqtt5 (MQTT 5.0, case names prefixed "(5.0)") holds cases, each a
// script of raw bytes sent to and expected from a broker. Each case runs on two back ends and
// becomes two Catch2 test cases named by the spec clauses it checks:
//
//   "[MQTT-3.1.0-2] second-connect-closes"            [tcp]: over a TCP socket to the broker's
//                                                      listener (real loopback, real kernel);
//   "[MQTT-3.1.0-2] second-connect-closes (memory)"   [memory]: over broker::connect_in_memory,
//                                                      a connection without a socket under the
//                                                      same listener's rules (the protocol layer
//                                                      and the connection, no kernel).
//
// Both are tagged [conformance][mqtt311 or mqtt5][<file>] and with each clause, so that ctest lists and
// runs every case on its own, `edgemq_conformance_tests "[MQTT-3.1.0-2]"` picks one clause and
// `"[memory]"` or `"[tcp]"` one back end. The steps are written once, over spec_client.hpp.
// The memory back end saves the sockets, not the clock: `sleep`, `expect-nothing` and the
// deadlines a case waits for (keep-alive, CONNECT timeout) take real time in both, since the
// broker's deadline sweep runs on its own threads' steady clock. Test cases are registered while
// the program starts (as TEST_CASE does), from the files on disk.
//
// The case file format, one command per line (`#` starts a comment, also after a command):
//
//   # [MQTT-3.1.0-2] a second CONNECT is a protocol violation   <- title: the comment right
//   case second-connect-closes                                      before `case`; its leading
//   config connect_timeout = "2s"                                   [..] groups name the test
//   client a                          open a connection called `a` (TCP or in memory)
//   send a 10 0c 00 04 ...            write these bytes (any bytes, one packet or several)
//   expect a 20 02 00 00              the next packet from the server is exactly these bytes
//   expect-close a [MS]               the server closes the connection within MS (default 3000)
//                                     and sends nothing before that
//   expect-nothing a MS               nothing arrives and the connection stays open for MS
//   sleep MS                          wait
//   disconnect a                      drop the connection without an MQTT DISCONNECT
//
// `config` lines are appended to a `[broker]` table and must come before the first step. Every
// case runs against a fresh broker on 127.0.0.1 with a kernel-chosen port (the memory back end's
// connections follow the rules of that listener). A case also fails when
// a client has an unread packet at its end, so a spec cannot silently ignore extra traffic.
// The config is TOML, but only config/ parses TOML; this format is deliberately line-based.

#include "hex.hpp"
#include "raw_mqtt_client.hpp"
#include "spec_client.hpp"
#include "test_broker.hpp"

#include "edgemq/broker/codec/packets.hpp"
#include "edgemq/broker/protocol/packet_reader.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace codec = edgemq::broker::codec;
using edgemq::test::read_status;
using edgemq::test::conformance::spec_client;
using std::chrono::milliseconds;

constexpr milliseconds expect_timeout{3000};
constexpr milliseconds close_timeout{3000};

struct step {
    std::size_t line = 0;
    std::string command;
    std::string client;
    std::vector<std::uint8_t> bytes;
    milliseconds ms{0};
};

struct spec_case {
    std::string file; ///< relative to the source tree, for messages
    std::size_t line = 0;
    std::string name;
    std::string title; ///< the comment before `case`
    std::vector<std::string> clauses;
    std::vector<std::string> config;
    std::vector<step> steps;
};

class spec_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

std::vector<std::string> split_words(const std::string& s) {
    std::istringstream in{s};
    std::vector<std::string> words;
    for (std::string w; in >> w;) {
        words.push_back(w);
    }
    return words;
}

std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t\r");
    if (b == std::string::npos) {
        return {};
    }
    const auto e = s.find_last_not_of(" \t\r");
    return s.substr(b, e - b + 1);
}

/// The leading "[...]" groups of a title: "[MQTT-3.1.0-1] [MQTT-3.1.4-1] text" gives both.
std::vector<std::string> leading_clauses(const std::string& title) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < title.size() && title[pos] == '[') {
        const auto end = title.find(']', pos);
        if (end == std::string::npos) {
            break;
        }
        out.push_back(title.substr(pos + 1, end - pos - 1));
        pos = title.find_first_not_of(' ', end + 1);
        if (pos == std::string::npos) {
            break;
        }
    }
    return out;
}

milliseconds parse_ms(const std::string& word) {
    std::size_t used = 0;
    long v = -1;
    try {
        v = std::stol(word, &used);
    } catch (const std::exception&) {
    }
    if (used != word.size() || v < 0) {
        throw spec_error("expected a number of milliseconds, got \"" + word + "\"");
    }
    return milliseconds{v};
}

std::vector<spec_case> parse_spec(const fs::path& path, const std::string& shown_name) {
    std::ifstream in{path};
    if (!in) {
        throw spec_error(shown_name + ": cannot be read");
    }
    std::vector<spec_case> cases;
    std::string pending_title; // the comment line right before the current line
    std::string raw;
    std::size_t line_no = 0;
    while (std::getline(in, raw)) {
        ++line_no;
        const std::string line = trim(raw);
        const auto where = [&] { return shown_name + ":" + std::to_string(line_no) + ": "; };
        if (line.empty()) {
            pending_title.clear();
            continue;
        }
        if (line.front() == '#') {
            pending_title = trim(line.substr(1));
            continue;
        }
        const auto space = line.find_first_of(" \t");
        const std::string command = line.substr(0, space);
        const std::string rest = space == std::string::npos ? "" : trim(line.substr(space));
        try {
            if (command == "case") {
                spec_case c;
                c.file = shown_name;
                c.line = line_no;
                c.name = rest;
                c.title = pending_title;
                c.clauses = leading_clauses(pending_title);
                if (c.name.empty() || split_words(c.name).size() != 1) {
                    throw spec_error("`case` takes one name without spaces");
                }
                if (c.clauses.empty()) {
                    throw spec_error("case " + c.name +
                                     " needs a title comment right above it that starts with "
                                     "its clause, e.g. \"# [MQTT-3.1.0-1] ...\"");
                }
                for (const auto& other : cases) {
                    if (other.name == c.name) {
                        throw spec_error("case " + c.name + " appears twice");
                    }
                }
                cases.push_back(std::move(c));
                pending_title.clear();
                continue;
            }
            pending_title.clear();
            if (cases.empty()) {
                throw spec_error("`" + command + "` before the first `case`");
            }
            auto& c = cases.back();
            if (command == "config") {
                if (!c.steps.empty()) {
                    throw spec_error("`config` must come before the first step of a case");
                }
                c.config.push_back(rest);
                continue;
            }
            // Everything else may carry a trailing comment.
            const auto words = split_words(rest.substr(0, rest.find('#')));
            step s;
            s.line = line_no;
            s.command = command;
            const auto arity = [&](std::size_t min, std::size_t max) {
                if (words.size() < min || words.size() > max) {
                    throw spec_error("wrong number of arguments to `" + command + "`");
                }
            };
            if (command == "client" || command == "disconnect") {
                arity(1, 1);
                s.client = words[0];
            } else if (command == "send" || command == "expect") {
                if (words.size() < 2) {
                    throw spec_error("`" + command + "` takes a client name and hex bytes");
                }
                s.client = words[0];
                std::string hex;
                for (std::size_t i = 1; i < words.size(); ++i) {
                    hex += words[i] + " ";
                }
                try {
                    s.bytes = edgemq::test::hex(hex);
                } catch (const std::invalid_argument& e) {
                    throw spec_error(e.what());
                }
            } else if (command == "expect-close") {
                arity(1, 2);
                s.client = words[0];
                s.ms = words.size() == 2 ? parse_ms(words[1]) : close_timeout;
            } else if (command == "expect-nothing") {
                arity(2, 2);
                s.client = words[0];
                s.ms = parse_ms(words[1]);
            } else if (command == "sleep") {
                arity(1, 1);
                s.ms = parse_ms(words[0]);
            } else {
                throw spec_error("unknown command `" + command + "`");
            }
            c.steps.push_back(std::move(s));
        } catch (const spec_error& e) {
            throw spec_error(where() + e.what());
        }
    }
    for (const auto& c : cases) {
        if (c.steps.empty()) {
            throw spec_error(shown_name + ":" + std::to_string(c.line) + ": case " + c.name +
                             " has no steps");
        }
    }
    return cases;
}

// ---------------------------------------------------------------------------------------------
// Running a case

/// `"text"` when every byte is printable ASCII, else the bytes in hex.
std::string printable(const std::string& s) {
    const bool text = std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
    return text ? "\"" + s + "\"" : "[" + edgemq::test::to_hex(s) + "]";
}

/// A short reading of a packet for failure messages: "PUBLISH qos=1 dup=0 retain=0 id=1
/// topic=a/b payload=68 69".
/// Read as 3.1.1 first, then as 5.0.
std::string describe(const std::vector<std::uint8_t>& bytes) {
    edgemq::broker::protocol::packet_reader reader{bytes};
    auto header = reader.header();
    if (!header || !*header || (*header)->packet_size() != bytes.size()) {
        return "not one packet";
    }
    auto p = reader.take();
    if (!p) {
        edgemq::broker::protocol::packet_reader v5{bytes, codec::protocol_level_5};
        (void)v5.header();
        p = v5.take();
    }
    if (!p) {
        return "undecodable: " + p.error().message();
    }
    // The variant lists the packets in packet_type order.
    static constexpr const char* names[] = {
        "CONNECT",   "CONNACK", "PUBLISH",     "PUBACK",   "PUBREC",  "PUBREL",   "PUBCOMP",
        "SUBSCRIBE", "SUBACK",  "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT"};
    const char* type = p->index() < std::size(names) ? names[p->index()] : "packet";
    std::ostringstream out;
    std::visit(
        [&out, type](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, codec::connack>) {
                out << "CONNACK session_present=" << v.session_present
                    << " code=" << static_cast<int>(v.code);
            } else if constexpr (std::is_same_v<T, codec::publish>) {
                out << "PUBLISH qos=" << int{v.qos} << " dup=" << v.dup << " retain=" << v.retain;
                if (v.qos > 0) {
                    out << " id=" << v.packet_id;
                }
                out << " topic=" << printable(v.topic) << " payload=" << printable(v.payload);
            } else if constexpr (std::is_same_v<T, codec::suback>) {
                out << "SUBACK id=" << v.packet_id << " codes=";
                for (const auto c : v.return_codes) {
                    out << edgemq::test::to_hex(std::span{&c, 1}) << ' ';
                }
            } else if constexpr (requires { v.packet_id; }) {
                out << type << " id=" << v.packet_id;
            } else {
                out << type;
            }
        },
        *p);
    return out.str();
}

/// Which connections a case's clients open.
enum class back_end { tcp, memory };

class case_run {
public:
    case_run(const spec_case& c, back_end b) : case_(c), back_end_(b) {}

    void run() {
        std::string toml = "[broker]\n";
        for (const auto& line : case_.config) {
            toml += line + "\n";
        }
        std::unique_ptr<edgemq::test::test_broker> broker;
        try {
            broker = edgemq::test::test_broker::from_toml(toml);
        } catch (const std::exception& e) {
            FAIL(case_.file << ":" << case_.line << ": broker config rejected: " << e.what());
        }
        broker_ = broker.get();
        for (const auto& s : case_.steps) {
            execute(s);
        }
        SUCCEED(case_.steps.size() << " steps");
        // Traffic the case did not expect is a failure too.
        for (auto& [name, client] : clients_) {
            if (!client->connected()) {
                continue;
            }
            auto r = client->read_packet(milliseconds{0});
            if (r.status == read_status::packet) {
                FAIL(case_.file << ": end of case " << case_.name << ": client " << name
                                << " has an unread packet:\n  got:      "
                                << edgemq::test::to_hex(r.bytes) << "   (" << describe(r.bytes)
                                << ")");
            }
        }
    }

private:
    std::string at(const step& s) const {
        return case_.file + ":" + std::to_string(s.line) + ": " + s.command + " " + s.client;
    }

    spec_client& client(const step& s) {
        auto it = clients_.find(s.client);
        if (it == clients_.end()) {
            FAIL(at(s) << ": no `client " << s.client << "` line before this one");
        }
        return *it->second;
    }

    std::unique_ptr<spec_client> open_client() {
        if (back_end_ == back_end::memory) {
            return std::make_unique<edgemq::test::conformance::memory_spec_client>(
                broker_->get().connect_in_memory());
        }
        return std::make_unique<edgemq::test::conformance::tcp_spec_client>(broker_->port());
    }

    void execute(const step& s) {
        if (s.command == "client") {
            auto it = clients_.find(s.client);
            if (it != clients_.end() && it->second->connected()) {
                FAIL(at(s) << ": client " << s.client
                           << " is still connected; `disconnect` it or `expect-close` first");
            }
            try {
                clients_.insert_or_assign(s.client, open_client());
            } catch (const std::exception& e) {
                FAIL(at(s) << ": " << e.what());
            }
        } else if (s.command == "send") {
            if (const auto ec = client(s).send(s.bytes)) {
                FAIL(at(s) << ": sending " << edgemq::test::to_hex(s.bytes)
                           << " failed: " << ec.message());
            }
        } else if (s.command == "expect") {
            auto r = client(s).read_packet(expect_timeout);
            const auto expected = edgemq::test::to_hex(s.bytes);
            const std::string want = "\n  expected: " + expected + "   (" + describe(s.bytes) + ")";
            switch (r.status) {
            case read_status::packet:
                if (r.bytes != s.bytes) {
                    FAIL(at(s) << ": wrong packet" << want
                               << "\n  got:      " << edgemq::test::to_hex(r.bytes) << "   ("
                               << describe(r.bytes) << ")");
                }
                break;
            case read_status::timeout:
                FAIL(at(s) << ": nothing within " << expect_timeout.count() << " ms" << want
                           << partial(s));
                break;
            case read_status::closed:
                FAIL(at(s) << ": the server closed the connection (" << r.detail << ")" << want
                           << partial(s));
                break;
            case read_status::malformed:
                FAIL(at(s) << ": the server sent a malformed fixed header" << want
                           << "\n  got:      " << edgemq::test::to_hex(r.bytes));
                break;
            }
        } else if (s.command == "expect-close") {
            auto r = client(s).read_packet(s.ms);
            switch (r.status) {
            case read_status::closed:
                if (!r.bytes.empty()) {
                    FAIL(at(s) << ": closed in the middle of a packet after "
                               << edgemq::test::to_hex(r.bytes));
                }
                break;
            case read_status::packet:
                FAIL(at(s) << ": expected the server to close the connection\n  got:      "
                           << edgemq::test::to_hex(r.bytes) << "   (" << describe(r.bytes) << ")");
                break;
            case read_status::timeout:
                FAIL(at(s) << ": the connection is still open after " << s.ms.count() << " ms"
                           << partial(s));
                break;
            case read_status::malformed:
                FAIL(at(s) << ": the server sent a malformed fixed header: "
                           << edgemq::test::to_hex(r.bytes));
                break;
            }
        } else if (s.command == "expect-nothing") {
            auto r = client(s).read_packet(s.ms);
            switch (r.status) {
            case read_status::timeout:
                if (client(s).buffered() != 0) {
                    FAIL(at(s) << ": expected silence" << partial(s));
                }
                break;
            case read_status::packet:
                FAIL(at(s) << ": expected silence for " << s.ms.count() << " ms\n  got:      "
                           << edgemq::test::to_hex(r.bytes) << "   (" << describe(r.bytes) << ")");
                break;
            case read_status::closed:
                FAIL(at(s) << ": expected silence for " << s.ms.count()
                           << " ms, but the server closed the connection (" << r.detail << ")");
                break;
            case read_status::malformed:
                FAIL(at(s) << ": the server sent a malformed fixed header: "
                           << edgemq::test::to_hex(r.bytes));
                break;
            }
        } else if (s.command == "sleep") {
            std::this_thread::sleep_for(s.ms);
        } else if (s.command == "disconnect") {
            client(s).disconnect();
        } else {
            FAIL(at(s) << ": unknown command"); // the parser rejects these; kept for safety
        }
    }

    std::string partial(const step& s) {
        const auto n = client(s).buffered();
        return n == 0 ? std::string{}
                      : "\n  (" + std::to_string(n) + " bytes of an incomplete packet arrived)";
    }

    const spec_case& case_;
    const back_end back_end_;
    edgemq::test::test_broker* broker_ = nullptr; ///< while run() runs
    std::map<std::string, std::unique_ptr<spec_client>> clients_;
};

// ---------------------------------------------------------------------------------------------
// Registration

class case_invoker : public Catch::ITestInvoker {
public:
    case_invoker(spec_case c, back_end b) : case_(std::move(c)), back_end_(b) {}
    void invoke() const override {
        INFO(case_.file << ":" << case_.line << ": " << case_.title
                        << (back_end_ == back_end::memory ? " (in memory)" : " (over TCP)"));
        case_run{case_, back_end_}.run();
    }

private:
    spec_case case_;
    back_end back_end_;
};

class error_invoker : public Catch::ITestInvoker {
public:
    explicit error_invoker(std::string message) : message_(std::move(message)) {}
    void invoke() const override { FAIL(message_); }

private:
    std::string message_;
};

/// Catch keeps StringRefs to the source file name; these strings live as long as the program.
std::deque<std::string>& stable_strings() {
    static std::deque<std::string> strings;
    return strings;
}

const char* keep(std::string s) {
    return stable_strings().emplace_back(std::move(s)).c_str();
}

void register_test(Catch::ITestInvoker* invoker, const std::string& file, std::size_t line,
                   const std::string& name, const std::string& tags) {
    const Catch::AutoReg reg{
        invoker, Catch::SourceLineInfo{keep(file), line}, Catch::StringRef{},
        Catch::NameAndTags{Catch::StringRef{keep(name)}, Catch::StringRef{keep(tags)}}};
}

/// Registers the cases of every .spec file in tests/conformance/<suite>; false when there is none.
bool register_suite(const std::string& suite) {
    const fs::path source{EDGEMQ_SOURCE_DIR};
    const fs::path dir = source / "tests" / "conformance" / suite;
    std::vector<fs::path> files;
    std::error_code ec;
    for (fs::directory_iterator it{dir, ec}, end; !ec && it != end; it.increment(ec)) {
        if (it->path().extension() == ".spec") {
            files.push_back(it->path());
        }
    }
    if (ec || files.empty()) {
        register_test(new error_invoker("no .spec files in " + dir.string()), __FILE__, __LINE__,
                      "conformance spec files are missing in " + suite, "[conformance]");
        return false;
    }
    std::sort(files.begin(), files.end());
    for (const auto& path : files) {
        // As a path in the source tree, whatever the build directory or a symlink makes of it.
        const auto shown = (fs::path{"tests/conformance"} / suite / path.filename()).string();
        const auto stem = path.stem().string();
        try {
            for (auto& c : parse_spec(path, shown)) {
                std::string name = suite == "mqtt5" ? "(5.0) " : "";
                std::string tags = "[conformance][" + suite + "][" + stem + "]";
                for (const auto& clause : c.clauses) {
                    name += "[" + clause + "]";
                    tags += "[" + clause + "]";
                }
                name += " " + c.name;
                const auto line = c.line;
                register_test(new case_invoker(c, back_end::tcp), path.string(), line, name,
                              tags + "[tcp]");
                register_test(new case_invoker(std::move(c), back_end::memory), path.string(),
                              line, name + " (memory)", tags + "[memory]");
            }
        } catch (const spec_error& e) {
            register_test(new error_invoker(e.what()), path.string(), 1, "spec error in " + shown,
                          "[conformance]");
        }
    }
    return true;
}

bool register_spec_files() {
    const bool v311 = register_suite("mqtt311");
    const bool v5 = register_suite("mqtt5");
    return v311 && v5;
}

const bool registered = register_spec_files();

} // namespace
