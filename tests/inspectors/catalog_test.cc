// The diagnosis catalog on crafted packet sequences: each detector fires on its fault with
// the evidence a reader can check, and stays quiet on the near misses that look alike.

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <thread>

#include "inspectors/output/event_format.h"
#include "inspectors/evidence/idle_profiles.h"
#include "inspectors/evidence/syn_fingerprint.h"
#include "tests/support/harness.h"

namespace tcpsleuth {
namespace {

using test::FrameBuilder;
using test::Harness;

// One connection between 198.18.1.<c> and a server, tracking both sides' sequence numbers
// the way a real stack would, so each test writes only what matters to it.
struct Conn {
    Harness& h;
    std::string client, server;
    std::uint16_t cport, sport;
    std::uint32_t cnxt = 1001, snxt = 5001;  // next sequence numbers after the SYNs (ISNs 1000, 5000)
    std::uint8_t client_ttl = 64, server_ttl = 58;
    bool ts = false;  // both SYNs carried timestamps: every later segment does too (RFC 7323 3.2)

    Conn(Harness& harness, std::string c, std::string s, std::uint16_t cp = 40000, std::uint16_t sp = 443)
        : h(harness), client(std::move(c)), server(std::move(s)), cport(cp), sport(sp) {}

    FrameBuilder from_client() const {
        FrameBuilder b = FrameBuilder().ipv4(client, server).tcp(cport, sport).ttl(client_ttl);
        if (ts) b.nop().nop().timestamps(100, 200);
        return b;
    }
    FrameBuilder from_server() const {
        FrameBuilder b = FrameBuilder().ipv4(server, client).tcp(sport, cport).ttl(server_ttl);
        if (ts) b.nop().nop().timestamps(200, 100);
        return b;
    }
    static FrameBuilder& linux_opts(FrameBuilder& b) {
        return b.mss(1460).sack_perm().timestamps(1, 0).nop().wscale(7);
    }
    // Handshake with both SYNs as given; returns the SYN-ACK's packet number.
    std::uint64_t handshake(double t, FrameBuilder syn, FrameBuilder synack) {
        h.feed(syn.seq(1000).flags(kSyn), t);
        const auto n = h.feed(synack.seq(5000).ack(1001).flags(kSyn | kAck), t + 10);
        h.feed(from_client().seq(cnxt).ack(snxt), t + 20);
        return n;
    }
    std::uint64_t linux_handshake(double t) {
        FrameBuilder syn = from_client();
        FrameBuilder synack = from_server();
        ts = true;
        return handshake(t, linux_opts(syn), linux_opts(synack));
    }
    // Plain handshake: MSS only (no timestamps, so segments need no options).
    std::uint64_t plain_handshake(double t) {
        return handshake(t, from_client().mss(1460), from_server().mss(1460));
    }
    std::uint64_t client_data(double t, std::uint32_t len) {
        const auto n = h.feed(from_client().seq(cnxt).ack(snxt).flags(kAck | kPsh).payload(len), t);
        cnxt += len;
        return n;
    }
    std::uint64_t server_data(double t, std::uint32_t len, std::uint8_t ecn = 0) {
        const auto n = h.feed(from_server().seq(snxt).ack(cnxt).flags(kAck | kPsh).payload(len).ecn(ecn), t);
        snxt += len;
        return n;
    }
    std::uint64_t server_ack(double t, std::uint16_t window = 65535) {
        return h.feed(from_server().seq(snxt).ack(cnxt).window(window), t);
    }
    std::uint64_t client_ack(double t, std::uint16_t window = 65535) {
        return h.feed(from_client().seq(cnxt).ack(snxt).window(window), t);
    }
};

template <typename T>
std::vector<T> details(const Harness& h) {
    std::vector<T> out;
    for (const Event& e : h.events(T::kName)) out.push_back(std::get<T>(e.detail));
    return out;
}

std::size_t warnings(const Harness& h) {
    std::size_t n = 0;
    for (const Event& e : h.events()) n += e.severity != Severity::kInfo;
    return n;
}

std::uint64_t layout_of(FrameBuilder b) {
    const auto frame = b.build();
    PacketView v;
    EXPECT_EQ(parse_packet(frame.data(), static_cast<std::uint32_t>(frame.size()), LinkType::kEthernet, v),
              ParseStatus::kOk);
    return v.opts.layout;
}

// ---- NOP fill --------------------------------------------------------------------------------

TEST(NopFill, LinuxLayoutWithWindowScaleOverwrittenIsStripped) {
    FrameBuilder b = FrameBuilder().ipv4("198.18.1.1", "198.18.2.1").tcp(1, 2);
    const NopFill f = find_nop_fill(layout_of(b.mss(1460).sack_perm().timestamps(1, 0).nop().nop().nop().nop()));
    EXPECT_EQ(f.stack, StackGuess::kLinux);
    EXPECT_EQ(f.stripped, kOptWscale);
}

TEST(NopFill, RealLayoutsAreNeverStripped) {
    // Linux with SACK off writes NOP NOP where SACK_PERM would be: identical to SACK stripped,
    // so it is ambiguous and must not be called stripped.
    FrameBuilder linux_nosack = FrameBuilder().ipv4("198.18.1.1", "198.18.2.1").tcp(1, 2);
    NopFill f = find_nop_fill(layout_of(linux_nosack.mss(1460).nop().nop().timestamps(1, 0).nop().wscale(7)));
    EXPECT_TRUE(f.exact);
    EXPECT_EQ(f.stripped, 0);
    FrameBuilder windows = FrameBuilder().ipv4("198.18.1.1", "198.18.2.1").tcp(1, 2);
    f = find_nop_fill(layout_of(windows.mss(1460).nop().wscale(8).nop().nop().sack_perm()));
    EXPECT_EQ(f.stack, StackGuess::kWindows);
    EXPECT_EQ(f.stripped, 0);
    // An unknown stack with two NOPs before timestamps: alignment, not fill.
    FrameBuilder other = FrameBuilder().ipv4("198.18.1.1", "198.18.2.1").tcp(1, 2);
    f = find_nop_fill(layout_of(other.mss(1460).nop().wscale(8).nop().nop().timestamps(1, 0)));
    EXPECT_EQ(f.stripped, 0);
}

// ---- options ---------------------------------------------------------------------------------

TEST(Options, WindowScaleStrippedFromSynAckShowsAsNopFillAndScaleMismatch) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2");
    FrameBuilder syn = c.from_client();
    // The SYN-ACK's window scale overwritten by NOPs between the server and the sensor.
    FrameBuilder synack = c.from_server();
    // Linux without timestamps writes MSS NOP NOP SACK_PERM NOP WS; WS became NOPs.
    synack.mss(1460).nop().nop().sack_perm().nop().nop().nop().nop().window(65160);
    const auto synack_num = c.handshake(0, Conn::linux_opts(syn), synack);
    // The server believes scaling is on: 65160 >> 7 = 509, below one MSS, ACK after ACK.
    std::uint64_t last = 0;
    for (int i = 0; i < 4; ++i) {
        c.client_data(30 + i * 10, 509);
        last = h.feed(c.from_server().seq(c.snxt).ack(c.cnxt).window(509), 35 + i * 10);
    }
    h.finish();
    const auto stripped = h.events(OptionsStripped::kName);
    ASSERT_EQ(stripped.size(), 1u);
    const auto& s = std::get<OptionsStripped>(stripped[0].detail);
    EXPECT_EQ(s.option, OptionKind::kWscale);
    EXPECT_EQ(s.side, Side::kServer);
    EXPECT_EQ(s.evidence, kEvidenceNopFill);
    EXPECT_EQ(s.stack, StackGuess::kLinux);
    EXPECT_EQ(stripped[0].where, Where::kUpstream);
    EXPECT_EQ(stripped[0].packets.nums[0], synack_num);

    const auto mismatch = details<WindowScaleMismatch>(h);
    ASSERT_EQ(mismatch.size(), 1u);
    EXPECT_EQ(mismatch[0].scaling_side, Side::kServer);
    EXPECT_EQ(mismatch[0].syn_window, 65160);
    EXPECT_EQ(mismatch[0].tiny_windows, 4);
    EXPECT_EQ(mismatch[0].largest_window, 509);
    EXPECT_TRUE(mismatch[0].nop_fill);
    EXPECT_EQ(h.events(WindowScaleMismatch::kName)[0].severity, Severity::kCritical);
    EXPECT_EQ(h.events(WindowScaleMismatch::kName)[0].packets.nums[1], last);
}

TEST(Options, ServerThatLacksSackWithEveryClientIsNotStripped) {
    Harness h;
    for (int i = 0; i < 12; ++i) {
        Conn c(h, "198.18.1." + std::to_string(10 + i), "198.18.2.2", static_cast<std::uint16_t>(40000 + i));
        FrameBuilder syn = c.from_client();
        FrameBuilder synack = c.from_server();
        // Linux with net.ipv4.tcp_sack=0 answers without SACK_PERM, padding with NOP NOP.
        synack.mss(1460).nop().nop().timestamps(9, 1).nop().wscale(7);
        c.handshake(i * 100.0, Conn::linux_opts(syn), synack);
    }
    h.finish();
    EXPECT_TRUE(h.events(OptionsStripped::kName).empty());
    // Reported per server at the 1st and 10th flow, as information.
    const auto nn = details<OptionsNotNegotiated>(h);
    ASSERT_EQ(nn.size(), 2u);
    EXPECT_EQ(nn[0].option, OptionKind::kSackPerm);
    EXPECT_EQ(nn[0].server_flows, 1u);
    EXPECT_EQ(nn[1].server_flows, 10u);
    EXPECT_EQ(warnings(h), 0u);
}

TEST(Options, ServerAgreeingWithOtherClientsMakesADeclineAStrip) {
    Harness h;
    Conn ok(h, "198.18.1.2", "198.18.2.2", 40000);
    ok.linux_handshake(0);
    Conn bad(h, "198.18.1.3", "198.18.2.2", 40001);
    FrameBuilder syn = bad.from_client();
    FrameBuilder synack = bad.from_server();
    synack.mss(1460).nop().nop().timestamps(9, 1).nop().wscale(7);
    bad.handshake(100, Conn::linux_opts(syn), synack);
    h.finish();
    const auto ev = h.events(OptionsStripped::kName);
    ASSERT_EQ(ev.size(), 1u);
    const auto& d = std::get<OptionsStripped>(ev[0].detail);
    EXPECT_EQ(d.option, OptionKind::kSackPerm);
    EXPECT_EQ(d.side, Side::kClient);
    EXPECT_EQ(d.evidence, kEvidenceOtherClients);
    EXPECT_EQ(d.other_clients, 1u);
    EXPECT_EQ(ev[0].where, Where::kDownstream);
    EXPECT_EQ(ev[0].confidence, Confidence::kMedium);
}

TEST(Options, SackBlocksWithoutSackPermittedAreFarEndEvidence) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2");
    FrameBuilder syn = c.from_client();
    FrameBuilder synack = c.from_server();
    synack.mss(1460);  // SACK_PERM (and the rest) gone from the SYN-ACK before the sensor
    c.handshake(0, syn.mss(1460).sack_perm(), synack);
    c.client_data(30, 1000);
    c.cnxt += 1000;  // one segment lost before the server
    c.client_data(31, 1000);
    const auto sack_pkt =
        h.feed(c.from_server().seq(c.snxt).ack(2001).nop().nop().sack({{3001, 4001}}), 40);
    h.finish();
    const auto un = details<SackUnnegotiated>(h);
    ASSERT_EQ(un.size(), 1u);
    EXPECT_EQ(un[0].receiver, Side::kServer);
    EXPECT_FALSE(un[0].receiver_syn_had_perm);
    EXPECT_TRUE(un[0].sender_syn_had_perm);
    EXPECT_EQ(h.events(SackUnnegotiated::kName)[0].where, Where::kUpstream);
    const auto st = h.events(OptionsStripped::kName);
    ASSERT_EQ(st.size(), 1u);
    EXPECT_EQ(std::get<OptionsStripped>(st[0].detail).evidence, kEvidenceFarEnd);
    EXPECT_EQ(std::get<OptionsStripped>(st[0].detail).side, Side::kServer);
    EXPECT_EQ(st[0].packets.nums[0], sack_pkt);
    EXPECT_TRUE(h.events(SackInvalidBlocks::kName).empty());
}

TEST(Options, TimestampsVanishingMidFlow) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2");
    c.linux_handshake(0);
    c.client_data(25, 100);  // with timestamps
    c.ts = false;            // a device starts removing them from the client's segments
    for (int i = 0; i < 2; ++i) c.client_data(30 + i, 100);
    EXPECT_TRUE(h.events(OptionsStripped::kName).empty());
    c.client_data(40, 100);
    const auto ev = details<OptionsStripped>(h);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].option, OptionKind::kTimestamp);
    EXPECT_EQ(ev[0].evidence, kEvidenceTsVanished);
    EXPECT_EQ(ev[0].far_end_segments, 3u);
}

// ---- window ----------------------------------------------------------------------------------

TEST(Window, SmallSynWindowAndSmallLaterWindowsIsNotAScaleMismatch) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2");
    FrameBuilder syn = c.from_client();
    FrameBuilder synack = c.from_server();
    synack.mss(1460).window(400);  // a tiny embedded receiver that never scaled
    c.handshake(0, syn.mss(1460).wscale(7), synack);
    for (int i = 0; i < 6; ++i) {
        c.client_data(30 + i * 10, 400);
        c.server_ack(35 + i * 10, 400);
    }
    h.finish();
    EXPECT_TRUE(h.events(WindowScaleMismatch::kName).empty());
    EXPECT_TRUE(h.events(OptionsStripped::kName).empty());
}

TEST(Window, UnscaledWindowFullForSeveralRoundTripsIsLimited) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2");
    c.plain_handshake(0);  // RTT 20 ms at the sensor
    // Each round: 45 segments of 1448 bytes (65160 bytes, 99 % of 65535) then the ACK of all.
    double t = 100;
    for (int round = 0; round < 4; ++round) {
        for (int k = 0; k < 45; ++k) c.client_data(t + k * 0.01, 1448);
        t += 25;
        c.server_ack(t);
        t += 1;
    }
    h.finish();
    const auto ev = details<WindowLimited>(h);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].receiver, Side::kServer);
    EXPECT_EQ(ev[0].window, 65535u);
    EXPECT_EQ(ev[0].rounds, 4u);
    EXPECT_GE(ev[0].flight * 100, 65535u * 90);
}

TEST(Window, LossResetsTheLimitedCount) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2");
    c.plain_handshake(0);
    double t = 100;
    for (int round = 0; round < 4; ++round) {
        for (int k = 0; k < 45; ++k) c.client_data(t + k * 0.01, 1448);
        if (round == 2) h.feed(c.from_client().seq(c.cnxt - 1448).ack(c.snxt).payload(1448), t + 10);
        t += 25;
        c.server_ack(t);
        t += 1;
    }
    h.finish();
    EXPECT_TRUE(h.events(WindowLimited::kName).empty());
}

// ---- MTU -------------------------------------------------------------------------------------

TEST(Mtu, LargeSegmentsLostSmallDeliveredThenShrunkIsConfirmedBlackhole) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2");
    c.plain_handshake(0);
    c.client_data(30, 300);
    c.server_ack(40);  // 300-byte segment delivered
    const std::uint32_t lost_seq = c.cnxt;
    const auto first = c.client_data(50, 1448);
    // RTO backoff: 200, 400, 800 ms; never acknowledged.
    std::uint64_t third = 0;
    for (const double t : {250.0, 650.0, 1450.0}) {
        third = h.feed(c.from_client().seq(lost_seq).ack(c.snxt).payload(1448), t);
    }
    auto ev = h.events(MtuBlackhole::kName);
    ASSERT_EQ(ev.size(), 1u);
    auto d = std::get<MtuBlackhole>(ev[0].detail);
    EXPECT_FALSE(d.confirmed);
    EXPECT_EQ(d.lost_payload, 1448);
    EXPECT_EQ(d.lost_ip_len, 1488);
    EXPECT_EQ(d.delivered_payload, 300);
    EXPECT_EQ(d.retransmissions, 3);
    EXPECT_EQ(ev[0].confidence, Confidence::kMedium);
    EXPECT_EQ(ev[0].severity, Severity::kCritical);
    EXPECT_EQ(ev[0].packets.nums[1], third);
    (void)first;
    // Linux tcp_mtu_probing: the same bytes again at 1024, acknowledged.
    h.feed(c.from_client().seq(lost_seq).ack(c.snxt).payload(1024), 3050);
    h.feed(c.from_server().seq(c.snxt).ack(lost_seq + 1024), 3060);
    ev = h.events(MtuBlackhole::kName);
    ASSERT_EQ(ev.size(), 2u);
    d = std::get<MtuBlackhole>(ev[1].detail);
    EXPECT_TRUE(d.confirmed);
    EXPECT_EQ(d.delivered_payload, 1024);
    EXPECT_EQ(d.delivered_ip_len, 1064);
    EXPECT_EQ(ev[1].confidence, Confidence::kHigh);
    EXPECT_EQ(ev[1].occurrence, 2u);
}

TEST(Mtu, SameSizeDeliveredBeforeIsLossNotMtu) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2");
    c.plain_handshake(0);
    c.client_data(30, 1448);
    c.server_ack(40);  // 1448 bytes got through once
    const std::uint32_t lost_seq = c.cnxt;
    c.client_data(50, 1448);
    for (const double t : {250.0, 650.0, 1450.0, 3050.0}) {
        h.feed(c.from_client().seq(lost_seq).ack(c.snxt).payload(1448), t);
    }
    h.finish();
    EXPECT_TRUE(h.events(MtuBlackhole::kName).empty());
}

// A bulk sender keeps new segments in flight ahead of every ACK (the window never drains),
// so no ACK ever reaches its newest segment: the ones it does reach still prove 1448 bytes
// pass, and a later segment resent three times is loss, not the MTU. (A small first write,
// acknowledged, had proved only its own size.)
TEST(Mtu, BulkSenderWhoseWindowNeverDrainsProvedItsSize) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2");
    c.plain_handshake(0);
    c.client_data(20, 120);
    c.server_ack(25);
    std::vector<std::uint32_t> ends;
    double t = 30;
    for (int i = 0; i < 40; ++i) {
        c.client_data(t, 1448);
        ends.push_back(c.cnxt);
        // The ACK for the segment three before this one: always behind the newest.
        if (ends.size() > 3) h.feed(c.from_server().seq(c.snxt).ack(ends[ends.size() - 4]), t + 0.5);
        t += 1;
    }
    const std::uint32_t lost_seq = ends.back() - 1448;  // the newest but one
    for (const double r : {t + 200, t + 600, t + 1400}) {
        h.feed(c.from_client().seq(lost_seq).ack(c.snxt).payload(1448), r);
    }
    h.feed(c.from_server().seq(c.snxt).ack(c.cnxt), t + 1410);
    h.finish();
    EXPECT_TRUE(h.events(MtuBlackhole::kName).empty());
}

TEST(Mtu, OneRetransmissionThenDeliveredIsOrdinaryLoss) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2");
    c.plain_handshake(0);
    c.client_data(30, 300);
    c.server_ack(40);
    const std::uint32_t lost_seq = c.cnxt;
    c.client_data(50, 1448);
    h.feed(c.from_client().seq(lost_seq).ack(c.snxt).payload(1448), 250);
    c.server_ack(260);
    h.finish();
    EXPECT_TRUE(h.events(MtuBlackhole::kName).empty());
}

TEST(Mtu, IcmpFragNeededIsInformationUntilTheSenderIgnoresIt) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2");
    c.plain_handshake(0);
    c.client_data(30, 300);
    c.server_ack(40);
    const std::uint32_t lost_seq = c.cnxt;
    const auto quoted = c.from_client().seq(lost_seq).ack(c.snxt).payload(1448).no_ethernet().build();
    c.client_data(50, 1448);
    const auto icmp = h.feed(FrameBuilder().ipv4("198.18.1.1", "198.18.1.2").icmp4_frag_needed(1280, quoted), 51);
    auto ev = h.events(IcmpFragNeeded::kName);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].severity, Severity::kInfo);
    EXPECT_EQ(std::get<IcmpFragNeeded>(ev[0].detail).mtu, 1280);
    EXPECT_EQ(std::get<IcmpFragNeeded>(ev[0].detail).sender, Side::kClient);
    EXPECT_EQ(ev[0].packets.nums[0], icmp);
    for (const double t : {250.0, 650.0}) h.feed(c.from_client().seq(lost_seq).ack(c.snxt).payload(1448), t);
    ev = h.events(IcmpFragNeeded::kName);
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[1].severity, Severity::kWarning);
    EXPECT_TRUE(std::get<IcmpFragNeeded>(ev[1].detail).ignored);
    EXPECT_EQ(std::get<IcmpFragNeeded>(ev[1].detail).larger_after, 2);
}

// ---- ECN -------------------------------------------------------------------------------------

void ecn_fallback_flow(Harness& h, const std::string& client, std::uint16_t port, double t) {
    Conn c(h, client, "198.18.2.2", port);
    h.feed(c.from_client().seq(1000).flags(kSyn | kEce | kCwr).mss(1460), t);
    h.feed(c.from_client().seq(1000).flags(kSyn).mss(1460), t + 1000);  // Linux clears ECE/CWR on retry
    h.feed(c.from_server().seq(5000).ack(1001).flags(kSyn | kAck).mss(1460), t + 1010);
    h.feed(c.from_client().seq(1001).ack(5001), t + 1020);
}

TEST(Ecn, SynBlackholeNeedsTheSameServerTwice) {
    Harness h;
    ecn_fallback_flow(h, "198.18.1.2", 40000, 0);
    EXPECT_TRUE(h.events(EcnSynBlackhole::kName).empty());  // one flow: could be one lost SYN
    ecn_fallback_flow(h, "198.18.1.3", 40001, 5000);
    const auto ev = h.events(EcnSynBlackhole::kName);
    ASSERT_EQ(ev.size(), 1u);
    const auto& d = std::get<EcnSynBlackhole>(ev[0].detail);
    EXPECT_EQ(d.server_flows, 2u);
    EXPECT_EQ(d.ecn_syns, 1u);
    EXPECT_EQ(d.waited_ms, 1010u);
    EXPECT_EQ(ev[0].confidence, Confidence::kHigh);
}

TEST(Ecn, ApplicationRetryWithNewIsnIsNotAnEcnBlackhole) {
    Harness h;
    for (int i = 0; i < 3; ++i) {
        Conn c(h, "198.18.1." + std::to_string(2 + i), "198.18.2.2", static_cast<std::uint16_t>(40000 + i));
        h.feed(c.from_client().seq(1000).flags(kSyn | kEce | kCwr), i * 5000.0);
        h.feed(c.from_client().seq(77777).flags(kSyn), i * 5000.0 + 1000);  // new ISN: the application
        h.feed(c.from_server().seq(5000).ack(77778).flags(kSyn | kAck), i * 5000.0 + 1010);
    }
    h.finish();
    EXPECT_TRUE(h.events(EcnSynBlackhole::kName).empty());
}

TEST(Ecn, DeclinedEcnIsInformation) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2");
    h.feed(c.from_client().seq(1000).flags(kSyn | kEce | kCwr), 0);
    h.feed(c.from_server().seq(5000).ack(1001).flags(kSyn | kAck), 10);
    h.finish();
    const auto ev = h.events(EcnNotNegotiated::kName);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].severity, Severity::kInfo);
    EXPECT_EQ(warnings(h), 0u);
}

// handshake() sets flags(kSyn) itself; this variant keeps the ECN bits.
void ecn_handshake(Harness& h, Conn& c) {
    h.feed(c.from_client().seq(1000).flags(kSyn | kEce | kCwr), 0);
    h.feed(c.from_server().seq(5000).ack(1001).flags(kSyn | kAck | kEce), 10);
    h.feed(c.from_client().seq(1001).ack(5001), 20);
}

TEST(Ecn, DataArrivingNotEctAfterAgreementIsBleached) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2");
    ecn_handshake(h, c);
    c.client_data(30, 100);
    for (int i = 0; i < 7; ++i) c.server_data(40 + i, 1448, kNotEct);
    EXPECT_TRUE(h.events(EcnBleached::kName).empty());
    c.server_data(50, 1448, kNotEct);
    const auto ev = h.events(EcnBleached::kName);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(std::get<EcnBleached>(ev[0].detail).sender, Side::kServer);
    EXPECT_EQ(std::get<EcnBleached>(ev[0].detail).not_ect, 8u);
    EXPECT_EQ(ev[0].where, Where::kUpstream);
}

TEST(Ecn, NotEctPureAcksAndRetransmissionsAreLegitimate) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2");
    ecn_handshake(h, c);
    for (int i = 0; i < 20; ++i) {
        c.server_data(40 + i * 10, 1448, kEct0);
        c.client_ack(45 + i * 10);  // pure ACKs: Not-ECT by RFC 3168 section 6.1.4
        h.feed(c.from_server().seq(c.snxt - 1448).ack(c.cnxt).payload(1448), 46 + i * 10);  // resent, Not-ECT
    }
    h.finish();
    EXPECT_TRUE(h.events(EcnBleached::kName).empty());
}

TEST(Ecn, CeAcknowledgedWithoutEceIsErased) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2");
    ecn_handshake(h, c);
    const auto ce = c.server_data(40, 1448, kCe);
    c.server_data(41, 1448, kEct0);
    c.client_ack(45);
    EXPECT_TRUE(h.events(EcnCeErased::kName).empty());
    c.server_data(50, 1448, kEct0);
    c.client_ack(55);
    const auto ev = h.events(EcnCeErased::kName);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(std::get<EcnCeErased>(ev[0].detail).acks_without_ece, 2u);
    EXPECT_EQ(ev[0].packets.nums[0], ce);
}

TEST(Ecn, CeEchoedWithEceIsFine) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2");
    ecn_handshake(h, c);
    c.server_data(40, 1448, kCe);
    for (int i = 0; i < 4; ++i) {
        h.feed(c.from_client().seq(c.cnxt).ack(c.snxt).flags(kAck | kEce), 45 + i);
    }
    h.finish();
    EXPECT_TRUE(h.events(EcnCeErased::kName).empty());
}

// ---- SACK ------------------------------------------------------------------------------------

TEST(Sack, BlocksOffsetByAConstantAreInvalid) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2");
    c.linux_handshake(0);
    // Upload; the firewall between the server and the sensor shifted the client's sequence
    // space by 0x40000000 and rewrote ACKs back, but not SACK edges.
    for (int i = 0; i < 5; ++i) c.client_data(30 + i, 1000);
    const std::uint32_t shift = 0x40000000;
    const auto p1 = h.feed(c.from_server().seq(c.snxt).ack(1001).nop().nop().sack({{2001 + shift, 3001 + shift}}), 40);
    EXPECT_TRUE(h.events(SackInvalidBlocks::kName).empty());
    const auto p2 = h.feed(c.from_server().seq(c.snxt).ack(1001).nop().nop().sack({{2001 + shift, 4001 + shift}}), 41);
    const auto ev = h.events(SackInvalidBlocks::kName);
    ASSERT_EQ(ev.size(), 1u);
    const auto& d = std::get<SackInvalidBlocks>(ev[0].detail);
    EXPECT_TRUE(d.stable);
    EXPECT_EQ(d.offset, static_cast<std::int64_t>(shift) + 1000);
    EXPECT_EQ(d.offset_spread, 0);
    EXPECT_EQ(d.receiver, Side::kServer);
    EXPECT_EQ(ev[0].severity, Severity::kCritical);
    EXPECT_EQ(ev[0].packets.nums[0], p1);
    EXPECT_EQ(ev[0].packets.nums[1], p2);
}

TEST(Sack, BlocksInsideTheSequenceSpaceAreValid) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2");
    c.linux_handshake(0);
    for (int i = 0; i < 5; ++i) c.client_data(30 + i, 1000);
    for (int i = 0; i < 4; ++i) {
        h.feed(c.from_server().seq(c.snxt).ack(1001).nop().nop()
                   .sack({{2001, 3001u + 1000u * static_cast<std::uint32_t>(i)}}), 40 + i);
    }
    h.finish();
    EXPECT_EQ(warnings(h), 0u);
}

TEST(Sack, DupAcksWithoutBlocksWhileSackIsAgreed) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2");
    c.linux_handshake(0);
    for (int i = 0; i < 5; ++i) c.client_data(30 + i, 1000);
    for (int i = 0; i < 4; ++i) {  // the first changes the window; three duplicates follow
        h.feed(c.from_server().seq(c.snxt).ack(1001).window(500), 40 + i);
    }
    const auto ev = details<SackMissing>(h);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].receiver, Side::kServer);
    EXPECT_EQ(ev[0].dup_acks, 3u);
}

TEST(Sack, DupAcksSeparatedByProgressAreNotALossEpisode) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2");
    c.linux_handshake(0);
    for (int i = 0; i < 6; ++i) c.client_data(30 + i, 1000);
    // Three duplicate ACKs without blocks, as many as the threshold, but each after an ACK
    // that advanced: never two in a row, so no loss episode.
    for (std::uint32_t run = 1; run <= 3; ++run) {
        const std::uint32_t ack = 1001 + 1000 * run;
        h.feed(c.from_server().seq(c.snxt).ack(ack).window(500), 40 + 10 * run);
        h.feed(c.from_server().seq(c.snxt).ack(ack).window(500), 41 + 10 * run);
    }
    h.finish();
    EXPECT_TRUE(h.events(SackMissing::kName).empty());
    EXPECT_EQ(h.counter(Counter::kTcpDupAcks), 3u);
}

TEST(Sack, ZeroWindowDupAcksAreNotLoss) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2");
    c.linux_handshake(0);
    for (int i = 0; i < 5; ++i) c.client_data(30 + i, 1000);
    for (int i = 0; i < 5; ++i) {
        h.feed(c.from_server().seq(c.snxt).ack(1001).window(0), 40 + i);
    }
    EXPECT_TRUE(h.events(SackMissing::kName).empty());
}

// ---- idle and RST ----------------------------------------------------------------------------

TEST(Idle, GapThenUnansweredRetransmissionsIsATimeoutDrop) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2");
    c.plain_handshake(0);
    c.client_data(30, 100);
    c.server_data(40, 200);
    c.client_ack(50);
    const std::uint32_t seq = c.cnxt;
    const auto first = c.client_data(50 + 400'000, 100);  // 400 s later
    h.feed(c.from_client().seq(seq).ack(c.snxt).payload(100), 400'250);
    EXPECT_TRUE(h.events(IdleTimeoutDrop::kName).empty());
    const auto second = h.feed(c.from_client().seq(seq).ack(c.snxt).payload(100), 400'650);
    const auto ev = h.events(IdleTimeoutDrop::kName);
    ASSERT_EQ(ev.size(), 1u);
    const auto& d = std::get<IdleTimeoutDrop>(ev[0].detail);
    EXPECT_EQ(d.gap_ms, 400'000u);
    EXPECT_EQ(d.retransmissions, 2u);
    EXPECT_EQ(d.first_sender, Side::kClient);
    EXPECT_EQ(d.bracket.killed_min_s, 400u);
    EXPECT_EQ(ev[0].packets.nums[0], first);
    EXPECT_EQ(ev[0].packets.nums[1], second);
    EXPECT_EQ(ev[0].severity, Severity::kCritical);
}

TEST(Idle, GapAnsweredIsSurvivedAndBracketsTheTimeout) {
    Harness h;
    Conn a(h, "198.18.1.2", "198.18.2.2", 40000);
    a.plain_handshake(0);
    a.client_data(30, 100);
    a.server_ack(40);
    a.client_data(40 + 300'000, 100);  // 300 s idle, then answered: the path kept the flow
    a.server_ack(300'050);
    Conn b(h, "198.18.1.3", "198.18.2.2", 40001);
    b.plain_handshake(400'000);
    b.client_data(400'030, 100);
    b.server_ack(400'040);
    const std::uint32_t seq = b.cnxt;
    b.client_data(400'040 + 360'000, 100);  // 360 s idle, then nothing comes back
    h.feed(b.from_client().seq(seq).ack(b.snxt).payload(100), 760'300);
    h.feed(b.from_client().seq(seq).ack(b.snxt).payload(100), 760'900);
    const auto ev = details<IdleTimeoutDrop>(h);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].bracket.survived_max_s, 300u);
    EXPECT_EQ(ev[0].bracket.killed_min_s, 360u);
    EXPECT_EQ(snap_to_device_default(ev[0].bracket), 350u);  // AWS NLB / NAT gateway
    EXPECT_EQ(devices_with_timeout(350), "aws_nat_gateway, aws_network_firewall and aws_nlb");
}

// [idle.profiles]: a site's own device with a 330 s timeout is inside the bracket
// (300, 360] and below the 350 s defaults, so it is the one named.
TEST(Idle, CustomProfileIsNamedInTheAdvice) {
    std::vector<IdleProfile> p = default_idle_profiles();
    p.push_back({"corp_firewall", 330});
    set_idle_profiles(p);
    const IdleBracket b{.survived_max_s = 300, .killed_min_s = 360};
    EXPECT_EQ(snap_to_device_default(b), 330u);
    Event e;
    e.detail = IdleStaleFlow{.idle_s = 400, .threshold_s = 350, .bracket = b};
    const std::string advice = event_advice(e);
    set_idle_profiles(default_idle_profiles());
    EXPECT_NE(advice.find("330 s idle timeout (the default of corp_firewall"), std::string::npos) << advice;
    EXPECT_EQ(snap_to_device_default(b), 350u) << "defaults restored";
}

TEST(Idle, KeepaliveAnsweredIsNotAFinding) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2");
    c.plain_handshake(0);
    c.client_data(30, 100);
    c.server_ack(40);
    for (int i = 1; i <= 5; ++i) {  // keepalive every 60 s: SND.NXT-1, no data, answered
        h.feed(c.from_client().seq(c.cnxt - 1).ack(c.snxt), 40 + i * 60'000.0);
        c.server_ack(45 + i * 60'000.0);
    }
    h.finish();
    EXPECT_EQ(warnings(h), 0u);
}

TEST(Idle, ResetAfterIdleFromADeviceIsAlsoInjected) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2");
    c.plain_handshake(0);
    c.client_data(30, 100);
    c.server_ack(40);
    const auto data = c.client_data(40 + 700'000, 100);
    // The RST claims the server (TTL 58 so far) but arrives with TTL 63: one hop away.
    const auto rst = h.feed(c.from_server().ttl(63).seq(c.snxt).flags(kRst), 700'045);
    h.finish();
    const auto ev = h.events(IdleResetAfterIdle::kName);
    ASSERT_EQ(ev.size(), 1u);
    const auto& d = std::get<IdleResetAfterIdle>(ev[0].detail);
    EXPECT_TRUE(d.prompted);
    EXPECT_FALSE(d.ttl_matches);
    EXPECT_EQ(d.rst_ttl, 63);
    EXPECT_EQ(ev[0].confidence, Confidence::kHigh);
    EXPECT_EQ(ev[0].packets.nums[0], data);
    EXPECT_EQ(ev[0].packets.nums[1], rst);
    const auto inj = details<RstInjected>(h);
    ASSERT_EQ(inj.size(), 1u);
    EXPECT_EQ(inj[0].rst_hops, 1);
    EXPECT_EQ(inj[0].peer_hops, 6);
}

TEST(Idle, KeepaliveSlowerThanAKnownTimeout) {
    Harness h;
    Conn a(h, "198.18.1.2", "198.18.2.2", 40000);  // dies after 360 s idle
    a.plain_handshake(0);
    a.client_data(30, 100);
    a.server_ack(40);
    const std::uint32_t seq = a.cnxt;
    a.client_data(360'050, 100);
    h.feed(a.from_client().seq(seq).ack(a.snxt).payload(100), 360'300);
    h.feed(a.from_client().seq(seq).ack(a.snxt).payload(100), 360'900);
    Conn b(h, "198.18.1.3", "198.18.2.2", 40001);  // keepalives every 7200 s
    b.plain_handshake(400'000);
    b.client_data(400'030, 100);
    b.server_ack(400'040);
    h.feed(b.from_client().seq(b.cnxt - 1).ack(b.snxt), 400'040 + 7'200'000.0);
    const auto ev = details<IdleKeepaliveTooSlow>(h);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_FALSE(ev[0].died);
    EXPECT_EQ(ev[0].interval_ms, 7'200'000u);
    EXPECT_EQ(ev[0].bracket.killed_min_s, 360u);
}

TEST(Idle, OpenFlowIdlePastTheThresholdAtTheEndIsStale) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2");
    c.plain_handshake(0);
    c.client_data(30, 100);
    c.server_ack(40);
    h.finish_at(40 + 400'000);
    const auto ev = h.events(IdleStaleFlow::kName);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(std::get<IdleStaleFlow>(ev[0].detail).idle_s, 400u);
    EXPECT_EQ(ev[0].severity, Severity::kInfo);
}

// A live sensor runs for days: a silent open flow is reported when the sweep finds it past
// the threshold, while other traffic goes on, not when it finally ends.
TEST(Idle, OpenFlowIdlePastTheThresholdIsStaleWhileStillOpen) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2");
    c.plain_handshake(0);
    c.client_data(30, 100);
    c.server_ack(40);
    Conn other(h, "198.18.1.3", "198.18.2.2", 40001);
    other.plain_handshake(100);
    other.client_data(349'000, 100);  // c silent 348.96 s: not yet
    EXPECT_TRUE(h.events(IdleStaleFlow::kName).empty());
    other.client_data(360'040, 100);  // 360 s
    auto ev = h.events(IdleStaleFlow::kName);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0].flow_id, 1u);
    EXPECT_EQ(std::get<IdleStaleFlow>(ev[0].detail).idle_s, 360u);
    EXPECT_EQ(ev[0].severity, Severity::kInfo);
    other.client_data(900'000, 100);  // reported once, however long it stays silent
    h.finish_at(1'000'000);
    EXPECT_EQ(h.events(IdleStaleFlow::kName).size(), 1u);
}

TEST(Rst, GenuineResetIsNotInjected) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2");
    c.plain_handshake(0);
    c.client_data(30, 100);
    h.feed(c.from_server().ttl(57).seq(c.snxt).flags(kRst), 40);  // one hop of route change
    h.finish();
    EXPECT_TRUE(h.events(RstInjected::kName).empty());
    EXPECT_EQ(warnings(h), 0u);
}

// ---- SYN drop surge --------------------------------------------------------------------------

// `established` flows keep moving data for 30 s; from t = 15 s new handshakes to `servers`
// distinct servers go unanswered (SYN at +0, retransmitted at +1 s).
void surge_scenario(Harness& h, int established, int failing, int servers) {
    // Everything is fed in time order, as a capture would be.
    std::vector<std::pair<double, std::function<void()>>> steps;
    std::vector<Conn> open;
    open.reserve(static_cast<std::size_t>(established) + 10);
    for (int i = 0; i < 10; ++i) {  // healthy new handshakes before the trouble
        open.emplace_back(h, "198.18.1.200", "198.18.2." + std::to_string(1 + i % servers),
                          static_cast<std::uint16_t>(30000 + i));
        open.back().plain_handshake(50.0 * i);
    }
    for (int i = 0; i < established; ++i) {
        open.emplace_back(h, "198.18.1." + std::to_string(10 + i), "198.18.3.1", static_cast<std::uint16_t>(41000 + i));
        open.back().plain_handshake(600 + i * 10.0);
    }
    for (int sec = 1; sec < 30; ++sec) {
        for (int i = 0; i < established; ++i) {
            Conn* c = &open[static_cast<std::size_t>(10 + i)];
            steps.emplace_back(1000.0 * sec + 500 + i, [c, sec, i] { c->client_data(1000.0 * sec + 500 + i, 100); });
            steps.emplace_back(1000.0 * sec + 520 + i, [c, sec, i] { c->server_ack(1000.0 * sec + 520 + i); });
        }
    }
    // The failing handshakes alternate between the two workers of a split harness (the
    // harness steers by steer_hash % 2), so each worker alone holds half of them whatever
    // the hash: the split test below depends on that, the others do not notice.
    std::uint16_t next_port = 50000;
    const auto port_on_worker = [&next_port](const std::string& server, unsigned worker) {
        for (;; ++next_port) {
            const auto f = FrameBuilder().ipv4("198.18.1.100", server).tcp(next_port, 443).flags(kSyn).build();
            PacketView v;
            Dir dir;
            if (parse_packet(f.data(), static_cast<std::uint32_t>(f.size()), LinkType::kEthernet, v) == ParseStatus::kOk &&
                steer_hash(make_flow_key(v, dir)) % 2 == worker) {
                return next_port++;
            }
        }
    };
    for (int i = 0; i < failing; ++i) {
        const std::string server = "198.18.2." + std::to_string(1 + i % servers);
        const std::uint16_t port = port_on_worker(server, static_cast<unsigned>(i % 2));
        const double t = 15000 + 300.0 * i;
        for (const double at : {t, t + 1000}) {
            steps.emplace_back(at, [&h, server, port, at] {
                h.feed(FrameBuilder().ipv4("198.18.1.100", server).tcp(port, 443).seq(1000).flags(kSyn).mss(1460), at);
            });
        }
    }
    std::stable_sort(steps.begin(), steps.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    for (auto& [t, step] : steps) step();
}

TEST(SynSurge, ManyDestinationsFailWhileEstablishedFlowsWork) {
    Harness h;
    surge_scenario(h, 8, 16, 8);
    const auto ev = h.events(SynDropSurge::kName);
    ASSERT_EQ(ev.size(), 1u);
    const auto& d = std::get<SynDropSurge>(ev[0].detail);
    EXPECT_EQ(d.failures, 10u);
    EXPECT_GE(d.destinations, 7u);
    EXPECT_EQ(d.established_active, 8u);
    EXPECT_EQ(d.concurrent_now, 18u);  // the 8 busy flows and the 10 earlier handshakes, all open
    EXPECT_EQ(d.concurrent_min, 18u);
    EXPECT_EQ(ev[0].severity, Severity::kCritical);
    EXPECT_EQ(ev[0].confidence, Confidence::kHigh);  // flat over the window: a plateau
    EXPECT_EQ(ev[0].flow_id, 0u);
}

// Two workers, each with half the flows: alone, neither sees enough failures; sharing a
// board, they see all of them and report the episode once.
TEST(SynSurge, WorkersSharingABoardSeeTheWholeSurgeOnce) {
    for (const bool shared : {false, true}) {
        Harness a, b;
        a.split_with(b);
        a.table().number_flows(1, 2);  // as live workers number them: unique ids
        b.table().number_flows(2, 2);
        SurgeBoard board(2);
        if (shared) {
            a.pipeline().share_surge_board(&board, 0);
            b.pipeline().share_surge_board(&board, 1);
        }
        surge_scenario(a, 8, 16, 8);
        ASSERT_GT(b.counter(Counter::kRxPackets), a.counter(Counter::kRxPackets) / 4) << "the split must be real";
        const std::size_t reports = a.events(SynDropSurge::kName).size() + b.events(SynDropSurge::kName).size();
        EXPECT_EQ(reports, shared ? 1u : 0u) << (shared ? "shared board" : "separate workers");
        if (shared && reports == 1) {
            const auto ev = a.events(SynDropSurge::kName).empty() ? b.events(SynDropSurge::kName) : a.events(SynDropSurge::kName);
            const auto& d = std::get<SynDropSurge>(ev[0].detail);
            EXPECT_EQ(d.failures, 10u);
            EXPECT_EQ(d.established_active, 8u);
            EXPECT_EQ(d.concurrent_now, 18u);
        }
    }
}

// ---- per-server evidence across workers ------------------------------------------------------

// Two workers with one flow each to the same server: what one learned about the server
// (options it agrees to, ECN handshakes, idle gaps) must reach the other's verdict when they
// share one path table, as live workers do, and cannot when each keeps its own.
struct TwoWorkers {
    Harness a, b;
    explicit TwoWorkers(bool shared) {
        a.table().number_flows(1, 2);
        b.table().number_flows(2, 2);
        if (shared) b.pipeline().share_paths(a.pipeline().paths());
    }
};

TEST(SharedPaths, OptionsAgreedOnOneWorkerMakeADeclineOnTheOtherAStrip) {
    for (const bool shared : {false, true}) {
        TwoWorkers w(shared);
        Conn ok(w.a, "198.18.1.2", "198.18.2.2", 40000);
        ok.linux_handshake(0);
        Conn bad(w.b, "198.18.1.3", "198.18.2.2", 40001);
        FrameBuilder syn = bad.from_client();
        FrameBuilder synack = bad.from_server();
        synack.mss(1460).nop().nop().timestamps(9, 1).nop().wscale(7);
        bad.handshake(100, Conn::linux_opts(syn), synack);
        w.a.finish();
        w.b.finish();
        EXPECT_TRUE(w.a.events(OptionsStripped::kName).empty());
        const auto ev = w.b.events(OptionsStripped::kName);
        ASSERT_EQ(ev.size(), shared ? 1u : 0u) << (shared ? "shared table" : "separate tables");
        if (!shared) continue;
        const auto& d = std::get<OptionsStripped>(ev[0].detail);
        EXPECT_EQ(d.option, OptionKind::kSackPerm);
        EXPECT_EQ(d.evidence, kEvidenceOtherClients);
        EXPECT_EQ(d.other_clients, 1u);
    }
}

TEST(SharedPaths, EcnFallbacksOnTwoWorkersAreTheSameServerTwice) {
    for (const bool shared : {false, true}) {
        TwoWorkers w(shared);
        ecn_fallback_flow(w.a, "198.18.1.2", 40000, 0);
        ecn_fallback_flow(w.b, "198.18.1.3", 40001, 5000);
        EXPECT_TRUE(w.a.events(EcnSynBlackhole::kName).empty());
        const auto ev = w.b.events(EcnSynBlackhole::kName);
        ASSERT_EQ(ev.size(), shared ? 1u : 0u) << (shared ? "shared table" : "separate tables");
        if (shared) {
            EXPECT_EQ(std::get<EcnSynBlackhole>(ev[0].detail).server_flows, 2u);
        }
    }
}

TEST(SharedPaths, AGapSurvivedOnOneWorkerBracketsADropOnTheOther) {
    for (const bool shared : {false, true}) {
        TwoWorkers w(shared);
        Conn a(w.a, "198.18.1.2", "198.18.2.2", 40000);
        a.plain_handshake(0);
        a.client_data(30, 100);
        a.server_ack(40);
        a.client_data(40 + 300'000, 100);  // 300 s idle, answered
        a.server_ack(300'050);
        Conn b(w.b, "198.18.1.3", "198.18.2.2", 40001);
        b.plain_handshake(400'000);
        b.client_data(400'030, 100);
        b.server_ack(400'040);
        const std::uint32_t seq = b.cnxt;
        b.client_data(400'040 + 360'000, 100);  // 360 s idle, unanswered
        w.b.feed(b.from_client().seq(seq).ack(b.snxt).payload(100), 760'300);
        w.b.feed(b.from_client().seq(seq).ack(b.snxt).payload(100), 760'900);
        const auto ev = details<IdleTimeoutDrop>(w.b);
        ASSERT_EQ(ev.size(), 1u);
        EXPECT_EQ(ev[0].bracket.survived_max_s, shared ? 300u : 0u);
        EXPECT_EQ(ev[0].bracket.killed_min_s, 360u);
    }
}

// Workers tally one server at the same time: nothing is lost to a race.
TEST(SharedPaths, ConcurrentTalliesAddUp) {
    Harness h;
    Conn c(h, "198.18.1.2", "198.18.2.2", 40000);
    c.linux_handshake(0);
    const FlowCommon flow = h.only_flow().common;
    PathTable shared;
    constexpr std::uint32_t kEach = 200'000;
    const auto work = [&](std::uint32_t first_gap) {
        PathTable mine;
        mine.share(shared);
        for (std::uint32_t i = 0; i < kEach; ++i) {
            PathStats& p = mine.server_of(flow);
            ++p.agreed[0];
            p.idle.survived(first_gap + i % 1000);
            p.idle.killed(first_gap + 1000 + i % 1000);
        }
    };
    std::thread one(work, 100), two(work, 50);
    one.join();
    two.join();
    PathStats& p = shared.server_of(flow);
    EXPECT_EQ(p.agreed[0], 2 * kEach);
    EXPECT_EQ(p.idle.get().survived_max_s, 1099u);
    EXPECT_EQ(p.idle.get().killed_min_s, 1050u);
}

TEST(SynSurge, OneDeadServerIsNotAStateTable) {
    Harness h;
    surge_scenario(h, 8, 16, 1);
    EXPECT_TRUE(h.events(SynDropSurge::kName).empty());
}

TEST(SynSurge, NothingMovingIsAnOutageNotAStateTable) {
    Harness h;
    surge_scenario(h, 0, 16, 8);
    EXPECT_TRUE(h.events(SynDropSurge::kName).empty());
}

}  // namespace
}  // namespace tcpsleuth
