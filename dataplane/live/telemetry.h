#pragma once
// tcpsleuth's own commands on DPDK's telemetry socket, beside DPDK's (/ethdev/..., /mempool/...):
//   /tcpsleuth/stats       the workers' counters summed: packets, bytes, flows, events, losses
//   /tcpsleuth/worker,N    every named counter of worker N
// Answered on DPDK's telemetry thread from the workers' relaxed atomic counters; nothing
// here touches a worker's table or rules.

namespace tcpsleuth::live {

struct RunShared;

// Registers the commands for this run (once per process; the run outlives the EAL).
void register_telemetry(const RunShared& run);

}  // namespace tcpsleuth::live
