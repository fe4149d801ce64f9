#include "device_findings.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <tuple>

#include "inspectors/output/json_writer.h"

namespace tcpsleuth::two_point {
namespace {

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kSecond = 1'000'000'000;

const char* way_name(unsigned way) noexcept { return way == 0 ? "a_to_b" : "b_to_a"; }
const char* way_text(unsigned way) noexcept { return way == 0 ? "from A to B" : "from B to A"; }
const char* point_name(unsigned p) noexcept { return p == 0 ? "A" : "B"; }

// What one kind of finding collects before it is written.
struct Tally {
    DeviceFinding f;
    std::uint32_t min_size = UINT32_MAX;
    std::uint32_t max_size = 0;
    std::uint32_t largest_delivered = 0;
    std::uint64_t longest_gap_ns = 0;
    std::uint32_t before = 0, after = 0;  // the first example's value at ingress and at egress
    bool have_example = false;
    std::uint32_t ttl_seen = 0, ttl_peer = 0;  // injected: the packet's TTL, the real sender's
    std::uint32_t rewritten = 0, unrewritten = 0;  // SACK blocks under a sequence offset
    std::uint32_t answered_with_reset = 0;         // after_idle: drops the device answered with a reset
    std::uint32_t ecn_setup = 0;  // SYNs with ECE+CWR among those dropped
    std::uint32_t established_moving = 0;
    std::uint64_t way_packets = 0;  // packets that crossed (or tried) that way: the loss ratio
};

class Analysis {
public:
    Analysis(const PointCapture& a, const PointCapture& b, const Comparison& cmp) : cmp_(cmp) {
        pt_[0] = &a;
        pt_[1] = &b;
        const double p99 = std::max(cmp.delay[0].p99_us, cmp.delay[1].p99_us);
        margin_ns_ = std::max<std::uint64_t>(10 * kMs, static_cast<std::uint64_t>(2 * p99 * 1e3));
    }

    DeviceReport run() {
        sort_unmatched();
        for (const auto& [point, index] : injected_) injected(point, index);
        for (const auto& [key, drops] : dropped_) classify_drops(std::get<0>(key), std::get<1>(key), std::get<2>(key), drops);
        rewrites();
        delay();
        return finish();
    }

private:
    // ---- who crossed which way ----

    const ConnPair* pair_of(unsigned point, std::uint32_t conn) const {
        if (conn == kNoConnection) return nullptr;
        const std::int32_t i = (point == 0 ? cmp_.pair_of_a : cmp_.pair_of_b)[conn];
        return i < 0 ? nullptr : &cmp_.pairs[static_cast<std::size_t>(i)];
    }
    static unsigned a_dir(const ConnPair& pair, unsigned point, unsigned dir) { return point == 0 ? dir : pair.b_dir(dir); }

    // The point where packets sent by the `dir` end of `conn` enter the device; -1 unknown.
    int entry_point(unsigned point, std::uint32_t conn, unsigned dir, const Addr& sender) const {
        if (const ConnPair* pair = pair_of(point, conn)) {
            const int in = ingress_point(*pair, a_dir(*pair, point, dir));
            if (in >= 0) return in;
        }
        const auto it = cmp_.side_at[point].find(sender);
        if (it != cmp_.side_at[point].end()) return it->second;
        if (conn == kNoConnection) return -1;
        // A connection seen at one point only: its first packet's sender is on that side (a
        // device does not open connections), so its packets entered here.
        const Connection& c = pt_[point]->conns[conn];
        const bool first_from_client =
            c.packets[1].empty() ||
            (!c.packets[0].empty() && pt_[point]->packets[c.packets[0][0]].ts_ns <= pt_[point]->packets[c.packets[1][0]].ts_ns);
        return (dir == 0) == first_from_client ? static_cast<int>(point) : static_cast<int>(point ^ 1);
    }

    std::uint64_t at_a_clock(unsigned point, std::uint64_t ts) const {
        return point == 0 ? ts : static_cast<std::uint64_t>(static_cast<std::int64_t>(ts) - cmp_.clock_offset_ns);
    }
    // The other point was not capturing when this packet would have passed it.
    bool beyond_other_capture(unsigned point, std::uint64_t ts) const {
        const PointCapture& other = *pt_[point ^ 1];
        const std::int64_t shift = point == 0 ? cmp_.clock_offset_ns : -cmp_.clock_offset_ns;
        const auto t = static_cast<std::int64_t>(ts) + shift;
        return t < static_cast<std::int64_t>(other.first_ns + margin_ns_) ||
               t + static_cast<std::int64_t>(margin_ns_) > static_cast<std::int64_t>(other.last_ns);
    }

    // Unmatched packets sorted into dropped (entered here) and injected (left here). Where
    // the other point had stopped capturing (or not started), a packet is judged only with
    // evidence of its own that it was lost: the sender sent it again, a reset followed, or
    // nothing acknowledged it although this point went on capturing (a capture that ends
    // early at the other point leaves this point's ACKs in place).
    void sort_unmatched() {
        std::vector<std::pair<unsigned, std::uint32_t>> late_injected;
        for (unsigned point = 0; point < 2; ++point) {
            const PointCapture& pc = *pt_[point];
            for (std::uint32_t i = 0; i < pc.packets.size(); ++i) {
                const PointPacket& p = pc.packets[i];
                if (p.match >= 0) continue;
                int in;
                if (p.icmp) {
                    // An ICMP error travels to the quoted segment's sender: it leaves the
                    // device on that host's side.
                    const int host_side = entry_point(point, p.conn, p.dir, p.dst);
                    in = host_side < 0 ? -1 : host_side == static_cast<int>(point) ? static_cast<int>(point ^ 1)
                                                                                     : static_cast<int>(point);
                } else {
                    in = entry_point(point, p.conn, p.dir, p.src);
                }
                if (in < 0) {
                    ++counts_.unattributed;
                    continue;
                }
                const bool entered_here = in == static_cast<int>(point);
                if (beyond_other_capture(point, p.ts_ns)) {
                    if (!entered_here) {
                        late_injected.push_back({point, i});
                        continue;
                    }
                    if (!lost_by_its_own_account(pc, p)) {
                        ++counts_.unseen_at_edges;
                        continue;
                    }
                }
                if (entered_here ? acknowledged_before_resent(pc, p) : from_the_real_sender(point, p)) {
                    ++counts_.capture_gaps;
                    continue;
                }
                if (entered_here) {
                    dropped_[{point, p.conn, p.icmp ? 2u : p.dir}].push_back(i);
                } else {
                    keep_injected(point, i);
                }
            }
        }
        // Beyond the other capture, a packet that left without entering is judged only as the
        // answer to a packet judged dropped just before it on the same connection, or when its
        // TTL is not the one its claimed sender's packets arrive with.
        for (const auto& [point, i] : late_injected) {
            const PointPacket& p = pt_[point]->packets[i];
            const std::uint32_t sender_ttl = peer_ttl(point, p);
            bool answers_a_drop = !p.icmp && sender_ttl != 0 && sender_ttl != p.ttl;
            for (const auto& [key, drops] : dropped_) {
                if (std::get<0>(key) != point || std::get<1>(key) != p.conn) continue;
                for (const std::uint32_t d : drops) {
                    const std::uint64_t t = pt_[point]->packets[d].ts_ns;
                    answers_a_drop |= t <= p.ts_ns && p.ts_ns - t <= 2 * kSecond;
                }
            }
            if (answers_a_drop) {
                keep_injected(point, i);
            } else {
                ++counts_.unseen_at_edges;
            }
        }
    }

    void keep_injected(unsigned point, std::uint32_t i) {
        const PointPacket& p = pt_[point]->packets[i];
        injected_.push_back({point, i});
        if (p.conn == kNoConnection) return;
        if (p.has(kRst) && !p.icmp) rst_times_[{point, p.conn}].push_back(p.ts_ns);
        // It leaves toward the host on this point's side, whose segments entered here.
        if (p.icmp && is_frag_needed(p)) frag_needed_from_device_.insert({point, p.conn});
    }

    // A data segment missing beyond the device, yet acknowledged by the receiver before its
    // sender had to send it again: it crossed, and the other capture missed it (a capture
    // that drops under load looks exactly like a device that drops).
    //
    // "Later" is the point's packet order, not its timestamps: a live sensor stamps a whole
    // receive burst with one time, and a resend in the same burst is still after.
    static bool acknowledged_before_resent(const PointCapture& pc, const PointPacket& p) {
        if (p.icmp || p.conn == kNoConnection || p.payload_len == 0) return false;
        const Connection& c = pc.conns[p.conn];
        const std::uint32_t end = p.seq + p.payload_len;
        const auto at = static_cast<std::uint32_t>(&p - pc.packets.data());
        std::uint32_t resent_at = UINT32_MAX;
        for (const std::uint32_t j : c.packets[p.dir]) {
            const PointPacket& q = pc.packets[j];
            // Any later segment carrying some of the same bytes (a sender that learned a
            // smaller MTU resends them in other pieces).
            const bool overlaps = static_cast<std::int32_t>(q.seq - end) < 0 &&
                                  static_cast<std::int32_t>(p.seq - (q.seq + q.payload_len)) < 0;
            if (j > at && q.payload_len != 0 && overlaps) {
                resent_at = j;
                break;
            }
        }
        for (const std::uint32_t j : c.packets[p.dir ^ 1]) {
            const PointPacket& q = pc.packets[j];
            if (j > at && j < resent_at && q.has(kAck) && static_cast<std::int32_t>(q.ack - end) >= 0) return true;
        }
        return false;
    }

    // A packet that left the device without entering it, yet carries its sender's own marks:
    // a TTL its sender's packets leave the device with and, for IPv4, an IP ID inside the
    // connection's run. Forged resets and device answers carry the device's own TTL or ID.
    bool from_the_real_sender(unsigned point, const PointPacket& p) {
        if (p.icmp || p.conn == kNoConnection) return false;
        const PointCapture& pc = *pt_[point];
        if (sender_ttls_[point].empty()) {
            for (const PointPacket& q : pc.packets) {
                if (q.match >= 0 && !q.icmp) sender_ttls_[point][q.src].insert(q.ttl);
            }
        }
        const auto ttls = sender_ttls_[point].find(p.src);
        if (ttls == sender_ttls_[point].end() || ttls->second.count(p.ttl) == 0) return false;
        std::uint16_t lo = 0xffff, hi = 0;
        for (const std::uint32_t j : pc.conns[p.conn].packets[p.dir]) {
            const PointPacket& q = pc.packets[j];
            if (q.match < 0) continue;
            lo = std::min(lo, q.ip_id);
            hi = std::max(hi, q.ip_id);
        }
        const bool have_run = lo <= hi;
        const bool id_in_run = p.ip_version == 4 && p.ip_id != 0 && have_run && p.ip_id + 4 >= lo && p.ip_id <= hi + 4;
        if (p.has(kRst)) return id_in_run;
        return p.ip_version != 4 || p.ip_id == 0 || !have_run || id_in_run;
    }

    bool lost_by_its_own_account(const PointCapture& pc, const PointPacket& p) const {
        if (p.icmp || p.conn == kNoConnection) return false;
        const Connection& c = pc.conns[p.conn];
        const std::uint32_t end = p.seq + p.payload_len + (p.has(kSyn) ? 1u : 0u) + (p.has(kFin) ? 1u : 0u);
        const auto at = static_cast<std::uint32_t>(&p - pc.packets.data());  // after it: in packet order
        bool acked = false, resent = false, reset = false;
        for (const std::uint32_t j : c.packets[p.dir]) {
            const PointPacket& q = pc.packets[j];
            if (j <= at) continue;
            resent |= q.seq == p.seq && (q.payload_len != 0 || q.has(kSyn)) && (p.payload_len != 0 || p.has(kSyn));
            reset |= q.has(kRst);
        }
        for (const std::uint32_t j : c.packets[p.dir ^ 1]) {
            const PointPacket& q = pc.packets[j];
            if (j <= at) continue;
            reset |= q.has(kRst);
            acked |= q.has(kAck) && static_cast<std::int32_t>(q.ack - end) >= 0;
        }
        if (resent || reset) return true;
        // Sent with nothing to acknowledge (a pure ACK): no account of its own.
        if (end == p.seq) return false;
        return !acked && pc.last_ns > p.ts_ns + kSecond;
    }

    Tally& tally(std::string_view event, const std::string& kind, unsigned way) {
        Tally& t = tallies_[{std::string(event), kind, way}];
        if (t.f.event.empty()) {
            t.f.event = event;
            t.f.kind = kind;
            t.f.way = way;
        }
        return t;
    }

    void count(Tally& t, unsigned point, std::uint32_t index) {
        const PointPacket& p = pt_[point]->packets[index];
        const std::uint64_t ts = at_a_clock(point, p.ts_ns);
        if (t.f.packets == 0 || ts < t.f.first_ns) t.f.first_ns = ts;
        t.f.last_ns = std::max(t.f.last_ns, ts);
        ++t.f.packets;
        t.f.numbers[point].add(p.number);
        if (p.match >= 0) t.f.numbers[point ^ 1].add(pt_[point ^ 1]->packets[static_cast<std::size_t>(p.match)].number);
        if (p.conn != kNoConnection) {
            t.f.conns[point].insert(p.conn);
            if (const ConnPair* pair = pair_of(point, p.conn)) t.f.conns[point ^ 1].insert(point == 0 ? pair->b : pair->a);
        }
        t.min_size = std::min(t.min_size, p.ip_len);
        t.max_size = std::max(t.max_size, p.ip_len);
    }

    // ---- device.injected ----

    void injected(unsigned point, std::uint32_t index) {
        const PointPacket& p = pt_[point]->packets[index];
        std::string kind = p.icmp                 ? (is_frag_needed(p) ? "icmp_frag_needed" : "icmp")
                           : p.has(kRst)          ? "rst"
                           : p.has(kSyn)          ? "syn_ack"
                                                  : "tcp";
        if (kind == "syn_ack" && !p.has(kAck)) kind = "tcp";
        // It left at `point`: it crossed toward that side.
        Tally& t = tally("device.injected", kind, point == 0 ? 1u : 0u);
        count(t, point, index);
        if (!p.icmp && t.ttl_seen == 0) {
            t.ttl_seen = p.ttl;
            t.ttl_peer = peer_ttl(point, p);
        } else if (p.icmp && t.ttl_seen == 0) {
            t.ttl_seen = p.ttl;
            t.before = p.icmp_type;
            t.after = p.icmp_code;
            t.largest_delivered = p.icmp_mtu;
        }
    }

    static bool is_frag_needed(const PointPacket& p) noexcept {
        return (p.ip_version == 4 && p.icmp_type == 3 && p.icmp_code == 4) || (p.ip_version == 6 && p.icmp_type == 2);
    }

    // The TTL the claimed sender's own packets arrive with at this point (0: none seen).
    std::uint32_t peer_ttl(unsigned point, const PointPacket& p) const {
        if (p.conn == kNoConnection) return 0;
        for (const std::uint32_t i : pt_[point]->conns[p.conn].packets[p.dir]) {
            const PointPacket& q = pt_[point]->packets[i];
            if (q.match >= 0) return q.ttl;
        }
        return 0;
    }

    // ---- device.dropped ----

    void classify_drops(unsigned point, std::uint32_t conn, unsigned dir, const std::vector<std::uint32_t>& drops) {
        const PointCapture& pc = *pt_[point];
        const unsigned way = point == 0 ? 0u : 1u;  // entered at A: crossing A to B
        if (dir == 2) {  // ICMP errors that never reached the host they were for
            for (const std::uint32_t i : drops) {
                Tally& t = tally("device.dropped", is_frag_needed(pc.packets[i]) ? "icmp_frag_needed" : "icmp", way);
                count(t, point, i);
                if (t.largest_delivered == 0) t.largest_delivered = pc.packets[i].icmp_mtu;
            }
            return;
        }
        const Connection& c = pc.conns[conn];
        const auto& mine = c.packets[dir];
        const auto& theirs = c.packets[dir ^ 1];
        const auto delivered_after = [&](const std::vector<std::uint32_t>& list, std::uint64_t t) {
            return std::any_of(list.begin(), list.end(),
                               [&](std::uint32_t i) { return pc.packets[i].match >= 0 && pc.packets[i].ts_ns > t; });
        };
        std::vector<std::uint32_t> rest;
        for (const std::uint32_t i : drops) {
            const PointPacket& p = pc.packets[i];
            if (!p.has(kSyn)) {
                rest.push_back(i);
                continue;
            }
            bool handshake_passed = false, plain_passed = false;
            for (const std::uint32_t j : mine) {
                const PointPacket& q = pc.packets[j];
                if (q.match < 0 || !q.has(kSyn)) continue;
                handshake_passed = true;
                plain_passed |= !q.has(kEce) && !q.has(kCwr);
            }
            std::string kind = p.has(kAck) ? "syn_ack" : "syn";
            if (handshake_passed) kind = p.is_pure_syn() && p.has(kEce) && p.has(kCwr) && plain_passed ? "ecn_setup_syn" : "scattered";
            Tally& t = tally("device.dropped", kind, way);
            count(t, point, i);
            t.ecn_setup += p.has(kEce) && p.has(kCwr);
            note_way_total(t, way);
        }
        if (rest.empty()) return;

        // The connection's packets at this point in time order, both directions: silences.
        std::vector<std::uint64_t> times;
        for (const auto* list : {&mine, &theirs}) for (const std::uint32_t i : *list) times.push_back(pc.packets[i].ts_ns);
        std::sort(times.begin(), times.end());
        const auto silence_before = [&](std::uint64_t t, std::uint64_t& rhythm) {
            const auto it = std::lower_bound(times.begin(), times.end(), t);
            if (it == times.begin()) return std::uint64_t{0};
            std::vector<std::uint64_t> gaps;
            for (auto g = times.begin() + 1; g < it; ++g) gaps.push_back(*g - *(g - 1));
            rhythm = 0;
            if (!gaps.empty()) {
                std::nth_element(gaps.begin(), gaps.begin() + gaps.size() / 2, gaps.end());
                rhythm = gaps[gaps.size() / 2];
            }
            return t - *(it - 1);
        };
        const auto rejected = [&](std::uint64_t t) {
            const auto it = rst_times_.find({point, conn});
            if (it == rst_times_.end()) return false;
            return std::any_of(it->second.begin(), it->second.end(), [&](std::uint64_t r) { return r >= t && r <= t + 2 * kSecond; });
        };

        std::vector<std::pair<std::uint32_t, std::string>> kinds;
        std::vector<std::uint32_t> open;
        bool idle_run = false;
        std::uint64_t idle_gap = 0, last_delivered_before = 0;
        for (const std::uint32_t i : rest) {
            const PointPacket& p = pc.packets[i];
            std::uint64_t rhythm = 0;
            const std::uint64_t gap = silence_before(p.ts_ns, rhythm);
            // A silence of a second or more, long against the flow's own rhythm (RFC 6298's
            // minimum RTO is a second), ended by a packet the device no longer passes.
            const bool had_traffic = std::any_of(mine.begin(), mine.end(), [&](std::uint32_t j) {
                return pc.packets[j].match >= 0 && pc.packets[j].ts_ns < p.ts_ns;
            }) || std::any_of(theirs.begin(), theirs.end(), [&](std::uint32_t j) {
                return pc.packets[j].match >= 0 && pc.packets[j].ts_ns < p.ts_ns;
            });
            const bool resends_a_drop = std::any_of(rest.begin(), rest.end(), [&](std::uint32_t j) {
                return pc.packets[j].ts_ns < p.ts_ns && pc.packets[j].seq == p.seq;
            });
            if (had_traffic && !resends_a_drop && gap >= kSecond && gap >= 8 * rhythm && delivered_at(pc, c, p.ts_ns - gap)) {
                idle_run = true;
                idle_gap = gap;
                last_delivered_before = p.ts_ns;
            } else if (idle_run && delivered_between(pc, mine, last_delivered_before, p.ts_ns)) {
                idle_run = false;
            }
            if (idle_run) {
                kinds.push_back({i, "after_idle"});
                Tally& t = tally("device.dropped", "after_idle", way);
                t.longest_gap_ns = std::max(t.longest_gap_ns, idle_gap);
                t.answered_with_reset += rejected(p.ts_ns);
            } else if (rejected(p.ts_ns)) {
                kinds.push_back({i, "rejected"});
            } else {
                open.push_back(i);
            }
        }
        // Large segments: every one lost is larger than every one delivered since the first
        // loss, at least two of them, at a size an MTU could be below (IPv4's minimum is 576).
        // Only segments that carry data count; a pure ACK lost beside them is judged apart.
        std::vector<std::uint32_t> carrying;
        for (const std::uint32_t i : open) {
            if (pc.packets[i].payload_len != 0) carrying.push_back(i);
        }
        if (carrying.size() >= 2) {
            std::uint32_t smallest_lost = UINT32_MAX;
            for (const std::uint32_t i : carrying) smallest_lost = std::min(smallest_lost, pc.packets[i].ip_len);
            const std::uint64_t since = pc.packets[carrying.front()].ts_ns;
            std::uint32_t largest_after = 0, largest_ever = 0;
            bool any_after = false;
            for (const std::uint32_t j : mine) {
                const PointPacket& q = pc.packets[j];
                if (q.match < 0) continue;
                largest_ever = std::max(largest_ever, q.ip_len);
                if (q.ts_ns > since && q.payload_len != 0) {
                    any_after = true;
                    largest_after = std::max(largest_after, q.ip_len);
                }
            }
            const std::uint32_t delivered = any_after ? largest_after : largest_ever;
            if (smallest_lost >= 576 && smallest_lost > delivered) {
                // With a 'fragmentation needed' from the device for this connection the drop is
                // path MTU discovery working (RFC 1191): the sender was told.
                const char* kind = frag_needed_from_device_.count({point, conn}) != 0 ? "large_reported" : "large";
                for (const std::uint32_t i : carrying) kinds.push_back({i, kind});
                Tally& t = tally("device.dropped", kind, way);
                t.largest_delivered = std::max(t.largest_delivered, delivered);
                std::erase_if(open, [&](std::uint32_t i) { return pc.packets[i].payload_len != 0; });
            }
        }
        // One direction cut off: from the first loss on nothing of it passes while the other
        // direction still does.
        if (open.size() >= 3) {
            const std::uint64_t since = pc.packets[open.front()].ts_ns;
            if (!delivered_after(mine, since) && delivered_after(theirs, since)) {
                for (const std::uint32_t i : open) kinds.push_back({i, "one_direction"});
                open.clear();
            }
        }
        for (const std::uint32_t i : open) {
            // A lone pure ACK missing beyond the device has no consequence to show whether the
            // device or the capture lost it (later ACKs cover it): counted, not judged.
            const PointPacket& p = pc.packets[i];
            if (p.payload_len == 0 && (p.flags & (kSyn | kFin | kRst)) == 0) {
                ++counts_.ack_gaps;
                continue;
            }
            kinds.push_back({i, "scattered"});
        }
        for (const auto& [i, kind] : kinds) {
            Tally& t = tally("device.dropped", kind, way);
            count(t, point, i);
            note_way_total(t, way);
        }
    }

    // The packet of `c` at time `t` crossed (the one that ended activity before a silence).
    static bool delivered_at(const PointCapture& pc, const Connection& c, std::uint64_t t) {
        for (unsigned d = 0; d < 2; ++d) {
            for (const std::uint32_t j : c.packets[d]) {
                if (pc.packets[j].ts_ns == t && pc.packets[j].match >= 0) return true;
            }
        }
        return false;
    }

    static bool delivered_between(const PointCapture& pc, const std::vector<std::uint32_t>& list, std::uint64_t from,
                                  std::uint64_t to) {
        return std::any_of(list.begin(), list.end(), [&](std::uint32_t j) {
            return pc.packets[j].match >= 0 && pc.packets[j].ts_ns > from && pc.packets[j].ts_ns < to;
        });
    }

    void note_way_total(Tally& t, unsigned way) {
        if (t.way_packets != 0) return;
        t.way_packets = way_packets(way);
    }

    // Packets that crossed `way` or tried to: the matched ones and those lost that way.
    std::uint64_t way_packets(unsigned way) const {
        std::uint64_t n = 0;
        for (const ConnPair& pair : cmp_.pairs) {
            for (unsigned d = 0; d < 2; ++d) {
                if (ingress_point(pair, d) != static_cast<int>(way)) continue;
                n += way == 0 ? pt_[0]->conns[pair.a].packets[d].size() : pt_[1]->conns[pair.b].packets[pair.b_dir(d)].size();
            }
        }
        return n;
    }

    // ---- device.rewrote ----

    void rewrites() {
        const PointCapture& a = *pt_[0];
        const PointCapture& b = *pt_[1];
        for (const ConnPair& pair : cmp_.pairs) {
            for (unsigned d = 0; d < 2; ++d) {
                const int in = ingress_point(pair, d);
                if (in < 0) continue;
                const unsigned way = static_cast<unsigned>(in);
                for (const std::uint32_t i : a.conns[pair.a].packets[d]) {
                    const PointPacket& pa = a.packets[i];
                    if (pa.match < 0) continue;
                    const PointPacket& pb = b.packets[static_cast<std::size_t>(pa.match)];
                    compare_fields(in == 0 ? pa : pb, in == 0 ? pb : pa, in == 0 ? 0u : 1u, in == 0 ? i : static_cast<std::uint32_t>(pa.match), way);
                }
                if (pair.seq_offset[d] != 0) sequence_shift(pair, d, way);
            }
            if (pair.nat) {
                Tally& t = tally("device.rewrote", "nat", ingress_point(pair, 0) == 1 ? 1u : 0u);
                const std::uint32_t first = a.conns[pair.a].packets[0].empty() ? a.conns[pair.a].packets[1][0] : a.conns[pair.a].packets[0][0];
                count(t, 0, first);
            }
        }
    }

    // `in` is the packet as it entered (at point `in_point`), `out` as it left.
    void compare_fields(const PointPacket& in, const PointPacket& out, unsigned in_point, std::uint32_t in_index, unsigned way) {
        const auto note = [&](const char* kind, std::uint32_t before, std::uint32_t after) {
            Tally& t = tally("device.rewrote", kind, way);
            count(t, in_point, in_index);
            if (!t.have_example) {
                t.have_example = true;
                t.before = before;
                t.after = after;
            }
        };
        if (in.has(kSyn)) {
            if (in.has(kEce) && !out.has(kEce)) note("ecn_setup", in.flags & (kEce | kCwr), out.flags & (kEce | kCwr));
            if ((in.opts & kOptMss) && !(out.opts & kOptMss)) note("mss", in.mss, 0);
            if ((in.opts & kOptMss) && (out.opts & kOptMss) && out.mss < in.mss) note("mss_clamped", in.mss, out.mss);
            if ((in.opts & kOptMss) && (out.opts & kOptMss) && out.mss > in.mss) note("mss_raised", in.mss, out.mss);
            if ((in.opts & kOptWscale) && !(out.opts & kOptWscale)) note("wscale", in.wscale, 0);
            if ((in.opts & kOptWscale) && (out.opts & kOptWscale) && out.wscale != in.wscale) note("wscale_changed", in.wscale, out.wscale);
            if ((in.opts & kOptSackPerm) && !(out.opts & kOptSackPerm)) note("sack_perm", 1, 0);
        }
        if ((in.opts & kOptTimestamp) && !(out.opts & kOptTimestamp)) note("timestamp", in.ts_val, 0);
        if (in.sack_blocks != 0 && out.sack_blocks == 0) note("sack_blocks", in.sack_blocks, 0);
        if (in.ecn != out.ecn) {
            if (out.ecn == kCe) {
                note("ce_marked", in.ecn, out.ecn);  // congestion marking: the device doing its job
            } else if (in.ecn == kCe) {
                note("ce_erased", in.ecn, out.ecn);
            } else if (out.ecn == kNotEct) {
                note("ecn_bleached", in.ecn, out.ecn);
            } else {
                note("ecn_changed", in.ecn, out.ecn);
            }
        }
        if (in.dscp != out.dscp) note("dscp", in.dscp, out.dscp);
        if (in.window != out.window) note("window", in.window, out.window);
        if (in.ttl > out.ttl) {
            note("ttl", in.ttl - out.ttl, 0);
        } else if (in.ttl < out.ttl) {
            note("ttl_raised", in.ttl, out.ttl);
        }
    }

    // A sequence offset on direction `d` (A's numbering): were the SACK blocks acknowledging
    // that direction moved with it (RFC 2018's edges are sequence numbers)?
    void sequence_shift(const ConnPair& pair, unsigned d, unsigned way) {
        const PointCapture& a = *pt_[0];
        const PointCapture& b = *pt_[1];
        Tally& t = tally("device.rewrote", "sequence", way);
        if (!t.have_example) {
            t.have_example = true;
            t.before = pair.seq_offset[d];
        }
        const auto& data = a.conns[pair.a].packets[d];
        if (!data.empty()) count(t, 0, data.front());
        for (const std::uint32_t i : a.conns[pair.a].packets[d ^ 1]) {
            const PointPacket& pa = a.packets[i];
            if (pa.match < 0 || pa.sack_blocks == 0) continue;
            const PointPacket& pb = b.packets[static_cast<std::size_t>(pa.match)];
            if (pb.sack_blocks == 0) continue;
            if (pb.sack[0].left - pa.sack[0].left == pair.seq_offset[d]) {
                ++t.rewritten;
            } else if (pb.sack[0].left == pa.sack[0].left) {
                ++t.unrewritten;
                t.f.numbers[0].add(pa.number);
                t.f.numbers[1].add(pb.number);
            }
        }
    }

    // ---- device.delay ----

    void delay() {
        for (unsigned way = 0; way < 2; ++way) {
            const DelayStats& s = cmp_.delay[way];
            if (s.samples == 0) continue;
            Tally& t = tally("device.delay", "latency", way);
            t.f.packets = s.samples;
            t.f.first_ns = pt_[0]->first_ns;
            t.f.last_ns = pt_[0]->last_ns;
        }
    }

    // ---- writing ----

    DeviceReport finish();
    void describe(Tally& t);

    const PointCapture* pt_[2];
    const Comparison& cmp_;
    std::uint64_t margin_ns_;
    CompareCounts counts_;
    std::vector<std::pair<unsigned, std::uint32_t>> injected_;
    std::map<std::tuple<unsigned, std::uint32_t, unsigned>, std::vector<std::uint32_t>> dropped_;
    std::map<std::pair<unsigned, std::uint32_t>, std::vector<std::uint64_t>> rst_times_;
    // (the point the quoted segments entered at, connection): the device said 'too big'.
    std::set<std::pair<unsigned, std::uint32_t>> frag_needed_from_device_;
    // Per point: the TTLs each sender's matched packets arrive with there.
    std::map<Addr, std::set<std::uint8_t>> sender_ttls_[2];
    std::map<std::tuple<std::string, std::string, unsigned>, Tally> tallies_;
};

std::string fmt(const char* f, auto... args) {
    char buf[512];
    std::snprintf(buf, sizeof buf, f, args...);
    return buf;
}

const char* ecn_name(std::uint32_t e) noexcept {
    switch (e) {
        case kNotEct: return "Not-ECT";
        case kEct1: return "ECT(1)";
        case kEct0: return "ECT(0)";
        default: return "CE";
    }
}

DeviceReport Analysis::finish() {
    DeviceReport out;
    out.counts = counts_;
    for (auto& [key, t] : tallies_) {
        if (t.f.packets == 0 && t.f.event != "device.rewrote") continue;
        describe(t);
        out.findings.push_back(std::move(t.f));
    }
    std::stable_sort(out.findings.begin(), out.findings.end(), [](const DeviceFinding& x, const DeviceFinding& y) {
        return x.first_ns < y.first_ns;
    });
    return out;
}

void Analysis::describe(Tally& t) {
    DeviceFinding& f = t.f;
    const std::size_t flows = std::max(f.conns[0].size(), f.conns[1].size());
    const char* way = way_text(f.way);
    const char* in_point = point_name(f.way);  // entered at A when crossing A to B
    std::string ev;
    JsonWriter j(ev);
    j.field("way", way_name(f.way)).field("packets", f.packets).field("flows", static_cast<std::uint64_t>(flows));
    const bool strong_crossing = cmp_.crossing_by[static_cast<unsigned>(CrossingBy::kTtl)] != 0 ||
                                 cmp_.crossing_by[static_cast<unsigned>(CrossingBy::kTiming)] != 0;
    f.confidence = f.packets >= 3 && strong_crossing ? Confidence::kHigh : Confidence::kMedium;
    const std::string& k = f.kind;
    if (f.event == "device.dropped") {
        j.field("smallest_ip_len", t.min_size).field("largest_ip_len", t.max_size);
        f.severity = Severity::kCritical;
        if (k == "syn" || k == "syn_ack") {
            const bool surge = flows >= 5;
            j.field("many_at_once", surge).field("ecn_setup_syns", t.ecn_setup);
            f.summary = fmt("%u %s of %zu connection(s) entered the device at %s and never left it; none of those "
                            "handshakes got through%s",
                            f.packets, k == "syn" ? "SYNs" : "SYN-ACKs", flows, in_point,
                            surge ? " (many connections at once: a full state table or a connection limit)" : "");
            f.advice = surge ? "The device refuses new connections while established ones still pass: its state table or a "
                               "connection limit is exhausted. Compare its connection count with its limit (Linux: "
                               "conntrack -C and nf_conntrack_max; connlimit rules), raise the limit or shorten idle timeouts, "
                               "and look for what opens so many connections."
                             : "The device drops this connection's handshake: a filter rule denies it (check the rule set for "
                               "this address and port), or its state table is full.";
        } else if (k == "ecn_setup_syn") {
            f.summary = fmt("%u ECN-setup SYN(s) (ECE+CWR) entered at %s and never left, while the same connections' "
                            "retries without ECN passed",
                            f.packets, in_point);
            f.advice = "The device drops SYNs that ask for ECN (RFC 3168 section 6.1.1): fix or replace its filter (often a "
                       "rule matching the reserved TCP flag bits). Until then, servers stay reachable through the plain "
                       "retry, each connection paying a SYN timeout first.";
        } else if (k == "large") {
            j.field("largest_delivered_ip_len", t.largest_delivered).field("smallest_lost_ip_len", t.min_size);
            f.summary = fmt("%u segment(s) of %u..%u bytes entered at %s and never left, while packets of up to %u bytes "
                            "passed: the path MTU beyond the device is at least %u and below %u",
                            f.packets, t.min_size, t.max_size, in_point, t.largest_delivered, t.largest_delivered, t.min_size);
            f.advice = "A link beyond the device has a smaller MTU and the 'fragmentation needed' / 'packet too big' "
                       "messages do not reach the sender. Let ICMP type 3 code 4 (IPv6: type 2) through, or clamp the MSS "
                       "on the device to the narrow link's MTU minus 40 (IPv6: 60).";
        } else if (k == "large_reported") {
            f.severity = Severity::kInfo;
            j.field("largest_delivered_ip_len", t.largest_delivered).field("smallest_lost_ip_len", t.min_size);
            f.summary = fmt("%u segment(s) of %u..%u bytes were too big to leave the device, which said so with ICMP "
                            "'fragmentation needed / packet too big': path MTU discovery at work",
                            f.packets, t.min_size, t.max_size);
            f.advice = "Nothing to fix at the device. If the senders keep sending segments this large, something between "
                       "the device and them filters the ICMP messages.";
        } else if (k == "after_idle") {
            j.field("longest_silence_s", static_cast<double>(t.longest_gap_ns) / 1e9, 3).field("answered_with_reset", t.answered_with_reset);
            f.summary = fmt("%u packet(s) sent after %.1f s of silence entered at %s and never left%s: the device forgot "
                            "the connection",
                            f.packets, static_cast<double>(t.longest_gap_ns) / 1e9, in_point,
                            t.answered_with_reset != 0 ? " (the device answered with a reset)" : "");
            f.advice = "The device's idle timeout for established connections is shorter than this application's "
                       "silences. Enable TCP keepalives (or application heartbeats) at an interval below the device's "
                       "timeout, or raise that timeout on the device.";
        } else if (k == "rejected") {
            f.summary = fmt("%u packet(s) entered at %s and never left; the device answered them with a reset of its own",
                            f.packets, in_point);
            f.advice = "The device rejects these packets with a forged reset (a REJECT rule, an IPS, or state it no longer "
                       "has): find the rule or state entry that matches this connection on the device.";
        } else if (k == "one_direction") {
            f.summary = fmt("from packet %" PRIu64 " at %s on, all %u packet(s) %s were dropped while the other direction "
                            "still passed",
                            f.numbers[f.way].nums[0], in_point, f.packets, way);
            f.advice = "The device stops forwarding one direction of the connection: an asymmetric route (the return "
                       "traffic takes another path and the device's state does not match), or a rule that matches one way "
                       "only.";
        } else if (k == "icmp_frag_needed" || k == "icmp") {
            j.field("mtu", t.largest_delivered);
            f.summary = fmt("%u ICMP error(s)%s entered at %s and never reached the host they were for",
                            f.packets, k == "icmp_frag_needed" ? " saying 'fragmentation needed / packet too big'" : "", in_point);
            f.advice = k == "icmp_frag_needed"
                           ? "The device filters the ICMP messages path MTU discovery depends on (RFC 1191, RFC 8201): "
                             "allow ICMP type 3 code 4 and ICMPv6 type 2 through, or large segments will vanish."
                           : "The device filters ICMP errors about TCP connections: hosts then wait for timeouts instead of "
                             "failing fast. Allow related ICMP (conntrack RELATED) through.";
        } else {  // scattered
            const double share = t.way_packets != 0 ? 100.0 * f.packets / static_cast<double>(t.way_packets) : 0.0;
            j.field("share_percent", share, 2);
            f.severity = f.packets >= 3 && share >= 0.5 ? Severity::kWarning : Severity::kInfo;
            f.summary = fmt("%u packet(s) %s entered the device and never left (%.2f%% of that way), scattered over %zu "
                            "connection(s)",
                            f.packets, way, share, flows);
            f.advice = "The device loses packets: a full queue, a rate limit or policer, or a faulty link or port. Check its "
                       "interface and queue drop counters and any shaping or policing on this traffic.";
        }
    } else if (f.event == "device.injected") {
        f.severity = Severity::kCritical;
        if (k == "rst") {
            j.field("ttl", t.ttl_seen).field("peer_ttl", t.ttl_peer);
            f.summary = fmt("%u reset(s) left the device toward %s's side without having entered it (TTL %u; the peer's own "
                            "packets arrive with %u)",
                            f.packets, point_name(f.way ^ 1), t.ttl_seen, t.ttl_peer);
            f.advice = "The device (or something beside it) forges TCP resets in the peer's name: an idle timeout that "
                       "answers with a reset, a REJECT rule, an IPS or a load balancer. Find which rule or timeout fires.";
        } else if (k == "icmp_frag_needed") {
            f.severity = Severity::kInfo;
            j.field("mtu", t.largest_delivered).field("ttl", t.ttl_seen);
            f.summary = fmt("the device sent %u 'fragmentation needed / packet too big' message(s) (MTU %u) toward %s's "
                            "side: path MTU discovery at work",
                            f.packets, t.largest_delivered, point_name(f.way ^ 1));
            f.advice = "Nothing to fix at the device: it reports its narrow next hop as it should. If the senders do not "
                       "shrink their segments, something between the device and them filters these messages.";
        } else {
            f.severity = Severity::kWarning;
            j.field("ttl", t.ttl_seen);
            if (k == "icmp") j.field("icmp_type", t.before).field("icmp_code", t.after);
            f.summary = fmt("%u %s packet(s) left the device toward %s's side without having entered it",
                            f.packets, k == "icmp" ? "ICMP error" : k == "syn_ack" ? "SYN-ACK" : "TCP", point_name(f.way ^ 1));
            f.advice = k == "icmp" ? "The device answers traffic with ICMP errors of its own (a REJECT rule, no route): "
                                     "find the rule or route that produces them."
                                   : "The device answers or creates TCP segments itself (a SYN proxy, a TCP-terminating "
                                     "load balancer or an IPS): the endpoints are not talking to each other directly.";
        }
    } else if (f.event == "device.rewrote") {
        f.severity = Severity::kWarning;
        j.field("before", t.before).field("after", t.after);
        const auto option_removed = [&](const char* name, const char* consequence) {
            f.summary = fmt("the device removed %s from %u packet(s) %s (%zu connection(s))", name, f.packets, way, flows);
            f.advice = fmt("The device strips %s (%s). Turn off the option scrubbing or normalisation on the device "
                           "(e.g. a TCPOPTSTRIP rule, Cisco ASA 'tcp-options', a 'TCP normalizer').",
                           name, consequence);
        };
        if (k == "sack_perm") {
            option_removed("SACK-permitted", "every loss is then repaired one segment per round trip");
        } else if (k == "wscale") {
            option_removed("window scale", "the window is capped at 64 KiB, or worse, one side scales and the other does not");
        } else if (k == "timestamp") {
            option_removed("the timestamps option", "RTT measurement and PAWS protection are lost");
        } else if (k == "mss") {
            option_removed("the MSS option", "the peer then assumes 536 bytes (RFC 9293 section 3.7.1)");
        } else if (k == "sack_blocks") {
            option_removed("SACK blocks", "the sender no longer learns which segments arrived");
        } else if (k == "ecn_setup") {
            option_removed("ECE/CWR from the SYN (ECN negotiation)", "ECN cannot be used");
        } else if (k == "wscale_changed") {
            f.summary = fmt("the device changed the window scale from %u to %u in %u SYN(s) %s", t.before, t.after, f.packets, way);
            f.advice = "The device rewrites the window scale: windows are then misread by one side. Turn the rewriting off.";
        } else if (k == "mss_clamped" || k == "mss_raised") {
            f.severity = k == "mss_clamped" ? Severity::kInfo : Severity::kWarning;
            f.summary = fmt("the device %s the MSS from %u to %u in %u SYN(s) %s", k == "mss_clamped" ? "clamped" : "raised",
                            t.before, t.after, f.packets, way);
            f.advice = k == "mss_clamped" ? "MSS clamping: routine on tunnels and PPPoE, and the fix for path MTU trouble. "
                                            "Nothing to do unless the clamp is lower than the path needs."
                                          : "The device raises the MSS above what the host announced: segments may then be too "
                                            "large for the host's path. Remove the rewrite.";
        } else if (k == "ecn_bleached" || k == "ce_erased" || k == "ecn_changed" || k == "ce_marked") {
            f.severity = k == "ce_marked" ? Severity::kInfo : Severity::kWarning;
            f.summary = fmt("the device changed the ECN codepoint from %s to %s in %u packet(s) %s", ecn_name(t.before),
                            ecn_name(t.after), f.packets, way);
            f.advice = k == "ce_marked" ? "Congestion marking (RFC 3168): the device's queue is filling and it signals it "
                                          "instead of dropping. Nothing to fix."
                                        : "The device clears the ECN bits of the IP header (often a rule that resets the "
                                          "whole TOS byte): congestion signals are lost. Rewrite DSCP only, never the "
                                          "low two bits (RFC 3168 section 6.1.1.1).";
        } else if (k == "dscp") {
            f.severity = Severity::kInfo;
            f.summary = fmt("the device remarked DSCP %u to %u in %u packet(s) %s", t.before, t.after, f.packets, way);
            f.advice = "DSCP remarking at a trust boundary is policy, not a fault; check it matches the intended class.";
        } else if (k == "window") {
            f.summary = fmt("the device rewrote the TCP window (e.g. %u to %u) in %u packet(s) %s", t.before, t.after,
                            f.packets, way);
            f.advice = "The device changes advertised windows (a normaliser or a window-clamping feature): throughput "
                       "follows the rewritten window. Turn the feature off unless it is intended.";
        } else if (k == "ttl" || k == "ttl_raised") {
            f.severity = k == "ttl" ? Severity::kInfo : Severity::kWarning;
            f.summary = k == "ttl" ? fmt("the device lowered the TTL by %u %s: a routed hop", t.before, way)
                                   : fmt("the device raised the TTL from %u to %u %s", t.before, t.after, way);
            f.advice = k == "ttl" ? "Routine: every router takes one off." : "A TTL normaliser: hop counts seen beyond it are not the real ones.";
        } else if (k == "nat") {
            f.severity = Severity::kInfo;
            f.summary = fmt("the device translates addresses or ports (NAT) on %zu connection(s)", flows);
            f.advice = "Routine NAT. Matching went by payloads, IP IDs and sequence numbers, which it leaves alone.";
        } else if (k == "sequence") {
            j.field("offset", t.before).field("sack_blocks_rewritten", t.rewritten).field("sack_blocks_not_rewritten", t.unrewritten);
            f.severity = t.unrewritten != 0 ? Severity::kCritical : Severity::kInfo;
            f.summary = t.unrewritten != 0
                            ? fmt("the device shifts sequence numbers %s (offset %u) but passes %u SACK block(s) unchanged: "
                                  "the sender receives SACK edges outside anything it sent",
                                  way, t.before, t.unrewritten)
                            : fmt("the device shifts sequence numbers %s (offset %u) on %zu connection(s)%s", way, t.before,
                                  flows, t.rewritten != 0 ? ", and rewrites SACK blocks with them" : "");
            f.advice = t.unrewritten != 0
                           ? "Sequence-number randomisation without SACK rewriting breaks loss recovery (documented for "
                             "Cisco ASA/FTD): turn randomisation off for this traffic, or make the device rewrite SACK."
                           : "Sequence randomisation done right: nothing to fix.";
        }
    } else if (f.event == "device.delay") {
        const DelayStats& s = cmp_.delay[f.way];
        f.severity = Severity::kInfo;
        j.field("median_us", s.median_us, 1).field("p99_us", s.p99_us, 1).field("max_us", s.max_us, 1)
            .field("clock_offset_us", static_cast<double>(cmp_.clock_offset_ns) / 1e3, 1).field("clock_known", cmp_.clock_known);
        f.summary = fmt("crossing the device %s took %.1f us (median), %.1f us at the 99th percentile, over %u packets%s",
                        way, s.median_us, s.p99_us, s.samples,
                        cmp_.clock_known ? "" : " (one way only: the clocks' offset is a guess)");
        f.advice = "Information: the time the device adds, per packet, with the two capture clocks aligned by the "
                   "packets that crossed each way.";
        f.confidence = cmp_.clock_known ? Confidence::kHigh : Confidence::kLow;
    }
    f.evidence = std::move(ev);
}

}  // namespace

DeviceReport find_device_faults(const PointCapture& a, const PointCapture& b, const Comparison& cmp) {
    return Analysis(a, b, cmp).run();
}

std::vector<std::string_view> single_point_equivalents(const DeviceFinding& f) {
    const std::string& k = f.kind;
    if (f.event == "device.dropped") {
        if (k == "syn" || k == "syn_ack") return {"handshake.syn_unanswered", "handshake.syn_drop_surge"};
        if (k == "ecn_setup_syn") return {"ecn.syn_blackhole"};
        if (k == "large" || k == "icmp_frag_needed") return {"mtu.blackhole"};
        if (k == "after_idle") return {"idle.timeout_drop", "idle.reset_after_idle"};
        if (k == "rejected") return {"rst.injected", "idle.reset_after_idle"};
        if (k == "one_direction") return {"path.one_way_loss"};
    } else if (f.event == "device.rewrote") {
        if (k == "sack_perm") return {"options.stripped", "sack.unnegotiated_blocks", "options.not_negotiated"};
        if (k == "wscale") return {"options.stripped", "window.scale_mismatch", "options.not_negotiated"};
        if (k == "timestamp") return {"options.stripped"};
        if (k == "ecn_bleached") return {"ecn.bleached"};
        if (k == "ce_erased") return {"ecn.ce_erased"};
        if (k == "ecn_setup") return {"ecn.not_negotiated"};
        if (k == "sequence") return {"sack.invalid_blocks"};
    } else if (f.event == "device.injected") {
        if (k == "rst") return {"rst.injected", "idle.reset_after_idle"};
        if (k == "icmp_frag_needed") return {"mtu.icmp_frag_needed"};
    }
    return {};
}

}  // namespace tcpsleuth::two_point

namespace tcpsleuth::two_point {

void note_agreement(DeviceFinding& f, const std::array<const PointCapture*, 2>& points,
                    const std::array<const std::vector<Event>*, 2>& events) {
    const std::vector<std::string_view> names = single_point_equivalents(f);
    if (names.empty()) return;
    for (unsigned p = 0; p < 2; ++p) {
        if (events[p] == nullptr) continue;
        std::vector<std::string> tuples;
        for (const std::uint32_t c : f.conns[p]) tuples.push_back(canonical_tuple(points[p]->conns[c]));
        std::sort(tuples.begin(), tuples.end());
        for (const Event& e : *events[p]) {
            const std::string_view name = event_name(e);
            if (std::find(names.begin(), names.end(), name) == names.end()) continue;
            // A surge names no one flow: it agrees with dropped SYNs across connections.
            const bool about_flow = e.flow_id != 0 || e.key.ip_version != 0;
            if (about_flow && !std::binary_search(tuples.begin(), tuples.end(),
                                                  canonical_tuple(e.key.addr_lo, e.key.port_lo, e.key.addr_hi, e.key.port_hi))) {
                continue;
            }
            std::string said = std::string(name) + " at " + (p == 0 ? "A" : "B");
            if (std::find(f.agrees_with.begin(), f.agrees_with.end(), said) == f.agrees_with.end()) f.agrees_with.push_back(said);
        }
    }
    if (!f.agrees_with.empty()) f.confidence = Confidence::kHigh;
}

}  // namespace tcpsleuth::two_point
