#pragma once
// One flow explained from what the tracker holds: every tracked field of both directions,
// and what they mean in sentences a reader can check against those fields. Kept beside the
// tracker, so a field it gains is explained where it is defined; the control socket's
// `flow` command adds the flow's events.

#include <string>
#include <string_view>
#include <vector>

#include "inspectors/flow/flow_state.h"
#include "inspectors/output/json_writer.h"

namespace tcpsleuth {

std::string_view to_string(TcpState s) noexcept;

// Writes the members "tracked", "client" and "server" into the object `w` has open.
void write_tracked_fields(JsonWriter& w, const FlowState& f);

// What the tracked fields say: the handshake and its options, round trips, state and
// bytes, a zero window now, the longest silence.
std::vector<std::string> explain_tracking(const FlowCommon& c);

}  // namespace tcpsleuth
