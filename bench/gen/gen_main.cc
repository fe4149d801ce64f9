// tcpsleuth-gen: realistic TCP traffic (traffic_gen.h) with optional fault episodes
// (fault_episodes.h), written to a pcap file or transmitted on a DPDK port.
//
//   tcpsleuth-gen [traffic options] [--fault KIND[:N]]... --pcap OUT.pcap
//   tcpsleuth-gen [traffic options] [--fault KIND[:N]]... --tx DEVICE [--rx DEVICE]
//                 [--eal "ARGS"] [--rate PPS|max] [--duration S] [--packets N] [--json]

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "encap.h"
#include "fault_episodes.h"
#include "port_io.h"
#include "traffic_gen.h"

namespace {

using namespace tcpsleuth::gen;

constexpr const char* kUsage =
    "usage: tcpsleuth-gen [traffic] [--fault KIND[:N]]... --pcap OUT.pcap\n"
    "       tcpsleuth-gen [traffic] [--fault KIND[:N]]... --tx DEVICE [--rx DEVICE] [--eal \"ARGS\"]\n"
    "                     [--rate PPS|max] [--duration S] [--packets N] [--json]\n"
    "traffic:\n"
    "  --flows   concurrent connections (1..16777216, default 1000)\n"
    "  --rounds  server data segments per connection, each acknowledged (default 8)\n"
    "  --sizes   data frame sizes: 64 (70-byte frames), imix (7:4:1 of 70/590/1514), 1500 (default 64)\n"
    "  --ipv6    percent of flows over IPv6 (default 0)\n"
    "  --ecn     percent of flows that negotiate ECN (default 0)\n"
    "  --port-base  first client port; flow f uses port-base + f / 65536 (default 20000)\n"
    "  --http    HTTP/1.1 payloads (a GET, a 200 status line, HTML text) instead of zeros\n"
    "  --rate    packets per second: spacing of the pcap's timestamps, or the transmit rate;\n"
    "            `max` transmits as fast as the port takes them (default 1000000)\n"
    "  --laps    pcap: laps of healthy traffic to write; one lap brings every flow back to\n"
    "            where it started, so a one-lap file replayed in a loop stays consistent;\n"
    "            0 writes the fault episodes alone (default 1)\n"
    "faults (episodes on their own addresses, one every 2 s, beside the healthy traffic):\n"
    "  --fault   syn-unanswered | mtu-blackhole | options-stripped | ecn-bleached |\n"
    "            sack-invalid | idle-timeout | zero-window | mtu-blackhole-first |\n"
    "            mtu-blackhole-first-v6 | idle-short | rst-race | one-way-loss |\n"
    "            receiver-limited, with :N for N episodes (default 1)\n"
    "  --encap   KIND[:ID] wraps every frame of the pcap as a mirror or tunnel delivers it, ID the\n"
    "            VNI / GRE key / ERSPAN session / label / PPPoE session (default 4242); KIND one of\n"
    "            vxlan | geneve | geneve-ip | geneve-vxlan | gre | gre-eth | erspan2 | erspan3 |\n"
    "            mpls | mpls-pw | ipip | ip6 | pppoe | vlan-vxlan\n"
    "transmit (DPDK):\n"
    "  --tx       device to send on: a vdev (net_af_packet0,iface=veth0) or a PCI address\n"
    "  --rx       device the traffic comes back on, counted and freed (loss = sent - received)\n"
    "  --eal      EAL arguments (default \"--no-huge -m 256 --no-pci --no-shconf --file-prefix tsl-gen\")\n"
    "  --duration seconds to transmit (default 10); --packets N stops after N healthy frames\n"
    "  --json     print the result as one JSON object\n";

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

bool parse_number(const char* text, std::uint64_t max, std::uint64_t& out) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v > max) return false;
    out = v;
    return true;
}

bool parse_fault_arg(const std::string& text, FaultRequest& out) {
    const auto colon = text.find(':');
    std::uint64_t n = 1;
    if (colon != std::string::npos && !parse_number(text.c_str() + colon + 1, FaultEpisodes::kMaxEpisodes, n)) return false;
    out.count = static_cast<std::uint32_t>(n);
    return parse_fault(text.substr(0, colon), out.kind) && n > 0;
}

struct Options {
    GenSpec spec;
    bool max_rate = false;
    std::uint64_t laps = 1;
    std::string pcap;
    std::vector<FaultRequest> faults;
    EncapKind encap = EncapKind::kNone;
    std::uint32_t encap_id = 4242;
    std::string tx, rx, eal = "--no-huge -m 256 --no-pci --no-shconf --file-prefix tsl-gen";
    double duration_s = 10;
    std::uint64_t packets = 0;  // 0: no limit
    bool json = false;
};

constexpr std::uint64_t kEpochNs = 1'700'000'000ull * 1'000'000'000ull;

int write_pcap(const Options& o, TrafficGen& gen, const FaultEpisodes& faults) {
    std::FILE* out = std::fopen(o.pcap.c_str(), "wb");
    if (out == nullptr) {
        std::fprintf(stderr, "tcpsleuth-gen: cannot create %s: %s\n", o.pcap.c_str(), std::strerror(errno));
        return 1;
    }
    static char buf[1 << 22];
    std::setvbuf(out, buf, _IOFBF, sizeof buf);
    const std::uint32_t header[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};  // pcap, microseconds, Ethernet
    std::fwrite(header, sizeof header, 1, out);
    std::uint64_t bytes = 0, written = 0;
    Encapsulator encap(o.encap, o.encap_id);
    static std::uint8_t wrapped[kMaxFrame + kMaxEncapOverhead];
    const auto record = [&](std::uint64_t ts_ns, const std::uint8_t* data, std::uint32_t len) {
        if (o.encap != EncapKind::kNone) {
            len = encap.wrap(data, len, wrapped);
            data = wrapped;
        }
        const std::uint64_t us = (kEpochNs + ts_ns) / 1000;
        const std::uint32_t rec[4] = {static_cast<std::uint32_t>(us / 1'000'000), static_cast<std::uint32_t>(us % 1'000'000), len, len};
        std::fwrite(rec, sizeof rec, 1, out);
        std::fwrite(data, 1, len, out);
        bytes += len;
        ++written;
    };
    const auto& episode_frames = faults.frames();
    std::size_t next_fault = 0;
    const std::uint64_t healthy = gen.lap_packets() * o.laps;
    for (std::uint64_t i = 0; i < healthy; ++i) {
        const Frame f = gen.next();
        for (; next_fault < episode_frames.size() && episode_frames[next_fault].ts_ns <= f.ts_ns; ++next_fault) {
            record(episode_frames[next_fault].ts_ns, faults.data(episode_frames[next_fault]), episode_frames[next_fault].len);
        }
        record(f.ts_ns, f.data, f.len);
    }
    for (; next_fault < episode_frames.size(); ++next_fault) {
        record(episode_frames[next_fault].ts_ns, faults.data(episode_frames[next_fault]), episode_frames[next_fault].len);
    }
    if (std::fclose(out) != 0) {
        std::fprintf(stderr, "tcpsleuth-gen: writing %s failed: %s\n", o.pcap.c_str(), std::strerror(errno));
        return 1;
    }
    std::printf("%s: %llu packets (%llu per lap, %llu in %u fault episodes), %u flows, %llu frame bytes, mean %.1f bytes\n",
                o.pcap.c_str(), static_cast<unsigned long long>(written), static_cast<unsigned long long>(gen.lap_packets()),
                static_cast<unsigned long long>(episode_frames.size()), faults.episodes(), o.spec.flows,
                static_cast<unsigned long long>(bytes), written ? double(bytes) / double(written) : 0.0);
    return 0;
}

// Sends bursts on the transmit port, retrying while the port is busy so the flows stay
// consistent, and counts what comes back on the receive port.
struct Sender {
    PortIo& io;
    std::uint64_t sent = 0, busy_retries = 0, received = 0;

    void receive() {
        if (!io.has_rx()) return;
        rte_mbuf* rx[64];
        const std::uint16_t n = rte_eth_rx_burst(io.rx_port(), 0, rx, 64);
        received += n;
        rte_pktmbuf_free_bulk(rx, n);
    }
    // False when the run is stopped (SIGINT) while the port is busy; the rest is freed.
    bool send(rte_mbuf** m, std::uint16_t n) {
        std::uint16_t done = 0;
        while (done < n) {
            done += rte_eth_tx_burst(io.tx_port(), 0, m + done, static_cast<std::uint16_t>(n - done));
            if (done < n) {
                ++busy_retries;
                receive();  // the frames in flight may be waiting for us on the way back
                if (g_stop) {
                    rte_pktmbuf_free_bulk(m + done, n - done);
                    return false;
                }
            }
        }
        sent += n;
        return true;
    }
};

void fill(rte_mbuf* m, const std::uint8_t* data, std::uint32_t len) {
    char* p = rte_pktmbuf_append(m, static_cast<std::uint16_t>(len));
    std::memcpy(p, data, len);  // frames are at most 1514 bytes, the data room 2048
}

int transmit(const Options& o, TrafficGen& gen, const FaultEpisodes& faults) {
    PortIo io(o.eal, o.tx, o.rx);
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    Sender s{io};
    const std::uint64_t hz = rte_get_tsc_hz();
    const std::uint64_t start = rte_rdtsc();
    const auto elapsed_ns = [&](std::uint64_t now) { return static_cast<std::uint64_t>(double(now - start) * 1e9 / double(hz)); };
    const auto end_ns = static_cast<std::uint64_t>(o.duration_s * 1e9);
    const auto& episode_frames = faults.frames();
    std::size_t next_fault = 0;
    std::uint64_t healthy = 0, fault_sent = 0;
    rte_mbuf* burst[32];
    while (!g_stop) {
        const std::uint64_t now = elapsed_ns(rte_rdtsc());
        if (now >= end_ns) break;
        // Fault frames when their time comes, in real time.
        std::uint16_t n = 0;
        while (next_fault < episode_frames.size() && episode_frames[next_fault].ts_ns <= now && n < 32) {
            if (rte_pktmbuf_alloc_bulk(io.pool(), burst + n, 1) != 0) break;
            fill(burst[n], faults.data(episode_frames[next_fault]), episode_frames[next_fault].len);
            ++n, ++next_fault;
        }
        if (n != 0) {
            if (!s.send(burst, n)) break;
            fault_sent += n;
        }
        // Healthy frames: as many as the schedule says are due, 32 at a time.
        const auto scheduled = static_cast<std::uint64_t>(double(now) * double(o.spec.rate_pps) / 1e9) + 1;
        std::uint64_t due = o.max_rate ? 32 : (scheduled > healthy ? scheduled - healthy : 0);
        if (o.packets != 0) due = std::min(due, o.packets - healthy);
        n = static_cast<std::uint16_t>(std::min<std::uint64_t>(due, 32));
        if (n != 0 && rte_pktmbuf_alloc_bulk(io.pool(), burst, n) == 0) {
            for (std::uint16_t i = 0; i < n; ++i) {
                const Frame f = gen.next();
                fill(burst[i], f.data, f.len);
            }
            if (!s.send(burst, n)) break;
            healthy += n;
        }
        s.receive();
        if (o.packets != 0 && healthy >= o.packets && next_fault == episode_frames.size()) break;
    }
    const double seconds = double(elapsed_ns(rte_rdtsc())) / 1e9;
    // Frames still on their way back through the device under test.
    const std::uint64_t drain_until = rte_rdtsc() + hz / 4;
    while (rte_rdtsc() < drain_until) s.receive();
    const PortCounters tx = io.tx_counters(), rx = io.rx_counters();
    const double pps = seconds > 0 ? double(healthy + fault_sent) / seconds : 0;
    if (o.json) {
        std::printf("{\"sent\":%llu,\"healthy\":%llu,\"fault_frames\":%llu,\"seconds\":%.6f,\"offered_pps\":%.1f,"
                    "\"target_pps\":%s,\"busy_retries\":%llu,\"tx\":{\"opackets\":%llu,\"oerrors\":%llu},"
                    "\"rx\":%s}\n",
                    static_cast<unsigned long long>(s.sent), static_cast<unsigned long long>(healthy),
                    static_cast<unsigned long long>(fault_sent), seconds, pps,
                    o.max_rate ? "null" : std::to_string(o.spec.rate_pps).c_str(),
                    static_cast<unsigned long long>(s.busy_retries), static_cast<unsigned long long>(tx.packets),
                    static_cast<unsigned long long>(tx.errors),
                    io.has_rx() ? ("{\"received\":" + std::to_string(s.received) + ",\"ipackets\":" + std::to_string(rx.packets) +
                                   ",\"imissed\":" + std::to_string(rx.missed) + ",\"ierrors\":" + std::to_string(rx.errors) +
                                   ",\"nombuf\":" + std::to_string(rx.nombuf) + "}").c_str()
                                : "null");
    } else {
        std::printf("sent %llu frames (%llu healthy, %llu in fault episodes) in %.3f s: %.0f pps offered%s\n",
                    static_cast<unsigned long long>(s.sent), static_cast<unsigned long long>(healthy),
                    static_cast<unsigned long long>(fault_sent), seconds, pps,
                    o.max_rate ? " (as fast as the port took them)" : "");
        std::printf("tx port: %llu packets, %llu errors; port busy %llu times\n", static_cast<unsigned long long>(tx.packets),
                    static_cast<unsigned long long>(tx.errors), static_cast<unsigned long long>(s.busy_retries));
        if (io.has_rx()) {
            std::printf("rx port: %llu received, %llu missed, %llu errors; lost %lld\n", static_cast<unsigned long long>(s.received),
                        static_cast<unsigned long long>(rx.missed), static_cast<unsigned long long>(rx.errors),
                        static_cast<long long>(s.sent) - static_cast<long long>(s.received));
        }
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            std::fputs(kUsage, stdout);
            return 0;
        }
        if (arg == "--json") {
            o.json = true;
            continue;
        }
        if (arg == "--http") {
            o.spec.http = true;
            continue;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "tcpsleuth-gen: %s needs a value\n%s", arg.c_str(), kUsage);
            return 2;
        }
        const char* value = argv[++i];
        std::uint64_t n = 0;
        bool ok = true;
        if (arg == "--flows") ok = parse_number(value, TrafficGen::kMaxFlows, n), o.spec.flows = static_cast<std::uint32_t>(n);
        else if (arg == "--rounds") ok = parse_number(value, TrafficGen::kMaxRounds, n), o.spec.rounds = static_cast<std::uint32_t>(n);
        else if (arg == "--ipv6") ok = parse_number(value, 100, n), o.spec.ipv6_percent = static_cast<std::uint32_t>(n);
        else if (arg == "--ecn") ok = parse_number(value, 100, n), o.spec.ecn_percent = static_cast<std::uint32_t>(n);
        else if (arg == "--rate" && std::string(value) == "max") o.max_rate = true;
        else if (arg == "--rate") ok = parse_number(value, 1'000'000'000, n) && n > 0, o.spec.rate_pps = n;
        else if (arg == "--port-base") ok = parse_number(value, 65535, n) && n > 0, o.spec.port_base = static_cast<std::uint16_t>(n);
        else if (arg == "--laps") ok = parse_number(value, 1'000'000, n), o.laps = n;
        else if (arg == "--packets") ok = parse_number(value, ~0ull, n) && n > 0, o.packets = n;
        else if (arg == "--duration") {
            char* end = nullptr;
            o.duration_s = std::strtod(value, &end);
            ok = end != value && *end == '\0' && o.duration_s > 0 && o.duration_s <= 86400;
        }
        else if (arg == "--sizes") ok = parse_size_mix(value, o.spec.sizes);
        else if (arg == "--fault") {
            FaultRequest r{};
            ok = parse_fault_arg(value, r);
            if (ok) o.faults.push_back(r);
        }
        else if (arg == "--pcap") o.pcap = value;
        else if (arg == "--encap") {
            const std::string text = value;
            const auto colon = text.find(':');
            std::uint64_t id = o.encap_id;
            ok = parse_encap(text.substr(0, colon), o.encap) &&
                 (colon == std::string::npos || parse_number(text.c_str() + colon + 1, 0xffffff, id));
            o.encap_id = static_cast<std::uint32_t>(id);
        }
        else if (arg == "--tx") o.tx = value;
        else if (arg == "--rx") o.rx = value;
        else if (arg == "--eal") o.eal = value;
        else {
            std::fprintf(stderr, "tcpsleuth-gen: unknown option %s\n%s", arg.c_str(), kUsage);
            return 2;
        }
        if (!ok) {
            std::fprintf(stderr, "tcpsleuth-gen: %s: invalid value \"%s\"\n%s", arg.c_str(), value, kUsage);
            return 2;
        }
    }
    if (o.pcap.empty() == o.tx.empty()) {
        std::fprintf(stderr, "tcpsleuth-gen: give exactly one of --pcap OUT.pcap and --tx DEVICE\n%s", kUsage);
        return 2;
    }
    if (!o.rx.empty() && o.tx.empty()) {
        std::fprintf(stderr, "tcpsleuth-gen: --rx needs --tx\n");
        return 2;
    }
    if (o.laps == 0 && o.faults.empty()) {
        std::fprintf(stderr, "tcpsleuth-gen: --laps 0 writes fault episodes only; ask for some with --fault\n");
        return 2;
    }
    if (o.encap != EncapKind::kNone && o.pcap.empty()) {
        std::fprintf(stderr, "tcpsleuth-gen: --encap writes pcaps; --encap is for --pcap output\n");
        return 1;
    }
    if (o.max_rate && !o.pcap.empty()) {
        std::fprintf(stderr, "tcpsleuth-gen: --rate max is for transmitting; a pcap needs a rate for its timestamps\n");
        return 2;
    }
    try {
        TrafficGen gen(o.spec);
        const FaultEpisodes faults(o.faults);
        return o.pcap.empty() ? transmit(o, gen, faults) : write_pcap(o, gen, faults);
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "tcpsleuth-gen: %s\n", e.what());
        return 2;
    } catch (const std::runtime_error& e) {
        std::fprintf(stderr, "tcpsleuth-gen: %s\n", e.what());
        return 1;
    }
}
