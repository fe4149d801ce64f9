#include "idle_inspector.h"

#include "event_builder.h"
#include "hop_distance.h"

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

}  // namespace

void IdleInspector::on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, State& st,
                              EventSink& out) const noexcept {
    if (!cfg_.enabled || !was_open(flow)) return;
    if (seg.gap_ms >= cfg_.min_gap_s * 1000ull) {
        start_gap(pkt, seg, flow, st, out);
        return;
    }
    if (!st.watching) return;
    const Dir first = static_cast<Dir>(st.first_dir);
    if (seg.dir == first) {
        if (seg.rst) {  // the side that spoke first gave up itself: nothing more to learn
            st.watching = 0;
            return;
        }
        if (!seg.retransmission && !seg.keepalive) return;
        saturating_inc(st.retransmissions);
        if (st.retransmissions < cfg_.min_retransmissions || (st.flags & kDropReported)) return;
        st.flags |= kDropReported;
        PathStats& path = paths_.server_of(flow);
        const bool known_killer = path.idle.killed_min_s != 0;
        note_gap_killed(path.idle, st.gap_ms / 1000);
        const IdleTimeoutDrop d{
            .first_sender = side_of(flow, first),
            .keepalive = (st.flags & kAfterKeepalive) != 0,
            .gap_ms = st.gap_ms,
            .retransmissions = st.retransmissions,
            .threshold = cfg_.min_retransmissions,
            .bracket = path.idle,
        };
        // A gap this path already died of, or a keepalive (never lost by chance twice in a
        // row on a working path) makes the verdict firm.
        const Confidence c = known_killer || d.keepalive ? Confidence::kHigh : Confidence::kMedium;
        Event e = flow_event(flow, pkt.ts_ns, Severity::kCritical, c, Where::kDownstream, d);
        e.packets.add(st.first_pkt);
        e.packets.add(pkt.number);
        e.packets.total = st.retransmissions + 1u;
        out.emit(e);
        if (d.keepalive) report_keepalive(flow, st, first, st.gap_ms, true, path.idle, pkt.ts_ns, pkt.number, out);
        return;
    }
    if (seg.rst) {
        report_reset(pkt, seg, flow, st, true, out);
    } else if (!(st.flags & kDropReported)) {
        note_gap_survived(paths_.server_of(flow).idle, st.gap_ms / 1000);  // answered: the path still knew the flow
    }
    st.watching = 0;
}

void IdleInspector::start_gap(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, State& st,
                              EventSink& out) const noexcept {
    st.watching = 1;
    st.gap_ms = seg.gap_ms;
    st.first_dir = static_cast<std::uint8_t>(index(seg.dir));
    st.first_pkt = static_cast<std::uint32_t>(pkt.number);
    st.retransmissions = 0;
    st.flags = static_cast<std::uint8_t>(st.flags & ~(kAfterKeepalive | kDropReported));
    if (seg.keepalive) {
        st.flags |= kAfterKeepalive;
        const IdleBracket bracket = paths_.server_of(flow).idle;
        if (bracket.killed_min_s != 0 && seg.gap_ms / 1000 >= bracket.killed_min_s) {
            report_keepalive(flow, st, seg.dir, seg.gap_ms, false, bracket, pkt.ts_ns, pkt.number, out);
        }
    }
    if (seg.rst) {
        // A RST out of the silence with nothing to answer: a device timing the flow out, if its
        // TTL betrays it; otherwise the endpoint aborting, which is its business.
        const DirState& claimed = flow.dir[index(seg.dir)];
        if (ttl_foreign(pkt.ttl, claimed, min_hop_difference_)) {
            report_reset(pkt, seg, flow, st, false, out);
        }
        st.watching = 0;
    }
}

void IdleInspector::report_reset(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, State& st,
                                 bool prompted, EventSink& out) const noexcept {
    if (st.flags & kResetReported) return;
    st.flags |= kResetReported;
    PathStats& path = paths_.server_of(flow);
    note_gap_killed(path.idle, st.gap_ms / 1000);
    const DirState& claimed = flow.dir[index(seg.dir)];
    const bool known = claimed.has(kDirSeen);
    const bool matches = known && !ttl_foreign(pkt.ttl, claimed, min_hop_difference_);
    const IdleResetAfterIdle d{
        .rst_claims = side_of(flow, seg.dir),
        .prompted = prompted,
        .ttl_matches = matches,
        .rst_ttl = pkt.ttl,
        .peer_ttl_min = claimed.ttl_min,
        .peer_ttl_max = claimed.ttl_max,
        .gap_ms = st.gap_ms,
        .bracket = path.idle,
    };
    // A RST with a foreign TTL answering the first segment after the gap is a device that
    // forgot the flow. A genuine-looking one may be the peer's own idle timeout.
    const Confidence c = known && !matches ? Confidence::kHigh : Confidence::kMedium;
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

void IdleInspector::on_flow_end(const FlowCommon& flow, State& st, EventSink& out,
                                std::uint64_t now_ns) const noexcept {
    if (!cfg_.enabled || !was_open(flow) || (st.flags & (kStaleReported | kDropReported | kResetReported))) return;
    if (flow.state != TcpState::kEstablished && flow.state != TcpState::kMidstream) return;
    if (now_ns <= flow.last_ns) return;
    const std::uint64_t idle_s = (now_ns - flow.last_ns) / 1'000'000'000u;
    if (idle_s < cfg_.stale_after_s) return;
    st.flags |= kStaleReported;
    const IdleBracket bracket = paths_.server_of(flow).idle;
    const IdleStaleFlow d{.idle_s = static_cast<std::uint32_t>(idle_s > 0xffffffffu ? 0xffffffffu : idle_s),
                          .threshold_s = cfg_.stale_after_s, .bracket = bracket};
    // Past a timeout this path is known to kill at: the next packet will almost surely fail.
    const bool past_known = bracket.killed_min_s != 0 && idle_s >= bracket.killed_min_s;
    Event e = flow_event(flow, now_ns, past_known ? Severity::kWarning : Severity::kInfo, Confidence::kMedium,
                         Where::kUnknown, d);
    out.emit(e);
}

}  // namespace tcpsleuth
