#pragma once
// Per-flow TCP facts shared by every inspector, written only by the tracker (tcp_tracker.cc)
// before any inspector runs. Times inside a flow are 32-bit offsets from the flow's first
// packet (milliseconds: 49 days of range) to keep the entry small.

#include <cstdint>

#include "dataplane/packet/seq.h"
#include "inspectors/flow/flow_key.h"

namespace tcpsleuth {

enum class TcpState : std::uint8_t {
    kSynSent,      // client SYN seen, no SYN-ACK yet
    kSynReceived,  // SYN-ACK seen, handshake ACK not yet
    kEstablished,
    kClosing,      // a FIN in at least one direction
    kClosed,       // RST, or FINs both ways
    kMidstream,    // joined after the handshake: no options, no ISN
};

enum class IpIdMode : std::uint8_t { kUnknown, kZero, kIncrementing, kRandom };

enum DirFlag : std::uint8_t {
    kDirSeen = 1u << 0,        // this side has sent at least one segment
    kDirSawSyn = 1u << 1,
    kDirSawFin = 1u << 2,
    kDirSawRst = 1u << 3,
    kDirEcnSetup = 1u << 4,    // SYN with ECE+CWR, or SYN-ACK with ECE and not CWR
    kDirZeroWindow = 1u << 5,  // currently advertising a zero window
    kDirHole = 1u << 6,        // a gap in this side's sequence space is open
    kDirHasAck = 1u << 7,      // max_ack is valid
};

// What one side of the connection sent, as seen at the sensor.
struct DirState {
    Seq isn;
    Seq snd_nxt;          // highest sequence number sent + its length (SYN and FIN count one)
    Seq max_ack;          // highest acknowledgement this side sent
    Seq hole_lo;          // [hole_lo, hole_hi): sequence space skipped at the sensor
    Seq hole_hi;
    std::uint32_t hole_ms = 0;
    std::uint32_t last_ms = 0;       // last segment from this side
    std::uint32_t ts_probe_val = 0;  // a TSval of ours awaiting its echo, for RTT
    std::uint32_t ts_probe_us = 0;   //   and when we saw it (microseconds, mod 2^32)
    std::uint32_t rtt_ts_us = 0;     // latest timestamp-echo RTT sample, sensor -> this side's peer -> sensor
    std::uint32_t max_in_flight = 0; // largest snd_nxt - peer's ack observed
    std::uint64_t syn_layout = 0;    // option layout of this side's SYN / SYN-ACK, wire order
    std::uint16_t syn_opts = 0;      // TcpOpt bits of that SYN
    std::uint16_t mss = 0;
    std::uint16_t window = 0;        // raw, as last advertised
    std::uint16_t syn_window = 0;    // raw, in this side's latest SYN or SYN-ACK (never scaled)
    std::uint16_t last_ip_id = 0;
    std::uint8_t wscale = kNoWscale; // shift from the SYN (at most kMaxWscale), kNoWscale if absent
    std::uint8_t flags = 0;          // DirFlag
    std::uint8_t ttl_first = 0;
    std::uint8_t ttl_min = 0;
    std::uint8_t ttl_max = 0;
    IpIdMode ip_id_mode = IpIdMode::kUnknown;
    std::uint8_t syns = 0;           // SYNs with the current ISN (saturating)
    std::uint8_t app_retries = 0;    // SYNs with a new ISN on this 4-tuple (saturating)
    std::uint16_t retransmissions = 0;  // saturating counters from here on
    std::uint16_t out_of_order = 0;
    std::uint16_t dup_acks = 0;
    std::uint16_t keepalives = 0;
    std::uint16_t zero_window_probes = 0;
    std::uint8_t ttl_samples = 0;    // non-RST packets behind ttl_min/ttl_max (saturating)

    static constexpr std::uint8_t kNoWscale = 0xff;
    // RFC 7323 section 2.3: a shift above 14 is used as 14 (the option's byte can say 255).
    static constexpr std::uint8_t kMaxWscale = 14;
    bool has(DirFlag f) const noexcept { return (flags & f) != 0; }
};

enum FlowFlag : std::uint8_t {
    kFlowMidstream = 1u << 0,
    kFlowHandshakeDone = 1u << 1,
    kFlowWscaleOn = 1u << 2,     // window scale in SYN and SYN-ACK (RFC 7323 section 2.2)
    kFlowSackOn = 1u << 3,       // SACK-permitted both ways (RFC 2018 section 2)
    kFlowTsOn = 1u << 4,         // timestamps both ways (RFC 7323 section 3.2)
    kFlowEcnOn = 1u << 5,        // ECN-setup SYN answered by ECN-setup SYN-ACK
};

struct FlowCommon {
    FlowKey key;
    std::uint64_t first_ns = 0;
    std::uint64_t last_ns = 0;
    std::uint32_t id = 0;             // per table, 1-based, in order of creation
    std::uint32_t rtt_syn_us = 0;     // SYN -> SYN-ACK at the sensor: sensor <-> server
    std::uint32_t rtt_ack_us = 0;     // SYN-ACK -> ACK at the sensor: sensor <-> client
    std::uint32_t max_gap_ms = 0;     // longest silence in both directions
    std::uint32_t syn_us = 0;         // latest client SYN, microseconds from first_ns (mod 2^32)
    std::uint32_t synack_us = 0;      // latest SYN-ACK
    std::uint32_t icmp_mtu = 0;       // smallest MTU quoted by a frag-needed/PTB for this flow
    // The hash that steered the flow's first packet to this core (NIC RSS or the software
    // distributor): both directions must carry the same one (flow.wrong_core).
    std::uint32_t steer = 0;
    // Kinds of event this flow has raised (bit = EventDetail index), and the worst
    // severity among them + 1 (0: none): what `flows` filters on without the event log.
    std::uint32_t event_kinds = 0;
    std::uint16_t icmp_errors = 0;
    // The application a payload rule's tag named (rule_names() index), 0 unknown.
    std::uint16_t app = 0;
    // The tunnel the first packet came through (TunnelBook index), 0 none.
    std::uint16_t tunnel = 0;
    TcpState state = TcpState::kMidstream;
    std::uint8_t flags = 0;           // FlowFlag
    std::uint8_t client_dir = 0;      // Dir index of the client's packets
    std::uint8_t in_use = 0;
    std::uint8_t worst_event = 0;
    std::uint8_t pad = 0;
    DirState dir[2];                  // indexed by Dir (lo->hi, hi->lo)

    bool has(FlowFlag f) const noexcept { return (flags & f) != 0; }
    // Both SYNs seen from the start: options, ISNs and window scale are known.
    bool saw_handshake() const noexcept {
        return dir[0].has(kDirSawSyn) && dir[1].has(kDirSawSyn) && !has(kFlowMidstream);
    }
    Dir client() const noexcept { return static_cast<Dir>(client_dir); }
    Dir server() const noexcept { return reverse(client()); }
    bool client_is_lo() const noexcept { return client_dir == 0; }
    std::uint32_t rel_ms(std::uint64_t now_ns) const noexcept {
        return static_cast<std::uint32_t>((now_ns - first_ns) / 1'000'000u);
    }
    // The best round-trip estimate the sensor has, microseconds; 0 unknown. The handshake
    // gives it directly (SYN -> SYN-ACK -> ACK); a flow joined mid-stream has the timestamp
    // echoes of each side instead (sensor -> peer -> sensor, the two halves summed).
    std::uint32_t rtt_us() const noexcept {
        if (rtt_syn_us != 0 && rtt_ack_us != 0) return rtt_syn_us + rtt_ack_us;
        return dir[0].rtt_ts_us + dir[1].rtt_ts_us;
    }
    // The receive window side `d` last advertised, in bytes: shifted by its scale when both
    // SYNs agreed to scaling (RFC 7323 section 2.3; the tracker keeps a shift above 14 as 14).
    std::uint32_t window_bytes(Dir d) const noexcept {
        const DirState& s = dir[index(d)];
        if (!has(kFlowWscaleOn) || s.wscale == DirState::kNoWscale) return s.window;
        return std::uint32_t{s.window} << s.wscale;
    }
    std::uint32_t rel_us(std::uint64_t now_ns) const noexcept {
        return static_cast<std::uint32_t>((now_ns - first_ns) / 1'000u);
    }
};

// Per-flow counters are narrow to keep the entry small; they stop at their maximum.
template <typename T>
constexpr void saturating_inc(T& v) noexcept {
    if (v != static_cast<T>(~T{0})) ++v;
}

// What the tracker learned from one segment, for the inspectors that run after it.
struct SegmentInfo {
    Dir dir = Dir::kLoToHi;
    std::uint32_t gap_ms = 0;        // silence in both directions before this segment
    bool from_client = false;
    bool syn_retransmission = false;
    bool app_retry = false;          // SYN with a new ISN on an unanswered 4-tuple
    bool new_connection = false;     // SYN with a new ISN: both sides' state started over
    bool syn_ack_first = false;      // first SYN-ACK: the handshake got an answer
    bool handshake_completed = false;
    bool refused = false;            // RST answering a SYN
    // A RST the client in SYN-SENT must drop (RFC 9293 section 3.10.7.3: no ACK, or an ACK
    // other than ISN+1): it does not close the flow, and a genuine stack never sends one.
    bool rst_unacceptable = false;
    bool new_data = false;
    bool retransmission = false;
    bool out_of_order = false;
    bool dup_ack = false;
    bool ack_advanced = false;       // this segment moved the sender's cumulative ACK forward
    bool closed_now = false;         // this segment took an established flow to closed
    bool keepalive = false;
    bool zero_window_probe = false;
    bool window_closed = false;      // this segment advertised zero after a non-zero window
    bool window_opened = false;      // non-zero after zero
    bool rst = false;
    bool fin = false;
};

}  // namespace tcpsleuth
