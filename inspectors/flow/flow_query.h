#pragma once
// Questions about the flows in a table, answered by the core that owns it. The question and
// the answers are plain structs with fixed-size storage allocated before the run: a worker
// answers between bursts, a bounded number of table slots at a time, without allocating or
// locking. `analyze` runs the same scan on its own table in one go.

#include <array>
#include <cstdint>
#include <vector>

#include "inspectors/flow/flow_table.h"
#include "inspectors/flow/tunnel_book.h"

namespace tcpsleuth {

enum class FlowSort : std::uint8_t {
    kLastSeen,         // most recently active first
    kFirstSeen,        // oldest first
    kBytes,            // most payload first (both directions)
    kRetransmissions,  // most retransmissions first (both directions)
    kId,               // by flow id, ascending
};

struct FlowFilter {
    std::array<std::uint8_t, 16> addr{};  // either endpoint (v4-mapped); when has_addr
    bool has_addr = false;
    std::uint16_t port = 0;               // either endpoint; 0 = any
    std::uint32_t event_kinds = 0;        // raised any of these kinds; 0 = any flow
    std::uint8_t min_severity = 0;        // worst event at least this severity + 1; 0 = any
    std::uint16_t app = 0;                // tagged with this application (rule_names()); 0 = any
};

struct FlowQuery {
    FlowFilter filter;
    FlowSort sort = FlowSort::kLastSeen;
    std::uint32_t limit = 50;
    static constexpr std::uint32_t kMaxLimit = 10000;
};

// One flow in a listing.
struct FlowSummary {
    FlowKey key;
    std::uint64_t id = 0;
    std::uint64_t first_ns = 0;
    std::uint64_t last_ns = 0;
    std::uint64_t bytes[2] = {};            // payload per canonical direction, from sequence numbers
    std::uint32_t retransmissions[2] = {};
    std::uint32_t rtt_us = 0;               // SYN -> SYN-ACK + SYN-ACK -> ACK, 0 unknown
    std::uint32_t event_kinds = 0;
    std::uint8_t worst_event = 0;
    TcpState state = TcpState::kMidstream;
    std::uint8_t flags = 0;
    bool client_is_lo = true;
    std::uint16_t window[2] = {};           // raw, last advertised
    std::uint8_t zero_window[2] = {};
    std::uint16_t app = 0;                  // rule_names() index, 0 unknown
    TunnelInfo tunnel;                      // the tunnel the flow came through; type kNone: none
};

bool flow_matches(const FlowCommon& f, const FlowFilter& filter) noexcept;
// `tunnels`: the worker's TunnelBook, for the outer addresses of a tunnelled flow (null:
// the summary names the tunnel by its key only).
FlowSummary summarize(const FlowCommon& f, const TunnelBook* tunnels = nullptr) noexcept;
// Payload bytes one side has sent, known when its SYN was seen (0 otherwise).
std::uint64_t payload_bytes(const FlowCommon& f, Dir d) noexcept;
// True when a sorts before b.
bool sorts_before(const FlowSummary& a, const FlowSummary& b, FlowSort s) noexcept;

// Looks for flow `id` from slot `cursor` on, visiting at most `budget` slots (cursor moves
// on). Returns the flow, or null; `cursor >= table.slots()` then means it is not there.
const FlowState* find_flow_id(const FlowTable& table, std::uint32_t id, std::uint32_t& cursor, std::uint32_t budget) noexcept;

// The top `limit` matching flows of one table, found a slice of slots at a time.
class FlowScan {
public:
    FlowScan() { top_.reserve(FlowQuery::kMaxLimit); }

    void start(const FlowQuery& q) noexcept;
    // Visits up to `budget` slots; true when the whole table has been seen. `tunnels`: the
    // same worker's TunnelBook (outer addresses in the summaries), or null.
    bool step(const FlowTable& table, std::uint32_t budget, const TunnelBook* tunnels = nullptr) noexcept;

    // After step() returned true: the best first, at most limit.
    const std::vector<FlowSummary>& sorted() noexcept;
    std::uint64_t matched() const noexcept { return matched_; }

private:
    FlowQuery q_;
    std::uint32_t cursor_ = 0;
    std::uint64_t matched_ = 0;
    std::vector<FlowSummary> top_;  // a heap, worst on top, until sorted()
};

}  // namespace tcpsleuth
