#include "inspectors/detectors/zero_window.h"

#include "inspectors/output/event_builder.h"

namespace tcpsleuth {

void ZeroWindowInspector::on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow,
                                    State& st, EventSink& out) const noexcept {
    if (!cfg_.enabled) return;
    const std::uint32_t num = packet_number32(pkt.number);
    if (seg.window_closed && !st.active) {
        const DirState& receiver = flow.dir[index(seg.dir)];
        const DirState& sender = flow.dir[index(reverse(seg.dir))];
        st.active = 1;
        st.side = static_cast<std::uint8_t>(index(seg.dir));
        st.since_ns = pkt.ts_ns;
        st.first_pkt = num;
        st.last_pkt = num;
        st.probes = 0;
        st.bytes_waiting = receiver.has(kDirHasAck)
                               ? static_cast<std::uint32_t>(sender.snd_nxt - receiver.max_ack) : 0;
        return;
    }
    if (!st.active) return;
    if (seg.zero_window_probe && index(seg.dir) != st.side) {
        saturating_inc(st.probes);
        st.last_pkt = num;
    } else if (seg.window_opened && index(seg.dir) == st.side) {
        end_stall(flow, st, pkt.ts_ns, pkt.number, false, out);
    }
}

void ZeroWindowInspector::on_flow_end(const FlowCommon& flow, State& st, EventSink& out,
                                      std::uint64_t now_ns) const noexcept {
    if (cfg_.enabled && st.active) end_stall(flow, st, now_ns, 0, true, out);
}

void ZeroWindowInspector::end_stall(const FlowCommon& flow, State& st, std::uint64_t end_ns,
                                    std::uint64_t last_pkt, bool ongoing, EventSink& out) const noexcept {
    // The episode is over: its fields go (fresh state gives a cold record back), the count of
    // stalls reported stays.
    const State ep = st;
    st = State{};
    st.stalls = ep.stalls;
    st.next_report = ep.next_report;
    const std::uint64_t since_ns = ep.since_ns;
    const std::uint64_t duration_ns = end_ns > since_ns ? end_ns - since_ns : 0;
    const bool long_enough = duration_ns >= cfg_.min_duration_ms * 1'000'000ull;
    const bool probed = cfg_.min_probes != 0 && ep.probes >= cfg_.min_probes;
    if (!long_enough && !probed) return;  // a brief closed window is flow control working
    // A closed window only stalls a sender that has something to send: it probed, or data
    // was in flight when the window closed. Otherwise the peer was simply done talking.
    if (ep.probes == 0 && ep.bytes_waiting == 0) return;
    if (!bump_and_should_report(st.stalls, st.next_report)) return;

    const Dir zero_dir = static_cast<Dir>(ep.side);
    const ZeroWindowStall d{
        .since_ns = since_ns,
        .duration_ns = duration_ns,
        .probes = ep.probes,
        .stall_number = st.stalls,
        .threshold_ms = cfg_.min_duration_ms,
        .min_probes = cfg_.min_probes,
        .bytes_waiting = ep.bytes_waiting,
        .slow_side = zero_dir == flow.client() ? Side::kClient : Side::kServer,
        .ongoing = ongoing,
    };
    // Both thresholds crossed: certainly a stall; one of them: likely.
    const Confidence c = long_enough && probed ? Confidence::kHigh : Confidence::kMedium;
    Event e = flow_event(flow, end_ns, Severity::kWarning, c, Where::kDownstream, d);
    e.occurrence = st.stalls;
    e.packets.add(ep.first_pkt);
    if (ep.last_pkt != ep.first_pkt) e.packets.add(ep.last_pkt);
    if (last_pkt != 0) e.packets.add(last_pkt);
    out.emit(e);
}

}  // namespace tcpsleuth
