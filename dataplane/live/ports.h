#pragma once
// The configured ports, found among the devices EAL probed, each with its own mbuf pool,
// configured with one queue per polling core and started. Also decides how packets reach
// the workers: NIC RSS when every port can give each worker a queue, otherwise one I/O core
// distributing in software.

#include <cstdint>
#include <string>
#include <vector>

#include "config/daemon_config.h"

struct rte_mempool;

namespace tcpsleuth::live {

struct Port {
    std::uint16_t id = 0;       // DPDK port id
    std::string device;         // as configured
    std::string name;           // DPDK name
    std::string driver;
    rte_mempool* pool = nullptr;
    std::uint32_t mbufs = 0;    // size of the pool
    std::uint16_t rx_queues = 0;
    std::uint16_t tx_queues = 0;
    int peer = -1;              // inline: index of the port it forwards to
    // Reads a file (net_pcap rx_pcap=): there is no wire to lose packets to, so the I/O core
    // waits for a worker's ring to have room instead of dropping.
    bool replay = false;
    bool configured = false;    // rte_eth_dev_configure succeeded: close it at the end
    bool started = false;
    // Nanoseconds per unit of the driver's RX timestamp, 0 when it gives none we can use.
    // DPDK leaves the unit to each driver: net_pcap stamps the capture's own time in
    // microseconds; NIC clocks count device ticks, so for them the TSC is used instead.
    std::uint32_t timestamp_ns = 0;
};

struct PortSet {
    std::vector<Port> ports;
    // kRss: worker w polls queue w of every port (also the case of one worker);
    // kSoftware: an I/O core polls queue 0 and hands packets to workers.
    Distribution distribution = Distribution::kRss;
};

// Finds, configures and starts every configured port. On failure, stops what was started
// and returns false with a message naming the port, the likely cause and what to try.
bool open_ports(const DaemonConfig& cfg, PortSet& out, std::string& error);

void close_ports(PortSet& set);

// Lcores the run needs: main + workers (+ 1 I/O core with software distribution). Decided
// before EAL starts from the configuration alone; with distribution = "auto" and more than
// one worker, one spare lcore is asked for in case the ports lack RSS.
unsigned lcores_needed(const DaemonConfig& cfg);

// The symmetric Toeplitz key (the 16-bit pattern 0x6d5a repeated): hashing (a, b) and (b, a)
// gives the same value, so both directions of a flow land on one queue (Woo and Park,
// "Scalable TCP Session Monitoring with Symmetric Receive-side Scaling", 2012).
void symmetric_rss_key(std::uint8_t* key, std::size_t len);

}  // namespace tcpsleuth::live
