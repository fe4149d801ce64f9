#include "alloc_counter.h"

#include <cstdlib>
#include <new>

namespace tcpsleuth::bench {
std::atomic<std::uint64_t> g_allocations{0};
}

void* operator new(std::size_t n) {
    tcpsleuth::bench::g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
