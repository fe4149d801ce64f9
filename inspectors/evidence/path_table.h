#pragma once
// What each server (address, port, VLAN) has shown across flows: which options it agrees to,
// how its ECN handshakes went, and the idle gaps its flows survived or died of. Inspectors
// use it for evidence no single flow holds ("the same server negotiates SACK with other
// clients"; "gaps of 300 s survive, 360 s kill"). Direct-mapped and fixed in size: a
// colliding server replaces the older one, so memory never grows.

#include <cstdint>
#include <vector>

#include "inspectors/output/events.h"
#include "inspectors/flow/tcp_state.h"

namespace tcpsleuth {

struct PathStats {
    std::array<std::uint8_t, 16> server{};
    std::uint16_t port = 0;
    std::uint16_t vlan = 0;
    bool in_use = false;
    std::uint32_t agreed[4] = {};    // per OptionKind: flows where the client offered it and the server agreed
    std::uint32_t declined[4] = {};  //   ... and the server did not
    std::uint32_t ecn_fallback_flows = 0;  // ECN SYN unanswered, plain retry answered
    std::uint32_t ecn_answered = 0;        // ECN SYN answered directly (either way)
    std::uint32_t ecn_declined = 0;        // answered without ECN
    IdleBracket idle;
};

class PathTable {
public:
    explicit PathTable(std::uint32_t entries = 4096);

    // The entry for this flow's server, reset if another server held the slot.
    PathStats& server_of(const FlowCommon& flow) noexcept;

    std::size_t memory_bytes() const noexcept { return slots_.size() * sizeof(PathStats); }

private:
    std::vector<PathStats> slots_;
    std::uint32_t mask_;
};

// True for 1, 10, 100, ...: how often a per-server tally is worth repeating to the user.
constexpr bool is_log_point(std::uint32_t n) noexcept {
    for (std::uint32_t p = 1; p != 0 && p <= n; p = p > 0xffffffffu / 10 ? 0 : p * 10) {
        if (p == n) return true;
    }
    return false;
}

// Records an idle gap a flow on this path survived or died of.
inline void note_gap_survived(IdleBracket& b, std::uint32_t gap_s) noexcept {
    if (gap_s > b.survived_max_s) b.survived_max_s = gap_s;
}
inline void note_gap_killed(IdleBracket& b, std::uint32_t gap_s) noexcept {
    if (gap_s != 0 && (b.killed_min_s == 0 || gap_s < b.killed_min_s)) b.killed_min_s = gap_s;
}

}  // namespace tcpsleuth
