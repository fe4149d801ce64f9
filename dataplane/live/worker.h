#pragma once
// The lcores of a live run and what they share with the main core.
//
//   RSS (or one worker): worker w polls queue w of every port, inspects, then frees (tap) or
//     sends on queue w of the peer port (inline). Run to completion, nothing in between.
//   software: the I/O core polls queue 0 of every port, hashes each frame's flow key
//     (symmetric by construction) and hands it to that flow's worker over a ring; inline,
//     workers hand inspected packets back over a second ring and the I/O core sends them.
//
// Workers own their flow table and pipeline; nothing on the packet path is shared except
// the SPSC rings. The main core reads counters (relaxed atomics) and drains event rings.

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "config/daemon_config.h"
#include "inspectors/flow/counters.h"
#include "inspectors/output/events.h"
#include "inspectors/flow/flow_query.h"
#include "inspectors/flow/flow_table.h"
#include "dataplane/impair/impairer.h"
#include "inspectors/flow/pipeline.h"
#include "inspectors/flow/spsc_ring.h"
#include "live_points.h"
#include "ports.h"

struct rte_ring;

namespace tcpsleuth::live {

enum class Phase : int {
    kRun,     // receive and inspect
    kStop,    // stop receiving; process what is already queued, then report drained
    kFinish,  // end every flow as of finish_ns, flush events, report done
};

enum class WorkerState : int { kRunning, kDrained, kDone };

// The main core's questions to one worker (control socket), answered between bursts: the
// main core fills a request and publishes it with state = kPosted; the worker works on it a
// bounded number of table slots per loop and publishes the answer with state = kAnswered.
// One request at a time per worker; every buffer is allocated before the run.
struct Mailbox {
    enum class Kind : int { kFlows, kFlow, kConfig, kPackets };
    enum State : int { kEmpty, kPosted, kAnswered };
    std::atomic<int> state{kEmpty};
    Kind kind = Kind::kFlows;
    bool started = false;      // worker side: the scan has begun
    FlowQuery query;           // kFlows
    FlowScan scan;             //   its answer: scan.sorted(), scan.matched()
    std::uint32_t flow_id = 0; // kFlow, kPackets
    std::uint32_t cursor = 0;
    bool found = false;        //   its answer
    FlowState flow{};
    bool scanning = false;     // kPackets: the flow was found, its packets are being looked for
    bool by_key = false;       // kPackets for an evidence capture: the packets of `key`, the flow
    FlowKey key{};             //   perhaps already gone from the table (a finding at its end)
    HistoryScan packets;       //   its answer (reserved before the run)
    Config config;             // kConfig: the thresholds to take
    bool impair_swap = false;  // kConfig: take `impair` as the worker's rules (null: none) and
    std::unique_ptr<Impairer> impair;  //   give back the old ones in it, for the main core to free
};

// One per worker. Built on the main core before launch (allocation happens there; the flow
// table's pages are first touched by the worker that uses them).
struct WorkerShared {
    WorkerShared(const Config& cfg, unsigned index, unsigned workers, std::size_t event_ring, std::size_t ports,
                 std::uint64_t seed);

    CoreCounters counters;
    SpscRing<Event> events;
    FlowTable table;
    EventSink sink;
    Pipeline pipeline;
    std::vector<std::atomic<std::uint64_t>> tx_dropped;  // per port index, inline
    std::atomic<std::uint64_t> first_ts_ns{0};
    std::atomic<std::uint64_t> last_ts_ns{0};
    std::atomic<std::uint32_t> flows_active{0};
    std::atomic<WorkerState> state{WorkerState::kRunning};
    Mailbox mailbox;
    std::unique_ptr<Impairer> impair;  // inline with [[impair]] rules; null otherwise
    // Two-point mode: point-port packets reduced for the main core (null otherwise), and
    // those lost to a full ring.
    std::unique_ptr<SpscRing<PointRecord>> points;
    std::atomic<std::uint64_t> points_lost{0};
    rte_ring* in = nullptr;    // software distribution: packets from the I/O core
    rte_ring* back = nullptr;  // software distribution, inline: inspected packets to send
};

struct IoShared {
    std::atomic<std::uint64_t> rx_packets{0};
    std::vector<std::atomic<std::uint64_t>> ring_full;  // per worker: packets dropped, ring full
    std::vector<std::atomic<std::uint64_t>> tx_dropped;  // per port index
    std::atomic<bool> stopped{false};                    // no more packets will be enqueued
    explicit IoShared(std::size_t workers, std::size_t ports) : ring_full(workers), tx_dropped(ports) {}
};

struct RunShared {
    const DaemonConfig* cfg = nullptr;
    PortSet* ports = nullptr;
    std::vector<std::unique_ptr<WorkerShared>> workers;
    std::unique_ptr<IoShared> io;
    std::atomic<Phase> phase{Phase::kRun};
    std::atomic<std::uint64_t> finish_ns{0};
    std::vector<int> port_index;   // DPDK port id -> index in ports->ports
    std::vector<std::uint32_t> timestamp_ns;  // DPDK port id -> ns per driver timestamp unit; 0 = use the TSC
    // Two-point mode: DPDK port id -> 0 not a point, 1 outside, 2 inside; and the point whose
    // packets the pipeline inspects (the same codes).
    std::vector<std::uint8_t> point_of_port;
    std::uint8_t inspected_point = 0;
    int frame_number_offset = -1;  // mbuf dynfield holding the frame number (software mode)
    int timestamp_offset = -1;     // mbuf dynfield of driver RX timestamps
    std::uint64_t timestamp_flag = 0;
};

// Lcore entry points; `arg` is a LcoreArg*.
struct LcoreArg {
    RunShared* run = nullptr;
    unsigned worker = 0;  // for workers
};
int worker_main(void* arg);
int io_main(void* arg);

// Registers the mbuf fields the run uses. False with a message if DPDK refuses.
bool register_mbuf_fields(RunShared& run, std::string& error);

}  // namespace tcpsleuth::live
