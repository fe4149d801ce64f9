#include "inspectors/evidence/path_table.h"

#include <bit>

namespace tcpsleuth {

void SharedBracket::survived(std::uint32_t gap_s) noexcept {
    std::uint32_t cur = survived_max_s_.load(std::memory_order_relaxed);
    while (gap_s > cur && !survived_max_s_.compare_exchange_weak(cur, gap_s, std::memory_order_relaxed)) {
    }
}

void SharedBracket::killed(std::uint32_t gap_s) noexcept {
    if (gap_s == 0) return;
    std::uint32_t cur = killed_min_s_.load(std::memory_order_relaxed);
    while ((cur == 0 || gap_s < cur) && !killed_min_s_.compare_exchange_weak(cur, gap_s, std::memory_order_relaxed)) {
    }
}

void PathStats::reset() noexcept {
    for (unsigned o = 0; o < 4; ++o) {
        agreed[o].reset();
        declined[o].reset();
    }
    ecn_fallback_flows.reset();
    ecn_answered.reset();
    ecn_declined.reset();
    idle.reset();
}

PathTable::PathTable(std::uint32_t entries) {
    const std::uint32_t n = std::bit_ceil(entries < 2 ? 2u : entries);
    slots_ = std::shared_ptr<Slot[]>(new Slot[n]);
    mask_ = n - 1;
}

PathStats& PathTable::server_of(const FlowCommon& flow) noexcept {
    const bool client_lo = flow.client_is_lo();
    const auto& addr = client_lo ? flow.key.addr_hi : flow.key.addr_lo;
    const std::uint16_t port = client_lo ? flow.key.port_hi : flow.key.port_lo;
    // FNV-1a over the server endpoint: a handful of handshakes per second use this, not
    // every packet, so a simple hash is plenty.
    std::uint64_t h = 1469598103934665603ull;
    const auto mix = [&h](std::uint8_t b) { h = (h ^ b) * 1099511628211ull; };
    for (const std::uint8_t b : addr) mix(b);
    mix(static_cast<std::uint8_t>(port));
    mix(static_cast<std::uint8_t>(port >> 8));
    mix(static_cast<std::uint8_t>(flow.key.vlan));
    mix(static_cast<std::uint8_t>(flow.key.vlan >> 8));
    const std::uint64_t owner = h | 1;  // 0 marks a free slot
    Slot& s = slots_[static_cast<std::uint32_t>(h ^ (h >> 32)) & mask_];
    std::uint64_t held = s.owner.load(std::memory_order_acquire);
    // A new server takes the slot and starts from zero. Two cores claiming one slot for two
    // servers in the same instant: one wins and the other adds to its tallies this once, no
    // worse than the collision that evicted the older server anyway.
    if (held != owner && s.owner.compare_exchange_strong(held, owner, std::memory_order_acq_rel)) s.stats.reset();
    return s.stats;
}

}  // namespace tcpsleuth
