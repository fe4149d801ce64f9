#include "inspectors/detectors/syn_unanswered.h"

#include "inspectors/output/event_builder.h"

namespace tcpsleuth {

void SynUnansweredInspector::on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow,
                                       State& st, EventSink& out) const noexcept {
    if (!cfg_.enabled || !seg.from_client) return;
    if ((pkt.tcp.flags & (kSyn | kAck | kRst)) != kSyn) return;
    const std::uint32_t now_us = flow.rel_us(pkt.ts_ns);
    const std::uint32_t num = packet_number32(pkt.number);
    if (!seg.syn_retransmission) {  // the first SYN, or an application retry with a new ISN
        st = State{.first_syn_us = now_us, .last_syn_us = now_us, .first_syn_pkt = num, .last_syn_pkt = num};
        return;
    }
    st.last_syn_us = now_us;
    st.last_syn_pkt = num;
    const DirState& client = flow.dir[index(flow.client())];
    if (st.reported || flow.state != TcpState::kSynSent) return;
    if (client.syns < 1 + cfg_.min_syn_retransmissions) return;
    report(flow, st, false, pkt.ts_ns, out);
    st.reported = 1;
}

void SynUnansweredInspector::on_flow_end(const FlowCommon& flow, State& st, EventSink& out,
                                         std::uint64_t now_ns) const noexcept {
    if (!cfg_.enabled || st.reported || flow.state != TcpState::kSynSent) return;
    if (flow.dir[index(flow.client())].syns < 2) return;  // one SYN: nothing was retransmitted
    report(flow, st, true, now_ns, out);
    st.reported = 1;
}

void SynUnansweredInspector::report(const FlowCommon& flow, const State& st, bool final, std::uint64_t ts_ns,
                                    EventSink& out) const noexcept {
    const DirState& client = flow.dir[index(flow.client())];
    const SynUnanswered d{
        .syns = client.syns,
        .isn = client.isn.raw(),
        .first_syn_ns = flow.first_ns + st.first_syn_us * 1000ull,
        .last_syn_ns = flow.first_ns + st.last_syn_us * 1000ull,
        .app_retries = client.app_retries,
        .ecn_setup = client.has(kDirEcnSetup),
        .final = final,
    };
    // Three or more SYNs over seconds is the stack's backoff, not a blip: high confidence.
    const Confidence c = client.syns >= 3 ? Confidence::kHigh : Confidence::kMedium;
    Event e = flow_event(flow, ts_ns, Severity::kWarning, c, Where::kDownstream, d);
    e.packets.add(st.first_syn_pkt);
    if (st.last_syn_pkt != st.first_syn_pkt) e.packets.add(st.last_syn_pkt);
    e.packets.total = client.syns;
    out.emit(e);
}

}  // namespace tcpsleuth
