#pragma once
// All per-flow state in one block. Adding an inspector adds one member here; the table
// stores these contiguously and zero-initialises an entry when its flow is created.

#include <type_traits>

#include "ecn_inspector.h"
#include "idle_inspector.h"
#include "mtu_inspector.h"
#include "options_inspector.h"
#include "payload_scanner.h"
#include "rst_inspector.h"
#include "sack_inspector.h"
#include "syn_unanswered.h"
#include "tcp_state.h"
#include "window_inspector.h"
#include "zero_window.h"

namespace tcpsleuth {

struct FlowState {
    FlowCommon common;
    SynUnansweredInspector::State syn;
    ZeroWindowInspector::State zero_window;
    MtuInspector::State mtu;
    OptionsInspector::State options;
    WindowInspector::State window;
    EcnInspector::State ecn;
    SackInspector::State sack;
    IdleInspector::State idle;
    RstInspector::State rst;
    PayloadScanner::State payload;
};
static_assert(std::is_trivially_copyable_v<FlowState>);
// Budget: see README "Bytes per flow". Growing past this is a decision, not an accident.
// 608 bytes with every inspector of the catalog; the 192-byte target (issue: benchmarking) needs the cold per-side
// fields (SYN layout, TTL/IP-ID history, counters) moved out of the hot entry.
// Payload scanning added 40 bytes (PayloadScanner::State) and the flow's app tag.
static_assert(sizeof(FlowState) <= 664, "FlowState grew; intended?");

}  // namespace tcpsleuth
