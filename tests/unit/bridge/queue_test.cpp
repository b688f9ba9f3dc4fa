// SPDX-License-Identifier: Apache-2.0
#include "edgemq/bridge/queue.hpp"

#include "scratch_dir.hpp"

#include <catch2/catch.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <optional>

namespace {

using edgemq::bridge::durable_queue;
using edgemq::bridge::queued_message;
using edgemq::config::queue_full_policy;

spdlog::logger& quiet() {
    static auto log = std::make_shared<spdlog::logger>(
        "queue-test", std::make_shared<spdlog::sinks::null_sink_mt>());
    return *log;
}

/// The test's database file, in a directory that does not exist yet.
struct scratch : edgemq::test::scratch_dir {
    std::filesystem::path file() const { return path / "sub" / "bridge-up.db"; }
};

std::vector<queued_message> messages(int from, int to, std::uint8_t qos = 1) {
    std::vector<queued_message> out;
    for (int i = from; i < to; ++i) {
        out.push_back({0, "t/" + std::to_string(i), "payload-" + std::to_string(i), qos, false});
    }
    return out;
}

std::vector<std::string> topics(const std::vector<queued_message>& ms) {
    std::vector<std::string> out;
    for (const auto& m : ms) {
        out.push_back(m.topic);
    }
    return out;
}

} // namespace

TEST_CASE("durable_queue keeps messages in order until removed, across reopening",
          "[unit][bridge][queue]") {
    scratch s;
    {
        durable_queue q{s.file(), {}, quiet()};
        auto batch = messages(0, 5);
        const auto r = q.push(batch, 0);
        CHECK(r.ok);
        CHECK(r.dropped == 0);
        REQUIRE(batch.size() == 5);
        CHECK(batch.front().seq == 1);
        CHECK(batch.back().seq == 5);
        CHECK(q.size() == 5);
        CHECK(q.bytes() == 5 * (3 + 9));
        const std::int64_t acked[] = {1, 2};
        q.remove(acked);
        CHECK(q.size() == 3);
    }
    // A new process (the gateway restarted) finds what was not acknowledged.
    durable_queue q{s.file(), {}, quiet()};
    CHECK(q.size() == 3);
    const auto all = q.read_after(0, 100);
    CHECK(topics(all) == std::vector<std::string>{"t/2", "t/3", "t/4"});
    CHECK(all[0].payload == "payload-2");
    CHECK(all[0].qos == 1);
    // Sequence numbers keep growing after a restart, so a reader's cursor stays valid.
    auto more = messages(5, 6);
    q.push(more, 0);
    CHECK(more[0].seq == 6);
    CHECK(topics(q.read_after(4, 1)) == std::vector<std::string>{"t/4"});
}

TEST_CASE("durable_queue removes acknowledgements in any order, runs, repeats and dropped rows",
          "[unit][bridge][queue]") {
    scratch s;
    const durable_queue::limits bounds{12, 0, queue_full_policy::drop_oldest};
    std::optional<durable_queue> q;
    q.emplace(s.file(), bounds, quiet());
    auto batch = messages(0, 12); // seqs 1..12; t/0..t/9 are 12 bytes, t/10 and t/11 14
    q->push(batch, 0);
    REQUIRE(q->size() == 12);
    REQUIRE(q->bytes() == 10 * 12 + 2 * 14);
    // Three runs (2-4, 7, 9-10), out of order and with a repeat.
    const std::int64_t acked[] = {9, 3, 2, 7, 4, 10, 3};
    q->remove(acked);
    CHECK(q->size() == 6);
    CHECK(q->bytes() == 4 * 12 + 2 * 14);
    CHECK(topics(q->read_after(0, 100)) ==
          std::vector<std::string>{"t/0", "t/4", "t/5", "t/7", "t/10", "t/11"});
    // Rows already gone (dropped or removed before) are not counted again.
    auto more = messages(12, 20); // 14 more bytes each; the oldest not in flight make room
    const auto r = q->push(more, 1);
    CHECK(r.dropped == 2); // seqs 5 and 6
    REQUIRE(q->size() == 12);
    const auto bytes = q->bytes();
    const std::int64_t late[] = {1, 2, 3, 4, 5, 6, 7, 8};
    q->remove(late);
    CHECK(q->size() == 10);
    CHECK(q->bytes() == bytes - 2 * 12);
    CHECK(topics(q->read_after(0, 2)) == std::vector<std::string>{"t/10", "t/11"});
    // And after reopening, the file agrees with the counts.
    q.reset();
    q.emplace(s.file(), bounds, quiet());
    CHECK(q->size() == 10);
    CHECK(q->bytes() == bytes - 2 * 12);
}

TEST_CASE("a full durable_queue drops the oldest messages that are not in flight",
          "[unit][bridge][queue]") {
    scratch s;
    durable_queue q{s.file(), {10, 0, queue_full_policy::drop_oldest}, quiet()};
    auto first = messages(0, 10);
    q.push(first, 0);
    // Messages 1 and 2 are on the wire: they stay; 3, 4 and 5 make room for three more.
    auto next = messages(10, 13);
    const auto r = q.push(next, 2);
    CHECK(r.dropped == 3);
    CHECK(r.dropped_through == 5);
    CHECK(q.size() == 10);
    CHECK(topics(q.read_after(0, 3)) == std::vector<std::string>{"t/0", "t/1", "t/5"});
    CHECK(next.size() == 3);
}

TEST_CASE("a batch larger than the whole queue keeps only its newest messages",
          "[unit][bridge][queue]") {
    scratch s;
    durable_queue q{s.file(), {4, 0, queue_full_policy::drop_oldest}, quiet()};
    auto batch = messages(0, 10);
    const auto r = q.push(batch, 0);
    CHECK(r.dropped == 6);
    CHECK(topics(batch) == std::vector<std::string>{"t/6", "t/7", "t/8", "t/9"});
    CHECK(topics(q.read_after(0, 100)) == topics(batch));
}

TEST_CASE("drop_newest refuses what does not fit, max_bytes bounds too", "[unit][bridge][queue]") {
    scratch s;
    SECTION("drop_newest") {
        durable_queue q{s.file(), {3, 0, queue_full_policy::drop_newest}, quiet()};
        auto batch = messages(0, 5);
        const auto r = q.push(batch, 0);
        CHECK(r.dropped == 2);
        CHECK(topics(q.read_after(0, 100)) == std::vector<std::string>{"t/0", "t/1", "t/2"});
    }
    SECTION("max_bytes") {
        // Each message is 3 + 9 = 12 bytes; 40 bytes hold three.
        durable_queue q{s.file(), {0, 40, queue_full_policy::drop_oldest}, quiet()};
        auto batch = messages(0, 5);
        const auto r = q.push(batch, 0);
        CHECK(r.dropped == 2);
        CHECK(q.bytes() == 36);
        CHECK(topics(q.read_after(0, 100)) == std::vector<std::string>{"t/2", "t/3", "t/4"});
    }
}

TEST_CASE("an unreadable queue file is set aside and an empty queue started",
          "[unit][bridge][queue]") {
    scratch s;
    std::filesystem::create_directories(s.file().parent_path());
    std::ofstream{s.file()} << "this is not an SQLite database, just bytes a torn write left\n"
                            << std::string(5000, 'x');
    durable_queue q{s.file(), {}, quiet()};
    CHECK(q.size() == 0);
    auto batch = messages(0, 2);
    CHECK(q.push(batch, 0).ok);
    bool set_aside = false;
    for (const auto& e : std::filesystem::directory_iterator(s.file().parent_path())) {
        set_aside |= e.path().filename().string().starts_with("bridge-up.db.corrupt-");
    }
    CHECK(set_aside);
}

TEST_CASE("a queue file held by another gateway is refused with a reason",
          "[unit][bridge][queue]") {
    scratch s;
    durable_queue first{s.file(), {}, quiet()};
    auto batch = messages(0, 1);
    first.push(batch, 0); // the exclusive lock is taken at the first write
    CHECK_THROWS_WITH((durable_queue{s.file(), {}, quiet()}),
                      Catch::Contains("locked by another process"));
}
