// SPDX-License-Identifier: Apache-2.0
// `edgemq passwd` as an operator runs it: batch and interactive (a real pseudo-terminal, echo
// off), deletion, errors, and both directions of compatibility with Mosquitto: files written
// by Debian's mosquitto_passwd are edited without damage, and a file written by edgemq is
// accepted by the mosquitto broker itself. Mosquitto's tools are installed by
// scripts/install-deps.sh --test: a test that needs one it cannot find fails, so that a pass
// always means the comparison ran.
#include "edgemq/broker/auth/password_file.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace auth = edgemq::broker::auth;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

/// A fresh directory under the system temporary directory, removed with its contents.
class temp_dir {
public:
    temp_dir() {
        std::string pattern = (fs::temp_directory_path() / "edgemq-passwd-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        path_ = pattern;
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    std::string operator/(const std::string& name) const { return (path_ / name).string(); }

private:
    fs::path path_;
};

struct run_result {
    int exit_code = -1; ///< -1 when killed (by a signal or the deadline)
    std::string out;
    std::string err;
};

std::ostream& operator<<(std::ostream& os, const run_result& r) {
    return os << "exit " << r.exit_code << "\nstdout: " << r.out << "\nstderr: " << r.err;
}

/// Runs `argv` to completion with `input` on stdin, killing it after `timeout`. With
/// `new_session` the child has no controlling terminal, so /dev/tty cannot be opened.
run_result run(const std::vector<std::string>& argv, const std::string& input = {},
               bool new_session = false, std::chrono::seconds timeout = 30s) {
    std::array<int, 2> in{}, out{}, err{};
    REQUIRE(::pipe2(in.data(), O_CLOEXEC) == 0);
    REQUIRE(::pipe2(out.data(), O_CLOEXEC) == 0);
    REQUIRE(::pipe2(err.data(), O_CLOEXEC) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    if (new_session) {
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
    }
    std::vector<char*> args;
    for (const auto& a : argv) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    pid_t pid = 0;
    const int rc = ::posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    if (rc != 0) {
        ::close(in[1]);
        ::close(out[0]);
        ::close(err[0]);
        FAIL("cannot start " << argv[0] << ": " << std::strerror(rc));
    }
    // The inputs are a few lines: they fit the pipe buffer.
    if (!input.empty()) {
        REQUIRE(::write(in[1], input.data(), input.size()) == static_cast<ssize_t>(input.size()));
    }
    ::close(in[1]);

    run_result result;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::array<pollfd, 2> fds{{{out[0], POLLIN, 0}, {err[0], POLLIN, 0}}};
    std::array<std::string*, 2> sinks{&result.out, &result.err};
    int open_fds = 2;
    bool timed_out = false;
    while (open_fds > 0) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left <= 0ms) {
            timed_out = true;
            break;
        }
        if (::poll(fds.data(), fds.size(), static_cast<int>(left.count())) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (fds[i].fd < 0 || fds[i].revents == 0) {
                continue;
            }
            std::array<char, 4096> buffer{};
            const auto n = ::read(fds[i].fd, buffer.data(), buffer.size());
            if (n > 0) {
                sinks[i]->append(buffer.data(), static_cast<std::size_t>(n));
            } else if (n == 0 || errno != EINTR) {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
            }
        }
    }
    for (auto& p : fds) {
        if (p.fd >= 0) {
            ::close(p.fd);
        }
    }
    if (timed_out) {
        ::kill(pid, SIGKILL);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!timed_out && WIFEXITED(status)) {
        result.exit_code = WEXITSTATUS(status);
    }
    return result;
}

/// Path of an executable on PATH (or in /usr/sbin, where Debian puts the broker), or empty.
std::string find_program(const std::string& name) {
    const char* env = std::getenv("PATH");
    std::stringstream dirs{std::string{env != nullptr ? env : "/usr/bin:/bin"} + ":/usr/sbin"};
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        const auto candidate = fs::path{dir.empty() ? "." : dir} / name;
        if (::access(candidate.c_str(), X_OK) == 0) {
            return candidate.string();
        }
    }
    return {};
}

std::string read_text(const std::string& file) {
    std::ifstream in{file, std::ios::binary};
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

/// The line for `user` in a password file's text, without its newline.
std::string line_of(const std::string& text, const std::string& user) {
    std::istringstream lines{text};
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind(user + ":", 0) == 0) {
            return line;
        }
    }
    return {};
}

unsigned file_mode(const std::string& file) {
    struct stat st {};
    REQUIRE(::stat(file.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

const std::string edgemq_binary = EDGEMQ_BINARY;

} // namespace

TEST_CASE("edgemq passwd -b writes a 0600 file that verifies and never holds the password",
          "[integration][auth]") {
    temp_dir dir;
    const auto file = dir / "passwd";

    auto r = run({edgemq_binary, "passwd", "-c", "-b", file, "alice", "Tr0ub4dor&3"});
    INFO(r);
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.empty());
    CHECK(r.err.empty());
    CHECK(file_mode(file) == 0600);

    r = run({edgemq_binary, "passwd", "-b", file, "bob", "-starts-with-dash"});
    REQUIRE(r.exit_code == 0);
    r = run({edgemq_binary, "passwd", "-b", file, "alice", "changed"});
    REQUIRE(r.exit_code == 0);
    CHECK(file_mode(file) == 0600);

    const auto text = read_text(file);
    INFO(text);
    CHECK(text.find("Tr0ub4dor") == std::string::npos);
    CHECK(text.find("changed") == std::string::npos);
    CHECK(text.find("starts-with-dash") == std::string::npos);
    CHECK(text.find("alice:$7$101$") < text.find("bob:$7$101$")); // updated in place

    const auto pw = auth::password_file::load(file);
    CHECK(pw.size() == 2);
    CHECK(pw.verify("alice", "changed"));
    CHECK_FALSE(pw.verify("alice", "Tr0ub4dor&3"));
    CHECK(pw.verify("bob", "-starts-with-dash"));

    r = run({edgemq_binary, "passwd", "-D", file, "alice"});
    REQUIRE(r.exit_code == 0);
    CHECK_FALSE(auth::password_file::load(file).contains("alice"));
    CHECK(auth::password_file::load(file).verify("bob", "-starts-with-dash"));
}

TEST_CASE("edgemq passwd fails clearly and leaves the file alone", "[integration][auth]") {
    temp_dir dir;
    const auto file = dir / "passwd";
    REQUIRE(run({edgemq_binary, "passwd", "-c", "-b", file, "alice", "pw"}).exit_code == 0);
    const auto before = read_text(file);

    struct bad_case {
        std::vector<std::string> args;
        int exit_code;
        std::string message;
    };
    const std::vector<bad_case> cases{
        {{"-b", dir / "missing", "u", "pw"}, 1, "does not exist (use -c to create it)"},
        {{"-D", file, "nobody"}, 1, "user \"nobody\" is not in"},
        {{"-b", file, "a:b", "pw"}, 1, "invalid user name"},
        {{"-b", file, "#a", "pw"}, 1, "invalid user name"},
        {{"-b", file, "bob", ""}, 1, "the password is empty"},
        {{"-c", "-D", file, "alice"}, 2, "-c and -D cannot be used together"},
        {{"-b", "-D", file, "alice"}, 2, "-b and -D cannot be used together"},
        {{"-b", file, "bob"}, 2, "-b needs FILE USER PASSWORD"},
        {{file}, 2, "expected FILE USER"},
        {{"-x", file, "bob"}, 2, "unknown option -x"},
        {{file, "bob", "pw"}, 2, "expected FILE USER"},
    };
    for (const auto& c : cases) {
        std::vector<std::string> argv{edgemq_binary, "passwd"};
        argv.insert(argv.end(), c.args.begin(), c.args.end());
        const auto r = run(argv, {}, true);
        INFO(r);
        CHECK(r.exit_code == c.exit_code);
        CHECK_THAT(r.err, Catch::Contains(c.message));
        CHECK(read_text(file) == before);
    }

    // A file the broker would refuse is not edited; the error names its line.
    std::ofstream{file, std::ios::app} << "mallory:plaintext\n";
    const auto r = run({edgemq_binary, "passwd", "-b", file, "bob", "pw"});
    INFO(r);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::Contains(file + ":2: "));
    CHECK_FALSE(fs::exists(dir / "missing"));

    const auto help = run({edgemq_binary, "passwd", "--help"});
    CHECK(help.exit_code == 0);
    CHECK_THAT(help.out, Catch::StartsWith("usage: edgemq passwd"));
}

TEST_CASE("edgemq passwd reads the password twice from stdin without a terminal",
          "[integration][auth]") {
    temp_dir dir;
    const auto file = dir / "passwd";
    // A new session has no controlling terminal: the tool falls back to stdin, quietly.
    auto r = run({edgemq_binary, "passwd", "-c", file, "alice"}, "from-pipe\nfrom-pipe\n", true);
    INFO(r);
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.empty());
    CHECK(auth::password_file::load(file).verify("alice", "from-pipe"));

    r = run({edgemq_binary, "passwd", file, "alice"}, "one\ntwo\n", true);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::Contains("the passwords do not match"));
    r = run({edgemq_binary, "passwd", file, "alice"}, "only-once\n", true);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::Contains("no password given"));
    CHECK(auth::password_file::load(file).verify("alice", "from-pipe"));
}

TEST_CASE("edgemq passwd asks on the terminal with echo off", "[integration][auth]") {
    temp_dir dir;
    const auto file = dir / "passwd";

    const int master = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    REQUIRE(master >= 0);
    REQUIRE(::grantpt(master) == 0);
    REQUIRE(::unlockpt(master) == 0);
    const std::string slave_name = ::ptsname(master);
    // Kept open here so that the terminal's settings can be read after the child has exited.
    const int slave = ::open(slave_name.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
    REQUIRE(slave >= 0);

    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        // The child: a new session whose controlling terminal is the pty, as at a login shell.
        ::setsid();
        const int tty = ::open(slave_name.c_str(), O_RDWR);
        if (tty < 0 || ::ioctl(tty, TIOCSCTTY, 0) != 0) {
            ::_exit(126);
        }
        ::dup2(tty, STDIN_FILENO);
        ::dup2(tty, STDOUT_FILENO);
        ::dup2(tty, STDERR_FILENO);
        ::execl(edgemq_binary.c_str(), edgemq_binary.c_str(), "passwd", "-c", file.c_str(), "alice",
                static_cast<char*>(nullptr));
        ::_exit(127);
    }

    std::string seen;
    const auto wait_for = [&](const std::string& text) {
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (seen.find(text) == std::string::npos) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left <= 0ms) {
                return false;
            }
            pollfd p{master, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
                continue;
            }
            std::array<char, 256> buffer{};
            const auto n = ::read(master, buffer.data(), buffer.size());
            if (n <= 0) {
                return false;
            }
            seen.append(buffer.data(), static_cast<std::size_t>(n));
        }
        return true;
    };
    const auto type = [&](const std::string& text) {
        REQUIRE(::write(master, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    };

    // Echo is off before the prompt appears, so typing after it is never echoed.
    REQUIRE(wait_for("Password: "));
    type("zebra-42\n");
    REQUIRE(wait_for("Reenter password: "));
    type("zebra-42\n");
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    // Whatever it wrote last is in the pty's buffer by now.
    pollfd p{master, POLLIN, 0};
    while (::poll(&p, 1, 0) > 0 && (p.revents & POLLIN) != 0) {
        std::array<char, 256> buffer{};
        const auto n = ::read(master, buffer.data(), buffer.size());
        if (n <= 0) {
            break;
        }
        seen.append(buffer.data(), static_cast<std::size_t>(n));
    }
    INFO("terminal output: " << seen);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(seen.find("zebra") == std::string::npos);

    // Echo is back on for the shell that follows.
    termios after{};
    REQUIRE(::tcgetattr(slave, &after) == 0);
    CHECK((after.c_lflag & ECHO) != 0);
    ::close(slave);
    ::close(master);

    CHECK(auth::password_file::load(file).verify("alice", "zebra-42"));
    CHECK(file_mode(file) == 0600);
}

TEST_CASE("edgemq passwd edits a file written by mosquitto_passwd without corrupting it",
          "[integration][auth]") {
    const auto mosquitto_passwd = find_program("mosquitto_passwd");
    if (mosquitto_passwd.empty()) {
        FAIL("mosquitto_passwd is not installed (apt install mosquitto, or "
             "scripts/install-deps.sh --test)");
    }
    temp_dir dir;
    const auto file = dir / "passwd";
    REQUIRE(run({mosquitto_passwd, "-c", "-b", file, "alice", "alice-pw"}).exit_code == 0);
    REQUIRE(run({mosquitto_passwd, "-H", "sha512", "-b", file, "carol", "carol-pw"}).exit_code ==
            0);
    const auto original = read_text(file);
    const auto alice_line = line_of(original, "alice");
    const auto carol_line = line_of(original, "carol");
    REQUIRE_THAT(alice_line, Catch::StartsWith("alice:$7$"));
    REQUIRE_THAT(carol_line, Catch::StartsWith("carol:$6$"));
    const auto mode = file_mode(file);

    auto r = run({edgemq_binary, "passwd", "-b", file, "bob", "bob-pw"});
    INFO(r);
    REQUIRE(r.exit_code == 0);
    auto text = read_text(file);
    INFO(text);
    CHECK(text.substr(0, original.size()) == original); // other lines byte for byte, in order
    CHECK(line_of(text, "alice") == alice_line);
    CHECK(line_of(text, "carol") == carol_line);
    CHECK(file_mode(file) == mode); // an existing file keeps its mode
    auto pw = auth::password_file::load(file);
    CHECK(pw.size() == 3);
    CHECK(pw.verify("alice", "alice-pw"));
    CHECK(pw.verify("bob", "bob-pw"));
    CHECK(pw.verify("carol", "carol-pw"));

    // And back: mosquitto_passwd edits the file edgemq wrote.
    REQUIRE(run({edgemq_binary, "passwd", "-D", file, "alice"}).exit_code == 0);
    r = run({mosquitto_passwd, "-b", file, "dave", "dave-pw"});
    REQUIRE(r.exit_code == 0);
    pw = auth::password_file::load(file);
    CHECK(pw.size() == 3);
    CHECK_FALSE(pw.contains("alice"));
    CHECK(pw.verify("bob", "bob-pw"));
    CHECK(pw.verify("carol", "carol-pw"));
    CHECK(pw.verify("dave", "dave-pw"));
}

TEST_CASE("the mosquitto broker accepts a password file written by edgemq passwd",
          "[integration][auth]") {
    const auto mosquitto = find_program("mosquitto");
    const auto mosquitto_pub = find_program("mosquitto_pub");
    if (mosquitto.empty() || mosquitto_pub.empty()) {
        FAIL("mosquitto or mosquitto_pub is not installed (apt install mosquitto "
             "mosquitto-clients, or scripts/install-deps.sh --test)");
    }
    temp_dir dir;
    const auto file = dir / "passwd";
    REQUIRE(run({edgemq_binary, "passwd", "-c", "-b", file, "alice", "alice-pw"}).exit_code == 0);

    // A free port: bound to 0 and released; the race with other processes is harmless here.
    const int probe = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(probe >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(::bind(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::getsockname(probe, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    const auto port = std::to_string(ntohs(addr.sin_port));
    ::close(probe);

    const auto conf = dir / "mosquitto.conf";
    // As root, mosquitto drops to the "mosquitto" user, which cannot read a 0600 file of
    // root's; "user root" keeps it as it is. Not root: it does not change user at all.
    std::ofstream{conf} << (::geteuid() == 0 ? "user root\n" : "") << "listener " << port
                        << " 127.0.0.1\n"
                        << "password_file " << file << "\n"
                        << "allow_anonymous false\n";

    pid_t broker = 0;
    std::vector<std::string> argv{mosquitto, "-c", conf};
    std::vector<char*> args;
    for (auto& a : argv) {
        args.push_back(a.data());
    }
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, (dir / "mosquitto.log").c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int rc = ::posix_spawn(&broker, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(rc == 0);
    struct stop_broker {
        pid_t pid;
        ~stop_broker() {
            ::kill(pid, SIGTERM);
            int status = 0;
            ::waitpid(pid, &status, 0);
        }
    } stop{broker};

    const auto publish = [&](const std::string& user, const std::string& password) {
        return run({mosquitto_pub, "-h", "127.0.0.1", "-p", port, "-u", user, "-P", password, "-t",
                    "edgemq/test", "-m", "x"});
    };
    // Wait for the listener: until the connection is no longer refused at the TCP level.
    run_result ok;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    do {
        ok = publish("alice", "alice-pw");
        if (ok.exit_code != 0) {
            std::this_thread::sleep_for(50ms);
        }
    } while (ok.exit_code != 0 && ok.err.find("Connection refused") != std::string::npos &&
             std::chrono::steady_clock::now() < deadline);
    INFO(ok << "\nmosquitto log: " << read_text(dir / "mosquitto.log"));
    CHECK(ok.exit_code == 0);
    const auto bad = publish("alice", "wrong");
    INFO(bad);
    CHECK(bad.exit_code != 0);
    CHECK_THAT(bad.err, Catch::Contains("not authorised"));
}
