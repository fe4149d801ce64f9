// The report as one HTML page (analyze --report-format html): everything inline, nothing
// fetched, no script, so it opens offline in any browser and can be mailed as one file.

#include <algorithm>
#include <cstdio>

#include "inspectors/output/event_format.h"
#include "inspectors/output/markup.h"
#include "inspectors/output/report.h"
#include "inspectors/output/report_detail.h"

namespace tcpsleuth {
namespace {

std::string num(std::uint64_t v) { return std::to_string(v); }

// "mtu.blackhole" -> "mtu-blackhole": an id fragment.
std::string anchor(std::string_view kind) {
    std::string out(kind);
    std::replace(out.begin(), out.end(), '.', '-');
    return out;
}

constexpr const char* kStyle = R"(
body { font-family: sans-serif; margin: 0 auto; max-width: 1060px; padding: 16px 24px 48px; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 4px; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: 4px; margin-top: 40px; }
h3 { font-size: 1.05em; margin: 0 0 6px; }
table { border-collapse: collapse; margin: 8px 0; }
td, th { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; font-size: 0.92em; }
th { background: #f4f4f4; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.sev { display: inline-block; padding: 0 6px; border-radius: 3px; font-size: 0.85em; color: #fff; }
.sev-info { background: #0072B2; } .sev-warning { background: #E69F00; color: #222; } .sev-critical { background: #D55E00; }
.advice { background: #f3f8fc; border-left: 4px solid #0072B2; padding: 8px 12px; margin: 8px 0 16px; }
article.finding { border: 1px solid #ddd; border-radius: 4px; padding: 12px 14px; margin: 14px 0; }
.meta { color: #555; font-size: 0.9em; margin: 0 0 6px; }
figure.plot { margin: 10px 0 0; overflow-x: auto; }
figure.plot svg { max-width: 100%; height: auto; }
.more { color: #555; font-style: italic; }
nav ul { columns: 2; }
code { background: #f4f4f4; padding: 0 3px; }
)";

}  // namespace

std::string Report::html(const RunInfo& run, const CoreCounters& c, const HtmlParts& parts) const {
    std::string out;
    const auto add = [&](std::string_view s) { out += s; };
    const double span = run.last_ts_ns > run.first_ts_ns ? (run.last_ts_ns - run.first_ts_ns) / 1e9 : 0.0;
    char buf[256];

    add("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    add("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    add("<title>tcpsleuth report: " + xml_escape(run.input) + "</title>\n<style>" + std::string(kStyle) + "</style>\n</head>\n<body>\n");
    add("<h1>tcpsleuth report</h1>\n<p class=\"meta\">" + xml_escape(run.input));
    if (run.first_ts_ns != 0) {
        add(" · " + xml_escape(format_timestamp(run.first_ts_ns)) + " to " + xml_escape(format_timestamp(run.last_ts_ns)));
    }
    add("</p>\n");

    // The totals.
    add("<section id=\"summary\">\n<h2>Summary</h2>\n<table>\n");
    std::snprintf(buf, sizeof buf, "%.3f s", span);
    const auto row = [&](const std::string& k, const std::string& v) {
        add("<tr><th>" + xml_escape(k) + "</th><td>" + xml_escape(v) + "</td></tr>\n");
    };
    row("packets", num(c.get(Counter::kRxPackets)) + " (" + num(c.get(Counter::kRxBytes)) + " bytes) over " + buf);
    row("TCP flows", num(c.get(Counter::kFlowCreated)) + " (" + num(c.get(Counter::kFlowMidstream)) + " joined mid-stream)");
    row("handshakes", num(c.get(Counter::kTcpHandshakeCompleted)) + " completed, " + num(c.get(Counter::kTcpHandshakeFailed)) +
                          " failed (SYN unanswered), " + num(c.get(Counter::kTcpHandshakeRefused)) + " refused (RST)");
    row("TCP", num(c.get(Counter::kTcpRetransmissions)) + " retransmissions, " + num(c.get(Counter::kTcpOutOfOrder)) +
                   " out of order, " + num(c.get(Counter::kTcpDupAcks)) + " duplicate ACKs, " +
                   num(c.get(Counter::kTcpZeroWindowProbes)) + " zero-window probes");
    std::uint64_t findings = 0;
    for (const auto& [name, k] : kinds_) findings += k.count;
    row("findings", num(findings) + " in " + num(kinds_.size()) + " diagnoses" +
                        (below_confidence_ != 0 ? ", " + num(below_confidence_) + " below " +
                                                      std::string(to_string(min_confidence_)) + " confidence left out"
                                                : ""));
    if (!run.input_warning.empty()) row("input", run.input_warning);
    if (!run.evidence_dir.empty()) row("evidence", num(run.evidence_files) + " capture(s) in " + run.evidence_dir);
    if (!run.plot_dir.empty()) row("plots", num(run.plot_files) + " SVG file(s) in " + run.plot_dir);
    add("</table>\n</section>\n");

    // The diagnoses, the worst first.
    std::vector<const std::pair<const std::string, Kind>*> kinds;
    for (const auto& entry : kinds_) kinds.push_back(&entry);
    std::stable_sort(kinds.begin(), kinds.end(), [](const auto* a, const auto* b) {
        if (a->second.worst != b->second.worst) return a->second.worst > b->second.worst;
        return a->second.count > b->second.count;
    });
    add("<section id=\"diagnoses\">\n<h2>Diagnoses</h2>\n");
    if (kinds.empty()) {
        add("<p>None. Every TCP flow in this input looks healthy to the enabled inspectors.</p>\n");
    } else {
        add("<nav><ul>\n");
        for (const auto* k : kinds) {
            add("<li><a href=\"#" + anchor(k->first) + "\">" + xml_escape(k->first) + "</a> <span class=\"sev sev-" +
                std::string(to_string(k->second.worst)) + "\">" + std::string(to_string(k->second.worst)) + "</span> " +
                num(k->second.count) + "</li>\n");
        }
        add("</ul></nav>\n");
        if (!parts.plots_note.empty()) add("<p class=\"more\">" + xml_escape(parts.plots_note) + "</p>\n");
    }
    for (const auto* k : kinds) {
        const std::string& name = k->first;
        const Kind& kind = k->second;
        add("<section class=\"diagnosis\" id=\"" + anchor(name) + "\">\n<h2>" + xml_escape(name) + " <span class=\"sev sev-" +
            std::string(to_string(kind.worst)) + "\">" + std::string(to_string(kind.worst)) + "</span></h2>\n");
        add("<p>" + num(kind.count) + " finding" + (kind.count == 1 ? "" : "s") + " in " + num(kind.flows.size()) + " flow" +
            (kind.flows.size() == 1 ? "" : "s") + ".</p>\n");
        add("<div class=\"advice\"><strong>What to do:</strong> " + xml_escape(kind_advice(name)) + "</div>\n");
        const auto kept = kept_.find(name);
        std::size_t shown = 0;
        if (kept != kept_.end()) {
            for (const Kept& f : kept->second) {
                const Event& e = f.event;
                ++shown;
                add("<article class=\"finding\" id=\"" + anchor(name) + "-" + num(shown) + "\" data-event=\"" + xml_escape(name) +
                    "\" data-flow=\"" + num(e.flow_id) + "\" data-plot=\"" + (f.files.plot != 0 ? "yes" : "no") + "\">\n");
                add("<h3>" + xml_escape(event_summary(e)) + "</h3>\n<p class=\"meta\"><span class=\"sev sev-" +
                    std::string(to_string(e.severity)) + "\">" + std::string(to_string(e.severity)) + "</span> confidence " +
                    std::string(to_string(e.confidence)) + " · where " + std::string(to_string(e.where)) + " · " +
                    xml_escape(format_timestamp(e.ts_ns)));
                if (e.flow_id != 0) {
                    const FlowEndpoints p = endpoints(e);
                    add(" · flow " + num(e.flow_id) + ": client " + xml_escape(p.client) + ":" + num(p.client_port) + " → server " +
                        xml_escape(p.server) + ":" + num(p.server_port));
                }
                add("</p>\n");
                if (e.packets.count != 0) {
                    add("<p class=\"packets\">Evidence packets:");
                    for (unsigned i = 0; i < e.packets.count; ++i) add(" #" + num(e.packets.nums[i]));
                    if (e.packets.total > e.packets.count) add(" (" + num(e.packets.total) + " in all)");
                    add("</p>\n");
                }
                if (!f.files.pcap.empty()) {
                    const std::string link = parts.link_of ? parts.link_of(f.files.pcap) : f.files.pcap;
                    add("<p><a class=\"evidence-pcap\" href=\"" + xml_escape(link) + "\">Evidence capture (pcapng)</a></p>\n");
                }
                if (const std::string advice = event_advice(e); advice != kind_advice(name)) {
                    add("<div class=\"advice\">" + xml_escape(advice) + "</div>\n");
                }
                if (f.files.plot != 0 && parts.plot_svg) {
                    if (const std::string svg = parts.plot_svg(f.files.plot); !svg.empty()) {
                        add("<figure class=\"plot\">\n" + svg + "</figure>\n");
                    }
                }
                add("</article>\n");
            }
        }
        if (kind.count > shown) {
            add("<p class=\"more\">" + num(kind.count - shown) + " more in the events file.</p>\n");
        }
        add("</section>\n");
    }
    add("</section>\n");

    if (!paths_.empty()) {
        add("<section id=\"servers\">\n<h2>By server</h2>\n<table>\n<tr><th>server</th><th>diagnosis</th><th>flows</th><th>clients</th></tr>\n");
        for (const auto& [server, path] : paths_) {
            for (const auto& [kind, ids] : path.kinds) {
                add("<tr><td>" + xml_escape(server) + "</td><td><a href=\"#" + anchor(kind) + "\">" + xml_escape(kind) + "</a></td><td class=\"n\">" +
                    num(ids.size()) + "</td><td>" + xml_escape(report_detail::networks_phrase(path.networks.at(kind))) + "</td></tr>\n");
            }
        }
        add("</table>\n</section>\n");
    }
    if (const std::vector<const FlowRow*> rows = worst_flows(); !rows.empty()) {
        add("<section id=\"worst-flows\">\n<h2>Worst flows</h2>\n<table>\n<tr><th>flow</th><th>client</th><th>server</th><th>findings</th></tr>\n");
        for (const FlowRow* r : rows) {
            std::string kinds_text;
            for (const auto& [kind, n] : r->kinds) {
                kinds_text += (kinds_text.empty() ? "" : ", ") + kind + (n > 1 ? " ×" + num(n) : "");
            }
            add("<tr><td class=\"n\">" + num(r->id) + "</td><td>" + xml_escape(r->client) + "</td><td>" + xml_escape(r->server) +
                (r->app.empty() ? "" : " (" + xml_escape(r->app) + ")") + "</td><td>" + xml_escape(kinds_text) + "</td></tr>\n");
        }
        add("</table>\n</section>\n");
    }
    add("<section id=\"counters\">\n<h2>Counters</h2>\n<table>\n");
    for (const std::string_view prefix : {"parse.", "decap.", "flow.", "icmp.", "tcp.", "payload.", "events."}) {
        for (const CounterInfo* info : report_detail::nonzero(c, prefix)) {
            add("<tr><th><code>" + xml_escape(info->name) + "</code></th><td class=\"n\">" + num(c.get(info->id)) + "</td><td>" +
                xml_escape(info->help) + "</td></tr>\n");
        }
    }
    add("</table>\n");
    std::snprintf(buf, sizeof buf, "%u flows per core, %zu bytes per flow, table overhead included.", run.flow_capacity,
                  run.bytes_per_flow);
    add("<p class=\"meta\">Flow table: " + std::string(buf) + "</p>\n</section>\n</body>\n</html>\n");
    return out;
}

}  // namespace tcpsleuth
