// SPDX-License-Identifier: Apache-2.0
//
// libFuzzer target: the Mosquitto password file reader and the editing helpers of
// `edgemq passwd` (auth/password_file.hpp). The input is the file's text, optionally followed
// by a NUL and a user name to edit (default "alice").
//
// Expected: parse throws std::runtime_error for a bad file, the helpers std::invalid_argument
// for a bad user name; anything else escapes and is a finding. For a file that parses:
// * with_user gives a file that parses, holds the user, and has one user more if it was new;
// * without_user gives nothing exactly when the user was not there, else a file that parses
//   without the user and with one user less;
// * verify never matches a wrong password (checked only where hashing is cheap: PBKDF2 counts
//   up to 10,000,000 are valid and would make one input take seconds).
#include "edgemq/broker/auth/password_file.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>

namespace auth = edgemq::broker::auth;

namespace {

[[noreturn]] void fail(const char* what, std::string_view user) {
    std::fprintf(stderr, "fuzz_password_file: %s (user \"%.*s\")\n", what,
                 static_cast<int>(user.size()), user.data());
    std::abort();
}

/// A valid line's hash: "correct horse" with PBKDF2, 101 iterations (the unit tests' vector).
constexpr std::string_view good_hash =
    "$7$101$ZWRnZW1xLXNhbHQx$viPjuOAtU+HYBqTkNhGd/1+Diq+gzblBTfH5Fpb2HSjrgfU+G6jT5K+QvKrnI6Y"
    "n+bxHVO7/Iuh4yqmzJW/d6g==";

/// parse, with the documented exception type (exactly std::runtime_error) turned into false.
bool try_parse(std::string_view text, auth::password_file& out) {
    try {
        out = auth::password_file::parse(text, "fuzz.pw");
        return true;
    } catch (const std::runtime_error& e) {
        if (typeid(e) != typeid(std::runtime_error)) {
            throw; // a subclass (regex_error, system_error...) is not the documented error
        }
        return false;
    }
}

/// Whether every "$7$<count>" in `text` has a small count, so that verify is cheap.
bool cheap_to_verify(std::string_view text) {
    for (auto pos = text.find("$7$"); pos != std::string_view::npos;
         pos = text.find("$7$", pos + 1)) {
        std::size_t digits = 0;
        unsigned long count = 0;
        for (auto i = pos + 3; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
            count = count * 10 + static_cast<unsigned long>(text[i] - '0');
            if (++digits > 5) {
                return false;
            }
        }
        if (count > 2000) {
            return false;
        }
    }
    return true;
}

bool valid_user(std::string_view user) {
    try {
        auth::check_username(user);
        return true;
    } catch (const std::invalid_argument&) {
        return false;
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input{reinterpret_cast<const char*>(data), size};
    const auto nul = input.find('\0');
    const auto text = input.substr(0, nul);
    const auto user =
        nul == std::string_view::npos ? std::string_view{"alice"} : input.substr(nul + 1);

    auth::password_file file;
    if (!try_parse(text, file)) {
        return 0;
    }
    if (cheap_to_verify(text) && file.verify(user, "not the password")) {
        fail("verify matched a password that no line hashes", user);
    }
    if (!valid_user(user)) {
        try {
            (void)auth::with_user(text, user, good_hash);
            fail("with_user took a user name that check_username refuses", user);
        } catch (const std::invalid_argument&) {
        }
        return 0;
    }
    const bool had = file.contains(user);

    const auto added = auth::with_user(text, user, good_hash);
    auth::password_file after;
    if (!try_parse(added, after)) {
        fail("with_user made a file that does not parse", user);
    }
    if (!after.contains(user) || after.size() != file.size() + (had ? 0 : 1)) {
        fail("with_user did not add or replace exactly that user", user);
    }
    if (!after.verify(user, "correct horse")) {
        fail("with_user's line does not verify", user);
    }

    const auto removed = auth::without_user(text, user);
    if (removed.has_value() != had) {
        fail("without_user disagrees with contains", user);
    }
    if (removed) {
        auth::password_file rest;
        if (!try_parse(*removed, rest)) {
            fail("without_user made a file that does not parse", user);
        }
        if (rest.contains(user) || rest.size() + 1 != file.size()) {
            fail("without_user did not remove exactly that user", user);
        }
    }
    return 0;
}
