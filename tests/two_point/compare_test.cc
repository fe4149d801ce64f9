// tcpsleuth compare's matcher and device findings on two points built in code: a client on
// A's side, a server on B's, and a device between them that the test describes (NAT, a
// sequence shift with or without SACK rewriting, TTL, delay, the clocks' offset), so every
// shape can be made: IPv4/IPv6, timestamps or none, first copy lost, captures that end early
// or lose packets themselves.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "dataplane/live/live_points.h"
#include "dataplane/packet/parse.h"
#include "inspectors/two_point/device_findings.h"
#include "inspectors/two_point/matcher.h"
#include "tests/support/frame_builder.h"

// Segments read best as designated initializers naming only what differs from the default.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace tcpsleuth::two_point {
namespace {

using test::FrameBuilder;

struct Device {
    bool ipv6 = false;
    bool nat = false;                 // the client's address and port rewritten on B's side
    std::uint32_t seq_shift = 0;      // added to the client's sequence numbers on B's side
    bool rewrite_sack = true;         // the server's SACK blocks moved back by seq_shift
    bool ttl_decrement = true;
    std::int64_t clock_b_ns = 0;      // B's clock minus A's
    std::uint64_t delay_ns = 50'000;  // time to cross
    std::uint16_t clamp_mss = 0;      // SYNs' MSS lowered to this on the way through
};

// A segment in A's numbering (the client's sequence space as the client sent it).
struct Seg {
    bool from_client = true;
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::uint8_t flags = kAck;
    std::uint32_t len = 0;
    std::uint32_t tsval = 0;          // 0: no timestamps option
    std::vector<std::pair<std::uint32_t, std::uint32_t>> sack;  // server's, in A's numbering
    std::uint8_t fill = 'x';
    std::uint8_t ttl = 64;            // as sent
    std::uint16_t port = 40000;       // the client's port at A (behind NAT at B: + 21000)
};

class TwoPoints {
public:
    explicit TwoPoints(Device d) : d_(d) {
        a_.name = "A";
        b_.name = "B";
    }

    // The segment seen where it enters at `t_ns` (A's clock) and, unless `dropped`, where it
    // leaves; `unseen_at_egress`: it crossed but the egress capture missed it.
    void cross(const Seg& s, std::uint64_t t_ns, bool dropped = false, bool unseen_at_egress = false) {
        const unsigned in = s.from_client ? 0 : 1;
        record(in, s, t_ns, false);
        if (!dropped && !unseen_at_egress) record(in ^ 1, s, t_ns + d_.delay_ns, true);
    }
    // B had stopped capturing: the segment is seen at A only, as it passes there.
    void only_at_a(const Seg& s, std::uint64_t t_ns) { record(0, s, s.from_client ? t_ns : t_ns + d_.delay_ns, !s.from_client); }
    // A packet the device makes itself, seen leaving toward the client (at A).
    void inject_toward_client(const Seg& s, std::uint64_t t_ns) { record(0, s, t_ns, false); }

    // Each packet also reduced as a live worker would and handed to `live` (two points live).
    void feed_live(live::LivePoints* live) { live_ = live; }

    Comparison compare() {
        a_.group();
        b_.group();
        return match_points(a_, b_);
    }
    DeviceReport findings(const Comparison& c) { return find_device_faults(a_, b_, c); }
    PointCapture& a() { return a_; }
    PointCapture& b() { return b_; }

private:
    void record(unsigned point, const Seg& s, std::uint64_t t_a_ns, bool egress) {
        const bool client_side = point == 0;
        std::string client = d_.ipv6 ? "2001:2:1::2" : "198.18.1.2";
        std::uint16_t client_port = s.port;
        if (!client_side && d_.nat) {
            client = d_.ipv6 ? "2001:2:2::1" : "198.18.2.1";
            client_port = static_cast<std::uint16_t>(s.port + 21000);
        }
        const std::string server = d_.ipv6 ? "2001:2:2::2" : "198.18.2.2";
        FrameBuilder f;
        if (d_.ipv6) {
            s.from_client ? f.ipv6(client, server) : f.ipv6(server, client);
        } else {
            s.from_client ? f.ipv4(client, server) : f.ipv4(server, client);
            f.ip_id(static_cast<std::uint16_t>(s.from_client ? client_id_++ : server_id_++));
        }
        s.from_client ? f.tcp(client_port, 443) : f.tcp(443, client_port);
        const std::uint32_t shift = client_side ? 0 : d_.seq_shift;
        if (s.from_client) {
            f.seq(s.seq + shift);
        } else {
            f.seq(s.seq);
        }
        f.flags(s.flags);
        if (s.flags & kAck) f.ack(s.from_client ? s.ack : s.ack + shift);
        f.ttl(static_cast<std::uint8_t>(egress && d_.ttl_decrement ? s.ttl - 1 : s.ttl));
        f.window(512);
        if (s.flags & kSyn) {
            const std::uint16_t mss = egress && d_.clamp_mss != 0 ? d_.clamp_mss : 1460;
            f.mss(mss).sack_perm();
            if (s.tsval != 0) f.timestamps(s.tsval, 0);
            f.nop().wscale(7);
        } else if (s.tsval != 0) {
            f.nop().nop().timestamps(s.tsval, 1);
        }
        if (!s.sack.empty()) {
            // The server numbers its blocks in B's space; a device that rewrites moves them
            // back for A.
            const std::uint32_t back = client_side && !d_.rewrite_sack ? d_.seq_shift : 0;
            const std::uint32_t at = client_side ? back : d_.seq_shift;
            std::vector<std::pair<std::uint32_t, std::uint32_t>> blocks;
            for (const auto& [l, r] : s.sack) blocks.push_back({l + at, r + at});
            f.nop().nop();
            if (blocks.size() == 1) f.sack({blocks[0]});
            else f.sack({blocks[0], blocks[1]});
        }
        if (s.len != 0) {
            std::string payload(s.len, static_cast<char>(s.fill));
            for (std::size_t i = 0; i < payload.size() && i < 8; ++i) payload[i] = static_cast<char>('A' + (s.seq >> (4 * i)) % 16);
            f.payload(payload);
        }
        const auto frame = f.build();
        PacketView v;
        v.ts_ns = t_a_ns + (point == 1 ? static_cast<std::uint64_t>(d_.clock_b_ns) : 0);
        PointCapture& pc = point == 0 ? a_ : b_;
        v.number = ++numbers_[point];
        v.wire_len = static_cast<std::uint32_t>(frame.size());
        const ParseStatus st = parse_packet(frame.data(), static_cast<std::uint32_t>(frame.size()), LinkType::kEthernet, v);
        ASSERT_EQ(st, ParseStatus::kOk);
        const std::uint32_t at = v.l4_offset + v.tcp.header_len;
        pc.add(v, false, frame.data() + at, static_cast<std::uint32_t>(frame.size()) - at);
        if (live_ != nullptr) {
            live::PointRecord r;
            ASSERT_TRUE(live::reduce_point_frame(frame.data(), static_cast<std::uint32_t>(frame.size()),
                                                 static_cast<std::uint32_t>(frame.size()), v.ts_ns, DecapConfig{},
                                                 static_cast<std::uint8_t>(point), r));
            live_->add(r);
        }
    }

    Device d_;
    PointCapture a_, b_;
    std::uint64_t numbers_[2] = {0, 0};
    unsigned client_id_ = 1000, server_id_ = 7000;
    live::LivePoints* live_ = nullptr;
};

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint32_t kIsn = 1'000'000;
constexpr std::uint32_t kServerIsn = 5'000'000;
constexpr std::uint32_t kMss = 1448;

// Handshake at t, then `n` client segments of kMss every ms, each acknowledged 1 ms later
// (the ones in `lost` are dropped by the device and sent again 300 ms later).
std::uint64_t upload(TwoPoints& tp, std::uint64_t t, unsigned n, const std::vector<unsigned>& lost = {}, bool ts = true,
                     std::uint16_t port = 40000) {
    const std::uint32_t tv = ts ? 100u : 0u;
    tp.cross({.from_client = true, .seq = kIsn, .flags = kSyn, .tsval = tv, .port = port}, t);
    tp.cross({.from_client = false, .seq = kServerIsn, .ack = kIsn + 1, .flags = kSyn | kAck, .tsval = ts ? 900u : 0u, .port = port}, t + 1 * kMs);
    tp.cross({.from_client = true, .seq = kIsn + 1, .ack = kServerIsn + 1, .tsval = tv, .port = port}, t + 2 * kMs);
    t += 3 * kMs;
    std::uint32_t acked = kIsn + 1;
    for (unsigned i = 0; i < n; ++i, t += 2 * kMs) {
        const std::uint32_t seq = kIsn + 1 + i * kMss;
        const bool drop = std::find(lost.begin(), lost.end(), i) != lost.end();
        tp.cross({.from_client = true, .seq = seq, .ack = kServerIsn + 1, .len = kMss, .tsval = ts ? 101 + i : 0u, .port = port}, t, drop);
        if (!drop && acked == seq) acked = seq + kMss;
        tp.cross({.from_client = false, .seq = kServerIsn + 1, .ack = acked, .tsval = ts ? 901 + i : 0u, .port = port}, t + kMs);
    }
    for (const unsigned i : lost) {  // the retransmissions, identical in every field but time
        const std::uint32_t seq = kIsn + 1 + i * kMss;
        tp.cross({.from_client = true, .seq = seq, .ack = kServerIsn + 1, .len = kMss, .tsval = ts ? 101 + i : 0u, .port = port}, t + 300 * kMs);
        t += 301 * kMs;
        tp.cross({.from_client = false, .seq = kServerIsn + 1, .ack = kIsn + 1 + n * kMss, .tsval = ts ? 2000 + i : 0u, .port = port}, t);
    }
    return t;
}

const DeviceFinding* find(const DeviceReport& r, std::string_view event, std::string_view kind) {
    for (const DeviceFinding& f : r.findings) {
        if (f.event == event && f.kind == kind) return &f;
    }
    return nullptr;
}

std::vector<std::string> warnings(const DeviceReport& r) {
    std::vector<std::string> out;
    for (const DeviceFinding& f : r.findings) {
        if (f.severity != Severity::kInfo) out.push_back(std::string(f.event) + "/" + f.kind + ": " + f.summary);
    }
    return out;
}

TEST(Compare, HealthyRouterIsQuietIPv4AndIPv6) {
    for (const bool v6 : {false, true}) {
        TwoPoints tp({.ipv6 = v6});
        upload(tp, 1'000 * kMs, 20);
        const Comparison c = tp.compare();
        ASSERT_EQ(c.pairs.size(), 1u) << v6;
        EXPECT_EQ(c.matched_packets, tp.a().packets.size()) << v6;
        const DeviceReport r = tp.findings(c);
        EXPECT_TRUE(warnings(r).empty()) << v6 << ": " << (warnings(r).empty() ? "" : warnings(r)[0]);
        ASSERT_NE(find(r, "device.rewrote", "ttl"), nullptr);
        EXPECT_EQ(c.crossing_by[static_cast<unsigned>(CrossingBy::kTtl)], 2u);
        ASSERT_NE(find(r, "device.delay", "latency"), nullptr);
        EXPECT_NEAR(c.delay[0].median_us, 50.0, 1.0);
    }
}

// NAT and a clock three seconds apart; IPv6 without timestamps, where only time tells the
// lost first copy from the retransmission that passed.
TEST(Compare, IPv6BehindNatWithoutTimestampsMatchesTheCopyThatPassed) {
    TwoPoints tp({.ipv6 = true, .nat = true, .clock_b_ns = 3'000 * static_cast<std::int64_t>(kMs), .delay_ns = 200'000});
    upload(tp, 1'000 * kMs, 10, {4}, /*ts=*/false);
    const Comparison c = tp.compare();
    ASSERT_EQ(c.pairs.size(), 1u);
    EXPECT_TRUE(c.pairs[0].nat);
    EXPECT_TRUE(c.clock_known);
    EXPECT_NEAR(static_cast<double>(c.clock_offset_ns) / 1e6, 3'000.0, 0.5);
    EXPECT_NEAR(c.delay[0].median_us, 200.0, 1.0);
    // The first copy of segment 4 is the unmatched one at A; its retransmission is matched.
    std::vector<std::uint64_t> unmatched;
    for (const PointPacket& p : tp.a().packets) {
        if (p.match < 0) unmatched.push_back(p.number);
    }
    ASSERT_EQ(unmatched.size(), 1u);
    const PointPacket& lost = tp.a().packets[unmatched[0] - 1];
    EXPECT_EQ(lost.seq, kIsn + 1 + 4 * kMss);
    EXPECT_LT(lost.ts_ns, 1'100 * kMs) << "the first copy, not the retransmission 300 ms later";
    const DeviceReport r = tp.findings(c);
    const DeviceFinding* drop = find(r, "device.dropped", "scattered");
    ASSERT_NE(drop, nullptr);
    EXPECT_EQ(drop->packets, 1u);
    EXPECT_EQ(drop->severity, Severity::kInfo) << "one packet of 30 is no warning";
    ASSERT_NE(find(r, "device.rewrote", "nat"), nullptr);
}

// A sequence-randomising firewall: with SACK rewritten it is routine; without, the
// server's SACK blocks reach the client outside anything it sent.
TEST(Compare, SequenceShiftWithAndWithoutSackRewriting) {
    for (const bool rewrite : {true, false}) {
        TwoPoints tp({.seq_shift = 0x40000000, .rewrite_sack = rewrite});
        std::uint64_t t = upload(tp, 1'000 * kMs, 6);
        const std::uint32_t hole = kIsn + 1 + 6 * kMss;
        for (unsigned i = 0; i < 3; ++i, t += kMs) {  // dup ACKs with SACK for data past a hole
            tp.cross({.from_client = false, .seq = kServerIsn + 1, .ack = hole, .tsval = 3000 + i,
                      .sack = {{hole + kMss, hole + (2 + i) * kMss}}},
                     t);
        }
        const Comparison c = tp.compare();
        ASSERT_EQ(c.pairs.size(), 1u);
        EXPECT_EQ(c.pairs[0].seq_offset[0], 0x40000000u);
        EXPECT_EQ(c.matched_packets, tp.a().packets.size()) << "every packet matched across the shift";
        const DeviceReport r = tp.findings(c);
        const DeviceFinding* shift = find(r, "device.rewrote", "sequence");
        ASSERT_NE(shift, nullptr) << rewrite;
        EXPECT_EQ(shift->severity, rewrite ? Severity::kInfo : Severity::kCritical);
        EXPECT_NE(shift->evidence.find(rewrite ? "\"sack_blocks_rewritten\":3" : "\"sack_blocks_not_rewritten\":3"),
                  std::string::npos)
            << shift->evidence;
    }
}

// A transparent bridge leaves the TTL alone: the two ways' time differences say which way
// each direction crossed.
TEST(Compare, BridgeCrossingDecidedByTiming) {
    TwoPoints tp({.ttl_decrement = false, .clock_b_ns = -700 * static_cast<std::int64_t>(kMs)});
    upload(tp, 1'000 * kMs, 10);
    const Comparison c = tp.compare();
    ASSERT_EQ(c.pairs.size(), 1u);
    EXPECT_EQ(c.pairs[0].crossing[0], Crossing::kAToB);
    EXPECT_EQ(c.pairs[0].crossing[1], Crossing::kBToA);
    EXPECT_EQ(c.crossing_by[static_cast<unsigned>(CrossingBy::kTiming)], 2u);
    EXPECT_NEAR(static_cast<double>(c.clock_offset_ns) / 1e6, -700.0, 0.5);
    const DeviceReport r = tp.findings(c);
    EXPECT_TRUE(warnings(r).empty());
    EXPECT_EQ(find(r, "device.rewrote", "ttl"), nullptr);
}

// The capture at B stopped early: A's later segments were acknowledged, so they crossed.
TEST(Compare, CaptureThatEndsEarlyIsNotADrop) {
    TwoPoints tp({});
    std::uint64_t t = upload(tp, 1'000 * kMs, 10);
    for (unsigned i = 0; i < 20; ++i, t += 50 * kMs) {
        const std::uint32_t seq = kIsn + 1 + (10 + i) * kMss;
        tp.only_at_a({.from_client = true, .seq = seq, .ack = kServerIsn + 1, .len = kMss, .tsval = 500 + i}, t);
        tp.only_at_a({.from_client = false, .seq = kServerIsn + 1, .ack = seq + kMss, .tsval = 1500 + i}, t + kMs);
    }
    const Comparison c = tp.compare();
    const DeviceReport r = tp.findings(c);
    EXPECT_TRUE(warnings(r).empty()) << warnings(r)[0];
    EXPECT_EQ(find(r, "device.dropped", "scattered"), nullptr);
    EXPECT_EQ(r.counts.unseen_at_edges, 40u) << "the segments and their ACKs, judged neither dropped nor injected";
}

// The capture at B lost a segment under load mid-flow: the server acknowledged it, the
// client never sent it again.
TEST(Compare, CaptureLossIsACaptureGapNotADrop) {
    TwoPoints tp({});
    std::uint64_t t = upload(tp, 1'000 * kMs, 4);
    for (unsigned i = 0; i < 6; ++i, t += 2 * kMs) {
        const std::uint32_t seq = kIsn + 1 + (4 + i) * kMss;
        tp.cross({.from_client = true, .seq = seq, .ack = kServerIsn + 1, .len = kMss, .tsval = 500 + i}, t, false, i == 2);
        tp.cross({.from_client = false, .seq = kServerIsn + 1, .ack = seq + kMss, .tsval = 1500 + i}, t + kMs);
    }
    upload(tp, t + 100 * kMs, 0, {}, true, 40001);  // another connection keeps B capturing afterwards
    const DeviceReport r = tp.findings(tp.compare());
    EXPECT_EQ(r.counts.capture_gaps, 1u);
    EXPECT_EQ(find(r, "device.dropped", "scattered"), nullptr);
}

// From one moment on the device passes nothing from the server, while the client's
// segments still get through.
TEST(Compare, OneDirectionCutOff) {
    TwoPoints tp({});
    std::uint64_t t = upload(tp, 1'000 * kMs, 5);
    for (unsigned i = 0; i < 6; ++i, t += 200 * kMs) {
        const std::uint32_t seq = kIsn + 1 + (5 + i) * kMss;
        tp.cross({.from_client = true, .seq = seq, .ack = kServerIsn + 1, .len = kMss, .tsval = 600 + i}, t);
        tp.cross({.from_client = false, .seq = kServerIsn + 1, .ack = seq + kMss, .tsval = 1600 + i}, t + kMs, true);
    }
    upload(tp, t + 100 * kMs, 0, {}, true, 40001);
    const DeviceReport r = tp.findings(tp.compare());
    const DeviceFinding* cut = find(r, "device.dropped", "one_direction");
    ASSERT_NE(cut, nullptr) << (warnings(r).empty() ? "" : warnings(r)[0]);
    EXPECT_EQ(cut->packets, 6u);
    EXPECT_EQ(cut->way, 1u) << "the server's packets, crossing from B to A";
    EXPECT_EQ(cut->severity, Severity::kCritical);
}

// New connections' SYNs die in the device while an established one keeps going: the state
// table. Seen at A only; the first sender of each is on A's side.
TEST(Compare, SynsOfManyConnectionsDroppedAtOnce) {
    for (const bool v6 : {false, true}) {
        TwoPoints tp({.ipv6 = v6});
        const std::uint64_t t = upload(tp, 1'000 * kMs, 30);
        for (unsigned c = 0; c < 6; ++c) {
            for (const unsigned after_ms : {0u, 1'000u, 3'000u}) {  // Linux: again at +1 s, +3 s
                tp.cross({.from_client = true, .seq = 77'000 + c, .flags = kSyn, .tsval = 10 + after_ms,
                          .port = static_cast<std::uint16_t>(41000 + c)},
                         1'010 * kMs + c * kMs + after_ms * kMs, true);
            }
        }
        upload(tp, t + 4'000 * kMs, 3, {}, true, 40001);  // the established traffic goes on past the last SYN
        const DeviceReport r = tp.findings(tp.compare());
        const DeviceFinding* syns = find(r, "device.dropped", "syn");
        ASSERT_NE(syns, nullptr) << v6;
        EXPECT_EQ(syns->packets, 18u);
        EXPECT_EQ(syns->conns[0].size(), 6u);
        EXPECT_NE(syns->evidence.find("\"many_at_once\":true"), std::string::npos) << syns->evidence;
        EXPECT_EQ(warnings(r).size(), 1u) << "nothing else: " << warnings(r).back();
    }
}

// A black hole that also ate a pure ACK: the large segments are named with the bracket, the
// ACK is an ACK gap, not a reason to miss them.
TEST(Compare, LargeSegmentsDroppedBesideAnAck) {
    TwoPoints tp({});
    std::uint64_t t = upload(tp, 1'000 * kMs, 0) + 100 * kMs;  // clear of the captures' first 10 ms
    std::uint32_t seq = kIsn + 1;
    for (unsigned i = 0; i < 3; ++i, t += 2 * kMs) {  // small segments pass
        tp.cross({.from_client = true, .seq = seq, .ack = kServerIsn + 1, .len = 500, .tsval = 300 + i}, t);
        seq += 500;
        tp.cross({.from_client = false, .seq = kServerIsn + 1, .ack = seq, .tsval = 1300 + i}, t + kMs);
    }
    tp.cross({.from_client = true, .seq = seq, .ack = kServerIsn + 1, .tsval = 350}, t, true);  // a lone ACK lost
    for (unsigned round = 0; round < 3; ++round, t += (200u << round) * kMs) {  // large ones never pass
        for (unsigned i = 0; i < 3; ++i) {
            tp.cross({.from_client = true, .seq = seq + i * kMss, .ack = kServerIsn + 1, .len = kMss, .tsval = 400 + round},
                     t + i * kMs, true);
        }
    }
    upload(tp, t + 100 * kMs, 0, {}, true, 40001);
    const DeviceReport r = tp.findings(tp.compare());
    const DeviceFinding* large = find(r, "device.dropped", "large");
    ASSERT_NE(large, nullptr) << (warnings(r).empty() ? "" : warnings(r)[0]);
    EXPECT_EQ(large->packets, 9u);
    EXPECT_NE(large->evidence.find("\"largest_delivered_ip_len\":552"), std::string::npos) << large->evidence;
    EXPECT_EQ(r.counts.ack_gaps, 1u);
    EXPECT_EQ(warnings(r).size(), 1u);
}

// A device that forgot a flow during a silence: the first packet after it and its resends
// (RTO back-off) never leave. Across shapes: IPv4/IPv6, LAN and satellite round trips, the
// client's or the server's packet lost (crossing A to B or B to A), and captures that end
// with the resends (the loss shown by the sender resending; the last copy unjudged) or go on
// with another flow.
TEST(Compare, AfterIdleAcrossShapes) {
    for (const bool v6 : {false, true}) {
        for (const std::uint64_t rtt : {kMs, 600 * kMs}) {
            for (const bool server_sends : {false, true}) {
                for (const bool capture_goes_on : {false, true}) {
                    TwoPoints tp({.ipv6 = v6, .delay_ns = rtt / 4});
                    std::uint64_t t = upload(tp, 1'000 * kMs, 0) + 100 * kMs;
                    std::uint32_t cseq = kIsn + 1, sseq = kServerIsn + 1;
                    for (unsigned i = 0; i < 10; ++i, t += rtt) {  // request and response, one per round trip
                        tp.cross({.from_client = true, .seq = cseq, .ack = sseq, .len = 100, .tsval = 200 + i}, t);
                        cseq += 100;
                        tp.cross({.from_client = false, .seq = sseq, .ack = cseq, .len = 100, .tsval = 900 + i}, t + rtt / 2);
                        sseq += 100;
                    }
                    t += 30'000 * kMs;  // the silence the device does not survive
                    for (unsigned k = 0; k < 4; ++k) {
                        const std::uint64_t at = t + ((1ull << k) - 1) * std::max<std::uint64_t>(1'000 * kMs, 3 * rtt);
                        if (server_sends) {
                            tp.cross({.from_client = false, .seq = sseq, .ack = cseq, .len = 100, .tsval = 5000}, at, true);
                        } else {
                            tp.cross({.from_client = true, .seq = cseq, .ack = sseq, .len = 100, .tsval = 5000}, at, true);
                        }
                    }
                    if (capture_goes_on) upload(tp, t + 20'000 * kMs, 0, {}, true, 40001);
                    const DeviceReport r = tp.findings(tp.compare());
                    const std::string shape = std::string(v6 ? "IPv6" : "IPv4") + (rtt > kMs ? " WAN" : " LAN") +
                                              (server_sends ? " server's packet" : " client's packet") +
                                              (capture_goes_on ? "" : ", capture ends");
                    const DeviceFinding* idle = find(r, "device.dropped", "after_idle");
                    ASSERT_NE(idle, nullptr) << shape << (warnings(r).empty() ? "" : ": " + warnings(r)[0]);
                    // Where the capture ends with the last resend, nothing says that copy was lost
                    // rather than answered after the capture stopped: it is left unjudged.
                    EXPECT_EQ(idle->packets, capture_goes_on ? 4u : 3u) << shape;
                    EXPECT_EQ(r.counts.unseen_at_edges, capture_goes_on ? 0u : 1u) << shape;
                    EXPECT_EQ(idle->way, server_sends ? 1u : 0u) << shape;
                    EXPECT_NE(idle->evidence.find("\"longest_silence_s\":30."), std::string::npos) << shape << idle->evidence;
                    EXPECT_EQ(warnings(r).size(), 1u) << shape;
                }
            }
        }
    }
}

// MSS clamping is routine (info); removing SACK-permitted is not.
TEST(Compare, MssClampIsInfoOptionRemovalIsAWarning) {
    TwoPoints tp({.clamp_mss = 1400});
    upload(tp, 1'000 * kMs, 5);
    const DeviceReport r = tp.findings(tp.compare());
    const DeviceFinding* clamp = find(r, "device.rewrote", "mss_clamped");
    ASSERT_NE(clamp, nullptr);
    EXPECT_EQ(clamp->severity, Severity::kInfo);
    EXPECT_NE(clamp->evidence.find("\"before\":1460,\"after\":1400"), std::string::npos) << clamp->evidence;
    EXPECT_TRUE(warnings(r).empty());
}

// A reset the device forges toward the client after dropping its segment: TTL 64 where the
// server's own packets arrive with 63.
TEST(Compare, ForgedResetAfterADrop) {
    TwoPoints tp({});
    std::uint64_t t = upload(tp, 1'000 * kMs, 5);
    const std::uint32_t seq = kIsn + 1 + 5 * kMss;
    tp.cross({.from_client = true, .seq = seq, .ack = kServerIsn + 1, .len = kMss, .tsval = 700}, t, true);
    tp.inject_toward_client({.from_client = false, .seq = kServerIsn + 1, .ack = seq, .flags = kRst | kAck}, t + kMs);
    upload(tp, t + 100 * kMs, 0, {}, true, 40001);
    const DeviceReport r = tp.findings(tp.compare());
    const DeviceFinding* rst = find(r, "device.injected", "rst");
    ASSERT_NE(rst, nullptr);
    EXPECT_EQ(rst->way, 1u) << "it left toward A's side";
    EXPECT_NE(rst->evidence.find("\"ttl\":64,\"peer_ttl\":63"), std::string::npos) << rst->evidence;
    ASSERT_NE(find(r, "device.dropped", "rejected"), nullptr);
}

// Two points live: the comparison runs again and again over a growing window. A device
// finding is written when first seen and again only when it grows worse (one drop in 400
// is information, five in 720 a warning); the routine TTL decrement is written once.
TEST(LivePoints, AFindingIsWrittenOnceAndAgainWhenItGrowsWorse) {
    live::LivePoints live(TwoPointConfig{});
    TwoPoints tp(Device{});
    tp.feed_live(&live);
    std::vector<std::string> written;
    const auto write = [&](const DeviceFinding& f, const std::string& json) {
        written.push_back(std::string(f.event) + "/" + f.kind + "/" + std::string(to_string(f.severity)));
        EXPECT_NE(json.find("\"event\":\"" + std::string(f.event) + "\""), std::string::npos) << json;
    };
    const std::uint64_t t1 = upload(tp, 0, 400, {100}, /*ts=*/false, 40000);
    // Round one: everything older than the settling second is compared.
    tp.cross({.from_client = true, .seq = kIsn + 1 + 400 * kMss, .ack = kServerIsn + 1}, t1 + 3000 * kMs);
    live.compare(t1 + 3000 * kMs, false, write);
    const std::vector<std::string> first = written;
    EXPECT_NE(std::find(first.begin(), first.end(), "device.dropped/scattered/info"), first.end()) << ::testing::PrintToString(first);
    // Round two: four more connections of 80 segments, one dropped in each.
    std::uint64_t t2 = t1 + 4000 * kMs;
    for (std::uint16_t port = 40001; port <= 40004; ++port) t2 = upload(tp, t2 + 10 * kMs, 80, {40}, /*ts=*/false, port);
    live.compare(t2 + 1000 * kMs, true, write);


    const std::vector<std::string> second(written.begin() + static_cast<std::ptrdiff_t>(first.size()), written.end());
    EXPECT_NE(std::find(second.begin(), second.end(), "device.dropped/scattered/warning"), second.end())
        << ::testing::PrintToString(second);
    EXPECT_EQ(std::count_if(written.begin(), written.end(), [](const std::string& w) { return w.rfind("device.rewrote/ttl/", 0) == 0; }), 2)
        << ::testing::PrintToString(written);
    EXPECT_EQ(live.stats().comparisons, 2u);
    EXPECT_EQ(live.stats().findings, written.size());
}

}  // namespace
}  // namespace tcpsleuth::two_point
