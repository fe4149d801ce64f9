// Flow table: both directions share an entry, IPv6 and VLAN keys, eviction when full,
// expiry, and a randomized comparison against std::map.

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

#include "inspectors/flow/flow_table.h"

namespace tcpsleuth {
namespace {

std::array<std::uint8_t, 16> v4(std::uint32_t a) {
    std::array<std::uint8_t, 16> out{};
    out[10] = out[11] = 0xff;
    out[12] = std::uint8_t(a >> 24);
    out[13] = std::uint8_t(a >> 16);
    out[14] = std::uint8_t(a >> 8);
    out[15] = std::uint8_t(a);
    return out;
}

FlowKey key(std::uint32_t src, std::uint16_t sport, std::uint32_t dst, std::uint16_t dport, Dir* dir = nullptr,
            std::uint16_t vlan = 0) {
    Dir d;
    FlowKey k = make_flow_key(v4(src), sport, v4(dst), dport, vlan, 4, d);
    if (dir) *dir = d;
    return k;
}

auto no_evict = [](FlowState&) { FAIL() << "unexpected eviction"; };

TEST(FlowKey, BothDirectionsGiveOneKeyAndOppositeDirs) {
    Dir a, b;
    const FlowKey k1 = key(0xc6120102, 40000, 0xc6120202, 80, &a);
    const FlowKey k2 = key(0xc6120202, 80, 0xc6120102, 40000, &b);
    EXPECT_EQ(k1, k2);
    EXPECT_NE(a, b);
}

TEST(FlowKey, SameAddressesDifferentPortsOrVlanAreDifferentFlows) {
    EXPECT_NE(key(1, 1000, 2, 80), key(1, 1001, 2, 80));
    EXPECT_NE(key(1, 1000, 2, 80, nullptr, 10), key(1, 1000, 2, 80, nullptr, 20));
    Dir a, b;  // identical addresses: the port decides the order
    const FlowKey k1 = key(5, 1000, 5, 2000, &a);
    const FlowKey k2 = key(5, 2000, 5, 1000, &b);
    EXPECT_EQ(k1, k2);
    EXPECT_NE(a, b);
}

TEST(FlowTable, BothDirectionsFindOneEntry) {
    FlowTable t(64, 1);
    const FlowKey k = key(0xc6120102, 40000, 0xc6120202, 80);
    auto r1 = t.find_or_insert(k, t.hash(k), no_evict);
    ASSERT_TRUE(r1.created);
    const FlowKey back = key(0xc6120202, 80, 0xc6120102, 40000);
    auto r2 = t.find_or_insert(back, t.hash(back), no_evict);
    EXPECT_FALSE(r2.created);
    EXPECT_EQ(r1.flow, r2.flow);
    EXPECT_EQ(t.size(), 1u);
    EXPECT_EQ(r1.flow->common.id, 1u);
}

TEST(FlowTable, Ipv6Keys) {
    FlowTable t(64, 2);
    std::array<std::uint8_t, 16> a{0x20, 0x01, 0x0d, 0xb8}, b{0x20, 0x01, 0x0d, 0xb8};
    a[15] = 1;
    b[15] = 2;
    Dir d1, d2;
    const FlowKey k1 = make_flow_key(a, 5555, b, 443, 0, 6, d1);
    const FlowKey k2 = make_flow_key(b, 443, a, 5555, 0, 6, d2);
    auto r1 = t.find_or_insert(k1, t.hash(k1), no_evict);
    auto r2 = t.find_or_insert(k2, t.hash(k2), no_evict);
    EXPECT_EQ(r1.flow, r2.flow);
    EXPECT_NE(d1, d2);
}

TEST(FlowTable, FullTableEvictsTheLongestIdleSampledFlowAndKeepsTracking) {
    FlowTable t(16, 3);  // small enough that the eviction sample covers the whole table
    for (std::uint32_t i = 0; i < 16; ++i) {
        const FlowKey k = key(1, static_cast<std::uint16_t>(1000 + i), 2, 80);
        auto r = t.find_or_insert(k, t.hash(k), no_evict);
        r.flow->common.last_ns = 100 + (i == 5 ? 0 : i + 10);  // flow #6 (i = 5) is the idlest
    }
    ASSERT_EQ(t.size(), 16u);
    std::uint32_t evicted_id = 0;
    const FlowKey extra = key(1, 5000, 2, 80);
    auto r = t.find_or_insert(extra, t.hash(extra), [&](FlowState& f) { evicted_id = f.common.id; });
    EXPECT_TRUE(r.created);
    EXPECT_EQ(evicted_id, 6u);
    EXPECT_EQ(t.size(), 16u);
    EXPECT_EQ(t.evictions(), 1u);
    const FlowKey gone = key(1, 1005, 2, 80);
    EXPECT_EQ(t.find(gone, t.hash(gone)), nullptr);
    EXPECT_NE(t.find(extra, t.hash(extra)), nullptr);
    for (std::uint32_t i = 0; i < 16; ++i) {  // every other flow is still there
        if (i == 5) continue;
        const FlowKey k = key(1, static_cast<std::uint16_t>(1000 + i), 2, 80);
        EXPECT_NE(t.find(k, t.hash(k)), nullptr) << i;
    }
}

TEST(FlowTable, ExpireSomeRemovesOnlyIdleFlowsWithinBudget) {
    FlowTable t(64, 4);
    for (std::uint32_t i = 0; i < 10; ++i) {
        const FlowKey k = key(1, static_cast<std::uint16_t>(1000 + i), 2, 80);
        t.find_or_insert(k, t.hash(k), no_evict).flow->common.last_ns = i % 2 == 0 ? 0 : 1000;
    }
    std::size_t expired = 0;
    const auto idle = [](const FlowState& f) { return f.common.last_ns == 0; };
    EXPECT_EQ(t.expire_some(4, idle, [&](FlowState&) { ++expired; }), 2u);  // entries 0..3: two idle
    EXPECT_EQ(t.expire_some(100, idle, [&](FlowState&) { ++expired; }), 3u);
    EXPECT_EQ(expired, 5u);
    EXPECT_EQ(t.size(), 5u);
}

TEST(FlowTable, SweepFilterOpensExactlyTheEntriesQuietLongEnough) {
    // Two tables fed the same flows and times: one sweeps with the activity lane's filter,
    // one opens every entry. The filter may pass over only entries whose last packet is less
    // than quiet_ns before now: the same flows expire, and on_kept sees every kept flow that
    // has been quiet that long. Random times, removals and re-insertions (free entries and
    // reused ones, a flow never noted) across many sweeps.
    constexpr std::uint64_t kQuiet = 1000, kIdle = 3000;
    FlowTable filtered(256, 11), plain(256, 11);
    std::mt19937 rng(3);
    std::uint64_t now = 10'000;
    std::vector<std::uint32_t> expired_f, expired_p, quiet_f, quiet_p;
    for (int round = 0; round < 400; ++round) {
        for (int i = 0; i < 8; ++i) {
            const FlowKey k = key(1, static_cast<std::uint16_t>(rng() % 300), 2, 80);
            const std::uint64_t t = now - rng() % 5000;
            for (FlowTable* table : {&filtered, &plain}) {
                FlowState& f = *table->find_or_insert(k, table->hash(k), [](FlowState&) {}).flow;
                f.common.last_ns = std::max(f.common.last_ns, t);  // as the tracker keeps it: never back
                if (i != 0) table->note_activity(f);  // one in eight not noted: the lane is older, still opened
            }
        }
        now += rng() % 400;
        const auto sweep = [&](FlowTable& t, FlowTable::SweepFilter filter, std::vector<std::uint32_t>& expired,
                               std::vector<std::uint32_t>& quiet) {
            t.expire_some(
                37, filter, [&](const FlowState& f) { return now > f.common.last_ns && now - f.common.last_ns > kIdle; },
                [&](FlowState& f) { expired.push_back(f.common.id); },
                [&](FlowState& f) {
                    if (now > f.common.last_ns && now - f.common.last_ns >= kQuiet) quiet.push_back(f.common.id);
                });
        };
        sweep(filtered, {.now_ns = now, .quiet_ns = kQuiet}, expired_f, quiet_f);
        sweep(plain, {}, expired_p, quiet_p);
    }
    EXPECT_GT(expired_p.size(), 100u);
    EXPECT_GT(quiet_p.size(), 100u);
    EXPECT_EQ(expired_f, expired_p);
    EXPECT_EQ(quiet_f, quiet_p);
    EXPECT_EQ(filtered.size(), plain.size());
}

TEST(FlowTable, SweepFilterPassesOverFreeAndBusyEntriesUnread) {
    FlowTable t(64, 4);
    const FlowKey a = key(1, 1000, 2, 80), b = key(1, 1001, 2, 80), c = key(1, 1002, 2, 80);
    for (const FlowKey& k : {a, b, c}) {
        FlowState& f = *t.find_or_insert(k, t.hash(k), no_evict).flow;
        f.common.last_ns = 100;
        t.note_activity(f);
    }
    t.remove(t.find(b, t.hash(b)));
    t.find(c, t.hash(c))->common.last_ns = 950;  // busy since: noted below
    t.note_activity(*t.find(c, t.hash(c)));
    std::vector<std::uint32_t> opened;
    t.expire_some(
        3, {.now_ns = 1000, .quiet_ns = 500}, [](const FlowState&) { return false; }, [](FlowState&) {},
        [&](FlowState& f) { opened.push_back(f.common.id); });
    EXPECT_EQ(opened, std::vector<std::uint32_t>{1});  // one lap of the 3 entries: a only (b free, c quiet 50 < 500)
    opened.clear();
    t.expire_some(
        3, {.now_ns = 400, .quiet_ns = 500}, [](const FlowState&) { return true; }, [](FlowState&) {},
        [&](FlowState& f) { opened.push_back(f.common.id); });
    EXPECT_TRUE(opened.empty());  // nothing can have been quiet longer than the clock has run
    EXPECT_EQ(t.size(), 2u);
}

TEST(FlowTable, RandomOperationsMatchStdMap) {
    // Inserts and removals in a random order, checked against a model: exercises the
    // backward-shift deletion on long probe runs (small table, many collisions).
    FlowTable t(512, 5);
    std::map<std::uint32_t, FlowState*> model;
    std::mt19937 rng(7);
    for (int step = 0; step < 200000; ++step) {
        const std::uint32_t id = rng() % 700;
        const FlowKey k = key(id, 1, 0xffffffff, 2);
        const std::uint64_t h = t.hash(k);
        if (rng() % 3 == 0) {
            FlowState* f = t.find(k, h);
            ASSERT_EQ(f != nullptr, model.count(id) == 1) << "step " << step;
            if (f) {
                t.remove(f);
                model.erase(id);
            }
        } else if (model.size() < 512 || model.count(id)) {
            auto r = t.find_or_insert(k, h, no_evict);
            ASSERT_EQ(r.created, model.count(id) == 0) << "step " << step;
            if (!r.created) {
                ASSERT_EQ(model[id], r.flow);
            }
            model[id] = r.flow;
        }
        ASSERT_EQ(t.size(), model.size());
    }
    for (const auto& [id, f] : model) {
        const FlowKey k = key(id, 1, 0xffffffff, 2);
        EXPECT_EQ(t.find(k, t.hash(k)), f);
    }
}

TEST(FlowTable, SeedChangesTheHash) {
    FlowTable a(64, 1), b(64, 2);
    const FlowKey k = key(1, 2, 3, 4);
    EXPECT_NE(a.hash(k), b.hash(k));
}

}  // namespace
}  // namespace tcpsleuth
