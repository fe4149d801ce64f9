#pragma once
// Fills the parts of an Event every flow finding shares.

#include "inspectors/output/events.h"
#include "inspectors/flow/tcp_state.h"

namespace tcpsleuth {

inline Event flow_event(const FlowCommon& f, std::uint64_t ts_ns, Severity severity, Confidence confidence,
                        Where where, const EventDetail& detail) noexcept {
    Event e;
    e.key = f.key;
    e.flow_id = f.id;
    e.ts_ns = ts_ns;
    e.client_is_lo = f.client_is_lo();
    e.severity = severity;
    e.confidence = confidence;
    e.where = where;
    e.app = f.app;
    e.detail = detail;
    return e;
}

// Which side of the connection sent the packets travelling in `d`.
inline Side side_of(const FlowCommon& f, Dir d) noexcept { return d == f.client() ? Side::kClient : Side::kServer; }

// Packet numbers are kept per flow as 32 bits (4 G frames per input is plenty; they
// saturate rather than wrap).
inline std::uint32_t packet_number32(std::uint64_t n) noexcept {
    return n > 0xffffffffu ? 0xffffffffu : static_cast<std::uint32_t>(n);
}

}  // namespace tcpsleuth
