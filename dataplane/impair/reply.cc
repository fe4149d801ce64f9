#include "dataplane/impair/reply.h"

#include <algorithm>
#include <cstring>

#include "dataplane/impair/checksum.h"

namespace tcpsleuth {
namespace {

constexpr std::uint32_t kMaxLinkHeader = 64;
constexpr std::uint8_t kProtoTcp = 6, kProtoIcmp = 1, kProtoIcmpv6 = 58;

using checksum::store_be16;
using checksum::store_be32;

// The link header of `frame`, turned around when the reply goes back to the sender (the
// device is a bump in the wire: it answers with the far end's MAC, as a router answers
// with its own on that segment).
std::uint8_t* link_header(const std::uint8_t* frame, const PacketView& v, bool back, std::uint8_t* out) noexcept {
    std::memcpy(out, frame, v.l3_offset);
    if (back) {
        std::memcpy(out, frame + 6, 6);
        std::memcpy(out + 6, frame, 6);
    }
    return out + v.l3_offset;
}

// An IP header for `payload` bytes of protocol `proto` from `src` to `dst`; returns where
// the payload goes.
std::uint8_t* ip_header(std::uint8_t* ip, bool v4, const std::array<std::uint8_t, 16>& src,
                        const std::array<std::uint8_t, 16>& dst, std::uint8_t proto, std::uint32_t payload, std::uint8_t ttl,
                        std::uint16_t ip_id) noexcept {
    if (v4) {
        std::memset(ip, 0, 20);
        ip[0] = 0x45;
        store_be16(ip + 2, 20 + payload);
        store_be16(ip + 4, ip_id);
        store_be16(ip + 6, 0x4000);  // DF, as the stacks send
        ip[8] = ttl;
        ip[9] = proto;
        std::memcpy(ip + 12, &src[12], 4);
        std::memcpy(ip + 16, &dst[12], 4);
        store_be16(ip + 10, checksum::finish(checksum::add(ip, 20)));
        return ip + 20;
    }
    store_be32(ip, 6u << 28);
    store_be16(ip + 4, payload);
    ip[6] = proto;
    ip[7] = ttl;
    std::memcpy(ip + 8, src.data(), 16);
    std::memcpy(ip + 24, dst.data(), 16);
    return ip + 40;
}

}  // namespace

std::uint32_t make_rst(const std::uint8_t* frame, const PacketView& v, bool to_sender, std::uint8_t ttl,
                       std::uint16_t ip_id, std::uint8_t* out) noexcept {
    if (v.l3_offset > kMaxLinkHeader) return 0;
    const bool v4 = v.is_ipv4();
    std::uint8_t* ip = link_header(frame, v, to_sender, out);
    std::uint8_t* tcp = ip_header(ip, v4, to_sender ? v.dst : v.src, to_sender ? v.src : v.dst, kProtoTcp, 20, ttl, ip_id);
    std::memset(tcp, 0, 20);
    const TcpHeader& t = v.tcp;
    std::uint32_t seq = t.seq, ack = t.ack;
    std::uint8_t flags = kRst;
    if (to_sender) {
        store_be16(tcp, t.dst_port);
        store_be16(tcp + 2, t.src_port);
        if (v.has_flag(kAck)) {
            seq = t.ack;
            ack = 0;
        } else {
            seq = 0;
            ack = t.seq + v.payload_len + (v.has_flag(kSyn) ? 1 : 0) + (v.has_flag(kFin) ? 1 : 0);
            flags |= kAck;
        }
    } else {
        store_be16(tcp, t.src_port);
        store_be16(tcp + 2, t.dst_port);
        if (v.has_flag(kAck)) flags |= kAck;
        else ack = 0;
    }
    store_be32(tcp + 4, seq);
    store_be32(tcp + 8, ack);
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    store_be16(tcp + 16, checksum::finish(checksum::add(tcp, 20, checksum::pseudo_header(ip, v4, kProtoTcp, 20))));
    return static_cast<std::uint32_t>(tcp + 20 - out);
}

std::uint32_t make_too_big(const std::uint8_t* frame, std::uint32_t len, const PacketView& v, std::uint32_t mtu,
                           const std::array<std::uint8_t, 16>* source, std::uint8_t ttl, std::uint16_t ip_id,
                           std::uint8_t* out) noexcept {
    if (v.l3_offset > kMaxLinkHeader || len <= v.l3_offset) return 0;
    const bool v4 = v.is_ipv4();
    const std::uint32_t room = v4 ? 576 - 20 - 8 : 1280 - 40 - 8;
    const std::uint32_t quoted = std::min({v.ip_len, len - v.l3_offset, room});
    const std::array<std::uint8_t, 16>& from = source != nullptr ? *source : v.dst;
    std::uint8_t* ip = link_header(frame, v, true, out);
    std::uint8_t* icmp = ip_header(ip, v4, from, v.src, v4 ? kProtoIcmp : kProtoIcmpv6, 8 + quoted, ttl, ip_id);
    std::memset(icmp, 0, 8);
    if (v4) {
        icmp[0] = 3;  // destination unreachable
        icmp[1] = 4;  // fragmentation needed and DF set
        store_be16(icmp + 6, mtu);
    } else {
        icmp[0] = 2;  // packet too big
        store_be32(icmp + 4, mtu);
    }
    std::memcpy(icmp + 8, frame + v.l3_offset, quoted);
    const std::uint32_t sum = v4 ? 0 : checksum::pseudo_header(ip, false, kProtoIcmpv6, 8 + quoted);
    store_be16(icmp + 2, checksum::finish(checksum::add(icmp, 8 + quoted, sum)));
    return static_cast<std::uint32_t>(icmp + 8 + quoted - out);
}

}  // namespace tcpsleuth
