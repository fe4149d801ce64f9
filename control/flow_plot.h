#pragma once
// A live flow drawn (`plot`, tcpsleuthctl flow ID --plot, the live page): its packets still in
// the worker's history as the same time-sequence graph a finding gets (inspectors/plot).

#include <string>

#include "config/config.h"
#include "control/controller.h"

namespace tcpsleuth::control {

// The SVG of `fp`'s packets; frames are parsed as the pipeline parsed them (`decap`).
std::string flow_plot_svg(const FlowPackets& fp, std::uint64_t id, const DecapConfig& decap);

}  // namespace tcpsleuth::control
