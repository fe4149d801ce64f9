// `tcpsleuth analyze`: a capture file through the same pipeline the live workers run, with
// pcap timestamps as the clock. Same file, same output: the hash seed changes the table's
// directory layout but not the order flows are created, swept or reported in.

#include "analyze.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>

#include "config/config.h"
#include "dataplane/output.h"
#include "dataplane/pcap/pcap_reader.h"
#include "inspectors/flow_table.h"
#include "inspectors/pipeline.h"
#include "inspectors/report.h"

namespace tcpsleuth {
namespace {

constexpr const char* kUsage =
    "usage: tcpsleuth analyze FILE [options]\n"
    "\n"
    "Reads a pcap or pcapng capture (Ethernet, 802.1Q/802.1ad, Linux cooked SLL/SLL2, raw IP),\n"
    "tracks every TCP flow and writes diagnoses as JSON lines, then a readable report.\n"
    "\n"
    "options:\n"
    "  --events FILE          write events to FILE instead of stdout ('-' for stdout)\n"
    "  --report FILE          write the report to FILE instead of stderr ('-' for stdout)\n"
    "  --report-format FMT    text (default) or json\n"
    "  --no-report            do not write a report\n"
    "  --flows N              flow table capacity (default 1048576)\n"
    "  -v, --verbose          log progress details to stderr\n"
    "  -h, --help             this text\n"
    "\n"
    "exit status: 0 analysed, 1 usage error or cannot write output, 2 unreadable input\n";

struct Options {
    std::string input;
    std::string events = "-";
    std::string report;  // empty: stderr
    bool report_json = false;
    bool no_report = false;
    bool verbose = false;
    std::uint32_t flows = FlowConfig{}.capacity;
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
        } else if (a == "--report-format") {
            const char* v = need_value("--report-format");
            if (v == nullptr) return 1;
            if (std::strcmp(v, "json") == 0) {
                o.report_json = true;
            } else if (std::strcmp(v, "text") == 0) {
                o.report_json = false;
            } else {
                std::fprintf(stderr, "tcpsleuth analyze: --report-format must be text or json, not '%s'\n", v);
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
        } else if (a == "-v" || a == "--verbose") {
            o.verbose = true;
        } else if (!a.empty() && a[0] == '-' && a != "-") {
            std::fprintf(stderr, "tcpsleuth analyze: unknown option '%s'\n%s", a.c_str(), kUsage);
            return 1;
        } else if (o.input.empty()) {
            o.input = a;
        } else {
            std::fprintf(stderr, "tcpsleuth analyze: one input file only ('%s' and '%s')\n", o.input.c_str(), a.c_str());
            return 1;
        }
    }
    if (o.input.empty()) {
        std::fprintf(stderr, "tcpsleuth analyze: no input file\n%s", kUsage);
        return 1;
    }
    return -1;
}

}  // namespace

int analyze_main(int argc, char** argv) {
    Options opt;
    if (const int rc = parse_options(argc, argv, opt); rc >= 0) return rc;
    spdlog::set_level(opt.verbose ? spdlog::level::debug : spdlog::level::warn);

    std::string error;
    std::unique_ptr<CaptureReader> reader = CaptureReader::open(opt.input, error);
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

    Config cfg;
    cfg.flows.capacity = opt.flows;
    const auto started = std::chrono::steady_clock::now();
    FlowTable table(cfg.flows.capacity, std::random_device{}());
    CoreCounters counters;
    SpscRing<Event> ring(4096);
    EventSink sink(ring, counters);
    Pipeline pipeline(cfg, table, sink, counters);
    Report report;

    EventWriter writer(events.get(), report);
    const auto drain = [&] {
        Event e;
        while (ring.try_pop(e)) writer.write(e);
    };

    RunInfo run;
    run.input = opt.input;
    RawPacket burst[Pipeline::kBurst];
    for (;;) {
        const std::size_t n = reader->next_burst(burst, Pipeline::kBurst);
        if (n == 0) break;
        if (run.first_ts_ns == 0) run.first_ts_ns = burst[0].ts_ns;
        run.last_ts_ns = std::max(run.last_ts_ns, burst[n - 1].ts_ns);
        pipeline.process_burst(burst, n, reader->link());
        drain();
    }
    pipeline.finish(run.last_ts_ns, drain);
    run.input_warning = reader->warning();
    run.flow_capacity = table.capacity();
    run.flow_table_bytes = table.memory_bytes();
    run.bytes_per_flow = table.memory_bytes() / table.capacity();
    run.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    if (std::fflush(events.get()) != 0 || std::ferror(events.get())) {
        std::fprintf(stderr, "tcpsleuth: %s: writing events failed\n", opt.events.c_str());
        return 1;
    }
    if (report_out) {
        const std::string text = opt.report_json ? report.json(run, counters) + "\n" : report.text(run, counters);
        std::fwrite(text.data(), 1, text.size(), report_out.get());
        std::fflush(report_out.get());
    }
    if (!run.input_warning.empty()) spdlog::warn("{}: {}", opt.input, run.input_warning);
    spdlog::debug("{} packets in {:.3f} s ({:.2f} M packets/s)", counters.get(Counter::kRxPackets), run.wall_seconds,
                  counters.get(Counter::kRxPackets) / run.wall_seconds / 1e6);
    return 0;
}

}  // namespace tcpsleuth
