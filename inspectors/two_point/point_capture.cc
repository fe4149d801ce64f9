#include "point_capture.h"

#include <cstring>

namespace tcpsleuth::two_point {

std::uint64_t payload_signature(const std::uint8_t* payload, std::uint32_t captured, std::uint32_t payload_len) noexcept {
    if (payload_len == 0) return 0;
    const std::uint32_t want = payload_len < kPayloadSignatureBytes ? payload_len : kPayloadSignatureBytes;
    if (captured < want) return 0;  // a short snap length: lengths and sequence numbers must do
    std::uint64_t h = 1469598103934665603ull;
    for (std::uint32_t i = 0; i < want; ++i) {
        h ^= payload[i];
        h *= 1099511628211ull;
    }
    h ^= payload_len;
    h *= 1099511628211ull;
    return h == 0 ? 1 : h;
}

std::string canonical_tuple(const Addr& x, std::uint16_t x_port, const Addr& y, std::uint16_t y_port) {
    const int c = std::memcmp(x.data(), y.data(), 16);
    const bool x_first = c < 0 || (c == 0 && x_port <= y_port);
    const Addr& lo = x_first ? x : y;
    const Addr& hi = x_first ? y : x;
    const std::uint16_t ports[2] = {x_first ? x_port : y_port, x_first ? y_port : x_port};
    std::string out(reinterpret_cast<const char*>(lo.data()), 16);
    out.append(reinterpret_cast<const char*>(hi.data()), 16);
    out.append(reinterpret_cast<const char*>(ports), sizeof ports);
    return out;
}

bool reduce_packet(const PacketView& v, bool icmp_quote, const std::uint8_t* payload, std::uint32_t captured,
                   PointPacket& p, std::array<Addr, 2>& quoted) noexcept {
    if (!v.is_tcp() && !(icmp_quote && v.icmp.has_tcp)) return false;
    p = PointPacket{};
    p.number = v.number;
    p.ts_ns = v.ts_ns;
    p.ttl = v.ttl;
    p.ecn = v.ecn;
    p.dscp = v.dscp;
    p.ip_version = v.ip_version;
    p.ip_id = v.ip_id;
    p.ip_len = v.ip_len;
    p.src = v.src;
    p.dst = v.dst;
    if (icmp_quote) {
        // The connection is the quoted segment's; the ICMP's own addresses are its sender's.
        p.icmp = true;
        p.icmp_type = v.icmp.type;
        p.icmp_code = v.icmp.code;
        p.icmp_mtu = v.icmp.mtu;
        p.quoted_seq = v.icmp.seq;
        p.sport = v.icmp.src_port;
        p.dport = v.icmp.dst_port;
        p.payload_len = v.icmp.quoted_total_len;
        quoted = {v.icmp.src, v.icmp.dst};
    } else {
        p.sport = v.tcp.src_port;
        p.dport = v.tcp.dst_port;
        p.seq = v.tcp.seq;
        p.ack = v.tcp.ack;
        p.window = v.tcp.window;
        p.flags = v.tcp.flags;
        p.payload_len = v.payload_len;
        p.payload_hash = payload_signature(payload, captured, v.payload_len);
        p.opts = v.opts.present;
        p.mss = v.opts.mss;
        p.wscale = v.opts.wscale;
        p.ts_val = v.opts.ts_val;
        p.sack_blocks = v.opts.sack_blocks;
        for (unsigned i = 0; i < 4; ++i) p.sack[i] = v.opts.sack[i];
    }
    return true;
}

bool PointCapture::add(const PacketView& v, bool icmp_quote, const std::uint8_t* payload, std::uint32_t captured) {
    note_frame(v.ts_ns);
    PointPacket p;
    std::array<Addr, 2> quoted;
    if (!reduce_packet(v, icmp_quote, payload, captured, p, quoted)) return false;
    add_reduced(p, quoted);
    return true;
}

void PointCapture::add_reduced(const PointPacket& reduced, const std::array<Addr, 2>& quoted) {
    packets.push_back(reduced);
    if (reduced.icmp) {
        // The quoted endpoints wait in quoted_ until group() finds their connection.
        quoted_.push_back({quoted[0], quoted[1]});
        packets.back().conn = static_cast<std::uint32_t>(quoted_.size() - 1);
    }
}

void PointCapture::note_frame(std::uint64_t ts_ns) noexcept {
    ++frames;
    if (first_ns == 0 || ts_ns < first_ns) first_ns = ts_ns;
    if (ts_ns > last_ns) last_ns = ts_ns;
}

std::size_t PointCapture::TupleHash::operator()(const TupleKey& k) const noexcept {
    std::uint64_t h = 1469598103934665603ull;
    const auto mix = [&](const std::uint8_t* b, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
    };
    mix(k.lo.data(), 16);
    mix(k.hi.data(), 16);
    h ^= (std::uint64_t{k.port_lo} << 16) | k.port_hi;
    return static_cast<std::size_t>(h * 0x9e3779b97f4a7c15ull);
}

PointCapture::TupleKey PointCapture::tuple_of(const Addr& a, std::uint16_t pa, const Addr& b, std::uint16_t pb) noexcept {
    const int c = std::memcmp(a.data(), b.data(), 16);
    if (c < 0 || (c == 0 && pa <= pb)) return {a, b, pa, pb};
    return {b, a, pb, pa};
}

std::uint32_t PointCapture::connection_for(std::uint32_t index, std::unordered_map<TupleKey, std::uint32_t, TupleHash>& open) {
    const PointPacket& p = packets[index];
    const TupleKey key = tuple_of(p.src, p.sport, p.dst, p.dport);
    if (const auto it = open.find(key); it != open.end()) {
        const Connection& c = conns[it->second];
        // A SYN with a new ISN is a new connection on the same 4-tuple (RFC 9293 3.10.7.4
        // lets a TIME-WAIT socket accept it); the same ISN is the same SYN sent again.
        const bool reused = p.is_pure_syn() && (!c.saw_syn || c.client_isn != p.seq);
        if (!reused) return it->second;
    }
    Connection c;
    c.ip_version = p.ip_version;
    // The client: the SYN's sender; the SYN-ACK's receiver; mid-flow, the higher (ephemeral) port.
    const bool src_is_client = p.is_pure_syn()   ? true
                               : p.has(kSyn)     ? false
                               : p.sport != p.dport ? p.sport > p.dport
                                                    : true;
    c.client = src_is_client ? p.src : p.dst;
    c.client_port = src_is_client ? p.sport : p.dport;
    c.server = src_is_client ? p.dst : p.src;
    c.server_port = src_is_client ? p.dport : p.sport;
    if (p.is_pure_syn()) {
        c.saw_syn = true;
        c.client_isn = p.seq;
    }
    c.first_ns = p.ts_ns;
    conns.push_back(std::move(c));
    open[key] = static_cast<std::uint32_t>(conns.size() - 1);
    return static_cast<std::uint32_t>(conns.size() - 1);
}

void PointCapture::group() {
    std::unordered_map<TupleKey, std::uint32_t, TupleHash> open;
    for (std::uint32_t i = 0; i < packets.size(); ++i) {
        PointPacket& p = packets[i];
        if (p.icmp) {
            const auto& [qsrc, qdst] = quoted_[p.conn];
            const auto it = open.find(tuple_of(qsrc, p.sport, qdst, p.dport));
            if (it == open.end()) {
                p.conn = kNoConnection;
                continue;
            }
            Connection& c = conns[it->second];
            p.conn = it->second;
            p.dir = (qsrc == c.client && p.sport == c.client_port) ? 0 : 1;
            c.icmp.push_back(i);
            continue;
        }
        const std::uint32_t ci = connection_for(i, open);
        Connection& c = conns[ci];
        p.conn = ci;
        p.dir = (p.src == c.client && p.sport == c.client_port) ? 0 : 1;
        c.packets[p.dir].push_back(i);
        c.last_ns = p.ts_ns;
    }
    quoted_.clear();
    quoted_.shrink_to_fit();
}

}  // namespace tcpsleuth::two_point
