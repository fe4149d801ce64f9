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
        .checksum = load_be16(h + 16),
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

// Ethertypes and IP protocols of what we look through (decap.h).
constexpr std::uint16_t kEtherMpls = 0x8847;
constexpr std::uint16_t kEtherMplsMulticast = 0x8848;
constexpr std::uint16_t kEtherPppoeSession = 0x8864;
constexpr std::uint16_t kEtherTeb = 0x6558;         // transparent Ethernet bridging (GRE, Geneve)
constexpr std::uint16_t kEtherErspan2 = 0x88BE;     // ERSPAN type I (no sequence) and II
constexpr std::uint16_t kEtherErspan3 = 0x22EB;
constexpr std::uint8_t kProtoIpip = 4;
constexpr std::uint8_t kProtoUdp = 17;
constexpr std::uint8_t kProtoIpv6 = 41;
constexpr std::uint8_t kProtoGre = 47;
constexpr std::size_t kUdpLen = 8;
constexpr std::size_t kEtherLen = 14;
constexpr unsigned kMaxMplsLabels = 8;

bool has_port(const std::array<std::uint16_t, DecapConfig::kMaxPorts>& ports, std::uint16_t port) noexcept {
    for (const std::uint16_t p : ports) {
        if (p == 0) return false;
        if (p == port) return true;
    }
    return false;
}

// One walk from the frame's first header to the TCP segment, through as many encapsulations
// as the configuration allows. `end` arguments are where the enclosing header says its
// payload ends (0: the frame itself, whose end is the wire length).
class Walker {
public:
    Walker(Bytes b, const DecapConfig& cfg, PacketView& v) noexcept : b_(b), cfg_(cfg), v_(v) {}

    ParseStatus ethernet(std::size_t off, std::uint16_t type, std::size_t end) noexcept {
        while (type == kEtherVlan || type == kEtherQinq || type == kEtherQinqOld) {
            if (v_.vlan_depth == kMaxVlanDepth) return ParseStatus::kBadL2;
            if (b_.cap < off + 4) return ParseStatus::kTruncated;
            v_.vlan = load_be16(b_.p + off) & 0x0fff;  // the innermost tag wins: it names the segment
            type = load_be16(b_.p + off + 2);
            off += 4;
            ++v_.vlan_depth;
        }
        switch (type) {
            case kEtherIpv4: return ipv4(off, end);
            case kEtherIpv6: return ipv6(off, end);
            case kEtherMpls:
            case kEtherMplsMulticast: return cfg_.mpls ? mpls(off, end) : ParseStatus::kNotIp;
            case kEtherPppoeSession: return cfg_.pppoe ? pppoe(off, end) : ParseStatus::kNotIp;
            default: return ParseStatus::kNotIp;
        }
    }

    // An Ethernet frame inside a tunnel, from `off` to `end`.
    ParseStatus inner_ethernet(std::size_t off, std::size_t end) noexcept {
        if (b_.cap < off + kEtherLen) return ParseStatus::kTruncated;
        return ethernet(off + kEtherLen, load_be16(b_.p + off + 12), end);
    }

    ParseStatus by_version(std::size_t off, std::size_t end) noexcept {
        if (b_.cap < off + 1) return ParseStatus::kTruncated;
        switch (b_.p[off] >> 4) {
            case 4: return ipv4(off, end);
            case 6: return ipv6(off, end);
            default: return ParseStatus::kNotIp;
        }
    }

    ParseStatus ipv4(std::size_t off, std::size_t end) noexcept {
        if (b_.cap < off + kIpv4MinLen) return ParseStatus::kTruncated;
        const std::uint8_t* h = b_.p + off;
        if ((h[0] >> 4) != 4) return ParseStatus::kBadIpHeader;
        const std::size_t ihl = (h[0] & 0x0f) * 4u;
        const std::size_t total = load_be16(h + 2);
        if (ihl < kIpv4MinLen || total < ihl) return ParseStatus::kBadIpHeader;
        if (const ParseStatus st = check_length(off, total, end); st != ParseStatus::kOk) return st;
        if (b_.cap < off + ihl) return ParseStatus::kTruncated;
        note_network_header(off);

        v_.ip_version = 4;
        v_.l3_offset = static_cast<std::uint16_t>(off);
        v_.dscp = h[1] >> 2;
        v_.ecn = h[1] & 3;
        v_.ip_len = static_cast<std::uint32_t>(total);
        v_.ip_id = load_be16(h + 4);
        const std::uint16_t frag = load_be16(h + 6);
        v_.df = (frag & 0x4000) != 0;
        v_.ttl = h[8];
        set_v4_mapped(v_.src, h + 12);
        set_v4_mapped(v_.dst, h + 16);
        if ((frag & 0x1fff) != 0) return ParseStatus::kFragment;  // no L4 header in this one
        v_.fragment = (frag & 0x2000) != 0;

        const std::size_t ip_end = off + total;
        switch (h[9]) {
            case kProtoTcp: return parse_tcp(b_, off + ihl, total - ihl, v_);
            case kProtoIcmp: return v_.fragment ? ParseStatus::kNotTcp : parse_icmp4(b_, off + ihl, ip_end, v_);
            default: return v_.fragment ? ParseStatus::kNotTcp : ip_payload(h[9], off + ihl, ip_end);
        }
    }

    ParseStatus ipv6(std::size_t off, std::size_t end) noexcept {
        if (b_.cap < off + kIpv6Len) return ParseStatus::kTruncated;
        const std::uint8_t* h = b_.p + off;
        if ((h[0] >> 4) != 6) return ParseStatus::kBadIpHeader;
        const std::size_t total = kIpv6Len + load_be16(h + 4);
        if (const ParseStatus st = check_length(off, total, end); st != ParseStatus::kOk) return st;
        note_network_header(off);

        v_.ip_version = 6;
        v_.l3_offset = static_cast<std::uint16_t>(off);
        const std::uint8_t tclass = static_cast<std::uint8_t>((load_be16(h) >> 4) & 0xff);
        v_.dscp = tclass >> 2;
        v_.ecn = tclass & 3;
        v_.ip_len = static_cast<std::uint32_t>(total);
        v_.ttl = h[7];
        set_v6(v_.src, h + 8);
        set_v6(v_.dst, h + 24);

        const std::size_t ip_end = off + total;
        std::size_t l4 = off + kIpv6Len;
        std::uint8_t nh = h[6];
        const auto st = walk_ipv6_ext(b_, ip_end, l4, nh, v_.fragment);
        if (st != ParseStatus::kOk) return st;
        switch (nh) {
            case kProtoTcp: return parse_tcp(b_, l4, ip_end - l4, v_);
            case kProtoIcmp6: return v_.fragment ? ParseStatus::kNotTcp : parse_icmp6(b_, l4, ip_end, v_);
            default: return v_.fragment ? ParseStatus::kNotTcp : ip_payload(nh, l4, ip_end);
        }
    }

private:
    // An IP packet longer than its container is malformed; longer than the frame itself, it
    // is a truncated copy (a snap length, a mirror that cuts frames): its headers still count.
    ParseStatus check_length(std::size_t off, std::size_t total, std::size_t end) noexcept {
        if (end != 0 && off + total > end) return ParseStatus::kBadIpLength;
        if (off + total > b_.wire) v_.truncated_copy = true;
        return ParseStatus::kOk;
    }

    void note_network_header(std::size_t off) noexcept {
        if (!have_first_l3_) {
            first_l3_ = off;
            have_first_l3_ = true;
        }
    }

    // Enters one more encapsulation; false (and kTooDeep) past decap.max_depth.
    bool enter(TunnelType t, std::uint32_t id, bool from_ip) noexcept {
        v_.encap_seen = static_cast<std::uint8_t>(v_.encap_seen | (1u << static_cast<unsigned>(t)));
        if (v_.encap_depth == cfg_.max_depth) {
            v_.encap_failed = t;
            return false;
        }
        ++v_.encap_depth;
        v_.vlan = 0;  // a tag outside the tunnel is the mirror's transport; one inside names the segment
        const bool names = id_names_a_segment(t);
        if (names || !v_.tunnel_names_segment) {
            v_.tunnel = t;
            v_.tunnel_id = id;
            v_.tunnel_names_segment = names;
            v_.outer_ip_version = from_ip ? v_.ip_version : 0;
            if (from_ip) {
                v_.outer_src = v_.src;
                v_.outer_dst = v_.dst;
            } else {
                v_.outer_src = {};
                v_.outer_dst = {};
            }
        }
        return true;
    }

    // A GRE sequence number (RFC 2890 section 2.2) of the outermost layer that has one: the
    // mirror session's own count, which shows its losses.
    void note_sequence(TunnelType t, std::uint32_t id, bool has_seq, std::uint32_t seq) noexcept {
        if (!has_seq || v_.tunnel_seq_valid) return;
        v_.tunnel_seq_valid = true;
        v_.tunnel_seq_type = t;
        v_.tunnel_seq_id = id;
        v_.tunnel_seq = seq;
    }

    ParseStatus bad(TunnelType t) noexcept {
        v_.encap_seen = static_cast<std::uint8_t>(v_.encap_seen | (1u << static_cast<unsigned>(t)));
        v_.encap_failed = t;
        return ParseStatus::kBadTunnel;
    }

    ParseStatus too_deep() const noexcept { return ParseStatus::kTooDeep; }

    // What an IP header that is neither TCP nor ICMP carries: a tunnel, or nothing of ours.
    ParseStatus ip_payload(std::uint8_t proto, std::size_t off, std::size_t end) noexcept {
        switch (proto) {
            case kProtoIpip:
            case kProtoIpv6:
                if (!cfg_.ip_in_ip) return ParseStatus::kNotTcp;
                if (!enter(TunnelType::kIpInIp, 0, true)) return too_deep();
                return proto == kProtoIpip ? ipv4(off, end) : ipv6(off, end);
            case kProtoGre: return cfg_.gre || cfg_.erspan ? gre(off, end) : ParseStatus::kNotTcp;
            case kProtoUdp: return udp(off, end);
            default: return ParseStatus::kNotTcp;
        }
    }

    ParseStatus udp(std::size_t off, std::size_t end) noexcept {
        if (off + kUdpLen > end) return ParseStatus::kNotTcp;  // not even a UDP header: not ours
        if (b_.cap < off + kUdpLen) return ParseStatus::kTruncated;
        // The destination port says what follows; the source port of VXLAN and Geneve is a
        // hash of the inner flow for ECMP (RFC 7348 section 5) and is never looked at.
        const std::uint16_t dport = load_be16(b_.p + off + 2);
        if (cfg_.vxlan && has_port(cfg_.vxlan_ports, dport)) return vxlan(off + kUdpLen, end);
        if (cfg_.geneve && has_port(cfg_.geneve_ports, dport)) return geneve(off + kUdpLen, end);
        return ParseStatus::kNotTcp;
    }

    // RFC 7348 section 5: flags (I bit 0x08 set: the VNI is valid), 24 reserved bits, the
    // 24-bit VNI, 8 reserved bits; an Ethernet frame follows.
    ParseStatus vxlan(std::size_t off, std::size_t end) noexcept {
        if (off + 8 > end) return bad(TunnelType::kVxlan);
        if (b_.cap < off + 8) return ParseStatus::kTruncated;
        const std::uint8_t* h = b_.p + off;
        if ((h[0] & 0x08) == 0) return bad(TunnelType::kVxlan);
        const std::uint32_t vni = load_be32(h + 4) >> 8;
        if (!enter(TunnelType::kVxlan, vni, true)) return too_deep();
        return inner_ethernet(off + 8, end);
    }

    // RFC 8926 section 3.4: version (2 bits, 0), options length in 4-byte words (6 bits),
    // flags, protocol type, 24-bit VNI, reserved; then the options, skipped by their length.
    // AWS Gateway Load Balancer carries bare IP (0x0800 / 0x86DD) as well as Ethernet.
    ParseStatus geneve(std::size_t off, std::size_t end) noexcept {
        if (off + 8 > end) return bad(TunnelType::kGeneve);
        if (b_.cap < off + 8) return ParseStatus::kTruncated;
        const std::uint8_t* h = b_.p + off;
        if ((h[0] >> 6) != 0) return bad(TunnelType::kGeneve);
        const std::size_t len = 8 + (h[0] & 0x3f) * 4u;
        if (off + len > end) return bad(TunnelType::kGeneve);
        const std::uint16_t proto = load_be16(h + 2);
        const std::uint32_t vni = load_be32(h + 4) >> 8;
        if (proto != kEtherTeb && proto != kEtherIpv4 && proto != kEtherIpv6) return ParseStatus::kNotTcp;
        if (!enter(TunnelType::kGeneve, vni, true)) return too_deep();
        if (proto == kEtherTeb) return inner_ethernet(off + len, end);
        return proto == kEtherIpv4 ? ipv4(off + len, end) : ipv6(off + len, end);
    }

    // RFC 2784 with RFC 2890's key and sequence number: C, K, S flags, version 0 (version 1
    // is PPTP's enhanced GRE, which carries PPP and no TCP we decode).
    ParseStatus gre(std::size_t off, std::size_t end) noexcept {
        if (off + 4 > end) return bad(TunnelType::kGre);
        if (b_.cap < off + 4) return ParseStatus::kTruncated;
        const std::uint8_t* h = b_.p + off;
        if ((h[1] & 0x07) != 0) return ParseStatus::kNotTcp;
        const bool has_checksum = (h[0] & 0x80) != 0, has_key = (h[0] & 0x20) != 0, has_seq = (h[0] & 0x10) != 0;
        const std::uint16_t proto = load_be16(h + 2);
        std::size_t len = 4 + (has_checksum ? 4 : 0);
        std::uint32_t key = 0, seq = 0;
        if (off + len + (has_key ? 4 : 0) + (has_seq ? 4 : 0) > end) return bad(TunnelType::kGre);
        if (b_.cap < off + len + (has_key ? 4 : 0) + (has_seq ? 4 : 0)) return ParseStatus::kTruncated;
        if (has_key) key = load_be32(h + len), len += 4;
        if (has_seq) seq = load_be32(h + len), len += 4;
        if (proto == kEtherErspan2 || proto == kEtherErspan3) {
            if (!cfg_.erspan) return ParseStatus::kNotTcp;
            return erspan(off + len, end, proto == kEtherErspan3, has_seq, seq);
        }
        if (!cfg_.gre) return ParseStatus::kNotTcp;
        if (proto != kEtherIpv4 && proto != kEtherIpv6 && proto != kEtherTeb && proto != kEtherMpls) {
            return ParseStatus::kNotTcp;
        }
        if (!enter(TunnelType::kGre, key, true)) return too_deep();
        note_sequence(TunnelType::kGre, key, has_seq, seq);
        switch (proto) {
            case kEtherIpv4: return ipv4(off + len, end);
            case kEtherIpv6: return ipv6(off + len, end);
            case kEtherMpls: return cfg_.mpls ? mpls(off + len, end) : ParseStatus::kNotTcp;
            default: return inner_ethernet(off + len, end);
        }
    }

    // ERSPAN (draft-foschiano-erspan): type I has no header of its own (GRE without a
    // sequence number, 0x88BE); type II an 8-byte header (version 1, VLAN, COS, encapsulation,
    // T, 10-bit session ID, index); type III a 12-byte one (version 2, ..., session ID,
    // timestamp, SGT, P, FT, hardware ID, D, granularity, O) and, with O set, an 8-byte
    // platform subheader. The mirrored frame follows: Ethernet, or IP when type III's FT says 2.
    ParseStatus erspan(std::size_t off, std::size_t end, bool type3, bool has_seq, std::uint32_t seq) noexcept {
        std::size_t len = 0;
        std::uint32_t session = 0;
        bool ip_frame = false;
        if (type3 || has_seq) {
            if (off + 8 > end) return bad(TunnelType::kErspan);
            if (b_.cap < off + 8) return ParseStatus::kTruncated;
            const std::uint8_t* h = b_.p + off;
            const unsigned version = h[0] >> 4;
            if (version != (type3 ? 2u : 1u)) return bad(TunnelType::kErspan);
            session = load_be16(h + 2) & 0x03ff;
            len = 8;
            if (type3) {
                if (off + 12 > end) return bad(TunnelType::kErspan);
                if (b_.cap < off + 12) return ParseStatus::kTruncated;
                const std::uint16_t word = load_be16(h + 10);
                const unsigned frame_type = (word >> 10) & 0x1f;
                const bool optional = (word & 1) != 0;
                len = 12 + (optional ? 8 : 0);
                if (off + len > end) return bad(TunnelType::kErspan);
                if (frame_type != 0 && frame_type != 2) return ParseStatus::kNotIp;
                ip_frame = frame_type == 2;
            }
        }
        if (!enter(TunnelType::kErspan, session, true)) return too_deep();
        note_sequence(TunnelType::kErspan, session, has_seq, seq);
        return ip_frame ? by_version(off + len, end) : inner_ethernet(off + len, end);
    }

    // RFC 3032: 4-byte entries to the one with the bottom-of-stack bit. Nothing says what the
    // payload is; the first nibble does (RFC 4385 section 3): 4 and 6 are IP, 0 a pseudowire
    // control word before an Ethernet frame, anything else an Ethernet pseudowire without one.
    ParseStatus mpls(std::size_t off, std::size_t end) noexcept {
        const std::size_t limit = end != 0 ? end : b_.wire;
        note_network_header(off);
        std::uint32_t bottom_label = 0;
        for (unsigned n = 0;; ++n) {
            if (n == kMaxMplsLabels || off + 4 > limit) return bad(TunnelType::kMpls);
            if (b_.cap < off + 4) return ParseStatus::kTruncated;
            const std::uint32_t entry = load_be32(b_.p + off);
            off += 4;
            bottom_label = entry >> 12;
            if ((entry & 0x100) != 0) break;
        }
        if (!enter(TunnelType::kMpls, bottom_label, false)) return too_deep();
        if (b_.cap < off + 1) return ParseStatus::kTruncated;
        switch (b_.p[off] >> 4) {
            case 4: return ipv4(off, end);
            case 6: return ipv6(off, end);
            case 0: return inner_ethernet(off + 4, end);
            case 1: return ParseStatus::kNotIp;  // associated channel (OAM), not a packet
            default: return inner_ethernet(off, end);
        }
    }

    // RFC 2516 section 5.4 (session stage): version/type 0x11, code 0, session ID, length;
    // then the PPP protocol (RFC 1661): 0x0021 IPv4, 0x0057 IPv6.
    ParseStatus pppoe(std::size_t off, std::size_t end) noexcept {
        const std::size_t limit = end != 0 ? end : b_.wire;
        if (off + 8 > limit) return bad(TunnelType::kPppoe);
        if (b_.cap < off + 8) return ParseStatus::kTruncated;
        const std::uint8_t* h = b_.p + off;
        if (h[0] != 0x11 || h[1] != 0) return bad(TunnelType::kPppoe);
        note_network_header(off);
        const std::uint16_t session = load_be16(h + 2);
        const std::uint16_t ppp = load_be16(h + 6);
        if (ppp != 0x0021 && ppp != 0x0057) return ParseStatus::kNotIp;  // LCP, IPCP, ...
        if (!enter(TunnelType::kPppoe, session, false)) return too_deep();
        // The PPPoE length covers the PPP protocol field and its payload.
        const std::size_t payload_end = off + 6 + load_be16(h + 4);
        const std::size_t inner_end = end != 0 ? std::min(end, payload_end) : payload_end;
        if (inner_end < off + 8) return bad(TunnelType::kPppoe);
        return ppp == 0x0021 ? ipv4(off + 8, inner_end) : ipv6(off + 8, inner_end);
    }

public:
    // After a successful walk: how many bytes the encapsulation added before the inner IP.
    void finish() noexcept {
        if (v_.encap_depth != 0 && have_first_l3_ && v_.l3_offset > first_l3_) {
            v_.encap_overhead = static_cast<std::uint16_t>(v_.l3_offset - first_l3_);
        }
    }

private:
    Bytes b_;
    const DecapConfig& cfg_;
    PacketView& v_;
    std::size_t first_l3_ = 0;
    bool have_first_l3_ = false;
};

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
        case ParseStatus::kBadTunnel: return "bad_tunnel";
        case ParseStatus::kTooDeep: return "too_deep";
    }
    return "?";
}

ParseStatus parse_packet(const std::uint8_t* data, std::uint32_t cap_len, LinkType link, PacketView& v,
                         const DecapConfig& decap) noexcept {
    const std::uint64_t ts = v.ts_ns;
    const std::uint64_t number = v.number;
    const std::uint32_t wire = std::max(v.wire_len, cap_len);
    v = PacketView{};
    v.ts_ns = ts;
    v.number = number;
    v.wire_len = wire;
    v.cap_len = cap_len;
    Walker w({data, cap_len, wire}, decap, v);
    const ParseStatus st = [&] {
        switch (link) {
            case LinkType::kEthernet:
                if (cap_len < 14) return ParseStatus::kTruncated;
                return w.ethernet(14, load_be16(data + 12), 0);
            case LinkType::kLinuxSll:
                // 16-byte cooked header; protocol in the last two bytes.
                if (cap_len < 16) return ParseStatus::kTruncated;
                return w.ethernet(16, load_be16(data + 14), 0);
            case LinkType::kLinuxSll2:
                // 20-byte cooked header v2; protocol first.
                if (cap_len < 20) return ParseStatus::kTruncated;
                return w.ethernet(20, load_be16(data), 0);
            case LinkType::kRaw:
                return w.by_version(0, 0);
            case LinkType::kIpv4:
                return w.ipv4(0, 0);
            case LinkType::kIpv6:
                return w.ipv6(0, 0);
            case LinkType::kNull: {
                // Family in the capturing host's byte order: accept either.
                if (cap_len < 4) return ParseStatus::kTruncated;
                std::uint32_t fam = load_le32(data);
                if (fam > 0xffff) fam = __builtin_bswap32(fam);
                if (fam == 2) return w.ipv4(4, 0);
                if (fam == 24 || fam == 28 || fam == 30) return w.ipv6(4, 0);  // BSD AF_INET6 values
                return ParseStatus::kNotIp;
            }
        }
        return ParseStatus::kBadL2;
    }();
    if (st == ParseStatus::kOk || st == ParseStatus::kBadTcpOption || st == ParseStatus::kIcmpQuote) w.finish();
    return st;
}

}  // namespace tcpsleuth
