#pragma once
// PathSim: one TCP connection across a path with a faulty device on it, seen by a sensor on
// one side of that device. The detectors are tested on what a sensor at that point would
// capture, so the same scripted fault gives a sender-side view and a receiver-side view
// without the test writing either by hand.
//
//   client ---- [sensor, client side] -- device -- [sensor, server side] ---- server
//
// The one-way delay is half the RTT; the sensor sits a quarter of it from the device. A
// packet the device drops is seen only by a sensor it passed before reaching the device;
// a packet the device creates (a forged RST) only by a sensor on the side it is sent to.
//
// Endpoints are scripted, not simulated: a script sends a segment and learns whether (and
// when) it arrived, and reacts only to what arrived. The stacks' timers are taken from
// their documentation (Stack below), so a script retransmits on the schedule of the stack
// under test.

#include <algorithm>
#include <cstdio>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/frame_builder.h"
#include "tests/support/harness.h"

namespace tcpsleuth::test {

// A TCP stack's timers, initial TTL and SYN option layout.
//   Linux: TCP_RTO_MIN 200 ms, TCP_TIMEOUT_INIT 1 s doubling per SYN retry (tcp_syn_retries
//     6: +1, +3, +7, +15 s ...), TTL 64, SYN options MSS, SACK_PERM, TS, NOP, WS.
//   Windows 10 / Server 2016+ (Get-NetTCPSetting): MinRto 300 ms, InitialRto 3 s, two SYN
//     retransmissions (+3, +9 s), TTL 128, no timestamps: MSS, NOP, WS, NOP, NOP, SACK_PERM.
//   macOS (xnu tcp_timer.c): SYN back-off table {1,1,1,1,1,2,4,8,...} x 1 s (SYNs at +1, +2,
//     +3, +4, +5, +7 s), data back-off doubling to 64x, RTO floor taken as 200 ms, TTL 64,
//     MSS, NOP, WS, NOP, NOP, TS, SACK_PERM, EOL.
//   FreeBSD (tcp_timer.c, tcp_subr.c): the same SYN table, rexmit_min 30 ms plus rexmit_slop
//     200 ms, TTL 64, MSS, NOP, WS, SACK_PERM, TS.
struct Stack {
    const char* name;
    std::uint8_t ttl;
    std::uint32_t min_rto_ms;
    std::uint32_t initial_rto_ms;
    bool bsd_syn_backoff;
    std::uint32_t syn_retries;
    bool timestamps;
};
inline const Stack kLinux{"linux", 64, 200, 1000, false, 6, true};
inline const Stack kWindows{"windows", 128, 300, 3000, false, 2, false};
inline const Stack kMacos{"macos", 64, 200, 1000, true, 8, true};
inline const Stack kFreebsd{"freebsd", 64, 230, 1000, true, 6, true};
inline const Stack* const kStacks[] = {&kLinux, &kWindows, &kMacos, &kFreebsd};

// When the n-th SYN retransmission (n >= 1) leaves, ms after the first SYN.
inline double syn_retry_ms(const Stack& s, std::uint32_t n) {
    static constexpr std::uint32_t kBsd[] = {1, 1, 1, 1, 1, 2, 4, 8, 16, 32, 64, 64, 64};
    double t = 0;
    for (std::uint32_t i = 0; i < n; ++i) t += s.initial_rto_ms * (s.bsd_syn_backoff ? kBsd[std::min(i, 12u)] : (1u << i));
    return t;
}

// The k-th data retransmission's timeout (k >= 1), doubling from max(floor, 2 RTT)
// (RFC 6298: SRTT + 4 RTTVAR, about 2-3 RTT on a steady path), capped at 64 s.
inline double rto_ms(const Stack& s, double rtt_ms, std::uint32_t k) {
    const double base = std::max<double>(s.min_rto_ms, 2.0 * rtt_ms);
    return std::min(base * static_cast<double>(1u << std::min(k - 1, 16u)), 64'000.0);
}

enum class Family : std::uint8_t { kV4, kV6 };
enum class SensorSide : std::uint8_t { kClientSide, kServerSide };  // of the device

struct Shape {
    Family family = Family::kV4;
    SensorSide sensor = SensorSide::kClientSide;
    double rtt_ms = 0.1;
    const Stack* stack = &kLinux;
    bool ends_early = false;     // the capture stops while the fault is still going on
    bool sensor_misses = false;  // the sensor misses every fourth pure ACK it should see

    std::string name() const {
        char rtt[32];
        std::snprintf(rtt, sizeof rtt, "/rtt=%gms/", rtt_ms);
        std::string n = family == Family::kV4 ? "v4" : "v6";
        n += sensor == SensorSide::kClientSide ? "/client-side" : "/server-side";
        n += rtt;
        n += stack->name;
        if (ends_early) n += "/ends-early";
        if (sensor_misses) n += "/sensor-misses";
        return n;
    }
};

// A segment as an endpoint (or the device) sends it.
struct Seg {
    bool from_client = true;
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::uint8_t flags = kAck;
    std::uint16_t window = 502;
    std::uint32_t len = 0;
    bool syn_options = false;  // the stack's SYN options (MSS, window scale 7, SACK, TS)
    std::uint8_t ttl = 0;      // 0: the sender's stack TTL
    std::uint16_t ip_id = 0;   // 0: the sender's counter
    std::uint8_t ecn = 0;      // the IP header's ECN codepoint (RFC 3168: 2 = ECT(0))
    bool wscale_nopped = false;  // a device overwrote the SYN's window scale with NOPs

    std::uint32_t seq_len() const { return len + ((flags & (kSyn | kFin)) ? 1u : 0u); }
};

class PathSim {
public:
    // The device decides a packet's fate where it sits: false drops it; it may change it.
    using Device = std::function<bool(Seg&, double at_ms)>;

    explicit PathSim(const Shape& shape) : shape_(shape) {}

    void set_device(Device d) { device_ = std::move(d); }

    // Sends `s` at `t_ms`; returns when it reaches the peer, or nothing when the device drops it.
    std::optional<double> send(Seg s, double t_ms) {
        const double owd = shape_.rtt_ms / 2;
        if (s.ip_id == 0) s.ip_id = s.from_client ? client_ip_id_++ : server_ip_id_++;
        const bool sensor_before_device = (shape_.sensor == SensorSide::kClientSide) == s.from_client;
        if (sensor_before_device) record(s, t_ms + owd / 4, hops_to_sensor(s.from_client));
        if (device_ && !device_(s, t_ms + owd / 2)) return std::nullopt;
        if (!sensor_before_device) record(s, t_ms + 3 * owd / 4, hops_to_sensor(s.from_client));
        return t_ms + owd;
    }

    // A packet the device makes itself at `t_ms`, toward the client or the server, with its
    // own TTL (`ttl` as it leaves the device).
    void inject(Seg s, double t_ms, std::uint8_t ttl) {
        const bool toward_client = !s.from_client;
        s.ttl = ttl;
        if (s.ip_id == 0) s.ip_id = static_cast<std::uint16_t>(0x9e37 * ++injected_);  // the device's own IDs
        if ((shape_.sensor == SensorSide::kClientSide) == toward_client) record(s, t_ms + shape_.rtt_ms / 8, 0);
    }

    // An ICMP error the device sends toward the sender of `quoted` (frag-needed / packet too
    // big, RFC 1191 / RFC 8201), quoting it as it reached the device.
    void inject_icmp_too_big(const Seg& quoted, double t_ms, std::uint16_t mtu) {
        Seg q = quoted;
        q.ttl = static_cast<std::uint8_t>(shape_.stack->ttl - hops_to_sensor(q.from_client));
        FrameBuilder::Bytes inner = build(q, q.ttl);
        inner.erase(inner.begin(), inner.begin() + 14);  // quoted from the IP header on
        const bool v4 = shape_.family == Family::kV4;
        const std::string router = v4 ? "198.18.9.1" : "2001:2:9::1";
        const std::string to = quoted.from_client ? (v4 ? "198.18.1.2" : "2001:2:1::2") : (v4 ? "198.18.2.2" : "2001:2:2::2");
        FrameBuilder b;
        v4 ? b.ipv4(router, to).icmp4_frag_needed(mtu, inner) : b.ipv6(router, to).icmp6_packet_too_big(mtu, inner);
        b.ttl(64);
        if ((shape_.sensor == SensorSide::kClientSide) == quoted.from_client) {
            frames_.push_back({t_ms + shape_.rtt_ms / 8, {b.build(), false}});
        }
    }

    // TTL a side's packets show at the sensor: the client is 2 hops from the client-side
    // sensor and 3 from the other; the server 4 and 3 (the device is a router).
    std::uint8_t seen_ttl(bool from_client) const {
        return static_cast<std::uint8_t>(shape_.stack->ttl - hops_to_sensor(from_client));
    }
    std::uint8_t hops_to_sensor(bool from_client) const {
        const bool near = (shape_.sensor == SensorSide::kClientSide) == from_client;
        return from_client ? (near ? 2 : 3) : (near ? 3 : 4);
    }

    // The capture ends at `t_ms` (ends-early shapes).
    void end_capture_at(double t_ms) { end_ms_ = t_ms; }

    // Everything the sensor captured, fed to `h` in time order; returns the number of frames.
    std::size_t replay(Harness& h) {
        std::stable_sort(frames_.begin(), frames_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        std::size_t n = 0, acks = 0;
        for (const auto& [t, frame] : frames_) {
            if (end_ms_ != 0 && t > end_ms_) break;
            if (shape_.sensor_misses && frame.second && ++acks % 4 == 0) continue;
            h.feed(frame.first, t);
            ++n;
        }
        return n;
    }

    // The frame a segment becomes (for tests that need its sizes).
    FrameBuilder::Bytes build(const Seg& s, std::uint8_t ttl) const {
        const bool v4 = shape_.family == Family::kV4;
        const std::string c = v4 ? "198.18.1.2" : "2001:2:1::2", srv = v4 ? "198.18.2.2" : "2001:2:2::2";
        FrameBuilder b;
        if (v4) {
            s.from_client ? b.ipv4(c, srv) : b.ipv4(srv, c);
        } else {
            s.from_client ? b.ipv6(c, srv) : b.ipv6(srv, c);
        }
        b.tcp(s.from_client ? 40000 : 443, s.from_client ? 443 : 40000).seq(s.seq).flags(s.flags).window(s.window);
        if (s.flags & kAck) b.ack(s.ack);
        b.ttl(ttl).ip_id(s.ip_id).ecn(s.ecn);
        const Stack& st = *shape_.stack;
        const std::uint32_t ts = static_cast<std::uint32_t>(1000 + s.seq % 997);
        if (s.syn_options) {
            const std::uint16_t mss = v4 ? 1460 : 1440;
            const std::uint32_t ecr = s.flags & kAck ? 1000 : 0;
            // Window scale, or the three NOPs a scrubbing device leaves in its place.
            const auto ws = [&](FrameBuilder& f) -> FrameBuilder& {
                return s.wscale_nopped ? f.nop().nop().nop() : f.wscale(wscale());
            };
            if (&st == &kWindows) {
                ws(b.mss(mss).nop()).nop().nop().sack_perm();
            } else if (&st == &kMacos) {
                ws(b.mss(mss).nop()).nop().nop().timestamps(ts, ecr).sack_perm().eol();
            } else if (&st == &kFreebsd) {
                ws(b.mss(mss).nop()).sack_perm().timestamps(ts, ecr);
            } else {
                ws(b.mss(mss).sack_perm().timestamps(ts, ecr).nop());
            }
        } else if (st.timestamps && !(s.flags & kRst)) {
            b.nop().nop().timestamps(ts, 1000);
        }
        if (s.len != 0) b.payload(s.len);
        return b.build();
    }

    // The window scale the stack announces in its SYN options (RFC 7323 section 2.3).
    std::uint8_t wscale() const {
        const Stack* st = shape_.stack;
        return st == &kWindows ? 8 : (st == &kMacos || st == &kFreebsd) ? 6 : 7;
    }

    // Payload of a full-sized segment on this shape (MSS less the timestamp option).
    std::uint32_t full_payload() const {
        return (shape_.family == Family::kV4 ? 1460u : 1440u) - (shape_.stack->timestamps ? 12u : 0u);
    }
    // IP total length of a packet carrying `payload` bytes (IPv6: header included).
    std::uint32_t ip_len(std::uint32_t payload) const {
        return (shape_.family == Family::kV4 ? 20u : 40u) + 20u + (shape_.stack->timestamps ? 12u : 0u) + payload;
    }

    const Shape& shape() const { return shape_; }

private:
    using Bytes = FrameBuilder::Bytes;
    void record(const Seg& s, double t_ms, std::uint8_t hops) {
        const std::uint8_t ttl = s.ttl != 0 ? static_cast<std::uint8_t>(s.ttl - hops) : static_cast<std::uint8_t>(shape_.stack->ttl - hops);
        const bool pure_ack = s.len == 0 && (s.flags & (kSyn | kFin | kRst)) == 0;
        frames_.push_back({t_ms, {build(s, ttl), pure_ack}});
    }

    Shape shape_;
    Device device_;
    std::vector<std::pair<double, std::pair<Bytes, bool>>> frames_;
    std::uint16_t client_ip_id_ = 0x1201, server_ip_id_ = 0x3401, injected_ = 0;
    double end_ms_ = 0;
};

// One connection's sequence space on a PathSim: each side's next sequence number, and the
// handshake, so a script says only what its fault needs.
class SimConn {
public:
    static constexpr std::uint32_t kClientIsn = 100000, kServerIsn = 900000;

    explicit SimConn(PathSim& sim) : sim_(sim) {}

    // SYN, SYN-ACK, ACK; returns when the client's ACK reaches the server. With `ecn` the
    // SYN asks for ECN (ECE+CWR) and the SYN-ACK agrees (ECE), RFC 3168 section 6.1.1.
    double handshake(double t, bool ecn = false) {
        Seg syn{.from_client = true, .seq = kClientIsn, .flags = static_cast<std::uint8_t>(kSyn | (ecn ? kEce | kCwr : 0)),
                .window = 64240, .syn_options = true};
        const double at_server = *sim_.send(syn, t);
        Seg synack{.from_client = false, .seq = kServerIsn, .ack = kClientIsn + 1,
                   .flags = static_cast<std::uint8_t>(kSyn | kAck | (ecn ? kEce : 0)), .window = 65160, .syn_options = true};
        const double at_client = *sim_.send(synack, at_server + 0.01);
        return *sim_.send(ack_from(true), at_client + 0.01);
    }

    // A data segment at the sender's next sequence number; the sequence space advances
    // whether or not it arrives.
    Seg data(bool from_client, std::uint32_t len) {
        Seg s = ack_from(from_client);
        s.flags = kAck | kPsh;
        s.len = len;
        (from_client ? cnxt : snxt) += len;
        return s;
    }
    // A copy of an earlier data segment (a retransmission), `len` bytes from `seq`.
    Seg resend(bool from_client, std::uint32_t seq, std::uint32_t len) {
        Seg s = ack_from(from_client);
        s.flags = kAck | kPsh;
        s.seq = seq;
        s.len = len;
        return s;
    }
    // A pure ACK of everything the other side sent so far (as far as this side knows).
    Seg ack_from(bool from_client) const {
        return Seg{.from_client = from_client, .seq = from_client ? cnxt : snxt,
                   .ack = from_client ? client_ack : server_ack,
                   .flags = kAck, .window = from_client ? std::uint16_t{502} : std::uint16_t{509}};
    }
    // The receiver learns the other side's bytes up to `upto`.
    void received(bool by_client, std::uint32_t upto) { (by_client ? client_ack : server_ack) = upto; }

    std::uint32_t cnxt = kClientIsn + 1, snxt = kServerIsn + 1;        // next sequence to send
    std::uint32_t client_ack = kServerIsn + 1, server_ack = kClientIsn + 1;  // what each side acknowledges

private:
    PathSim& sim_;
};

}  // namespace tcpsleuth::test
