#pragma once
// Bringing up DPDK's Environment Abstraction Layer from the configuration: the argument
// vector, the lcores tcpsleuth needs, and failures explained in words (what failed, the
// likely cause, what to try) instead of a bare errno.

#include <string>
#include <vector>

#include "config/daemon_config.h"

namespace tcpsleuth::live {

// True for a PCI address (0000:3b:00.0 or 3b:00.0); anything else is a virtual device.
bool is_pci_address(const std::string& device);

// The DPDK port name of a configured device: the vdev name before its first comma, or the
// PCI address as given.
std::string port_name(const std::string& device);

// The EAL argument vector: program name, the configured arguments, `extra` (from after
// `--`), a --vdev or -a per port, and an lcore list of `lcores` when none was given.
std::vector<std::string> eal_arguments(const DaemonConfig& cfg, const std::vector<std::string>& extra,
                                       unsigned lcores);

// rte_eal_init on those arguments. On failure returns false and a message for the user.
bool init_eal(std::vector<std::string> args, std::string& error);

// Releases EAL resources (hugepages, device handles) after the ports are closed.
void cleanup_eal();

}  // namespace tcpsleuth::live
