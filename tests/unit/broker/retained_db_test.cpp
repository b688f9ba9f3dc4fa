// SPDX-License-Identifier: Apache-2.0
#include "edgemq/broker/persist/retained_db.hpp"

#include "scratch_dir.hpp"

#include <catch2/catch.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <sqlite3.h>

namespace {

using edgemq::broker::make_message;
using edgemq::broker::message_ptr;
using edgemq::broker::persist::retained_db;

spdlog::logger& quiet() {
    static auto log = std::make_shared<spdlog::logger>(
        "retained-test", std::make_shared<spdlog::sinks::null_sink_mt>());
    return *log;
}

/// The test's database file, in a directory that does not exist yet.
struct scratch : edgemq::test::scratch_dir {
    std::filesystem::path file() const { return path / "state" / "retained.db"; }
};

/// "topic=payload@qos" for each message, in order.
std::vector<std::string> shown(const std::vector<message_ptr>& ms) {
    std::vector<std::string> out;
    for (const auto& m : ms) {
        CHECK(m->retain);
        out.push_back(m->topic + "=" + m->payload + "@" + std::to_string(m->qos));
    }
    return out;
}

} // namespace

TEST_CASE("retained_db keeps the last message per topic across reopening, an empty payload "
          "deletes",
          "[unit][broker][persist]") {
    scratch s;
    {
        retained_db db{s.file(), quiet()};
        CHECK(db.load().empty());
        db.record(make_message("home/kitchen/temp", "21.5", 1, true));
        db.record(make_message("home/hall/light", "on", 0, true));
        db.record(make_message("home/kitchen/temp", "22.0", 1, true)); // replaces 21.5
        db.record(make_message("home/garage/door", std::string("\0\xff", 2), 2, true));
        db.record(make_message("home/hall/light", "", 0, true)); // deletes
        db.record(make_message("$SYS/broker/uptime", "5", 0, true)); // the broker's own
        db.flush();
    }
    retained_db db{s.file(), quiet()};
    CHECK(shown(db.load()) == std::vector<std::string>{"home/garage/door=" + std::string("\0\xff", 2) + "@2",
                                                       "home/kitchen/temp=22.0@1"});
}

TEST_CASE("retained_db writes what is pending when it is destroyed", "[unit][broker][persist]") {
    scratch s;
    {
        retained_db db{s.file(), quiet()};
        for (int i = 0; i < 1000; ++i) {
            db.record(make_message("t/" + std::to_string(i), "v" + std::to_string(i), 0, true));
        }
    }
    CHECK(retained_db{s.file(), quiet()}.load().size() == 1000);
}

TEST_CASE("retained_db: a second gateway on the same file is refused, an unreadable file is set "
          "aside",
          "[unit][broker][persist]") {
    scratch s;
    {
        retained_db first{s.file(), quiet()};
        first.record(make_message("a", "1", 0, true));
        first.flush(); // the exclusive lock is taken at the first write
        CHECK_THROWS_WITH((retained_db{s.file(), quiet()}),
                          Catch::Contains("locked by another process"));
    }
    std::ofstream{s.file(), std::ios::trunc}
        << "this is not an SQLite database, just bytes a torn write left\n" << std::string(5000, 'x');
    retained_db fresh{s.file(), quiet()};
    CHECK(fresh.load().empty());
    bool set_aside = false;
    for (const auto& e : std::filesystem::directory_iterator(s.file().parent_path())) {
        set_aside |= e.path().filename().string().starts_with("retained.db.corrupt-");
    }
    CHECK(set_aside);
}

TEST_CASE("retained_db keeps a message's 5.0 properties and its expiry across reopening, and does "
          "not load one that expired meanwhile",
          "[unit][broker][persist]") {
    using namespace std::chrono_literals;
    scratch dir;
    const auto now = std::chrono::steady_clock::now();
    {
        retained_db db{dir.file(), quiet()};
        edgemq::broker::message m{"sensor/a", "21.5", 1, true};
        auto& p = m.props.edit();
        p.content_type = "text/plain";
        p.payload_format_indicator = 1;
        p.user_properties = {{"unit", "C"}, {"unit", "celsius"}};
        m.expires_at = now + 1h;
        db.record(std::make_shared<const edgemq::broker::message>(m));
        edgemq::broker::message gone{"sensor/b", "old", 0, true};
        gone.expires_at = now + 200ms;
        db.record(std::make_shared<const edgemq::broker::message>(gone));
        db.record(make_message("sensor/c", "plain", 0, true));
        db.flush();
    }
    std::this_thread::sleep_for(300ms);
    retained_db db{dir.file(), quiet()};
    const auto all = db.load();
    REQUIRE(shown(all) == std::vector<std::string>{"sensor/a=21.5@1", "sensor/c=plain@0"});
    CHECK(all[0]->props->content_type == "text/plain");
    CHECK(all[0]->props->payload_format_indicator == 1);
    CHECK(all[0]->props->user_properties ==
          std::vector<edgemq::broker::codec::user_property>{{"unit", "C"}, {"unit", "celsius"}});
    const auto left = all[0]->expires_at - std::chrono::steady_clock::now();
    CHECK(left > 59min);
    CHECK(left <= 1h);
    CHECK(all[1]->props.empty());
    CHECK(all[1]->expires_at == std::chrono::steady_clock::time_point{});
}

TEST_CASE("retained_db opens a file written before properties were kept, and keeps them from then "
          "on",
          "[unit][broker][persist]") {
    scratch dir;
    std::filesystem::create_directories(dir.file().parent_path());
    {
        sqlite3* old = nullptr;
        REQUIRE(sqlite3_open(dir.file().c_str(), &old) == SQLITE_OK);
        REQUIRE(sqlite3_exec(old,
                             "CREATE TABLE retained (topic TEXT PRIMARY KEY, payload BLOB NOT NULL, "
                             "qos INTEGER NOT NULL) WITHOUT ROWID; "
                             "INSERT INTO retained VALUES ('a/1', 'before', 1)",
                             nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(old);
    }
    {
        retained_db db{dir.file(), quiet()};
        const auto all = db.load();
        CHECK(shown(all) == std::vector<std::string>{"a/1=before@1"});
        edgemq::broker::message m{"a/2", "after", 0, true};
        m.props.edit().content_type = "application/json";
        db.record(std::make_shared<const edgemq::broker::message>(m));
    }
    retained_db db{dir.file(), quiet()};
    const auto all = db.load();
    REQUIRE(shown(all) == std::vector<std::string>{"a/1=before@1", "a/2=after@0"});
    CHECK(all[1]->props->content_type == "application/json");
}
