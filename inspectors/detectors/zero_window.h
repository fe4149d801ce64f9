#pragma once
// window.zero_stall: a receiver keeps its window at zero (RFC 9293 section 3.8.6.1), so the
// sender can only probe. Probes are classified by the tracker from the peer's last
// advertised window, not by their length: Linux probes are zero-length with
// seq = SND.UNA - 1, exactly like keepalives.

#include "config/config.h"
#include "dataplane/packet/packet_view.h"
#include "inspectors/output/events.h"
#include "inspectors/flow/tcp_state.h"

namespace tcpsleuth {

class ZeroWindowInspector {
public:
    struct State {
        std::uint64_t since_ns = 0;  // absolute: durations are evidence, keep them exact
        std::uint32_t first_pkt = 0;
        std::uint32_t last_pkt = 0;
        std::uint32_t bytes_waiting = 0;
        std::uint32_t stalls = 0;
        std::uint32_t next_report = 0;  // 0 reads as 1 (bump_and_should_report): fresh is all zero
        std::uint16_t probes = 0;
        std::uint8_t active = 0;
        std::uint8_t side = 0;  // Dir index of the side advertising zero
    };

    explicit ZeroWindowInspector(const ZeroWindowConfig& cfg) noexcept : cfg_(cfg) {}
    // A reload: new thresholds and switches, state kept.
    void reconfigure(const ZeroWindowConfig& cfg) noexcept { cfg_ = cfg; }

    void on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, State& st,
                   EventSink& out) const noexcept;
    void on_flow_end(const FlowCommon& flow, State& st, EventSink& out, std::uint64_t now_ns) const noexcept;

private:
    void end_stall(const FlowCommon& flow, State& st, std::uint64_t end_ns, std::uint64_t last_pkt, bool ongoing,
                   EventSink& out) const noexcept;
    ZeroWindowConfig cfg_;
};

}  // namespace tcpsleuth
