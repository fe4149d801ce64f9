#pragma once
// Hop distance from a received TTL / hop limit: stacks start from 64 (Linux, BSD, macOS),
// 128 (Windows) or 255 (network gear, Solaris); 32 is rare but old. A packet's hop count is
// the initial value just above its TTL minus the TTL. Two packets claiming one sender but
// differing in hop count or initial family did not come from the same place.

#include <cstdint>

#include "inspectors/flow/tcp_state.h"

namespace tcpsleuth {

constexpr std::uint8_t initial_ttl(std::uint8_t ttl) noexcept {
    if (ttl <= 32) return 32;
    if (ttl <= 64) return 64;
    if (ttl <= 128) return 128;
    return 255;
}

constexpr std::uint8_t hop_distance(std::uint8_t ttl) noexcept {
    return static_cast<std::uint8_t>(initial_ttl(ttl) - ttl);
}

// Hops by which `ttl` lies outside the range [lo, hi] seen from the claimed sender; 0 inside.
// A different initial family counts as far away.
constexpr std::uint32_t ttl_distance(std::uint8_t ttl, std::uint8_t lo, std::uint8_t hi) noexcept {
    if (initial_ttl(ttl) != initial_ttl(lo) && initial_ttl(ttl) != initial_ttl(hi)) return 255;
    if (ttl < lo) return static_cast<std::uint32_t>(lo - ttl);
    if (ttl > hi) return static_cast<std::uint32_t>(ttl - hi);
    return 0;
}

// How a RST's TTL compares with the other packets of the side it claims to come from.
enum class TtlEvidence : std::uint8_t {
    kUnknown,      // nothing else came from that side
    kMatches,      // inside the range of that side's TTLs
    kOneHopOff,    // one hop (or fewer than min_hops) off a TTL that never varied
    kForeign,      // min_hops or more away, or another initial-TTL family
};

// The rule that tells a forged RST's TTL from the claimed sender's, shared by rst.injected
// and idle.reset_after_idle. A route change moves a path by a hop, so a one-hop difference
// from a TTL that varied proves nothing; but a route change moves every later packet, not
// the RST alone, and a stack sends its RSTs with its connection TTL. So one hop off a TTL
// that stayed the same over `constant_after` packets is evidence too (a firewall next to
// the server), weaker than `min_hops` (RstConfig).
struct TtlRule {
    std::uint32_t min_hops = 2;
    std::uint32_t constant_after = 4;
};

inline TtlEvidence judge_rst_ttl(std::uint8_t ttl, const DirState& claimed, const TtlRule& rule) noexcept {
    if (!claimed.has(kDirSeen)) return TtlEvidence::kUnknown;
    const std::uint32_t d = ttl_distance(ttl, claimed.ttl_min, claimed.ttl_max);
    if (d >= rule.min_hops) return TtlEvidence::kForeign;
    if (d >= 1 && claimed.ttl_min == claimed.ttl_max && claimed.ttl_samples >= rule.constant_after) {
        return TtlEvidence::kOneHopOff;
    }
    return TtlEvidence::kMatches;
}

// True when the TTL is evidence of another sender, strong or weak.
constexpr bool ttl_contradicts(TtlEvidence e) noexcept {
    return e == TtlEvidence::kOneHopOff || e == TtlEvidence::kForeign;
}

}  // namespace tcpsleuth
