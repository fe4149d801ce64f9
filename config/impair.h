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
};

enum class ImpairSide : std::uint8_t { kBoth, kClient, kServer };
enum class StripOption : std::uint8_t { kSackPerm, kWscale, kTimestamp, kMss };
enum class StripFill : std::uint8_t { kNop, kRemove };

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
    std::uint32_t flows = 0;              // state_limit: entries; idle_timeout: flows tracked at most
    // TOML position, for messages (0: not from a file).
    std::uint32_t line = 0;
    std::uint32_t column = 0;

    bool operator==(const ImpairRule& o) const {
        return name == o.name && action == o.action && side == o.side && hosts == o.hosts && ports == o.ports &&
               probability == o.probability && enabled == o.enabled && size == o.size && option == o.option &&
               fill == o.fill && mss == o.mss && offset == o.offset && rewrite_sack == o.rewrite_sack && burst == o.burst &&
               seconds == o.seconds && flows == o.flows;
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
    }
    return "?";
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
