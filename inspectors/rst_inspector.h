#pragma once
// rst.injected: a RST that the side it claims to come from did not send. A device forging
// RSTs (an IPS, a firewall timing out a flow, a censor) sits at a different hop distance
// from the sensor than the real endpoint, so its TTL falls outside the range of that
// endpoint's other packets; many also pick IP IDs unrelated to the endpoint's counter.
// The TTL decides; the IP ID only strengthens the verdict (Linux sends its own RSTs from a
// separate control socket, so their IDs need not follow the connection's).

#include "config/config.h"
#include "dataplane/packet/packet_view.h"
#include "events.h"
#include "tcp_state.h"

namespace tcpsleuth {

class RstInspector {
public:
    struct State {
        std::uint8_t reported = 0;
    };

    explicit RstInspector(const RstConfig& cfg) noexcept : cfg_(cfg) {}
    // A reload: new thresholds and switches, state kept.
    void reconfigure(const RstConfig& cfg) noexcept { cfg_ = cfg; }

    void on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, State& st,
                   EventSink& out) const noexcept;

private:
    RstConfig cfg_;
};

}  // namespace tcpsleuth
