#include "inspectors/detectors/idle_timeout.h"

#include "inspectors/output/event_builder.h"
#include "inspectors/evidence/path_facts.h"

namespace tcpsleuth {
namespace {

enum IdleFlag : std::uint8_t {
    kAfterKeepalive = 1,
    kDropReported = 2,
    kResetReported = 4,
    kKeepaliveReported = 8,
    kStaleReported = 16,
};

bool was_open(const FlowCommon& flow) noexcept {
    return flow.has(kFlowHandshakeDone) || flow.has(kFlowMidstream);
}

// Judged at the first segment after a silence: was the flow at rest when it fell silent?
// Everything either side had sent was acknowledged and each side's window had room for a
// full-sized segment, so the silence was the application's. A silence with data outstanding
// is a loss episode (its gaps are RTO back-off); one behind a window smaller than a segment
// is flow control (the sender waits for the window to open, RFC 9293 section 3.8.6.2.1),
// judged by the window detectors. The segment after the gap is itself evidence: its ACK
// covers what its peer had sent, even when the sensor missed the ACK before the silence.
// A side whose peer never acknowledged anything (a one-sided capture) is never at rest.
bool was_at_rest(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& f) noexcept {
    const DirState& self = f.dir[index(seg.dir)];
    const DirState& peer = f.dir[index(reverse(seg.dir))];
    // This side's data before this segment: acknowledged by the peer. A retransmission
    // resends data that was outstanding; new data starts where this side had got to.
    const Seq sent_before = seg.retransmission ? self.snd_nxt : Seq(pkt.tcp.seq);
    if (!peer.has(kDirHasAck) || after(sent_before, peer.max_ack)) return false;
    // The peer's data: acknowledged by this side, by now (this segment's ACK included).
    if (peer.has(kDirSeen) && (!self.has(kDirHasAck) || after(peer.snd_nxt, self.max_ack))) return false;
    for (const Dir d : {seg.dir, reverse(seg.dir)}) {
        const DirState& s = f.dir[index(d)];
        if (s.has(kDirZeroWindow) || (s.mss != 0 && f.window_bytes(d) < s.mss)) return false;
    }
    return true;
}

}  // namespace

std::uint64_t IdleInspector::significant_gap_ms(const FlowCommon& flow, const Rhythm& rhythm) const noexcept {
    std::uint64_t need = std::uint64_t{cfg_.min_gap_s} * 1000u;
    const std::uint64_t rtts = std::uint64_t{flow.rtt_us()} * cfg_.min_gap_rtts / 1000u;
    const std::uint64_t lived = std::uint64_t{rhythm.lived_ms} * cfg_.rhythm_factor;
    if (rtts > need) need = rtts;
    if (lived > need) need = lived;
    return need;
}

void IdleInspector::on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, Rhythm& rhythm,
                              State& st, EventSink& out) const noexcept {
    if (!cfg_.enabled || !was_open(flow)) return;
    if (seg.gap_ms != 0 && !st.watching && seg.gap_ms >= significant_gap_ms(flow, rhythm) && was_at_rest(pkt, seg, flow)) {
        watch(pkt, seg, flow, rhythm, st, out);
        return;
    }
    if (!st.watching) {
        // A silence the flow went on after: the path kept its state at least this long.
        if (seg.gap_ms > rhythm.lived_ms) rhythm.lived_ms = seg.gap_ms;
        return;
    }
    const Dir first = static_cast<Dir>(st.first_dir);
    if (seg.dir == first) {
        if (seg.rst) {  // the side that spoke first gave up itself: nothing more to learn
            end_watch(st);
            return;
        }
        if (!seg.retransmission && !seg.keepalive) return;
        // Copies closer together than the sender's timer allows (a duplicating capture) are
        // one transmission, not a retry.
        const std::uint32_t now_ms = flow.rel_ms(pkt.ts_ns);
        if (now_ms - st.last_ms < min_timer_interval_ms(flow)) return;
        saturating_inc(st.retransmissions);
        st.last_ms = now_ms;
        st.last_pkt = packet_number32(pkt.number);
        if (st.retransmissions < cfg_.min_retransmissions || (st.flags & kDropReported)) return;
        report_drop(flow, rhythm, st, pkt.ts_ns, false, out);
        return;
    }
    if (seg.rst) {
        report_reset(pkt, seg, flow, rhythm, st, true, out);
    } else if (!(st.flags & kDropReported)) {
        // Answered: the path still knew the flow after this long.
        paths_.server_of(flow).idle.survived(st.gap_ms / 1000);
        if (st.gap_ms > rhythm.lived_ms) rhythm.lived_ms = st.gap_ms;
    }
    end_watch(st);
}

void IdleInspector::end_watch(State& st) noexcept {
    const std::uint8_t reported = static_cast<std::uint8_t>(st.flags & ~kAfterKeepalive);
    st = State{};
    st.flags = reported;
}

void IdleInspector::watch(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow,
                          const Rhythm& rhythm, State& st, EventSink& out) const noexcept {
    st.watching = 1;
    st.gap_ms = seg.gap_ms;
    st.first_dir = static_cast<std::uint8_t>(index(seg.dir));
    st.first_pkt = packet_number32(pkt.number);
    st.last_pkt = st.first_pkt;
    st.last_ms = flow.rel_ms(pkt.ts_ns);
    st.retransmissions = 0;
    st.flags = static_cast<std::uint8_t>(st.flags & ~(kAfterKeepalive | kDropReported));
    if (seg.keepalive) {
        st.flags |= kAfterKeepalive;
        const IdleBracket bracket = paths_.server_of(flow).idle.get();
        if (bracket.killed_min_s != 0 && seg.gap_ms / 1000 >= bracket.killed_min_s) {
            report_keepalive(flow, st, seg.dir, seg.gap_ms, false, bracket, pkt.ts_ns, pkt.number, out);
        }
    }
    if (seg.rst) {
        // A RST out of the silence with nothing to answer: a device timing the flow out, if its
        // TTL betrays it; otherwise the endpoint aborting, which is its business.
        if (ttl_contradicts(judge_rst_ttl(pkt.ttl, flow.dir[index(seg.dir)], rule_))) {
            report_reset(pkt, seg, flow, rhythm, st, false, out);
        }
        end_watch(st);
    }
}

void IdleInspector::report_drop(const FlowCommon& flow, const Rhythm& rhythm, State& st, std::uint64_t ts_ns,
                                bool capture_ended,
                                EventSink& out) const noexcept {
    st.flags |= kDropReported;
    PathStats& path = paths_.server_of(flow);
    const std::uint32_t gap_s = st.gap_ms / 1000;
    // A gap at least as long as one that already killed a flow on this server.
    const std::uint32_t killed_before_s = path.idle.get().killed_min_s;
    const bool known_killer = killed_before_s != 0 && killed_before_s <= gap_s;
    path.idle.killed(gap_s);
    const IdleBracket bracket = path.idle.get();
    const IdleTimeoutDrop d{
        .first_sender = side_of(flow, static_cast<Dir>(st.first_dir)),
        .keepalive = (st.flags & kAfterKeepalive) != 0,
        .capture_ended = capture_ended,
        .gap_ms = st.gap_ms,
        .retransmissions = st.retransmissions,
        .threshold = cfg_.min_retransmissions,
        .judged = {.gap_ms = st.gap_ms, .needed_ms = static_cast<std::uint32_t>(significant_gap_ms(flow, rhythm)),
                   .lived_ms = rhythm.lived_ms, .rtt_us = flow.rtt_us()},
        .bracket = bracket,
    };
    // A gap this path already died of, or a keepalive (never lost by chance twice in a row
    // on a working path) makes the verdict firm; a capture that ended before the sender had
    // retried min_retransmissions times leaves it weak.
    Confidence c = known_killer || d.keepalive ? Confidence::kHigh : Confidence::kMedium;
    if (capture_ended) c = Confidence::kLow;
    Event e = flow_event(flow, ts_ns, c == Confidence::kLow ? Severity::kWarning : Severity::kCritical, c,
                         Where::kDownstream, d);
    e.packets.add(st.first_pkt);
    if (st.last_pkt != st.first_pkt) e.packets.add(st.last_pkt);
    e.packets.total = st.retransmissions + 1u;
    out.emit(e);
    if (d.keepalive && !capture_ended) {
        report_keepalive(flow, st, static_cast<Dir>(st.first_dir), st.gap_ms, true, bracket, ts_ns, st.last_pkt, out);
    }
}

void IdleInspector::report_reset(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow,
                                 const Rhythm& rhythm, State& st, bool prompted, EventSink& out) const noexcept {
    if (st.flags & kResetReported) return;
    const DirState& claimed = flow.dir[index(seg.dir)];
    st.flags |= kResetReported;
    PathStats& path = paths_.server_of(flow);
    path.idle.killed(st.gap_ms / 1000);
    const TtlEvidence ttl = judge_rst_ttl(pkt.ttl, claimed, rule_);
    const IdleResetAfterIdle d{
        .rst_claims = side_of(flow, seg.dir),
        .prompted = prompted,
        .ttl_matches = ttl == TtlEvidence::kMatches,
        .one_hop = ttl == TtlEvidence::kOneHopOff,
        .rst_ttl = pkt.ttl,
        .peer_ttl_min = claimed.ttl_min,
        .peer_ttl_max = claimed.ttl_max,
        .gap_ms = st.gap_ms,
        .judged = {.gap_ms = st.gap_ms, .needed_ms = static_cast<std::uint32_t>(significant_gap_ms(flow, rhythm)),
                   .lived_ms = rhythm.lived_ms, .rtt_us = flow.rtt_us()},
        .bracket = path.idle.get(),
    };
    // A RST with a foreign TTL answering the first segment after the gap is a device that
    // forgot the flow. A genuine-looking one may be the peer's own idle timeout.
    const Confidence c = ttl_contradicts(ttl) ? Confidence::kHigh : Confidence::kMedium;
    // The RST reached the sensor, so whoever sent it is on the claimed side of the sensor.
    Event e = flow_event(flow, pkt.ts_ns, Severity::kCritical, c, Where::kUpstream, d);
    e.packets.add(st.first_pkt);
    e.packets.add(pkt.number);
    out.emit(e);
}

void IdleInspector::report_keepalive(const FlowCommon& flow, State& st, Dir sender, std::uint32_t interval_ms,
                                     bool died, const IdleBracket& bracket, std::uint64_t ts_ns,
                                     std::uint64_t number, EventSink& out) const noexcept {
    if (st.flags & kKeepaliveReported) return;
    st.flags |= kKeepaliveReported;
    const IdleKeepaliveTooSlow d{.sender = side_of(flow, sender), .died = died, .interval_ms = interval_ms,
                                 .bracket = bracket};
    Event e = flow_event(flow, ts_ns, Severity::kWarning, died ? Confidence::kHigh : Confidence::kMedium,
                         Where::kDownstream, d);
    e.packets.add(number);
    out.emit(e);
}

void IdleInspector::on_flow_end(const FlowCommon& flow, const Rhythm& rhythm, State& st, EventSink& out,
                                std::uint64_t now_ns) const noexcept {
    if (!cfg_.enabled || !was_open(flow)) return;
    // The input ended (or the flow left the table) while the first segment after a gap was
    // still going unanswered: weaker than min_retransmissions, but evidence all the same.
    if (st.watching && st.retransmissions >= 1 && !(st.flags & (kDropReported | kResetReported))) {
        report_drop(flow, rhythm, st, now_ns, true, out);
    }
    report_stale(flow, st, out, now_ns);
}

void IdleInspector::report_stale(const FlowCommon& flow, State& st, EventSink& out,
                                 std::uint64_t now_ns) const noexcept {
    if (!cfg_.enabled || !was_open(flow)) return;
    if (st.flags & (kStaleReported | kDropReported | kResetReported)) return;
    if (flow.state != TcpState::kEstablished && flow.state != TcpState::kMidstream) return;
    if (now_ns <= flow.last_ns) return;
    const std::uint64_t idle_s = (now_ns - flow.last_ns) / 1'000'000'000u;
    if (idle_s < cfg_.stale_after_s) return;
    st.flags |= kStaleReported;
    const IdleBracket bracket = paths_.server_of(flow).idle.get();
    const IdleStaleFlow d{.idle_s = static_cast<std::uint32_t>(idle_s > 0xffffffffu ? 0xffffffffu : idle_s),
                          .threshold_s = cfg_.stale_after_s, .bracket = bracket};
    // Past a timeout this path is known to kill at: the next packet will almost surely fail.
    const bool past_known = bracket.killed_min_s != 0 && idle_s >= bracket.killed_min_s;
    Event e = flow_event(flow, now_ns, past_known ? Severity::kWarning : Severity::kInfo, Confidence::kMedium,
                         Where::kUnknown, d);
    out.emit(e);
}

}  // namespace tcpsleuth
