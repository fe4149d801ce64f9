#include "inspectors/detectors/rst_injected.h"

#include "inspectors/output/event_builder.h"

namespace tcpsleuth {
namespace {

// Evidence weights: a race or a TTL two hops off is strong (2), a TTL one hop off a constant
// one, an IP ID off the sender's counter and a wrong acknowledgment are weaker (1). The sum
// sets the confidence: 1 low, 2 medium, 3 or more high.
constexpr unsigned kStrong = 2, kWeak = 1;

Confidence confidence_of(unsigned score) noexcept {
    if (score >= 3) return Confidence::kHigh;
    return score == 2 ? Confidence::kMedium : Confidence::kLow;
}

// RFC 6864: an IPv4 ID that steps by small amounts per packet is a per-flow counter; an ID
// far from it (either way) came from a different IP stack.
bool ip_id_far(std::uint16_t a, std::uint16_t b) noexcept {
    const auto step = static_cast<std::uint16_t>(a - b);
    return a != 0 && b != 0 && step > 4096 && step < 0x10000 - 4096;
}

// What a RST carried against what its claimed sender's other packets (as the tracker kept
// them) showed: the fields every shape of rst.injected reports.
RstInjected describe(const FlowCommon& flow, Dir claimed_dir, std::uint8_t ttl, std::uint16_t ip_id, std::uint32_t ack) noexcept {
    const DirState& claimed = flow.dir[index(claimed_dir)];
    return RstInjected{
        .claims = side_of(flow, claimed_dir),
        .rst_ttl = ttl,
        .peer_ttl_min = claimed.ttl_min,
        .peer_ttl_max = claimed.ttl_max,
        .rst_hops = hop_distance(ttl),
        .peer_hops = hop_distance(claimed.ttl_max),
        .peer_ttl_samples = claimed.ttl_samples,
        .rst_ip_id = ip_id,
        .peer_last_ip_id = claimed.last_ip_id,
        .rst_ack = ack,
        .expected_ack = (flow.dir[index(flow.client())].isn + 1).raw(),
    };
}

}  // namespace

std::string_view to_string(RstRace r) noexcept {
    switch (r) {
        case RstRace::kNone: return "none";
        case RstRace::kBeforeSynAck: return "before_syn_ack";
        case RstRace::kBesideSynAck: return "beside_syn_ack";
        case RstRace::kAloneWrongAck: return "alone_wrong_ack";
    }
    return "?";
}

void RstInspector::on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, State& st,
                             EventSink& out) const noexcept {
    if (!cfg_.enabled) return;
    if (st.reported) return;
    if (seg.rst) {
        on_rst(pkt, seg, flow, st, out);
    } else if (seg.syn_ack_first && st.race) {
        on_syn_ack(pkt, seg, flow, st, out);
    }
}

void RstInspector::on_rst(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, State& st,
                          EventSink& out) const noexcept {
    const DirState& claimed = flow.dir[index(seg.dir)];
    const DirState& client = flow.dir[index(flow.client())];
    const bool from_server = !seg.from_client;
    const std::uint32_t expected_ack = (client.isn + 1).raw();
    const bool ack_wrong = pkt.tcp.ack != expected_ack || !pkt.has_flag(kAck);

    // Answering the SYN before any SYN-ACK: keep it, the SYN-ACK may follow and race it.
    if (from_server && client.has(kDirSawSyn) && !claimed.has(kDirSawSyn) && !st.race) {
        st.race = 1;
        st.race_pkt = packet_number32(pkt.number);
        st.race_ack = pkt.has_flag(kAck) ? pkt.tcp.ack : 0;
        st.race_ip_id = pkt.ip_id;
        st.race_ttl = pkt.ttl;
        st.race_ipv4 = pkt.is_ipv4();
        st.race_ack_wrong = ack_wrong;
        return;
    }

    RstInjected d = describe(flow, seg.dir, pkt.ttl, pkt.ip_id, pkt.tcp.ack);
    unsigned score = 0;
    // Beside the handshake: both SYNs seen and neither side has sent a byte since, so the
    // claimed side's SYN (or SYN-ACK) is what its TTL is compared with, and any difference
    // from it is a second sender.
    const DirState& other = flow.dir[index(reverse(seg.dir))];
    const bool in_handshake = claimed.has(kDirSawSyn) && other.has(kDirSawSyn) &&
                              claimed.snd_nxt == claimed.isn + 1 && other.snd_nxt == other.isn + 1;
    if (in_handshake && ttl_distance(pkt.ttl, claimed.ttl_min, claimed.ttl_max) >= 1) {
        d.race = RstRace::kBesideSynAck;
        d.ttl_mismatch = ttl_distance(pkt.ttl, claimed.ttl_min, claimed.ttl_max) >= cfg_.min_hop_difference;
        d.ttl_one_hop = !d.ttl_mismatch;
        score += kStrong + (d.ttl_mismatch ? kStrong : kWeak);
    } else {
        const TtlEvidence ttl = judge_rst_ttl(pkt.ttl, claimed, ttl_rule());
        if (!ttl_contradicts(ttl)) return;
        d.ttl_mismatch = ttl == TtlEvidence::kForeign;
        d.ttl_one_hop = ttl == TtlEvidence::kOneHopOff;
        score += d.ttl_mismatch ? kStrong : kWeak;
    }
    d.ip_id_mismatch = pkt.is_ipv4() && claimed.ip_id_mode == IpIdMode::kIncrementing &&
                       ip_id_far(pkt.ip_id, claimed.last_ip_id);
    if (d.ip_id_mismatch) score += kWeak;
    emit(flow, d, score, pkt.ts_ns, pkt.number, 0, st, out);
}

void RstInspector::on_syn_ack(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, State& st,
                              EventSink& out) const noexcept {
    // Two answers to one SYN: the RST earlier, this SYN-ACK now. The server cannot have sent
    // both; the RST's TTL and IP ID against the SYN-ACK's say the RST is the stranger.
    const std::uint32_t hops = ttl_distance(st.race_ttl, pkt.ttl, pkt.ttl);
    // The SYN-ACK is all the tracker has seen of the server: its TTL and IP ID are the peer's.
    RstInjected d = describe(flow, seg.dir, st.race_ttl, st.race_ip_id, st.race_ack);
    d.race = RstRace::kBeforeSynAck;
    d.ttl_mismatch = hops >= cfg_.min_hop_difference;
    d.ttl_one_hop = hops >= 1 && hops < cfg_.min_hop_difference;
    d.ip_id_mismatch = st.race_ipv4 && pkt.is_ipv4() && ip_id_far(st.race_ip_id, pkt.ip_id);
    d.ack_wrong = st.race_ack_wrong != 0;
    unsigned score = kStrong;
    if (d.ttl_mismatch) score += kStrong;
    if (d.ttl_one_hop) score += kWeak;
    if (d.ip_id_mismatch) score += kWeak;
    if (d.ack_wrong) score += kWeak;
    st.race = 0;
    emit(flow, d, score, pkt.ts_ns, st.race_pkt, pkt.number, st, out);
}

void RstInspector::on_flow_end(const FlowCommon& flow, State& st, EventSink& out, std::uint64_t now_ns) const noexcept {
    if (!cfg_.enabled || st.reported || !st.race || !st.race_ack_wrong) return;
    // No SYN-ACK to compare with; the acknowledgment alone says no stack wrote this RST.
    RstInjected d = describe(flow, flow.server(), st.race_ttl, st.race_ip_id, st.race_ack);
    d.race = RstRace::kAloneWrongAck;
    d.ack_wrong = true;
    emit(flow, d, kWeak, now_ns, st.race_pkt, 0, st, out);
}

void RstInspector::emit(const FlowCommon& flow, const RstInjected& d, unsigned score, std::uint64_t ts_ns,
                        std::uint64_t first_pkt, std::uint64_t second_pkt, State& st, EventSink& out) const noexcept {
    st.reported = 1;
    // The forged RST reached the sensor travelling from the claimed side: the forger is
    // between that side and the sensor.
    Event e = flow_event(flow, ts_ns, Severity::kWarning, confidence_of(score), Where::kUpstream, d);
    e.packets.add(first_pkt);
    e.packets.add(second_pkt);
    out.emit(e);
}

}  // namespace tcpsleuth
