#include "inspectors/detectors/receiver_limited.h"

#include "inspectors/output/event_builder.h"

namespace tcpsleuth {
namespace {

// RFC 9293 section 3.7.1: without an MSS option the peer may send 536-byte segments.
constexpr std::uint32_t kDefaultMss = 536;
constexpr std::uint8_t kEpisodeFull = 1, kEpisodeZero = 2;

std::int32_t flight(const DirState& sender, const DirState& receiver) noexcept {
    return receiver.has(kDirHasAck) ? sender.snd_nxt - receiver.max_ack : 0;
}

// The sender cannot put another full-sized segment into the window: its flight fills it, or
// the window itself is smaller than a segment (the receiver holds it there until it can
// open it by a segment or more, RFC 9293 section 3.8.6.2.2, and the sender waits).
bool window_full(const DirState& sender, const DirState& receiver, std::uint32_t window) noexcept {
    const std::int32_t f = flight(sender, receiver);
    const std::uint32_t mss = receiver.mss != 0 ? receiver.mss : kDefaultMss;
    return window < mss || (f > 0 && static_cast<std::uint64_t>(f) + mss > window);
}

// The sender's data reaches past the right edge the sensor last saw the receiver offer (its
// ACK + window). No sender does that (RFC 9293 section 3.8.6.2.1: SND.NXT stays within
// SND.UNA + SND.WND), so the sensor missed the ACK or window update that allowed it, or the
// SYN of a new connection on the same 4-tuple (a new sequence space): an overloaded tap
// misses both. The flight it computes is then not the sender's.
bool beyond_right_edge(const DirState& sender, const DirState& receiver, std::uint32_t window) noexcept {
    return receiver.has(kDirHasAck) && after(sender.snd_nxt, receiver.max_ack + window);
}

void enter_recovery(const DirState& sender, ReceiverLimitedInspector::Sender& s) noexcept {
    if (s.recovering) return;
    s.recovering = 1;
    s.recovery_point = sender.snd_nxt;
}

}  // namespace

void ReceiverLimitedInspector::on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow,
                                         Transfers& tr, State& st, EventSink& out) const noexcept {
    if (!cfg_.enabled || seg.rst || pkt.has_flag(kSyn)) return;  // SYN windows are never scaled
    const Dir other = reverse(seg.dir);
    // This packet's ACK and window speak for the other side's data; its payload for its own.
    on_receiver(pkt, seg, flow, other, tr.dir[index(other)], st.dir[index(other)], out);
    on_sender(pkt, seg, flow, tr.dir[index(seg.dir)], st.dir[index(seg.dir)]);
}

void ReceiverLimitedInspector::on_sender(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow,
                                         Transfer& t, Sender& s) const noexcept {
    if (seg.retransmission) enter_recovery(flow.dir[index(seg.dir)], s);
    if (!seg.new_data || seg.retransmission) return;
    const std::uint32_t now_ms = flow.rel_ms(pkt.ts_ns);
    if (!t.has_data) {
        t.has_data = 1;
        t.first_data_ms = now_ms;
    }
    t.last_data_ms = now_ms;
    // A full window needs the receiver's scale to be read right: only from a seen handshake.
    if (s.recovering || !flow.saw_handshake()) return;
    const DirState& sender = flow.dir[index(seg.dir)];
    const DirState& receiver = flow.dir[index(reverse(seg.dir))];
    const std::uint32_t window = flow.window_bytes(reverse(seg.dir));
    if (!seg.zero_window_probe && beyond_right_edge(sender, receiver, window)) {
        // Not the reader: the sensor's view of the window is stale. A full-window episode
        // under way rested on that view and is taken back (a zero window is the receiver's
        // own word and stays).
        if (s.limited == kEpisodeFull) {
            s.limited = 0;
            --s.episodes;
        }
        return;
    }
    if (s.limited || !window_full(sender, receiver, window)) return;
    // Unscaled, a full 64 KiB window is window.limited's; here only one that shrank by a
    // segment or more below its largest (the buffer filling up, not too small).
    const std::uint32_t mss = receiver.mss != 0 ? receiver.mss : kDefaultMss;
    if (!flow.has(kFlowWscaleOn) && window + mss > t.max_window) return;
    s.limited = kEpisodeFull;
    s.since_ms = now_ms;
    s.window_at = window;
    saturating_inc(s.episodes);
    if (s.first_pkt == 0) s.first_pkt = packet_number32(pkt.number);
}

void ReceiverLimitedInspector::on_receiver(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow,
                                           Dir sender_dir, Transfer& t, Sender& s, EventSink& out) const noexcept {
    const DirState& receiver = flow.dir[index(seg.dir)];
    const DirState& sender = flow.dir[index(sender_dir)];
    const std::uint32_t window = flow.window_bytes(seg.dir);
    if (window > t.max_window) t.max_window = window;
    const std::uint32_t now_ms = flow.rel_ms(pkt.ts_ns);
    if (seg.dup_ack || pkt.opts.sack_blocks != 0) {
        enter_recovery(sender, s);
    } else if (s.recovering && receiver.has(kDirHasAck) && after_eq(receiver.max_ack, s.recovery_point)) {
        s.recovering = 0;
        s.recovery_point = Seq();  // read only while recovering: fresh again
    }
    if (seg.window_closed) {
        if (s.limited) {
            if (s.limited != kEpisodeZero) saturating_inc(s.zero_episodes);
            s.limited = kEpisodeZero;
        } else if (t.has_data && flight(sender, receiver) > 0) {
            // Closed on data in flight: the sender is stopped (with nothing in flight it was done).
            s.limited = kEpisodeZero;
            s.since_ms = now_ms;
            s.window_at = 0;
            saturating_inc(s.episodes);
            saturating_inc(s.zero_episodes);
            if (s.first_pkt == 0) s.first_pkt = packet_number32(pkt.number);
        }
        return;
    }
    if (!s.limited || receiver.has(kDirZeroWindow)) return;
    if (flow.saw_handshake() && window_full(sender, receiver, window)) return;  // still no room
    end_episode(flow, sender_dir, t, s, now_ms, pkt.ts_ns, pkt.number, false, out);
}

void ReceiverLimitedInspector::end_episode(const FlowCommon& flow, Dir sender_dir, const Transfer& t, Sender& s,
                                           std::uint32_t now_ms,
                                           std::uint64_t ts_ns, std::uint64_t number, bool final,
                                           EventSink& out) const noexcept {
    if (s.limited) {
        const std::uint32_t dur = now_ms - s.since_ms;
        if (s.limited == kEpisodeZero && dur >= stall_ms_) {
            // One long closed window: window.zero_stall reports it; it is not a repetition.
            --s.episodes;
            --s.zero_episodes;
        } else {
            s.limited_ms += dur;
            if (dur > s.longest_ms) s.longest_ms = dur;
        }
        s.limited = 0;
        if (number != 0) s.last_pkt = packet_number32(number);
    }
    const std::uint32_t end_ms = now_ms > t.last_data_ms ? now_ms : t.last_data_ms;
    const std::uint32_t transfer_ms = end_ms - t.first_data_ms;
    if (transfer_ms == 0 || s.episodes < cfg_.receiver_limited_episodes) return;
    const std::uint64_t share64 = std::uint64_t{s.limited_ms} * 100u / transfer_ms;
    const auto share = static_cast<std::uint32_t>(share64 > 100 ? 100 : share64);
    if (share < cfg_.receiver_limited_percent) return;
    const bool dominant =
        share >= cfg_.receiver_limited_warning_percent && s.limited_ms >= cfg_.receiver_limited_warning_ms;
    const std::uint8_t level = dominant ? 2 : 1;
    if (s.reported >= level) return;
    const std::uint32_t occurrence = s.reported == 0 ? 1 : 2;
    s.reported = level;
    const WindowReceiverLimited d{
        .receiver = side_of(flow, reverse(sender_dir)),
        .episodes = s.episodes,
        .zero_episodes = s.zero_episodes,
        .limited_ms = s.limited_ms,
        .longest_ms = s.longest_ms,
        .transfer_ms = transfer_ms,
        .share_percent = share,
        .window = s.window_at,
        .max_window = t.max_window,
        .threshold_episodes = cfg_.receiver_limited_episodes,
        .threshold_percent = cfg_.receiver_limited_percent,
        .warning_percent = cfg_.receiver_limited_warning_percent,
        .final = final,
    };
    // Zero windows are the receiver saying so itself; full windows rest on the flight the
    // sensor computes, which a sensor far from the sender sees late.
    const Confidence c = s.zero_episodes * 2u >= s.episodes ? Confidence::kHigh : Confidence::kMedium;
    Event e = flow_event(flow, ts_ns, dominant ? Severity::kWarning : Severity::kInfo, c, Where::kDownstream, d);
    e.occurrence = occurrence;
    e.packets.add(s.first_pkt);
    if (s.last_pkt != s.first_pkt) e.packets.add(s.last_pkt);
    e.packets.total = s.episodes;
    out.emit(e);
}

void ReceiverLimitedInspector::on_flow_end(const FlowCommon& flow, const Transfers& tr, State& st,
                                           EventSink& out) const noexcept {
    if (!cfg_.enabled) return;
    const std::uint32_t last_ms = flow.rel_ms(flow.last_ns);
    for (unsigned d = 0; d < 2; ++d) {
        const Transfer& t = tr.dir[d];
        if (t.has_data) end_episode(flow, static_cast<Dir>(d), t, st.dir[d], last_ms, flow.last_ns, 0, true, out);
    }
}

}  // namespace tcpsleuth
