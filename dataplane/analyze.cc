// `tcpsleuth analyze`: a capture file through the same pipeline the live workers run, with
// pcap timestamps as the clock. Same file, same output: the hash seed changes the table's
// directory layout but not the order flows are created, swept or reported in.

#include "analyze.h"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "control/controller.h"
#include "dataplane/config_commands.h"
#include "dataplane/logging.h"
#include "config/listen_address.h"
#include "dataplane/events_rotation.h"
#include "dataplane/output.h"
#include "dataplane/pcap/byte_source.h"
#include "dataplane/redis_output.h"
#include "dataplane/pcap/merge_reader.h"
#include "inspectors/flow/flow_query.h"
#include "inspectors/flow/flow_table.h"
#include "inspectors/evidence/idle_profiles.h"
#include "inspectors/flow/pipeline.h"
#include "inspectors/output/report.h"

namespace tcpsleuth {
namespace {

constexpr const char* kUsage =
    "usage: tcpsleuth analyze INPUT... [options]\n"
    "\n"
    "Reads pcap or pcapng captures (Ethernet, 802.1Q/802.1ad, Linux cooked SLL/SLL2, raw IP;\n"
    "VXLAN, Geneve, GRE, ERSPAN, MPLS, IP-in-IP and PPPoE looked through), tracks every TCP flow\n"
    "and writes diagnoses as JSON lines, then a readable report.\n"
    "\n"
    "INPUT is a capture file, '-' for standard input (tcpdump -w - | tcpsleuth analyze -), or a\n"
    "directory; several are merged by timestamp (rotated files in any order), and the evidence\n"
    "then names each packet's file and frame. gzip, zstd and lz4 files are read as they are.\n"
    "\n"
    "options:\n"
    "  --events FILE          write events to FILE instead of stdout ('-' for stdout)\n"
    "  --report FILE          write the report to FILE instead of stderr ('-' stdout, 'none' no report)\n"
    "  --report-format FMT    text (default), json, or html: one self-contained page with every finding's\n"
    "                         advice, plot and evidence capture (in --evidence-dir, else beside the\n"
    "                         page: FILE.html -> FILE-evidence/); the input is read a second time for\n"
    "                         them, so from a pipe the page has neither\n"
    "  --no-report            do not write a report\n"
    "  --min-confidence C     leave out findings below C: low (default), medium or high (counted in the report)\n"
    "  --evidence-dir DIR     for every finding at warning or above, a pcapng in DIR with the packets that\n"
    "                         prove it (each evidence packet commented), named in the event (evidence_pcap);\n"
    "                         the input is read a second time, so it cannot be a pipe\n"
    "  --plots DIR            for the same findings, a time-sequence graph (SVG) in DIR of the packets that\n"
    "                         prove it, named in the event (plot); the input cannot be a pipe\n"
    "  --flows N              flow table capacity (default 1048576; overrides flows.capacity)\n"
    "  --config FILE          thresholds, switches, idle profiles and payload rules from a tcpsleuth TOML\n"
    "                         file (without it: the defaults and the built-in rules; see `tcpsleuth rules`)\n"
    "  --control PATH         serve the control socket at PATH while analysing (tcpsleuthctl --socket PATH)\n"
    "  --metrics ADDR:PORT    serve Prometheus metrics at http://ADDR:PORT/metrics while analysing\n"
    "                         (127.0.0.1:9580, [::1]:9580; overrides metrics.listen)\n"
    "  --hold                 with --control or --metrics: after the last packet keep the flows and serve\n"
    "                         until `tcpsleuthctl shutdown` or SIGINT, then finish and report\n"
    "  --no-progress          no progress bar (it shows only when stderr is a terminal)\n"
    "  -v, --verbose          log details to stderr\n"
    "  -q, --quiet            log errors only\n"
    "  -h, --help             this text\n"
    "\n"
    "exit status: 0 analysed, 1 usage error or cannot write output, 2 unreadable input\n";

struct Options {
    std::vector<std::string> inputs;
    std::string events = "-";
    std::string report;  // empty: stderr
    bool report_json = false;
    bool report_html = false;
    bool no_report = false;
    std::optional<spdlog::level::level_enum> log_level;
    std::uint32_t flows = 0;  // 0: flows.capacity
    std::string config;
    std::string control;
    bool hold = false;
    std::string metrics;  // --metrics ADDR:PORT
    bool progress = true;
    std::optional<Confidence> min_confidence;  // overrides output.min_confidence
    std::string evidence_dir;
    std::string plots_dir;
};

// Returns -1 to continue, otherwise an exit code.
int parse_options(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto need_value = [&](const char* name) -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "tcpsleuth analyze: %s needs a value\n", name);
                return nullptr;
            }
            return argv[++i];
        };
        if (a == "-h" || a == "--help") {
            std::fputs(kUsage, stdout);
            return 0;
        } else if (a == "--events") {
            const char* v = need_value("--events");
            if (v == nullptr) return 1;
            o.events = v;
        } else if (a == "--report") {
            const char* v = need_value("--report");
            if (v == nullptr) return 1;
            o.report = v;
            // The same spelling as `run --report none` and output.report = "none".
            if (o.report == "none") o.no_report = true;
        } else if (a == "--report-format") {
            const char* v = need_value("--report-format");
            if (v == nullptr) return 1;
            o.report_json = std::strcmp(v, "json") == 0;
            o.report_html = std::strcmp(v, "html") == 0;
            if (!o.report_json && !o.report_html && std::strcmp(v, "text") != 0) {
                std::fprintf(stderr, "tcpsleuth analyze: --report-format must be text, json or html, not '%s'\n", v);
                return 1;
            }
        } else if (a == "--no-report") {
            o.no_report = true;
        } else if (a == "--flows") {
            const char* v = need_value("--flows");
            if (v == nullptr) return 1;
            char* end = nullptr;
            const unsigned long n = std::strtoul(v, &end, 10);
            if (end == v || *end != '\0' || n < 16 || n > (1ul << 28)) {
                std::fprintf(stderr, "tcpsleuth analyze: --flows must be a number from 16 to %lu, not '%s'\n",
                             1ul << 28, v);
                return 1;
            }
            o.flows = static_cast<std::uint32_t>(n);
        } else if (a == "--metrics") {
            const char* v = need_value("--metrics");
            if (v == nullptr) return 1;
            ListenAddress where;
            std::string why;
            if (!parse_listen_address(v, where, why)) {
                std::fprintf(stderr, "tcpsleuth analyze: --metrics %s: %s\n", v, why.c_str());
                return 1;
            }
            o.metrics = v;
        } else if (a == "--config" || a == "--control" || a == "--evidence-dir" || a == "--plots") {
            const char* v = need_value(a.c_str());
            if (v == nullptr) return 1;
            (a == "--config" ? o.config : a == "--control" ? o.control : a == "--plots" ? o.plots_dir : o.evidence_dir) = v;
            if ((a == "--evidence-dir" || a == "--plots") && *v == '\0') {
                std::fprintf(stderr, "tcpsleuth analyze: %s needs a directory, not an empty name\n", a.c_str());
                return 1;
            }
        } else if (a == "--min-confidence") {
            const char* v = need_value("--min-confidence");
            if (v == nullptr) return 1;
            Confidence c;
            if (!parse_confidence(v, c)) {
                std::fprintf(stderr, "tcpsleuth analyze: --min-confidence must be low, medium or high, not '%s'\n", v);
                return 1;
            }
            o.min_confidence = c;
        } else if (a == "--hold") {
            o.hold = true;
        } else if (a == "--no-progress") {
            o.progress = false;
        } else if (a == "-v" || a == "--verbose") {
            o.log_level = spdlog::level::debug;
        } else if (a == "-q" || a == "--quiet") {
            o.log_level = spdlog::level::err;
        } else if (!a.empty() && a[0] == '-' && a != "-") {
            std::fprintf(stderr, "tcpsleuth analyze: unknown option '%s'\n%s", a.c_str(), kUsage);
            return 1;
        } else {
            o.inputs.push_back(a);
        }
    }
    if (o.inputs.empty()) {
        std::fprintf(stderr, "tcpsleuth analyze: no input file\n%s", kUsage);
        return 1;
    }
    for (const auto& [option, dir] : {std::pair{"--evidence-dir", &o.evidence_dir}, std::pair{"--plots", &o.plots_dir}}) {
        // The captures and plots are cut from a second read of the input: a pipe is gone by then.
        if (dir->empty()) continue;
        if (const std::string pipe = pipe_among(o.inputs); !pipe.empty()) {
            std::fprintf(stderr,
                         "tcpsleuth analyze: %s reads the input twice, and %s is a pipe; "
                         "save the capture to a file first (tcpdump -w FILE)\n",
                         option, pipe.c_str());
            return 1;
        }
    }
    if (o.hold && o.control.empty() && o.metrics.empty()) {
        std::fprintf(stderr, "tcpsleuth analyze: --hold needs --control PATH or --metrics ADDR:PORT (nobody could "
                             "query the held flows)\n");
        return 1;
    }
    return -1;
}

// The HTML report's link to a file: relative to the page's directory (the page and its
// evidence move together), each byte outside RFC 3986's unreserved set and '/' escaped.
std::string link_from(const std::string& report, const std::string& target) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path page = report.empty() || report == "-" ? fs::current_path(ec) : fs::absolute(report, ec).parent_path();
    fs::path rel = fs::absolute(target, ec).lexically_normal().lexically_relative(page.lexically_normal());
    const std::string path = rel.empty() ? target : rel.generic_string();
    std::string out;
    for (const unsigned char c : path) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
            out += static_cast<char>(c);
        } else {
            char buf[4];
            std::snprintf(buf, sizeof buf, "%%%02X", c);
            out += buf;
        }
    }
    return out;
}

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_stop(int) { g_stop = 1; }

// A progress line on a terminal, redrawn at most 10 times a second: packets, MB/s, ETA.
class ProgressBar {
public:
    explicit ProgressBar(bool enabled) : enabled_(enabled && isatty(STDERR_FILENO) == 1) {}

    void update(std::uint64_t packets, std::uint64_t bytes, std::uint64_t total, bool force = false) {
        if (!enabled_) return;
        const auto now = std::chrono::steady_clock::now();
        if (!force && now - last_ < std::chrono::milliseconds(100)) return;
        last_ = now;
        const double secs = std::chrono::duration<double>(now - start_).count();
        const double rate = secs > 0 ? static_cast<double>(bytes) / secs : 0;
        if (total == 0) {  // a pipe: no end to measure against
            std::fprintf(stderr, "\r%llu packets  %.1f MB  %.1f MB/s   ", static_cast<unsigned long long>(packets),
                         static_cast<double>(bytes) / 1e6, rate / 1e6);
            std::fflush(stderr);
            drawn_ = true;
            return;
        }
        const double pct = 100.0 * static_cast<double>(bytes) / static_cast<double>(total);
        const double eta = rate > 0 && total > bytes ? static_cast<double>(total - bytes) / rate : 0;
        constexpr int kWidth = 30;
        const int fill = static_cast<int>(pct / 100 * kWidth);
        std::fprintf(stderr, "\r[%-*.*s] %5.1f%%  %llu packets  %.1f MB/s  ETA %.0f s   ", kWidth, fill,
                     "==============================", pct, static_cast<unsigned long long>(packets), rate / 1e6, eta);
        std::fflush(stderr);
        drawn_ = true;
    }
    void finish() {
        if (drawn_) std::fputs("\n", stderr);
        drawn_ = false;
    }

private:
    bool enabled_;
    bool drawn_ = false;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point last_{};
};

// The analysis loop as a control backend: one table, on this thread, so every question is
// answered at once between bursts.
class AnalyzeBackend final : public control::Backend {
public:
    AnalyzeBackend(const std::string& input, FlowTable& table, Pipeline& pipeline, CoreCounters& counters)
        : input_(input), table_(table), pipeline_(pipeline), counters_(counters) {}

    void set_reader(const CaptureReader* r) { reader_ = r; }
    void set_done() { done_ = true; }
    bool shutdown_requested() const { return shutdown_; }

    control::Snapshot snapshot() override {
        control::Snapshot s;
        s.mode = "analyze";
        s.workers.push_back({.counters = &counters_, .flows_active = table_.size(), .flow_capacity = table_.capacity(), .ring_full = 0});
        control::Progress p;
        p.file = input_;
        p.file_bytes = reader_ != nullptr ? reader_->file_bytes() : 0;
        p.bytes_read = done_ ? p.file_bytes : (reader_ != nullptr ? reader_->bytes_read() : 0);
        p.done = done_;
        s.progress = p;
        if (redis_ != nullptr) redis_metrics(*redis_, s.more);
        return s;
    }
    void set_redis(const RedisOutput* redis) noexcept { redis_ = redis; }
    void query_flows(const FlowQuery& q, std::function<void(control::FlowListing)> done) override {
        scan_.start(q);
        while (!scan_.step(table_, 1u << 20, &pipeline_.tunnels())) {
        }
        control::FlowListing out;
        out.flows = scan_.sorted();
        out.matched = scan_.matched();
        done(std::move(out));
    }
    void find_flow(std::uint64_t id, std::function<void(std::optional<FlowState>)> done) override {
        std::uint32_t cursor = 0;
        const FlowState* f = find_flow_id(table_, static_cast<std::uint32_t>(id), cursor, table_.slots());
        done(f != nullptr ? std::optional<FlowState>(*f) : std::nullopt);
    }
    void flow_packets(std::uint64_t id, std::function<void(std::optional<control::FlowPackets>)> done) override {
        std::uint32_t cursor = 0;
        const FlowState* f = find_flow_id(table_, static_cast<std::uint32_t>(id), cursor, table_.slots());
        if (f == nullptr) return done(std::nullopt);
        const PacketHistory& h = pipeline_.history();
        HistoryScan scan;
        scan.reserve(h.snap());
        scan.start(table_.hash(f->common.key), h);
        while (!scan.step(h, 1u << 20)) {
        }
        control::FlowPackets fp;
        fp.flow = *f;
        fp.snap = h.snap();
        fp.history_packets = h.capacity();
        fp.entries = scan.entries();
        fp.bytes = scan.bytes();
        fp.more = scan.more();
        done(std::move(fp));
    }
    void apply_config(const DaemonConfig& cfg, std::function<void()> done) override {
        pipeline_.reconfigure(cfg.inspect);
        spdlog::set_level(log_level_named(cfg.logging.level));
        done();
    }
    void request_shutdown() override { shutdown_ = true; }

private:
    std::string input_;
    FlowTable& table_;
    Pipeline& pipeline_;
    CoreCounters& counters_;
    const CaptureReader* reader_ = nullptr;
    FlowScan scan_;
    bool done_ = false;
    const RedisOutput* redis_ = nullptr;
    bool shutdown_ = false;
};

}  // namespace

int analyze_main(int argc, char** argv) {
    Options opt;
    if (const int rc = parse_options(argc, argv, opt); rc >= 0) return rc;
    std::optional<DaemonConfig> loaded = load_command_config(opt.config, "analysed");
    if (!loaded) return 1;
    DaemonConfig daemon = std::move(*loaded);
    const DaemonConfig file_cfg = daemon;
    if (opt.flows != 0) daemon.inspect.flows.capacity = opt.flows;
    // The packet history serves `tcpsleuthctl pcap` and the plots of the control socket and the
    // live page: without either nobody can ask.
    if (opt.control.empty() && opt.metrics.empty()) daemon.inspect.history.packets = 0;
    daemon.control.socket = opt.control;
    if (!opt.metrics.empty()) daemon.metrics.listen = opt.metrics;
    std::string error;
    if (!setup_logging(daemon.logging, opt.log_level, error)) {
        std::fprintf(stderr, "tcpsleuth: %s\n", error.c_str());
        return 1;
    }
    set_idle_profiles(daemon.idle_profiles);

    std::unique_ptr<CaptureReader> reader = open_inputs(opt.inputs, error);
    // The report and the control socket name the input: one file, or the list.
    std::string input_name;
    for (const std::string& in : opt.inputs) input_name += (input_name.empty() ? "" : " ") + in;
    if (!reader) {
        std::fprintf(stderr, "tcpsleuth: %s\n", error.c_str());
        return 2;
    }
    FilePtr events = open_output(opt.events, stdout);
    if (!events) {
        std::fprintf(stderr, "tcpsleuth: %s: cannot write events: %s\n", opt.events.c_str(), std::strerror(errno));
        return 1;
    }
    FilePtr report_out;
    if (!opt.no_report) {
        report_out = open_output(opt.report, stderr);
        if (!report_out) {
            std::fprintf(stderr, "tcpsleuth: %s: cannot write report: %s\n", opt.report.c_str(), std::strerror(errno));
            return 1;
        }
    }

    // Evidence captures, plots, and the HTML report's plots: all cut from a second read.
    const bool html_plots = opt.report_html && !opt.no_report && pipe_among(opt.inputs).empty();
    // The page links each finding to its evidence capture: written to a file, it gets them
    // beside it (report.html -> report-evidence/) unless --evidence-dir says where.
    if (html_plots && opt.evidence_dir.empty() && !opt.report.empty() && opt.report != "-") {
        const std::size_t dot = opt.report.rfind('.'), slash = opt.report.rfind('/');
        const bool has_ext = dot != std::string::npos && (slash == std::string::npos || dot > slash);
        opt.evidence_dir = (has_ext ? opt.report.substr(0, dot) : opt.report) + "-evidence";
    }
    std::unique_ptr<EvidenceCaptures> evidence;
    for (const std::string* dir : {&opt.evidence_dir, &opt.plots_dir}) {
        if (!dir->empty() && !prepare_evidence_dir(*dir, error)) {
            std::fprintf(stderr, "tcpsleuth: %s\n", error.c_str());
            return 1;
        }
    }
    if (!opt.evidence_dir.empty() || !opt.plots_dir.empty() || html_plots) {
        evidence = std::make_unique<EvidenceCaptures>(
            EvidenceOutputs{.pcap_dir = opt.evidence_dir, .plot_dir = opt.plots_dir, .keep_plots = html_plots},
            daemon.inspect.decap);
    }

    const Config& cfg = daemon.inspect;
    const auto started = std::chrono::steady_clock::now();
    FlowTable table(cfg.flows.capacity, std::random_device{}(), cfg.flows.cold_records);
    CoreCounters counters;
    SpscRing<Event> ring(4096);
    EventSink sink(ring, counters);
    Pipeline pipeline(cfg, table, sink, counters);
    Report report;
    report.keep_findings(opt.report_html);

    AnalyzeBackend backend(input_name, table, pipeline, counters);
    backend.set_reader(reader.get());
    control::Controller control(backend, daemon, file_cfg, opt.config);
    if (!opt.control.empty()) {
        if (!control.open(error)) {
            std::fprintf(stderr, "tcpsleuth: %s\n", error.c_str());
            return 1;
        }
        spdlog::info("control socket {}", control.path());
    }
    if (!control.open_metrics(error)) {
        std::fprintf(stderr, "tcpsleuth: %s\n", error.c_str());
        return 1;
    }
    if (!control.metrics_address().empty()) spdlog::info("metrics on http://{}/metrics", control.metrics_address());
    std::signal(SIGINT, on_stop);
    std::signal(SIGTERM, on_stop);

    EventWriter writer(events.get(), report);
    writer.set_min_confidence(opt.min_confidence ? *opt.min_confidence : min_confidence(daemon.output));
    writer.set_origins(reader->origins());
    writer.set_evidence(evidence.get());
    std::unique_ptr<RedisOutput> redis;
    if (!daemon.output.redis.server.empty()) {
        redis = std::make_unique<RedisOutput>(daemon.output.redis, daemon.sensor.name.empty() ? host_name() : daemon.sensor.name);
        redis->poll();  // connecting while the first packets are read
        backend.set_redis(redis.get());
    }
    EventsRotation rotation(opt.events, daemon.output);
    const auto drain = [&] {
        Event e;
        while (ring.try_pop(e)) {
            if (!writer.write(e)) continue;
            control.on_event(e, writer.last_line());
            if (redis) redis->push(writer.last_line());
            std::string rotate_error;
            if (rotation.after_line(events, writer.last_line().size() + 1, rotate_error)) {
                writer.set_output(events.get());
            } else if (!rotate_error.empty()) {
                spdlog::warn("{}", rotate_error);
            }
        }
    };

    // A quiet pipe must not stall the control socket, the metrics endpoint or Redis.
    set_input_idle([&] {
        if (control.serving()) control.poll(0);
        if (redis) redis->poll();
    });
    RunInfo run;
    run.input = input_name;
    RawPacket burst[Pipeline::kBurst];
    ProgressBar bar(opt.progress);
    std::uint64_t bursts = 0;
    while (g_stop == 0 && !backend.shutdown_requested()) {
        const std::size_t n = reader->next_burst(burst, Pipeline::kBurst);
        if (n == 0) break;
        if (run.first_ts_ns == 0) run.first_ts_ns = burst[0].ts_ns;
        run.last_ts_ns = std::max(run.last_ts_ns, burst[n - 1].ts_ns);
        pipeline.process_burst(burst, n, reader->link());
        drain();
        // Findings waiting for the Redis server go out after the burst that made them (the
        // input may be a pipe that goes quiet for a while); otherwise every 64 bursts.
        if (redis && (redis->pending() || bursts % 64 == 63)) redis->poll();
        // Every 64 bursts (about 2000 packets): the socket and the bar cost nothing measurable.
        if (++bursts % 64 == 0) {
            if (control.serving()) control.poll(0);
            bar.update(counters.get(Counter::kRxPackets), reader->bytes_read(), reader->file_bytes());
        }
    }
    set_input_idle({});
    bar.update(counters.get(Counter::kRxPackets), reader->bytes_read(), reader->file_bytes(), true);
    bar.finish();
    backend.set_done();
    if (opt.hold) {
        if (control.is_open()) {
            spdlog::warn("{}: analysed; holding {} flows for queries on {} until `tcpsleuthctl --socket {} shutdown` or SIGINT",
                         input_name, table.size(), control.path(), control.path());
        } else {
            spdlog::warn("{}: analysed; serving metrics on http://{}/metrics until SIGINT", input_name, control.metrics_address());
        }
        while (g_stop == 0 && !backend.shutdown_requested()) control.poll(100);
    }
    pipeline.finish(run.last_ts_ns, drain);
    control.close();
    if (redis) {
        redis->flush(daemon.output.redis.flush_timeout_s * 1000u);
        log_redis_stats(*redis);
    }
    bool evidence_failed = false;
    if (evidence) {
        run.evidence_dir = opt.evidence_dir;
        run.plot_dir = opt.plots_dir;
        std::vector<std::string> problems;
        if (evidence->planned() != 0) {
            std::unique_ptr<CaptureReader> again = open_inputs(opt.inputs, error);
            if (!again) {
                problems.push_back(error);
            } else {
                run.evidence_files = evidence->write(*again, problems);
                run.plot_files = evidence->plots_written();
            }
        }
        for (const std::string& p : problems) std::fprintf(stderr, "tcpsleuth: evidence capture: %s\n", p.c_str());
        evidence_failed = !problems.empty();
    }
    run.input_warning = reader->warning();
    note_flow_memory(run, table, pipeline.payload());
    run.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    if (std::fflush(events.get()) != 0 || std::ferror(events.get())) {
        std::fprintf(stderr, "tcpsleuth: %s: writing events failed\n", opt.events.c_str());
        return 1;
    }
    if (report_out) {
        std::string text;
        if (opt.report_html) {
            HtmlParts parts;
            if (evidence) {
                parts.plot_svg = [&](std::size_t n) { return evidence->plot_svg(n); };
            } else {
                parts.plots_note = "No plots: the input was a pipe, and plots are cut from a second read of it.";
            }
            parts.link_of = [&](const std::string& pcap) { return link_from(opt.report, pcap); };
            text = report.html(run, counters, parts);
        } else {
            text = opt.report_json ? report.json(run, counters) + "\n" : report.text(run, counters);
        }
        std::fwrite(text.data(), 1, text.size(), report_out.get());
        std::fflush(report_out.get());
    }
    if (!run.input_warning.empty()) spdlog::warn("{}: {}", input_name, run.input_warning);
    if (evidence_failed) return 1;
    spdlog::debug("{} packets in {:.3f} s ({:.2f} M packets/s)", counters.get(Counter::kRxPackets), run.wall_seconds,
                  counters.get(Counter::kRxPackets) / run.wall_seconds / 1e6);
    return 0;
}

}  // namespace tcpsleuth
