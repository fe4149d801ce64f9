#include "port_io.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <sstream>
#include <stdexcept>

namespace tcpsleuth::gen {
namespace {

constexpr std::uint16_t kRingSize = 1024;
constexpr unsigned kPoolSize = 8191;  // rings of both ports, bursts in flight, per-core cache

std::string name_of(const std::string& device) { return device.substr(0, device.find(',')); }
bool is_vdev(const std::string& device) { return device.rfind("net_", 0) == 0; }

}  // namespace

PortIo::PortIo(const std::string& eal_args, const std::string& tx_device, const std::string& rx_device) {
    std::vector<std::string> args = {"tcpsleuth-gen"};
    std::istringstream split(eal_args);
    for (std::string a; split >> a;) args.push_back(a);
    for (const std::string& d : {tx_device, rx_device}) {
        if (d.empty()) continue;
        args.push_back(is_vdev(d) ? "--vdev" : "-a");
        args.push_back(d);
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
        throw std::runtime_error(std::string("EAL initialisation failed: ") + rte_strerror(rte_errno) +
                                 " (try --eal \"--no-huge -m 256 --no-pci --no-shconf --file-prefix gen\")");
    }
    pool_ = rte_pktmbuf_pool_create("gen_pool", kPoolSize, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, static_cast<int>(rte_socket_id()));
    if (pool_ == nullptr) {
        rte_eal_cleanup();
        throw std::runtime_error(std::string("cannot create the mbuf pool: ") + rte_strerror(rte_errno) +
                                 " (give EAL more memory: -m 256)");
    }
    try {
        tx_port_ = open(tx_device);
        if (!rx_device.empty()) rx_port_ = open(rx_device);
    } catch (...) {
        for (std::uint16_t p : started_) rte_eth_dev_stop(p), rte_eth_dev_close(p);
        rte_mempool_free(pool_);
        rte_eal_cleanup();
        throw;
    }
}

PortIo::~PortIo() {
    for (std::uint16_t p : started_) {
        rte_eth_dev_stop(p);
        rte_eth_dev_close(p);
    }
    rte_mempool_free(pool_);
    rte_eal_cleanup();
}

std::uint16_t PortIo::open(const std::string& device) {
    std::uint16_t port = 0;
    if (rte_eth_dev_get_port_by_name(name_of(device).c_str(), &port) != 0) {
        throw std::runtime_error("no DPDK port " + name_of(device) + " (is the device or its interface there?)");
    }
    rte_eth_conf conf{};
    int rc = rte_eth_dev_configure(port, 1, 1, &conf);
    std::uint16_t rx_ring = kRingSize, tx_ring = kRingSize;
    if (rc == 0) rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &rx_ring, &tx_ring);
    const int socket = rte_eth_dev_socket_id(port);
    const unsigned sock = socket < 0 ? rte_socket_id() : static_cast<unsigned>(socket);
    if (rc == 0) rc = rte_eth_rx_queue_setup(port, 0, rx_ring, sock, nullptr, pool_);
    if (rc == 0) rc = rte_eth_tx_queue_setup(port, 0, tx_ring, sock, nullptr);
    if (rc == 0) rc = rte_eth_dev_start(port);
    if (rc != 0) throw std::runtime_error("cannot start port " + name_of(device) + ": " + rte_strerror(-rc));
    started_.push_back(port);
    rte_eth_promiscuous_enable(port);  // not every virtual device has the notion; harmless
    rte_eth_stats_reset(port);
    return port;
}

PortCounters PortIo::tx_counters() const {
    rte_eth_stats s{};
    rte_eth_stats_get(tx_port_, &s);
    return {s.opackets, s.oerrors, 0, 0};
}

PortCounters PortIo::rx_counters() const {
    rte_eth_stats s{};
    if (rx_port_ >= 0) rte_eth_stats_get(static_cast<std::uint16_t>(rx_port_), &s);
    return {s.ipackets, s.ierrors, s.imissed, s.rx_nombuf};
}

}  // namespace tcpsleuth::gen
