#pragma once
// idle.timeout_drop, idle.reset_after_idle, idle.keepalive_too_slow, idle.stale_flow.
//
// Stateful devices forget flows idle longer than their timeout (240 s Azure LB, 350 s AWS
// NLB / NAT gateway, 600 s GCP firewall, 3600 s PAN-OS and ASA, 7440 s RFC 5382). After
// such a gap the next segment is dropped (retransmitted, unanswered) or answered with a RST
// the peer never sent. Per server, the largest gap a flow survived and the smallest that
// killed one bracket the device's timeout; the advice snaps the bracket to those defaults.
// A keepalive (RFC 9293 section 3.8.4: SND.NXT-1, 0 or 1 byte) after a gap longer than the
// device timeout is itself dropped, so the keepalive interval is too slow.

#include "config/config.h"
#include "dataplane/packet/packet_view.h"
#include "events.h"
#include "path_table.h"
#include "tcp_state.h"

namespace tcpsleuth {

class IdleInspector {
public:
    struct State {
        std::uint32_t gap_ms = 0;       // the gap being watched
        std::uint32_t first_pkt = 0;    // the first segment after it
        std::uint8_t watching = 0;
        std::uint8_t first_dir = 0;
        std::uint8_t retransmissions = 0;
        std::uint8_t flags = 0;         // kAfterKeepalive, k*Reported
    };

    // `min_hop_difference` is rst.injected's: one rule decides whether a RST's TTL is foreign.
    IdleInspector(const IdleConfig& cfg, std::uint32_t min_hop_difference, PathTable& paths) noexcept
        : cfg_(cfg), min_hop_difference_(min_hop_difference), paths_(paths) {}
    // A reload: new thresholds and switches, state kept.
    void reconfigure(const IdleConfig& cfg, std::uint32_t min_hop_difference) noexcept {
        cfg_ = cfg;
        min_hop_difference_ = min_hop_difference;
    }

    void on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, State& st,
                   EventSink& out) const noexcept;
    void on_flow_end(const FlowCommon& flow, State& st, EventSink& out, std::uint64_t now_ns) const noexcept;

private:
    void start_gap(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, State& st,
                   EventSink& out) const noexcept;
    void report_reset(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, State& st,
                      bool prompted, EventSink& out) const noexcept;
    void report_keepalive(const FlowCommon& flow, State& st, Dir sender, std::uint32_t interval_ms, bool died,
                          const IdleBracket& bracket, std::uint64_t ts_ns, std::uint64_t number,
                          EventSink& out) const noexcept;

    IdleConfig cfg_;
    std::uint32_t min_hop_difference_;
    PathTable& paths_;
};

}  // namespace tcpsleuth
