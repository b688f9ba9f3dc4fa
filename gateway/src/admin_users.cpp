// SPDX-License-Identifier: Apache-2.0
#include "admin_users.hpp"

#include "edgemq/broker/hex.hpp"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <system_error>

namespace edgemq::app {
namespace {

std::string random_hex(std::size_t bytes) {
    std::string raw(bytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1) {
        throw std::runtime_error("OpenSSL RAND_bytes failed");
    }
    return broker::hex_encoded(raw);
}

} // namespace

admin_users::admin_users(std::filesystem::path users_file, std::shared_ptr<spdlog::logger> log)
    : file_(std::move(users_file)), log_(std::move(log)) {}

void admin_users::reload() {
    struct stat st {};
    if (::stat(file_.c_str(), &st) != 0) {
        const std::error_code ec(errno, std::system_category());
        if (loaded_) {
            log_->error("admin users file {} is gone: {}; nobody can log in until it is back",
                        file_.string(), ec.message());
        }
        users_ = {};
        loaded_ = false;
        return;
    }
    // The modification time alone misses a second write within the same clock tick of the
    // file system (a few milliseconds); a rewrite through rename also changes the inode.
    const file_stamp stamp{st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec,
                           st.st_mtim.tv_nsec};
    if (loaded_ && stamp == stamp_) {
        return;
    }
    try {
        users_ = broker::auth::password_file::load(file_);
        stamp_ = stamp;
        loaded_ = true;
    } catch (const std::exception& e) {
        log_->error("admin users file refused, keeping the previous users: {}", e.what());
        stamp_ = stamp; // report once per change, not per request
    }
}

bool admin_users::verify(std::string_view user, std::string_view password) {
    reload();
    return users_.contains(user) && users_.verify(user, password);
}

std::string admin_users::open_session(const std::string& user) {
    const auto now = std::chrono::steady_clock::now();
    std::erase_if(sessions_, [&](const auto& s) { return s.second.expires < now; });
    while (sessions_.size() >= max_sessions) {
        sessions_.erase(std::ranges::min_element(sessions_, {},
                                                 [](const auto& s) { return s.second.expires; }));
    }
    auto token = random_hex(32);
    sessions_[token] = {user, now + session_lifetime};
    return token;
}

std::optional<std::string> admin_users::session_user(std::string_view token) {
    const auto it = sessions_.find(std::string(token));
    if (it == sessions_.end()) {
        return std::nullopt;
    }
    if (it->second.expires < std::chrono::steady_clock::now()) {
        sessions_.erase(it);
        return std::nullopt;
    }
    return it->second.user;
}

void admin_users::close_session(std::string_view token) {
    sessions_.erase(std::string(token));
}

std::filesystem::path initial_password_file(const std::filesystem::path& users_file) {
    return std::filesystem::path(users_file.string() + ".initial");
}

std::optional<std::string> ensure_admin_user(const std::filesystem::path& users_file) {
    namespace auth = broker::auth;
    std::error_code ec;
    const bool exists = std::filesystem::exists(users_file, ec);
    if (exists && auth::password_file::load(users_file).size() > 0) {
        return std::nullopt;
    }
    if (!exists && users_file.has_parent_path()) {
        std::filesystem::create_directories(users_file.parent_path(), ec);
        if (ec) {
            throw std::runtime_error(users_file.parent_path().string() + ": " + ec.message());
        }
    }
    // 24 characters of 64 possible each (144 bits); 256 % 64 == 0, so `& 63` has no bias.
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char random[24];
    if (RAND_bytes(random, sizeof random) != 1) {
        throw std::runtime_error("OpenSSL RAND_bytes failed");
    }
    std::string password;
    for (unsigned char c : random) {
        password += alphabet[c & 63];
    }
    const auto initial = initial_password_file(users_file);
    const int fd =
        ::open(initial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        throw std::system_error(errno, std::generic_category(), initial.string());
    }
    const std::string line = "admin:" + password + "\n";
    const bool written =
        ::fchmod(fd, 0600) == 0 &&
        ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
        ::fsync(fd) == 0;
    const int saved = errno;
    ::close(fd);
    if (!written) {
        throw std::system_error(saved, std::generic_category(), initial.string());
    }
    auth::set_password(users_file, "admin", password, !exists);
    return password;
}

} // namespace edgemq::app
