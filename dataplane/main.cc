// tcpsleuth: explains why TCP connections silently fail.

#include <cstdio>
#include <cstring>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "dataplane/analyze.h"
#include "dataplane/compare.h"
#include "dataplane/config_commands.h"
#include "dataplane/probe/probe_main.h"
#include "dataplane/run.h"

namespace {

constexpr const char* kUsage =
    "usage: tcpsleuth COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  analyze FILE   diagnose the TCP flows in a pcap/pcapng capture (see: tcpsleuth analyze --help)\n"
    "  compare A B    what the device between two capture points did: dropped, rewrote, injected,\n"
    "                 delayed (see: tcpsleuth compare --help)\n"
    "  run            the live pipeline on DPDK ports, tap or inline (see: tcpsleuth run --help)\n"
    "  probe HOST[:PORT]\n"
    "                 confirm a verdict actively: options, ECN and path MTU toward HOST, and the hop\n"
    "                 where a device changes them (see: tcpsleuth probe --help)\n"
    "  check-config FILE\n"
    "                 validate a configuration file without starting anything\n"
    "  rules [FILE]   list the payload rules in effect (built-in, and FILE's [[rules]])\n"
    "  version        print the version\n";

}  // namespace

int main(int argc, char** argv) {
    // Logs go to stderr: stdout carries events.
    spdlog::set_default_logger(spdlog::stderr_color_mt("tcpsleuth"));
    if (argc < 2 || std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "--help") == 0 ||
        std::strcmp(argv[1], "help") == 0) {
        std::fputs(kUsage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 1 : 0;
    }
    if (std::strcmp(argv[1], "analyze") == 0) return tcpsleuth::analyze_main(argc - 1, argv + 1);
    if (std::strcmp(argv[1], "compare") == 0) return tcpsleuth::compare_main(argc - 1, argv + 1);
    if (std::strcmp(argv[1], "run") == 0) return tcpsleuth::run_main(argc - 1, argv + 1);
    if (std::strcmp(argv[1], "probe") == 0) return tcpsleuth::probe_main(argc - 1, argv + 1);
    if (std::strcmp(argv[1], "check-config") == 0) return tcpsleuth::check_config_main(argc - 1, argv + 1);
    if (std::strcmp(argv[1], "rules") == 0) return tcpsleuth::rules_main(argc - 1, argv + 1);
    if (std::strcmp(argv[1], "version") == 0 || std::strcmp(argv[1], "--version") == 0) {
        std::printf("tcpsleuth %s\n", TCPSLEUTH_VERSION);
        return 0;
    }
    std::fprintf(stderr, "tcpsleuth: unknown command '%s'\n%s", argv[1], kUsage);
    return 1;
}
