#include <benchmark/benchmark.h>

#include "alloc_counter.h"
#include "dataplane/packet/parse.h"
#include "tests/support/frame_builder.h"

namespace tcpsleuth {
namespace {

using test::FrameBuilder;

void run(benchmark::State& state, const FrameBuilder::Bytes& f) {
    PacketView v;
    const auto body = [&] {
        benchmark::DoNotOptimize(parse_packet(f.data(), static_cast<std::uint32_t>(f.size()), LinkType::kEthernet, v));
        benchmark::DoNotOptimize(v);
    };
    for (auto _ : state) body();
    state.SetItemsProcessed(state.iterations());
    // Counted outside the timed loop, where the framework itself may allocate.
    const std::uint64_t a0 = bench::allocations();
    for (int i = 0; i < 100000; ++i) body();
    state.counters["allocs_per_pkt"] = double(bench::allocations() - a0) / 100000.0;
}

void BM_Parse_LinuxSyn(benchmark::State& s) {
    run(s, FrameBuilder().tcp(40000, 443).flags(kSyn).mss(1460).sack_perm().timestamps(1, 0).nop().wscale(7).build());
}
void BM_Parse_DataWithTimestamps(benchmark::State& s) {
    run(s, FrameBuilder().tcp(443, 40000).seq(1).ack(1).nop().nop().timestamps(5, 6).payload(1448).build());
}
void BM_Parse_AckWithSack(benchmark::State& s) {
    run(s, FrameBuilder().tcp(40000, 443).seq(1).ack(1).nop().nop().timestamps(5, 6).nop().nop().sack({{100, 200}, {300, 400}}).build());
}
void BM_Parse_Ipv6VlanData(benchmark::State& s) {
    run(s, FrameBuilder().vlan(10).ipv6("2001:db8::1", "2001:db8::2").tcp(443, 40000).nop().nop().timestamps(5, 6).payload(1200).build());
}
BENCHMARK(BM_Parse_LinuxSyn);
BENCHMARK(BM_Parse_DataWithTimestamps);
BENCHMARK(BM_Parse_AckWithSack);
BENCHMARK(BM_Parse_Ipv6VlanData);

}  // namespace
}  // namespace tcpsleuth
