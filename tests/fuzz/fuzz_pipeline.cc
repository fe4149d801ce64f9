// libFuzzer target: frames through the whole per-packet path (parse and decapsulation, flow
// table, tracker, every detector, the payload scanner), then the flows explained and ended,
// and every event formatted and checked (check_event.h).
//
// Input layout (as Zeek's packet fuzzer splits one input into several packets, so that a
// flow's frames in sequence are explored, not single frames):
//   byte 0      setup: bits 0-2 link type, bit 3 a table of 4 flows (eviction, table full),
//               bit 4 payload rules with identification events, bit 5 a cold pool of 2,
//               bit 6 one worker of several (mirror sequences not judged)
//   then up to 64 frames, each: u16 captured length, u16 length on the wire (less than the
//   captured length: the same; more: a snapped frame), u8 gap, the captured bytes. Integers
//   are little-endian.
//   A gap of 0 puts the frame in the current burst (same timestamp); otherwise a new burst
//   starts gap^3 * 8 microseconds later (up to 132 s: past handshake and idle thresholds).

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "config/config.h"
#include "config/rules.h"
#include "inspectors/flow/flow_explain.h"
#include "inspectors/flow/flow_table.h"
#include "inspectors/flow/pipeline.h"
#include "inspectors/output/json_writer.h"
#include "tests/fuzz/check_event.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using namespace tcpsleuth;

constexpr std::size_t kMaxFrames = 64;
constexpr std::array<LinkType, 8> kLinks = {LinkType::kEthernet, LinkType::kRaw,  LinkType::kLinuxSll, LinkType::kLinuxSll2,
                                            LinkType::kNull,     LinkType::kIpv4, LinkType::kIpv6,     LinkType::kEthernet};

// Compiled once per process: Hyperscan compilation costs far more than one input's run.
const std::shared_ptr<const RuleSet>& builtin_rules_compiled() {
    static const std::shared_ptr<const RuleSet> rules = [] {
        PayloadRules p;
        p.identification_events = true;
        std::vector<RuleError> errors;
        auto compiled = compile_rules(p, errors);
        if (!errors.empty() || !compiled) fuzz::fail("built-in rules do not compile", errors.empty() ? "" : errors[0].message);
        return compiled;
    }();
    return rules;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::FuzzInput in(data, size);
    const std::uint8_t setup = in.integer<std::uint8_t>();
    const LinkType link = kLinks[setup & 7];

    Config cfg;
    cfg.flows.capacity = (setup & 8) != 0 ? 4 : 64;
    cfg.flows.cold_records = (setup & 32) != 0 ? 2 : 64;
    cfg.payload.streams = 8;
    cfg.payload.scan_bytes = 512;
    cfg.payload.enabled = (setup & 16) != 0;
    if (cfg.payload.enabled) cfg.payload.rules = builtin_rules_compiled();
    cfg.history.packets = 16;

    // The frames are copied out one by one, each into its own allocation, so ASan sees a read
    // past a frame's end even where the input goes on.
    std::vector<std::unique_ptr<std::uint8_t[]>> copies;
    std::vector<RawPacket> frames;
    std::vector<bool> starts_burst;
    std::uint64_t now_ns = 1'700'000'000ull * 1'000'000'000ull;
    while (frames.size() < kMaxFrames && !in.empty()) {
        const std::uint16_t len = in.integer<std::uint16_t>();
        const std::uint16_t wire_len = in.integer<std::uint16_t>();
        const std::uint8_t gap = in.integer<std::uint8_t>();
        const std::string_view bytes = in.bytes(len);
        copies.push_back(std::make_unique<std::uint8_t[]>(bytes.size() + 1));  // +1: never a zero-sized new[]
        std::copy(bytes.begin(), bytes.end(), copies.back().get());
        now_ns += static_cast<std::uint64_t>(gap) * gap * gap * 8000;
        RawPacket p;
        p.data = copies.back().get();
        p.cap_len = static_cast<std::uint32_t>(bytes.size());
        p.wire_len = std::max<std::uint32_t>(wire_len, p.cap_len);
        p.ts_ns = now_ns;
        p.number = frames.size() + 1;
        frames.push_back(p);
        starts_burst.push_back(gap != 0 || frames.size() == 1);
    }

    FlowTable table(cfg.flows.capacity, 12345, cfg.flows.cold_records);
    CoreCounters counters;
    SpscRing<Event> ring(256);
    EventSink sink(ring, counters);
    Pipeline pipeline(cfg, table, sink, counters);
    pipeline.judge_mirror_sequences((setup & 64) == 0);
    const auto drain = [&] {
        Event e;
        while (ring.try_pop(e)) fuzz::check_event(e);
    };

    std::size_t first = 0;
    for (std::size_t i = 1; i <= frames.size(); ++i) {
        if (i == frames.size() || starts_burst[i] || i - first == Pipeline::kBurst) {
            pipeline.process_burst(frames.data() + first, i - first, link);
            drain();
            first = i;
        }
    }

    // What the control socket's `flow` command would show of each flow still tracked.
    table.for_each([&](FlowState& f) {
        std::string text;
        JsonWriter w(text);
        w.begin_object();
        write_tracked_fields(w, f);
        w.end_object();
        const json::ParseResult parsed = json::parse(text, 64);
        if (!parsed.value) fuzz::fail("flow JSON does not parse", parsed.error + "\n" + text);
        for (const std::string& sentence : explain_tracking(f.common)) {
            if (sentence.empty()) fuzz::fail("an empty explanation", text);
        }
    });
    pipeline.finish(now_ns + 3'600'000'000'000ull, drain);
    if (table.size() != 0) fuzz::fail("flows left after finish", std::to_string(table.size()));
    return 0;
}
