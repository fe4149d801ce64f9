// tcpsleuth probe, ecn: ECN-setup SYNs answered or not, and where ECT(0) is bleached (probe_tests.h).

#include "dataplane/probe/probe_common.h"

#include <cstring>

#include "dataplane/packet/packet_view.h"

namespace tcpsleuth::probe {

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

}  // namespace tcpsleuth::probe
