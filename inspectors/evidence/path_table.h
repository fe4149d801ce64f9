#pragma once
// What each server (address, port, VLAN) has shown across flows: which options it agrees to,
// how its ECN handshakes went, and the idle gaps its flows survived or died of. Inspectors
// use it for evidence no single flow holds ("the same server negotiates SACK with other
// clients"; "gaps of 300 s survive, 360 s kill"). Direct-mapped and fixed in size: a
// colliding server replaces the older one, so memory never grows.
//
// One table serves every worker of a live sensor (Pipeline::share_paths): a server's flows
// are spread over the cores by flow hash, and evidence split over them must add up as if
// one core saw it all. The tallies are relaxed atomics, written only on handshakes and idle
// episodes (a few per flow), never locked; a slot is claimed for a server by one
// compare-and-swap on its owner word.

#include <atomic>
#include <cstdint>
#include <memory>

#include "inspectors/output/events.h"
#include "inspectors/flow/tcp_state.h"

namespace tcpsleuth {

// A tally several cores add to: ++ returns the new value, reading it gives the current one.
class SharedCount {
public:
    std::uint32_t operator++() noexcept { return n_.fetch_add(1, std::memory_order_relaxed) + 1; }
    operator std::uint32_t() const noexcept { return n_.load(std::memory_order_relaxed); }
    void reset() noexcept { n_.store(0, std::memory_order_relaxed); }

private:
    std::atomic<std::uint32_t> n_{0};
};

// IdleBracket that several cores narrow: the longest gap survived only grows, the shortest
// that killed only shrinks, so concurrent updates commute.
class SharedBracket {
public:
    IdleBracket get() const noexcept {
        return {.survived_max_s = survived_max_s_.load(std::memory_order_relaxed),
                .killed_min_s = killed_min_s_.load(std::memory_order_relaxed)};
    }
    void survived(std::uint32_t gap_s) noexcept;
    void killed(std::uint32_t gap_s) noexcept;
    void reset() noexcept {
        survived_max_s_.store(0, std::memory_order_relaxed);
        killed_min_s_.store(0, std::memory_order_relaxed);
    }

private:
    std::atomic<std::uint32_t> survived_max_s_{0};
    std::atomic<std::uint32_t> killed_min_s_{0};  // 0: none yet
};

struct PathStats {
    SharedCount agreed[4];    // per OptionKind: flows where the client offered it and the server agreed
    SharedCount declined[4];  //   ... and the server did not
    SharedCount ecn_fallback_flows;  // ECN SYN unanswered, plain retry answered
    SharedCount ecn_answered;        // ECN SYN answered directly (either way)
    SharedCount ecn_declined;        // answered without ECN
    SharedBracket idle;

    void reset() noexcept;
};

class PathTable {
public:
    explicit PathTable(std::uint32_t entries = 4096);

    // The entry for this flow's server, reset if another server held the slot.
    PathStats& server_of(const FlowCommon& flow) noexcept;

    // From now on this table is `shared`'s: the same slots, written by every pipeline that
    // shares them. Call before packets flow.
    void share(const PathTable& shared) noexcept { slots_ = shared.slots_; }

    std::size_t memory_bytes() const noexcept { return (mask_ + 1ull) * sizeof(Slot); }

private:
    struct Slot {
        // Fingerprint of the server endpoint (64-bit FNV-1a of address, port and VLAN, never
        // 0): two servers would have to agree in all 64 bits to share a slot's tallies.
        std::atomic<std::uint64_t> owner{0};
        PathStats stats;
    };
    std::shared_ptr<Slot[]> slots_;
    std::uint32_t mask_;
};

// True for 1, 10, 100, ...: how often a per-server tally is worth repeating to the user.
constexpr bool is_log_point(std::uint32_t n) noexcept {
    for (std::uint32_t p = 1; p != 0 && p <= n; p = p > 0xffffffffu / 10 ? 0 : p * 10) {
        if (p == n) return true;
    }
    return false;
}

}  // namespace tcpsleuth
