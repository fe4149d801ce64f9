// The control socket's parts without a daemon: the JSON reader, the server's limits (a
// subscriber that never reads, an oversized request, many clients), and the command table's
// error replies against a fake backend.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "control/controller.h"
#include "control/json.h"
#include "control/live_page.h"
#include "control/server.h"

namespace tcpsleuth::control {
namespace {

TEST(Json, ParsesEveryKind) {
    const auto r = json::parse(R"j( {"cmd":"flows","args":{"limit":5,"neg":-2,"f":1.5e2,"ok":true,"no":null,
                                   "list":["a\n\u00e9\ud83d\ude00",[]],"big":18446744073709551615}} )j");
    ASSERT_TRUE(r.value) << r.error;
    const json::Value& v = *r.value;
    EXPECT_EQ(v["cmd"].as_string(), "flows");
    EXPECT_EQ(v["args"]["limit"].as_int(), 5);
    EXPECT_TRUE(v["args"]["limit"].is_integer());
    EXPECT_EQ(v["args"]["neg"].as_int(), -2);
    EXPECT_FALSE(v["args"]["f"].is_integer());
    EXPECT_DOUBLE_EQ(v["args"]["f"].as_double(), 150.0);
    EXPECT_TRUE(v["args"]["ok"].as_bool());
    EXPECT_TRUE(v["args"]["no"].is_null());
    EXPECT_EQ(v["args"]["list"].items()[0].as_string(), "a\n\xc3\xa9\xf0\x9f\x98\x80");
    EXPECT_FALSE(v["args"]["big"].is_integer()) << "beyond int64: kept as a double";
    EXPECT_TRUE(v["absent"].is_null());
}

TEST(Json, RejectsWithPosition) {
    const std::pair<const char*, const char*> bad[] = {
        {"{\"a\":}", "at byte 6: unexpected character"},
        {"{\"a\" 1}", "at byte 6: expected ':'"},
        {"[1,2", "at byte 5: expected ',' or ']'"},
        {"\"abc", "at byte 5: unterminated string"},
        {"01", "at byte 3: leading zero in a number"},
        {"{} x", "at byte 4: unexpected text after the value"},
        {"", "at byte 1: unexpected end of input"},
    };
    for (const auto& [text, want] : bad) {
        const auto r = json::parse(text);
        EXPECT_FALSE(r.value) << text;
        EXPECT_EQ(r.error, want) << text;
    }
    std::string deep(100, '[');
    deep += std::string(100, ']');
    EXPECT_EQ(json::parse(deep).error, "at byte 33: nested deeper than 32 levels");
}

TEST(Json, DumpRoundTrips) {
    const std::string text = R"j({"a":[1,-2,true,null,"x\"y"],"b":{"c":2.5}})j";
    const auto r = json::parse(text);
    ASSERT_TRUE(r.value);
    EXPECT_EQ(r.value->dump(), text);
}

// ---- the server, over a real socket ----

std::string temp_socket(const char* name) { return "/tmp/tcpsleuth-test-" + std::to_string(getpid()) + "-" + name + ".sock"; }

int connect_to(const std::string& path) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path.data(), path.size());
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

void send_all(int fd, const std::string& s) { ASSERT_EQ(send(fd, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size())); }

// Reads what has arrived, serving the server in between (one thread plays both ends).
std::string read_some(Server& server, int fd, std::size_t want_lines, int rounds = 200) {
    std::string got;
    for (int i = 0; i < rounds; ++i) {
        server.poll(5);
        char buf[65536];
        const ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) got.append(buf, static_cast<std::size_t>(n));
        if (static_cast<std::size_t>(std::count(got.begin(), got.end(), '\n')) >= want_lines) break;
    }
    return got;
}

ControlConfig test_config(const std::string& path) {
    ControlConfig c;
    c.socket = path;
    c.mode = 0600;
    c.max_clients = 4;
    c.max_request_bytes = 256;
    c.subscriber_buffer_kb = 4;
    return c;
}

TEST(Server, CreatesTheSocketWithItsModeAndReplacesAStaleOne) {
    const std::string path = temp_socket("mode");
    {
        Server s([](ClientId, std::string_view) {});
        std::string err;
        ASSERT_TRUE(s.open(test_config(path), err)) << err;
        struct stat st{};
        ASSERT_EQ(stat(path.c_str(), &st), 0);
        EXPECT_TRUE(S_ISSOCK(st.st_mode));
        EXPECT_EQ(st.st_mode & 0777, 0600u);
        // A second daemon on the same path is refused while the first serves.
        Server second([](ClientId, std::string_view) {});
        EXPECT_FALSE(second.open(test_config(path), err));
        EXPECT_NE(err.find("another tcpsleuth is serving this control socket"), std::string::npos) << err;
    }
    EXPECT_NE(access(path.c_str(), F_OK), 0) << "closed: the socket file is removed";
    // A leftover socket file nobody listens on is replaced.
    const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, path.data(), path.size());
    ASSERT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a), 0);
    close(fd);
    Server s([](ClientId, std::string_view) {});
    std::string err;
    EXPECT_TRUE(s.open(test_config(path), err)) << err;
}

TEST(Server, SlowSubscriberIsBoundedAndToldWhatItMissed) {
    const std::string path = temp_socket("slow");
    ClientId subscriber = 0;
    Server server([&](ClientId id, std::string_view) {
        subscriber = id;
        server.subscribe(id);
        server.reply(id, "{\"ok\":true}");
    });
    std::string err;
    ASSERT_TRUE(server.open(test_config(path), err)) << err;
    const int fd = connect_to(path);
    ASSERT_GE(fd, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    send_all(fd, "{\"cmd\":\"subscribe\"}\n");
    EXPECT_EQ(read_some(server, fd, 1), "{\"ok\":true}\n");
    // 20000 lines of 200 bytes, never read: the kernel buffers fill, then the 4 KiB backlog;
    // publish() must return at once every time and count the rest as dropped.
    const std::string line(200, 'e');
    for (int i = 0; i < 20000; ++i) server.publish(line);
    EXPECT_EQ(server.subscribers(), 1u);
    // Now it reads: everything queued arrives, then the drop notice before the next line.
    std::string got = read_some(server, fd, 1000000, 50);
    server.publish("{\"event\":\"last\"}");
    got += read_some(server, fd, 1000000, 50);
    const std::size_t notice = got.find("{\"dropped\":");
    ASSERT_NE(notice, std::string::npos);
    EXPECT_EQ(got.find("{\"dropped\":", notice + 1), std::string::npos) << "one notice for one gap";
    const std::size_t delivered = static_cast<std::size_t>(std::count(got.begin(), got.begin() + static_cast<long>(notice), '\n'));
    const long dropped = std::stol(got.substr(notice + 11));
    EXPECT_EQ(static_cast<long>(delivered) + dropped, 20000) << "every line either arrived or was counted";
    EXPECT_GT(dropped, 10000);
    EXPECT_NE(got.find("{\"event\":\"last\"}\n", notice), std::string::npos);
    close(fd);
    server.poll(5);
    server.poll(5);
    EXPECT_EQ(server.clients(), 0u) << "a client that leaves mid-stream is dropped";
    server.publish(line);  // nobody left: nothing to do, nothing breaks
}

TEST(Server, OversizedRequestGetsAnErrorAndTheConnectionCloses) {
    const std::string path = temp_socket("big");
    int handled = 0;
    Server server([&](ClientId id, std::string_view) {
        ++handled;
        server.reply(id, "{\"ok\":true}");
    });
    std::string err;
    ASSERT_TRUE(server.open(test_config(path), err)) << err;
    const int fd = connect_to(path);
    send_all(fd, std::string(300, 'x'));
    const std::string got = read_some(server, fd, 1);
    EXPECT_EQ(got, "{\"ok\":false,\"error\":\"request longer than 256 bytes (control.max_request_bytes); closing\"}\n");
    char c;
    for (int i = 0; i < 20 && server.clients() != 0; ++i) server.poll(5);
    EXPECT_EQ(recv(fd, &c, 1, 0), 0) << "closed by the server";
    EXPECT_EQ(handled, 0);
    close(fd);
}

TEST(Server, ClientsBeyondTheLimitAreToldAndClosed) {
    const std::string path = temp_socket("many");
    Server server([&](ClientId id, std::string_view line) { server.reply(id, std::string(line)); });
    std::string err;
    ASSERT_TRUE(server.open(test_config(path), err)) << err;
    std::vector<int> fds;
    for (int i = 0; i < 5; ++i) {
        fds.push_back(connect_to(path));
        server.poll(5);
    }
    EXPECT_EQ(server.clients(), 4u);
    EXPECT_EQ(read_some(server, fds[4], 1), "{\"ok\":false,\"error\":\"too many clients (control.max_clients = 4); try again later\"}\n");
    // The four admitted ones are all answered, pipelined requests in order.
    // (Built with +=: GCC 12 warns falsely on "a" + std::to_string(i) here, -Wrestrict.)
    const auto pipelined = [](int i) {
        std::string s = "a";
        s += std::to_string(i);
        s += "\nb\n";
        return s;
    };
    for (int i = 0; i < 4; ++i) send_all(fds[static_cast<std::size_t>(i)], pipelined(i));
    for (int i = 0; i < 4; ++i) EXPECT_EQ(read_some(server, fds[static_cast<std::size_t>(i)], 2), pipelined(i));
    for (const int fd : fds) close(fd);
}

// ---- the command table, against a backend that records what it was asked ----

class FakeBackend : public Backend {
public:
    Snapshot snapshot() override {
        Snapshot s;
        s.mode = "tap";
        s.workers.push_back({.counters = &counters, .flows_active = 1, .flow_capacity = 16, .ring_full = 0});
        return s;
    }
    void query_flows(const FlowQuery& q, std::function<void(FlowListing)> done) override {
        asked = q;
        FlowListing l;
        l.matched = 1;
        FlowSummary s;
        s.id = 7;
        s.key.addr_lo = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 1};
        s.key.addr_hi = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 19, 0, 1};
        s.key.port_lo = 40000;
        s.key.port_hi = 443;
        s.state = TcpState::kEstablished;
        l.flows.push_back(s);
        done(l);
    }
    void find_flow(std::uint64_t, std::function<void(std::optional<FlowState>)> done) override { done(std::nullopt); }
    // Flow 7 has two packets in a history of 64; flow 8 is in a table but no history is kept.
    void flow_packets(std::uint64_t id, std::function<void(std::optional<FlowPackets>)> done) override {
        if (id != 7 && id != 8) return done(std::nullopt);
        FlowPackets fp;
        fp.flow.common.key.addr_lo = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 1};
        fp.flow.common.key.addr_hi = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 19, 0, 1};
        fp.flow.common.key.port_lo = 40000;
        fp.flow.common.key.port_hi = 443;
        fp.flow.common.key.ip_version = 4;
        fp.snap = 128;
        fp.history_packets = id == 7 ? 64 : 0;
        fp.entries.push_back({.ts_ns = 1000, .number = 3, .wire_len = 60, .cap_len = 4, .link = LinkType::kEthernet});
        fp.entries.push_back({.ts_ns = 2000, .number = 5, .wire_len = 1514, .cap_len = 5, .link = LinkType::kRaw});
        fp.bytes = {'M', 'a', 'n', 0x00, 0xff, 0xfe, 'x', 'y', 'z'};
        done(fp);
    }
    void apply_config(const DaemonConfig& cfg, std::function<void()> done) override {
        applied = cfg;
        done();
    }
    void request_shutdown() override { shutdown = true; }

    CoreCounters counters;
    FlowQuery asked;
    std::optional<DaemonConfig> applied;
    bool shutdown = false;
};

std::string ask(Controller& c, std::string_view request) {
    std::string out;
    c.handle(request, [&](std::string r) { out = std::move(r); });
    return out;
}

TEST(Commands, PcapHandsOverTheFlowsPacketsInBase64) {
    FakeBackend b;
    Controller c(b, DaemonConfig{}, DaemonConfig{}, "");
    const std::string r = ask(c, R"({"cmd":"pcap","args":{"id":7}})");
    // RFC 4648 test vectors' shape: "Man\0" is TWFuAA== (one pad pair), 0xff 0xfe "xyz" is //54eXo= (one pad).
    EXPECT_NE(r.find(R"("packets":[{"number":3,"ts_ns":1000,"wire_len":60,"link":1,"data":"TWFuAA=="},)"
                     R"({"number":5,"ts_ns":2000,"wire_len":1514,"link":101,"data":"//54eXo="}])"),
              std::string::npos)
        << r;
    EXPECT_NE(r.find(R"("client":"198.18.0.1","client_port":40000,"server":"198.19.0.1","server_port":443)"), std::string::npos) << r;
    EXPECT_NE(r.find(R"("snap":128,"history_packets":64,"more":0)"), std::string::npos) << r;
    EXPECT_EQ(ask(c, R"({"cmd":"pcap","args":{"id":9}})"),
              R"j({"ok":false,"error":"no flow 9 in the tables (ended, expired or never seen)"})j");
    EXPECT_NE(ask(c, R"({"cmd":"pcap","args":{"id":8}})").find("no packet history is kept"), std::string::npos);
    EXPECT_NE(ask(c, R"({"cmd":"pcap","args":{}})").find("id: which flow"), std::string::npos);
    EXPECT_NE(ask(c, R"({"cmd":"pcap","args":{"id":"x"}})").find("id: expected a flow id"), std::string::npos);
}

TEST(Commands, BadRequestsGetErrorReplies) {
    FakeBackend b;
    Controller c(b, DaemonConfig{}, DaemonConfig{}, "");
    EXPECT_EQ(ask(c, "nonsense"), R"j({"ok":false,"error":"malformed JSON at byte 1: unexpected character"})j");
    EXPECT_EQ(ask(c, "[1]"), R"j({"ok":false,"error":"a request is a JSON object: {\"cmd\":\"help\"}"})j");
    EXPECT_EQ(ask(c, R"j({"cmd":5})j"), R"j({"ok":false,"error":"\"cmd\" missing or not a string: {\"cmd\":\"help\"} lists the commands"})j");
    EXPECT_EQ(ask(c, R"j({"cmd":"frobnicate"})j"), R"j({"ok":false,"error":"unknown command \"frobnicate\"; {\"cmd\":\"help\"} lists the commands"})j");
    EXPECT_EQ(ask(c, R"j({"cmd":"stats","args":{"x":1}})j"), R"j({"ok":false,"error":"unknown argument \"x\" for stats (it takes none)"})j");
    EXPECT_EQ(ask(c, R"j({"cmd":"flows","args":{"limit":20000}})j"), R"j({"ok":false,"error":"limit: expected an integer from 0 to 10000"})j");
    EXPECT_EQ(ask(c, R"j({"cmd":"flows","args":{"addr":"300.1.1.1"}})j"), R"j({"ok":false,"error":"addr: expected an IPv4 or IPv6 address"})j");
    EXPECT_EQ(ask(c, R"j({"cmd":"flows","args":{"event":"mtu.nothing"}})j"),
              R"j({"ok":false,"error":"event: unknown kind \"mtu.nothing\" (see the event catalog in DESIGN.md)"})j");
    EXPECT_EQ(ask(c, R"j({"cmd":"flows","args":{"sort":"size"}})j"),
              R"j({"ok":false,"error":"sort: expected last_seen, first_seen, bytes, retransmissions or id"})j");
    EXPECT_EQ(ask(c, R"j({"cmd":"flow"})j"), R"j({"ok":false,"error":"id: which flow (`flows` lists their ids)"})j");
    EXPECT_EQ(ask(c, R"j({"cmd":"flow","args":{"id":3}})j"), R"j({"ok":false,"error":"no flow 3 in the tables (ended, expired or never seen)"})j");
    EXPECT_EQ(ask(c, R"j({"cmd":"reload"})j"), R"j({"ok":false,"error":"started without a configuration file: nothing to reload"})j");
    EXPECT_FALSE(b.shutdown);
}

// Without [[impair]] rules (tap, analyze) the impair commands say why nothing can change.
TEST(Commands, ImpairWithoutRules) {
    FakeBackend b;
    Controller c(b, DaemonConfig{}, DaemonConfig{}, "");
    EXPECT_EQ(ask(c, R"j({"cmd":"impair"})j"), R"j({"ok":true,"data":{"rules":[]}})j");
    EXPECT_EQ(ask(c, R"j({"cmd":"impair.enable"})j"), R"j({"ok":false,"error":"name: the rule's name (a string) is needed"})j");
    EXPECT_EQ(ask(c, R"j({"cmd":"impair.disable","args":{"name":"no-sack"}})j"),
              R"j({"ok":false,"error":"no [[impair]] rules here: impairment runs in `tcpsleuth run` inline"})j");
}

TEST(Commands, FlowsPassesItsFilterToTheTables) {
    FakeBackend b;
    Controller c(b, DaemonConfig{}, DaemonConfig{}, "");
    const std::string r = ask(c, R"j({"cmd":"flows","args":{"addr":"198.18.0.1","port":443,"event":["mtu.blackhole","ecn.bleached"],"severity":"warning","sort":"bytes","limit":3}})j");
    ASSERT_EQ(r.rfind("{\"ok\":true,\"data\":{\"matched\":1,\"shown\":1,\"sort\":\"bytes\",\"flows\":[{\"id\":7,\"client\":\"198.18.0.1\",\"client_port\":40000,\"server\":\"198.19.0.1\",\"server_port\":443,\"state\":\"established\"", 0), 0u) << r;
    EXPECT_TRUE(b.asked.filter.has_addr);
    EXPECT_EQ(b.asked.filter.addr[15], 1);
    EXPECT_EQ(b.asked.filter.port, 443);
    EXPECT_EQ(b.asked.filter.min_severity, static_cast<std::uint8_t>(static_cast<unsigned>(Severity::kWarning) + 1));
    EXPECT_EQ(std::popcount(b.asked.filter.event_kinds), 2);
    EXPECT_EQ(b.asked.sort, FlowSort::kBytes);
    EXPECT_EQ(b.asked.limit, 3u);
}

TEST(Commands, HelpListsEveryCommandAndShutdownAsksTheBackend) {
    FakeBackend b;
    Controller c(b, DaemonConfig{}, DaemonConfig{}, "");
    const auto help = json::parse(ask(c, R"j({"cmd":"help"})j"));
    ASSERT_TRUE(help.value);
    std::vector<std::string> names;
    for (const json::Value& e : (*help.value)["data"].items()) names.push_back(e["cmd"].as_string());
    EXPECT_EQ(names, (std::vector<std::string>{"hello", "help", "version", "uptime", "stats", "flows", "flow", "pcap", "plot", "probe", "events", "subscribe",
                                               "config.show", "reload", "reopen", "metrics", "impair", "impair.enable",
                                               "impair.disable", "shutdown"}));
    // A backend with no files of its own: an error reply, the daemon goes on.
    EXPECT_EQ(ask(c, R"j({"cmd":"reopen"})j"), R"j({"ok":false,"error":"nothing to reopen here"})j");
    EXPECT_EQ(ask(c, R"j({"cmd":"hello"})j"), "{\"ok\":true,\"data\":{\"version\":\"" TCPSLEUTH_VERSION "\",\"protocol\":1,\"mode\":\"tap\"}}");
    EXPECT_EQ(ask(c, R"j({"cmd":"shutdown"})j"), R"j({"ok":true,"data":{"stopping":true}})j");
    EXPECT_TRUE(b.shutdown);
}

}  // namespace
}  // namespace tcpsleuth::control

namespace tcpsleuth::control {
namespace {

TEST(LivePage, TheApiTurnsAQueryIntoAControlRequest) {
    std::string line, error;
    ASSERT_TRUE(api_request("/api/flows", "addr=2001%3Adb8%3A%3A1&port=443&app=http+2&limit=20", line, error)) << error;
    const json::ParseResult parsed = json::parse(line);
    ASSERT_TRUE(parsed.value) << line;
    const json::Value& req = *parsed.value;
    EXPECT_EQ(req["cmd"].as_string(), "flows");
    EXPECT_EQ(req["args"]["addr"].as_string(), "2001:db8::1");  // %-decoded
    EXPECT_EQ(req["args"]["app"].as_string(), "http 2");        // '+' is a space
    EXPECT_TRUE(req["args"]["port"].is_number());               // numbers stay numbers
    EXPECT_EQ(req["args"]["limit"].as_int(), 20);
    ASSERT_TRUE(api_request("/api/stats", "", line, error));
    EXPECT_EQ(line, R"({"cmd":"stats","args":{}})");
}

TEST(LivePage, TheApiRefusesWhatThePageMayNotDo) {
    std::string line, error;
    for (const char* cmd : {"/api/shutdown", "/api/reload", "/api/impair.enable", "/api/subscribe", "/api/"}) {
        EXPECT_FALSE(api_request(cmd, "", line, error)) << cmd;
        EXPECT_NE(error.find("answers hello, stats, flows, flow, plot and events"), std::string::npos) << error;
    }
    EXPECT_FALSE(api_request("/api/flows", "port=%4", line, error));
    EXPECT_NE(error.find("%-encoded"), std::string::npos);
    EXPECT_FALSE(api_request("/api/flows", "addr=%zz", line, error));
}

TEST(LivePage, ThePageFetchesNothingButItsOwnApi) {
    const std::string_view page = live_page_html();
    EXPECT_TRUE(page.starts_with("<!DOCTYPE html>"));
    EXPECT_EQ(page.find("http://"), std::string_view::npos);
    EXPECT_EQ(page.find("https://"), std::string_view::npos);
    EXPECT_EQ(page.find(" src="), std::string_view::npos);
    EXPECT_EQ(page.find("<link"), std::string_view::npos);
    EXPECT_NE(page.find("fetch(\"/api/\""), std::string_view::npos);
}

}  // namespace
}  // namespace tcpsleuth::control
