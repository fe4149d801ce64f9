// The whole per-packet pipeline (parse, table, tracker, inspectors) on realistic TCP
// traffic over 1 K, 100 K and 1 M concurrent flows, in bursts of 32; and at 1 K flows with
// one inspector at a time (the others switched off), so each inspector's cost is the
// difference from BM_Pipeline_NoInspectors.

#include <benchmark/benchmark.h>

#include "alloc_counter.h"
#include "config/config.h"
#include "inspectors/flow/flow_table.h"
#include "inspectors/flow/pipeline.h"
#include "traffic.h"

namespace tcpsleuth {
namespace {

void run_established(benchmark::State& state, std::uint32_t flows, const Config& base) {
    const std::uint32_t rounds = flows >= 1'000'000 ? 2 : (flows >= 100'000 ? 8 : 64);
    constexpr std::uint16_t kPayload = 1448;
    bench::Traffic t = bench::make_traffic(flows, rounds, kPayload);
    Config cfg = base;
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
    const auto burst = [&](bool timed) {
        const std::size_t n = std::min<std::size_t>(Pipeline::kBurst, data_n - pos);
        pipeline.process_burst(&t.packets[first_data + pos], n, LinkType::kEthernet);
        pos += n;
        if (pos == data_n) {  // the next lap continues every connection (see next_lap)
            pos = 0;
            if (timed) state.PauseTiming();
            bench::next_lap(t, first_data, rounds * kPayload);
            if (timed) state.ResumeTiming();
        }
        Event e;
        while (ring.try_pop(e)) {}
    };
    for (auto _ : state) burst(true);
    state.SetItemsProcessed(state.iterations() * Pipeline::kBurst);
    const std::uint64_t a0 = bench::allocations();  // outside the timed loop
    for (int i = 0; i < 10000; ++i) burst(false);
    state.counters["allocs_per_pkt"] = double(bench::allocations() - a0) / (10000.0 * Pipeline::kBurst);
    state.counters["flows"] = table.size();
    // Healthy traffic: nothing resent, so no flow holds a cold record.
    state.counters["retransmissions"] = static_cast<double>(counters.get(Counter::kTcpRetransmissions));
    state.counters["cold_peak"] = table.cold_peak();
    state.counters["bytes_per_flow"] = double(table.memory_bytes()) / double(table.capacity());
}

void BM_Pipeline_Established(benchmark::State& state) {
    run_established(state, static_cast<std::uint32_t>(state.range(0)), Config{});
}
BENCHMARK(BM_Pipeline_Established)->Arg(1000)->Arg(100000)->Arg(1000000)->Unit(benchmark::kNanosecond);

Config none_enabled() {
    Config c;
    c.handshake.enabled = c.zero_window.enabled = c.syn_surge.enabled = c.mtu.enabled = c.options.enabled = false;
    c.window.enabled = c.ecn.enabled = c.sack.enabled = c.idle.enabled = c.rst.enabled = false;
    return c;
}

void BM_Pipeline_NoInspectors(benchmark::State& state) { run_established(state, 1000, none_enabled()); }
BENCHMARK(BM_Pipeline_NoInspectors);

// The packet history (`tcpsleuthctl pcap`, on by default in `run`) costs the difference
// between BM_Pipeline_Established and this.
void BM_Pipeline_NoHistory(benchmark::State& state) {
    Config c;
    c.history.packets = 0;
    run_established(state, static_cast<std::uint32_t>(state.range(0)), c);
}
BENCHMARK(BM_Pipeline_NoHistory)->Arg(1000)->Arg(1000000)->Unit(benchmark::kNanosecond);

// One benchmark per inspector: the pipeline with only that one on.
template <auto Member>
void BM_Inspector(benchmark::State& state) {
    Config c = none_enabled();
    (c.*Member).enabled = true;
    run_established(state, 1000, c);
}
BENCHMARK(BM_Inspector<&Config::handshake>)->Name("BM_Inspector/handshake");
BENCHMARK(BM_Inspector<&Config::zero_window>)->Name("BM_Inspector/zero_window");
BENCHMARK(BM_Inspector<&Config::syn_surge>)->Name("BM_Inspector/syn_surge");
BENCHMARK(BM_Inspector<&Config::mtu>)->Name("BM_Inspector/mtu");
BENCHMARK(BM_Inspector<&Config::options>)->Name("BM_Inspector/options");
BENCHMARK(BM_Inspector<&Config::window>)->Name("BM_Inspector/window");
BENCHMARK(BM_Inspector<&Config::ecn>)->Name("BM_Inspector/ecn");
BENCHMARK(BM_Inspector<&Config::sack>)->Name("BM_Inspector/sack");
BENCHMARK(BM_Inspector<&Config::idle>)->Name("BM_Inspector/idle");
BENCHMARK(BM_Inspector<&Config::rst>)->Name("BM_Inspector/rst");

}  // namespace
}  // namespace tcpsleuth
