#pragma once
// Canonical flow key: the lower (address, port) endpoint first, so both directions of a
// connection produce the same bytes and land in one table entry. The key is padding-free
// (checked below), so it can be hashed and compared as bytes.

#include <array>
#include <cstdint>
#include <cstring>
#include <type_traits>

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
    friend bool operator==(const FlowKey&, const FlowKey&) = default;
};
static_assert(sizeof(FlowKey) == 40);
static_assert(std::has_unique_object_representations_v<FlowKey>);

// Builds the canonical key for a segment from `src:sport` to `dst:dport` and says which way
// it travels.
inline FlowKey make_flow_key(const std::array<std::uint8_t, 16>& src, std::uint16_t sport,
                             const std::array<std::uint8_t, 16>& dst, std::uint16_t dport,
                             std::uint16_t vlan, std::uint8_t ip_version, Dir& dir) noexcept {
    FlowKey k;
    const int c = std::memcmp(src.data(), dst.data(), 16);
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
    return k;
}

inline FlowKey make_flow_key(const PacketView& p, Dir& dir) noexcept {
    return make_flow_key(p.src, p.tcp.src_port, p.dst, p.tcp.dst_port, p.vlan, p.ip_version, dir);
}

// The flow an ICMP error is about: the quoted segment's own addresses and ports.
inline FlowKey make_quoted_flow_key(const PacketView& p, Dir& dir) noexcept {
    return make_flow_key(p.icmp.src, p.icmp.src_port, p.icmp.dst, p.icmp.dst_port, p.vlan,
                         p.icmp.ip_version, dir);
}

}  // namespace tcpsleuth
