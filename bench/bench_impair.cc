// What [[impair]] rules cost per forwarded packet: Impairer::look and apply over 1 K flows of
// handshakes, data and ACKs (the live-vs-testpmd shape), with the rule sets of
// bench/impair/: none, nine rules limited to a port the traffic never uses, and one rule
// that looks at every packet and changes none. Set beside BM_Pipeline_Established/1000 (the
// inspection of the same packets) for the "< 10 %" aim.

#include <benchmark/benchmark.h>

#include <cstring>

#include "alloc_counter.h"
#include "dataplane/impair/impairer.h"
#include "traffic.h"

namespace tcpsleuth {
namespace {

std::vector<ImpairRule> rule_set(int which) {
    std::vector<ImpairRule> rules;
    const auto add = [&](ImpairAction a, std::uint16_t port) {
        ImpairRule r;
        r.name = std::string(to_string(a)) + std::to_string(rules.size());
        r.action = a;
        if (port != 0) r.ports = {port};
        r.size = 1280;
        r.mss = 1360;
        r.offset = 1000;
        r.probability = a == ImpairAction::kLoss || a == ImpairAction::kMarkCe ? 0.01 : 1.0;
        rules.push_back(r);
    };
    if (which == 1) {
        for (const ImpairAction a : {ImpairAction::kDropLargerThan, ImpairAction::kStripOption, ImpairAction::kClampMss,
                                     ImpairAction::kDropEcnSyn, ImpairAction::kBleachEcn, ImpairAction::kEraseCe,
                                     ImpairAction::kMarkCe, ImpairAction::kShiftSeq, ImpairAction::kLoss}) {
            add(a, 1);
        }
    } else if (which == 2) {
        add(ImpairAction::kEraseCe, 0);
    }
    return rules;
}

// Arg: 0 no rules, 1 nine rules matching nothing, 2 one rule matching every packet.
void BM_Impair(benchmark::State& state) {
    const bench::Traffic t = bench::make_traffic(1000, 20, 18);
    Impairer imp(rule_set(static_cast<int>(state.range(0))), 1);
    std::vector<std::uint8_t> frame(2048);
    ImpairPacket p;
    std::size_t i = 0;
    const auto body = [&] {
        const RawPacket& r = t.packets[i];
        i = i + 1 == t.packets.size() ? 0 : i + 1;
        // A copy, as the rules write into the frame; the copy is the same in every arm.
        std::memcpy(frame.data(), r.data, r.cap_len);
        std::uint32_t len = r.cap_len;
        imp.look(frame.data(), len, p);
        benchmark::DoNotOptimize(imp.apply(frame.data(), len, p, r.ts_ns));
    };
    for (auto _ : state) body();
    state.SetItemsProcessed(state.iterations());
    const std::uint64_t a0 = bench::allocations();
    for (int k = 0; k < 100000; ++k) body();
    state.counters["allocs_per_pkt"] = double(bench::allocations() - a0) / 100000.0;
}
BENCHMARK(BM_Impair)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kNanosecond);

}  // namespace
}  // namespace tcpsleuth
