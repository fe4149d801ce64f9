#pragma once
// Everything one TOML file configures for `tcpsleuth run`: the DPDK environment, the ports
// and how packets reach the workers, where output goes, and the inspectors' thresholds
// (Config, shared with `analyze`). Defaults live here; config/tcpsleuth.example.toml
// documents them and a test keeps the two equal.

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "impair.h"
#include "rules.h"

namespace tcpsleuth {

enum class RunMode : std::uint8_t {
    kTap,     // receive only: inspect and free
    kInline,  // port pairs: whatever arrives on one port leaves on the other
};

// How packets reach the worker that owns their flow.
enum class Distribution : std::uint8_t {
    kAuto,      // RSS when every port can give each worker a queue, else software
    kRss,       // NIC RSS with a symmetric Toeplitz key; refuse to start without it
    kSoftware,  // one I/O core receives, hashes symmetrically and hands packets over rings
};

struct DpdkConfig {
    // EAL arguments, as DPDK applications take them ("-l", "0-2", "--no-huge", ...).
    // Arguments after `--` on the command line are appended.
    std::vector<std::string> eal_args;
    // Packet buffers per port (a power of two minus one suits the mempool best).
    std::uint32_t mbufs_per_port = 8191;
    std::uint32_t mbuf_cache = 256;
    // Bytes per packet buffer, the 128-byte headroom included. The default holds a
    // 1518-byte frame; smaller buffers save memory when frames are small.
    std::uint32_t mbuf_size = 2176;
    std::uint32_t rx_descriptors = 1024;
    std::uint32_t tx_descriptors = 1024;
    // CPUs for the lcores, in order (main, workers, I/O): "2-5" or "2,4,6,8". Empty: the
    // CPUs this process may run on. Cannot be combined with -l/--lcores/-c in eal_args.
    std::string cores;
    // DPDK's telemetry socket (/var/run/dpdk/<file-prefix>/dpdk_telemetry.v2, for
    // dpdk-telemetry.py): ports, mempools, and tcpsleuth's own /tcpsleuth/ commands.
    bool telemetry = true;

    bool operator==(const DpdkConfig&) const = default;
};

// Two-point mode (tap): the side of the device a port's mirror shows. Packets of both
// points are matched to say what the device dropped, rewrote or injected (device.*).
enum class Point : std::uint8_t { kNone, kOutside, kInside };

struct PortConfig {
    // A PCI address (0000:3b:00.0) or a virtual device with its arguments
    // (net_af_packet0,iface=eth1 / net_pcap0,rx_pcap=file.pcap / net_ring0 / net_null0).
    std::string device;
    // Packet buffers for this port; 0 takes dpdk.mbufs_per_port. A port that only
    // transmits (the far side of a replay) needs few; one looping a capture needs it all.
    std::uint32_t mbufs = 0;
    // Two-point mode: "outside" or "inside" (every port names one, both points present).
    Point point = Point::kNone;
    // TOML position of the entry, for messages about it (0: not from a file).
    std::uint32_t line = 0;
    std::uint32_t column = 0;

    bool operator==(const PortConfig& o) const { return device == o.device && mbufs == o.mbufs && point == o.point; }
};

struct WorkersConfig {
    // Worker cores, each with its own flow table (flows.capacity flows each).
    std::uint32_t count = 1;
    Distribution distribution = Distribution::kAuto;
    // Packets per receive burst.
    std::uint32_t burst = 32;
    // Inline: attempts to hand a burst to a full TX queue before the rest is dropped and
    // counted. Bounded so one stuck port cannot stall the other direction.
    std::uint32_t tx_retries = 16;
    // Software distribution: packets each worker's ring holds.
    std::uint32_t ring_size = 4096;
    // Polling cores spin at 100 % CPU, which is what line rate needs. On a shared machine, a
    // VM or a laptop, a core that found nothing for 1024 polls in a row may sleep this long
    // instead (microseconds; 0 = never sleep). Adds up to that much latency after a lull.
    std::uint32_t idle_sleep_us = 0;
    // Events each worker can queue for the main core before further ones are counted lost.
    std::uint32_t event_ring_size = 8192;

    bool operator==(const WorkersConfig&) const = default;
};

// [output.redis]: findings to a Redis server as well (dataplane/redis_output.h).
struct RedisConfig {
    // "HOST:PORT" ("127.0.0.1:6379", "[::1]:6379") or a Unix socket path; "": no Redis output.
    std::string server;
    // "stream" (XADD), "rpush" or "lpush" (a list), "publish" (a channel).
    std::string mode = "stream";
    // The stream, list or channel.
    std::string key = "tcpsleuth";
    // AUTH on each connection when set (Redis 6 ACLs: username and password; requirepass:
    // the password alone). Keep the configuration file readable by tcpsleuth only.
    std::string username;
    std::string password;
    // A stream is trimmed to about this many entries (XADD MAXLEN ~); 0: never trimmed.
    std::uint32_t max_length = 100000;
    // Lines not yet acknowledged by the server; a line that finds the queue full is dropped
    // (counted).
    std::uint32_t queue_events = 65536;
    // After a failure, connect again this often.
    std::uint32_t reconnect_ms = 1000;
    // At exit, wait at most this long for the server to acknowledge what is queued.
    std::uint32_t flush_timeout_s = 10;

    bool operator==(const RedisConfig&) const = default;
};

struct OutputConfig {
    // JSON lines, one per event; "-" is stdout.
    std::string events = "-";
    // The readable report at exit: a file, "-" for stdout, "" for stderr, "none" for none.
    std::string report;
    // "text" or "json".
    std::string report_format = "text";
    // Print per-port and per-worker counters to stderr this often while running; 0 = never.
    std::uint32_t stats_interval_s = 0;
    // Stop after this many seconds without a packet on any port (a replayed capture has
    // ended); 0 = run until SIGINT/SIGTERM.
    std::uint32_t exit_when_idle_s = 0;
    // Findings below this confidence ("low", "medium", "high") are not written to the events
    // output, the report or the control socket (they are counted: events.below_confidence).
    std::string min_confidence = "low";
    // `run`: a pcapng per finding at warning or above in this directory ("" none), cut from
    // the worker's packet history (so the packets before the verdict are in it) and then
    // following the flow for evidence_follow_s. The directory keeps at most evidence_max_files
    // files and evidence_max_mb megabytes: the oldest go first (counted).
    std::string evidence_dir;
    std::uint32_t evidence_follow_s = 10;
    std::uint32_t evidence_max_files = 1000;
    std::uint32_t evidence_max_mb = 1024;
    // The events file rotated by tcpsleuth itself (dataplane/events_rotation.h): renamed aside
    // once it holds rotate_kb kilobytes or has been open rotate_s seconds (0: never), at most
    // rotate_keep rotated files kept (0: all).
    std::uint32_t rotate_kb = 0;
    std::uint32_t rotate_s = 0;
    std::uint32_t rotate_keep = 0;
    RedisConfig redis;

    bool operator==(const OutputConfig&) const = default;
};

// The control socket (control/): newline-delimited JSON requests and replies.
struct ControlConfig {
    // Unix socket path; "" runs without a control socket.
    std::string socket = "/run/tcpsleuth/tcpsleuth.sock";
    // Group owning the socket ("" keeps the daemon's group) and its permission bits: with
    // 0o660 only the owner and that group may connect; the kernel refuses everyone else.
    std::string group;
    std::uint32_t mode = 0660;
    // Clients connected at once; more are accepted, told why, and closed.
    std::uint32_t max_clients = 64;
    // Longest request line, bytes; a longer one gets an error reply and the connection closes.
    std::uint32_t max_request_bytes = 65536;
    // Bytes queued for one subscriber before further events are dropped (and counted) for it.
    std::uint32_t subscriber_buffer_kb = 1024;
    // Recent events kept for `events` and `flow`.
    std::uint32_t event_history = 10000;

    bool operator==(const ControlConfig&) const = default;
};

// The Prometheus scrape endpoint (control/metrics_http.h).
struct MetricsConfig {
    // "ADDRESS:PORT" to serve GET /metrics on ("127.0.0.1:9580", "[::1]:9580"); "": none.
    std::string listen;
    // Scrapes served at once; more are answered 503 and closed.
    std::uint32_t max_clients = 16;

    bool operator==(const MetricsConfig&) const = default;
};

// [probe]: `tcpsleuthctl probe` runs tcpsleuth probe from the daemon's own host, toward a
// server a finding names, so a verdict is confirmed from the sensor's vantage when it has an
// address on the path. Off by default: it sends packets.
struct ProbeConfig {
    bool enabled = false;
    std::string source;               // the address probes leave from; "": the route's choice
    std::uint32_t rate_pps = 20;
    std::uint32_t max_packets = 600;  // per probe
    std::string tests = "options,ecn,pmtu,rst,seq";

    bool operator==(const ProbeConfig&) const = default;
};

// The tests `tcpsleuth probe` knows.
inline constexpr std::string_view kProbeTests[] = {"options", "ecn", "pmtu", "rst", "seq", "idle"};

// "options,ecn" as test names, for probe.tests, `tcpsleuth probe --tests` and the control
// command alike; false with `error` ("unknown test ..." or an empty list).
inline bool parse_probe_tests(std::string_view list, std::vector<std::string>& out, std::string& error) {
    out.clear();
    while (!list.empty()) {
        const std::string_view name = list.substr(0, list.find(','));
        if (std::find(std::begin(kProbeTests), std::end(kProbeTests), name) == std::end(kProbeTests)) {
            error = "unknown test \"" + std::string(name) + "\" (options, ecn, pmtu, rst, seq, idle)";
            return false;
        }
        out.emplace_back(name);
        list = name.size() < list.size() ? list.substr(name.size() + 1) : std::string_view{};
    }
    if (out.empty()) error = "expected at least one test";
    return !out.empty();
}

// [two_point]: ports marked `point` are compared live, as `tcpsleuth compare` compares two
// captures. Workers reduce each point packet to the fields a device may leave alone or
// change and queue it for the main core, which keeps a window of them and compares the
// points every interval_s (and once more at stop).
struct TwoPointConfig {
    // Whose packets the single-point inspectors see; the other point only feeds the comparison.
    Point inspect = Point::kOutside;
    std::uint32_t interval_s = 10;
    // Packets older than this leave the window; each point keeps at most max_packets (the
    // oldest go first, counted).
    std::uint32_t window_s = 120;
    std::uint32_t max_packets = 200000;
    // Reduced packets (about 330 bytes each) each worker can queue for the main core before
    // further ones are lost (counted).
    std::uint32_t ring_packets = 65536;

    bool operator==(const TwoPointConfig&) const = default;
};

// [sensor]: who this sensor is, in what it sends to a fleet.
struct SensorConfig {
    // Each line sent to Redis carries it ("sensor":"NAME"); "": the host's name.
    std::string name;

    bool operator==(const SensorConfig&) const = default;
};

struct LoggingConfig {
    // trace, debug, info, warn, error, off. -v and -q on the command line override it.
    std::string level = "info";
    // "" logs to stderr; otherwise appended to this file.
    std::string file;

    bool operator==(const LoggingConfig&) const = default;
};

// A device whose idle timeout is known: a flow killed after an idle gap that brackets
// `seconds` is attributed to it in the advice.
struct IdleProfile {
    std::string name;
    std::uint32_t seconds = 0;

    bool operator==(const IdleProfile&) const = default;
};

// By seconds, then name: the order snapping and the advice walk them in.
inline void sort_idle_profiles(std::vector<IdleProfile>& p) {
    std::sort(p.begin(), p.end(), [](const IdleProfile& a, const IdleProfile& b) {
        return a.seconds != b.seconds ? a.seconds < b.seconds : a.name < b.name;
    });
}

// Published defaults of common devices (vendor documentation, 2026). [idle.profiles] in
// the file replaces an entry of the same name and adds new ones.
inline std::vector<IdleProfile> default_idle_profiles() {
    return {
        {"azure_lb", 240},             // Azure Load Balancer, 4 min
        {"aws_nat_gateway", 350},      // AWS NAT gateway
        {"aws_network_firewall", 350}, // AWS Network Firewall
        {"aws_nlb", 350},              // AWS Network Load Balancer (TCP)
        {"gcp_firewall", 600},         // Google Cloud VPC firewall, 10 min
        {"cisco_asa", 3600},           // Cisco ASA "timeout conn 1:00:00"
        {"paloalto", 3600},            // PAN-OS TCP session timeout
        {"rfc5382_nat_minimum", 7440}, // RFC 5382 REQ-5: what a NAT must at least keep
    };
}

struct DaemonConfig {
    RunMode mode = RunMode::kTap;
    DpdkConfig dpdk;
    std::vector<PortConfig> ports;
    WorkersConfig workers;
    OutputConfig output;
    ControlConfig control;
    MetricsConfig metrics;
    ProbeConfig probe;
    LoggingConfig logging;
    SensorConfig sensor;
    TwoPointConfig two_point;
    Config inspect;
    // [payload] builtin_rules / disable_builtin and [[rules]]; compiled into inspect.payload.rules.
    PayloadRules rules;
    // Sorted by seconds, then name.
    std::vector<IdleProfile> idle_profiles = default_idle_profiles();
    // [[impair]]: inline only, applied in order to every forwarded packet.
    std::vector<ImpairRule> impair;
    // [inline] inspect: where inspection stands relative to the impairment. "client_side":
    // like a sensor between the clients and a faulty device, it sees the clients' packets
    // before the rules and the servers' packets after them; "server_side": the reverse.
    bool inspect_server_side = false;

    bool operator==(const DaemonConfig&) const = default;
};

const char* to_string(RunMode m) noexcept;
const char* to_string(Distribution d) noexcept;
const char* to_string(Point p) noexcept;
// True when some port is a point of two-point mode.
bool two_point_mode(const DaemonConfig& c) noexcept;

}  // namespace tcpsleuth
