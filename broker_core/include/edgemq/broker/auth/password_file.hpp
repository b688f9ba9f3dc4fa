// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "edgemq/broker/detail/string_hash.hpp"

#include <array>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

/// Mosquitto password files, so that a site's existing `password_file` works unchanged.
///
/// One `user:hash` per line; lines starting with `#` and blank lines are ignored, blanks around
/// the user and the hash are trimmed (as Mosquitto does). Two hash forms are read:
///
///   `$7$<iterations>$<base64 salt>$<base64 hash>`  PBKDF2-HMAC-SHA512, written by
///                                                  mosquitto_passwd 2.0 and by `edgemq passwd`
///   `$6$<base64 salt>$<base64 hash>`               SHA-512(password || salt), Mosquitto 1.x
///
/// The salt is 12 bytes and the hash 64 bytes, both base64 with padding; anything else is
/// refused at load time. Mosquitto logs and skips an entry it cannot read; edgemq refuses the
/// whole file instead, so that a typo cannot silently lock a user out or leave a plain-text
/// password in place.
namespace edgemq::broker::auth {

/// Iterations that `hash_password` uses unless told otherwise. This is mosquitto_passwd 2.0's
/// default, kept so that the files edgemq writes look like the ones a site already has and so
/// that a CONNECT costs what it costs on Mosquitto. The check runs on the I/O thread, one PBKDF2
/// run per CONNECT with a username: 0.13 ms at 101 iterations on the x86 build host (measured),
/// likely around 1 ms on a Pi 4 (estimated). OWASP's 210,000 would take about 0.3 s per CONNECT
/// on the build host and seconds on a Pi, which turns a CONNECT flood into a CPU exhaustion
/// attack and would force the check off the I/O thread. The file is written 0600, which is the
/// defence that matters for it; verification takes the count from each line, so a site that
/// wants more can pass `iterations` knowingly.
inline constexpr unsigned default_iterations = 101;

/// Salt and hash sizes of both Mosquitto forms.
inline constexpr std::size_t salt_size = 12;
inline constexpr std::size_t hash_size = 64;

/// Iteration counts above this are refused at load time: a corrupt or hostile line could
/// otherwise make one CONNECT take minutes.
inline constexpr unsigned max_iterations = 10'000'000;

/// A loaded password file: an immutable user -> hash table.
/// Thread safety: immutable after `load`; every const member may be called from any thread.
class password_file {
public:
    /// An empty table (no user verifies).
    password_file();

    /// Reads and parses `file`. Throws `std::runtime_error("FILE:LINE: reason")` for a line that
    /// is not `user:$6$...` or `user:$7$...` with a well-formed salt and hash, for a user named
    /// twice, and `std::runtime_error("FILE: reason")` when the file cannot be read.
    static password_file load(const std::filesystem::path& file);

    /// Parses file text; `name` is used in error messages only. Throws as `load`.
    static password_file parse(std::string_view text, const std::string& name);

    /// True when `user` is in the file and `password` hashes to its stored hash. The comparison
    /// is constant-time in the hash, and an unknown user costs one hash computation as well (at
    /// the file's most common iteration count), so timing does not reveal which users exist.
    /// Never throws. The caller decides what a CONNECT without a password means (Mosquitto
    /// refuses it for a user that is in the file); this only checks the bytes it is given.
    bool verify(std::string_view user, std::string_view password) const noexcept;

    /// True when `user` has a line in the file.
    bool contains(std::string_view user) const noexcept;

    /// Number of users.
    std::size_t size() const noexcept;

private:
    enum class scheme { sha512, pbkdf2_sha512 };

    struct entry {
        scheme kind = scheme::pbkdf2_sha512;
        unsigned iterations = default_iterations;
        std::array<unsigned char, salt_size> salt{};
        std::array<unsigned char, hash_size> hash{};
    };

    static bool matches(const entry& e, std::string_view password) noexcept;

    edgemq::broker::detail::string_map<entry> users_;
    entry decoy_; ///< hashed against when the user is unknown; never matches
};

/// Returns `$7$<iterations>$<salt>$<hash>` for `password` with a fresh 12-byte salt from the
/// OpenSSL CSPRNG, in the exact form mosquitto_passwd writes. Throws `std::invalid_argument` for
/// 0 or more than `max_iterations` iterations and `std::runtime_error` if OpenSSL fails.
std::string hash_password(std::string_view password, unsigned iterations = default_iterations);

/// Throws `std::invalid_argument` with a reason when `user` cannot be written as a line of a
/// password file: empty, longer than 65535 bytes, holding `:` or a line break, starting with
/// `#`, or with blanks at either end (Mosquitto would trim them away).
void check_username(std::string_view user);

/// Editing a password file's text without touching any other line. Lines keep their bytes and
/// order, including comments, blank lines and CRLF endings. Thread safety: pure functions.
///
/// `with_user` replaces the hash of every line for `user` (trimmed name before the first `:`)
/// or appends `user:hash` at the end. `without_user` drops the lines for `user` and returns
/// nullopt when there are none. Both throw `std::invalid_argument` from `check_username`.
std::string with_user(std::string_view text, std::string_view user, std::string_view hash);
std::optional<std::string> without_user(std::string_view text, std::string_view user);

/// Replaces `file` with `text` atomically: a temporary file in the same directory, fsync,
/// rename over the target, fsync of the directory. A new file gets mode 0600; an existing one
/// keeps its mode, owner and group (so a file owned by the broker's user stays readable by it
/// after root edits it). A symlink is followed and its target replaced. Throws
/// `std::runtime_error("FILE: reason")` and leaves the old file untouched on failure.
void write_file_atomically(const std::filesystem::path& file, std::string_view text);

/// Adds `user` or changes its password in `file`, hashing with `hash_password`. With `create`
/// the file is started empty (and made if missing); without it the file must exist and parse as
/// a password file, so the command cannot leave the broker a file it would refuse. Throws
/// `std::invalid_argument` for a bad username and `std::runtime_error("FILE[:LINE]: reason")`.
void set_password(const std::filesystem::path& file, std::string_view user,
                  std::string_view password, bool create = false,
                  unsigned iterations = default_iterations);

/// Removes `user` from `file`. Returns false, leaving the file untouched, when the user is not
/// in it. Throws as `set_password`.
bool remove_user(const std::filesystem::path& file, std::string_view user);

} // namespace edgemq::broker::auth
