#pragma once
// The picture of a finding: a time-sequence graph (the Stevens / tcptrace graph network
// people open first) of the packets that prove it, as one self-contained SVG.
//
//   x: time since the first packet drawn; silences that would dwarf the rest are cut out
//      of the axis and drawn as a break labelled with their length.
//   y: sequence number relative to the sending side's ISN (its SYN's sequence + 1), for the
//      direction the finding is about; the other side's ACK, receive window and SACK blocks
//      are drawn against the same numbers.
//
// Built in two steps, so tests can check the picture by its data: `plot_model` says what is
// drawn where (segments, the ACK and window lines, zero-window spans, marks, the evidence
// packets, the finding's key quantity); `render_svg` draws the model. Same input, same bytes.

#include <cstdint>
#include <string>
#include <vector>

#include "dataplane/packet/packet_view.h"
#include "inspectors/output/events.h"

namespace tcpsleuth::plot {

// One packet of the finding's capture, as the plot needs it.
struct Packet {
    std::uint64_t number = 0;       // the input's packet number
    std::uint64_t ts_ns = 0;
    bool tcp = true;                // false: an ICMP error quoting the flow
    bool from_client = true;
    std::uint8_t flags = 0;
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::uint32_t payload = 0;
    std::uint16_t window = 0;       // as sent (scaled by `wscale` of its side's SYN)
    std::int16_t wscale = -1;       // a SYN's window-scale option; -1: none (or not a SYN)
    std::uint32_t ip_len = 0;
    std::uint8_t sack_count = 0;
    SackBlock sack[4];
    std::uint32_t icmp_mtu = 0;     // ICMP: the next-hop MTU it announced (0: none)
    std::uint32_t left_out_before = 0;  // packets of the flow the capture left out just before
};

// A parsed TCP segment (`tcp`) or ICMP error quoting one, as the plot of a flow whose client
// is the key's low end when `client_is_lo`.
Packet packet_from_view(const tcpsleuth::PacketView& v, bool tcp, bool client_is_lo, bool tunnel_in_key);

struct Input {
    Event event;                    // the finding drawn
    std::vector<Packet> packets;    // ascending numbers
    // A flow without a finding (tcpsleuthctl flow N --plot, the live page): `event` gives only
    // the flow (key, client_is_lo, flow_id); `title` heads the picture.
    bool finding = true;
    std::string title;
};

// ---- the model -------------------------------------------------------------------------

struct Segment {                    // one packet of the drawn direction with sequence space
    std::uint64_t number = 0;
    double t = 0;                   // seconds since the first packet
    std::int64_t lo = 0, hi = 0;    // relative sequence [lo, hi); a SYN or FIN occupies 1
    std::uint32_t ip_len = 0;
    std::uint8_t flags = 0;
    bool retransmission = false;    // covers sequence space sent before
    bool evidence = false;
};

struct AckStep {                    // the other side's packet: what it acknowledged and allowed
    std::uint64_t number = 0;
    double t = 0;
    std::int64_t ack = 0;
    std::int64_t window_edge = 0;   // ack + window (scaled when both SYNs were seen)
    bool zero_window = false;
    bool evidence = false;
};

struct SackMark {
    std::uint64_t number = 0;
    double t = 0;
    std::int64_t lo = 0, hi = 0;
    bool outside = false;           // beyond anything the sender sent, or below the ACK
};

// kPacket: an evidence packet with nothing else to draw (a zero-length window probe, a bare ACK).
enum class MarkKind : std::uint8_t { kSyn, kFin, kRst, kIcmp, kPacket };

struct Mark {                       // flags and ICMP errors, on either side
    std::uint64_t number = 0;
    double t = 0;
    MarkKind kind = MarkKind::kRst;
    bool from_drawn_side = true;    // sent by the side whose data is drawn
    std::int64_t y = 0;             // relative sequence where it sits
    std::uint32_t icmp_mtu = 0;
    bool evidence = false;
};

struct Span {                       // a stretch of time the picture shades or brackets
    double t0 = 0, t1 = 0;
    std::string label;
};

struct Band {                       // a range of packet sizes (the path MTU's bracket)
    std::uint32_t lo = 0, hi = 0;   // IP lengths; lo == hi: one line
    std::string label;
};

struct Break {                      // a silence cut out of the time axis
    double t0 = 0, t1 = 0;
};

struct Model {
    bool has_flow = true;           // false: packets of many flows (a surge); a timeline
    bool drawn_side_is_client = true;
    bool isn_seen = false;          // relative to the ISN; else to the first sequence seen
    bool window_scaled = false;     // both SYNs seen: windows drawn scaled
    bool window_scale_unknown = false;
    double t_end = 0;               // seconds from the first to the last packet
    std::uint64_t first_ts_ns = 0;
    std::int64_t y_min = 0, y_max = 1;
    std::vector<Segment> segments;
    std::vector<AckStep> acks;
    std::vector<SackMark> sacks;
    std::vector<Mark> marks;
    std::vector<Span> zero_windows;         // from the packets: the other side's window at 0
    std::vector<Span> finding_spans;        // the finding's own quantity: a stall, an idle gap
    std::vector<Band> size_bands;           // mtu.*: drawn on a packet-size panel
    std::vector<Break> breaks;
    std::vector<std::uint64_t> evidence;    // the finding's packet numbers that are drawn
    std::vector<std::uint64_t> evidence_missing;  // named by the finding, not in the capture
    std::uint64_t left_out = 0;             // packets of the flow the capture left out
    std::string title;                      // the finding's summary
    std::string subtitle;                   // name, severity, confidence, endpoints, flow
    std::string drawn_side;                 // "client -> server" or the reverse
    std::string id = "plot";                // unique within a page (several plots inline)
};

Model plot_model(const Input& in);
std::string render_svg(const Model& m);

}  // namespace tcpsleuth::plot
