#include "inspectors/detectors/options_stripped.h"

#include "inspectors/output/event_builder.h"
#include "inspectors/evidence/syn_fingerprint.h"

namespace tcpsleuth {
namespace {

constexpr OptionKind kOptions[] = {OptionKind::kMss, OptionKind::kWscale, OptionKind::kSackPerm,
                                   OptionKind::kTimestamp};

constexpr TcpOpt bit_of(OptionKind o) noexcept {
    switch (o) {
        case OptionKind::kMss: return kOptMss;
        case OptionKind::kWscale: return kOptWscale;
        case OptionKind::kSackPerm: return kOptSackPerm;
        case OptionKind::kTimestamp: return kOptTimestamp;
    }
    return kOptMss;
}

constexpr unsigned slot(OptionKind o) noexcept { return static_cast<unsigned>(o); }

std::uint8_t reported_bit(OptionKind o, Side s) noexcept {
    return static_cast<std::uint8_t>(1u << (slot(o) * 2 + (s == Side::kServer ? 1 : 0)));
}

}  // namespace

void OptionsInspector::on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, State& st,
                                 EventSink& out) const noexcept {
    if (!cfg_.enabled) return;
    if (seg.syn_ack_first) {
        if (flow.dir[index(flow.client())].has(kDirSawSyn)) on_handshake(pkt, flow, st, out);
        return;
    }
    if (seg.rst || pkt.has_flag(kSyn) || !flow.saw_handshake()) return;
    const Side side = side_of(flow, seg.dir);
    const DirState& self = flow.dir[index(seg.dir)];
    const DirState& peer = flow.dir[index(reverse(seg.dir))];

    if (flow.has(kFlowTsOn) && !pkt.opts.has(kOptTimestamp)) {
        std::uint8_t& missing = st.ts_missing[index(seg.dir)];
        saturating_inc(missing);
        if (missing == cfg_.min_segments_without_ts) {
            const OptionsStripped d{.option = OptionKind::kTimestamp, .side = side, .evidence = kEvidenceTsVanished,
                                    .layout = self.syn_layout, .far_end_segments = missing};
            report_stripped(flow, st, d, Where::kUpstream, Confidence::kHigh, pkt.ts_ns, pkt.number, out);
        }
    }
    // This side sends SACK blocks, so it believes SACK was agreed: its own SACK-permitted
    // left it but never reached the sensor (RFC 2018 section 2: blocks only after both SYNs
    // carried the option).
    if (pkt.opts.sack_blocks != 0 && !flow.has(kFlowSackOn)) {
        saturating_inc(st.sack_acks);
        if (!(self.syn_opts & kOptSackPerm) && (peer.syn_opts & kOptSackPerm)) {
            const OptionsStripped d{.option = OptionKind::kSackPerm, .side = side, .evidence = kEvidenceFarEnd,
                                    .layout = self.syn_layout, .far_end_segments = st.sack_acks};
            report_stripped(flow, st, d, Where::kUpstream, Confidence::kHigh, pkt.ts_ns, pkt.number, out);
        }
    }
}

void OptionsInspector::on_handshake(const PacketView& pkt, const FlowCommon& flow, State& st,
                                    EventSink& out) const noexcept {
    const DirState& client = flow.dir[index(flow.client())];
    const DirState& server = flow.dir[index(flow.server())];
    const NopFill client_fill = find_nop_fill(client.syn_layout);
    const NopFill server_fill = find_nop_fill(server.syn_layout);
    PathStats& path = paths_.server_of(flow);

    for (const OptionKind o : kOptions) {
        const TcpOpt bit = bit_of(o);
        if (client_fill.stripped & bit) {
            // The client's SYN reached the sensor with NOPs where its stack puts the option.
            const OptionsStripped d{.option = o, .side = Side::kClient, .evidence = kEvidenceNopFill,
                                    .stack = client_fill.stack, .layout = client.syn_layout,
                                    .other_clients = path.agreed[slot(o)]};
            report_stripped(flow, st, d, Where::kUpstream, Confidence::kHigh, pkt.ts_ns, pkt.number, out);
            continue;
        }
        if (!(client.syn_opts & bit)) continue;
        if (server.syn_opts & bit) {
            ++path.agreed[slot(o)];
            continue;
        }
        const std::uint32_t declined = ++path.declined[slot(o)];
        if (server_fill.stripped & bit) {
            // The SYN-ACK carries the fill: removed between the server and the sensor.
            const OptionsStripped d{.option = o, .side = Side::kServer, .evidence = kEvidenceNopFill,
                                    .stack = server_fill.stack, .layout = server.syn_layout,
                                    .other_clients = path.agreed[slot(o)]};
            report_stripped(flow, st, d, Where::kUpstream, Confidence::kHigh, pkt.ts_ns, pkt.number, out);
        } else if (path.agreed[slot(o)] != 0) {
            // The server agrees to it with other clients, and its SYN-ACK shows no fill: the
            // option most likely left this client's SYN after the sensor.
            const OptionsStripped d{.option = o, .side = Side::kClient, .evidence = kEvidenceOtherClients,
                                    .stack = client_fill.stack, .layout = client.syn_layout,
                                    .other_clients = path.agreed[slot(o)]};
            report_stripped(flow, st, d, Where::kDownstream, Confidence::kMedium, pkt.ts_ns, pkt.number, out);
        } else if (is_log_point(declined)) {
            const OptionsNotNegotiated d{.option = o, .offered_by = Side::kClient, .server_flows = declined,
                                         .server_agreed = path.agreed[slot(o)]};
            Event e = flow_event(flow, pkt.ts_ns, Severity::kInfo, Confidence::kHigh, Where::kUnknown, d);
            e.occurrence = declined;
            e.packets.add(pkt.number);
            out.emit(e);
        }
    }
}

void OptionsInspector::on_far_end(const FlowCommon& flow, State& st, OptionKind option, Side side, Where where,
                                  std::uint32_t segments, std::uint64_t ts_ns, std::uint64_t number,
                                  EventSink& out) const noexcept {
    if (!cfg_.enabled) return;
    const DirState& d_side = flow.dir[index(side == Side::kClient ? flow.client() : flow.server())];
    const OptionsStripped d{.option = option, .side = side, .evidence = kEvidenceFarEnd,
                            .stack = find_nop_fill(d_side.syn_layout).stack, .layout = d_side.syn_layout,
                            .far_end_segments = segments};
    report_stripped(flow, st, d, where, Confidence::kHigh, ts_ns, number, out);
}

void OptionsInspector::report_stripped(const FlowCommon& flow, State& st, const OptionsStripped& d, Where where,
                                       Confidence c, std::uint64_t ts_ns, std::uint64_t number,
                                       EventSink& out) const noexcept {
    const std::uint8_t bit = reported_bit(d.option, d.side);
    if (st.stripped_reported & bit) return;
    st.stripped_reported |= bit;
    Event e = flow_event(flow, ts_ns, Severity::kWarning, c, where, d);
    e.packets.add(number);
    out.emit(e);
}

}  // namespace tcpsleuth
