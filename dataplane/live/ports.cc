#include "ports.h"

#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <spdlog/spdlog.h>

#include "eal_env.h"

namespace tcpsleuth::live {
namespace {

std::string describe(const PortConfig& p, std::size_t index) {
    return "port " + std::to_string(index + 1) + " (\"" + p.device + "\")";
}

std::string missing_port_hint(const std::string& device) {
    if (device.rfind("net_af_packet", 0) == 0 || device.rfind("eth_af_packet", 0) == 0) {
        return "the af_packet driver could not open its interface: check that it exists and is up "
               "(ip link show IFACE) and that tcpsleuth runs as root";
    }
    if (device.rfind("net_pcap", 0) == 0 || device.rfind("eth_pcap", 0) == 0) {
        return "the pcap driver could not open its file or interface: check the rx_pcap=/iface= path "
               "(relative paths are from the current directory)";
    }
    if (is_pci_address(device)) {
        return "no DPDK driver owns this PCI device: bind it with dpdk-devbind.py --bind=vfio-pci " + port_name(device) +
               " and drop --no-pci from the EAL arguments";
    }
    return "no driver created it: check the device name and its arguments (see the EAL messages above)";
}

bool rss_capable(const rte_eth_dev_info& info, unsigned workers) {
    constexpr std::uint64_t kWanted = RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_NONFRAG_IPV6_TCP;
    return info.max_rx_queues >= workers && info.max_tx_queues >= workers &&
           (info.flow_type_rss_offloads & kWanted) == kWanted && info.hash_key_size > 0;
}

bool configure_port(const DaemonConfig& cfg, Port& port, bool rss, unsigned queues, std::string& error) {
    rte_eth_dev_info info{};
    if (const int rc = rte_eth_dev_info_get(port.id, &info); rc != 0) {
        error = "cannot read device info: " + std::string(rte_strerror(-rc));
        return false;
    }
    port.driver = info.driver_name != nullptr ? info.driver_name : "?";
    rte_eth_conf conf{};
    std::uint8_t key[64] = {};
    if (rss && queues > 1) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        const std::size_t key_len = std::min<std::size_t>(info.hash_key_size, sizeof key);
        symmetric_rss_key(key, key_len);
        conf.rx_adv_conf.rss_conf.rss_key = key;
        conf.rx_adv_conf.rss_conf.rss_key_len = static_cast<std::uint8_t>(key_len);
        conf.rx_adv_conf.rss_conf.rss_hf =
            info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
    }
    // net_pcap stamps packets with the capture's times (in microseconds in DPDK 22.11), except
    // in infinite_rx mode, which loops a capture in memory as a traffic source: that runs on
    // the TSC and needs no back-pressure.
    const bool looped = port.device.find("infinite_rx=1") != std::string::npos;
    if (port.driver == "net_pcap" && !looped) port.timestamp_ns = 1000;
    port.replay = port.driver == "net_pcap" && !looped && port.device.find("rx_pcap=") != std::string::npos;
    port.rx_queues = static_cast<std::uint16_t>(queues);
    port.tx_queues = static_cast<std::uint16_t>(queues);
    if (const int rc = rte_eth_dev_configure(port.id, port.rx_queues, port.tx_queues, &conf); rc != 0) {
        error = "cannot configure " + std::to_string(queues) + " queue(s): " + rte_strerror(-rc);
        return false;
    }
    port.configured = true;
    std::uint16_t rx_desc = static_cast<std::uint16_t>(cfg.dpdk.rx_descriptors);
    std::uint16_t tx_desc = static_cast<std::uint16_t>(cfg.dpdk.tx_descriptors);
    rte_eth_dev_adjust_nb_rx_tx_desc(port.id, &rx_desc, &tx_desc);
    const int socket = rte_eth_dev_socket_id(port.id) < 0 ? static_cast<int>(SOCKET_ID_ANY) : rte_eth_dev_socket_id(port.id);

    const std::string pool_name = "mbuf_p" + std::to_string(port.id);
    port.pool = rte_pktmbuf_pool_create(pool_name.c_str(), port.mbufs, cfg.dpdk.mbuf_cache, 0,
                                        static_cast<std::uint16_t>(cfg.dpdk.mbuf_size), socket);
    if (port.pool == nullptr) {
        const std::size_t mb = static_cast<std::size_t>(port.mbufs) * (cfg.dpdk.mbuf_size + sizeof(rte_mbuf) + 64) >> 20;
        error = "cannot allocate " + std::to_string(port.mbufs) + " packet buffers (about " + std::to_string(mb) +
                " MB): " + rte_strerror(rte_errno) +
                ". Give EAL more memory (-m MB with --no-huge, or reserve more hugepages) or lower "
                "dpdk.mbufs_per_port (or this port's mbufs)";
        return false;
    }
    for (std::uint16_t q = 0; q < port.rx_queues; ++q) {
        if (const int rc = rte_eth_rx_queue_setup(port.id, q, rx_desc, static_cast<unsigned>(socket), nullptr, port.pool); rc != 0) {
            error = "cannot set up RX queue " + std::to_string(q) + ": " + rte_strerror(-rc);
            return false;
        }
    }
    for (std::uint16_t q = 0; q < port.tx_queues; ++q) {
        if (const int rc = rte_eth_tx_queue_setup(port.id, q, tx_desc, static_cast<unsigned>(socket), nullptr); rc != 0) {
            error = "cannot set up TX queue " + std::to_string(q) + ": " + rte_strerror(-rc);
            return false;
        }
    }
    if (const int rc = rte_eth_dev_start(port.id); rc != 0) {
        error = "cannot start: " + std::string(rte_strerror(-rc));
        return false;
    }
    port.started = true;
    // A tap or inline port must see every frame, not only those addressed to it. Virtual
    // devices without the notion answer -ENOTSUP, which is fine.
    if (const int rc = rte_eth_promiscuous_enable(port.id); rc != 0 && rc != -ENOTSUP) {
        spdlog::warn("{}: cannot enable promiscuous mode ({}); frames for other MACs may be missed", port.name,
                     rte_strerror(-rc));
    }
    return true;
}

}  // namespace

void symmetric_rss_key(std::uint8_t* key, std::size_t len) {
    for (std::size_t i = 0; i < len; ++i) key[i] = (i % 2 == 0) ? 0x6d : 0x5a;
}

unsigned lcores_needed(const DaemonConfig& cfg) {
    const unsigned workers = cfg.workers.count;
    if (workers == 1 || cfg.workers.distribution == Distribution::kRss) return 1 + workers;
    return 2 + workers;
}

bool open_ports(const DaemonConfig& cfg, PortSet& out, std::string& error) {
    const unsigned workers = cfg.workers.count;
    out.ports.clear();
    bool all_rss = true;
    for (std::size_t i = 0; i < cfg.ports.size(); ++i) {
        Port p;
        p.device = cfg.ports[i].device;
        p.mbufs = cfg.ports[i].mbufs != 0 ? cfg.ports[i].mbufs : cfg.dpdk.mbufs_per_port;
        p.name = port_name(p.device);
        if (rte_eth_dev_get_port_by_name(p.name.c_str(), &p.id) != 0) {
            error = describe(cfg.ports[i], i) + " did not come up: " + missing_port_hint(p.device);
            return false;
        }
        rte_eth_dev_info info{};
        if (rte_eth_dev_info_get(p.id, &info) != 0 || !rss_capable(info, workers)) all_rss = false;
        if (cfg.mode == RunMode::kInline) p.peer = static_cast<int>(i ^ 1u);
        out.ports.push_back(std::move(p));
    }
    if (workers == 1) {
        out.distribution = Distribution::kRss;  // one queue per port, polled by the one worker
    } else if (cfg.workers.distribution == Distribution::kRss && !all_rss) {
        error = "workers.distribution = \"rss\" but not every port offers " + std::to_string(workers) +
                " RX/TX queues with TCP RSS hashing; use \"auto\" or \"software\", or fewer workers";
        return false;
    } else if (cfg.workers.distribution == Distribution::kAuto) {
        out.distribution = all_rss ? Distribution::kRss : Distribution::kSoftware;
    } else {
        out.distribution = cfg.workers.distribution;
    }
    const bool rss = out.distribution == Distribution::kRss;
    const unsigned queues = rss ? workers : 1;
    for (std::size_t i = 0; i < out.ports.size(); ++i) {
        if (!configure_port(cfg, out.ports[i], rss, queues, error)) {
            error = describe(cfg.ports[i], i) + ": " + error;
            close_ports(out);
            return false;
        }
        spdlog::info("port {} {} ({}): {} RX/TX queue(s){}", out.ports[i].id, out.ports[i].name, out.ports[i].driver,
                     queues, out.ports[i].timestamp_ns != 0 ? ", packet times from the driver" : "");
    }
    return true;
}

void close_ports(PortSet& set) {
    for (Port& p : set.ports) {
        if (p.started) rte_eth_dev_stop(p.id);
        if (p.configured) rte_eth_dev_close(p.id);
        p.started = p.configured = false;
    }
    // Pools last: the devices may hold mbufs until closed.
    for (Port& p : set.ports) {
        if (p.pool != nullptr) rte_mempool_free(p.pool);
        p.pool = nullptr;
    }
}

}  // namespace tcpsleuth::live
