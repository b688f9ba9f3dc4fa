// SPDX-License-Identifier: Apache-2.0
#include "edgemq/broker/auth/password_file.hpp"
#include "text.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <climits>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

namespace edgemq::broker::auth {
namespace {

/// A line of a password file as Mosquitto reads it: lines without `:` carry no user, the user is
/// the trimmed text before the first `:`. Mosquitto takes only a `#` in the first column as a
/// comment; a `#` after leading blanks is one here too (no valid user name starts with `#`).
struct line_view {
    bool is_user = false;
    std::string_view user;
    std::string_view hash; ///< trimmed text after the first `:`
};

line_view split_line(std::string_view line) noexcept {
    line = trim(line);
    if (line.empty() || line.front() == '#') {
        return {};
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {
        return {};
    }
    return {true, trim(line.substr(0, colon)), trim(line.substr(colon + 1))};
}

/// The file's lines without their terminators, and whether each had a CR before its LF.
struct text_line {
    std::string_view body;
    std::string_view ending; ///< "\n", "\r\n" or "" for an unterminated last line
};

std::vector<text_line> split_lines(std::string_view text) {
    std::vector<text_line> lines;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const auto nl = text.find('\n', pos);
        if (nl == std::string_view::npos) {
            lines.push_back({text.substr(pos), {}});
            break;
        }
        auto body = text.substr(pos, nl - pos);
        std::string_view ending = text.substr(nl, 1);
        if (!body.empty() && body.back() == '\r') {
            body.remove_suffix(1);
            ending = text.substr(nl - 1, 2);
        }
        lines.push_back({body, ending});
        pos = nl + 1;
    }
    return lines;
}

constexpr bool is_base64_char(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/// Strict standard base64 with padding into exactly `out.size()` bytes.
template <std::size_t N>
bool decode_base64(std::string_view in, std::array<unsigned char, N>& out) noexcept {
    if (in.empty() || in.size() % 4 != 0) {
        return false;
    }
    std::size_t padding = 0;
    while (padding < 2 && in[in.size() - 1 - padding] == '=') {
        ++padding;
    }
    if (!std::all_of(in.begin(), in.end() - static_cast<std::ptrdiff_t>(padding), is_base64_char)) {
        return false;
    }
    if (in.size() / 4 * 3 - padding != N) {
        return false;
    }
    std::array<unsigned char, N + 3> buffer{};
    const int n = EVP_DecodeBlock(buffer.data(), reinterpret_cast<const unsigned char*>(in.data()),
                                  static_cast<int>(in.size()));
    if (n < 0 || static_cast<std::size_t>(n) != N + padding) {
        return false;
    }
    std::copy_n(buffer.begin(), N, out.begin());
    return true;
}

std::string encode_base64(const unsigned char* data, std::size_t size) {
    std::string out(4 * ((size + 2) / 3) + 1, '\0');
    const int n =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::runtime_error line_error(const std::string& name, std::size_t line, const std::string& why) {
    return std::runtime_error(name + ":" + std::to_string(line) + ": " + why);
}

std::string system_reason(int err) {
    return std::generic_category().message(err);
}

std::string read_file(const std::filesystem::path& file) {
    std::ifstream in{file, std::ios::binary};
    if (!in) {
        throw std::runtime_error(file.string() + ": cannot open: " + system_reason(errno));
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
        throw std::runtime_error(file.string() + ": cannot read: " + system_reason(errno));
    }
    return std::move(text).str();
}

/// Closes a descriptor and removes a temporary file unless released.
class temp_file_guard {
public:
    temp_file_guard(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
    temp_file_guard(const temp_file_guard&) = delete;
    temp_file_guard& operator=(const temp_file_guard&) = delete;
    ~temp_file_guard() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
        if (!path_.empty()) {
            ::unlink(path_.c_str());
        }
    }
    int fd() const noexcept { return fd_; }
    int close() noexcept {
        const int rc = ::close(fd_);
        fd_ = -1;
        return rc;
    }
    void release() noexcept { path_.clear(); }

private:
    int fd_;
    std::string path_;
};

} // namespace

password_file::password_file() {
    // The decoy's hash is random, so no password can match it by accident.
    RAND_bytes(decoy_.salt.data(), static_cast<int>(decoy_.salt.size()));
    RAND_bytes(decoy_.hash.data(), static_cast<int>(decoy_.hash.size()));
}

password_file password_file::load(const std::filesystem::path& file) {
    return parse(read_file(file), file.string());
}

password_file password_file::parse(std::string_view text, const std::string& name) {
    password_file result;
    std::map<std::string, std::size_t, std::less<>> first_line;
    std::map<unsigned, std::size_t> iteration_counts;
    std::size_t number = 0;
    for (const auto& line : split_lines(text)) {
        ++number;
        const auto body = trim(line.body);
        if (body.empty() || body.front() == '#') {
            continue;
        }
        const auto parts = split_line(body);
        if (!parts.is_user) {
            throw line_error(name, number, "expected user:hash (no ':' on this line)");
        }
        if (parts.user.empty()) {
            throw line_error(name, number, "empty user name before ':'");
        }
        const std::string user{parts.user};
        if (const auto it = first_line.find(user); it != first_line.end()) {
            throw line_error(name, number,
                             "user \"" + user + "\" is already defined on line " +
                                 std::to_string(it->second));
        }
        // "$7$iterations$salt$hash" or "$6$salt$hash"; nothing may follow the hash.
        const auto hash_text = parts.hash;
        std::vector<std::string_view> fields;
        std::size_t pos = 0;
        while (true) {
            const auto dollar = hash_text.find('$', pos);
            fields.push_back(hash_text.substr(pos, dollar - pos));
            if (dollar == std::string_view::npos) {
                break;
            }
            pos = dollar + 1;
        }
        entry e;
        std::string_view salt;
        std::string_view hash;
        if (fields.size() == 5 && fields[0].empty() && fields[1] == "7") {
            e.kind = scheme::pbkdf2_sha512;
            const auto digits = fields[2];
            const auto [end, ec] =
                std::from_chars(digits.data(), digits.data() + digits.size(), e.iterations);
            if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() ||
                e.iterations == 0 || e.iterations > max_iterations) {
                throw line_error(name, number,
                                 "user \"" + user + "\": iteration count \"" + std::string{digits} +
                                     "\" is not a number from 1 to " +
                                     std::to_string(max_iterations));
            }
            salt = fields[3];
            hash = fields[4];
        } else if (fields.size() == 4 && fields[0].empty() && fields[1] == "6") {
            e.kind = scheme::sha512;
            e.iterations = 1;
            salt = fields[2];
            hash = fields[3];
        } else {
            throw line_error(name, number,
                             "user \"" + user +
                                 "\": the password is not a $7$ (PBKDF2-SHA512) or $6$ "
                                 "(SHA-512) hash; a plain-text password file can be converted "
                                 "with `mosquitto_passwd -U FILE`, or the user set again with "
                                 "`edgemq passwd FILE USER`");
        }
        if (!decode_base64(salt, e.salt)) {
            throw line_error(name, number,
                             "user \"" + user + "\": the salt is not base64 of " +
                                 std::to_string(salt_size) + " bytes");
        }
        if (!decode_base64(hash, e.hash)) {
            throw line_error(name, number,
                             "user \"" + user + "\": the hash is not base64 of " +
                                 std::to_string(hash_size) + " bytes");
        }
        if (e.kind == scheme::pbkdf2_sha512) {
            ++iteration_counts[e.iterations];
        }
        first_line.emplace(user, number);
        result.users_.emplace(user, e);
    }
    // An unknown user costs what most known users cost: the most common PBKDF2 count (ties go
    // to the higher count), or plain SHA-512 when the file holds only $6$ lines.
    if (!iteration_counts.empty()) {
        auto most = iteration_counts.begin();
        for (auto it = iteration_counts.begin(); it != iteration_counts.end(); ++it) {
            if (it->second >= most->second) {
                most = it;
            }
        }
        result.decoy_.kind = scheme::pbkdf2_sha512;
        result.decoy_.iterations = most->first;
    } else if (!result.users_.empty()) {
        result.decoy_.kind = scheme::sha512;
        result.decoy_.iterations = 1;
    }
    return result;
}

bool password_file::matches(const entry& e, std::string_view password) noexcept {
    if (password.size() > static_cast<std::size_t>(INT_MAX)) {
        return false;
    }
    std::array<unsigned char, hash_size> computed{};
    bool ok = false;
    if (e.kind == scheme::pbkdf2_sha512) {
        ok = PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), e.salt.data(),
                               static_cast<int>(e.salt.size()), static_cast<int>(e.iterations),
                               EVP_sha512(), static_cast<int>(computed.size()),
                               computed.data()) == 1;
    } else {
        EVP_MD_CTX* ctx = EVP_MD_CTX_new();
        unsigned int size = 0;
        ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_sha512(), nullptr) == 1 &&
             EVP_DigestUpdate(ctx, password.data(), password.size()) == 1 &&
             EVP_DigestUpdate(ctx, e.salt.data(), e.salt.size()) == 1 &&
             EVP_DigestFinal_ex(ctx, computed.data(), &size) == 1 && size == computed.size();
        EVP_MD_CTX_free(ctx);
    }
    const bool equal = CRYPTO_memcmp(computed.data(), e.hash.data(), computed.size()) == 0;
    OPENSSL_cleanse(computed.data(), computed.size());
    return ok && equal;
}

bool password_file::verify(std::string_view user, std::string_view password) const noexcept {
    const auto it = users_.find(user);
    const bool known = it != users_.end();
    // Hash against the decoy for an unknown user so that the answer takes as long.
    const bool match = matches(known ? it->second : decoy_, password);
    return known && match;
}

bool password_file::contains(std::string_view user) const noexcept {
    return users_.find(user) != users_.end();
}

std::size_t password_file::size() const noexcept {
    return users_.size();
}

std::string hash_password(std::string_view password, unsigned iterations) {
    if (iterations == 0 || iterations > max_iterations) {
        throw std::invalid_argument("iterations must be from 1 to " +
                                    std::to_string(max_iterations));
    }
    if (password.size() > static_cast<std::size_t>(INT_MAX)) {
        throw std::invalid_argument("password too long");
    }
    std::array<unsigned char, salt_size> salt{};
    std::array<unsigned char, hash_size> hash{};
    if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) {
        throw std::runtime_error("OpenSSL RAND_bytes failed: no salt");
    }
    if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                          static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha512(),
                          static_cast<int>(hash.size()), hash.data()) != 1) {
        throw std::runtime_error("OpenSSL PKCS5_PBKDF2_HMAC failed");
    }
    auto result = "$7$" + std::to_string(iterations) + "$" +
                  encode_base64(salt.data(), salt.size()) + "$" +
                  encode_base64(hash.data(), hash.size());
    OPENSSL_cleanse(hash.data(), hash.size());
    return result;
}

void check_username(std::string_view user) {
    if (user.empty()) {
        throw std::invalid_argument("the user name is empty");
    }
    if (user.size() > 65535) {
        throw std::invalid_argument("the user name is longer than 65535 bytes (MQTT's limit)");
    }
    if (user.find(':') != std::string_view::npos) {
        throw std::invalid_argument("the user name holds ':', which separates user and hash");
    }
    if (user.find_first_of("\r\n") != std::string_view::npos) {
        throw std::invalid_argument("the user name holds a line break");
    }
    if (user.front() == '#') {
        throw std::invalid_argument("the user name starts with '#', which marks a comment");
    }
    if (trim(user).size() != user.size()) {
        throw std::invalid_argument(
            "the user name starts or ends with a blank, which Mosquitto trims away");
    }
}

std::string with_user(std::string_view text, std::string_view user, std::string_view hash) {
    check_username(user);
    std::string out;
    out.reserve(text.size() + user.size() + hash.size() + 2);
    bool found = false;
    for (const auto& line : split_lines(text)) {
        const auto parts = split_line(line.body);
        if (parts.is_user && parts.user == user) {
            found = true;
            out.append(user).append(":").append(hash);
        } else {
            out.append(line.body);
        }
        out.append(line.ending);
    }
    if (!found) {
        if (!out.empty() && out.back() != '\n') {
            out.push_back('\n');
        }
        out.append(user).append(":").append(hash).append("\n");
    }
    return out;
}

std::optional<std::string> without_user(std::string_view text, std::string_view user) {
    check_username(user);
    std::string out;
    out.reserve(text.size());
    bool found = false;
    for (const auto& line : split_lines(text)) {
        const auto parts = split_line(line.body);
        if (parts.is_user && parts.user == user) {
            found = true;
            continue;
        }
        out.append(line.body).append(line.ending);
    }
    if (!found) {
        return std::nullopt;
    }
    return out;
}

void write_file_atomically(const std::filesystem::path& file, std::string_view text) {
    namespace fs = std::filesystem;
    std::error_code ec;
    // Replace a symlink's target, not the link.
    fs::path target = file;
    if (fs::is_symlink(fs::symlink_status(file, ec))) {
        target = fs::weakly_canonical(file, ec);
        if (ec) {
            throw std::runtime_error(file.string() + ": cannot resolve symlink: " + ec.message());
        }
    }
    const auto name = target.string();
    struct stat old {};
    const bool exists = ::stat(name.c_str(), &old) == 0;
    if (!exists && errno != ENOENT) {
        throw std::runtime_error(name + ": " + system_reason(errno));
    }
    if (exists && !S_ISREG(old.st_mode)) {
        throw std::runtime_error(name + ": not a regular file");
    }

    std::string temp = name + ".XXXXXX";
    // mkstemp creates the file 0600 and exclusively, so the text is never readable by others.
    const int fd = ::mkstemp(temp.data());
    if (fd < 0) {
        throw std::runtime_error(
            name + ": cannot create a temporary file next to it: " + system_reason(errno));
    }
    temp_file_guard guard{fd, temp};
    const auto fail = [&](const char* what) {
        return std::runtime_error(name + ": " + what + ": " + system_reason(errno) +
                                  " (file left unchanged)");
    };
    std::size_t written = 0;
    while (written < text.size()) {
        const auto n = ::write(fd, text.data() + written, text.size() - written);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw fail("cannot write");
        }
        written += static_cast<std::size_t>(n);
    }
    if (exists) {
        if ((old.st_uid != ::geteuid() || old.st_gid != ::getegid()) &&
            ::fchown(fd, old.st_uid, old.st_gid) != 0) {
            throw fail("cannot keep the file's owner and group");
        }
        if (::fchmod(fd, old.st_mode & 07777) != 0) {
            throw fail("cannot keep the file's mode");
        }
    }
    if (::fsync(fd) != 0) {
        throw fail("cannot sync");
    }
    if (guard.close() != 0) {
        throw fail("cannot close");
    }
    if (::rename(temp.c_str(), name.c_str()) != 0) {
        throw fail("cannot rename the temporary file over it");
    }
    guard.release();
    // The rename is durable once the directory is; failing to sync it is not worth an error.
    auto dir = target.parent_path();
    if (dir.empty()) {
        dir = ".";
    }
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
        ::fsync(dir_fd);
        ::close(dir_fd);
    }
}

namespace {

std::string read_existing_password_file(const std::filesystem::path& file) {
    auto text = read_file(file);
    // Refuse to edit a file the broker would refuse: the error names the line to fix.
    (void)password_file::parse(text, file.string());
    return text;
}

} // namespace

void set_password(const std::filesystem::path& file, std::string_view user,
                  std::string_view password, bool create, unsigned iterations) {
    check_username(user);
    const std::string text = create ? std::string{} : read_existing_password_file(file);
    write_file_atomically(file, with_user(text, user, hash_password(password, iterations)));
}

bool remove_user(const std::filesystem::path& file, std::string_view user) {
    check_username(user);
    const auto edited = without_user(read_existing_password_file(file), user);
    if (!edited) {
        return false;
    }
    write_file_atomically(file, *edited);
    return true;
}

} // namespace edgemq::broker::auth
