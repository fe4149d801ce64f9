// Parsing: well-formed frames of every supported shape, one row per malformation, and a
// sweep that cuts valid frames at every length.

#include <gtest/gtest.h>

#include <set>

#include "dataplane/packet/parse.h"
#include "inspectors/flow/counters.h"
#include "tests/support/frame_builder.h"

namespace tcpsleuth {
namespace {

using test::FrameBuilder;
using Bytes = FrameBuilder::Bytes;

ParseStatus parse(const Bytes& f, PacketView& v, LinkType link = LinkType::kEthernet) {
    v = PacketView{};
    return parse_packet(f.data(), static_cast<std::uint32_t>(f.size()), link, v);
}

// A Linux SYN: MSS, SACK_PERM, TS, NOP, WS (the order net/ipv4/tcp_output.c writes).
FrameBuilder linux_syn() {
    return FrameBuilder().ipv4("198.18.1.2", "198.18.2.2").tcp(40812, 443).seq(0x12345678).flags(kSyn)
        .window(64240).ttl(64).ip_id(0x1c46)
        .mss(1460).sack_perm().timestamps(0xaabbccdd, 0).nop().wscale(7);
}

TEST(Parse, LinuxSynDecodesEveryField) {
    PacketView v;
    ASSERT_EQ(parse(linux_syn().build(), v), ParseStatus::kOk);
    EXPECT_EQ(v.ip_version, 4);
    EXPECT_EQ(v.ttl, 64);
    EXPECT_EQ(v.ip_id, 0x1c46);
    EXPECT_TRUE(v.df);
    EXPECT_EQ(v.src[10], 0xff);  // v4-mapped
    EXPECT_EQ(v.src[12], 198);
    EXPECT_EQ(v.dst[15], 2);
    EXPECT_EQ(v.tcp.src_port, 40812);
    EXPECT_EQ(v.tcp.dst_port, 443);
    EXPECT_EQ(v.tcp.seq, 0x12345678u);
    EXPECT_EQ(v.tcp.flags, kSyn);
    EXPECT_EQ(v.tcp.window, 64240);
    EXPECT_EQ(v.tcp.header_len, 40);
    EXPECT_EQ(v.payload_len, 0u);
    EXPECT_EQ(v.ip_len, 60u);
    EXPECT_TRUE(v.opts.has(kOptMss));
    EXPECT_EQ(v.opts.mss, 1460);
    EXPECT_TRUE(v.opts.has(kOptSackPerm));
    EXPECT_TRUE(v.opts.has(kOptTimestamp));
    EXPECT_EQ(v.opts.ts_val, 0xaabbccddu);
    EXPECT_EQ(v.opts.ts_ecr, 0u);
    EXPECT_TRUE(v.opts.has(kOptWscale));
    EXPECT_EQ(v.opts.wscale, 7);
    EXPECT_EQ(v.opts.nop_count, 1);
    char buf[128];
    const std::size_t n = format_layout(v.opts.layout, buf, sizeof buf);
    EXPECT_EQ(std::string(buf, n), "mss,sackok,ts,nop,ws");
}

TEST(Parse, StrippedOptionLeavesNopFillInTheLayout) {
    // A middlebox that strips SACK_PERM usually overwrites its two bytes with NOPs.
    const Bytes f = FrameBuilder().tcp(1, 2).flags(kSyn).mss(1460).nop().nop().timestamps(1, 0).nop().wscale(7).build();
    PacketView v;
    ASSERT_EQ(parse(f, v), ParseStatus::kOk);
    EXPECT_FALSE(v.opts.has(kOptSackPerm));
    EXPECT_EQ(v.opts.nop_count, 3);
    char buf[128];
    EXPECT_EQ(std::string(buf, format_layout(v.opts.layout, buf, sizeof buf)), "mss,nop,nop,ts,nop,ws");
}

TEST(Parse, SackBlocksTfoMptcpUnknownAndEol) {
    const Bytes f = FrameBuilder().tcp(1, 2).seq(5).ack(9)
        .nop().nop().sack({{1000, 2000}, {3000, 4000}})
        .opt({34, 6, 0xde, 0xad, 0xbe, 0xef})  // TFO cookie, 4 bytes (RFC 7413)
        .opt({30, 4, 0x20, 0x01})              // MPTCP, subtype 2 (DSS)
        .opt({99, 3, 0})                       // unknown kind 99: kept, not fatal
        .eol()
        .build();
    PacketView v;
    ASSERT_EQ(parse(f, v), ParseStatus::kOk);
    ASSERT_EQ(v.opts.sack_blocks, 2);
    EXPECT_EQ(v.opts.sack[0].left, 1000u);
    EXPECT_EQ(v.opts.sack[1].right, 4000u);
    EXPECT_TRUE(v.opts.has(kOptTfo));
    EXPECT_EQ(v.opts.tfo_cookie_len, 4);
    EXPECT_TRUE(v.opts.has(kOptMptcp));
    EXPECT_EQ(v.opts.mptcp_subtype, 2);
    EXPECT_TRUE(v.opts.has(kOptUnknown));
    EXPECT_EQ(v.opts.first_unknown_kind, 99);
    EXPECT_TRUE(v.opts.has(kOptEol));
}

TEST(Parse, DuplicateAndWrongLengthOptionsAreFlaggedNotFatal) {
    const Bytes f = FrameBuilder().tcp(1, 2).flags(kSyn)
        .mss(1400).mss(536)          // duplicate: first one wins
        .opt({3, 4, 7, 0})           // window scale with length 4: malformed
        .build();
    PacketView v;
    ASSERT_EQ(parse(f, v), ParseStatus::kOk);
    EXPECT_EQ(v.opts.mss, 1400);
    EXPECT_EQ(v.opts.duplicate & kOptMss, kOptMss);
    EXPECT_EQ(v.opts.malformed & kOptWscale, kOptWscale);
    EXPECT_FALSE(v.opts.has(kOptWscale));
}

TEST(Parse, StackedVlansInnermostIdWins) {
    const Bytes f = FrameBuilder().vlan(100, 0x88a8).vlan(200).tcp(1, 2).build();
    PacketView v;
    ASSERT_EQ(parse(f, v), ParseStatus::kOk);
    EXPECT_EQ(v.vlan_depth, 2);
    EXPECT_EQ(v.vlan, 200);
    EXPECT_EQ(v.l3_offset, 22);
}

TEST(Parse, Ipv4OptionsAreSkipped) {
    const Bytes f = FrameBuilder().ipv4_options({7, 7, 4, 0, 0, 0, 0, 0}).tcp(1, 2).payload(10).build();
    PacketView v;
    ASSERT_EQ(parse(f, v), ParseStatus::kOk);
    EXPECT_EQ(v.l4_offset, 14 + 28);
    EXPECT_EQ(v.payload_len, 10u);
}

TEST(Parse, Ipv6WithEveryExtensionHeader) {
    const Bytes f = FrameBuilder().ipv6("2001:db8::1", "2001:db8::2")
        .ipv6_ext(0, {1, 4, 0, 0, 0, 0})                  // hop-by-hop, PadN
        .ipv6_ext(43, {0, 0, 0, 0, 0, 0})                 // routing, segments left 0
        .ipv6_ext(60, {1, 4, 0, 0, 0, 0})                 // destination options
        .ipv6_ext(51, {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})  // AH, 12-byte ICV
        .ipv6_ext(44, {0, 0, 0, 0, 0, 1})                 // fragment header, offset 0, no more: atomic
        .tcp(443, 50000).payload(100).build();
    PacketView v;
    ASSERT_EQ(parse(f, v), ParseStatus::kOk);
    EXPECT_EQ(v.ip_version, 6);
    EXPECT_EQ(v.tcp.src_port, 443);
    EXPECT_EQ(v.payload_len, 100u);
    EXPECT_FALSE(v.fragment);
}

TEST(Parse, FirstFragmentParsedLaterFragmentsNot) {
    PacketView v;
    EXPECT_EQ(parse(FrameBuilder().fragment(0, true).tcp(1, 2).payload(64).build(), v), ParseStatus::kOk);
    EXPECT_TRUE(v.fragment);
    EXPECT_EQ(parse(FrameBuilder().fragment(10, false).tcp(1, 2).payload(64).build(), v), ParseStatus::kFragment);
    const Bytes v6frag = FrameBuilder().ipv6("2001:db8::1", "2001:db8::2")
        .ipv6_ext(44, {0, 0x50, 0, 0, 0, 1}).tcp(1, 2).build();  // offset 10
    EXPECT_EQ(parse(v6frag, v), ParseStatus::kFragment);
}

TEST(Parse, SizesComeFromTheIpHeaderNotTheCapture) {
    // A 1448-byte segment captured with -s 128: the payload length is still 1448.
    const Bytes full = FrameBuilder().tcp(1, 2).seq(1).payload(1448).build();
    PacketView v;
    v.wire_len = static_cast<std::uint32_t>(full.size());
    ASSERT_EQ(parse_packet(full.data(), 128, LinkType::kEthernet, v), ParseStatus::kOk);
    EXPECT_EQ(v.payload_len, 1448u);
    EXPECT_EQ(v.ip_len, 1488u);
    EXPECT_EQ(v.cap_len, 128u);
}

TEST(Parse, EthernetPaddingIsIgnored) {
    Bytes f = FrameBuilder().tcp(1, 2).build();  // 54 bytes; the wire pads to 60
    f.resize(60, 0);
    PacketView v;
    ASSERT_EQ(parse(f, v), ParseStatus::kOk);
    EXPECT_EQ(v.payload_len, 0u);
}

TEST(Parse, IcmpFragNeededQuotesTheFlow) {
    const Bytes quoted = FrameBuilder().no_ethernet().ipv4("198.18.1.2", "198.18.2.2").tcp(40000, 80).seq(777).payload(1448).build();
    const Bytes quote8(quoted.begin(), quoted.begin() + 28);  // IP header + 8 bytes, as routers send
    const Bytes f = FrameBuilder().ipv4("198.18.9.1", "198.18.1.2").icmp4_frag_needed(1400, quote8).build();
    PacketView v;
    ASSERT_EQ(parse(f, v), ParseStatus::kIcmpQuote);
    EXPECT_TRUE(v.icmp.frag_needed);
    EXPECT_EQ(v.icmp.mtu, 1400u);
    EXPECT_EQ(v.icmp.src_port, 40000);
    EXPECT_EQ(v.icmp.dst_port, 80);
    EXPECT_EQ(v.icmp.seq, 777u);
    EXPECT_EQ(v.icmp.quoted_total_len, 1488);
    EXPECT_EQ(v.icmp.ip_version, 4);
}

TEST(Parse, Icmp6PacketTooBigQuotesTheFlow) {
    const Bytes quoted = FrameBuilder().no_ethernet().ipv6("2001:db8::1", "2001:db8::2").tcp(40000, 443).seq(9).payload(1400).build();
    const Bytes f = FrameBuilder().ipv6("2001:db8::fe", "2001:db8::1")
        .icmp6_packet_too_big(1280, Bytes(quoted.begin(), quoted.begin() + 200)).build();
    PacketView v;
    ASSERT_EQ(parse(f, v), ParseStatus::kIcmpQuote);
    EXPECT_EQ(v.icmp.mtu, 1280u);
    EXPECT_EQ(v.icmp.dst_port, 443);
    EXPECT_EQ(v.icmp.ip_version, 6);
}

TEST(Parse, LinkTypes) {
    const Bytes ip = FrameBuilder().no_ethernet().tcp(1, 2).payload(5).build();
    PacketView v;
    EXPECT_EQ(parse(ip, v, LinkType::kRaw), ParseStatus::kOk);
    EXPECT_EQ(parse(ip, v, LinkType::kIpv4), ParseStatus::kOk);
    Bytes sll = {0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00};  // SLL: protocol last
    sll.insert(sll.end(), ip.begin(), ip.end());
    EXPECT_EQ(parse(sll, v, LinkType::kLinuxSll), ParseStatus::kOk);
    EXPECT_EQ(v.payload_len, 5u);
    Bytes sll2 = {0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0};  // SLL2: protocol first
    sll2.insert(sll2.end(), ip.begin(), ip.end());
    EXPECT_EQ(parse(sll2, v, LinkType::kLinuxSll2), ParseStatus::kOk);
    Bytes null = {2, 0, 0, 0};  // BSD loopback, AF_INET little-endian
    null.insert(null.end(), ip.begin(), ip.end());
    EXPECT_EQ(parse(null, v, LinkType::kNull), ParseStatus::kOk);
}

// ---- one row per malformation ----

struct Malformed {
    const char* name;
    Bytes frame;
    LinkType link;
    ParseStatus expected;
};

Bytes with_byte(Bytes b, std::size_t at, std::uint8_t value) {
    b.at(at) = value;
    return b;
}

// UDP to `port` carrying `payload` (checksum 0).
Bytes udp_to(std::uint16_t port, Bytes payload) {
    Bytes u = {0xc0, 0x00, std::uint8_t(port >> 8), std::uint8_t(port), std::uint8_t((8 + payload.size()) >> 8),
               std::uint8_t(8 + payload.size()), 0, 0};
    u.insert(u.end(), payload.begin(), payload.end());
    return u;
}

// RFC 7348 header (I flag, VNI) and an inner Ethernet frame.
Bytes vxlan_header(std::uint32_t vni) {
    Bytes h = {0x08, 0, 0, 0, std::uint8_t(vni >> 16), std::uint8_t(vni >> 8), std::uint8_t(vni), 0};
    const Bytes inner = FrameBuilder().tcp(1, 2).build();
    h.insert(h.end(), inner.begin(), inner.end());
    return h;
}

// A TCP segment inside `depth` IPv4-in-IPv4 headers.
Bytes nested_ipip(int depth) {
    Bytes ip = FrameBuilder().no_ethernet().tcp(1, 2).build();
    for (int i = 1; i < depth; ++i) ip = FrameBuilder().no_ethernet().l4_proto(4).raw_l4(ip).build();
    return FrameBuilder().l4_proto(4).raw_l4(ip).build();
}

std::vector<Malformed> malformed_rows() {
    const Bytes ok = FrameBuilder().tcp(1, 2).payload(20).build();
    const Bytes quoted = FrameBuilder().no_ethernet().tcp(1, 2).build();
    return {
        {"empty", {}, LinkType::kEthernet, ParseStatus::kTruncated},
        {"ethernet_cut", Bytes(ok.begin(), ok.begin() + 10), LinkType::kEthernet, ParseStatus::kTruncated},
        {"arp", with_byte(with_byte(ok, 12, 0x08), 13, 0x06), LinkType::kEthernet, ParseStatus::kNotIp},
        {"five_vlan_tags", FrameBuilder().vlan(1).vlan(2).vlan(3).vlan(4).vlan(5).build(), LinkType::kEthernet,
         ParseStatus::kBadL2},
        {"ipv4_bad_version", with_byte(ok, 14, 0x55), LinkType::kEthernet, ParseStatus::kBadIpHeader},
        {"ipv4_ihl_too_small", with_byte(ok, 14, 0x44), LinkType::kEthernet, ParseStatus::kBadIpHeader},
        {"ipv4_total_below_ihl", FrameBuilder().ip_length(12).tcp(1, 2).build(), LinkType::kEthernet,
         ParseStatus::kBadIpHeader},
        // An inner packet longer than the tunnel packet carrying it (the outer one is whole).
        {"inner_total_beyond_tunnel",
         FrameBuilder().l4_proto(4).raw_l4(FrameBuilder().no_ethernet().ip_length(1500).tcp(1, 2).build()).build(),
         LinkType::kEthernet, ParseStatus::kBadIpLength},
        {"vxlan_without_i_flag",
         FrameBuilder().l4_proto(17).raw_l4(with_byte(udp_to(4789, vxlan_header(7)), 8, 0x00)).build(),
         LinkType::kEthernet, ParseStatus::kBadTunnel},
        {"ip_in_ip_five_deep", nested_ipip(5), LinkType::kEthernet, ParseStatus::kTooDeep},
        {"ipv6_ext_past_end", FrameBuilder().ipv6("::1", "::2").ipv6_ext(0, {1, 4, 0, 0, 0, 0}).ip_length(4).tcp(1, 2).build(),
         LinkType::kEthernet, ParseStatus::kBadIpv6Ext},
        {"ipv6_ext_chain_too_long",
         [] {
             FrameBuilder b;
             b.ipv6("::1", "::2");
             for (int i = 0; i < 9; ++i) b.ipv6_ext(60, {1, 4, 0, 0, 0, 0});
             return b.tcp(1, 2).build();
         }(),
         LinkType::kEthernet, ParseStatus::kBadIpv6Ext},
        {"later_fragment", FrameBuilder().fragment(100, false).tcp(1, 2).build(), LinkType::kEthernet,
         ParseStatus::kFragment},
        {"udp", FrameBuilder().l4_proto(17).raw_l4({0, 53, 0, 53, 0, 8, 0, 0}).build(), LinkType::kEthernet,
         ParseStatus::kNotTcp},
        {"tcp_data_offset_4", FrameBuilder().tcp(1, 2).data_offset_words(4).build(), LinkType::kEthernet,
         ParseStatus::kBadTcpHeader},
        {"tcp_data_offset_past_ip", FrameBuilder().tcp(1, 2).data_offset_words(15).build(), LinkType::kEthernet,
         ParseStatus::kBadTcpHeader},
        {"tcp_ip_payload_below_20", FrameBuilder().ip_length(30).tcp(1, 2).build(), LinkType::kEthernet,
         ParseStatus::kBadTcpHeader},
        {"tcp_option_length_0", FrameBuilder().tcp(1, 2).opt({2, 0, 0, 0}).build(), LinkType::kEthernet,
         ParseStatus::kBadTcpOption},
        {"tcp_option_length_1", FrameBuilder().tcp(1, 2).opt({8, 1, 0, 0}).build(), LinkType::kEthernet,
         ParseStatus::kBadTcpOption},
        {"tcp_option_past_header", FrameBuilder().tcp(1, 2).opt({1, 1, 8, 10}).build(), LinkType::kEthernet,
         ParseStatus::kBadTcpOption},
        {"icmp_quote_too_short", FrameBuilder().icmp4_frag_needed(1400, Bytes(quoted.begin(), quoted.begin() + 24)).build(),
         LinkType::kEthernet, ParseStatus::kBadIcmp},
        {"icmp_not_an_error", FrameBuilder().l4_proto(1).raw_l4({8, 0, 0, 0, 0, 1, 0, 1}).build(), LinkType::kEthernet,
         ParseStatus::kNotTcp},
        {"sll_cut", Bytes(10, 0), LinkType::kLinuxSll, ParseStatus::kTruncated},
        {"raw_not_ip", Bytes(40, 0x20), LinkType::kRaw, ParseStatus::kNotIp},
    };
}

class ParseMalformed : public testing::TestWithParam<Malformed> {};

TEST_P(ParseMalformed, GivesItsStatus) {
    PacketView v;
    EXPECT_EQ(parse(GetParam().frame, v, GetParam().link), GetParam().expected);
}

INSTANTIATE_TEST_SUITE_P(Rows, ParseMalformed, testing::ValuesIn(malformed_rows()),
                         [](const auto& info) { return std::string(info.param.name); });

// A frame shorter than its IP total length is what a snap length or a truncating mirror
// delivers: the headers count and the sizes come from the IP header.
TEST(Parse, FrameShorterThanItsIpLengthIsATruncatedCopy) {
    const Bytes whole = FrameBuilder().tcp(1, 2).payload(1000).build();
    const Bytes cut(whole.begin(), whole.begin() + 80);
    PacketView v;
    ASSERT_EQ(parse(cut, v), ParseStatus::kOk);  // wire length = the 80 bytes, as a live port says
    EXPECT_TRUE(v.truncated_copy);
    EXPECT_EQ(v.ip_len, whole.size() - 14);
    EXPECT_EQ(v.payload_len, 1000u);
    ASSERT_EQ(parse(whole, v), ParseStatus::kOk);
    EXPECT_FALSE(v.truncated_copy);
    // A capture's record says how long the frame was: cut by the snap length, not a copy.
    v = PacketView{};
    v.wire_len = static_cast<std::uint32_t>(whole.size());
    ASSERT_EQ(parse_packet(cut.data(), static_cast<std::uint32_t>(cut.size()), LinkType::kEthernet, v), ParseStatus::kOk);
    EXPECT_FALSE(v.truncated_copy);
    EXPECT_EQ(v.payload_len, 1000u);
}

TEST(ParseMalformed, EveryStatusIsProducedByARowOrAWellFormedTest) {
    std::set<ParseStatus> seen = {ParseStatus::kOk, ParseStatus::kIcmpQuote};
    for (const Malformed& m : malformed_rows()) seen.insert(m.expected);
    EXPECT_EQ(seen.size(), kParseStatusCount);
    for (std::size_t i = 0; i < kParseStatusCount; ++i) {
        const auto s = static_cast<ParseStatus>(i);
        EXPECT_TRUE(seen.count(s)) << "no test produces " << to_string(s);
        EXPECT_NE(counter_for(s), Counter::kCount) << to_string(s) << " has no counter";
    }
}

// ---- every prefix of valid frames: no out-of-bounds read (ASan/valgrind watch), a sane status ----

TEST(ParseSweep, EveryCutOfValidFramesIsSafe) {
    const Bytes quoted = FrameBuilder().no_ethernet().tcp(40000, 80).seq(777).payload(1448).build();
    const std::vector<Bytes> frames = {
        linux_syn().build(),
        linux_syn().vlan(7).build(),
        FrameBuilder().ipv6("2001:db8::1", "2001:db8::2").ipv6_ext(0, {1, 4, 0, 0, 0, 0}).tcp(1, 2).sack({{1, 2}}).build(),
        FrameBuilder().icmp4_frag_needed(1400, Bytes(quoted.begin(), quoted.begin() + 28)).build(),
    };
    for (const Bytes& full : frames) {
        PacketView whole;
        const ParseStatus full_status = parse(full, whole);
        ASSERT_TRUE(full_status == ParseStatus::kOk || full_status == ParseStatus::kIcmpQuote);
        for (std::size_t len = 0; len < full.size(); ++len) {
            // A real copy of exactly `len` bytes, so a read past the end is a heap overflow.
            const Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
            PacketView v;
            v.wire_len = static_cast<std::uint32_t>(full.size());  // as a snaplen-truncated capture
            const ParseStatus s = parse_packet(cut.data(), static_cast<std::uint32_t>(len), LinkType::kEthernet, v);
            EXPECT_TRUE(s == ParseStatus::kTruncated || s == full_status) << "len " << len << ": " << to_string(s);
            // Once the TCP header is fully captured the segment parses, with sizes from the IP header.
            if (s == ParseStatus::kOk) {
                EXPECT_EQ(v.payload_len, whole.payload_len) << "len " << len;
            }
        }
    }
}

TEST(ParseSweep, RandomMutationsNeverCrash) {
    // Deterministic xorshift: the same mutations on every run.
    std::uint64_t x = 0x9e3779b97f4a7c15ull;
    auto next = [&] { x ^= x << 13; x ^= x >> 7; x ^= x << 17; return x; };
    const Bytes base = linux_syn().payload(64).build();
    std::array<std::uint64_t, kParseStatusCount> statuses{};
    for (int i = 0; i < 200000; ++i) {
        Bytes f = base;
        const int flips = 1 + static_cast<int>(next() % 4);
        for (int k = 0; k < flips; ++k) f[next() % f.size()] = static_cast<std::uint8_t>(next());
        f.resize(next() % (f.size() + 1));
        PacketView v;
        const ParseStatus s = parse(f, v);
        ++statuses[static_cast<std::size_t>(s)];
        if (s == ParseStatus::kOk) {
            EXPECT_LE(v.l4_offset + v.tcp.header_len, f.size());
        }
    }
    EXPECT_GT(statuses[static_cast<std::size_t>(ParseStatus::kOk)], 0u);
    EXPECT_GT(statuses[static_cast<std::size_t>(ParseStatus::kTruncated)], 0u);
}

}  // namespace
}  // namespace tcpsleuth
