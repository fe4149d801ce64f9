#pragma once
// The validated configuration, with every default in one place. Every part of tcpsleuth
// takes its settings from here; the TOML loader fills it and the example file documents it.

#include <cstdint>
#include <memory>

#include "dataplane/packet/decap.h"

namespace tcpsleuth {

class RuleSet;  // config/rules.h

struct FlowConfig {
    // Flows per worker core. The table is allocated once at start; see README for bytes/flow.
    std::uint32_t capacity = 1u << 20;
    // Cold records per worker core: inspector state a flow holds only while an inspector
    // follows an episode on it (a closed window, a resent segment, a watched silence). 0: an
    // eighth of capacity, at least 1,024. Allocated once at start, like the table.
    std::uint32_t cold_records = 0;
    // Idle timeouts per state, seconds. Established must outlive the devices we diagnose:
    // RFC 5382 REQ-5 asks NATs for at least 2 h 4 min, so a shorter timeout here would turn
    // an idle-timeout fault into two unrelated flows.
    std::uint32_t handshake_timeout_s = 240;     // RFC 5382: transitory idle-timeout >= 4 min
    std::uint32_t established_timeout_s = 7440;  // RFC 5382 REQ-5
    std::uint32_t closing_timeout_s = 240;       // FIN seen in one or both directions
    std::uint32_t closed_timeout_s = 10;         // RST seen: keep briefly for late packets
    // Slots visited by the idle sweep after each burst: bounds the sweep's cost per burst.
    std::uint32_t sweep_budget = 64;

    bool operator==(const FlowConfig&) const = default;
};

struct HandshakeConfig {
    bool enabled = true;
    // SYN retransmissions (same ISN, no SYN-ACK) before handshake.syn_unanswered fires.
    // Linux retransmits at +1 s, +3 s, +7 s ...: 2 means the client has waited about 3 s.
    std::uint32_t min_syn_retransmissions = 2;

    bool operator==(const HandshakeConfig&) const = default;
};

struct ZeroWindowConfig {
    bool enabled = true;
    // A zero window held this long, or probed this often, is a stall.
    std::uint32_t min_duration_ms = 1000;
    std::uint32_t min_probes = 2;

    bool operator==(const ZeroWindowConfig&) const = default;
};

struct SynSurgeConfig {
    bool enabled = true;
    // Sliding window over which SYN attempts and failures are compared (whole seconds).
    std::uint32_t window_s = 10;
    // Failed handshakes (first SYN retransmitted unanswered) in the window before a surge.
    std::uint32_t min_failures = 10;
    // Share of new handshakes failing, percent.
    std::uint32_t min_failure_percent = 50;
    // Distinct destinations among the failures: one dead server is not a state table.
    std::uint32_t min_destinations = 3;

    bool operator==(const SynSurgeConfig&) const = default;
};

struct MtuConfig {
    bool enabled = true;
    // Retransmissions of one segment at the same size, never acknowledged, before
    // mtu.blackhole (Linux RTO backoff: 3 is about 1.4 s after the first send at 200 ms RTO).
    std::uint32_t min_retransmissions = 3;
    // ... when nothing but the handshake got through (the first full-sized segment lost):
    // a path outage right after the handshake looks the same for a while, so the black hole
    // must outlast it (Linux: 5 retransmissions are about 6 s). A capture that ends sooner
    // still reports it, at low confidence.
    std::uint32_t first_segment_retransmissions = 5;
    // Segments still larger than an ICMP-reported MTU, sent after it, before the sender is
    // said to ignore it.
    std::uint32_t ignored_after_segments = 2;

    bool operator==(const MtuConfig&) const = default;
};

struct OptionsConfig {
    bool enabled = true;
    // Segments without timestamps, after both SYNs carried them, before they "vanished".
    std::uint32_t min_segments_without_ts = 3;

    bool operator==(const OptionsConfig&) const = default;
};

struct WindowConfig {
    bool enabled = true;
    // window.scale_mismatch: raw windows below one MSS from the side that did not agree to
    // scaling at the sensor, before it is said to be scaling anyway.
    std::uint32_t min_tiny_windows = 4;
    // window.limited: rounds (RTTs) with the flight at >= limited_percent of an unscaled
    // window of at least min_limited_window bytes, with no retransmission.
    std::uint32_t min_limited_rounds = 4;
    std::uint32_t limited_percent = 90;
    std::uint32_t min_limited_window = 32768;
    // window.receiver_limited: episodes in which the receiver's window stopped the sender
    // (a zero window, or a flight that filled the advertised window), before the transfer is
    // called receiver-limited; the share of the transfer's time spent so (info), and the
    // share at which it dominates the transfer (warning).
    std::uint32_t receiver_limited_episodes = 4;
    std::uint32_t receiver_limited_percent = 10;
    std::uint32_t receiver_limited_warning_percent = 50;
    // ... and only when the receiver held the sender back this long in all: a transfer of a
    // few milliseconds spent mostly window-bound costs nobody anything (zero_window's 1 s).
    std::uint32_t receiver_limited_warning_ms = 1000;

    bool operator==(const WindowConfig&) const = default;
};

struct EcnConfig {
    bool enabled = true;
    // ecn.bleached: new data segments seen Not-ECT after ECN was negotiated.
    std::uint32_t min_not_ect_segments = 8;
    // ecn.ce_erased: ACKs covering a CE-marked segment without ECE.
    std::uint32_t min_acks_without_ece = 2;
    // ecn.syn_blackhole: flows on one server whose ECN SYN failed and plain retry worked
    // before a single flow's pattern is reported at high confidence.
    std::uint32_t min_flows = 2;

    bool operator==(const EcnConfig&) const = default;
};

struct SackConfig {
    bool enabled = true;
    // ACKs with blocks outside the sender's sequence space before sack.invalid_blocks.
    std::uint32_t min_invalid_acks = 2;
    // Consecutive duplicate ACKs without blocks, SACK negotiated, before sack.missing_during_loss.
    std::uint32_t min_dup_acks_without_blocks = 3;

    bool operator==(const SackConfig&) const = default;
};

struct IdleConfig {
    bool enabled = true;
    // A silence in both directions, after which the flow's packets go unanswered or are
    // reset, is judged against the flow itself (README "Idle gaps"): it must be at least
    // min_gap_s long (devices with idle timeouts of a few seconds exist: conntrack tuned low,
    // carrier NAT, embryonic and half-closed timeouts), at least min_gap_rtts round trips
    // (a pause of a few RTTs is the protocol's own, not idleness), and at least
    // rhythm_factor times the longest silence the flow lived through before it (a poll every
    // 5 s whose next poll meets a lost packet is the flow's rhythm, not a device forgetting it).
    std::uint32_t min_gap_s = 1;
    std::uint32_t min_gap_rtts = 10;
    std::uint32_t rhythm_factor = 2;
    // Retransmissions of the first segment after the gap, unanswered, before timeout_drop.
    // A capture that ends after fewer (but at least one) is still reported, at low confidence.
    std::uint32_t min_retransmissions = 2;
    // idle.stale_flow: an open flow idle this long (a device default, AWS NLB 350 s).
    std::uint32_t stale_after_s = 350;

    bool operator==(const IdleConfig&) const = default;
};

struct RstConfig {
    bool enabled = true;
    // A RST whose hop distance differs from its claimed sender's by this many hops or more
    // is strong evidence of a forger.
    std::uint32_t min_hop_difference = 2;
    // A RST one hop off a TTL that stayed exactly the same over this many packets of its
    // claimed sender is weaker evidence (a device next to the endpoint): reported at lower
    // confidence unless other evidence (IP ID, racing the handshake) joins it.
    std::uint32_t constant_ttl_packets = 4;

    bool operator==(const RstConfig&) const = default;
};

struct PathConfig {
    bool enabled = true;
    // path.one_way_loss: retransmissions of one segment, with RTO back-off, that the sensor
    // had already seen acknowledged (or, the other way, that the peer never acknowledged
    // while it kept sending data of its own).
    std::uint32_t min_retransmissions = 3;

    bool operator==(const PathConfig&) const = default;
};

// Payload scanning: each direction's first bytes go through the compiled [[rules]]
// (config/rules.h) in Hyperscan streaming mode.
struct PayloadConfig {
    bool enabled = true;
    // Bytes of each direction's stream that are scanned; identification needs the first few
    // hundred, a proxy's error page comes in the first response.
    std::uint32_t scan_bytes = 4096;
    // Flows each worker scans at once (one Hyperscan stream per direction, from a pool
    // allocated when the rules are applied). A flow that finds the pool empty is counted
    // (payload.pool_exhausted) and not scanned.
    std::uint32_t streams = 16384;
    // The rules, compiled from DaemonConfig::rules; null scans nothing. Derived, so not
    // compared: two configurations with the same [[rules]] are equal.
    std::shared_ptr<const RuleSet> rules;

    bool operator==(const PayloadConfig& o) const {
        return enabled == o.enabled && scan_bytes == o.scan_bytes && streams == o.streams;
    }
};

// Each worker's memory of recent packets (`tcpsleuthctl pcap FLOW`): the first snap_bytes
// of each of the last history_packets TCP segments and ICMP errors, allocated at start.
// Not reloadable (the ring is sized once). analyze keeps one only with --control.
struct HistoryConfig {
    std::uint32_t packets = 65536;
    std::uint32_t snap_bytes = 128;
    bool operator==(const HistoryConfig&) const = default;
};

struct Config {
    FlowConfig flows;
    HistoryConfig history;
    DecapConfig decap;  // not reloadable: a changed key would split every tunnelled flow
    HandshakeConfig handshake;
    ZeroWindowConfig zero_window;
    SynSurgeConfig syn_surge;
    MtuConfig mtu;
    OptionsConfig options;
    WindowConfig window;
    EcnConfig ecn;
    SackConfig sack;
    IdleConfig idle;
    RstConfig rst;
    PathConfig path;
    PayloadConfig payload;

    bool operator==(const Config&) const = default;
};

}  // namespace tcpsleuth
