// Payload rules through the real pipeline: streaming across segments, retransmissions not
// scanned twice, gaps and reordering ending a direction's scan, both directions, flags,
// the scan limit, the stream pool, reloads, and the built-in identification.

#include <gtest/gtest.h>

#include <string>

#include "config/rules.h"
#include "inspectors/output/event_format.h"
#include "tests/support/harness.h"

namespace tcpsleuth {
namespace {

using test::FrameBuilder;
using test::Harness;

constexpr std::uint32_t kClientIsn = 1000, kServerIsn = 5000;

FrameBuilder c2s(std::uint16_t port = 80, std::uint16_t cport = 40000) {
    return FrameBuilder().ipv4("198.18.1.2", "198.18.2.2").tcp(cport, port);
}
FrameBuilder s2c(std::uint16_t port = 80, std::uint16_t cport = 40000) {
    return FrameBuilder().ipv4("198.18.2.2", "198.18.1.2").tcp(port, cport);
}

RuleSpec rule(std::string id, std::string pattern) {
    RuleSpec r;
    r.id = std::move(id);
    r.pattern = std::move(pattern);
    return r;
}

// A configuration with these user rules (and the built-ins unless told otherwise), compiled.
Config with_rules(std::vector<RuleSpec> rules, bool builtin = true) {
    PayloadRules p;
    p.builtin = builtin;
    p.rules = std::move(rules);
    std::vector<RuleError> errors;
    Config cfg;
    cfg.payload.rules = compile_rules(p, errors);
    for (const RuleError& e : errors) ADD_FAILURE() << e.rule_id << ": " << e.message;
    cfg.payload.streams = 64;
    return cfg;
}

void handshake(Harness& h, std::uint16_t port = 80, std::uint16_t cport = 40000) {
    h.feed(c2s(port, cport).seq(kClientIsn).flags(kSyn).mss(1460), 0);
    h.feed(s2c(port, cport).seq(kServerIsn).ack(kClientIsn + 1).flags(kSyn | kAck).mss(1460), 1);
    h.feed(c2s(port, cport).seq(kClientIsn + 1).ack(kServerIsn + 1), 2);
}

// Client bytes at stream offset `off`, server bytes likewise.
FrameBuilder client_data(std::uint32_t off, std::string_view bytes, std::uint16_t port = 80, std::uint16_t cport = 40000) {
    return c2s(port, cport).seq(kClientIsn + 1 + off).ack(kServerIsn + 1).flags(kAck | kPsh).payload(bytes);
}
FrameBuilder server_data(std::uint32_t off, std::string_view bytes, std::uint16_t port = 80, std::uint16_t cport = 40000) {
    return s2c(port, cport).seq(kServerIsn + 1 + off).ack(kClientIsn + 1).flags(kAck | kPsh).payload(bytes);
}

std::string rule_of(const Event& e) { return std::string(rule_names().name(std::get<PayloadMatch>(e.detail).rule)); }
std::string app_of(const Event& e) { return std::string(rule_names().name(e.app)); }
std::string tail_of(const Event& e) {
    const auto& d = std::get<PayloadMatch>(e.detail);
    return std::string(d.tail, d.tail_len);
}

TEST(PayloadScan, PatternSplitAcrossThreeSegmentsMatchesOnce) {
    Harness h(with_rules({rule("split", "SPLITPATTERN")}, false));
    handshake(h);
    h.feed(client_data(0, "xxSPLI"), 10);
    h.feed(client_data(6, "TPAT"), 11);
    const auto last = h.feed(client_data(10, "TERNyy"), 12);
    const auto ev = h.events(PayloadMatch::kName);
    ASSERT_EQ(ev.size(), 1u);
    const auto& d = std::get<PayloadMatch>(ev[0].detail);
    EXPECT_EQ(rule_of(ev[0]), "split");
    EXPECT_EQ(d.direction, Side::kClient);
    EXPECT_EQ(d.stream_offset, 14u);        // bytes 2..13 are the pattern
    EXPECT_EQ(tail_of(ev[0]), "TERN");       // the part in the segment that completed it
    EXPECT_EQ(ev[0].packets.nums[0], last);
    EXPECT_EQ(ev[0].severity, Severity::kInfo);
    EXPECT_EQ(h.counter(Counter::kPayloadScannedBytes), 16u);
    EXPECT_EQ(h.counter(Counter::kPayloadStreams), 1u);
}

TEST(PayloadScan, RetransmittedBytesAreNotScannedTwice) {
    Harness h(with_rules({rule("abc", "ABC")}, false));
    handshake(h);
    h.feed(client_data(0, "ABCxxx"), 10);
    h.feed(client_data(0, "ABCxxx"), 300);      // the same segment again
    h.feed(client_data(0, "ABCxxxABC"), 600);   // repacketised: 6 old bytes, 3 new
    // Two ABCs in the stream (offsets 3 and 9); rescanning would have found four.
    EXPECT_EQ(h.counter(Counter::kPayloadMatches), 2u);
    EXPECT_EQ(h.counter(Counter::kPayloadScannedBytes), 9u);
    EXPECT_EQ(h.counter(Counter::kPayloadRetransmittedBytes), 12u);
    // Rate limit: the 1st match of a rule in a flow is reported, then the 10th, 100th, ...
    ASSERT_EQ(h.events(PayloadMatch::kName).size(), 1u);
    EXPECT_EQ(std::get<PayloadMatch>(h.events(PayloadMatch::kName)[0].detail).stream_offset, 3u);
}

TEST(PayloadScan, TenthMatchOfARuleIsReportedWithItsCount) {
    Harness h(with_rules({rule("ping", "PING")}, false));
    handshake(h);
    std::string data;
    for (int i = 0; i < 12; ++i) data += "PING ";
    h.feed(client_data(0, data), 10);
    const auto ev = h.events(PayloadMatch::kName);
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(ev[0].occurrence, 1u);
    EXPECT_EQ(ev[1].occurrence, 10u);
    EXPECT_EQ(std::get<PayloadMatch>(ev[1].detail).matches, 10u);
    EXPECT_EQ(std::get<PayloadMatch>(ev[1].detail).stream_offset, 49u);
    EXPECT_EQ(h.counter(Counter::kPayloadMatches), 12u);
}

TEST(PayloadScan, AGapEndsTheDirectionInsteadOfMatchingAcrossIt) {
    Harness h(with_rules({rule("abc", "ABC")}, false));
    handshake(h);
    h.feed(client_data(0, "xxAB"), 10);
    // Bytes 4..9 never pass the sensor; "ABC" across the hole must not match.
    h.feed(client_data(10, "Cxx"), 11);
    h.feed(client_data(13, "ABC"), 12);  // nothing after the gap is scanned either
    EXPECT_TRUE(h.events(PayloadMatch::kName).empty());
    EXPECT_EQ(h.counter(Counter::kPayloadGaps), 1u);
    EXPECT_EQ(h.counter(Counter::kPayloadMatches), 0u);
    // The other direction is unaffected.
    h.feed(server_data(0, "..ABC"), 20);
    const auto ev = h.events(PayloadMatch::kName);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(std::get<PayloadMatch>(ev[0].detail).direction, Side::kServer);
}

TEST(PayloadScan, OutOfOrderArrivalEndsScanningAndTheLateSegmentIsNotScanned) {
    Harness h(with_rules({rule("abc", "ABC"), rule("late", "LATE")}, false));
    handshake(h);
    h.feed(client_data(0, "0123456789"), 10);
    h.feed(client_data(20, "ABC"), 11);           // arrives before bytes 10..19
    h.feed(client_data(10, "LATE......"), 12);   // the late segment
    EXPECT_TRUE(h.events(PayloadMatch::kName).empty());
    EXPECT_EQ(h.counter(Counter::kPayloadGaps), 1u);
    EXPECT_EQ(h.counter(Counter::kPayloadScannedBytes), 10u);
    EXPECT_EQ(h.counter(Counter::kTcpOutOfOrder), 1u);  // the tracker still sees it for what it is
}

TEST(PayloadScan, DirectionLimitsWhoseBytesARuleSees) {
    RuleSpec ping = rule("ping", "PING");
    ping.direction = RuleDirection::kClient;
    RuleSpec pong = rule("pong", "PONG");
    pong.direction = RuleDirection::kServer;
    Harness h(with_rules({ping, pong}, false));
    handshake(h);
    h.feed(client_data(0, "PONG PING"), 10);
    h.feed(server_data(0, "PING PONG"), 11);
    const auto ev = h.events(PayloadMatch::kName);
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(rule_of(ev[0]), "ping");
    EXPECT_EQ(std::get<PayloadMatch>(ev[0].detail).direction, Side::kClient);
    EXPECT_EQ(std::get<PayloadMatch>(ev[0].detail).stream_offset, 9u);
    EXPECT_EQ(rule_of(ev[1]), "pong");
    EXPECT_EQ(std::get<PayloadMatch>(ev[1].detail).direction, Side::kServer);
    EXPECT_EQ(std::get<PayloadMatch>(ev[1].detail).stream_offset, 9u);
}

TEST(PayloadScan, CaselessLiteralAndRegexRules) {
    RuleSpec hello = rule("hello", "hello world");
    hello.caseless = true;
    hello.literal = true;
    RuleSpec exact = rule("exact", "hello world");
    exact.literal = true;
    RuleSpec dots = rule("dots", "a.b*c");  // a literal: the dot and star are themselves
    dots.literal = true;
    RuleSpec user = rule("user", "user=[0-9]{3,}&");
    Harness h(with_rules({hello, exact, dots, user}, false));
    handshake(h);
    h.feed(client_data(0, "HeLLo WoRLD axbbc user=12& user=12345& a.b*c"), 10);
    const auto ev = h.events(PayloadMatch::kName);
    std::vector<std::string> rules;
    for (const Event& e : ev) rules.push_back(rule_of(e));
    EXPECT_EQ(rules, (std::vector<std::string>{"hello", "user", "dots"}));
}

TEST(PayloadScan, OnlyTheFirstScanBytesOfEachDirectionAreScanned) {
    Config cfg = with_rules({rule("abc", "ABC")}, false);
    cfg.payload.scan_bytes = 16;
    Harness h(cfg);
    handshake(h);
    h.feed(client_data(0, "0123456789ABCDEF0123ABC"), 10);  // the first ABC ends at 13, the second at 23
    const auto ev = h.events(PayloadMatch::kName);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(std::get<PayloadMatch>(ev[0].detail).stream_offset, 13u);
    EXPECT_EQ(h.counter(Counter::kPayloadScannedBytes), 16u);
    EXPECT_EQ(h.counter(Counter::kPayloadScanLimit), 1u);
    h.feed(client_data(23, "ABC"), 11);
    EXPECT_EQ(h.events(PayloadMatch::kName).size(), 1u);
}

TEST(PayloadScan, AnEmptyPoolIsCountedAndStreamsReturnAtFin) {
    Config cfg = with_rules({rule("abc", "ABC")}, false);
    cfg.payload.streams = 1;
    Harness h(cfg);
    handshake(h, 80, 40001);
    h.feed(client_data(0, "ABC", 80, 40001), 10);  // takes the only client stream
    handshake(h, 80, 40002);
    h.feed(client_data(0, "ABC", 80, 40002), 20);
    EXPECT_EQ(h.counter(Counter::kPayloadPoolExhausted), 1u);
    EXPECT_EQ(h.events(PayloadMatch::kName).size(), 1u);
    // The first flow's client closes: its stream goes back to the pool.
    h.feed(c2s(80, 40001).seq(kClientIsn + 4).ack(kServerIsn + 1).flags(kAck | kFin), 30);
    EXPECT_EQ(h.pipeline().payload().streams_free(0), 1u);
    handshake(h, 80, 40003);
    h.feed(client_data(0, "ABC", 80, 40003), 40);
    EXPECT_EQ(h.events(PayloadMatch::kName).size(), 2u);
}

TEST(PayloadScan, EndAnchoredPatternMatchesAtTheFin) {
    Harness h(with_rules({rule("bye", "bye$")}, false));
    handshake(h);
    h.feed(client_data(0, "say bye"), 10);
    EXPECT_TRUE(h.events(PayloadMatch::kName).empty());  // more could follow
    h.feed(c2s().seq(kClientIsn + 8).ack(kServerIsn + 1).flags(kAck | kFin), 20);
    const auto ev = h.events(PayloadMatch::kName);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(std::get<PayloadMatch>(ev[0].detail).stream_offset, 7u);
}

TEST(PayloadScan, FlowsJoinedMidstreamAreNotScanned) {
    Harness h(with_rules({rule("abc", "ABC")}, false));
    h.feed(client_data(0, "ABC"), 10);
    h.feed(server_data(0, "ABC"), 11);
    EXPECT_TRUE(h.events(PayloadMatch::kName).empty());
    EXPECT_EQ(h.counter(Counter::kPayloadMidstream), 2u);
}

TEST(PayloadScan, PortFilterUsesTheServerPort) {
    RuleSpec r = rule("abc", "ABC");
    r.ports = {8080};
    Harness h(with_rules({r}, false));
    handshake(h, 80);
    h.feed(client_data(0, "ABC", 80), 10);
    EXPECT_TRUE(h.events(PayloadMatch::kName).empty());
    handshake(h, 8080);
    h.feed(client_data(0, "ABC", 8080), 20);
    EXPECT_EQ(h.events(PayloadMatch::kName).size(), 1u);
}

TEST(PayloadScan, ReloadWithNewRulesEndsOngoingScansAndAppliesToNewFlows) {
    Harness h(with_rules({rule("old", "OLD")}, false));
    handshake(h, 80, 40001);
    h.feed(client_data(0, "OLD", 80, 40001), 10);
    h.pipeline().reconfigure(with_rules({rule("new", "NEW")}, false));
    h.feed(client_data(3, "NEW", 80, 40001), 20);  // mid-scan under the old rules: stops
    EXPECT_EQ(h.counter(Counter::kPayloadReloadEnded), 1u);
    handshake(h, 80, 40002);
    h.feed(client_data(0, "OLD NEW", 80, 40002), 30);
    const auto ev = h.events(PayloadMatch::kName);
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(rule_of(ev[0]), "old");
    EXPECT_EQ(rule_of(ev[1]), "new");
}

TEST(PayloadScan, ANewConnectionOnTheSamePortsIsScannedFromItsOwnIsn) {
    Harness h(with_rules({rule("abc", "ABC")}));
    handshake(h);
    h.feed(client_data(0, "SSH-2.0-x\r\nABC"), 10);
    h.feed(c2s().seq(kClientIsn + 15).ack(kServerIsn + 1).flags(kAck | kFin), 20);
    h.feed(s2c().seq(kServerIsn + 1).ack(kClientIsn + 16).flags(kAck | kFin), 21);
    h.feed(c2s().seq(kClientIsn + 16).ack(kServerIsn + 2), 22);
    EXPECT_EQ(rule_names().name(h.only_flow().common.app), "ssh");
    // The port is reused: new ISNs, another application, the same rule reported again.
    const std::uint32_t isn2 = 900000, sisn2 = 700000;
    h.feed(c2s().seq(isn2).flags(kSyn).mss(1460), 1000);
    EXPECT_EQ(h.only_flow().common.app, 0u);
    h.feed(s2c().seq(sisn2).ack(isn2 + 1).flags(kSyn | kAck).mss(1460), 1001);
    h.feed(c2s().seq(isn2 + 1).ack(sisn2 + 1), 1002);
    h.feed(c2s().seq(isn2 + 1).ack(sisn2 + 1).flags(kAck | kPsh).payload("GET / HTTP/1.1\r\nX: ABC\r\n"), 1010);
    EXPECT_EQ(rule_names().name(h.only_flow().common.app), "http");
    const auto ev = h.events(PayloadMatch::kName);
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(std::get<PayloadMatch>(ev[1].detail).stream_offset, 22u);  // "GET / HTTP/1.1\r\nX: ABC"
    EXPECT_EQ(ev[1].occurrence, 1u);
    EXPECT_EQ(app_of(ev[1]), "http");
    EXPECT_EQ(h.counter(Counter::kPayloadStreams), 2u);
}

TEST(PayloadScan, DisabledScansNothing) {
    Config cfg = with_rules({rule("abc", "ABC")}, false);
    cfg.payload.enabled = false;
    Harness h(cfg);
    handshake(h);
    h.feed(client_data(0, "ABC"), 10);
    EXPECT_TRUE(h.events().empty());
    EXPECT_EQ(h.counter(Counter::kPayloadScannedBytes), 0u);
}

// --- built-in rules ----------------------------------------------------------------------

TEST(BuiltinRules, HttpIdentifiedAndA502ReportedWithTheStatusLine) {
    Harness h(with_rules({}));
    handshake(h);
    h.feed(client_data(0, "GET /health HTTP/1.1\r\nHost: shop\r\n\r\n"), 10);
    EXPECT_TRUE(h.events().empty());  // identification alone is silent
    EXPECT_EQ(rule_names().name(h.only_flow().common.app), "http");
    const std::string response = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n";
    h.feed(server_data(0, response), 20);
    const auto ev = h.events(PayloadMatch::kName);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(rule_of(ev[0]), "http.status_502");
    EXPECT_EQ(ev[0].severity, Severity::kWarning);
    EXPECT_EQ(app_of(ev[0]), "http");
    EXPECT_EQ(tail_of(ev[0]), "HTTP/1.1 502 ");
    const std::string json = format_event_json(ev[0]);
    EXPECT_NE(json.find("\"app\":\"http\""), std::string::npos) << json;
    EXPECT_NE(json.find("\"rule\":\"http.status_502\""), std::string::npos) << json;
    EXPECT_NE(json.find("\"direction\":\"server\""), std::string::npos) << json;
    EXPECT_NE(json.find("\"stream_offset\":13"), std::string::npos) << json;
    EXPECT_NE(json.find("backend"), std::string::npos) << "the 502 advice: " << json;
}

TEST(BuiltinRules, A502LaterInAKeepAliveStreamIsFound) {
    Harness h(with_rules({}));
    handshake(h);
    const std::string first = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    h.feed(server_data(0, first), 10);
    h.feed(server_data(static_cast<std::uint32_t>(first.size()), "HTTP/1.1 504 Gateway Timeout\r\n\r\n"), 20);
    const auto ev = h.events(PayloadMatch::kName);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(rule_of(ev[0]), "http.status_504");
    EXPECT_EQ(std::get<PayloadMatch>(ev[0].detail).stream_offset, first.size() + 13);
}

TEST(BuiltinRules, TlsFatalAlertNamesItsDescription) {
    Harness h(with_rules({}));
    handshake(h, 443);
    const std::string hello("\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03", 11);
    h.feed(client_data(0, hello, 443), 10);
    const std::string alert("\x15\x03\x03\x00\x02\x02\x30", 7);  // fatal, 48 unknown_ca
    h.feed(server_data(0, alert, 443), 20);
    const auto ev = h.events(PayloadMatch::kName);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(rule_of(ev[0]), "tls.alert_fatal");
    EXPECT_EQ(app_of(ev[0]), "tls");
    const std::string json = format_event_json(ev[0]);
    EXPECT_NE(json.find("\"tls_alert_name\":\"unknown_ca\""), std::string::npos) << json;
    EXPECT_NE(json.find("fatal alert 48 unknown_ca"), std::string::npos) << json;
    EXPECT_NE(json.find("\\\\x15\\\\x03\\\\x03"), std::string::npos) << json;
}

TEST(BuiltinRules, EachProtocolIsIdentifiedFromItsFirstBytes) {
    struct Case {
        const char* app;
        std::string client, server;
    };
    const Case cases[] = {
        {"ssh", "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", "SSH-2.0-OpenSSH_9.2p1\r\n"},
        {"smtp", "", "220 mail.example.net ESMTP Postfix\r\n"},
        {"ftp", "", "220 (vsFTPd 3.0.3)\r\n"},
        {"redis", "*1\r\n$4\r\nPING\r\n", "+PONG\r\n"},
        {"postgresql", std::string("\x00\x00\x00\x08\x04\xd2\x16\x2f", 8), "N"},
        {"mysql", "", std::string("\x4a\x00\x00\x00\x0a" "8.0.35\x00", 12)},
        {"http2", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", ""},
    };
    std::uint16_t cport = 41000;
    for (const Case& c : cases) {
        Harness h(with_rules({}));
        ++cport;
        handshake(h, 9999, cport);
        if (!c.client.empty()) h.feed(client_data(0, c.client, 9999, cport), 10);
        if (!c.server.empty()) h.feed(server_data(0, c.server, 9999, cport), 20);
        EXPECT_EQ(rule_names().name(h.only_flow().common.app), c.app) << c.app;
        EXPECT_TRUE(h.events().empty()) << c.app;
    }
}

TEST(BuiltinRules, EveryTcpDiagnosisCarriesTheApplication) {
    Harness h(with_rules({}));
    handshake(h);
    const std::string request = "POST /upload HTTP/1.1\r\nContent-Length: 1000\r\n\r\n";
    h.feed(client_data(0, request), 30);
    const auto sent = static_cast<std::uint32_t>(request.size());
    h.feed(s2c().seq(kServerIsn + 1).ack(kClientIsn + 1 + sent).window(0), 100);
    h.feed(c2s().seq(kClientIsn + sent).ack(kServerIsn + 1), 300);  // zero-window probes
    h.feed(c2s().seq(kClientIsn + sent).ack(kServerIsn + 1), 700);
    h.feed(c2s().seq(kClientIsn + sent).ack(kServerIsn + 1), 1500);
    h.feed(s2c().seq(kServerIsn + 1).ack(kClientIsn + 1 + sent).window(8192), 2100);
    h.finish();
    const auto ev = h.events(ZeroWindowStall::kName);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(app_of(ev[0]), "http");
    EXPECT_NE(format_event_json(ev[0]).find("\"app\":\"http\""), std::string::npos);
}

TEST(BuiltinRules, AUserTagOverridesTheBuiltInOne) {
    RuleSpec shop = rule("shop.api", "X-Shop-Api:");
    shop.tag = "shop";
    shop.event = false;
    Harness h(with_rules({shop}));
    handshake(h);
    h.feed(client_data(0, "GET /cart HTTP/1.1\r\nX-Shop-Api: 2\r\n\r\n"), 10);
    EXPECT_EQ(rule_names().name(h.only_flow().common.app), "shop");
    EXPECT_TRUE(h.events().empty());
}

TEST(BuiltinRules, CleanTrafficOfEveryKindRaisesNoEvent) {
    Harness h(with_rules({}));
    handshake(h, 443);
    std::string noise;
    for (int i = 0; i < 4096; ++i) noise += static_cast<char>((i * 7919 + 13) & 0xff);
    h.feed(client_data(0, noise.substr(0, 1400), 443), 10);
    h.feed(server_data(0, noise.substr(1400, 1400), 443), 11);
    h.feed(client_data(1400, noise.substr(2800, 1296), 443), 12);
    EXPECT_TRUE(h.events().empty());
}

}  // namespace
}  // namespace tcpsleuth
