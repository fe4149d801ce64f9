// The detection matrix: every fault of issue "verdicts that hold beyond our own lab" (and
// the handshake and window faults beside them) in many shapes, not one: IPv4 and IPv6, the
// sensor on either side of the faulty device, LAN / WAN / satellite round trips, the
// retransmission schedules of Linux, Windows, macOS and FreeBSD, captures that end while
// the fault goes on, and a sensor that misses packets. Each shape says what a sensor there
// must report (or that it must stay silent, where the fault leaves no trace on its side);
// the expectations are derived here from the scripted fault, never from tcpsleuth's output.
//
// The tally per event (shapes where it must fire and did, shapes where it must stay silent
// and did) is printed at the end and written to $TCPSLEUTH_SHAPES_SUMMARY when set: README's
// detection table quotes it, and a test keeps the two equal.

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "inspectors/output/event_format.h"
#include "tests/support/path_sim.h"

namespace tcpsleuth {
namespace {

using test::Family;
using test::Harness;
using test::PathSim;
using test::Seg;
using test::SensorSide;
using test::Shape;
using test::SimConn;

// ---- the tally -------------------------------------------------------------------------------

struct Tally {
    int fire = 0, fired = 0;      // shapes where the event must be reported, and was
    int silent = 0, quiet = 0;    // shapes where it must not be, and was not
};
std::map<std::string, Tally>& tallies() {
    static std::map<std::string, Tally> t;
    return t;
}

class SummaryWriter : public ::testing::Environment {
public:
    void TearDown() override {
        std::string text;
        for (const auto& [kind, t] : tallies()) {
            text += kind + " fires " + std::to_string(t.fired) + "/" + std::to_string(t.fire) + " quiet " +
                    std::to_string(t.quiet) + "/" + std::to_string(t.silent) + "\n";
        }
        std::printf("detection matrix:\n%s", text.c_str());
        if (const char* path = std::getenv("TCPSLEUTH_SHAPES_SUMMARY")) std::ofstream(path) << text;
    }
};
[[maybe_unused]] const auto* const kSummary = ::testing::AddGlobalTestEnvironment(new SummaryWriter);

// ---- shapes ------------------------------------------------------------------------------------

constexpr double kLan = 0.1, kWan = 40, kSatellite = 600;

// Every combination of family, sensor side, RTT and stack; with `variants`, each also as a
// capture that ends early and as a sensor that misses packets.
std::vector<Shape> shapes(bool variants) {
    std::vector<Shape> out;
    for (Family f : {Family::kV4, Family::kV6}) {
        for (SensorSide side : {SensorSide::kClientSide, SensorSide::kServerSide}) {
            for (double rtt : {kLan, kWan, kSatellite}) {
                for (const test::Stack* st : test::kStacks) {
                    Shape s{.family = f, .sensor = side, .rtt_ms = rtt, .stack = st};
                    out.push_back(s);
                    if (!variants) continue;
                    Shape early = s;
                    early.ends_early = true;
                    out.push_back(early);
                    Shape misses = s;
                    misses.sensor_misses = true;
                    out.push_back(misses);
                }
            }
        }
    }
    return out;
}

std::vector<Event> run(PathSim& sim) {
    Harness h(Config{}, 64, 256);  // one connection; events are drained after every frame
    sim.replay(h);
    h.finish();
    return h.events();
}

std::vector<Event> of_kind(const std::vector<Event>& ev, std::string_view kind) {
    std::vector<Event> out;
    for (const Event& e : ev) {
        if (event_name(e) == kind) out.push_back(e);
    }
    return out;
}

// The warning-or-worse kinds reported, for "nothing else" checks.
std::set<std::string> serious(const std::vector<Event>& ev) {
    std::set<std::string> out;
    for (const Event& e : ev) {
        if (e.severity != Severity::kInfo) out.insert(std::string(event_name(e)));
    }
    return out;
}

std::string listing(const std::vector<Event>& ev) {
    std::string out;
    for (const Event& e : ev) out += "\n  " + format_event_json(e);
    return out;
}

// Records and checks one shape's outcome: `kind` must be reported (`fire`) or not, and no
// other warning appears but `allowed`. Returns the events of `kind` for further checks.
std::vector<Event> judge(const std::vector<Event>& ev, const std::string& kind, bool fire,
                         const std::set<std::string>& allowed = {}) {
    const std::vector<Event> found = of_kind(ev, kind);
    Tally& t = tallies()[kind];
    const bool ok = fire ? !found.empty() : found.empty();
    if (fire) {
        ++t.fire;
        t.fired += ok;
    } else {
        ++t.silent;
        t.quiet += ok;
    }
    EXPECT_TRUE(ok) << (fire ? "expected " : "did not expect ") << kind << listing(ev);
    std::set<std::string> others = serious(ev);
    others.erase(kind);
    for (const std::string& a : allowed) others.erase(a);
    EXPECT_TRUE(others.empty()) << "other findings: " << listing(ev);
    return found;
}

// ---- mtu.blackhole ---------------------------------------------------------------------------

enum class Position { kFirstSegment, kMidTransfer, kAfterIdle };
const char* name(Position p) {
    switch (p) {
        case Position::kFirstSegment: return "first-segment";
        case Position::kMidTransfer: return "mid-transfer";
        case Position::kAfterIdle: return "after-idle";
    }
    return "?";
}

struct BlackholeCase {
    Position position;
    bool client_sends;  // an upload, or the server's response
    bool shrinks;       // the sender probes smaller (Linux tcp_mtu_probing, RFC 4821)
};

// The path carries 1400 bytes (IPv4) or 1280 (IPv6) and filters ICMP: full-sized segments
// vanish. Smaller data (600 bytes) gets through.
void blackhole(const Shape& shape, const BlackholeCase& c) {
    PathSim sim(shape);
    const std::uint32_t pmtu = shape.family == Family::kV4 ? 1400 : 1280;
    sim.set_device([&](Seg& s, double) { return sim.ip_len(s.len) <= pmtu; });
    SimConn conn(sim);
    const bool x = c.client_sends;
    const double rtt = shape.rtt_ms;
    double t = conn.handshake(0);
    // Data from `from` that gets through, acknowledged on arrival; returns the next send time.
    const auto deliver = [&](bool from, std::uint32_t len, double at) {
        const Seg s = conn.data(from, len);
        if (const auto arrived = sim.send(s, at)) {
            conn.received(!from, s.seq + len);
            sim.send(conn.ack_from(!from), *arrived + 0.05);
        }
        return at + rtt + 1;
    };
    if (c.position != Position::kFirstSegment) {
        for (int i = 0; i < 4; ++i) t = deliver(x, 600, t);
    }
    if (c.position == Position::kAfterIdle) t = deliver(!x, 100, t + 30'000);  // 30 s idle, then a request
    const std::uint32_t full = sim.full_payload();
    const std::uint32_t head = x ? conn.cnxt : conn.snxt;
    for (int i = 0; i < 4; ++i) sim.send(conn.data(x, full), t + i * 0.01);  // an initial window, all lost
    double rt = t, second = 0;
    for (std::uint32_t k = 1; k <= 5; ++k) {
        rt += test::rto_ms(*shape.stack, rtt, k);
        sim.send(conn.resend(x, head, full), rt);
        if (k == 2) second = rt;
    }
    if (c.shrinks) {
        rt += test::rto_ms(*shape.stack, rtt, 6);
        const auto arrived = sim.send(conn.resend(x, head, 1000), rt);
        conn.received(!x, head + 1000);
        sim.send(conn.ack_from(!x), *arrived + 0.05);
    }
    if (shape.ends_early) sim.end_capture_at(second + test::rto_ms(*shape.stack, rtt, 3) / 2);

    // The sensor sees the large segments only on the sender's side of the device.
    const bool sender_side = (shape.sensor == SensorSide::kClientSide) == x;
    const std::vector<Event> ev = run(sim);
    const auto found = judge(ev, "mtu.blackhole", sender_side);
    if (found.empty()) return;
    const auto& d = std::get<MtuBlackhole>(found[0].detail);
    EXPECT_EQ(d.sender, x ? Side::kClient : Side::kServer);
    EXPECT_EQ(d.lost_payload, full);
    EXPECT_EQ(d.lost_ip_len, sim.ip_len(full));
    EXPECT_EQ(found[0].where, Where::kDownstream);
    // The bracket's lower end: what the path was seen to carry in that direction.
    Seg syn{.from_client = x, .flags = static_cast<std::uint8_t>(x ? kSyn : kSyn | kAck), .syn_options = true};
    const std::uint32_t syn_ip_len = static_cast<std::uint32_t>(sim.build(syn, 64).size() - 14);
    const std::uint32_t lower = c.position == Position::kFirstSegment ? syn_ip_len : sim.ip_len(600);
    EXPECT_EQ(std::max(d.carried_ip_len, d.delivered_ip_len), lower);
    if (shape.ends_early) {
        EXPECT_TRUE(d.capture_ended);
        EXPECT_EQ(found[0].confidence, Confidence::kLow);
        return;
    }
    EXPECT_EQ(found[0].confidence, Confidence::kMedium);
    EXPECT_EQ(found[0].severity, Severity::kCritical);
    ASSERT_EQ(found.size(), c.shrinks ? 2u : 1u);
    if (c.shrinks) {
        const auto& confirmed = std::get<MtuBlackhole>(found[1].detail);
        EXPECT_TRUE(confirmed.confirmed);
        EXPECT_EQ(confirmed.delivered_ip_len, sim.ip_len(1000));
        EXPECT_EQ(found[1].confidence, Confidence::kHigh);
    }
}

TEST(Shapes, MtuBlackhole) {
    for (Position p : {Position::kFirstSegment, Position::kMidTransfer, Position::kAfterIdle}) {
        for (bool client : {true, false}) {
            for (bool shrinks : {false, true}) {
                for (const Shape& s : shapes(true)) {
                    if (shrinks && s.ends_early) continue;  // the capture ends before the sender shrinks
                    SCOPED_TRACE(s.name() + "/" + name(p) + (client ? "/upload" : "/download") +
                                 (shrinks ? "/shrinks" : ""));
                    blackhole(s, {p, client, shrinks});
                }
            }
        }
    }
}

// A bulk transfer whose window never drains (every ACK is behind the newest segment), after
// a small first write that proved only its own size, loses one full-sized segment and two of
// its retransmissions to ordinary loss; the third gets through. The full size was proved all
// along by the ACKs that did arrive: no black hole, from either side, whatever the round trip,
// also when the capture ends while the segment is still being resent.
void bulk_loss(const Shape& shape, bool client_sends) {
    PathSim sim(shape);
    SimConn conn(sim);
    const bool x = client_sends;
    const double rtt = shape.rtt_ms;
    double t = conn.handshake(0);
    const Seg first = conn.data(x, 120);
    if (const auto arrived = sim.send(first, t)) {
        conn.received(!x, first.seq + first.len);
        sim.send(conn.ack_from(!x), *arrived + 0.05);
    }
    t += rtt + 1;
    const std::uint32_t full = sim.full_payload();
    const std::uint32_t lost = (x ? conn.cnxt : conn.snxt) + 30 * full;  // the 31st segment
    int lost_sends = 0;
    sim.set_device([&](Seg& s, double) { return !(s.from_client == x && s.len != 0 && s.seq == lost && lost_sends++ < 3); });
    const double pace = std::max(rtt / 10, 0.01);  // ten segments per round trip in flight
    for (int i = 0; i < 60; ++i, t += pace) {
        const Seg s = conn.data(x, full);
        if (const auto arrived = sim.send(s, t)) {
            // Cumulative: up to the hole once it opened.
            conn.received(!x, s.seq < lost ? s.seq + full : lost);
            sim.send(conn.ack_from(!x), *arrived + 0.05);
        }
    }
    double rt = t, second = 0;
    for (std::uint32_t k = 1; k <= 3; ++k) {
        rt += test::rto_ms(*shape.stack, rtt, k);
        if (const auto arrived = sim.send(conn.resend(x, lost, full), rt)) {
            conn.received(!x, x ? conn.cnxt : conn.snxt);  // the hole filled: everything
            sim.send(conn.ack_from(!x), *arrived + 0.05);
        }
        if (k == 2) second = rt;
    }
    if (shape.ends_early) sim.end_capture_at(second + test::rto_ms(*shape.stack, rtt, 3) / 2);
    // The scripted receiver's duplicate ACKs carry no SACK blocks though SACK was agreed.
    judge(run(sim), "mtu.blackhole", false, {"sack.missing_during_loss"});
}

TEST(Shapes, BulkLossIsNotABlackhole) {
    for (bool client : {true, false}) {
        for (const Shape& s : shapes(true)) {
            SCOPED_TRACE(s.name() + (client ? "/upload" : "/download"));
            bulk_loss(s, client);
        }
    }
}

// ---- idle.timeout_drop, idle.reset_after_idle --------------------------------------------------

enum class IdleFate { kDropped, kReset, kRhythm, kHalfClosed };
const char* name(IdleFate f) {
    switch (f) {
        case IdleFate::kDropped: return "dropped";
        case IdleFate::kReset: return "reset";
        case IdleFate::kRhythm: return "rhythm";
        case IdleFate::kHalfClosed: return "half-closed";
    }
    return "?";
}

// Two exchanges answered within a round trip, `gap` ms of silence, then a device that forgot
// the flow drops everything (or resets the first packet, from its own IP stack). kRhythm: the
// flow polled at exactly this interval before and every poll survived; this time the request
// is lost twice by chance, then answered. kHalfClosed: the client had closed its side; after
// the gap the server's data is dropped (a device's half-closed timeout).
void idle(const Shape& shape, double gap, IdleFate fate) {
    PathSim sim(shape);
    SimConn conn(sim);
    const double rtt = shape.rtt_ms;
    bool forgot = false;
    int chance_losses = 0;
    sim.set_device([&](Seg&, double) {
        if (forgot) return false;
        if (chance_losses == 0) return true;
        --chance_losses;
        return false;
    });
    double t = conn.handshake(0);
    const auto exchange = [&](double at) {
        Seg req = conn.data(true, 100);
        double arrived = *sim.send(req, at);
        conn.received(false, req.seq + 100);
        Seg resp = conn.data(false, 200);
        arrived = *sim.send(resp, arrived + 0.2);
        conn.received(true, resp.seq + 200);
        return *sim.send(conn.ack_from(true), arrived + 0.05) + 1;
    };
    t = exchange(t);
    t = exchange(t + rtt);
    if (fate == IdleFate::kRhythm) {
        for (int i = 0; i < 4; ++i) t = exchange(t + gap);
        chance_losses = 2;
    }
    bool server_first = false;
    if (fate == IdleFate::kHalfClosed) {
        Seg fin = conn.ack_from(true);
        fin.flags = kAck | kFin;
        const double arrived = *sim.send(fin, t);
        ++conn.cnxt;
        conn.received(false, fin.seq + 1);
        t = *sim.send(conn.ack_from(false), arrived + 0.05) + 1;
        server_first = true;
    }
    t += gap;
    if (fate != IdleFate::kRhythm) forgot = true;
    const bool from = !server_first;
    const Seg first = conn.data(from, 100);
    sim.send(first, t);
    double rt = t, end = 0;
    if (fate == IdleFate::kReset) {
        // The device answers the request itself with a RST claiming the server.
        Seg rst{.from_client = false, .seq = conn.snxt, .ack = first.seq + 100, .flags = kRst | kAck, .window = 0};
        sim.inject(rst, t + rtt / 4, 64);
    } else {
        for (std::uint32_t k = 1; k <= 4; ++k) {
            rt += test::rto_ms(*shape.stack, rtt, k);
            const auto arrived = sim.send(conn.resend(from, first.seq, 100), rt);
            if (k == 1) end = rt + test::rto_ms(*shape.stack, rtt, 2) / 2;
            if (arrived) {  // the rhythm case: the third copy gets through and is answered
                conn.received(!from, first.seq + 100);
                sim.send(conn.ack_from(!from), *arrived + 0.05);
                break;
            }
        }
    }
    if (shape.ends_early) sim.end_capture_at(end);

    // Judged idle when at least 1 s, 10 RTTs and twice the flow's longest earlier silence.
    const bool significant = gap >= 1000 && gap >= 10 * rtt;
    // The device sits between the two sides; only a sensor on the side of the packets'
    // sender sees them go unanswered (or sees the RST the device sends that way).
    const bool sees = (shape.sensor == SensorSide::kClientSide) == from;
    const std::string trace = std::string(name(fate)) + "/gap=" + std::to_string(static_cast<long>(gap / 1000)) + "s";
    SCOPED_TRACE(trace);
    const std::vector<Event> ev = run(sim);
    switch (fate) {
        case IdleFate::kDropped:
        case IdleFate::kHalfClosed: {
            const auto found = judge(ev, "idle.timeout_drop", sees && significant);
            if (found.empty()) return;
            const auto& d = std::get<IdleTimeoutDrop>(found[0].detail);
            EXPECT_EQ(d.first_sender, from ? Side::kClient : Side::kServer);
            EXPECT_NEAR(d.gap_ms, gap, rtt + 5);
            EXPECT_EQ(d.capture_ended, shape.ends_early);
            EXPECT_EQ(found[0].confidence, shape.ends_early ? Confidence::kLow : Confidence::kMedium);
            EXPECT_EQ(found[0].where, Where::kDownstream);
            return;
        }
        case IdleFate::kReset: {
            if (shape.ends_early) return;  // the RST comes at once: nothing ends early
            const auto found = judge(ev, "idle.reset_after_idle", sees && significant, {"rst.injected"});
            judge(ev, "rst.injected", sees, {"idle.reset_after_idle"});
            if (found.empty()) return;
            const auto& d = std::get<IdleResetAfterIdle>(found[0].detail);
            EXPECT_TRUE(d.prompted);
            EXPECT_FALSE(d.ttl_matches);
            EXPECT_EQ(found[0].confidence, Confidence::kHigh);
            return;
        }
        case IdleFate::kRhythm:
            if (shape.ends_early) return;
            judge(ev, "idle.timeout_drop", false);
            return;
    }
}

TEST(Shapes, IdleGaps) {
    for (IdleFate fate : {IdleFate::kDropped, IdleFate::kReset, IdleFate::kRhythm, IdleFate::kHalfClosed}) {
        for (double gap : {2'000.0, 8'000.0, 60'000.0, 3'600'000.0}) {
            for (const Shape& s : shapes(true)) {
                SCOPED_TRACE(s.name());
                idle(s, gap, fate);
            }
        }
    }
}

// ---- rst.injected ------------------------------------------------------------------------------

enum class RstShape { kOneHopOff, kFarOff, kRaceBefore, kRaceBeforeWrongAck, kBesideSynAck };
const char* name(RstShape r) {
    switch (r) {
        case RstShape::kOneHopOff: return "one-hop-off";
        case RstShape::kFarOff: return "far-off";
        case RstShape::kRaceBefore: return "race-before";
        case RstShape::kRaceBeforeWrongAck: return "race-before-wrong-ack";
        case RstShape::kBesideSynAck: return "beside-syn-ack";
    }
    return "?";
}

// A device between the sensor's side and the server forges a RST toward the client. Mid-flow
// from next to the server (one hop nearer than the server) or from far away; or racing the
// handshake: answering the SYN before the real SYN-ACK, or right after it.
void forged_rst(const Shape& shape, RstShape kind) {
    PathSim sim(shape);
    SimConn conn(sim);
    const double rtt = shape.rtt_ms;
    const std::uint8_t server_ttl_seen = sim.seen_ttl(false);
    if (kind == RstShape::kOneHopOff || kind == RstShape::kFarOff) {
        double t = conn.handshake(0);
        for (int i = 0; i < 6; ++i) {  // the server's TTL holds steady over many packets
            const Seg req = conn.data(true, 100);
            const double at = *sim.send(req, t);
            conn.received(false, req.seq + 100);
            const Seg resp = conn.data(false, 300);
            conn.received(true, resp.seq + 300);
            t = *sim.send(resp, at + 0.2) + rtt;
        }
        const Seg rst{.from_client = false, .seq = conn.snxt, .flags = kRst, .window = 0};
        sim.inject(rst, t, static_cast<std::uint8_t>(server_ttl_seen + (kind == RstShape::kOneHopOff ? 1 : 3)));
    } else {
        const Seg syn{.from_client = true, .seq = SimConn::kClientIsn, .flags = kSyn, .window = 64240, .syn_options = true};
        const double at_server = *sim.send(syn, 0);
        const bool wrong = kind == RstShape::kRaceBeforeWrongAck;
        const Seg rst{.from_client = false, .seq = 0, .ack = SimConn::kClientIsn + (wrong ? 0u : 1u),
                      .flags = kRst | kAck, .window = 0};
        if (kind != RstShape::kBesideSynAck) sim.inject(rst, rtt / 4, 64);  // as the SYN passes the device
        const Seg synack{.from_client = false, .seq = SimConn::kServerIsn, .ack = SimConn::kClientIsn + 1,
                         .flags = kSyn | kAck, .window = 65160, .syn_options = true};
        const double at_client = *sim.send(synack, at_server + 0.01);
        if (kind == RstShape::kBesideSynAck) {
            Seg beside = rst;
            beside.seq = SimConn::kServerIsn + 1;
            sim.inject(beside, at_server + rtt / 4 + 0.02, 64);
        }
        if (kind == RstShape::kRaceBefore) {
            // The client took the forged RST: the connection is gone, the SYN-ACK gets a RST.
            sim.send(Seg{.from_client = true, .seq = SimConn::kClientIsn + 1, .flags = kRst, .window = 0}, at_client + 0.01);
        } else {
            sim.send(conn.ack_from(true), at_client + 0.01);
        }
    }
    if (shape.ends_early) return;  // nothing goes on after a RST
    // The forged RST travels toward the client: a sensor on the server's side never sees it.
    const bool sees = shape.sensor == SensorSide::kClientSide;
    SCOPED_TRACE(name(kind));
    const std::vector<Event> ev = run(sim);
    const auto found = judge(ev, "rst.injected", sees);
    if (found.empty()) return;
    const auto& d = std::get<RstInjected>(found[0].detail);
    EXPECT_EQ(d.claims, Side::kServer);
    EXPECT_EQ(found[0].where, Where::kUpstream);
    const bool v4 = shape.family == Family::kV4;
    switch (kind) {
        case RstShape::kOneHopOff:
            EXPECT_TRUE(d.ttl_one_hop);
            // One hop is weak alone; the IP ID off the server's counter (IPv4) adds to it.
            EXPECT_EQ(found[0].confidence, v4 ? Confidence::kMedium : Confidence::kLow);
            break;
        case RstShape::kFarOff:
            EXPECT_TRUE(d.ttl_mismatch);
            EXPECT_EQ(found[0].confidence, v4 ? Confidence::kHigh : Confidence::kMedium);
            break;
        case RstShape::kRaceBefore:
        case RstShape::kRaceBeforeWrongAck:
            EXPECT_EQ(d.race, RstRace::kBeforeSynAck);
            EXPECT_EQ(d.ack_wrong, kind == RstShape::kRaceBeforeWrongAck);
            EXPECT_EQ(found[0].confidence, Confidence::kHigh);
            break;
        case RstShape::kBesideSynAck:
            EXPECT_EQ(d.race, RstRace::kBesideSynAck);
            EXPECT_EQ(found[0].confidence, Confidence::kHigh);
            break;
    }
}

TEST(Shapes, ForgedRst) {
    for (RstShape k : {RstShape::kOneHopOff, RstShape::kFarOff, RstShape::kRaceBefore, RstShape::kRaceBeforeWrongAck,
                       RstShape::kBesideSynAck}) {
        for (const Shape& s : shapes(false)) {
            SCOPED_TRACE(s.name());
            forged_rst(s, k);
        }
    }
}

// A genuine RST: the server's own TTL, after a route change moved all its packets by a hop.
TEST(Shapes, GenuineRstAfterRouteChange) {
    for (const Shape& s : shapes(false)) {
        SCOPED_TRACE(s.name());
        PathSim sim(s);
        SimConn conn(sim);
        double t = conn.handshake(0);
        for (int i = 0; i < 6; ++i) {
            const Seg req = conn.data(true, 100);
            const double at = *sim.send(req, t);
            conn.received(false, req.seq + 100);
            Seg resp = conn.data(false, 300);
            if (i >= 3) resp.ttl = static_cast<std::uint8_t>(s.stack->ttl - 1);  // one hop shorter from now on
            conn.received(true, resp.seq + 300);
            t = *sim.send(resp, at + 0.2) + s.rtt_ms;
        }
        Seg rst{.from_client = false, .seq = conn.snxt, .flags = kRst, .window = 0};
        rst.ttl = static_cast<std::uint8_t>(s.stack->ttl - 1);
        sim.send(rst, t);
        judge(run(sim), "rst.injected", false);
    }
}

// ---- path.one_way_loss -------------------------------------------------------------------------

// After four good exchanges the device stops passing one direction. The client uploads;
// with `both_send` the server sends data of its own too. Each side retransmits what it does
// not see acknowledged, with its stack's back-off.
void one_way(const Shape& shape, bool lost_to_client, bool both_send) {
    PathSim sim(shape);
    SimConn conn(sim);
    const double rtt = shape.rtt_ms;
    bool broken = false;
    sim.set_device([&](Seg& s, double) { return !(broken && s.from_client != lost_to_client); });
    double t = conn.handshake(0);
    const auto exchange = [&](bool from, std::uint32_t len, double at) {
        const Seg s = conn.data(from, len);
        const double arrived = *sim.send(s, at);
        conn.received(!from, s.seq + len);
        sim.send(conn.ack_from(!from), arrived + 0.05);
    };
    for (int i = 0; i < 4; ++i) {
        exchange(true, 1000, t);
        if (both_send) exchange(false, 500, t + 0.5);
        t += rtt + 2;
    }
    broken = true;
    // Each sender resends its stuck segment until the other side's ACK reaches it.
    const auto stuck = [&](bool from, std::uint32_t len) {
        const Seg s = conn.data(from, len);
        bool acked = false;
        double rt = t;
        for (std::uint32_t k = 0; k <= 5 && !acked; ++k) {
            if (k != 0) rt += test::rto_ms(*shape.stack, rtt, k);
            if (const auto arrived = sim.send(conn.resend(from, s.seq, len), rt)) {
                conn.received(!from, s.seq + len);
                acked = sim.send(conn.ack_from(!from), *arrived + 0.05).has_value();
            }
        }
    };
    stuck(true, 1000);
    if (both_send) stuck(false, 500);

    // The ACKs (or data) lost after the sensor: visible where the lost packets still pass
    // the sensor, and a sender keeps resending what the sensor saw acknowledged.
    const bool client_side = shape.sensor == SensorSide::kClientSide;
    // lost to client: the server's ACKs pass a server-side sensor, the client resends.
    // lost to server: the client's ACKs of the server's data pass a client-side sensor.
    const bool sees = lost_to_client ? !client_side : (client_side && both_send);
    const std::vector<Event> ev = run(sim);
    const auto found = judge(ev, "path.one_way_loss", sees);
    if (found.empty()) return;
    const auto& d = std::get<PathOneWayLoss>(found[0].detail);
    EXPECT_TRUE(d.acknowledged);
    EXPECT_EQ(d.lost_from, lost_to_client ? Side::kServer : Side::kClient);
    EXPECT_EQ(d.sender, lost_to_client ? Side::kClient : Side::kServer);
    EXPECT_GE(d.retransmissions, 3u);
    EXPECT_EQ(found[0].where, Where::kDownstream);
    EXPECT_EQ(found[0].confidence, Confidence::kHigh);
}

TEST(Shapes, OneWayLoss) {
    for (bool lost_to_client : {true, false}) {
        for (bool both : {false, true}) {
            for (const Shape& s : shapes(false)) {
                SCOPED_TRACE(s.name() + (lost_to_client ? "/server-to-client-lost" : "/client-to-server-lost") +
                             (both ? "/both-send" : "/upload"));
                one_way(s, lost_to_client, both);
            }
        }
    }
}

// ---- window.receiver_limited, window.zero_stall ------------------------------------------------

// The server reads slowly: the client fills its 32 KiB window, the server acknowledges with
// the window shrunk to nothing (or to less than a segment), and opens it `pause` ms later.
void slow_reader(const Shape& shape, int episodes, double pause, bool zero) {
    PathSim sim(shape);
    SimConn conn(sim);
    const double rtt = shape.rtt_ms;
    double t = conn.handshake(0);
    const std::uint32_t seg = 1000;
    for (int e = 0; e < episodes; ++e) {
        double arrived = t;
        for (int i = 0; i < 32; ++i) {
            const Seg s = conn.data(true, seg);
            arrived = *sim.send(s, t + i * 0.01);
            conn.received(false, s.seq + seg);
        }
        Seg full = conn.ack_from(false);
        full.window = zero ? 0 : static_cast<std::uint16_t>(256 >> sim.wscale());  // or 256 bytes: less than a segment
        const double closed = *sim.send(full, arrived + 0.05);
        // The sender's persist timer probes a closed window (RFC 9293 3.8.6.1), backing off
        // like its RTO: Linux with a zero-length segment at SND.UNA-1, the others with one new
        // byte, which the receiver does not take. The receiver answers each with its window.
        for (double probe = closed + test::rto_ms(*shape.stack, rtt, 1), k = 1; zero && probe < arrived + pause;
             probe += test::rto_ms(*shape.stack, rtt, static_cast<std::uint32_t>(++k))) {
            Seg p = conn.ack_from(true);
            if (shape.stack == &test::kLinux) {
                p.seq -= 1;
            } else {
                p.len = 1;
            }
            if (const auto at = sim.send(p, probe)) sim.send(full, *at + 0.05);
        }
        Seg update = conn.ack_from(false);
        update.window = static_cast<std::uint16_t>(32768 >> sim.wscale());
        t = *sim.send(update, arrived + pause) + 0.05;
    }
    conn.received(true, conn.snxt);
    const std::vector<Event> ev = run(sim);
    // No device: both sides see it alike. A closed window held past 1 s is a stall.
    const double limited = episodes * pause;
    const bool stall = zero && pause >= 1000;
    const bool repeated = episodes >= 4 && !stall;
    const auto found = judge(ev, "window.receiver_limited", repeated, {"window.zero_stall"});
    judge(ev, "window.zero_stall", stall, {"window.receiver_limited"});
    if (found.empty()) return;
    const auto& d = std::get<WindowReceiverLimited>(found.back().detail);
    EXPECT_EQ(d.receiver, Side::kServer);
    // Dominant (warning) once more than 1 s was held back and most of the transfer.
    const bool dominant = limited >= 1000 && pause > 10 * rtt;
    EXPECT_EQ(found.back().severity, dominant ? Severity::kWarning : Severity::kInfo) << listing(ev);
    EXPECT_EQ(d.zero_episodes, zero ? d.episodes : 0u);
}

TEST(Shapes, SlowReader) {
    for (bool zero : {true, false}) {
        for (auto [episodes, pause] : {std::pair{30, 60.0}, {6, 5.0}, {2, 60.0}, {1, 3000.0}}) {
            for (const Shape& s : shapes(false)) {
                if (s.rtt_ms * 10 > pause && episodes > 1) continue;  // a pause shorter than the RTT is no stall
                SCOPED_TRACE(s.name() + (zero ? "/zero" : "/full") + "/" + std::to_string(episodes) + "x" +
                             std::to_string(static_cast<int>(pause)) + "ms");
                slow_reader(s, episodes, pause, zero);
            }
        }
    }
}

// ---- options.stripped, window.scale_mismatch ---------------------------------------------------

// A device overwrites window scale in the SYN-ACK with NOPs. The server scales its windows
// (65160 >> shift, below one segment); the client reads them raw and sends exactly that.
// In front of the device the sensor sees the NOPs and the tiny windows; behind it, the
// option intact and a client that never used it.
TEST(Shapes, WindowScaleStrippedFromTheSynAck) {
    for (const Shape& shape : shapes(false)) {
        SCOPED_TRACE(shape.name());
        PathSim sim(shape);
        sim.set_device([](Seg& s, double) {
            if ((s.flags & (kSyn | kAck)) == (kSyn | kAck)) s.wscale_nopped = true;
            return true;
        });
        SimConn conn(sim);
        double t = conn.handshake(0);
        const auto raw = static_cast<std::uint16_t>(65160 >> sim.wscale());
        for (int i = 0; i < 6; ++i) {
            Seg ack = conn.ack_from(false);
            ack.window = raw;
            const double at = *sim.send(ack, t);
            const Seg d = conn.data(true, raw);
            conn.received(false, d.seq + raw);
            t = *sim.send(d, at + 0.05) + 0.05;
        }
        const bool client_side = shape.sensor == SensorSide::kClientSide;
        const std::vector<Event> ev = run(sim);
        const auto strip = judge(ev, "options.stripped", true, {"window.scale_mismatch"});
        const auto mismatch = judge(ev, "window.scale_mismatch", true, {"options.stripped"});
        if (strip.empty() || mismatch.empty()) continue;
        const auto& o = std::get<OptionsStripped>(strip[0].detail);
        EXPECT_EQ(o.option, OptionKind::kWscale);
        EXPECT_EQ(o.side, Side::kServer);
        // Stripped between the server and the sensor (upstream), or past it (downstream).
        EXPECT_EQ(strip[0].where, client_side ? Where::kUpstream : Where::kDownstream);
        const auto& m = std::get<WindowScaleMismatch>(mismatch[0].detail);
        EXPECT_EQ(m.scaling_side, Side::kServer);
        EXPECT_EQ(m.reader_capped, !client_side);
        EXPECT_EQ(mismatch[0].where, client_side ? Where::kUpstream : Where::kDownstream);
    }
}

// ---- ecn.bleached ------------------------------------------------------------------------------

// ECN agreed; a device rewriting the TOS byte clears ECT from the server's data. In front of
// the device the data arrives Not-ECT; behind it, still ECT(0).
TEST(Shapes, EcnBleached) {
    for (const Shape& shape : shapes(false)) {
        SCOPED_TRACE(shape.name());
        PathSim sim(shape);
        sim.set_device([](Seg& s, double) {
            if (!s.from_client) s.ecn = 0;
            return true;
        });
        SimConn conn(sim);
        double t = conn.handshake(0, true);
        for (int i = 0; i < 12; ++i) {
            Seg d = conn.data(false, 1000);
            d.ecn = 2;  // ECT(0) on new data (RFC 3168 section 6.1.1)
            const double at = *sim.send(d, t);
            conn.received(true, d.seq + 1000);
            t = *sim.send(conn.ack_from(true), at + 0.05) + 0.05;
        }
        const bool sees = shape.sensor == SensorSide::kClientSide;
        const auto found = judge(run(sim), "ecn.bleached", sees);
        if (!found.empty()) {
            EXPECT_EQ(std::get<EcnBleached>(found[0].detail).sender, Side::kServer);
        }
    }
}

// ---- mtu.icmp_frag_needed ----------------------------------------------------------------------

// A narrow link whose router does send frag-needed / packet-too-big. When the ICMP gets to
// the client, the client shrinks its segments: information. When it is dropped between the
// sensor and the client, the client keeps resending full-sized: the ICMP is ignored (warning),
// and no sensor on the client's side takes it for a black hole.
void icmp_too_big(const Shape& shape, bool reaches_sender) {
    PathSim sim(shape);
    const std::uint32_t pmtu = shape.family == Family::kV4 ? 1400 : 1280;
    sim.set_device([&](Seg& s, double) { return sim.ip_len(s.len) <= pmtu; });
    SimConn conn(sim);
    const double rtt = shape.rtt_ms;
    const double t = conn.handshake(0);
    const std::uint32_t full = sim.full_payload();
    const Seg big = conn.data(true, full);
    sim.send(big, t);
    sim.inject_icmp_too_big(big, t + rtt / 4, static_cast<std::uint16_t>(pmtu));
    if (reaches_sender) {
        const std::uint32_t fits = pmtu - (sim.ip_len(0));
        const auto at = sim.send(conn.resend(true, big.seq, fits), t + rtt / 2 + 1);
        conn.received(false, big.seq + fits);
        sim.send(conn.ack_from(false), *at + 0.05);
    } else {
        double rt = t;
        for (std::uint32_t k = 1; k <= 4; ++k) {
            rt += test::rto_ms(*shape.stack, rtt, k);
            sim.send(conn.resend(true, big.seq, full), rt);
        }
    }
    const bool sees = shape.sensor == SensorSide::kClientSide;
    const std::vector<Event> ev = run(sim);
    SCOPED_TRACE(reaches_sender ? "icmp-reaches-sender" : "icmp-lost-past-sensor");
    // The first report is information; an ignored one is reported again as a warning. A
    // sensor that saw the ICMP does not call the loss a black hole; one behind the device
    // sees neither the segment nor the ICMP.
    const auto found = judge(ev, "mtu.icmp_frag_needed", sees, {"mtu.blackhole"});
    if (!sees || found.empty()) return;
    EXPECT_EQ(std::get<IcmpFragNeeded>(found[0].detail).mtu, pmtu);
    EXPECT_EQ(found.back().severity, reaches_sender ? Severity::kInfo : Severity::kWarning) << listing(ev);
    for (const Event& e : of_kind(ev, "mtu.blackhole")) EXPECT_TRUE(std::get<MtuBlackhole>(e.detail).icmp_seen);
}

TEST(Shapes, IcmpFragNeeded) {
    for (bool reaches : {true, false}) {
        for (const Shape& s : shapes(false)) {
            SCOPED_TRACE(s.name());
            icmp_too_big(s, reaches);
        }
    }
}

// ---- handshake.syn_unanswered ------------------------------------------------------------------

// A device drops every SYN to the server: the client retries on its stack's schedule.
TEST(Shapes, SynUnanswered) {
    for (const Shape& s : shapes(true)) {
        SCOPED_TRACE(s.name());
        PathSim sim(s);
        sim.set_device([](Seg& seg, double) { return !(seg.flags & kSyn); });
        double last = 0;
        for (std::uint32_t n = 0; n <= s.stack->syn_retries && n <= 3; ++n) {
            last = n == 0 ? 0 : test::syn_retry_ms(*s.stack, n);
            sim.send(Seg{.from_client = true, .seq = SimConn::kClientIsn, .flags = kSyn, .window = 64240,
                         .syn_options = true},
                     last);
        }
        // After the first retry has passed the sensor (it sees a packet at most half an RTT on).
        if (s.ends_early) sim.end_capture_at(test::syn_retry_ms(*s.stack, 1) + s.rtt_ms / 2 + 1);
        const bool sees = s.sensor == SensorSide::kClientSide;
        const auto found = judge(run(sim), "handshake.syn_unanswered", sees);
        if (!found.empty()) {
            EXPECT_EQ(std::get<SynUnanswered>(found[0].detail).final, s.ends_early);
        }
    }
}

}  // namespace
}  // namespace tcpsleuth
