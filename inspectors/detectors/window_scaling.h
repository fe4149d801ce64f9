#pragma once
// window.scale_mismatch and window.limited.
//
// Window scaling is on only when both SYNs carry the option (RFC 7323 section 2.2). If the
// SYN had it and the SYN-ACK at the sensor did not, but the server's later windows are far
// below one MSS after a normal-sized SYN-ACK window (SYN windows are never scaled), the
// server is shifting its window: its option was removed between it and the sensor, and the
// client reads a 64 KiB window as a few hundred bytes.
//
// Seen from the other side of that device (the SYN-ACK still carried the option at the
// sensor, so scaling is agreed here), the same fault shows in the peer's sending: it reads
// the raw window as bytes, so with a raw value below one segment it sends exactly that many
// bytes, again and again, while the scaled window has room for far more. The option was
// removed after the sensor, on its way to the peer.
//
// Without scaling a receiver can offer at most 65535 bytes, so a sender that keeps its
// flight at >= 90 % of such a window for several round trips, without loss, is limited by
// the window rather than by the path: at most 64 KiB per RTT.

#include "config/config.h"
#include "dataplane/packet/packet_view.h"
#include "inspectors/output/events.h"
#include "inspectors/flow/tcp_state.h"

namespace tcpsleuth {

class WindowInspector {
public:
    struct Limited {
        std::uint32_t round_start_ms = 0;
        std::uint32_t first_pkt = 0;
        std::uint16_t rounds = 0;
        std::uint8_t reported = 0;
        std::uint8_t pad = 0;             // explicit: a cold record is compared byte for byte
    };
    // Cold: a healthy flow's windows never come near what any of the three checks counts
    // (the SYN windows they compare against are the tracker's, DirState::syn_window).
    struct State {
        Limited limited[2];               // by Dir of the data sender
        std::uint32_t first_capped_pkt = 0;
        std::uint16_t capped[2] = {};     // by Dir of the data sender: flights equal to the raw window
        std::uint32_t first_tiny_pkt = 0;
        std::uint16_t tiny_windows = 0;
        std::uint16_t smallest = 0;       // 0: none yet (a zero window is never counted); fresh is all zero
        std::uint16_t largest = 0;
        std::uint8_t mismatch_reported = 0;
        std::uint8_t pad = 0;
    };

    explicit WindowInspector(const WindowConfig& cfg) noexcept : cfg_(cfg) {}
    // A reload: new thresholds and switches, state kept.
    void reconfigure(const WindowConfig& cfg) noexcept { cfg_ = cfg; }

    // When window.scale_mismatch is reported, the side whose SYN lost window scale and where
    // relative to the sensor: the options inspector records it as far-end evidence.
    struct Mismatch {
        bool reported = false;
        Side scaling = Side::kServer;
        Where where = Where::kUnknown;
        std::uint16_t segments = 0;
    };
    Mismatch on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, State& st,
                       EventSink& out) const noexcept;

private:
    Mismatch check_scale(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, State& st,
                         EventSink& out) const noexcept;
    Mismatch check_raw_reader(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, State& st,
                              EventSink& out) const noexcept;
    void check_limited(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, State& st,
                       EventSink& out) const noexcept;

    WindowConfig cfg_;
};

}  // namespace tcpsleuth
