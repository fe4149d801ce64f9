#pragma once
// Single-producer single-consumer ring of trivially copyable items. The producer (a worker's
// packet path) never waits: a full ring returns false and the caller counts the loss.
// Capacity is fixed at construction; the storage is allocated once, there.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>

namespace tcpsleuth {

template <typename T>
class SpscRing {
    static_assert(std::is_trivially_copyable_v<T>, "items cross cores by copy");

public:
    explicit SpscRing(std::size_t capacity_pow2)
        : mask_(capacity_pow2 - 1), items_(std::make_unique<T[]>(capacity_pow2)) {}

    std::size_t capacity() const noexcept { return mask_ + 1; }

    bool try_push(const T& item) noexcept {
        const std::size_t head = head_.load(std::memory_order_relaxed);
        if (head - tail_cache_ > mask_) {
            tail_cache_ = tail_.load(std::memory_order_acquire);
            if (head - tail_cache_ > mask_) return false;
        }
        items_[head & mask_] = item;
        head_.store(head + 1, std::memory_order_release);
        return true;
    }

    bool try_pop(T& out) noexcept {
        const std::size_t tail = tail_.load(std::memory_order_relaxed);
        if (tail == head_.load(std::memory_order_acquire)) return false;
        out = items_[tail & mask_];
        tail_.store(tail + 1, std::memory_order_release);
        return true;
    }

    std::size_t size() const noexcept {
        return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire);
    }

private:
    const std::size_t mask_;
    std::unique_ptr<T[]> items_;
    alignas(64) std::atomic<std::size_t> head_{0};
    std::size_t tail_cache_ = 0;  // producer's view of tail, to avoid touching the consumer's line
    alignas(64) std::atomic<std::size_t> tail_{0};
};

}  // namespace tcpsleuth
