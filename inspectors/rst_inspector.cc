#include "rst_inspector.h"

#include "event_builder.h"
#include "hop_distance.h"

namespace tcpsleuth {

void RstInspector::on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, State& st,
                             EventSink& out) const noexcept {
    if (!cfg_.enabled || !seg.rst || st.reported) return;
    const DirState& claimed = flow.dir[index(seg.dir)];
    if (!ttl_foreign(pkt.ttl, claimed, cfg_.min_hop_difference)) return;
    // RFC 6864: an IPv4 ID that steps by small amounts per packet is a per-flow counter; a
    // RST far from it came from a different IP stack.
    const std::uint16_t id_step = static_cast<std::uint16_t>(pkt.ip_id - claimed.last_ip_id);
    const bool id_mismatch = pkt.is_ipv4() && claimed.ip_id_mode == IpIdMode::kIncrementing && pkt.ip_id != 0 &&
                             id_step > 4096 && id_step < 0x10000 - 4096;
    st.reported = 1;
    const RstInjected d{
        .claims = seg.dir == flow.client() ? Side::kClient : Side::kServer,
        .ttl_mismatch = true,
        .ip_id_mismatch = id_mismatch,
        .rst_ttl = pkt.ttl,
        .peer_ttl_min = claimed.ttl_min,
        .peer_ttl_max = claimed.ttl_max,
        .rst_hops = hop_distance(pkt.ttl),
        .peer_hops = hop_distance(claimed.ttl_max),
        .rst_ip_id = pkt.ip_id,
        .peer_last_ip_id = claimed.last_ip_id,
    };
    // The forged RST reached the sensor travelling from the claimed side: the forger is
    // between that side and the sensor.
    Event e = flow_event(flow, pkt.ts_ns, Severity::kWarning, id_mismatch ? Confidence::kHigh : Confidence::kMedium,
                         Where::kUpstream, d);
    e.packets.add(pkt.number);
    out.emit(e);
}

}  // namespace tcpsleuth
