#pragma once
// Frames and checks shared by the [[impair]] tests. Checksums are computed here from
// scratch (RFC 1071 over the IPv4 header; over the pseudo-header and segment), never by
// the code under test.

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "dataplane/impair/impairer.h"
#include "dataplane/packet/parse.h"
#include "tests/support/frame_builder.h"

namespace tcpsleuth::impair_test {

using test::FrameBuilder;
using Bytes = std::vector<std::uint8_t>;

inline std::uint32_t sum16(const std::uint8_t* p, std::size_t n, std::uint32_t s = 0) {
    for (std::size_t i = 0; i + 1 < n; i += 2) s += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
    if (n % 2) s += static_cast<std::uint32_t>(p[n - 1] << 8);
    return s;
}
inline std::uint16_t folded(std::uint32_t s) {
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return static_cast<std::uint16_t>(s);
}

// The frame's TCP checksum set right (the builder leaves it zero).
inline void set_tcp_checksum(Bytes& f) {
    PacketView v;
    ASSERT_EQ(parse_packet(f.data(), static_cast<std::uint32_t>(f.size()), LinkType::kEthernet, v), ParseStatus::kOk);
    std::uint8_t* ip = f.data() + v.l3_offset;
    std::uint8_t* tcp = f.data() + v.l4_offset;
    const std::uint32_t seg = v.tcp.header_len + v.payload_len;
    std::uint32_t s = v.is_ipv4() ? sum16(ip + 12, 8) : sum16(ip + 8, 32);
    s += 6 + seg;
    tcp[16] = tcp[17] = 0;
    const std::uint16_t c = static_cast<std::uint16_t>(~folded(sum16(tcp, seg, s)));
    tcp[16] = static_cast<std::uint8_t>(c >> 8);
    tcp[17] = static_cast<std::uint8_t>(c);
}

// Both checksums verify: the one's complement sum over each covered range is 0xffff.
inline void expect_checksums(const Bytes& f, std::uint32_t len) {
    PacketView v;
    ASSERT_EQ(parse_packet(f.data(), len, LinkType::kEthernet, v), ParseStatus::kOk);
    const std::uint8_t* ip = f.data() + v.l3_offset;
    if (v.is_ipv4()) {
        EXPECT_EQ(folded(sum16(ip, 20)), 0xffff) << "IPv4 header checksum";
    }
    const std::uint32_t seg = v.tcp.header_len + v.payload_len;
    ASSERT_LE(v.l4_offset + seg, len);
    std::uint32_t s = v.is_ipv4() ? sum16(ip + 12, 8) : sum16(ip + 8, 32);
    s += 6 + seg;
    EXPECT_EQ(folded(sum16(f.data() + v.l4_offset, seg, s)), 0xffff) << "TCP checksum";
}

inline PacketView parsed(const Bytes& f, std::uint32_t len) {
    PacketView v;
    EXPECT_EQ(parse_packet(f.data(), len, LinkType::kEthernet, v), ParseStatus::kOk);
    return v;
}

inline FrameBuilder linux_syn(bool v6 = false) {
    FrameBuilder b;
    v6 ? b.ipv6("2001:2:1::2", "2001:2:2::2") : b.ipv4("198.18.1.2", "198.18.2.2");
    b.tcp(40000, 443).seq(1000).flags(kSyn).window(64240).mss(1460).sack_perm().timestamps(7, 0).nop().wscale(7);
    return b;
}
inline FrameBuilder synack(bool v6 = false) {
    FrameBuilder b;
    v6 ? b.ipv6("2001:2:2::2", "2001:2:1::2") : b.ipv4("198.18.2.2", "198.18.1.2");
    b.tcp(443, 40000).seq(9000).ack(1001).flags(kSyn | kAck).window(65160).mss(1460).sack_perm().timestamps(9, 7).nop().wscale(7);
    return b;
}

inline ImpairRule rule(ImpairAction a) {
    ImpairRule r;
    r.name = to_string(a);  // (a literal here trips GCC 12 -O3 -Wrestrict)
    r.action = a;
    return r;
}

struct Applied {
    Bytes frame;
    std::uint32_t len = 0;
    ImpairVerdict verdict = ImpairVerdict::kPass;
};

inline Applied apply(Impairer& imp, FrameBuilder b) {
    Applied out{b.build()};
    set_tcp_checksum(out.frame);
    out.len = static_cast<std::uint32_t>(out.frame.size());
    out.verdict = imp.apply(out.frame.data(), out.len);
    return out;
}

}  // namespace tcpsleuth::impair_test
