// The whole per-packet pipeline (parse, table, tracker, inspectors) on realistic TCP
// traffic over 1 K, 100 K and 1 M concurrent flows, in bursts of 32.

#include <benchmark/benchmark.h>

#include "alloc_counter.h"
#include "config/config.h"
#include "inspectors/flow_table.h"
#include "inspectors/pipeline.h"
#include "traffic.h"

namespace tcpsleuth {
namespace {

void BM_Pipeline_Established(benchmark::State& state) {
    const auto flows = static_cast<std::uint32_t>(state.range(0));
    const std::uint32_t rounds = flows >= 1'000'000 ? 2 : (flows >= 100'000 ? 8 : 64);
    const bench::Traffic t = bench::make_traffic(flows, rounds);
    Config cfg;
    cfg.flows.capacity = flows + flows / 4;
    FlowTable table(cfg.flows.capacity, 7);
    CoreCounters counters;
    SpscRing<Event> ring(1024);
    EventSink sink(ring, counters);
    Pipeline pipeline(cfg, table, sink, counters);
    // Warm: all handshakes in, so the timed loop runs established traffic.
    const std::size_t first_data = static_cast<std::size_t>(flows) * 3;
    for (std::size_t i = 0; i < first_data; i += Pipeline::kBurst) {
        pipeline.process_burst(&t.packets[i], std::min<std::size_t>(Pipeline::kBurst, first_data - i), LinkType::kEthernet);
    }
    const std::size_t data_n = t.packets.size() - first_data;
    std::size_t pos = 0;
    const auto burst = [&] {
        const std::size_t n = std::min<std::size_t>(Pipeline::kBurst, data_n - pos);
        pipeline.process_burst(&t.packets[first_data + pos], n, LinkType::kEthernet);
        pos += n;
        if (pos == data_n) pos = 0;  // replay: sequence numbers repeat, counted as retransmissions
        Event e;
        while (ring.try_pop(e)) {}
    };
    for (auto _ : state) burst();
    state.SetItemsProcessed(state.iterations() * Pipeline::kBurst);
    const std::uint64_t a0 = bench::allocations();  // outside the timed loop
    for (int i = 0; i < 10000; ++i) burst();
    state.counters["allocs_per_pkt"] = double(bench::allocations() - a0) / (10000.0 * Pipeline::kBurst);
    state.counters["flows"] = table.size();
}
BENCHMARK(BM_Pipeline_Established)->Arg(1000)->Arg(100000)->Arg(1000000)->Unit(benchmark::kNanosecond);

}  // namespace
}  // namespace tcpsleuth
