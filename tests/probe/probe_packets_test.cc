// tcpsleuth probe's bytes: the SYN it sends (Linux's option layout, a valid checksum) and the
// ICMP errors it reads (what each quote shows of our packet), on crafted packets.

#include <gtest/gtest.h>

#include <span>
#include <vector>

#include "dataplane/packet/packet_view.h"
#include "dataplane/probe/probe_packets.h"

namespace tcpsleuth::probe {
namespace {

// (push_back one by one: GCC 12 warns falsely on inserting a braced list, -Warray-bounds.)
void append(std::vector<std::uint8_t>& v, std::initializer_list<std::uint8_t> bytes) {
    for (const std::uint8_t b : bytes) v.push_back(b);
}

Address v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) { return Address{a, b, c, d}; }
Address v6(std::uint8_t last) {
    Address a{0x20, 0x01, 0x00, 0x02};
    a[15] = last;
    return a;
}

Segment our_syn(bool six) {
    Segment s;
    s.v6 = six;
    s.src = six ? v6(2) : v4(198, 18, 1, 2);
    s.dst = six ? v6(9) : v4(198, 18, 2, 2);
    s.sport = 50000;
    s.dport = 443;
    s.seq = 0x01020304;
    s.flags = kSyn;
    s.options = syn_option_bytes(SynOptions{}, 0xaabbccdd);
    return s;
}

// The pseudo-header sum and the segment's own: a valid checksum folds to zero.
std::uint16_t verify(const Segment& s, const std::vector<std::uint8_t>& tcp) {
    std::uint32_t sum = checksum_add(0, s.src.data(), s.v6 ? 16 : 4);
    sum = checksum_add(sum, s.dst.data(), s.v6 ? 16 : 4);
    sum += 6 + static_cast<std::uint32_t>(tcp.size());
    return checksum_fold(checksum_add(sum, tcp.data(), tcp.size()));
}

TEST(ProbePackets, TheSynCarriesLinuxsOptionLayoutAndAValidChecksum) {
    for (const bool six : {false, true}) {
        const Segment s = our_syn(six);
        const std::vector<std::uint8_t> tcp = tcp_bytes(s);
        ASSERT_EQ(tcp.size(), 40u);  // 20 + MSS 4, SACK_PERM 2, TS 10, NOP 1, WS 3
        EXPECT_EQ(tcp[12] >> 4, 10);
        EXPECT_EQ(tcp[13], kSyn);
        EXPECT_EQ(verify(s, tcp), 0) << "v6 " << six;
        TcpOptions o;
        parse_tcp_options(std::span<const std::uint8_t>(tcp.data() + 20, 20), o);
        EXPECT_TRUE(o.has(kOptMss) && o.has(kOptSackPerm) && o.has(kOptTimestamp) && o.has(kOptWscale));
        EXPECT_EQ(o.mss, 1460);
        EXPECT_EQ(o.wscale, 7);
        EXPECT_EQ(o.ts_val, 0xaabbccddu);
        EXPECT_EQ(o.ts_ecr, 0u);
        const LayoutToken want[] = {LayoutToken::kMss, LayoutToken::kSackPerm, LayoutToken::kTimestamp, LayoutToken::kNop,
                                    LayoutToken::kWscale};
        for (unsigned i = 0; i < 5; ++i) EXPECT_EQ(layout_token(o.layout, i), want[i]) << i;
    }
    // Without timestamps Linux pads SACK-permitted with two NOPs: still whole words.
    SynOptions no_ts;
    no_ts.timestamps = false;
    EXPECT_EQ(syn_option_bytes(no_ts, 0), (std::vector<std::uint8_t>{2, 4, 5, 180, 1, 1, 4, 2, 1, 3, 3, 7}));
}

// An IPv4 router's time-exceeded quoting `quoted` bytes of our SYN as it reached it.
std::vector<std::uint8_t> time_exceeded_v4(const Segment& s, std::uint8_t tos, std::size_t quoted, std::uint8_t rfc4884_words = 0) {
    const std::vector<std::uint8_t> tcp = tcp_bytes(s);
    std::vector<std::uint8_t> ip;
    append(ip, {0x45, tos, 0, static_cast<std::uint8_t>(20 + tcp.size()), 0, 0, 0x40, 0, 1, 6, 0, 0});
    for (int i = 0; i < 4; ++i) ip.push_back(s.src[static_cast<std::size_t>(i)]);
    for (int i = 0; i < 4; ++i) ip.push_back(s.dst[static_cast<std::size_t>(i)]);
    for (const std::uint8_t b : tcp) ip.push_back(b);
    ip.resize(std::min(ip.size(), quoted));
    std::vector<std::uint8_t> icmp;
    append(icmp, {11, 0, 0, 0, 0, rfc4884_words, 0, 0});
    for (const std::uint8_t b : ip) icmp.push_back(b);
    return icmp;
}

TEST(ProbePackets, AWholeQuoteShowsTheOptionsTheRouterSaw) {
    Segment s = our_syn(false);
    s.options = syn_option_bytes(SynOptions{.mss = 1300}, 1);  // as a clamping device left it
    s.options[17] = s.options[18] = s.options[19] = 1;          // window scale replaced with NOPs
    const std::vector<std::uint8_t> icmp = time_exceeded_v4(s, kEct0, 576);
    Icmp q;
    ASSERT_TRUE(parse_icmp(icmp.data(), icmp.size(), false, q));
    EXPECT_TRUE(q.time_exceeded);
    ASSERT_TRUE(q.quoted);
    EXPECT_EQ(q.ecn, kEct0);
    EXPECT_EQ(q.proto, 6);
    EXPECT_EQ(q.dst, s.dst);
    EXPECT_TRUE(q.has_ports && q.sport == 50000 && q.dport == 443);
    EXPECT_TRUE(q.has_seq && q.seq == 0x01020304u);
    EXPECT_TRUE(q.has_flags && q.flags == kSyn);
    ASSERT_TRUE(q.options_whole);
    EXPECT_EQ(q.options.mss, 1300);
    EXPECT_TRUE(q.options.has(kOptSackPerm));
    EXPECT_FALSE(q.options.has(kOptWscale));
}

TEST(ProbePackets, AnRfc792QuoteHasPortsAndSequenceButNoOptions) {
    const std::vector<std::uint8_t> icmp = time_exceeded_v4(our_syn(false), 0, 28);  // IP header + 8 bytes
    Icmp q;
    ASSERT_TRUE(parse_icmp(icmp.data(), icmp.size(), false, q));
    EXPECT_TRUE(q.quoted && q.has_ports && q.has_seq);
    EXPECT_FALSE(q.has_flags);
    EXPECT_FALSE(q.options_whole);
}

TEST(ProbePackets, AnRfc4884LengthEndsTheQuoteBeforeTheExtensions) {
    std::vector<std::uint8_t> icmp = time_exceeded_v4(our_syn(false), 0, 60, 15);  // 60 bytes = 15 words
    icmp.resize(8 + 128, 0);  // padded to 128 bytes, then an extension structure
    append(icmp, {0x20, 0, 0, 0, 0, 8, 1, 1, 0, 0, 0, 1});
    Icmp q;
    ASSERT_TRUE(parse_icmp(icmp.data(), icmp.size(), false, q));
    EXPECT_EQ(q.quoted_bytes, 60u);
    EXPECT_TRUE(q.options_whole);  // 20 + 40 bytes: the SYN's header whole
}

TEST(ProbePackets, IcmpV6PacketTooBigAndTheQuotedTrafficClass) {
    const Segment s = our_syn(true);
    const std::vector<std::uint8_t> tcp = tcp_bytes(s);
    std::vector<std::uint8_t> icmp;
    append(icmp, {2, 0, 0, 0, 0, 0, 0x05, 0x78});  // MTU 1400
    // IPv6 header: version 6, traffic class 0x01 (ECT(1)), payload length, next header TCP.
    append(icmp, {0x60, 0x10, 0, 0, 0, static_cast<std::uint8_t>(tcp.size()), 6, 3});
    for (const std::uint8_t b : s.src) icmp.push_back(b);
    for (const std::uint8_t b : s.dst) icmp.push_back(b);
    for (const std::uint8_t b : tcp) icmp.push_back(b);
    Icmp q;
    ASSERT_TRUE(parse_icmp(icmp.data(), icmp.size(), true, q));
    EXPECT_TRUE(q.too_big);
    EXPECT_EQ(q.mtu, 1400u);
    EXPECT_EQ(q.ecn, kEct1);
    EXPECT_EQ(q.dst, s.dst);
    EXPECT_TRUE(q.options_whole && q.options.has(kOptWscale));
}

TEST(ProbePackets, EchoRequestsAndReplies) {
    const std::vector<std::uint8_t> req = echo_bytes(false, 0x1234, 7, 1480);
    ASSERT_EQ(req.size(), 1480u);
    EXPECT_EQ(req[0], 8);
    EXPECT_EQ(checksum_fold(checksum_add(0, req.data(), req.size())), 0);
    std::vector<std::uint8_t> reply = req;
    reply[0] = 0;
    Icmp q;
    ASSERT_TRUE(parse_icmp(reply.data(), reply.size(), false, q));
    EXPECT_TRUE(q.echo_reply);
    EXPECT_EQ(q.echo_id, 0x1234);
    EXPECT_EQ(q.echo_seq, 7);
    // A truncated message is refused, never read past its end.
    EXPECT_FALSE(parse_icmp(reply.data(), 7, false, q));
}

}  // namespace
}  // namespace tcpsleuth::probe
