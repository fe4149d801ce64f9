// TCP tracker: handshake, negotiation, sequence wrap, retransmission vs reordering,
// keepalive vs zero-window probe, dup ACKs, application retries, RST and FIN.

#include <gtest/gtest.h>

#include "dataplane/packet/seq.h"
#include "inspectors/flow/flow_explain.h"
#include "tests/support/harness.h"

namespace tcpsleuth {
namespace {

using test::FrameBuilder;
using test::Harness;

constexpr const char* kClient = "198.18.1.2";
constexpr const char* kServer = "198.18.2.2";

FrameBuilder c2s() { return FrameBuilder().ipv4(kClient, kServer).tcp(40000, 80).ttl(64); }
FrameBuilder s2c() { return FrameBuilder().ipv4(kServer, kClient).tcp(80, 40000).ttl(58); }

// SYN at t, SYN-ACK at t+10 ms, ACK at t+15 ms. Client ISN `ci`, server ISN `si`.
void handshake(Harness& h, std::uint32_t ci, std::uint32_t si, double t = 0) {
    h.feed(c2s().seq(ci).flags(kSyn).mss(1460).sack_perm().timestamps(100, 0).nop().wscale(7), t);
    h.feed(s2c().seq(si).ack(ci + 1).flags(kSyn | kAck).mss(1400).sack_perm().timestamps(500, 100).nop().wscale(9), t + 10);
    h.feed(c2s().seq(ci + 1).ack(si + 1).timestamps(101, 500), t + 15);
}

TEST(Seq, WrapSafeComparison) {
    EXPECT_TRUE(before(Seq(0xfffffff0u), Seq(0x10)));
    EXPECT_TRUE(after(Seq(0x10), Seq(0xfffffff0u)));
    EXPECT_EQ(Seq(0x10) - Seq(0xfffffff0u), 0x20);
    EXPECT_EQ((Seq(0xffffffffu) + 2).raw(), 1u);
    EXPECT_TRUE(before_eq(Seq(5), Seq(5)));
}

TEST(Tracker, HandshakeNegotiatesOptionsAndMeasuresRtt) {
    Harness h;
    handshake(h, 1000, 9000);
    const FlowCommon& f = h.only_flow().common;
    EXPECT_EQ(f.state, TcpState::kEstablished);
    EXPECT_EQ(h.counter(Counter::kTcpHandshakeCompleted), 1u);
    EXPECT_TRUE(f.has(kFlowWscaleOn));
    EXPECT_TRUE(f.has(kFlowSackOn));
    EXPECT_TRUE(f.has(kFlowTsOn));
    EXPECT_FALSE(f.has(kFlowEcnOn));
    const DirState& client = f.dir[index(f.client())];
    const DirState& server = f.dir[index(f.server())];
    EXPECT_EQ(client.isn.raw(), 1000u);
    EXPECT_EQ(server.isn.raw(), 9000u);
    EXPECT_EQ(client.mss, 1460);
    EXPECT_EQ(server.mss, 1400);
    EXPECT_EQ(client.wscale, 7);
    EXPECT_EQ(server.wscale, 9);
    EXPECT_EQ(f.rtt_syn_us, 10000u);  // sensor -> server -> sensor
    EXPECT_EQ(f.rtt_ack_us, 5000u);   // sensor -> client -> sensor
    EXPECT_EQ(client.ttl_first, 64);
    EXPECT_EQ(server.ttl_first, 58);
    // Timestamp echo: the server echoed the client's TSval 100 10 ms after it passed.
    EXPECT_EQ(client.rtt_ts_us, 10000u);
}

TEST(Tracker, EcnNegotiation) {
    Harness h;
    h.feed(c2s().seq(1).flags(kSyn | kEce | kCwr), 0);
    h.feed(s2c().seq(50).ack(2).flags(kSyn | kAck | kEce), 1);
    EXPECT_TRUE(h.only_flow().common.has(kFlowEcnOn));
}

TEST(Tracker, SequenceWrapIsNotRetransmission) {
    Harness h;
    const std::uint32_t isn = 0xffffff00u;
    handshake(h, isn, 5);
    std::uint32_t seq = isn + 1;
    for (int i = 0; i < 4; ++i) {  // 4 x 100 bytes: crosses 2^32 after the third
        h.feed(c2s().seq(seq).ack(6).payload(100), 20 + i);
        seq += 100;
    }
    const FlowCommon& f = h.only_flow().common;
    EXPECT_EQ(h.counter(Counter::kTcpRetransmissions), 0u);
    EXPECT_EQ(h.counter(Counter::kTcpOutOfOrder), 0u);
    EXPECT_EQ(f.dir[index(f.client())].snd_nxt.raw(), seq);
    h.feed(c2s().seq(seq - 100).ack(6).payload(100), 300);  // the last one again, past the wrap
    EXPECT_EQ(h.counter(Counter::kTcpRetransmissions), 1u);
}

TEST(Tracker, ReorderingVersusRetransmission) {
    Harness h;
    handshake(h, 0, 0);
    h.feed(c2s().seq(1).ack(1).payload(1000), 20);
    h.feed(c2s().seq(2001).ack(1).payload(1000), 21);   // skips [1001, 2001): a hole
    h.feed(c2s().seq(1001).ack(1).payload(1000), 22);   // fills it 1 ms later: reordering
    EXPECT_EQ(h.counter(Counter::kTcpOutOfOrder), 1u);
    EXPECT_EQ(h.counter(Counter::kTcpRetransmissions), 0u);

    h.feed(c2s().seq(4001).ack(1).payload(1000), 30);   // skips [3001, 4001)
    h.feed(c2s().seq(3001).ack(1).payload(1000), 250);  // 220 ms later: resent after an upstream loss
    EXPECT_EQ(h.counter(Counter::kTcpOutOfOrder), 1u);
    EXPECT_EQ(h.counter(Counter::kTcpRetransmissions), 1u);

    h.feed(c2s().seq(1).ack(1).payload(1000), 400);     // sequence space seen before: sent again
    EXPECT_EQ(h.counter(Counter::kTcpRetransmissions), 2u);
    h.feed(c2s().seq(4501).ack(1).payload(1000), 401);  // half old, half new: repacketised
    EXPECT_EQ(h.counter(Counter::kTcpRetransmissions), 3u);
    const FlowCommon& f = h.only_flow().common;
    EXPECT_EQ(f.dir[index(f.client())].snd_nxt.raw(), 5501u);
}

TEST(Tracker, KeepaliveVersusZeroWindowProbeByThePeersWindow) {
    Harness h;
    handshake(h, 0, 0);
    h.feed(c2s().seq(1).ack(1).payload(100), 20);
    h.feed(s2c().seq(1).ack(101).window(1000), 30);
    // Linux keepalive: zero length, seq = SND.NXT - 1, server window open.
    h.feed(c2s().seq(100).ack(1), 60000);
    EXPECT_EQ(h.counter(Counter::kTcpKeepalives), 1u);
    EXPECT_EQ(h.counter(Counter::kTcpZeroWindowProbes), 0u);
    // The server closes its window; the same-shaped segment is now a zero-window probe.
    h.feed(c2s().seq(101).ack(1).payload(100), 60010);
    h.feed(s2c().seq(1).ack(201).window(0), 60020);
    h.feed(c2s().seq(200).ack(1), 60220);
    EXPECT_EQ(h.counter(Counter::kTcpKeepalives), 1u);
    EXPECT_EQ(h.counter(Counter::kTcpZeroWindowProbes), 1u);
    // Neither counts as a retransmission or a dup ACK.
    EXPECT_EQ(h.counter(Counter::kTcpRetransmissions), 0u);
    EXPECT_EQ(h.counter(Counter::kTcpDupAcks), 0u);
}

TEST(Tracker, DuplicateAcksOnlyWhileDataIsOutstanding) {
    Harness h;
    handshake(h, 0, 0);
    for (int i = 0; i < 5; ++i) h.feed(c2s().seq(1 + 1000 * i).ack(1).payload(1000), 20 + i);
    h.feed(s2c().seq(1).ack(1001), 40);
    h.feed(s2c().seq(1).ack(1001).sack({{2001, 3001}}), 41);
    h.feed(s2c().seq(1).ack(1001).sack({{2001, 4001}}), 42);
    EXPECT_EQ(h.counter(Counter::kTcpDupAcks), 2u);
    h.feed(s2c().seq(1).ack(5001), 50);  // everything acknowledged
    h.feed(s2c().seq(1).ack(5001), 60);  // same ACK, nothing outstanding: not a dup ACK
    EXPECT_EQ(h.counter(Counter::kTcpDupAcks), 2u);
    const FlowCommon& f = h.only_flow().common;
    EXPECT_EQ(f.dir[index(f.client())].max_in_flight, 4000u);
}

TEST(Tracker, NewIsnIsAnApplicationRetryNotARetransmission) {
    Harness h;
    h.feed(c2s().seq(1000).flags(kSyn), 0);
    h.feed(c2s().seq(1000).flags(kSyn), 1000);
    h.feed(c2s().seq(77777).flags(kSyn), 3000);
    EXPECT_EQ(h.counter(Counter::kTcpSynRetransmissions), 1u);
    EXPECT_EQ(h.counter(Counter::kTcpAppRetries), 1u);
    const FlowCommon& f = h.only_flow().common;
    EXPECT_EQ(f.dir[index(f.client())].isn.raw(), 77777u);
    EXPECT_EQ(f.dir[index(f.client())].syns, 1);
    EXPECT_EQ(f.dir[index(f.client())].app_retries, 1);
}

TEST(Tracker, RstAnsweringSynIsRefused) {
    Harness h;
    h.feed(c2s().seq(1000).flags(kSyn), 0);
    h.feed(s2c().seq(0).ack(1001).flags(kRst | kAck), 1);
    EXPECT_EQ(h.counter(Counter::kTcpHandshakeRefused), 1u);
    EXPECT_EQ(h.only_flow().common.state, TcpState::kClosed);
    h.finish();
    EXPECT_EQ(h.counter(Counter::kTcpHandshakeFailed), 0u);  // refused, not unanswered
}

TEST(Tracker, FinBothWaysCloses) {
    Harness h;
    handshake(h, 0, 0);
    h.feed(c2s().seq(1).ack(1).flags(kFin | kAck), 20);
    EXPECT_EQ(h.only_flow().common.state, TcpState::kClosing);
    h.feed(s2c().seq(1).ack(2).flags(kFin | kAck), 21);
    h.feed(c2s().seq(2).ack(2), 22);
    EXPECT_EQ(h.only_flow().common.state, TcpState::kClosed);
    EXPECT_EQ(h.counter(Counter::kTcpFin), 2u);
    EXPECT_EQ(h.counter(Counter::kTcpRetransmissions), 0u);
}

TEST(Tracker, MidstreamJoinGuessesTheServerByPort) {
    Harness h;
    h.feed(s2c().seq(5000).ack(100).payload(10), 0);  // from port 80 to 40000
    const FlowCommon& f = h.only_flow().common;
    EXPECT_EQ(f.state, TcpState::kMidstream);
    const bool client_is_lo = f.client_is_lo();
    // The client is 198.18.1.2:40000, which sorts low.
    EXPECT_TRUE(client_is_lo);
    EXPECT_EQ(h.counter(Counter::kFlowMidstream), 1u);
}

TEST(Tracker, IpIdAndTtlHistory) {
    Harness h;
    handshake(h, 0, 0);
    for (int i = 0; i < 5; ++i) h.feed(c2s().seq(1 + i).ack(1).payload(1).ip_id(static_cast<std::uint16_t>(100 + i)).ttl(static_cast<std::uint8_t>(60 + i)), 20 + i);
    const FlowCommon& f = h.only_flow().common;
    const DirState& c = f.dir[index(f.client())];
    EXPECT_EQ(c.ip_id_mode, IpIdMode::kIncrementing);
    EXPECT_EQ(c.ttl_min, 60);
    EXPECT_EQ(c.ttl_max, 64);
    EXPECT_EQ(c.ttl_first, 64);
}

TEST(Tracker, IcmpFragNeededIsTiedToItsFlow) {
    Harness h;
    handshake(h, 0, 0);
    const auto quoted = FrameBuilder().no_ethernet().ipv4(kClient, kServer).tcp(40000, 80).seq(1).payload(1448).build();
    h.feed(FrameBuilder().ipv4("198.18.9.9", kClient)
               .icmp4_frag_needed(1400, FrameBuilder::Bytes(quoted.begin(), quoted.begin() + 28)), 30);
    EXPECT_EQ(h.counter(Counter::kIcmpFragNeeded), 1u);
    EXPECT_EQ(h.counter(Counter::kIcmpMatched), 1u);
    EXPECT_EQ(h.only_flow().common.icmp_mtu, 1400u);
    h.feed(FrameBuilder().ipv4("198.18.9.9", kClient)
               .icmp4_frag_needed(1300, FrameBuilder().no_ethernet().tcp(1, 2).build()), 31);  // no such flow
    EXPECT_EQ(h.counter(Counter::kIcmpUnmatched), 1u);
}

TEST(Tracker, ExpiryUsesThePerStateTimeout) {
    Config cfg;
    cfg.flows.closed_timeout_s = 10;
    cfg.flows.established_timeout_s = 7440;
    Harness h(cfg, 64);
    handshake(h, 0, 0);  // established, flow 1
    h.feed(FrameBuilder().ipv4("198.18.1.3", kServer).tcp(40001, 80).seq(5).flags(kSyn), 100);
    h.feed(FrameBuilder().ipv4(kServer, "198.18.1.3").tcp(80, 40001).ack(6).flags(kRst | kAck), 101);  // flow 2 closed
    // 20 s later any packet triggers the sweep: the closed flow goes, the established one stays.
    h.feed(FrameBuilder().ipv4("198.18.1.4", kServer).tcp(40002, 80).seq(9).flags(kSyn), 20000);
    EXPECT_EQ(h.counter(Counter::kFlowExpired), 1u);
    EXPECT_EQ(h.table().size(), 2u);
}

// The explanation says what the tracked fields hold, in words and in fields, each checkable
// against the handshake above: options both ways, 10 + 5 ms round trips, payload counted.
TEST(Tracker, ExplanationSaysWhatTheFieldsHold) {
    Harness h;
    handshake(h, 1000, 9000);
    h.feed(c2s().seq(1001).ack(9001).timestamps(102, 500).payload(300), 20);
    const FlowState& f = h.only_flow();
    const std::vector<std::string> said = explain_tracking(f.common);
    ASSERT_GE(said.size(), 3u);
    EXPECT_EQ(said[0], "Handshake completed; negotiated: window scaling, SACK, timestamps, no ECN.");
    EXPECT_EQ(said[1], "Round trip: 10.00 ms to the server and 5.00 ms to the client, from the sensor.");
    EXPECT_EQ(said[2], "State established; the client sent 300 payload bytes (0 retransmitted segments), the server 0 (0).");
    std::string json;
    JsonWriter w(json);
    w.begin_object();
    write_tracked_fields(w, f);
    w.end_object();
    EXPECT_NE(json.find("\"client\":{\"address\":\"198.18.1.2\",\"port\":40000"), std::string::npos) << json;
    EXPECT_NE(json.find("\"syn_options\":\"mss,sack_perm,timestamp,wscale\",\"mss\":1400,\"wscale\":9"),
              std::string::npos) << json;
}

}  // namespace
}  // namespace tcpsleuth
