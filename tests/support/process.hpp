// SPDX-License-Identifier: Apache-2.0
#pragma once

/// Child processes for integration tests: run a command to completion with a hard timeout, or
/// start one in the background (mosquitto_sub, a paho script, the edgemq binary), watch its
/// output line by line and stop it.
///
/// Children are started with posix_spawnp in their own process group, with every inherited
/// descriptor above stderr closed (the in-process broker's sockets are not close-on-exec, and a
/// child holding a copy of one would keep that connection open after the broker closes it),
/// default signal dispositions and an empty signal mask. stdout and stderr are read by one
/// thread per child, so a chatty child never blocks on a full pipe while the test waits.
///
/// Thread safety: one background_process is used from one test thread; its reader thread
/// shares only the output buffers, under a mutex.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace edgemq::test {

/// How a child ended.
struct process_result {
    int exit_code = -1;     ///< exit status when it exited, else -1
    int term_signal = 0;    ///< the signal that ended it, else 0
    bool timed_out = false; ///< it outlived its deadline and was killed with SIGKILL
    std::string out;        ///< everything it wrote to stdout
    std::string err;        ///< everything it wrote to stderr

    bool exited_ok() const { return exit_code == 0 && term_signal == 0 && !timed_out; }
};

namespace detail {

inline void ignore_sigpipe_once() {
    // A child that exits before reading its stdin must not kill the test with SIGPIPE.
    static const bool done = [] {
        std::signal(SIGPIPE, SIG_IGN);
        return true;
    }();
    (void)done;
}

struct fd_pair {
    int read = -1;
    int write = -1;
};

inline fd_pair make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        throw std::system_error(errno, std::generic_category(), "pipe2");
    }
    return {fds[0], fds[1]};
}

inline void close_fd(int& fd) {
    if (fd >= 0) {
        ::close(fd);
        fd = -1;
    }
}

} // namespace detail

/// A child process running in the background. The destructor kills it (SIGKILL to its process
/// group) if it is still running, and reaps it.
class background_process {
public:
    /// Starts `argv` (argv[0] is looked up in PATH). With `stdin_text`, that text is written to
    /// the child's stdin, which is then closed; without it, stdin is /dev/null.
    /// Throws std::system_error when the program cannot be started.
    explicit background_process(std::vector<std::string> argv,
                                std::optional<std::string> stdin_text = std::nullopt)
        : argv_(std::move(argv)) {
        if (argv_.empty()) {
            throw std::invalid_argument("background_process: empty argv");
        }
        detail::ignore_sigpipe_once();
        auto out = detail::make_pipe();
        auto err = detail::make_pipe();
        detail::fd_pair in;
        if (stdin_text) {
            in = detail::make_pipe();
            stdin_ = std::move(*stdin_text);
        }

        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        if (in.read >= 0) {
            posix_spawn_file_actions_adddup2(&actions, in.read, 0);
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        }
        posix_spawn_file_actions_adddup2(&actions, out.write, 1);
        posix_spawn_file_actions_adddup2(&actions, err.write, 2);
        posix_spawn_file_actions_addclosefrom_np(&actions, 3);

        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        sigset_t all;
        sigset_t none;
        sigfillset(&all);
        sigemptyset(&none);
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setpgroup(&attr, 0);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
                                            POSIX_SPAWN_SETPGROUP);

        std::vector<char*> args;
        for (auto& a : argv_) {
            args.push_back(a.data());
        }
        args.push_back(nullptr);
        const int rc = ::posix_spawnp(&pid_, args[0], &actions, &attr, args.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
        detail::close_fd(out.write);
        detail::close_fd(err.write);
        detail::close_fd(in.read);
        if (rc != 0) {
            detail::close_fd(out.read);
            detail::close_fd(err.read);
            detail::close_fd(in.write);
            throw std::system_error(rc, std::generic_category(), "cannot start " + argv_[0]);
        }
        out_fd_ = out.read;
        err_fd_ = err.read;
        in_fd_ = in.write;
        if (in_fd_ >= 0) {
            ::fcntl(in_fd_, F_SETFL, ::fcntl(in_fd_, F_GETFL) | O_NONBLOCK);
        }
        reader_ = std::thread([this] { read_loop(); });
    }

    background_process(const background_process&) = delete;
    background_process& operator=(const background_process&) = delete;

    ~background_process() {
        if (!reaped_) {
            ::kill(-pid_, SIGKILL);
            ::kill(pid_, SIGKILL);
            int status = 0;
            ::waitpid(pid_, &status, 0);
            reaped_ = true;
        }
        finish_reader(std::chrono::milliseconds(0));
    }

    pid_t pid() const { return pid_; }

    /// Sends `sig` to the child itself (not its process group).
    void signal(int sig) {
        if (!reaped_) {
            ::kill(pid_, sig);
        }
    }

    /// Waits until `pred` holds for the complete stdout lines read so far. Returns false when
    /// `timeout` passes first, or when stdout reaches its end without `pred` holding.
    bool wait_until(const std::function<bool(const std::vector<std::string>&)>& pred,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        std::unique_lock lock{mutex_};
        return changed_.wait_for(lock, timeout, [&] { return pred(lines_) || out_eof_; }) &&
               pred(lines_);
    }

    /// Waits for a stdout line containing `needle`; see wait_until.
    bool wait_for_line(std::string needle,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        return wait_for_lines_containing(std::move(needle), 1, timeout);
    }

    /// Waits until `n` stdout lines contain `needle`; see wait_until.
    bool wait_for_lines_containing(std::string needle, std::size_t n,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        return wait_until(
            [&](const std::vector<std::string>& lines) {
                return static_cast<std::size_t>(
                           std::count_if(lines.begin(), lines.end(), [&](const std::string& l) {
                               return l.find(needle) != std::string::npos;
                           })) >= n;
            },
            timeout);
    }

    /// Waits until `pred` holds for everything read from stderr so far. Returns false when
    /// `timeout` passes first, or when stderr reaches its end without `pred` holding.
    bool wait_until_stderr(const std::function<bool(const std::string&)>& pred,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        std::unique_lock lock{mutex_};
        return changed_.wait_for(lock, timeout, [&] { return pred(err_) || err_eof_; }) &&
               pred(err_);
    }

    /// Waits until stderr contains `needle`; see wait_until_stderr.
    bool wait_for_stderr(const std::string& needle,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        return wait_until_stderr(
            [&](const std::string& err) { return err.find(needle) != std::string::npos; }, timeout);
    }

    /// The complete stdout lines read so far (without their '\n').
    std::vector<std::string> lines() const {
        const std::lock_guard lock{mutex_};
        return lines_;
    }

    std::string out() const {
        const std::lock_guard lock{mutex_};
        return out_;
    }

    std::string err() const {
        const std::lock_guard lock{mutex_};
        return err_;
    }

    /// Whether the child is still running (reaps it if it has just exited).
    bool running() {
        poll_exit();
        return !reaped_;
    }

    /// Waits for the child to exit; after `timeout`, kills it with SIGKILL and reports
    /// timed_out. Returns its status and all of its output.
    process_result wait(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!reaped_ && std::chrono::steady_clock::now() < deadline) {
            poll_exit();
            if (!reaped_) {
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
            }
        }
        if (!reaped_) {
            timed_out_ = true;
            ::kill(-pid_, SIGKILL);
            ::kill(pid_, SIGKILL);
            int status = 0;
            ::waitpid(pid_, &status, 0);
            record(status);
        }
        // A grandchild may still hold the pipes; do not wait for it long.
        finish_reader(std::chrono::seconds(1));
        process_result r;
        r.exit_code = exit_code_;
        r.term_signal = term_signal_;
        r.timed_out = timed_out_;
        const std::lock_guard lock{mutex_};
        r.out = out_;
        r.err = err_;
        return r;
    }

    /// Sends `sig` (SIGTERM by default) and waits as wait() does.
    process_result stop(int sig = SIGTERM,
                        std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        signal(sig);
        return wait(timeout);
    }

    /// The command line and the output so far, for failure messages.
    std::string describe() const {
        std::string s = "command:";
        for (const auto& a : argv_) {
            s += ' ';
            s += a;
        }
        const std::lock_guard lock{mutex_};
        const auto tail = [](const std::string& t) {
            return t.size() <= 4000 ? t : "..." + t.substr(t.size() - 4000);
        };
        s += "\n--- stdout ---\n" + tail(out_) + "\n--- stderr ---\n" + tail(err_);
        return s;
    }

private:
    void poll_exit() {
        if (reaped_) {
            return;
        }
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            record(status);
        }
    }

    void record(int status) {
        reaped_ = true;
        if (WIFEXITED(status)) {
            exit_code_ = WEXITSTATUS(status);
        } else if (WIFSIGNALED(status)) {
            term_signal_ = WTERMSIG(status);
        }
    }

    void finish_reader(std::chrono::milliseconds grace) {
        if (!reader_.joinable()) {
            return;
        }
        {
            std::unique_lock lock{mutex_};
            changed_.wait_for(lock, grace, [&] { return out_eof_ && err_eof_; });
        }
        stop_reader_ = true;
        reader_.join();
        detail::close_fd(out_fd_);
        detail::close_fd(err_fd_);
        detail::close_fd(in_fd_);
    }

    void read_loop() {
        std::size_t written = 0;
        if (in_fd_ >= 0 && stdin_.empty()) {
            detail::close_fd(in_fd_);
        }
        char buf[65536];
        while (!stop_reader_) {
            pollfd fds[3];
            nfds_t n = 0;
            const auto add = [&](int fd, short events) {
                if (fd >= 0) {
                    fds[n++] = pollfd{fd, events, 0};
                }
            };
            bool out_open = false;
            bool err_open = false;
            {
                const std::lock_guard lock{mutex_};
                out_open = !out_eof_;
                err_open = !err_eof_;
            }
            if (out_open) {
                add(out_fd_, POLLIN);
            }
            if (err_open) {
                add(err_fd_, POLLIN);
            }
            add(in_fd_, POLLOUT);
            if (n == 0) {
                break;
            }
            if (::poll(fds, n, 20) <= 0) {
                continue;
            }
            for (nfds_t i = 0; i < n; ++i) {
                if (fds[i].revents == 0) {
                    continue;
                }
                if (fds[i].fd == in_fd_) {
                    const auto k =
                        ::write(in_fd_, stdin_.data() + written, stdin_.size() - written);
                    if (k > 0) {
                        written += static_cast<std::size_t>(k);
                    }
                    if ((k < 0 && errno != EAGAIN && errno != EINTR) || written == stdin_.size()) {
                        detail::close_fd(in_fd_); // EOF for the child (or it stopped reading)
                    }
                    continue;
                }
                const auto k = ::read(fds[i].fd, buf, sizeof buf);
                if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
                    continue;
                }
                const std::lock_guard lock{mutex_};
                const bool is_out = fds[i].fd == out_fd_;
                if (k <= 0) {
                    (is_out ? out_eof_ : err_eof_) = true;
                } else if (is_out) {
                    const auto from = out_.size();
                    out_.append(buf, static_cast<std::size_t>(k));
                    for (auto nl = out_.find('\n', from); nl != std::string::npos;
                         nl = out_.find('\n', nl + 1)) {
                        lines_.push_back(out_.substr(partial_start_, nl - partial_start_));
                        partial_start_ = nl + 1;
                    }
                } else {
                    err_.append(buf, static_cast<std::size_t>(k));
                }
                changed_.notify_all();
            }
        }
        const std::lock_guard lock{mutex_};
        out_eof_ = true;
        err_eof_ = true;
        changed_.notify_all();
    }

    std::vector<std::string> argv_;
    pid_t pid_ = -1;
    int out_fd_ = -1;
    int err_fd_ = -1;
    int in_fd_ = -1;
    std::string stdin_;
    bool reaped_ = false;
    bool timed_out_ = false;
    int exit_code_ = -1;
    int term_signal_ = 0;

    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::string out_;
    std::string err_;
    std::vector<std::string> lines_;
    std::size_t partial_start_ = 0; ///< where the unfinished last line of out_ starts
    bool out_eof_ = false;
    bool err_eof_ = false;
    std::atomic<bool> stop_reader_{false};
    std::thread reader_;
};

/// Runs `argv` to completion, feeding it `stdin_text` if given, and kills it (SIGKILL) if it is
/// still running after `timeout`.
inline process_result run_process(std::vector<std::string> argv,
                                  std::optional<std::string> stdin_text = std::nullopt,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    background_process p{std::move(argv), std::move(stdin_text)};
    return p.wait(timeout);
}

} // namespace edgemq::test
