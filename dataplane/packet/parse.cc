#include "parse.h"

#include <algorithm>
#include <cstring>

#include "byte_order.h"

namespace tcpsleuth {
namespace {

constexpr std::uint16_t kEtherIpv4 = 0x0800;
constexpr std::uint16_t kEtherIpv6 = 0x86DD;
constexpr std::uint16_t kEtherVlan = 0x8100;   // 802.1Q
constexpr std::uint16_t kEtherQinq = 0x88A8;   // 802.1ad
constexpr std::uint16_t kEtherQinqOld = 0x9100;
constexpr unsigned kMaxVlanDepth = 4;

constexpr std::uint8_t kProtoTcp = 6;
constexpr std::uint8_t kProtoIcmp = 1;
constexpr std::uint8_t kProtoIcmp6 = 58;
constexpr std::uint8_t kIp6HopByHop = 0;
constexpr std::uint8_t kIp6Routing = 43;
constexpr std::uint8_t kIp6Fragment = 44;
constexpr std::uint8_t kIp6Ah = 51;
constexpr std::uint8_t kIp6DestOpts = 60;
constexpr unsigned kMaxIp6ExtHeaders = 8;

constexpr std::size_t kIpv4MinLen = 20;
constexpr std::size_t kIpv6Len = 40;
constexpr std::size_t kTcpMinLen = 20;

// Bytes of the frame: `cap` is what was captured, `wire` what was on the wire. Both are
// measured from the same start; `wire >= cap` always (the caller guarantees it).
struct Bytes {
    const std::uint8_t* p;
    std::size_t cap;
    std::size_t wire;
};

void set_v4_mapped(std::array<std::uint8_t, 16>& a, const std::uint8_t* v4) noexcept {
    a = {};
    a[10] = 0xff;
    a[11] = 0xff;
    std::memcpy(a.data() + 12, v4, 4);
}

void set_v6(std::array<std::uint8_t, 16>& a, const std::uint8_t* v6) noexcept {
    std::memcpy(a.data(), v6, 16);
}

// The TCP header at `off`; `ip_payload` is how many L4 bytes the IP header says exist.
ParseStatus parse_tcp(Bytes b, std::size_t off, std::size_t ip_payload, PacketView& v) noexcept {
    if (ip_payload < kTcpMinLen) return ParseStatus::kBadTcpHeader;
    if (b.cap < off + kTcpMinLen) return ParseStatus::kTruncated;
    const std::uint8_t* h = b.p + off;
    const std::size_t hlen = (h[12] >> 4) * 4u;
    if (hlen < kTcpMinLen || hlen > ip_payload) return ParseStatus::kBadTcpHeader;
    if (b.cap < off + hlen) return ParseStatus::kTruncated;

    v.l4 = L4::kTcp;
    v.l4_offset = static_cast<std::uint16_t>(off);
    v.tcp = TcpHeader{
        .src_port = load_be16(h),
        .dst_port = load_be16(h + 2),
        .seq = load_be32(h + 4),
        .ack = load_be32(h + 8),
        .header_len = static_cast<std::uint8_t>(hlen),
        .flags = h[13],
        .window = load_be16(h + 14),
        .urgent = load_be16(h + 18),
    };
    v.payload_len = static_cast<std::uint32_t>(ip_payload - hlen);
    const auto st = parse_tcp_options({h + kTcpMinLen, hlen - kTcpMinLen}, v.opts);
    return st == OptionStatus::kOk ? ParseStatus::kOk : ParseStatus::kBadTcpOption;
}

// Walks IPv6 extension headers starting at `off` with next header `nh`, up to `end` (IP
// payload end, from the IPv6 payload length). Leaves `off`/`nh` at the upper-layer header.
ParseStatus walk_ipv6_ext(Bytes b, std::size_t end, std::size_t& off, std::uint8_t& nh,
                          bool& first_fragment) noexcept {
    for (unsigned n = 0;; ++n) {
        if (nh != kIp6HopByHop && nh != kIp6Routing && nh != kIp6DestOpts && nh != kIp6Fragment &&
            nh != kIp6Ah) {
            return ParseStatus::kOk;
        }
        if (n == kMaxIp6ExtHeaders) return ParseStatus::kBadIpv6Ext;
        if (off + 8 > end) return ParseStatus::kBadIpv6Ext;  // every ext header is >= 8 bytes
        if (off + 8 > b.cap) return ParseStatus::kTruncated;
        const std::uint8_t* h = b.p + off;
        std::size_t len;
        if (nh == kIp6Fragment) {
            len = 8;  // RFC 8200 section 4.5: fixed size
            const std::uint16_t offset_flags = load_be16(h + 2);
            if ((offset_flags >> 3) != 0) return ParseStatus::kFragment;
            if (offset_flags & 1) first_fragment = true;
        } else if (nh == kIp6Ah) {
            len = (h[1] + 2u) * 4u;  // RFC 4302 section 2.2: 4-octet units, minus 2
        } else {
            len = (h[1] + 1u) * 8u;  // RFC 8200 section 4.3: 8-octet units, first not counted
        }
        if (off + len > end) return ParseStatus::kBadIpv6Ext;
        nh = h[0];
        off += len;
    }
}

// ICMP errors quote the offending IP header plus at least 8 bytes of it (RFC 792; RFC 4443
// section 2.4 asks for as much as fits). Eight bytes of TCP are the ports and the sequence
// number: enough to tie the error to a flow and a segment.
ParseStatus parse_quoted_ip(Bytes b, std::size_t off, std::size_t end, PacketView& v) noexcept {
    IcmpQuote& q = v.icmp;
    if (off >= end) return ParseStatus::kBadIcmp;
    if (off + 1 > b.cap) return ParseStatus::kTruncated;
    const unsigned version = b.p[off] >> 4;
    std::uint8_t nh;
    std::size_t l4;
    if (version == 4) {
        if (off + kIpv4MinLen > end) return ParseStatus::kBadIcmp;
        if (off + kIpv4MinLen > b.cap) return ParseStatus::kTruncated;
        const std::uint8_t* h = b.p + off;
        const std::size_t ihl = (h[0] & 0x0f) * 4u;
        if (ihl < kIpv4MinLen) return ParseStatus::kBadIcmp;
        set_v4_mapped(q.src, h + 12);
        set_v4_mapped(q.dst, h + 16);
        q.ip_version = 4;
        q.quoted_total_len = load_be16(h + 2);
        nh = h[9];
        l4 = off + ihl;
    } else if (version == 6) {
        if (off + kIpv6Len > end) return ParseStatus::kBadIcmp;
        if (off + kIpv6Len > b.cap) return ParseStatus::kTruncated;
        const std::uint8_t* h = b.p + off;
        set_v6(q.src, h + 8);
        set_v6(q.dst, h + 24);
        q.ip_version = 6;
        q.quoted_total_len = static_cast<std::uint16_t>(std::min<std::uint32_t>(0xffff, kIpv6Len + load_be16(h + 4)));
        nh = h[6];
        l4 = off + kIpv6Len;
        bool first_fragment = false;
        // The quote may be cut anywhere; a malformed chain inside it is the quote's problem.
        const auto st = walk_ipv6_ext(b, end, l4, nh, first_fragment);
        if (st == ParseStatus::kBadIpv6Ext || st == ParseStatus::kFragment) return ParseStatus::kBadIcmp;
        if (st != ParseStatus::kOk) return st;
    } else {
        return ParseStatus::kBadIcmp;
    }
    if (nh != kProtoTcp) return ParseStatus::kNotTcp;
    if (l4 + 8 > end) return ParseStatus::kBadIcmp;
    if (l4 + 8 > b.cap) return ParseStatus::kTruncated;
    q.src_port = load_be16(b.p + l4);
    q.dst_port = load_be16(b.p + l4 + 2);
    q.seq = load_be32(b.p + l4 + 4);
    q.has_tcp = true;
    v.l4 = L4::kIcmp;
    return ParseStatus::kIcmpQuote;
}

ParseStatus parse_icmp4(Bytes b, std::size_t off, std::size_t end, PacketView& v) noexcept {
    if (off + 8 > end) return ParseStatus::kBadIcmp;
    if (off + 8 > b.cap) return ParseStatus::kTruncated;
    const std::uint8_t type = b.p[off];
    if (type != 3) return ParseStatus::kNotTcp;  // only destination unreachable quotes matter here
    v.icmp.type = type;
    v.icmp.code = b.p[off + 1];
    if (v.icmp.code == 4) {  // fragmentation needed and DF set (RFC 1191 section 4)
        v.icmp.frag_needed = true;
        v.icmp.mtu = load_be16(b.p + off + 6);
    }
    v.l4_offset = static_cast<std::uint16_t>(off);
    return parse_quoted_ip(b, off + 8, end, v);
}

ParseStatus parse_icmp6(Bytes b, std::size_t off, std::size_t end, PacketView& v) noexcept {
    if (off + 8 > end) return ParseStatus::kBadIcmp;
    if (off + 8 > b.cap) return ParseStatus::kTruncated;
    const std::uint8_t type = b.p[off];
    if (type != 1 && type != 2) return ParseStatus::kNotTcp;  // unreachable, packet too big
    v.icmp.type = type;
    v.icmp.code = b.p[off + 1];
    if (type == 2) {  // RFC 4443 section 3.2
        v.icmp.frag_needed = true;
        v.icmp.mtu = load_be32(b.p + off + 4);
    }
    v.l4_offset = static_cast<std::uint16_t>(off);
    return parse_quoted_ip(b, off + 8, end, v);
}

ParseStatus parse_ipv4(Bytes b, std::size_t off, PacketView& v) noexcept {
    if (b.cap < off + kIpv4MinLen) return ParseStatus::kTruncated;
    const std::uint8_t* h = b.p + off;
    if ((h[0] >> 4) != 4) return ParseStatus::kBadIpHeader;
    const std::size_t ihl = (h[0] & 0x0f) * 4u;
    const std::size_t total = load_be16(h + 2);
    if (ihl < kIpv4MinLen || total < ihl) return ParseStatus::kBadIpHeader;
    if (off + total > b.wire) return ParseStatus::kBadIpLength;
    if (b.cap < off + ihl) return ParseStatus::kTruncated;

    v.ip_version = 4;
    v.l3_offset = static_cast<std::uint16_t>(off);
    v.dscp = h[1] >> 2;
    v.ecn = h[1] & 3;
    v.ip_len = static_cast<std::uint32_t>(total);
    v.ip_id = load_be16(h + 4);
    const std::uint16_t frag = load_be16(h + 6);
    v.df = (frag & 0x4000) != 0;
    v.ttl = h[8];
    set_v4_mapped(v.src, h + 12);
    set_v4_mapped(v.dst, h + 16);
    if ((frag & 0x1fff) != 0) return ParseStatus::kFragment;  // no L4 header in this one
    v.fragment = (frag & 0x2000) != 0;

    const std::size_t end = off + total;
    switch (h[9]) {
        case kProtoTcp: return parse_tcp(b, off + ihl, total - ihl, v);
        case kProtoIcmp: return v.fragment ? ParseStatus::kNotTcp : parse_icmp4(b, off + ihl, end, v);
        default: return ParseStatus::kNotTcp;
    }
}

ParseStatus parse_ipv6(Bytes b, std::size_t off, PacketView& v) noexcept {
    if (b.cap < off + kIpv6Len) return ParseStatus::kTruncated;
    const std::uint8_t* h = b.p + off;
    if ((h[0] >> 4) != 6) return ParseStatus::kBadIpHeader;
    const std::size_t total = kIpv6Len + load_be16(h + 4);
    if (off + total > b.wire) return ParseStatus::kBadIpLength;

    v.ip_version = 6;
    v.l3_offset = static_cast<std::uint16_t>(off);
    const std::uint8_t tclass = static_cast<std::uint8_t>((load_be16(h) >> 4) & 0xff);
    v.dscp = tclass >> 2;
    v.ecn = tclass & 3;
    v.ip_len = static_cast<std::uint32_t>(total);
    v.ttl = h[7];
    set_v6(v.src, h + 8);
    set_v6(v.dst, h + 24);

    const std::size_t end = off + total;
    std::size_t l4 = off + kIpv6Len;
    std::uint8_t nh = h[6];
    const auto st = walk_ipv6_ext(b, end, l4, nh, v.fragment);
    if (st != ParseStatus::kOk) return st;
    switch (nh) {
        case kProtoTcp: return parse_tcp(b, l4, end - l4, v);
        case kProtoIcmp6: return v.fragment ? ParseStatus::kNotTcp : parse_icmp6(b, l4, end, v);
        default: return ParseStatus::kNotTcp;
    }
}

ParseStatus parse_by_version(Bytes b, std::size_t off, PacketView& v) noexcept {
    if (b.cap < off + 1) return ParseStatus::kTruncated;
    switch (b.p[off] >> 4) {
        case 4: return parse_ipv4(b, off, v);
        case 6: return parse_ipv6(b, off, v);
        default: return ParseStatus::kNotIp;
    }
}

ParseStatus parse_ethertype(Bytes b, std::size_t off, std::uint16_t type, PacketView& v) noexcept {
    while (type == kEtherVlan || type == kEtherQinq || type == kEtherQinqOld) {
        if (v.vlan_depth == kMaxVlanDepth) return ParseStatus::kBadL2;
        if (b.cap < off + 4) return ParseStatus::kTruncated;
        v.vlan = load_be16(b.p + off) & 0x0fff;  // the innermost tag wins: it names the segment
        type = load_be16(b.p + off + 2);
        off += 4;
        ++v.vlan_depth;
    }
    switch (type) {
        case kEtherIpv4: return parse_ipv4(b, off, v);
        case kEtherIpv6: return parse_ipv6(b, off, v);
        default: return ParseStatus::kNotIp;
    }
}

}  // namespace

std::string_view to_string(ParseStatus s) noexcept {
    switch (s) {
        case ParseStatus::kOk: return "ok";
        case ParseStatus::kIcmpQuote: return "icmp_quote";
        case ParseStatus::kTruncated: return "truncated";
        case ParseStatus::kNotIp: return "not_ip";
        case ParseStatus::kBadL2: return "bad_l2";
        case ParseStatus::kBadIpHeader: return "bad_ip_header";
        case ParseStatus::kBadIpLength: return "bad_ip_length";
        case ParseStatus::kBadIpv6Ext: return "bad_ipv6_ext";
        case ParseStatus::kFragment: return "fragment";
        case ParseStatus::kNotTcp: return "not_tcp";
        case ParseStatus::kBadTcpHeader: return "bad_tcp_header";
        case ParseStatus::kBadTcpOption: return "bad_tcp_option";
        case ParseStatus::kBadIcmp: return "bad_icmp";
    }
    return "?";
}

ParseStatus parse_packet(const std::uint8_t* data, std::uint32_t cap_len, LinkType link,
                         PacketView& v) noexcept {
    const std::uint64_t ts = v.ts_ns;
    const std::uint64_t number = v.number;
    const std::uint32_t wire = std::max(v.wire_len, cap_len);
    v = PacketView{};
    v.ts_ns = ts;
    v.number = number;
    v.wire_len = wire;
    v.cap_len = cap_len;
    const Bytes b{data, cap_len, wire};

    switch (link) {
        case LinkType::kEthernet:
            if (cap_len < 14) return ParseStatus::kTruncated;
            return parse_ethertype(b, 14, load_be16(data + 12), v);
        case LinkType::kLinuxSll:
            // 16-byte cooked header; protocol in the last two bytes.
            if (cap_len < 16) return ParseStatus::kTruncated;
            return parse_ethertype(b, 16, load_be16(data + 14), v);
        case LinkType::kLinuxSll2:
            // 20-byte cooked header v2; protocol first.
            if (cap_len < 20) return ParseStatus::kTruncated;
            return parse_ethertype(b, 20, load_be16(data), v);
        case LinkType::kRaw:
            return parse_by_version(b, 0, v);
        case LinkType::kIpv4:
            return parse_ipv4(b, 0, v);
        case LinkType::kIpv6:
            return parse_ipv6(b, 0, v);
        case LinkType::kNull: {
            // Family in the capturing host's byte order: accept either.
            if (cap_len < 4) return ParseStatus::kTruncated;
            std::uint32_t fam = load_le32(data);
            if (fam > 0xffff) fam = __builtin_bswap32(fam);
            if (fam == 2) return parse_ipv4(b, 4, v);
            if (fam == 24 || fam == 28 || fam == 30) return parse_ipv6(b, 4, v);  // BSD AF_INET6 values
            return ParseStatus::kNotIp;
        }
    }
    return ParseStatus::kBadL2;
}

}  // namespace tcpsleuth
