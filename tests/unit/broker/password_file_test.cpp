// SPDX-License-Identifier: Apache-2.0
// Mosquitto password files: known-answer vectors computed with Python's hashlib, lines written
// by Debian's mosquitto_passwd, malformed lines reported as FILE:LINE, hash_password round
// trips, and the editing helpers that `edgemq passwd` uses.
#include "edgemq/broker/auth/password_file.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>

namespace auth = edgemq::broker::auth;
namespace fs = std::filesystem;

namespace {

/// A fresh directory under the system temporary directory, removed with its contents.
class temp_dir {
public:
    temp_dir() {
        std::string pattern = (fs::temp_directory_path() / "edgemq-pw-XXXXXX").string();
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
    fs::path operator/(const std::string& name) const { return path_ / name; }

private:
    fs::path path_;
};

void write_text(const fs::path& file, const std::string& text) {
    std::ofstream{file, std::ios::binary} << text;
}

std::string read_text(const fs::path& file) {
    std::ifstream in{file, std::ios::binary};
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

unsigned file_mode(const fs::path& file) {
    struct stat st {};
    REQUIRE(::stat(file.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

/// Path of an executable found on PATH, or empty.
std::string find_on_path(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::stringstream dirs{path != nullptr ? path : "/usr/bin:/bin"};
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        const auto candidate = fs::path{dir.empty() ? "." : dir} / name;
        if (::access(candidate.c_str(), X_OK) == 0) {
            return candidate.string();
        }
    }
    return {};
}

/// Runs a shell command (arguments are fixed test strings, no quoting issues); its exit status.
int run(const std::string& command) {
    FILE* p = ::popen((command + " 2>&1").c_str(), "r");
    REQUIRE(p != nullptr);
    std::array<char, 256> buffer{};
    std::string output;
    while (std::fgets(buffer.data(), buffer.size(), p) != nullptr) {
        output += buffer.data();
    }
    const int status = ::pclose(p);
    INFO(command << "\n" << output);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string error_of(const std::string& text) {
    try {
        (void)auth::password_file::parse(text, "pw");
    } catch (const std::runtime_error& e) {
        return e.what();
    }
    return "(no error)";
}

} // namespace

// Known answers. Produced once with Python's hashlib, independent of OpenSSL's EVP code here:
//   python3 -c "import hashlib,base64; s=b'edgemq-salt1';
//     print(base64.b64encode(s).decode(),
//       base64.b64encode(hashlib.pbkdf2_hmac('sha512', b'correct horse', s, 101, 64)).decode(),
//       base64.b64encode(hashlib.pbkdf2_hmac('sha512', 'p\u00e4ss:word'.encode(), s, 1000,
//                                            64)).decode(),
//       base64.b64encode(hashlib.sha512(b'correct horse' + s).digest()).decode())"
constexpr const char* kat_file =
    "alice:$7$101$ZWRnZW1xLXNhbHQx$viPjuOAtU+HYBqTkNhGd/1+Diq+gzblBTfH5Fpb2HSjrgfU+G6jT5K+QvKrnI6Y"
    "n+bxHVO7/Iuh4yqmzJW/d6g==\n"
    "bob:$7$1000$ZWRnZW1xLXNhbHQx$p9zYmKehUtQqs4tcCyiDR/3T6a4JzLQydVY5ngjbIAybuQq2QCq3eXLJ0A99f7V"
    "EgRWw45x//7UOR8+XxxLdlw==\n"
    "carol:$6$ZWRnZW1xLXNhbHQx$LgDMuInZjMQJHGTXwdWpSZjd/dvMrJ5wv4ykTJLk1UKgcPbPR5l2S/LTLag4QM5Mu"
    "LgyQbtBMJTpVzQpTAgHDQ==\n";

TEST_CASE("password_file verifies known-answer $7$ and $6$ lines", "[auth]") {
    const auto pw = auth::password_file::parse(kat_file, "kat");
    CHECK(pw.size() == 3);
    CHECK(pw.contains("alice"));
    CHECK(pw.contains("bob"));
    CHECK(pw.contains("carol"));
    CHECK_FALSE(pw.contains("dave"));
    CHECK_FALSE(pw.contains("Alice")); // user names are case-sensitive, as in MQTT

    CHECK(pw.verify("alice", "correct horse"));
    CHECK(pw.verify("bob", "p\xc3\xa4ss:word")); // UTF-8 and ':' in a password are fine
    CHECK(pw.verify("carol", "correct horse"));  // Mosquitto 1.x SHA-512

    // Wrong passwords, near misses, another user's password, unknown users.
    CHECK_FALSE(pw.verify("alice", "correct horse "));
    CHECK_FALSE(pw.verify("alice", "correct hors"));
    CHECK_FALSE(pw.verify("alice", "Correct horse"));
    CHECK_FALSE(pw.verify("alice", ""));
    CHECK_FALSE(pw.verify("bob", "correct horse"));
    CHECK_FALSE(pw.verify("carol", "correct horsf"));
    CHECK_FALSE(pw.verify("dave", "correct horse"));
    CHECK_FALSE(pw.verify("", ""));
    CHECK_FALSE(pw.verify(std::string_view{"alice\0x", 7}, "correct horse"));
    CHECK_FALSE(pw.verify("alice", std::string_view{"correct\0horse", 13}));
    // HMAC pads its key with zero bytes, so PBKDF2 cannot tell trailing NULs apart (Python's
    // hashlib agrees). Only $7$ passwords ending in NUL bytes are affected, and they guess
    // nothing: "x\0" is as hard to find as "x".
    CHECK(pw.verify("alice", std::string_view{"correct horse\0", 14}));
    CHECK_FALSE(pw.verify("carol", std::string_view{"correct horse\0", 14})); // plain SHA-512
}

TEST_CASE("password_file reads comments, blank lines, blanks and CRLF as Mosquitto does",
          "[auth]") {
    const auto pw = auth::password_file::parse(
        "# site users\n"
        "\n"
        "   \t\n"
        "  # indented comment\r\n"
        " alice :$7$101$ZWRnZW1xLXNhbHQx$viPjuOAtU+HYBqTkNhGd/1+Diq+gzblBTfH5Fpb2HSjrgfU+G6jT5K+Q"
        "vKrnI6Yn+bxHVO7/Iuh4yqmzJW/d6g== \r\n"
        "carol:$6$ZWRnZW1xLXNhbHQx$LgDMuInZjMQJHGTXwdWpSZjd/dvMrJ5wv4ykTJLk1UKgcPbPR5l2S/LTLag4QM"
        "5MuLgyQbtBMJTpVzQpTAgHDQ==", // no final newline
        "pw");
    CHECK(pw.size() == 2);
    CHECK(pw.verify("alice", "correct horse"));
    CHECK(pw.verify("carol", "correct horse"));

    const auto empty = auth::password_file::parse("# nobody yet\n", "pw");
    CHECK(empty.size() == 0);
    CHECK_FALSE(empty.verify("alice", "correct horse"));
    CHECK_FALSE(auth::password_file{}.verify("", ""));
}

TEST_CASE("password_file refuses malformed lines with FILE:LINE", "[auth]") {
    const std::string salt = "ZWRnZW1xLXNhbHQx"; // 12 bytes
    const std::string hash = "viPjuOAtU+HYBqTkNhGd/1+Diq+gzblBTfH5Fpb2HSjrgfU+G6jT5K+QvKrnI6Yn+bx"
                             "HVO7/Iuh4yqmzJW/d6g=="; // 64 bytes
    struct bad_case {
        std::string line;
        std::string reason;
    };
    const auto c = GENERATE_COPY(values<bad_case>({
        {"alice", "expected user:hash"},
        {":$7$101$" + salt + "$" + hash, "empty user name"},
        {"alice:", "not a $7$"},
        {"alice:secret", "mosquitto_passwd -U"}, // plain text
        {"alice:$5$" + salt + "$" + hash, "not a $7$"},
        {"alice:$7$" + salt + "$" + hash, "not a $7$"}, // iterations missing
        {"alice:$7$$" + salt + "$" + hash, "iteration count \"\""},
        {"alice:$7$0$" + salt + "$" + hash, "iteration count \"0\""},
        {"alice:$7$-1$" + salt + "$" + hash, "iteration count \"-1\""},
        {"alice:$7$10x$" + salt + "$" + hash, "iteration count \"10x\""},
        {"alice:$7$99999999999$" + salt + "$" + hash, "iteration count"},
        {"alice:$7$10000001$" + salt + "$" + hash, "iteration count"}, // above max_iterations
        {"alice:$7$101$" + salt + "$" + hash + "$", "not a $7$"},
        {"alice:$7$101$" + salt, "not a $7$"},
        {"alice:$7$101$ZWRnZW1xLXNhbHQ$" + hash, "salt"},        // not a multiple of 4
        {"alice:$7$101$ZWRnZW1xLXNhbA==$" + hash, "salt"},       // 10 bytes
        {"alice:$7$101$ZWRnZW1x*XNhbHQx$" + hash, "salt"},       // not base64
        {"alice:$7$101$" + salt + "$" + hash.substr(4), "hash"}, // 61 bytes
        {"alice:$7$101$" + salt + "$" + hash.substr(0, 86) + "A=", "hash"},
        {"alice:$7$101$" + salt + "$" + hash + ":extra", "hash"},
        {"alice:$6$" + salt, "not a $7$"},
        {"alice:$6$" + salt + "$" + hash.substr(8), "hash"},
    }));
    INFO(c.line);
    const auto what = error_of("# header\n\n" + c.line + "\n");
    CHECK_THAT(what, Catch::StartsWith("pw:3: "));
    CHECK_THAT(what, Catch::Contains(c.reason));
}

TEST_CASE("password_file refuses a user named twice, naming both lines", "[auth]") {
    const std::string line =
        "$7$101$ZWRnZW1xLXNhbHQx$viPjuOAtU+HYBqTkNhGd/1+Diq+gzblBTfH5Fpb2HSjrgfU+G6jT5K+QvKrnI6Yn"
        "+bxHVO7/Iuh4yqmzJW/d6g==\n";
    const auto what = error_of("alice:" + line + "bob:" + line + " alice:" + line);
    CHECK_THAT(what, Catch::StartsWith("pw:3: "));
    CHECK_THAT(what, Catch::Contains("already defined on line 1"));
}

TEST_CASE("password_file::load names the file when it cannot be read", "[auth]") {
    temp_dir dir;
    const auto missing = dir / "missing";
    try {
        (void)auth::password_file::load(missing);
        FAIL("no exception");
    } catch (const std::runtime_error& e) {
        CHECK_THAT(e.what(), Catch::StartsWith(missing.string() + ": cannot open"));
        CHECK_THAT(e.what(), Catch::Contains("No such file"));
    }
    const auto file = dir / "pw";
    write_text(file, "alice:nothash\n");
    CHECK_THROWS_WITH(auth::password_file::load(file), Catch::StartsWith(file.string() + ":1: "));
}

TEST_CASE("hash_password writes mosquitto_passwd's $7$ form and verifies", "[auth]") {
    const auto line = auth::hash_password("correct horse");
    // 12-byte salt: 16 base64 characters; 64-byte hash: 88 with padding.
    const std::regex form{R"(\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==)"};
    CHECK(std::regex_match(line, form));
    const auto pw = auth::password_file::parse("alice:" + line + "\n", "pw");
    CHECK(pw.verify("alice", "correct horse"));
    CHECK_FALSE(pw.verify("alice", "correct horse!"));

    // A fresh salt each time.
    std::set<std::string> seen;
    for (int i = 0; i < 8; ++i) {
        seen.insert(auth::hash_password("same"));
    }
    CHECK(seen.size() == 8);

    const auto slow = auth::hash_password("", 1000);
    CHECK_THAT(slow, Catch::StartsWith("$7$1000$"));
    CHECK(auth::password_file::parse("u:" + slow, "pw").verify("u", ""));
    const auto binary = std::string{"\0\xff\x01 ", 4};
    CHECK(auth::password_file::parse("u:" + auth::hash_password(binary, 1), "pw")
              .verify("u", binary));

    CHECK_THROWS_AS(auth::hash_password("x", 0), std::invalid_argument);
    CHECK_THROWS_AS(auth::hash_password("x", auth::max_iterations + 1), std::invalid_argument);
}

TEST_CASE("password_file verifies lines written by Debian's mosquitto_passwd", "[auth]") {
    const auto tool = find_on_path("mosquitto_passwd");
    if (tool.empty()) {
        FAIL("mosquitto_passwd is not installed (apt install mosquitto, or "
             "scripts/install-deps.sh --test)");
    }
    temp_dir dir;
    const auto file = dir / "passwd";
    // Default (PBKDF2-SHA512, "$7$") and the 1.x form ("$6$", -H sha512). The passwords are
    // fixed test strings without shell metacharacters.
    REQUIRE(run(tool + " -c -b " + file.string() + " alice 'correct horse'") == 0);
    REQUIRE(run(tool + " -b " + file.string() + " bob 'b0b:pass'") == 0);
    REQUIRE(run(tool + " -H sha512 -b " + file.string() + " carol legacy") == 0);
    const auto text = read_text(file);
    INFO(text);
    CHECK_THAT(text, Catch::Contains("alice:$7$101$"));
    CHECK_THAT(text, Catch::Contains("carol:$6$"));

    const auto pw = auth::password_file::load(file);
    CHECK(pw.size() == 3);
    CHECK(pw.verify("alice", "correct horse"));
    CHECK(pw.verify("bob", "b0b:pass"));
    CHECK(pw.verify("carol", "legacy"));
    CHECK_FALSE(pw.verify("alice", "correct horsE"));
    CHECK_FALSE(pw.verify("bob", "b0b"));
    CHECK_FALSE(pw.verify("carol", "Legacy"));
    CHECK_FALSE(pw.verify("mallory", "correct horse"));
}

TEST_CASE("check_username refuses names a password file cannot hold", "[auth]") {
    CHECK_NOTHROW(auth::check_username("alice"));
    CHECK_NOTHROW(auth::check_username("sensor 7")); // inner blanks survive Mosquitto's trim
    CHECK_NOTHROW(auth::check_username("a#"));
    CHECK_NOTHROW(auth::check_username("\xc3\xbc"));
    CHECK_THROWS_AS(auth::check_username(""), std::invalid_argument);
    CHECK_THROWS_AS(auth::check_username("a:b"), std::invalid_argument);
    CHECK_THROWS_AS(auth::check_username("a\nb"), std::invalid_argument);
    CHECK_THROWS_AS(auth::check_username("a\r"), std::invalid_argument);
    CHECK_THROWS_AS(auth::check_username("#a"), std::invalid_argument);
    CHECK_THROWS_AS(auth::check_username(" a"), std::invalid_argument);
    CHECK_THROWS_AS(auth::check_username("a\t"), std::invalid_argument);
    CHECK_THROWS_AS(auth::check_username(std::string(65536, 'a')), std::invalid_argument);
}

TEST_CASE("with_user and without_user keep every other line as it was", "[auth]") {
    const std::string text = "# users of site 7\r\n"
                             "alice:$7$101$old-alice\r\n"
                             "\n"
                             " bob :$6$old-bob\n"
                             "# carol:$7$in-a-comment\n"
                             "carol:$7$101$old-carol";

    SECTION("update in place, keeping the line ending") {
        CHECK(auth::with_user(text, "alice", "$7$101$new") == "# users of site 7\r\n"
                                                              "alice:$7$101$new\r\n"
                                                              "\n"
                                                              " bob :$6$old-bob\n"
                                                              "# carol:$7$in-a-comment\n"
                                                              "carol:$7$101$old-carol");
        // The user is matched by its trimmed name; the comment is not a user.
        CHECK(auth::with_user(text, "bob", "B") == "# users of site 7\r\n"
                                                   "alice:$7$101$old-alice\r\n"
                                                   "\n"
                                                   "bob:B\n"
                                                   "# carol:$7$in-a-comment\n"
                                                   "carol:$7$101$old-carol");
        CHECK(auth::with_user(text, "carol", "C") == "# users of site 7\r\n"
                                                     "alice:$7$101$old-alice\r\n"
                                                     "\n"
                                                     " bob :$6$old-bob\n"
                                                     "# carol:$7$in-a-comment\n"
                                                     "carol:C");
    }
    SECTION("add at the end, after a newline for an unterminated last line") {
        CHECK(auth::with_user(text, "dave", "D") == text + "\ndave:D\n");
        CHECK(auth::with_user("a:1\n", "dave", "D") == "a:1\ndave:D\n");
        CHECK(auth::with_user("", "dave", "D") == "dave:D\n");
        CHECK(auth::with_user(text, "Alice", "X") == text + "\nAlice:X\n");
    }
    SECTION("delete") {
        CHECK(auth::without_user(text, "alice") == "# users of site 7\r\n"
                                                   "\n"
                                                   " bob :$6$old-bob\n"
                                                   "# carol:$7$in-a-comment\n"
                                                   "carol:$7$101$old-carol");
        CHECK(auth::without_user(text, "carol") == "# users of site 7\r\n"
                                                   "alice:$7$101$old-alice\r\n"
                                                   "\n"
                                                   " bob :$6$old-bob\n"
                                                   "# carol:$7$in-a-comment\n");
        CHECK_FALSE(auth::without_user(text, "dave").has_value());
    }
    SECTION("bad user names") {
        CHECK_THROWS_AS(auth::with_user(text, "a:b", "x"), std::invalid_argument);
        CHECK_THROWS_AS(auth::without_user(text, ""), std::invalid_argument);
    }
}

TEST_CASE("set_password and remove_user edit files atomically with safe modes", "[auth]") {
    temp_dir dir;
    const auto file = dir / "passwd";

    SECTION("a new file is 0600 and verifies") {
        auth::set_password(file, "alice", "first", true);
        CHECK(file_mode(file) == 0600);
        auth::set_password(file, "bob", "second");
        auth::set_password(file, "alice", "changed");
        const auto pw = auth::password_file::load(file);
        CHECK(pw.size() == 2);
        CHECK(pw.verify("alice", "changed"));
        CHECK_FALSE(pw.verify("alice", "first"));
        CHECK(pw.verify("bob", "second"));
        const auto text = read_text(file);
        CHECK(text.find("alice:") < text.find("bob:")); // order kept across the update
        CHECK(text.find("first") == std::string::npos);
        CHECK(text.find("changed") == std::string::npos);

        CHECK(auth::remove_user(file, "alice"));
        CHECK_FALSE(auth::remove_user(file, "alice"));
        const auto after = auth::password_file::load(file);
        CHECK(after.size() == 1);
        CHECK(after.verify("bob", "second"));

        // -c starts over.
        auth::set_password(file, "carol", "third", true);
        CHECK(auth::password_file::load(file).size() == 1);
        CHECK(file_mode(file) == 0600);
        // No temporary files left behind.
        CHECK(std::distance(fs::directory_iterator{file.parent_path()}, fs::directory_iterator{}) ==
              1);
    }
    SECTION("an existing file keeps its mode and other lines byte for byte") {
        const std::string kept = "# kept\r\n"
                                 "carol:$6$ZWRnZW1xLXNhbHQx$LgDMuInZjMQJHGTXwdWpSZjd/dvMrJ5wv4ykTJL"
                                 "k1UKgcPbPR5l2S/LTLag4QM5MuLgyQbtBMJTpVzQpTAgHDQ==\r\n";
        write_text(file, kept);
        fs::permissions(file, fs::perms{0640});
        auth::set_password(file, "alice", "pw");
        CHECK(file_mode(file) == 0640);
        const auto text = read_text(file);
        CHECK(text.substr(0, kept.size()) == kept);
        const auto pw = auth::password_file::load(file);
        CHECK(pw.verify("carol", "correct horse"));
        CHECK(pw.verify("alice", "pw"));
    }
    SECTION("a file the broker would refuse is not edited") {
        write_text(file, "alice:plain\n");
        CHECK_THROWS_WITH(auth::set_password(file, "bob", "pw"),
                          Catch::StartsWith(file.string() + ":1: "));
        CHECK_THROWS_WITH(auth::remove_user(file, "alice"),
                          Catch::StartsWith(file.string() + ":1: "));
        CHECK(read_text(file) == "alice:plain\n");
        // -c replaces it.
        auth::set_password(file, "bob", "pw", true);
        CHECK(auth::password_file::load(file).verify("bob", "pw"));
    }
    SECTION("a missing file needs create") {
        CHECK_THROWS_WITH(auth::set_password(file, "bob", "pw"),
                          Catch::StartsWith(file.string() + ": cannot open"));
        CHECK_FALSE(fs::exists(file));
    }
    SECTION("a symlink keeps pointing at the replaced target") {
        const auto target = dir / "real";
        auth::set_password(target, "alice", "pw", true);
        fs::create_symlink(target, file);
        auth::set_password(file, "bob", "pw2");
        CHECK(fs::is_symlink(fs::symlink_status(file)));
        CHECK(auth::password_file::load(target).verify("bob", "pw2"));
        CHECK(auth::password_file::load(target).verify("alice", "pw"));
    }
}
