#pragma once
// handshake.syn_unanswered: a client repeats its SYN with the same ISN and no SYN-ACK comes
// back. A SYN with a *new* ISN is the application trying again, not the stack: it restarts
// the count (RFC 9293 section 3.8.1 retransmits the same segment, ISN included).

#include "config/config.h"
#include "dataplane/packet/packet_view.h"
#include "inspectors/output/events.h"
#include "inspectors/flow/tcp_state.h"

namespace tcpsleuth {

class SynUnansweredInspector {
public:
    struct State {
        // Microseconds from the flow's first packet: SYN backoff spans minutes at most, well
        // inside the 71 minutes 32 bits of microseconds hold.
        std::uint32_t first_syn_us = 0;
        std::uint32_t last_syn_us = 0;
        std::uint32_t first_syn_pkt = 0;
        std::uint32_t last_syn_pkt = 0;
        std::uint8_t reported = 0;
    };

    explicit SynUnansweredInspector(const HandshakeConfig& cfg) noexcept : cfg_(cfg) {}
    // A reload: new thresholds and switches, state kept.
    void reconfigure(const HandshakeConfig& cfg) noexcept { cfg_ = cfg; }

    void on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, State& st,
                   EventSink& out) const noexcept;
    void on_flow_end(const FlowCommon& flow, State& st, EventSink& out, std::uint64_t now_ns) const noexcept;

private:
    void report(const FlowCommon& flow, const State& st, bool final, std::uint64_t ts_ns,
                EventSink& out) const noexcept;
    HandshakeConfig cfg_;
};

}  // namespace tcpsleuth
