#include "inspectors/flow/flow_explain.h"

#include <cstdio>

#include "inspectors/flow/flow_query.h"
#include "inspectors/output/event_format.h"

namespace tcpsleuth {

std::string_view to_string(TcpState s) noexcept {
    switch (s) {
        case TcpState::kSynSent: return "syn_sent";
        case TcpState::kSynReceived: return "syn_received";
        case TcpState::kEstablished: return "established";
        case TcpState::kClosing: return "closing";
        case TcpState::kClosed: return "closed";
        case TcpState::kMidstream: return "midstream";
    }
    return "?";
}

void write_tracked_fields(JsonWriter& w, const FlowState& f) {
    const FlowCommon& c = f.common;
    const FlowEndpoints ep = endpoints(c.key, c.client_is_lo());
    const auto option_names = [](std::uint16_t opts) {
        std::string s;
        // The four the catalog names as events do (to_string(OptionKind)), then the rest.
        const std::pair<std::uint16_t, const char*> names[] = {{kOptMss, "mss"}, {kOptSackPerm, "sack_perm"},
                                                                {kOptTimestamp, "timestamp"}, {kOptWscale, "wscale"},
                                                                {kOptTfo, "tfo"}, {kOptMptcp, "mptcp"},
                                                                {kOptMd5, "md5"}, {kOptAo, "tcp_ao"}};
        for (const auto& [bit, name] : names) {
            if ((opts & bit) == 0) continue;
            if (!s.empty()) s += ',';
            s += name;
        }
        return s;
    };
    w.key("tracked").begin_object();
    w.field("rtt_syn_us", c.rtt_syn_us).field("rtt_ack_us", c.rtt_ack_us).field("max_gap_ms", c.max_gap_ms);
    w.field("icmp_mtu", c.icmp_mtu).field("icmp_errors", static_cast<std::uint32_t>(c.icmp_errors));
    w.field("handshake_done", c.has(kFlowHandshakeDone)).field("midstream", c.has(kFlowMidstream));
    w.field("window_scaling", c.has(kFlowWscaleOn)).field("sack", c.has(kFlowSackOn));
    w.field("timestamps", c.has(kFlowTsOn)).field("ecn", c.has(kFlowEcnOn));
    w.end_object();
    for (const Side side : {Side::kClient, Side::kServer}) {
        const Dir d = side == Side::kClient ? c.client() : c.server();
        const DirState& s = c.dir[index(d)];
        w.key(side == Side::kClient ? "client" : "server").begin_object();
        w.field("address", side == Side::kClient ? ep.client : ep.server);
        w.field("port", static_cast<std::uint32_t>(side == Side::kClient ? ep.client_port : ep.server_port));
        w.field("saw_syn", s.has(kDirSawSyn)).field("saw_fin", s.has(kDirSawFin)).field("saw_rst", s.has(kDirSawRst));
        w.field("isn", s.isn.raw()).field("snd_nxt", s.snd_nxt.raw()).field("max_ack", s.max_ack.raw());
        w.field("payload_bytes", payload_bytes(c, d));
        w.field("syn_options", option_names(s.syn_opts));
        w.field("mss", static_cast<std::uint32_t>(s.mss));
        if (s.wscale != DirState::kNoWscale) w.field("wscale", static_cast<std::uint32_t>(s.wscale));
        w.field("window", static_cast<std::uint32_t>(s.window)).field("zero_window", s.has(kDirZeroWindow));
        w.field("ecn_setup", s.has(kDirEcnSetup)).field("hole_open", s.has(kDirHole));
        w.field("ttl_first", static_cast<std::uint32_t>(s.ttl_first)).field("ttl_min", static_cast<std::uint32_t>(s.ttl_min));
        w.field("ttl_max", static_cast<std::uint32_t>(s.ttl_max)).field("max_in_flight", s.max_in_flight);
        w.field("rtt_ts_us", s.rtt_ts_us).field("syns", static_cast<std::uint32_t>(s.syns));
        w.field("app_retries", static_cast<std::uint32_t>(s.app_retries));
        w.field("retransmissions", static_cast<std::uint32_t>(s.retransmissions));
        w.field("out_of_order", static_cast<std::uint32_t>(s.out_of_order)).field("dup_acks", static_cast<std::uint32_t>(s.dup_acks));
        w.field("keepalives", static_cast<std::uint32_t>(s.keepalives));
        w.field("zero_window_probes", static_cast<std::uint32_t>(s.zero_window_probes));
        w.field("last_seen_ms", s.last_ms);
        const unsigned p = side == Side::kClient ? 0 : 1;
        w.field("payload_scan", to_string(f.payload.status[p]));
        if (f.payload.status[p] == ScanStatus::kScanning) w.field("payload_scanned", PayloadScanner::scanned(f.payload, p, s));
        w.end_object();
    }
}

std::vector<std::string> explain_tracking(const FlowCommon& c) {
    std::vector<std::string> said;
    char buf[512];
    const DirState& cl = c.dir[index(c.client())];
    const DirState& sv = c.dir[index(c.server())];
    if (c.has(kFlowMidstream)) {
        said.emplace_back("Joined after the handshake: options and initial sequence numbers are unknown.");
    } else if (!sv.has(kDirSawSyn)) {
        std::snprintf(buf, sizeof buf, "The client sent %u SYN(s) and no SYN-ACK came back.", static_cast<unsigned>(cl.syns));
        said.emplace_back(buf);
    } else {
        std::snprintf(buf, sizeof buf, "Handshake %s; negotiated: %s%s%s%s.", c.has(kFlowHandshakeDone) ? "completed" : "not completed",
                      c.has(kFlowWscaleOn) ? "window scaling, " : "no window scaling, ", c.has(kFlowSackOn) ? "SACK, " : "no SACK, ",
                      c.has(kFlowTsOn) ? "timestamps, " : "no timestamps, ", c.has(kFlowEcnOn) ? "ECN" : "no ECN");
        said.emplace_back(buf);
        if (c.rtt_syn_us != 0 && c.rtt_ack_us != 0) {
            std::snprintf(buf, sizeof buf, "Round trip: %.2f ms to the server and %.2f ms to the client, from the sensor.",
                          c.rtt_syn_us / 1e3, c.rtt_ack_us / 1e3);
            said.emplace_back(buf);
        }
    }
    std::snprintf(buf, sizeof buf, "State %s; the client sent %llu payload bytes (%u retransmitted segments), the server %llu (%u).",
                  std::string(to_string(c.state)).c_str(), static_cast<unsigned long long>(payload_bytes(c, c.client())),
                  static_cast<unsigned>(cl.retransmissions), static_cast<unsigned long long>(payload_bytes(c, c.server())),
                  static_cast<unsigned>(sv.retransmissions));
    said.emplace_back(buf);
    for (const Side side : {Side::kClient, Side::kServer}) {
        const DirState& s = side == Side::kClient ? cl : sv;
        if (s.has(kDirZeroWindow)) {
            std::snprintf(buf, sizeof buf, "The %s advertises a zero window now: it is not reading (%u probes so far).",
                          side == Side::kClient ? "client" : "server", static_cast<unsigned>((side == Side::kClient ? sv : cl).zero_window_probes));
            said.emplace_back(buf);
        }
    }
    if (c.max_gap_ms >= 1000) {
        std::snprintf(buf, sizeof buf, "Longest silence in both directions: %.1f s.", c.max_gap_ms / 1e3);
        said.emplace_back(buf);
    }
    return said;
}

}  // namespace tcpsleuth
