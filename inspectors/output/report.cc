#include "inspectors/output/report.h"

#include <algorithm>
#include <cstdio>

#include "config/rules.h"
#include "inspectors/detectors/payload_rules.h"
#include "inspectors/flow/flow_table.h"
#include "inspectors/output/event_format.h"
#include "inspectors/output/json_writer.h"
#include "inspectors/output/report_detail.h"

namespace tcpsleuth {
namespace {

constexpr std::size_t kExamplesPerKind = 3;
constexpr std::size_t kWorstFlows = 10;

std::uint64_t weight(Severity s) {
    switch (s) {
        case Severity::kInfo: return 1;
        case Severity::kWarning: return 10;
        case Severity::kCritical: return 100;
    }
    return 0;
}

void add_unique(std::vector<std::uint64_t>& v, std::uint64_t id) {
    if (std::find(v.begin(), v.end(), id) == v.end()) v.push_back(id);
}

std::string line(const char* f, auto... args) {
    char buf[1024];
    std::snprintf(buf, sizeof buf, f, args...);
    return buf;
}

// The client's network (/24 for IPv4, /48 for IPv6): flows sharing one are likely to share
// the path's first hops, so "all from one network" points at a device on that side.
std::string client_network(const Event& e) {
    auto a = e.client_is_lo ? e.key.addr_lo : e.key.addr_hi;
    const bool v4 = e.key.ip_version == 4;
    for (std::size_t i = v4 ? 15 : 6; i < 16; ++i) a[i] = 0;
    return format_address(a) + (v4 ? "/24" : "/48");
}

void add_unique(std::vector<std::string>& v, const std::string& s) {
    if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

}  // namespace

namespace report_detail {

std::vector<const CounterInfo*> nonzero(const CoreCounters& c, std::string_view prefix) {
    std::vector<const CounterInfo*> out;
    for (const CounterInfo& info : kCounterInfo) {
        if (info.name.starts_with(prefix) && c.get(info.id) != 0) out.push_back(&info);
    }
    return out;
}

std::string networks_phrase(const std::vector<std::string>& nets) {
    if (nets.size() == 1) return "all from " + nets[0];
    return line("from %zu client networks", nets.size());
}

}  // namespace report_detail

using report_detail::networks_phrase;
using report_detail::nonzero;

void Report::add(const Event& e, const FindingFiles& files) {
    const std::string kind(event_name(e));
    Kind& k = kinds_[kind];
    if (keep_findings_ && k.count < kHtmlFindingsPerKind) kept_[kind].push_back({e, files});
    ++k.count;
    k.worst = std::max(k.worst, e.severity);
    if (k.examples.size() < kExamplesPerKind) k.examples.push_back(event_summary(e));
    if (e.flow_id == 0) return;
    add_unique(k.flows, e.flow_id);
    const FlowEndpoints p = endpoints(e);
    FlowRow& f = flows_[e.flow_id];
    if (f.id == 0) {
        f.id = e.flow_id;
        f.client = line("%s:%u", p.client.c_str(), static_cast<unsigned>(p.client_port));
        f.server = line("%s:%u", p.server.c_str(), static_cast<unsigned>(p.server_port));
    }
    f.score += weight(e.severity);
    if (e.app != 0) f.app = rule_names().name(e.app);
    ++f.kinds[kind];
    PathRow& path = paths_[f.server];
    add_unique(path.kinds[kind], e.flow_id);
    add_unique(path.networks[kind], client_network(e));
}

void note_flow_memory(RunInfo& run, const FlowTable& table, const PayloadScanner& payload) {
    run.flow_capacity = table.capacity();
    run.flow_table_bytes = table.memory_bytes();
    run.bytes_per_flow = table.memory_bytes() / table.capacity();
    run.entry_bytes = sizeof(FlowState);
    run.cold_records = table.cold_capacity();
    run.cold_record_bytes = sizeof(ColdState);
    run.cold_peak = std::max(run.cold_peak, table.cold_peak());
    run.payload_pool_bytes = payload.memory_bytes();
    run.payload_stream_bytes = payload.stream_bytes_per_flow();
}

std::vector<const Report::FlowRow*> Report::worst_flows() const {
    std::vector<const FlowRow*> rows;
    for (const auto& [id, row] : flows_) rows.push_back(&row);
    std::stable_sort(rows.begin(), rows.end(), [](const FlowRow* a, const FlowRow* b) { return a->score > b->score; });
    if (rows.size() > kWorstFlows) rows.resize(kWorstFlows);
    return rows;
}

std::string Report::text(const RunInfo& run, const CoreCounters& c) const {
    std::string out;
    const double span = run.last_ts_ns > run.first_ts_ns ? (run.last_ts_ns - run.first_ts_ns) / 1e9 : 0.0;
    out += "tcpsleuth report: " + run.input + "\n\n";
    out += line("  packets      %llu (%llu bytes) over %.3f s of capture\n",
                static_cast<unsigned long long>(c.get(Counter::kRxPackets)),
                static_cast<unsigned long long>(c.get(Counter::kRxBytes)), span);
    out += line("  tcp flows    %llu (%llu joined mid-stream)\n",
                static_cast<unsigned long long>(c.get(Counter::kFlowCreated)),
                static_cast<unsigned long long>(c.get(Counter::kFlowMidstream)));
    out += line("  handshakes   %llu completed, %llu failed (SYN unanswered), %llu refused (RST)\n",
                static_cast<unsigned long long>(c.get(Counter::kTcpHandshakeCompleted)),
                static_cast<unsigned long long>(c.get(Counter::kTcpHandshakeFailed)),
                static_cast<unsigned long long>(c.get(Counter::kTcpHandshakeRefused)));
    out += line("  tcp          %llu retransmissions, %llu out of order, %llu dup ACKs, %llu keepalives, "
                "%llu zero-window probes\n",
                static_cast<unsigned long long>(c.get(Counter::kTcpRetransmissions)),
                static_cast<unsigned long long>(c.get(Counter::kTcpOutOfOrder)),
                static_cast<unsigned long long>(c.get(Counter::kTcpDupAcks)),
                static_cast<unsigned long long>(c.get(Counter::kTcpKeepalives)),
                static_cast<unsigned long long>(c.get(Counter::kTcpZeroWindowProbes)));
    if (!run.input_warning.empty()) out += "  input        " + run.input_warning + "\n";
    if (!run.evidence_dir.empty()) {
        out += line("  evidence     %zu capture(s) in %s, one per finding at warning or above\n", run.evidence_files,
                    run.evidence_dir.c_str());
    }
    if (!run.plot_dir.empty()) {
        out += line("  plots        %zu time-sequence graph(s) in %s, one per finding at warning or above\n",
                    run.plot_files, run.plot_dir.c_str());
    }
    for (const ImpairRuleStats& r : run.impair) {
        out += line("  impair       %s (%s%s): %llu matched, %llu dropped, %llu rewritten, %llu injected, %llu delayed\n",
                    r.name.c_str(), r.action.c_str(), r.enabled ? "" : ", disabled", static_cast<unsigned long long>(r.matched),
                    static_cast<unsigned long long>(r.dropped), static_cast<unsigned long long>(r.rewritten),
                    static_cast<unsigned long long>(r.injected), static_cast<unsigned long long>(r.delayed));
    }
    out += "\n";

    if (kinds_.empty() && below_confidence_ == 0) {
        out += "Diagnoses: none. Every TCP flow in this input looks healthy to the enabled inspectors.\n\n";
    } else if (kinds_.empty()) {
        out += "Diagnoses: none at or above the minimum confidence.\n\n";
    } else {
        out += "Diagnoses\n";
        for (const auto& [name, k] : kinds_) {
            out += line("\n  %s  [%s]  %llu finding%s in %zu flow%s\n", name.c_str(),
                        std::string(to_string(k.worst)).c_str(), static_cast<unsigned long long>(k.count),
                        k.count == 1 ? "" : "s", k.flows.size(), k.flows.size() == 1 ? "" : "s");
            for (const std::string& ex : k.examples) out += "    - " + ex + "\n";
            out += "    advice: " + std::string(kind_advice(name)) + "\n";
        }
        out += "\n";
    }
    if (below_confidence_ != 0) {
        out += line("  %llu finding%s below %s confidence left out (output.min_confidence, --min-confidence)\n\n",
                    static_cast<unsigned long long>(below_confidence_), below_confidence_ == 1 ? "" : "s",
                    std::string(to_string(min_confidence_)).c_str());
    }

    if (!paths_.empty()) {
        out += "By server (path)\n";
        for (const auto& [server, row] : paths_) {
            for (const auto& [kind, ids] : row.kinds) {
                out += line("  %-28s %zu flow%s with %s (%s)\n", server.c_str(), ids.size(), ids.size() == 1 ? "" : "s",
                            kind.c_str(), networks_phrase(row.networks.at(kind)).c_str());
            }
        }
        out += "\n";
    }

    if (!flows_.empty()) {
        const std::vector<const FlowRow*> rows = worst_flows();
        out += "Worst flows\n";
        for (std::size_t i = 0; i < rows.size() && i < kWorstFlows; ++i) {
            std::string kinds;
            for (const auto& [kind, n] : rows[i]->kinds) {
                if (!kinds.empty()) kinds += ", ";
                kinds += kind + (n > 1 ? line(" x%llu", static_cast<unsigned long long>(n)) : "");
            }
            const std::string app = rows[i]->app.empty() ? "" : " (" + rows[i]->app + ")";
            out += line("  flow %-6llu %s -> %s%s  %s\n", static_cast<unsigned long long>(rows[i]->id),
                        rows[i]->client.c_str(), rows[i]->server.c_str(), app.c_str(), kinds.c_str());
        }
        out += "\n";
    }

    out += "Counters\n";
    for (const std::string_view prefix : {"parse.", "decap.", "flow.", "icmp.", "payload.", "events."}) {
        for (const CounterInfo* info : nonzero(c, prefix)) {
            out += line("  %-26s %12llu  %s\n", std::string(info->name).c_str(),
                        static_cast<unsigned long long>(c.get(info->id)), std::string(info->help).c_str());
        }
    }
    out += line("  flow table: %u flows per core, %zu bytes per flow (table overhead included): a %zu-byte entry, "
                "and %u cold records of %zu bytes for flows in trouble, at most %u in use\n",
                run.flow_capacity, run.bytes_per_flow, run.entry_bytes, run.cold_records, run.cold_record_bytes,
                run.cold_peak);
    if (run.payload_pool_bytes != 0) {
        out += line("  payload scanning: %.1f MiB per core of Hyperscan stream state and scratch; %zu bytes per flow "
                    "scanned both ways\n",
                    static_cast<double>(run.payload_pool_bytes) / (1 << 20), run.payload_stream_bytes);
    }
    return out;
}

std::string Report::json(const RunInfo& run, const CoreCounters& c) const {
    std::string out;
    JsonWriter w(out);
    w.begin_object();
    w.field("input", run.input);
    if (run.first_ts_ns != 0) {
        w.field("first_packet", format_timestamp(run.first_ts_ns));
        w.field("last_packet", format_timestamp(run.last_ts_ns));
    }
    if (!run.input_warning.empty()) w.field("input_warning", run.input_warning);
    if (!run.evidence_dir.empty()) {
        w.key("evidence").begin_object();
        w.field("dir", run.evidence_dir);
        w.field("files", static_cast<std::uint64_t>(run.evidence_files));
        w.end_object();
    }
    if (!run.plot_dir.empty()) {
        w.key("plots").begin_object();
        w.field("dir", run.plot_dir);
        w.field("files", static_cast<std::uint64_t>(run.plot_files));
        w.end_object();
    }
    if (!run.impair.empty()) {
        w.key("impair").begin_array();
        for (const ImpairRuleStats& r : run.impair) {
            w.begin_object().field("name", r.name).field("action", r.action).field("enabled", r.enabled);
            w.field("matched", r.matched).field("dropped", r.dropped).field("rewritten", r.rewritten);
            w.field("injected", r.injected).field("delayed", r.delayed).end_object();
        }
        w.end_array();
    }
    w.field("packets", c.get(Counter::kRxPackets));
    w.field("bytes", c.get(Counter::kRxBytes));
    w.field("flows", c.get(Counter::kFlowCreated));
    w.key("handshakes").begin_object();
    w.field("completed", c.get(Counter::kTcpHandshakeCompleted));
    w.field("failed", c.get(Counter::kTcpHandshakeFailed));
    w.field("refused", c.get(Counter::kTcpHandshakeRefused));
    w.end_object();
    w.key("diagnoses").begin_array();
    for (const auto& [name, k] : kinds_) {
        w.begin_object();
        w.field("event", name);
        w.field("severity", to_string(k.worst));
        w.field("count", k.count);
        w.field("flows", static_cast<std::uint64_t>(k.flows.size()));
        w.key("examples").begin_array();
        for (const std::string& ex : k.examples) w.value(ex);
        w.end_array();
        w.field("advice", kind_advice(name));
        w.end_object();
    }
    w.end_array();
    w.field("min_confidence", to_string(min_confidence_));
    w.field("below_min_confidence", below_confidence_);
    w.key("by_server").begin_array();
    for (const auto& [server, row] : paths_) {
        for (const auto& [kind, ids] : row.kinds) {
            w.begin_object();
            w.field("server", server);
            w.field("event", kind);
            w.key("flows").begin_array();
            for (const std::uint64_t id : ids) w.value(id);
            w.end_array();
            w.key("client_networks").begin_array();
            for (const std::string& net : row.networks.at(kind)) w.value(net);
            w.end_array();
            w.end_object();
        }
    }
    w.end_array();
    const std::vector<const FlowRow*> rows = worst_flows();
    w.key("worst_flows").begin_array();
    for (std::size_t i = 0; i < rows.size() && i < kWorstFlows; ++i) {
        w.begin_object();
        w.field("id", rows[i]->id);
        w.field("client", rows[i]->client);
        w.field("server", rows[i]->server);
        w.key("events").begin_object();
        for (const auto& [kind, n] : rows[i]->kinds) w.field(kind, n);
        w.end_object();
        w.end_object();
    }
    w.end_array();
    w.key("counters").begin_object();
    for (const CounterInfo& info : kCounterInfo) w.field(info.name, c.get(info.id));
    w.end_object();
    w.key("flow_table").begin_object();
    w.field("capacity", run.flow_capacity);
    w.field("bytes", static_cast<std::uint64_t>(run.flow_table_bytes));
    w.field("bytes_per_flow", static_cast<std::uint64_t>(run.bytes_per_flow));
    w.field("entry_bytes", static_cast<std::uint64_t>(run.entry_bytes));
    w.field("cold_records", run.cold_records);
    w.field("cold_record_bytes", static_cast<std::uint64_t>(run.cold_record_bytes));
    w.field("cold_peak", run.cold_peak);
    w.end_object();
    w.field("payload_pool_bytes", static_cast<std::uint64_t>(run.payload_pool_bytes));
    w.field("payload_stream_bytes_per_flow", static_cast<std::uint64_t>(run.payload_stream_bytes));
    w.end_object();
    return out;
}

}  // namespace tcpsleuth
