// Flow table: both directions share an entry, IPv6 and VLAN keys, eviction when full,
// expiry, and a randomized comparison against std::map.

#include <gtest/gtest.h>

#include <map>
#include <random>

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
