#include "device_output.h"

#include <cstdio>

#include "inspectors/output/event_format.h"
#include "inspectors/output/json_writer.h"

namespace tcpsleuth::two_point {
namespace {

void write_flow(JsonWriter& j, std::string_view key, const Connection& c) {
    j.key(key).begin_object();
    j.field("proto", "tcp").field("client", format_address(c.client)).field("client_port", std::uint32_t{c.client_port});
    j.field("server", format_address(c.server)).field("server_port", std::uint32_t{c.server_port});
    j.end_object();
}

void write_numbers(JsonWriter& j, std::string_view key, const PacketList& l) {
    j.key(key).begin_array();
    for (unsigned i = 0; i < l.count; ++i) j.value(l.nums[i]);
    j.end_array();
}

std::uint64_t tcp_connections(const PointCapture& p) { return p.conns.size(); }

std::uint64_t count_icmp(const PointCapture& p) {
    std::uint64_t n = 0;
    for (const PointPacket& q : p.packets) n += q.icmp;
    return n;
}

}  // namespace

std::string finding_json(const DeviceFinding& f, const PointCapture& a, const PointCapture& b,
                         std::string_view evidence_pcap) {
    std::string out;
    JsonWriter j(out);
    j.begin_object();
    j.field("ts", format_timestamp(f.first_ns)).field("event", f.event).field("severity", to_string(f.severity));
    j.field("confidence", to_string(f.confidence));
    // Relative to the point the affected packets entered at: the device is downstream of it.
    j.field("where", f.event == "device.delay" ? "unknown" : "downstream");
    if (!f.conns[0].empty()) write_flow(j, "flow", a.conns[*f.conns[0].begin()]);
    if (!f.conns[1].empty()) write_flow(j, "flow_b", b.conns[*f.conns[1].begin()]);
    j.field("summary", f.summary);
    j.key("evidence").begin_object();
    j.field("kind", f.kind);
    j.raw(f.evidence);
    write_numbers(j, "packets_a", f.numbers[0]);
    write_numbers(j, "packets_b", f.numbers[1]);
    j.end_object();
    if (!f.agrees_with.empty()) {
        j.key("agrees_with").begin_array();
        for (const std::string& s : f.agrees_with) j.value(s);
        j.end_array();
    }
    if (!evidence_pcap.empty()) j.field("evidence_pcap", evidence_pcap);
    j.field("advice", f.advice);
    j.end_object();
    return out;
}

std::string compare_report_text(const DeviceReport& r, const Comparison& cmp, const PointCapture& a,
                                const PointCapture& b, const CompareRun& run) {
    std::string s;
    char line[512];
    const auto add = [&](const char* fmt, auto... args) {
        std::snprintf(line, sizeof line, fmt, args...);
        s += line;
    };
    s += "== tcpsleuth compare ==\n";
    for (unsigned p = 0; p < 2; ++p) {
        const PointCapture& pc = p == 0 ? a : b;
        add("point %s: %s: %llu frames, %zu TCP segments and ICMP errors, %llu connections\n", p == 0 ? "A" : "B",
            pc.name.c_str(), static_cast<unsigned long long>(pc.frames), pc.packets.size(),
            static_cast<unsigned long long>(tcp_connections(pc)));
        if (!run.input_warning[p].empty()) add("  warning: %s\n", run.input_warning[p].c_str());
    }
    std::size_t nat = 0;
    for (const ConnPair& pr : cmp.pairs) nat += pr.nat;
    add("matched: %zu connections (%zu through NAT), %llu packets, %llu ICMP errors\n", cmp.pairs.size(), nat,
        static_cast<unsigned long long>(cmp.matched_packets), static_cast<unsigned long long>(cmp.matched_icmp));
    add("crossing decided by TTL for %u, by timing for %u, by the sender's side for %u connection directions; "
        "unknown for %u\n",
        cmp.crossing_by[static_cast<unsigned>(CrossingBy::kTtl)], cmp.crossing_by[static_cast<unsigned>(CrossingBy::kTiming)],
        cmp.crossing_by[static_cast<unsigned>(CrossingBy::kAddressSide)], cmp.crossing_by[static_cast<unsigned>(CrossingBy::kNone)]);
    if (cmp.clock_known) {
        add("clock: B = A %+.1f us (bracket %+.1f .. %+.1f us)\n", static_cast<double>(cmp.clock_offset_ns) / 1e3,
            static_cast<double>(cmp.clock_bracket_ns[0]) / 1e3, static_cast<double>(cmp.clock_bracket_ns[1]) / 1e3);
    } else {
        add("clock: B = A %+.1f us (packets crossed one way only: a guess)\n", static_cast<double>(cmp.clock_offset_ns) / 1e3);
    }
    if (r.counts.capture_gaps != 0) {
        add("capture gaps: %llu packets missing at one point although they crossed (acknowledged by the receiver, or "
            "carrying their sender's TTL and IP ID): that capture lost them, the device did not\n",
            static_cast<unsigned long long>(r.counts.capture_gaps));
    }
    if (r.counts.ack_gaps != 0) {
        add("ACK gaps: %llu lone pure ACKs missing beyond the device; later ACKs covered them, so whether the device "
            "or a capture lost them cannot be told (not reported)\n",
            static_cast<unsigned long long>(r.counts.ack_gaps));
    }
    if (r.counts.unseen_at_edges != 0 || r.counts.unattributed != 0) {
        add("not judged: %llu packets near a capture's start or end (the other point was not capturing), %llu on "
            "directions whose crossing is unknown\n",
            static_cast<unsigned long long>(r.counts.unseen_at_edges), static_cast<unsigned long long>(r.counts.unattributed));
    }
    s += "\n";
    std::size_t shown = 0;
    for (const DeviceFinding& f : r.findings) {
        add("%-8s %-16s %-15s %s\n", std::string(to_string(f.severity)).c_str(), std::string(f.event).c_str(), f.kind.c_str(),
            f.summary.c_str());
        if (!f.agrees_with.empty()) {
            s += "         agrees with:";
            for (const std::string& x : f.agrees_with) s += " " + x + ";";
            s.back() = '\n';
        }
        if (f.severity != Severity::kInfo) s += "         fix: " + f.advice + "\n";
        ++shown;
    }
    if (cmp.pairs.empty()) {
        s += "no connection appears at both points: nothing judged (are these two captures of the same traffic?)\n";
    } else if (shown == 0) {
        s += "the device passed every packet unchanged\n";
    }
    if (run.below_confidence != 0) add("%zu finding(s) below the minimum confidence not shown\n", run.below_confidence);
    if (!run.evidence_dir.empty()) add("evidence captures: %zu in %s\n", run.evidence_files, run.evidence_dir.c_str());
    add("took %.2f s\n", run.wall_seconds);
    return s;
}

std::string compare_report_json(const DeviceReport& r, const Comparison& cmp, const PointCapture& a,
                                const PointCapture& b, const CompareRun& run) {
    std::string s;
    JsonWriter j(s);
    j.begin_object();
    j.key("points").begin_array();
    for (unsigned p = 0; p < 2; ++p) {
        const PointCapture& pc = p == 0 ? a : b;
        j.begin_object().field("name", p == 0 ? "A" : "B").field("input", pc.name).field("frames", pc.frames);
        j.field("tcp_packets", static_cast<std::uint64_t>(pc.packets.size() - count_icmp(pc))).field("icmp_errors", count_icmp(pc));
        j.field("connections", tcp_connections(pc));
        if (!run.input_warning[p].empty()) j.field("warning", run.input_warning[p]);
        j.end_object();
    }
    j.end_array();
    std::uint64_t nat = 0;
    for (const ConnPair& pr : cmp.pairs) nat += pr.nat;
    j.key("matched").begin_object().field("connections", static_cast<std::uint64_t>(cmp.pairs.size())).field("nat", nat);
    j.field("packets", cmp.matched_packets).field("icmp_errors", cmp.matched_icmp).end_object();
    j.key("crossing_by").begin_object();
    for (unsigned c = 0; c < 5; ++c) j.field(to_string(static_cast<CrossingBy>(c)), cmp.crossing_by[c]);
    j.end_object();
    j.key("clock").begin_object().field("known", cmp.clock_known);
    j.field("offset_us", static_cast<double>(cmp.clock_offset_ns) / 1e3, 1).end_object();
    j.field("unseen_at_edges", r.counts.unseen_at_edges).field("unattributed", r.counts.unattributed);
    j.field("capture_gaps", r.counts.capture_gaps).field("ack_gaps", r.counts.ack_gaps);
    j.key("findings").begin_array();
    for (const DeviceFinding& f : r.findings) {
        j.begin_object().field("event", f.event).field("kind", f.kind).field("severity", to_string(f.severity));
        j.field("confidence", to_string(f.confidence)).field("packets", f.packets).field("summary", f.summary).end_object();
    }
    j.end_array();
    j.field("below_confidence", static_cast<std::uint64_t>(run.below_confidence));
    if (!run.evidence_dir.empty()) {
        j.field("evidence_dir", run.evidence_dir).field("evidence_files", static_cast<std::uint64_t>(run.evidence_files));
    }
    j.field("wall_seconds", run.wall_seconds, 3);
    j.end_object();
    return s;
}

}  // namespace tcpsleuth::two_point
