#pragma once
// PacketView: what one parse of a frame yields. Offsets and decoded header fields in host
// order; no packet bytes are copied except the two addresses (which become the flow key).

#include <array>
#include <cstdint>

#include "decap.h"
#include "tcp_options.h"

namespace tcpsleuth {

// TCP flags, all eight bits: ECE and CWR matter (RFC 3168 section 6.1).
enum TcpFlag : std::uint8_t {
    kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08,
    kAck = 0x10, kUrg = 0x20, kEce = 0x40, kCwr = 0x80,
};

// Link types we decode (pcap LINKTYPE_ values; DPDK ports are always Ethernet).
enum class LinkType : std::uint16_t {
    kEthernet = 1,
    kRaw = 101,      // LINKTYPE_RAW: starts at the IP header
    kLinuxSll = 113,
    kIpv4 = 228,
    kIpv6 = 229,
    kLinuxSll2 = 276,
    kNull = 0,       // BSD loopback: 4-byte host-order family
};

enum class L4 : std::uint8_t { kNone, kTcp, kIcmp };

// ECN codepoint in the IP header (RFC 3168 section 5).
enum Ecn : std::uint8_t { kNotEct = 0, kEct1 = 1, kEct0 = 2, kCe = 3 };

struct TcpHeader {
    std::uint16_t src_port = 0;
    std::uint16_t dst_port = 0;
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::uint8_t header_len = 0;
    std::uint8_t flags = 0;
    std::uint16_t window = 0;
    std::uint16_t urgent = 0;
    std::uint16_t checksum = 0;  // not verified (offloads leave it wrong); it tells copies apart
};

// An ICMP error that quotes a TCP segment: destination unreachable / packet too big.
struct IcmpQuote {
    std::uint8_t type = 0;
    std::uint8_t code = 0;
    bool frag_needed = false;  // ICMPv4 3/4 or ICMPv6 type 2
    std::uint32_t mtu = 0;     // next-hop MTU (RFC 1191 section 4) or PTB MTU (RFC 4443 3.2)
    // The quoted packet, as the host that sent it addressed it.
    std::array<std::uint8_t, 16> src{};
    std::array<std::uint8_t, 16> dst{};
    std::uint16_t src_port = 0;
    std::uint16_t dst_port = 0;
    std::uint32_t seq = 0;
    std::uint16_t quoted_total_len = 0;  // the quoted IP's own total length
    std::uint8_t ip_version = 0;         // of the quoted packet
    bool has_tcp = false;
};

struct PacketView {
    // Filled by the caller (reader or RX loop).
    std::uint64_t ts_ns = 0;
    std::uint64_t number = 0;    // 1-based frame number within the input, as Wireshark counts
    std::uint32_t wire_len = 0;  // original frame length
    std::uint32_t cap_len = 0;   // bytes actually present

    // Link layer
    std::uint16_t vlan = 0;        // innermost VLAN id (12 bits), 0 if untagged
    std::uint8_t vlan_depth = 0;   // 802.1Q / 802.1ad tags seen
    std::uint16_t l3_offset = 0;

    // Encapsulation (decap.h): what was peeled to reach the segment below. The tunnel named
    // is the innermost one whose identifier names a virtual network (VNI, GRE key, ERSPAN or
    // PPPoE session), else the innermost of any kind.
    std::uint8_t encap_depth = 0;                // encapsulations peeled
    std::uint8_t encap_seen = 0;                 // bit (1 << TunnelType) per kind met
    TunnelType encap_failed = TunnelType::kNone; // the layer a kBadTunnel / kTooDeep stopped in
    TunnelType tunnel = TunnelType::kNone;
    bool tunnel_names_segment = false;           // id_names_a_segment(tunnel)
    bool tunnel_seq_valid = false;               // GRE sequence number present (RFC 2890)
    TunnelType tunnel_seq_type = TunnelType::kNone;  // the layer that carried it: GRE or ERSPAN
    std::uint32_t tunnel_id = 0;                 // VNI, GRE key, ERSPAN session, label, PPPoE session
    std::uint32_t tunnel_seq = 0;
    std::uint32_t tunnel_seq_id = 0;             // that layer's GRE key / ERSPAN session
    std::uint16_t encap_overhead = 0;            // bytes from the first network header to the inner IP
    std::uint8_t outer_ip_version = 0;           // of the IP header that carried `tunnel`; 0 none (MPLS, PPPoE)
    std::array<std::uint8_t, 16> outer_src{};
    std::array<std::uint8_t, 16> outer_dst{};
    // The frame ends before its IP total length: a snap length or a truncating mirror (AWS
    // Traffic Mirroring's packet length, ERSPAN's T bit). Headers count; sizes come from IP.
    bool truncated_copy = false;

    // Network layer. IPv4 addresses are stored v4-mapped (::ffff:a.b.c.d).
    std::uint8_t ip_version = 0;
    std::uint8_t ttl = 0;          // hop limit for IPv6
    std::uint8_t ecn = 0;          // Ecn codepoint
    std::uint8_t dscp = 0;
    std::uint16_t ip_id = 0;       // IPv4 only
    bool df = false;               // IPv4 don't-fragment
    bool fragment = false;         // first fragment of a fragmented datagram (TCP parsed)
    std::uint32_t ip_len = 0;      // from the IP header, never the capture (captures get cut)
    std::array<std::uint8_t, 16> src{};
    std::array<std::uint8_t, 16> dst{};

    // Transport
    L4 l4 = L4::kNone;
    std::uint16_t l4_offset = 0;
    std::uint32_t payload_len = 0;  // TCP payload from ip_len; may exceed what was captured
    TcpHeader tcp;
    TcpOptions opts;
    IcmpQuote icmp;

    bool is_tcp() const noexcept { return l4 == L4::kTcp; }
    bool has_flag(std::uint8_t f) const noexcept { return (tcp.flags & f) != 0; }
    bool is_ipv4() const noexcept { return ip_version == 4; }
};

}  // namespace tcpsleuth
