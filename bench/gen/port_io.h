#pragma once
// The generator's DPDK side: EAL, one transmit port and an optional receive port (where
// the traffic comes back after the device under test), each with one queue.

#include <cstdint>
#include <string>
#include <vector>

struct rte_mempool;

namespace tcpsleuth::gen {

struct PortCounters {
    std::uint64_t packets = 0;   // opackets (tx) or ipackets (rx), as the driver counts them
    std::uint64_t errors = 0;    // oerrors or ierrors
    std::uint64_t missed = 0;    // imissed: arrived, no room in the receive ring
    std::uint64_t nombuf = 0;
};

class PortIo {
public:
    // Starts EAL with `eal_args` (split on spaces) and the devices, and opens them. A device
    // beginning with "net_" is a virtual device (--vdev), anything else a PCI address (-a).
    // Throws std::runtime_error with a message for the user.
    PortIo(const std::string& eal_args, const std::string& tx_device, const std::string& rx_device);
    ~PortIo();
    PortIo(const PortIo&) = delete;
    PortIo& operator=(const PortIo&) = delete;

    rte_mempool* pool() const { return pool_; }
    std::uint16_t tx_port() const { return tx_port_; }
    bool has_rx() const { return rx_port_ >= 0; }
    std::uint16_t rx_port() const { return static_cast<std::uint16_t>(rx_port_); }
    PortCounters tx_counters() const;
    PortCounters rx_counters() const;

private:
    std::uint16_t open(const std::string& device);

    rte_mempool* pool_ = nullptr;
    std::uint16_t tx_port_ = 0;
    int rx_port_ = -1;
    std::vector<std::uint16_t> started_;
};

}  // namespace tcpsleuth::gen
