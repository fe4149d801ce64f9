#pragma once
// What an impairing device sends on its own: a RST that cuts a flow, or the ICMP error a
// router sends for a packet too big for its next hop. Built from the parsed packet that
// provoked it, as a whole Ethernet frame with every checksum right. No DPDK, no allocation:
// the caller gives the buffer.

#include <array>
#include <cstdint>

#include "dataplane/packet/packet_view.h"

namespace tcpsleuth {

// Room for the largest reply: a link header, IPv6 and ICMPv6 headers and the 1232 quoted
// bytes that keep a packet-too-big within the IPv6 minimum MTU (RFC 4443 section 2.4 (c)).
inline constexpr std::uint32_t kReplyCap = 64 + 1280;

// A RST about segment `v` of `frame`. To its sender (`to_sender`): from the receiver's
// address, with the sequence number that sender expects (RFC 9293 section 3.10.7.1: SEG.ACK
// if the segment acknowledges, else zero with ACK = SEG.SEQ + SEG.LEN). On to its receiver:
// from the sender's address at the segment's own sequence number, which the receiver expects
// next. Linux (RFC 5961 section 3) accepts a RST only at exactly that number.
// Returns the frame's length; 0 when it cannot be made (a link header over 64 bytes).
std::uint32_t make_rst(const std::uint8_t* frame, const PacketView& v, bool to_sender, std::uint8_t ttl,
                       std::uint16_t ip_id, std::uint8_t* out) noexcept;

// ICMP "fragmentation needed" (RFC 792, next-hop MTU per RFC 1191 section 4) or ICMPv6
// "packet too big" (RFC 4443 section 3.2) to the sender of the `len`-byte `frame`, quoting
// as much of it as RFC 1812 section 4.3.2.3 (576 bytes in all) or RFC 4443 allows. From
// `source` when it is of the packet's family (v4-mapped for IPv4), else from the packet's
// destination.
std::uint32_t make_too_big(const std::uint8_t* frame, std::uint32_t len, const PacketView& v, std::uint32_t mtu,
                           const std::array<std::uint8_t, 16>* source, std::uint8_t ttl, std::uint16_t ip_id,
                           std::uint8_t* out) noexcept;

}  // namespace tcpsleuth
