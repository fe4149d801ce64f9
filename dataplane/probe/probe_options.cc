// tcpsleuth probe, options: where on the path a SYN loses an option (probe_tests.h).

#include "dataplane/probe/probe_common.h"

#include <cstring>

#include "inspectors/evidence/syn_fingerprint.h"

namespace tcpsleuth::probe {

namespace {

constexpr std::pair<OptionKind, TcpOpt> kOptions[] = {
    {OptionKind::kMss, kOptMss}, {OptionKind::kSackPerm, kOptSackPerm}, {OptionKind::kTimestamp, kOptTimestamp},
    {OptionKind::kWscale, kOptWscale}};

}  // namespace

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

}  // namespace tcpsleuth::probe
