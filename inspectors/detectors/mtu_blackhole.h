#pragma once
// mtu.blackhole and mtu.icmp_frag_needed.
//
// A path MTU black hole is size-dependent non-delivery: a segment of L bytes is sent again
// and again at the same size and never acknowledged (nor SACKed), while segments smaller
// than L were acknowledged. It is confirmed when the sender shrinks the segment (Linux
// tcp_mtu_probing, RFC 4821; FreeBSD black-hole detection) and the smaller one gets through;
// the path MTU then lies in [largest delivered, lost) by IP total length (never the capture
// length). An ICMP frag-needed / packet-too-big (RFC 1191, RFC 8201) quoting the flow is
// reported as information, and as a warning when the sender keeps retransmitting above the
// MTU it names: the ICMP reached the sensor but not the sender.
//
// The commonest black hole loses the very first full-sized segment (a certificate, a
// response, an upload): no smaller data was ever delivered because none was sent. The path
// carried the handshake, so the receiver is alive and the path is up, and the lost segment
// is the only large thing: it is reported with the handshake's packet as the bracket's
// lower end, at the confidence that evidence gives. A smaller segment SACKed or acknowledged
// while the large one stays lost makes it firm; the sender shrinking it makes it certain.
//
// Retransmissions count only when the sender's timer spaced them (at least half an RTT and
// 10 ms apart): a duplicating capture or SPAN port shows copies microseconds apart, and no
// stack's RTO is shorter than an RTT (RFC 6298 section 2; FreeBSD's 30 ms minimum plus
// 200 ms slop, Windows' 300 ms, Linux's 200 ms).

#include "config/config.h"
#include "dataplane/packet/packet_view.h"
#include "inspectors/output/events.h"
#include "inspectors/flow/tcp_state.h"

namespace tcpsleuth {

class MtuInspector {
public:
    // What the path proved for one sender, kept on every packet (hot): the largest segment
    // acknowledged, the probes that may prove a larger one, the SYN's size.
    struct Path {
        Seq probe_end;                    // end of the largest unconfirmed new segment
        Seq small_seq;                    // the latest new segment smaller than the largest unconfirmed
        std::uint16_t probe_len = 0, probe_ip_len = 0;
        std::uint16_t delivered_len = 0, delivered_ip_len = 0;  // largest acknowledged segment
        std::uint16_t small_len = 0, small_ip_len = 0;
        std::uint16_t syn_ip_len = 0;     // this side's SYN (or SYN-ACK)
        std::uint16_t carried_ip_len = 0; // largest packet of this side proven across: SYN or data
    };
    struct Sizes {
        Path dir[2];                      // by Dir of the data sender
    };
    // A segment resent unacknowledged, for one sender (cold: fresh once it is acknowledged,
    // but for what was reported).
    struct Loss {
        Seq stuck_seq;                    // start of the segment being retransmitted unacknowledged
        Seq sacked_end;                   // end of a smaller segment SACKed (has_sacked_end)
        std::uint32_t stuck_since_ms = 0; // its first retransmission
        std::uint32_t last_retx_ms = 0;   // its latest counted retransmission
        std::uint32_t stuck_pkt = 0;
        std::uint32_t last_retx_pkt = 0;
        std::uint16_t stuck_len = 0, stuck_ip_len = 0;
        std::uint16_t shrunk_len = 0, shrunk_ip_len = 0;        // smaller retransmission of it
        std::uint8_t stuck_retx = 0;
        std::uint8_t has_sacked_end = 0;  // a smaller segment was SACKed while larger ones before it were not
        std::uint8_t reported = 0;        // 1: suspected, 2: confirmed
        std::uint8_t backed_off = 0;      // the latest retransmission showed the timer's back-off
    };
    // Losses and an ICMP frag-needed (cold).
    struct State {
        Loss dir[2];                      // by Dir of the data sender
        std::uint32_t icmp_ms = 0;
        std::uint32_t icmp_pkt = 0;
        std::uint16_t icmp_mtu = 0;
        std::uint16_t icmp_quoted_len = 0;
        std::uint8_t icmp_dir = 0;
        std::uint8_t icmp_messages = 0;
        std::uint8_t larger_after = 0;
        std::uint8_t icmp_reported = 0;   // 1: info, 2: ignored
    };

    explicit MtuInspector(const MtuConfig& cfg) noexcept : cfg_(cfg) {}
    // A reload: new thresholds and switches, state kept.
    void reconfigure(const MtuConfig& cfg) noexcept { cfg_ = cfg; }

    void on_packet(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, Sizes& sizes, State& st,
                   EventSink& out) const noexcept;
    // An ICMP error quoting a segment that travelled in `quoted_dir`.
    void on_icmp(const PacketView& pkt, Dir quoted_dir, const FlowCommon& flow, State& st,
                 EventSink& out) const noexcept;

    // The input ended (or the flow left the table) while a large segment was still being
    // resent: one retransmission short of min_retransmissions is reported, at low confidence.
    void on_flow_end(const FlowCommon& flow, const Sizes& sizes, State& st, EventSink& out,
                     std::uint64_t now_ns) const noexcept;

    // The largest segment each side (by Dir) got acknowledged: path.one_way_loss leaves a
    // larger lost segment to this inspector.
    static void delivered_payload(const Sizes& sizes, std::uint16_t (&out)[2]) noexcept {
        out[0] = sizes.dir[0].delivered_len;
        out[1] = sizes.dir[1].delivered_len;
    }

private:
    void on_data(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, Sizes& sizes, State& st,
                 EventSink& out) const noexcept;
    void on_ack(const PacketView& pkt, const SegmentInfo& seg, const FlowCommon& flow, Sizes& sizes, State& st,
                EventSink& out) const noexcept;
    bool size_suspect(const FlowCommon& flow, const Path& p, const Loss& s, bool ipv4,
                      std::uint32_t min_retx) const noexcept;
    void report(const FlowCommon& flow, const Sizes& sizes, const State& st, Dir sender, bool confirmed,
                bool capture_ended, std::uint32_t occurrence, std::uint64_t ts_ns, std::uint64_t number,
                EventSink& out) const noexcept;

    MtuConfig cfg_;
};

}  // namespace tcpsleuth
