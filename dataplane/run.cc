// `tcpsleuth run --config FILE [-- EAL args]`: the live pipeline on DPDK ports.
//
// The main core starts EAL, the ports and the lcores, then writes the events the workers
// queue, prints counters, and watches for SIGINT/SIGTERM (or a replay going quiet). Stop:
// receiving ends, queued packets are inspected (and, inline, sent), every flow ends, the
// last events are written, the final counters printed, exit 0.

#include "run.h"

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_ring.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>

#include "config/loader.h"
#include "dataplane/live/eal_env.h"
#include "dataplane/live/ports.h"
#include "dataplane/live/worker.h"
#include "dataplane/output.h"
#include "inspectors/report.h"

namespace tcpsleuth {
namespace {

constexpr const char* kUsage =
    "usage: tcpsleuth run --config FILE [options] [-- EAL arguments]\n"
    "\n"
    "Runs the live pipeline on DPDK ports: mode = \"tap\" inspects what the ports receive,\n"
    "mode = \"inline\" also forwards every packet between port pairs. Events are written as\n"
    "JSON lines while running; SIGINT or SIGTERM stops it, writes the last events, the final\n"
    "counters and the report. See config/tcpsleuth.example.toml for every setting.\n"
    "\n"
    "options:\n"
    "  --config FILE          the configuration (required)\n"
    "  --events FILE          overrides output.events ('-' for stdout)\n"
    "  --report FILE          overrides output.report ('-' stdout, 'none' no report)\n"
    "  --workers N            overrides workers.count\n"
    "  -v, --verbose          log start-up details\n"
    "  -q, --quiet            log errors only\n"
    "  -h, --help             this text\n"
    "\n"
    "exit status: 0 stopped cleanly, 1 usage or configuration error, 2 DPDK or a port failed to start\n";

volatile std::sig_atomic_t g_signal = 0;
extern "C" void on_signal(int sig) { g_signal = sig; }

struct Options {
    std::string config;
    std::string events, report;
    bool events_set = false, report_set = false;
    std::uint32_t workers = 0;
    spdlog::level::level_enum log_level = spdlog::level::warn;
    std::vector<std::string> eal_extra;
};

int parse_options(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto value = [&]() -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "tcpsleuth run: %s needs a value\n", a.c_str());
                return nullptr;
            }
            return argv[++i];
        };
        if (a == "--") {
            o.eal_extra.assign(argv + i + 1, argv + argc);
            break;
        } else if (a == "-h" || a == "--help") {
            std::fputs(kUsage, stdout);
            return 0;
        } else if (a == "--config" || a == "--events" || a == "--report" || a == "--workers") {
            const char* v = value();
            if (v == nullptr) return 1;
            if (a == "--config") o.config = v;
            if (a == "--events") o.events = v, o.events_set = true;
            if (a == "--report") o.report = v, o.report_set = true;
            if (a == "--workers") {
                char* end = nullptr;
                const unsigned long n = std::strtoul(v, &end, 10);
                if (end == v || *end != '\0' || n < 1 || n > 64) {
                    std::fprintf(stderr, "tcpsleuth run: --workers must be from 1 to 64, not '%s'\n", v);
                    return 1;
                }
                o.workers = static_cast<std::uint32_t>(n);
            }
        } else if (a == "-v" || a == "--verbose") {
            o.log_level = spdlog::level::info;
        } else if (a == "-q" || a == "--quiet") {
            o.log_level = spdlog::level::err;
        } else {
            std::fprintf(stderr, "tcpsleuth run: unknown argument '%s' (EAL arguments go after --)\n%s", a.c_str(), kUsage);
            return 1;
        }
    }
    if (o.config.empty()) {
        std::fprintf(stderr, "tcpsleuth run: --config FILE is required\n%s", kUsage);
        return 1;
    }
    return -1;
}

class LiveRun {
public:
    LiveRun(const DaemonConfig& cfg, std::string config_path) : cfg_(cfg), config_path_(std::move(config_path)) {}

    // Returns the process exit code.
    int run(const std::vector<std::string>& eal_extra) {
        FilePtr events = open_output(cfg_.output.events, stdout);
        if (!events) {
            std::fprintf(stderr, "tcpsleuth: %s: cannot write events: %s\n", cfg_.output.events.c_str(), std::strerror(errno));
            return 1;
        }
        events_ = events.get();
        writer_ = std::make_unique<EventWriter>(events_, report_);
        if (cfg_.ports.empty()) {
            std::fprintf(stderr, "tcpsleuth: %s: no [[ports]]: give at least one device to receive from\n", config_path_.c_str());
            return 1;
        }
        const unsigned lcores = live::lcores_needed(cfg_);
        std::string error;
        if (!live::init_eal(live::eal_arguments(cfg_, eal_extra, lcores), error)) {
            std::fprintf(stderr, "tcpsleuth: %s\n", error.c_str());
            return 2;
        }
        const int rc = start_and_serve(lcores);
        live::close_ports(ports_);
        rings_free();
        shared_.workers.clear();
        live::cleanup_eal();
        return rc;
    }

private:
    int start_and_serve(unsigned lcores) {
        std::string error;
        if (rte_lcore_count() < lcores) {
            std::fprintf(stderr,
                         "tcpsleuth: %u worker(s) with %s distribution need %u lcores, EAL has %u: widen -l/--lcores in "
                         "[dpdk] eal_args or lower workers.count\n",
                         cfg_.workers.count, to_string(cfg_.workers.distribution), lcores, rte_lcore_count());
            return 2;
        }
        if (!live::open_ports(cfg_, ports_, error)) {
            std::fprintf(stderr, "tcpsleuth: %s\n", error.c_str());
            return 2;
        }
        shared_.cfg = &cfg_;
        shared_.ports = &ports_;
        shared_.port_index.assign(RTE_MAX_ETHPORTS, -1);
        shared_.timestamp_ns.assign(RTE_MAX_ETHPORTS, 0);
        for (std::size_t i = 0; i < ports_.ports.size(); ++i) {
            shared_.port_index[ports_.ports[i].id] = static_cast<int>(i);
            shared_.timestamp_ns[ports_.ports[i].id] = ports_.ports[i].timestamp_ns;
        }
        if (!live::register_mbuf_fields(shared_, error) || !make_workers(error)) {
            std::fprintf(stderr, "tcpsleuth: %s\n", error.c_str());
            return 2;
        }
        launch();
        serve();
        stop();
        print_final();
        return 0;
    }

    bool make_workers(std::string& error) {
        const unsigned n = cfg_.workers.count;
        const bool software = ports_.distribution == Distribution::kSoftware;
        std::random_device seed;
        try {
            for (unsigned w = 0; w < n; ++w) {
                shared_.workers.push_back(std::make_unique<live::WorkerShared>(
                    cfg_.inspect, w, n, cfg_.workers.event_ring_size, ports_.ports.size(),
                    (static_cast<std::uint64_t>(seed()) << 32) | seed()));
            }
        } catch (const std::bad_alloc&) {
            error = "cannot allocate " + std::to_string(n) + " flow table(s) of " + std::to_string(cfg_.inspect.flows.capacity) +
                    " flows (about " + std::to_string(cfg_.inspect.flows.capacity * sizeof(FlowState) >> 20) +
                    " MB each): lower flows.capacity or workers.count";
            return false;
        }
        if (n > 1) {
            surge_board_ = std::make_unique<SurgeBoard>(n);
            for (unsigned w = 0; w < n; ++w) shared_.workers[w]->pipeline.share_surge_board(surge_board_.get(), w);
        }
        if (software) {
            shared_.io = std::make_unique<live::IoShared>(n, ports_.ports.size());
            for (unsigned w = 0; w < n; ++w) {
                auto& ws = *shared_.workers[w];
                ws.in = rte_ring_create(("w_in" + std::to_string(w)).c_str(), cfg_.workers.ring_size, SOCKET_ID_ANY,
                                        RING_F_SP_ENQ | RING_F_SC_DEQ);
                ws.back = rte_ring_create(("w_back" + std::to_string(w)).c_str(), cfg_.workers.ring_size, SOCKET_ID_ANY,
                                          RING_F_SP_ENQ | RING_F_SC_DEQ);
                if (ws.in == nullptr || ws.back == nullptr) {
                    error = "cannot create the worker rings (" + std::to_string(cfg_.workers.ring_size) +
                            " entries): " + rte_strerror(rte_errno) + "; give EAL more memory or lower workers.ring_size";
                    return false;
                }
            }
        }
        return true;
    }

    void rings_free() {
        for (auto& w : shared_.workers) {
            rte_ring_free(w->in);
            rte_ring_free(w->back);
            w->in = w->back = nullptr;
        }
    }

    void launch() {
        const unsigned n = cfg_.workers.count;
        args_.resize(n + 1);
        unsigned next = 0;
        unsigned lcore_id;
        RTE_LCORE_FOREACH_WORKER(lcore_id) {
            if (next < n) {
                args_[next] = {&shared_, next};
                rte_eal_remote_launch(live::worker_main, &args_[next], lcore_id);
                spdlog::info("worker {} on lcore {}", next, lcore_id);
            } else if (next == n && shared_.io) {
                args_[next] = {&shared_, 0};
                rte_eal_remote_launch(live::io_main, &args_[next], lcore_id);
                spdlog::info("I/O (software distribution) on lcore {}", lcore_id);
            }
            ++next;
        }
        started_ = std::chrono::steady_clock::now();
        spdlog::info("{} mode, {} port(s), {} worker(s), {} distribution", to_string(cfg_.mode), ports_.ports.size(), n,
                     to_string(ports_.distribution));
    }

    void serve() {
        std::signal(SIGINT, on_signal);
        std::signal(SIGTERM, on_signal);
        auto last_stats = std::chrono::steady_clock::now();
        auto last_packet = last_stats;
        std::uint64_t seen = 0;
        while (g_signal == 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            drain_events();
            const auto now = std::chrono::steady_clock::now();
            const std::uint64_t rx = packets_received();
            if (rx != seen) {
                seen = rx;
                last_packet = now;
            }
            if (cfg_.output.exit_when_idle_s != 0 && now - last_packet >= std::chrono::seconds(cfg_.output.exit_when_idle_s)) {
                spdlog::info("no packets for {} s: stopping", cfg_.output.exit_when_idle_s);
                break;
            }
            if (cfg_.output.stats_interval_s != 0 && now - last_stats >= std::chrono::seconds(cfg_.output.stats_interval_s)) {
                last_stats = now;
                print_counters("stats");
            }
        }
        if (g_signal != 0) spdlog::info("signal {}: stopping", static_cast<int>(g_signal));
    }

    void stop() {
        shared_.phase.store(live::Phase::kStop, std::memory_order_release);
        wait_workers(live::WorkerState::kDrained);
        // Flows end at the last packet's time when the driver stamps packets (a replay: the
        // same end as `analyze`), otherwise now.
        std::uint64_t end = 0;
        bool stamped = false;
        for (const auto& p : ports_.ports) stamped |= p.timestamp_ns != 0;
        if (stamped) {
            for (const auto& w : shared_.workers) end = std::max(end, w->last_ts_ns.load(std::memory_order_relaxed));
        }
        if (end == 0) end = live_now_ns();
        shared_.finish_ns.store(end, std::memory_order_release);
        shared_.phase.store(live::Phase::kFinish, std::memory_order_release);
        wait_workers(live::WorkerState::kDone);
        rte_eal_mp_wait_lcore();
        drain_events();
        std::fflush(events_);
        stopped_ = std::chrono::steady_clock::now();
    }

    void wait_workers(live::WorkerState s) {
        for (;;) {
            drain_events();
            bool all = true;
            for (const auto& w : shared_.workers) all &= w->state.load(std::memory_order_acquire) >= s;
            if (all) return;
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    }

    static std::uint64_t live_now_ns() {
        return static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
    }

    void drain_events() {
        Event e;
        for (auto& w : shared_.workers) {
            while (w->events.try_pop(e)) writer_->write(e);
        }
        std::fflush(events_);
    }

    std::uint64_t packets_received() const {
        if (shared_.io) return shared_.io->rx_packets.load(std::memory_order_relaxed);
        std::uint64_t n = 0;
        for (const auto& w : shared_.workers) n += w->counters.get(Counter::kRxPackets);
        return n;
    }

    void print_counters(const char* title) const {
        std::string out = std::string("== ") + title + "\nport  name                     rx_packets   tx_packets   rx_missed  rx_errors  tx_errors  rx_nombuf  tx_dropped\n";
        for (std::size_t i = 0; i < ports_.ports.size(); ++i) {
            const auto& p = ports_.ports[i];
            rte_eth_stats st{};
            rte_eth_stats_get(p.id, &st);
            std::uint64_t dropped = shared_.io ? shared_.io->tx_dropped[i].load() : 0;
            for (const auto& w : shared_.workers) dropped += w->tx_dropped[i].load(std::memory_order_relaxed);
            char row[256];
            std::snprintf(row, sizeof row, "%-5u %-24s %12llu %12llu %11llu %10llu %10llu %10llu %11llu\n", p.id,
                          p.name.substr(0, 24).c_str(), static_cast<unsigned long long>(st.ipackets),
                          static_cast<unsigned long long>(st.opackets), static_cast<unsigned long long>(st.imissed),
                          static_cast<unsigned long long>(st.ierrors), static_cast<unsigned long long>(st.oerrors),
                          static_cast<unsigned long long>(st.rx_nombuf), static_cast<unsigned long long>(dropped));
            out += row;
        }
        out += "worker     packets  flows_active  flows_created  flows_expired  flows_evicted   events  events_lost  wrong_core  ring_full\n";
        for (std::size_t w = 0; w < shared_.workers.size(); ++w) {
            const auto& ws = *shared_.workers[w];
            const auto c = [&](Counter k) { return static_cast<unsigned long long>(ws.counters.get(k)); };
            char row[256];
            std::snprintf(row, sizeof row, "%-6zu %11llu %13u %14llu %14llu %14llu %8llu %12llu %11llu %10llu\n", w,
                          c(Counter::kRxPackets), ws.flows_active.load(std::memory_order_relaxed), c(Counter::kFlowCreated),
                          c(Counter::kFlowExpired), c(Counter::kFlowEvicted), c(Counter::kEventsEmitted),
                          c(Counter::kEventsDropped), c(Counter::kFlowWrongCore),
                          static_cast<unsigned long long>(shared_.io ? shared_.io->ring_full[w].load() : 0));
            out += row;
        }
        std::fputs(out.c_str(), stderr);
    }

    void print_final() {
        const double secs = std::chrono::duration<double>(stopped_ - started_).count();
        if (cfg_.output.report == "none") {
            print_counters("final counters");
            return;
        }
        CoreCounters total;
        RunInfo info;
        std::uint64_t last_ts = 0;
        for (const auto& w : shared_.workers) {
            for (std::size_t i = 0; i < kCounterCount; ++i) total.add(static_cast<Counter>(i), w->counters.get(static_cast<Counter>(i)));
            last_ts = std::max(last_ts, w->last_ts_ns.load());
            const std::uint64_t first = w->first_ts_ns.load();
            if (first != 0 && (info.first_ts_ns == 0 || first < info.first_ts_ns)) info.first_ts_ns = first;
        }
        for (const auto& p : ports_.ports) info.input += (info.input.empty() ? "" : " + ") + p.device;
        info.last_ts_ns = last_ts;
        const auto& table = shared_.workers[0]->table;
        info.flow_capacity = table.capacity();
        info.flow_table_bytes = table.memory_bytes();
        info.bytes_per_flow = table.memory_bytes() / table.capacity();
        info.wall_seconds = secs;
        FilePtr out = open_output(cfg_.output.report, stderr);
        if (!out) {
            std::fprintf(stderr, "tcpsleuth: %s: cannot write report: %s\n", cfg_.output.report.c_str(), std::strerror(errno));
        } else {
            const std::string text = cfg_.output.report_format == "json" ? report_.json(info, total) + "\n" : report_.text(info, total);
            std::fwrite(text.data(), 1, text.size(), out.get());
            std::fflush(out.get());
        }
        print_counters("final counters");
    }

    const DaemonConfig& cfg_;
    std::string config_path_;
    live::PortSet ports_;
    std::unique_ptr<SurgeBoard> surge_board_;
    live::RunShared shared_;
    std::vector<live::LcoreArg> args_;
    std::FILE* events_ = stdout;
    Report report_;
    std::unique_ptr<EventWriter> writer_;
    std::chrono::steady_clock::time_point started_, stopped_;
};

}  // namespace

int run_main(int argc, char** argv) {
    Options opt;
    if (const int rc = parse_options(argc, argv, opt); rc >= 0) return rc;
    spdlog::set_level(opt.log_level);
    ConfigLoad load = load_config_file(opt.config);
    if (!load.ok()) {
        for (const ConfigError& e : load.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
        std::fprintf(stderr, "tcpsleuth: %zu problem(s) in %s; nothing started\n", load.errors.size(), opt.config.c_str());
        return 1;
    }
    DaemonConfig cfg = std::move(load.config);
    if (opt.events_set) cfg.output.events = opt.events;
    if (opt.report_set) cfg.output.report = opt.report;
    if (opt.workers != 0) cfg.workers.count = opt.workers;
    LiveRun run(cfg, opt.config);
    return run.run(opt.eal_extra);
}

int check_config_main(int argc, char** argv) {
    if (argc != 2 || std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "--help") == 0) {
        std::fputs("usage: tcpsleuth check-config FILE\n\nValidates FILE and lists every problem as file:line:col: key: message.\n"
                   "exit status: 0 valid, 1 problems found\n",
                   argc == 2 ? stdout : stderr);
        return argc == 2 ? 0 : 1;
    }
    const ConfigLoad load = load_config_file(argv[1]);
    for (const ConfigError& e : load.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    if (!load.ok()) {
        std::fprintf(stderr, "%zu problem(s) in %s\n", load.errors.size(), argv[1]);
        return 1;
    }
    const DaemonConfig& c = load.config;
    std::printf("%s: valid: mode %s, %zu port(s), %u worker(s), %u flows per worker\n", argv[1], to_string(c.mode),
                c.ports.size(), c.workers.count, c.inspect.flows.capacity);
    return 0;
}

}  // namespace tcpsleuth
