#pragma once
// The readable report at the end of a run: totals, each diagnosis with its count and advice,
// findings grouped by server (path), the worst flows, and the parse counters. Built on the
// output side from the same events that go to the JSON-lines stream.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "inspectors/flow/counters.h"
#include "inspectors/output/events.h"

namespace tcpsleuth {

// One [[impair]] rule's state and counters over every worker (inline runs with rules).
struct ImpairRuleStats {
    std::string name;
    std::string action;
    bool enabled = true;
    std::uint64_t matched = 0;
    std::uint64_t dropped = 0;
    std::uint64_t rewritten = 0;
    std::uint64_t injected = 0;  // packets the rule sent of its own (RSTs, ICMP errors)
    std::uint64_t delayed = 0;   // packets it held back (delay, rate)
};

struct RunInfo {
    std::string input;
    std::uint64_t first_ts_ns = 0;
    std::uint64_t last_ts_ns = 0;
    std::uint32_t flow_capacity = 0;
    std::size_t flow_table_bytes = 0;
    std::size_t bytes_per_flow = 0;
    std::size_t entry_bytes = 0;         // one hot entry
    std::uint32_t cold_records = 0;      // per core
    std::size_t cold_record_bytes = 0;
    std::uint32_t cold_peak = 0;         // most records in use at once on any core
    std::size_t payload_pool_bytes = 0;  // Hyperscan stream pool + scratch, per worker; 0 scanning off
    std::size_t payload_stream_bytes = 0;  // stream state of one flow scanned both ways
    double wall_seconds = 0;
    std::string input_warning;
    std::string evidence_dir;         // analyze --evidence-dir; empty: none asked for
    std::size_t evidence_files = 0;   // evidence captures written there
    std::string plot_dir;             // analyze --plots; empty: none asked for
    std::size_t plot_files = 0;       // plots written there
    std::vector<ImpairRuleStats> impair;  // run inline with [[impair]] rules: what each did
};

class FlowTable;
class PayloadScanner;
// The memory figures of one worker's table and payload scanner; called for each worker, it
// keeps the largest cold-record peak.
void note_flow_memory(RunInfo& run, const FlowTable& table, const PayloadScanner& payload);

// What the HTML report shows of one finding beside its event: the files it names.
struct FindingFiles {
    std::string pcap;          // its evidence capture as the page links it; empty: none
    std::size_t plot = 0;      // its plot's number (HtmlParts::plot_svg); 0: none
};

// The parts of the HTML report that come from outside the events.
struct HtmlParts {
    std::function<std::string(std::size_t)> plot_svg;  // a plot's SVG by number; empty: not drawn
    std::function<std::string(const std::string&)> link_of;  // an evidence capture's link from the page
    std::string plots_note;    // why there are no plots, when there are none
};

class Report {
public:
    // The HTML report shows each finding, up to this many of a kind (the rest are counted).
    static constexpr std::size_t kHtmlFindingsPerKind = 50;

    void add(const Event& e, const FindingFiles& files = {});
    // Keep each finding (up to kHtmlFindingsPerKind of a kind) for html().
    void keep_findings(bool on) noexcept { keep_findings_ = on; }
    // A finding left out for its confidence (output.min_confidence): counted, said in the report.
    void add_below_confidence(Confidence min) noexcept {
        ++below_confidence_;
        min_confidence_ = min;
    }

    std::string text(const RunInfo& run, const CoreCounters& c) const;
    std::string json(const RunInfo& run, const CoreCounters& c) const;
    // One self-contained page (no scripts, fonts or requests of its own): the totals, the
    // findings grouped by diagnosis with their advice, plot and evidence link, the servers,
    // the worst flows, the counters. Needs keep_findings(true) before the first add().
    std::string html(const RunInfo& run, const CoreCounters& c, const HtmlParts& parts) const;

private:
    struct Kind {
        std::uint64_t count = 0;
        Severity worst = Severity::kInfo;
        std::vector<std::uint64_t> flows;   // distinct flow ids, in order of first finding
        std::vector<std::string> examples;  // first few summaries
    };
    struct FlowRow {
        std::uint64_t id = 0;
        std::uint64_t score = 0;
        std::string client;
        std::string server;
        std::string app;  // the latest tag its events carried
        std::map<std::string, std::uint64_t> kinds;
    };
    struct PathRow {
        std::map<std::string, std::vector<std::uint64_t>> kinds;    // kind -> flow ids
        std::map<std::string, std::vector<std::string>> networks;   // kind -> client networks
    };

    struct Kept {
        Event event;
        FindingFiles files;
    };
    std::vector<const FlowRow*> worst_flows() const;

    std::map<std::string, Kind> kinds_;
    bool keep_findings_ = false;
    std::map<std::string, std::vector<Kept>> kept_;  // kind -> its first findings
    std::map<std::uint64_t, FlowRow> flows_;
    std::map<std::string, PathRow> paths_;  // "server:port"
    std::uint64_t below_confidence_ = 0;
    Confidence min_confidence_ = Confidence::kLow;
};

}  // namespace tcpsleuth
