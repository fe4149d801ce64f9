// `tcpsleuth probe HOST[:PORT]`: confirm a verdict actively, and say at which hop the device
// sits (probe_tests.h says how each test works).

#include "dataplane/probe/probe_main.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "dataplane/probe/probe_tests.h"
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
    "  -4, -6             HOST as IPv4 / IPv6 only\n"
    "  -h, --help         this text\n"
    "\n"
    "exit status: 0 probed, 1 usage error, 2 cannot probe (unknown host, refused target, no permission)\n";

struct Options {
    std::string host;
    std::vector<std::string> tests = {"options", "ecn", "pmtu", "rst", "seq"};
    bool json = false;
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
        } else if (a == "-4" || a == "-6") {
            o.family = a == "-4" ? AF_INET : AF_INET6;
        } else if (a == "--tests") {
            const char* v = value();
            if (v == nullptr) return std::fprintf(stderr, "tcpsleuth probe: --tests needs a list\n"), 1;
            o.tests.clear();
            std::string list = v;
            for (std::size_t at = 0; at <= list.size();) {
                const std::size_t comma = std::min(list.find(',', at), list.size());
                const std::string t = list.substr(at, comma - at);
                if (t != "options" && t != "ecn" && t != "pmtu" && t != "rst" && t != "seq" && t != "idle") {
                    std::fprintf(stderr, "tcpsleuth probe: unknown test '%s' (options, ecn, pmtu, rst, seq, idle)\n", t.c_str());
                    return 1;
                }
                o.tests.push_back(t);
                at = comma + 1;
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

// Broadcast and multicast targets are refused (every host on a link would answer, RFC 1122
// section 3.2.2 forbids answering some of them with ICMP errors, and the verdicts are about
// one path), as are unspecified ones.
std::string refused_target(const probe::Target& t) {
    const auto& a = t.ip;
    if (t.v6) {
        if (a[0] == 0xff) return "a multicast address";
        if (std::all_of(a.begin(), a.end(), [](std::uint8_t b) { return b == 0; })) return "the unspecified address";
        return {};
    }
    if ((a[0] & 0xf0) == 0xe0) return "a multicast address";
    if (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255) return "the broadcast address";
    if (a[0] == 0) return "an unspecified address";
    ifaddrs* list = nullptr;
    std::string why;
    if (getifaddrs(&list) == 0) {
        for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
            if ((i->ifa_flags & IFF_BROADCAST) == 0 || i->ifa_broadaddr == nullptr || i->ifa_broadaddr->sa_family != AF_INET) continue;
            if (std::memcmp(&reinterpret_cast<const sockaddr_in*>(i->ifa_broadaddr)->sin_addr, a.data(), 4) == 0) {
                why = std::string("the broadcast address of ") + i->ifa_name;
            }
        }
        freeifaddrs(list);
    }
    return why;
}

bool resolve(const Options& o, probe::Target& t, std::string& error) {
    std::string host = o.host, port = "80";
    if (!host.empty() && host[0] == '[') {
        const std::size_t close = host.find(']');
        if (close == std::string::npos) return error = "a '[' without ']' in " + o.host, false;
        if (close + 1 < host.size()) {
            if (host[close + 1] != ':') return error = "expected ':PORT' after ']' in " + o.host, false;
            port = host.substr(close + 2);
        }
        host = host.substr(1, close - 1);
    } else if (std::count(host.begin(), host.end(), ':') == 1) {
        port = host.substr(host.find(':') + 1);
        host = host.substr(0, host.find(':'));
    }
    long p = 0;
    if (!number(port.c_str(), 1, 65535, p)) return error = "port '" + port + "' is not a number from 1 to 65535", false;
    addrinfo hints{};
    hints.ai_family = o.family;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res); rc != 0 || res == nullptr) {
        return error = host + ": " + gai_strerror(rc), false;
    }
    std::memcpy(&t.addr, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    t.v6 = t.addr.ss_family == AF_INET6;
    t.port = static_cast<std::uint16_t>(p);
    if (t.v6) {
        auto& in6 = reinterpret_cast<sockaddr_in6&>(t.addr);
        in6.sin6_port = htons(t.port);
        std::memcpy(t.ip.data(), &in6.sin6_addr, 16);
    } else {
        auto& in4 = reinterpret_cast<sockaddr_in&>(t.addr);
        in4.sin_port = htons(t.port);
        std::memcpy(t.ip.data(), &in4.sin_addr, 4);
    }
    const std::string addr = probe::address_text(t.ip, t.v6);
    t.text = host == addr ? addr : host + " (" + addr + ")";
    return true;
}

void print_finding(const probe::Finding& f, bool json) {
    if (json) {
        const std::string line = format_probe_event_json(f.event, f.summary, [&](JsonWriter& w) {
            w.field("probe_test", f.test);
            if (f.hop != 0) w.field("hop", static_cast<std::uint64_t>(f.hop));
            if (!f.hop_address.empty()) w.field("hop_address", f.hop_address);
            if (!f.previous_address.empty()) w.field("previous_hop_address", f.previous_address);
        });
        std::printf("%s\n", line.c_str());
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
    if (!resolve(o, target, error)) {
        std::fprintf(stderr, "tcpsleuth probe: %s\n", error.c_str());
        return 2;
    }
    if (const std::string why = refused_target(target); !why.empty()) {
        std::fprintf(stderr, "tcpsleuth probe: %s is %s: probes go to one host\n", target.text.c_str(), why.c_str());
        return 2;
    }
    probe::RawPath path;
    if (!path.open(target.addr, o.limits, error)) {
        std::fprintf(stderr, "tcpsleuth probe: %s: %s\n", target.text.c_str(), error.c_str());
        return 2;
    }
    std::FILE* lines = o.json ? stderr : stdout;
    std::fprintf(lines, "probe %s port %u from %s (at most %u packets, %.0f per second)\n", target.text.c_str(), target.port,
                 probe::address_text(path.src(), target.v6).c_str(), o.limits.max_packets, o.limits.rate_pps);
    const auto start = std::chrono::steady_clock::now();
    for (const std::string& name : o.tests) {
        const probe::TestResult r = name == "options" ? probe::test_options(path, target, o.settings)
                                    : name == "ecn"   ? probe::test_ecn(path, target, o.settings)
                                    : name == "pmtu"  ? probe::test_pmtu(path, target, o.settings)
                                    : name == "rst"   ? probe::test_rst(path, target, o.settings)
                                    : name == "seq"   ? probe::test_seq(path, target, o.settings)
                                                      : probe::test_idle(path, target, o.settings);
        for (const probe::Finding& f : r.findings) print_finding(f, o.json);
        std::fprintf(lines, "%s\n", r.line.c_str());
        std::fflush(stdout);
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(lines, "probe: %u packets sent in %.1f s (limits: %u packets, %.0f per second)%s\n", path.sent(), secs,
                 o.limits.max_packets, o.limits.rate_pps,
                 path.refused() != 0 ? "; the packet budget ran out, so the last tests are incomplete" : "");
    return 0;
}

}  // namespace tcpsleuth
