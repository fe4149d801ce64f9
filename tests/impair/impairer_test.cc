// [[impair]] actions on frames from the frame builder. Every rewrite is checked against
// checksums computed here from scratch (RFC 1071 over the IPv4 header; over the TCP
// pseudo-header and segment), never by the code under test.

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/impair/impair_support.h"

namespace tcpsleuth {
namespace {

using namespace impair_test;
using test::FrameBuilder;
using Bytes = std::vector<std::uint8_t>;

TEST(Impair, StripSackPermittedWithNopsIPv4AndIPv6) {
    for (const bool v6 : {false, true}) {
        ImpairRule r = rule(ImpairAction::kStripOption);
        r.option = StripOption::kSackPerm;
        Impairer imp({r}, 1);
        const Applied a = apply(imp, linux_syn(v6));
        ASSERT_EQ(a.verdict, ImpairVerdict::kPass);
        const PacketView v = parsed(a.frame, a.len);
        EXPECT_FALSE(v.opts.has(kOptSackPerm)) << v6;
        EXPECT_TRUE(v.opts.has(kOptMss) && v.opts.has(kOptTimestamp) && v.opts.has(kOptWscale));
        EXPECT_EQ(v.opts.nop_count, 3) << "the option's two bytes became NOPs beside Linux's own";
        EXPECT_EQ(a.len, linux_syn(v6).build().size()) << "NOP fill keeps the size";
        expect_checksums(a.frame, a.len);
        EXPECT_EQ(imp.counters(0).rewritten.load(), 1u);
    }
}

TEST(Impair, StripOnlyTouchesSynsExceptTimestamps) {
    ImpairRule r = rule(ImpairAction::kStripOption);
    r.option = StripOption::kWscale;
    Impairer imp({r}, 1);
    FrameBuilder data;
    data.ipv4("198.18.1.2", "198.18.2.2").tcp(40000, 443).seq(1001).ack(9001).nop().nop().timestamps(8, 9).payload(100);
    const Applied a = apply(imp, data);
    EXPECT_EQ(a.frame, [&] { Bytes f = data.build(); set_tcp_checksum(f); return f; }());
    EXPECT_EQ(imp.counters(0).rewritten.load(), 0u);
}

// "remove": the header shrinks by the words freed; payload and checksums follow.
TEST(Impair, RemoveTimestampsFromADataSegment) {
    for (const bool v6 : {false, true}) {
        ImpairRule r = rule(ImpairAction::kStripOption);
        r.option = StripOption::kTimestamp;
        r.fill = StripFill::kRemove;
        Impairer imp({r}, 1);
        FrameBuilder data;
        v6 ? data.ipv6("2001:2:1::2", "2001:2:2::2") : data.ipv4("198.18.1.2", "198.18.2.2");
        data.tcp(40000, 443).seq(1001).ack(9001).nop().nop().timestamps(8, 9).payload("0123456789abcdefXYZ");
        const Bytes before = data.build();
        const Applied a = apply(imp, data);
        ASSERT_EQ(a.verdict, ImpairVerdict::kPass);
        EXPECT_EQ(a.len, before.size() - 8) << "12 option bytes become 4";
        const PacketView v = parsed(a.frame, a.len);
        EXPECT_FALSE(v.opts.has(kOptTimestamp));
        EXPECT_EQ(v.tcp.header_len, 24u);
        EXPECT_EQ(v.payload_len, 19u);
        const std::string_view text = "0123456789abcdefXYZ";
        const Bytes moved(a.frame.begin() + v.l4_offset + 24, a.frame.begin() + v.l4_offset + 24 + 19);
        EXPECT_EQ(moved, Bytes(text.begin(), text.end())) << "the payload moved up intact";
        expect_checksums(a.frame, a.len);
    }
}

TEST(Impair, ClampMssOnlyLowers) {
    ImpairRule r = rule(ImpairAction::kClampMss);
    r.mss = 1360;
    Impairer imp({r}, 1);
    const Applied a = apply(imp, linux_syn());
    EXPECT_EQ(parsed(a.frame, a.len).opts.mss, 1360);
    expect_checksums(a.frame, a.len);
    FrameBuilder small = linux_syn();
    small = FrameBuilder().ipv4("198.18.1.2", "198.18.2.2").tcp(40001, 443).seq(5).flags(kSyn).mss(1200);
    const Applied b = apply(imp, small);
    EXPECT_EQ(parsed(b.frame, b.len).opts.mss, 1200);
    EXPECT_EQ(imp.counters(0).rewritten.load(), 1u);
}

TEST(Impair, EcnActionsKeepTheIPv4HeaderChecksum) {
    struct Case { ImpairAction action; std::uint8_t in, out; };
    for (const Case c : {Case{ImpairAction::kBleachEcn, kEct0, kNotEct}, Case{ImpairAction::kBleachEcn, kCe, kNotEct},
                         Case{ImpairAction::kEraseCe, kCe, kEct0}, Case{ImpairAction::kEraseCe, kEct1, kEct1},
                         Case{ImpairAction::kMarkCe, kEct0, kCe}, Case{ImpairAction::kMarkCe, kNotEct, kNotEct}}) {
        for (const bool v6 : {false, true}) {
            Impairer imp({rule(c.action)}, 1);
            FrameBuilder b;
            v6 ? b.ipv6("2001:2:1::2", "2001:2:2::2") : b.ipv4("198.18.1.2", "198.18.2.2");
            b.ecn(c.in).tcp(40000, 443).seq(1).ack(1).payload(50);
            const Applied a = apply(imp, b);
            EXPECT_EQ(parsed(a.frame, a.len).ecn, c.out) << to_string(c.action) << " v6=" << v6;
            expect_checksums(a.frame, a.len);
        }
    }
}

TEST(Impair, DropLargerThanAndEcnSyns) {
    ImpairRule big = rule(ImpairAction::kDropLargerThan);
    big.size = 1280;
    Impairer imp({big, rule(ImpairAction::kDropEcnSyn)}, 1);
    FrameBuilder large, fits;
    large.ipv4("198.18.1.2", "198.18.2.2").tcp(40000, 443).seq(1).ack(1).payload(1460);
    fits.ipv4("198.18.1.2", "198.18.2.2").tcp(40000, 443).seq(1).ack(1).payload(1240);
    EXPECT_EQ(apply(imp, large).verdict, ImpairVerdict::kDrop);
    EXPECT_EQ(apply(imp, fits).verdict, ImpairVerdict::kPass) << "1280 bytes of IP: not larger";
    EXPECT_EQ(apply(imp, linux_syn().flags(kSyn | kEce | kCwr)).verdict, ImpairVerdict::kDrop);
    EXPECT_EQ(apply(imp, linux_syn()).verdict, ImpairVerdict::kPass);
    EXPECT_EQ(apply(imp, synack().flags(kSyn | kAck | kEce)).verdict, ImpairVerdict::kPass) << "an ECN-setup SYN-ACK is not the target";
    EXPECT_EQ(imp.counters(0).dropped.load(), 1u);
    EXPECT_EQ(imp.counters(1).dropped.load(), 1u);
}

// The client's numbers move; the server's ACKs move back, and its SACK edges only when the
// device does it right.
TEST(Impair, ShiftSequenceWithAndWithoutSack) {
    for (const bool rewrite : {false, true}) {
        ImpairRule r = rule(ImpairAction::kShiftSeq);
        r.offset = 0x40000000;
        r.rewrite_sack = rewrite;
        Impairer imp({r}, 1);
        const Applied syn = apply(imp, linux_syn());
        EXPECT_EQ(parsed(syn.frame, syn.len).tcp.seq, 1000u + 0x40000000u);
        expect_checksums(syn.frame, syn.len);
        FrameBuilder ack;
        ack.ipv4("198.18.2.2", "198.18.1.2").tcp(443, 40000).seq(9001).ack(0x40000000u + 5001).nop().nop()
            .sack({{0x40000000u + 6449, 0x40000000u + 7897}});
        const Applied a = apply(imp, ack);
        const PacketView v = parsed(a.frame, a.len);
        EXPECT_EQ(v.tcp.ack, 5001u);
        EXPECT_EQ(v.opts.sack[0].left, rewrite ? 6449u : 0x40000000u + 6449) << rewrite;
        EXPECT_EQ(v.opts.sack[0].right, rewrite ? 7897u : 0x40000000u + 7897);
        expect_checksums(a.frame, a.len);
    }
}

TEST(Impair, LossRateAndBursts) {
    ImpairRule r = rule(ImpairAction::kLoss);
    r.probability = 0.1;
    r.burst = 3;
    Impairer imp({r}, 42);
    FrameBuilder b;
    b.ipv4("198.18.1.2", "198.18.2.2").tcp(40000, 443).seq(1).ack(1).payload(10);
    const Bytes f = b.build();
    unsigned dropped = 0, runs = 0;
    bool in_run = false;
    std::vector<unsigned> run_lengths;
    for (unsigned i = 0; i < 20000; ++i) {
        Bytes copy = f;
        std::uint32_t len = static_cast<std::uint32_t>(copy.size());
        const bool drop = imp.apply(copy.data(), len) == ImpairVerdict::kDrop;
        dropped += drop;
        if (drop && !in_run) run_lengths.push_back(0), ++runs;
        if (drop) ++run_lengths.back();
        in_run = drop;
    }
    // A loss starts with probability 0.1 per packet outside a burst and takes 3 packets:
    // 3 x 0.1 / (1 + 2 x 0.1) = 25 % of packets.
    EXPECT_NEAR(dropped / 20000.0, 0.25, 0.02);
    for (const unsigned n : run_lengths) EXPECT_EQ(n % 3, 0u) << "bursts of 3 (back to back ones merge)";
    EXPECT_EQ(imp.counters(0).dropped.load(), dropped);
}

// side, ports, hosts and a share of flows select what a rule touches; a flow is picked in
// both directions alike.
TEST(Impair, FiltersSelectSidePortHostAndFlows) {
    ImpairRule r = rule(ImpairAction::kBleachEcn);
    r.side = ImpairSide::kServer;
    r.ports = {443};
    IpPrefix net;
    net.addr = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 2, 0};
    net.bits = 96 + 24;
    r.hosts = {net};
    Impairer imp({r}, 1);
    const auto ecn_after = [&](const std::string& src, const std::string& dst, std::uint16_t sp, std::uint16_t dp) {
        FrameBuilder b;
        b.ipv4(src, dst).ecn(kEct0).tcp(sp, dp).seq(1).ack(1).payload(20);
        const Applied a = apply(imp, b);
        return parsed(a.frame, a.len).ecn;
    };
    EXPECT_EQ(ecn_after("198.18.2.2", "198.18.1.2", 443, 40000), kNotEct) << "the server's packet";
    EXPECT_EQ(ecn_after("198.18.1.2", "198.18.2.2", 40000, 443), kEct0) << "the client's packet";
    EXPECT_EQ(ecn_after("198.18.2.2", "198.18.1.2", 80, 40000), kEct0) << "another server port";
    EXPECT_EQ(ecn_after("198.18.3.2", "198.18.1.2", 443, 40000), kEct0) << "a host outside the prefix";

    ImpairRule half = rule(ImpairAction::kBleachEcn);
    half.probability = 0.5;
    Impairer share({half}, 1);
    unsigned picked = 0;
    for (std::uint16_t port = 20000; port < 21000; ++port) {
        bool each_way[2];
        for (const bool back : {false, true}) {
            FrameBuilder b;
            back ? b.ipv4("198.18.2.2", "198.18.1.2").tcp(443, port) : b.ipv4("198.18.1.2", "198.18.2.2").tcp(port, 443);
            b.ecn(kEct0).seq(1).ack(1).payload(20);
            const Applied a = apply(share, b);
            each_way[back] = parsed(a.frame, a.len).ecn == kNotEct;
        }
        EXPECT_EQ(each_way[0], each_way[1]) << "flow " << port << " picked one way only";
        picked += each_way[0];
    }
    EXPECT_NEAR(picked / 1000.0, 0.5, 0.06);
}

// Rules limited to ports: a packet on none of them passes on a glance at its ports (not
// counted as skipped); one on them, VLAN-tagged, IPv6 or with an extension header, is still
// matched; a fragment on no rule's port is still counted as skipped (it gets the full parse).
TEST(Impair, PortLimitedRulesGlanceAtPorts) {
    ImpairRule r = rule(ImpairAction::kBleachEcn);
    r.ports = {443, 8443};
    Impairer imp({r}, 1);
    const auto bleached = [&](FrameBuilder b) {
        const Applied a = apply(imp, b);
        return parsed(a.frame, a.len).ecn == kNotEct;
    };
    FrameBuilder other, tagged, v6, v6_ext, server;
    other.ipv4("198.18.1.2", "198.18.2.2").ecn(kEct0).tcp(40000, 80).seq(1).ack(1).payload(20);
    tagged.vlan(7).vlan(8, 0x88a8).ipv4("198.18.1.2", "198.18.2.2").ecn(kEct0).tcp(40000, 8443).seq(1).ack(1).payload(20);
    v6.ipv6("2001:2:1::2", "2001:2:2::2").ecn(kEct0).tcp(40000, 443).seq(1).ack(1).payload(20);
    v6_ext.ipv6("2001:2:1::2", "2001:2:2::2").ecn(kEct0).ipv6_ext(0, Bytes(6, 0)).tcp(40000, 443).seq(1).ack(1).payload(20);
    server.ipv4("198.18.2.2", "198.18.1.2").ecn(kEct0).tcp(443, 40000).seq(1).ack(1).payload(20);
    EXPECT_FALSE(bleached(other));
    EXPECT_TRUE(bleached(tagged)) << "behind two VLAN tags";
    EXPECT_TRUE(bleached(v6));
    EXPECT_TRUE(bleached(v6_ext)) << "past an IPv6 extension header: the full parse";
    EXPECT_TRUE(bleached(server)) << "the server's port as the source";
    EXPECT_EQ(imp.counters(0).matched.load(), 4u);
    EXPECT_EQ(imp.skipped(), 0u) << "a packet on no rule's port is not a skipped one";
    FrameBuilder frag;
    frag.ipv4("198.18.1.2", "198.18.2.2").fragment(0, true).tcp(40000, 80).seq(1).ack(1).payload(500);
    apply(imp, frag);
    EXPECT_EQ(imp.skipped(), 1u);
}

// A stateful device: it learns a flow from its SYN and forgets it after `seconds` idle; a
// packet of a flow it does not know is dropped.
TEST(Impair, IdleTimeoutForgetsQuietFlows) {
    constexpr std::uint64_t kS = 1'000'000'000ull;
    for (const bool v6 : {false, true}) {
        ImpairRule r = rule(ImpairAction::kIdleTimeout);
        r.seconds = 8;
        r.flows = 1024;
        Impairer imp({r}, 1);
        const auto seg = [&](std::uint16_t cport, bool from_client, std::uint8_t flags) {
            FrameBuilder b;
            if (from_client) {
                v6 ? b.ipv6("2001:2:1::2", "2001:2:2::2") : b.ipv4("198.18.1.2", "198.18.2.2");
                b.tcp(cport, 7000);
            } else {
                v6 ? b.ipv6("2001:2:2::2", "2001:2:1::2") : b.ipv4("198.18.2.2", "198.18.1.2");
                b.tcp(7000, cport);
            }
            b.seq(1).flags(flags);
            if (flags & kAck) b.ack(1);
            return b;
        };
        const auto verdict = [&](FrameBuilder b, std::uint64_t t) {
            Bytes f = b.build();
            std::uint32_t len = static_cast<std::uint32_t>(f.size());
            return imp.apply(f.data(), len, t);
        };
        EXPECT_EQ(verdict(seg(40000, true, kSyn), 100 * kS), ImpairVerdict::kPass) << v6;
        EXPECT_EQ(verdict(seg(40000, false, kSyn | kAck), 100 * kS), ImpairVerdict::kPass);
        EXPECT_EQ(verdict(seg(40000, true, kAck), 107 * kS), ImpairVerdict::kPass) << "7 s idle: still known";
        EXPECT_EQ(verdict(seg(40000, false, kAck), 114 * kS), ImpairVerdict::kPass) << "7 s again, from the other end";
        EXPECT_EQ(verdict(seg(40000, true, kAck | kPsh), 123 * kS), ImpairVerdict::kDrop) << "9 s idle: forgotten";
        EXPECT_EQ(verdict(seg(40000, true, kAck | kPsh), 124 * kS), ImpairVerdict::kDrop) << "and stays forgotten";
        EXPECT_EQ(verdict(seg(40001, true, kAck), 124 * kS), ImpairVerdict::kDrop) << "a flow never seen opening";
        EXPECT_EQ(verdict(seg(40002, true, kSyn), 125 * kS), ImpairVerdict::kPass) << "a new one is learnt";
        EXPECT_EQ(imp.counters(0).dropped.load(), 3u);
    }
}

// A state table of three flows: the fourth SYN is refused while the three live; a closed
// flow's entry goes 10 s after its RST; a flow already known keeps passing.
TEST(Impair, StateLimitRefusesNewFlowsWhenFull) {
    constexpr std::uint64_t kS = 1'000'000'000ull;
    ImpairRule r = rule(ImpairAction::kStateLimit);
    r.flows = 3;
    r.seconds = 300;
    Impairer imp({r}, 1);
    const auto verdict = [&](std::uint16_t cport, std::uint8_t flags, std::uint64_t t) {
        FrameBuilder b;
        b.ipv4("198.18.1.2", "198.18.2.2").tcp(cport, 7000).seq(1).flags(flags);
        if (flags & kAck) b.ack(1);
        Bytes f = b.build();
        std::uint32_t len = static_cast<std::uint32_t>(f.size());
        return imp.apply(f.data(), len, t);
    };
    for (std::uint16_t c = 0; c < 3; ++c) EXPECT_EQ(verdict(40000 + c, kSyn, 10 * kS), ImpairVerdict::kPass);
    EXPECT_EQ(verdict(40003, kSyn, 11 * kS), ImpairVerdict::kDrop) << "the table is full";
    EXPECT_EQ(verdict(40003, kSyn, 12 * kS), ImpairVerdict::kDrop) << "and its retry too";
    EXPECT_EQ(verdict(40000, kSyn, 12 * kS), ImpairVerdict::kPass) << "a known flow's SYN sent again";
    EXPECT_EQ(verdict(40001, kAck, 13 * kS), ImpairVerdict::kPass) << "established flows pass";
    EXPECT_EQ(verdict(40009, kAck, 13 * kS), ImpairVerdict::kPass) << "a table limits new flows only";
    EXPECT_EQ(verdict(40002, kRst | kAck, 14 * kS), ImpairVerdict::kPass);
    EXPECT_EQ(verdict(40003, kSyn, 20 * kS), ImpairVerdict::kDrop) << "6 s after the RST the entry is still there";
    EXPECT_EQ(verdict(40003, kSyn, 25 * kS), ImpairVerdict::kPass) << "11 s after: room again";
    EXPECT_EQ(verdict(40004, kSyn, 26 * kS), ImpairVerdict::kDrop);
    EXPECT_EQ(verdict(40005, kSyn, 400 * kS), ImpairVerdict::kPass) << "every entry idle past 300 s is gone";
}

// A table of N flows admits N flows, whichever they are: a full bucket must not refuse one
// the table has room for (200 tables of 10 flows on random ports).
TEST(Impair, StateLimitAdmitsExactlyItsFlows) {
    std::uint64_t x = 12345;
    unsigned refused_early = 0, admitted_late = 0;
    for (unsigned trial = 0; trial < 200; ++trial) {
        ImpairRule r = rule(ImpairAction::kStateLimit);
        r.flows = 10;
        r.seconds = 300;
        Impairer imp({r}, trial);
        for (unsigned f = 0; f < 11; ++f) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            FrameBuilder b;
            b.ipv4("198.18.1.2", "198.18.2." + std::to_string(10 + f % 10)).tcp(static_cast<std::uint16_t>(32768 + (x >> 49)), 7000)
                .seq(1).flags(kSyn);
            Bytes fr = b.build();
            std::uint32_t len = static_cast<std::uint32_t>(fr.size());
            const bool passed = imp.apply(fr.data(), len, 1'000'000'000ull) == ImpairVerdict::kPass;
            refused_early += f < 10 && !passed;
            admitted_late += f == 10 && passed;
        }
    }
    EXPECT_EQ(refused_early, 0u) << "flows refused while the table had room";
    EXPECT_EQ(admitted_late, 0u) << "an eleventh flow admitted";
}

TEST(Impair, FragmentsPassUntouched) {
    ImpairRule big = rule(ImpairAction::kDropLargerThan);
    big.size = 100;
    Impairer imp({big}, 1);
    FrameBuilder frag;
    frag.ipv4("198.18.1.2", "198.18.2.2").fragment(0, true).tcp(40000, 443).seq(1).ack(1).payload(500);
    EXPECT_EQ(apply(imp, frag).verdict, ImpairVerdict::kPass);
    EXPECT_EQ(imp.skipped(), 1u);
}

}  // namespace
}  // namespace tcpsleuth
