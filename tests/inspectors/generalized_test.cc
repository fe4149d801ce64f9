// The edges of the generalized verdicts that the shape matrix (shapes_test.cc) does not
// reach: RST acceptability in SYN-SENT, weak RST evidence alone, the idle detector's
// judgement of rest when the sensor missed the ACK before the silence, loss and flow control
// that only look like idleness, one-way loss seen as data ignored by a live peer and its near
// misses, SACK showing a black hole's size dependence, steady resends that are not a timer,
// a peer that reads a scaled window raw, and the output filter on confidence.

#include <gtest/gtest.h>

#include <cstdio>

#include "dataplane/output.h"
#include "inspectors/output/event_format.h"
#include "tests/support/harness.h"

namespace tcpsleuth {
namespace {

using test::FrameBuilder;
using test::Harness;

// A connection between 198.18.1.2:40000 and 198.18.2.2:443 (or 2001:2::/48) with both sides'
// sequence numbers kept, plain options (MSS only) unless a test asks for more.
struct Flow {
    Harness& h;
    bool v6 = false;
    std::uint32_t cnxt = 1001, snxt = 5001;
    std::uint8_t server_ttl = 58;
    std::uint16_t server_id = 700;

    FrameBuilder c() const {
        FrameBuilder b;
        v6 ? b.ipv6("2001:2:1::2", "2001:2:2::2") : b.ipv4("198.18.1.2", "198.18.2.2");
        return b.tcp(40000, 443).ttl(64);
    }
    FrameBuilder s() {
        FrameBuilder b;
        v6 ? b.ipv6("2001:2:2::2", "2001:2:1::2") : b.ipv4("198.18.2.2", "198.18.1.2");
        return b.tcp(443, 40000).ttl(server_ttl).ip_id(server_id++);
    }
    void handshake(double t, std::uint8_t wscale = 0) {
        FrameBuilder syn = c().seq(1000).flags(kSyn).mss(1460);
        FrameBuilder synack = s().seq(5000).ack(1001).flags(kSyn | kAck).mss(1460);
        if (wscale != 0) {
            syn.nop().wscale(wscale);
            synack.nop().wscale(wscale);
        }
        h.feed(syn, t);
        h.feed(synack, t + 1);
        h.feed(c().seq(1001).ack(5001), t + 2);
    }
    std::uint64_t cdata(double t, std::uint32_t len) {
        const auto n = h.feed(c().seq(cnxt).ack(snxt).flags(kAck | kPsh).payload(len), t);
        cnxt += len;
        return n;
    }
    // The client's data from `seq` again (a retransmission).
    std::uint64_t cresend(double t, std::uint32_t seq, std::uint32_t len) {
        return h.feed(c().seq(seq).ack(snxt).flags(kAck | kPsh).payload(len), t);
    }
    std::uint64_t sdata(double t, std::uint32_t len) {
        const auto n = h.feed(s().seq(snxt).ack(cnxt).flags(kAck | kPsh).payload(len), t);
        snxt += len;
        return n;
    }
    std::uint64_t sack_(double t, std::uint32_t ack, std::uint16_t window = 65535) {
        return h.feed(s().seq(snxt).ack(ack).window(window), t);
    }
};

template <typename T>
std::vector<T> details(const Harness& h) {
    std::vector<T> out;
    for (const Event& e : h.events(T::kName)) out.push_back(std::get<T>(e.detail));
    return out;
}

// ---- the tracker: RST in SYN-SENT ---------------------------------------------------------------

TEST(Tracker, RstAcknowledgingTheIsnIsIgnoredAndTheHandshakeGoesOn) {
    Harness h;
    Flow f{h};
    h.feed(f.c().seq(1000).flags(kSyn).mss(1460), 0);
    h.feed(f.s().seq(0).ack(1000).flags(kRst | kAck), 1);  // ACK = ISN: no stack sends this; the client drops it
    h.feed(f.s().seq(5000).ack(1001).flags(kSyn | kAck).mss(1460), 10);
    h.feed(f.c().seq(1001).ack(5001), 11);
    EXPECT_EQ(h.counter(Counter::kTcpHandshakeRefused), 0u);
    EXPECT_EQ(h.counter(Counter::kTcpHandshakeCompleted), 1u);
    EXPECT_EQ(h.only_flow().common.state, TcpState::kEstablished);
    const auto ev = details<RstInjected>(h);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].race, RstRace::kBeforeSynAck);
    EXPECT_TRUE(ev[0].ack_wrong);
}

TEST(Tracker, RstAcknowledgingIsnPlusOneRefusesTheConnection) {
    Harness h;
    Flow f{h};
    h.feed(f.c().seq(1000).flags(kSyn).mss(1460), 0);
    h.feed(f.s().seq(0).ack(1001).flags(kRst | kAck), 10);
    h.finish();
    EXPECT_EQ(h.counter(Counter::kTcpHandshakeRefused), 1u);
    EXPECT_TRUE(h.events(RstInjected::kName).empty()) << "a genuine refusal, nothing to compare it with";
}

// ---- rst.injected: weak evidence alone ------------------------------------------------------

TEST(Rst, WrongAckAloneIsReportedAtLowConfidenceWhenTheFlowEnds) {
    Harness h;
    Flow f{h};
    h.feed(f.c().seq(1000).flags(kSyn).mss(1460), 0);
    const auto rst = h.feed(f.s().seq(0).ack(1000).flags(kRst | kAck), 1);
    EXPECT_TRUE(h.events(RstInjected::kName).empty()) << "a SYN-ACK may still come to compare it with";
    h.finish_at(5000);
    const auto ev = h.events(RstInjected::kName);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(std::get<RstInjected>(ev[0].detail).race, RstRace::kAloneWrongAck);
    EXPECT_EQ(std::get<RstInjected>(ev[0].detail).expected_ack, 1001u);
    EXPECT_EQ(ev[0].confidence, Confidence::kLow);
    EXPECT_EQ(ev[0].packets.nums[0], rst);
}

TEST(Rst, OneHopOffAConstantTtlNeedsEnoughPackets) {
    for (const bool enough : {false, true}) {
        Harness h;
        Flow f{h, true};  // IPv6: no IP ID to add to the evidence
        f.handshake(0);
        for (int i = 0; i < (enough ? 4 : 1); ++i) {
            f.cdata(10 + i * 10, 100);
            f.sdata(15 + i * 10, 100);
        }
        h.feed(f.s().ttl(59).seq(f.snxt).flags(kRst), 100);  // one hop nearer than the server's 58
        h.finish();
        const auto ev = h.events(RstInjected::kName);
        if (!enough) {
            EXPECT_TRUE(ev.empty()) << "one hop off a TTL seen twice proves nothing";
            continue;
        }
        ASSERT_EQ(ev.size(), 1u);
        EXPECT_TRUE(std::get<RstInjected>(ev[0].detail).ttl_one_hop);
        EXPECT_EQ(ev[0].confidence, Confidence::kLow);
        EXPECT_EQ(ev[0].severity, Severity::kWarning);
    }
}

// ---- idle: what rest means -------------------------------------------------------------------

TEST(Idle, TheSegmentAfterTheGapVouchesForAnAckTheSensorMissed) {
    Harness h;
    Flow f{h};
    f.handshake(0);
    f.cdata(10, 100);
    f.sdata(11, 200);  // acknowledges the request
    // The client's ACK of the response is lost before the sensor. After 8 s of silence its
    // next request acknowledges the response: the flow was at rest all along.
    const auto first = f.cdata(8011, 100);
    const std::uint32_t seq = f.cnxt - 100;
    f.cresend(8211, seq, 100);
    f.cresend(8611, seq, 100);
    const auto ev = h.events(IdleTimeoutDrop::kName);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].packets.nums[0], first);
}

TEST(Idle, ABackOffGapInALossEpisodeIsNotIdleness) {
    Harness h;
    Flow f{h};
    f.handshake(0);
    f.cdata(10, 100);
    f.sack_(11, f.cnxt);
    const std::uint32_t seq = f.cnxt;
    f.cdata(20, 100);  // lost; resent with back-off, the gaps growing past several seconds
    double t = 20;
    for (int k = 0; k < 6; ++k) {
        t += 200.0 * (1 << k);
        f.cresend(t, seq, 100);
    }
    h.finish();
    EXPECT_TRUE(h.events(IdleTimeoutDrop::kName).empty());
}

TEST(Idle, ASilenceBehindAWindowSmallerThanASegmentIsFlowControl) {
    Harness h;
    Flow f{h};
    f.handshake(0);
    f.cdata(10, 1000);
    f.sack_(11, f.cnxt, 600);  // the receiver's window: 600 bytes, less than its MSS
    // The sender waits 5 s (its persist timer), then sends what fits; the receiver has gone.
    const std::uint32_t seq = f.cnxt;
    f.cdata(5011, 600);
    f.cresend(10511, seq, 600);
    f.cresend(16011, seq, 600);
    h.finish();
    EXPECT_TRUE(h.events(IdleTimeoutDrop::kName).empty());
}

TEST(Idle, CopiesOfTheFirstSegmentAreNotRetransmissions) {
    Harness h;
    Flow f{h};
    f.handshake(0);
    f.cdata(10, 100);
    f.sack_(11, f.cnxt);
    const std::uint32_t seq = f.cnxt;
    f.cdata(7011, 100);
    // A capture that holds every frame several times (two taps merged): copies 1 ms apart.
    for (double t : {7012.0, 7013.0, 7014.0}) f.cresend(t, seq, 100);
    f.sack_(7080, f.cnxt);
    h.finish();
    EXPECT_TRUE(h.events(IdleTimeoutDrop::kName).empty());
}

// ---- path.one_way_loss: data ignored by a live peer -----------------------------------------

// The client's request goes unanswered, resent with back-off, while the server keeps sending
// new data that never acknowledges it: the client's packets stop after the sensor.
void ignored_request(Harness& h, Flow& f, bool server_talks, std::uint32_t len, bool window_zero) {
    f.handshake(0);
    f.cdata(10, 300);  // a 300-byte request gets through
    f.sack_(11, f.cnxt, window_zero ? 0 : 65535);
    const std::uint32_t seq = f.cnxt;
    const std::uint32_t ack = f.snxt;
    f.cnxt += len;
    double t = 100;
    h.feed(f.c().seq(seq).ack(ack).flags(kAck | kPsh).payload(len), t);
    for (int k = 0; k < 5; ++k) {
        t += 300.0 * (1 << k);
        if (server_talks) {
            h.feed(f.s().seq(f.snxt).ack(seq).flags(kAck | kPsh).payload(50).window(window_zero ? 0 : 65535), t - 50);
            f.snxt += 50;
        }
        h.feed(f.c().seq(seq).ack(ack).flags(kAck | kPsh).payload(len), t);
    }
    h.finish();
}

TEST(OneWay, DataIgnoredWhileThePeerKeepsTalking) {
    Harness h;
    Flow f{h};
    ignored_request(h, f, true, 300, false);
    const auto ev = h.events(PathOneWayLoss::kName);
    ASSERT_EQ(ev.size(), 1u);
    const auto& d = std::get<PathOneWayLoss>(ev[0].detail);
    EXPECT_FALSE(d.acknowledged);
    EXPECT_EQ(d.sender, Side::kClient);
    EXPECT_EQ(d.lost_from, Side::kClient);
    EXPECT_EQ(ev[0].confidence, Confidence::kMedium);
    EXPECT_EQ(ev[0].where, Where::kDownstream);
}

TEST(OneWay, NearMissesOfIgnoredData) {
    {
        Harness h;  // a silent peer: dead or gone, not one-way
        Flow f{h};
        ignored_request(h, f, false, 300, false);
        EXPECT_TRUE(h.events(PathOneWayLoss::kName).empty());
    }
    {
        Harness h;  // a closed window: the resends are probes' business
        Flow f{h};
        ignored_request(h, f, true, 300, true);
        EXPECT_TRUE(h.events(PathOneWayLoss::kName).empty());
    }
    {
        Harness h;  // larger than anything this sender got through: mtu.blackhole's question
        Flow f{h};
        ignored_request(h, f, true, 1400, false);
        EXPECT_TRUE(h.events(PathOneWayLoss::kName).empty());
    }
}

TEST(OneWay, AFinRepeatedOnEveryAckIsNotATimer) {
    // A stack that sets FIN on each ACK while its FIN is unacknowledged: resent at the pace
    // of the peer's data, not backing off (zeek's reassembly.pcap does this).
    Harness h;
    Flow f{h};
    f.handshake(0);
    h.feed(f.s().seq(f.snxt).ack(f.cnxt).flags(kAck | kFin), 10);
    for (int i = 0; i < 6; ++i) {
        f.cdata(100 + i * 80.0, 1000);
        h.feed(f.s().seq(f.snxt).ack(f.cnxt).flags(kAck | kFin), 100 + i * 80.0 + 1);
    }
    h.finish();
    EXPECT_TRUE(h.events(PathOneWayLoss::kName).empty());
}

// ---- mtu.blackhole: SACK shows the size -------------------------------------------------------

TEST(Mtu, ASmallerSegmentSackedWhileTheLargeOneIsLostIsFirm) {
    Harness h;
    Flow f{h};
    h.feed(f.c().seq(1000).flags(kSyn).mss(1460).sack_perm(), 0);
    h.feed(f.s().seq(5000).ack(1001).flags(kSyn | kAck).mss(1460).sack_perm(), 1);
    h.feed(f.c().seq(1001).ack(5001), 2);
    const std::uint32_t head = f.cnxt;
    f.cdata(10, 1460);  // lost
    f.cdata(10.1, 200);  // the write's tail: it gets through
    h.feed(f.s().seq(f.snxt).ack(head).nop().nop().sack({{head + 1460, head + 1660}}), 12);
    for (double t : {210.0, 610.0, 1410.0}) f.cresend(t, head, 1460);
    const auto ev = h.events(MtuBlackhole::kName);
    ASSERT_EQ(ev.size(), 1u);
    const auto& d = std::get<MtuBlackhole>(ev[0].detail);
    EXPECT_TRUE(d.delivered_after);
    EXPECT_EQ(d.delivered_payload, 200);
    EXPECT_EQ(ev[0].confidence, Confidence::kHigh);
}

TEST(Mtu, ResendsAtASteadyPaceAreNotTheTimer) {
    Harness h;
    Flow f{h};
    f.handshake(0);
    const std::uint32_t head = f.cnxt;
    f.cdata(10, 1460);
    // Every 100 ms, five times: something other than a backing-off RTO drives these.
    for (int i = 1; i <= 5; ++i) f.cresend(10 + i * 100.0, head, 1460);
    h.finish();
    EXPECT_TRUE(h.events(MtuBlackhole::kName).empty());
}

// ---- window scaling seen from beyond the device -----------------------------------------------

TEST(Window, APeerSendingExactlyTheRawWindowNeverGotTheScale) {
    Harness h;
    Flow f{h};
    f.handshake(0, 7);  // both SYNs carry window scale 7 at the sensor
    for (int i = 0; i < 4; ++i) {
        const std::uint16_t raw = static_cast<std::uint16_t>(72 + i);
        f.sack_(10 + i * 200.0, f.cnxt, raw);  // raw windows of 72-75: 9-10 KB scaled
        f.cdata(11 + i * 200.0, raw);          // the client sends exactly the raw value
    }
    const auto ev = h.events(WindowScaleMismatch::kName);
    ASSERT_EQ(ev.size(), 1u);
    const auto& d = std::get<WindowScaleMismatch>(ev[0].detail);
    EXPECT_TRUE(d.reader_capped);
    EXPECT_EQ(d.scaling_side, Side::kServer);
    EXPECT_EQ(ev[0].where, Where::kDownstream);
    const auto strip = h.events(OptionsStripped::kName);
    ASSERT_EQ(strip.size(), 1u);
    EXPECT_EQ(std::get<OptionsStripped>(strip[0].detail).side, Side::kServer);
    EXPECT_EQ(strip[0].where, Where::kDownstream);
}

// Found by fuzz_event_json: a window scale option's byte can say up to 255. RFC 7323
// section 2.3 uses anything above 14 as 14; the tracker keeps the shift in use, so the
// finding reports 14, its summary's "scales to" figure is the raw window shifted by 14 (not a
// shift past 31 bits), and a byte of 255 is a shift, not "no option". IPv4 and IPv6.
TEST(Window, AWindowScaleAbove14IsReportedAs14) {
    for (const bool v6 : {false, true}) {
        for (const std::uint8_t byte : {std::uint8_t{141}, std::uint8_t{255}}) {
            Harness h;
            Flow f{h};
            f.v6 = v6;
            f.handshake(0, byte);
            EXPECT_EQ(h.only_flow().common.dir[0].wscale, 14) << "v6 " << v6 << ", byte " << int(byte);
            for (int i = 0; i < 4; ++i) {
                const std::uint16_t raw = static_cast<std::uint16_t>(72 + i);
                f.sack_(10 + i * 200.0, f.cnxt, raw);
                f.cdata(11 + i * 200.0, raw);
            }
            const auto ev = h.events(WindowScaleMismatch::kName);
            ASSERT_EQ(ev.size(), 1u) << "v6 " << v6 << ", byte " << int(byte);
            EXPECT_EQ(std::get<WindowScaleMismatch>(ev[0].detail).shift, 14);
            EXPECT_NE(event_summary(ev[0]).find("not the 1179648 bytes it scales to"), std::string::npos) << event_summary(ev[0]);
        }
    }
}

TEST(Window, FlightsBelowTheRawWindowAreNotAReaderCapped) {
    Harness h;
    Flow f{h};
    f.handshake(0, 7);
    for (int i = 0; i < 6; ++i) {
        f.sack_(10 + i * 200.0, f.cnxt, 400);
        f.cdata(11 + i * 200.0, 100);  // small writes: the window does not shape them
    }
    h.finish();
    EXPECT_TRUE(h.events(WindowScaleMismatch::kName).empty());
}

// ---- window.receiver_limited during loss ---------------------------------------------------

TEST(ReceiverLimited, AWindowFilledByALossHoleIsNotTheReader) {
    Harness h;
    Flow f{h};
    f.handshake(0, 7);
    for (int round = 0; round < 6; ++round) {
        const double t = 10 + round * 100.0;
        const std::uint32_t hole = f.cnxt;
        for (int i = 0; i < 8; ++i) f.cdata(t + i * 0.01, 1000);
        // The first segment was lost: duplicate ACKs with SACK hold the ACK at the hole while
        // the window (64 x 128 = 8 KiB) fills.
        h.feed(f.s().seq(f.snxt).ack(hole).window(64).nop().nop().sack({{hole + 1000, f.cnxt}}), t + 1);
        f.cresend(t + 2, hole, 1000);  // fast retransmit
        f.sack_(t + 3, f.cnxt, 64);
    }
    h.finish();
    EXPECT_TRUE(h.events(WindowReceiverLimited::kName).empty());
}

// An overloaded tap misses packets, among them the SYNs of new connections on a reused
// 4-tuple: the data jumps to a new sequence space, far past the right edge the receiver last
// offered, and the flight measured across the jump (new data - old ACK) fills any window.
TEST(ReceiverLimited, DataPastTheOfferedRightEdgeIsASensorThatMissedPackets) {
    for (const bool v6 : {false, true}) {
        Harness h;
        Flow f{h, v6};
        f.handshake(0, 7);
        for (int lap = 0; lap < 6; ++lap) {
            const double t = 10 + lap * 100.0;
            f.cnxt += 0x10000000u;  // a new connection whose handshake the sensor missed
            f.snxt += 0x10000000u;
            for (int i = 0; i < 4; ++i) f.cdata(t + i * 5.0, 1000);
            f.sack_(t + 40, f.cnxt, 512);  // 40 ms of each 100 ms lap would look held back
        }
        h.finish();
        EXPECT_TRUE(h.events(WindowReceiverLimited::kName).empty()) << (v6 ? "IPv6" : "IPv4");
    }
}

// The same laps with the receiver really holding the window at the data it has (8 KiB,
// nothing more offered until it reads): the sender stops at the edge, four times and more.
TEST(ReceiverLimited, ASenderStoppedAtTheOfferedEdgeIsStillTheReader) {
    Harness h;
    Flow f{h};
    f.handshake(0, 7);
    for (int lap = 0; lap < 6; ++lap) {
        const double t = 10 + lap * 100.0;
        // 64 x 128 = 8192 bytes offered (from the second lap on): 8000 fill it.
        for (int i = 0; i < 8; ++i) f.cdata(t + i * 0.5, 1000);
        f.sack_(t + 45, f.cnxt, 64);  // read, and acknowledged, 40 ms later
    }
    h.finish();
    EXPECT_EQ(h.events(WindowReceiverLimited::kName).size(), 1u);
}

// ---- output.min_confidence ---------------------------------------------------------------------

TEST(Output, FindingsBelowTheMinimumConfidenceAreCountedNotWritten) {
    std::FILE* out = std::tmpfile();
    ASSERT_NE(out, nullptr);
    Report report;
    EventWriter w(out, report);
    w.set_min_confidence(Confidence::kMedium);
    int written = 0;
    for (const Confidence c : {Confidence::kLow, Confidence::kMedium, Confidence::kHigh, Confidence::kLow}) {
        Event e;
        e.confidence = c;
        e.severity = Severity::kWarning;
        e.detail = RstInjected{};
        written += w.write(e);
    }
    EXPECT_EQ(written, 2);
    std::fflush(out);
    EXPECT_EQ(std::ftell(out) > 0, true);
    std::rewind(out);
    int lines = 0;
    for (int ch; (ch = std::fgetc(out)) != EOF;) lines += ch == '\n';
    std::fclose(out);
    EXPECT_EQ(lines, 2);
    CoreCounters counters;
    const std::string json = report.json(RunInfo{}, counters);
    EXPECT_NE(json.find("\"min_confidence\":\"medium\",\"below_min_confidence\":2"), std::string::npos) << json;
}

}  // namespace
}  // namespace tcpsleuth
