// tcpsleuth probe, seq: SACK blocks off by a constant reveal a sequence-shifting device (probe_tests.h).

#include "dataplane/probe/probe_common.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "dataplane/packet/packet_view.h"

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
