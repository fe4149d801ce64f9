// The TCP tracker alone: one established segment's bookkeeping (sequence space, ACKs,
// windows, timestamps, retransmission and reordering classification), without parsing or
// table lookup, over 1 K flows whose state stays in cache.

#include <benchmark/benchmark.h>

#include <unordered_map>

#include "alloc_counter.h"
#include "dataplane/packet/parse.h"
#include "inspectors/flow/flow_key.h"
#include "inspectors/flow/tcp_tracker.h"
#include "traffic.h"

namespace tcpsleuth {
namespace {

struct KeyHash {
    std::size_t operator()(const FlowKey& k) const noexcept { return steer_hash(k); }
};

void BM_Tracker_Established(benchmark::State& state) {
    constexpr std::uint32_t kFlows = 1000;
    const bench::Traffic t = bench::make_traffic(kFlows, 64);
    // Everything but the tracker done ahead of time: parsed views and each one's flow.
    std::vector<PacketView> views(t.packets.size());
    std::vector<Dir> dirs(t.packets.size());
    std::vector<std::uint32_t> flow_of(t.packets.size());
    std::unordered_map<FlowKey, std::uint32_t, KeyHash> index;
    for (std::size_t i = 0; i < t.packets.size(); ++i) {
        const RawPacket& p = t.packets[i];
        if (parse_packet(p.data, p.cap_len, LinkType::kEthernet, views[i]) != ParseStatus::kOk) {
            state.SkipWithError("traffic did not parse");
            return;
        }
        views[i].ts_ns = p.ts_ns;
        flow_of[i] = index.try_emplace(make_flow_key(views[i], dirs[i]), static_cast<std::uint32_t>(index.size())).first->second;
    }
    std::vector<FlowCommon> flows(index.size());
    CoreCounters counters;
    const std::size_t first_data = std::size_t{kFlows} * 3;
    for (std::size_t i = 0; i < t.packets.size(); ++i) {
        FlowCommon& f = flows[flow_of[i]];
        if (i < first_data && i % 3 == 0) track_new_flow(views[i], dirs[i], f, counters);
        benchmark::DoNotOptimize(track_segment(views[i], dirs[i], f, counters));
        if (i + 1 == first_data) break;
    }
    std::size_t pos = first_data;
    const auto one = [&] {
        benchmark::DoNotOptimize(track_segment(views[pos], dirs[pos], flows[flow_of[pos]], counters));
        if (++pos == views.size()) pos = first_data;
    };
    for (auto _ : state) one();
    state.SetItemsProcessed(state.iterations());
    const std::uint64_t a0 = bench::allocations();
    for (int i = 0; i < 100000; ++i) one();
    state.counters["allocs_per_pkt"] = double(bench::allocations() - a0) / 100000.0;
    state.counters["bytes_per_flow_state"] = sizeof(FlowCommon);
}
BENCHMARK(BM_Tracker_Established);

}  // namespace
}  // namespace tcpsleuth
