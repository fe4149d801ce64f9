#pragma once
// The per-packet path, the same in every mode (analyze, tap, inline):
//   parse -> flow key + hash + prefetch (whole burst) -> find/insert -> tracker -> inspectors
// then a bounded sweep for idle flows. Nothing here allocates, locks, logs or throws.

#include <array>
#include <cstddef>
#include <cstdint>

#include "config/config.h"
#include "inspectors/flow/counters.h"
#include "dataplane/packet/parse.h"
#include "inspectors/output/events.h"
#include "inspectors/flow/flow_table.h"
#include "inspectors/flow/duplicate_filter.h"
#include "inspectors/flow/mirror_sequence.h"
#include "inspectors/flow/packet_history.h"
#include "inspectors/flow/tunnel_book.h"
#include "inspectors/evidence/path_table.h"
#include "inspectors/detectors/payload_rules.h"
#include "inspectors/detectors/syn_surge.h"

namespace tcpsleuth {

// One received frame, as any input hands it over.
struct RawPacket {
    const std::uint8_t* data = nullptr;
    std::uint32_t cap_len = 0;
    std::uint32_t wire_len = 0;
    std::uint64_t ts_ns = 0;
    std::uint64_t number = 0;  // 1-based frame number per input; 0 where unknown
    std::uint32_t steer = 0;   // hash that chose this core; 0 offline
};

class Pipeline {
public:
    static constexpr std::size_t kBurst = 32;

    Pipeline(const Config& cfg, FlowTable& table, EventSink& sink, CoreCounters& counters) noexcept;

    // Processes up to kBurst frames of the given link type, then sweeps idle flows as of the
    // last frame's time.
    void process_burst(const RawPacket* pkts, std::size_t n, LinkType link) noexcept;

    // Removes flows idle past their state's timeout, visiting at most `budget` entries.
    void sweep(std::uint64_t now_ns, std::size_t budget) noexcept;

    // End of input: every flow ends as of `now_ns`. `drain()` is called regularly so the
    // findings of many flows fit through the event ring.
    template <typename Drain>
    void finish(std::uint64_t now_ns, Drain&& drain) noexcept;

    // A reload: new thresholds, switches and idle timeouts from the next packet on. Flows and
    // inspector state are kept; the table keeps its size (flows.capacity is not taken).
    void reconfigure(const Config& cfg) noexcept;
    const Config& config() const noexcept { return cfg_; }

    const FlowTable& table() const noexcept { return table_; }
    const PayloadScanner& payload() const noexcept { return payload_; }
    const TunnelBook& tunnels() const noexcept { return tunnels_; }
    // Recent packets (cfg.history), for `tcpsleuthctl pcap FLOW`.
    const PacketHistory& history() const noexcept { return history_; }

    // Mirror sessions' sequence numbers (sensor.mirror_loss) can be judged only where every
    // packet of a session passes: on by default (analyze, one live worker); off when a
    // session's packets are spread over several workers.
    void judge_mirror_sequences(bool on) noexcept { judge_mirror_sequences_ = on; }

    // Several workers: judge state-table surges on all their flows together (see SurgeBoard).
    void share_surge_board(SurgeBoard* board, unsigned shard) noexcept { surge_.attach(board, shard); }
    // Several workers: one per-server table for all (options agreed with other clients, ECN
    // across flows, idle brackets), so evidence split over cores adds up. Before packets flow.
    void share_paths(const PathTable& shared) noexcept { paths_.share(shared); }
    const PathTable& paths() const noexcept { return paths_; }

private:
    void handle_tcp(const std::uint8_t* frame, const PacketView& pkt, const FlowKey& key, Dir dir, std::uint64_t hash,
                    std::uint32_t steer) noexcept;
    void handle_icmp(const PacketView& pkt, const FlowKey& key, Dir dir, std::uint64_t hash) noexcept;
    void end_flow(FlowState& flow, std::uint64_t now_ns) noexcept;
    // Events of this flow are tallied in its entry and name its tunnel (EventSink::track).
    void track(FlowState& flow) noexcept;
    void count_encapsulation(const PacketView& v, ParseStatus st) noexcept;
    void check_mirror_sequence(const PacketView& v) noexcept;
    // The flow's cold record, or the fresh scratch record when it has none: inspectors write
    // where they would, and keep_cold keeps what they wrote (exactly: a record is taken only
    // when the scratch is no longer fresh, and given back once the record is fresh again).
    ColdState& cold_of(FlowState& flow) noexcept;
    void keep_cold(FlowState& flow, ColdState& cold, std::uint64_t now_ns) noexcept;
    void clear_scratch() noexcept;
    void report_cold_exhausted(const FlowState& flow, std::uint64_t now_ns) noexcept;
    // The sensor's own trouble (sensor.*): a warning about no flow, certain.
    void emit_sensor_event(std::uint64_t now_ns, std::uint32_t occurrence, const EventDetail& detail) noexcept;
    void on_evict(FlowState& victim, std::uint64_t now_ns) noexcept;
    std::uint64_t idle_timeout_ns(const FlowCommon& flow) const noexcept;

    Config cfg_;
    FlowTable& table_;
    EventSink& sink_;
    CoreCounters& counters_;
    PathTable paths_;
    TunnelBook tunnels_;
    PacketHistory history_;
    DuplicateFilter dups_;
    MirrorSequences mirror_sequences_;
    bool judge_mirror_sequences_ = true;
    std::uint32_t mirror_loss_reports_ = 0;
    std::uint32_t mirror_loss_next_ = 1;
    SynUnansweredInspector syn_;
    ZeroWindowInspector zero_window_;
    SynSurgeInspector surge_;
    MtuInspector mtu_;
    OptionsInspector options_;
    WindowInspector window_;
    EcnInspector ecn_;
    SackInspector sack_;
    IdleInspector idle_;
    RstInspector rst_;
    OneWayLossInspector one_way_;
    ReceiverLimitedInspector receiver_limited_;
    PayloadScanner payload_;
    std::uint32_t table_full_reports_ = 0;
    std::uint32_t table_full_next_ = 1;
    std::uint32_t cold_exhausted_reports_ = 0;
    std::uint32_t cold_exhausted_next_ = 1;
    ColdState scratch_;  // always fresh between packets (clear_scratch)

    // Burst scratch, reused: no allocation per packet.
    std::array<PacketView, kBurst> views_;
    std::array<ParseStatus, kBurst> status_;
    std::array<FlowKey, kBurst> keys_;
    std::array<Dir, kBurst> dirs_;
    std::array<std::uint64_t, kBurst> hashes_;
    std::array<DuplicateFilter::Probe, kBurst> dup_probes_;
};

template <typename Drain>
void Pipeline::finish(std::uint64_t now_ns, Drain&& drain) noexcept {
    std::size_t n = 0;
    table_.for_each([&](FlowState& f) {
        end_flow(f, now_ns);
        table_.remove(&f);
        if (++n % 64 == 0) drain();
    });
    drain();
}

}  // namespace tcpsleuth
