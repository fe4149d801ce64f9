#pragma once
// rst.injected: a RST that the side it claims to come from did not send. A device forging
// RSTs (an IPS, a firewall timing out a flow, a censor) sits at a different hop distance
// from the sensor than the real endpoint, so its TTL falls outside the range of that
// endpoint's other packets; many also pick IP IDs unrelated to the endpoint's counter.
//
// The classic injection races the handshake: a device that sees the SYN answers it with a
// RST before (or just after) the server's real SYN-ACK arrives. Two answers to one SYN
// cannot both be the server's; the RST's TTL and IP ID against the SYN-ACK's say which is
// forged, and an acknowledgment of the ISN instead of ISN+1 (RFC 9293 section 3.10.7.1: a
// stack refusing a SYN acknowledges SEG.SEQ+1) is a forger's mistake.
//
// Each piece of evidence adds to the confidence; none is required alone but the TTL (or the
// race) decides that a RST is reported at all: the IP ID only strengthens the verdict
// (Linux sends its own RSTs from a separate control socket, so their IDs need not follow
// the connection's).

#include "config/config.h"
#include "dataplane/packet/packet_view.h"
#include "inspectors/output/events.h"
#include "inspectors/evidence/hop_distance.h"
#include "inspectors/flow/tcp_state.h"

namespace tcpsleuth {

class RstInspector {
public:
    struct State {
        std::uint32_t race_pkt = 0;     // a RST that answered the SYN before any SYN-ACK
        std::uint32_t race_ack = 0;     //   its acknowledgment number
        std::uint16_t race_ip_id = 0;
        std::uint8_t race_ttl = 0;
        std::uint8_t race = 0;          // 1: such a RST is waiting for the SYN-ACK
        std::uint8_t race_ipv4 = 0;
        std::uint8_t race_ack_wrong = 0;
        std::uint8_t reported = 0;
        std::uint8_t pad = 0;           // explicit: a cold record is compared byte for byte
    };

    explicit RstInspector(const RstConfig& cfg) noexcept : cfg_(cfg) {}
    // A reload: new thresholds and switches, state kept.
    void reconfigure(const RstConfig& cfg) noexcept { cfg_ = cfg; }
    TtlRule ttl_rule() const noexcept { return {cfg_.min_hop_difference, cfg_.constant_ttl_packets}; }

    void on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, State& st,
                   EventSink& out) const noexcept;
    // A RST that answered the SYN with a wrong acknowledgment and no SYN-ACK ever came.
    void on_flow_end(const FlowCommon& flow, State& st, EventSink& out, std::uint64_t now_ns) const noexcept;

private:
    void on_rst(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, State& st,
                EventSink& out) const noexcept;
    void on_syn_ack(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, State& st,
                    EventSink& out) const noexcept;
    void emit(const FlowCommon& flow, const RstInjected& d, unsigned score, std::uint64_t ts_ns,
              std::uint64_t first_pkt, std::uint64_t second_pkt, State& st, EventSink& out) const noexcept;

    RstConfig cfg_;
};

}  // namespace tcpsleuth
