// What a finding's time-sequence graph draws, and where (time_sequence.h).

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <type_traits>
#include <variant>

#include "dataplane/packet/packet_view.h"
#include "inspectors/flow/flow_key.h"
#include "inspectors/flow/tcp_state.h"
#include "inspectors/output/event_format.h"
#include "inspectors/plot/time_sequence.h"

namespace tcpsleuth::plot {
namespace {

double seconds(std::uint64_t ns, std::uint64_t origin) {
    return ns >= origin ? static_cast<double>(ns - origin) / 1e9 : -static_cast<double>(origin - ns) / 1e9;
}

std::string duration_text(double s) {
    char buf[32];
    if (s >= 10) {
        std::snprintf(buf, sizeof buf, "%.0f s", s);
    } else if (s >= 1) {
        std::snprintf(buf, sizeof buf, "%.1f s", s);
    } else if (s >= 1e-3) {
        std::snprintf(buf, sizeof buf, "%.1f ms", s * 1e3);
    } else {
        std::snprintf(buf, sizeof buf, "%.0f us", s * 1e6);
    }
    return buf;
}

// The side whose data the finding is about: the side that sent an evidence packet with data;
// for a stalled window, the side facing it; otherwise the side that sent more payload (the
// client when neither sent any: a handshake).
bool drawn_side_is_client(const Input& in, const std::set<std::uint64_t>& evidence) {
    const Event& e = in.event;
    if (const auto* z = std::get_if<ZeroWindowStall>(&e.detail); z != nullptr && in.finding) return z->slow_side == Side::kServer;
    for (const Packet& p : in.packets) {
        if (p.tcp && p.payload != 0 && evidence.count(p.number) != 0) return p.from_client;
    }
    std::uint64_t bytes[2] = {};
    for (const Packet& p : in.packets) {
        if (p.tcp) bytes[p.from_client ? 0 : 1] += p.payload;
    }
    return bytes[0] >= bytes[1];
}

// A finding's silence of about `gap_ms`: the pair of consecutive packets whose gap is closest.
void bracket_gap(const Input& in, std::uint64_t origin, std::uint32_t gap_ms, const char* what, Model& m) {
    if (gap_ms == 0 || in.packets.size() < 2) return;
    std::vector<std::uint64_t> ts;
    for (const Packet& p : in.packets) ts.push_back(p.ts_ns);
    std::sort(ts.begin(), ts.end());
    const double want = gap_ms / 1e3;
    std::size_t best = 0;
    double best_diff = INFINITY;
    for (std::size_t i = 1; i < ts.size(); ++i) {
        const double gap = static_cast<double>(ts[i] - ts[i - 1]) / 1e9;
        if (std::fabs(gap - want) < best_diff) best_diff = std::fabs(gap - want), best = i;
    }
    if (best == 0) return;
    m.finding_spans.push_back({seconds(ts[best - 1], origin), seconds(ts[best], origin),
                               std::string(what) + " " + duration_text(want)});
}

// The finding's key quantity, in its own words: a stall, a silence, a resend series, a size bracket.
void add_finding_quantity(const Input& in, std::uint64_t origin, Model& m) {
    std::visit(
        [&](const auto& d) {
            using T = std::decay_t<decltype(d)>;
            if constexpr (std::is_same_v<T, ZeroWindowStall>) {
                const double t0 = seconds(d.since_ns, origin);
                m.finding_spans.push_back({t0, t0 + d.duration_ns / 1e9,
                                           "window 0 for " + duration_text(d.duration_ns / 1e9) +
                                               (d.ongoing ? " (still closed at the end)" : "")});
            } else if constexpr (std::is_same_v<T, SynUnanswered>) {
                m.finding_spans.push_back({seconds(d.first_syn_ns, origin), seconds(d.last_syn_ns, origin),
                                           std::to_string(d.syns) + " SYNs, no SYN-ACK"});
            } else if constexpr (std::is_same_v<T, PathOneWayLoss>) {
                m.finding_spans.push_back({seconds(d.first_retx_ns, origin), seconds(d.last_retx_ns, origin),
                                           "resent " + std::to_string(d.retransmissions) + " times"});
            } else if constexpr (std::is_same_v<T, IdleTimeoutDrop> || std::is_same_v<T, IdleResetAfterIdle>) {
                bracket_gap(in, origin, d.gap_ms, "idle", m);
            } else if constexpr (std::is_same_v<T, IdleKeepaliveTooSlow>) {
                bracket_gap(in, origin, d.interval_ms, "keepalive every", m);
            } else if constexpr (std::is_same_v<T, IdleStaleFlow>) {
                bracket_gap(in, origin, d.idle_s * 1000u, "quiet", m);
            } else if constexpr (std::is_same_v<T, MtuBlackhole>) {
                const std::uint32_t got = std::max(d.delivered_ip_len, d.carried_ip_len);
                char buf[128];
                if (got != 0 && got < d.lost_ip_len) {
                    std::snprintf(buf, sizeof buf, "path MTU: %u to %u bytes", got, d.lost_ip_len - 1u);
                    m.size_bands.push_back({got, d.lost_ip_len - 1u, buf});
                } else {
                    std::snprintf(buf, sizeof buf, "lost: %u-byte packets", static_cast<unsigned>(d.lost_ip_len));
                    m.size_bands.push_back({d.lost_ip_len, d.lost_ip_len, buf});
                }
            } else if constexpr (std::is_same_v<T, IcmpFragNeeded>) {
                m.size_bands.push_back({d.mtu, d.mtu, "next-hop MTU " + std::to_string(d.mtu) + " (ICMP)"});
            }
        },
        in.event.detail);
}

std::string subtitle_of(const Event& e, bool finding) {
    std::string s = finding ? std::string(event_name(e)) + " · " + std::string(to_string(e.severity)) + " · confidence " +
                                  std::string(to_string(e.confidence))
                            : std::string("recent packets");
    if (e.flow_id != 0) {
        const FlowEndpoints p = endpoints(e);
        s += " · client " + p.client + ":" + std::to_string(p.client_port) + " → server " + p.server + ":" +
             std::to_string(p.server_port) + " · flow " + std::to_string(e.flow_id);
    }
    return s;
}

// Silences that would squeeze the rest of the picture into a sliver are cut out of the time
// axis: the longest gap while it is over a fifth of what is left and ten times the median gap.
void find_breaks(std::vector<double> ts, double t_end, std::vector<Break>& out) {
    std::sort(ts.begin(), ts.end());
    ts.erase(std::unique(ts.begin(), ts.end()), ts.end());
    if (ts.size() < 3 || t_end <= 0) return;
    std::vector<double> gaps;
    for (std::size_t i = 1; i < ts.size(); ++i) gaps.push_back(ts[i] - ts[i - 1]);
    std::vector<double> sorted = gaps;
    std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
    const double median = sorted[sorted.size() / 2];
    double left = t_end;
    std::vector<bool> cut(gaps.size(), false);
    for (int k = 0; k < 3; ++k) {
        std::size_t best = gaps.size();
        for (std::size_t i = 0; i < gaps.size(); ++i) {
            if (!cut[i] && (best == gaps.size() || gaps[i] > gaps[best])) best = i;
        }
        if (best == gaps.size()) break;
        const double g = gaps[best];
        if (g < 0.2 * left || g < 10 * median || g < 1e-3) break;
        cut[best] = true;
        left -= g;
        // A little of the silence stays on each side, so its packets do not sit on the cut.
        const double keep = std::min(g * 0.05, left * 0.02);
        out.push_back({ts[best] + keep, ts[best + 1] - keep});
    }
    std::sort(out.begin(), out.end(), [](const Break& a, const Break& b) { return a.t0 < b.t0; });
}

}  // namespace

Packet packet_from_view(const PacketView& v, bool tcp, bool client_is_lo, bool tunnel_in_key) {
    Packet p;
    p.number = v.number;
    p.ts_ns = v.ts_ns;
    p.tcp = tcp;
    p.ip_len = v.ip_len;
    Dir d;
    if (tcp) {
        make_flow_key(v, d, tunnel_in_key);
        p.flags = v.tcp.flags;
        p.seq = v.tcp.seq;
        p.ack = v.tcp.ack;
        p.payload = v.payload_len;
        p.window = v.tcp.window;
        if ((v.tcp.flags & kSyn) && v.opts.has(kOptWscale)) p.wscale = v.opts.wscale;
        p.sack_count = std::min<std::uint8_t>(v.opts.sack_blocks, 4);
        for (unsigned i = 0; i < p.sack_count; ++i) p.sack[i] = v.opts.sack[i];
    } else {
        // The quoted segment's sender is the side the error is about.
        make_quoted_flow_key(v, d, tunnel_in_key);
        p.seq = v.icmp.seq;
        if (v.icmp.frag_needed) p.icmp_mtu = v.icmp.mtu;
    }
    p.from_client = (d == Dir::kLoToHi) == client_is_lo;
    return p;
}

Model plot_model(const Input& in) {
    Model m;
    const Event& e = in.event;
    m.title = in.finding ? event_summary(e) : in.title;
    m.subtitle = subtitle_of(e, in.finding);
    m.has_flow = e.flow_id != 0;

    std::set<std::uint64_t> evidence;
    for (unsigned i = 0; in.finding && i < e.packets.count; ++i) evidence.insert(e.packets.nums[i]);
    std::set<std::uint64_t> drawn;
    for (const Packet& p : in.packets) drawn.insert(p.number);
    for (const std::uint64_t n : evidence) (drawn.count(n) != 0 ? m.evidence : m.evidence_missing).push_back(n);

    if (in.packets.empty()) return m;
    std::uint64_t origin = in.packets.front().ts_ns, last = origin;
    for (const Packet& p : in.packets) {
        origin = std::min(origin, p.ts_ns);
        last = std::max(last, p.ts_ns);
        m.left_out += p.left_out_before;
    }
    m.first_ts_ns = origin;
    m.t_end = seconds(last, origin);
    if (in.finding) add_finding_quantity(in, origin, m);
    // A span drawn within the packets drawn; one with no time in them (unset times) is left out.
    std::erase_if(m.finding_spans, [&](Span& s) {
        s.t0 = std::max(s.t0, 0.0);
        s.t1 = std::min(s.t1, m.t_end);
        return s.t1 < s.t0;
    });

    std::vector<double> times;
    for (const Packet& p : in.packets) times.push_back(seconds(p.ts_ns, origin));

    if (!m.has_flow) {
        // Packets of many flows (a SYN surge): a timeline, one row per packet in order.
        std::int64_t row = 0;
        for (const Packet& p : in.packets) {
            const MarkKind k = !p.tcp ? MarkKind::kIcmp
                               : (p.flags & kRst) ? MarkKind::kRst
                               : (p.flags & kFin) ? MarkKind::kFin
                                                  : MarkKind::kSyn;
            m.marks.push_back({p.number, seconds(p.ts_ns, origin), k, true, row++, p.icmp_mtu, evidence.count(p.number) != 0});
        }
        m.y_min = 0;
        m.y_max = std::max<std::int64_t>(row, 1);
        find_breaks(times, m.t_end, m.breaks);
        return m;
    }

    const bool side = drawn_side_is_client(in, evidence);
    m.drawn_side_is_client = side;
    m.drawn_side = side ? "client → server" : "server → client";

    // Sequence numbers relative to the drawn side's ISN when its SYN is here.
    std::uint32_t base = 0;
    const Packet* first_of_side = nullptr;
    int scale_of[2] = {-2, -2};  // per side (0 client): -2 no SYN seen, -1 SYN without the option
    for (const Packet& p : in.packets) {
        if (!p.tcp) continue;
        if (p.from_client == side && first_of_side == nullptr) first_of_side = &p;
        if (p.flags & kSyn) {
            scale_of[p.from_client ? 0 : 1] = p.wscale < 0 ? -1 : std::min<int>(p.wscale, DirState::kMaxWscale);  // RFC 7323 2.3
            if (p.from_client == side && !m.isn_seen) {
                base = p.seq + 1;
                m.isn_seen = true;
            }
        }
    }
    if (!m.isn_seen && first_of_side != nullptr) {
        // No SYN of this side: relative to its lowest sequence number drawn.
        base = first_of_side->seq;
        for (const Packet& p : in.packets) {
            if (p.tcp && p.from_client == side && static_cast<std::int32_t>(p.seq - base) < 0) base = p.seq;
        }
    }
    const auto rel = [&](std::uint32_t seq) { return static_cast<std::int64_t>(static_cast<std::int32_t>(seq - base)); };
    const int other = side ? 1 : 0;
    m.window_scaled = scale_of[0] >= 0 && scale_of[1] >= 0;
    m.window_scale_unknown = scale_of[0] == -2 || scale_of[1] == -2;
    const int shift = m.window_scaled ? scale_of[other] : 0;

    std::int64_t sent_hi = INT64_MIN;
    std::int64_t last_ack = 0;
    bool have_ack = false;
    for (const Packet& p : in.packets) {
        const double t = seconds(p.ts_ns, origin);
        const bool ev = evidence.count(p.number) != 0;
        if (!p.tcp) {
            m.marks.push_back({p.number, t, MarkKind::kIcmp, p.from_client == side, rel(p.seq), p.icmp_mtu, ev});
            continue;
        }
        if (p.from_client == side) {
            const std::uint32_t len = p.payload + ((p.flags & kSyn) ? 1u : 0u) + ((p.flags & kFin) ? 1u : 0u);
            const std::int64_t lo = rel(p.seq);  // a SYN occupies [ISN, ISN + 1): -1 to 0
            if (len != 0) {
                Segment s{p.number, t, lo, lo + len, p.ip_len, p.flags, lo < sent_hi, ev};
                m.segments.push_back(s);
                sent_hi = std::max(sent_hi, s.hi);
            }
            if (p.flags & (kRst | kFin)) {
                m.marks.push_back({p.number, t, (p.flags & kRst) ? MarkKind::kRst : MarkKind::kFin, true, lo, 0, ev});
            } else if (len == 0 && ev) {
                m.marks.push_back({p.number, t, MarkKind::kPacket, true, lo, 0, ev});
            }
            continue;
        }
        // The other side: its ACK and window against the drawn side's numbers.
        if (p.flags & kAck) {
            AckStep a;
            a.number = p.number;
            a.t = t;
            a.ack = rel(p.ack);
            const int s = (p.flags & kSyn) ? 0 : shift;  // a SYN's window is never scaled (RFC 7323 2.2)
            a.window_edge = a.ack + (static_cast<std::int64_t>(p.window) << s);
            a.zero_window = p.window == 0 && (p.flags & (kRst | kSyn)) == 0;
            a.evidence = ev;
            m.acks.push_back(a);
            last_ack = a.ack;
            have_ack = true;
        }
        for (unsigned i = 0; i < p.sack_count && i < 4; ++i) {
            m.sacks.push_back({p.number, t, rel(p.sack[i].left), rel(p.sack[i].right), false});
        }
        if (p.flags & (kSyn | kRst | kFin)) {
            const MarkKind k = (p.flags & kRst) ? MarkKind::kRst : (p.flags & kFin) ? MarkKind::kFin : MarkKind::kSyn;
            m.marks.push_back({p.number, t, k, false, have_ack ? last_ack : 0, 0, ev});
        } else if (ev && !(p.flags & kAck)) {
            m.marks.push_back({p.number, t, MarkKind::kPacket, false, last_ack, 0, ev});
        }
    }

    // Zero-window spans from the packets: from the first zero to the next open window.
    for (std::size_t i = 0; i < m.acks.size(); ++i) {
        if (!m.acks[i].zero_window) continue;
        const double t0 = m.acks[i].t;
        std::size_t j = i;
        while (j < m.acks.size() && m.acks[j].zero_window) ++j;
        const bool open_again = j < m.acks.size();
        const double t1 = open_again ? m.acks[j].t : m.t_end;
        m.zero_windows.push_back({t0, t1, open_again ? "window 0" : "window 0 to the end"});
        i = j;
    }

    // The vertical range: the data and the ACKs, the window's edge while it stays within one
    // more data range above (a window far ahead would flatten the data into a line).
    std::int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (const Segment& s : m.segments) lo = std::min(lo, s.lo), hi = std::max(hi, s.hi);
    for (const AckStep& a : m.acks) lo = std::min(lo, a.ack), hi = std::max(hi, a.ack);
    for (const Mark& k : m.marks) lo = std::min(lo, k.y), hi = std::max(hi, k.y);
    if (lo == INT64_MAX) lo = 0, hi = 1;
    if (hi <= lo) hi = lo + 1;
    const std::int64_t room = std::max<std::int64_t>(hi - lo, 1);
    std::int64_t top = hi;
    for (const AckStep& a : m.acks) {
        if (a.window_edge <= hi + room) top = std::max(top, a.window_edge);
    }
    for (SackMark& s : m.sacks) {
        s.outside = s.hi > std::max(sent_hi, hi) || s.lo < lo - room;
        if (!s.outside) lo = std::min(lo, s.lo), top = std::max(top, s.hi);
    }
    m.y_min = lo;
    m.y_max = top + std::max<std::int64_t>((top - lo) / 20, 1);

    for (const SackMark& s : m.sacks) times.push_back(s.t);
    for (const Span& s : m.finding_spans) times.push_back(s.t0), times.push_back(s.t1);
    find_breaks(times, m.t_end, m.breaks);
    return m;
}

}  // namespace tcpsleuth::plot
