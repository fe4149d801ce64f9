// Flow lookup at 1 K, 100 K and 1 M resident flows: keys hashed, prefetched and looked up in
// bursts of 32 the way the pipeline does it, in a random order (no cache-friendly replay).

#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <vector>

#include "alloc_counter.h"
#include "inspectors/flow/flow_table.h"

namespace tcpsleuth {
namespace {

std::vector<FlowKey> make_keys(std::uint32_t n) {
    std::vector<FlowKey> keys(n);
    for (std::uint32_t i = 0; i < n; ++i) {
        std::array<std::uint8_t, 16> a{}, b{};
        a[10] = a[11] = b[10] = b[11] = 0xff;
        a[12] = 198; a[13] = 18; a[14] = std::uint8_t(i >> 8); a[15] = std::uint8_t(i);
        b[12] = 198; b[13] = 19; b[14] = std::uint8_t(i >> 24); b[15] = std::uint8_t(i >> 16);
        Dir d;
        keys[i] = make_flow_key(a, static_cast<std::uint16_t>(1024 + (i % 50000)), b, 443, 0, 4, d);
    }
    return keys;
}

void BM_FlowTable_Lookup(benchmark::State& state) {
    const auto n = static_cast<std::uint32_t>(state.range(0));
    FlowTable table(n, 42);
    const auto keys = make_keys(n);
    for (const auto& k : keys) table.find_or_insert(k, table.hash(k), [](FlowState&) {});
    std::vector<std::uint32_t> order(1 << 20);
    std::mt19937 rng(1);
    for (auto& o : order) o = rng() % n;
    std::size_t pos = 0;
    std::uint64_t hashes[32];
    const auto burst = [&] {
        for (int i = 0; i < 32; ++i) {
            hashes[i] = table.hash(keys[order[(pos + i) & (order.size() - 1)]]);
            table.prefetch(hashes[i]);
        }
        for (int i = 0; i < 32; ++i) table.prefetch_entry(hashes[i]);
        for (int i = 0; i < 32; ++i) {
            benchmark::DoNotOptimize(table.find(keys[order[(pos + i) & (order.size() - 1)]], hashes[i]));
        }
        pos += 32;
    };
    for (auto _ : state) burst();
    state.SetItemsProcessed(state.iterations() * 32);
    const std::uint64_t a0 = bench::allocations();  // outside the timed loop
    for (int i = 0; i < 10000; ++i) burst();
    state.counters["allocs_per_pkt"] = double(bench::allocations() - a0) / (10000.0 * 32);
    state.counters["bytes_per_flow"] = double(table.memory_bytes()) / n;
}
BENCHMARK(BM_FlowTable_Lookup)->Arg(1000)->Arg(100000)->Arg(1000000)->Arg(4000000);

void BM_FlowTable_InsertRemove(benchmark::State& state) {
    const auto n = static_cast<std::uint32_t>(state.range(0));
    FlowTable table(n + 32, 42);
    const auto keys = make_keys(n + 32);
    for (std::uint32_t i = 0; i < n; ++i) table.find_or_insert(keys[i], table.hash(keys[i]), [](FlowState&) {});
    std::uint32_t next = n;
    for (auto _ : state) {  // churn: one flow ends, a new one starts, table stays at n
        const FlowKey& old_key = keys[(next - n) % (n + 32)];
        if (FlowState* f = table.find(old_key, table.hash(old_key))) table.remove(f);
        const FlowKey& k = keys[next % (n + 32)];
        benchmark::DoNotOptimize(table.find_or_insert(k, table.hash(k), [](FlowState&) {}));
        ++next;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FlowTable_InsertRemove)->Arg(1000)->Arg(100000)->Arg(1000000)->Arg(4000000);

}  // namespace
}  // namespace tcpsleuth
