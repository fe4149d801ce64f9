#pragma once
// parse_packet(): one pass over a frame into a PacketView. Every outcome has a status and
// every status has a counter (see inspectors/flow/counters.h); nothing here reads past `len`.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "packet_view.h"

namespace tcpsleuth {

enum class ParseStatus : std::uint8_t {
    kOk,              // a TCP segment, fully decoded
    kIcmpQuote,       // an ICMP error quoting a TCP segment (frag-needed, PTB, unreachable)
    kTruncated,       // the capture ends inside a header we need
    kNotIp,           // ARP, LLDP, ...: not our business, not an error
    kBadL2,           // malformed link-layer header (SLL with bad length, ...)
    kBadIpHeader,     // version/IHL/length fields inconsistent
    kBadIpLength,     // IP total length beyond the tunnel packet that carries it
    kBadIpv6Ext,      // IPv6 extension header chain malformed
    kFragment,        // a non-first fragment: no TCP header in it
    kNotTcp,          // UDP, ICMP that is not a quoted TCP error, ...
    kBadTcpHeader,    // data offset < 5 or beyond the IP payload
    kBadTcpOption,    // option length 0/1 or running past the header
    kBadIcmp,         // ICMP error too short to quote IP + 8 bytes of TCP
    kBadTunnel,       // a tunnel or mirror header malformed (PacketView::encap_failed says which)
    kTooDeep,         // encapsulations nested deeper than decap.max_depth
};

inline constexpr std::size_t kParseStatusCount = static_cast<std::size_t>(ParseStatus::kTooDeep) + 1;

std::string_view to_string(ParseStatus s) noexcept;

// `v.ts_ns`, `v.number` and `v.wire_len` are the caller's; everything else is (re)set here.
// A frame shorter than its IP total length is a truncated copy (v.truncated_copy), not an
// error: its headers are decoded and the sizes come from the IP header.
ParseStatus parse_packet(const std::uint8_t* data, std::uint32_t cap_len, LinkType link, PacketView& v,
                         const DecapConfig& decap = kDefaultDecap) noexcept;

}  // namespace tcpsleuth
