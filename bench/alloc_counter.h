#pragma once
// Counts every operator new in the benchmark binary, so a benchmark can report allocations
// per packet (the packet path's budget is zero).

#include <atomic>
#include <cstdint>

namespace tcpsleuth::bench {
extern std::atomic<std::uint64_t> g_allocations;
inline std::uint64_t allocations() { return g_allocations.load(std::memory_order_relaxed); }
}  // namespace tcpsleuth::bench
