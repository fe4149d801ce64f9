#pragma once
// Events are plain structs, one per finding, each naming itself with kName (stable API:
// users alert on these names, see DESIGN.md) and saying what to do about it with kAdvice. They are trivially copyable and cross from a
// worker to the output side through a ring; strings are only made on the output side
// (event_format.cc).

#include <array>
#include <cstdint>
#include <utility>
#include <limits>
#include <string_view>
#include <type_traits>
#include <variant>

#include "inspectors/flow/counters.h"
#include "inspectors/flow/flow_key.h"
#include "inspectors/flow/spsc_ring.h"

namespace tcpsleuth {

enum class Severity : std::uint8_t { kInfo, kWarning, kCritical };
enum class Confidence : std::uint8_t { kLow, kMedium, kHigh };
// Relative to the sensor, in the direction the affected packets travel.
enum class Where : std::uint8_t { kUnknown, kUpstream, kDownstream };
enum class Side : std::uint8_t { kClient, kServer };

std::string_view to_string(Severity s) noexcept;
std::string_view to_string(Confidence c) noexcept;
std::string_view to_string(Where w) noexcept;
std::string_view to_string(Side s) noexcept;

// Packet numbers that prove a finding (offline: 1-based frame numbers). The first few and
// the last one are kept; `total` says how many there were.
struct PacketList {
    static constexpr unsigned kMax = 6;
    std::uint64_t nums[kMax] = {};
    std::uint8_t count = 0;
    std::uint32_t total = 0;

    void add(std::uint64_t n) noexcept {
        if (n == 0) return;  // live packets have no number
        ++total;
        if (count < kMax) {
            nums[count++] = n;
        } else {
            nums[kMax - 1] = n;  // keep the most recent in the last place
        }
    }
};

// handshake.syn_unanswered: SYN repeated with the same ISN, no SYN-ACK.
struct SynUnanswered {
    static constexpr std::string_view kName = "handshake.syn_unanswered";
    // What to do about it, shown beside every finding of the kind (kEventAdvice).
    static constexpr std::string_view kAdvice =
        "SYNs leave toward the server and nothing comes back: the SYN or the SYN-ACK is dropped between "
        "the sensor and the server. If many unrelated destinations fail like this at once while "
        "established connections keep working, a stateful firewall or NAT is out of state-table entries: "
        "compare its connection count with its limit (Linux: conntrack -S and nf_conntrack_max), then "
        "raise the limit or shorten its idle timeouts. For a single server, check that it listens on the "
        "port and that its accept queue is not overflowing (nstat TcpExtListenOverflows).";
    std::uint32_t syns = 0;          // SYNs with this ISN, the first included
    std::uint32_t isn = 0;
    std::uint64_t first_syn_ns = 0;
    std::uint64_t last_syn_ns = 0;
    std::uint32_t app_retries = 0;   // earlier attempts on this 4-tuple with another ISN
    bool ecn_setup = false;          // the SYNs carried ECE+CWR (RFC 3168 section 6.1.1)
    bool final = false;              // reported when the flow ended, still unanswered
};

// window.zero_stall: a receiver held its window at zero.
struct ZeroWindowStall {
    static constexpr std::string_view kName = "window.zero_stall";
    static constexpr std::string_view kAdvice =
        "The receiving application is not reading its socket, so its buffer is full and TCP tells the "
        "sender to stop; the network is not at fault. Look at the receiving process (CPU, blocked threads, "
        "slow disk or downstream dependency) and, if it reads in large bursts, at its receive buffer "
        "(SO_RCVBUF, net.ipv4.tcp_rmem).";
    std::uint64_t since_ns = 0;
    std::uint64_t duration_ns = 0;
    std::uint32_t probes = 0;        // probes the sender sent into the closed window
    std::uint32_t stall_number = 0;  // 1 for this flow's first stall, ...
    std::uint32_t threshold_ms = 0;
    std::uint32_t min_probes = 0;
    std::uint32_t bytes_waiting = 0; // sender's unacknowledged bytes when the window closed
    Side slow_side = Side::kServer;  // the side that advertised zero
    bool ongoing = false;            // still closed when the flow ended or input stopped
};

// sensor.flow_table_full: a flow was evicted to make room.
struct FlowTableFull {
    static constexpr std::string_view kName = "sensor.flow_table_full";
    static constexpr std::string_view kAdvice =
        "tcpsleuth's own flow table is full, so the longest-idle flows are forgotten early and their "
        "later findings may be missed. Raise [flows] capacity (memory per flow is in the README) or "
        "shorten the idle timeouts.";
    std::uint64_t evicted_total = 0;
    std::uint32_t capacity = 0;
    std::uint64_t victim_idle_ns = 0;
    std::uint64_t victim_flow_id = 0;
};

// sensor.cold_records_exhausted: an inspector had an episode to follow on a flow (a closed
// window, a segment resent, SACK blocks, a RST race, a watched silence) and every cold record
// of the worker's pool was taken, so that packet's evidence was dropped.
struct ColdRecordsExhausted {
    static constexpr std::string_view kName = "sensor.cold_records_exhausted";
    static constexpr std::string_view kAdvice =
        "More flows are in trouble at once than tcpsleuth keeps episode records for, so some "
        "findings on them may be weaker or missed. Raise [flows] cold_records (about 180 bytes "
        "each; the default is an eighth of [flows] capacity); the counter "
        "flow.cold_records_exhausted says how many packets went without.";
    std::uint64_t exhausted_total = 0;  // packets whose episode found no record, so far
    std::uint32_t records = 0;          // the pool's size
    std::uint64_t flow_id = 0;          // the flow that went without this time
};

// sensor.packets_dropped (live): packets the sensor itself lost or dropped: its packet
// buffer pool was empty, a port's receive queue overflowed before a worker polled it, an
// inline transmit queue was full, a software-distribution ring was full. The main core
// compares the totals once a second; the 1st, 10th, 100th ... second with new drops is
// reported, with the totals so far.
struct SensorPacketsDropped {
    static constexpr std::string_view kName = "sensor.packets_dropped";
    static constexpr std::string_view kAdvice =
        "tcpsleuth itself lost packets, so findings on the flows they belonged to rest on fewer packets "
        "(and inline, the traffic lost them too). rx_nombuf: the packet buffer pool ran dry: raise [dpdk] "
        "mbufs_per_port. rx_missed: a receive queue overflowed before a worker read it: more workers, a "
        "larger receive ring (af_packet: framecnt) or less traffic. tx_dropped: the other port's transmit "
        "queue was full (inline). ring_full: a worker's ring was full under software distribution: more "
        "workers or a larger [workers] ring_size.";
    std::uint64_t rx_packets = 0;  // received so far, every port
    std::uint64_t rx_missed = 0;   // the totals so far, every port
    std::uint64_t rx_nombuf = 0;
    std::uint64_t tx_dropped = 0;
    std::uint64_t ring_full = 0;
    std::uint64_t since_last = 0;  // dropped since the previous sensor.packets_dropped
};

// sensor.events_lost (live): findings lost because a worker's event ring was full (the main
// core did not take them as fast as the workers found them), or because the events file fell
// too far behind (a slow disk: the lines waiting for it are bounded). Reported like
// sensor.packets_dropped (1st, 10th, 100th ... second with new losses).
struct SensorEventsLost {
    static constexpr std::string_view kName = "sensor.events_lost";
    static constexpr std::string_view kAdvice =
        "Findings were lost before they were written: a worker's event ring was full because the main "
        "core fell behind (a flood of findings, a slow Redis), or the events file's disk fell more than "
        "4 MiB behind. Put the events file on faster storage, raise [workers] event_ring_size, or raise "
        "output.min_confidence; each worker's events_lost counter and the log's events file line at "
        "stop say how many.";
    std::uint64_t lost_total = 0;       // events lost to full rings so far, every worker
    std::uint64_t unwritten_total = 0;  // lines dropped because the events file fell behind
    std::uint64_t emitted_total = 0;    // events queued so far, every worker
    std::uint64_t since_last = 0;     // lost since the previous sensor.events_lost
    std::uint32_t ring_size = 0;      // [workers] event_ring_size
};

// sensor.mirror_loss: the sequence numbers a mirror session puts on its packets (GRE,
// RFC 2890 section 2.2; ERSPAN II/III ride on GRE's) have gaps, so the session itself lost
// packets before they reached tcpsleuth: those losses are the mirror's, not the network's.
struct MirrorLoss {
    static constexpr std::string_view kName = "sensor.mirror_loss";
    static constexpr std::string_view kAdvice =
        "The mirror session drops packets before they reach tcpsleuth (its sequence numbers skip), "
        "so some retransmissions and gaps tcpsleuth sees may be the mirror's loss rather than the "
        "network's. Mirror traffic is sent best effort: give the session more bandwidth or a "
        "dedicated link, lower what it mirrors (filters, truncation), and check the collector "
        "interface's drops (ethtool -S).";
    std::uint64_t lost_total = 0;         // packets the session's numbers say never arrived, so far
    std::uint64_t received_total = 0;     // packets of the session that did
    std::uint32_t session = 0;            // GRE key / ERSPAN session ID
    std::uint32_t gap = 0;                // packets missing in this gap
    TunnelType type = TunnelType::kGre;
    std::uint8_t outer_ip_version = 0;
    std::array<std::uint8_t, 16> outer_src{};
    std::array<std::uint8_t, 16> outer_dst{};
};

// The four options whose loss changes how a connection performs.
enum class OptionKind : std::uint8_t { kMss, kWscale, kSackPerm, kTimestamp };
std::string_view to_string(OptionKind o) noexcept;

// Which kinds of evidence supported options.stripped (DESIGN.md ranks them, strongest first).
enum StripEvidence : std::uint8_t {
    kEvidenceFarEnd = 1u << 0,        // the far end behaves as if the option were agreed
    kEvidenceTsVanished = 1u << 1,    // timestamps agreed, then missing from later segments
    kEvidenceNopFill = 1u << 2,       // NOPs where a known stack puts the option
    kEvidenceOtherClients = 1u << 3,  // the same server agrees to it with other clients
};

// The TCP stack a SYN's option layout matches (NOP fill undone), for OS consistency.
enum class StackGuess : std::uint8_t { kUnknown, kLinux, kWindows, kApple, kFreeBsd };
std::string_view to_string(StackGuess g) noexcept;

// What one server:port has shown across flows: the bracket on a device's idle timeout.
struct IdleBracket {
    std::uint32_t survived_max_s = 0;  // longest gap a flow on this path lived through
    std::uint32_t killed_min_s = 0;    // shortest gap that killed one (0: none yet)
};

// handshake.syn_drop_surge: new handshakes fail across destinations while established
// flows keep working. Not about one flow: flow is null.
struct SynDropSurge {
    static constexpr std::string_view kName = "handshake.syn_drop_surge";
    static constexpr std::string_view kAdvice =
        "New connections fail across many unrelated servers while established ones keep working: a "
        "stateful firewall, NAT or load balancer between the sensor and the servers has run out of "
        "state-table entries. Compare its session count with its limit and raise the limit, or shorten "
        "its idle and half-open (SYN) timeouts so dead entries leave sooner; on Linux conntrack raise "
        "net.netfilter.nf_conntrack_max and check conntrack -S for insert_failed/drop.";
    std::uint32_t window_s = 0;
    std::uint32_t attempts = 0;           // new handshakes started in the window
    std::uint32_t failures = 0;           // of them, SYN retransmitted with no answer
    std::uint32_t destinations = 0;       // distinct servers among the failures (estimate)
    std::uint32_t baseline_percent = 0;   // failure share before the window
    std::uint32_t established_active = 0; // established flows that moved data in the window
    std::uint32_t concurrent_now = 0;     // established flows open at the sensor
    std::uint32_t concurrent_min = 0;     //   lowest and highest over the window
    std::uint32_t concurrent_max = 0;
    std::uint32_t episode = 0;
    std::uint32_t threshold_failures = 0;
    std::uint32_t threshold_percent = 0;
};

// mtu.blackhole: segments of one size never get through; smaller ones do.
struct MtuBlackhole {
    static constexpr std::string_view kName = "mtu.blackhole";
    static constexpr std::string_view kAdvice =
        "The path MTU is smaller than these segments and the ICMP 'fragmentation needed' (ICMPv6 "
        "'packet too big') that should say so never reaches the sender. Let ICMP type 3 code 4 and "
        "ICMPv6 type 2 through every firewall on the path, or clamp the MSS on the narrow link's router "
        "(iptables -t mangle ... -j TCPMSS --clamp-mss-to-pmtu); as a stopgap enable RFC 4821 probing "
        "on the senders (net.ipv4.tcp_mtu_probing=1).";
    Side sender = Side::kClient;
    bool confirmed = false;              // the sender shrank its segments and they got through
    bool capture_ended = false;          // the input ended before min_retransmissions
    bool icmp_seen = false;              // a frag-needed / packet-too-big for this flow passed the sensor
    bool delivered_after = false;        // a smaller segment got through while this one stayed lost
    std::uint16_t lost_payload = 0;
    std::uint16_t lost_ip_len = 0;       // IP total length of the lost segment
    std::uint16_t delivered_payload = 0; // largest segment acknowledged (before or after shrinking)
    std::uint16_t delivered_ip_len = 0;
    std::uint16_t carried_ip_len = 0;    // largest packet of the sender's the path carried (handshake or data)
    std::uint16_t retransmissions = 0;   // of the lost segment at the same size
    std::uint16_t icmp_mtu = 0;
    std::uint16_t threshold = 0;
    std::uint32_t waited_ms = 0;         // first send of the lost segment to now
};

// mtu.icmp_frag_needed: an ICMP frag-needed / ICMPv6 packet-too-big quoting this flow.
struct IcmpFragNeeded {
    static constexpr std::string_view kName = "mtu.icmp_frag_needed";
    static constexpr std::string_view kAdvice =
        "A router reported a smaller path MTU for this flow. This is path MTU discovery working; if the "
        "sender keeps sending segments above the reported MTU, the ICMP is being dropped between the "
        "sensor and the sender: allow ICMP type 3 code 4 (ICMPv6 type 2) there, or clamp the MSS.";
    Side sender = Side::kClient;         // whose segment the ICMP quoted
    bool ignored = false;                // larger segments kept coming after it
    std::uint16_t mtu = 0;
    std::uint16_t quoted_ip_len = 0;
    std::uint16_t larger_after = 0;      // segments above the MTU sent after the ICMP
    std::uint16_t messages = 0;
    std::uint16_t threshold = 0;
};

// options.stripped: a device removed a TCP option from one side's SYN.
struct OptionsStripped {
    static constexpr std::string_view kName = "options.stripped";
    static constexpr std::string_view kAdvice =
        "A device on the path removes this TCP option from the handshake, so the connection runs without "
        "it (no SACK: slow loss recovery; no window scaling: at most 64 KiB in flight; no timestamps: "
        "worse RTT estimates and no PAWS). Find the firewall, IPS, WAN optimiser or load balancer on that "
        "side of the sensor and turn off its option scrubbing (e.g. Cisco ASA 'tcp-options' in a "
        "tcp-map, iptables TCPOPTSTRIP). Do not disable the option on the endpoints to match.";
    OptionKind option = OptionKind::kSackPerm;
    Side side = Side::kClient;           // whose segments lost it
    std::uint8_t evidence = 0;           // StripEvidence bits
    StackGuess stack = StackGuess::kUnknown;
    std::uint64_t layout = 0;            // the SYN's option layout as seen (LayoutToken nibbles)
    std::uint32_t other_clients = 0;     // flows in which this server agreed to the option
    std::uint32_t far_end_segments = 0;  // SACK blocks, or segments without timestamps
};

// options.not_negotiated: offered in the SYN, not accepted in the SYN-ACK.
struct OptionsNotNegotiated {
    static constexpr std::string_view kName = "options.not_negotiated";
    static constexpr std::string_view kAdvice =
        "The server did not accept an option the client offered, and nothing points to a device "
        "removing it: most likely the server's stack has it turned off (Linux: net.ipv4.tcp_sack, "
        "tcp_window_scaling, tcp_timestamps). Enable it on the server unless there is a reason not to; "
        "without window scaling a connection cannot carry more than 64 KiB per round trip.";
    OptionKind option = OptionKind::kSackPerm;
    Side offered_by = Side::kClient;
    std::uint32_t server_flows = 0;      // flows on this server that declined it so far
    std::uint32_t server_agreed = 0;     // flows on this server that accepted it
};

// window.scale_mismatch: one side scales its window, the other reads it raw.
struct WindowScaleMismatch {
    static constexpr std::string_view kName = "window.scale_mismatch";
    static constexpr std::string_view kAdvice =
        "One side scales its receive window and the other does not know it, because a device stripped "
        "the window-scale option from the handshake on its way to the sensor: the peer reads a shifted "
        "window as a few hundred bytes and crawls. Stop the device from stripping window scale (it must "
        "strip it from both SYNs or neither); disabling scaling on the endpoint "
        "(net.ipv4.tcp_window_scaling=0) is only a stopgap.";
    Side scaling_side = Side::kServer;   // advertises shifted windows
    bool nop_fill = false;               // its SYN shows NOPs where window scale was
    bool reader_capped = false;          // seen from beyond the device: the peer's flight is the raw window
    std::uint16_t syn_window = 0;        // its SYN window (never scaled, RFC 7323 section 2.2)
    std::uint16_t smallest_window = 0;
    std::uint16_t largest_window = 0;
    std::uint16_t tiny_windows = 0;      // advertisements below one MSS
    std::uint16_t mss = 0;
    std::uint16_t threshold = 0;
    std::uint32_t max_flight = 0;        // the peer's largest flight: capped by the raw window
    std::uint8_t shift = 0;              // reader_capped: the scale the scaling side announced
};

// window.limited: an unscaled window caps throughput.
struct WindowLimited {
    static constexpr std::string_view kName = "window.limited";
    static constexpr std::string_view kAdvice =
        "The receiver's window is full for round trip after round trip without loss: throughput is capped "
        "at window / RTT because window scaling is not in use. Enable window scaling on both ends "
        "(net.ipv4.tcp_window_scaling=1, the default) and make sure no device strips the option; for "
        "long paths also raise the receive buffer (net.ipv4.tcp_rmem).";
    Side receiver = Side::kServer;
    bool client_offered = false;         // window scale in the client's SYN
    bool server_offered = false;
    std::uint32_t window = 0;            // bytes
    std::uint32_t flight = 0;            // the sender's flight when the last round counted
    std::uint32_t rounds = 0;
    std::uint32_t rtt_us = 0;
    std::uint32_t threshold_rounds = 0;
    std::uint32_t threshold_percent = 0;
};

// ecn.syn_blackhole: the ECN-setup SYN went unanswered; the plain retry was answered.
struct EcnSynBlackhole {
    static constexpr std::string_view kName = "ecn.syn_blackhole";
    static constexpr std::string_view kAdvice =
        "A device drops SYNs that request ECN (ECE+CWR set), so every connection waits a SYN timeout "
        "(1 s or more) before the plain retry gets through. Fix or replace the device (it violates "
        "RFC 3168); meanwhile keep ECN fallback on (net.ipv4.tcp_ecn_fallback=1) or set "
        "net.ipv4.tcp_ecn=2 on the clients so they only accept ECN, never request it.";
    std::uint32_t ecn_syns = 0;
    std::uint32_t waited_ms = 0;         // first ECN SYN to the SYN-ACK
    std::uint32_t server_flows = 0;      // flows on this server with the same pattern
    std::uint32_t server_ecn_answered = 0;  // ECN SYNs this server answered directly
};

// ecn.not_negotiated: ECN requested, not accepted.
struct EcnNotNegotiated {
    static constexpr std::string_view kName = "ecn.not_negotiated";
    static constexpr std::string_view kAdvice =
        "The client asked for ECN and the server declined. Harmless, but congestion will be signalled by "
        "loss rather than marks; enable ECN on the server (net.ipv4.tcp_ecn=1 or 2) if the path supports it.";
    bool synack_ece = false;
    bool synack_cwr = false;             // ECE and CWR reflected: a broken echo, not RFC 3168
    std::uint32_t server_flows = 0;
};

// ecn.bleached: ECN agreed, but a side's data arrives Not-ECT.
struct EcnBleached {
    static constexpr std::string_view kName = "ecn.bleached";
    static constexpr std::string_view kAdvice =
        "ECN was agreed but this side's data arrives without ECT marks: a device between it and the "
        "sensor clears the ECN bits of the IP header (often a DSCP/TOS rewrite that also clears the two "
        "low bits). Congestion marks can never reach the receiver. Fix the rewrite to preserve the ECN "
        "field (RFC 3168 section 6.1.1.1), or disable ECN on the endpoints behind it.";
    Side sender = Side::kClient;
    std::uint32_t not_ect = 0;
    std::uint32_t ect = 0;
    std::uint32_t threshold = 0;
};

// ecn.ce_erased: CE-marked data acknowledged without ECE.
struct EcnCeErased {
    static constexpr std::string_view kName = "ecn.ce_erased";
    static constexpr std::string_view kAdvice =
        "Data arrived marked Congestion Experienced, but the receiver's ACKs never echoed ECE: the mark "
        "is cleared between the sensor and the receiver, or the echo is removed on the way back, so the "
        "sender never slows down. Find the device rewriting the TOS byte or TCP flags on that side.";
    Side sender = Side::kClient;         // sent the data that arrived marked
    std::uint32_t ce_segments = 0;
    std::uint32_t acks_without_ece = 0;
    std::uint32_t threshold = 0;
};

// sack.invalid_blocks: SACK edges outside the data sender's sequence space.
struct SackInvalidBlocks {
    static constexpr std::string_view kName = "sack.invalid_blocks";
    static constexpr std::string_view kAdvice =
        "SACK blocks point outside the data sender's sequence space by a constant offset: a firewall "
        "randomizes sequence numbers and rewrites SEQ/ACK but not the SACK option, so the sender discards "
        "every block and recovers from loss one segment per round trip. Disable sequence-number "
        "randomization on it (Cisco ASA/FTD: 'no set connection random-sequence-number' in the policy) "
        "or make it rewrite SACK; as a last resort turn SACK off on the endpoints.";
    Side receiver = Side::kServer;       // sent the blocks
    bool stable = false;                 // every block off by about the same amount
    std::uint32_t acks = 0;
    std::int64_t offset = 0;             // first block's left edge minus the ACK, as signed
    std::int64_t offset_spread = 0;      // max - min of that offset over the invalid blocks
    std::uint32_t left = 0, right = 0;   // first invalid block, raw
    std::uint32_t ack = 0;               // cumulative ACK in that segment
    std::uint32_t sender_nxt = 0;        // the data sender's highest sequence seen
    std::uint32_t threshold = 0;
};

// sack.unnegotiated_blocks: SACK blocks without SACK-permitted in the handshake.
struct SackUnnegotiated {
    static constexpr std::string_view kName = "sack.unnegotiated_blocks";
    static constexpr std::string_view kAdvice =
        "This side sends SACK blocks although its SYN reached the sensor without SACK-permitted: a device "
        "removed the option from its handshake, so the other side ignores the blocks. Stop the device "
        "stripping SACK-permitted (it must strip both directions or neither).";
    Side receiver = Side::kServer;
    bool receiver_syn_had_perm = false;
    bool sender_syn_had_perm = false;
    std::uint32_t acks = 0;
};

// sack.missing_during_loss: SACK agreed, duplicate ACKs carry no blocks.
struct SackMissing {
    static constexpr std::string_view kName = "sack.missing_during_loss";
    static constexpr std::string_view kAdvice =
        "SACK was agreed, but duplicate ACKs during loss carry no SACK blocks, so recovery falls back to "
        "one segment per round trip: a device on the receiver's side removes SACK blocks (or the "
        "SACK-permitted option on its way to the receiver). Find and fix the option scrubbing.";
    Side receiver = Side::kServer;
    std::uint32_t dup_acks = 0;
    std::uint32_t sender_retransmissions = 0;
    std::uint32_t threshold = 0;
};

// How a gap was judged long for its flow (IdleConfig): the threshold it crossed and what
// set it.
struct GapJudgement {
    std::uint32_t gap_ms = 0;
    std::uint32_t needed_ms = 0;         // the shortest gap that counted as idle for this flow
    std::uint32_t lived_ms = 0;          // the longest silence the flow lived through before
    std::uint32_t rtt_us = 0;            // the flow's round trip (0 unknown)
};

// idle.timeout_drop: after an idle gap, the first segments go unanswered.
struct IdleTimeoutDrop {
    static constexpr std::string_view kName = "idle.timeout_drop";
    static constexpr std::string_view kAdvice =
        "After an idle period the flow's packets go unanswered: a stateful device (firewall, NAT, load "
        "balancer) timed out the connection and now drops it. Enable TCP keepalives shorter than the "
        "device's idle timeout (Linux: SO_KEEPALIVE with net.ipv4.tcp_keepalive_time below it), or raise "
        "the device's timeout for this traffic.";
    Side first_sender = Side::kClient;
    bool keepalive = false;              // the unanswered segment was a keepalive
    bool capture_ended = false;          // the input ended before min_retransmissions
    std::uint32_t gap_ms = 0;
    std::uint32_t retransmissions = 0;
    std::uint32_t threshold = 0;
    GapJudgement judged;
    IdleBracket bracket;
};

// idle.reset_after_idle: after an idle gap, a RST.
struct IdleResetAfterIdle {
    static constexpr std::string_view kName = "idle.reset_after_idle";
    static constexpr std::string_view kAdvice =
        "After an idle period a RST ended the flow. A RST whose TTL does not match the peer comes from a "
        "device that timed the connection out (many load balancers and firewalls reset instead of "
        "dropping). Keep the flow warm with keepalives shorter than the device's idle timeout, or raise "
        "the timeout; if the TTL matches, look at the peer's own idle timeout.";
    Side rst_claims = Side::kServer;     // the side the RST claims to come from
    bool prompted = false;               // the RST answered the first segment after the gap
    bool ttl_matches = false;            // its TTL fits that side's other packets
    bool one_hop = false;                // it lies one hop off that side's constant TTL (weak)
    std::uint8_t rst_ttl = 0;
    std::uint8_t peer_ttl_min = 0;
    std::uint8_t peer_ttl_max = 0;
    std::uint32_t gap_ms = 0;
    GapJudgement judged;
    IdleBracket bracket;
};

// idle.keepalive_too_slow: keepalives come less often than the path's idle timeout.
struct IdleKeepaliveTooSlow {
    static constexpr std::string_view kName = "idle.keepalive_too_slow";
    static constexpr std::string_view kAdvice =
        "Keepalives come less often than this path's idle timeout, so the device forgets the flow between "
        "them. Set the keepalive time well under the timeout (Linux: net.ipv4.tcp_keepalive_time or "
        "TCP_KEEPIDLE per socket; the default 7200 s is longer than almost every device's timeout).";
    Side sender = Side::kClient;
    bool died = false;                   // this flow's keepalive went unanswered
    std::uint32_t interval_ms = 0;
    IdleBracket bracket;
};

// idle.stale_flow: a flow idle past a device timeout, still open.
struct IdleStaleFlow {
    static constexpr std::string_view kName = "idle.stale_flow";
    static constexpr std::string_view kAdvice =
        "This connection has been idle longer than common device idle timeouts while still open; its next "
        "packet will probably be dropped or reset. Use keepalives shorter than the timeout, or have the "
        "application close and reopen idle connections.";
    std::uint32_t idle_s = 0;
    std::uint32_t threshold_s = 0;
    IdleBracket bracket;
};

// How a RST relates to the handshake it may have raced.
enum class RstRace : std::uint8_t {
    kNone,            // mid-flow
    kBeforeSynAck,    // answered the SYN; the real SYN-ACK came after it
    kBesideSynAck,    // came right after the SYN-ACK, before the handshake carried data
    kAloneWrongAck,   // answered the SYN with an ACK no stack sends (not ISN+1); no SYN-ACK seen
};
std::string_view to_string(RstRace r) noexcept;

// rst.injected: a RST that its claimed sender's other packets contradict.
struct RstInjected {
    static constexpr std::string_view kName = "rst.injected";
    static constexpr std::string_view kAdvice =
        "A RST arrived claiming to come from one side, but its TTL (hop distance), its IP ID, or its "
        "timing against the handshake (racing the real SYN-ACK) does not fit that side: a device between "
        "that side and the sensor forged it (an IPS, a firewall timing the flow out, or a censor). Find "
        "the device from the hop distance and check its reset policy; a RST racing the handshake is an "
        "in-path IPS or filter refusing the connection by its destination or SNI.";
    Side claims = Side::kServer;
    RstRace race = RstRace::kNone;
    bool ttl_mismatch = false;           // min_hops or more off (or another initial family)
    bool ttl_one_hop = false;            // one hop off a TTL that never varied (weaker)
    bool ip_id_mismatch = false;
    bool ack_wrong = false;              // answering a SYN, it acknowledged something other than ISN+1
    std::uint8_t rst_ttl = 0;
    std::uint8_t peer_ttl_min = 0;
    std::uint8_t peer_ttl_max = 0;
    std::uint8_t rst_hops = 0;
    std::uint8_t peer_hops = 0;
    std::uint8_t peer_ttl_samples = 0;   // packets behind peer_ttl_min/max
    std::uint16_t rst_ip_id = 0;
    std::uint16_t peer_last_ip_id = 0;
    std::uint32_t rst_ack = 0;
    std::uint32_t expected_ack = 0;      // ISN+1 of the SYN it answered (race shapes)
};

// path.one_way_loss: one direction's packets stop arriving while the other's do.
struct PathOneWayLoss {
    static constexpr std::string_view kName = "path.one_way_loss";
    static constexpr std::string_view kAdvice =
        "Packets in one direction stop arriving while the other direction works: the sender keeps "
        "retransmitting with back-off because what the sensor saw pass never reaches it. Look for a device "
        "on that side of the sensor dropping one direction only: an asymmetric route through a stateful "
        "firewall that never saw the other half of the flow, a NAT or load balancer that lost the "
        "flow's state for one direction, a filter or policer on one interface, a duplex mismatch.";
    Side sender = Side::kClient;         // resent the segment
    Side lost_from = Side::kServer;      // whose packets do not arrive (the ACKs' or the data's sender)
    bool acknowledged = false;           // the sensor saw it acknowledged before it was resent
    std::uint32_t retransmissions = 0;   // counted, RTO-spaced
    std::uint32_t threshold = 0;
    std::uint32_t seq_from = 0;          // the resent range, relative to the sender's ISN
    std::uint32_t seq_to = 0;
    std::uint32_t acked_to = 0;          // the receiver's ACK as seen, relative
    std::uint64_t first_retx_ns = 0;
    std::uint64_t last_retx_ns = 0;
    std::uint32_t rtt_us = 0;
};

// window.receiver_limited: the receiver's window repeatedly stopped the sender.
struct WindowReceiverLimited {
    static constexpr std::string_view kName = "window.receiver_limited";
    static constexpr std::string_view kAdvice =
        "The receiver's window, not the network, sets the pace: again and again it is full or zero and the "
        "sender has to wait. The receiving application reads slower than the data arrives, or its socket "
        "buffer is too small for the path. Profile the reader (CPU, blocking calls, a slow disk or "
        "downstream), read in larger chunks, or raise its receive buffer (SO_RCVBUF, net.ipv4.tcp_rmem).";
    Side receiver = Side::kServer;
    std::uint32_t episodes = 0;          // times the window stopped the sender
    std::uint32_t zero_episodes = 0;     //   of them with a zero window
    std::uint32_t limited_ms = 0;        // time spent stopped, in all
    std::uint32_t longest_ms = 0;        // the longest single episode
    std::uint32_t transfer_ms = 0;       // the sender's first to latest new data
    std::uint32_t share_percent = 0;     // limited_ms of transfer_ms
    std::uint32_t window = 0;            // the receiver's window in bytes when the last episode began
    std::uint32_t max_window = 0;        // the largest it advertised
    std::uint32_t threshold_episodes = 0;
    std::uint32_t threshold_percent = 0;
    std::uint32_t warning_percent = 0;
    bool final = false;                  // judged when the flow ended
};

// payload.match: a payload rule matched one side's byte stream.
struct PayloadMatch {
    static constexpr std::string_view kName = "payload.match";
    static constexpr std::string_view kAdvice =
        "A payload rule matched. A built-in rule's advice says what the signal usually means; a rule from "
        "the configuration means what its author meant by it. Read it with the flow's TCP findings: an "
        "application error right after a network fault is usually its consequence.";
    static constexpr unsigned kTailMax = 16;
    std::uint16_t rule = 0;              // rule_names() index of the rule's id
    Side direction = Side::kClient;      // whose bytes matched
    std::uint8_t tail_len = 0;
    std::uint32_t matches = 0;           // this rule's matches in this flow so far
    std::uint64_t stream_offset = 0;     // bytes of that side's stream up to the match's end
    std::uint32_t scan_bytes = 0;        // how far each direction is scanned
    char tail[kTailMax] = {};            // the matched bytes' last few, from the segment that ended it
};

using EventDetail =
    std::variant<SynUnanswered, ZeroWindowStall, FlowTableFull, SynDropSurge, MtuBlackhole, IcmpFragNeeded,
                 OptionsStripped, OptionsNotNegotiated, WindowScaleMismatch, WindowLimited, EcnSynBlackhole,
                 EcnNotNegotiated, EcnBleached, EcnCeErased, SackInvalidBlocks, SackUnnegotiated, SackMissing,
                 IdleTimeoutDrop, IdleResetAfterIdle, IdleKeepaliveTooSlow, IdleStaleFlow, RstInjected,
                 PayloadMatch, PathOneWayLoss, WindowReceiverLimited, ColdRecordsExhausted, MirrorLoss,
                 SensorPacketsDropped, SensorEventsLost>;

struct Event {
    FlowKey key;
    std::uint64_t flow_id = 0;        // 0: not about one flow (sensor events)
    std::uint64_t ts_ns = 0;
    bool client_is_lo = true;         // which key endpoint is the client
    Severity severity = Severity::kInfo;
    Confidence confidence = Confidence::kMedium;
    Where where = Where::kUnknown;
    std::uint32_t occurrence = 1;     // the nth finding of this kind in this flow
    std::uint16_t app = 0;            // the flow's application tag (rule_names() index), 0 unknown
    TunnelInfo tunnel;                // the tunnel the flow came through (type kNone: none)
    PacketList packets;
    EventDetail detail;
};
static_assert(std::is_trivially_copyable_v<Event>, "events cross cores by copy");

std::string_view event_name(const Event& e) noexcept;

// Every event kind's name, indexed like EventDetail (the bit in FlowCommon::event_kinds).
inline constexpr auto kEventKinds = []<std::size_t... I>(std::index_sequence<I...>) {
    return std::array<std::string_view, sizeof...(I)>{std::variant_alternative_t<I, EventDetail>::kName...};
}(std::make_index_sequence<std::variant_size_v<EventDetail>>{});

// Every event kind's advice, indexed the same way: a kind without kAdvice does not compile.
inline constexpr auto kEventAdvice = []<std::size_t... I>(std::index_sequence<I...>) {
    return std::array<std::string_view, sizeof...(I)>{std::variant_alternative_t<I, EventDetail>::kAdvice...};
}(std::make_index_sequence<std::variant_size_v<EventDetail>>{});

// The packet path's handle on the event ring: a full ring costs one counter, never a wait.
class EventSink {
public:
    EventSink(SpscRing<Event>& ring, CoreCounters& counters) noexcept : ring_(ring), counters_(counters) {}
    void emit(const Event& e) noexcept {
        bool pushed;
        if (tunnel_ != nullptr && kinds_ != nullptr && e.flow_id == tracked_id_) {
            Event with_tunnel = e;  // only a tunnelled flow's events pay for the copy
            with_tunnel.tunnel = *tunnel_;
            pushed = ring_.try_push(with_tunnel);
        } else {
            pushed = ring_.try_push(e);
        }
        counters_.add(pushed ? Counter::kEventsEmitted : Counter::kEventsDropped);
        if (kinds_ != nullptr && e.flow_id == tracked_id_) {
            *kinds_ |= 1u << e.detail.index();
            const auto worst = static_cast<std::uint8_t>(static_cast<unsigned>(e.severity) + 1);
            if (*worst_ < worst) *worst_ = worst;
        }
    }

    // While a flow's packet is inspected, its events are also tallied in the flow entry.
    // `tunnel`: the flow's tunnel, copied into its events; null when it has none.
    void track(std::uint32_t id, std::uint32_t* kinds, std::uint8_t* worst, const TunnelInfo* tunnel = nullptr) noexcept {
        tracked_id_ = id;
        kinds_ = kinds;
        worst_ = worst;
        tunnel_ = tunnel;
    }
    void untrack() noexcept {
        kinds_ = nullptr;
        tunnel_ = nullptr;
    }

private:
    SpscRing<Event>& ring_;
    CoreCounters& counters_;
    std::uint64_t tracked_id_ = 0;
    std::uint32_t* kinds_ = nullptr;
    std::uint8_t* worst_ = nullptr;
    const TunnelInfo* tunnel_ = nullptr;
};
static_assert(std::variant_size_v<EventDetail> <= 32, "FlowCommon::event_kinds holds one bit per kind");

// True on the 1st, 10th, 100th, ... occurrence (Zeek's ScaledHistoryEntry).
constexpr bool bump_and_should_report(std::uint32_t& count, std::uint32_t& next) noexcept {
    if (next == 0) next = 1;
    if (++count != next) return false;
    next = next > std::numeric_limits<std::uint32_t>::max() / 10 ? std::numeric_limits<std::uint32_t>::max()
                                                                : next * 10;
    return true;
}

// The sensor's own trouble (sensor.*): a warning about no flow, certain (the counters say it
// happened), the `occurrence`th of its kind.
inline Event sensor_event(std::uint64_t now_ns, std::uint32_t occurrence, const EventDetail& detail) noexcept {
    Event e;
    e.ts_ns = now_ns;
    e.severity = Severity::kWarning;
    e.confidence = Confidence::kHigh;
    e.occurrence = occurrence;
    e.detail = detail;
    return e;
}

}  // namespace tcpsleuth
