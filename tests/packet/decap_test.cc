// Decapsulation: every mirror and tunnel the generator can wrap (bench/gen/encap.cc, written
// from the RFCs independently of the parser) gives back the inner segment, names its tunnel
// and keys the flow by the tunnel's identity; nesting is bounded; a cut is never a crash.

#include <gtest/gtest.h>

#include <vector>

#include "bench/gen/encap.h"
#include "dataplane/packet/parse.h"
#include "inspectors/flow/duplicate_filter.h"
#include "inspectors/flow/flow_key.h"
#include "inspectors/flow/mirror_sequence.h"
#include "tests/support/frame_builder.h"

namespace tcpsleuth {
namespace {

using gen::EncapKind;
using test::FrameBuilder;
using Bytes = FrameBuilder::Bytes;

Bytes wrap(EncapKind kind, const Bytes& frame, std::uint32_t id = 4242) {
    gen::Encapsulator e(kind, id);
    Bytes out(frame.size() + gen::kMaxEncapOverhead);
    out.resize(e.wrap(frame.data(), static_cast<std::uint32_t>(frame.size()), out.data()));
    return out;
}

ParseStatus parse(const Bytes& f, PacketView& v, const DecapConfig& cfg = kDefaultDecap) {
    v = PacketView{};
    return parse_packet(f.data(), static_cast<std::uint32_t>(f.size()), LinkType::kEthernet, v, cfg);
}

// The generator's frames: MAC ...:01 is the client's side, so the mirror source differs
// per direction, as two mirrored interfaces deliver a connection.
Bytes segment(bool v6, bool from_client, std::size_t payload = 100) {
    FrameBuilder b;
    if (v6) {
        from_client ? b.ipv6("2001:2::1", "2001:2::2") : b.ipv6("2001:2::2", "2001:2::1");
    } else {
        from_client ? b.ipv4("198.18.1.1", "198.18.2.2") : b.ipv4("198.18.2.2", "198.18.1.1");
    }
    from_client ? b.tcp(40000, 443) : b.tcp(443, 40000);
    Bytes f = b.seq(1000).ack(2000).payload(payload).build();
    f[11] = from_client ? 0x01 : 0x02;
    return f;
}

struct Shape {
    const char* name;
    EncapKind kind;
    TunnelType type;
    std::uint32_t id;           // what the parser reports for id 4242
    std::uint16_t overhead_v4;  // bytes before an inner IPv4 header, from the first network header
    bool outer_ip;
    bool keyed;                 // the identity is part of the flow key
};

const Shape kShapes[] = {
    {"vxlan", EncapKind::kVxlan, TunnelType::kVxlan, 4242, 20 + 8 + 8 + 14, true, true},
    {"geneve", EncapKind::kGeneve, TunnelType::kGeneve, 4242, 20 + 8 + 16 + 14, true, true},
    {"geneve_ip", EncapKind::kGeneveIp, TunnelType::kGeneve, 4242, 20 + 8 + 16, true, true},
    {"geneve_vxlan", EncapKind::kGeneveVxlan, TunnelType::kVxlan, 4242, 20 + 8 + 8 + 20 + 8 + 8 + 14, true, true},
    {"gre", EncapKind::kGre, TunnelType::kGre, 4242, 20 + 8, true, true},
    {"gre_eth", EncapKind::kGreEthernet, TunnelType::kGre, 4242, 20 + 12 + 14, true, true},
    {"erspan2", EncapKind::kErspan2, TunnelType::kErspan, 4242 & 0x3ff, 20 + 8 + 8 + 14, true, true},
    {"erspan3", EncapKind::kErspan3, TunnelType::kErspan, 4242 & 0x3ff, 20 + 8 + 12 + 8 + 14, true, true},
    {"mpls", EncapKind::kMpls, TunnelType::kMpls, 4242, 8, false, false},
    {"mpls_pw", EncapKind::kMplsPw, TunnelType::kMpls, 4242, 4 + 4 + 14, false, false},
    {"ipip", EncapKind::kIpip, TunnelType::kIpInIp, 0, 20, true, false},
    {"ip6", EncapKind::kIp6, TunnelType::kIpInIp, 0, 40, true, false},
    {"pppoe", EncapKind::kPppoe, TunnelType::kPppoe, 4242, 8, false, true},
    {"vlan_vxlan", EncapKind::kVlanVxlan, TunnelType::kVxlan, 4242, 20 + 8 + 8 + 14, true, true},
};

class Decap : public testing::TestWithParam<Shape> {};

TEST_P(Decap, InnerSegmentComesBackWithItsTunnel) {
    const Shape& s = GetParam();
    for (const bool v6 : {false, true}) {
        const Bytes bare = segment(v6, true);
        PacketView inner, v;
        ASSERT_EQ(parse(bare, inner), ParseStatus::kOk);
        ASSERT_EQ(parse(wrap(s.kind, bare), v), ParseStatus::kOk) << (v6 ? "IPv6 inside" : "IPv4 inside");
        EXPECT_EQ(v.src, inner.src);
        EXPECT_EQ(v.dst, inner.dst);
        EXPECT_EQ(v.tcp.src_port, 40000);
        EXPECT_EQ(v.tcp.seq, 1000u);
        EXPECT_EQ(v.ip_len, inner.ip_len);
        EXPECT_EQ(v.payload_len, 100u);
        EXPECT_EQ(v.ip_version, v6 ? 6 : 4);
        EXPECT_EQ(v.tunnel, s.type);
        EXPECT_EQ(v.tunnel_id, s.id);
        EXPECT_GE(v.encap_depth, 1u);
        EXPECT_TRUE(v.encap_seen & (1u << static_cast<unsigned>(s.type)));
        EXPECT_FALSE(v.truncated_copy);
        if (!v6) {
            EXPECT_EQ(v.encap_overhead, s.overhead_v4);
        }
        if (s.outer_ip) {
            EXPECT_NE(v.outer_ip_version, 0);
            EXPECT_NE(v.outer_src, v.src);
        } else {
            EXPECT_EQ(v.outer_ip_version, 0);
        }
    }
}

// Both directions of a connection land on one key although they come from two mirror
// sources and (VXLAN, Geneve) two ECMP source ports; the key carries the identity.
TEST_P(Decap, BothDirectionsShareOneKeyWithTheIdentity) {
    const Shape& s = GetParam();
    PacketView c, r, bare;
    ASSERT_EQ(parse(wrap(s.kind, segment(false, true)), c), ParseStatus::kOk);
    ASSERT_EQ(parse(wrap(s.kind, segment(false, false)), r), ParseStatus::kOk);
    ASSERT_EQ(parse(segment(false, true), bare), ParseStatus::kOk);
    Dir dc, dr, db;
    const FlowKey kc = make_flow_key(c, dc), kr = make_flow_key(r, dr), kb = make_flow_key(bare, db);
    EXPECT_EQ(kc, kr);
    EXPECT_NE(dc, dr);
    EXPECT_EQ(kc.tunnel_type, s.keyed ? s.type : TunnelType::kNone);
    if (s.keyed) {
        EXPECT_EQ(kc.tunnel_id, s.id);
        EXPECT_NE(kc, kb) << "a tenant's flow is not the bare network's";
        PacketView other;
        ASSERT_EQ(parse(wrap(s.kind, segment(false, true), 4243), other), ParseStatus::kOk);
        Dir d;
        EXPECT_NE(make_flow_key(other, d), kc) << "another VNI / key / session is another tenant";
    }
    // With the identity out of the key, a tunnelled flow is keyed as the bare one.
    Dir d;
    EXPECT_EQ(make_flow_key(c, d, false), kb);
}

TEST_P(Decap, EveryCutIsSafe) {
    const Bytes f = wrap(GetParam().kind, segment(true, true, 40));
    for (std::size_t n = 0; n < f.size(); ++n) {
        const Bytes cut(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(n));
        PacketView v;
        const ParseStatus st = parse(cut, v);
        if (st == ParseStatus::kOk) {
            EXPECT_TRUE(v.truncated_copy) << "cut at " << n;
            EXPECT_LE(static_cast<std::size_t>(v.l4_offset) + v.tcp.header_len, n);
        }
    }
}

// Random bytes changed in the headers of each shape (a corrupt mirror, a hostile sender):
// whatever the status, nothing is read past the frame (ASan watches) and a decoded
// segment's headers lie inside it.
TEST_P(Decap, CorruptedHeadersAreSafe) {
    const Bytes f = wrap(GetParam().kind, segment(false, true, 40));
    std::uint64_t x = 0x9e3779b97f4a7c15ull;
    const auto next = [&x] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return x;
    };
    for (int round = 0; round < 3000; ++round) {
        Bytes g = f;
        const int flips = 1 + static_cast<int>(next() % 4);
        for (int k = 0; k < flips; ++k) g[next() % std::min<std::size_t>(g.size(), 120)] = static_cast<std::uint8_t>(next());
        PacketView v;
        DecapConfig deep;
        deep.max_depth = 8;
        const ParseStatus st = parse(g, v, deep);
        if (st == ParseStatus::kOk || st == ParseStatus::kBadTcpOption) {
            ASSERT_LE(static_cast<std::size_t>(v.l4_offset) + v.tcp.header_len, g.size()) << "round " << round;
            ASSERT_LE(v.encap_depth, 8u);
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Kinds, Decap, testing::ValuesIn(kShapes), [](const auto& info) { return std::string(info.param.name); });

TEST(Decap, DisabledKindsAreNotLookedInto) {
    const Bytes bare = segment(false, true);
    PacketView v;
    DecapConfig off;
    off.vxlan = off.geneve = off.gre = off.erspan = off.mpls = off.ip_in_ip = off.pppoe = false;
    EXPECT_EQ(parse(wrap(EncapKind::kVxlan, bare), v, off), ParseStatus::kNotTcp);
    EXPECT_EQ(parse(wrap(EncapKind::kGeneve, bare), v, off), ParseStatus::kNotTcp);
    EXPECT_EQ(parse(wrap(EncapKind::kGre, bare), v, off), ParseStatus::kNotTcp);
    EXPECT_EQ(parse(wrap(EncapKind::kErspan2, bare), v, off), ParseStatus::kNotTcp);
    EXPECT_EQ(parse(wrap(EncapKind::kMpls, bare), v, off), ParseStatus::kNotIp);
    EXPECT_EQ(parse(wrap(EncapKind::kIpip, bare), v, off), ParseStatus::kNotTcp);
    EXPECT_EQ(parse(wrap(EncapKind::kPppoe, bare), v, off), ParseStatus::kNotIp);
    EXPECT_EQ(v.encap_depth, 0u);
}

TEST(Decap, ConfiguredVxlanPort) {
    Bytes f = wrap(EncapKind::kVxlan, segment(false, true));
    f[14 + 20 + 2] = 8472 >> 8;  // Linux's historical VXLAN port
    f[14 + 20 + 3] = 8472 & 0xff;
    PacketView v;
    EXPECT_EQ(parse(f, v), ParseStatus::kNotTcp);
    DecapConfig cfg;
    cfg.vxlan_ports = {4789, 8472};
    EXPECT_EQ(parse(f, v, cfg), ParseStatus::kOk);
    EXPECT_EQ(v.tunnel, TunnelType::kVxlan);
}

// Nesting is followed to decap.max_depth and counted past it, never looped.
TEST(Decap, NestingStopsAtMaxDepth) {
    Bytes f = segment(false, true);
    for (int i = 0; i < 5; ++i) f = wrap(EncapKind::kVxlan, f, 100 + static_cast<std::uint32_t>(i));
    PacketView v;
    EXPECT_EQ(parse(f, v), ParseStatus::kTooDeep);
    EXPECT_EQ(v.encap_failed, TunnelType::kVxlan);
    DecapConfig deep;
    deep.max_depth = 8;
    ASSERT_EQ(parse(f, v, deep), ParseStatus::kOk);
    EXPECT_EQ(v.encap_depth, 5u);
    EXPECT_EQ(v.tunnel_id, 100u) << "the innermost VNI names the segment";
}

// An ICMP error that came through the tunnel is about the tunnel's flow.
TEST(Decap, IcmpErrorInsideATunnelIsTiedToTheInnerFlow) {
    const Bytes seg = segment(false, true, 1400);
    const Bytes quoted(seg.begin() + 14, seg.end());
    Bytes icmp = FrameBuilder().ipv4("198.18.9.1", "198.18.1.1").icmp4_frag_needed(1400, quoted).build();
    icmp[11] = 0x02;
    PacketView s, e;
    ASSERT_EQ(parse(wrap(EncapKind::kVxlan, seg), s), ParseStatus::kOk);
    ASSERT_EQ(parse(wrap(EncapKind::kVxlan, icmp), e), ParseStatus::kIcmpQuote);
    EXPECT_EQ(e.icmp.mtu, 1400u);
    Dir ds, de;
    EXPECT_EQ(make_quoted_flow_key(e, de), make_flow_key(s, ds));
}

// A mirror that cuts frames (AWS Traffic Mirroring's packet length, ERSPAN truncation):
// the outer and inner IP lengths run past the frame, and that is a truncated copy.
TEST(Decap, TruncatedMirrorFrameIsATruncatedCopy) {
    const Bytes f = wrap(EncapKind::kVxlan, segment(false, true, 1200));
    const Bytes cut(f.begin(), f.begin() + 160);
    PacketView v;
    ASSERT_EQ(parse(cut, v), ParseStatus::kOk);
    EXPECT_TRUE(v.truncated_copy);
    EXPECT_EQ(v.payload_len, 1200u);
    EXPECT_EQ(v.tunnel, TunnelType::kVxlan);
}

// ---- a mirror session's sequence numbers ----

struct Session {
    MirrorSequences seqs;
    std::uint32_t next(std::uint32_t seq, std::uint32_t key = 7) {
        PacketView v;
        v.tunnel_seq_valid = true;
        v.tunnel_seq_type = TunnelType::kErspan;
        v.tunnel_seq_id = key;
        v.tunnel_seq = seq;
        const MirrorSequences::Session* s = nullptr;
        const std::uint32_t gap = seqs.on_packet(v, s);
        last = s;
        return gap;
    }
    const MirrorSequences::Session* last = nullptr;
};

TEST(MirrorSequences, GapsCountReorderingForgivesRestartsAndWrapsAreNotLoss) {
    Session m;
    EXPECT_EQ(m.next(1), 0u);
    EXPECT_EQ(m.next(2), 0u);
    EXPECT_EQ(m.next(5), 2u);  // 3 and 4 missing
    EXPECT_EQ(m.next(4), 0u);  // 4 was late, not lost
    EXPECT_EQ(m.last->lost, 1u);
    EXPECT_EQ(m.next(6), 0u);
    EXPECT_EQ(m.next(6), 0u) << "a copy of the same packet";
    EXPECT_EQ(m.next(3'000'000), 0u) << "the sender started over, far ahead";
    EXPECT_EQ(m.next(3'000'001), 0u);
    EXPECT_EQ(m.next(10), 0u) << "and far behind";
    EXPECT_EQ(m.last->lost, 1u);
    EXPECT_EQ(m.next(0xffffffffu, 8), 0u);
    EXPECT_EQ(m.next(1, 8), 1u) << "0 skipped across the wrap (RFC 2890 numbers wrap)";
    EXPECT_EQ(m.last->id, 8u);
    EXPECT_EQ(m.last->received, 2u);
}

// ---- copies of one packet (both ends mirrored) ----

struct Seen {
    DuplicateFilter filter;
    bool copy(const Bytes& f, double t_us, std::uint64_t window_us = 500) {
        PacketView v;
        v.ts_ns = static_cast<std::uint64_t>(t_us * 1000);
        EXPECT_EQ(parse_packet(f.data(), static_cast<std::uint32_t>(f.size()), LinkType::kEthernet, v), ParseStatus::kOk);
        Dir d;
        const FlowKey k = make_flow_key(v, d);
        return filter.is_copy(v, k, d, window_us * 1000);
    }
};

TEST(DuplicateFilter, SecondCopyWithinTheWindowIsACopy) {
    Seen s;
    const Bytes f = FrameBuilder().ipv4("198.18.1.1", "198.18.2.2").tcp(1, 2).seq(5).ip_id(77).payload(100).build();
    EXPECT_FALSE(s.copy(f, 1000));
    EXPECT_TRUE(s.copy(f, 1030));
    EXPECT_FALSE(s.copy(f, 1040)) << "a third arrival is not the same copy again";
}

TEST(DuplicateFilter, RetransmissionIsNotACopy) {
    Seen s;
    // The same segment with the next IP ID, as a stack resends it, even very soon.
    EXPECT_FALSE(s.copy(FrameBuilder().tcp(1, 2).seq(5).ip_id(77).payload(100).build(), 1000));
    EXPECT_FALSE(s.copy(FrameBuilder().tcp(1, 2).seq(5).ip_id(78).payload(100).build(), 1100));
    // The same bytes after the window: a retransmission of a stack that keeps its IP ID.
    EXPECT_FALSE(s.copy(FrameBuilder().tcp(1, 2).seq(9).ip_id(5).payload(10).build(), 1000));
    EXPECT_FALSE(s.copy(FrameBuilder().tcp(1, 2).seq(9).ip_id(5).payload(10).build(), 3000));
}

TEST(DuplicateFilter, Ipv6PureAcksAreNeverCopiesDataIs) {
    Seen s;
    const Bytes ack = FrameBuilder().ipv6("2001:2::1", "2001:2::2").tcp(1, 2).seq(5).ack(9).build();
    EXPECT_FALSE(s.copy(ack, 1000));
    EXPECT_FALSE(s.copy(ack, 1010)) << "identical duplicate ACKs are what IPv6 stacks send";
    const Bytes data = FrameBuilder().ipv6("2001:2::1", "2001:2::2").tcp(1, 2).seq(5).ack(9).payload(50).build();
    EXPECT_FALSE(s.copy(data, 2000));
    EXPECT_TRUE(s.copy(data, 2010));
}

TEST(DuplicateFilter, CaptureGoingBackInTimeIsNotACopy) {
    Seen s;
    const Bytes f = FrameBuilder().tcp(1, 2).seq(5).ip_id(1).payload(10).build();
    const Bytes later = FrameBuilder().tcp(3, 4).seq(5).ip_id(2).payload(10).build();
    EXPECT_FALSE(s.copy(f, 1000));
    EXPECT_FALSE(s.copy(later, 90'000'000));
    EXPECT_FALSE(s.copy(f, 1000)) << "the same frame at the same time, replayed after 90 s of capture";
}

TEST(DuplicateFilter, WindowZeroIsOff) {
    Seen s;
    const Bytes f = FrameBuilder().tcp(1, 2).seq(5).ip_id(1).payload(10).build();
    EXPECT_FALSE(s.copy(f, 1000, 0));
    EXPECT_FALSE(s.copy(f, 1001, 0));
}

}  // namespace
}  // namespace tcpsleuth
