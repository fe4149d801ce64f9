// The schema is a list of fields, each knowing its dotted key, how to read a TOML node into
// the configuration, and what it accepts. The walker visits every key in the file: known
// keys are applied, anything else is an error at the key's own line and column.

#include "loader.h"

#include "listen_address.h"

#include <toml++/toml.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>

namespace tcpsleuth {

const char* to_string(RunMode m) noexcept {
    switch (m) {
        case RunMode::kTap: return "tap";
        case RunMode::kInline: return "inline";
    }
    return "?";
}

const char* to_string(Distribution d) noexcept {
    switch (d) {
        case Distribution::kAuto: return "auto";
        case Distribution::kRss: return "rss";
        case Distribution::kSoftware: return "software";
    }
    return "?";
}

const char* to_string(Point p) noexcept {
    switch (p) {
        case Point::kNone: return "";
        case Point::kOutside: return "outside";
        case Point::kInside: return "inside";
    }
    return "?";
}

bool two_point_mode(const DaemonConfig& c) noexcept {
    return std::any_of(c.ports.begin(), c.ports.end(), [](const PortConfig& p) { return p.point != Point::kNone; });
}

std::string ConfigError::to_string() const {
    std::string s = file + ":";
    if (line != 0) s += std::to_string(line) + ":" + std::to_string(column) + ":";
    s += " ";
    if (!key.empty()) s += key + ": ";
    return s + message;
}

namespace {

std::string type_name(const toml::node& n) {
    switch (n.type()) {
        case toml::node_type::none: return "nothing";
        case toml::node_type::table: return "a table";
        case toml::node_type::array: return "an array";
        case toml::node_type::string: return "a string";
        case toml::node_type::integer: return "an integer";
        case toml::node_type::floating_point: return "a floating-point number";
        case toml::node_type::boolean: return "a boolean";
        case toml::node_type::date: return "a date";
        case toml::node_type::time: return "a time";
        case toml::node_type::date_time: return "a date-time";
    }
    return "something else";
}

// Returns an empty string when the value was applied, otherwise what is wrong with it.
using Apply = std::function<std::string(const toml::node&, DaemonConfig&)>;
// The value as a TOML literal, for `config.show` and for telling what a reload changes.
using Show = std::function<std::string(const DaemonConfig&)>;

// Each [[impair]] action's own keys; the first is required ("": none is).
std::vector<std::string> impair_own_keys(ImpairAction a) {
    switch (a) {
        case ImpairAction::kDropLargerThan: return {"size", "icmp", "icmp_per_s", "source", "ttl"};
        case ImpairAction::kStripOption: return {"option", "fill"};
        case ImpairAction::kClampMss: return {"mss"};
        case ImpairAction::kShiftSeq: return {"offset", "rewrite_sack"};
        case ImpairAction::kLoss: return {"", "burst"};
        case ImpairAction::kIdleTimeout: return {"seconds", "flows", "then", "ttl"};
        case ImpairAction::kStateLimit: return {"flows", "seconds"};
        case ImpairAction::kInjectRst: return {"", "after_packets", "after_s", "ttl", "flows"};
        case ImpairAction::kDelay: return {"ms", "jitter_ms", "queue_packets"};
        case ImpairAction::kRate: return {"mbps", "burst_kb", "queue_kb"};
        case ImpairAction::kDropEcnSyn:
        case ImpairAction::kBleachEcn:
        case ImpairAction::kEraseCe:
        case ImpairAction::kMarkCe: return {};
    }
    return {};
}

// Every action's own keys, once each.
std::vector<std::string> impair_action_keys() {
    std::vector<std::string> out;
    for (unsigned a = 0; a <= static_cast<unsigned>(ImpairAction::kRate); ++a) {
        for (const std::string& k : impair_own_keys(static_cast<ImpairAction>(a))) {
            if (!k.empty() && std::find(out.begin(), out.end(), k) == out.end()) out.push_back(k);
        }
    }
    return out;
}

struct Field {
    std::string key;
    Apply apply;
    Show show;
    // A reload may change it while running; anything else needs a restart.
    bool live = false;
};

std::string toml_string(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
            out += buf;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

template <typename Get>
Field uint_field(std::string key, Get get, std::uint64_t lo, std::uint64_t hi, bool live = false) {
    return {std::move(key),
            [get, lo, hi](const toml::node& n, DaemonConfig& c) -> std::string {
                if (!n.is_integer()) return "expected an integer, found " + type_name(n);
                const std::int64_t v = *n.value<std::int64_t>();
                if (v < 0 || static_cast<std::uint64_t>(v) < lo || static_cast<std::uint64_t>(v) > hi) {
                    return "must be from " + std::to_string(lo) + " to " + std::to_string(hi) + ", not " + std::to_string(v);
                }
                get(c) = static_cast<std::remove_reference_t<decltype(get(c))>>(v);
                return {};
            },
            [get](const DaemonConfig& c) { return std::to_string(get(c)); }, live};
}

template <typename Get>
Field pow2_field(std::string key, Get get, std::uint32_t lo, std::uint32_t hi) {
    Field f = uint_field(key, get, lo, hi);
    Apply range = std::move(f.apply);
    f.apply = [range, get](const toml::node& n, DaemonConfig& c) -> std::string {
        std::string err = range(n, c);
        if (!err.empty()) return err;
        const auto v = get(c);
        if ((v & (v - 1)) != 0) return "must be a power of two, not " + std::to_string(v);
        return {};
    };
    return f;
}

// Permission bits, written in TOML as an octal integer (0o660).
template <typename Get>
Field mode_field(std::string key, Get get) {
    Field f = uint_field(key, get, 0, 0777);
    f.show = [get](const DaemonConfig& c) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "0o%03o", static_cast<unsigned>(get(c)));
        return std::string(buf);
    };
    return f;
}

template <typename Get>
Field bool_field(std::string key, Get get, bool live) {
    return {std::move(key),
            [get](const toml::node& n, DaemonConfig& c) -> std::string {
                if (!n.is_boolean()) return "expected true or false, found " + type_name(n);
                get(c) = *n.value<bool>();
                return {};
            },
            [get](const DaemonConfig& c) -> std::string { return get(c) ? "true" : "false"; }, live};
}

template <typename Get>
Field string_field(std::string key, Get get) {
    return {std::move(key),
            [get](const toml::node& n, DaemonConfig& c) -> std::string {
                if (!n.is_string()) return "expected a string, found " + type_name(n);
                get(c) = *n.value<std::string>();
                return {};
            },
            [get](const DaemonConfig& c) { return toml_string(get(c)); }};
}

template <typename T, typename Get>
Field enum_field(std::string key, Get get, std::vector<std::pair<std::string, T>> choices, bool live = false) {
    return {std::move(key),
            [get, choices](const toml::node& n, DaemonConfig& c) -> std::string {
                std::string names;
                for (const auto& [name, value] : choices) names += (names.empty() ? "" : ", ") + ("\"" + name + "\"");
                if (!n.is_string()) return "expected one of " + names;
                const std::string s = *n.value<std::string>();
                for (const auto& [name, value] : choices) {
                    if (s == name) {
                        get(c) = value;
                        return {};
                    }
                }
                return "must be one of " + names + ", not \"" + s + "\"";
            },
            [get, choices](const DaemonConfig& c) -> std::string {
                for (const auto& [name, value] : choices) {
                    if (get(c) == value) return toml_string(name);
                }
                return "\"?\"";
            },
            live};
}

// UDP ports: an array of up to DecapConfig::kMaxPorts numbers from 1 to 65535.
template <typename Get>
Field port_list_field(std::string key, Get get) {
    return {std::move(key),
            [get](const toml::node& n, DaemonConfig& c) -> std::string {
                const toml::array* a = n.as_array();
                if (a == nullptr) return "expected an array of UDP ports";
                if (a->size() > DecapConfig::kMaxPorts) {
                    return "at most " + std::to_string(DecapConfig::kMaxPorts) + " ports, not " + std::to_string(a->size());
                }
                std::array<std::uint16_t, DecapConfig::kMaxPorts> out{};
                std::size_t i = 0;
                for (const toml::node& e : *a) {
                    const std::optional<std::int64_t> v = e.value<std::int64_t>();
                    if (!e.is_integer() || *v < 1 || *v > 65535) {
                        return "expected UDP ports from 1 to 65535 (element " + std::to_string(i + 1) + " is not one)";
                    }
                    out[i++] = static_cast<std::uint16_t>(*v);
                }
                get(c) = out;
                return {};
            },
            [get](const DaemonConfig& c) {
                std::string out = "[";
                for (const std::uint16_t p : get(c)) {
                    if (p == 0) break;
                    out += (out.size() > 1 ? ", " : "") + std::to_string(p);
                }
                return out + "]";
            },
            false};
}

template <typename Get>
Field string_array_field(std::string key, Get get, bool live = false) {
    return {std::move(key),
            [get](const toml::node& n, DaemonConfig& c) -> std::string {
                const toml::array* a = n.as_array();
                if (a == nullptr) return "expected an array of strings";
                std::vector<std::string> out;
                for (const toml::node& e : *a) {
                    if (!e.is_string()) return "expected an array of strings (element " + std::to_string(out.size() + 1) + " is not a string)";
                    out.push_back(*e.value<std::string>());
                }
                get(c) = std::move(out);
                return {};
            },
            [get](const DaemonConfig& c) {
                std::string out = "[";
                for (const std::string& s : get(c)) out += (out.size() > 1 ? ", " : "") + toml_string(s);
                return out + "]";
            },
            live};
}

}  // namespace

bool parse_cpu_list(std::string_view s, std::vector<unsigned>& out) {
    out.clear();
    std::size_t i = 0;
    const auto number = [&](unsigned& v) {
        const std::size_t start = i;
        v = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 5) v = v * 10 + static_cast<unsigned>(s[i++] - '0');
        return i > start && v < 4096;
    };
    while (i < s.size()) {
        unsigned lo = 0, hi = 0;
        if (!number(lo)) return false;
        hi = lo;
        if (i < s.size() && s[i] == '-') {
            ++i;
            if (!number(hi) || hi < lo) return false;
        }
        for (unsigned c = lo; c <= hi; ++c) out.push_back(c);
        if (i < s.size() && s[i++] != ',') return false;
        if (i == s.size() && s.back() == ',') return false;
    }
    return !out.empty();
}

namespace {

template <typename Get>
Field cores_field(std::string key, Get get) {
    Field f = string_field(std::move(key), get);
    Apply read = std::move(f.apply);
    f.apply = [read, get](const toml::node& n, DaemonConfig& c) -> std::string {
        std::string err = read(n, c);
        if (!err.empty()) return err;
        std::vector<unsigned> cpus;
        if (!get(c).empty() && !parse_cpu_list(get(c), cpus)) {
            return "expected a CPU list such as \"2-5\" or \"2,4,6\", not \"" + get(c) + "\"";
        }
        return {};
    };
    return f;
}

constexpr std::int64_t kMaxProfileSeconds = 7 * 86400;

// Packet buffers per port: a mempool needs a few bursts' worth; 64 M is far beyond any NIC.
constexpr std::int64_t kMinMbufs = 1023, kMaxMbufs = 1 << 26;

// One entry per TOML key. Keep in the order of config/tcpsleuth.example.toml.
std::vector<Field> schema() {
    constexpr std::uint64_t k32 = 0xffffffffull;
    std::vector<Field> f;
    f.push_back(enum_field<RunMode>("mode", [](auto& c) -> auto& { return c.mode; },
                                    {{"tap", RunMode::kTap}, {"inline", RunMode::kInline}}));

    f.push_back(string_array_field("dpdk.eal_args", [](auto& c) -> auto& { return c.dpdk.eal_args; }));
    f.push_back(uint_field("dpdk.mbufs_per_port", [](auto& c) -> auto& { return c.dpdk.mbufs_per_port; }, kMinMbufs, kMaxMbufs));
    f.push_back(uint_field("dpdk.mbuf_cache", [](auto& c) -> auto& { return c.dpdk.mbuf_cache; }, 0, 512));
    f.push_back(uint_field("dpdk.mbuf_size", [](auto& c) -> auto& { return c.dpdk.mbuf_size; }, 256, 65535));
    f.push_back(pow2_field("dpdk.rx_descriptors", [](auto& c) -> auto& { return c.dpdk.rx_descriptors; }, 64, 16384));
    f.push_back(pow2_field("dpdk.tx_descriptors", [](auto& c) -> auto& { return c.dpdk.tx_descriptors; }, 64, 16384));
    f.push_back(cores_field("dpdk.cores", [](auto& c) -> auto& { return c.dpdk.cores; }));
    f.push_back(bool_field("dpdk.telemetry", [](auto& c) -> auto& { return c.dpdk.telemetry; }, false));

    f.push_back(uint_field("workers.count", [](auto& c) -> auto& { return c.workers.count; }, 1, 64));
    f.push_back(enum_field<Distribution>("workers.distribution", [](auto& c) -> auto& { return c.workers.distribution; },
                                         {{"auto", Distribution::kAuto}, {"rss", Distribution::kRss}, {"software", Distribution::kSoftware}}));
    f.push_back(uint_field("workers.burst", [](auto& c) -> auto& { return c.workers.burst; }, 1, 256));
    f.push_back(uint_field("workers.tx_retries", [](auto& c) -> auto& { return c.workers.tx_retries; }, 0, 1000000));
    f.push_back(uint_field("workers.idle_sleep_us", [](auto& c) -> auto& { return c.workers.idle_sleep_us; }, 0, 100000));
    f.push_back(pow2_field("workers.ring_size", [](auto& c) -> auto& { return c.workers.ring_size; }, 64, 1u << 20));
    f.push_back(pow2_field("workers.event_ring_size", [](auto& c) -> auto& { return c.workers.event_ring_size; }, 64, 1u << 20));

    f.push_back(enum_field<bool>("inline.inspect", [](auto& c) -> auto& { return c.inspect_server_side; },
                                 {{"client_side", false}, {"server_side", true}}));

    f.push_back(enum_field<Point>("two_point.inspect", [](auto& c) -> auto& { return c.two_point.inspect; },
                                  {{"outside", Point::kOutside}, {"inside", Point::kInside}}));
    f.push_back(uint_field("two_point.interval_s", [](auto& c) -> auto& { return c.two_point.interval_s; }, 1, 3600));
    f.push_back(uint_field("two_point.window_s", [](auto& c) -> auto& { return c.two_point.window_s; }, 10, 86400));
    f.push_back(uint_field("two_point.max_packets", [](auto& c) -> auto& { return c.two_point.max_packets; }, 1000, 1u << 26));
    f.push_back(pow2_field("two_point.ring_packets", [](auto& c) -> auto& { return c.two_point.ring_packets; }, 1024, 1u << 22));

    f.push_back(string_field("output.events", [](auto& c) -> auto& { return c.output.events; }));
    f.push_back(string_field("output.report", [](auto& c) -> auto& { return c.output.report; }));
    f.push_back(enum_field<std::string>("output.report_format", [](auto& c) -> auto& { return c.output.report_format; },
                                        {{"text", "text"}, {"json", "json"}}));
    f.push_back(uint_field("output.stats_interval_s", [](auto& c) -> auto& { return c.output.stats_interval_s; }, 0, 86400, true));
    f.push_back(uint_field("output.exit_when_idle_s", [](auto& c) -> auto& { return c.output.exit_when_idle_s; }, 0, 86400, true));
    f.push_back(enum_field<std::string>("output.min_confidence", [](auto& c) -> auto& { return c.output.min_confidence; },
                                        {{"low", "low"}, {"medium", "medium"}, {"high", "high"}}, true));
    f.push_back(string_field("output.evidence_dir", [](auto& c) -> auto& { return c.output.evidence_dir; }));
    f.push_back(uint_field("output.evidence_follow_s", [](auto& c) -> auto& { return c.output.evidence_follow_s; }, 0, 3600));
    f.push_back(uint_field("output.evidence_max_files", [](auto& c) -> auto& { return c.output.evidence_max_files; }, 1, 1000000));
    f.push_back(uint_field("output.evidence_max_mb", [](auto& c) -> auto& { return c.output.evidence_max_mb; }, 1, 1000000));

    f.push_back(uint_field("output.rotate_kb", [](auto& c) -> auto& { return c.output.rotate_kb; }, 0, 1u << 30));
    f.push_back(uint_field("output.rotate_s", [](auto& c) -> auto& { return c.output.rotate_s; }, 0, 86400 * 366));
    f.push_back(uint_field("output.rotate_keep", [](auto& c) -> auto& { return c.output.rotate_keep; }, 0, 1000000));
    f.push_back(string_field("output.redis.server", [](auto& c) -> auto& { return c.output.redis.server; }));
    f.push_back(enum_field<std::string>("output.redis.mode", [](auto& c) -> auto& { return c.output.redis.mode; },
                                        {{"stream", "stream"}, {"rpush", "rpush"}, {"lpush", "lpush"}, {"publish", "publish"}}));
    f.push_back(string_field("output.redis.key", [](auto& c) -> auto& { return c.output.redis.key; }));
    f.push_back(string_field("output.redis.username", [](auto& c) -> auto& { return c.output.redis.username; }));
    f.push_back(string_field("output.redis.password", [](auto& c) -> auto& { return c.output.redis.password; }));
    f.push_back(uint_field("output.redis.max_length", [](auto& c) -> auto& { return c.output.redis.max_length; }, 0, k32));
    f.push_back(uint_field("output.redis.queue_events", [](auto& c) -> auto& { return c.output.redis.queue_events; }, 16, 1u << 24));
    f.push_back(uint_field("output.redis.reconnect_ms", [](auto& c) -> auto& { return c.output.redis.reconnect_ms; }, 10, 3600000));
    f.push_back(uint_field("output.redis.flush_timeout_s", [](auto& c) -> auto& { return c.output.redis.flush_timeout_s; }, 0, 3600));
    f.push_back(string_field("sensor.name", [](auto& c) -> auto& { return c.sensor.name; }));

    f.push_back(string_field("metrics.listen", [](auto& c) -> auto& { return c.metrics.listen; }));
    f.push_back(uint_field("metrics.max_clients", [](auto& c) -> auto& { return c.metrics.max_clients; }, 1, 1024));
    f.push_back(bool_field("probe.enabled", [](auto& c) -> auto& { return c.probe.enabled; }, true));
    f.push_back(string_field("probe.source", [](auto& c) -> auto& { return c.probe.source; }));
    f.push_back(uint_field("probe.rate_pps", [](auto& c) -> auto& { return c.probe.rate_pps; }, 1, 1000));
    f.push_back(uint_field("probe.max_packets", [](auto& c) -> auto& { return c.probe.max_packets; }, 1, 100000));
    f.push_back(string_field("probe.tests", [](auto& c) -> auto& { return c.probe.tests; }));
    f.push_back(string_field("control.socket", [](auto& c) -> auto& { return c.control.socket; }));
    f.push_back(string_field("control.group", [](auto& c) -> auto& { return c.control.group; }));
    f.push_back(mode_field("control.mode", [](auto& c) -> auto& { return c.control.mode; }));
    f.push_back(uint_field("control.max_clients", [](auto& c) -> auto& { return c.control.max_clients; }, 1, 4096));
    f.push_back(uint_field("control.max_request_bytes", [](auto& c) -> auto& { return c.control.max_request_bytes; }, 256, 16u << 20));
    f.push_back(uint_field("control.subscriber_buffer_kb", [](auto& c) -> auto& { return c.control.subscriber_buffer_kb; }, 4, 1u << 20, true));
    f.push_back(uint_field("control.event_history", [](auto& c) -> auto& { return c.control.event_history; }, 0, 1u << 24));

    f.push_back(enum_field<std::string>("logging.level", [](auto& c) -> auto& { return c.logging.level; },
                                        {{"trace", "trace"}, {"debug", "debug"}, {"info", "info"}, {"warn", "warn"},
                                         {"error", "error"}, {"off", "off"}},
                                        true));
    f.push_back(string_field("logging.file", [](auto& c) -> auto& { return c.logging.file; }));

    // Every inspector setting, and the flow timeouts, may change on a reload: each worker
    // takes the new values between two bursts. The table's size may not.
#define TS_U32(key, member, lo, hi) \
    f.push_back(uint_field(key, [](auto& c) -> auto& { return c.inspect.member; }, lo, hi, true))
#define TS_BOOL(key, member) f.push_back(bool_field(key, [](auto& c) -> auto& { return c.inspect.member; }, true))
    f.push_back(uint_field("flows.capacity", [](auto& c) -> auto& { return c.inspect.flows.capacity; }, 16, 1u << 28));
    f.push_back(uint_field("flows.cold_records", [](auto& c) -> auto& { return c.inspect.flows.cold_records; }, 0, 1u << 28));
    TS_U32("flows.handshake_timeout_s", flows.handshake_timeout_s, 1, k32 / 1000);
    TS_U32("flows.established_timeout_s", flows.established_timeout_s, 1, k32 / 1000);
    TS_U32("flows.closing_timeout_s", flows.closing_timeout_s, 1, k32 / 1000);
    TS_U32("flows.closed_timeout_s", flows.closed_timeout_s, 1, k32 / 1000);
    TS_U32("flows.sweep_budget", flows.sweep_budget, 1, 1u << 20);
    f.push_back(uint_field("history.packets", [](auto& c) -> auto& { return c.inspect.history.packets; }, 0, 1u << 24));
    f.push_back(uint_field("history.snap_bytes", [](auto& c) -> auto& { return c.inspect.history.snap_bytes; }, 64, 9216));
#define DECAP_BOOL(name) \
    f.push_back(bool_field("decap." #name, [](auto& c) -> auto& { return c.inspect.decap.name; }, false))
    DECAP_BOOL(vxlan);
    DECAP_BOOL(geneve);
    DECAP_BOOL(gre);
    DECAP_BOOL(erspan);
    DECAP_BOOL(mpls);
    DECAP_BOOL(ip_in_ip);
    DECAP_BOOL(pppoe);
    DECAP_BOOL(tunnel_in_key);
#undef DECAP_BOOL
    f.push_back(uint_field("decap.duplicate_window_us", [](auto& c) -> auto& { return c.inspect.decap.duplicate_window_us; }, 0, 1000000));
    f.push_back(uint_field("decap.max_depth", [](auto& c) -> auto& { return c.inspect.decap.max_depth; }, 1, 8));
    f.push_back(port_list_field("decap.vxlan_ports", [](auto& c) -> auto& { return c.inspect.decap.vxlan_ports; }));
    f.push_back(port_list_field("decap.geneve_ports", [](auto& c) -> auto& { return c.inspect.decap.geneve_ports; }));
    TS_BOOL("handshake.enabled", handshake.enabled);
    TS_U32("handshake.min_syn_retransmissions", handshake.min_syn_retransmissions, 1, 100);
    TS_BOOL("zero_window.enabled", zero_window.enabled);
    TS_U32("zero_window.min_duration_ms", zero_window.min_duration_ms, 1, k32);
    TS_U32("zero_window.min_probes", zero_window.min_probes, 1, 1000000);
    TS_BOOL("syn_surge.enabled", syn_surge.enabled);
    TS_U32("syn_surge.window_s", syn_surge.window_s, 2, 60);
    TS_U32("syn_surge.min_failures", syn_surge.min_failures, 1, 1000000);
    TS_U32("syn_surge.min_failure_percent", syn_surge.min_failure_percent, 1, 100);
    TS_U32("syn_surge.min_destinations", syn_surge.min_destinations, 1, 1000000);
    TS_BOOL("mtu.enabled", mtu.enabled);
    TS_U32("mtu.min_retransmissions", mtu.min_retransmissions, 1, 100);
    TS_U32("mtu.first_segment_retransmissions", mtu.first_segment_retransmissions, 1, 100);
    TS_U32("mtu.ignored_after_segments", mtu.ignored_after_segments, 1, 1000);
    TS_BOOL("options.enabled", options.enabled);
    TS_U32("options.min_segments_without_ts", options.min_segments_without_ts, 1, 1000);
    TS_BOOL("window.enabled", window.enabled);
    TS_U32("window.min_tiny_windows", window.min_tiny_windows, 1, 1000);
    TS_U32("window.min_limited_rounds", window.min_limited_rounds, 1, 1000);
    TS_U32("window.limited_percent", window.limited_percent, 1, 100);
    TS_U32("window.min_limited_window", window.min_limited_window, 1, 65535);
    TS_U32("window.receiver_limited_episodes", window.receiver_limited_episodes, 1, 1000000);
    TS_U32("window.receiver_limited_percent", window.receiver_limited_percent, 1, 100);
    TS_U32("window.receiver_limited_warning_percent", window.receiver_limited_warning_percent, 1, 100);
    TS_U32("window.receiver_limited_warning_ms", window.receiver_limited_warning_ms, 0, k32);
    TS_BOOL("ecn.enabled", ecn.enabled);
    TS_U32("ecn.min_not_ect_segments", ecn.min_not_ect_segments, 1, 100000);
    TS_U32("ecn.min_acks_without_ece", ecn.min_acks_without_ece, 1, 1000);
    TS_U32("ecn.min_flows", ecn.min_flows, 1, 1000);
    TS_BOOL("sack.enabled", sack.enabled);
    TS_U32("sack.min_invalid_acks", sack.min_invalid_acks, 1, 1000);
    TS_U32("sack.min_dup_acks_without_blocks", sack.min_dup_acks_without_blocks, 1, 1000);
    TS_BOOL("idle.enabled", idle.enabled);
    TS_U32("idle.min_gap_s", idle.min_gap_s, 1, 86400);
    TS_U32("idle.min_gap_rtts", idle.min_gap_rtts, 0, 1000000);
    TS_U32("idle.rhythm_factor", idle.rhythm_factor, 0, 1000);
    TS_U32("idle.min_retransmissions", idle.min_retransmissions, 1, 100);
    TS_U32("idle.stale_after_s", idle.stale_after_s, 1, 86400 * 7);
    TS_BOOL("rst.enabled", rst.enabled);
    TS_U32("rst.min_hop_difference", rst.min_hop_difference, 1, 64);
    TS_U32("rst.constant_ttl_packets", rst.constant_ttl_packets, 1, 255);
    TS_BOOL("path.enabled", path.enabled);
    TS_U32("path.min_retransmissions", path.min_retransmissions, 1, 100);
    TS_BOOL("payload.enabled", payload.enabled);
    TS_U32("payload.scan_bytes", payload.scan_bytes, 1, 1u << 20);
    TS_U32("payload.streams", payload.streams, 1, 1u << 24);
    f.push_back(bool_field("payload.builtin_rules", [](auto& c) -> auto& { return c.rules.builtin; }, true));
    f.push_back(string_array_field("payload.disable_builtin", [](auto& c) -> auto& { return c.rules.disable_builtin; }, true));
    f.push_back(bool_field("payload.identification_events", [](auto& c) -> auto& { return c.rules.identification_events; }, true));
#undef TS_U32
#undef TS_BOOL
    return f;
}

class Loader {
public:
    Loader(std::string_view file, ConfigLoad& out) : file_(file), out_(out), fields_(schema()) {}

    void load(const toml::table& root) {
        walk(root, "");
        check_ports();
        check_cores();
        check_evidence();
        check_metrics();
        check_probe();
        check_impair();
        check_held_packets();
        check_disable_builtin();
        if (out_.ok()) compile();
    }

    void error(const toml::source_region& where, std::string key, std::string message) {
        out_.errors.push_back({file_, static_cast<std::uint32_t>(where.begin.line),
                               static_cast<std::uint32_t>(where.begin.column), std::move(key), std::move(message)});
    }

private:
    const Field* field(const std::string& key) const {
        for (const Field& f : fields_) {
            if (f.key == key) return &f;
        }
        return nullptr;
    }

    bool is_section(const std::string& prefix) const {
        for (const Field& f : fields_) {
            if (f.key.size() > prefix.size() && f.key.compare(0, prefix.size(), prefix) == 0 && f.key[prefix.size()] == '.') {
                return true;
            }
        }
        return false;
    }

    void walk(const toml::table& table, const std::string& prefix) {
        for (const auto& [k, node] : table) {
            const std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
            if (key == "ports") {
                read_ports(node);
            } else if (key == "rules") {
                read_rules(node);
            } else if (key == "impair") {
                read_impair(node);
            } else if (key == "idle.profiles") {
                read_profiles(node);
            } else if (const Field* f = field(key)) {
                if (std::string err = f->apply(node, out_.config); !err.empty()) error(node.source(), key, err);
                where_[key] = node.source();
            } else if (is_section(key)) {
                if (const toml::table* t = node.as_table()) {
                    walk(*t, key);
                } else {
                    error(node.source(), key, "expected a table ([" + key + "])");
                }
            } else {
                error(k.source(), key, "unknown key");
            }
        }
    }

    void read_ports(const toml::node& node) {
        const toml::array* a = node.as_array();
        if (a == nullptr || !a->is_array_of_tables()) {
            error(node.source(), "ports", "expected an array of tables ([[ports]])");
            return;
        }
        for (const toml::node& entry : *a) {
            const toml::table& t = *entry.as_table();
            PortConfig port;
            port.line = static_cast<std::uint32_t>(t.source().begin.line);
            port.column = static_cast<std::uint32_t>(t.source().begin.column);
            bool has_device = false;
            for (const auto& [k, v] : t) {
                if (k.str() == "device") {
                    if (!v.is_string() || v.value<std::string>()->empty()) {
                        error(v.source(), "ports.device", "expected a non-empty string (a PCI address or a vdev such as \"net_af_packet0,iface=eth1\")");
                    } else {
                        port.device = *v.value<std::string>();
                        has_device = true;
                    }
                } else if (k.str() == "point") {
                    const std::optional<std::string> name = v.value<std::string>();
                    if (name && *name == "outside") {
                        port.point = Point::kOutside;
                    } else if (name && *name == "inside") {
                        port.point = Point::kInside;
                    } else {
                        error(v.source(), "ports.point", "expected \"outside\" or \"inside\" (the side of the device this port's mirror shows)");
                    }
                } else if (k.str() == "mbufs") {
                    const std::optional<std::int64_t> n = v.value_exact<std::int64_t>();
                    if (!v.is_integer() || !n || *n < kMinMbufs || *n > kMaxMbufs) {
                        error(v.source(), "ports.mbufs", "expected an integer from " + std::to_string(kMinMbufs) + " to " +
                                                             std::to_string(kMaxMbufs));
                    } else {
                        port.mbufs = static_cast<std::uint32_t>(*n);
                    }
                } else {
                    error(k.source(), "ports." + std::string(k.str()), "unknown key");
                }
            }
            if (!has_device && !t.contains("device")) error(t.source(), "ports.device", "missing");
            point_named_.push_back(t.contains("point"));
            out_.config.ports.push_back(std::move(port));
        }
    }

    // [[impair]]: one fault per entry (config/impair.h). Every key is checked against the
    // keys its action takes; names are unique (counters and messages use them).
    void read_impair(const toml::node& node) {
        const toml::array* a = node.as_array();
        if (a == nullptr || !a->is_array_of_tables()) {
            error(node.source(), "impair", "expected an array of tables ([[impair]])");
            return;
        }
        static const std::vector<std::pair<std::string, ImpairAction>> kActions = {
            {"drop_larger_than", ImpairAction::kDropLargerThan}, {"strip_option", ImpairAction::kStripOption},
            {"clamp_mss", ImpairAction::kClampMss},             {"drop_ecn_syn", ImpairAction::kDropEcnSyn},
            {"bleach_ecn", ImpairAction::kBleachEcn},           {"erase_ce", ImpairAction::kEraseCe},
            {"mark_ce", ImpairAction::kMarkCe},                 {"shift_seq", ImpairAction::kShiftSeq},
            {"loss", ImpairAction::kLoss},                       {"idle_timeout", ImpairAction::kIdleTimeout},
            {"state_limit", ImpairAction::kStateLimit},         {"inject_rst", ImpairAction::kInjectRst},
            {"delay", ImpairAction::kDelay},                     {"rate", ImpairAction::kRate}};
        std::string action_list;
        for (const auto& a : kActions) action_list += (action_list.empty() ? "" : ", ") + a.first;
        const std::vector<std::string> all_own = impair_action_keys();
        for (const toml::node& entry : *a) {
            const toml::table& t = *entry.as_table();
            ImpairRule rule;
            rule.line = static_cast<std::uint32_t>(t.source().begin.line);
            rule.column = static_cast<std::uint32_t>(t.source().begin.column);
            const toml::node* action = t.get("action");
            if (action == nullptr) {
                error(t.source(), "impair.action", "missing (one of " + action_list + ")");
                continue;
            }
            const auto known = std::find_if(kActions.begin(), kActions.end(), [&](const auto& p) {
                return action->is_string() && p.first == *action->value<std::string>();
            });
            std::vector<std::string> own;
            if (known == kActions.end()) {
                error(action->source(), "impair.action", "expected one of " + action_list);
                // The common keys are still checked; any action's own key is let be.
                own = all_own;
                own.insert(own.begin(), "");
            } else {
                rule.action = known->second;
                own = impair_own_keys(rule.action);
            }
            const char* action_name = known == kActions.end() ? "?" : known->first.c_str();
            if (!own.empty() && !own[0].empty() && !t.contains(own[0])) {
                error(t.source(), "impair." + own[0], std::string("missing (") + action_name + " needs it)");
            }
            if (!t.contains("name")) error(t.source(), "impair.name", "missing");
            for (const auto& entry : t) {
                const std::string key(entry.first.str());
                const toml::node& v = entry.second;  // a named reference: lambdas below use it
                const std::string where = "impair." + key;
                const auto integer = [&](std::int64_t lo, std::int64_t hi, auto& out) {
                    const std::optional<std::int64_t> n = v.value_exact<std::int64_t>();
                    if (!v.is_integer() || !n || *n < lo || *n > hi) {
                        error(v.source(), where, "expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
                        return;
                    }
                    out = static_cast<std::remove_reference_t<decltype(out)>>(*n);
                };
                if (key == "action") {
                    continue;
                } else if (key == "name") {
                    if (!v.is_string() || v.value<std::string>()->empty()) {
                        error(v.source(), where, "expected a non-empty string");
                    } else {
                        rule.name = *v.value<std::string>();
                        for (const ImpairRule& r : out_.config.impair) {
                            if (r.name == rule.name) error(v.source(), where, "\"" + rule.name + "\" is used by an earlier rule");
                        }
                    }
                } else if (key == "side") {
                    const std::optional<std::string> sv = v.value<std::string>();
                    if (sv == "client") rule.side = ImpairSide::kClient;
                    else if (sv == "server") rule.side = ImpairSide::kServer;
                    else if (sv == "both") rule.side = ImpairSide::kBoth;
                    else error(v.source(), where, "expected \"client\", \"server\" or \"both\"");
                } else if (key == "hosts") {
                    read_prefixes(v, where, rule.hosts);
                } else if (key == "ports") {
                    const toml::array* list = v.as_array();
                    bool ok = list != nullptr && !list->empty();
                    for (std::size_t i = 0; ok && i < list->size(); ++i) {
                        const std::optional<std::int64_t> n = (*list)[i].value_exact<std::int64_t>();
                        ok = n && *n >= 1 && *n <= 65535;
                        if (ok) rule.ports.push_back(static_cast<std::uint16_t>(*n));
                    }
                    if (!ok) error(v.source(), where, "expected a non-empty array of TCP ports from 1 to 65535");
                } else if (key == "probability") {
                    const std::optional<double> d = v.value<double>();
                    if (!(v.is_floating_point() || v.is_integer()) || !d || *d <= 0.0 || *d > 1.0) {
                        error(v.source(), where, "expected a number above 0 and at most 1");
                    } else {
                        rule.probability = *d;
                    }
                } else if (key == "enabled") {
                    if (!v.is_boolean()) error(v.source(), where, "expected true or false");
                    else rule.enabled = *v.value<bool>();
                } else if (std::find(own.begin(), own.end(), key) == own.end()) {
                    const bool some_action = std::find(all_own.begin(), all_own.end(), key) != all_own.end();
                    error(entry.first.source(), where, std::string("not a key of action ") + action_name + (some_action ? "" : " (unknown key)"));
                } else if (key == "size") {
                    integer(68, 65535, rule.size);
                } else if (key == "mss") {
                    integer(88, 65535, rule.mss);
                } else if (key == "offset") {
                    integer(1, 0xffffffffll, rule.offset);
                } else if (key == "burst") {
                    integer(1, 1000, rule.burst);
                } else if (key == "seconds") {
                    integer(1, 86400, rule.seconds);
                } else if (key == "flows") {
                    integer(1, 1 << 22, rule.flows);
                } else if (key == "then") {
                    const std::optional<std::string> sv = v.value<std::string>();
                    if (sv == "drop" || sv == "rst") rule.then_rst = sv == "rst";
                    else error(v.source(), where, "expected \"drop\" (silently) or \"rst\" (answered with the device's own reset)");
                } else if (key == "icmp") {
                    if (!v.is_boolean()) error(v.source(), where, "expected true or false");
                    else rule.icmp = *v.value<bool>();
                } else if (key == "icmp_per_s") {
                    integer(1, 100000, rule.icmp_per_s);
                } else if (key == "source") {
                    read_sources(v, where, rule.source);
                } else if (key == "ttl") {
                    integer(1, 255, rule.ttl);
                } else if (key == "after_packets") {
                    integer(1, 1 << 30, rule.after_packets);
                } else if (key == "after_s") {
                    seconds_ns(v, where, 0.001, 86400, rule.after_ns);
                } else if (key == "ms") {
                    seconds_ns(v, where, 0.001, 10000, rule.delay_ns, 1'000'000.0);
                } else if (key == "jitter_ms") {
                    seconds_ns(v, where, 0, 10000, rule.jitter_ns, 1'000'000.0);
                } else if (key == "queue_packets") {
                    integer(1, 1 << 20, rule.queue_packets);
                } else if (key == "mbps") {
                    const std::optional<double> d = v.value<double>();
                    if (!(v.is_floating_point() || v.is_integer()) || !d || *d < 0.01 || *d > 400000) {
                        error(v.source(), where, "expected megabits per second from 0.01 to 400000");
                    } else {
                        rule.mbps = *d;
                    }
                } else if (key == "burst_kb") {
                    integer(2, 1 << 16, rule.burst_kb);
                } else if (key == "queue_kb") {
                    integer(2, 1 << 16, rule.queue_kb);
                } else if (key == "rewrite_sack") {
                    if (!v.is_boolean()) error(v.source(), where, "expected true or false");
                    else rule.rewrite_sack = *v.value<bool>();
                } else if (key == "option") {
                    const std::optional<std::string> sv = v.value<std::string>();
                    if (sv == "sack_perm") rule.option = StripOption::kSackPerm;
                    else if (sv == "wscale") rule.option = StripOption::kWscale;
                    else if (sv == "timestamp") rule.option = StripOption::kTimestamp;
                    else if (sv == "mss") rule.option = StripOption::kMss;
                    else error(v.source(), where, "expected \"sack_perm\", \"wscale\", \"timestamp\" or \"mss\"");
                } else if (key == "fill") {
                    const std::optional<std::string> sv = v.value<std::string>();
                    if (sv == "nop") rule.fill = StripFill::kNop;
                    else if (sv == "remove") rule.fill = StripFill::kRemove;
                    else error(v.source(), where, "expected \"nop\" (the option's bytes become NOPs) or \"remove\"");
                }
            }
            // A state table's entries expire like conntrack's established ones, scaled down to
            // what a test waits for; idle_timeout tracks this many flows at most.
            if (rule.action == ImpairAction::kStateLimit && rule.seconds == 0) rule.seconds = 300;
            if ((rule.action == ImpairAction::kIdleTimeout || rule.action == ImpairAction::kInjectRst) && rule.flows == 0) {
                rule.flows = 65536;
            }
            if (rule.action == ImpairAction::kInjectRst && (t.contains("after_packets") == t.contains("after_s"))) {
                error(t.source(), "impair.after_packets", "inject_rst needs one of after_packets (the flow's Nth packet) or "
                                                          "after_s (seconds after its SYN)");
            }
            if (rule.action == ImpairAction::kDelay && rule.jitter_ns > rule.delay_ns && t.contains("jitter_ms")) {
                error(t.get("jitter_ms")->source(), "impair.jitter_ms", "at most ms (a packet cannot leave before it came)");
            }
            if (rule.icmp == false && t.contains("source") && rule.action == ImpairAction::kDropLargerThan) {
                error(t.get("source")->source(), "impair.source", "only with icmp = true (a silent drop sends nothing)");
            }
            out_.config.impair.push_back(std::move(rule));
        }
    }

    // A number of seconds (or of `unit`-nanosecond units) from lo to hi, in nanoseconds.
    void seconds_ns(const toml::node& v, const std::string& where, double lo, double hi, std::uint64_t& out,
                    double unit = 1e9) {
        const std::optional<double> d = v.value<double>();
        if (!(v.is_floating_point() || v.is_integer()) || !d || *d < lo || *d > hi) {
            char buf[96];
            std::snprintf(buf, sizeof buf, "expected a number from %g to %g", lo, hi);
            error(v.source(), where, buf);
            return;
        }
        out = static_cast<std::uint64_t>(*d * unit + 0.5);
    }

    // Addresses, at most one IPv4 and one IPv6: the sender of what the device makes.
    void read_sources(const toml::node& v, const std::string& where, std::vector<IpPrefix>& out) {
        const toml::array* list = v.as_array();
        bool v4 = false, v6 = false, ok = list != nullptr && !list->empty() && list->size() <= 2;
        for (std::size_t i = 0; ok && i < list->size(); ++i) {
            const std::optional<std::string> text = (*list)[i].value<std::string>();
            IpPrefix p;
            ok = text && text->find('/') == std::string::npos && parse_prefix(*text, p);
            if (!ok) break;
            bool& seen = is_v4_mapped(p.addr) ? v4 : v6;
            ok = !seen;
            seen = true;
            out.push_back(p);
        }
        if (!ok) error(v.source(), where, "expected one or two addresses, at most one of each family ([\"198.18.0.254\", \"2001:2::fe\"])");
    }

    void read_prefixes(const toml::node& v, const std::string& where, std::vector<IpPrefix>& out) {
        const toml::array* list = v.as_array();
        if (list == nullptr || list->empty()) {
            error(v.source(), where, "expected a non-empty array of prefixes (\"198.18.2.0/24\", \"2001:2::/48\")");
            return;
        }
        for (const toml::node& n : *list) {
            const std::optional<std::string> text = n.value<std::string>();
            IpPrefix p;
            if (!text || !parse_prefix(*text, p)) {
                error(n.source(), where, "expected an address or prefix such as \"198.18.2.0/24\" or \"2001:2::/48\"");
                continue;
            }
            out.push_back(p);
        }
    }

    static bool parse_prefix(const std::string& text, IpPrefix& out) {
        const std::size_t slash = text.find('/');
        const std::string addr = text.substr(0, slash);
        int bits = -1;
        if (slash != std::string::npos) {
            char* end = nullptr;
            const long b = std::strtol(text.c_str() + slash + 1, &end, 10);
            if (end == text.c_str() + slash + 1 || *end != '\0') return false;
            bits = static_cast<int>(b);
        }
        in_addr v4{};
        in6_addr v6{};
        if (inet_pton(AF_INET, addr.c_str(), &v4) == 1) {
            if (bits == -1) bits = 32;
            if (bits < 0 || bits > 32) return false;
            out.addr[10] = out.addr[11] = 0xff;
            std::memcpy(&out.addr[12], &v4, 4);
            out.bits = static_cast<std::uint8_t>(96 + bits);
            return true;
        }
        if (inet_pton(AF_INET6, addr.c_str(), &v6) == 1) {
            if (bits == -1) bits = 128;
            if (bits < 0 || bits > 128) return false;
            std::memcpy(out.addr.data(), &v6, 16);
            out.bits = static_cast<std::uint8_t>(bits);
            return true;
        }
        return false;
    }

    // [[rules]]: one payload rule per entry (config/rules.h). Every key is checked; the
    // pattern itself is checked by Hyperscan once the whole file has been read.
    void read_rules(const toml::node& node) {
        const toml::array* a = node.as_array();
        if (a == nullptr || !a->is_array_of_tables()) {
            error(node.source(), "rules", "expected an array of tables ([[rules]])");
            return;
        }
        for (const toml::node& entry : *a) {
            const toml::table& t = *entry.as_table();
            RuleSpec rule;
            rule.line = static_cast<std::uint32_t>(t.source().begin.line);
            rule.column = static_cast<std::uint32_t>(t.source().begin.column);
            for (const auto& [k, v] : t) read_rule_key(std::string(k.str()), k.source(), v, rule);
            for (const char* required : {"id", "pattern"}) {
                if (!t.contains(required)) error(t.source(), std::string("rules.") + required, "missing");
            }
            if (!rule.id.empty()) {
                const auto& rules = out_.config.rules.rules;
                if (std::any_of(rules.begin(), rules.end(), [&](const RuleSpec& r) { return r.id == rule.id; })) {
                    error(t.get("id")->source(), "rules.id", "\"" + rule.id + "\" is already the id of another rule");
                }
            }
            out_.config.rules.rules.push_back(std::move(rule));
        }
    }

    void read_rule_key(const std::string& k, const toml::source_region& key_at, const toml::node& v, RuleSpec& rule) {
        const std::string key = "rules." + k;
        const auto bad = [&](std::string message) { error(v.source(), key, std::move(message)); };
        const std::optional<std::string> str = v.value_exact<std::string>();
        if (k == "id") {
            if (!str || !is_name(*str, 63, true)) return bad("expected 1 to 63 characters from A-Z a-z 0-9 . _ : -");
            rule.id = *str;
        } else if (k == "pattern") {
            if (!str || str->empty()) return bad("expected a non-empty string (a Hyperscan regex, or the bytes to find with literal = true)");
            rule.pattern = *str;
            // Hyperscan's complaints are about the pattern: point at it.
            rule.line = static_cast<std::uint32_t>(v.source().begin.line);
            rule.column = static_cast<std::uint32_t>(v.source().begin.column);
        } else if (k == "literal" || k == "event") {
            if (!v.is_boolean()) return bad("expected true or false, found " + type_name(v));
            (k == "literal" ? rule.literal : rule.event) = *v.value<bool>();
        } else if (k == "flags") {
            read_rule_flags(key, v, rule);
        } else if (k == "direction") {
            if (str == "client") rule.direction = RuleDirection::kClient;
            else if (str == "server") rule.direction = RuleDirection::kServer;
            else if (str == "both") rule.direction = RuleDirection::kBoth;
            else bad("must be one of \"client\", \"server\", \"both\"");
        } else if (k == "severity") {
            if (str == "info") rule.severity = RuleSeverity::kInfo;
            else if (str == "warning") rule.severity = RuleSeverity::kWarning;
            else if (str == "critical") rule.severity = RuleSeverity::kCritical;
            else bad("must be one of \"info\", \"warning\", \"critical\"");
        } else if (k == "tag") {
            if (!str || (!str->empty() && !is_name(*str, 31, false))) {
                return bad("expected up to 31 characters from a-z 0-9 . _ - (the application, as \"http\"; \"\" for none)");
            }
            rule.tag = *str;
        } else if (k == "ports") {
            const toml::array* a = v.as_array();
            if (a == nullptr) return bad("expected an array of server ports, as [80, 8080]");
            for (const toml::node& p : *a) {
                const std::optional<std::int64_t> n = p.value_exact<std::int64_t>();
                if (!n || *n < 1 || *n > 65535) {
                    error(p.source(), key, "expected a port from 1 to 65535");
                    continue;
                }
                rule.ports.push_back(static_cast<std::uint16_t>(*n));
            }
        } else {
            error(key_at, key, "unknown key");
        }
    }

    void read_rule_flags(const std::string& key, const toml::node& v, RuleSpec& rule) {
        static constexpr const char* kChoices = "\"caseless\", \"dotall\", \"multiline\", \"single-match\"";
        const toml::array* a = v.as_array();
        if (a == nullptr) return error(v.source(), key, std::string("expected an array of flags from ") + kChoices);
        for (const toml::node& e : *a) {
            const std::optional<std::string> f = e.value_exact<std::string>();
            if (f == "caseless") rule.caseless = true;
            else if (f == "dotall") rule.dotall = true;
            else if (f == "multiline") rule.multiline = true;
            else if (f == "single-match") rule.single_match = true;
            else error(e.source(), key, std::string("unknown flag; the flags are ") + kChoices);
        }
    }

    static bool is_name(std::string_view s, std::size_t max, bool upper_and_colon) {
        if (s.empty() || s.size() > max) return false;
        return std::all_of(s.begin(), s.end(), [&](char c) {
            return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
                   (upper_and_colon && ((c >= 'A' && c <= 'Z') || c == ':'));
        });
    }

    void check_disable_builtin() {
        const auto& builtins = builtin_rules();
        for (const std::string& id : out_.config.rules.disable_builtin) {
            if (std::none_of(builtins.begin(), builtins.end(), [&](const RuleSpec& r) { return r.id == id; })) {
                error(where_["payload.disable_builtin"], "payload.disable_builtin", "\"" + id + "\" is not a built-in rule");
            }
        }
    }

    // Hyperscan checks the patterns: each rejected one is an error at its rule.
    void compile() {
        std::vector<RuleError> errors;
        out_.config.inspect.payload.rules = compile_rules(out_.config.rules, errors);
        for (const RuleError& e : errors) {
            std::string message = e.rule_id.empty() ? e.message : "rule \"" + e.rule_id + "\": " + e.message;
            if (e.line == 0 && !e.rule_id.empty()) message += " (a built-in rule; payload.disable_builtin can leave it out)";
            out_.errors.push_back({file_, e.line, e.column, "rules.pattern", std::move(message)});
        }
    }

    // [idle.profiles]: name = seconds. Replaces a built-in entry of the same name, or adds one.
    void read_profiles(const toml::node& node) {
        const toml::table* t = node.as_table();
        if (t == nullptr) {
            error(node.source(), "idle.profiles", "expected a table ([idle.profiles]) of name = seconds");
            return;
        }
        auto& profiles = out_.config.idle_profiles;
        for (const auto& [k, v] : *t) {
            const std::string key = "idle.profiles." + std::string(k.str());
            const std::optional<std::int64_t> n = v.value_exact<std::int64_t>();
            if (!v.is_integer() || !n || *n < 1 || *n > kMaxProfileSeconds) {
                error(v.source(), key, "expected an idle timeout in seconds, from 1 to " + std::to_string(kMaxProfileSeconds));
                continue;
            }
            const std::string name(k.str());
            auto it = std::find_if(profiles.begin(), profiles.end(), [&](const IdleProfile& p) { return p.name == name; });
            if (it == profiles.end()) it = profiles.insert(profiles.end(), IdleProfile{name, 0});
            it->seconds = static_cast<std::uint32_t>(*n);
        }
        sort_idle_profiles(profiles);
    }

    void check_ports() {
        const auto& c = out_.config;
        if (c.mode == RunMode::kInline && c.ports.size() % 2 != 0) {
            const PortConfig& last = c.ports.back();
            out_.errors.push_back({file_, last.line, last.column, "ports",
                                   "inline mode forwards between port pairs (1st<->2nd, 3rd<->4th, ...): " +
                                       std::to_string(c.ports.size()) + " ports is an odd number"});
        }
        check_points();
    }

    // Two-point mode watches a device from both sides: mirrors only, both sides present, and
    // no port left out of the comparison.
    void check_points() {
        const auto& c = out_.config;
        if (!two_point_mode(c)) return;
        bool seen[3] = {};
        for (std::size_t i = 0; i < c.ports.size(); ++i) {
            const PortConfig& p = c.ports[i];
            seen[static_cast<unsigned>(p.point)] = true;
            if (p.point == Point::kNone) {
                if (point_named_[i]) continue;  // named wrongly: reported where it is
                out_.errors.push_back({file_, p.line, p.column, "ports.point",
                                       "missing: in two-point mode every port names its point (\"outside\" or \"inside\")"});
            } else if (c.mode != RunMode::kTap) {
                out_.errors.push_back({file_, p.line, p.column, "ports.point",
                                       "two-point mode watches mirrors: it needs mode = \"tap\""});
            }
        }
        for (const Point want : {Point::kOutside, Point::kInside}) {
            if (seen[static_cast<unsigned>(want)]) continue;
            const PortConfig& last = c.ports.back();
            out_.errors.push_back({file_, last.line, last.column, "ports.point",
                                   std::string("two-point mode needs a port with point = \"") + to_string(want) +
                                       "\" as well: a device is compared from both sides"});
        }
    }

    // Impairment happens on the way through: a tap only watches.
    void check_impair() {
        const auto& c = out_.config;
        if (c.impair.size() > 64) {
            out_.errors.push_back({file_, c.impair[64].line, c.impair[64].column, "impair",
                                   "at most 64 [[impair]] rules (" + std::to_string(c.impair.size()) + " given)"});
        }
        if (c.impair.empty() || c.mode == RunMode::kInline) return;
        out_.errors.push_back({file_, c.impair.front().line, c.impair.front().column, "impair",
                               "[[impair]] rules need mode = \"inline\" (a tap only watches)"});
    }

    // Held packets (delay, rate) are the ports' own buffers: half a pool at most, so
    // reception never starves behind a full line.
    void check_held_packets() {
        const auto& c = out_.config;
        std::uint64_t held = 0;
        for (const ImpairRule& r : c.impair) held += held_at_most(r);
        if (held == 0) return;
        std::uint32_t pool = c.dpdk.mbufs_per_port;
        for (const PortConfig& p : c.ports) {
            if (p.mbufs != 0) pool = std::min(pool, p.mbufs);
        }
        if (held <= pool / 2) return;
        const ImpairRule& first = *std::find_if(c.impair.begin(), c.impair.end(), [](const ImpairRule& r) { return holds_packets(r.action); });
        out_.errors.push_back({file_, first.line, first.column, "impair",
                               "delay and rate rules may hold " + std::to_string(held) + " packets each way, more than half of the " +
                                   std::to_string(pool) + " buffers of a port: raise dpdk.mbufs_per_port to " +
                                   std::to_string(held * 2) + " or shorten queue_packets / queue_kb"});
    }

    // probe.source an address of either family; probe.tests a comma list of known tests.
    void check_probe() {
        const ProbeConfig& p = out_.config.probe;
        std::array<unsigned char, 16> buf{};
        if (!p.source.empty() && inet_pton(AF_INET, p.source.c_str(), buf.data()) != 1 &&
            inet_pton(AF_INET6, p.source.c_str(), buf.data()) != 1) {
            error(where_["probe.source"], "probe.source", "expected an IPv4 or IPv6 address, not \"" + p.source + "\"");
        }
        std::vector<std::string> tests;
        std::string why;
        if (!parse_probe_tests(p.tests, tests, why)) error(where_["probe.tests"], "probe.tests", why);
    }

    void check_metrics() {
        const std::string& listen = out_.config.metrics.listen;
        ListenAddress where;
        std::string why;
        if (!listen.empty() && !parse_listen_address(listen, where, why)) error(where_["metrics.listen"], "metrics.listen", why);
        // A Redis server is an address and port, or a Unix socket's absolute path.
        const std::string& redis = out_.config.output.redis.server;
        if (!redis.empty() && redis[0] != '/' && !parse_listen_address(redis, where, why)) {
            error(where_["output.redis.server"], "output.redis.server", why + ", or a Unix socket's path");
        }
        if (!out_.config.output.redis.username.empty() && out_.config.output.redis.password.empty()) {
            error(where_["output.redis.username"], "output.redis.username", "a username needs its password (output.redis.password)");
        }
        if (!redis.empty() && out_.config.output.redis.key.empty()) {
            error(where_["output.redis.key"], "output.redis.key", "expected a non-empty stream, list or channel name");
        }
    }

    // Live evidence captures are cut from the packet history: without one there is nothing
    // from before the verdict to write.
    void check_evidence() {
        const auto& c = out_.config;
        if (c.output.evidence_dir.empty() || c.inspect.history.packets != 0) return;
        error(where_["output.evidence_dir"], "output.evidence_dir",
              "needs the packet history ([history] packets > 0): the packets before a finding come from it");
    }

    void check_cores() {
        const auto& d = out_.config.dpdk;
        if (d.cores.empty()) return;
        for (const std::string& a : d.eal_args) {
            if (a == "-l" || a == "-c" || a.rfind("--lcores", 0) == 0 || a.rfind("-l", 0) == 0) {
                error(where_["dpdk.cores"], "dpdk.cores", "give the cores here or as \"" + a + "\" in dpdk.eal_args, not both");
                return;
            }
        }
    }

    std::string file_;
    ConfigLoad& out_;
    std::vector<Field> fields_;
    std::map<std::string, toml::source_region> where_;
    std::vector<bool> point_named_;  // per [[ports]] entry: it has a `point` key (valid or not)
};

}  // namespace

ConfigLoad load_config_text(std::string_view text, std::string_view name) {
    ConfigLoad out;
    Loader loader(name, out);
    try {
        const toml::table root = toml::parse(text, name);
        loader.load(root);
    } catch (const toml::parse_error& e) {
        loader.error(e.source(), "", std::string(e.description()));
    }
    // TOML++ keeps a table's keys sorted; a reader wants the file's order.
    std::stable_sort(out.errors.begin(), out.errors.end(), [](const ConfigError& a, const ConfigError& b) {
        return a.line != b.line ? a.line < b.line : a.column < b.column;
    });
    if (!out.ok()) out.config = DaemonConfig{};
    return out;
}

ConfigLoad load_config_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        ConfigLoad out;
        out.errors.push_back({path, 0, 0, "", std::string("cannot read: ") + std::strerror(errno)});
        return out;
    }
    std::ostringstream text;
    text << in.rdbuf();
    return load_config_text(text.str(), path);
}

namespace {

std::string render_rule(const RuleSpec& r) {
    std::string out = "id = " + toml_string(r.id) + "\npattern = " + toml_string(r.pattern) + "\n";
    out += std::string("literal = ") + (r.literal ? "true" : "false") + "\nflags = [";
    std::string flags;
    for (const char* name : rule_flag_names(r)) flags += (flags.empty() ? "\"" : ", \"") + std::string(name) + "\"";
    out += flags + "]\ndirection = " + toml_string(to_string(r.direction)) + "\nports = [";
    for (std::size_t i = 0; i < r.ports.size(); ++i) out += (i == 0 ? "" : ", ") + std::to_string(r.ports[i]);
    out += "]\nseverity = " + toml_string(to_string(r.severity)) + "\ntag = " + toml_string(r.tag) + "\n";
    return out + "event = " + (r.event ? "true" : "false") + "\n";
}

// The rules in a line: their ids, and a digest of everything so that a changed pattern shows.
std::string rules_summary(const PayloadRules& p) {
    std::string ids, all;
    for (const RuleSpec& r : p.rules) {
        if (ids.size() < 160) ids += (ids.empty() ? "" : ", ") + r.id;
        all += render_rule(r);
    }
    char digest[24];
    std::snprintf(digest, sizeof digest, "%016zx", std::hash<std::string>{}(all));
    return std::to_string(p.rules.size()) + " rule(s) [" + ids + (ids.size() >= 160 ? ", ..." : "") + "] #" + digest;
}

std::string render_prefix(const IpPrefix& p) {
    char buf[INET6_ADDRSTRLEN];
    const bool v4 = p.bits >= 96 && p.addr[10] == 0xff && p.addr[11] == 0xff &&
                    std::all_of(p.addr.begin(), p.addr.begin() + 10, [](std::uint8_t b) { return b == 0; });
    inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? static_cast<const void*>(&p.addr[12]) : p.addr.data(), buf, sizeof buf);
    return std::string(buf) + "/" + std::to_string(v4 ? p.bits - 96 : p.bits);
}

// A TOML float that reads back as the same double.
std::string number(double d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", d);
    return std::string(buf) + (std::strchr(buf, '.') || std::strchr(buf, 'e') ? "" : ".0");
}

std::string render_impair(const ImpairRule& r) {
    std::string out = "name = " + toml_string(r.name) + "\naction = \"" + to_string(r.action) + "\"\n";
    if (r.side != ImpairSide::kBoth) out += std::string("side = \"") + (r.side == ImpairSide::kClient ? "client" : "server") + "\"\n";
    if (!r.hosts.empty()) {
        out += "hosts = [";
        for (std::size_t i = 0; i < r.hosts.size(); ++i) out += (i ? ", " : "") + toml_string(render_prefix(r.hosts[i]));
        out += "]\n";
    }
    if (!r.ports.empty()) {
        out += "ports = [";
        for (std::size_t i = 0; i < r.ports.size(); ++i) out += (i ? ", " : "") + std::to_string(r.ports[i]);
        out += "]\n";
    }
    if (r.probability != 1.0) out += "probability = " + number(r.probability) + "\n";
    if (!r.enabled) out += "enabled = false\n";
    switch (r.action) {
        case ImpairAction::kDropLargerThan:
            out += "size = " + std::to_string(r.size) + "\n";
            if (r.icmp) {
                out += "icmp = true\nicmp_per_s = " + std::to_string(r.icmp_per_s) + "\nttl = " + std::to_string(r.ttl) + "\n";
                if (!r.source.empty()) {
                    out += "source = [";
                    for (std::size_t i = 0; i < r.source.size(); ++i) {
                        const std::string a = render_prefix(r.source[i]);
                        out += (i ? ", " : "") + toml_string(a.substr(0, a.find('/')));
                    }
                    out += "]\n";
                }
            }
            break;
        case ImpairAction::kStripOption:
            out += std::string("option = \"") + to_string(r.option) + "\"\nfill = \"" + (r.fill == StripFill::kNop ? "nop" : "remove") + "\"\n";
            break;
        case ImpairAction::kClampMss: out += "mss = " + std::to_string(r.mss) + "\n"; break;
        case ImpairAction::kShiftSeq:
            out += "offset = " + std::to_string(r.offset) + "\nrewrite_sack = " + (r.rewrite_sack ? "true" : "false") + "\n";
            break;
        case ImpairAction::kLoss: out += "burst = " + std::to_string(r.burst) + "\n"; break;
        case ImpairAction::kIdleTimeout:
            out += std::string("then = \"") + (r.then_rst ? "rst" : "drop") + "\"\nttl = " + std::to_string(r.ttl) + "\n";
            [[fallthrough]];
        case ImpairAction::kStateLimit:
            out += "seconds = " + std::to_string(r.seconds) + "\nflows = " + std::to_string(r.flows) + "\n";
            break;
        case ImpairAction::kInjectRst:
            if (r.after_packets != 0) out += "after_packets = " + std::to_string(r.after_packets) + "\n";
            else out += "after_s = " + number(static_cast<double>(r.after_ns) / 1e9) + "\n";
            out += "ttl = " + std::to_string(r.ttl) + "\nflows = " + std::to_string(r.flows) + "\n";
            break;
        case ImpairAction::kDelay:
            out += "ms = " + number(static_cast<double>(r.delay_ns) / 1e6) + "\njitter_ms = " +
                   number(static_cast<double>(r.jitter_ns) / 1e6) + "\nqueue_packets = " + std::to_string(r.queue_packets) + "\n";
            break;
        case ImpairAction::kRate:
            out += "mbps = " + number(r.mbps) + "\nburst_kb = " + std::to_string(r.burst_kb) + "\nqueue_kb = " +
                   std::to_string(r.queue_kb) + "\n";
            break;
        default: break;
    }
    return out;
}

}  // namespace

std::string render_config(const DaemonConfig& c) {
    std::string out;
    std::string section;
    for (const Field& f : schema()) {
        const std::size_t dot = f.key.rfind('.');
        const std::string table = dot == std::string::npos ? "" : f.key.substr(0, dot);
        if (table != section) {
            section = table;
            out += "\n[" + section + "]\n";
        }
        out += f.key.substr(dot == std::string::npos ? 0 : dot + 1) + " = " + f.show(c) + "\n";
    }
    out += "\n[idle.profiles]\n";
    for (const IdleProfile& p : c.idle_profiles) out += p.name + " = " + std::to_string(p.seconds) + "\n";
    for (const PortConfig& p : c.ports) {
        out += "\n[[ports]]\ndevice = " + toml_string(p.device) + "\n";
        if (p.mbufs != 0) out += "mbufs = " + std::to_string(p.mbufs) + "\n";
        if (p.point != Point::kNone) out += "point = " + toml_string(to_string(p.point)) + "\n";
    }
    for (const RuleSpec& r : c.rules.rules) out += "\n[[rules]]\n" + render_rule(r);
    for (const ImpairRule& r : c.impair) out += "\n[[impair]]\n" + render_impair(r);
    return out;
}

std::vector<ConfigChange> config_changes(const DaemonConfig& from, const DaemonConfig& to) {
    std::vector<ConfigChange> out;
    for (const Field& f : schema()) {
        std::string a = f.show(from), b = f.show(to);
        if (a != b) out.push_back({f.key, std::move(a), std::move(b), f.live});
    }
    const auto profiles = [](const DaemonConfig& c) {
        std::string s;
        for (const IdleProfile& p : c.idle_profiles) s += (s.empty() ? "" : ", ") + p.name + " = " + std::to_string(p.seconds);
        return s;
    };
    if (from.idle_profiles != to.idle_profiles) out.push_back({"idle.profiles", profiles(from), profiles(to), true});
    const auto ports = [](const DaemonConfig& c) {
        std::string s;
        for (const PortConfig& p : c.ports) {
            s += (s.empty() ? "" : ", ") + toml_string(p.device);
            if (p.mbufs != 0) s += " (" + std::to_string(p.mbufs) + " mbufs)";
            if (p.point != Point::kNone) s += std::string(" (") + to_string(p.point) + ")";
        }
        return s;
    };
    if (from.ports != to.ports) out.push_back({"ports", ports(from), ports(to), false});
    if (from.rules.rules != to.rules.rules) out.push_back({"rules", rules_summary(from.rules), rules_summary(to.rules), true});
    if (from.impair != to.impair) {
        const auto names = [](const DaemonConfig& c) {
            std::string s;
            for (const ImpairRule& r : c.impair) s += (s.empty() ? "" : ", ") + r.name;
            return s.empty() ? std::string("none") : s;
        };
        // Live: every worker takes the new rules between bursts (rules kept by name and
        // settings keep their counters, flows and held packets).
        out.push_back({"impair", names(from), names(to), true});
    }
    return out;
}

std::vector<std::string> config_keys() {
    std::vector<std::string> keys;
    for (const Field& f : schema()) keys.push_back(f.key);
    keys.push_back("idle.profiles");
    keys.push_back("ports.device");
    keys.push_back("ports.mbufs");
    keys.push_back("ports.point");
    for (const char* k : {"id", "pattern", "literal", "flags", "direction", "ports", "severity", "tag", "event"}) {
        keys.push_back(std::string("rules.") + k);
    }
    for (const char* k : {"name", "action", "side", "hosts", "ports", "probability", "enabled"}) keys.push_back(std::string("impair.") + k);
    for (const std::string& k : impair_action_keys()) keys.push_back("impair." + k);
    return keys;
}

}  // namespace tcpsleuth
