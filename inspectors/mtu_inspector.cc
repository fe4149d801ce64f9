#include "mtu_inspector.h"

#include "event_builder.h"

namespace tcpsleuth {
namespace {

constexpr std::uint16_t kMinIpv4PathMtu = 576;
constexpr std::uint16_t kMinIpv6PathMtu = 1280;
constexpr std::uint16_t kEthernetMtu = 1500;
// Retransmissions driven by the retransmission timer back off from at least 200 ms (Linux's
// minimum RTO; RFC 6298 says 1 s): the first and third are at least 200 + 400 ms apart.
// Faster repeats are a duplicating capture or a broken sender, not a path dropping by size.
constexpr std::uint32_t kMinBackoffSpanMs = 300;

std::uint16_t clamp16(std::uint32_t v) noexcept { return v > 0xffff ? 0xffff : static_cast<std::uint16_t>(v); }

}  // namespace

void MtuInspector::on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, State& st,
                             EventSink& out) const noexcept {
    if (!cfg_.enabled || seg.rst || pkt.has_flag(kSyn)) return;
    if (pkt.payload_len != 0 && !seg.keepalive && !seg.zero_window_probe) on_data(pkt, seg, flow, st, out);
    if (pkt.has_flag(kAck)) on_ack(pkt, seg, flow, st, out);
}

void MtuInspector::on_data(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, State& st,
                           EventSink& out) const noexcept {
    Sender& s = st.dir[index(seg.dir)];
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
        if (len > s.delivered_len && len >= s.probe_len) {
            s.probe_end = seq + len;
            s.probe_len = len;
            s.probe_ip_len = ip_len;
        }
        return;
    }
    if (s.stuck_len != 0 && seq == s.stuck_seq) {
        if (len == s.stuck_len) {
            saturating_inc(s.stuck_retx);
            s.last_retx_pkt = static_cast<std::uint32_t>(pkt.number);
        } else if (len < s.stuck_len && (s.shrunk_len == 0 || len < s.shrunk_len)) {
            s.shrunk_len = len;  // the sender is trying smaller: confirmed if this one is ACKed
            s.shrunk_ip_len = ip_len;
            s.probe_len = 0;
        }
    } else if (s.stuck_len == 0 || before(seq, s.stuck_seq)) {
        // Track the lowest segment being resent: the head that RTO retransmits (a tail loss
        // probe may resend a later one first, RFC 8985 section 7).
        s.stuck_seq = seq;
        s.stuck_len = len;
        s.stuck_ip_len = ip_len;
        s.stuck_retx = 1;
        s.stuck_since_ms = now_ms;
        s.stuck_pkt = static_cast<std::uint32_t>(pkt.number);
        s.last_retx_pkt = s.stuck_pkt;
        s.shrunk_len = 0;
        s.shrunk_ip_len = 0;
    }
    // Only a segment larger than anything delivered is size-suspect: the same size got
    // through before, so its loss is loss, not MTU. And it must be larger than any path can
    // fail to carry: IPv4 paths carry 576 bytes (RFC 791, RFC 1122 3.3.3), IPv6 1280 (RFC 8200
    // section 5). Without smaller data delivered, a dead peer explains it as well; wait for
    // the sender to shrink.
    const std::uint16_t floor = pkt.is_ipv4() ? kMinIpv4PathMtu : kMinIpv6PathMtu;
    if (s.reported == 0 && s.stuck_retx >= cfg_.min_retransmissions && s.stuck_len > s.delivered_len &&
        s.delivered_len != 0 && s.stuck_ip_len > floor && s.shrunk_len == 0 &&
        now_ms - s.stuck_since_ms >= kMinBackoffSpanMs) {
        s.reported = 1;
        report(flow, st, seg.dir, false, 1, pkt.ts_ns, pkt.number, out);
    }
}

void MtuInspector::on_ack(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, State& st,
                          EventSink& out) const noexcept {
    const Dir sender = reverse(seg.dir);
    Sender& s = st.dir[index(sender)];
    const Seq ack(pkt.tcp.ack);
    if (s.probe_len != 0 && after_eq(ack, s.probe_end)) {
        if (s.probe_len > s.delivered_len) {
            s.delivered_len = s.probe_len;
            s.delivered_ip_len = s.probe_ip_len;
        }
        s.probe_len = 0;
    }
    if (s.stuck_len == 0) return;
    bool covered = after(ack, s.stuck_seq);
    for (unsigned i = 0; i < pkt.opts.sack_blocks && !covered; ++i) {
        covered = after_eq(s.stuck_seq, Seq(pkt.opts.sack[i].left)) && before(s.stuck_seq, Seq(pkt.opts.sack[i].right));
    }
    if (!covered) return;
    const bool shrunk = s.shrunk_len != 0 && after_eq(ack, s.stuck_seq + s.shrunk_len);
    if (shrunk && s.shrunk_len > s.delivered_len) {
        s.delivered_len = s.shrunk_len;
        s.delivered_ip_len = s.shrunk_ip_len;
    }
    // Confirmed: the same bytes were lost at one size and delivered at a smaller one, after
    // enough same-size retransmissions that chance loss is not the explanation.
    if (shrunk && s.reported < 2 && s.stuck_retx >= cfg_.min_retransmissions &&
        flow.rel_ms(pkt.ts_ns) - s.stuck_since_ms >= kMinBackoffSpanMs &&
        s.stuck_ip_len > (pkt.is_ipv4() ? kMinIpv4PathMtu : kMinIpv6PathMtu)) {
        const std::uint32_t occurrence = s.reported == 1 ? 2 : 1;
        s.reported = 2;
        report(flow, st, sender, true, occurrence, pkt.ts_ns, pkt.number, out);
    }
    s.stuck_len = 0;
    s.stuck_retx = 0;
    s.shrunk_len = 0;
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

void MtuInspector::report(const FlowCommon& flow, const State& st, Dir sender, bool confirmed,
                          std::uint32_t occurrence, std::uint64_t ts_ns, std::uint64_t number, EventSink& out) const noexcept {
    const Sender& s = st.dir[index(sender)];
    const MtuBlackhole d{
        .sender = side_of(flow, sender),
        .confirmed = confirmed,
        .icmp_seen = st.icmp_mtu != 0 && st.icmp_dir == index(sender),
        .lost_payload = s.stuck_len,
        .lost_ip_len = s.stuck_ip_len,
        .delivered_payload = s.delivered_len,
        .delivered_ip_len = s.delivered_ip_len,
        .retransmissions = s.stuck_retx,
        .icmp_mtu = st.icmp_dir == index(sender) ? st.icmp_mtu : std::uint16_t{0},
        .threshold = clamp16(cfg_.min_retransmissions),
        .waited_ms = flow.rel_ms(ts_ns) - s.stuck_since_ms,
    };
    // Confirmed by the sender's own shrinking: certain. Smaller data delivered earlier: the
    // loss is size-dependent, though a peer that died just then would look the same.
    const Confidence c = confirmed ? Confidence::kHigh : Confidence::kMedium;
    Event e = flow_event(flow, ts_ns, Severity::kCritical, c, Where::kDownstream, d);
    e.occurrence = occurrence;
    e.packets.add(s.stuck_pkt);
    if (s.last_retx_pkt != s.stuck_pkt) e.packets.add(s.last_retx_pkt);
    if (number != s.last_retx_pkt) e.packets.add(number);
    out.emit(e);
}

}  // namespace tcpsleuth
