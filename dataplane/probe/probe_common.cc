#include "dataplane/probe/probe_common.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "dataplane/packet/packet_view.h"
#include "inspectors/flow/flow_key.h"

namespace tcpsleuth::probe {
namespace {

// A probe's address as the flow key keeps it: IPv4 v4-mapped (::ffff:a.b.c.d).
std::array<std::uint8_t, 16> key_address(const Address& a, bool v6) {
    if (v6) return a;
    std::array<std::uint8_t, 16> k{};
    k[10] = k[11] = 0xff;
    std::memcpy(k.data() + 12, a.data(), 4);
    return k;
}

}  // namespace

std::uint64_t wall_ns() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

std::mt19937& rng() {
    static std::mt19937 r{std::random_device{}()};
    return r;
}
std::uint16_t random_port() { return static_cast<std::uint16_t>(49152 + rng()() % 16000); }
std::uint32_t random_isn() { return rng()(); }

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

int socket_error(int fd) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    return err;
}

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

}  // namespace tcpsleuth::probe
