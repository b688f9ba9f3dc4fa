// SPDX-License-Identifier: Apache-2.0
#include "passwd.hpp"

#include "edgemq/broker/auth/password_file.hpp"

#include <openssl/crypto.h>

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <exception>
#include <filesystem>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace edgemq::app {

const char* const passwd_usage =
    R"(usage: edgemq passwd [-c] FILE USER              ask for USER's password, add or update USER
       edgemq passwd [-c] -b FILE USER PASSWORD     the same, password from the command line
       edgemq passwd -D FILE USER                   delete USER

Manages a password file in Mosquitto's format (user:$7$iterations$salt$hash, PBKDF2-SHA512);
files made by mosquitto_passwd work here and the other way round.

  -b   batch mode: take the password from the command line (it is then visible to other
       local users in the process list and kept in the shell history)
  -c   create FILE, overwriting it if it exists
  -D   delete USER from FILE
)";

namespace {

/// Wipes a string that held a password before it is freed.
class secret {
public:
    secret() = default;
    secret(const secret&) = delete;
    secret& operator=(const secret&) = delete;
    ~secret() { wipe(); }

    std::string& value() noexcept { return value_; }
    void wipe() noexcept {
        if (!value_.empty()) {
            OPENSSL_cleanse(value_.data(), value_.size());
        }
        value_.clear();
    }

private:
    std::string value_;
};

// Terminal state to put back if a signal ends the process while echo is off.
int echo_fd = -1;
struct termios saved_termios {};

extern "C" void restore_echo_and_reraise(int sig) {
    if (echo_fd >= 0) {
        ::tcsetattr(echo_fd, TCSAFLUSH, &saved_termios); // async-signal-safe
    }
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

constexpr int restore_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

/// Turns echo off on a terminal for its lifetime; does nothing for a pipe or file.
class echo_off {
public:
    explicit echo_off(int fd) {
        if (::isatty(fd) == 0 || ::tcgetattr(fd, &saved_termios) != 0) {
            return;
        }
        echo_fd = fd;
        struct sigaction action {};
        action.sa_handler = restore_echo_and_reraise;
        sigemptyset(&action.sa_mask);
        for (std::size_t i = 0; i < std::size(restore_signals); ++i) {
            ::sigaction(restore_signals[i], &action, &old_actions_[i]);
        }
        struct termios quiet = saved_termios;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        if (::tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
            const int err = errno;
            restore_handlers();
            throw std::runtime_error(std::string{"cannot turn off echo on the terminal: "} +
                                     std::strerror(err));
        }
        active_ = true;
    }
    echo_off(const echo_off&) = delete;
    echo_off& operator=(const echo_off&) = delete;
    ~echo_off() {
        if (echo_fd < 0) {
            return;
        }
        if (active_) {
            ::tcsetattr(echo_fd, TCSAFLUSH, &saved_termios);
        }
        restore_handlers();
    }
    bool active() const noexcept { return active_; }

private:
    void restore_handlers() noexcept {
        for (std::size_t i = 0; i < std::size(restore_signals); ++i) {
            ::sigaction(restore_signals[i], &old_actions_[i], nullptr);
        }
        echo_fd = -1;
    }

    bool active_ = false;
    struct sigaction old_actions_[std::size(restore_signals)]{};
};

void write_all(int fd, std::string_view text) {
    while (!text.empty()) {
        const auto n = ::write(fd, text.data(), text.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return; // a prompt that cannot be shown does not stop the read
        }
        text.remove_prefix(static_cast<std::size_t>(n));
    }
}

/// Reads one line from `in` into `out` without its line ending. False at end of input before
/// any byte.
bool read_line(int in, std::string& out) {
    bool any = false;
    char c = 0;
    while (true) {
        const auto n = ::read(in, &c, 1);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throw std::runtime_error(std::string{"cannot read the password: "} +
                                     std::strerror(errno));
        }
        if (n == 0) {
            break;
        }
        any = true;
        if (c == '\n') {
            break;
        }
        out.push_back(c);
    }
    if (!out.empty() && out.back() == '\r') {
        out.pop_back();
    }
    c = 0;
    return any;
}

/// Asks for a password on `in` with echo off, showing `prompt` on `out`.
bool prompt_password(int in, int out, std::string_view prompt, secret& password) {
    echo_off quiet{in};
    if (::isatty(in) != 0) {
        write_all(out, prompt); // no prompts into a log when the password comes from a pipe
    }
    const bool got = read_line(in, password.value());
    if (quiet.active()) {
        write_all(out, "\n"); // the user's Enter was not echoed
    }
    return got;
}

/// Asks twice, as mosquitto_passwd does. Uses the controlling terminal so that the password is
/// never read from a redirected stdin by accident; without one (a service, CI), stdin.
void ask_password(secret& password) {
    const int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    const int in = tty >= 0 ? tty : STDIN_FILENO;
    const int out = tty >= 0 ? tty : STDERR_FILENO;
    struct closer {
        int fd;
        ~closer() {
            if (fd >= 0) {
                ::close(fd);
            }
        }
    } close_tty{tty};

    secret again;
    if (!prompt_password(in, out, "Password: ", password)) {
        throw std::runtime_error("no password given (end of input)");
    }
    if (!prompt_password(in, out, "Reenter password: ", again)) {
        throw std::runtime_error("no password given (end of input)");
    }
    if (password.value() != again.value()) {
        throw std::runtime_error("the passwords do not match");
    }
}

int usage_error(const std::string& why) {
    std::cerr << "edgemq passwd: " << why << "\n" << passwd_usage;
    return 2;
}

} // namespace

int passwd_main(std::span<const std::string_view> args) {
    bool batch = false;
    bool create = false;
    bool remove = false;
    std::vector<std::string_view> positional;
    bool options_done = false;
    for (const auto arg : args) {
        if (options_done || arg.size() < 2 || arg.front() != '-') {
            positional.push_back(arg);
            continue;
        }
        if (arg == "--") {
            options_done = true;
            continue;
        }
        if (arg == "-h" || arg == "--help") {
            std::cout << passwd_usage;
            return 0;
        }
        if (!positional.empty()) {
            // Options come before FILE, as for mosquitto_passwd; "-x" after it is a value
            // (a password may start with '-').
            positional.push_back(arg);
            continue;
        }
        for (const char flag : arg.substr(1)) {
            switch (flag) {
            case 'b':
                batch = true;
                break;
            case 'c':
                create = true;
                break;
            case 'D':
                remove = true;
                break;
            default:
                return usage_error("unknown option -" + std::string(1, flag));
            }
        }
    }
    if (create && remove) {
        return usage_error("-c and -D cannot be used together");
    }
    if (batch && remove) {
        return usage_error("-b and -D cannot be used together");
    }
    const std::size_t wanted = batch ? 3 : 2;
    if (positional.size() != wanted) {
        return usage_error(batch ? "-b needs FILE USER PASSWORD" : "expected FILE USER");
    }
    const std::filesystem::path file{positional[0]};
    const std::string_view user = positional[1];

    try {
        broker::auth::check_username(user);
    } catch (const std::invalid_argument& e) {
        std::cerr << "edgemq passwd: invalid user name: " << e.what() << "\n";
        return 1;
    }

    try {
        std::error_code ec;
        if (!create && !std::filesystem::exists(file, ec)) {
            std::cerr << "edgemq passwd: " << file.string()
                      << " does not exist (use -c to create it)\n";
            return 1;
        }
        if (remove) {
            if (!broker::auth::remove_user(file, user)) {
                std::cerr << "edgemq passwd: user \"" << user << "\" is not in " << file.string()
                          << "\n";
                return 1;
            }
            return 0;
        }
        secret password;
        if (batch) {
            password.value() = std::string{positional[2]};
        } else {
            ask_password(password);
        }
        if (password.value().empty()) {
            // mosquitto_passwd accepts an empty password; a user anyone can log in as by
            // sending an empty one is never what was meant.
            std::cerr << "edgemq passwd: the password is empty\n";
            return 1;
        }
        if (password.value().size() > 65535) {
            std::cerr << "edgemq passwd: the password is longer than 65535 bytes (MQTT's limit)\n";
            return 1;
        }
        broker::auth::set_password(file, user, password.value(), create);
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "edgemq passwd: " << e.what() << "\n";
        return 1;
    }
}

} // namespace edgemq::app
