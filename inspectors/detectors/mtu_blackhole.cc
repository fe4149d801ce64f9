#include "inspectors/detectors/mtu_blackhole.h"

#include "inspectors/output/event_builder.h"
#include "inspectors/evidence/path_facts.h"

namespace tcpsleuth {
namespace {

constexpr std::uint16_t kEthernetMtu = 1500;
// TCP options (timestamps: 12 bytes; SACK blocks more) make a full-sized segment's payload
// a few dozen bytes smaller than the MSS it was cut to.
constexpr std::uint16_t kOptionAllowance = 40;

std::uint16_t clamp16(std::uint32_t v) noexcept { return v > 0xffff ? 0xffff : static_cast<std::uint16_t>(v); }

void note_carried(MtuInspector::Path& p, std::uint16_t ip_len) noexcept {
    if (ip_len > p.carried_ip_len) p.carried_ip_len = ip_len;
}


}  // namespace

void MtuInspector::on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, Sizes& sizes,
                             State& st, EventSink& out) const noexcept {
    if (!cfg_.enabled || seg.rst) return;
    if (pkt.has_flag(kSyn)) {
        // The handshake is the first thing the path carried: the SYN once the SYN-ACK answers
        // it, the SYN-ACK once the handshake's ACK does.
        sizes.dir[index(seg.dir)].syn_ip_len = clamp16(pkt.ip_len);
        if (seg.syn_ack_first) {
            Path& client = sizes.dir[index(reverse(seg.dir))];
            note_carried(client, client.syn_ip_len);
        }
        return;
    }
    if (seg.handshake_completed) {
        Path& server = sizes.dir[index(reverse(seg.dir))];
        note_carried(server, server.syn_ip_len);
    }
    if (pkt.payload_len != 0 && !seg.keepalive && !seg.zero_window_probe) on_data(pkt, seg, flow, sizes, st, out);
    if (pkt.has_flag(kAck)) on_ack(pkt, seg, flow, sizes, st, out);
}

void MtuInspector::on_data(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, Sizes& sizes,
                           State& st, EventSink& out) const noexcept {
    Path& p = sizes.dir[index(seg.dir)];
    Loss& s = st.dir[index(seg.dir)];
    const Seq seq(pkt.tcp.seq);
    const std::uint16_t len = clamp16(pkt.payload_len);
    const std::uint16_t ip_len = clamp16(pkt.ip_len);
    const std::uint32_t now_ms = flow.rel_ms(pkt.ts_ns);

    // The sender ignoring an ICMP that named a smaller MTU: retransmissions still above it.
    if (st.icmp_mtu != 0 && st.icmp_dir == index(seg.dir) && seg.retransmission && ip_len > st.icmp_mtu &&
        now_ms > st.icmp_ms) {
        saturating_inc(st.larger_after);
        if (st.larger_after >= cfg_.ignored_after_segments && st.icmp_reported == 1) {
            st.icmp_reported = 2;
            const IcmpFragNeeded d{.sender = side_of(flow, seg.dir), .ignored = true, .mtu = st.icmp_mtu,
                                   .quoted_ip_len = st.icmp_quoted_len, .larger_after = st.larger_after,
                                   .messages = st.icmp_messages, .threshold = clamp16(cfg_.ignored_after_segments)};
            // The ICMP passed the sensor on its way to the sender and never arrived.
            Event e = flow_event(flow, pkt.ts_ns, Severity::kWarning, Confidence::kHigh, Where::kDownstream, d);
            e.occurrence = 2;
            e.packets.add(st.icmp_pkt);
            e.packets.add(pkt.number);
            out.emit(e);
        }
    }

    // Segments larger than the receiver's MSS never crossed a wire as one packet: the capture
    // was taken on the sender before segmentation offload (TSO/GSO) cut them up.
    // Without the receiver's MSS (a flow joined mid-stream), anything above an Ethernet MTU
    // is taken as such a capture artifact.
    const DirState& receiver = flow.dir[index(reverse(seg.dir))];
    if (receiver.mss != 0 ? len > receiver.mss : ip_len > kEthernetMtu) return;

    if (!seg.retransmission) {
        // Remember the largest new segment still unconfirmed; its ACK proves that size passes.
        // A later one of the same size does not take its place: a bulk sender always has
        // newer segments in flight, and an ACK would never catch up with a moving probe.
        if (len > p.delivered_len && len > p.probe_len) {
            p.probe_end = seq + len;
            p.probe_len = len;
            p.probe_ip_len = ip_len;
        } else if (len < p.probe_len || len < s.stuck_len) {
            // A smaller one behind it: if it is SACKed while the large one is not, size decides.
            p.small_seq = seq;
            p.small_len = len;
            p.small_ip_len = ip_len;
        }
        return;
    }
    if (s.stuck_len != 0 && seq == s.stuck_seq) {
        if (len == s.stuck_len) {
            const RetxStep step = retx_step(flow, now_ms, s.stuck_since_ms, s.last_retx_ms, s.stuck_retx);
            if (step.copy) return;
            s.backed_off = step.backed_off;
            saturating_inc(s.stuck_retx);
            s.last_retx_ms = now_ms;
            s.last_retx_pkt = static_cast<std::uint32_t>(pkt.number);
        } else if (len < s.stuck_len && (s.shrunk_len == 0 || len < s.shrunk_len)) {
            s.shrunk_len = len;  // the sender is trying smaller: confirmed if this one is ACKed
            s.shrunk_ip_len = ip_len;
            p.probe_len = 0;
        }
    } else if (s.stuck_len == 0 || before(seq, s.stuck_seq)) {
        // Track the lowest segment being resent: the head that RTO retransmits (a tail loss
        // probe may resend a later one first, RFC 8985 section 7).
        s.stuck_seq = seq;
        s.stuck_len = len;
        s.stuck_ip_len = ip_len;
        s.stuck_retx = 1;
        s.stuck_since_ms = now_ms;
        s.last_retx_ms = now_ms;
        s.stuck_pkt = static_cast<std::uint32_t>(pkt.number);
        s.last_retx_pkt = s.stuck_pkt;
        s.shrunk_len = 0;
        s.shrunk_ip_len = 0;
        s.backed_off = 0;
    }
    const std::uint32_t needed = p.delivered_len == 0 ? cfg_.first_segment_retransmissions : cfg_.min_retransmissions;
    if (s.reported == 0 && s.backed_off && size_suspect(flow, p, s, pkt.is_ipv4(), needed)) {
        s.reported = 1;
        report(flow, sizes, st, seg.dir, false, false, 1, pkt.ts_ns, pkt.number, out);
    }
}

// Only a segment larger than anything delivered is size-suspect: the same size got through
// before, so its loss is loss, not MTU. And it must be larger than any path can fail to
// carry (min_path_mtu). The path must have carried something of this sender's: smaller
// data, or at least the handshake (then the receiver was alive a moment ago and the path
// was up).
bool MtuInspector::size_suspect(const FlowCommon& flow, const Path& p, const Loss& s, bool ipv4,
                                std::uint32_t min_retx) const noexcept {
    const bool path_proven = p.delivered_len != 0 || (flow.has(kFlowHandshakeDone) && p.carried_ip_len != 0);
    return s.stuck_len != 0 && s.stuck_retx >= min_retx && s.stuck_len > p.delivered_len && path_proven &&
           s.stuck_ip_len > min_path_mtu(ipv4) && s.shrunk_len == 0;
}

void MtuInspector::on_flow_end(const FlowCommon& flow, const Sizes& sizes, State& st, EventSink& out,
                               std::uint64_t now_ns) const noexcept {
    if (!cfg_.enabled) return;
    const std::uint32_t min_retx = cfg_.min_retransmissions > 1 ? cfg_.min_retransmissions - 1 : 1;
    for (unsigned d = 0; d < 2; ++d) {
        Loss& s = st.dir[d];
        // With one interval there is no back-off to see yet; with more, it must show.
        if (s.reported != 0 || !size_suspect(flow, sizes.dir[d], s, flow.key.ip_version == 4, min_retx)) continue;
        if (s.stuck_retx > 2 && !s.backed_off) continue;
        s.reported = 1;
        report(flow, sizes, st, static_cast<Dir>(d), false, true, 1, now_ns, 0, out);
    }
}

void MtuInspector::on_ack(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, Sizes& sizes,
                          State& st, EventSink& out) const noexcept {
    const Dir sender = reverse(seg.dir);
    Path& p = sizes.dir[index(sender)];
    Loss& s = st.dir[index(sender)];
    const Seq ack(pkt.tcp.ack);
    const auto sacked = [&](Seq from, Seq to) {
        for (unsigned i = 0; i < pkt.opts.sack_blocks; ++i) {
            if (after_eq(from, Seq(pkt.opts.sack[i].left)) && before_eq(to, Seq(pkt.opts.sack[i].right))) return true;
        }
        return false;
    };
    if (p.probe_len != 0 && after_eq(ack, p.probe_end)) {
        if (p.probe_len > p.delivered_len) {
            p.delivered_len = p.probe_len;
            p.delivered_ip_len = p.probe_ip_len;
        }
        note_carried(p, p.probe_ip_len);
        p.probe_len = 0;
    }
    if (p.small_len != 0 && (after_eq(ack, p.small_seq + p.small_len) || sacked(p.small_seq, p.small_seq + p.small_len))) {
        if (p.small_len > p.delivered_len) {
            p.delivered_len = p.small_len;
            p.delivered_ip_len = p.small_ip_len;
        }
        note_carried(p, p.small_ip_len);
        // SACKed, not cumulatively acknowledged: something before it is still missing. If the
        // large segment resent later lies before it, the receiver took a smaller segment sent
        // after the large one while the large one never arrived.
        if (before(ack, p.small_seq)) {
            s.sacked_end = p.small_seq + p.small_len;
            s.has_sacked_end = 1;
        }
        p.small_len = 0;
    }
    if (s.stuck_len == 0) return;
    bool covered = after(ack, s.stuck_seq);
    for (unsigned i = 0; i < pkt.opts.sack_blocks && !covered; ++i) {
        covered = after_eq(s.stuck_seq, Seq(pkt.opts.sack[i].left)) && before(s.stuck_seq, Seq(pkt.opts.sack[i].right));
    }
    if (!covered) return;
    const bool shrunk = s.shrunk_len != 0 && after_eq(ack, s.stuck_seq + s.shrunk_len);
    if (shrunk && s.shrunk_len > p.delivered_len) {
        p.delivered_len = s.shrunk_len;
        p.delivered_ip_len = s.shrunk_ip_len;
    }
    if (shrunk) note_carried(p, s.shrunk_ip_len);
    // Confirmed: the same bytes were lost at one size and delivered at a smaller one, after
    // enough timer-spaced same-size retransmissions that chance loss is not the explanation.
    if (shrunk && s.reported < 2 && s.stuck_retx >= cfg_.min_retransmissions && s.stuck_ip_len > min_path_mtu(pkt.is_ipv4())) {
        const std::uint32_t occurrence = s.reported == 1 ? 2 : 1;
        s.reported = 2;
        report(flow, sizes, st, sender, true, false, occurrence, pkt.ts_ns, pkt.number, out);
    }
    // Delivered: the loss is over. What was reported stays; the rest goes, so a flow whose
    // loss was chance gives its cold record back.
    const std::uint8_t reported = s.reported;
    s = Loss{};
    s.reported = reported;
}

void MtuInspector::on_icmp(const PacketView& pkt, Dir quoted_dir, const FlowCommon& flow, State& st,
                           EventSink& out) const noexcept {
    if (!cfg_.enabled || !pkt.icmp.frag_needed) return;
    saturating_inc(st.icmp_messages);
    const std::uint16_t mtu = clamp16(pkt.icmp.mtu);
    if (st.icmp_mtu == 0 || (mtu != 0 && mtu < st.icmp_mtu)) {
        st.icmp_mtu = mtu;
        st.icmp_quoted_len = pkt.icmp.quoted_total_len;
        st.icmp_dir = static_cast<std::uint8_t>(index(quoted_dir));
        st.icmp_ms = flow.rel_ms(pkt.ts_ns);
        st.icmp_pkt = static_cast<std::uint32_t>(pkt.number);
        st.larger_after = 0;
    }
    if (st.icmp_reported != 0) return;
    st.icmp_reported = 1;
    const IcmpFragNeeded d{.sender = side_of(flow, quoted_dir), .ignored = false, .mtu = mtu,
                           .quoted_ip_len = pkt.icmp.quoted_total_len, .larger_after = 0,
                           .messages = st.icmp_messages, .threshold = clamp16(cfg_.ignored_after_segments)};
    Event e = flow_event(flow, pkt.ts_ns, Severity::kInfo, Confidence::kHigh, Where::kDownstream, d);
    e.packets.add(pkt.number);
    out.emit(e);
}

void MtuInspector::report(const FlowCommon& flow, const Sizes& sizes, const State& st, Dir sender, bool confirmed,
                          bool capture_ended, std::uint32_t occurrence, std::uint64_t ts_ns, std::uint64_t number,
                          EventSink& out) const noexcept {
    const Path& p = sizes.dir[index(sender)];
    const Loss& s = st.dir[index(sender)];
    const DirState& receiver = flow.dir[index(reverse(sender))];
    const MtuBlackhole d{
        .sender = side_of(flow, sender),
        .confirmed = confirmed,
        .capture_ended = capture_ended,
        .icmp_seen = st.icmp_mtu != 0 && st.icmp_dir == index(sender),
        .delivered_after = s.has_sacked_end != 0 && after_eq(s.sacked_end, s.stuck_seq + s.stuck_len),
        .lost_payload = s.stuck_len,
        .lost_ip_len = s.stuck_ip_len,
        .delivered_payload = p.delivered_len,
        .delivered_ip_len = p.delivered_ip_len,
        .carried_ip_len = p.carried_ip_len,
        .retransmissions = s.stuck_retx,
        .icmp_mtu = st.icmp_dir == index(sender) ? st.icmp_mtu : std::uint16_t{0},
        .threshold = clamp16(p.delivered_len == 0 ? cfg_.first_segment_retransmissions : cfg_.min_retransmissions),
        .waited_ms = flow.rel_ms(ts_ns) - s.stuck_since_ms,
    };
    // Confirmed by the sender's own shrinking, or a smaller segment delivered while this one
    // stayed lost (the receiver alive, the size the only difference): firm. Smaller data
    // delivered earlier: the loss is size-dependent, though a peer that died just then would
    // look the same. Only the handshake: the commonest black hole when the lost segment is a
    // full-sized one; a mid-sized first segment lost is weaker evidence.
    Confidence c = Confidence::kMedium;
    if (confirmed || d.delivered_after) {
        c = Confidence::kHigh;
    } else if (p.delivered_len == 0) {
        const bool full_sized = receiver.mss != 0 && s.stuck_len + kOptionAllowance >= receiver.mss;
        c = full_sized ? Confidence::kMedium : Confidence::kLow;
    }
    if (capture_ended) c = Confidence::kLow;  // the sender had not retried min_retransmissions times yet
    Event e = flow_event(flow, ts_ns, c == Confidence::kLow ? Severity::kWarning : Severity::kCritical, c,
                         Where::kDownstream, d);
    e.occurrence = occurrence;
    e.packets.add(s.stuck_pkt);
    if (s.last_retx_pkt != s.stuck_pkt) e.packets.add(s.last_retx_pkt);
    if (number != 0 && number != s.last_retx_pkt) e.packets.add(number);
    out.emit(e);
}

}  // namespace tcpsleuth
