#include "encap.h"

#include <cstring>

#include "frame_writer.h"

namespace tcpsleuth::gen {
namespace {

constexpr std::uint16_t kIpv4 = 0x0800, kIpv6 = 0x86dd, kVlan = 0x8100, kMpls = 0x8847, kPppoe = 0x8864,
                        kTeb = 0x6558, kErspan2 = 0x88be, kErspan3 = 0x22eb;
constexpr std::uint8_t kProtoIpip = 4, kProtoIpv6 = 41, kProtoUdp = 17, kProtoGre = 47;
constexpr std::uint16_t kVxlanPort = 4789, kGenevePort = 6081;

std::uint16_t get16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }

// The tunnel's own Ethernet header: collector and mirror source.
std::uint8_t* outer_ethernet(std::uint8_t* p, std::uint16_t type) {
    const std::uint8_t macs[12] = {0x02, 0, 0, 0, 1, 2, 0x02, 0, 0, 0, 1, 1};
    std::memcpy(p, macs, 12);
    put16(p + 12, type);
    return p + 14;
}

// Outer IPv4 header for `payload` bytes: the mirror source of the sender -> the collector.
std::uint8_t* outer_ipv4(std::uint8_t* p, std::uint8_t proto, std::uint32_t payload, bool client) {
    std::memset(p, 0, 20);
    p[0] = 0x45;
    put16(p + 2, 20 + payload);
    p[6] = 0x40;  // DF: mirror sessions do not fragment
    p[8] = 64;
    p[9] = proto;
    const std::uint8_t src[4] = {198, 18, 100, static_cast<std::uint8_t>(client ? 1 : 3)}, dst[4] = {198, 18, 100, 2};
    std::memcpy(p + 12, src, 4);
    std::memcpy(p + 16, dst, 4);
    std::uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) sum += get16(p + i);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    put16(p + 10, ~sum & 0xffff);
    return p + 20;
}

std::uint8_t* outer_ipv6(std::uint8_t* p, std::uint8_t next, std::uint32_t payload, bool client) {
    std::memset(p, 0, 40);
    p[0] = 0x60;
    put16(p + 4, payload);
    p[6] = next;
    p[7] = 64;
    const std::uint8_t src[16] = {0x20, 0x01, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, static_cast<std::uint8_t>(client ? 1 : 3)};
    std::uint8_t dst[16];
    std::memcpy(dst, src, 16);
    dst[15] = 2;
    std::memcpy(p + 8, src, 16);
    std::memcpy(p + 24, dst, 16);
    return p + 40;
}

// UDP with checksum 0 (RFC 768 for IPv4; VXLAN and Geneve senders commonly do so). The
// source port is a hash of the inner frame's addresses and ports, as RFC 7348 section 5
// asks for ECMP, so the two directions of a connection use different source ports.
std::uint8_t* outer_udp(std::uint8_t* p, const std::uint8_t* inner_ip, bool inner_v6, std::uint16_t dport, std::uint32_t payload) {
    const std::uint32_t addr_len = inner_v6 ? 32 : 8, addr_off = inner_v6 ? 8 : 12, l4_off = inner_v6 ? 40 : (inner_ip[0] & 0x0f) * 4u;
    std::uint64_t h = 0;
    for (std::uint32_t i = 0; i < addr_len; ++i) h = h * 131 + inner_ip[addr_off + i];
    for (std::uint32_t i = 0; i < 4; ++i) h = h * 131 + inner_ip[l4_off + i];
    put16(p, 49152 + static_cast<std::uint32_t>(mix(h) & 0x3fff));
    put16(p + 2, dport);
    put16(p + 4, 8 + payload);
    put16(p + 6, 0);
    return p + 8;
}

}  // namespace

bool parse_encap(std::string_view name, EncapKind& out) {
    static constexpr std::pair<std::string_view, EncapKind> kNames[] = {
        {"vxlan", EncapKind::kVxlan},     {"geneve", EncapKind::kGeneve},   {"geneve-ip", EncapKind::kGeneveIp},
        {"geneve-vxlan", EncapKind::kGeneveVxlan}, {"gre", EncapKind::kGre}, {"gre-eth", EncapKind::kGreEthernet},
        {"erspan2", EncapKind::kErspan2}, {"erspan3", EncapKind::kErspan3}, {"mpls", EncapKind::kMpls},
        {"mpls-pw", EncapKind::kMplsPw},  {"ipip", EncapKind::kIpip},       {"ip6", EncapKind::kIp6},
        {"pppoe", EncapKind::kPppoe},     {"vlan-vxlan", EncapKind::kVlanVxlan},
    };
    for (const auto& [n, k] : kNames) {
        if (n == name) {
            out = k;
            return true;
        }
    }
    return false;
}

std::uint32_t Encapsulator::wrap(const std::uint8_t* frame, std::uint32_t len, std::uint8_t* out) noexcept {
    const bool client = frame[11] == 0x01;  // frame_writer's client MAC sends the client's frames
    const bool inner_v6 = get16(frame + 12) == kIpv6;
    const std::uint8_t* ip = frame + 14;
    const std::uint32_t ip_len = len - 14;
    const std::uint8_t ip_proto = inner_v6 ? kProtoIpv6 : kProtoIpip;
    const std::uint16_t ip_type = inner_v6 ? kIpv6 : kIpv4;
    std::uint8_t* p = out;
    const auto copy = [&p](const std::uint8_t* from, std::uint32_t n) {
        std::memcpy(p, from, n);
        p += n;
    };
    switch (kind_) {
        case EncapKind::kNone:
            copy(frame, len);
            break;
        case EncapKind::kVxlan:
        case EncapKind::kVlanVxlan: {
            if (kind_ == EncapKind::kVlanVxlan) {
                p = outer_ethernet(p, kVlan);
                put16(p, 100);  // VLAN 100
                put16(p + 2, kIpv4);
                p += 4;
            } else {
                p = outer_ethernet(p, kIpv4);
            }
            p = outer_ipv4(p, kProtoUdp, 8 + 8 + len, client);
            p = outer_udp(p, ip, inner_v6, kVxlanPort, 8 + len);
            std::memset(p, 0, 8);
            p[0] = 0x08;  // I: the VNI is valid
            put32(p + 4, id_ << 8);
            p += 8;
            copy(frame, len);
            break;
        }
        case EncapKind::kGeneve:
        case EncapKind::kGeneveIp: {
            const bool ethernet = kind_ == EncapKind::kGeneve;
            const std::uint32_t inner = ethernet ? len : ip_len;
            p = outer_ethernet(p, kIpv4);
            p = outer_ipv4(p, kProtoUdp, 8 + 16 + inner, client);
            p = outer_udp(p, ip, inner_v6, kGenevePort, 16 + inner);
            p[0] = 2;  // version 0, two 4-byte words of options
            p[1] = 0;
            put16(p + 2, ethernet ? kTeb : ip_type);
            put32(p + 4, id_ << 8);
            // One option: class 0x0108, type 1, one word of data (an opaque flow cookie).
            put16(p + 8, 0x0108);
            p[10] = 1;
            p[11] = 1;
            put32(p + 12, 0xc0ffee00u | (seq_[client]++ & 0xff));
            p += 16;
            ethernet ? copy(frame, len) : copy(ip, ip_len);
            break;
        }
        case EncapKind::kGeneveVxlan: {
            // The VXLAN packet as a mirror target would receive it, then Geneve around its IP.
            std::uint8_t vx[kMaxFrame + kMaxEncapOverhead];
            Encapsulator inner(EncapKind::kVxlan, id_);
            const std::uint32_t vx_len = inner.wrap(frame, len, vx);
            const std::uint32_t vx_ip = vx_len - 14;
            p = outer_ethernet(p, kIpv4);
            p = outer_ipv4(p, kProtoUdp, 8 + 8 + vx_ip, client);
            p = outer_udp(p, ip, inner_v6, kGenevePort, 8 + vx_ip);
            p[0] = 0;
            p[1] = 0;
            put16(p + 2, kIpv4);
            put32(p + 4, (id_ + 1) << 8);
            p += 8;
            copy(vx + 14, vx_ip);
            break;
        }
        case EncapKind::kGre:
            p = outer_ethernet(p, kIpv4);
            p = outer_ipv4(p, kProtoGre, 8 + ip_len, client);
            p[0] = 0x20;  // K
            p[1] = 0;
            put16(p + 2, ip_type);
            put32(p + 4, id_);
            p += 8;
            copy(ip, ip_len);
            break;
        case EncapKind::kGreEthernet:
            p = outer_ethernet(p, kIpv4);
            p = outer_ipv4(p, kProtoGre, 12 + len, client);
            p[0] = 0x30;  // K, S
            p[1] = 0;
            put16(p + 2, kTeb);
            put32(p + 4, id_);
            put32(p + 8, ++seq_[client]);
            p += 12;
            copy(frame, len);
            break;
        case EncapKind::kErspan2:
            p = outer_ethernet(p, kIpv4);
            p = outer_ipv4(p, kProtoGre, 8 + 8 + len, client);
            p[0] = 0x10;  // S
            p[1] = 0;
            put16(p + 2, kErspan2);
            put32(p + 4, ++seq_[client]);
            p += 8;
            // Version 1, VLAN 0, COS 0, En 0 (untagged), T 0, session; reserved, index 0.
            put16(p, 0x1000);
            put16(p + 2, id_ & 0x3ff);
            put32(p + 4, 0);
            p += 8;
            copy(frame, len);
            break;
        case EncapKind::kErspan3:
            p = outer_ethernet(p, kIpv4);
            p = outer_ipv4(p, kProtoGre, 8 + 20 + len, client);
            p[0] = 0x10;
            p[1] = 0;
            put16(p + 2, kErspan3);
            put32(p + 4, ++seq_[client]);
            p += 8;
            // Version 2, VLAN 0, COS 0, BSO 0, T 0, session; timestamp; SGT 0, P 0, FT 0
            // (Ethernet), hardware ID 1, D 0, granularity 3, O 1; then the platform subheader.
            put16(p, 0x2000);
            put16(p + 2, id_ & 0x3ff);
            put32(p + 4, seq_[client] * 1000);
            put16(p + 8, 0);
            put16(p + 10, (1u << 4) | (3u << 1) | 1u);
            put32(p + 12, 0x0c000000);  // platform ID 3
            put32(p + 16, 0);
            p += 20;
            copy(frame, len);
            break;
        case EncapKind::kMpls:
            p = outer_ethernet(p, kMpls);
            put32(p, (16000u << 12) | 64u);                 // transport label, not bottom
            put32(p + 4, ((id_ & 0xfffff) << 12) | 0x100u | 64u);  // service label, bottom of stack
            p += 8;
            copy(ip, ip_len);
            break;
        case EncapKind::kMplsPw:
            p = outer_ethernet(p, kMpls);
            put32(p, ((id_ & 0xfffff) << 12) | 0x100u | 64u);
            put32(p + 4, 0);  // control word (RFC 4385): first nibble 0
            p += 8;
            copy(frame, len);
            break;
        case EncapKind::kIpip:
            p = outer_ethernet(p, kIpv4);
            p = outer_ipv4(p, ip_proto, ip_len, client);
            copy(ip, ip_len);
            break;
        case EncapKind::kIp6:
            p = outer_ethernet(p, kIpv6);
            p = outer_ipv6(p, ip_proto, ip_len, client);
            copy(ip, ip_len);
            break;
        case EncapKind::kPppoe:
            p = outer_ethernet(p, kPppoe);
            p[0] = 0x11;
            p[1] = 0;
            put16(p + 2, id_ & 0xffff);
            put16(p + 4, 2 + ip_len);
            put16(p + 6, inner_v6 ? 0x0057 : 0x0021);
            p += 8;
            copy(ip, ip_len);
            break;
    }
    return static_cast<std::uint32_t>(p - out);
}

}  // namespace tcpsleuth::gen
