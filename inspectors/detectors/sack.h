#pragma once
// sack.invalid_blocks, sack.unnegotiated_blocks, sack.missing_during_loss (RFC 2018).
//
// A SACK block names data the receiver holds, so its edges lie in the data sender's recent
// sequence space: at most a window below the cumulative ACK (a D-SACK, RFC 2883) and never
// beyond the highest sequence sent. A firewall that randomizes ISNs (Cisco ASA/FTD
// "sequence number randomization") rewrites SEQ and ACK but not the SACK option, so every
// block is off by the same large offset; the sender discards them (Linux counts
// TCPSACKDiscard) and recovers one segment per RTT.

#include "config/config.h"
#include "dataplane/packet/packet_view.h"
#include "inspectors/output/events.h"
#include "inspectors/flow/tcp_state.h"

namespace tcpsleuth {

class SackInspector {
public:
    struct Receiver {                   // per Dir of the side sending ACKs
        std::int32_t first_offset = 0;
        std::int32_t min_offset = 0;
        std::int32_t max_offset = 0;
        std::uint32_t first_invalid_pkt = 0;
        std::uint32_t first_dup_ack_pkt = 0;
        SackBlock first_block;
        std::uint32_t first_ack = 0;
        std::uint16_t invalid_acks = 0;
        std::uint16_t unnegotiated_acks = 0;
        std::uint8_t dup_acks_without_blocks = 0;
        std::uint8_t flags = 0;         // kSawBlocks, kInvalidReported, kUnnegotiatedReported, kMissingReported
        std::uint16_t pad = 0;          // explicit: a cold record is compared byte for byte
    };
    struct State {
        Receiver dir[2];
    };

    explicit SackInspector(const SackConfig& cfg) noexcept : cfg_(cfg) {}
    // A reload: new thresholds and switches, state kept.
    void reconfigure(const SackConfig& cfg) noexcept { cfg_ = cfg; }

    void on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, State& st,
                   EventSink& out) const noexcept;

private:
    void check_blocks(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, Receiver& r,
                      EventSink& out) const noexcept;

    SackConfig cfg_;
};

// How far beyond the data sender's sequence space a block may lie before it is invalid. The
// sensor can miss segments (capture drops), so the bound is generous; a randomizing
// firewall's offset is uniformly random over 2^32, so it lands inside this bound with
// probability 2^-9.
inline constexpr std::uint32_t kSackSlack = 1u << 22;

}  // namespace tcpsleuth
