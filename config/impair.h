#pragma once
// [[impair]] rules: faults the inline forwarder makes on purpose (dataplane/impair/), each
// the way a real device makes it. Plain data; the loader checks every key at its line.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace tcpsleuth {

enum class ImpairAction : std::uint8_t {
    kDropLargerThan,  // size: IP total length; larger packets vanish (a PMTU black hole)
    kStripOption,     // option, fill: a TCP option removed from SYN/SYN-ACK (timestamps: every segment)
    kClampMss,        // mss: the SYN's MSS lowered to this
    kDropEcnSyn,      // ECN-setup SYNs (ECE+CWR) dropped, plain ones pass
    kBleachEcn,       // the IP ECN field cleared (ECT and CE become Not-ECT)
    kEraseCe,         // CE turned back into ECT(0): congestion signals lost
    kMarkCe,          // ECT packets marked CE with `probability`: an AQM
    kShiftSeq,        // offset, rewrite_sack: the client's sequence numbers shifted
    kLoss,            // probability, burst: random loss
    kIdleTimeout,     // seconds, flows: a stateful device forgetting flows idle that long
    kStateLimit,      // flows, seconds: a state table of `flows` entries; new SYNs beyond it dropped
    kInjectRst,       // after_packets | after_s, ttl: the flow cut by RSTs from the device to both ends
    kDelay,           // ms, jitter_ms, queue_packets: a delay line (a long path)
    kRate,            // mbps, burst_kb, queue_kb: a token bucket with a tail-drop queue (a slow link)
};

enum class ImpairSide : std::uint8_t { kBoth, kClient, kServer };
enum class StripOption : std::uint8_t { kSackPerm, kWscale, kTimestamp, kMss };
enum class StripFill : std::uint8_t { kNop, kRemove };

inline bool is_v4_mapped(const std::array<std::uint8_t, 16>& a) noexcept {
    for (unsigned i = 0; i < 10; ++i) {
        if (a[i] != 0) return false;
    }
    return a[10] == 0xff && a[11] == 0xff;
}

// An address prefix; IPv4 stored v4-mapped with the length counted from bit 96.
struct IpPrefix {
    std::array<std::uint8_t, 16> addr{};
    std::uint8_t bits = 0;

    bool contains(const std::array<std::uint8_t, 16>& a) const noexcept {
        for (unsigned i = 0; i < bits; ++i) {
            const unsigned byte = i / 8, mask = 0x80u >> (i % 8);
            if ((a[byte] & mask) != (addr[byte] & mask)) return false;
        }
        return true;
    }
    bool operator==(const IpPrefix&) const = default;
};

struct ImpairRule {
    std::string name;
    ImpairAction action = ImpairAction::kLoss;
    ImpairSide side = ImpairSide::kBoth;  // packets sent by the client, the server, or both
    std::vector<IpPrefix> hosts;          // either endpoint inside one of them; empty: any
    std::vector<std::uint16_t> ports;     // the server's port is one of them; empty: any
    double probability = 1.0;             // share of matching flows (per-packet actions: packets)
    bool enabled = true;
    // The action's own keys.
    std::uint32_t size = 0;               // drop_larger_than
    StripOption option = StripOption::kSackPerm;  // strip_option
    StripFill fill = StripFill::kNop;
    std::uint16_t mss = 0;                // clamp_mss
    std::uint32_t offset = 0;             // shift_seq
    bool rewrite_sack = false;
    std::uint32_t burst = 1;              // loss: packets lost in a row once a loss starts
    std::uint32_t seconds = 0;            // idle_timeout: the timeout; state_limit: an entry's idle expiry
    std::uint32_t flows = 0;              // state_limit: entries; idle_timeout, inject_rst: flows tracked at most
    bool icmp = false;                    // drop_larger_than: answer with frag-needed / packet-too-big
    std::uint32_t icmp_per_s = 100;       // drop_larger_than: those answers per second at most
    std::vector<IpPrefix> source;         // drop_larger_than: the ICMP's sender (one per family); none: the destination
    bool then_rst = false;                // idle_timeout: answer a forgotten flow's packets with a RST
    std::uint8_t ttl = 255;               // the TTL / hop limit of what the device sends
    std::uint32_t after_packets = 0;      // inject_rst: at the flow's Nth packet (both ways counted)
    std::uint64_t after_ns = 0;           // inject_rst: at its first packet this long after the SYN
    std::uint64_t delay_ns = 0;           // delay
    std::uint64_t jitter_ns = 0;          // delay: +/- this, uniform; order kept (a path, not a reorderer)
    std::uint32_t queue_packets = 2048;   // delay: packets the line holds; more are dropped
    double mbps = 0;                      // rate
    std::uint32_t burst_kb = 16;          // rate: the bucket's depth
    std::uint32_t queue_kb = 64;          // rate: the queue behind it; a packet that does not fit is dropped
    // TOML position, for messages (0: not from a file).
    std::uint32_t line = 0;
    std::uint32_t column = 0;

    bool operator==(const ImpairRule& o) const {
        return name == o.name && action == o.action && side == o.side && hosts == o.hosts && ports == o.ports &&
               probability == o.probability && enabled == o.enabled && size == o.size && option == o.option &&
               fill == o.fill && mss == o.mss && offset == o.offset && rewrite_sack == o.rewrite_sack && burst == o.burst &&
               seconds == o.seconds && flows == o.flows && icmp == o.icmp && icmp_per_s == o.icmp_per_s &&
               source == o.source && then_rst == o.then_rst && ttl == o.ttl && after_packets == o.after_packets &&
               after_ns == o.after_ns && delay_ns == o.delay_ns && jitter_ns == o.jitter_ns &&
               queue_packets == o.queue_packets && mbps == o.mbps && burst_kb == o.burst_kb && queue_kb == o.queue_kb;
    }
};

constexpr const char* to_string(ImpairAction a) noexcept {
    switch (a) {
        case ImpairAction::kDropLargerThan: return "drop_larger_than";
        case ImpairAction::kStripOption: return "strip_option";
        case ImpairAction::kClampMss: return "clamp_mss";
        case ImpairAction::kDropEcnSyn: return "drop_ecn_syn";
        case ImpairAction::kBleachEcn: return "bleach_ecn";
        case ImpairAction::kEraseCe: return "erase_ce";
        case ImpairAction::kMarkCe: return "mark_ce";
        case ImpairAction::kShiftSeq: return "shift_seq";
        case ImpairAction::kLoss: return "loss";
        case ImpairAction::kIdleTimeout: return "idle_timeout";
        case ImpairAction::kStateLimit: return "state_limit";
        case ImpairAction::kInjectRst: return "inject_rst";
        case ImpairAction::kDelay: return "delay";
        case ImpairAction::kRate: return "rate";
    }
    return "?";
}

// Actions that hold packets back (the worker keeps them in the rule's lines until due).
constexpr bool holds_packets(ImpairAction a) noexcept { return a == ImpairAction::kDelay || a == ImpairAction::kRate; }

// The mbufs a rule may hold at once: a delay line's slots; a rate queue's bytes in the
// smallest frames.
inline std::uint32_t held_at_most(const ImpairRule& r) noexcept {
    if (r.action == ImpairAction::kDelay) return r.queue_packets;
    if (r.action == ImpairAction::kRate) return r.queue_kb * 1024u / 60u + 1u;
    return 0;
}

constexpr const char* to_string(StripOption o) noexcept {
    switch (o) {
        case StripOption::kSackPerm: return "sack_perm";
        case StripOption::kWscale: return "wscale";
        case StripOption::kTimestamp: return "timestamp";
        case StripOption::kMss: return "mss";
    }
    return "?";
}

}  // namespace tcpsleuth
