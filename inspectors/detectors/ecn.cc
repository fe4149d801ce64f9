#include "inspectors/detectors/ecn.h"

#include "inspectors/output/event_builder.h"

namespace tcpsleuth {
namespace {

enum MarkFlag : std::uint8_t { kCePending = 1, kBleachReported = 2, kCeReported = 4 };

}  // namespace

void EcnInspector::on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, Tally& tally,
                             State& st, EventSink& out) const noexcept {
    if (!cfg_.enabled || seg.rst) return;
    if (pkt.has_flag(kSyn)) {
        if (!pkt.has_flag(kAck)) {
            on_syn(pkt, seg, flow, tally);
        } else if (seg.syn_ack_first) {
            on_syn_ack(pkt, flow, tally, out);
        }
        return;
    }
    if (!flow.has(kFlowEcnOn)) return;
    if (seg.new_data && !seg.retransmission) on_data(pkt, seg, flow, tally, st, out);
    if (pkt.has_flag(kAck)) on_ack(pkt, seg, flow, tally, st, out);
}

void EcnInspector::on_syn(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow,
                          Tally& st) const noexcept {
    const bool ecn_setup = pkt.has_flag(kEce) && pkt.has_flag(kCwr);
    if (!seg.syn_retransmission) {  // a new ISN starts over
        st.ecn_syns = ecn_setup ? 1 : 0;
        st.plain_syns = 0;
        st.first_ecn_syn_us = flow.rel_us(pkt.ts_ns);
        st.first_ecn_syn_pkt = static_cast<std::uint32_t>(pkt.number);
        return;
    }
    if (st.ecn_syns == 0) return;
    if (ecn_setup && st.plain_syns == 0) {
        saturating_inc(st.ecn_syns);
    } else if (!ecn_setup) {
        saturating_inc(st.plain_syns);
    }
}

void EcnInspector::on_syn_ack(const PacketView& pkt, const FlowCommon& flow, const Tally& st,
                              EventSink& out) const noexcept {
    if (st.ecn_syns == 0) return;
    PathStats& path = paths_.server_of(flow);
    const bool ece = pkt.has_flag(kEce), cwr = pkt.has_flag(kCwr);
    const bool ecn_answer = ece && !cwr;
    if (st.plain_syns == 0 || ecn_answer) {
        // The ECN SYN itself was answered.
        ++path.ecn_answered;
        if (ecn_answer) return;
        const std::uint32_t declined = ++path.ecn_declined;
        if (!is_log_point(declined)) return;
        const EcnNotNegotiated d{.synack_ece = ece, .synack_cwr = cwr, .server_flows = declined};
        Event e = flow_event(flow, pkt.ts_ns, Severity::kInfo, Confidence::kHigh, Where::kUnknown, d);
        e.occurrence = declined;
        e.packets.add(st.first_ecn_syn_pkt);
        e.packets.add(pkt.number);
        out.emit(e);
        return;
    }
    // ECN SYN unanswered, the plain retry answered without ECN.
    const std::uint32_t flows = ++path.ecn_fallback_flows;
    const bool retried_with_ecn = st.ecn_syns >= 2;
    const bool repeated_on_server = flows >= cfg_.min_flows && path.ecn_answered == 0;
    if (!retried_with_ecn && !repeated_on_server) return;  // one flow: indistinguishable from one lost SYN
    const EcnSynBlackhole d{
        .ecn_syns = st.ecn_syns,
        .waited_ms = (flow.rel_us(pkt.ts_ns) - st.first_ecn_syn_us) / 1000u,
        .server_flows = flows,
        .server_ecn_answered = path.ecn_answered,
    };
    const Confidence c = repeated_on_server ? Confidence::kHigh : Confidence::kMedium;
    Event e = flow_event(flow, pkt.ts_ns, Severity::kWarning, c, Where::kDownstream, d);
    e.packets.add(st.first_ecn_syn_pkt);
    e.packets.add(pkt.number);
    out.emit(e);
}

void EcnInspector::on_data(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, Tally& tally,
                           State& st, EventSink& out) const noexcept {
    Counts& n = tally.dir[index(seg.dir)];
    Marks& m = st.dir[index(seg.dir)];
    switch (pkt.ecn & 3u) {
        case kNotEct: saturating_inc(n.not_ect); break;
        case kEct0:
        case kEct1: saturating_inc(n.ect); break;
        default:  // kCe
            saturating_inc(n.ect);
            saturating_inc(n.ce);
            if (!(m.flags & kCePending)) {
                m.flags |= kCePending;
                m.ce_end = Seq(pkt.tcp.seq) + pkt.payload_len;
                m.ce_pkt = static_cast<std::uint32_t>(pkt.number);
                m.acks_without_ece = 0;
            }
            break;
    }
    if (m.flags & kBleachReported) return;
    const std::uint32_t total = std::uint32_t{n.not_ect} + n.ect;
    if (n.not_ect < cfg_.min_not_ect_segments || n.not_ect * 10u < total * 9u) return;
    m.flags |= kBleachReported;
    const EcnBleached d{.sender = side_of(flow, seg.dir), .not_ect = n.not_ect, .ect = n.ect,
                        .threshold = cfg_.min_not_ect_segments};
    // The sender agreed to ECN, so it marks its data; the marks were cleared before the sensor.
    const Confidence c = n.ect == 0 ? Confidence::kHigh : Confidence::kMedium;
    Event e = flow_event(flow, pkt.ts_ns, Severity::kWarning, c, Where::kUpstream, d);
    e.packets.add(pkt.number);
    e.packets.total = n.not_ect;
    out.emit(e);
}

void EcnInspector::on_ack(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, const Tally& tally,
                          State& st, EventSink& out) const noexcept {
    Marks& m = st.dir[index(reverse(seg.dir))];  // the data this ACK acknowledges
    const Counts& n = tally.dir[index(reverse(seg.dir))];
    if (!(m.flags & kCePending) || (m.flags & kCeReported)) return;
    if (pkt.has_flag(kEce)) {
        // Echoed: working as designed. The mark's fields are read only while one is pending.
        const std::uint8_t reported = static_cast<std::uint8_t>(m.flags & ~kCePending);
        m = Marks{};
        m.flags = reported;
        return;
    }
    if (before(Seq(pkt.tcp.ack), m.ce_end)) return;
    saturating_inc(m.acks_without_ece);
    if (m.acks_without_ece < cfg_.min_acks_without_ece) return;
    m.flags |= kCeReported;
    const EcnCeErased d{.sender = side_of(flow, reverse(seg.dir)), .ce_segments = n.ce,
                        .acks_without_ece = m.acks_without_ece, .threshold = cfg_.min_acks_without_ece};
    Event e = flow_event(flow, pkt.ts_ns, Severity::kWarning, Confidence::kMedium, Where::kDownstream, d);
    e.packets.add(m.ce_pkt);
    e.packets.add(pkt.number);
    out.emit(e);
}

}  // namespace tcpsleuth
