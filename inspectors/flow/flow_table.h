#pragma once
// Per-core flow table. Fixed capacity, allocated once; never allocates afterwards.
//
// Layout: a dense pool of FlowState entries, a pool of cold records (ColdState) that flows
// borrow while an inspector has an episode to follow, and a separate open-addressing directory of
// 8-byte slots (low 32 bits of the hash, pool index + 1). The directory has at least twice
// as many slots as the pool, so linear probing stays short (load <= 0.5) and a probe
// sequence usually stays in one cache line; deletion shifts entries back (Knuth 6.4
// algorithm R), so there are no tombstones to clean up.
//
// Not thread-safe by design: exactly one worker core owns each instance.

#include <cstddef>
#include <cstdint>
#include <memory>

#include "inspectors/flow/flow_key.h"
#include "inspectors/flow/flow_state.h"

namespace tcpsleuth {

class FlowTable {
public:
    // `capacity` flows (rounded up to at least 16) and `cold_records` cold records (0: the
    // default, cold_records_for). Call on the owning core so the pages are first touched on
    // its NUMA node.
    FlowTable(std::uint32_t capacity, std::uint64_t hash_seed, std::uint32_t cold_records = 0);
    // An eighth of the flows, and at least 1,024 (or every flow of a smaller table): a healthy
    // flow takes none, so this is room for one flow in eight to be in trouble at once.
    static std::uint32_t cold_records_for(std::uint32_t capacity) noexcept {
        const std::uint32_t floor = capacity < 1024 ? capacity : 1024;
        return capacity / 8 > floor ? capacity / 8 : floor;
    }
    ~FlowTable();
    FlowTable(const FlowTable&) = delete;
    FlowTable& operator=(const FlowTable&) = delete;

    struct Lookup {
        FlowState* flow = nullptr;
        bool created = false;
    };

    std::uint64_t hash(const FlowKey& key) const noexcept;
    void prefetch(std::uint64_t hash) const noexcept {
        __builtin_prefetch(&dir_[hash & dir_mask_]);
    }
    // Prefetches the entry a directory slot points to (second stage of a burst lookup).
    void prefetch_entry(std::uint64_t hash) const noexcept;

    FlowState* find(const FlowKey& key, std::uint64_t hash) noexcept;

    // Finds the flow or creates it. When the table is full, the longest-idle of a sample of
    // entries is evicted first: on_evict(FlowState&) sees it before it is removed.
    // Never fails: the caller always gets a flow.
    template <typename OnEvict>
    Lookup find_or_insert(const FlowKey& key, std::uint64_t hash, OnEvict&& on_evict) noexcept;

    void remove(FlowState* flow) noexcept;

    // The flow's cold record, or null when it has none.
    ColdState* cold(const FlowState& flow) noexcept { return flow.cold != 0 ? &cold_[flow.cold - 1] : nullptr; }
    const ColdState* cold(const FlowState& flow) const noexcept {
        return flow.cold != 0 ? &cold_[flow.cold - 1] : nullptr;
    }
    // A record for `flow` (which has none), its contents undefined; null when every record is
    // taken (counted in cold_exhausted).
    ColdState* attach_cold(FlowState& flow) noexcept;
    // Returns the flow's record to the pool (no-op without one).
    void detach_cold(FlowState& flow) noexcept;
    std::uint32_t cold_capacity() const noexcept { return cold_capacity_; }
    std::uint32_t cold_in_use() const noexcept { return cold_in_use_; }
    std::uint32_t cold_peak() const noexcept { return cold_peak_; }
    std::uint64_t cold_exhausted() const noexcept { return cold_exhausted_; }

    // The flow's latest packet time (common.last_ns), copied to a dense lane beside the pool
    // after each packet: a sweep reads 8 bytes per entry there and opens only the entries
    // quiet long enough to matter (SweepFilter). Without it a sweep visiting 64 entries per
    // burst missed the cache on each of them: a tenth of analyze's time at 50 K flows.
    void note_activity(const FlowState& flow) noexcept { activity_[&flow - pool_] = flow.common.last_ns; }

    // Which entries a sweep opens: those whose noted activity is before now_ns by at least
    // quiet_ns (every other entry is passed over unread, as if visited). The default opens
    // every entry.
    struct SweepFilter {
        std::uint64_t now_ns = ~0ull;
        std::uint64_t quiet_ns = 0;
    };

    // Visits up to `budget` pool entries from where the last call stopped; for each flow the
    // filter opens with is_idle(flow) true, calls on_expire(flow) and removes it; for each
    // other flow it opens, on_kept(flow). Returns flows removed.
    template <typename IsIdle, typename OnExpire, typename OnKept>
    std::size_t expire_some(std::size_t budget, SweepFilter filter, IsIdle&& is_idle, OnExpire&& on_expire,
                            OnKept&& on_kept) noexcept;
    template <typename IsIdle, typename OnExpire>
    std::size_t expire_some(std::size_t budget, IsIdle&& is_idle, OnExpire&& on_expire) noexcept {
        return expire_some(budget, SweepFilter{}, is_idle, on_expire, [](FlowState&) {});
    }

    template <typename Fn>
    void for_each(Fn&& fn) noexcept {
        for (std::uint32_t i = 0; i < high_water_; ++i) {
            if (pool_[i].common.in_use) fn(pool_[i]);
        }
    }

    // Pool slots handed out so far, and one of them (null when free): for scans spread over
    // several calls (control queries), where for_each would be one long stall.
    std::uint32_t slots() const noexcept { return high_water_; }
    const FlowState* slot(std::uint32_t i) const noexcept {
        return i < high_water_ && pool_[i].common.in_use ? &pool_[i] : nullptr;
    }

    // Flow ids become first, first + stride, ...: each of N workers numbers its flows
    // (w + 1, w + 1 + N, ...) so ids stay unique across the process. Call before use.
    void number_flows(std::uint32_t first, std::uint32_t stride) noexcept {
        next_id_ = first - stride;
        id_stride_ = stride;
    }

    std::uint32_t size() const noexcept { return size_; }
    std::uint32_t capacity() const noexcept { return capacity_; }
    std::uint64_t evictions() const noexcept { return evictions_; }
    // Bytes allocated for the pool, the cold records, the directory and the free lists.
    std::size_t memory_bytes() const noexcept;

    // The activity lane's mark for a free pool entry: no sweep opens it.
    static constexpr std::uint64_t kFreeEntry = ~0ull;

    // Candidates examined per eviction: the oldest of them goes.
    static constexpr std::uint32_t kEvictionSample = 32;

private:
    // The one probe of the directory, for lookup, insertion and removal alike: the slot that
    // names `key`'s flow (flow set), or the empty slot that ends its probe run (flow null),
    // where an insertion goes.
    struct Probe {
        std::uint64_t slot;
        FlowState* flow;
    };
    Probe probe(const FlowKey& key, std::uint64_t hash) const noexcept;

    std::uint32_t allocate_entry() noexcept;
    FlowState* evict_one() noexcept;

    std::uint32_t capacity_;
    std::uint64_t dir_mask_;
    std::uint64_t seed_;
    FlowState* pool_;            // capacity_ entries, zeroed
    std::uint64_t* dir_;         // dir_mask_ + 1 slots, zeroed; 0 = empty
    std::uint64_t* activity_;    // per pool entry: note_activity's time; kFreeEntry when free
    std::uint32_t* free_;        // stack of released pool indices
    std::uint32_t cold_capacity_;
    ColdState* cold_;            // cold_capacity_ records
    std::uint32_t* cold_free_;   // stack of released cold record indices
    std::uint32_t cold_free_top_ = 0;
    std::uint32_t cold_high_water_ = 0;
    std::uint32_t cold_in_use_ = 0;
    std::uint32_t cold_peak_ = 0;
    std::uint64_t cold_exhausted_ = 0;
    std::uint32_t free_top_ = 0;
    std::uint32_t high_water_ = 0;  // pool entries ever handed out
    std::uint32_t size_ = 0;
    std::uint32_t next_id_ = 0;
    std::uint32_t id_stride_ = 1;
    std::uint32_t sweep_cursor_ = 0;
    std::uint32_t evict_cursor_ = 0;
    std::uint64_t evictions_ = 0;
};

// ---- inline template members ----

inline FlowTable::Probe FlowTable::probe(const FlowKey& key, std::uint64_t h) const noexcept {
    const std::uint32_t tag = static_cast<std::uint32_t>(h);
    for (std::uint64_t i = h & dir_mask_;; i = (i + 1) & dir_mask_) {
        const std::uint64_t e = dir_[i];
        if (e == 0) return {i, nullptr};
        if (static_cast<std::uint32_t>(e) == tag) {
            FlowState& f = pool_[(e >> 32) - 1];
            if (f.common.key == key) [[likely]] return {i, &f};
        }
    }
}

inline FlowState* FlowTable::find(const FlowKey& key, std::uint64_t h) noexcept { return probe(key, h).flow; }

template <typename OnEvict>
FlowTable::Lookup FlowTable::find_or_insert(const FlowKey& key, std::uint64_t h, OnEvict&& on_evict) noexcept {
    Probe p = probe(key, h);
    if (p.flow != nullptr) [[likely]] return {p.flow, false};
    if (size_ == capacity_) {
        FlowState* victim = evict_one();
        on_evict(*victim);
        remove(victim);
        ++evictions_;
        p = probe(key, h);  // the removal may have shifted the run
    }
    const std::uint32_t idx = allocate_entry();
    dir_[p.slot] = (static_cast<std::uint64_t>(idx + 1) << 32) | static_cast<std::uint32_t>(h);
    FlowState& f = pool_[idx];
    f = FlowState{};
    activity_[idx] = 0;  // unknown until noted: every sweep opens it
    f.common.key = key;
    f.common.in_use = 1;
    f.common.id = next_id_ += id_stride_;
    ++size_;
    return {&f, true};
}

template <typename IsIdle, typename OnExpire, typename OnKept>
std::size_t FlowTable::expire_some(std::size_t budget, SweepFilter filter, IsIdle&& is_idle, OnExpire&& on_expire,
                                   OnKept&& on_kept) noexcept {
    if (high_water_ == 0) return 0;
    // Open an entry when activity < now and now - activity >= quiet, i.e. activity <= cutoff.
    if (filter.quiet_ns > filter.now_ns) return 0;  // nothing can have been quiet that long
    const std::uint64_t cutoff = filter.now_ns - filter.quiet_ns;
    std::size_t removed = 0;
    for (std::size_t n = 0; n < budget; ++n) {
        if (sweep_cursor_ >= high_water_) sweep_cursor_ = 0;
        const std::uint32_t i = sweep_cursor_++;
        const std::uint64_t seen = activity_[i];
        if (seen >= filter.now_ns || seen > cutoff) continue;  // free (kFreeEntry) or not quiet long enough
        FlowState& f = pool_[i];
        if (!f.common.in_use) continue;
        if (is_idle(static_cast<const FlowState&>(f))) {
            on_expire(f);
            remove(&f);
            ++removed;
        } else {
            on_kept(f);
        }
    }
    return removed;
}

}  // namespace tcpsleuth
