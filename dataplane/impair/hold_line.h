#pragma once
// A line of packets a delay or rate rule holds back, first in first out: each leaves at its
// due time, never before the one ahead of it (a path delays, it does not reorder). The
// packets themselves stay with the caller; the line keeps an opaque token for each (the
// worker's mbuf). Sized once at start: a full line refuses, and the caller drops.

#include <cstdint>
#include <vector>

namespace tcpsleuth {

class HoldLine {
public:
    struct Held {
        std::uintptr_t token = 0;
        std::uint64_t due_ns = 0;
        std::uint64_t then = 0;     // hold rules still to pass after this one (bit per rule)
        std::uint32_t bytes = 0;
        bool client_sent = false;
    };

    void configure(std::uint32_t slots) {
        std::uint32_t n = 1;
        while (n < slots) n <<= 1;
        ring_.assign(n, Held{});
        slots_ = slots;
        head_ = count_ = 0;
        bytes_ = 0;
        last_due_ns = 0;
    }

    bool push(const Held& h) noexcept {
        if (count_ == slots_) return false;
        ring_[(head_ + count_) & (ring_.size() - 1)] = h;
        ++count_;
        bytes_ += h.bytes;
        if (h.due_ns > last_due_ns) last_due_ns = h.due_ns;
        return true;
    }
    const Held& front() const noexcept { return ring_[head_]; }
    void pop() noexcept {
        bytes_ -= ring_[head_].bytes;
        head_ = (head_ + 1) & static_cast<std::uint32_t>(ring_.size() - 1);
        --count_;
    }
    template <class F>
    void for_each(F f) noexcept {
        for (std::uint32_t i = 0; i < count_; ++i) f(ring_[(head_ + i) & (ring_.size() - 1)]);
    }
    bool empty() const noexcept { return count_ == 0; }
    std::uint32_t size() const noexcept { return count_; }
    std::uint64_t bytes() const noexcept { return bytes_; }

    // The latest due time given: a delay line's floor (order kept); a rate line's virtual
    // clock (when the bucket's debt is paid).
    std::uint64_t last_due_ns = 0;

private:
    std::vector<Held> ring_;
    std::uint32_t slots_ = 0;
    std::uint32_t head_ = 0;
    std::uint32_t count_ = 0;
    std::uint64_t bytes_ = 0;
};

}  // namespace tcpsleuth
