#pragma once
// window.receiver_limited: the receiver's window, again and again, is what stops the sender
// (RFC 4898's "receiver limited" state, tcpEStatsPerfSndLimTimeRwin): it advertises a zero
// window, or the sender's flight fills the advertised window so that not even one more
// full-sized segment fits. Each time is an episode; the time spent in them, against the
// sender's transfer time, says how much the receiving application (reading slower than the
// network delivers) or its receive buffer capped the transfer.
//
// Distinct from window.zero_stall (a closed window held past its threshold: such an episode
// is that detector's and not counted here) and window.limited (an unscaled
// window that cannot grow past 64 KiB): without window scaling a full window counts here
// only when it has shrunk below the largest the receiver advertised, i.e. its buffer was
// not being drained. During loss recovery the flight fills the window because of the hole
// (SACKed and lost bytes count in it), not because the reader is slow: no full-window
// episode starts until the receiver has acknowledged everything sent when the loss showed
// (the recovery point, RFC 6675 section 2). Data past the right edge the receiver offered
// means the sensor missed the ACK that moved it (or a new connection's SYN): the flight it
// computes is wrong, and a full-window episode resting on it is taken back.

#include "config/config.h"
#include "dataplane/packet/packet_view.h"
#include "inspectors/output/events.h"
#include "inspectors/flow/tcp_state.h"

namespace tcpsleuth {

class ReceiverLimitedInspector {
public:
    // One sender's transfer, kept on every packet (hot).
    struct Transfer {
        std::uint32_t first_data_ms = 0;  // the sender's first and latest new data
        std::uint32_t last_data_ms = 0;
        std::uint32_t max_window = 0;     // bytes: the largest the receiver advertised
        std::uint8_t has_data = 0;
        std::uint8_t pad[3] = {};
    };
    struct Transfers {
        Transfer dir[2];                  // by Dir of the data sender
    };
    // Loss recovery and the episodes the receiver's window held the sender back (cold: a
    // sender never held back nor recovering keeps none).
    struct Sender {
        Seq recovery_point;               // loss recovery lasts until the ACK reaches this
        std::uint32_t since_ms = 0;       // the episode under way
        std::uint32_t limited_ms = 0;     // time in episodes, in all
        std::uint32_t longest_ms = 0;
        std::uint32_t window_at = 0;      //   and its window when the latest episode began
        std::uint32_t first_pkt = 0;      // where the first episode began
        std::uint32_t last_pkt = 0;       //   and the latest ended
        std::uint16_t episodes = 0;
        std::uint16_t zero_episodes = 0;
        std::uint8_t limited = 0;         // an episode is under way
        std::uint8_t reported = 0;        // 1: as info, 2: as warning
        std::uint8_t recovering = 0;      // a retransmission, dup ACK or SACK block since the last recovery point
        std::uint8_t pad = 0;             // explicit: a cold record is compared byte for byte
    };
    struct State {
        Sender dir[2];                    // by Dir of the data sender
    };

    ReceiverLimitedInspector(const WindowConfig& cfg, const ZeroWindowConfig& zero) noexcept
        : cfg_(cfg), stall_ms_(zero.enabled ? zero.min_duration_ms : 0xffffffffu) {}
    void reconfigure(const WindowConfig& cfg, const ZeroWindowConfig& zero) noexcept {
        cfg_ = cfg;
        stall_ms_ = zero.enabled ? zero.min_duration_ms : 0xffffffffu;
    }

    void on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, Transfers& tr, State& st,
                   EventSink& out) const noexcept;
    void on_flow_end(const FlowCommon& flow, const Transfers& tr, State& st, EventSink& out) const noexcept;

private:
    void on_sender(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, Transfer& t,
                   Sender& s) const noexcept;
    void on_receiver(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, Dir sender, Transfer& t,
                     Sender& s, EventSink& out) const noexcept;
    void end_episode(const FlowCommon& flow, Dir sender, const Transfer& t, Sender& s, std::uint32_t now_ms,
                     std::uint64_t ts_ns, std::uint64_t number, bool final, EventSink& out) const noexcept;

    WindowConfig cfg_;
    std::uint32_t stall_ms_;  // a zero window held this long is window.zero_stall's
};

}  // namespace tcpsleuth
