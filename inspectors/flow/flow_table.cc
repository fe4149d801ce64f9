#include "inspectors/flow/flow_table.h"

#include <bit>
#include <cstdlib>
#include <cstring>
#include <new>

#include <sys/mman.h>

namespace tcpsleuth {
namespace {

constexpr std::size_t kHugePage = 2u << 20;

std::size_t mapped_bytes(std::size_t bytes) noexcept { return (bytes + 4095) & ~std::size_t{4095}; }

template <typename T>
T* zeroed_array(std::size_t n) {
    // Anonymous pages: the kernel hands out zero pages lazily, so a large table costs nothing
    // until flows arrive, and construction does not touch every page. Transparent huge pages
    // where an array spans one (2 MB): a lookup lands anywhere in the directory and the pool,
    // and with 4 KB pages nearly every one missed the TLB as well as the cache. Best effort:
    // without THP the pages are 4 KB as before.
    const std::size_t bytes = mapped_bytes(n * sizeof(T));
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    if (bytes >= kHugePage) madvise(p, bytes, MADV_HUGEPAGE);
    return static_cast<T*>(p);
}

template <typename T>
void release_array(T* p, std::size_t n) noexcept {
    munmap(p, mapped_bytes(n * sizeof(T)));
}

}  // namespace

FlowTable::FlowTable(std::uint32_t capacity, std::uint64_t hash_seed, std::uint32_t cold_records)
    : capacity_(capacity < 16 ? 16 : capacity),
      dir_mask_(std::bit_ceil(static_cast<std::uint64_t>(capacity_) * 2) - 1),
      seed_(mix64(hash_seed ^ 0x6a09e667f3bcc909ull)),
      pool_(zeroed_array<FlowState>(capacity_)),
      dir_(zeroed_array<std::uint64_t>(dir_mask_ + 1)),
      activity_(zeroed_array<std::uint64_t>(capacity_)),
      free_(zeroed_array<std::uint32_t>(capacity_)),
      cold_capacity_(cold_records != 0 ? cold_records : cold_records_for(capacity_)),
      cold_(zeroed_array<ColdState>(cold_capacity_)),
      cold_free_(zeroed_array<std::uint32_t>(cold_capacity_)) {
    static_assert(std::is_trivially_copyable_v<FlowState>, "pool entries start as the zero pages of the mapping");
}

FlowTable::~FlowTable() {
    release_array(pool_, capacity_);
    release_array(dir_, dir_mask_ + 1);
    release_array(activity_, capacity_);
    release_array(free_, capacity_);
    release_array(cold_, cold_capacity_);
    release_array(cold_free_, cold_capacity_);
}

ColdState* FlowTable::attach_cold(FlowState& flow) noexcept {
    std::uint32_t idx;
    if (cold_free_top_ != 0) {
        idx = cold_free_[--cold_free_top_];
    } else if (cold_high_water_ < cold_capacity_) {
        idx = cold_high_water_++;
    } else {
        ++cold_exhausted_;
        return nullptr;
    }
    flow.cold = idx + 1;
    if (++cold_in_use_ > cold_peak_) cold_peak_ = cold_in_use_;
    return &cold_[idx];
}

void FlowTable::detach_cold(FlowState& flow) noexcept {
    if (flow.cold == 0) return;
    cold_free_[cold_free_top_++] = flow.cold - 1;
    flow.cold = 0;
    --cold_in_use_;
}

std::uint64_t FlowTable::hash(const FlowKey& key) const noexcept {
    // Three independent 64x64->128-bit multiplies of seeded word pairs, folded (the
    // "multiply-mix" of wyhash), then one mix64: the multiplies run in parallel, where a
    // chain of six mix64 rounds cost five times the latency.
    std::uint64_t w[6];
    static_assert(sizeof(w) == sizeof(FlowKey));
    std::memcpy(w, &key, sizeof w);
    const auto mum = [](std::uint64_t a, std::uint64_t b) {
        __extension__ typedef unsigned __int128 u128;  // GCC/Clang; x86-64 MUL gives it in one instruction
        const u128 p = static_cast<u128>(a) * b;
        return static_cast<std::uint64_t>(p) ^ static_cast<std::uint64_t>(p >> 64);
    };
    const std::uint64_t h = mum(w[0] ^ seed_, w[1] ^ 0xa0761d6478bd642full) ^
                            mum(w[2] ^ 0xe7037ed1a0b428dbull, w[3] ^ seed_) ^
                            mum(w[4] ^ 0x8ebc6af09c88c6e3ull, w[5] ^ seed_ ^ 0x589965cc75374cc3ull);
    return mix64(h);
}

void FlowTable::prefetch_entry(std::uint64_t h) const noexcept {
    const std::uint64_t e = dir_[h & dir_mask_];
    if (e != 0 && static_cast<std::uint32_t>(e) == static_cast<std::uint32_t>(h)) {
        __builtin_prefetch(&pool_[(e >> 32) - 1]);
    }
}

std::uint32_t FlowTable::allocate_entry() noexcept {
    if (free_top_ != 0) return free_[--free_top_];
    return high_water_++;  // size_ < capacity_ here, so high_water_ < capacity_ too
}

void FlowTable::remove(FlowState* flow) noexcept {
    if (!flow->common.in_use) return;
    const Probe p = probe(flow->common.key, hash(flow->common.key));
    if (p.flow != flow) return;  // not reachable for a flow that is in the table
    // Backward-shift deletion: move later members of the probe run into the hole when their
    // home slot is not in (hole, current].
    std::uint64_t hole = p.slot;
    dir_[hole] = 0;
    for (std::uint64_t i = (hole + 1) & dir_mask_; dir_[i] != 0; i = (i + 1) & dir_mask_) {
        const std::uint64_t home = static_cast<std::uint32_t>(dir_[i]) & dir_mask_;
        const bool stays = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
        if (!stays) {
            dir_[hole] = dir_[i];
            dir_[i] = 0;
            hole = i;
        }
    }
    detach_cold(*flow);
    flow->common.in_use = 0;
    activity_[flow - pool_] = kFreeEntry;
    free_[free_top_++] = static_cast<std::uint32_t>(flow - pool_);
    --size_;
}

FlowState* FlowTable::evict_one() noexcept {
    // The table is full, so every pool entry below high_water_ is in use.
    FlowState* oldest = nullptr;
    for (std::uint32_t n = 0; n < kEvictionSample; ++n) {
        if (evict_cursor_ >= high_water_) evict_cursor_ = 0;
        FlowState& f = pool_[evict_cursor_++];
        if (f.common.in_use && (oldest == nullptr || f.common.last_ns < oldest->common.last_ns)) oldest = &f;
    }
    return oldest;
}

std::size_t FlowTable::memory_bytes() const noexcept {
    return static_cast<std::size_t>(capacity_) * (sizeof(FlowState) + sizeof(std::uint32_t) + sizeof(std::uint64_t)) +
           static_cast<std::size_t>(cold_capacity_) * (sizeof(ColdState) + sizeof(std::uint32_t)) +
           (dir_mask_ + 1) * sizeof(std::uint64_t);
}

}  // namespace tcpsleuth
