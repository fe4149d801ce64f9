#pragma once
// Which connection and which packet at point A is which at point B, through NAT/PAT
// (addresses and ports rewritten), sequence-number rewriting and IPv6 (no IP ID), and which
// way each packet crossed the device. Matching rests on what a device leaves alone: payload
// bytes and lengths, sequence numbers relative to the connection's offset, the IP ID, the
// timestamps option; and, for SYNs that carry nothing else, the ISN.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "point_capture.h"

namespace tcpsleuth::two_point {

// How a connection's direction crosses the device, and how that was decided.
enum class Crossing : std::uint8_t { kUnknown, kAToB, kBToA };
enum class CrossingBy : std::uint8_t { kNone, kTtl, kTiming, kAddressSide, kFirstSender };

struct ConnPair {
    std::uint32_t a = 0;
    std::uint32_t b = 0;
    bool flip = false;              // B's client is A's server (mid-flow captures)
    std::uint32_t seq_offset[2]{};  // per A direction: seq at B - seq at A (mod 2^32)
    Crossing crossing[2]{};         // per A direction
    CrossingBy crossing_by[2]{};
    std::uint32_t matched[2]{};     // packets matched, per A direction
    bool nat = false;               // addresses or ports differ between the points

    unsigned b_dir(unsigned a_dir) const noexcept { return a_dir ^ (flip ? 1u : 0u); }
};

struct DelayStats {
    std::uint32_t samples = 0;
    double median_us = 0;
    double p99_us = 0;
    double max_us = 0;
};

struct Comparison {
    std::vector<ConnPair> pairs;
    std::vector<std::int32_t> pair_of_a;  // per A connection: index into pairs, -1 unmatched
    std::vector<std::int32_t> pair_of_b;
    std::uint64_t matched_packets = 0;
    std::uint64_t matched_icmp = 0;
    // B's clock minus A's at the same instant: the midpoint of the bracket the two
    // directions give (a packet crossing A to B arrives after it left, one crossing B to A
    // before), assuming the device delays both ways alike at its quietest.
    bool clock_known = false;
    std::int64_t clock_offset_ns = 0;
    std::int64_t clock_bracket_ns[2]{};  // [max B-to-A delta, min A-to-B delta]
    DelayStats delay[2];                 // added latency per way: [0] A to B, [1] B to A
    // The side of the device each sender lives on, learned from the matched connections:
    // 0 A's side, 1 B's side; keyed by the address as each point sees it (NAT differs).
    std::map<Addr, std::uint8_t> side_at[2];
    std::uint32_t crossing_by[5]{};  // pair directions decided by each CrossingBy
};

Comparison match_points(PointCapture& a, PointCapture& b);

// The point a packet of `pair`'s A direction `a_dir` reaches first: 0 A, 1 B, -1 unknown.
inline int ingress_point(const ConnPair& pair, unsigned a_dir) noexcept {
    return pair.crossing[a_dir] == Crossing::kAToB ? 0 : pair.crossing[a_dir] == Crossing::kBToA ? 1 : -1;
}

std::string_view to_string(CrossingBy c) noexcept;

}  // namespace tcpsleuth::two_point
