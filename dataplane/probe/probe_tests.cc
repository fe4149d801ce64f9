#include "dataplane/probe/probe_tests.h"

#include <netinet/in.h>
#include <linux/tcp.h>  // tcp_info with tcpi_bytes_acked (glibc's lacks it)
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "dataplane/packet/packet_view.h"
#include "inspectors/evidence/syn_fingerprint.h"
#include "inspectors/flow/flow_key.h"

namespace tcpsleuth::probe {
namespace {

using std::chrono::milliseconds;

std::mt19937& rng() {
    static std::mt19937 r{std::random_device{}()};
    return r;
}
std::uint16_t random_port() { return static_cast<std::uint16_t>(49152 + rng()() % 16000); }
std::uint32_t random_isn() { return rng()(); }

std::uint64_t wall_ns() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

// A probe's address as the flow key keeps it: IPv4 v4-mapped (::ffff:a.b.c.d).
std::array<std::uint8_t, 16> key_address(const Address& a, bool v6) {
    if (v6) return a;
    std::array<std::uint8_t, 16> k{};
    k[10] = k[11] = 0xff;
    std::memcpy(k.data() + 12, a.data(), 4);
    return k;
}

// The finding as the sensor would raise it about our connection: we are the client.
Finding finding(const RawPath& path, const Target& t, std::uint16_t sport, const char* test, const EventDetail& d,
                Severity sev, Confidence conf, std::string summary) {
    Finding f;
    Event& e = f.event;
    Dir dir;
    e.key = make_flow_key(key_address(path.src(), t.v6), sport, key_address(t.ip, t.v6), t.port, 0, t.v6 ? 6 : 4, dir);
    e.client_is_lo = dir == Dir::kLoToHi;
    e.flow_id = 1;
    e.ts_ns = wall_ns();
    e.severity = sev;
    e.confidence = conf;
    e.where = Where::kDownstream;  // between us and the server, on our packets' way
    e.detail = d;
    f.summary = std::move(summary);
    f.test = test;
    return f;
}

struct HopReply {
    int ttl = 0;
    bool answered = false;
    Address from{};
    Icmp icmp;
};

struct Trace {
    std::vector<HopReply> hops;
    bool reached = false;       // the target answered (SYN-ACK or RST)
    int reached_ttl = 0;
    Arrival answer;             // its answer
    bool stopped = false;       // an unreachable, or the packet budget
};

bool same_ip(const Address& a, const Address& b, bool v6) { return std::memcmp(a.data(), b.data(), v6 ? 16 : 4) == 0; }

// `tmpl` sent with TTL 1, 2, ... (sequence number base + TTL) until the target answers or
// four hops in a row stay silent.
Trace trace(RawPath& path, const Target& t, const Segment& tmpl, std::uint8_t ecn, const Settings& s) {
    Trace tr;
    int silent = 0;
    for (int ttl = 1; ttl <= s.max_hops && silent < 4; ++ttl) {
        Segment seg = tmpl;
        seg.seq = tmpl.seq + static_cast<std::uint32_t>(ttl);
        if (!path.send_tcp(seg, ttl, ecn)) {
            tr.stopped = true;
            break;
        }
        HopReply hop;
        hop.ttl = ttl;
        const auto got = path.wait(Clock::now() + s.wait, [&](const Arrival& a) {
            if (!a.icmp) return a.sport == t.port && a.dport == seg.sport && (a.flags & (kSyn | kRst)) != 0;
            const Icmp& q = a.msg;
            return q.quoted && q.proto == 6 && q.has_ports && q.dport == t.port && same_ip(q.dst, t.ip, t.v6) &&
                   (q.sport == seg.sport || (q.has_seq && q.seq == seg.seq));
        });
        if (!got) {
            ++silent;
            tr.hops.push_back(hop);
            continue;
        }
        silent = 0;
        if (!got->icmp) {
            tr.reached = true;
            tr.reached_ttl = ttl;
            tr.answer = *got;
            break;
        }
        hop.answered = true;
        hop.from = got->from;
        hop.icmp = got->msg;
        tr.hops.push_back(hop);
        if (!got->msg.time_exceeded) {
            tr.stopped = true;
            break;
        }
    }
    return tr;
}

// The same segment with full TTL, up to `tries` times a wait apart: the target's answer.
std::optional<Arrival> ask(RawPath& path, const Target& t, const Segment& seg, std::uint8_t ecn, int tries, const Settings& s) {
    for (int i = 0; i < tries; ++i) {
        if (!path.send_tcp(seg, 64, ecn)) return std::nullopt;
        const auto got = path.wait(Clock::now() + s.wait, [&](const Arrival& a) {
            return !a.icmp && a.sport == t.port && a.dport == seg.sport && (a.flags & (kSyn | kRst)) != 0;
        });
        if (got) return got;
    }
    return std::nullopt;
}

Segment syn_template(const RawPath& path, const Target& t, const SynOptions& so) {
    Segment s;
    s.src = path.src();
    s.dst = t.ip;
    s.v6 = t.v6;
    s.sport = random_port();
    s.dport = t.port;
    s.seq = random_isn();
    s.flags = kSyn;
    s.options = syn_option_bytes(so, static_cast<std::uint32_t>(wall_ns() / 1'000'000));
    return s;
}

SynOptions local_options(const RawPath& path) {
    SynOptions so;
    const int mtu = path.route_mtu();
    if (mtu > 0) so.mss = static_cast<std::uint16_t>(std::clamp(mtu - (path.v6() ? 60 : 40), 536, 65495));
    return so;
}

std::string hop_name(const HopReply& h, bool v6) { return "hop " + std::to_string(h.ttl) + " (" + address_text(h.from, v6) + ")"; }

constexpr std::pair<OptionKind, TcpOpt> kOptions[] = {
    {OptionKind::kMss, kOptMss}, {OptionKind::kSackPerm, kOptSackPerm}, {OptionKind::kTimestamp, kOptTimestamp},
    {OptionKind::kWscale, kOptWscale}};

}  // namespace

int probe_socket(const Target& t) {
    const int fd = ::socket(t.v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    const linger abort{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    sockaddr_storage local{};
    local.ss_family = t.v6 ? AF_INET6 : AF_INET;
    if (t.has_source) local = t.source;  // its port 0: the kernel picks one
    ::bind(fd, reinterpret_cast<const sockaddr*>(&local), t.v6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
    return fd;
}

TestResult test_options(RawPath& path, const Target& t, const Settings& s) {
    TestResult r;
    const SynOptions so = local_options(path);
    const Segment tmpl = syn_template(path, t, so);
    const Trace tr = trace(path, t, tmpl, 0, s);
    int whole = 0, answered = 0;
    for (const HopReply& h : tr.hops) answered += h.answered, whole += h.answered && h.icmp.options_whole;
    std::string changes;
    for (const auto& [kind, bit] : kOptions) {
        const HopReply* intact = nullptr;
        for (const HopReply& h : tr.hops) {
            if (!h.answered || !h.icmp.options_whole) continue;
            const bool present = h.icmp.options.has(bit);
            const bool rewritten = kind == OptionKind::kMss && present && h.icmp.options.mss != so.mss;
            if (present && !rewritten) {
                intact = &h;
                continue;
            }
            OptionsStripped d;
            d.option = kind;
            d.side = Side::kClient;
            d.layout = h.icmp.options.layout;
            const NopFill fill = find_nop_fill(h.icmp.options.layout);
            d.stack = fill.stack;
            if ((fill.stripped & bit) != 0) d.evidence |= kEvidenceNopFill;
            std::string what = rewritten ? "rewrote the MSS of our SYN from " + std::to_string(so.mss) + " to " +
                                               std::to_string(h.icmp.options.mss)
                                         : "removed " + std::string(to_string(kind)) + " from our SYN" +
                                               ((fill.stripped & bit) != 0 ? " (NOPs in its place)" : "");
            Finding f = finding(path, t, tmpl.sport, "options", d, Severity::kWarning, Confidence::kHigh,
                                "a device before " + hop_name(h, t.v6) + " " + what + ": " +
                                    (intact != nullptr ? hop_name(*intact, t.v6) + " still quoted it intact"
                                                       : "the first router to quote the SYN already saw it so"));
            f.hop = h.ttl;
            f.hop_address = address_text(h.from, t.v6);
            if (intact != nullptr) f.previous_address = address_text(intact->from, t.v6);
            changes += (changes.empty() ? "" : "; ") + f.summary.substr(std::strlen("a device before "));
            r.findings.push_back(std::move(f));
            break;
        }
    }
    // The server's answer: what it agreed to, and NOPs where its own stack puts an option
    // (stripped on the way back, where quotes of our SYN cannot see).
    std::string answer = "the server did not answer";
    if (tr.reached && (tr.answer.flags & kSyn) != 0) {
        const TcpOptions& o = tr.answer.options;
        answer = "the server's SYN-ACK at hop " + std::to_string(tr.reached_ttl) + " offered";
        for (const auto& [kind, bit] : kOptions) {
            if (o.has(bit)) answer += " " + std::string(to_string(kind));
        }
        const NopFill fill = find_nop_fill(o.layout);
        for (const auto& [kind, bit] : kOptions) {
            if ((fill.stripped & bit) == 0) continue;
            OptionsStripped d;
            d.option = kind;
            d.side = Side::kServer;
            d.layout = o.layout;
            d.stack = fill.stack;
            d.evidence = kEvidenceNopFill;
            r.findings.push_back(finding(path, t, tmpl.sport, "options", d, Severity::kWarning, Confidence::kMedium,
                                         "the server's SYN-ACK arrived with NOPs where its stack puts " +
                                             std::string(to_string(kind)) +
                                             ": a device on the way back removed it (quotes of our SYN cannot say which)"));
        }
    } else if (tr.reached) {
        answer = "the server answered with RST at hop " + std::to_string(tr.reached_ttl) + " (port closed?)";
    }
    r.line = "options: " + std::to_string(tr.hops.size() + (tr.reached ? 1 : 0)) + " hops probed, " +
             std::to_string(answered) + " routers answered (" + std::to_string(whole) + " quoted the whole SYN); " +
             (changes.empty() ? std::string("no router saw our SYN's options changed") : changes) + "; " + answer;
    return r;
}

TestResult test_ecn(RawPath& path, const Target& t, const Settings& s) {
    TestResult r;
    const SynOptions so = local_options(path);
    // A plain SYN, then an ECN-setup SYN (ECE+CWR), each with its own port.
    Segment plain = syn_template(path, t, so);
    Segment ecn = syn_template(path, t, so);
    ecn.flags = kSyn | kEce | kCwr;
    const auto plain_answer = ask(path, t, plain, 0, 3, s);
    const auto ecn_start = Clock::now();
    const auto ecn_answer = ask(path, t, ecn, 0, 3, s);
    const auto waited = std::chrono::duration_cast<milliseconds>(Clock::now() - ecn_start).count();
    std::string line;
    if (plain_answer && !ecn_answer) {
        // Where ECN SYNs stop: the last router that quotes one, against the plain SYN's trace.
        Segment traced = ecn;
        traced.sport = random_port();
        const Trace tr = trace(path, t, traced, 0, s);
        const HopReply* last = nullptr;
        for (const HopReply& h : tr.hops) {
            if (h.answered && h.icmp.time_exceeded) last = &h;
        }
        EcnSynBlackhole d;
        d.ecn_syns = 3;
        d.waited_ms = static_cast<std::uint32_t>(waited);
        Finding f = finding(path, t, ecn.sport, "ecn", d, Severity::kWarning, Confidence::kHigh,
                            "3 ECN-setup SYNs (ECE+CWR) went unanswered while a plain SYN was answered" +
                                (last != nullptr ? std::string("; the last router to see one was ") + hop_name(*last, t.v6) +
                                                       ", so the device sits after it"
                                                 : std::string("; no router quoted one")));
        if (last != nullptr) {
            f.hop = last->ttl + 1;
            f.previous_address = address_text(last->from, t.v6);
        }
        r.findings.push_back(std::move(f));
        line = "ecn: plain SYN answered, ECN-setup SYN not (3 tries)";
    } else if (!plain_answer) {
        line = "ecn: the server answers no SYN at all; nothing to compare";
    } else {
        const bool agreed = (ecn_answer->flags & kSyn) != 0 && (ecn_answer->flags & kEce) != 0 && (ecn_answer->flags & kCwr) == 0;
        line = std::string("ecn: both SYNs answered; the server ") + (agreed ? "agreed to ECN" : "did not agree to ECN");
        if ((ecn_answer->flags & kSyn) != 0 && !agreed) {
            EcnNotNegotiated d;
            d.synack_ece = (ecn_answer->flags & kEce) != 0;
            d.synack_cwr = (ecn_answer->flags & kCwr) != 0;
            r.findings.push_back(finding(path, t, ecn.sport, "ecn", d, Severity::kInfo, Confidence::kHigh,
                                         "the server answered an ECN-setup SYN without agreeing to ECN (SYN-ACK " +
                                             std::string(d.synack_ece ? "ECE" : "no ECE") + ", " +
                                             (d.synack_cwr ? "CWR" : "no CWR") + ")"));
        }
    }
    // ECT(0) probes hop by hop: the first router whose quote shows another codepoint.
    Segment probe = plain;
    probe.sport = random_port();
    probe.flags = kAck;
    probe.options.clear();
    probe.ack = random_isn();
    const Trace tr = trace(path, t, probe, kEct0, s);
    const HopReply* intact = nullptr;
    bool bleached = false;
    for (const HopReply& h : tr.hops) {
        if (!h.answered || !h.icmp.quoted) continue;
        if (h.icmp.ecn == kEct0 || h.icmp.ecn == kCe) {  // CE: a router marked it, not bleached
            intact = &h;
            continue;
        }
        EcnBleached d;
        d.sender = Side::kClient;
        d.not_ect = 1;
        Finding f = finding(path, t, probe.sport, "ecn", d, Severity::kWarning, Confidence::kHigh,
                            "our ECT(0) packets reached " + hop_name(h, t.v6) + " as Not-ECT: a device before it clears "
                            "the ECN bits" + (intact != nullptr ? " (" + hop_name(*intact, t.v6) + " still saw ECT(0))" : ""));
        f.hop = h.ttl;
        f.hop_address = address_text(h.from, t.v6);
        if (intact != nullptr) f.previous_address = address_text(intact->from, t.v6);
        line += "; " + f.summary.substr(std::strlen("our "));
        r.findings.push_back(std::move(f));
        bleached = true;
        break;
    }
    if (!bleached) {
        line += intact != nullptr ? "; ECT(0) intact up to " + hop_name(*intact, t.v6) : "; no router quoted an ECT(0) probe";
    }
    r.line = line;
    return r;
}

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
    int err = 0;
    socklen_t len = sizeof err;
    if (::poll(&p, 1, 3000) != 1 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
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

namespace tcpsleuth::probe {
namespace {

// The hop a packet's sender sits at, from its TTL: the common initial values are 64, 128
// and 255 (Linux and the BSDs, Windows, most routers' own packets), and each router on the
// way took one; the first router is hop 1.
int sender_hop(int ttl) {
    const int initial = ttl <= 64 ? 64 : ttl <= 128 ? 128 : 255;
    return initial - ttl + 1;
}

}  // namespace

TestResult test_rst(RawPath& path, const Target& t, const Settings& s) {
    TestResult r;
    const SynOptions so = local_options(path);
    const Segment syn = syn_template(path, t, so);
    const auto answer = ask(path, t, syn, 0, 2, s);
    if (!answer) {
        r.line = "rst: the SYN drew no answer; nothing to judge";
        return r;
    }
    if ((answer->flags & kRst) == 0) {
        r.line = "rst: the server answered the SYN with a SYN-ACK (TTL " + std::to_string(answer->hop_limit) + "): no RST to judge";
        return r;
    }
    // The server's distance: echo TTL by TTL until it answers itself.
    const auto id = static_cast<std::uint16_t>(rng()());
    std::uint16_t seq = 0;
    int server_hop = 0, server_ttl = -1;
    std::string last_router;
    for (int ttl = 1; ttl <= s.max_hops && server_hop == 0; ++ttl) {
        const std::uint16_t n = ++seq;
        if (!path.send_echo(id, n, 64, ttl)) break;
        const auto got = path.wait(Clock::now() + s.wait, [&](const Arrival& a) {
            if (!a.icmp) return false;
            if (a.msg.echo_reply) return a.msg.echo_id == id && a.msg.echo_seq == n;
            return a.msg.time_exceeded && a.msg.quoted && a.msg.echo_id == id && a.msg.echo_seq == n;
        });
        if (!got) continue;
        if (got->msg.echo_reply) {
            server_hop = ttl;
            server_ttl = got->hop_limit;
        } else {
            last_router = address_text(got->from, t.v6);
        }
    }
    // Our SYN TTL by TTL: the first TTL whose SYN draws the RST.
    Segment traced = syn;
    traced.sport = random_port();
    const Trace tr = trace(path, t, traced, 0, s);
    const int rst_ttl = answer->hop_limit;
    const int rst_hop = rst_ttl > 0 ? sender_hop(rst_ttl) : 0;
    const int drawn_at = tr.reached && (tr.answer.flags & kRst) != 0 ? tr.reached_ttl : 0;
    const HopReply* before = nullptr;
    for (const HopReply& h : tr.hops) {
        if (h.answered && h.icmp.time_exceeded && (drawn_at == 0 || h.ttl < drawn_at)) before = &h;
    }
    const bool by_trace = server_hop != 0 && drawn_at != 0 && drawn_at < server_hop;
    const bool by_ttl = server_hop != 0 && rst_hop != 0 && rst_hop < server_hop;
    r.line = "rst: the SYN drew a RST (TTL " + std::to_string(rst_ttl) + ", sent from hop " + std::to_string(rst_hop) + ")" +
             (drawn_at != 0 ? ", first drawn by our SYN with TTL " + std::to_string(drawn_at) : std::string()) +
             (server_hop != 0 ? "; the server answers echo at hop " + std::to_string(server_hop)
                              : std::string("; the server does not answer echo, so its distance is unknown"));
    if (!by_trace && !by_ttl) {
        r.line += server_hop != 0 ? ": the RST is the server's own (port closed?)" : "";
        return r;
    }
    RstInjected d;
    d.claims = Side::kServer;
    d.ttl_mismatch = by_ttl;
    d.rst_ttl = static_cast<std::uint8_t>(std::max(rst_ttl, 0));
    d.rst_hops = static_cast<std::uint8_t>(std::max(rst_hop - 1, 0));
    d.peer_hops = static_cast<std::uint8_t>(server_hop - 1);
    d.peer_ttl_min = d.peer_ttl_max = static_cast<std::uint8_t>(std::max(server_ttl, 0));
    d.peer_ttl_samples = 1;
    const int hop = drawn_at != 0 ? drawn_at - 1 : rst_hop;
    Finding f = finding(path, t, syn.sport, "rst", d, Severity::kWarning, by_trace && by_ttl ? Confidence::kHigh : Confidence::kMedium,
                        "a RST claiming to be " + address_text(t.ip, t.v6) + ":" + std::to_string(t.port) +
                            " came from " + (hop > 0 ? "hop " + std::to_string(hop) : std::string("nearer")) +
                            ", but the server is " + std::to_string(server_hop) + " hops away: " +
                            (by_trace ? "our SYN drew it with a TTL of " + std::to_string(drawn_at) + ", too few to reach the server"
                                      : std::string()) +
                            (by_trace && by_ttl ? ", and " : "") +
                            (by_ttl ? "its TTL " + std::to_string(rst_ttl) + " says it left hop " + std::to_string(rst_hop)
                                    : std::string()));
    f.hop = hop;
    if (before != nullptr && before->ttl == hop) f.hop_address = address_text(before->from, t.v6);
    r.findings.push_back(std::move(f));
    return r;
}

namespace {

struct Idler {
    int fd = -1;
    double interval_s = 0;
    Clock::time_point speak_at{}, judge_until{};
    enum class State { kConnecting, kIdle, kJudging, kSurvived, kReset, kDropped, kFailed } state = State::kConnecting;
    std::uint32_t retransmits = 0;
};

constexpr std::uint8_t kTcpClose = 7;  // TCP_CLOSE in the kernel's tcp_states.h (not exported)

int socket_error(int fd) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    return err;
}

// One round: a connection per interval, all opened at once; each speaks after its silence
// and is judged within `judge`. Every socket is closed with a RST (SO_LINGER 0).
void idle_round(const Target& t, std::vector<Idler>& round, milliseconds judge) {
    const auto start = Clock::now();
    for (Idler& c : round) {
        c.fd = probe_socket(t);
        ::connect(c.fd, reinterpret_cast<const sockaddr*>(&t.addr), t.v6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
        c.speak_at = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(c.interval_s));
    }
    const char byte = 'k';
    for (;;) {
        bool busy = false;
        const auto now = Clock::now();
        for (Idler& c : round) {
            switch (c.state) {
                case Idler::State::kConnecting: {
                    pollfd p{c.fd, POLLOUT, 0};
                    if (::poll(&p, 1, 0) == 1) {
                        // The byte that sets up the flow's state on the path, then silence.
                        c.state = socket_error(c.fd) == 0 && ::send(c.fd, &byte, 1, MSG_NOSIGNAL) == 1 ? Idler::State::kIdle
                                                                                                 : Idler::State::kFailed;
                    } else if (now - start > std::chrono::seconds(3)) {
                        c.state = Idler::State::kFailed;
                    }
                    busy = true;
                    break;
                }
                case Idler::State::kIdle:
                    if (now >= c.speak_at) {
                        c.judge_until = now + judge;
                        c.state = ::send(c.fd, &byte, 1, MSG_NOSIGNAL) == 1 ? Idler::State::kJudging : Idler::State::kReset;
                    }
                    busy = true;
                    break;
                case Idler::State::kJudging: {
                    tcp_info info{};
                    socklen_t len = sizeof info;
                    const int err = socket_error(c.fd);
                    const bool info_ok = ::getsockopt(c.fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0;
                    if (err == ECONNRESET || err == EPIPE || (info_ok && info.tcpi_state == kTcpClose)) {
                        c.state = Idler::State::kReset;
                    } else if (info_ok && info.tcpi_unacked == 0) {
                        c.state = Idler::State::kSurvived;
                    } else if (now >= c.judge_until) {
                        c.retransmits = info_ok ? info.tcpi_total_retrans : 0;
                        c.state = Idler::State::kDropped;
                    } else {
                        busy = true;
                    }
                    break;
                }
                default: break;
            }
        }
        if (!busy) break;
        ::poll(nullptr, 0, 20);
    }
    for (Idler& c : round) ::close(c.fd);
}

std::string seconds_text(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, s < 10 ? "%.1f s" : "%.0f s", s);
    return buf;
}

}  // namespace

TestResult test_idle(RawPath& path, const Target& t, const Settings& s) {
    TestResult r;
    const double max = static_cast<double>(s.max_idle.count());
    const milliseconds judge(3000);
    std::vector<double> intervals;
    for (double i = max; i >= 1.0 && intervals.size() < 6; i /= 2) intervals.push_back(i);
    double survived = 0, killed = 0;
    bool reset = false;
    std::uint32_t retransmits = 0;
    int failed = 0;
    for (int pass = 0; pass < 2 && !intervals.empty(); ++pass) {
        std::vector<Idler> round(intervals.size());
        for (std::size_t i = 0; i < intervals.size(); ++i) round[i].interval_s = intervals[i];
        idle_round(t, round, judge);
        for (const Idler& c : round) {
            if (c.state == Idler::State::kSurvived) survived = std::max(survived, c.interval_s);
            if (c.state == Idler::State::kReset || c.state == Idler::State::kDropped) {
                if (killed == 0 || c.interval_s < killed) {
                    killed = c.interval_s;
                    reset = c.state == Idler::State::kReset;
                    retransmits = c.retransmits;
                }
            }
            failed += c.state == Idler::State::kFailed;
        }
        // Second pass: three more between the longest survived and the shortest killed.
        intervals.clear();
        if (killed != 0 && killed > survived + 0.5) {
            for (int k = 1; k <= 3; ++k) intervals.push_back(survived + (killed - survived) * k / 4);
        }
    }
    if (failed != 0 && survived == 0 && killed == 0) {
        r.line = "idle: no connection to port " + std::to_string(t.port) + " could be set up";
        return r;
    }
    if (killed == 0 || killed <= survived) {
        r.line = "idle: connections idle up to " + seconds_text(survived) + " still worked (tried up to " + seconds_text(max) + ")";
        return r;
    }
    IdleBracket bracket;
    bracket.survived_max_s = static_cast<std::uint32_t>(survived);
    bracket.killed_min_s = static_cast<std::uint32_t>(std::ceil(killed));
    const std::string summary = "the path forgets a connection idle between " + seconds_text(survived) + " and " +
                                seconds_text(killed) + ": after " + seconds_text(killed) + " of silence our byte " +
                                (reset ? "drew a RST" : "was never acknowledged (" + std::to_string(retransmits) + " retransmissions)") +
                                ", after " + seconds_text(survived) + " it was; TCP keepalives every " +
                                seconds_text(std::max(1.0, survived / 2)) + " or less keep such a flow alive";
    Finding f = reset ? [&] {
        IdleResetAfterIdle d;
        d.prompted = true;
        d.gap_ms = static_cast<std::uint32_t>(killed * 1000);
        d.bracket = bracket;
        return finding(path, t, 0, "idle", d, Severity::kWarning, Confidence::kHigh, summary);
    }()
                      : [&] {
                            IdleTimeoutDrop d;
                            d.gap_ms = static_cast<std::uint32_t>(killed * 1000);
                            d.retransmissions = retransmits;
                            d.bracket = bracket;
                            return finding(path, t, 0, "idle", d, Severity::kWarning, Confidence::kHigh, summary);
                        }();
    r.findings.push_back(std::move(f));
    r.line = "idle: survived " + seconds_text(survived) + ", " + (reset ? "reset" : "dropped") + " after " + seconds_text(killed);
    return r;
}

}  // namespace tcpsleuth::probe

namespace tcpsleuth::probe {

TestResult test_seq(RawPath& path, const Target& t, const Settings& s) {
    TestResult r;
    // A real connection, its local port known before the SYN leaves.
    const int fd = probe_socket(t);
    if (fd < 0) {
        r.line = std::string("seq: ") + std::strerror(errno);
        return r;
    }
    // Bound before the SYN leaves (probe_socket binds), so the port is known.
    sockaddr_storage local{};
    socklen_t llen = sizeof local;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &llen);
    const std::uint16_t lport = ntohs(reinterpret_cast<sockaddr_in&>(local).sin_port);
    ::connect(fd, reinterpret_cast<const sockaddr*>(&t.addr), t.v6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
    // The SYN-ACK as it reaches us: its ACK is our ISN + 1 in our own numbers (a device that
    // shifts our sequence numbers shifts the ACKs back), its sequence the server's ISN.
    const auto synack = path.wait(Clock::now() + std::chrono::seconds(3), [&](const Arrival& a) {
        return !a.icmp && a.sport == t.port && a.dport == lport && (a.flags & (kSyn | kAck)) == (kSyn | kAck);
    });
    pollfd p{fd, POLLOUT, 0};
    if (!synack || ::poll(&p, 1, 3000) != 1 || socket_error(fd) != 0) {
        ::close(fd);
        r.line = "seq: no connection to port " + std::to_string(t.port);
        return r;
    }
    if (!synack->options.has(kOptSackPerm)) {
        ::close(fd);
        r.line = "seq: the server did not agree to SACK; nothing to judge";
        return r;
    }
    const std::uint32_t next = synack->ack;  // our next sequence number, ours
    const std::uint32_t server_next = synack->seq + 1;
    // Segments 1000, 2000 and 3000 bytes ahead of what we sent: each leaves a hole, and the
    // server answers with a duplicate ACK whose SACK block names the segment.
    Segment seg;
    seg.src = path.src();
    seg.dst = t.ip;
    seg.v6 = t.v6;
    seg.sport = lport;
    seg.dport = t.port;
    seg.ack = server_next;
    seg.flags = kAck | kPsh;
    seg.payload = 100;
    std::vector<std::int64_t> shifts;
    SackBlock first{};
    std::uint32_t first_ack = 0;
    int answered = 0;
    for (int k = 1; k <= 3; ++k) {
        seg.seq = next + static_cast<std::uint32_t>(1000 * k);
        if (!path.send_tcp(seg, 64, 0)) break;
        const auto reply = path.wait(Clock::now() + s.wait, [&](const Arrival& a) {
            return !a.icmp && a.sport == t.port && a.dport == lport && a.options.sack_blocks > 0;
        });
        if (!reply) continue;
        ++answered;
        // The block naming this segment: the one whose length is ours (100 bytes).
        for (unsigned b = 0; b < reply->options.sack_blocks && b < 4; ++b) {
            const SackBlock& blk = reply->options.sack[b];
            if (blk.right - blk.left != seg.payload) continue;
            const auto shift = static_cast<std::int64_t>(static_cast<std::int32_t>(blk.left - seg.seq));
            if (shifts.empty()) first = blk, first_ack = reply->ack;
            shifts.push_back(shift);
            break;
        }
    }
    // Where our numbers change: TTL-limited copies on this connection, quoted hop by hop.
    Segment traced = seg;
    traced.seq = next;
    traced.payload = 0;
    const Trace tr = trace(path, t, traced, 0, s);
    ::close(fd);
    const HopReply* intact = nullptr;
    const HopReply* shifted = nullptr;
    for (const HopReply& h : tr.hops) {
        if (!h.answered || !h.icmp.has_seq) continue;
        if (h.icmp.seq == traced.seq + static_cast<std::uint32_t>(h.ttl)) {
            intact = &h;
        } else if (shifted == nullptr) {
            shifted = &h;
        }
    }
    if (shifts.empty()) {
        r.line = "seq: " + std::to_string(answered) + " of 3 out-of-order segments drew SACK blocks we could match";
        return r;
    }
    const auto [lo, hi] = std::minmax_element(shifts.begin(), shifts.end());
    if (*lo == 0 && *hi == 0) {
        r.line = "seq: the server's SACK blocks name our out-of-order segments exactly (" + std::to_string(shifts.size()) + " of 3)";
        return r;
    }
    SackInvalidBlocks d;
    d.receiver = Side::kServer;
    d.acks = static_cast<std::uint32_t>(shifts.size());
    d.stable = *hi - *lo <= 0;
    d.offset = static_cast<std::int64_t>(static_cast<std::int32_t>(first.left - first_ack));
    d.offset_spread = *hi - *lo;
    d.left = first.left;
    d.right = first.right;
    d.ack = first_ack;
    d.sender_nxt = next;
    d.threshold = 1;
    std::string summary = "the server's SACK blocks for our out-of-order segments are off by " + std::to_string(*lo) +
                          " bytes from the sequence numbers we sent (" + std::to_string(shifts.size()) +
                          " of 3): a device rewrites our sequence numbers, and the server's ACKs back, but not its SACK blocks";
    if (shifted != nullptr) {
        summary += "; " + hop_name(*shifted, t.v6) + " already saw our numbers shifted" +
                   (intact != nullptr ? ", " + hop_name(*intact, t.v6) + " did not" : std::string());
    }
    Finding f = finding(path, t, lport, "seq", d, Severity::kCritical, d.stable ? Confidence::kHigh : Confidence::kMedium, summary);
    if (shifted != nullptr) {
        f.hop = shifted->ttl;
        f.hop_address = address_text(shifted->from, t.v6);
        if (intact != nullptr) f.previous_address = address_text(intact->from, t.v6);
    }
    r.findings.push_back(std::move(f));
    r.line = "seq: SACK blocks off by " + std::to_string(*lo) + " bytes" +
             (shifted != nullptr ? ", numbers shifted by " + hop_name(*shifted, t.v6) : std::string());
    return r;
}

}  // namespace tcpsleuth::probe
