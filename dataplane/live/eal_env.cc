#include "eal_env.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <sched.h>

#include <cctype>
#include <cstring>
#include <spdlog/spdlog.h>

#include "config/loader.h"

namespace tcpsleuth::live {
namespace {

bool has_any(const std::vector<std::string>& args, std::initializer_list<const char*> names) {
    for (const std::string& a : args) {
        for (const char* n : names) {
            const std::size_t len = std::strlen(n);
            if (a == n || (a.size() > len && a.compare(0, len, n) == 0 && a[len] == '=')) return true;
        }
    }
    return false;
}

std::vector<int> usable_cpus() {
    std::vector<int> cpus;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        for (int c = 0; c < CPU_SETSIZE; ++c) {
            if (CPU_ISSET(c, &set)) cpus.push_back(c);
        }
    }
    if (cpus.empty()) cpus.push_back(0);
    return cpus;
}

}  // namespace

bool is_pci_address(const std::string& d) {
    // [domain:]bus:device.function, hexadecimal: 0000:3b:00.0 or 3b:00.0.
    const auto hex = [&](std::size_t from, std::size_t n) {
        if (from + n > d.size()) return false;
        for (std::size_t i = from; i < from + n; ++i) {
            if (!std::isxdigit(static_cast<unsigned char>(d[i]))) return false;
        }
        return true;
    };
    const std::size_t start = (d.size() >= 12 && hex(0, 4) && d[4] == ':') ? 5 : 0;
    return hex(start, 2) && d.size() > start + 7 && d[start + 2] == ':' && hex(start + 3, 2) &&
           d[start + 5] == '.' && std::isdigit(static_cast<unsigned char>(d[start + 6])) &&
           (d.size() == start + 7 || d[start + 7] == ',');
}

std::string port_name(const std::string& device) {
    return device.substr(0, device.find(','));
}

std::vector<std::string> eal_arguments(const DaemonConfig& cfg, const std::vector<std::string>& extra,
                                       unsigned lcores) {
    std::vector<std::string> args{"tcpsleuth"};
    std::vector<std::string> given = cfg.dpdk.eal_args;
    given.insert(given.end(), extra.begin(), extra.end());
    // EAL's start-up chatter is for DPDK developers; warnings and errors still show. A
    // --log-level given by the user comes later on the line and wins.
    args.push_back("--log-level=lib.eal:warning");
    // Telemetry (on unless [dpdk] telemetry = false) lives in the instance's runtime
    // directory, named by its --file-prefix; a flag in eal_args wins.
    if (!has_any(given, {"--telemetry", "--no-telemetry"})) args.push_back(cfg.dpdk.telemetry ? "--telemetry" : "--no-telemetry");
    if (!has_any(given, {"-l", "--lcores", "-c"})) {
        // One lcore per role. Where there are fewer CPUs than roles, lcores share CPUs: it
        // works (tests, laptops), but polling lcores then compete for time.
        std::vector<int> cpus = usable_cpus();
        std::vector<unsigned> chosen;
        if (!cfg.dpdk.cores.empty() && parse_cpu_list(cfg.dpdk.cores, chosen)) cpus.assign(chosen.begin(), chosen.end());
        std::string map;
        for (unsigned i = 0; i < lcores; ++i) {
            if (i != 0) map += ',';
            map += std::to_string(i);
            map += '@';
            map += std::to_string(cpus[i % cpus.size()]);
        }
        if (lcores > cpus.size()) {
            spdlog::warn("{} lcores on {} CPUs: lcores share CPUs and poll slower; list more CPUs in dpdk.cores",
                         lcores, cpus.size());
        }
        args.push_back("--lcores=" + map);
    }
    args.insert(args.end(), given.begin(), given.end());
    for (const PortConfig& p : cfg.ports) {
        args.push_back(is_pci_address(p.device) ? "-a" : "--vdev");
        args.push_back(p.device);
    }
    return args;
}

bool init_eal(std::vector<std::string> args, std::string& error) {
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string line;
    for (std::size_t i = 1; i < args.size(); ++i) {
        if (i > 1) line += ' ';
        line += args[i];
    }
    spdlog::info("EAL arguments: {}", line);
    if (rte_eal_init(static_cast<int>(args.size()), argv.data()) >= 0) return true;
    const int err = rte_errno;
    error = "DPDK EAL failed to start (" + std::string(rte_strerror(err)) + ") with arguments: " + line + "\n  ";
    switch (err) {
        case EACCES:
            error += "likely cause: not enough permission. Run as root, or give this user access to the hugepage mount and /dev/vfio.";
            break;
        case EAGAIN:
        case ENOMEM:
            error += "likely cause: not enough memory. Reserve hugepages (echo 512 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages), "
                     "or run without them: add \"--no-huge\", \"-m\", \"1024\" to [dpdk] eal_args.";
            break;
        case EALREADY:
            error += "likely cause: EAL was already initialised in this process.";
            break;
        case ENODEV:
        case ENOTSUP:
            error += "likely cause: a device or feature this machine lacks (see the EAL messages above).";
            break;
        case EPROTO:
            error += "likely cause: the CPU lacks an instruction set this DPDK build needs.";
            break;
        default:
            error += "likely cause: an EAL argument it does not accept (see the EAL messages above); check [dpdk] eal_args and what follows `--`.";
            break;
    }
    return false;
}

void cleanup_eal() {
    rte_eal_cleanup();
}

}  // namespace tcpsleuth::live
