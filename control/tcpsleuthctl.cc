// tcpsleuthctl: asks a running tcpsleuth (or `analyze --control`) over its control socket
// and prints the answer as aligned tables, or as JSON for scripts.
//
// exit status: 0 ok, 1 the daemon answered with an error (or bad usage), 2 cannot connect.

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "control/json.h"
#include "dataplane/pcap/pcapng_writer.h"
#include "inspectors/output/json_writer.h"

namespace {

using tcpsleuth::JsonWriter;
using tcpsleuth::json::Value;

constexpr const char* kDefaultSocket = "/run/tcpsleuth/tcpsleuth.sock";

constexpr const char* kUsage =
    "usage: tcpsleuthctl [--socket PATH] [--json] COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  stats                      ports, workers, counters and events by kind\n"
    "  flows [filters]            flows in the tables, as a table\n"
    "      --addr A --port P --event KIND[,KIND] --severity info|warning|critical --app APP\n"
    "      --sort last_seen|first_seen|bytes|retransmissions|id --limit N\n"
    "  flow ID [--plot FILE]      one flow explained, both directions, its events; --plot: its recent\n"
    "                             packets drawn as a time-sequence graph, an SVG in FILE ('-' stdout)\n"
    "  pcap ID [-o FILE]          the flow's recent packets from its worker's history, as a pcapng\n"
    "                             (default flow-ID.pcapng; -o - writes to standard output)\n"
    "  probe HOST[:PORT] | --flow ID [--tests LIST]\n"
    "                             tcpsleuth probe from the daemon's host ([probe] enabled) toward HOST or\n"
    "                             the server of flow ID: findings with the hop where the device sits\n"
    "  events [filters] [-f]      recent events (--kind, --severity, --addr, --port, --flow, --app, --limit);\n"
    "                             -f keeps following new ones\n"
    "  subscribe                  stream every new event as a JSON line\n"
    "  config                     the configuration in effect (TOML)\n"
    "  reload                     re-read the configuration file, apply what can change live\n"
    "  reopen                     reopen the events and log files under their names (logrotate postrotate)\n"
    "  metrics                    Prometheus text exposition\n"
    "  impair [enable|disable NAME]\n"
    "                             the [[impair]] rules (inline) with their counters; turn one on or off\n"
    "  shutdown                   stop the daemon (flows finished, report written)\n"
    "  version | uptime | hello | help\n"
    "  call CMD [JSON-ARGS]       any command, arguments as a JSON object\n"
    "\n"
    "options:\n"
    "  --socket PATH  the control socket (default: $TCPSLEUTH_SOCKET, else /run/tcpsleuth/tcpsleuth.sock)\n"
    "  --json         print the reply's data as JSON instead of tables\n"
    "\n"
    "exit status: 0 ok, 1 error reply or usage error, 2 cannot connect\n";

class Connection {
public:
    ~Connection() {
        if (fd_ >= 0) ::close(fd_);
    }
    bool connect(const std::string& path, std::string& error) {
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (path.size() >= sizeof addr.sun_path) {
            error = "socket path too long";
            return false;
        }
        std::memcpy(addr.sun_path, path.data(), path.size());
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0 || ::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
            error = std::strerror(errno);
            return false;
        }
        return true;
    }
    bool send_line(const std::string& line) {
        std::string data = line + "\n";
        std::size_t sent = 0;
        while (sent < data.size()) {
            const ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) return false;
            sent += static_cast<std::size_t>(n);
        }
        return true;
    }
    // One line, without its newline; nullopt when the daemon closed the connection.
    std::optional<std::string> read_line() {
        for (;;) {
            const std::size_t nl = buf_.find('\n');
            if (nl != std::string::npos) {
                std::string line = buf_.substr(0, nl);
                buf_.erase(0, nl + 1);
                return line;
            }
            char chunk[65536];
            const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
            if (n <= 0) return std::nullopt;
            buf_.append(chunk, static_cast<std::size_t>(n));
        }
    }

private:
    int fd_ = -1;
    std::string buf_;
};

struct Ctl {
    std::string socket;
    bool json = false;
};

[[noreturn]] void cannot_connect(const std::string& path, const std::string& why) {
    std::fprintf(stderr, "tcpsleuthctl: cannot connect to %s: %s (is tcpsleuth running with control.socket = \"%s\"?)\n",
                 path.c_str(), why.c_str(), path.c_str());
    std::exit(2);
}

// Sends one request and returns the reply's data; exits 1 on an error reply.
Value request(const Ctl& ctl, const std::string& cmd, const std::string& args_json, Connection* keep = nullptr) {
    Connection local;
    Connection& c = keep != nullptr ? *keep : local;
    std::string error;
    if (!c.connect(ctl.socket, error)) cannot_connect(ctl.socket, error);
    std::string req;
    JsonWriter w(req);
    w.begin_object().field("cmd", cmd).key("args").raw(args_json.empty() ? "{}" : args_json).end_object();
    if (!c.send_line(req)) cannot_connect(ctl.socket, "the daemon closed the connection");
    const std::optional<std::string> line = c.read_line();
    if (!line) cannot_connect(ctl.socket, "the daemon closed the connection without a reply");
    const auto parsed = tcpsleuth::json::parse(*line);
    if (!parsed.value || !parsed.value->is_object()) {
        std::fprintf(stderr, "tcpsleuthctl: unreadable reply (%s): %s\n", parsed.error.c_str(), line->c_str());
        std::exit(1);
    }
    const Value& reply = *parsed.value;
    if (!reply["ok"].is_bool() || !reply["ok"].as_bool()) {
        std::fprintf(stderr, "tcpsleuthctl: %s: %s\n", cmd.c_str(),
                     reply["error"].is_string() ? reply["error"].as_string().c_str() : line->c_str());
        std::exit(1);
    }
    return reply["data"];
}

std::string text(const Value& v) {
    switch (v.type()) {
        case Value::Type::kNull: return "-";
        case Value::Type::kBool: return v.as_bool() ? "yes" : "no";
        case Value::Type::kNumber: {
            if (v.is_integer()) return std::to_string(v.as_int());
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.3f", v.as_double());
            return buf;
        }
        case Value::Type::kString: return v.as_string();
        case Value::Type::kArray: {
            std::string s;
            for (const Value& e : v.items()) s += (s.empty() ? "" : ",") + text(e);
            return s.empty() ? "-" : s;
        }
        case Value::Type::kObject: return v.dump();
    }
    return "";
}

// Columns sized to their widest cell; numbers right-aligned.
class Table {
public:
    explicit Table(std::vector<std::string> head) : rows_{std::move(head)} {}
    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
    void print() const {
        std::vector<std::size_t> width(rows_[0].size(), 0);
        std::vector<bool> numeric(rows_[0].size(), true);
        for (std::size_t r = 0; r < rows_.size(); ++r) {
            for (std::size_t i = 0; i < rows_[r].size() && i < width.size(); ++i) {
                width[i] = std::max(width[i], rows_[r][i].size());
                if (r > 0 && rows_[r][i].find_first_not_of("0123456789.-") != std::string::npos) numeric[i] = false;
            }
        }
        for (const auto& row : rows_) {
            std::string line;
            for (std::size_t i = 0; i < row.size() && i < width.size(); ++i) {
                const std::string& cell = row[i];
                const std::string pad(width[i] - cell.size(), ' ');
                const bool last = i + 1 == row.size();
                line += numeric[i] ? pad + cell : (last ? cell : cell + pad);
                if (!last) line += "  ";
            }
            std::printf("%s\n", line.c_str());
        }
    }

private:
    std::vector<std::vector<std::string>> rows_;
};

void print_stats(const Value& d) {
    std::printf("mode %s, up %s s", text(d["mode"]).c_str(), text(d["uptime_s"]).c_str());
    if (const Value* p = d.find("progress")) {
        std::printf(", %s: %s%% of %s bytes%s", text((*p)["file"]).c_str(), text((*p)["percent"]).c_str(),
                    text((*p)["file_bytes"]).c_str(), (*p)["done"].as_bool() ? " (done)" : "");
    }
    std::printf("\n");
    if (!d["ports"].items().empty()) {
        std::printf("\n");
        Table t({"port", "rx_packets", "tx_packets", "rx_missed", "rx_errors", "tx_errors", "rx_nombuf", "tx_dropped"});
        for (const Value& p : d["ports"].items()) {
            t.add({text(p["name"]), text(p["rx_packets"]), text(p["tx_packets"]), text(p["rx_missed"]), text(p["rx_errors"]),
                   text(p["tx_errors"]), text(p["rx_nombuf"]), text(p["tx_dropped"])});
        }
        t.print();
    }
    std::printf("\n");
    Table w({"worker", "packets", "flows_active", "capacity", "created", "expired", "evicted", "events", "events_lost", "ring_full"});
    for (const Value& x : d["workers"].items()) {
        w.add({text(x["worker"]), text(x["packets"]), text(x["flows_active"]), text(x["flow_capacity"]), text(x["flows_created"]),
               text(x["flows_expired"]), text(x["flows_evicted"]), text(x["events"]), text(x["events_lost"]), text(x["ring_full"])});
    }
    w.print();
    std::printf("\n");
    Table k({"event", "count"});
    for (const auto& [name, n] : d["events"]["by_kind"].members()) k.add({name, text(n)});
    k.add({"total", text(d["events"]["total"])});
    k.print();
    std::printf("\n");
    Table c({"counter (non-zero)", "value"});
    for (const auto& [name, n] : d["counters"].members()) {
        if (n.as_int() != 0) c.add({name, text(n)});
    }
    c.print();
}

std::string endpoint(const Value& f, const char* side) {
    const std::string addr = text(f[side]);
    const std::string port = text(f[std::string(side) + "_port"]);
    return addr.find(':') != std::string::npos ? "[" + addr + "]:" + port : addr + ":" + port;
}

// "vxlan 4242 from 198.18.100.1" for a tunnelled flow's column.
std::string tunnel_text(const Value& f) {
    const Value* t = f.find("tunnel");
    if (t == nullptr) return "-";
    std::string out = text((*t)["type"]);
    if (t->find("id")) out += " " + text((*t)["id"]);
    if (t->find("outer_src")) out += " from " + text((*t)["outer_src"]);
    return out;
}

void print_flows(const Value& d) {
    // The tunnel column only when some flow came through one (a mirror session, an overlay).
    bool tunnels = false;
    for (const Value& f : d["flows"].items()) tunnels = tunnels || f.find("tunnel") != nullptr;
    std::vector<std::string> head = {"id", "client", "server", "app", "state", "age_s", "bytes_c>s", "bytes_s>c", "retx", "rtt_ms", "events"};
    if (tunnels) head.insert(head.begin() + 3, "tunnel");
    Table t(head);
    for (const Value& f : d["flows"].items()) {
        const std::int64_t retx = f["retransmissions_from_client"].as_int() + f["retransmissions_from_server"].as_int();
        std::vector<std::string> row = {text(f["id"]), endpoint(f, "client"), endpoint(f, "server"),
                                        f.find("app") ? text(f["app"]) : "-", text(f["state"]), text(f["duration_s"]),
                                        text(f["bytes_from_client"]), text(f["bytes_from_server"]), std::to_string(retx),
                                        f.find("rtt_ms") ? text(f["rtt_ms"]) : "-", text(f["events"])};
        if (tunnels) row.insert(row.begin() + 3, tunnel_text(f));
        t.add(std::move(row));
    }
    t.print();
    std::printf("%s of %s matching flows, by %s\n", text(d["shown"]).c_str(), text(d["matched"]).c_str(), text(d["sort"]).c_str());
}

void event_row(Table& t, const Value& e) {
    const Value& f = e["flow"];
    t.add({text(e["ts"]), text(e["event"]), text(e["severity"]), f.is_object() ? text(f["id"]) : "-",
           f.is_object() ? endpoint(f, "client") + " > " + endpoint(f, "server") : "-", text(e["summary"])});
}

void print_events(const Value& d) {
    Table t({"time", "event", "severity", "flow", "endpoints", "summary"});
    for (const Value& e : d["events"].items()) event_row(t, e);
    t.print();
}

void print_flow(const Value& d) {
    const Value& f = d["flow"];
    std::printf("flow %s  %s > %s%s  %s, %s s\n\n", text(f["id"]).c_str(), endpoint(f, "client").c_str(),
                endpoint(f, "server").c_str(), f.find("app") ? (" (" + text(f["app"]) + ")").c_str() : "",
                text(f["state"]).c_str(), text(f["duration_s"]).c_str());
    for (const Value& s : d["explanation"].items()) std::printf("  %s\n", s.as_string().c_str());
    std::printf("\n");
    Table t({"field", "client", "server"});
    for (const auto& [k, v] : d["client"].members()) t.add({k, text(v), text(d["server"][k])});
    t.print();
    std::printf("\n");
    Table g({"flow field", "value"});
    for (const auto& [k, v] : d["tracked"].members()) g.add({k, text(v)});
    g.print();
    if (!d["events"].items().empty()) {
        std::printf("\n");
        for (const Value& e : d["events"].items()) {
            std::printf("%s %s (%s): %s\n  advice: %s\n", text(e["ts"]).c_str(), text(e["event"]).c_str(), text(e["severity"]).c_str(),
                        text(e["summary"]).c_str(), text(e["advice"]).c_str());
        }
    }
}

// Options after the command: --name value pairs into a JSON object of arguments.
struct ArgSpec {
    const char* option;
    const char* key;
    bool number;
    bool list;
};

bool build_args(const std::vector<std::string>& a, std::size_t from, const std::vector<ArgSpec>& specs, std::string& out,
                bool* follow) {
    JsonWriter w(out);
    w.begin_object();
    for (std::size_t i = from; i < a.size(); ++i) {
        if (follow != nullptr && a[i] == "-f") {
            *follow = true;
            continue;
        }
        const ArgSpec* spec = nullptr;
        for (const ArgSpec& s : specs) {
            if (a[i] == s.option) spec = &s;
        }
        if (spec == nullptr || i + 1 >= a.size()) {
            std::fprintf(stderr, "tcpsleuthctl: %s: %s\n%s", a[i].c_str(), spec == nullptr ? "unknown option" : "needs a value", kUsage);
            return false;
        }
        const std::string& v = a[++i];
        w.key(spec->key);
        if (spec->number) {
            char* end = nullptr;
            const long long n = std::strtoll(v.c_str(), &end, 10);
            if (end == v.c_str() || *end != '\0' || n < 0) {
                std::fprintf(stderr, "tcpsleuthctl: %s: expected a number, not '%s'\n", spec->option, v.c_str());
                return false;
            }
            w.value(static_cast<std::int64_t>(n));
        } else if (spec->list && v.find(',') != std::string::npos) {
            w.begin_array();
            for (std::size_t s = 0; s <= v.size();) {
                const std::size_t comma = std::min(v.find(',', s), v.size());
                w.value(v.substr(s, comma - s));
                s = comma + 1;
            }
            w.end_array();
        } else {
            w.value(v);
        }
    }
    w.end_object();
    return true;
}

}  // namespace

// RFC 4648 base64 back to bytes; false on a character outside the alphabet.
bool from_base64(const std::string& in, std::vector<std::uint8_t>& out) {
    out.clear();
    std::uint32_t acc = 0;
    int bits = 0;
    for (const char c : in) {
        int v;
        if (c >= 'A' && c <= 'Z') {
            v = c - 'A';
        } else if (c >= 'a' && c <= 'z') {
            v = c - 'a' + 26;
        } else if (c >= '0' && c <= '9') {
            v = c - '0' + 52;
        } else if (c == '+') {
            v = 62;
        } else if (c == '/') {
            v = 63;
        } else if (c == '=') {
            break;
        } else {
            return false;
        }
        acc = acc << 6 | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<std::uint8_t>(acc >> bits));
        }
    }
    return true;
}

// `pcap`'s reply as a pcapng: the packets as the worker kept them (their first snap bytes,
// with the original length), the flow and the snap length in the file's comment.
int write_flow_pcap(const Value& d, const std::string& path) {
    const std::string flow = text(d["client"]) + ":" + text(d["client_port"]) + " > " + text(d["server"]) + ":" +
                             text(d["server_port"]);
    tcpsleuth::PcapngWriter w;
    std::string error;
    const std::string comment = "tcpsleuth flow " + text(d["flow"]) + " " + flow +
                                ": its packets still in the worker's history, the first " + text(d["snap"]) +
                                " bytes of each";
    if (!w.open(path, comment, error)) {
        std::fprintf(stderr, "tcpsleuthctl: %s\n", error.c_str());
        return 1;
    }
    std::vector<std::uint8_t> bytes;
    std::size_t n = 0;
    for (const Value& p : d["packets"].items()) {
        if (!from_base64(p["data"].as_string(), bytes)) {
            std::fprintf(stderr, "tcpsleuthctl: pcap: a packet's data is not base64\n");
            return 1;
        }
        const auto wire = static_cast<std::uint32_t>(p["wire_len"].as_int());
        w.packet(static_cast<tcpsleuth::LinkType>(p["link"].as_int()), static_cast<std::uint64_t>(p["ts_ns"].as_int()),
                 bytes.data(), static_cast<std::uint32_t>(bytes.size()), wire, "");
        ++n;
    }
    if (!w.close(error)) {
        std::fprintf(stderr, "tcpsleuthctl: %s\n", error.c_str());
        return 1;
    }
    std::fprintf(stderr, "tcpsleuthctl: %zu packets of flow %s (%s) written to %s", n, text(d["flow"]).c_str(), flow.c_str(),
                 path.c_str());
    if (d["more"].as_int() != 0) std::fprintf(stderr, "; %s more were left out", text(d["more"]).c_str());
    std::fprintf(stderr, "\n");
    return 0;
}

// `plot`'s SVG into `path` ("-": standard output).
int write_flow_plot(const Value& d, const std::string& path) {
    const std::string& svg = d["svg"].as_string();
    std::FILE* f = path == "-" ? stdout : std::fopen(path.c_str(), "w");
    if (f == nullptr) {
        std::fprintf(stderr, "tcpsleuthctl: %s: %s\n", path.c_str(), std::strerror(errno));
        return 1;
    }
    const bool ok = std::fwrite(svg.data(), 1, svg.size(), f) == svg.size();
    if ((f != stdout ? std::fclose(f) : std::fflush(f)) != 0 || !ok) {
        std::fprintf(stderr, "tcpsleuthctl: %s: writing the plot failed\n", path.c_str());
        return 1;
    }
    if (path != "-") {
        std::fprintf(stderr, "tcpsleuthctl: flow %s drawn from %s packets into %s\n", text(d["flow"]).c_str(),
                     text(d["packets"]).c_str(), path.c_str());
    }
    return 0;
}

int main(int argc, char** argv) {
    Ctl ctl;
    const char* env = std::getenv("TCPSLEUTH_SOCKET");
    ctl.socket = env != nullptr && *env != '\0' ? env : kDefaultSocket;
    std::vector<std::string> a;
    for (int i = 1; i < argc; ++i) {
        const std::string s = argv[i];
        if (a.empty() && s == "--socket") {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "tcpsleuthctl: --socket needs a path\n");
                return 1;
            }
            ctl.socket = argv[++i];
        } else if (a.empty() && s == "--json") {
            ctl.json = true;
        } else if (a.empty() && (s == "-h" || s == "--help")) {
            std::fputs(kUsage, stdout);
            return 0;
        } else {
            a.push_back(s);
        }
    }
    if (a.empty()) {
        std::fputs(kUsage, stderr);
        return 1;
    }
    const std::string cmd = a[0];
    const auto show = [&](const Value& data, void (*table)(const Value&)) {
        if (ctl.json) {
            std::printf("%s\n", data.dump().c_str());
        } else {
            table(data);
        }
        return 0;
    };
    std::string args;
    if (cmd == "stats") return show(request(ctl, "stats", ""), print_stats);
    if (cmd == "flows") {
        if (!build_args(a, 1, {{"--addr", "addr", false, false}, {"--port", "port", true, false}, {"--event", "event", false, true},
                               {"--severity", "severity", false, false}, {"--app", "app", false, false},
                               {"--sort", "sort", false, false}, {"--limit", "limit", true, false}},
                        args, nullptr)) {
            return 1;
        }
        return show(request(ctl, "flows", args), print_flows);
    }
    if (cmd == "flow") {
        std::string plot;
        if (a.size() == 4 && a[2] == "--plot") plot = a[3];
        if (a.size() != 2 && (a.size() != 4 || plot.empty())) {
            std::fprintf(stderr, "tcpsleuthctl: flow ID [--plot FILE] (ids are in `tcpsleuthctl flows`)\n");
            return 1;
        }
        char* end = nullptr;
        const unsigned long long id = std::strtoull(a[1].c_str(), &end, 10);
        if (end == a[1].c_str() || *end != '\0') {
            std::fprintf(stderr, "tcpsleuthctl: flow: '%s' is not a flow id\n", a[1].c_str());
            return 1;
        }
        if (!plot.empty()) return write_flow_plot(request(ctl, "plot", "{\"id\":" + std::to_string(id) + "}"), plot);
        return show(request(ctl, "flow", "{\"id\":" + std::to_string(id) + "}"), print_flow);
    }
    if (cmd == "impair") {
        if (a.size() == 3 && (a[1] == "enable" || a[1] == "disable")) {
            std::string name = "\"";
            for (const char ch : a[2]) {
                if (ch == '"' || ch == '\\') name += '\\';
                name += ch;
            }
            const Value d = request(ctl, "impair." + a[1], "{\"name\":" + name + "\"}");
            if (ctl.json) {
                std::printf("%s\n", d.dump().c_str());
            } else {
                std::printf("%s: %s\n", text(d["name"]).c_str(), d["enabled"].as_bool() ? "enabled" : "disabled");
            }
            return 0;
        }
        if (a.size() != 1 && !(a.size() == 2 && a[1] == "list")) {
            std::fprintf(stderr, "tcpsleuthctl: impair [list | enable NAME | disable NAME]\n");
            return 1;
        }
        const Value d = request(ctl, "impair", "");
        if (ctl.json) {
            std::printf("%s\n", d.dump().c_str());
            return 0;
        }
        Table t({"rule", "action", "enabled", "matched", "dropped", "rewritten", "injected", "delayed"});
        for (const Value& r : d["rules"].items()) {
            t.add({text(r["name"]), text(r["action"]), r["enabled"].as_bool() ? "yes" : "no", text(r["matched"]),
                   text(r["dropped"]), text(r["rewritten"]), text(r["injected"]), text(r["delayed"])});
        }
        t.print();
        return 0;
    }
    if (cmd == "probe") {
        std::string target, tests, flow;
        for (std::size_t i = 1; i < a.size(); ++i) {
            if ((a[i] == "--tests" || a[i] == "--flow") && i + 1 < a.size()) {
                (a[i] == "--tests" ? tests : flow) = a[i + 1];
                ++i;
            } else if (target.empty() && a[i][0] != '-') {
                target = a[i];
            } else {
                target = flow = "";
                break;
            }
        }
        if (target.empty() == flow.empty()) {
            std::fprintf(stderr, "tcpsleuthctl: probe HOST[:PORT] | --flow ID [--tests LIST]\n");
            return 1;
        }
        std::string args;
        JsonWriter w(args);
        w.begin_object();
        if (!flow.empty()) {
            char* end = nullptr;
            const unsigned long long id = std::strtoull(flow.c_str(), &end, 10);
            if (end == flow.c_str() || *end != '\0') {
                std::fprintf(stderr, "tcpsleuthctl: probe: '%s' is not a flow id\n", flow.c_str());
                return 1;
            }
            w.field("flow", static_cast<std::uint64_t>(id));
        } else {
            w.field("server", target);  // HOST, HOST:PORT, [V6]:PORT or V6: the daemon reads it
        }
        if (!tests.empty()) w.field("tests", tests);
        w.end_object();
        const Value d = request(ctl, "probe", args);
        if (ctl.json) {
            std::printf("%s\n", d.dump().c_str());
            return 0;
        }
        for (const Value& f : d["findings"].items()) {
            std::string where;
            if (f["hop"].is_number()) where = " [hop " + text(f["hop"]) + (f["hop_address"].is_string() ? " " + text(f["hop_address"]) : "") + "]";
            std::printf("  %s %s%s: %s\n", text(f["severity"]).c_str(), text(f["event"]).c_str(), where.c_str(), text(f["summary"]).c_str());
        }
        for (const Value& l : d["lines"].items()) std::printf("%s\n", l.as_string().c_str());
        std::printf("probe %s port %s from %s: %s packets in %.1f s\n", text(d["target"]).c_str(), text(d["port"]).c_str(),
                    text(d["source"]).c_str(), text(d["packets_sent"]).c_str(), d["seconds"].as_double());
        return 0;
    }
    if (cmd == "pcap") {
        std::string out;
        std::string id_text;
        for (std::size_t i = 1; i < a.size(); ++i) {
            if (a[i] == "-o" && i + 1 < a.size()) {
                out = a[++i];
            } else if (id_text.empty()) {
                id_text = a[i];
            } else {
                id_text.clear();
                break;
            }
        }
        char* end = nullptr;
        const unsigned long long id = std::strtoull(id_text.c_str(), &end, 10);
        if (id_text.empty() || *end != '\0' || id == 0) {
            std::fprintf(stderr, "tcpsleuthctl: pcap ID [-o FILE] (ids are in `tcpsleuthctl flows`)\n");
            return 1;
        }
        if (out.empty()) out = "flow-" + std::to_string(id) + ".pcapng";
        return write_flow_pcap(request(ctl, "pcap", "{\"id\":" + std::to_string(id) + "}"), out == "-" ? "/dev/stdout" : out);
    }
    if (cmd == "events") {
        bool follow = false;
        if (!build_args(a, 1, {{"--kind", "kind", false, true}, {"--severity", "severity", false, false}, {"--addr", "addr", false, false},
                               {"--port", "port", true, false}, {"--flow", "flow", true, false}, {"--app", "app", false, false},
                               {"--limit", "limit", true, false}},
                        args, &follow)) {
            return 1;
        }
        const Value data = request(ctl, "events", args);
        if (!follow) return show(data, print_events);
        // Following: the recent ones, then new ones as they come.
        if (ctl.json) {
            for (const Value& e : data["events"].items()) std::printf("%s\n", e.dump().c_str());
        } else {
            print_events(data);
        }
        std::fflush(stdout);
        // The daemon filters the stream with the same arguments, the limit aside.
        std::string sub_args;
        JsonWriter sw(sub_args);
        sw.begin_object();
        const auto given = tcpsleuth::json::parse(args);
        for (const auto& [k, v] : given.value->members()) {
            if (k != "limit") sw.key(k).raw(v.dump());
        }
        sw.end_object();
        Connection sub;
        request(ctl, "subscribe", sub_args, &sub);
        while (const auto line = sub.read_line()) {
            const auto ev = tcpsleuth::json::parse(*line);
            if (!ev.value || ev.value->find("event") == nullptr) {
                if (ev.value && ev.value->find("dropped") != nullptr) {
                    std::fprintf(stderr, "tcpsleuthctl: %s event(s) dropped: this terminal reads slower than they come\n",
                                 text((*ev.value)["dropped"]).c_str());
                }
                continue;
            }
            const Value& e = *ev.value;
            if (ctl.json) {
                std::printf("%s\n", line->c_str());
            } else {
                std::printf("%s %s %s %s %s %s\n", text(e["ts"]).c_str(), text(e["event"]).c_str(), text(e["severity"]).c_str(),
                            e["flow"].is_object() ? text(e["flow"]["id"]).c_str() : "-",
                            e["flow"].is_object() ? (endpoint(e["flow"], "client") + " > " + endpoint(e["flow"], "server")).c_str() : "-",
                            text(e["summary"]).c_str());
            }
            std::fflush(stdout);
        }
        return 0;
    }
    if (cmd == "subscribe") {
        Connection sub;
        request(ctl, "subscribe", "", &sub);
        while (const auto line = sub.read_line()) {
            std::printf("%s\n", line->c_str());
            std::fflush(stdout);
        }
        return 0;
    }
    if (cmd == "config" || cmd == "config.show") {
        const Value d = request(ctl, "config.show", "");
        if (ctl.json) {
            std::printf("%s\n", d.dump().c_str());
        } else {
            std::printf("# %s\n%s", d["path"].as_string().empty() ? "(no file)" : d["path"].as_string().c_str(), d["toml"].as_string().c_str());
        }
        return 0;
    }
    if (cmd == "metrics") {
        const Value d = request(ctl, "metrics", "");
        std::fputs(ctl.json ? (d.dump() + "\n").c_str() : d["text"].as_string().c_str(), stdout);
        return 0;
    }
    if (cmd == "reopen") {
        const Value d = request(ctl, "reopen", "");
        std::printf("%s\n", ctl.json ? d.dump().c_str() : text(d["reopened"]).c_str());
        return 0;
    }
    if (cmd == "reload") {
        const Value d = request(ctl, "reload", "");
        if (ctl.json) {
            std::printf("%s\n", d.dump().c_str());
        } else if (d["applied"].items().empty()) {
            std::printf("%s: no changes\n", text(d["path"]).c_str());
        } else {
            std::printf("%s: applied\n", text(d["path"]).c_str());
            Table t({"key", "from", "to"});
            for (const Value& c : d["applied"].items()) t.add({text(c["key"]), text(c["from"]), text(c["to"])});
            t.print();
        }
        return 0;
    }
    if (cmd == "help") {
        const Value d = request(ctl, "help", "");
        if (ctl.json) {
            std::printf("%s\n", d.dump().c_str());
        } else {
            for (const Value& c : d.items()) {
                std::printf("%-12s %s\n", c["cmd"].as_string().c_str(), c["help"].as_string().c_str());
                if (!c["args"].as_string().empty()) std::printf("%-12s args: %s\n", "", c["args"].as_string().c_str());
            }
        }
        return 0;
    }
    if (cmd == "version" || cmd == "uptime" || cmd == "hello" || cmd == "shutdown") {
        const Value d = request(ctl, cmd, "");
        if (ctl.json) {
            std::printf("%s\n", d.dump().c_str());
        } else {
            for (const auto& [k, v] : d.members()) std::printf("%s: %s\n", k.c_str(), text(v).c_str());
        }
        return 0;
    }
    if (cmd == "call") {
        if (a.size() < 2 || a.size() > 3) {
            std::fprintf(stderr, "tcpsleuthctl: call CMD [JSON-ARGS]\n");
            return 1;
        }
        if (a.size() == 3) {
            const auto parsed = tcpsleuth::json::parse(a[2]);
            if (!parsed.value || !parsed.value->is_object()) {
                std::fprintf(stderr, "tcpsleuthctl: call: arguments must be a JSON object (%s)\n", parsed.error.c_str());
                return 1;
            }
        }
        std::printf("%s\n", request(ctl, a[1], a.size() == 3 ? a[2] : "").dump().c_str());
        return 0;
    }
    std::fprintf(stderr, "tcpsleuthctl: unknown command '%s'\n%s", cmd.c_str(), kUsage);
    return 1;
}
