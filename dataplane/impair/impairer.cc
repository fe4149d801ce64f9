#include "dataplane/impair/impairer.h"

#include <algorithm>
#include <cstring>

#include "dataplane/impair/checksum.h"
#include "dataplane/packet/parse.h"

namespace tcpsleuth {
namespace {

using checksum::store_be16;

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for one 16-bit word m changed to m'.
void csum_replace(std::uint8_t* csum, std::uint16_t old_word, std::uint16_t new_word) noexcept {
    std::uint32_t sum = static_cast<std::uint16_t>(~load_be16(csum)) + static_cast<std::uint16_t>(~old_word) + std::uint32_t{new_word};
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    store_be16(csum, static_cast<std::uint16_t>(~sum));
}

// Writes `n` bytes at `at` inside a region whose checksum words start at `base`, keeping
// the checksum at `csum` right word by word.
void write_checked(std::uint8_t* base, std::uint8_t* at, const std::uint8_t* bytes, std::size_t n, std::uint8_t* csum) noexcept {
    for (std::size_t i = 0; i < n;) {
        const std::size_t off = static_cast<std::size_t>(at + i - base);
        std::uint8_t* word = base + (off & ~std::size_t{1});
        const std::uint16_t before = load_be16(word);
        const std::size_t in_word = 2 - (off & 1);
        for (std::size_t k = 0; k < in_word && i < n; ++k, ++i) at[i] = bytes[i];
        csum_replace(csum, before, load_be16(word));
    }
}

void write32_checked(std::uint8_t* base, std::uint8_t* at, std::uint32_t v, std::uint8_t* csum) noexcept {
    const std::uint8_t b[4] = {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
                               static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
    write_checked(base, at, b, 4, csum);
}

std::uint8_t option_kind(StripOption o) noexcept {
    switch (o) {
        case StripOption::kSackPerm: return kKindSackPerm;
        case StripOption::kWscale: return kKindWscale;
        case StripOption::kTimestamp: return kKindTimestamp;
        case StripOption::kMss: return kKindMss;
    }
    return 0;
}


bool ecn_capable(std::uint8_t e) noexcept { return e == kEct0 || e == kEct1; }

// The TCP ports of a plain Ethernet (VLAN-tagged or not) IPv4 or IPv6 TCP frame, read
// without the full parse; false for anything else (fragments, extension headers, tunnels),
// which then gets the full parse.
bool glance_ports(const std::uint8_t* f, std::uint32_t len, std::uint16_t& a, std::uint16_t& b) noexcept {
    std::uint32_t off = 12;
    if (len < off + 2) return false;
    std::uint16_t type = load_be16(f + off);
    while ((type == 0x8100 || type == 0x88a8) && len >= off + 6) {
        off += 4;
        type = load_be16(f + off);
    }
    off += 2;
    std::uint32_t l4;
    if (type == 0x0800) {
        if (len < off + 20 || f[off + 9] != 6 || (load_be16(f + off + 6) & 0x3fff) != 0) return false;
        l4 = off + (f[off] & 0x0fu) * 4;
    } else if (type == 0x86dd) {
        if (len < off + 40 || f[off + 6] != 6) return false;
        l4 = off + 40;
    } else {
        return false;
    }
    if (len < l4 + 4) return false;
    a = load_be16(f + l4);
    b = load_be16(f + l4 + 2);
    return true;
}

// A router's ICMP errors come in bursts of a tenth of a second's worth at most.
double icmp_burst(const ImpairRule& r) noexcept { return std::max(1.0, r.icmp_per_s / 10.0); }

// Two rules are the same fault when all but their on/off switch agree: a reload keeps its state.
bool same_fault(const ImpairRule& a, const ImpairRule& b) {
    ImpairRule c = a;
    c.enabled = b.enabled;
    return c == b;
}

void copy_counter(std::atomic<std::uint64_t>& to, const std::atomic<std::uint64_t>& from) noexcept {
    to.store(from.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

}  // namespace

struct Impairer::Packet {
    std::uint8_t* frame;
    std::uint32_t* len;
    PacketView& v;
    std::uint8_t* ip;
    std::uint8_t* tcp;
    bool client_sent;   // decided per rule when ports say which end is the server
    std::uint64_t flow_hash;
};

Impairer::Impairer(std::vector<ImpairRule> rules, std::uint64_t seed)
    : rules_(std::move(rules)),
      counters_(std::make_unique<ImpairCounters[]>(rules_.size())),
      enabled_(std::make_unique<std::atomic<bool>[]>(rules_.size())),
      burst_left_(rules_.size(), 0),
      tables_(rules_.size()),
      lines_(rules_.size() * 2),
      icmp_tokens_(rules_.size(), 0.0),
      icmp_refill_ns_(rules_.size(), 0),
      rng_(seed | 1) {
    for (std::size_t r = 0; r < rules_.size(); ++r) {
        const ImpairRule& rule = rules_[r];
        enabled_[r].store(rule.enabled, std::memory_order_relaxed);
        if (rule.action == ImpairAction::kIdleTimeout || rule.action == ImpairAction::kStateLimit ||
            rule.action == ImpairAction::kInjectRst) {
            tables_[r].configure(rule.flows);
        }
        if (holds_packets(rule.action)) {
            lines_[2 * r].configure(held_at_most(rule));
            lines_[2 * r + 1].configure(held_at_most(rule));
            hold_rules_.push_back(r);
        }
        icmp_tokens_[r] = icmp_burst(rule);
    }
    any_port_ = std::any_of(rules_.begin(), rules_.end(), [](const ImpairRule& r) { return r.ports.empty(); });
    if (!any_port_) {
        port_bits_.assign(65536 / 64, 0);
        for (const ImpairRule& r : rules_) {
            for (const std::uint16_t port : r.ports) port_bits_[port >> 6] |= 1ull << (port & 63);
        }
    }
}

void ImpairStateTable::configure(std::uint32_t flows) {
    // Four slots per flow, in buckets of four, and a flow may sit in its bucket or the next:
    // a bucket overflows only far beyond `flows` (a full bucket would refuse a flow the table
    // has room for).
    std::uint32_t buckets = 1;
    while (buckets < std::max<std::uint32_t>(flows, 16)) buckets <<= 1;
    entries_.assign(std::size_t{buckets} * 4, Entry{});
    mask_ = buckets - 1;
    used_ = cursor_ = 0;
}

// The key's low bit is always set (0 marks a free slot): the bucket comes from higher bits.
ImpairStateTable::Entry* ImpairStateTable::bucket(std::uint64_t key, unsigned which) noexcept {
    return &entries_[((static_cast<std::uint32_t>(key >> 20) + which) & mask_) * 4];
}

ImpairStateTable::Entry* ImpairStateTable::find(std::uint64_t key) noexcept {
    for (unsigned which = 0; which < 2; ++which) {
        Entry* b = bucket(key, which);
        for (unsigned i = 0; i < 4; ++i) {
            if (b[i].key == key) return &b[i];
        }
    }
    return nullptr;
}

ImpairStateTable::Entry* ImpairStateTable::insert(std::uint64_t key, std::uint64_t now_ns) noexcept {
    for (unsigned which = 0; which < 2; ++which) {
        Entry* b = bucket(key, which);
        for (unsigned i = 0; i < 4; ++i) {
            if (b[i].key == 0) {
                ++used_;
                b[i].key = key;
                return &b[i];
            }
        }
    }
    for (unsigned which = 0; which < 2; ++which) {
        Entry* b = bucket(key, which);
        for (unsigned i = 0; i < 4; ++i) {
            if (b[i].expires_ns < now_ns) {
                b[i].key = key;
                return &b[i];
            }
        }
    }
    return nullptr;
}

void ImpairStateTable::sweep(std::uint64_t now_ns, std::uint32_t budget) noexcept {
    const std::uint32_t n = static_cast<std::uint32_t>(entries_.size());
    for (; budget != 0; --budget) {
        Entry& e = entries_[cursor_];
        if (e.key != 0 && e.expires_ns < now_ns) erase(&e);
        cursor_ = cursor_ + 1 == n ? 0 : cursor_ + 1;
    }
}

double Impairer::uniform() noexcept {
    // xorshift64*: a packet's dice, not cryptography.
    rng_ ^= rng_ >> 12;
    rng_ ^= rng_ << 25;
    rng_ ^= rng_ >> 27;
    return static_cast<double>((rng_ * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

void Impairer::look(const std::uint8_t* frame, std::uint32_t len, ImpairPacket& p) const noexcept {
    if (rules_.empty()) {  // a reload took every rule away: nothing to look for
        p.eligible = p.client_sent = false;
        p.v.l4 = L4::kNone;
        return;
    }
    if (!any_port_) {
        std::uint16_t a, b;
        const auto listed = [&](std::uint16_t port) { return (port_bits_[port >> 6] >> (port & 63) & 1) != 0; };
        if (glance_ports(frame, len, a, b) && !listed(a) && !listed(b)) {
            p.eligible = false;  // no rule's port: passed untouched, not counted as skipped
            p.client_sent = false;
            p.v.l4 = L4::kNone;
            return;
        }
    }
    p.v.wire_len = len;
    const ParseStatus st = parse_packet(frame, len, LinkType::kEthernet, p.v);
    p.eligible = st == ParseStatus::kOk && p.v.encap_depth == 0 && !p.v.fragment && !p.v.truncated_copy;
    p.client_sent = false;
    if (st != ParseStatus::kOk) return;
    if (p.v.has_flag(kSyn)) {
        p.client_sent = !p.v.has_flag(kAck);
        return;
    }
    for (const ImpairRule& r : rules_) {
        for (const std::uint16_t port : r.ports) {
            if (port == p.v.tcp.dst_port) {
                p.client_sent = true;
                return;
            }
            if (port == p.v.tcp.src_port) return;
        }
    }
    p.client_sent = p.v.tcp.src_port > p.v.tcp.dst_port;
}

ImpairVerdict Impairer::apply(std::uint8_t* frame, std::uint32_t& len, ImpairPacket& looked, std::uint64_t now_ns) noexcept {
    if (rules_.empty()) return ImpairVerdict::kPass;
    now_ns_ = now_ns;
    reply_n_ = 0;
    if (!looked.eligible) {
        if (looked.v.l4 == L4::kTcp) ImpairCounters::bump(skipped_);
        return ImpairVerdict::kPass;
    }
    Packet p{frame, &len, looked.v, frame + looked.v.l3_offset, frame + looked.v.l4_offset, false, 0};
    // The flow, the same from both directions: a share of flows picks the same ones each way.
    std::uint64_t h = 0x9e3779b97f4a7c15ull;
    for (unsigned i = 0; i < 16; ++i) h ^= (std::uint64_t{p.v.src[i]} + std::uint64_t{p.v.dst[i]}) << (8 * (i % 8));
    h ^= std::uint64_t{p.v.tcp.src_port} * p.v.tcp.dst_port;
    h *= 0xff51afd7ed558ccdull;
    p.flow_hash = h ^ (h >> 33);
    // A delay or rate rule holds the packet after the rest have had their say.
    std::size_t hold = rules_.size();
    HoldLine::Held held{looked.token, 0, 0, len, false};
    for (std::size_t r = 0; r < rules_.size(); ++r) {
        if (!enabled_[r].load(std::memory_order_relaxed) || !matches(r, p)) continue;
        ImpairCounters::bump(counters_[r].matched);
        if (holds_packets(rules_[r].action)) {
            if (hold == rules_.size()) {
                hold = r;
                held.client_sent = p.client_sent;
            } else {
                held.then |= 1ull << r;
            }
            continue;
        }
        if (!act(r, p)) {
            ImpairCounters::bump(counters_[r].dropped);
            return ImpairVerdict::kDrop;
        }
    }
    if (hold == rules_.size()) return ImpairVerdict::kPass;
    held.bytes = len;
    return enter(hold, held, now_ns);
}

ImpairVerdict Impairer::enter(std::size_t r, HoldLine::Held h, std::uint64_t now) noexcept {
    for (;;) {
        const ImpairRule& rule = rules_[r];
        HoldLine& line = lines_[2 * r + (h.client_sent ? 1 : 0)];
        std::uint64_t due;
        if (rule.action == ImpairAction::kDelay) {
            // The path's delay, +/- jitter, never ahead of the packet before it.
            due = now + rule.delay_ns;
            if (rule.jitter_ns != 0) {
                due = due - rule.jitter_ns + static_cast<std::uint64_t>(uniform() * 2.0 * static_cast<double>(rule.jitter_ns));
            }
            due = std::max(due, line.last_due_ns);
        } else {
            // A token bucket told in time: the line's clock is when its debt is paid; a
            // bucket of burst_kb lets that clock lag `now` by the burst's sending time.
            const double ns_per_byte = 8000.0 / rule.mbps;
            const auto burst_ns = static_cast<std::uint64_t>(rule.burst_kb * 1024.0 * ns_per_byte);
            const std::uint64_t base = std::max(now > burst_ns ? now - burst_ns : 0, line.last_due_ns);
            due = base + static_cast<std::uint64_t>(h.bytes * ns_per_byte);
            if (line.empty() && due <= now) {
                line.last_due_ns = due;  // the bucket had the tokens: on at once
                if (h.then == 0) return ImpairVerdict::kPass;
                r = static_cast<std::size_t>(__builtin_ctzll(h.then));
                h.then &= h.then - 1;
                continue;
            }
            if (line.bytes() + h.bytes > std::uint64_t{rule.queue_kb} * 1024) {
                ImpairCounters::bump(counters_[r].dropped);  // tail drop
                return ImpairVerdict::kDrop;
            }
        }
        h.due_ns = due;
        if (!line.push(h)) {
            ImpairCounters::bump(counters_[r].dropped);
            return ImpairVerdict::kDrop;
        }
        ++held_;
        ImpairCounters::bump(counters_[r].delayed);
        return ImpairVerdict::kHold;
    }
}

unsigned Impairer::release(std::uint64_t now_ns, Released* out, unsigned cap) noexcept {
    unsigned n = 0;
    if (held_ == 0) return 0;
    for (const std::size_t r : hold_rules_) {
        for (unsigned dir = 0; dir < 2; ++dir) {
            HoldLine& line = lines_[2 * r + dir];
            while (n < cap && !line.empty() && line.front().due_ns <= now_ns) {
                HoldLine::Held h = line.front();
                line.pop();
                --held_;
                ImpairVerdict v = ImpairVerdict::kPass;
                if (h.then != 0) {
                    const auto next = static_cast<std::size_t>(__builtin_ctzll(h.then));
                    h.then &= h.then - 1;
                    v = enter(next, h, now_ns);
                }
                if (v != ImpairVerdict::kHold) out[n++] = {h.token, v == ImpairVerdict::kDrop, h.client_sent};
            }
        }
    }
    return n;
}

unsigned Impairer::flush(Released* out, unsigned cap) noexcept {
    unsigned n = 0;
    for (const std::size_t r : hold_rules_) {
        for (unsigned dir = 0; dir < 2; ++dir) {
            HoldLine& line = lines_[2 * r + dir];
            for (; n < cap && !line.empty(); line.pop(), --held_) out[n++] = {line.front().token, false, line.front().client_sent};
        }
    }
    return n;
}

void Impairer::adopt(Impairer& old) noexcept {
    // Old rule index -> new, for the hold rules a held packet has still to pass.
    std::size_t to_new[64];
    for (std::size_t o = 0; o < 64; ++o) to_new[o] = 64;
    for (std::size_t r = 0; r < rules_.size(); ++r) {
        for (std::size_t o = 0; o < old.rules_.size(); ++o) {
            if (!same_fault(rules_[r], old.rules_[o])) continue;
            if (o < 64) to_new[o] = r;
            ImpairCounters& c = counters_[r];
            const ImpairCounters& oc = old.counters_[o];
            copy_counter(c.matched, oc.matched);
            copy_counter(c.dropped, oc.dropped);
            copy_counter(c.rewritten, oc.rewritten);
            copy_counter(c.injected, oc.injected);
            copy_counter(c.delayed, oc.delayed);
            burst_left_[r] = old.burst_left_[o];
            icmp_tokens_[r] = old.icmp_tokens_[o];
            icmp_refill_ns_[r] = old.icmp_refill_ns_[o];
            std::swap(tables_[r], old.tables_[o]);
            for (unsigned dir = 0; dir < 2; ++dir) {
                const std::uint64_t moving = lines_[2 * r + dir].size(), staying = old.lines_[2 * o + dir].size();
                std::swap(lines_[2 * r + dir], old.lines_[2 * o + dir]);
                held_ += staying - moving;
                old.held_ += moving - staying;
            }
            break;
        }
    }
    for (const std::size_t r : hold_rules_) {
        for (unsigned dir = 0; dir < 2; ++dir) {
            lines_[2 * r + dir].for_each([&](HoldLine::Held& h) {
                std::uint64_t then = 0;
                for (std::uint64_t bits = h.then; bits != 0; bits &= bits - 1) {
                    const std::size_t to = to_new[__builtin_ctzll(bits)];
                    if (to < 64 && to > r) then |= 1ull << to;
                }
                h.then = then;
            });
        }
    }
    skipped_.store(old.skipped(), std::memory_order_relaxed);
    untracked_.store(old.untracked(), std::memory_order_relaxed);
}

bool Impairer::matches(std::size_t r, const Packet& cp) noexcept {
    const ImpairRule& rule = rules_[r];
    Packet& p = const_cast<Packet&>(cp);
    const TcpHeader& t = p.v.tcp;
    // Which end is the client: the SYN's sender; the SYN-ACK's receiver; else the end not on
    // the rule's server ports; else the higher (ephemeral) port.
    const auto listed = [&](std::uint16_t port) {
        for (const std::uint16_t q : rule.ports) if (q == port) return true;
        return false;
    };
    if (p.v.has_flag(kSyn)) {
        p.client_sent = !p.v.has_flag(kAck);
    } else if (!rule.ports.empty()) {
        p.client_sent = listed(t.dst_port);
    } else {
        p.client_sent = t.src_port > t.dst_port;
    }
    const std::uint16_t server_port = p.client_sent ? t.dst_port : t.src_port;
    if (!rule.ports.empty() && !listed(server_port)) return false;
    if (rule.side == ImpairSide::kClient && !p.client_sent) return false;
    if (rule.side == ImpairSide::kServer && p.client_sent) return false;
    if (!rule.hosts.empty()) {
        bool inside = false;
        for (const IpPrefix& pre : rule.hosts) inside |= pre.contains(p.v.src) || pre.contains(p.v.dst);
        if (!inside) return false;
    }
    // Per-packet dice for loss and marking; a fixed share of flows for the rest.
    if (rule.action == ImpairAction::kLoss || rule.action == ImpairAction::kMarkCe) return true;
    if (rule.probability >= 1.0) return true;
    const std::uint64_t mixed = (p.flow_hash ^ (0x9e3779b97f4a7c15ull * (r + 1))) * 0xc4ceb9fe1a85ec53ull;
    return static_cast<double>(mixed >> 11) / 9007199254740992.0 < rule.probability;
}

bool Impairer::act(std::size_t r, Packet& p) noexcept {
    const ImpairRule& rule = rules_[r];
    const bool v4 = p.v.is_ipv4();
    std::uint8_t* tcp_csum = p.tcp + 16;
    const auto rewritten = [&] { ImpairCounters::bump(counters_[r].rewritten); };
    // The ECN field: IPv4's TOS low bits (header checksum kept), IPv6's traffic class.
    const auto set_ecn = [&](std::uint8_t ecn) {
        if (v4) {
            const std::uint8_t tos = static_cast<std::uint8_t>((p.ip[1] & 0xfc) | ecn);
            write_checked(p.ip, p.ip + 1, &tos, 1, p.ip + 10);
        } else {
            p.ip[1] = static_cast<std::uint8_t>((p.ip[1] & 0xcf) | (ecn << 4));
        }
        rewritten();
    };
    switch (rule.action) {
        case ImpairAction::kIdleTimeout:
        case ImpairAction::kStateLimit:
            return track(r, p);
        case ImpairAction::kDropLargerThan:
            return p.v.ip_len <= rule.size || too_big(r, p);
        case ImpairAction::kInjectRst:
            return cut(r, p);
        case ImpairAction::kDelay:
        case ImpairAction::kRate:
            return true;  // held by apply(), after the other rules
        case ImpairAction::kLoss: {
            if (burst_left_[r] != 0) {
                --burst_left_[r];
                return false;
            }
            if (uniform() >= rule.probability) return true;
            burst_left_[r] = rule.burst - 1;
            return false;
        }
        case ImpairAction::kDropEcnSyn:
            return !(p.v.has_flag(kSyn) && !p.v.has_flag(kAck) && p.v.has_flag(kEce) && p.v.has_flag(kCwr));
        case ImpairAction::kBleachEcn:
            if (p.v.ecn != kNotEct) set_ecn(kNotEct);
            return true;
        case ImpairAction::kEraseCe:
            if (p.v.ecn == kCe) set_ecn(kEct0);
            return true;
        case ImpairAction::kMarkCe:
            if (ecn_capable(p.v.ecn) && uniform() < rule.probability) set_ecn(kCe);
            return true;
        case ImpairAction::kClampMss:
        case ImpairAction::kStripOption: {
            const std::uint8_t want = rule.action == ImpairAction::kClampMss ? kKindMss : option_kind(rule.option);
            // SYN options only, but timestamps ride on every segment (RFC 7323 section 3.2).
            if (!p.v.has_flag(kSyn) && want != kKindTimestamp) return true;
            std::uint8_t* opts = p.tcp + 20;
            const std::uint32_t opts_len = p.v.tcp.header_len - 20u;
            for (std::uint32_t i = 0; i < opts_len;) {
                const std::uint8_t kind = opts[i];
                if (kind == kKindEol) break;
                if (kind == kKindNop) {
                    ++i;
                    continue;
                }
                if (i + 1 >= opts_len || opts[i + 1] < 2 || i + opts[i + 1] > opts_len) break;
                const std::uint8_t olen = opts[i + 1];
                if (kind != want) {
                    i += olen;
                    continue;
                }
                if (rule.action == ImpairAction::kClampMss) {
                    if (olen == 4 && load_be16(opts + i + 2) > rule.mss) {
                        const std::uint8_t b[2] = {static_cast<std::uint8_t>(rule.mss >> 8), static_cast<std::uint8_t>(rule.mss)};
                        write_checked(p.tcp, opts + i + 2, b, 2, tcp_csum);
                        rewritten();
                    }
                    return true;
                }
                if (rule.fill == StripFill::kRemove && remove_option(p, i, olen)) {
                    rewritten();
                    return true;
                }
                std::uint8_t nops[40];
                std::memset(nops, kKindNop, olen);
                write_checked(p.tcp, opts + i, nops, olen, tcp_csum);
                rewritten();
                return true;
            }
            return true;
        }
        case ImpairAction::kShiftSeq: {
            // The client's numbering moves by `offset`; the server's ACKs (and, done right,
            // its SACK edges: RFC 2018 blocks are sequence numbers) move back.
            if (p.client_sent) {
                write32_checked(p.tcp, p.tcp + 4, p.v.tcp.seq + rule.offset, tcp_csum);
                rewritten();
                return true;
            }
            if (p.v.has_flag(kAck)) write32_checked(p.tcp, p.tcp + 8, p.v.tcp.ack - rule.offset, tcp_csum);
            if (rule.rewrite_sack && p.v.opts.sack_blocks != 0) {
                std::uint8_t* opts = p.tcp + 20;
                const std::uint32_t opts_len = p.v.tcp.header_len - 20u;
                for (std::uint32_t i = 0; i + 1 < opts_len;) {
                    if (opts[i] == kKindEol) break;
                    if (opts[i] == kKindNop) {
                        ++i;
                        continue;
                    }
                    const std::uint8_t olen = opts[i + 1];
                    if (olen < 2 || i + olen > opts_len) break;
                    if (opts[i] == kKindSack) {
                        for (std::uint32_t e = i + 2; e + 4 <= i + olen; e += 4) {
                            write32_checked(p.tcp, opts + e, load_be32(opts + e) - rule.offset, tcp_csum);
                        }
                    }
                    i += olen;
                }
            }
            rewritten();
            return true;
        }
    }
    return true;
}

// idle_timeout: a stateful device that learns a flow from its SYN (conntrack with
// nf_conntrack_tcp_loose = 0) and forgets it after `seconds` idle; a packet of a flow it does
// not know is invalid and dropped. state_limit: a table of `flows` entries; a new SYN beyond
// them is dropped (what a full conntrack or a connlimit rule does), established flows pass.
// Entries go after `seconds` idle, or 10 s after a RST or FIN (conntrack's close timeouts).
bool Impairer::track(std::size_t r, Packet& p) noexcept {
    constexpr std::uint64_t kCloseNs = 10'000'000'000ull;
    const ImpairRule& rule = rules_[r];
    ImpairStateTable& t = tables_[r];
    const std::uint64_t now = now_ns_;
    const std::uint64_t idle = std::uint64_t{rule.seconds} * 1'000'000'000ull;
    const std::uint64_t key = p.flow_hash | 1;  // never 0, which marks a free slot
    t.sweep(now, 8);
    ImpairStateTable::Entry* e = t.find(key);
    if (e != nullptr && e->expires_ns < now) {  // forgotten: as if never seen
        t.erase(e);
        e = nullptr;
    }
    const bool opening = p.v.has_flag(kSyn) && !p.v.has_flag(kAck);
    if (e == nullptr && opening) {
        if (rule.action == ImpairAction::kStateLimit && t.used() >= rule.flows) {
            t.sweep(now, t.slots());  // the table's own garbage collection, before refusing
            if (t.used() >= rule.flows) return false;
        }
        e = t.insert(key, now);
        if (e == nullptr) {
            if (rule.action == ImpairAction::kStateLimit) return false;
            ImpairCounters::bump(untracked_);
            return true;
        }
    }
    if (e == nullptr && rule.action == ImpairAction::kStateLimit) return true;  // a table limits new flows only
    if (e == nullptr) {
        // Forgotten: dropped, and with then = "rst" answered the way a firewall rejects a
        // packet it has no state for (a RST is never answered: RFC 9293 section 3.10.7.1).
        if (rule.then_rst && !p.v.has_flag(kRst)) reply_rst(r, p, true);
        return false;
    }
    e->expires_ns = p.v.has_flag(kRst) || p.v.has_flag(kFin) ? std::min(now + kCloseNs, now + idle) : now + idle;
    return true;
}

// inject_rst: the device counts a flow's packets (both ways) or times it from its first
// packet, and at the threshold drops the packet in hand and resets both ends: the sender
// with the number it expects from the receiver, the receiver at the dropped segment's
// sequence number (which is what it expects next). A new SYN on the same ports starts over.
bool Impairer::cut(std::size_t r, Packet& p) noexcept {
    constexpr std::uint64_t kCut = ~std::uint64_t{0};
    constexpr std::uint64_t kForgetNs = 300'000'000'000ull;
    const ImpairRule& rule = rules_[r];
    ImpairStateTable& t = tables_[r];
    const std::uint64_t now = now_ns_;
    const std::uint64_t key = p.flow_hash | 1;
    t.sweep(now, 8);
    ImpairStateTable::Entry* e = t.find(key);
    const bool opening = p.v.has_flag(kSyn) && !p.v.has_flag(kAck);
    if (e != nullptr && (e->expires_ns < now || (opening && e->aux == kCut))) {
        t.erase(e);
        e = nullptr;
    }
    if (e == nullptr) {
        e = t.insert(key, now);
        if (e == nullptr) {
            ImpairCounters::bump(untracked_);
            return true;
        }
        e->aux = rule.after_packets != 0 ? 0 : now;
    }
    e->expires_ns = now + kForgetNs;
    if (e->aux == kCut) return true;  // reset already: what follows is the ends' business
    const bool due = rule.after_packets != 0 ? ++e->aux >= rule.after_packets : now - e->aux >= rule.after_ns;
    if (!due || p.v.has_flag(kRst)) return true;
    e->aux = kCut;
    reply_rst(r, p, true);
    reply_rst(r, p, false);
    return false;
}

// drop_larger_than with icmp = true: a router whose next hop cannot carry the packet
// answers the sender (RFC 1191, RFC 8201), at most icmp_per_s a second. An IPv4 packet
// without DF would be fragmented by a real router; this one drops it.
bool Impairer::too_big(std::size_t r, Packet& p) noexcept {
    const ImpairRule& rule = rules_[r];
    if (!rule.icmp || (p.v.is_ipv4() && !p.v.df)) return false;
    const std::uint64_t now = now_ns_;
    if (now > icmp_refill_ns_[r]) {
        icmp_tokens_[r] = std::min(icmp_burst(rule), icmp_tokens_[r] + static_cast<double>(now - icmp_refill_ns_[r]) * 1e-9 * rule.icmp_per_s);
        icmp_refill_ns_[r] = now;
    }
    if (icmp_tokens_[r] < 1.0) return false;
    icmp_tokens_[r] -= 1.0;
    const std::array<std::uint8_t, 16>* from = nullptr;
    for (const IpPrefix& s : rule.source) {
        if (is_v4_mapped(s.addr) == p.v.is_ipv4()) from = &s.addr;
    }
    Reply& out = replies_[reply_n_];
    out.len = make_too_big(p.frame, *p.len, p.v, rule.size, from, rule.ttl, ++ip_id_, out.frame);
    if (out.len != 0) {
        out.to_sender = true;
        out.to_client = p.client_sent;
        ++reply_n_;
        ImpairCounters::bump(counters_[r].injected);
    }
    return false;
}

void Impairer::reply_rst(std::size_t r, const Packet& p, bool to_sender) noexcept {
    if (reply_n_ == 2) return;
    Reply& out = replies_[reply_n_];
    out.len = make_rst(p.frame, p.v, to_sender, rules_[r].ttl, ++ip_id_, out.frame);
    if (out.len == 0) return;
    out.to_sender = to_sender;
    out.to_client = to_sender == p.client_sent;
    ++reply_n_;
    ImpairCounters::bump(counters_[r].injected);
}

// The options after it move up, EOL pads to a 32-bit boundary (RFC 9293 section 3.1), and
// whole words freed come off the header: the data offset, the IP length and the frame
// shrink, and the TCP checksum is computed afresh over the pseudo-header and segment.
bool Impairer::remove_option(Packet& p, std::uint32_t at, std::uint8_t olen) noexcept {
    std::uint8_t* opts = p.tcp + 20;
    const std::uint32_t opts_len = p.v.tcp.header_len - 20u;
    std::uint8_t kept[40];
    std::uint32_t n = 0;
    for (std::uint32_t i = 0; i < opts_len; ++i) {
        if (i < at || i >= at + olen) kept[n++] = opts[i];
    }
    const std::uint32_t padded = (n + 3) & ~3u;
    std::memset(kept + n, kKindEol, padded - n);
    const std::uint32_t shrink = opts_len - padded;
    const std::uint32_t payload = p.v.payload_len;
    const std::uint32_t ip_end = p.v.l3_offset + p.v.ip_len;
    if (ip_end > *p.len) return false;
    std::memcpy(opts, kept, padded);
    std::memmove(opts + padded, p.tcp + p.v.tcp.header_len, payload);
    const std::uint32_t hlen = 20 + padded;
    p.tcp[12] = static_cast<std::uint8_t>((hlen / 4) << 4 | (p.tcp[12] & 0x0f));
    if (p.v.is_ipv4()) {
        const std::uint16_t before = load_be16(p.ip + 2);
        store_be16(p.ip + 2, static_cast<std::uint16_t>(before - shrink));
        csum_replace(p.ip + 10, before, load_be16(p.ip + 2));
    } else {
        store_be16(p.ip + 4, static_cast<std::uint16_t>(load_be16(p.ip + 4) - shrink));
    }
    *p.len = ip_end - shrink;  // an Ethernet trailer after the IP packet goes too
    const std::uint32_t seg = hlen + payload;
    store_be16(p.tcp + 16, 0);
    store_be16(p.tcp + 16, checksum::finish(checksum::add(p.tcp, seg, checksum::pseudo_header(p.ip, p.v.is_ipv4(), 6, seg))));
    return true;
}

}  // namespace tcpsleuth
