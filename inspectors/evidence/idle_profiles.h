#pragma once
// Devices with a known idle timeout ([idle.profiles]): the output side matches a path's idle
// bracket against them to name the likely culprit. Only the thread that formats events
// (the main core, or analyze's loop) reads or sets them; the packet path never does.

#include <cstdint>
#include <string>
#include <vector>

#include "config/daemon_config.h"
#include "inspectors/output/events.h"

namespace tcpsleuth {

// Replaces the profiles in use (start-up, reload). Sorted by seconds on the way in.
void set_idle_profiles(std::vector<IdleProfile> profiles);
const std::vector<IdleProfile>& idle_profiles();

// The smallest profile timeout inside the bracket (survived < timeout <= killed), or 0: the
// first device on the path to expire is the one that killed the flow.
std::uint32_t snap_to_device_default(const IdleBracket& b);

// "aws_nat_gateway, aws_network_firewall and aws_nlb" for 350, "" for an unknown value.
std::string devices_with_timeout(std::uint32_t seconds);

}  // namespace tcpsleuth
