#pragma once
// idle.timeout_drop, idle.reset_after_idle, idle.keepalive_too_slow, idle.stale_flow.
//
// Stateful devices forget flows idle longer than their timeout: seconds (test rigs, carrier
// NAT, conntrack tuned low, embryonic and half-closed timeouts), minutes (240 s Azure LB,
// 350 s AWS NLB / NAT gateway, 600 s GCP firewall) or hours (3600 s PAN-OS and ASA, 7440 s
// RFC 5382). After such a gap the next segment is dropped (retransmitted, unanswered) or
// answered with a RST the peer never sent.
//
// Which silences count is judged against the flow (IdleConfig): the flow had nothing in
// flight when it fell silent (a pause with unacknowledged data is a loss episode, its gaps
// RTO back-off), and the silence was long in absolute terms, in round trips, and against the
// longest silence the flow lived through before. Per server, the largest gap a flow survived
// and the smallest that killed one bracket the device's timeout; the advice snaps the
// bracket to the defaults above. A keepalive (RFC 9293 section 3.8.4: SND.NXT-1, 0 or 1
// byte) after a gap longer than the device timeout is itself dropped, so the keepalive
// interval is too slow.

#include "config/config.h"
#include "dataplane/packet/packet_view.h"
#include "inspectors/output/events.h"
#include "inspectors/evidence/hop_distance.h"
#include "inspectors/evidence/path_table.h"
#include "inspectors/flow/tcp_state.h"

namespace tcpsleuth {

class IdleInspector {
public:
    // The flow's rhythm, kept on every packet (hot): the longest silence it lived through.
    struct Rhythm {
        std::uint32_t lived_ms = 0;
    };
    // A silence being watched, and what was reported (cold: fresh again once a watched gap
    // ends with nothing reported).
    struct State {
        std::uint32_t gap_ms = 0;       // the gap being watched
        std::uint32_t first_pkt = 0;    // the first segment after it
        std::uint32_t last_pkt = 0;     //   and its latest retransmission
        std::uint32_t last_ms = 0;      //   and when that was sent
        std::uint8_t watching = 0;
        std::uint8_t first_dir = 0;
        std::uint8_t retransmissions = 0;
        std::uint8_t flags = 0;         // kAfterKeepalive, k*Reported
    };

    // `rule` is rst.injected's: one rule decides whether a RST's TTL is foreign.
    IdleInspector(const IdleConfig& cfg, const TtlRule& rule, PathTable& paths) noexcept
        : cfg_(cfg), rule_(rule), paths_(paths) {}
    // A reload: new thresholds and switches, state kept.
    void reconfigure(const IdleConfig& cfg, const TtlRule& rule) noexcept {
        cfg_ = cfg;
        rule_ = rule;
    }

    void on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, Rhythm& rhythm, State& st,
                   EventSink& out) const noexcept;
    void on_flow_end(const FlowCommon& flow, const Rhythm& rhythm, State& st, EventSink& out,
                     std::uint64_t now_ns) const noexcept;
    // The sweep found the flow still open and silent as of `now_ns`: idle.stale_flow once it
    // has been silent stale_after_s, while it is open (a live sensor can run for days before
    // the flow ends). The sweep asks stale_due first, from the entry's first cache line, and
    // calls on_quiet (which touches the inspector's state) only when it is.
    bool stale_due(const FlowCommon& flow, std::uint64_t now_ns) const noexcept {
        return now_ns > flow.last_ns && now_ns - flow.last_ns >= cfg_.stale_after_s * 1'000'000'000ull;
    }
    void on_quiet(const FlowCommon& flow, State& st, EventSink& out, std::uint64_t now_ns) const noexcept {
        report_stale(flow, st, out, now_ns);
    }

    // The shortest silence, in ms, that counts as idle for this flow now (IdleConfig).
    std::uint64_t significant_gap_ms(const FlowCommon& flow, const Rhythm& rhythm) const noexcept;

private:
    void report_stale(const FlowCommon& flow, State& st, EventSink& out, std::uint64_t now_ns) const noexcept;
    void watch(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, const Rhythm& rhythm,
               State& st, EventSink& out) const noexcept;
    // The watch is over: what only a watch needs goes, what was reported stays.
    static void end_watch(State& st) noexcept;
    void report_drop(const FlowCommon& flow, const Rhythm& rhythm, State& st, std::uint64_t ts_ns, bool capture_ended,
                     EventSink& out) const noexcept;
    void report_reset(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, const Rhythm& rhythm,
                      State& st, bool prompted, EventSink& out) const noexcept;
    void report_keepalive(const FlowCommon& flow, State& st, Dir sender, std::uint32_t interval_ms, bool died,
                          const IdleBracket& bracket, std::uint64_t ts_ns, std::uint64_t number,
                          EventSink& out) const noexcept;

    IdleConfig cfg_;
    TtlRule rule_;
    PathTable& paths_;
};

}  // namespace tcpsleuth
