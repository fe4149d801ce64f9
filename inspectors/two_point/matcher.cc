#include "matcher.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_map>

namespace tcpsleuth::two_point {
namespace {

constexpr std::uint8_t kIdentityFlags = kSyn | kFin | kRst | kAck;  // ECE/CWR/PSH a device may change
constexpr std::size_t kMaxBucket = 8;        // a signature shared by more packets says nothing
constexpr std::size_t kVotesPerDirection = 256;

std::uint64_t mix(std::uint64_t h, std::uint64_t v) noexcept {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdull;
}

struct Isns {
    bool known[2] = {false, false};
    std::uint32_t isn[2] = {0, 0};
};

Isns isns_of(const PointCapture& p, const Connection& c) {
    Isns out;
    for (unsigned d = 0; d < 2; ++d) {
        for (const std::uint32_t i : c.packets[d]) {
            if (p.packets[i].has(kSyn)) {
                out.known[d] = true;
                out.isn[d] = p.packets[i].seq;
                break;
            }
        }
    }
    return out;
}

std::uint64_t vote_key(std::uint32_t a, std::uint32_t b, bool flip) noexcept {
    return (std::uint64_t{a} << 32) | (std::uint64_t{b} << 1) | (flip ? 1u : 0u);
}

// Candidate connection pairs scored by what they share.
std::unordered_map<std::uint64_t, int> vote(const PointCapture& a, const PointCapture& b, const std::vector<Isns>& isn_a,
                                            const std::vector<Isns>& isn_b) {
    std::unordered_map<std::uint64_t, int> votes;
    // The same 4-tuple at both points: no NAT between them.
    std::unordered_map<std::string, std::vector<std::uint32_t>> by_tuple;
    for (std::uint32_t i = 0; i < b.conns.size(); ++i) by_tuple[canonical_tuple(b.conns[i])].push_back(i);
    for (std::uint32_t i = 0; i < a.conns.size(); ++i) {
        const auto it = by_tuple.find(canonical_tuple(a.conns[i]));
        if (it == by_tuple.end()) continue;
        for (const std::uint32_t j : it->second) {
            const bool flip = !(a.conns[i].client == b.conns[j].client && a.conns[i].client_port == b.conns[j].client_port);
            votes[vote_key(i, j, flip)] += 4;
        }
    }
    // SYNs: the ISN (NAT leaves it), the timestamp value, the IP ID with the window.
    std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> syns;
    for (std::uint32_t i = 0; i < b.packets.size(); ++i) {
        const PointPacket& p = b.packets[i];
        if (!p.is_pure_syn() || p.conn == kNoConnection) continue;
        syns[mix(1, p.seq)].push_back(i);
        if (p.ts_val != 0) syns[mix(2, p.ts_val)].push_back(i);
        if (p.ip_id != 0) syns[mix(3, (std::uint64_t{p.ip_id} << 16) | p.window)].push_back(i);
    }
    for (const PointPacket& p : a.packets) {
        if (!p.is_pure_syn() || p.conn == kNoConnection) continue;
        const std::pair<std::uint64_t, int> keys[3] = {{mix(1, p.seq), 3},
                                                       {p.ts_val != 0 ? mix(2, p.ts_val) : 0, 2},
                                                       {p.ip_id != 0 ? mix(3, (std::uint64_t{p.ip_id} << 16) | p.window) : 0, 1}};
        for (const auto& [key, weight] : keys) {
            if (key == 0) continue;
            const auto it = syns.find(key);
            if (it == syns.end() || it->second.size() > kMaxBucket) continue;
            for (const std::uint32_t j : it->second) votes[vote_key(p.conn, b.packets[j].conn, false)] += weight;
        }
    }
    // Data: the payload's signature and length, and where the ISN is known at both points the
    // offset from it (what NAT and sequence rewriting leave alone).
    std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> data;
    for (std::uint32_t c = 0; c < b.conns.size(); ++c) {
        for (unsigned d = 0; d < 2; ++d) {
            const auto& list = b.conns[c].packets[d];
            for (std::size_t k = 0; k < list.size() && k < kVotesPerDirection; ++k) {
                const PointPacket& p = b.packets[list[k]];
                if (p.payload_hash == 0) continue;
                data[mix(4, p.payload_hash)].push_back(list[k]);
                if (isn_b[c].known[d]) data[mix(mix(5, p.payload_hash), p.seq - isn_b[c].isn[d])].push_back(list[k]);
            }
        }
    }
    for (std::uint32_t c = 0; c < a.conns.size(); ++c) {
        for (unsigned d = 0; d < 2; ++d) {
            const auto& list = a.conns[c].packets[d];
            for (std::size_t k = 0; k < list.size() && k < kVotesPerDirection; ++k) {
                const PointPacket& p = a.packets[list[k]];
                if (p.payload_hash == 0) continue;
                auto it = data.end();
                if (isn_a[c].known[d]) it = data.find(mix(mix(5, p.payload_hash), p.seq - isn_a[c].isn[d]));
                if (it == data.end() || it->second.size() > kMaxBucket) it = data.find(mix(4, p.payload_hash));
                if (it == data.end() || it->second.size() > kMaxBucket) continue;
                for (const std::uint32_t j : it->second) {
                    const PointPacket& q = b.packets[j];
                    votes[vote_key(c, q.conn, q.dir != d)] += 1;
                }
            }
        }
    }
    return votes;
}

// The mode of `v` (ties: the smaller value); v must not be empty.
std::uint32_t mode_of(std::vector<std::uint32_t>& v) {
    std::sort(v.begin(), v.end());
    std::uint32_t best = v[0], run_value = v[0];
    std::size_t best_n = 0, run = 0;
    for (const std::uint32_t x : v) {
        run = x == run_value ? run + 1 : 1;
        run_value = x;
        if (run > best_n) {
            best_n = run;
            best = x;
        }
    }
    return best;
}

void seq_offsets(const PointCapture& a, const PointCapture& b, const Isns& ia, const Isns& ib, ConnPair& pair) {
    const Connection& ca = a.conns[pair.a];
    const Connection& cb = b.conns[pair.b];
    for (unsigned d = 0; d < 2; ++d) {
        const unsigned bd = pair.b_dir(d);
        if (ia.known[d] && ib.known[bd]) {
            pair.seq_offset[d] = ib.isn[bd] - ia.isn[d];
            continue;
        }
        std::vector<std::uint32_t> offsets;
        for (std::size_t i = 0; i < ca.packets[d].size() && i < 64; ++i) {
            const PointPacket& p = a.packets[ca.packets[d][i]];
            if (p.payload_hash == 0) continue;
            for (std::size_t k = 0; k < cb.packets[bd].size() && k < kVotesPerDirection; ++k) {
                const PointPacket& q = b.packets[cb.packets[bd][k]];
                if (q.payload_hash == p.payload_hash) offsets.push_back(q.seq - p.seq);
            }
        }
        pair.seq_offset[d] = offsets.empty() ? 0 : mode_of(offsets);
    }
}

// A packet at B as it would read at A: its sequence numbers moved back by the offsets.
std::uint64_t identity(const PointPacket& p, std::uint32_t seq_shift, std::uint32_t ack_shift) noexcept {
    std::uint64_t h = mix(p.seq - seq_shift, p.has(kAck) ? p.ack - ack_shift : 0);
    h = mix(h, (std::uint64_t{p.payload_len} << 8) | (p.flags & kIdentityFlags));
    return h;
}

std::uint64_t strict_identity(const PointPacket& p, std::uint64_t relaxed) noexcept {
    return mix(relaxed, (std::uint64_t{p.ip_id} << 32) | p.ts_val);
}

bool payloads_agree(const PointPacket& x, const PointPacket& y) noexcept {
    return x.payload_hash == 0 || y.payload_hash == 0 || x.payload_hash == y.payload_hash;
}

void link(PointCapture& a, PointCapture& b, std::uint32_t i, std::uint32_t j) {
    a.packets[i].match = j;
    b.packets[j].match = i;
}

// Pairs each bucket's packets closest in time first (after `provisional` clock offset), so a
// first copy the device dropped is not taken for the retransmission it let through.
template <typename Key>
void match_by_time(PointCapture& a, PointCapture& b, const std::unordered_map<Key, std::vector<std::uint32_t>>& at_a,
                   const std::unordered_map<Key, std::vector<std::uint32_t>>& at_b, std::int64_t provisional) {
    struct Candidate {
        std::uint64_t distance;
        std::uint32_t i, j;
    };
    std::vector<Candidate> cands;
    for (const auto& [key, list_a] : at_a) {
        const auto it = at_b.find(key);
        if (it == at_b.end()) continue;
        cands.clear();
        for (std::size_t x = 0; x < list_a.size() && x < 64; ++x) {
            for (std::size_t y = 0; y < it->second.size() && y < 64; ++y) {
                const PointPacket& p = a.packets[list_a[x]];
                const PointPacket& q = b.packets[it->second[y]];
                if (!payloads_agree(p, q)) continue;
                const std::int64_t delta = static_cast<std::int64_t>(q.ts_ns - p.ts_ns) - provisional;
                cands.push_back({static_cast<std::uint64_t>(delta < 0 ? -delta : delta), list_a[x], it->second[y]});
            }
        }
        std::sort(cands.begin(), cands.end(), [](const Candidate& x, const Candidate& y) {
            return x.distance != y.distance ? x.distance < y.distance : x.i != y.i ? x.i < y.i : x.j < y.j;
        });
        for (const Candidate& c : cands) {
            if (a.packets[c.i].match < 0 && b.packets[c.j].match < 0) link(a, b, c.i, c.j);
        }
    }
}

std::int64_t median_of(std::vector<std::int64_t> v) {
    if (v.empty()) return 0;
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
}

void match_packets(PointCapture& a, PointCapture& b, std::vector<ConnPair>& pairs) {
    using Bucket = std::unordered_map<std::uint64_t, std::vector<std::uint32_t>>;
    // Strict pass: IP ID and timestamp value tell a retransmission from its original.
    std::vector<std::int64_t> deltas;
    for (const ConnPair& pair : pairs) {
        for (unsigned d = 0; d < 2; ++d) {
            const unsigned bd = pair.b_dir(d);
            Bucket at_b;
            for (const std::uint32_t j : b.conns[pair.b].packets[bd]) {
                const PointPacket& q = b.packets[j];
                if (q.ip_id == 0 && q.ts_val == 0) continue;
                at_b[strict_identity(q, identity(q, pair.seq_offset[d], pair.seq_offset[d ^ 1]))].push_back(j);
            }
            for (const std::uint32_t i : a.conns[pair.a].packets[d]) {
                const PointPacket& p = a.packets[i];
                if (p.ip_id == 0 && p.ts_val == 0) continue;
                const auto it = at_b.find(strict_identity(p, identity(p, 0, 0)));
                if (it == at_b.end()) continue;
                for (const std::uint32_t j : it->second) {
                    if (b.packets[j].match >= 0 || !payloads_agree(p, b.packets[j])) continue;
                    link(a, b, i, j);
                    deltas.push_back(static_cast<std::int64_t>(b.packets[j].ts_ns - p.ts_ns));
                    break;
                }
            }
        }
    }
    const std::int64_t provisional = median_of(deltas);
    // Relaxed pass: the rest (IPv6 without timestamps, a device that rewrites the IP ID).
    for (const ConnPair& pair : pairs) {
        for (unsigned d = 0; d < 2; ++d) {
            const unsigned bd = pair.b_dir(d);
            Bucket at_a, at_b;
            for (const std::uint32_t j : b.conns[pair.b].packets[bd]) {
                if (b.packets[j].match < 0) at_b[identity(b.packets[j], pair.seq_offset[d], pair.seq_offset[d ^ 1])].push_back(j);
            }
            if (at_b.empty()) continue;
            for (const std::uint32_t i : a.conns[pair.a].packets[d]) {
                if (a.packets[i].match < 0) at_a[identity(a.packets[i], 0, 0)].push_back(i);
            }
            match_by_time(a, b, at_a, at_b, provisional);
        }
    }
    // ICMP errors: type, code, MTU, the quoted length and the IP ID; nearest in time.
    Bucket icmp_a, icmp_b;
    const auto icmp_key = [](const PointPacket& p) {
        return mix(mix((std::uint64_t{p.icmp_type} << 8) | p.icmp_code, p.icmp_mtu), (std::uint64_t{p.payload_len} << 16) | p.ip_id);
    };
    for (std::uint32_t i = 0; i < a.packets.size(); ++i) if (a.packets[i].icmp) icmp_a[icmp_key(a.packets[i])].push_back(i);
    for (std::uint32_t j = 0; j < b.packets.size(); ++j) if (b.packets[j].icmp) icmp_b[icmp_key(b.packets[j])].push_back(j);
    match_by_time(a, b, icmp_a, icmp_b, provisional);
}

// Which way each direction crosses: a router takes one off the TTL; a bridge leaves it, and
// then the two directions' time differences do (the one crossing A to B has the larger).
void decide_crossing(const PointCapture& a, const PointCapture& b, ConnPair& pair) {
    std::int64_t median_delta[2] = {0, 0};
    int ttl_vote[2] = {0, 0};
    for (unsigned d = 0; d < 2; ++d) {
        std::vector<std::int64_t> deltas;
        for (const std::uint32_t i : a.conns[pair.a].packets[d]) {
            const PointPacket& p = a.packets[i];
            if (p.match < 0) continue;
            const PointPacket& q = b.packets[static_cast<std::size_t>(p.match)];
            ttl_vote[d] += p.ttl > q.ttl ? 1 : p.ttl < q.ttl ? -1 : 0;
            deltas.push_back(static_cast<std::int64_t>(q.ts_ns - p.ts_ns));
        }
        pair.matched[d] = static_cast<std::uint32_t>(deltas.size());
        median_delta[d] = median_of(std::move(deltas));
    }
    for (unsigned d = 0; d < 2; ++d) {
        // The other direction must not say the same way (a TTL normaliser would).
        const int other = ttl_vote[d ^ 1];
        if (ttl_vote[d] != 0 && (other == 0 || (other > 0) != (ttl_vote[d] > 0))) {
            pair.crossing[d] = ttl_vote[d] > 0 ? Crossing::kAToB : Crossing::kBToA;
            pair.crossing_by[d] = CrossingBy::kTtl;
        }
    }
    if (pair.crossing[0] == Crossing::kUnknown && pair.crossing[1] == Crossing::kUnknown && pair.matched[0] != 0 &&
        pair.matched[1] != 0 && median_delta[0] != median_delta[1]) {
        const unsigned first = median_delta[0] > median_delta[1] ? 0 : 1;
        pair.crossing[first] = Crossing::kAToB;
        pair.crossing[first ^ 1] = Crossing::kBToA;
        pair.crossing_by[0] = pair.crossing_by[1] = CrossingBy::kTiming;
    }
    for (unsigned d = 0; d < 2; ++d) {
        if (pair.crossing[d] == Crossing::kUnknown && pair.crossing[d ^ 1] != Crossing::kUnknown) {
            pair.crossing[d] = pair.crossing[d ^ 1] == Crossing::kAToB ? Crossing::kBToA : Crossing::kAToB;
            pair.crossing_by[d] = pair.crossing_by[d ^ 1];
        }
    }
}

const Addr& sender(const Connection& c, unsigned dir) noexcept { return dir == 0 ? c.client : c.server; }

DelayStats stats_of(std::vector<std::int64_t>& v) {
    DelayStats s;
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    s.samples = static_cast<std::uint32_t>(v.size());
    const auto us = [](std::int64_t ns) { return ns < 0 ? 0.0 : static_cast<double>(ns) / 1e3; };
    s.median_us = us(v[v.size() / 2]);
    s.p99_us = us(v[std::min(v.size() - 1, v.size() * 99 / 100)]);
    s.max_us = us(v.back());
    return s;
}

void estimate_clock(const PointCapture& a, const PointCapture& b, Comparison& cmp) {
    std::vector<std::int64_t> way[2];  // B minus A: [0] crossing A to B, [1] crossing B to A
    for (const ConnPair& pair : cmp.pairs) {
        for (unsigned d = 0; d < 2; ++d) {
            if (pair.crossing[d] == Crossing::kUnknown) continue;
            for (const std::uint32_t i : a.conns[pair.a].packets[d]) {
                const PointPacket& p = a.packets[i];
                if (p.match < 0) continue;
                way[pair.crossing[d] == Crossing::kAToB ? 0 : 1].push_back(
                    static_cast<std::int64_t>(b.packets[static_cast<std::size_t>(p.match)].ts_ns - p.ts_ns));
            }
        }
    }
    std::sort(way[0].begin(), way[0].end());
    std::sort(way[1].begin(), way[1].end());
    if (!way[0].empty() && !way[1].empty()) {
        // A to B arrives at B after it left A: delta >= offset; B to A: delta <= offset. The
        // 1st and 99th percentiles, so one mismatched packet cannot move the bracket.
        const std::int64_t upper = way[0][way[0].size() / 100];
        const std::int64_t lower = way[1][way[1].size() - 1 - way[1].size() / 100];
        cmp.clock_bracket_ns[0] = lower;
        cmp.clock_bracket_ns[1] = upper;
        cmp.clock_offset_ns = lower <= upper ? lower + (upper - lower) / 2
                                             : (way[0][way[0].size() / 2] + way[1][way[1].size() / 2]) / 2;
        cmp.clock_known = true;
    } else if (!way[0].empty()) {
        cmp.clock_offset_ns = way[0].front();  // one way only: its quickest crossing taken as no delay
    } else if (!way[1].empty()) {
        cmp.clock_offset_ns = way[1].back();
    }
    for (std::int64_t& x : way[0]) x -= cmp.clock_offset_ns;
    for (std::int64_t& x : way[1]) x = cmp.clock_offset_ns - x;
    cmp.delay[0] = stats_of(way[0]);
    cmp.delay[1] = stats_of(way[1]);
}

}  // namespace

std::string_view to_string(CrossingBy c) noexcept {
    switch (c) {
        case CrossingBy::kTtl: return "ttl";
        case CrossingBy::kTiming: return "timing";
        case CrossingBy::kAddressSide: return "address_side";
        case CrossingBy::kFirstSender: return "first_sender";
        case CrossingBy::kNone: break;
    }
    return "none";
}

Comparison match_points(PointCapture& a, PointCapture& b) {
    Comparison cmp;
    std::vector<Isns> isn_a, isn_b;
    for (const Connection& c : a.conns) isn_a.push_back(isns_of(a, c));
    for (const Connection& c : b.conns) isn_b.push_back(isns_of(b, c));

    // Pair connections greedily, best supported first; ties in a fixed order.
    struct Candidate {
        int score;
        std::uint32_t a, b;
        bool flip;
    };
    std::vector<Candidate> cands;
    for (const auto& [key, score] : vote(a, b, isn_a, isn_b)) {
        cands.push_back({score, static_cast<std::uint32_t>(key >> 32), static_cast<std::uint32_t>((key >> 1) & 0x7fffffffu),
                         (key & 1) != 0});
    }
    std::sort(cands.begin(), cands.end(), [](const Candidate& x, const Candidate& y) {
        if (x.score != y.score) return x.score > y.score;
        return x.a != y.a ? x.a < y.a : x.b != y.b ? x.b < y.b : x.flip < y.flip;
    });
    cmp.pair_of_a.assign(a.conns.size(), -1);
    cmp.pair_of_b.assign(b.conns.size(), -1);
    for (const Candidate& c : cands) {
        // Two points of agreement at least: a shared 4-tuple, an ISN, or two payloads.
        if (c.score < 2 || cmp.pair_of_a[c.a] >= 0 || cmp.pair_of_b[c.b] >= 0) continue;
        ConnPair pair;
        pair.a = c.a;
        pair.b = c.b;
        pair.flip = c.flip;
        const Connection& ca = a.conns[c.a];
        const Connection& cb = b.conns[c.b];
        const bool same_client = ca.client == (c.flip ? cb.server : cb.client) &&
                                 ca.client_port == (c.flip ? cb.server_port : cb.client_port);
        const bool same_server = ca.server == (c.flip ? cb.client : cb.server) &&
                                 ca.server_port == (c.flip ? cb.client_port : cb.server_port);
        pair.nat = !same_client || !same_server;
        seq_offsets(a, b, isn_a[c.a], isn_b[c.b], pair);
        cmp.pair_of_a[c.a] = cmp.pair_of_b[c.b] = static_cast<std::int32_t>(cmp.pairs.size());
        cmp.pairs.push_back(pair);
    }
    // Keep the pairs in A's order: findings and reports then read in capture order.
    std::sort(cmp.pairs.begin(), cmp.pairs.end(), [](const ConnPair& x, const ConnPair& y) { return x.a < y.a; });
    for (std::size_t i = 0; i < cmp.pairs.size(); ++i) {
        cmp.pair_of_a[cmp.pairs[i].a] = cmp.pair_of_b[cmp.pairs[i].b] = static_cast<std::int32_t>(i);
    }

    match_packets(a, b, cmp.pairs);
    for (const PointPacket& p : a.packets) {
        if (p.match < 0) continue;
        ++(p.icmp ? cmp.matched_icmp : cmp.matched_packets);
    }
    for (ConnPair& pair : cmp.pairs) decide_crossing(a, b, pair);
    // Where a connection said nothing about its crossing, its sender's side (learned from
    // the others) does.
    for (const ConnPair& pair : cmp.pairs) {
        for (unsigned d = 0; d < 2; ++d) {
            if (pair.crossing[d] == Crossing::kUnknown) continue;
            const std::uint8_t side = pair.crossing[d] == Crossing::kAToB ? 0 : 1;
            cmp.side_at[0].emplace(sender(a.conns[pair.a], d), side);
            cmp.side_at[1].emplace(sender(b.conns[pair.b], pair.b_dir(d)), side);
        }
    }
    for (ConnPair& pair : cmp.pairs) {
        for (unsigned d = 0; d < 2; ++d) {
            if (pair.crossing[d] != Crossing::kUnknown) continue;
            const auto it = cmp.side_at[0].find(sender(a.conns[pair.a], d));
            if (it == cmp.side_at[0].end()) continue;
            pair.crossing[d] = it->second == 0 ? Crossing::kAToB : Crossing::kBToA;
            pair.crossing_by[d] = CrossingBy::kAddressSide;
        }
        for (unsigned d = 0; d < 2; ++d) ++cmp.crossing_by[static_cast<unsigned>(pair.crossing_by[d])];
    }
    estimate_clock(a, b, cmp);
    return cmp;
}

}  // namespace tcpsleuth::two_point
