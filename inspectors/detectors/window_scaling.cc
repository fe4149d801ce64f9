#include "inspectors/detectors/window_scaling.h"

#include "inspectors/output/event_builder.h"
#include "inspectors/evidence/syn_fingerprint.h"

namespace tcpsleuth {
namespace {

// RFC 9293 section 3.7.1: without an MSS option the peer may send 536-byte segments.
constexpr std::uint16_t kDefaultMss = 536;

}  // namespace

WindowInspector::Mismatch WindowInspector::on_packet(const PacketView& pkt, const SegmentInfo& seg,
                                                     const FlowCommon& flow, State& st, EventSink& out) const noexcept {
    if (!cfg_.enabled || seg.rst) return {};
    if (pkt.has_flag(kSyn)) return {};
    if (!flow.saw_handshake()) return {};
    if (flow.has(kFlowWscaleOn)) return check_raw_reader(pkt, seg, flow, st, out);
    check_limited(pkt, seg, flow, st, out);
    return check_scale(pkt, seg, flow, st, out);
}

WindowInspector::Mismatch WindowInspector::check_raw_reader(const PacketView& pkt, const SegmentInfo& seg,
                                                            const FlowCommon& flow, State& st,
                                                            EventSink& out) const noexcept {
    if (st.mismatch_reported || !seg.new_data || seg.retransmission) return {};
    const DirState& sender = flow.dir[index(seg.dir)];
    const DirState& receiver = flow.dir[index(reverse(seg.dir))];
    // A shift of 0 or 1 makes the raw and scaled readings too alike to tell apart.
    if (!receiver.has(kDirHasAck) || receiver.wscale == DirState::kNoWscale || receiver.wscale < 2) return {};
    const std::uint16_t raw = receiver.window;
    const std::uint16_t mss = receiver.mss != 0 ? receiver.mss : kDefaultMss;
    if (raw == 0 || raw >= mss) return {};
    // The flight fills the raw value to the byte, a fraction of the window as scaled: a
    // sender that knew the scale would have sent up to raw << shift.
    const std::int32_t flight = sender.snd_nxt - receiver.max_ack;
    if (flight != raw) return {};
    std::uint16_t& capped = st.capped[index(seg.dir)];
    if (capped == 0) st.first_capped_pkt = static_cast<std::uint32_t>(pkt.number);
    ++capped;
    if (st.smallest == 0 || raw < st.smallest) st.smallest = raw;
    if (raw > st.largest) st.largest = raw;
    if (capped < cfg_.min_tiny_windows) return {};
    st.mismatch_reported = 1;
    const Dir scaling = reverse(seg.dir);
    const WindowScaleMismatch d{
        .scaling_side = side_of(flow, scaling),
        .nop_fill = false,
        .reader_capped = true,
        .syn_window = flow.dir[index(scaling)].syn_window,
        .smallest_window = st.smallest,
        .largest_window = st.largest,
        .tiny_windows = capped,
        .mss = mss,
        .threshold = static_cast<std::uint16_t>(cfg_.min_tiny_windows),
        .max_flight = static_cast<std::uint32_t>(flight),
        .shift = receiver.wscale,
    };
    // The window scale option passed the sensor in the scaling side's SYN and never reached
    // its peer: removed downstream, in the SYN's direction of travel.
    Event e = flow_event(flow, pkt.ts_ns, Severity::kCritical, Confidence::kHigh, Where::kDownstream, d);
    e.packets.add(st.first_capped_pkt);
    e.packets.add(pkt.number);
    e.packets.total = capped;
    out.emit(e);
    return {.reported = true, .scaling = d.scaling_side, .where = Where::kDownstream, .segments = capped};
}

WindowInspector::Mismatch WindowInspector::check_scale(const PacketView& pkt, const SegmentInfo& seg,
                                                       const FlowCommon& flow, State& st,
                                                       EventSink& out) const noexcept {
    const DirState& self = flow.dir[index(seg.dir)];
    const DirState& peer = flow.dir[index(reverse(seg.dir))];
    // Only the side whose SYN lost the option can believe scaling is on: its peer offered it.
    if (st.mismatch_reported || self.wscale != DirState::kNoWscale || peer.wscale == DirState::kNoWscale) {
        return {};
    }
    const std::uint16_t w = pkt.tcp.window;
    if (w == 0 || !pkt.has_flag(kAck)) return {};  // a closed window is flow control, not scaling
    const std::uint16_t mss = self.mss != 0 ? self.mss : kDefaultMss;
    if (st.smallest == 0 || w < st.smallest) st.smallest = w;
    if (w > st.largest) st.largest = w;
    if (w >= mss) return {};
    if (st.tiny_windows == 0) st.first_tiny_pkt = static_cast<std::uint32_t>(pkt.number);
    ++st.tiny_windows;
    // Its SYN window was a normal size (SYN windows are never scaled) and every later one is
    // below one MSS: the shape of a value shifted right, not of a receiver short of buffer.
    const std::uint16_t syn_window = self.syn_window;
    if (st.tiny_windows < cfg_.min_tiny_windows || st.largest >= mss || syn_window < mss) return {};
    st.mismatch_reported = 1;
    const bool nop_fill = (find_nop_fill(self.syn_layout).stripped & kOptWscale) != 0;
    const WindowScaleMismatch d{
        .scaling_side = side_of(flow, seg.dir),
        .nop_fill = nop_fill,
        .syn_window = syn_window,
        .smallest_window = st.smallest,
        .largest_window = st.largest,
        .tiny_windows = st.tiny_windows,
        .mss = mss,
        .threshold = static_cast<std::uint16_t>(cfg_.min_tiny_windows),
        .max_flight = peer.max_in_flight,
    };
    const Confidence c = nop_fill || syn_window >= 4u * mss ? Confidence::kHigh : Confidence::kMedium;
    Event e = flow_event(flow, pkt.ts_ns, Severity::kCritical, c, Where::kUpstream, d);
    e.packets.add(st.first_tiny_pkt);
    e.packets.add(pkt.number);
    e.packets.total = st.tiny_windows;
    out.emit(e);
    return {.reported = true, .scaling = d.scaling_side, .where = Where::kUpstream, .segments = st.tiny_windows};
}

void WindowInspector::check_limited(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow,
                                    State& st, EventSink& out) const noexcept {
    Limited& l = st.limited[index(seg.dir)];
    if (l.reported) return;
    if (seg.retransmission) {  // loss: the path, not the window, set the pace
        l.rounds = 0;
        return;
    }
    if (!seg.new_data) return;
    const DirState& sender = flow.dir[index(seg.dir)];
    const DirState& receiver = flow.dir[index(reverse(seg.dir))];
    if (!receiver.has(kDirHasAck)) return;
    const std::uint32_t window = receiver.window;
    if (window < cfg_.min_limited_window) return;
    const std::int32_t flight = sender.snd_nxt - receiver.max_ack;
    if (flight <= 0 || static_cast<std::uint64_t>(flight) * 100 < std::uint64_t{window} * cfg_.limited_percent) return;
    const std::uint32_t now_ms = flow.rel_ms(pkt.ts_ns);
    const std::uint32_t rtt_us = flow.rtt_syn_us + flow.rtt_ack_us;
    const std::uint32_t rtt_ms = rtt_us / 1000 == 0 ? 1 : rtt_us / 1000;
    if (l.rounds != 0 && now_ms - l.round_start_ms < rtt_ms) return;  // still the same round
    if (l.rounds == 0) l.first_pkt = static_cast<std::uint32_t>(pkt.number);
    ++l.rounds;
    l.round_start_ms = now_ms;
    if (l.rounds < cfg_.min_limited_rounds) return;
    l.reported = 1;
    const DirState& client = flow.dir[index(flow.client())];
    const DirState& server = flow.dir[index(flow.server())];
    const WindowLimited d{
        .receiver = side_of(flow, reverse(seg.dir)),
        .client_offered = client.wscale != DirState::kNoWscale,
        .server_offered = server.wscale != DirState::kNoWscale,
        .window = window,
        .flight = static_cast<std::uint32_t>(flight),
        .rounds = l.rounds,
        .rtt_us = rtt_us,
        .threshold_rounds = cfg_.min_limited_rounds,
        .threshold_percent = cfg_.limited_percent,
    };
    // One side offered scaling and the other did not: the cause is plain.
    const Confidence c = d.client_offered != d.server_offered ? Confidence::kHigh : Confidence::kMedium;
    Event e = flow_event(flow, pkt.ts_ns, Severity::kWarning, c, Where::kUnknown, d);
    e.packets.add(l.first_pkt);
    e.packets.add(pkt.number);
    out.emit(e);
}

}  // namespace tcpsleuth
