#include "event_format.h"

#include <arpa/inet.h>

#include <cstdio>
#include <ctime>

#include "json_writer.h"

namespace tcpsleuth {

std::string_view to_string(Severity s) noexcept {
    switch (s) {
        case Severity::kInfo: return "info";
        case Severity::kWarning: return "warning";
        case Severity::kCritical: return "critical";
    }
    return "?";
}

std::string_view to_string(Confidence c) noexcept {
    switch (c) {
        case Confidence::kLow: return "low";
        case Confidence::kMedium: return "medium";
        case Confidence::kHigh: return "high";
    }
    return "?";
}

std::string_view to_string(Where w) noexcept {
    switch (w) {
        case Where::kUnknown: return "unknown";
        case Where::kUpstream: return "upstream";
        case Where::kDownstream: return "downstream";
    }
    return "?";
}

std::string_view to_string(Side s) noexcept {
    switch (s) {
        case Side::kClient: return "client";
        case Side::kServer: return "server";
    }
    return "?";
}

std::string_view event_name(const Event& e) noexcept {
    return std::visit([](const auto& d) { return std::remove_cvref_t<decltype(d)>::kName; }, e.detail);
}

std::string format_address(const std::array<std::uint8_t, 16>& a) {
    char buf[INET6_ADDRSTRLEN];
    static constexpr std::uint8_t kV4Mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(std::begin(kV4Mapped), std::end(kV4Mapped), a.begin())) {
        inet_ntop(AF_INET, a.data() + 12, buf, sizeof buf);
    } else {
        inet_ntop(AF_INET6, a.data(), buf, sizeof buf);
    }
    return buf;
}

std::string format_timestamp(std::uint64_t ts_ns) {
    const std::time_t secs = static_cast<std::time_t>(ts_ns / 1'000'000'000u);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[48];
    const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%06uZ", static_cast<unsigned>((ts_ns / 1000u) % 1'000'000u));
    return buf;
}

FlowEndpoints endpoints(const Event& e) {
    FlowEndpoints p;
    const bool lo = e.client_is_lo;
    p.client = format_address(lo ? e.key.addr_lo : e.key.addr_hi);
    p.client_port = lo ? e.key.port_lo : e.key.port_hi;
    p.server = format_address(lo ? e.key.addr_hi : e.key.addr_lo);
    p.server_port = lo ? e.key.port_hi : e.key.port_lo;
    return p;
}

namespace {

std::string fmt(const char* f, auto... args) {
    char buf[512];
    std::snprintf(buf, sizeof buf, f, args...);
    return buf;
}

double seconds(std::uint64_t ns) { return static_cast<double>(ns) / 1e9; }

std::string server_name(const Event& e) {
    const FlowEndpoints p = endpoints(e);
    return fmt("%s:%u", p.server.c_str(), static_cast<unsigned>(p.server_port));
}

constexpr std::string_view kAdviceSynUnanswered =
    "SYNs leave toward the server and nothing comes back: the SYN or the SYN-ACK is dropped between "
    "the sensor and the server. If many unrelated destinations fail like this at once while "
    "established connections keep working, a stateful firewall or NAT is out of state-table entries: "
    "compare its connection count with its limit (Linux: conntrack -S and nf_conntrack_max), then "
    "raise the limit or shorten its idle timeouts. For a single server, check that it listens on the "
    "port and that its accept queue is not overflowing (nstat TcpExtListenOverflows).";

constexpr std::string_view kAdviceZeroWindow =
    "The receiving application is not reading its socket, so its buffer is full and TCP tells the "
    "sender to stop; the network is not at fault. Look at the receiving process (CPU, blocked threads, "
    "slow disk or downstream dependency) and, if it reads in large bursts, at its receive buffer "
    "(SO_RCVBUF, net.ipv4.tcp_rmem).";

constexpr std::string_view kAdviceTableFull =
    "tcpsleuth's own flow table is full, so the longest-idle flows are forgotten early and their "
    "later findings may be missed. Raise [flows] capacity (memory per flow is in the README) or "
    "shorten the idle timeouts.";

}  // namespace

std::string_view kind_advice(std::string_view kind) {
    if (kind == SynUnanswered::kName) return kAdviceSynUnanswered;
    if (kind == ZeroWindowStall::kName) return kAdviceZeroWindow;
    if (kind == FlowTableFull::kName) return kAdviceTableFull;
    return {};
}

std::string_view event_advice(const Event& e) { return kind_advice(event_name(e)); }

std::string event_summary(const Event& e) {
    struct Visitor {
        const Event& e;
        std::string operator()(const SynUnanswered& d) const {
            const FlowEndpoints p = endpoints(e);
            return fmt("%s sent %u SYNs with the same ISN to %s over %.1f s and got no SYN-ACK%s", p.client.c_str(),
                       d.syns, server_name(e).c_str(), seconds(d.last_syn_ns - d.first_syn_ns),
                       d.final ? "; the connection never opened" : "");
        }
        std::string operator()(const ZeroWindowStall& d) const {
            const char* peer = d.slow_side == Side::kClient ? "server" : "client";
            return fmt("the %s advertised a zero window for %.2f s%s; the %s probed it %u time%s", 
                       std::string(to_string(d.slow_side)).c_str(), seconds(d.duration_ns),
                       d.ongoing ? " (still closed when the flow was last seen)" : "", peer, d.probes,
                       d.probes == 1 ? "" : "s");
        }
        std::string operator()(const FlowTableFull& d) const {
            return fmt("flow table full at %u flows: evicted flow %llu, idle %.1f s (%llu evictions so far)",
                       d.capacity, static_cast<unsigned long long>(d.victim_flow_id), seconds(d.victim_idle_ns),
                       static_cast<unsigned long long>(d.evicted_total));
        }
    };
    return std::visit(Visitor{e}, e.detail);
}

namespace {

void write_evidence(JsonWriter& w, const Event& e) {
    struct Visitor {
        JsonWriter& w;
        void operator()(const SynUnanswered& d) const {
            w.field("syns", d.syns);
            w.field("isn", d.isn);
            w.field("first_syn", format_timestamp(d.first_syn_ns));
            w.field("last_syn", format_timestamp(d.last_syn_ns));
            w.key("waited_s").value(seconds(d.last_syn_ns - d.first_syn_ns));
            w.field("syn_ack_seen", false);
            w.field("app_retries", d.app_retries);
            w.field("ecn_setup", d.ecn_setup);
            w.field("connection_ended", d.final);
        }
        void operator()(const ZeroWindowStall& d) const {
            w.field("slow_side", to_string(d.slow_side));
            w.key("duration_s").value(seconds(d.duration_ns));
            w.field("since", format_timestamp(d.since_ns));
            w.field("probes", d.probes);
            w.field("threshold_ms", d.threshold_ms);
            w.field("threshold_probes", d.min_probes);
            w.field("bytes_waiting", d.bytes_waiting);
            w.field("stall", d.stall_number);
            w.field("ongoing", d.ongoing);
        }
        void operator()(const FlowTableFull& d) const {
            w.field("capacity", d.capacity);
            w.field("evicted_total", d.evicted_total);
            w.field("victim_flow", d.victim_flow_id);
            w.key("victim_idle_s").value(seconds(d.victim_idle_ns));
        }
    };
    w.key("evidence").begin_object();
    std::visit(Visitor{w}, e.detail);
    if (e.packets.count != 0) {
        w.key("packets").begin_array();
        for (unsigned i = 0; i < e.packets.count; ++i) w.value(e.packets.nums[i]);
        w.end_array();
        if (e.packets.total > e.packets.count) w.field("packets_total", e.packets.total);
    }
    if (e.occurrence > 1) w.field("occurrence", e.occurrence);
    w.end_object();
}

}  // namespace

std::string format_event_json(const Event& e) {
    std::string out;
    out.reserve(768);
    JsonWriter w(out);
    w.begin_object();
    w.field("ts", format_timestamp(e.ts_ns));
    w.field("event", event_name(e));
    w.field("severity", to_string(e.severity));
    w.field("confidence", to_string(e.confidence));
    w.field("where", to_string(e.where));
    w.key("flow");
    if (e.flow_id == 0) {
        w.null();
    } else {
        const FlowEndpoints p = endpoints(e);
        w.begin_object();
        w.field("id", e.flow_id);
        w.field("proto", "tcp");
        w.field("client", p.client);
        w.field("client_port", static_cast<std::uint32_t>(p.client_port));
        w.field("server", p.server);
        w.field("server_port", static_cast<std::uint32_t>(p.server_port));
        if (e.key.vlan != 0) w.field("vlan", static_cast<std::uint32_t>(e.key.vlan));
        w.end_object();
    }
    w.field("summary", event_summary(e));
    write_evidence(w, e);
    w.field("advice", event_advice(e));
    w.end_object();
    return out;
}

}  // namespace tcpsleuth
