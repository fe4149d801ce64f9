#include "inspectors/flow/tcp_tracker.h"

#include <algorithm>

namespace tcpsleuth {
namespace {

void note_ip(const PacketView& pkt, DirState& d) noexcept {
    saturating_inc(d.ttl_samples);
    if (!d.has(kDirSeen)) {
        d.ttl_first = d.ttl_min = d.ttl_max = pkt.ttl;
        d.last_ip_id = pkt.ip_id;
        d.ip_id_mode = pkt.is_ipv4() ? (pkt.ip_id == 0 ? IpIdMode::kZero : IpIdMode::kUnknown) : IpIdMode::kUnknown;
        d.flags |= kDirSeen;
        return;
    }
    if (pkt.ttl < d.ttl_min) d.ttl_min = pkt.ttl;
    if (pkt.ttl > d.ttl_max) d.ttl_max = pkt.ttl;
    if (!pkt.is_ipv4()) return;
    // IP ID behaviour (RFC 6864): zero (Linux with DF on some paths), a per-flow counter
    // that steps by small amounts, or random. A RST with an ID that breaks the pattern
    // came from somewhere else.
    const std::uint16_t step = static_cast<std::uint16_t>(pkt.ip_id - d.last_ip_id);
    IpIdMode seen;
    if (pkt.ip_id == 0 && d.last_ip_id == 0) {
        seen = IpIdMode::kZero;
    } else if (step == 0) {
        return;  // the same ID again (a duplicate frame, or a retransmitted copy): says nothing
    } else if (step < 256) {
        seen = IpIdMode::kIncrementing;
    } else {
        seen = IpIdMode::kRandom;
    }
    if (d.ip_id_mode == IpIdMode::kUnknown || d.ip_id_mode == seen) {
        d.ip_id_mode = seen;
    } else if (seen == IpIdMode::kRandom) {
        d.ip_id_mode = IpIdMode::kRandom;  // one large jump is enough to stop trusting the pattern
    }
    d.last_ip_id = pkt.ip_id;
}

void note_syn(const PacketView& pkt, DirState& d) noexcept {
    d.isn = Seq(pkt.tcp.seq);
    d.snd_nxt = d.isn + 1 + pkt.payload_len;  // SYN occupies one; TFO data may follow
    d.syn_layout = pkt.opts.layout;
    d.syn_opts = pkt.opts.present;
    d.mss = pkt.opts.has(kOptMss) ? pkt.opts.mss : 0;
    // RFC 7323 section 2.3: a shift above 14 is used as 14. Kept as used, so a byte of 255
    // is not taken for kNoWscale and no reader shifts by more than 14.
    d.wscale = pkt.opts.has(kOptWscale) ? std::min(pkt.opts.wscale, DirState::kMaxWscale) : DirState::kNoWscale;
    d.flags = static_cast<std::uint8_t>(d.flags | kDirSawSyn);
    d.flags = static_cast<std::uint8_t>(d.flags & ~(kDirHole | kDirEcnSetup));
    // RFC 3168 section 6.1.1: ECN-setup SYN has ECE and CWR; ECN-setup SYN-ACK has ECE only.
    const bool ece = pkt.has_flag(kEce), cwr = pkt.has_flag(kCwr);
    const bool setup = pkt.has_flag(kAck) ? (ece && !cwr) : (ece && cwr);
    if (setup) d.flags |= kDirEcnSetup;
    d.syns = 1;
}

void negotiate(FlowCommon& f) noexcept {
    const DirState& c = f.dir[index(f.client())];
    const DirState& s = f.dir[index(f.server())];
    const auto both = [&](TcpOpt o) { return (c.syn_opts & o) && (s.syn_opts & o); };
    std::uint8_t flags = f.flags & ~(kFlowWscaleOn | kFlowSackOn | kFlowTsOn | kFlowEcnOn);
    if (both(kOptWscale)) flags |= kFlowWscaleOn;
    if (both(kOptSackPerm)) flags |= kFlowSackOn;
    if (both(kOptTimestamp)) flags |= kFlowTsOn;
    if (c.has(kDirEcnSetup) && s.has(kDirEcnSetup)) flags |= kFlowEcnOn;
    f.flags = flags;
}

void note_timestamps(const PacketView& pkt, DirState& self, DirState& peer) noexcept {
    if (!pkt.opts.has(kOptTimestamp)) return;
    const auto now_us = static_cast<std::uint32_t>(pkt.ts_ns / 1000u);
    // Our TSval echoed by the peer later gives the RTT through the peer's side of the sensor.
    if (peer.ts_probe_val != 0 && pkt.opts.ts_ecr == peer.ts_probe_val && pkt.has_flag(kAck)) {
        peer.rtt_ts_us = now_us - peer.ts_probe_us;
        peer.ts_probe_val = 0;
    }
    if (self.ts_probe_val == 0 && pkt.opts.ts_val != 0) {
        self.ts_probe_val = pkt.opts.ts_val;
        self.ts_probe_us = now_us;
    }
}

// Data and FIN sequence accounting for one side; sets the segment's class in `info`.
void note_sequence(const PacketView& pkt, FlowCommon& f, DirState& self, const DirState& peer,
                   SegmentInfo& info, CoreCounters& counters) noexcept {
    const bool syn = pkt.has_flag(kSyn);
    const bool fin = pkt.has_flag(kFin);
    const Seq seq(pkt.tcp.seq);
    const std::uint32_t len = pkt.payload_len;
    const std::uint32_t now_ms = f.rel_ms(pkt.ts_ns);

    if (syn) return;  // sequence state set by note_syn
    if (!self.has(kDirSawSyn) && self.snd_nxt == Seq() && self.isn == Seq()) {
        // First segment from a side whose SYN we never saw: start here.
        self.isn = seq - 1;
        self.snd_nxt = seq;
    }

    // Keepalive or zero-window probe: seq = SND.NXT - 1 with 0 or 1 byte (RFC 9293 section
    // 3.8.4 for keepalives; Linux sends its zero-window probes the same way). Which one it is
    // depends on the peer's window, not on the segment.
    const bool peer_window_zero = peer.has(kDirZeroWindow);
    if (!fin && len <= 1 && seq == self.snd_nxt - 1) {
        if (peer_window_zero) {
            info.zero_window_probe = true;
            saturating_inc(self.zero_window_probes);
            counters.add(Counter::kTcpZeroWindowProbes);
        } else {
            info.keepalive = true;
            saturating_inc(self.keepalives);
            counters.add(Counter::kTcpKeepalives);
        }
        return;
    }
    const std::uint32_t seg_len = len + (fin ? 1u : 0u);
    if (seg_len == 0) return;
    // BSD and Windows probe a closed window with one new byte at SND.NXT.
    if (peer_window_zero && len == 1 && seq == self.snd_nxt) {
        info.zero_window_probe = true;
        saturating_inc(self.zero_window_probes);
        counters.add(Counter::kTcpZeroWindowProbes);
    }

    const Seq end = seq + seg_len;
    if (after_eq(seq, self.snd_nxt)) {
        if (after(seq, self.snd_nxt) && !self.has(kDirHole)) {
            self.hole_lo = self.snd_nxt;
            self.hole_hi = seq;
            self.hole_ms = now_ms;
            self.flags |= kDirHole;
        }
        self.snd_nxt = end;
        info.new_data = len != 0;
        return;
    }
    if (after(end, self.snd_nxt)) {
        // Overlaps old and new sequence space: a repacketised retransmission.
        self.snd_nxt = end;
        info.new_data = true;
        info.retransmission = true;
    } else if (self.has(kDirHole) && after_eq(seq, self.hole_lo) && before(seq, self.hole_hi)) {
        // Fills the gap the sensor saw: late (reordered) or resent after an upstream loss.
        if (now_ms - self.hole_ms <= kReorderWindowMs) {
            info.out_of_order = true;
        } else {
            info.retransmission = true;
        }
        if (seq == self.hole_lo) self.hole_lo = end;
        if (after_eq(self.hole_lo, self.hole_hi)) self.flags &= static_cast<std::uint8_t>(~kDirHole);
    } else {
        info.retransmission = true;  // sequence space the sensor already saw: sent again
    }
    if (info.retransmission) {
        saturating_inc(self.retransmissions);
        counters.add(Counter::kTcpRetransmissions);
    }
    if (info.out_of_order) {
        saturating_inc(self.out_of_order);
        counters.add(Counter::kTcpOutOfOrder);
    }
}

void note_ack(const PacketView& pkt, DirState& self, DirState& peer, SegmentInfo& info,
              CoreCounters& counters) noexcept {
    if (!pkt.has_flag(kAck)) return;
    const Seq ack(pkt.tcp.ack);
    const bool pure = pkt.payload_len == 0 && (pkt.tcp.flags & (kSyn | kFin | kRst)) == 0;
    if (self.has(kDirHasAck) && pure && !info.keepalive && !info.zero_window_probe && ack == self.max_ack &&
        pkt.tcp.window == self.window && after(peer.snd_nxt, ack)) {
        // RFC 5681 section 2 "duplicate acknowledgment": same ACK, same window, no data,
        // while the peer has data outstanding.
        info.dup_ack = true;
        saturating_inc(self.dup_acks);
        counters.add(Counter::kTcpDupAcks);
    }
    if (!self.has(kDirHasAck) || after(ack, self.max_ack)) {
        info.ack_advanced = self.has(kDirHasAck);
        self.max_ack = ack;
        self.flags |= kDirHasAck;
    }
    const std::int32_t in_flight = peer.snd_nxt - self.max_ack;
    if (in_flight > 0 && static_cast<std::uint32_t>(in_flight) > peer.max_in_flight) {
        peer.max_in_flight = static_cast<std::uint32_t>(in_flight);
    }
}

void note_window(const PacketView& pkt, DirState& self, SegmentInfo& info) noexcept {
    if (pkt.has_flag(kRst)) return;  // a RST's window means nothing
    const std::uint16_t w = pkt.tcp.window;
    if (!pkt.has_flag(kSyn)) {
        if (w == 0 && !self.has(kDirZeroWindow)) {
            self.flags |= kDirZeroWindow;
            info.window_closed = true;
        } else if (w != 0 && self.has(kDirZeroWindow)) {
            self.flags &= static_cast<std::uint8_t>(~kDirZeroWindow);
            info.window_opened = true;
        }
    }
    self.window = w;
}

}  // namespace

void track_new_flow(const PacketView& pkt, Dir dir, FlowCommon& flow, CoreCounters& counters) noexcept {
    flow.first_ns = pkt.ts_ns;
    flow.last_ns = pkt.ts_ns;
    const std::uint8_t f = pkt.tcp.flags;
    if ((f & (kSyn | kAck)) == kSyn) {
        flow.client_dir = static_cast<std::uint8_t>(index(dir));
        flow.state = TcpState::kSynSent;
        return;
    }
    if ((f & (kSyn | kAck)) == (kSyn | kAck)) {
        flow.client_dir = static_cast<std::uint8_t>(index(reverse(dir)));
    } else {
        // Joined mid-stream: the side with the lower port is most likely the server
        // (services listen on well-known or registered ports, clients use ephemeral ones).
        const bool src_is_server = pkt.tcp.src_port < pkt.tcp.dst_port;
        flow.client_dir = static_cast<std::uint8_t>(index(src_is_server ? reverse(dir) : dir));
    }
    flow.state = TcpState::kMidstream;
    flow.flags |= kFlowMidstream;
    counters.add(Counter::kFlowMidstream);
}

SegmentInfo track_segment(const PacketView& pkt, Dir dir, FlowCommon& flow, CoreCounters& counters) noexcept {
    SegmentInfo info;
    info.dir = dir;
    info.from_client = dir == flow.client();
    DirState& self = flow.dir[index(dir)];
    DirState& peer = flow.dir[index(reverse(dir))];
    const std::uint8_t f = pkt.tcp.flags;

    if (pkt.ts_ns > flow.last_ns) {
        const std::uint64_t gap_ms = (pkt.ts_ns - flow.last_ns) / 1'000'000u;
        info.gap_ms = static_cast<std::uint32_t>(gap_ms > 0xffffffffu ? 0xffffffffu : gap_ms);
        if (info.gap_ms > flow.max_gap_ms) flow.max_gap_ms = info.gap_ms;
        flow.last_ns = pkt.ts_ns;
    }
    // A RST's TTL and IP ID are what rst.injected judges against this side's other packets,
    // so they stay out of the side's history.
    if (!(f & kRst)) note_ip(pkt, self);

    if (f & kRst) {
        info.rst = true;
        counters.add(Counter::kTcpRst);
        if (flow.state == TcpState::kSynSent && !info.from_client) {
            // RFC 9293 section 3.10.7.3: in SYN-SENT a RST is acceptable only if it acknowledges
            // the SYN (ACK = ISN+1). The client drops any other, and the handshake goes on.
            const bool acceptable = (f & kAck) && peer.has(kDirSawSyn) && Seq(pkt.tcp.ack) == peer.isn + 1;
            if (!acceptable) {
                info.rst_unacceptable = true;
                self.last_ms = flow.rel_ms(pkt.ts_ns);
                return info;
            }
            info.refused = true;
            counters.add(Counter::kTcpHandshakeRefused);
        }
        self.flags |= kDirSawRst;
        info.closed_now = flow.has(kFlowHandshakeDone) && flow.state != TcpState::kClosed;
        flow.state = TcpState::kClosed;
        self.last_ms = flow.rel_ms(pkt.ts_ns);
        return info;
    }

    if (f & kSyn) {
        if (!(f & kAck)) {  // SYN
            // The same ISN again after the connection carried data (or a FIN) is no
            // retransmission: no stack resends its SYN then, and no stack reuses an ISN. It is
            // the connection replayed (a looped or merged capture, a generator's lap): start
            // over rather than read the replay as old data resent.
            const bool ran = after(self.snd_nxt, self.isn + 1) || (peer.has(kDirSawSyn) && after(peer.snd_nxt, peer.isn + 1));
            if (self.has(kDirSawSyn) && Seq(pkt.tcp.seq) == self.isn && !ran) {
                if (flow.rel_us(pkt.ts_ns) - flow.syn_us < kSynDuplicateWindowUs) {
                    counters.add(Counter::kTcpDuplicateSyns);
                    self.syn_window = pkt.tcp.window;
                    self.last_ms = flow.rel_ms(pkt.ts_ns);
                    return info;  // a copy of the SYN just seen: nothing new to learn
                }
                info.syn_retransmission = true;
                saturating_inc(self.syns);
                counters.add(Counter::kTcpSynRetransmissions);
            } else {
                if (self.has(kDirSawSyn) || flow.state != TcpState::kSynSent) {
                    // A new ISN (or a replay) on this 4-tuple. Unanswered so far: the application tried
                    // again. Otherwise the port was reused for a new connection. Either
                    // way start over; an application retry is remembered as a count.
                    const bool retry = flow.state == TcpState::kSynSent;
                    const std::uint8_t retries = self.app_retries;
                    self = DirState{};
                    peer = DirState{};
                    self.app_retries = retries;
                    info.new_connection = true;
                    if (retry) {
                        info.app_retry = true;
                        counters.add(Counter::kTcpAppRetries);
                        saturating_inc(self.app_retries);
                    }
                    flow.flags = 0;
                    note_ip(pkt, self);
                }
                note_syn(pkt, self);
                flow.client_dir = static_cast<std::uint8_t>(index(dir));
                info.from_client = true;
                flow.state = TcpState::kSynSent;
            }
            flow.syn_us = flow.rel_us(pkt.ts_ns);
        } else {  // SYN-ACK
            if (self.has(kDirSawSyn) && Seq(pkt.tcp.seq) == self.isn) {
                info.syn_retransmission = true;
                saturating_inc(self.syns);
                counters.add(Counter::kTcpSynRetransmissions);
            } else {
                note_syn(pkt, self);
                info.syn_ack_first = true;
                if (peer.has(kDirSawSyn)) flow.rtt_syn_us = flow.rel_us(pkt.ts_ns) - flow.syn_us;
                if (flow.state == TcpState::kSynSent || flow.state == TcpState::kMidstream) {
                    flow.state = TcpState::kSynReceived;
                }
                negotiate(flow);
            }
            flow.synack_us = flow.rel_us(pkt.ts_ns);
        }
        self.syn_window = pkt.tcp.window;
    } else if (flow.state == TcpState::kSynReceived && info.from_client && (f & kAck) &&
               Seq(pkt.tcp.ack) == peer.isn + 1) {
        // RFC 9293 section 3.5: the ACK of the SYN-ACK completes the handshake.
        flow.state = TcpState::kEstablished;
        flow.flags |= kFlowHandshakeDone;
        info.handshake_completed = true;
        counters.add(Counter::kTcpHandshakeCompleted);
        flow.rtt_ack_us = flow.rel_us(pkt.ts_ns) - flow.synack_us;
    }

    note_sequence(pkt, flow, self, peer, info, counters);
    note_ack(pkt, self, peer, info, counters);
    note_window(pkt, self, info);
    note_timestamps(pkt, self, peer);

    if (f & kFin) {
        info.fin = true;
        if (!self.has(kDirSawFin)) {
            self.flags |= kDirSawFin;
            counters.add(Counter::kTcpFin);
        }
        const TcpState next = peer.has(kDirSawFin) ? TcpState::kClosed : TcpState::kClosing;
        info.closed_now = next == TcpState::kClosed && flow.state != TcpState::kClosed && flow.has(kFlowHandshakeDone);
        flow.state = next;
    }
    self.last_ms = flow.rel_ms(pkt.ts_ns);
    return info;
}

void track_icmp(const PacketView& pkt, FlowCommon& flow) noexcept {
    saturating_inc(flow.icmp_errors);
    if (pkt.icmp.frag_needed && pkt.icmp.mtu != 0 && (flow.icmp_mtu == 0 || pkt.icmp.mtu < flow.icmp_mtu)) {
        flow.icmp_mtu = pkt.icmp.mtu;
    }
}

void track_flow_end(const FlowCommon& flow, CoreCounters& counters) noexcept {
    if (flow.state == TcpState::kSynSent) counters.add(Counter::kTcpHandshakeFailed);
}

}  // namespace tcpsleuth
