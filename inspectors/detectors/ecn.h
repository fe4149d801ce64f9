#pragma once
// ecn.syn_blackhole, ecn.not_negotiated, ecn.bleached, ecn.ce_erased (RFC 3168).
//
// An ECN-setup SYN carries ECE and CWR; an ECN-setup SYN-ACK carries ECE alone (section
// 6.1.1). Linux clears ECE and CWR when it retransmits a SYN (tcp_ecn_fallback), so one lost
// ECN SYN followed by an answered plain SYN is also what a single random SYN loss looks
// like: one flow alone is reported only when the ECN SYN was itself retried; otherwise the
// pattern must repeat on the server with no ECN SYN ever answered there.
//
// Once ECN is agreed, new data is sent ECT(0) or ECT(1); pure ACKs, window probes and
// retransmissions are legitimately Not-ECT (section 6.1.5), so only new data counts toward
// bleaching. A CE mark obliges the receiver to set ECE on its ACKs until it sees CWR
// (section 6.1.3); ACKs covering a CE segment without ECE mean the mark or the echo was lost.

#include "config/config.h"
#include "dataplane/packet/packet_view.h"
#include "inspectors/output/events.h"
#include "inspectors/evidence/path_table.h"
#include "inspectors/flow/tcp_state.h"

namespace tcpsleuth {

class EcnInspector {
public:
    // The codepoints on one sender's new data, counted on every segment of an ECN flow (hot).
    struct Counts {
        std::uint16_t not_ect = 0;     // saturating
        std::uint16_t ect = 0;
        std::uint16_t ce = 0;
    };
    // ... and the ECN-setup SYNs of the current ISN, set on every SYN (hot: a pool of cold
    // records would run dry under a SYN flood, the very traffic this judges).
    struct Tally {
        Counts dir[2];                 // by Dir of the data sender
        std::uint32_t first_ecn_syn_us = 0;
        std::uint32_t first_ecn_syn_pkt = 0;
        std::uint8_t ecn_syns = 0;     // SYNs with ECE+CWR for the current ISN
        std::uint8_t plain_syns = 0;   // then without
    };
    // A CE mark awaiting its echo, and what was reported (cold: fresh again once echoed).
    struct Marks {
        Seq ce_end;                    // end of the CE-marked segment awaiting an ECE
        std::uint32_t ce_pkt = 0;
        std::uint8_t acks_without_ece = 0;
        std::uint8_t flags = 0;        // kCePending, kBleachReported, kCeReported
        std::uint16_t pad = 0;         // explicit: a cold record is compared byte for byte
    };
    struct State {
        Marks dir[2];                  // by Dir of the data sender
    };

    EcnInspector(const EcnConfig& cfg, PathTable& paths) noexcept : cfg_(cfg), paths_(paths) {}
    // A reload: new thresholds and switches, state kept.
    void reconfigure(const EcnConfig& cfg) noexcept { cfg_ = cfg; }

    void on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, Tally& tally, State& st,
                   EventSink& out) const noexcept;

private:
    void on_syn(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, Tally& st) const noexcept;
    void on_syn_ack(const PacketView& pkt, const FlowCommon& flow, const Tally& st, EventSink& out) const noexcept;
    void on_data(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, Tally& tally, State& st,
                 EventSink& out) const noexcept;
    void on_ack(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, const Tally& tally,
                State& st, EventSink& out) const noexcept;

    EcnConfig cfg_;
    PathTable& paths_;
};

}  // namespace tcpsleuth
