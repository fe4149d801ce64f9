// [[impair]] actions that make packets (RSTs, ICMP too-big) or hold them (delay, rate).
// The device's packets are parsed by the product's parser but every checksum and field is
// checked here from the RFCs' definitions; release times are computed from the rule's
// figures by hand.

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "tests/impair/impair_support.h"

namespace tcpsleuth {
namespace {

using namespace impair_test;

constexpr std::uint64_t kMs = 1'000'000ull;
constexpr std::uint64_t kS = 1'000'000'000ull;

// A segment of the flow 40000 -> 443 (client at .1.2 / 2001:2:1::2).
FrameBuilder segment(bool v6, bool from_client, std::uint32_t seq, std::uint32_t ack, std::uint8_t flags, std::size_t payload = 0) {
    FrameBuilder b;
    if (from_client) {
        v6 ? b.ipv6("2001:2:1::2", "2001:2:2::2") : b.ipv4("198.18.1.2", "198.18.2.2");
        b.tcp(40000, 443);
    } else {
        v6 ? b.ipv6("2001:2:2::2", "2001:2:1::2") : b.ipv4("198.18.2.2", "198.18.1.2");
        b.tcp(443, 40000);
    }
    b.seq(seq).ack(ack).flags(flags);
    if (payload != 0) b.payload(payload);
    return b;
}

ImpairVerdict run(Impairer& imp, FrameBuilder b, std::uint64_t now, std::uintptr_t token = 0) {
    Bytes f = b.build();
    set_tcp_checksum(f);
    std::uint32_t len = static_cast<std::uint32_t>(f.size());
    ImpairPacket p;
    imp.look(f.data(), len, p);
    p.token = token;
    return imp.apply(f.data(), len, p, now);
}

Bytes reply_bytes(const Impairer& imp, unsigned i) {
    const Impairer::Reply& r = imp.reply(i);
    return Bytes(r.frame, r.frame + r.len);
}

std::array<std::uint8_t, 16> address(const char* text, bool v6) {
    FrameBuilder b;
    v6 ? b.ipv6(text, text) : b.ipv4(text, text);
    b.tcp(1, 2);
    const Bytes f = b.build();
    return parsed(f, static_cast<std::uint32_t>(f.size())).src;
}

// The IPv4 header checksum and the ICMP (v4: over the message; v6: with the pseudo-header,
// RFC 4443 section 2.3) checksum, from scratch.
void expect_icmp_checksums(const Bytes& f, std::uint32_t l3, bool v6) {
    const std::uint8_t* ip = f.data() + l3;
    if (!v6) {
        EXPECT_EQ(folded(sum16(ip, 20)), 0xffff) << "IPv4 header checksum";
        const std::uint32_t total = static_cast<std::uint32_t>(ip[2] << 8 | ip[3]);
        EXPECT_EQ(folded(sum16(ip + 20, total - 20)), 0xffff) << "ICMP checksum";
        return;
    }
    const std::uint32_t plen = static_cast<std::uint32_t>(ip[4] << 8 | ip[5]);
    const std::uint32_t pseudo = sum16(ip + 8, 32) + 58 + plen;
    EXPECT_EQ(folded(sum16(ip + 40, plen, pseudo)), 0xffff) << "ICMPv6 checksum";
}

// After its fourth packet the device cuts the flow: the fourth is dropped, the client gets a
// RST at the number it expects from the server, the server one at the dropped segment's own
// number; both from the device's TTL, with checksums right; later packets pass.
TEST(ImpairPackets, InjectRstCutsTheFlowBothWaysIPv4AndIPv6) {
    for (const bool v6 : {false, true}) {
        ImpairRule r = rule(ImpairAction::kInjectRst);
        r.after_packets = 4;
        r.ttl = 250;
        r.flows = 64;
        Impairer imp({r}, 1);
        EXPECT_EQ(run(imp, segment(v6, true, 1000, 0, kSyn), 1 * kS), ImpairVerdict::kPass);
        EXPECT_EQ(run(imp, segment(v6, false, 9000, 1001, kSyn | kAck), 1 * kS), ImpairVerdict::kPass);
        EXPECT_EQ(run(imp, segment(v6, true, 1001, 9001, kAck), 1 * kS), ImpairVerdict::kPass);
        EXPECT_EQ(imp.replies(), 0u);
        ASSERT_EQ(run(imp, segment(v6, true, 1001, 9001, kAck | kPsh, 100), 2 * kS), ImpairVerdict::kDrop) << v6;
        ASSERT_EQ(imp.replies(), 2u);
        for (unsigned i = 0; i < 2; ++i) {
            const Bytes f = reply_bytes(imp, i);
            const std::uint32_t len = static_cast<std::uint32_t>(f.size());
            const PacketView v = parsed(f, len);
            expect_checksums(f, len);
            EXPECT_EQ(v.ttl, 250);
            EXPECT_TRUE(v.has_flag(kRst));
            EXPECT_EQ(v.payload_len, 0u);
            const bool to_client = imp.reply(i).to_sender;
            EXPECT_EQ(imp.reply(i).to_client, to_client) << "the sender was the client";
            if (to_client) {
                EXPECT_EQ(v.tcp.src_port, 443);
                EXPECT_EQ(v.tcp.dst_port, 40000);
                EXPECT_EQ(v.tcp.seq, 9001u) << "what the client expects from the server";
                EXPECT_EQ(v.tcp.flags, kRst) << "RFC 9293: a RST answering an ACK carries no ACK";
                EXPECT_EQ(v.src, address(v6 ? "2001:2:2::2" : "198.18.2.2", v6)) << "from the server's address";
                // The builder's frames go from ...:01 to ...:02: back toward the sender, turned around.
                EXPECT_EQ(f[5], 1);
                EXPECT_EQ(f[11], 2);
            } else {
                EXPECT_EQ(v.tcp.src_port, 40000);
                EXPECT_EQ(v.tcp.seq, 1001u) << "the dropped segment's own number: the server's next expected";
                EXPECT_EQ(v.tcp.ack, 9001u);
                EXPECT_EQ(v.tcp.flags, kRst | kAck);
                EXPECT_EQ(f[5], 2) << "on toward the receiver: the frame's own addresses";
            }
        }
        EXPECT_EQ(run(imp, segment(v6, false, 9001, 1001, kAck), 2 * kS), ImpairVerdict::kPass) << "cut once";
        EXPECT_EQ(imp.replies(), 0u);
        EXPECT_EQ(imp.counters(0).injected.load(), 2u);
        EXPECT_EQ(imp.counters(0).dropped.load(), 1u);
        // The same ports open again: counted afresh.
        for (int i = 0; i < 3; ++i) EXPECT_EQ(run(imp, segment(v6, true, 5000, 0, i == 0 ? kSyn : kAck), 3 * kS), ImpairVerdict::kPass);
        EXPECT_EQ(run(imp, segment(v6, true, 5001, 1, kAck), 3 * kS), ImpairVerdict::kDrop);
    }
}

TEST(ImpairPackets, InjectRstAfterSecondsAndOnAFlowAlreadyOpen) {
    ImpairRule r = rule(ImpairAction::kInjectRst);
    r.after_ns = 5 * kS;
    r.flows = 64;
    Impairer imp({r}, 1);
    // No SYN seen (the rule came while the flow ran): timed from its first packet.
    EXPECT_EQ(run(imp, segment(false, true, 7000, 100, kAck, 10), 10 * kS), ImpairVerdict::kPass);
    EXPECT_EQ(run(imp, segment(false, false, 100, 7010, kAck), 14 * kS), ImpairVerdict::kPass);
    EXPECT_EQ(run(imp, segment(false, false, 100, 7010, kAck | kPsh, 50), 15 * kS), ImpairVerdict::kDrop);
    ASSERT_EQ(imp.replies(), 2u);
    const Bytes to_server = reply_bytes(imp, imp.reply(0).to_sender ? 0 : 1);
    const PacketView v = parsed(to_server, static_cast<std::uint32_t>(to_server.size()));
    EXPECT_EQ(v.tcp.dst_port, 443) << "the sender (the server here) is reset at what it expects";
    EXPECT_EQ(v.tcp.seq, 7010u);
    EXPECT_FALSE(imp.reply(imp.reply(0).to_sender ? 0 : 1).to_client);
}

// A forgotten flow's packets are answered with a RST from the device (then = "rst"); a SYN
// is answered with RST-ACK (no ACK to take a number from); a RST is never answered.
TEST(ImpairPackets, IdleTimeoutAnswersForgottenFlowsWithResets) {
    for (const bool v6 : {false, true}) {
        ImpairRule r = rule(ImpairAction::kIdleTimeout);
        r.seconds = 8;
        r.flows = 64;
        r.then_rst = true;
        r.ttl = 64;
        Impairer imp({r}, 1);
        EXPECT_EQ(run(imp, segment(v6, true, 1000, 0, kSyn), 1 * kS), ImpairVerdict::kPass);
        EXPECT_EQ(run(imp, segment(v6, false, 9000, 1001, kSyn | kAck), 1 * kS), ImpairVerdict::kPass);
        EXPECT_EQ(imp.replies(), 0u);
        ASSERT_EQ(run(imp, segment(v6, false, 9001, 1001, kAck | kPsh, 300), 20 * kS), ImpairVerdict::kDrop);
        ASSERT_EQ(imp.replies(), 1u);
        const Bytes f = reply_bytes(imp, 0);
        const PacketView v = parsed(f, static_cast<std::uint32_t>(f.size()));
        expect_checksums(f, static_cast<std::uint32_t>(f.size()));
        EXPECT_TRUE(imp.reply(0).to_sender);
        EXPECT_FALSE(imp.reply(0).to_client) << "the server sent it";
        EXPECT_EQ(v.tcp.src_port, 40000);
        EXPECT_EQ(v.tcp.seq, 1001u);
        EXPECT_EQ(v.ttl, 64);
        ASSERT_EQ(run(imp, segment(v6, true, 2000, 0, kAck | kRst), 21 * kS), ImpairVerdict::kDrop);
        EXPECT_EQ(imp.replies(), 0u) << "a RST is not answered";
    }
    ImpairRule r = rule(ImpairAction::kIdleTimeout);
    r.seconds = 8;
    r.flows = 64;
    r.then_rst = false;
    Impairer quiet({r}, 1);
    EXPECT_EQ(run(quiet, segment(false, true, 1, 1, kAck), 1 * kS), ImpairVerdict::kDrop);
    EXPECT_EQ(quiet.replies(), 0u) << "then = \"drop\": silence";
}

// drop_larger_than with icmp: the sender gets the error a router sends, quoting its packet,
// naming the MTU; rate limited; IPv4 without DF is not answered (a router would fragment it).
TEST(ImpairPackets, TooBigAnswersWithIcmpIPv4AndIPv6) {
    for (const bool v6 : {false, true}) {
        ImpairRule r = rule(ImpairAction::kDropLargerThan);
        r.size = 1280;
        r.icmp = true;
        r.icmp_per_s = 10;  // a bucket of one
        r.ttl = 61;
        IpPrefix router;
        router.addr = address(v6 ? "2001:2::fe" : "198.18.0.254", v6);
        router.bits = 128;
        r.source = {router};
        Impairer imp({r}, 1);
        ASSERT_EQ(run(imp, segment(v6, true, 1001, 9001, kAck, 1400), 1 * kS), ImpairVerdict::kDrop);
        ASSERT_EQ(imp.replies(), 1u) << v6;
        const Bytes f = reply_bytes(imp, 0);
        const std::uint32_t len = static_cast<std::uint32_t>(f.size());
        const std::uint32_t l3 = 14;
        const std::uint8_t* ip = f.data() + l3;
        expect_icmp_checksums(f, l3, v6);
        EXPECT_TRUE(imp.reply(0).to_sender && imp.reply(0).to_client);
        PacketView v;
        ASSERT_EQ(parse_packet(f.data(), len, LinkType::kEthernet, v), ParseStatus::kIcmpQuote);
        EXPECT_EQ(v.src, router.addr) << "from the router's address";
        EXPECT_EQ(v.dst, address(v6 ? "2001:2:1::2" : "198.18.1.2", v6));
        EXPECT_EQ(v.ttl, 61);
        EXPECT_TRUE(v.icmp.frag_needed);
        EXPECT_EQ(v.icmp.mtu, 1280u);
        EXPECT_EQ(v.icmp.src_port, 40000);
        EXPECT_EQ(v.icmp.seq, 1001u);
        // RFC 1812: 576 bytes in all for IPv4; RFC 4443: within 1280 for IPv6.
        EXPECT_EQ(len - l3, v6 ? 1280u : 576u);
        EXPECT_EQ(ip[v6 ? 40 : 20], v6 ? 2 : 3);
        EXPECT_EQ(run(imp, segment(v6, true, 2401, 9001, kAck, 1400), 1 * kS + 50 * kMs), ImpairVerdict::kDrop);
        EXPECT_EQ(imp.replies(), 0u) << "50 ms later: the limit of 10 a second holds it back";
        EXPECT_EQ(run(imp, segment(v6, true, 2401, 9001, kAck, 1400), 1 * kS + 150 * kMs), ImpairVerdict::kDrop);
        EXPECT_EQ(imp.replies(), 1u) << "150 ms later: a token again";
        EXPECT_EQ(imp.counters(0).injected.load(), 2u);
    }
    ImpairRule r = rule(ImpairAction::kDropLargerThan);
    r.size = 1280;
    r.icmp = true;
    Impairer imp({r}, 1);
    EXPECT_EQ(run(imp, segment(false, true, 1, 1, kAck, 1400).df(false), 1 * kS), ImpairVerdict::kDrop);
    EXPECT_EQ(imp.replies(), 0u) << "no DF: no frag-needed";
    EXPECT_EQ(run(imp, segment(false, true, 1, 1, kAck, 1400), 1 * kS), ImpairVerdict::kDrop);
    ASSERT_EQ(imp.replies(), 1u);
    const Bytes f = reply_bytes(imp, 0);
    PacketView v;
    ASSERT_EQ(parse_packet(f.data(), static_cast<std::uint32_t>(f.size()), LinkType::kEthernet, v), ParseStatus::kIcmpQuote);
    EXPECT_EQ(v.src, address("198.18.2.2", false)) << "no source given: from the packet's destination";
}

// A delay line: each packet leaves `ms` after it came, +/- jitter, never before the one
// ahead; a full line drops.
TEST(ImpairPackets, DelayHoldsInOrderAndCountsOverflow) {
    ImpairRule r = rule(ImpairAction::kDelay);
    r.delay_ns = 100 * kMs;
    r.jitter_ns = 30 * kMs;
    r.queue_packets = 50;
    Impairer imp({r}, 7);
    const std::uint64_t t0 = 10 * kS;
    for (std::uintptr_t i = 1; i <= 60; ++i) {
        const ImpairVerdict v = run(imp, segment(false, true, static_cast<std::uint32_t>(i), 1, kAck, 10), t0 + i * kMs, i);
        EXPECT_EQ(v, i <= 50 ? ImpairVerdict::kHold : ImpairVerdict::kDrop) << i;
    }
    EXPECT_EQ(imp.holding(), 50u);
    Impairer::Released out[64];
    EXPECT_EQ(imp.release(t0 + 70 * kMs, out, 64), 0u) << "nothing before 100 - 30 ms";
    std::vector<std::uintptr_t> order;
    for (std::uint64_t t = t0 + 70 * kMs; t <= t0 + 200 * kMs; t += kMs) {
        const unsigned n = imp.release(t, out, 64);
        for (unsigned i = 0; i < n; ++i) {
            EXPECT_FALSE(out[i].dropped);
            EXPECT_TRUE(out[i].client_sent);
            // Came at t0 + token ms: leaves within [70, 130] ms after, or behind one that did.
            EXPECT_GE(t, t0 + out[i].token * kMs + 70 * kMs);
            order.push_back(out[i].token);
        }
    }
    ASSERT_EQ(order.size(), 50u);
    for (std::size_t i = 0; i < order.size(); ++i) EXPECT_EQ(order[i], i + 1) << "order kept";
    EXPECT_EQ(imp.counters(0).delayed.load(), 50u);
    EXPECT_EQ(imp.counters(0).dropped.load(), 10u);
    EXPECT_EQ(imp.holding(), 0u);
}

// 8 Mbit/s is one byte per microsecond. A 2 KB bucket lets the first frame through at once;
// the next wait their turn at one byte per microsecond; a 4 KB queue takes three more.
TEST(ImpairPackets, RateShapesToTheTokenBucket) {
    ImpairRule r = rule(ImpairAction::kRate);
    r.mbps = 8;
    r.burst_kb = 2;
    r.queue_kb = 4;
    Impairer imp({r}, 1);
    const std::uint64_t t0 = 10 * kS;
    const std::uint32_t frame = static_cast<std::uint32_t>(segment(false, true, 1, 1, kAck, 1000).build().size());
    ASSERT_EQ(frame, 14u + 20 + 20 + 1000);
    std::vector<ImpairVerdict> got;
    for (std::uintptr_t i = 1; i <= 6; ++i) got.push_back(run(imp, segment(false, true, 1, 1, kAck, 1000), t0, i));
    // Bucket: 2048 bytes; the first (1054) fits with 994 to spare, the second needs
    // 1054 - 994 = 60 us more; the second to fourth queue (3 x 1054 <= 4096); the fifth and
    // sixth are over the queue.
    const std::vector<ImpairVerdict> want = {ImpairVerdict::kPass, ImpairVerdict::kHold, ImpairVerdict::kHold,
                                             ImpairVerdict::kHold, ImpairVerdict::kDrop, ImpairVerdict::kDrop};
    EXPECT_EQ(got, want);
    Impairer::Released out[8];
    EXPECT_EQ(imp.release(t0 + 59'000, out, 8), 0u);
    ASSERT_EQ(imp.release(t0 + 60'000, out, 8), 1u);
    EXPECT_EQ(out[0].token, 2u);
    EXPECT_EQ(imp.release(t0 + 60'000 + 1'053'000, out, 8), 0u);
    ASSERT_EQ(imp.release(t0 + 60'000 + 1'054'000, out, 8), 1u) << "one frame time later";
    EXPECT_EQ(out[0].token, 3u);
    ASSERT_EQ(imp.release(t0 + 60'000 + 2 * 1'054'000, out, 8), 1u);
    EXPECT_EQ(out[0].token, 4u);
    EXPECT_EQ(imp.counters(0).dropped.load(), 2u);
    EXPECT_EQ(imp.counters(0).delayed.load(), 3u);
    // Idle long enough to refill the bucket: straight through again.
    EXPECT_EQ(run(imp, segment(false, true, 1, 1, kAck, 1000), t0 + kS, 9), ImpairVerdict::kPass);
}

// A packet matching a rate and a delay rule waits in both, in rule order.
TEST(ImpairPackets, HoldRulesChain) {
    ImpairRule shaper = rule(ImpairAction::kRate);
    shaper.mbps = 8;
    shaper.burst_kb = 2;
    ImpairRule path = rule(ImpairAction::kDelay);
    path.delay_ns = 50 * kMs;
    Impairer imp({shaper, path}, 1);
    const std::uint64_t t0 = 10 * kS;
    EXPECT_EQ(run(imp, segment(false, true, 1, 1, kAck, 1000), t0, 1), ImpairVerdict::kHold) << "through the bucket, into the delay";
    EXPECT_EQ(run(imp, segment(false, true, 1, 1, kAck, 1000), t0, 2), ImpairVerdict::kHold) << "waits for tokens";
    Impairer::Released out[4];
    EXPECT_EQ(imp.release(t0 + 60'000, out, 4), 0u) << "the second left the bucket for the delay line";
    EXPECT_EQ(imp.holding(), 2u);
    ASSERT_EQ(imp.release(t0 + 50 * kMs, out, 4), 1u);
    EXPECT_EQ(out[0].token, 1u);
    EXPECT_EQ(imp.release(t0 + 50 * kMs + 59'000, out, 4), 0u);
    ASSERT_EQ(imp.release(t0 + 50 * kMs + 60'000, out, 4), 1u);
    EXPECT_EQ(out[0].token, 2u);
}

// A reload: a rule kept by name and settings keeps its flows, counters and held packets; a
// rule that went gives its held packets back through flush().
TEST(ImpairPackets, AdoptKeepsWhatTheReloadKept) {
    ImpairRule conntrack = rule(ImpairAction::kIdleTimeout);
    conntrack.seconds = 8;
    conntrack.flows = 64;
    ImpairRule path = rule(ImpairAction::kDelay);
    path.delay_ns = 100 * kMs;
    ImpairRule old_path = path;
    old_path.name = "old-path";
    Impairer before({conntrack, path, old_path}, 1);
    EXPECT_EQ(run(before, segment(false, true, 1000, 0, kSyn), 1 * kS, 1), ImpairVerdict::kHold);
    EXPECT_EQ(before.holding(), 1u);
    Impairer after({conntrack, rule(ImpairAction::kBleachEcn)}, 2);
    after.adopt(before);
    EXPECT_EQ(after.counters(0).matched.load(), 1u) << "the conntrack rule's counter carried over";
    EXPECT_EQ(run(after, segment(false, false, 9000, 1001, kSyn | kAck), 2 * kS), ImpairVerdict::kPass) << "its flow still known";
    EXPECT_EQ(after.holding(), 0u);
    Impairer::Released out[4];
    ASSERT_EQ(before.flush(out, 4), 1u) << "the delay rules went: their packet is handed back";
    EXPECT_EQ(out[0].token, 1u);
    EXPECT_FALSE(out[0].dropped);

    Impairer kept({conntrack, path}, 3);
    Impairer again({conntrack, path, old_path}, 1);
    EXPECT_EQ(run(again, segment(false, true, 1000, 0, kSyn), 1 * kS, 5), ImpairVerdict::kHold);
    kept.adopt(again);
    EXPECT_EQ(kept.holding(), 1u) << "the delay rule stayed: its packet waits on";
    EXPECT_EQ(again.holding(), 0u);
    ASSERT_EQ(kept.release(1 * kS + 100 * kMs, out, 4), 1u);
    EXPECT_EQ(out[0].token, 5u);
}

}  // namespace
}  // namespace tcpsleuth
