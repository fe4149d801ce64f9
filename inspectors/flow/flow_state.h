#pragma once
// Per-flow state: the hot entry every packet touches, and the cold record an inspector takes
// only while something is wrong. Adding an inspector adds one member to one of them.

#include <type_traits>

#include "inspectors/detectors/ecn.h"
#include "inspectors/detectors/idle_timeout.h"
#include "inspectors/detectors/mtu_blackhole.h"
#include "inspectors/detectors/one_way_loss.h"
#include "inspectors/detectors/options_stripped.h"
#include "inspectors/detectors/payload_rules.h"
#include "inspectors/detectors/receiver_limited.h"
#include "inspectors/detectors/rst_injected.h"
#include "inspectors/detectors/sack.h"
#include "inspectors/detectors/syn_unanswered.h"
#include "inspectors/flow/tcp_state.h"
#include "inspectors/detectors/window_scaling.h"
#include "inspectors/detectors/zero_window.h"

namespace tcpsleuth {

// Inspector state a healthy flow does not keep: an episode under way (a segment resent, a
// closed window, SACK blocks, a RST racing the handshake, a silence being watched, a window
// filled, a CE mark awaiting its echo, an ICMP frag-needed) and what was reported. Each
// inspector splits its state so: the facts every packet updates stay in the entry, the rest
// is fresh again when an episode ends with nothing to keep. The cold part lives in a record
// from the table's fixed pool (FlowTable::cold), attached when an inspector first writes it
// and returned when every part of it is fresh again; the pipeline does both
// (Pipeline::keep_cold), so results are exactly those of state kept in the entry.
struct ColdState {
    MtuInspector::State mtu;
    ZeroWindowInspector::State zero_window;
    OptionsInspector::State options;
    SackInspector::State sack;
    IdleInspector::State idle;
    RstInspector::State rst;
    OneWayLossInspector::State one_way;
    ReceiverLimitedInspector::State receiver_limited;
    WindowInspector::State window;
    EcnInspector::State ecn;
};
static_assert(std::is_trivially_copyable_v<ColdState>);

// The table's entry: what the tracker and the inspectors need on every packet of a healthy
// flow, and the handle of its cold record. The table zero-initialises an entry when its flow
// is created.
struct FlowState {
    FlowCommon common;
    SynUnansweredInspector::State syn;
    MtuInspector::Sizes mtu;
    EcnInspector::Tally ecn;
    IdleInspector::Rhythm idle;
    OneWayLossInspector::Acks one_way;
    ReceiverLimitedInspector::Transfers receiver_limited;
    PayloadScanner::State payload;
    std::uint32_t cold = 0;  // FlowTable::cold record + 1; 0 none
};
static_assert(std::is_trivially_copyable_v<FlowState>);

// A new connection on a reused 4-tuple (a new ISN, or the old one replayed after the
// connection ran) is a connection of its own: nothing the detectors learned of the old one
// may count as evidence about it. The SYN detector keeps its state (an application retrying
// with new ISNs is what it counts), and the payload scanner returns its streams itself.
inline void restart_connection(FlowState& f, ColdState& cold) noexcept {
    f.mtu = {};
    f.ecn = {};
    f.idle = {};
    f.one_way = {};
    f.receiver_limited = {};
    cold = ColdState{};
}
// Budget: see README "Bytes per flow". Growing past this is a decision, not an accident.
// 912 bytes before the cold records (issue 17) took the episode state of ten inspectors out:
// 464 then, of which the tracker's FlowCommon was 280; the tunnel identity in the key (VNI,
// GRE key, ERSPAN session: issue 18) added 8. The 192-byte target needs the tracker's own
// episode fields (holes, counters, the SYN layouts) judged the same way.
static_assert(sizeof(FlowState) <= 472, "FlowState grew; intended?");

}  // namespace tcpsleuth
