// SPDX-License-Identifier: Apache-2.0
#include "edgemq/broker/persist/retained_db.hpp"
#include "edgemq/broker/persist/session_db.hpp"

#include "scratch_dir.hpp"

#include <catch2/catch.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <mutex>
#include <vector>
#include <filesystem>
#include <fstream>

namespace {

using edgemq::broker::make_message;
using edgemq::broker::message;
using edgemq::broker::persist::session_db;
using edgemq::broker::persist::stored_session;
using edgemq::broker::protocol::delivery;
using edgemq::broker::protocol::subscription_options;
using stage = edgemq::broker::protocol::state_journal::stage;

spdlog::logger& quiet() {
    static auto log = std::make_shared<spdlog::logger>(
        "session-db-test", std::make_shared<spdlog::sinks::null_sink_mt>());
    return *log;
}

struct scratch : edgemq::test::scratch_dir {
    std::filesystem::path file() const { return path / "state" / "sessions.db"; }
};

stored_session row(std::uint64_t sid, std::string id, std::uint32_t expiry, bool connected) {
    stored_session s;
    s.sid = sid;
    s.client_id = std::move(id);
    s.expiry_interval = expiry;
    s.connected = connected;
    s.disconnected_at = connected ? 0 : 1'700'000'000;
    return s;
}

delivery queued(std::uint64_t seq, std::string payload, std::uint8_t qos = 1) {
    std::string topic = "t/";
    topic += std::to_string(seq); // (not "t/" + ...: GCC 12 warns falsely, -Wrestrict)
    auto m = std::make_shared<message>(message{std::move(topic), std::move(payload), qos});
    m->props.edit().user_properties.push_back({"k", "v"});
    delivery d{std::move(m), qos, false};
    d.seq = seq;
    d.subscription_ids = {7, 300};
    return d;
}

} // namespace

TEST_CASE("session store: sessions, subscriptions, messages and QoS 2 ids come back in order",
          "[persist]") {
    scratch dir;
    std::atomic<std::uint64_t> reported{0};
    {
        session_db db{dir.file(), false, quiet()};
        CHECK(db.load().empty());
        db.start([&](std::uint64_t through, bool ok) {
            CHECK(ok);
            reported = through;
        });
        const auto sid = db.new_sid();
        auto s = row(sid, "psub", 3600, true);
        s.username = "alice";
        s.will = make_message("psub/status", "offline", 1, true);
        s.will_delay = 30;
        db.record_session(s);
        db.record_subscription(sid, "t/#", {1, true, false, 7});
        db.record_subscription(sid, "$share/g/x", {2});
        db.record_unsubscription(sid, "$share/g/x");
        for (std::uint64_t seq = 1; seq <= 5; ++seq) {
            db.record_delivery(sid, queued(seq, std::string{"m"}.append(std::to_string(seq))));
        }
        db.sent(sid, 1, 11, stage::awaiting_puback);
        db.removed(sid, 2); // acknowledged before it was written: never reaches the disk
        db.flush();
        db.sent(sid, 3, 13, stage::awaiting_pubrec); // after the write: an UPDATE
        db.sent(sid, 3, 13, stage::awaiting_pubcomp);
        db.removed(sid, 4);
        db.inbound(sid, 42, true);
        db.inbound(sid, 43, true);
        const auto last = db.record_subscription(sid, "u/+", {0});
        db.inbound(sid, 43, false);
        db.flush();
        CHECK(db.committed() >= last);
        CHECK(reported >= last);

        const auto gone = db.new_sid();
        db.record_session(row(gone, "ended", 60, false));
        db.record_delivery(gone, queued(1, "x"));
        db.record_session_end(gone);
    }
    session_db db{dir.file(), false, quiet()};
    const auto all = db.load();
    REQUIRE(all.size() == 1);
    const auto& s = all[0];
    CHECK(s.client_id == "psub");
    CHECK(s.expiry_interval == 3600);
    CHECK(s.connected);
    CHECK(s.username == std::optional<std::string>{"alice"});
    REQUIRE(s.will);
    CHECK(s.will->topic == "psub/status");
    CHECK(s.will->payload == "offline");
    CHECK(s.will->retain);
    CHECK(s.will_delay == 30);
    REQUIRE(s.subscriptions.size() == 2);
    CHECK(s.subscriptions[0].first == "t/#");
    CHECK(s.subscriptions[0].second == subscription_options{1, true, false, 7});
    CHECK(s.subscriptions[1].first == "u/+");
    REQUIRE(s.deliveries.size() == 3);
    CHECK(s.deliveries[0].d.seq == 1);
    CHECK(s.deliveries[0].packet_id == 11);
    CHECK(s.deliveries[0].stage == stage::awaiting_puback);
    CHECK(s.deliveries[0].d.msg->payload == "m1");
    CHECK(s.deliveries[0].d.msg->props->user_properties.size() == 1);
    CHECK(s.deliveries[0].d.subscription_ids == std::vector<std::uint32_t>{7, 300});
    CHECK(s.deliveries[1].d.seq == 3);
    CHECK(s.deliveries[1].stage == stage::awaiting_pubcomp);
    CHECK(s.deliveries[2].d.seq == 5);
    CHECK(s.deliveries[2].stage == stage::queued);
    CHECK(s.deliveries[2].packet_id == 0);
    CHECK(s.inbound_qos2 == std::vector<std::uint16_t>{42});
    CHECK(db.new_sid() > s.sid);
}

TEST_CASE("session store: removals in runs take exactly the deliveries removed", "[persist]") {
    scratch dir;
    std::uint64_t a = 0, b = 0;
    {
        session_db db{dir.file(), false, quiet()};
        db.load();
        db.start({});
        a = db.new_sid();
        b = db.new_sid();
        db.record_session(row(a, "a", 3600, true));
        db.record_session(row(b, "b", 3600, true));
        for (std::uint64_t seq = 1; seq <= 8; ++seq) {
            db.record_delivery(a, queued(seq, "a"));
            db.record_delivery(b, queued(seq, "b"));
        }
        db.flush(); // written: what follows are DELETEs
        // Runs broken by a gap (a: 4 stays), by the other session, and by other changes.
        for (const std::uint64_t seq : {1, 2, 3, 5}) {
            db.removed(a, seq);
        }
        db.removed(b, 1);
        db.removed(a, 6);
        db.inbound(a, 9, true);
        db.removed(a, 7);
        db.removed(b, 2);
        db.removed(b, 4); // b: 3 stays
        db.flush();
    }
    session_db db{dir.file(), false, quiet()};
    const auto all = db.load();
    REQUIRE(all.size() == 2);
    const auto seqs = [&](std::uint64_t sid) {
        std::vector<std::uint64_t> out;
        for (const auto& s : all) {
            if (s.sid == sid) {
                for (const auto& d : s.deliveries) {
                    out.push_back(d.d.seq);
                }
            }
        }
        return out;
    };
    CHECK(seqs(a) == std::vector<std::uint64_t>{4, 8});
    CHECK(seqs(b) == std::vector<std::uint64_t>{3, 5, 6, 7, 8});
}

TEST_CASE("session store: an unreadable file is set aside and the broker starts empty",
          "[persist]") {
    scratch dir;
    std::filesystem::create_directories(dir.file().parent_path());
    std::ofstream{dir.file()} << std::string(8192, 'x');
    session_db db{dir.file(), true, quiet()};
    CHECK(db.load().empty());
    bool aside = false;
    for (const auto& e : std::filesystem::directory_iterator(dir.file().parent_path())) {
        aside = aside || e.path().filename().string().starts_with("sessions.db.corrupt-");
    }
    CHECK(aside);
}

TEST_CASE("session store: a retained message recorded with it is committed in the retained store "
          "before the position that covers it is reported",
          "[persist]") {
    scratch dir;
    auto store = std::make_shared<edgemq::broker::persist::retained_db>(
        dir.path / "state" / "retained.db", quiet());
    auto& retained = *store;
    std::mutex mutex;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> recorded; // (session, retained)
    std::atomic<bool> all_ok{true};
    std::atomic<int> early{0};
    {
        session_db db{dir.file(), false, quiet()};
        CHECK(db.load().empty());
        db.start([&](std::uint64_t through, bool ok) {
            all_ok = all_ok && ok;
            const auto done = retained.committed();
            const std::lock_guard lock{mutex};
            for (const auto& [position, in_retained] : recorded) {
                if (position <= through && in_retained > done) {
                    ++early; // reported before the retained store had it
                }
            }
        });
        for (int i = 0; i < 200; ++i) {
            const std::lock_guard lock{mutex};
            const auto at = retained.record(make_message("r/" + std::to_string(i % 7), "v", 1, true));
            REQUIRE(at != 0);
            recorded.emplace_back(db.record_handoff(store, at), at);
        }
        db.flush();
    }
    CHECK(all_ok);
    CHECK(early == 0);
    CHECK(retained.record(make_message("$SYS/x", "v", 0, true)) == 0); // never stored
}
