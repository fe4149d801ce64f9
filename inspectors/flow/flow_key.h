#pragma once
// Canonical flow key: the lower (address, port) endpoint first, so both directions of a
// connection produce the same bytes and land in one table entry. The key is padding-free
// (checked below), so it can be hashed and compared as bytes.

#include <array>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "dataplane/packet/byte_order.h"
#include "dataplane/packet/packet_view.h"

namespace tcpsleuth {

// Which way a packet travels relative to the canonical key.
enum class Dir : std::uint8_t { kLoToHi = 0, kHiToLo = 1 };

constexpr Dir reverse(Dir d) noexcept { return d == Dir::kLoToHi ? Dir::kHiToLo : Dir::kLoToHi; }
constexpr unsigned index(Dir d) noexcept { return static_cast<unsigned>(d); }

struct FlowKey {
    std::array<std::uint8_t, 16> addr_lo{};  // IPv4 stored v4-mapped
    std::array<std::uint8_t, 16> addr_hi{};
    std::uint16_t port_lo = 0;
    std::uint16_t port_hi = 0;
    std::uint16_t vlan = 0;                  // the segment is part of identity: overlapping
    std::uint8_t proto = 0;                  //   address plans on two VLANs are two flows
    std::uint8_t ip_version = 0;
    // The tunnel whose identifier names the virtual network (decap.h id_names_a_segment):
    // two tenants' 10.0.0.1:80 behind two VNIs are two flows. Zero with decap.tunnel_in_key
    // off, and for tunnels whose identifier differs per direction (MPLS).
    std::uint32_t tunnel_id = 0;
    TunnelType tunnel_type = TunnelType::kNone;
    std::uint8_t reserved[3] = {};

    // Six 8-byte words compared at once: no memcmp call on the lookup path.
    friend bool operator==(const FlowKey& a, const FlowKey& b) noexcept {
        std::uint64_t x[6], y[6];
        std::memcpy(x, &a, sizeof x);
        std::memcpy(y, &b, sizeof y);
        return ((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4]) | (x[5] ^ y[5])) == 0;
    }
};
static_assert(sizeof(FlowKey) == 48);
static_assert(std::has_unique_object_representations_v<FlowKey>);

// Address order as memcmp would give it, from two big-endian 8-byte loads.
inline int compare_addr(const std::array<std::uint8_t, 16>& a, const std::array<std::uint8_t, 16>& b) noexcept {
    const std::uint64_t a0 = load_be64(a.data()), b0 = load_be64(b.data());
    if (a0 != b0) return a0 < b0 ? -1 : 1;
    const std::uint64_t a1 = load_be64(a.data() + 8), b1 = load_be64(b.data() + 8);
    return a1 < b1 ? -1 : (a1 > b1 ? 1 : 0);
}

// Builds the canonical key for a segment from `src:sport` to `dst:dport` and says which way
// it travels.
inline FlowKey make_flow_key(const std::array<std::uint8_t, 16>& src, std::uint16_t sport,
                             const std::array<std::uint8_t, 16>& dst, std::uint16_t dport,
                             std::uint16_t vlan, std::uint8_t ip_version, Dir& dir,
                             TunnelType tunnel_type = TunnelType::kNone, std::uint32_t tunnel_id = 0) noexcept {
    FlowKey k;
    const int c = compare_addr(src, dst);
    const bool src_is_lo = c < 0 || (c == 0 && sport <= dport);
    if (src_is_lo) {
        k.addr_lo = src; k.port_lo = sport;
        k.addr_hi = dst; k.port_hi = dport;
        dir = Dir::kLoToHi;
    } else {
        k.addr_lo = dst; k.port_lo = dport;
        k.addr_hi = src; k.port_hi = sport;
        dir = Dir::kHiToLo;
    }
    k.vlan = vlan;
    k.proto = 6;
    k.ip_version = ip_version;
    k.tunnel_type = tunnel_type;
    k.tunnel_id = tunnel_id;
    return k;
}

// The segment part of a packet's key: its tunnel when that names a virtual network.
inline TunnelType key_tunnel(const PacketView& p, bool tunnel_in_key) noexcept {
    return tunnel_in_key && p.tunnel_names_segment ? p.tunnel : TunnelType::kNone;
}

inline FlowKey make_flow_key(const PacketView& p, Dir& dir, bool tunnel_in_key = true) noexcept {
    const TunnelType t = key_tunnel(p, tunnel_in_key);
    return make_flow_key(p.src, p.tcp.src_port, p.dst, p.tcp.dst_port, p.vlan, p.ip_version, dir, t,
                         t != TunnelType::kNone ? p.tunnel_id : 0);
}

// The flow an ICMP error is about: the quoted segment's own addresses and ports, in the
// tunnel the error came through (an error inside an overlay is about the overlay's flow).
inline FlowKey make_quoted_flow_key(const PacketView& p, Dir& dir, bool tunnel_in_key = true) noexcept {
    const TunnelType t = key_tunnel(p, tunnel_in_key);
    return make_flow_key(p.icmp.src, p.icmp.src_port, p.icmp.dst, p.icmp.dst_port, p.vlan, p.icmp.ip_version, dir, t,
                         t != TunnelType::kNone ? p.tunnel_id : 0);
}

// 64-bit mix (the finaliser of splitmix64 / Stafford's variant 13): every input bit
// affects every output bit, so the low bits used for a slot are as good as the high ones.
constexpr std::uint64_t mix64(std::uint64_t x) noexcept {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

// The software distributor's choice of worker. The key is already the same for both
// directions, so any hash of it is symmetric; unseeded, so every core computes the same.
// Never 0 (0 means "not steered").
inline std::uint32_t steer_hash(const FlowKey& key) noexcept {
    std::uint64_t w[sizeof(FlowKey) / 8];
    static_assert(sizeof(w) == sizeof(FlowKey));
    std::memcpy(w, &key, sizeof w);
    std::uint64_t h = 0x243f6a8885a308d3ull;
    for (std::uint64_t x : w) h = mix64(h ^ x);
    const auto s = static_cast<std::uint32_t>(h >> 32);
    return s == 0 ? 1 : s;
}

}  // namespace tcpsleuth
