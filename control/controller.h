#pragma once
// What the control socket can ask, answered from the main core. The controller owns the
// socket, the recent-event log and the command table; the running mode (`run` or
// `analyze --control`) is its Backend: it hands over counters, and asks the cores that own
// the flows for them (live: through each worker's mailbox, answered between bursts).

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/loader.h"
#include "control/metrics_http.h"
#include "dataplane/probe/probe_job.h"
#include "control/json.h"
#include "control/server.h"
#include "inspectors/flow/counters.h"
#include "inspectors/output/json_writer.h"
#include "inspectors/output/report.h"
#include "inspectors/output/events.h"
#include "inspectors/flow/flow_query.h"
#include "inspectors/flow/packet_history.h"

namespace tcpsleuth::control {

// Bumped when a command or a reply changes incompatibly.
inline constexpr int kProtocolVersion = 1;

struct PortStats {
    std::string name, device;
    std::uint64_t rx_packets = 0, tx_packets = 0, rx_missed = 0, rx_errors = 0, tx_errors = 0, rx_nombuf = 0,
                  tx_dropped = 0;
};

struct WorkerStats {
    const CoreCounters* counters = nullptr;
    std::uint32_t flows_active = 0;
    std::uint32_t flow_capacity = 0;
    std::uint64_t ring_full = 0;  // software distribution: packets dropped, the worker's ring full
};

// analyze --control: how far through the file.
struct Progress {
    std::string file;
    std::uint64_t bytes_read = 0;
    std::uint64_t file_bytes = 0;
    bool done = false;
};

// One [[impair]] rule's state and counters, over every worker.
using ImpairStats = ImpairRuleStats;  // inspectors/output/report.h

// One more sample for the metrics exposition, from a part the controller does not know
// ([output.redis], two points live): samples of one name come together, the first one's
// help and type stand for all.
struct MetricSample {
    std::string name;    // tcpsleuth_...
    std::string type;    // "counter" or "gauge"
    std::string help;
    std::string labels;  // 'result="delivered"', or ""
    std::uint64_t value = 0;
};

struct Snapshot {
    std::string mode;  // "tap", "inline", "analyze"
    std::vector<ImpairStats> impair;  // inline with [[impair]] rules
    std::vector<MetricSample> more;   // outputs' own counters
    std::vector<PortStats> ports;
    std::vector<WorkerStats> workers;
    std::optional<Progress> progress;
};

struct FlowListing {
    std::vector<FlowSummary> flows;
    std::uint64_t matched = 0;
};

// A flow's recent packets from its worker's history (`pcap`).
struct FlowPackets {
    FlowState flow{};
    std::uint32_t snap = 0;             // bytes kept per packet
    std::uint32_t history_packets = 0;  // the history's size; 0: none kept
    std::vector<PacketHistory::Entry> entries;
    std::vector<std::uint8_t> bytes;    // entries[i].cap_len bytes each, in order
    std::uint64_t more = 0;             // the flow's packets found beyond what a reply holds
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual Snapshot snapshot() = 0;
    // Each table's best `limit` flows, merged; `done` runs once all tables answered (at
    // once in analyze, after a few bursts live).
    virtual void query_flows(const FlowQuery& q, std::function<void(FlowListing)> done) = 0;
    virtual void find_flow(std::uint64_t id, std::function<void(std::optional<FlowState>)> done) = 0;
    // The flow's packets still in its worker's history; nullopt when the flow is not in a table.
    virtual void flow_packets(std::uint64_t id, std::function<void(std::optional<FlowPackets>)> done) = 0;
    // A validated configuration that differs only in keys a running daemon can take.
    virtual void apply_config(const DaemonConfig& cfg, std::function<void()> done) = 0;
    virtual void request_shutdown() = 0;
    // Turns the [[impair]] rule `name` on or off for every worker, between bursts; false with
    // Reopens the events file and logging.file under their names (logrotate's postrotate);
    // `message` says what was reopened, or why not.
    virtual bool reopen_outputs(std::string& message) {
        message = "nothing to reopen here";
        return false;
    }
    // `error` when there is no such rule.
    virtual bool set_impair_enabled(const std::string& name, bool on, std::string& error) {
        (void)name;
        (void)on;
        error = "no [[impair]] rules here: impairment runs in `tcpsleuth run` inline";
        return false;
    }
};

class Controller {
public:
    // `cfg` is in effect; `file_cfg` is what `config_path` gave before command-line
    // overrides, what `reload` compares the re-read file with ("" path: no file).
    Controller(Backend& backend, const DaemonConfig& cfg, const DaemonConfig& file_cfg, std::string config_path);

    bool open(std::string& error) { return server_.open(cfg_.control, error); }
    bool is_open() const noexcept { return server_.is_open(); }
    const std::string& path() const noexcept { return server_.path(); }
    // The Prometheus endpoint ([metrics] listen; none when it is empty).
    bool open_metrics(std::string& error) { return metrics_http_.open(cfg_.metrics, error); }
    const std::string& metrics_address() const noexcept { return metrics_http_.address(); }
    // The control socket or the metrics endpoint is open: poll() has clients to serve.
    bool serving() const noexcept { return server_.is_open() || metrics_http_.is_open(); }
    void close() {
        server_.close();
        metrics_http_.close();
    }
    // Serves clients of both for at most timeout_ms.
    void poll(int timeout_ms) {
        probe_job_.poll();
        if (metrics_http_.is_open()) {
            metrics_http_.poll(server_.is_open() ? 0 : timeout_ms, [this] { return metrics_text(); },
                               [this](std::string_view path, std::string_view query, MetricsHttp::Respond respond) {
                                   return page(path, query, std::move(respond));
                               });
        }
        server_.poll(timeout_ms);
    }

    // Every event the run writes, with its JSON line: kept for `events`, `flow` and
    // `metrics`, and streamed to subscribers.
    void on_event(const Event& e, std::string_view json_line);

    // Validates the file and applies what may change live (the `reload` command and SIGHUP).
    // `done` gets the reply's data or an error.
    void reload(std::function<void(bool ok, std::string message)> done);

    const DaemonConfig& config() const noexcept { return cfg_; }
    std::uint64_t events_seen() const noexcept { return events_total_; }

    // One request line, answered through `reply` (now or, for questions to the workers,
    // later). `client` is the socket's client (0: none, as in tests).
    void handle(std::string_view request, std::function<void(std::string)> reply, ClientId client = 0);

private:
    struct Args;
    void on_request(ClientId id, std::string_view line);
    void dispatch(const std::string& cmd, const json::Value& args, ClientId client, std::function<void(std::string)> reply);

    std::string stats_json();
    static void impair_json(JsonWriter& w, const std::vector<ImpairStats>& rules);
    std::string metrics_text();
    // `probe`: tcpsleuth probe from this host toward `spec` ("ADDR:PORT", "[V6]:PORT").
    void start_probe(const std::string& spec, const std::vector<std::string>& tests, std::function<void(std::string)> reply);
    // The metrics listener's other paths: the live page at / and its API at /api/COMMAND.
    bool page(std::string_view path, std::string_view query, MetricsHttp::Respond respond);
    std::string help_json() const;
    std::string events_json(const json::Value& args, std::string& error) const;
    std::string flow_json(const FlowState& f) const;

    Backend& backend_;
    DaemonConfig cfg_;
    DaemonConfig file_cfg_;
    std::string config_path_;
    Server server_;
    MetricsHttp metrics_http_;
    probe::ProbeJob probe_job_;  // `probe`: one at a time, on its own thread
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    std::deque<Event> history_;
    // What each subscriber asked for (`subscribe` takes the filters `events` takes).
    std::unordered_map<ClientId, std::function<bool(const Event&)>> subscriptions_;
    std::vector<std::uint64_t> events_by_kind_;
    std::uint64_t events_total_ = 0;
    std::uint64_t reloads_ = 0, reload_failures_ = 0;
};

// Names for replies and tables.
std::string_view to_string(FlowSort s) noexcept;

}  // namespace tcpsleuth::control
