// tcpsleuth probe, rst: a RST nearer than the server is injected (probe_tests.h).

#include "dataplane/probe/probe_common.h"

#include <algorithm>

#include "dataplane/packet/packet_view.h"
#include "inspectors/evidence/hop_distance.h"

namespace tcpsleuth::probe {

namespace {

// The hop a packet's sender sits at, from its TTL: each router on the way took one from the
// sender's initial TTL (hop_distance), and the first router is hop 1.
int sender_hop(int ttl) { return hop_distance(static_cast<std::uint8_t>(ttl)) + 1; }

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

}  // namespace tcpsleuth::probe
