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
#include <deque>
#include <functional>
#include <optional>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>

#include "config/loader.h"
#include "control/controller.h"
#include "dataplane/live_evidence.h"
#include "dataplane/logging.h"
#include "dataplane/service_notify.h"
#include "inspectors/evidence/idle_profiles.h"
#include "dataplane/live/eal_env.h"
#include "dataplane/live/ports.h"
#include "dataplane/live/sensor_loss.h"
#include "dataplane/live/telemetry.h"
#include "dataplane/live/worker.h"
#include "dataplane/events_out.h"
#include "dataplane/events_rotation.h"
#include "dataplane/output.h"
#include "dataplane/redis_output.h"
#include "inspectors/output/report.h"

namespace tcpsleuth {
namespace {

constexpr const char* kUsage =
    "usage: tcpsleuth run --config FILE [options] [-- EAL arguments]\n"
    "\n"
    "Runs the live pipeline on DPDK ports: mode = \"tap\" inspects what the ports receive,\n"
    "mode = \"inline\" also forwards every packet between port pairs. Events are written as\n"
    "JSON lines while running; SIGINT or SIGTERM stops it, writes the last events, the final\n"
    "counters and the report; SIGHUP reopens the events and log files and re-reads the\n"
    "configuration (as `tcpsleuthctl reopen` and `tcpsleuthctl reload`).\n"
    "tcpsleuthctl talks to it on control.socket. See config/tcpsleuth.example.toml.\n"
    "\n"
    "options:\n"
    "  --config FILE          the configuration (required)\n"
    "  --events FILE          overrides output.events ('-' for stdout)\n"
    "  --report FILE          overrides output.report ('-' stdout, 'none' no report)\n"
    "  --workers N            overrides workers.count\n"
    "  --control PATH         overrides control.socket ('' for none)\n"
    "  -v, --verbose          log debug details (overrides logging.level)\n"
    "  -q, --quiet            log errors only (overrides logging.level)\n"
    "  -h, --help             this text\n"
    "\n"
    "exit status: 0 stopped cleanly, 1 usage or configuration error, 2 DPDK or a port failed to start\n";

volatile std::sig_atomic_t g_signal = 0;
volatile std::sig_atomic_t g_reload = 0;
extern "C" void on_signal(int sig) { g_signal = sig; }
extern "C" void on_hangup(int) { g_reload = 1; }

struct Options {
    std::string config;
    std::string events, report;
    bool events_set = false, report_set = false;
    std::uint32_t workers = 0;
    std::optional<std::string> control;
    std::optional<spdlog::level::level_enum> log_level;
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
        } else if (a == "--config" || a == "--events" || a == "--report" || a == "--workers" || a == "--control") {
            const char* v = value();
            if (v == nullptr) return 1;
            if (a == "--config") o.config = v;
            if (a == "--control") o.control = v;
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
            o.log_level = spdlog::level::debug;
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

class LiveRun final : public control::Backend {
public:
    LiveRun(const DaemonConfig& cfg, const DaemonConfig& file_cfg, std::string config_path)
        : cfg_(cfg), config_path_(std::move(config_path)), control_(*this, cfg_, file_cfg, config_path_) {}

    // Returns the process exit code.
    int run(const std::vector<std::string>& eal_extra) {
        // Handlers before anything slow (EAL, ports): a SIGINT or SIGTERM at any moment stops
        // the sensor in order (the last events, the report, exit 0), never kills it.
        std::signal(SIGINT, on_signal);
        std::signal(SIGTERM, on_signal);
        std::signal(SIGHUP, on_hangup);
        events_file_ = open_output(cfg_.output.events, stdout);
        if (!events_file_) {
            std::fprintf(stderr, "tcpsleuth: %s: cannot write events: %s\n", cfg_.output.events.c_str(), std::strerror(errno));
            return 1;
        }
        write_whole_lines(events_file_.get());
        events_out_.start(std::move(events_file_));
        writer_ = std::make_unique<EventWriter>(nullptr, report_);
        // The sensor's own loss reports may pass a full queue: a loss must not hide its report.
        writer_->set_sink([this](const Event& e, std::string_view line) {
            events_out_.push(line, std::holds_alternative<SensorEventsLost>(e.detail) ||
                                       std::holds_alternative<SensorPacketsDropped>(e.detail));
        });
        writer_->set_min_confidence(min_confidence(cfg_.output));
        if (EventsRotation r(cfg_.output.events, cfg_.output); r.enabled()) rotation_ = std::make_unique<EventsRotation>(r);
        if (!cfg_.output.redis.server.empty()) {
            redis_ = std::make_unique<RedisOutput>(cfg_.output.redis, cfg_.sensor.name.empty() ? host_name() : cfg_.sensor.name);
        }
        if (!cfg_.output.evidence_dir.empty()) {
            evidence_ = std::make_unique<LiveEvidence>(cfg_.output, [this](const Event& e, auto done) {
                evidence_packets(e, std::move(done));
            });
            std::string error;
            if (!evidence_->open(error)) {
                std::fprintf(stderr, "tcpsleuth: %s\n", error.c_str());
                return 1;
            }
            writer_->set_evidence(evidence_.get());
        }
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
        shared_.point_of_port.assign(RTE_MAX_ETHPORTS, 0);
        for (std::size_t i = 0; i < ports_.ports.size(); ++i) {
            shared_.port_index[ports_.ports[i].id] = static_cast<int>(i);
            shared_.timestamp_ns[ports_.ports[i].id] = ports_.ports[i].timestamp_ns;
            shared_.point_of_port[ports_.ports[i].id] = static_cast<std::uint8_t>(cfg_.ports[i].point);
        }
        shared_.inspected_point = static_cast<std::uint8_t>(cfg_.two_point.inspect);
        if (!live::register_mbuf_fields(shared_, error) || !make_workers(error)) {
            std::fprintf(stderr, "tcpsleuth: %s\n", error.c_str());
            return 2;
        }
        if (points_ && evidence_) {
            points_->set_evidence({.reserve = [this](const std::string& stem) { return evidence_->reserve(stem); },
                                   .written = [this](const std::string& path) { evidence_->adopt(path); }});
        }
        if (cfg_.dpdk.telemetry) live::register_telemetry(shared_);
        if (!cfg_.control.socket.empty()) {
            if (!control_.open(error)) {
                std::fprintf(stderr, "tcpsleuth: %s\n", error.c_str());
                return 1;
            }
            spdlog::info("control socket {}", control_.path());
        }
        if (!control_.open_metrics(error)) {
            std::fprintf(stderr, "tcpsleuth: %s\n", error.c_str());
            return 1;
        }
        if (!control_.metrics_address().empty()) spdlog::info("metrics on http://{}/metrics", control_.metrics_address());
        launch();
        notify_.send("READY=1\nSTATUS=" + std::string(to_string(cfg_.mode)) + ": " + std::to_string(ports_.ports.size()) +
                     " port(s), " + std::to_string(shared_.workers.size()) + " worker(s)");
        serve();
        notify_.send("STOPPING=1");
        abandon_requests();
        stop();
        control_.close();
        print_final();
        return 0;
    }

    // A worker's rules, with dice of their own.
    static std::unique_ptr<Impairer> make_impairer(const std::vector<ImpairRule>& rules) {
        std::random_device seed;
        return std::make_unique<Impairer>(rules, (static_cast<std::uint64_t>(seed()) << 32) | seed());
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
                if (cfg_.mode == RunMode::kInline && !cfg_.impair.empty()) shared_.workers.back()->impair = make_impairer(cfg_.impair);
                if (two_point_mode(cfg_)) {
                    shared_.workers.back()->points = std::make_unique<SpscRing<live::PointRecord>>(cfg_.two_point.ring_packets);
                }
            }
            if (two_point_mode(cfg_)) points_ = std::make_unique<live::LivePoints>(cfg_.two_point);
        } catch (const std::bad_alloc&) {
            error = "cannot allocate " + std::to_string(n) + " flow table(s) of " + std::to_string(cfg_.inspect.flows.capacity) +
                    " flows (about " + std::to_string(cfg_.inspect.flows.capacity * sizeof(FlowState) >> 20) +
                    " MB each): lower flows.capacity or workers.count";
            return false;
        }
        if (n > 1) {
            surge_board_ = std::make_unique<SurgeBoard>(n);
            for (unsigned w = 0; w < n; ++w) {
                shared_.workers[w]->pipeline.share_surge_board(surge_board_.get(), w);
                shared_.workers[w]->pipeline.share_paths(shared_.workers[0]->pipeline.paths());
                // A mirror session's packets are spread over the workers by inner flow, so
                // none of them sees its whole count: gaps would be other workers' packets.
                shared_.workers[w]->pipeline.judge_mirror_sequences(false);
            }
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
        auto last_stats = std::chrono::steady_clock::now();
        auto last_packet = last_stats;
        auto last_check = last_stats;
        auto last_status = last_stats;
        auto last_loss_check = last_stats;
        std::uint64_t seen = 0;
        while (g_signal == 0 && !shutdown_) {
            if (control_.serving()) {
                control_.poll(1);
            } else {
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            }
            drain_events();
            service_mailboxes();
            if (evidence_) evidence_->poll();
            if (points_ && points_->due(live_now_ns())) compare_points(false);
            if (redis_) redis_->poll();
            if (g_reload != 0) {
                g_reload = 0;
                spdlog::info("SIGHUP: reopening the outputs and reloading {}", config_path_);
                std::string reopened;
                if (!reopen_outputs(reopened)) spdlog::warn("{}", reopened);
                notify_.send("RELOADING=1");
                control_.reload([this](bool ok, const std::string& msg) {
                    if (ok) spdlog::info("reload done: {}", msg);
                    notify_.send(ok ? "READY=1" : "READY=1\nSTATUS=reload refused: " + msg.substr(0, 200));
                });
            }
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
            if (now - last_check >= std::chrono::milliseconds(100)) {
                last_check = now;
                log_first_problems();
            }
            if (now - last_loss_check >= std::chrono::seconds(1)) {
                last_loss_check = now;
                report_sensor_losses();
            }
            notify_.watchdog_tick();
            if (notify_.enabled() && now - last_status >= std::chrono::seconds(5)) {
                last_status = now;
                notify_.send("STATUS=" + std::to_string(rx) + " packets, " + std::to_string(control_.events_seen()) + " events");
            }
        }
        if (g_signal != 0) spdlog::info("signal {}: stopping", static_cast<int>(g_signal));
    }

    // The packet path never logs. Instead the main core says once, per core and per
    // reason, when a loss or a malformed packet first shows in the counters; the counters
    // (`tcpsleuthctl stats`) carry the rest.
    void log_first_problems() {
        static constexpr Counter kWatched[] = {Counter::kParseTruncated, Counter::kParseBadL2, Counter::kParseBadIpHeader,
                                               Counter::kParseBadIpLength, Counter::kParseBadIpv6Ext, Counter::kParseBadTcpHeader,
                                               Counter::kParseBadTcpOption, Counter::kParseBadIcmp, Counter::kEventsDropped,
                                               Counter::kFlowEvicted, Counter::kFlowWrongCore};
        logged_.resize(shared_.workers.size() * std::size(kWatched) + ports_.ports.size() * 3);
        std::size_t slot = 0;
        for (std::size_t w = 0; w < shared_.workers.size(); ++w) {
            for (const Counter c : kWatched) {
                if (!logged_[slot] && shared_.workers[w]->counters.get(c) != 0) {
                    logged_[slot] = true;
                    const CounterInfo& info = kCounterInfo[static_cast<std::size_t>(c)];
                    spdlog::warn("worker {}: first {} ({}); further ones are only counted", w, info.name, info.help);
                }
                ++slot;
            }
        }
        for (std::size_t i = 0; i < ports_.ports.size(); ++i) {
            const control::PortStats st = port_stats(i);
            const std::pair<const char*, std::uint64_t> port_problems[] = {
                {"rx_missed (the NIC had no free descriptor: the workers fall behind)", st.rx_missed},
                {"rx_nombuf (no free packet buffer: raise mbufs)", st.rx_nombuf},
                {"tx_errors", st.tx_errors}};
            for (const auto& [what, value] : port_problems) {
                if (!logged_[slot] && value != 0) {
                    logged_[slot] = true;
                    spdlog::warn("port {}: first {}; further ones are only counted", st.name, what);
                }
                ++slot;
            }
        }
    }

    // ---- control::Backend: answered from the main core; flows through the mailboxes ----

    control::Snapshot snapshot() override {
        control::Snapshot s;
        s.mode = to_string(cfg_.mode);
        for (std::size_t i = 0; i < ports_.ports.size(); ++i) s.ports.push_back(port_stats(i));
        for (std::size_t w = 0; w < shared_.workers.size(); ++w) {
            const auto& ws = *shared_.workers[w];
            s.workers.push_back({.counters = &ws.counters, .flows_active = ws.flows_active.load(std::memory_order_relaxed),
                                 .flow_capacity = ws.table.capacity(),
                                 .ring_full = shared_.io ? shared_.io->ring_full[w].load() : 0});
        }
        s.impair = impair_stats();
        if (redis_) redis_metrics(*redis_, s.more);
        if (points_) point_metrics(s.more);
        return s;
    }

    // Two points live as metrics samples (tcpsleuth_two_point_*).
    void point_metrics(std::vector<control::MetricSample>& out) const {
        const live::LivePointStats& st = points_->stats();
        std::uint64_t lost = 0;
        for (const auto& w : shared_.workers) lost += w->points_lost.load(std::memory_order_relaxed);
        const char* packets = "tcpsleuth_two_point_packets_total";
        out.push_back({packets, "counter", "point packets taken from the workers", "point=\"outside\"", st.packets[0]});
        out.push_back({packets, "counter", "point packets taken from the workers", "point=\"inside\"", st.packets[1]});
        out.push_back({"tcpsleuth_two_point_ring_lost_total", "counter", "point packets lost to a full worker ring", "", lost});
        out.push_back({"tcpsleuth_two_point_trimmed_total", "counter", "point packets that left the comparison window", "",
                       st.trimmed[0] + st.trimmed[1]});
        out.push_back({"tcpsleuth_two_point_comparisons_total", "counter", "comparisons of the two points", "", st.comparisons});
        out.push_back({"tcpsleuth_two_point_matched_connections", "gauge", "connections matched in the last comparison", "",
                       st.matched_connections});
        out.push_back({"tcpsleuth_two_point_findings_total", "counter", "device findings written", "", st.findings});
    }

    // While a reload's new rules are on their way to the workers, the last figures stand
    // (the workers swap their rule sets meanwhile).
    std::vector<control::ImpairStats> impair_stats() const {
        if (impair_swapping_) return impair_before_swap_;
        std::vector<control::ImpairStats> out;
        if (shared_.workers.empty() || !shared_.workers[0]->impair) return out;
        const Impairer& first = *shared_.workers[0]->impair;
        for (std::size_t r = 0; r < first.rules().size(); ++r) {
            control::ImpairStats st{.name = first.rules()[r].name, .action = to_string(first.rules()[r].action),
                                    .enabled = first.enabled(r)};
            for (const auto& w : shared_.workers) {
                const ImpairCounters& c = w->impair->counters(r);
                st.matched += c.matched.load(std::memory_order_relaxed);
                st.dropped += c.dropped.load(std::memory_order_relaxed);
                st.rewritten += c.rewritten.load(std::memory_order_relaxed);
                st.injected += c.injected.load(std::memory_order_relaxed);
                st.delayed += c.delayed.load(std::memory_order_relaxed);
            }
            out.push_back(std::move(st));
        }
        return out;
    }

    bool reopen_outputs(std::string& message) override {
        std::string done;
        const std::string& events = cfg_.output.events;
        if (!events.empty() && events != "-") {
            FilePtr fresh(std::fopen(events.c_str(), "a"));
            if (!fresh) {
                message = events + ": cannot reopen: " + std::strerror(errno) + " (events keep going to the old file)";
                return false;
            }
            write_whole_lines(fresh.get());
            if (rotation_) rotation_->reopened(fresh.get());
            events_out_.switch_to(std::move(fresh));  // the old one closes after every line before
            done = events;
        }
        if (!cfg_.logging.file.empty()) {
            if (!reopen_log_file(cfg_.logging, message)) return false;
            done += (done.empty() ? "" : ", ") + cfg_.logging.file;
        }
        message = done.empty() ? "nothing to reopen: events and logs go to the standard streams" : done;
        if (!done.empty()) spdlog::info("reopened {}", done);
        return true;
    }

    bool set_impair_enabled(const std::string& name, bool on, std::string& error) override {
        if (impair_swapping_) {
            error = "a reload is replacing the [[impair]] rules; ask again when it has finished";
            return false;
        }
        if (shared_.workers.empty() || !shared_.workers[0]->impair) return control::Backend::set_impair_enabled(name, on, error);
        const auto& rules = shared_.workers[0]->impair->rules();
        for (std::size_t r = 0; r < rules.size(); ++r) {
            if (rules[r].name != name) continue;
            for (const auto& w : shared_.workers) w->impair->set_enabled(r, on);
            spdlog::info("impair: rule {} {}", name, on ? "enabled" : "disabled");
            return true;
        }
        error = "no [[impair]] rule named \"" + name + "\"";
        return false;
    }

    void query_flows(const FlowQuery& q, std::function<void(control::FlowListing)> done) override {
        Request r;
        r.kind = live::Mailbox::Kind::kFlows;
        r.query = q;
        r.on_flows = std::move(done);
        submit(std::move(r));
    }

    void find_flow(std::uint64_t id, std::function<void(std::optional<FlowState>)> done) override {
        Request r;
        r.kind = live::Mailbox::Kind::kFlow;
        r.flow_id = static_cast<std::uint32_t>(id);
        r.on_flow = std::move(done);
        submit(std::move(r));
    }

    void flow_packets(std::uint64_t id, std::function<void(std::optional<control::FlowPackets>)> done) override {
        Request r;
        r.kind = live::Mailbox::Kind::kPackets;
        r.flow_id = static_cast<std::uint32_t>(id);
        r.on_packets = std::move(done);
        submit(std::move(r));
    }

    // An evidence capture's packets: the finding's flow by its key (it may have ended with
    // the finding), from the worker that owns it.
    void evidence_packets(const Event& e, std::function<void(std::optional<control::FlowPackets>)> done) {
        Request r;
        r.kind = live::Mailbox::Kind::kPackets;
        r.flow_id = static_cast<std::uint32_t>(e.flow_id);
        r.by_key = true;
        r.key = e.key;
        r.on_packets = std::move(done);
        submit(std::move(r));
    }

    // The same, read on this thread once the workers have stopped.
    std::optional<control::FlowPackets> evidence_packets_stopped(const Event& e) {
        const unsigned n = static_cast<unsigned>(shared_.workers.size());
        const live::WorkerShared& w = *shared_.workers[(static_cast<std::uint32_t>(e.flow_id) - 1) % n];
        const PacketHistory& h = w.pipeline.history();
        HistoryScan scan;
        scan.reserve(h.snap());
        scan.start(w.table.hash(e.key), h);
        while (!scan.step(h, 1u << 20)) {
        }
        control::FlowPackets fp;
        fp.flow.common.key = e.key;
        fp.snap = h.snap();
        fp.history_packets = h.capacity();
        fp.entries = scan.entries();
        fp.bytes = scan.bytes();
        fp.more = scan.more();
        return fp;
    }

    void apply_config(const DaemonConfig& next, std::function<void()> done) override {
        Request r;
        r.kind = live::Mailbox::Kind::kConfig;
        r.config = next.inspect;
        if (cfg_.mode == RunMode::kInline && next.impair != cfg_.impair) {
            // Each worker takes a new rule set between bursts (built here: no allocation there).
            impair_before_swap_ = impair_stats();
            impair_swapping_ = true;
            for (std::size_t w = 0; w < shared_.workers.size(); ++w) {
                r.impair.push_back(next.impair.empty() ? nullptr : make_impairer(next.impair));
            }
            spdlog::info("impair: {} rule(s) replace {}", next.impair.size(), cfg_.impair.size());
        }
        r.on_config = [this, next, done = std::move(done)] {
            cfg_.impair = next.impair;
            impair_swapping_ = false;
            cfg_.output.stats_interval_s = next.output.stats_interval_s;
            cfg_.output.exit_when_idle_s = next.output.exit_when_idle_s;
            cfg_.output.min_confidence = next.output.min_confidence;
            writer_->set_min_confidence(min_confidence(cfg_.output));
            cfg_.inspect = next.inspect;
            cfg_.inspect.flows.capacity = shared_.workers[0]->table.capacity();
            cfg_.logging.level = next.logging.level;
            if (!log_forced_) spdlog::set_level(log_level_named(next.logging.level));
            done();
        };
        submit(std::move(r));
    }

    void request_shutdown() override { shutdown_ = true; }

public:
    void set_log_forced(bool forced) { log_forced_ = forced; }

private:
    struct Request {
        live::Mailbox::Kind kind = live::Mailbox::Kind::kFlows;
        FlowQuery query;
        std::uint32_t flow_id = 0;
        Config config;
        std::function<void(control::FlowListing)> on_flows;
        std::function<void(std::optional<FlowState>)> on_flow;
        std::function<void(std::optional<control::FlowPackets>)> on_packets;
        std::function<void()> on_config;
        bool by_key = false;  // kPackets: the packets of `key`, without looking the flow up
        FlowKey key{};
        std::vector<std::unique_ptr<Impairer>> impair;  // kConfig with new [[impair]] rules: one per worker
        bool posted = false;
        std::vector<unsigned> asked;  // workers with this request in their mailbox
    };

    void submit(Request r) {
        requests_.push_back(std::move(r));
        service_mailboxes();
    }

    // The oldest request goes to the workers it concerns; once all have answered, its
    // callback runs and the next one goes out. Polled from the main loop: never waits.
    void service_mailboxes() {
        while (!requests_.empty()) {
            Request& r = requests_.front();
            const unsigned n = static_cast<unsigned>(shared_.workers.size());
            if (!r.posted) {
                if (r.kind == live::Mailbox::Kind::kFlow || r.kind == live::Mailbox::Kind::kPackets) {
                    r.asked = {(r.flow_id - 1) % n};  // ids are numbered w + 1, w + 1 + n, ...
                } else {
                    for (unsigned w = 0; w < n; ++w) r.asked.push_back(w);
                }
                for (const unsigned w : r.asked) {
                    live::Mailbox& m = shared_.workers[w]->mailbox;
                    m.kind = r.kind;
                    m.query = r.query;
                    m.flow_id = r.flow_id;
                    m.by_key = r.by_key;
                    m.key = r.key;
                    m.config = r.config;
                    m.impair_swap = !r.impair.empty();
                    if (m.impair_swap) m.impair = std::move(r.impair[w]);
                    m.started = false;
                    m.state.store(live::Mailbox::kPosted, std::memory_order_release);
                }
                r.posted = true;
            }
            for (const unsigned w : r.asked) {
                if (shared_.workers[w]->mailbox.state.load(std::memory_order_acquire) != live::Mailbox::kAnswered) return;
            }
            finish_request(r);
            requests_.pop_front();
        }
    }

    void finish_request(Request& r) {
        switch (r.kind) {
            case live::Mailbox::Kind::kFlows: {
                control::FlowListing all;
                for (const unsigned w : r.asked) {
                    live::Mailbox& m = shared_.workers[w]->mailbox;
                    const auto& top = m.scan.sorted();
                    all.flows.insert(all.flows.end(), top.begin(), top.end());
                    all.matched += m.scan.matched();
                }
                std::sort(all.flows.begin(), all.flows.end(),
                          [&](const FlowSummary& a, const FlowSummary& b) { return sorts_before(a, b, r.query.sort); });
                if (all.flows.size() > r.query.limit) all.flows.resize(r.query.limit);
                r.on_flows(std::move(all));
                break;
            }
            case live::Mailbox::Kind::kFlow: {
                live::Mailbox& m = shared_.workers[r.asked[0]]->mailbox;
                r.on_flow(m.found ? std::optional<FlowState>(m.flow) : std::nullopt);
                break;
            }
            case live::Mailbox::Kind::kConfig:
                // The rules the workers gave back are freed here, off the packet path.
                for (const unsigned w : r.asked) shared_.workers[w]->mailbox.impair.reset();
                r.on_config();
                break;
            case live::Mailbox::Kind::kPackets: {
                const live::WorkerShared& w = *shared_.workers[r.asked[0]];
                const live::Mailbox& m = w.mailbox;
                if (!m.found) {
                    r.on_packets(std::nullopt);
                    break;
                }
                control::FlowPackets fp;
                fp.flow = m.flow;
                fp.snap = w.pipeline.history().snap();
                fp.history_packets = w.pipeline.history().capacity();
                fp.entries = m.packets.entries();
                fp.bytes = m.packets.bytes();
                fp.more = m.packets.more();
                r.on_packets(std::move(fp));
                break;
            }
        }
        for (const unsigned w : r.asked) shared_.workers[w]->mailbox.state.store(live::Mailbox::kEmpty, std::memory_order_release);
    }

    // Stopping: workers no longer answer. Requests still out are dropped with their
    // clients, whom the socket's close tells.
    void abandon_requests() { requests_.clear(); }

    // The driver's counters for port `i`, and the packets inline forwarding dropped on it.
    control::PortStats port_stats(std::size_t i) const {
        const auto& p = ports_.ports[i];
        rte_eth_stats st{};
        rte_eth_stats_get(p.id, &st);
        std::uint64_t dropped = shared_.io ? shared_.io->tx_dropped[i].load() : 0;
        for (const auto& w : shared_.workers) dropped += w->tx_dropped[i].load(std::memory_order_relaxed);
        return {.name = p.name, .device = p.device, .rx_packets = st.ipackets, .tx_packets = st.opackets,
                .rx_missed = st.imissed, .rx_errors = st.ierrors, .tx_errors = st.oerrors, .rx_nombuf = st.rx_nombuf,
                .tx_dropped = dropped};
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
        report_sensor_losses();  // the last second's, before the files close
        compare_points(true);
        if (!events_out_.drain(std::chrono::seconds(kEventsDrainSeconds))) {
            spdlog::warn("events file: not written within {} s of stopping (a stalled disk?): the rest is dropped",
                         kEventsDrainSeconds);
        }
        spdlog::info("events file: {} lines written, {} dropped (the file fell {} MiB behind), {} write errors",
                     events_out_.written(), events_out_.dropped(), kEventsQueueBytes >> 20, events_out_.write_errors());
        if (redis_) {
            redis_->flush(cfg_.output.redis.flush_timeout_s * 1000u);
            log_redis_stats(*redis_);
        }
        if (evidence_) {
            evidence_->finish([this](const Event& e) { return evidence_packets_stopped(e); });
            spdlog::info("evidence captures: {} written in {}, {} removed to keep output.evidence_max_files/_mb, "
                         "{} skipped ({} followed at once at most), {} failed",
                         evidence_->written(), evidence_->dir(), evidence_->removed(), evidence_->skipped(),
                         LiveEvidence::kMaxFollowed, evidence_->failed());
        }
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
            while (w->events.try_pop(e)) {
                if (points_) points_->note_event(e);
                write_event(e);
            }
            if (w->points) {
                while (w->points->try_pop(point_record_)) points_->add(point_record_);
            }
        }
    }

    // One finding out: the events file, the control socket's subscribers, Redis.
    void write_event(const Event& e) {
        if (!writer_->write(e)) return;
        control_.on_event(e, writer_->last_line());
        if (redis_) redis_->push(writer_->last_line());
        after_event_line(writer_->last_line().size() + 1);
    }

    // The sensor's own losses, checked once a second (sensor.packets_dropped and
    // sensor.events_lost; the counters have every packet, these say it happened).
    void report_sensor_losses() {
        live::PacketLoss loss;
        for (std::size_t i = 0; i < ports_.ports.size(); ++i) {
            const control::PortStats st = port_stats(i);
            loss.rx_packets += st.rx_packets;
            loss.rx_missed += st.rx_missed;
            loss.rx_nombuf += st.rx_nombuf;
            loss.tx_dropped += st.tx_dropped;
        }
        const std::uint64_t unwritten = events_out_.dropped();
        std::uint64_t events_lost = 0, events_emitted = 0;
        for (std::size_t w = 0; w < shared_.workers.size(); ++w) {
            if (shared_.io) loss.ring_full += shared_.io->ring_full[w].load(std::memory_order_relaxed);
            events_lost += shared_.workers[w]->counters.get(Counter::kEventsDropped);
            events_emitted += shared_.workers[w]->counters.get(Counter::kEventsEmitted);
        }
        const std::uint64_t now = live_now_ns();
        if (packets_lost_.check(loss.total())) {
            write_event(sensor_event(now, packets_lost_.occurrence(),
                                           SensorPacketsDropped{.rx_packets = loss.rx_packets, .rx_missed = loss.rx_missed,
                                                                .rx_nombuf = loss.rx_nombuf, .tx_dropped = loss.tx_dropped,
                                                                .ring_full = loss.ring_full,
                                                                .since_last = packets_lost_.since_report()}));
        }
        if (events_lost_.check(events_lost + unwritten)) {
            write_event(sensor_event(now, events_lost_.occurrence(),
                                           SensorEventsLost{.lost_total = events_lost, .unwritten_total = unwritten,
                                                            .emitted_total = events_emitted,
                                                            .since_last = events_lost_.since_report(),
                                                            .ring_size = cfg_.workers.event_ring_size}));
        }
    }

    // output.rotate_*: after each whole line, the events file may move aside for a new one.
    void after_event_line(std::size_t bytes) {
        if (!rotation_) return;
        std::string error;
        FilePtr fresh;  // the events thread holds the open file: it switches at this line
        if (rotation_->after_line(fresh, bytes, error)) {
            events_out_.switch_to(std::move(fresh));
        } else if (!error.empty()) {
            spdlog::warn("{}", error);
        }
    }

    // Two-point mode: the points compared, each device finding not written before written now
    // (below output.min_confidence: counted, as single-point findings are).
    void compare_points(bool final) {
        if (!points_) return;
        const Confidence min = min_confidence(cfg_.output);
        const std::uint64_t now = final ? shared_.finish_ns.load(std::memory_order_acquire) : live_now_ns();
        points_->compare(now, final, [&](const two_point::DeviceFinding& f, const std::string& json) {
            if (f.confidence < min) {
                ++device_below_confidence_;
                return;
            }
            spdlog::info("two-point: {} ({}): {}", f.event, f.kind, f.summary);
            events_out_.push(json + '\n');
            if (redis_) redis_->push(json);
            after_event_line(json.size() + 1);
        });
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
            const control::PortStats st = port_stats(i);
            char row[256];
            std::snprintf(row, sizeof row, "%-5u %-24s %12llu %12llu %11llu %10llu %10llu %10llu %11llu\n", ports_.ports[i].id,
                          st.name.substr(0, 24).c_str(), static_cast<unsigned long long>(st.rx_packets),
                          static_cast<unsigned long long>(st.tx_packets), static_cast<unsigned long long>(st.rx_missed),
                          static_cast<unsigned long long>(st.rx_errors), static_cast<unsigned long long>(st.tx_errors),
                          static_cast<unsigned long long>(st.rx_nombuf), static_cast<unsigned long long>(st.tx_dropped));
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
        out += impair_counters();
        out += point_counters();
        std::fputs(out.c_str(), stderr);
    }

    // Two-point mode: packets taken from each point, lost to a full ring, left the window;
    // comparisons run, connections matched in the last one, findings written.
    std::string point_counters() const {
        if (!points_) return {};
        const live::LivePointStats& st = points_->stats();
        std::uint64_t lost = 0;
        for (const auto& w : shared_.workers) lost += w->points_lost.load(std::memory_order_relaxed);
        char row[512];
        std::snprintf(row, sizeof row,
                      "two-point  outside_packets  inside_packets  ring_lost  trimmed  comparisons  matched_connections  "
                      "matched_packets  findings  below_confidence  evidence_files  evidence_failed\n"
                      "points     %15llu %15llu %10llu %8llu %12llu %20llu %16llu %9llu %17llu %15llu %16llu\n",
                      static_cast<unsigned long long>(st.packets[0]), static_cast<unsigned long long>(st.packets[1]),
                      static_cast<unsigned long long>(lost), static_cast<unsigned long long>(st.trimmed[0] + st.trimmed[1]),
                      static_cast<unsigned long long>(st.comparisons), static_cast<unsigned long long>(st.matched_connections),
                      static_cast<unsigned long long>(st.matched_packets), static_cast<unsigned long long>(st.findings),
                      static_cast<unsigned long long>(device_below_confidence_),
                      static_cast<unsigned long long>(st.evidence_files), static_cast<unsigned long long>(st.evidence_failed));
        return row;
    }

    // [[impair]]: each rule's packets matched, dropped and rewritten, over every worker.
    std::string impair_counters() const {
        const std::vector<control::ImpairStats> rules = impair_stats();
        if (rules.empty()) return {};
        std::string out = "impair                   action               matched      dropped    rewritten     injected      delayed\n";
        for (const control::ImpairStats& r : rules) {
            char row[320];
            std::snprintf(row, sizeof row, "%-24s %-16s %11llu %12llu %12llu %12llu %12llu%s\n", r.name.substr(0, 24).c_str(),
                          r.action.c_str(), static_cast<unsigned long long>(r.matched), static_cast<unsigned long long>(r.dropped),
                          static_cast<unsigned long long>(r.rewritten), static_cast<unsigned long long>(r.injected),
                          static_cast<unsigned long long>(r.delayed), r.enabled ? "" : "  (disabled)");
            out += row;
        }
        std::uint64_t skipped = 0, untracked = 0;
        for (const auto& w : shared_.workers) {
            if (!w->impair) continue;
            skipped += w->impair->skipped();
            untracked += w->impair->untracked();
        }
        if (skipped != 0) out += "impair: " + std::to_string(skipped) + " packets passed untouched (inside a tunnel, fragments, cut short)\n";
        if (untracked != 0) {
            out += "impair: " + std::to_string(untracked) + " new flows passed untracked (an idle_timeout or inject_rst table full)\n";
        }
        return out;
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
        for (const auto& w : shared_.workers) note_flow_memory(info, w->table, w->pipeline.payload());
        info.wall_seconds = secs;
        info.impair = impair_stats();
        if (evidence_) {
            info.evidence_dir = evidence_->dir();
            info.evidence_files = evidence_->written() - evidence_->removed();
        }
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

    DaemonConfig cfg_;  // reload changes its live keys
    std::string config_path_;
    control::Controller control_;
    std::deque<Request> requests_;
    bool shutdown_ = false;
    bool log_forced_ = false;
    ServiceNotify notify_;  // systemd Type=notify: READY, RELOADING, STOPPING, WATCHDOG, STATUS
    bool impair_swapping_ = false;  // a reload's [[impair]] rules are on their way to the workers
    std::unique_ptr<RedisOutput> redis_;  // [output.redis]
    std::unique_ptr<EventsRotation> rotation_;  // output.rotate_*
    std::unique_ptr<live::LivePoints> points_;  // two-point mode: the points' windows, compared
    live::PointRecord point_record_;
    std::uint64_t device_below_confidence_ = 0;
    std::vector<control::ImpairStats> impair_before_swap_;
    std::vector<bool> logged_;
    live::PortSet ports_;
    std::unique_ptr<SurgeBoard> surge_board_;
    live::RunShared shared_;
    std::vector<live::LcoreArg> args_;
    // What may wait for a slow events disk before lines are dropped (and counted).
    static constexpr std::size_t kEventsQueueBytes = 4u << 20;
    // ... and how long a stop waits for them (systemd's stop timeout is 90 s by default).
    static constexpr int kEventsDrainSeconds = 30;
    FilePtr events_file_;  // until the events thread takes it
    EventsOut events_out_{kEventsQueueBytes};
    Report report_;
    std::unique_ptr<EventWriter> writer_;
    live::LossWatch packets_lost_, events_lost_;
    std::unique_ptr<LiveEvidence> evidence_;  // output.evidence_dir
    std::chrono::steady_clock::time_point started_, stopped_;
};

}  // namespace

int run_main(int argc, char** argv) {
    Options opt;
    if (const int rc = parse_options(argc, argv, opt); rc >= 0) return rc;
    spdlog::set_level(opt.log_level.value_or(spdlog::level::info));
    ConfigLoad load = load_config_file(opt.config);
    if (!load.ok()) {
        for (const ConfigError& e : load.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
        std::fprintf(stderr, "tcpsleuth: %zu problem(s) in %s; nothing started\n", load.errors.size(), opt.config.c_str());
        return 1;
    }
    DaemonConfig cfg = load.config;
    if (opt.events_set) cfg.output.events = opt.events;
    if (opt.report_set) cfg.output.report = opt.report;
    if (opt.workers != 0) cfg.workers.count = opt.workers;
    if (opt.control) cfg.control.socket = *opt.control;
    std::string error;
    if (!setup_logging(cfg.logging, opt.log_level, error)) {
        std::fprintf(stderr, "tcpsleuth: %s\n", error.c_str());
        return 1;
    }
    set_idle_profiles(cfg.idle_profiles);
    spdlog::info("tcpsleuth {} starting: {} ({} mode, {} port(s))", TCPSLEUTH_VERSION, opt.config, to_string(cfg.mode), cfg.ports.size());
    LiveRun run(cfg, load.config, opt.config);
    run.set_log_forced(opt.log_level.has_value());
    return run.run(opt.eal_extra);
}

}  // namespace tcpsleuth
