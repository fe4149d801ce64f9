// `tcpsleuth compare A B`: two captures of the same traffic on either side of a device (a
// firewall, NAT, load balancer, router). Every packet at one point is matched with itself at
// the other, also through NAT and sequence rewriting; what entered and never left, what
// changed on the way through, what left without entering and how long crossing took become
// device.* findings, each checked against what `analyze` says at each point alone.

#include "compare.h"

#include <spdlog/spdlog.h>


#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "dataplane/config_commands.h"
#include "dataplane/device_evidence.h"
#include "dataplane/logging.h"
#include "dataplane/output.h"
#include "dataplane/packet/parse.h"
#include "dataplane/pcap/merge_reader.h"
#include "inspectors/evidence/idle_profiles.h"
#include "inspectors/flow/flow_table.h"
#include "inspectors/flow/pipeline.h"
#include "inspectors/two_point/device_findings.h"
#include "inspectors/two_point/device_output.h"
#include "inspectors/two_point/matcher.h"
#include "inspectors/two_point/point_capture.h"

namespace tcpsleuth {
namespace {

using namespace two_point;

constexpr const char* kUsage =
    "usage: tcpsleuth compare A B [options]\n"
    "\n"
    "A and B are captures of the same traffic on either side of a device (firewall, NAT, load\n"
    "balancer, router), each any input analyze takes (a pcap/pcapng file, compressed or not, or a\n"
    "directory of rotated files). Every packet is matched across the two points, also through NAT\n"
    "and sequence-number rewriting, by what the device leaves alone (payload, lengths, relative\n"
    "sequence numbers, IP ID, timestamps); the clocks need not agree. Findings about the device:\n"
    "  device.dropped   entered the device and never left (SYNs, large segments, after idle, ...)\n"
    "  device.rewrote   a field changed on the way through (options, ECN, sequence numbers, ...)\n"
    "  device.injected  left the device without entering it (resets, ICMP)\n"
    "  device.delay     the time crossing took, each way\n"
    "\n"
    "options:\n"
    "  --events FILE          write findings to FILE instead of stdout ('-' for stdout)\n"
    "  --report FILE          write the report to FILE instead of stderr ('-' stdout, 'none' no report)\n"
    "  --report-format FMT    text (default) or json\n"
    "  --no-report            do not write a report\n"
    "  --min-confidence C     leave out findings below C: low (default), medium or high\n"
    "  --evidence-dir DIR     for every finding at warning or above, a pcapng in DIR with the affected\n"
    "                         connection's packets at both points (interfaces 'A: ...' and 'B: ...'),\n"
    "                         the evidence packets commented; the inputs are read twice (no pipes)\n"
    "  --config FILE          decapsulation settings and thresholds from a tcpsleuth TOML file\n"
    "  -v, --verbose          log details to stderr\n"
    "  -q, --quiet            log errors only\n"
    "  -h, --help             this text\n"
    "\n"
    "exit status: 0 compared, 1 usage error or cannot write output, 2 unreadable input\n";

struct Options {
    std::string inputs[2];
    std::string events = "-";
    std::string report;
    bool report_json = false;
    bool no_report = false;
    std::optional<Confidence> min_confidence;
    std::string evidence_dir;
    std::string config;
    std::optional<spdlog::level::level_enum> log_level;
};

int parse_options(int argc, char** argv, Options& o) {
    std::vector<std::string> positional;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto value = [&]() -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "tcpsleuth compare: %s needs a value\n", a.c_str());
                return nullptr;
            }
            return argv[++i];
        };
        if (a == "-h" || a == "--help") {
            std::fputs(kUsage, stdout);
            return 0;
        } else if (a == "--events" || a == "--report" || a == "--config" || a == "--evidence-dir") {
            const char* v = value();
            if (v == nullptr) return 1;
            (a == "--events" ? o.events : a == "--report" ? o.report : a == "--config" ? o.config : o.evidence_dir) = v;
            if (a == "--report" && o.report == "none") o.no_report = true;
            if (a == "--evidence-dir" && o.evidence_dir.empty()) {
                std::fprintf(stderr, "tcpsleuth compare: --evidence-dir needs a directory, not an empty name\n");
                return 1;
            }
        } else if (a == "--report-format") {
            const char* v = value();
            if (v == nullptr) return 1;
            if (std::strcmp(v, "json") != 0 && std::strcmp(v, "text") != 0) {
                std::fprintf(stderr, "tcpsleuth compare: --report-format must be text or json, not '%s'\n", v);
                return 1;
            }
            o.report_json = std::strcmp(v, "json") == 0;
        } else if (a == "--no-report") {
            o.no_report = true;
        } else if (a == "--min-confidence") {
            const char* v = value();
            if (v == nullptr) return 1;
            Confidence c;
            if (!parse_confidence(v, c)) {
                std::fprintf(stderr, "tcpsleuth compare: --min-confidence must be low, medium or high, not '%s'\n", v);
                return 1;
            }
            o.min_confidence = c;
        } else if (a == "-v" || a == "--verbose") {
            o.log_level = spdlog::level::debug;
        } else if (a == "-q" || a == "--quiet") {
            o.log_level = spdlog::level::err;
        } else if (!a.empty() && a[0] == '-' && a != "-") {
            std::fprintf(stderr, "tcpsleuth compare: unknown option '%s'\n%s", a.c_str(), kUsage);
            return 1;
        } else {
            positional.push_back(a);
        }
    }
    if (positional.size() != 2) {
        std::fprintf(stderr, "tcpsleuth compare: needs exactly two inputs, A and B (got %zu)\n%s", positional.size(), kUsage);
        return 1;
    }
    o.inputs[0] = positional[0];
    o.inputs[1] = positional[1];
    if (o.inputs[0] == "-" && o.inputs[1] == "-") {
        std::fprintf(stderr, "tcpsleuth compare: only one of A and B can be standard input\n");
        return 1;
    }
    if (const std::string pipe = pipe_among({o.inputs[0], o.inputs[1]}); !o.evidence_dir.empty() && !pipe.empty()) {
        std::fprintf(stderr, "tcpsleuth compare: --evidence-dir reads the inputs twice, and %s is a pipe; save the "
                             "capture to a file first (tcpdump -w FILE)\n",
                     pipe.c_str());
        return 1;
    }
    return -1;
}

// One point: every frame into the point's packet list, and through the single-point
// pipeline (analyze's), whose verdicts the device findings are checked against.
struct PointRead {
    PointCapture capture;
    std::vector<Event> events;
    std::string warning;
};

bool read_point(const std::string& input, const Config& cfg, PointRead& out, std::string& error) {
    std::unique_ptr<CaptureReader> reader = open_inputs({input}, error);
    if (!reader) return false;
    out.capture.name = input;
    FlowTable table(cfg.flows.capacity, std::random_device{}(), cfg.flows.cold_records);
    CoreCounters counters;
    SpscRing<Event> ring(4096);
    EventSink sink(ring, counters);
    Pipeline pipeline(cfg, table, sink, counters);
    const auto drain = [&] {
        Event e;
        while (ring.try_pop(e)) out.events.push_back(e);
    };
    RawPacket burst[Pipeline::kBurst];
    std::uint64_t last_ns = 0;
    PacketView v;
    while (const std::size_t n = reader->next_burst(burst, Pipeline::kBurst)) {
        for (std::size_t i = 0; i < n; ++i) {
            const RawPacket& r = burst[i];
            v.ts_ns = r.ts_ns;
            v.number = r.number;
            v.wire_len = r.wire_len;
            const ParseStatus st = parse_packet(r.data, r.cap_len, reader->link(), v, cfg.decap);
            if (st == ParseStatus::kOk) {
                const std::uint32_t at = std::min<std::uint32_t>(r.cap_len, v.l4_offset + v.tcp.header_len);
                out.capture.add(v, false, r.data + at, r.cap_len - at);
            } else if (st == ParseStatus::kIcmpQuote) {
                out.capture.add(v, true, nullptr, 0);
            } else {
                out.capture.note_frame(r.ts_ns);
            }
            last_ns = std::max(last_ns, r.ts_ns);
        }
        pipeline.process_burst(burst, n, reader->link());
        drain();
    }
    pipeline.finish(last_ns, drain);
    out.warning = reader->warning();
    out.capture.group();
    return true;
}

// ---- evidence captures: the affected connection at both points, in one file ----

std::size_t write_evidence(const std::vector<DeviceEvidencePlan>& plans, const PointRead (&points)[2],
                           const Options& opt, const Comparison& cmp, std::vector<std::string>& errors) {
    if (plans.empty()) return 0;
    // Frame number -> (plan, packet index) per point.
    std::map<std::uint64_t, std::vector<std::pair<std::size_t, std::uint32_t>>> wanted[2];
    for (std::size_t k = 0; k < plans.size(); ++k) {
        for (unsigned p = 0; p < 2; ++p) {
            const PointCapture& pc = points[p].capture;
            const std::uint32_t c = plans[k].conn[p];
            if (c == kNoConnection) continue;
            for (const std::uint32_t i : device_evidence_packets(pc, c, plans[k].finding->numbers[p])) {
                wanted[p][pc.packets[i].number].push_back({k, i});
            }
        }
    }
    const std::array<const PointCapture*, 2> captures = {&points[0].capture, &points[1].capture};
    std::vector<std::vector<DeviceEvidenceFrame>> held(plans.size());
    for (unsigned p = 0; p < 2; ++p) {
        std::string error;
        std::unique_ptr<CaptureReader> reader = open_inputs({opt.inputs[p]}, error);
        if (!reader) {
            errors.push_back(error);
            return 0;
        }
        RawPacket burst[Pipeline::kBurst];
        while (const std::size_t n = reader->next_burst(burst, Pipeline::kBurst)) {
            for (std::size_t i = 0; i < n; ++i) {
                const auto it = wanted[p].find(burst[i].number);
                if (it == wanted[p].end()) continue;
                for (const auto& [k, index] : it->second) {
                    held[k].push_back(device_evidence_frame(captures, p, index, *plans[k].finding, cmp.clock_offset_ns,
                                                            reader->link(), burst[i].data, burst[i].cap_len,
                                                            burst[i].wire_len, burst[i].ts_ns));
                }
            }
        }
    }
    std::size_t written = 0;
    const std::string names[2] = {"A: " + opt.inputs[0], "B: " + opt.inputs[1]};
    for (std::size_t k = 0; k < plans.size(); ++k) {
        std::string error;
        if (!write_device_evidence(plans[k], held[k], names, cmp.clock_offset_ns, error)) {
            errors.push_back(error);
            continue;
        }
        ++written;
    }
    return written;
}

}  // namespace

int compare_main(int argc, char** argv) {
    Options opt;
    if (const int rc = parse_options(argc, argv, opt); rc >= 0) return rc;
    std::optional<DaemonConfig> loaded = load_command_config(opt.config, "compared");
    if (!loaded) return 1;
    DaemonConfig daemon = std::move(*loaded);
    daemon.inspect.history.packets = 0;
    std::string error;
    if (!setup_logging(daemon.logging, opt.log_level, error)) {
        std::fprintf(stderr, "tcpsleuth: %s\n", error.c_str());
        return 1;
    }
    set_idle_profiles(daemon.idle_profiles);
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
    if (!opt.evidence_dir.empty() && !prepare_evidence_dir(opt.evidence_dir, error)) {
        std::fprintf(stderr, "tcpsleuth: %s\n", error.c_str());
        return 1;
    }

    const auto started = std::chrono::steady_clock::now();
    PointRead points[2];
    for (unsigned p = 0; p < 2; ++p) {
        if (!read_point(opt.inputs[p], daemon.inspect, points[p], error)) {
            std::fprintf(stderr, "tcpsleuth: %s\n", error.c_str());
            return 2;
        }
    }
    const Comparison cmp = match_points(points[0].capture, points[1].capture);
    // Two captures that share no connection are not two views of one device: every packet
    // would read as dropped. Say so instead of judging.
    const bool related = !cmp.pairs.empty();
    DeviceReport report = related ? find_device_faults(points[0].capture, points[1].capture, cmp) : DeviceReport{};
    if (!related && !points[0].capture.packets.empty() && !points[1].capture.packets.empty()) {
        spdlog::warn("{} and {} share no TCP connection: not two points on one path (wrong files, or a device that "
                     "passes nothing at all); nothing judged",
                     opt.inputs[0], opt.inputs[1]);
    }

    CompareRun run;
    const Confidence min = opt.min_confidence ? *opt.min_confidence : min_confidence(daemon.output);
    std::vector<DeviceEvidencePlan> plans;
    std::vector<const DeviceFinding*> shown;
    for (DeviceFinding& f : report.findings) {
        note_agreement(f, {&points[0].capture, &points[1].capture}, {&points[0].events, &points[1].events});
        if (f.confidence < min) {
            ++run.below_confidence;
            continue;
        }
        shown.push_back(&f);
    }
    std::string line;
    for (const DeviceFinding* f : shown) {
        std::string pcap;
        if (!opt.evidence_dir.empty() && wants_device_evidence(*f)) {
            plans.push_back(plan_device_evidence(opt.evidence_dir, plans.size() + 1, *f));
            pcap = plans.back().path;
        }
        line = finding_json(*f, points[0].capture, points[1].capture, pcap);
        line += '\n';
        std::fwrite(line.data(), 1, line.size(), events.get());
    }
    bool evidence_failed = false;
    if (!opt.evidence_dir.empty()) {
        std::vector<std::string> problems;
        run.evidence_dir = opt.evidence_dir;
        run.evidence_files = write_evidence(plans, points, opt, cmp, problems);
        for (const std::string& p : problems) std::fprintf(stderr, "tcpsleuth: evidence capture: %s\n", p.c_str());
        evidence_failed = !problems.empty();
    }
    for (unsigned p = 0; p < 2; ++p) run.input_warning[p] = points[p].warning;
    run.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (std::fflush(events.get()) != 0 || std::ferror(events.get())) {
        std::fprintf(stderr, "tcpsleuth: %s: writing events failed\n", opt.events.c_str());
        return 1;
    }
    if (report_out) {
        DeviceReport visible{{}, report.counts};
        for (const DeviceFinding* f : shown) visible.findings.push_back(*f);
        const std::string text = opt.report_json
                                     ? compare_report_json(visible, cmp, points[0].capture, points[1].capture, run) + "\n"
                                     : compare_report_text(visible, cmp, points[0].capture, points[1].capture, run);
        std::fwrite(text.data(), 1, text.size(), report_out.get());
        std::fflush(report_out.get());
    }
    for (unsigned p = 0; p < 2; ++p) {
        if (!points[p].warning.empty()) spdlog::warn("{}: {}", opt.inputs[p], points[p].warning);
    }
    return evidence_failed ? 1 : 0;
}

}  // namespace tcpsleuth
