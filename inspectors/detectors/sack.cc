#include "inspectors/detectors/sack.h"

#include "inspectors/output/event_builder.h"

namespace tcpsleuth {
namespace {

enum ReceiverFlag : std::uint8_t {
    kSawBlocks = 1,
    kInvalidReported = 2,
    kUnnegotiatedReported = 4,
    kMissingReported = 8,
};

}  // namespace

void SackInspector::on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, State& st,
                              EventSink& out) const noexcept {
    if (!cfg_.enabled || seg.rst || !pkt.has_flag(kAck) || pkt.has_flag(kSyn)) return;
    Receiver& r = st.dir[index(seg.dir)];
    // Fast retransmit follows consecutive duplicates (RFC 5681 section 3.2): an advancing
    // ACK ends the run. Isolated duplicates far apart (a sensor that missed a stretch of
    // the flow and then sees old ACKs again, or a duplicated frame) are not a loss episode.
    if (seg.ack_advanced) r.dup_acks_without_blocks = 0;
    if (pkt.opts.sack_blocks != 0) {
        r.flags |= kSawBlocks;
        r.dup_acks_without_blocks = 0;
        check_blocks(pkt, seg, flow, r, out);
        return;
    }
    // Duplicate ACKs during loss with SACK agreed carry blocks from every stack that agreed
    // (RFC 2018 section 4); a receiver that never sends any lost the option on the way.
    // A duplicate ACK with a zero window refuses data rather than reporting a hole.
    if (!seg.dup_ack || pkt.tcp.window == 0 || !flow.has(kFlowSackOn) || (r.flags & (kSawBlocks | kMissingReported))) {
        return;
    }
    saturating_inc(r.dup_acks_without_blocks);
    if (r.dup_acks_without_blocks == 1) r.first_dup_ack_pkt = static_cast<std::uint32_t>(pkt.number);
    if (r.dup_acks_without_blocks < cfg_.min_dup_acks_without_blocks) return;
    r.flags |= kMissingReported;
    const DirState& sender = flow.dir[index(reverse(seg.dir))];
    const SackMissing d{.receiver = side_of(flow, seg.dir), .dup_acks = r.dup_acks_without_blocks,
                        .sender_retransmissions = sender.retransmissions,
                        .threshold = cfg_.min_dup_acks_without_blocks};
    Event e = flow_event(flow, pkt.ts_ns, Severity::kWarning, Confidence::kMedium, Where::kUnknown, d);
    e.packets.add(r.first_dup_ack_pkt);
    e.packets.add(pkt.number);
    out.emit(e);
}

void SackInspector::check_blocks(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow,
                                 Receiver& r, EventSink& out) const noexcept {
    const DirState& self = flow.dir[index(seg.dir)];
    const DirState& sender = flow.dir[index(reverse(seg.dir))];

    if (flow.saw_handshake() && !flow.has(kFlowSackOn)) {
        saturating_inc(r.unnegotiated_acks);
        if (!(r.flags & kUnnegotiatedReported)) {
            r.flags |= kUnnegotiatedReported;
            const bool self_perm = (self.syn_opts & kOptSackPerm) != 0;
            const bool sender_perm = (sender.syn_opts & kOptSackPerm) != 0;
            const SackUnnegotiated d{.receiver = side_of(flow, seg.dir), .receiver_syn_had_perm = self_perm,
                                     .sender_syn_had_perm = sender_perm, .acks = r.unnegotiated_acks};
            // Its own SACK-permitted vanished before the sensor: the device is upstream.
            const Where where = !self_perm && sender_perm ? Where::kUpstream : Where::kUnknown;
            Event e = flow_event(flow, pkt.ts_ns, Severity::kWarning, Confidence::kHigh, where, d);
            e.packets.add(pkt.number);
            out.emit(e);
        }
    }

    if (!sender.has(kDirSeen) || (r.flags & kInvalidReported)) return;
    const Seq ack(pkt.tcp.ack);
    bool invalid = false;
    SackBlock bad;
    for (unsigned i = 0; i < pkt.opts.sack_blocks && !invalid; ++i) {
        const Seq left(pkt.opts.sack[i].left), right(pkt.opts.sack[i].right);
        const bool beyond_sent = after(right, sender.snd_nxt + kSackSlack);
        const bool below_window = before(left, ack - kSackSlack);
        if (beyond_sent || below_window) {
            invalid = true;
            bad = pkt.opts.sack[i];
        }
    }
    if (!invalid) return;
    const std::int32_t offset = Seq(bad.left) - ack;
    if (r.invalid_acks == 0) {
        r.first_offset = r.min_offset = r.max_offset = offset;
        r.first_invalid_pkt = static_cast<std::uint32_t>(pkt.number);
        r.first_block = bad;
        r.first_ack = pkt.tcp.ack;
    } else {
        if (offset < r.min_offset) r.min_offset = offset;
        if (offset > r.max_offset) r.max_offset = offset;
    }
    saturating_inc(r.invalid_acks);
    if (r.invalid_acks < cfg_.min_invalid_acks) return;
    r.flags |= kInvalidReported;
    const std::int64_t spread = std::int64_t{r.max_offset} - r.min_offset;
    const bool stable = spread <= static_cast<std::int64_t>(kSackSlack);
    const SackInvalidBlocks d{
        .receiver = side_of(flow, seg.dir),
        .stable = stable,
        .acks = r.invalid_acks,
        .offset = r.first_offset,
        .offset_spread = spread,
        .left = r.first_block.left,
        .right = r.first_block.right,
        .ack = r.first_ack,
        .sender_nxt = sender.snd_nxt.raw(),
        .threshold = cfg_.min_invalid_acks,
    };
    // The rewriting device sits between the receiver and the sensor: the sensor already sees
    // ACK numbers translated and SACK edges not.
    const Confidence c = stable ? Confidence::kHigh : Confidence::kMedium;
    Event e = flow_event(flow, pkt.ts_ns, Severity::kCritical, c, Where::kUpstream, d);
    e.packets.add(r.first_invalid_pkt);
    e.packets.add(pkt.number);
    e.packets.total = r.invalid_acks;
    out.emit(e);
}

}  // namespace tcpsleuth
