// The time-sequence plot checked by its data: what the model says is drawn where, and that
// the SVG carries it (evidence rings by packet number, the zero-window span's times).

#include <gtest/gtest.h>

#include <algorithm>
#include <utility>
#include <variant>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "dataplane/packet/packet_view.h"
#include "inspectors/plot/time_sequence.h"

namespace tcpsleuth::plot {
namespace {

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kStart = 1'700'000'000ull * 1'000'000'000ull;

struct Flow {
    std::vector<Packet> packets;
    std::uint32_t client_isn = 1000, server_isn = 50'000;
    std::uint64_t n = 0;

    Packet& add(bool from_client, std::uint64_t at_ms, std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
                std::uint32_t payload = 0, std::uint16_t window = 65535) {
        Packet p;
        p.number = ++n;
        p.ts_ns = kStart + at_ms * kMs;
        p.from_client = from_client;
        p.flags = flags;
        p.seq = seq;
        p.ack = ack;
        p.payload = payload;
        p.window = window;
        p.ip_len = 40 + payload;
        packets.push_back(p);
        return packets.back();
    }
    // SYN, SYN-ACK, ACK at `rtt_ms`, with window scale options when given.
    void handshake(std::uint64_t rtt_ms, int client_ws = 7, int server_ws = 7) {
        add(true, 0, kSyn, client_isn, 0).wscale = static_cast<std::int16_t>(client_ws);
        add(false, rtt_ms, kSyn | kAck, server_isn, client_isn + 1).wscale = static_cast<std::int16_t>(server_ws);
        add(true, rtt_ms, kAck, client_isn + 1, server_isn + 1);
    }
};

Event event_of(const EventDetail& d, std::initializer_list<std::uint64_t> numbers, bool v6 = false) {
    Event e;
    e.flow_id = 7;
    e.severity = Severity::kWarning;
    e.confidence = Confidence::kHigh;
    e.key.ip_version = v6 ? 6 : 4;
    e.detail = d;
    for (const std::uint64_t n : numbers) e.packets.add(n);
    return e;
}

std::set<std::uint64_t> attr_numbers(const std::string& svg, const std::string& cls) {
    std::set<std::uint64_t> out;
    const std::regex re("class=\"" + cls + "\" data-packet=\"([0-9]+)\"");
    for (auto it = std::sregex_iterator(svg.begin(), svg.end(), re); it != std::sregex_iterator(); ++it) {
        out.insert(std::stoull((*it)[1]));
    }
    return out;
}

// A bulk transfer from the client, a zero window from the server for 2 s with probes (each
// answered within the stall), then the window opens: the stall the finding reports. The
// evidence: the ACK that closed the window, the first answer to a probe, the one that opened it.
Input zero_window_flow(std::uint64_t rtt_ms, bool v6) {
    Flow f;
    f.handshake(rtt_ms);
    std::uint32_t seq = f.client_isn + 1;
    std::uint64_t t = rtt_ms;
    for (int i = 0; i < 4; ++i) {
        f.add(true, t, kAck | kPsh, seq, f.server_isn + 1, 1000);
        seq += 1000;
    }
    t += rtt_ms;
    const std::uint64_t closed = t;
    const std::uint64_t closing = f.add(false, t, kAck, f.server_isn + 1, seq, 0, 0).number;
    std::uint64_t first_answer = 0;
    for (std::uint64_t probe_at = closed + 500; probe_at + rtt_ms < closed + 2000; probe_at += 500) {
        f.add(true, probe_at, kAck, seq - 1, f.server_isn + 1, 1);  // a window probe
        const std::uint64_t n = f.add(false, probe_at + rtt_ms, kAck, f.server_isn + 1, seq, 0, 0).number;
        if (first_answer == 0) first_answer = n;
    }
    const std::uint64_t opening = f.add(false, closed + 2000, kAck, f.server_isn + 1, seq, 0, 512).number;
    f.add(true, closed + 2000 + 1, kAck | kPsh, seq, f.server_isn + 1, 1000);
    ZeroWindowStall z;
    z.since_ns = kStart + closed * kMs;
    z.duration_ns = 2000 * kMs;
    z.probes = 3;
    z.slow_side = Side::kServer;
    Input in;
    in.event = event_of(z, {closing, first_answer, opening}, v6);
    in.packets = f.packets;
    return in;
}

TEST(TimeSequencePlot, TheZeroWindowSpanCoversTheStallAndTheEvidenceIsRinged) {
    for (const bool v6 : {false, true}) {
        for (const std::uint64_t rtt_ms : {1ull, 20ull, 600ull}) {  // LAN to satellite
            SCOPED_TRACE(testing::Message() << "v6 " << v6 << " rtt " << rtt_ms << " ms");
            const Input in = zero_window_flow(rtt_ms, v6);
            const std::vector<std::uint64_t> evidence(in.event.packets.nums, in.event.packets.nums + in.event.packets.count);
            ASSERT_EQ(evidence.size(), 3u);
            const Model m = plot_model(in);
            EXPECT_TRUE(m.drawn_side_is_client);  // the data side, not the side that closed
            ASSERT_EQ(m.zero_windows.size(), 1u);
            const double closed = (rtt_ms * 2) / 1e3;
            EXPECT_NEAR(m.zero_windows[0].t0, closed, 1e-9);
            EXPECT_NEAR(m.zero_windows[0].t1, closed + 2.0, 1e-9);
            ASSERT_EQ(m.finding_spans.size(), 1u);
            EXPECT_NEAR(m.finding_spans[0].t0, closed, 1e-9);
            EXPECT_NEAR(m.finding_spans[0].t1 - m.finding_spans[0].t0, 2.0, 1e-9);
            EXPECT_EQ(m.evidence, evidence);
            EXPECT_TRUE(m.evidence_missing.empty());

            const std::string svg = render_svg(m);
            EXPECT_EQ(attr_numbers(svg, "evidence"), std::set<std::uint64_t>(evidence.begin(), evidence.end()));
            std::smatch span;
            ASSERT_TRUE(std::regex_search(svg, span, std::regex(R"re(class="zero-window" data-t0="([0-9.]+)" data-t1="([0-9.]+)")re")));
            EXPECT_NEAR(std::stod(span[1]), closed, 1e-6);
            EXPECT_NEAR(std::stod(span[2]), closed + 2.0, 1e-6);
            EXPECT_EQ(svg, render_svg(plot_model(in))) << "same input, same bytes";
        }
    }
}

TEST(TimeSequencePlot, SequenceNumbersCountFromTheIsnAndResendsAreMarked) {
    Flow f;
    f.handshake(10);
    const std::uint32_t s = f.client_isn + 1;
    f.add(true, 10, kAck, s, f.server_isn + 1, 1448);         // #4
    f.add(true, 11, kAck, s + 1448, f.server_isn + 1, 1448);  // #5
    f.add(true, 300, kAck, s, f.server_isn + 1, 1448);        // #6: resent
    f.add(false, 310, kAck, f.server_isn + 1, s + 2896, 0, 1000);  // #7
    Input in;
    in.event = event_of(SynUnanswered{}, {6});
    in.packets = f.packets;
    const Model m = plot_model(in);
    ASSERT_TRUE(m.isn_seen);
    std::vector<std::pair<std::int64_t, bool>> seen;
    for (const Segment& seg : m.segments) {
        if (seg.flags & kSyn) continue;
        seen.emplace_back(seg.lo, seg.retransmission);
    }
    EXPECT_EQ(seen, (std::vector<std::pair<std::int64_t, bool>>{{0, false}, {1448, false}, {0, true}}));
    ASSERT_EQ(m.acks.back().number, 7u);
    EXPECT_EQ(m.acks.back().ack, 2896);
    // Both SYNs offered window scaling (7): the server's 1000 is 128 000 bytes.
    EXPECT_TRUE(m.window_scaled);
    EXPECT_EQ(m.acks.back().window_edge, 2896 + 1000 * 128);
    const std::string svg = render_svg(m);
    EXPECT_EQ(attr_numbers(svg, "retransmission"), (std::set<std::uint64_t>{6}));
    EXPECT_EQ(attr_numbers(svg, "evidence"), (std::set<std::uint64_t>{6}));
}

TEST(TimeSequencePlot, WindowsAreUnscaledUnlessBothSidesOfferedScaling) {
    for (const int server_ws : {-1, 3}) {
        Flow f;
        f.handshake(5, 7, server_ws);
        f.add(false, 6, kAck, f.server_isn + 1, f.client_isn + 1, 0, 100);
        Input in;
        in.event = event_of(SynUnanswered{}, {});
        in.packets = f.packets;
        const Model m = plot_model(in);
        // The server's window is shifted by its own scale, only when the client offered one too.
        EXPECT_EQ(m.acks.back().window_edge - m.acks.back().ack, server_ws < 0 ? 100 : 100 << 3);
    }
}

TEST(TimeSequencePlot, ALongSilenceIsCutOutOfTheTimeAxisButARegularFlowIsNot) {
    Flow f;
    f.handshake(1);
    std::uint32_t seq = f.client_isn + 1;
    for (int i = 0; i < 10; ++i) f.add(true, 2 + i, kAck, seq, f.server_isn + 1, 100), seq += 100;
    Input regular;
    regular.event = event_of(SynUnanswered{}, {});
    regular.packets = f.packets;
    EXPECT_TRUE(plot_model(regular).breaks.empty());

    f.add(true, 400'000, kAck, seq, f.server_isn + 1, 100);  // 400 s later
    f.add(true, 400'200, kAck, seq, f.server_isn + 1, 100);
    Input idle = regular;
    idle.packets = f.packets;
    const Model m = plot_model(idle);
    // The 400 s cut (then the 200 ms that would still squeeze the first 11 ms into a sliver).
    ASSERT_GE(m.breaks.size(), 1u);
    ASSERT_LE(m.breaks.size(), 3u);
    const auto cut = std::find_if(m.breaks.begin(), m.breaks.end(), [](const Break& b) { return b.t1 - b.t0 > 350.0; });
    ASSERT_NE(cut, m.breaks.end());
    EXPECT_GT(cut->t0, 0.011);  // the packets on either side stay drawn
    EXPECT_LT(cut->t1, 400.0);
    EXPECT_NE(render_svg(m).find("class=\"break\""), std::string::npos);
}

TEST(TimeSequencePlot, TheDrawnSideFollowsTheEvidenceAndMissingPacketsAreSaid) {
    // The server sends the data here; its segment is the evidence.
    Flow f;
    f.handshake(2);
    f.add(false, 3, kAck, f.server_isn + 1, f.client_isn + 1, 1200);  // #4
    f.add(true, 4, kAck, f.client_isn + 1, f.server_isn + 1201, 0);
    Input in;
    in.event = event_of(SynUnanswered{}, {4, 99});
    in.packets = f.packets;
    const Model m = plot_model(in);
    EXPECT_FALSE(m.drawn_side_is_client);
    EXPECT_EQ(m.evidence, std::vector<std::uint64_t>{4});
    EXPECT_EQ(m.evidence_missing, std::vector<std::uint64_t>{99});
    EXPECT_EQ(attr_numbers(render_svg(m), "evidence-missing"), std::set<std::uint64_t>{99});
}

TEST(TimeSequencePlot, AMidstreamFlowCountsFromItsFirstSequenceAndSaysSo) {
    Flow f;
    f.add(true, 0, kAck, 5000, 9000, 100);
    f.add(true, 1, kAck, 4900, 9000, 100);  // an earlier segment, sent late
    Input in;
    in.event = event_of(SynUnanswered{}, {});
    in.packets = f.packets;
    const Model m = plot_model(in);
    EXPECT_FALSE(m.isn_seen);
    ASSERT_EQ(m.segments.size(), 2u);
    EXPECT_EQ(m.segments[0].lo, 100);
    EXPECT_EQ(m.segments[1].lo, 0);
    EXPECT_NE(render_svg(m).find("handshake is not in the capture"), std::string::npos);
}

TEST(TimeSequencePlot, AnMtuBlackholeDrawsItsSizeBracket) {
    MtuBlackhole d;
    d.lost_ip_len = 1500;
    d.delivered_ip_len = 1076;
    Input in;
    in.event = event_of(d, {});
    Flow f;
    f.handshake(1);
    in.packets = f.packets;
    const Model m = plot_model(in);
    ASSERT_EQ(m.size_bands.size(), 1u);
    EXPECT_EQ(m.size_bands[0].lo, 1076u);
    EXPECT_EQ(m.size_bands[0].hi, 1499u);
    EXPECT_NE(render_svg(m).find(R"(class="size-band" data-lo="1076" data-hi="1499")"), std::string::npos);
}

TEST(TimeSequencePlot, TextIsEscapedAndNothingIsFetched) {
    Flow f;
    f.handshake(1);
    PayloadMatch d;
    Input in;
    in.event = event_of(d, {1});
    in.packets = f.packets;
    Model m = plot_model(in);
    m.title = "a <script>alert(1)</script> & \"quoted\"";
    const std::string svg = render_svg(m);
    EXPECT_EQ(svg.find("<script"), std::string::npos);
    EXPECT_NE(svg.find("&lt;script&gt;"), std::string::npos);
    // The namespace is the only URL in a plot: no fonts, images or scripts from elsewhere.
    std::size_t urls = 0;
    for (std::size_t at = svg.find("http"); at != std::string::npos; at = svg.find("http", at + 1)) ++urls;
    EXPECT_EQ(urls, 1u);
}

TEST(TimeSequencePlot, AZeroLengthProbeThatIsEvidenceIsRingedToo) {
    // Linux probes a zero window with a bare ACK one byte below the next sequence number.
    Flow f;
    f.handshake(1);
    const std::uint32_t s = f.client_isn + 1;
    f.add(true, 2, kAck, s, f.server_isn + 1, 500);
    f.add(false, 3, kAck, f.server_isn + 1, s + 500, 0, 0);            // #5: window 0
    const std::uint64_t probe = f.add(true, 200, kAck, s + 499, f.server_isn + 1).number;  // #6
    Input in;
    in.event = event_of(SynUnanswered{}, {5, probe});
    in.packets = f.packets;
    EXPECT_EQ(attr_numbers(render_svg(plot_model(in)), "evidence"), (std::set<std::uint64_t>{5, probe}));
}

TEST(TimeSequencePlot, ALongFlowDrawsEveryAckInOneLine) {
    // Thousands of ACKs make a points list far longer than any fixed buffer.
    Flow f;
    f.handshake(1);
    std::uint32_t s = f.client_isn + 1;
    for (int i = 0; i < 3000; ++i) {
        f.add(true, 2 + i, kAck, s, f.server_isn + 1, 100);
        s += 100;
        f.add(false, 3 + i, kAck, f.server_isn + 1, s, 0, 1000);
    }
    Input in;
    in.event = event_of(SynUnanswered{}, {});
    in.packets = f.packets;
    const Model m = plot_model(in);
    const std::string svg = render_svg(m);
    // (std::regex recurses per character: no use on a line this long.)
    const std::string start = "<polyline class=\"ack\" points=\"";
    const std::size_t at = svg.find(start);
    ASSERT_NE(at, std::string::npos);
    const std::size_t end = svg.find('"', at + start.size());
    ASSERT_NE(end, std::string::npos);
    const std::string points = svg.substr(at + start.size(), end - at - start.size());
    // One point for the first ACK, two for each later one (across, then up), one to the end.
    EXPECT_EQ(static_cast<std::size_t>(std::count(points.begin(), points.end(), ',')), 2 * m.acks.size());
}

// Every kind in the catalog draws: with its flow's packets, or (no flow: a surge, the sensor's
// own) as a timeline of the packets it names; a kind that needs a quantity of its own has it.
template <std::size_t... I>
void draw_every_kind(std::index_sequence<I...>) {
    (
        [] {
            using Kind = std::variant_alternative_t<I, EventDetail>;
            Flow f;
            f.handshake(5);
            f.add(true, 6, kAck, f.client_isn + 1, f.server_isn + 1, 100);
            for (const bool with_flow : {true, false}) {
                Input in;
                in.event = event_of(Kind{}, {1, 4});
                if (!with_flow) in.event.flow_id = 0;
                in.packets = f.packets;
                const Model m = plot_model(in);
                const std::string svg = render_svg(m);
                SCOPED_TRACE(std::string(Kind::kName) + (with_flow ? " with its flow" : " without a flow"));
                EXPECT_NE(svg.find(std::string(Kind::kName)), std::string::npos);
                EXPECT_EQ(attr_numbers(svg, "evidence"), (std::set<std::uint64_t>{1, 4}));
                EXPECT_TRUE(svg.ends_with("</svg>\n"));
            }
        }(),
        ...);
}

TEST(TimeSequencePlot, EveryKindInTheCatalogIsDrawn) {
    draw_every_kind(std::make_index_sequence<std::variant_size_v<EventDetail>>{});
}

}  // namespace
}  // namespace tcpsleuth::plot
