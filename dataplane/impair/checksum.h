#pragma once
// The Internet checksum as the impairer needs it: big-endian stores beside byte_order.h's
// loads, the one's complement sum of RFC 1071, and the TCP/ICMPv6 pseudo-header's share
// (RFC 9293 section 3.1; RFC 8200 section 8.1). Shared by the rewrites (impairer.cc) and
// the packets the device makes (reply.cc).

#include <cstddef>
#include <cstdint>

#include "dataplane/packet/byte_order.h"

namespace tcpsleuth::checksum {

inline void store_be16(std::uint8_t* p, std::uint32_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
inline void store_be32(std::uint8_t* p, std::uint32_t v) noexcept {
    store_be16(p, v >> 16);
    store_be16(p + 2, v);
}

// The one's complement sum of `n` bytes added to `sum`, an odd last byte padded with zero.
inline std::uint32_t add(const std::uint8_t* p, std::size_t n, std::uint32_t sum = 0) noexcept {
    for (; n >= 2; p += 2, n -= 2) sum += load_be16(p);
    if (n == 1) sum += std::uint32_t{p[0]} << 8;
    return sum;
}

// The sum folded to 16 bits and complemented: the value the checksum field takes.
inline std::uint16_t finish(std::uint32_t sum) noexcept {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

// The pseudo-header's sum for `length` bytes of protocol `proto` under the IP header `ip`.
inline std::uint32_t pseudo_header(const std::uint8_t* ip, bool v4, std::uint8_t proto, std::uint32_t length) noexcept {
    const std::uint32_t addresses = v4 ? add(ip + 12, 8) : add(ip + 8, 32);
    return addresses + proto + (length >> 16) + (length & 0xffff);
}

}  // namespace tcpsleuth::checksum
