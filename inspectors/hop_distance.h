#pragma once
// Hop distance from a received TTL / hop limit: stacks start from 64 (Linux, BSD, macOS),
// 128 (Windows) or 255 (network gear, Solaris); 32 is rare but old. A packet's hop count is
// the initial value just above its TTL minus the TTL. Two packets claiming one sender but
// differing in hop count or initial family did not come from the same place.

#include <cstdint>

#include "tcp_state.h"

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

// A RST claiming to come from `claimed` whose TTL lies `min_hops` or more from that side's
// other packets (RstConfig::min_hop_difference: a route change moves a path by a hop, not
// two). False when nothing else came from that side.
inline bool ttl_foreign(std::uint8_t ttl, const DirState& claimed, std::uint32_t min_hops) noexcept {
    return claimed.has(kDirSeen) && ttl_distance(ttl, claimed.ttl_min, claimed.ttl_max) >= min_hops;
}

}  // namespace tcpsleuth
