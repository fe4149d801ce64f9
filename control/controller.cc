#include "controller.h"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>

#include "config/rules.h"
#include "control/flow_plot.h"
#include "control/live_page.h"
#include "inspectors/flow/flow_explain.h"
#include "inspectors/output/event_format.h"
#include "inspectors/evidence/idle_profiles.h"
#include "inspectors/output/json_writer.h"

namespace tcpsleuth::control {

std::string_view to_string(FlowSort s) noexcept {
    switch (s) {
        case FlowSort::kLastSeen: return "last_seen";
        case FlowSort::kFirstSeen: return "first_seen";
        case FlowSort::kBytes: return "bytes";
        case FlowSort::kRetransmissions: return "retransmissions";
        case FlowSort::kId: return "id";
    }
    return "?";
}

namespace {

struct Command {
    std::string_view name;
    std::string_view args;  // comma-separated names it accepts
    std::string_view help;
};

constexpr Command kCommands[] = {
    {"hello", "", "the daemon's version, protocol version and mode"},
    {"help", "", "every command with its arguments and help text"},
    {"version", "", "the daemon's version and protocol version"},
    {"uptime", "", "seconds since start"},
    {"stats", "", "ports (rx/tx/missed/errors), workers (packets, flows, events, parse counters, ring drops), events by kind"},
    {"flows", "addr,port,event,severity,app,sort,limit",
     "flows in the tables: addr and port match either end; event (a kind, or a list) and severity (info, warning, "
     "critical) match what a flow raised; app (\"http\", \"tls\", ...) the application a payload rule tagged it with; sort by last_seen (default), first_seen, bytes, retransmissions or id; "
     "limit (default 50, at most 10000)"},
    {"flow", "id", "one flow explained: every tracked field in both directions, its events, and what they mean"},
    {"pcap", "id",
     "a flow's recent packets from its worker's history (the first [history] snap_bytes of each, oldest first, "
     "at most 10000), base64 in \"packets\"; tcpsleuthctl pcap ID writes them as a pcapng"},
    {"plot", "id",
     "a flow's recent packets from its worker's history drawn as a time-sequence graph (SVG in \"svg\", with "
     "\"packets\" drawn); tcpsleuthctl flow ID --plot FILE writes it"},
    {"probe", "server,port,flow,tests",
     "run tcpsleuth probe from this host ([probe] enabled) toward server (\"HOST\", \"HOST:PORT\" or \"[V6]:PORT\"; "
     "port gives the port apart, default 80) or toward the server of flow ID: findings named as the sensor names them, with the hop where the device sits; tests as in "
     "[probe] tests unless given (\"options,ecn\"); the reply comes when the probe ends, one probe at a time"},
    {"events", "kind,severity,addr,port,flow,app,limit", "recent events, oldest first (limit: the newest N, default 50)"},
    {"subscribe", "kind,severity,addr,port,flow,app",
     "stream new events as JSON lines (as in the events file) until the client disconnects; filters as for events"},
    {"config.show", "", "the configuration in effect, as TOML"},
    {"reload", "", "re-read the configuration file; apply what can change live, refuse the rest (SIGHUP does the same)"},
    {"reopen", "", "reopen the events file and the log file under their names (after logrotate moved them; SIGHUP does it too)"},
    {"metrics", "", "counters in the Prometheus text exposition format"},
    {"impair", "", "the [[impair]] rules (inline): action, enabled, packets matched, dropped, rewritten, injected and delayed"},
    {"impair.enable", "name", "turn the [[impair]] rule NAME on (every worker, between bursts)"},
    {"impair.disable", "name", "turn the [[impair]] rule NAME off"},
    {"shutdown", "", "stop: finish the flows, write the last events and the report, exit"},
};

// RFC 4648 section 4 base64, padded: a packet's bytes inside JSON.
std::string base64(const std::uint8_t* p, std::size_t n) {
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((n + 2) / 3 * 4);
    for (std::size_t i = 0; i < n; i += 3) {
        const std::uint32_t v = std::uint32_t{p[i]} << 16 | (i + 1 < n ? std::uint32_t{p[i + 1]} << 8 : 0) |
                                (i + 2 < n ? std::uint32_t{p[i + 2]} : 0);
        out += kAlphabet[v >> 18 & 63];
        out += kAlphabet[v >> 12 & 63];
        out += i + 1 < n ? kAlphabet[v >> 6 & 63] : '=';
        out += i + 2 < n ? kAlphabet[v & 63] : '=';
    }
    return out;
}

const Command* find_command(std::string_view name) {
    for (const Command& c : kCommands) {
        if (c.name == name) return &c;
    }
    return nullptr;
}

std::string ok_reply(std::string_view data_json) {
    std::string out = "{\"ok\":true,\"data\":";
    out += data_json;
    return out + "}";
}

bool parse_address(const std::string& text, std::array<std::uint8_t, 16>& out) {
    out = {};
    std::uint8_t v4[4];
    if (inet_pton(AF_INET, text.c_str(), v4) == 1) {
        out[10] = out[11] = 0xff;
        std::copy(v4, v4 + 4, out.begin() + 12);
        return true;
    }
    return inet_pton(AF_INET6, text.c_str(), out.data()) == 1;
}

bool parse_severity(const std::string& s, Severity& out) {
    for (const Severity v : {Severity::kInfo, Severity::kWarning, Severity::kCritical}) {
        if (s == to_string(v)) {
            out = v;
            return true;
        }
    }
    return false;
}

// Kinds from a name or a list of names; an error names the unknown one.
bool parse_kinds(const json::Value& v, std::uint32_t& mask, std::string& error) {
    std::vector<const json::Value*> names;
    if (v.is_array()) {
        for (const json::Value& e : v.items()) names.push_back(&e);
    } else {
        names.push_back(&v);
    }
    for (const json::Value* n : names) {
        if (!n->is_string()) {
            error = "event: expected a kind name or a list of them";
            return false;
        }
        const auto it = std::find(kEventKinds.begin(), kEventKinds.end(), n->as_string());
        if (it == kEventKinds.end()) {
            error = "event: unknown kind \"" + n->as_string() + "\" (see the event catalog in DESIGN.md)";
            return false;
        }
        mask |= 1u << (it - kEventKinds.begin());
    }
    return true;
}

// The filter arguments `flows` and `events` share.
struct CommonFilter {
    std::array<std::uint8_t, 16> addr{};
    bool has_addr = false;
    std::uint16_t port = 0;
    std::uint32_t kinds = 0;
    std::uint8_t min_severity = 0;  // severity + 1
    std::uint64_t flow = 0;
    std::uint16_t app = 0;
    std::uint32_t limit = 50;
};

bool uint_arg(const json::Value& v, std::string_view name, std::uint64_t max, std::uint64_t& out, std::string& error) {
    if (!v.is_integer() || v.as_int() < 0 || static_cast<std::uint64_t>(v.as_int()) > max) {
        error = std::string(name) + ": expected an integer from 0 to " + std::to_string(max);
        return false;
    }
    out = static_cast<std::uint64_t>(v.as_int());
    return true;
}

// The `id` argument of `flow` and `pcap`: empty when `n` was set, else the error to reply.
std::string flow_id_arg(const json::Value& args, std::uint64_t& n) {
    const json::Value* id = args.find("id");
    std::string error;
    if (id == nullptr) return "id: which flow (`flows` lists their ids)";
    if (!uint_arg(*id, "id", UINT32_MAX, n, error) || n == 0) return "id: expected a flow id from 1 to 4294967295";
    return {};
}

std::string no_flow(std::uint64_t n) {
    return "no flow " + std::to_string(n) + " in the tables (ended, expired or never seen)";
}

bool read_filter(const json::Value& args, CommonFilter& f, std::uint32_t max_limit, std::string& error) {
    std::uint64_t n = 0;
    if (const json::Value* v = args.find("addr")) {
        if (!v->is_string() || !parse_address(v->as_string(), f.addr)) {
            error = "addr: expected an IPv4 or IPv6 address";
            return false;
        }
        f.has_addr = true;
    }
    if (const json::Value* v = args.find("port")) {
        if (!uint_arg(*v, "port", 65535, n, error)) return false;
        f.port = static_cast<std::uint16_t>(n);
    }
    if (const json::Value* v = args.find("event")) {
        if (!parse_kinds(*v, f.kinds, error)) return false;
    }
    if (const json::Value* v = args.find("kind")) {
        if (!parse_kinds(*v, f.kinds, error)) return false;
    }
    if (const json::Value* v = args.find("severity")) {
        Severity s{};
        if (!v->is_string() || !parse_severity(v->as_string(), s)) {
            error = "severity: expected \"info\", \"warning\" or \"critical\"";
            return false;
        }
        f.min_severity = static_cast<std::uint8_t>(static_cast<unsigned>(s) + 1);
    }
    if (const json::Value* v = args.find("flow")) {
        if (!uint_arg(*v, "flow", UINT64_MAX >> 1, f.flow, error)) return false;
    }
    if (const json::Value* v = args.find("app")) {
        f.app = v->is_string() ? rule_names().find(v->as_string()) : 0;
        if (f.app == 0) {
            error = "app: expected an application a rule tags flows with (tcpsleuth rules lists them), as \"http\"";
            return false;
        }
    }
    if (const json::Value* v = args.find("limit")) {
        if (!uint_arg(*v, "limit", max_limit, n, error)) return false;
        f.limit = static_cast<std::uint32_t>(n);
    }
    return true;
}

void write_kinds(JsonWriter& w, std::uint32_t kinds) {
    w.begin_array();
    for (std::size_t i = 0; i < kEventKinds.size(); ++i) {
        if ((kinds & (1u << i)) != 0) w.value(kEventKinds[i]);
    }
    w.end_array();
}

void write_summary(JsonWriter& w, const FlowSummary& s) {
    const FlowEndpoints ep = endpoints(s.key, s.client_is_lo);
    const unsigned c = s.client_is_lo ? 0 : 1, v = 1 - c;
    w.begin_object();
    w.field("id", s.id);
    w.field("client", ep.client).field("client_port", static_cast<std::uint32_t>(ep.client_port));
    w.field("server", ep.server).field("server_port", static_cast<std::uint32_t>(ep.server_port));
    if (s.key.vlan != 0) w.field("vlan", static_cast<std::uint32_t>(s.key.vlan));
    write_tunnel(w, s.tunnel.type != TunnelType::kNone ? &s.tunnel : nullptr, s.key);
    if (s.app != 0) w.field("app", rule_names().name(s.app));
    w.field("state", to_string(s.state));
    w.field("first_seen", format_timestamp(s.first_ns)).field("last_seen", format_timestamp(s.last_ns));
    w.key("duration_s").value(static_cast<double>(s.last_ns - s.first_ns) / 1e9);
    w.field("bytes_from_client", s.bytes[c]).field("bytes_from_server", s.bytes[v]);
    w.field("retransmissions_from_client", s.retransmissions[c]).field("retransmissions_from_server", s.retransmissions[v]);
    if (s.rtt_us != 0) w.key("rtt_ms").value(s.rtt_us / 1e3);
    if (s.zero_window[c] != 0 || s.zero_window[v] != 0) {
        w.field("zero_window", s.zero_window[c] != 0 ? (s.zero_window[v] != 0 ? "both" : "client") : "server");
    }
    w.key("events");
    write_kinds(w, s.event_kinds);
    if (s.worst_event != 0) w.field("worst", to_string(static_cast<Severity>(s.worst_event - 1)));
    w.end_object();
}

bool event_matches(const Event& e, const CommonFilter& f) {
    if (f.flow != 0 && e.flow_id != f.flow) return false;
    if (f.kinds != 0 && (f.kinds & (1u << e.detail.index())) == 0) return false;
    if (f.min_severity != 0 && static_cast<unsigned>(e.severity) + 1 < f.min_severity) return false;
    if (f.has_addr && e.key.addr_lo != f.addr && e.key.addr_hi != f.addr) return false;
    if (f.port != 0 && e.key.port_lo != f.port && e.key.port_hi != f.port) return false;
    return true;
}

std::string metric_name(std::string_view dotted) {
    std::string out = "tcpsleuth_";
    for (const char c : dotted) out += c == '.' ? '_' : c;
    return out;
}

std::string label_value(std::string_view v) {
    std::string out;
    for (const char c : v) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

}  // namespace

Controller::Controller(Backend& backend, const DaemonConfig& cfg, const DaemonConfig& file_cfg, std::string config_path)
    : backend_(backend), cfg_(cfg), file_cfg_(file_cfg), config_path_(std::move(config_path)),
      server_([this](ClientId id, std::string_view line) { on_request(id, line); }),
      events_by_kind_(kEventKinds.size(), 0) {}

void Controller::on_event(const Event& e, std::string_view json_line) {
    ++events_total_;
    ++events_by_kind_[e.detail.index()];
    if (cfg_.control.event_history != 0) {
        if (history_.size() >= cfg_.control.event_history) history_.pop_front();
        history_.push_back(e);
    }
    if (subscriptions_.empty()) return;
    server_.publish(json_line, [&](ClientId id) {
        const auto it = subscriptions_.find(id);
        return it == subscriptions_.end() || it->second(e);
    });
}

void Controller::on_request(ClientId id, std::string_view line) {
    handle(line, [this, id](std::string reply) { server_.reply(id, reply); }, id);
}

void Controller::start_probe(const std::string& spec, const std::vector<std::string>& tests, std::function<void(std::string)> reply) {
    probe::Target target;
    std::string error;
    if (!probe::resolve_target(spec, AF_UNSPEC, target, error)) return reply(error_line(error));
    if (const std::string why = probe::refused_target(target); !why.empty()) {
        return reply(error_line(target.text + " is " + why + ": probes go to one host"));
    }
    probe::Run run;
    run.tests = tests;
    run.limits.rate_pps = cfg_.probe.rate_pps;
    run.limits.max_packets = cfg_.probe.max_packets;
    run.source = cfg_.probe.source;
    spdlog::info("probe toward {} port {}: {} packets at most, {} per second", target.text, target.port, run.limits.max_packets,
                 cfg_.probe.rate_pps);
    probe_job_.start(std::move(target), std::move(run), [reply](bool ok, std::string data) {
        reply(ok ? ok_reply(data) : error_line(data));
    });
}

bool Controller::page(std::string_view path, std::string_view query, MetricsHttp::Respond respond) {
    if (path == "/" || path == "/index.html") {
        respond(200, "text/html; charset=utf-8", std::string(live_page_html()));
        return true;
    }
    if (!path.starts_with("/api/")) return false;
    std::string line, error;
    if (!api_request(path, query, line, error)) {
        respond(400, "application/json", error_line(error));
        return true;
    }
    handle(line, [respond](std::string reply) { respond(200, "application/json", std::move(reply)); });
    return true;
}

void Controller::handle(std::string_view request, std::function<void(std::string)> reply, ClientId client) {
    const json::ParseResult parsed = json::parse(request);
    if (!parsed.value) return reply(error_line("malformed JSON " + parsed.error));
    const json::Value& req = *parsed.value;
    if (!req.is_object()) return reply(error_line("a request is a JSON object: {\"cmd\":\"help\"}"));
    const json::Value* cmd = req.find("cmd");
    if (cmd == nullptr || !cmd->is_string()) return reply(error_line("\"cmd\" missing or not a string: {\"cmd\":\"help\"} lists the commands"));
    for (const auto& [k, v] : req.members()) {
        if (k != "cmd" && k != "args" && k != "id") return reply(error_line("unknown request member \"" + k + "\" (cmd, args)"));
    }
    const Command* c = find_command(cmd->as_string());
    if (c == nullptr) return reply(error_line("unknown command \"" + cmd->as_string() + "\"; {\"cmd\":\"help\"} lists the commands"));
    static const json::Value kNoArgs = json::Value::object({});
    const json::Value* args = req.find("args");
    if (args == nullptr || args->is_null()) args = &kNoArgs;
    if (!args->is_object()) return reply(error_line("\"args\" must be an object"));
    for (const auto& [k, v] : args->members()) {
        bool known = false;
        std::string_view list = c->args;
        while (!list.empty()) {
            const std::size_t comma = list.find(',');
            known |= list.substr(0, comma) == k;
            list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
        }
        if (!known) {
            return reply(error_line("unknown argument \"" + k + "\" for " + std::string(c->name) +
                                     (c->args.empty() ? " (it takes none)" : " (known: " + std::string(c->args) + ")")));
        }
    }
    spdlog::debug("control: {}", request);
    dispatch(cmd->as_string(), *args, client, std::move(reply));
}

void Controller::dispatch(const std::string& cmd, const json::Value& args, ClientId client, std::function<void(std::string)> reply) {
    std::string data;
    JsonWriter w(data);
    if (cmd == "hello" || cmd == "version") {
        w.begin_object().field("version", TCPSLEUTH_VERSION).field("protocol", kProtocolVersion);
        if (cmd == "hello") w.field("mode", backend_.snapshot().mode);
        w.end_object();
        return reply(ok_reply(data));
    }
    if (cmd == "help") return reply(ok_reply(help_json()));
    if (cmd == "uptime") {
        const double up = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
        w.begin_object().key("uptime_s").value(up, 1).end_object();
        return reply(ok_reply(data));
    }
    if (cmd == "stats") return reply(ok_reply(stats_json()));
    if (cmd == "impair") {
        w.begin_object().key("rules");
        impair_json(w, backend_.snapshot().impair);
        w.end_object();
        return reply(ok_reply(data));
    }
    if (cmd == "impair.enable" || cmd == "impair.disable") {
        const json::Value* name = args.find("name");
        if (name == nullptr || !name->is_string()) return reply(error_line("name: the rule's name (a string) is needed"));
        std::string error;
        if (!backend_.set_impair_enabled(name->as_string(), cmd == "impair.enable", error)) return reply(error_line(error));
        w.begin_object().field("name", name->as_string()).field("enabled", cmd == "impair.enable").end_object();
        return reply(ok_reply(data));
    }
    if (cmd == "metrics") {
        w.begin_object().field("text", metrics_text()).end_object();
        return reply(ok_reply(data));
    }
    if (cmd == "config.show") {
        w.begin_object().field("path", config_path_).field("toml", render_config(cfg_)).end_object();
        return reply(ok_reply(data));
    }
    if (cmd == "events") {
        std::string error;
        std::string out = events_json(args, error);
        return reply(error.empty() ? ok_reply(out) : error_line(error));
    }
    if (cmd == "flows") {
        CommonFilter f;
        std::string error;
        if (!read_filter(args, f, FlowQuery::kMaxLimit, error)) return reply(error_line(error));
        FlowQuery q;
        q.filter = {.addr = f.addr, .has_addr = f.has_addr, .port = f.port, .event_kinds = f.kinds, .min_severity = f.min_severity,
                    .app = f.app};
        q.limit = f.limit;
        if (const json::Value* s = args.find("sort")) {
            bool found = false;
            for (const FlowSort v : {FlowSort::kLastSeen, FlowSort::kFirstSeen, FlowSort::kBytes, FlowSort::kRetransmissions, FlowSort::kId}) {
                if (s->is_string() && s->as_string() == to_string(v)) {
                    q.sort = v;
                    found = true;
                }
            }
            if (!found) return reply(error_line("sort: expected last_seen, first_seen, bytes, retransmissions or id"));
        }
        backend_.query_flows(q, [reply, q](FlowListing listing) {
            std::string out;
            JsonWriter jw(out);
            jw.begin_object().field("matched", listing.matched).field("shown", static_cast<std::uint64_t>(listing.flows.size()));
            jw.field("sort", to_string(q.sort)).key("flows").begin_array();
            for (const FlowSummary& s : listing.flows) write_summary(jw, s);
            jw.end_array().end_object();
            reply(ok_reply(out));
        });
        return;
    }
    if (cmd == "flow") {
        std::uint64_t n = 0;
        if (const std::string error = flow_id_arg(args, n); !error.empty()) return reply(error_line(error));
        backend_.find_flow(n, [this, reply, n](std::optional<FlowState> f) {
            if (!f) return reply(error_line(no_flow(n)));
            reply(ok_reply(flow_json(*f)));
        });
        return;
    }
    if (cmd == "plot") {
        std::uint64_t n = 0;
        if (const std::string error = flow_id_arg(args, n); !error.empty()) return reply(error_line(error));
        backend_.flow_packets(n, [this, reply, n](std::optional<FlowPackets> fp) {
            if (!fp) return reply(error_line(no_flow(n)));
            if (fp->history_packets == 0) {
                return reply(error_line("no packet history is kept ([history] packets = 0; analyze keeps one only with --control or --metrics)"));
            }
            std::string out;
            JsonWriter jw(out);
            jw.begin_object().field("flow", n).field("packets", static_cast<std::uint64_t>(fp->entries.size()));
            jw.field("more", fp->more).field("svg", flow_plot_svg(*fp, n, cfg_.inspect.decap)).end_object();
            reply(ok_reply(out));
        });
        return;
    }
    if (cmd == "probe") {
        if (!cfg_.probe.enabled) return reply(error_line("probing is off: [probe] enabled = true turns it on"));
        if (probe_job_.busy()) return reply(error_line("a probe is running; one at a time"));
        const json::Value* tests_arg = args.find("tests");
        if (tests_arg != nullptr && !tests_arg->is_string()) return reply(error_line("tests: expected a string such as \"options,ecn\""));
        std::vector<std::string> tests;
        std::string why;
        if (!parse_probe_tests(tests_arg != nullptr ? tests_arg->as_string() : cfg_.probe.tests, tests, why)) {
            return reply(error_line("tests: " + why));
        }
        if (args.find("flow") != nullptr) {
            std::uint64_t n = 0;
            std::string error;
            if (!uint_arg(*args.find("flow"), "flow", UINT32_MAX, n, error) || n == 0) return reply(error_line("flow: expected a flow id"));
            backend_.find_flow(n, [this, reply, n, tests](std::optional<FlowState> f) {
                if (!f) return reply(error_line(no_flow(n)));
                const FlowEndpoints ep = endpoints(f->common.key, f->common.client_is_lo());
                const bool v6 = ep.server.find(':') != std::string::npos;
                start_probe((v6 ? "[" + ep.server + "]" : ep.server) + ":" + std::to_string(ep.server_port), tests, reply);
            });
            return;
        }
        const json::Value* server = args.find("server");
        if (server == nullptr || !server->is_string()) return reply(error_line("server: which host (or flow: a flow's server)"));
        std::uint64_t port = 80;
        std::string error;
        if (const json::Value* p = args.find("port"); p != nullptr && (!uint_arg(*p, "port", 65535, port, error) || port == 0)) {
            return reply(error_line("port: expected a number from 1 to 65535"));
        }
        // "server" may carry its port as `tcpsleuth probe` takes it (HOST:PORT, [V6]:PORT);
        // a "port" argument goes with a bare host.
        const std::string& host = server->as_string();
        if (args.find("port") == nullptr) return start_probe(host, tests, reply);
        const bool v6 = host.find(':') != std::string::npos;
        start_probe((v6 ? "[" + host + "]" : host) + ":" + std::to_string(port), tests, reply);
        return;
    }
    if (cmd == "pcap") {
        std::uint64_t n = 0;
        if (const std::string error = flow_id_arg(args, n); !error.empty()) return reply(error_line(error));
        backend_.flow_packets(n, [reply, n](std::optional<FlowPackets> fp) {
            if (!fp) return reply(error_line(no_flow(n)));
            if (fp->history_packets == 0) {
                return reply(error_line("no packet history is kept ([history] packets = 0; analyze keeps one only with --control or --metrics)"));
            }
            std::string out;
            JsonWriter jw(out);
            const FlowEndpoints ep = endpoints(fp->flow.common.key, fp->flow.common.client_is_lo());
            jw.begin_object().field("flow", n).field("client", ep.client).field("client_port", static_cast<std::uint32_t>(ep.client_port));
            jw.field("server", ep.server).field("server_port", static_cast<std::uint32_t>(ep.server_port));
            jw.field("snap", fp->snap).field("history_packets", fp->history_packets).field("more", fp->more);
            jw.key("packets").begin_array();
            std::size_t at = 0;
            for (const PacketHistory::Entry& e : fp->entries) {
                jw.begin_object().field("number", e.number).field("ts_ns", e.ts_ns).field("wire_len", e.wire_len);
                jw.field("link", static_cast<std::uint32_t>(e.link)).field("data", base64(fp->bytes.data() + at, e.cap_len));
                jw.end_object();
                at += e.cap_len;
            }
            jw.end_array().end_object();
            reply(ok_reply(out));
        });
        return;
    }
    if (cmd == "subscribe") {
        CommonFilter f;
        std::string error;
        if (!read_filter(args, f, 0, error)) return reply(error_line(error));
        // The acknowledgement goes first; events follow on the same connection.
        if (client != 0) {
            std::erase_if(subscriptions_, [this](const auto& s) { return !server_.connected(s.first); });
            subscriptions_[client] = [f](const Event& e) { return event_matches(e, f); };
            server_.subscribe(client);
        }
        w.begin_object().field("subscribed", true).field("buffer_bytes", static_cast<std::uint64_t>(cfg_.control.subscriber_buffer_kb) * 1024).end_object();
        reply(ok_reply(data));
        return;
    }
    if (cmd == "reload") {
        reload([reply](bool ok, std::string message) { reply(ok ? ok_reply(message) : error_line(message)); });
        return;
    }
    if (cmd == "reopen") {
        std::string message;
        if (!backend_.reopen_outputs(message)) return reply(error_line(message));
        w.begin_object().field("reopened", message).end_object();
        return reply(ok_reply(data));
    }
    if (cmd == "shutdown") {
        spdlog::info("control: shutdown requested");
        backend_.request_shutdown();
        w.begin_object().field("stopping", true).end_object();
        return reply(ok_reply(data));
    }
    reply(error_line("command \"" + cmd + "\" is listed but not handled"));
}

std::string Controller::help_json() const {
    std::string out;
    JsonWriter w(out);
    w.begin_array();
    for (const Command& c : kCommands) {
        w.begin_object().field("cmd", c.name).field("args", c.args).field("help", c.help).end_object();
    }
    w.end_array();
    return out;
}

void Controller::impair_json(JsonWriter& w, const std::vector<ImpairStats>& rules) {
    w.begin_array();
    for (const ImpairStats& r : rules) {
        w.begin_object().field("name", r.name).field("action", r.action).field("enabled", r.enabled);
        w.field("matched", r.matched).field("dropped", r.dropped).field("rewritten", r.rewritten);
        w.field("injected", r.injected).field("delayed", r.delayed).end_object();
    }
    w.end_array();
}

std::string Controller::stats_json() {
    const Snapshot s = backend_.snapshot();
    std::string out;
    JsonWriter w(out);
    w.begin_object().field("mode", s.mode);
    w.key("uptime_s").value(std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count(), 1);
    if (s.progress) {
        const Progress& p = *s.progress;
        w.key("progress").begin_object().field("file", p.file).field("bytes_read", p.bytes_read).field("file_bytes", p.file_bytes);
        w.key("percent").value(p.file_bytes != 0 ? 100.0 * static_cast<double>(p.bytes_read) / static_cast<double>(p.file_bytes) : 0.0, 1);
        w.field("done", p.done).end_object();
    }
    w.key("ports").begin_array();
    for (const PortStats& p : s.ports) {
        w.begin_object().field("name", p.name).field("device", p.device).field("rx_packets", p.rx_packets);
        w.field("tx_packets", p.tx_packets).field("rx_missed", p.rx_missed).field("rx_errors", p.rx_errors);
        w.field("tx_errors", p.tx_errors).field("rx_nombuf", p.rx_nombuf).field("tx_dropped", p.tx_dropped).end_object();
    }
    w.end_array();
    CoreCounters total;
    w.key("workers").begin_array();
    for (std::size_t i = 0; i < s.workers.size(); ++i) {
        const WorkerStats& ws = s.workers[i];
        const auto c = [&](Counter k) { return ws.counters->get(k); };
        for (std::size_t k = 0; k < kCounterCount; ++k) total.add(static_cast<Counter>(k), c(static_cast<Counter>(k)));
        w.begin_object().field("worker", static_cast<std::uint64_t>(i)).field("packets", c(Counter::kRxPackets));
        w.field("bytes", c(Counter::kRxBytes)).field("flows_active", ws.flows_active).field("flow_capacity", ws.flow_capacity);
        w.field("flows_created", c(Counter::kFlowCreated)).field("flows_expired", c(Counter::kFlowExpired));
        w.field("flows_evicted", c(Counter::kFlowEvicted)).field("events", c(Counter::kEventsEmitted));
        w.field("events_lost", c(Counter::kEventsDropped)).field("wrong_core", c(Counter::kFlowWrongCore));
        w.field("ring_full", ws.ring_full).end_object();
    }
    w.end_array();
    w.key("counters").begin_object();
    for (const CounterInfo& ci : kCounterInfo) w.field(ci.name, total.get(ci.id));
    w.end_object();
    w.key("events").begin_object().field("total", events_total_).key("by_kind").begin_object();
    for (std::size_t i = 0; i < kEventKinds.size(); ++i) {
        if (events_by_kind_[i] != 0) w.field(kEventKinds[i], events_by_kind_[i]);
    }
    w.end_object().end_object();
    w.key("control").begin_object().field("clients", static_cast<std::uint64_t>(server_.clients()));
    w.field("subscribers", static_cast<std::uint64_t>(server_.subscribers())).field("requests", server_.requests());
    w.field("reloads", reloads_).field("reload_failures", reload_failures_).end_object();
    if (!s.impair.empty()) {
        w.key("impair");
        impair_json(w, s.impair);
    }
    w.end_object();
    return out;
}

std::string Controller::metrics_text() {
    const Snapshot s = backend_.snapshot();
    std::string out;
    const auto line = [&](const std::string& name, const std::string& labels, std::uint64_t v) {
        out += name;
        if (!labels.empty()) {
            out += '{';
            out += labels;
            out += '}';
        }
        out += ' ';
        out += std::to_string(v);
        out += '\n';
    };
    const auto head = [&](const std::string& name, std::string_view type, std::string_view help) {
        out += "# HELP " + name + " " + std::string(help) + "\n# TYPE " + name + " " + std::string(type) + "\n";
    };
    head("tcpsleuth_build_info", "gauge", "version and mode of this tcpsleuth");
    line("tcpsleuth_build_info", "version=\"" TCPSLEUTH_VERSION "\",mode=\"" + label_value(s.mode) + "\"", 1);
    head("tcpsleuth_uptime_seconds", "gauge", "seconds since start");
    line("tcpsleuth_uptime_seconds", "",
         static_cast<std::uint64_t>(std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count()));
    const struct {
        const char* name;
        const char* help;
        std::uint64_t PortStats::*field;
    } port_fields[] = {
        {"tcpsleuth_port_rx_packets_total", "packets the port received", &PortStats::rx_packets},
        {"tcpsleuth_port_tx_packets_total", "packets the port sent", &PortStats::tx_packets},
        {"tcpsleuth_port_rx_missed_total", "packets the NIC dropped, no descriptor free", &PortStats::rx_missed},
        {"tcpsleuth_port_rx_errors_total", "erroneous packets received", &PortStats::rx_errors},
        {"tcpsleuth_port_tx_errors_total", "failed transmissions", &PortStats::tx_errors},
        {"tcpsleuth_port_rx_nombuf_total", "receive failures for lack of packet buffers", &PortStats::rx_nombuf},
        {"tcpsleuth_port_tx_dropped_total", "inline: packets dropped, transmit queue full", &PortStats::tx_dropped},
    };
    for (const auto& f : port_fields) {
        if (s.ports.empty()) break;
        head(f.name, "counter", f.help);
        for (const PortStats& p : s.ports) line(f.name, "port=\"" + label_value(p.name) + "\"", p.*(f.field));
    }
    head("tcpsleuth_flows_active", "gauge", "flows in the worker's table");
    for (std::size_t i = 0; i < s.workers.size(); ++i) line("tcpsleuth_flows_active", "worker=\"" + std::to_string(i) + "\"", s.workers[i].flows_active);
    head("tcpsleuth_flow_capacity", "gauge", "flows the worker's table holds");
    for (std::size_t i = 0; i < s.workers.size(); ++i) line("tcpsleuth_flow_capacity", "worker=\"" + std::to_string(i) + "\"", s.workers[i].flow_capacity);
    head("tcpsleuth_ring_full_total", "counter", "software distribution: packets dropped, the worker's ring full");
    for (std::size_t i = 0; i < s.workers.size(); ++i) line("tcpsleuth_ring_full_total", "worker=\"" + std::to_string(i) + "\"", s.workers[i].ring_full);
    for (const CounterInfo& ci : kCounterInfo) {
        const std::string name = metric_name(ci.name) + "_total";
        head(name, "counter", ci.help);
        for (std::size_t i = 0; i < s.workers.size(); ++i) line(name, "worker=\"" + std::to_string(i) + "\"", s.workers[i].counters->get(ci.id));
    }
    head("tcpsleuth_events_total", "counter", "events written, by kind");
    for (std::size_t i = 0; i < kEventKinds.size(); ++i) line("tcpsleuth_events_total", "kind=\"" + std::string(kEventKinds[i]) + "\"", events_by_kind_[i]);
    const struct {
        const char* name;
        const char* help;
        std::uint64_t ImpairStats::*field;
    } impair_fields[] = {
        {"tcpsleuth_impair_matched_total", "packets an [[impair]] rule matched", &ImpairStats::matched},
        {"tcpsleuth_impair_dropped_total", "packets an [[impair]] rule dropped", &ImpairStats::dropped},
        {"tcpsleuth_impair_rewritten_total", "packets an [[impair]] rule rewrote", &ImpairStats::rewritten},
        {"tcpsleuth_impair_injected_total", "packets an [[impair]] rule sent of its own (RSTs, ICMP errors)", &ImpairStats::injected},
        {"tcpsleuth_impair_delayed_total", "packets an [[impair]] rule held back (delay, rate)", &ImpairStats::delayed},
    };
    for (const auto& f : impair_fields) {
        if (s.impair.empty()) break;
        head(f.name, "counter", f.help);
        for (const ImpairStats& r : s.impair) {
            line(f.name, "rule=\"" + label_value(r.name) + "\",action=\"" + r.action + "\"", r.*(f.field));
        }
    }
    for (std::size_t i = 0; i < s.more.size(); ++i) {
        const MetricSample& m = s.more[i];
        if (i == 0 || s.more[i - 1].name != m.name) head(m.name, m.type, m.help);
        line(m.name, m.labels, m.value);
    }
    head("tcpsleuth_control_clients", "gauge", "clients connected to the control socket");
    line("tcpsleuth_control_clients", "", server_.clients());
    head("tcpsleuth_metrics_scrapes_total", "counter", "GET /metrics answered by the [metrics] endpoint");
    line("tcpsleuth_metrics_scrapes_total", "", metrics_http_.scrapes());
    head("tcpsleuth_metrics_refused_total", "counter", "scrapes refused, [metrics] max_clients busy");
    line("tcpsleuth_metrics_refused_total", "", metrics_http_.refused());
    head("tcpsleuth_reloads_total", "counter", "configuration reloads applied");
    line("tcpsleuth_reloads_total", "", reloads_);
    head("tcpsleuth_reload_failures_total", "counter", "configuration reloads refused");
    line("tcpsleuth_reload_failures_total", "", reload_failures_);
    return out;
}

std::string Controller::events_json(const json::Value& args, std::string& error) const {
    CommonFilter f;
    if (!read_filter(args, f, std::max<std::uint32_t>(cfg_.control.event_history, 1), error)) return {};
    std::vector<const Event*> hits;
    for (auto it = history_.rbegin(); it != history_.rend() && hits.size() < f.limit; ++it) {
        if (event_matches(*it, f)) hits.push_back(&*it);
    }
    std::string out = "{\"history\":" + std::to_string(history_.size()) + ",\"events\":[";
    for (auto it = hits.rbegin(); it != hits.rend(); ++it) {
        if (it != hits.rbegin()) out += ',';
        out += format_event_json(**it);
    }
    return out + "]}";
}

std::string Controller::flow_json(const FlowState& f) const {
    const FlowCommon& c = f.common;
    std::string out;
    JsonWriter w(out);
    w.begin_object().key("flow");
    write_summary(w, summarize(c));
    write_tracked_fields(w, f);
    std::vector<std::string> said = explain_tracking(c);
    w.key("events").begin_array();
    std::size_t found = 0;
    for (const Event& e : history_) {
        if (e.flow_id != c.id) continue;
        w.raw(format_event_json(e));
        said.push_back(std::string(event_name(e)) + ": " + event_summary(e));
        ++found;
    }
    w.end_array();
    if (c.event_kinds != 0 && found == 0) {
        said.emplace_back("It raised events that are no longer in the event history (control.event_history).");
    } else if (c.event_kinds == 0) {
        said.emplace_back("No diagnosis: nothing in this flow crossed a threshold.");
    }
    w.key("explanation").begin_array();
    for (const std::string& s : said) w.value(s);
    w.end_array().end_object();
    return out;
}

void Controller::reload(std::function<void(bool, std::string)> done) {
    if (config_path_.empty()) {
        ++reload_failures_;
        return done(false, "started without a configuration file: nothing to reload");
    }
    ConfigLoad load = load_config_file(config_path_);
    if (!load.ok()) {
        ++reload_failures_;
        std::string msg = config_path_ + ": " + std::to_string(load.errors.size()) + " problem(s), nothing changed:";
        for (const ConfigError& e : load.errors) msg += "\n" + e.to_string();
        spdlog::error("reload refused: {}", msg);
        return done(false, msg);
    }
    // Compared with the file as it was loaded: command-line overrides (--events, --workers,
    // --flows, --control) are not changes, and only ever touch keys a reload cannot change.
    DaemonConfig next = std::move(load.config);
    const std::vector<ConfigChange> changes = config_changes(file_cfg_, next);
    std::string refused;
    for (const ConfigChange& c : changes) {
        if (!c.live) refused += "\n" + c.key + ": " + c.from + " -> " + c.to + " needs a restart";
    }
    if (!refused.empty()) {
        ++reload_failures_;
        const std::string msg = config_path_ + ": nothing changed; these keys cannot change while running:" + refused;
        spdlog::error("reload refused: {}", msg);
        return done(false, msg);
    }
    std::string data;
    JsonWriter w(data);
    w.begin_object().field("path", config_path_).key("applied").begin_array();
    for (const ConfigChange& c : changes) w.begin_object().field("key", c.key).field("from", c.from).field("to", c.to).end_object();
    w.end_array().end_object();
    if (changes.empty()) {
        spdlog::info("reload: {} unchanged", config_path_);
        return done(true, data);
    }
    DaemonConfig effective = next;
    effective.output.events = cfg_.output.events;
    effective.output.report = cfg_.output.report;
    effective.workers.count = cfg_.workers.count;
    effective.control.socket = cfg_.control.socket;
    effective.inspect.flows.capacity = cfg_.inspect.flows.capacity;
    effective.inspect.flows.cold_records = cfg_.inspect.flows.cold_records;
    // The file was compiled again on loading; with the same rules the workers keep theirs,
    // and the flows being scanned go on.
    if (next.rules == file_cfg_.rules) effective.inspect.payload.rules = cfg_.inspect.payload.rules;
    backend_.apply_config(effective, [this, next, effective, changes, data, done] {
        file_cfg_ = next;
        cfg_ = effective;
        server_.set_subscriber_buffer(static_cast<std::size_t>(cfg_.control.subscriber_buffer_kb) * 1024);
        set_idle_profiles(cfg_.idle_profiles);
        ++reloads_;
        for (const ConfigChange& c : changes) spdlog::info("reload: {} {} -> {}", c.key, c.from, c.to);
        done(true, data);
    });
}

}  // namespace tcpsleuth::control
