#include "inspectors/detectors/one_way_loss.h"

#include "inspectors/output/event_builder.h"
#include "inspectors/evidence/path_facts.h"

namespace tcpsleuth {

void OneWayLossInspector::on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow,
                                    const std::uint16_t (&delivered_payload)[2], Acks& acks, State& st,
                                    EventSink& out) const noexcept {
    if (!cfg_.enabled || st.reported || seg.rst) return;
    if (pkt.has_flag(kSyn) && !pkt.has_flag(kAck)) {
        // A SYN (new, or the same ISN again): the connection starts over, nothing is stuck.
        st.dir[0] = st.dir[1] = Sender{};
        return;
    }
    const unsigned me = index(seg.dir);
    if (seg.ack_advanced) acks.pkt[me] = packet_number32(pkt.number);
    // The other side's stuck segment: acknowledged now, or this side shows it is alive.
    Sender& theirs = st.dir[me ^ 1u];
    if (theirs.tracking && !theirs.acked) {
        const DirState& self = flow.dir[me];
        if (self.has(kDirHasAck) && after_eq(self.max_ack, theirs.head_end)) {
            theirs = Sender{};  // it got through after all
        } else if (seg.new_data && !seg.retransmission) {
            theirs.peer_alive = 1;
        }
    }
    const bool syn_ack_again = seg.syn_retransmission && pkt.has_flag(kAck);
    const bool resend = (seg.retransmission || syn_ack_again) && !seg.keepalive && !seg.zero_window_probe;
    Sender& mine = st.dir[me];
    if (resend) {
        on_retransmission(pkt, seg, flow, delivered_payload[me], acks, st, out);
    } else if (seg.new_data || seg.fin || (mine.acked && mine.tracking)) {
        // New data goes out: the sender hears ACKs again. And a sender whose ACKs are all
        // lost hears nothing at all: it sends its head again and again and nothing else, no
        // ACK of its own (a sender merely ignored, the other shape, still acknowledges the
        // peer's data).
        mine = Sender{};
    }
}

void OneWayLossInspector::on_retransmission(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow,
                                            std::uint16_t delivered, const Acks& acks, State& st,
                                            EventSink& out) const noexcept {
    const unsigned me = index(seg.dir);
    Sender& s = st.dir[me];
    const DirState& receiver = flow.dir[me ^ 1u];
    const Seq seq(pkt.tcp.seq);
    const std::uint32_t seg_len = pkt.payload_len + ((pkt.tcp.flags & (kSyn | kFin)) != 0 ? 1u : 0u);
    if (seg_len == 0) return;
    // A resend lies inside what this side has sent since its ISN (the SYN itself included
    // for a SYN-ACK). Anything else belongs to another connection on this 4-tuple whose SYN
    // the sensor missed, or to a stretch of the flow it did not see: nothing to judge by.
    const DirState& sender = flow.dir[me];
    const Seq first_seq = sender.isn + (pkt.has_flag(kSyn) ? 0u : 1u);
    if (before(seq, first_seq) || !before(seq, sender.snd_nxt)) {
        s = Sender{};
        return;
    }
    const Seq end = seq + seg_len;
    const bool acked = receiver.has(kDirHasAck) && after_eq(receiver.max_ack, end);
    const std::uint32_t now_ms = flow.rel_ms(pkt.ts_ns);
    const std::uint32_t num = packet_number32(pkt.number);

    if (!s.tracking || before(seq, s.head) || (seq == s.head && acked != (s.acked != 0))) {
        // A new head, or the same one whose fate at the sensor changed: start counting again.
        s = Sender{};
        s.tracking = 1;
        s.head = seq;
        s.head_end = end;
        s.len = static_cast<std::uint16_t>(pkt.payload_len > 0xffff ? 0xffff : pkt.payload_len);
        s.acked = acked;
        s.ack_pkt = acked ? acks.pkt[me ^ 1u] : 0;
        s.retransmissions = 1;
        s.first_ms = s.last_ms = now_ms;
        s.first_pkt = s.last_pkt = num;
        return;
    }
    if (seq != s.head) {
        // A sender that resends other data meanwhile is not stuck on one segment behind a
        // silent timer (a replayed stretch of the flow, a capture merged with an older one).
        s = Sender{};
        return;
    }
    const RetxStep step = retx_step(flow, now_ms, s.first_ms, s.last_ms, s.retransmissions);
    if (step.copy) return;
    saturating_inc(s.retransmissions);
    s.last_ms = now_ms;
    s.last_pkt = num;
    if (s.retransmissions < cfg_.min_retransmissions || !step.backed_off) return;
    if (!s.acked) {
        // Unanswered: only a peer that shows it is alive makes this one-way, and a closed
        // window or a segment larger than anything delivered has its own explanation.
        if (!s.peer_alive || receiver.has(kDirZeroWindow)) return;
        if (s.len > delivered && pkt.ip_len > min_path_mtu(pkt.is_ipv4())) return;
    }
    st.reported = 1;
    const PathOneWayLoss d{
        .sender = side_of(flow, seg.dir),
        .lost_from = s.acked ? side_of(flow, reverse(seg.dir)) : side_of(flow, seg.dir),
        .acknowledged = s.acked != 0,
        .retransmissions = s.retransmissions,
        .threshold = cfg_.min_retransmissions,
        .seq_from = static_cast<std::uint32_t>(s.head - sender.isn),
        .seq_to = static_cast<std::uint32_t>(s.head_end - sender.isn),
        .acked_to = receiver.has(kDirHasAck) ? static_cast<std::uint32_t>(receiver.max_ack - sender.isn) : 0,
        .first_retx_ns = flow.first_ns + std::uint64_t{s.first_ms} * 1'000'000u,
        .last_retx_ns = flow.first_ns + std::uint64_t{s.last_ms} * 1'000'000u,
        .rtt_us = flow.rtt_us(),
    };
    // Acknowledged at the sensor and resent anyway: the sender plainly never got the ACK.
    // Unanswered while the peer talks: its data proves it up, though it could be deaf to this
    // flow for a reason of its own.
    Event e = flow_event(flow, pkt.ts_ns, Severity::kWarning, s.acked ? Confidence::kHigh : Confidence::kMedium,
                         Where::kDownstream, d);
    if (s.acked) e.packets.add(s.ack_pkt);
    e.packets.add(s.first_pkt);
    e.packets.add(s.last_pkt);
    e.packets.total = s.retransmissions + (s.acked ? 1u : 0u);
    out.emit(e);
}

}  // namespace tcpsleuth
