// `tcpsleuth probe HOST[:PORT]`: confirm a verdict actively, and say at which hop the device
// sits (probe_tests.h says how each test works).

#include "dataplane/probe/probe_main.h"

#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "config/daemon_config.h"
#include "dataplane/probe/probe_run.h"
#include "inspectors/output/event_format.h"

namespace tcpsleuth {
namespace {

constexpr const char* kUsage =
    "usage: tcpsleuth probe HOST[:PORT] [options]      ([V6ADDR]:PORT for IPv6; PORT defaults to 80)\n"
    "\n"
    "Sends probes toward HOST and reports what the path does to TCP, named as the passive sensor\n"
    "names it (options.stripped, ecn.syn_blackhole, ecn.bleached, mtu.blackhole, rst.injected,\n"
    "idle.timeout_drop ...), with the\n"
    "hop where the device sits when the routers' ICMP quotes show it. Needs root or CAP_NET_RAW.\n"
    "Every probe counts against a rate and a budget; no connection is left open.\n"
    "\n"
    "tests:\n"
    "  options   SYNs with this host's options, TTL 1, 2, 3 ...: the hop whose ICMP quote of the SYN\n"
    "            lacks an option (or has another MSS); the server's SYN-ACK and any NOPs in it\n"
    "  ecn       an ECN-setup SYN against a plain one, and ECT(0) probes hop by hop\n"
    "  pmtu      ICMP echo with DF (binary search), the hop that stops the large size, and full-size\n"
    "            TCP segments on a real connection to PORT\n"
    "  rst       a SYN answered by a RST: from the server, or from a device nearer than the server\n"
    "            (the RST's TTL, the TTL at which our SYN first draws it, the server's echo distance)\n"
    "  seq       a real connection, then segments beyond a hole: SACK blocks off by a constant from\n"
    "            our numbers reveal a sequence-randomizing device (and the hop that shifts them)\n"
    "  idle      connections left idle for --max-idle, half, a quarter ... in parallel, then bisected:\n"
    "            the silence after which the path forgets a flow (not in the default list: it takes\n"
    "            up to twice --max-idle)\n"
    "\n"
    "options:\n"
    "  --tests LIST       comma-separated tests (default: options,ecn,pmtu,rst,seq)\n"
    "  --json             findings as JSON lines on stdout; the summary lines go to stderr\n"
    "  --rate PPS         at most PPS probe packets per second (default 20; 1 to 1000)\n"
    "  --max-packets N    at most N probe packets in all (default 600)\n"
    "  --max-hops N       TTLs tried (default 16; 1 to 64)\n"
    "  --wait MS          how long each probe's answer is waited for (default 1000)\n"
    "  --max-idle S       idle: the longest silence tried (default 120; 2 to 3600)\n"
    "  --source ADDR      send from ADDR (an address of this host) instead of the route's choice\n"
    "  -4, -6             HOST as IPv4 / IPv6 only\n"
    "  -h, --help         this text\n"
    "\n"
    "exit status: 0 probed, 1 usage error, 2 cannot probe (unknown host, refused target, no permission)\n";

struct Options {
    std::string host;
    std::vector<std::string> tests = {"options", "ecn", "pmtu", "rst", "seq"};
    bool json = false;
    std::string source;
    probe::Limits limits;
    probe::Settings settings;
    int family = AF_UNSPEC;
};

bool number(const char* text, long lo, long hi, long& out) {
    char* end = nullptr;
    out = std::strtol(text, &end, 10);
    return end != text && *end == '\0' && out >= lo && out <= hi;
}

int parse_options(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
        long n = 0;
        if (a == "-h" || a == "--help") {
            std::fputs(kUsage, stdout);
            return 0;
        } else if (a == "--json") {
            o.json = true;
        } else if (a == "--source") {
            const char* v = value();
            if (v == nullptr) return std::fprintf(stderr, "tcpsleuth probe: --source needs an address\n"), 1;
            o.source = v;
        } else if (a == "-4" || a == "-6") {
            o.family = a == "-4" ? AF_INET : AF_INET6;
        } else if (a == "--tests") {
            const char* v = value();
            if (v == nullptr) return std::fprintf(stderr, "tcpsleuth probe: --tests needs a list\n"), 1;
            std::string why;
            if (!parse_probe_tests(v, o.tests, why)) {
                std::fprintf(stderr, "tcpsleuth probe: --tests: %s\n", why.c_str());
                return 1;
            }
        } else if (a == "--rate" || a == "--max-packets" || a == "--max-hops" || a == "--wait" || a == "--max-idle") {
            const char* v = value();
            const long lo = a == "--max-idle" ? 2 : 1;
            const long hi = a == "--rate" ? 1000 : a == "--max-hops" ? 64 : a == "--wait" ? 60000 : a == "--max-idle" ? 3600 : 100000;
            if (v == nullptr || !number(v, lo, hi, n)) {
                std::fprintf(stderr, "tcpsleuth probe: %s must be a number from %ld to %ld\n", a.c_str(), lo, hi);
                return 1;
            }
            if (a == "--max-idle") o.settings.max_idle = std::chrono::seconds(n);
            if (a == "--rate") o.limits.rate_pps = static_cast<double>(n);
            if (a == "--max-packets") o.limits.max_packets = static_cast<std::uint32_t>(n);
            if (a == "--max-hops") o.settings.max_hops = static_cast<int>(n);
            if (a == "--wait") o.settings.wait = std::chrono::milliseconds(n);
        } else if (!a.empty() && a[0] == '-') {
            std::fprintf(stderr, "tcpsleuth probe: unknown option '%s'\n%s", a.c_str(), kUsage);
            return 1;
        } else if (o.host.empty()) {
            o.host = a;
        } else {
            std::fprintf(stderr, "tcpsleuth probe: one target, not '%s' too\n", a.c_str());
            return 1;
        }
    }
    if (o.host.empty()) {
        std::fprintf(stderr, "tcpsleuth probe: no target\n%s", kUsage);
        return 1;
    }
    return -1;
}

void print_finding(const probe::Finding& f, bool json) {
    if (json) {
        std::printf("%s\n", probe::finding_json(f).c_str());
        return;
    }
    std::string where;
    if (f.hop != 0) where = " [hop " + std::to_string(f.hop) + (f.hop_address.empty() ? "" : " " + f.hop_address) + "]";
    std::printf("  %s %s%s: %s\n    advice: %s\n", std::string(to_string(f.event.severity)).c_str(),
                std::string(event_name(f.event)).c_str(), where.c_str(), f.summary.c_str(), event_advice(f.event).c_str());
}

}  // namespace

int probe_main(int argc, char** argv) {
    Options o;
    if (const int rc = parse_options(argc, argv, o); rc >= 0) return rc;
    probe::Target target;
    std::string error;
    if (!probe::resolve_target(o.host, o.family, target, error)) {
        std::fprintf(stderr, "tcpsleuth probe: %s\n", error.c_str());
        return 2;
    }
    if (const std::string why = probe::refused_target(target); !why.empty()) {
        std::fprintf(stderr, "tcpsleuth probe: %s is %s: probes go to one host\n", target.text.c_str(), why.c_str());
        return 2;
    }
    std::FILE* lines = o.json ? stderr : stdout;
    const probe::Run run{.tests = o.tests, .limits = o.limits, .settings = o.settings, .source = o.source};
    const probe::RunEnd end = probe::run_probe(target, run, [&](const std::string&, const probe::TestResult& r) {
        for (const probe::Finding& f : r.findings) print_finding(f, o.json);
        std::fprintf(lines, "%s\n", r.line.c_str());
        std::fflush(stdout);
    });
    if (!end.started) {
        std::fprintf(stderr, "tcpsleuth probe: %s: %s\n", target.text.c_str(), end.error.c_str());
        return 2;
    }
    std::fprintf(lines, "probe %s port %u from %s: %u packets sent in %.1f s (limits: %u packets, %.0f per second)%s\n",
                 target.text.c_str(), target.port, end.source_text.c_str(), end.sent, end.seconds, o.limits.max_packets,
                 o.limits.rate_pps, end.budget_ran_out ? "; the packet budget ran out, so the last tests are incomplete" : "");
    return 0;
}

}  // namespace tcpsleuth
