// tcpsleuth probe, pmtu: the path MTU by DF echoes, the hop that stops large packets, and full-size
// TCP segments on a real connection (probe_tests.h).

#include "dataplane/probe/probe_common.h"

#include <netinet/in.h>
#include <linux/tcp.h>  // tcp_info with tcpi_bytes_acked (glibc's lacks it)
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace tcpsleuth::probe {

namespace {

enum class Echo { kReply, kTimeExceeded, kTooBig, kSilent };

struct EchoResult {
    Echo what = Echo::kSilent;
    std::uint32_t mtu = 0;
    Address from{};
};

// One DF echo of `size` IP bytes, twice at most.
EchoResult echo(RawPath& path, std::uint16_t id, std::uint16_t& seq, std::size_t size, int ttl,
                const Settings& s, bool want_time_exceeded = false) {
    EchoResult r;
    for (int i = 0; i < 2; ++i) {
        const std::uint16_t n = ++seq;
        if (!path.send_echo(id, n, size, ttl)) return r;
        const auto got = path.wait(Clock::now() + s.wait, [&](const Arrival& a) {
            if (!a.icmp) return false;
            if (a.msg.echo_reply) return a.msg.echo_id == id && a.msg.echo_seq == n;
            return a.msg.quoted && (a.msg.proto == 1 || a.msg.proto == 58) && a.msg.echo_id == id && a.msg.echo_seq == n &&
                   (a.msg.too_big || (want_time_exceeded && a.msg.time_exceeded));
        });
        if (!got) continue;
        r.from = got->from;
        if (got->msg.too_big) {
            r.what = Echo::kTooBig;
            r.mtu = got->msg.mtu;
        } else {
            r.what = got->msg.time_exceeded ? Echo::kTimeExceeded : Echo::kReply;
        }
        return r;
    }
    return r;
}

struct TcpTransfer {
    bool connected = false;
    bool all_acked = false;
    std::uint32_t acked = 0;
    std::uint32_t sent = 0;
    std::uint32_t mss = 0;
    std::uint32_t pmtu = 0;
    std::uint32_t retransmits = 0;
    std::uint32_t waited_ms = 0;
    std::uint16_t local_port = 0;
    std::string error;
};

// A real connection that sends `bytes` of zeros and watches TCP_INFO until they are all
// acknowledged or `wait` passes; closed with a RST (SO_LINGER 0) either way: never left open.
TcpTransfer transfer(const Target& t, const Settings& s) {
    TcpTransfer out;
    const int fd = probe_socket(t);
    if (fd < 0) {
        out.error = std::strerror(errno);
        return out;
    }
    ::connect(fd, reinterpret_cast<const sockaddr*>(&t.addr), t.v6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
    pollfd p{fd, POLLOUT, 0};
    const int err = ::poll(&p, 1, 3000) == 1 ? socket_error(fd) : 0;
    if (p.revents == 0 || err != 0) {
        out.error = err != 0 ? std::strerror(err) : "no answer within 3 s";
        ::close(fd);
        return out;
    }
    out.connected = true;
    sockaddr_storage local{};
    socklen_t llen = sizeof local;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &llen) == 0) {
        out.local_port = ntohs(reinterpret_cast<sockaddr_in&>(local).sin_port);  // same place in sockaddr_in6
    }
    std::vector<std::uint8_t> zeros(16384, 0);
    const auto start = Clock::now();
    const auto deadline = start + s.tcp_wait;
    tcp_info info{};
    socklen_t len = 0;
    while (Clock::now() < deadline) {
        while (out.sent < s.tcp_bytes) {
            const ssize_t n = ::send(fd, zeros.data(), std::min<std::size_t>(zeros.size(), s.tcp_bytes - out.sent), MSG_NOSIGNAL);
            if (n <= 0) break;
            out.sent += static_cast<std::uint32_t>(n);
        }
        len = sizeof info;
        if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0) {
            // bytes_acked counts the SYN's sequence number too (RFC 4898 tcpEStatsAppHCThruOctetsAcked + 1).
            out.acked = static_cast<std::uint32_t>(std::min<std::uint64_t>(info.tcpi_bytes_acked > 0 ? info.tcpi_bytes_acked - 1 : 0, UINT32_MAX));
            out.mss = info.tcpi_snd_mss;
            out.pmtu = info.tcpi_pmtu;
            out.retransmits = info.tcpi_total_retrans;
            if (out.sent == s.tcp_bytes && out.acked >= s.tcp_bytes) {
                out.all_acked = true;
                break;
            }
        }
        ::poll(nullptr, 0, 50);
    }
    out.waited_ms = static_cast<std::uint32_t>(std::chrono::duration_cast<milliseconds>(Clock::now() - start).count());
    ::close(fd);
    return out;
}

}  // namespace

TestResult test_pmtu(RawPath& path, const Target& t, const Settings& s) {
    TestResult r;
    const std::size_t header = t.v6 ? 40 : 20;
    const std::size_t floor = t.v6 ? 1280 : 576;  // every link carries these (RFC 8200, RFC 791)
    const int local = path.route_mtu() > 0 ? path.route_mtu() : 1500;
    const auto id = static_cast<std::uint16_t>(rng()());
    std::uint16_t seq = 0;
    std::string line = "pmtu: ";
    // ICMP echo with DF: what passes, what does not, and whether the path says why.
    std::size_t passes = 0, fails = 0;
    std::uint32_t told_mtu = 0;
    Address told_by{};
    const EchoResult small = echo(path, id, seq, std::min<std::size_t>(floor, static_cast<std::size_t>(local)), 64, s);
    const bool echo_answered = small.what == Echo::kReply;
    if (echo_answered) {
        passes = std::min<std::size_t>(floor, static_cast<std::size_t>(local));
        std::size_t lo = passes, hi = static_cast<std::size_t>(local) + 1;  // lo passes, hi does not
        const EchoResult full = echo(path, id, seq, static_cast<std::size_t>(local), 64, s);
        if (full.what == Echo::kReply) {
            lo = static_cast<std::size_t>(local);
        } else {
            hi = static_cast<std::size_t>(local);
            if (full.what == Echo::kTooBig) told_mtu = full.mtu, told_by = full.from;
        }
        while (hi - lo > 1 && told_mtu == 0) {
            const std::size_t mid = (lo + hi) / 2;
            const EchoResult e = echo(path, id, seq, mid, 64, s);
            if (e.what == Echo::kReply) {
                lo = mid;
            } else {
                hi = mid;
                if (e.what == Echo::kTooBig) told_mtu = e.mtu, told_by = e.from;
            }
        }
        if (told_mtu != 0) lo = told_mtu, hi = told_mtu + 1;
        passes = lo;
        fails = hi <= static_cast<std::size_t>(local) ? hi : 0;
        line += "ICMP echo with DF passes " + std::to_string(passes) + " bytes" +
                (fails != 0 ? ", not " + std::to_string(fails) : " (the local MTU)");
        if (told_mtu != 0) line += "; " + address_text(told_by, t.v6) + " said its next-hop MTU is " + std::to_string(told_mtu);
    } else {
        line += "ICMP echo not answered (filtered?), TCP alone";
    }
    // The hop that stops carrying the large size: large and small echoes, TTL by TTL.
    int narrow_hop = 0;
    std::string narrow_after;
    if (fails != 0 && told_mtu == 0) {
        for (int ttl = 1; ttl <= s.max_hops; ++ttl) {
            const EchoResult big = echo(path, id, seq, fails, ttl, s, true);
            if (big.what == Echo::kTimeExceeded) {  // this router still received the large size
                narrow_after = address_text(big.from, t.v6);
                continue;
            }
            if (big.what != Echo::kSilent) break;  // the target, or a router that says why
            const EchoResult little = echo(path, id, seq, passes, ttl, s, true);
            if (little.what != Echo::kSilent) narrow_hop = ttl;
            break;
        }
    }
    // A real connection with full-size segments.
    const TcpTransfer x = transfer(t, s);
    if (!x.connected) {
        r.line = line + "; TCP to port " + std::to_string(t.port) + ": " + x.error;
        return r;
    }
    // The kernel fills segments to the path MTU it believes (tcpi_snd_mss leaves room for options).
    const std::uint32_t seg_ip = x.pmtu != 0 ? x.pmtu : x.mss + static_cast<std::uint32_t>(header) + 20;
    if (x.all_acked) {
        line += "; TCP: " + std::to_string(x.sent) + " bytes acknowledged in " + std::to_string(x.waited_ms) + " ms, segments of " +
                std::to_string(x.mss) + " bytes (path MTU " + std::to_string(x.pmtu) + ")";
        if (x.pmtu != 0 && static_cast<int>(x.pmtu) < local) {
            IcmpFragNeeded d;
            d.mtu = static_cast<std::uint16_t>(x.pmtu);
            d.messages = 1;
            Finding f = finding(path, t, x.local_port, "pmtu", d, Severity::kInfo, Confidence::kHigh,
                                "path MTU discovery works: the path announced an MTU of " + std::to_string(x.pmtu) +
                                    " bytes (below the local " + std::to_string(local) +
                                    ") and TCP shrank its segments to " + std::to_string(x.mss) + " bytes");
            r.findings.push_back(std::move(f));
        }
        r.line = line;
        return r;
    }
    line += "; TCP: " + std::to_string(x.acked) + " of " + std::to_string(x.sent) + " bytes acknowledged after " +
            std::to_string(x.waited_ms) + " ms, " + std::to_string(x.retransmits) + " retransmissions of " +
            std::to_string(x.mss) + "-byte segments";
    if (x.retransmits == 0) {
        r.line = line + " (a slow receiver, not the path)";
        return r;
    }
    MtuBlackhole d;
    d.sender = Side::kClient;
    d.lost_payload = static_cast<std::uint16_t>(x.mss);
    d.lost_ip_len = static_cast<std::uint16_t>(seg_ip);
    d.delivered_ip_len = static_cast<std::uint16_t>(passes);
    d.carried_ip_len = static_cast<std::uint16_t>(passes);
    d.retransmissions = static_cast<std::uint16_t>(std::min<std::uint32_t>(x.retransmits, 65535));
    d.waited_ms = x.waited_ms;
    d.threshold = 1;
    const bool bracket = passes != 0 && fails != 0 && passes < seg_ip;
    std::string summary = std::to_string(x.mss) + "-byte segments (" + std::to_string(seg_ip) +
                          "-byte packets) to port " + std::to_string(t.port) + " were resent " + std::to_string(x.retransmits) +
                          " times and never acknowledged, and no ICMP 'fragmentation needed' / 'packet too big' came back";
    if (bracket) {
        summary += "; ICMP echo with DF shows the path MTU " +
                   (passes + 1 == fails ? "is " + std::to_string(passes) + " bytes"
                                        : "between " + std::to_string(passes) + " and " + std::to_string(fails - 1) + " bytes");
    }
    Finding f = finding(path, t, x.local_port, "pmtu", d, Severity::kCritical, bracket ? Confidence::kHigh : Confidence::kMedium, summary);
    if (narrow_hop != 0) {
        f.hop = narrow_hop;
        f.previous_address = narrow_after;
        f.summary += "; " + std::to_string(fails) + "-byte packets stop after hop " + std::to_string(narrow_hop - 1) +
                     (narrow_after.empty() ? "" : " (" + narrow_after + ")") + ", which sends no ICMP about them";
    }
    r.findings.push_back(std::move(f));
    r.line = line;
    return r;
}

}  // namespace tcpsleuth::probe
