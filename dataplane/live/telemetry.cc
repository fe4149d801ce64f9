#include "telemetry.h"

#include <rte_telemetry.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "inspectors/flow/counters.h"
#include "worker.h"

namespace tcpsleuth::live {
namespace {

const RunShared* g_run = nullptr;

int stats(const char*, const char*, rte_tel_data* d) {
    if (g_run == nullptr) return -1;
    CoreCounters total;
    std::uint64_t flows_active = 0;
    for (const auto& w : g_run->workers) {
        for (const CounterInfo& ci : kCounterInfo) total.add(ci.id, w->counters.get(ci.id));
        flows_active += w->flows_active.load(std::memory_order_relaxed);
    }
    rte_tel_data_start_dict(d);
    rte_tel_data_add_dict_u64(d, "workers", g_run->workers.size());
    rte_tel_data_add_dict_u64(d, "packets", total.get(Counter::kRxPackets));
    rte_tel_data_add_dict_u64(d, "bytes", total.get(Counter::kRxBytes));
    rte_tel_data_add_dict_u64(d, "flows_active", flows_active);
    rte_tel_data_add_dict_u64(d, "flows_created", total.get(Counter::kFlowCreated));
    rte_tel_data_add_dict_u64(d, "flows_evicted", total.get(Counter::kFlowEvicted));
    rte_tel_data_add_dict_u64(d, "events", total.get(Counter::kEventsEmitted));
    rte_tel_data_add_dict_u64(d, "events_lost", total.get(Counter::kEventsDropped));
    rte_tel_data_add_dict_u64(d, "wrong_core", total.get(Counter::kFlowWrongCore));
    return 0;
}

int worker(const char*, const char* params, rte_tel_data* d) {
    if (g_run == nullptr || params == nullptr || *params == '\0') return -1;
    char* end = nullptr;
    const unsigned long index = std::strtoul(params, &end, 10);
    if (*end != '\0' || index >= g_run->workers.size()) return -1;
    const WorkerShared& w = *g_run->workers[index];
    rte_tel_data_start_dict(d);
    rte_tel_data_add_dict_u64(d, "flows_active", w.flows_active.load(std::memory_order_relaxed));
    // Telemetry keys allow letters, digits, '_' and '/' only: "rx.packets" is rx_packets here.
    for (const CounterInfo& ci : kCounterInfo) {
        std::string key(ci.name);
        for (char& ch : key) {
            if (ch == '.') ch = '_';
        }
        rte_tel_data_add_dict_u64(d, key.c_str(), w.counters.get(ci.id));
    }
    return 0;
}

}  // namespace

void register_telemetry(const RunShared& run) {
    static bool registered = false;
    g_run = &run;
    if (registered) return;
    registered = true;
    rte_telemetry_register_cmd("/tcpsleuth/stats", stats, "tcpsleuth: the workers' counters summed. Takes no parameters");
    rte_telemetry_register_cmd("/tcpsleuth/worker", worker, "tcpsleuth: every counter of one worker. Parameters: int worker");
}

}  // namespace tcpsleuth::live
