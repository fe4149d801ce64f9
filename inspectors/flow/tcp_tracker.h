#pragma once
// The TCP tracker: updates both directions' shared facts from one segment, before any
// inspector runs, and says what the segment was (SegmentInfo). It never emits events;
// judging is the inspectors' job.

#include "inspectors/flow/counters.h"
#include "dataplane/packet/packet_view.h"
#include "inspectors/flow/tcp_state.h"

namespace tcpsleuth {

// A segment filling a sequence hole within this long of the hole opening is reordering;
// later, it is a retransmission of something lost before the sensor (Wireshark uses 3 ms).
inline constexpr std::uint32_t kReorderWindowMs = 3;

// A same-ISN SYN this soon after the previous one is a copy (a duplicating SPAN port, a
// capture merged with itself), not the stack retransmitting: no TCP retransmits a SYN
// sooner than its initial RTO (RFC 6298 section 2: 1 s; Linux 1 s, Windows 3 s).
inline constexpr std::uint32_t kSynDuplicateWindowUs = 100'000;

// Initialises a new flow from its first segment (decides who is the client).
void track_new_flow(const PacketView& pkt, Dir dir, FlowCommon& flow, CoreCounters& counters) noexcept;

// Updates `flow` with one segment travelling in `dir` and classifies it.
SegmentInfo track_segment(const PacketView& pkt, Dir dir, FlowCommon& flow, CoreCounters& counters) noexcept;

// Records an ICMP frag-needed / PTB / unreachable quoting a segment of this flow.
void track_icmp(const PacketView& pkt, FlowCommon& flow) noexcept;

// Bookkeeping when a flow leaves the table (expired, evicted, or input ended).
void track_flow_end(const FlowCommon& flow, CoreCounters& counters) noexcept;

}  // namespace tcpsleuth
