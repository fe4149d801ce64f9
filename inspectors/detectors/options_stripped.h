#pragma once
// options.stripped and options.not_negotiated for MSS, window scale, SACK-permitted and
// timestamps. Evidence, strongest first (DESIGN.md): the far end acting on an option the
// sensor never saw agreed (SACK blocks without SACK-permitted; a side scaling its window),
// timestamps vanishing after both SYNs carried them (RFC 7323 section 3.2: once agreed,
// every non-RST segment carries them), NOP fill where a known stack puts the option, and
// the same server agreeing to the option with other clients. Declines with none of these
// are not_negotiated, reported per server at 1, 10, 100 ... flows so a server that simply
// lacks SACK does not flood the output.

#include "config/config.h"
#include "dataplane/packet/packet_view.h"
#include "inspectors/output/events.h"
#include "inspectors/evidence/path_table.h"
#include "inspectors/flow/tcp_state.h"

namespace tcpsleuth {

class OptionsInspector {
public:
    struct State {
        std::uint8_t stripped_reported = 0;  // bit (option * 2 + side)
        std::uint8_t ts_missing[2] = {};     // per Dir, saturating
        std::uint8_t sack_acks = 0;          // segments with SACK blocks, SACK not agreed (saturating)
    };

    OptionsInspector(const OptionsConfig& cfg, PathTable& paths) noexcept : cfg_(cfg), paths_(paths) {}
    // A reload: new thresholds and switches, state kept.
    void reconfigure(const OptionsConfig& cfg) noexcept { cfg_ = cfg; }

    void on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, State& st,
                   EventSink& out) const noexcept;

    // Another inspector saw the far end contradict what the sensor saw of `side`'s SYN
    // (window.scale_mismatch): evidence that `option` was stripped from it, upstream of the
    // sensor (the side acts as if agreed though its SYN arrived without it) or downstream
    // (its SYN carried it past the sensor, and the peer acts as if it never did).
    void on_far_end(const FlowCommon& flow, State& st, OptionKind option, Side side, Where where,
                    std::uint32_t segments, std::uint64_t ts_ns, std::uint64_t number, EventSink& out) const noexcept;

private:
    void on_handshake(const PacketView& pkt, const FlowCommon& flow, State& st, EventSink& out) const noexcept;
    void report_stripped(const FlowCommon& flow, State& st, const OptionsStripped& d, Where where, Confidence c,
                         std::uint64_t ts_ns, std::uint64_t number, EventSink& out) const noexcept;

    OptionsConfig cfg_;
    PathTable& paths_;
};

}  // namespace tcpsleuth
