#include "dataplane/probe/probe_run.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "inspectors/output/event_format.h"

namespace tcpsleuth::probe {

// Broadcast and multicast targets are refused (every host on a link would answer, RFC 1122
// section 3.2.2 forbids answering some of them with ICMP errors, and the verdicts are about
// one path), as are unspecified ones.
std::string refused_target(const Target& t) {
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

bool resolve_target(const std::string& spec, int family, Target& t, std::string& error) {
    std::string host = spec, port = "80";
    if (!host.empty() && host[0] == '[') {
        const std::size_t close = host.find(']');
        if (close == std::string::npos) return error = "a '[' without ']' in " + spec, false;
        if (close + 1 < host.size()) {
            if (host[close + 1] != ':') return error = "expected ':PORT' after ']' in " + spec, false;
            port = host.substr(close + 2);
        }
        host = host.substr(1, close - 1);
    } else if (std::count(host.begin(), host.end(), ':') == 1) {
        port = host.substr(host.find(':') + 1);
        host = host.substr(0, host.find(':'));
    }
    char* end = nullptr;
    const long p = std::strtol(port.c_str(), &end, 10);
    if (end == port.c_str() || *end != '\0' || p < 1 || p > 65535) return error = "port '" + port + "' is not a number from 1 to 65535", false;
    addrinfo hints{};
    hints.ai_family = family;
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
    const std::string addr = address_text(t.ip, t.v6);
    t.text = host == addr ? addr : host + " (" + addr + ")";
    return true;
}

RunEnd run_probe(Target& t, const Run& run, const std::function<void(const std::string&, const TestResult&)>& on_test) {
    RunEnd end;
    if (!run.source.empty()) {
        sockaddr_storage src{};
        const bool v4 = inet_pton(AF_INET, run.source.c_str(), &reinterpret_cast<sockaddr_in&>(src).sin_addr) == 1;
        const bool v6 = !v4 && inet_pton(AF_INET6, run.source.c_str(), &reinterpret_cast<sockaddr_in6&>(src).sin6_addr) == 1;
        if ((!v4 && !v6) || v6 != t.v6) {
            end.error = "the source " + run.source + " is not an address of the target's family";
            return end;
        }
        src.ss_family = v6 ? AF_INET6 : AF_INET;
        t.source = src;
        t.has_source = true;
    }
    RawPath path;
    if (!path.open(t.addr, run.limits, end.error, t.has_source ? &t.source : nullptr)) return end;
    end.started = true;
    end.source_text = address_text(path.src(), t.v6);
    const auto start = std::chrono::steady_clock::now();
    for (const std::string& name : run.tests) {
        const TestResult r = name == "options" ? test_options(path, t, run.settings)
                             : name == "ecn"   ? test_ecn(path, t, run.settings)
                             : name == "pmtu"  ? test_pmtu(path, t, run.settings)
                             : name == "rst"   ? test_rst(path, t, run.settings)
                             : name == "seq"   ? test_seq(path, t, run.settings)
                                               : test_idle(path, t, run.settings);
        on_test(name, r);
    }
    end.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    end.sent = path.sent();
    end.budget_ran_out = path.refused() != 0;
    return end;
}

std::string finding_json(const Finding& f) {
    return format_probe_event_json(f.event, f.summary, [&](JsonWriter& w) {
        w.field("probe_test", f.test);
        if (f.hop != 0) w.field("hop", static_cast<std::uint64_t>(f.hop));
        if (!f.hop_address.empty()) w.field("hop_address", f.hop_address);
        if (!f.previous_address.empty()) w.field("previous_hop_address", f.previous_address);
    });
}

}  // namespace tcpsleuth::probe
