#pragma once
// Encapsulations the parser looks through to reach the inner TCP segment: cloud mirrors
// (VXLAN, Geneve), switch mirrors (ERSPAN over GRE), overlays and tunnels (GRE, IP-in-IP,
// 6in4), carrier links (MPLS, PPPoE). What to decode is configuration (`[decap]`).

#include <array>
#include <cstdint>
#include <string_view>

namespace tcpsleuth {

enum class TunnelType : std::uint8_t {
    kNone = 0,
    kVxlan,    // RFC 7348, UDP 4789
    kGeneve,   // RFC 8926, UDP 6081
    kGre,      // RFC 2784 / 2890 (keys and sequence numbers), IPv4/IPv6/Ethernet (0x6558) inside
    kErspan,   // Cisco ERSPAN type I/II (GRE 0x88BE) and III (GRE 0x22EB)
    kMpls,     // RFC 3032 label stack; pseudowire control word (RFC 4385)
    kIpInIp,   // IPv4/IPv6 inside IPv4/IPv6 (RFC 2003, RFC 4213 6in4, RFC 2473)
    kPppoe,    // RFC 2516 session stage
};
inline constexpr std::size_t kTunnelTypeCount = 8;

constexpr std::string_view to_string(TunnelType t) noexcept {
    switch (t) {
        case TunnelType::kNone: return "none";
        case TunnelType::kVxlan: return "vxlan";
        case TunnelType::kGeneve: return "geneve";
        case TunnelType::kGre: return "gre";
        case TunnelType::kErspan: return "erspan";
        case TunnelType::kMpls: return "mpls";
        case TunnelType::kIpInIp: return "ip_in_ip";
        case TunnelType::kPppoe: return "pppoe";
    }
    return "?";
}

// Does the tunnel's identifier name one virtual network both directions share? A VNI, a GRE
// key, an ERSPAN session and a PPPoE session do; an MPLS label is chosen per hop and per
// direction (and often popped one hop early, RFC 3031 3.16), so keying on it would split a
// connection's two directions.
constexpr bool id_names_a_segment(TunnelType t) noexcept {
    return t == TunnelType::kVxlan || t == TunnelType::kGeneve || t == TunnelType::kGre ||
           t == TunnelType::kErspan || t == TunnelType::kPppoe;
}

struct DecapConfig {
    bool vxlan = true;
    bool geneve = true;
    bool gre = true;
    bool erspan = true;
    bool mpls = true;
    bool ip_in_ip = true;
    bool pppoe = true;
    // The tunnel's identity (type and VNI / GRE key / ERSPAN session / PPPoE session) is part
    // of the flow key: tenants with overlapping address plans never merge.
    bool tunnel_in_key = true;
    // Copies of one packet closer than this are one packet seen twice (both ends of a
    // conversation mirrored): counted, not inspected (inspectors/flow/duplicate_filter.h).
    // 0 turns the check off.
    std::uint32_t duplicate_window_us = 500;
    // Encapsulations peeled per frame; one more is counted (decap.too_deep), never followed.
    std::uint8_t max_depth = 4;
    static constexpr std::size_t kMaxPorts = 8;
    // UDP destination ports decoded as VXLAN / Geneve; 0 ends the list.
    std::array<std::uint16_t, kMaxPorts> vxlan_ports{4789};
    std::array<std::uint16_t, kMaxPorts> geneve_ports{6081};

    bool operator==(const DecapConfig&) const = default;
};

inline const DecapConfig kDefaultDecap{};

// The tunnel a flow's first packet came through, as events and `flows` show it.
struct TunnelInfo {
    std::array<std::uint8_t, 16> outer_src{};  // IPv4 v4-mapped; zero when no IP carried it
    std::array<std::uint8_t, 16> outer_dst{};
    std::uint32_t id = 0;
    std::uint16_t overhead = 0;                // bytes the encapsulation adds before the inner IP
    TunnelType type = TunnelType::kNone;
    std::uint8_t outer_ip_version = 0;

    bool operator==(const TunnelInfo&) const = default;
};
static_assert(sizeof(TunnelInfo) == 40);

}  // namespace tcpsleuth
