// Payload rules on the packet path: the whole pipeline on tcpsleuth-gen's HTTP traffic, with
// scanning off, the built-in rules, and 1,000 user rules besides. New connections keep
// coming (each lap opens every flow's next connection with a new ISN), so every direction's
// first bytes are scanned, streams are taken from the pool and returned: allocations per
// packet must stay 0 with all of it.

#include <benchmark/benchmark.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "alloc_counter.h"
#include "bench/gen/traffic_gen.h"
#include "config/config.h"
#include "config/rules.h"
#include "inspectors/flow/flow_table.h"
#include "inspectors/flow/pipeline.h"

namespace tcpsleuth {
namespace {

// The same shapes as bench/payload-rules: header signatures (regex) and error lines
// (caseless literals), none of which the generated traffic contains.
std::vector<RuleSpec> user_rules(int n) {
    std::vector<RuleSpec> out;
    for (int i = 0; i < n; ++i) {
        RuleSpec r;
        if (i % 2 == 0) {
            r.id = "user.header_" + std::to_string(i);
            r.pattern = "X-Trace-" + std::to_string(i) + ": [0-9a-f]{8}";
        } else {
            r.id = "user.error_" + std::to_string(i);
            r.pattern = "upstream error " + std::to_string(i) + " ";
            r.literal = true;
            r.caseless = true;
            r.direction = RuleDirection::kServer;
        }
        r.severity = RuleSeverity::kWarning;
        out.push_back(std::move(r));
    }
    return out;
}

void run_payload(benchmark::State& state, bool enabled, int extra_rules) {
    using gen::Frame;
    using gen::GenSpec;
    using gen::SizeMix;
    using gen::TrafficGen;
    GenSpec spec;
    spec.flows = 1000;
    spec.rounds = 8;
    spec.sizes = SizeMix::kImix;
    spec.http = true;
    TrafficGen traffic(spec);

    Config cfg;
    cfg.flows.capacity = 4096;
    cfg.payload.enabled = enabled;
    PayloadRules rules;
    rules.rules = user_rules(extra_rules);
    std::vector<RuleError> errors;
    cfg.payload.rules = compile_rules(rules, errors);
    if (!errors.empty()) {
        state.SkipWithError(("rules do not compile: " + errors[0].message).c_str());
        return;
    }
    FlowTable table(cfg.flows.capacity, 7);
    CoreCounters counters;
    SpscRing<Event> ring(1024);
    EventSink sink(ring, counters);
    Pipeline pipeline(cfg, table, sink, counters);

    // Each frame is copied out of the generator's buffer (valid until its next frame) into a
    // burst, as a NIC would have written it: the same cost in every variant.
    std::vector<std::array<std::uint8_t, 1536>> frames(Pipeline::kBurst);
    std::array<RawPacket, Pipeline::kBurst> burst{};
    const auto one_burst = [&] {
        for (std::size_t i = 0; i < Pipeline::kBurst; ++i) {
            const Frame f = traffic.next();
            std::memcpy(frames[i].data(), f.data, f.len);
            burst[i] = RawPacket{frames[i].data(), f.len, f.len, f.ts_ns, 0, 0};
        }
        pipeline.process_burst(burst.data(), Pipeline::kBurst, LinkType::kEthernet);
        Event e;
        while (ring.try_pop(e)) {}
    };
    // Warm: every flow through one whole lap.
    for (std::uint64_t i = 0; i < traffic.lap_packets() / Pipeline::kBurst; ++i) one_burst();
    const std::uint64_t scanned0 = counters.get(Counter::kPayloadScannedBytes);
    for (auto _ : state) one_burst();
    state.SetItemsProcessed(state.iterations() * Pipeline::kBurst);
    state.counters["scanned_bytes_per_pkt"] =
        double(counters.get(Counter::kPayloadScannedBytes) - scanned0) / double(state.iterations() * Pipeline::kBurst);
    const std::uint64_t a0 = bench::allocations();  // outside the timed loop
    for (int i = 0; i < 10000; ++i) one_burst();
    state.counters["allocs_per_pkt"] = double(bench::allocations() - a0) / (10000.0 * Pipeline::kBurst);
    state.counters["stream_bytes_per_flow"] = double(pipeline.payload().stream_bytes_per_flow());
}

void BM_Payload_Off(benchmark::State& state) { run_payload(state, false, 0); }
void BM_Payload_Builtin(benchmark::State& state) { run_payload(state, true, 0); }
void BM_Payload_User1000(benchmark::State& state) { run_payload(state, true, 1000); }
BENCHMARK(BM_Payload_Off);
BENCHMARK(BM_Payload_Builtin);
BENCHMARK(BM_Payload_User1000);

}  // namespace
}  // namespace tcpsleuth
