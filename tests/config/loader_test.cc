// The TOML loader: the example file documents every key with its built-in default, and a
// bad file yields every problem with its line and column, and no configuration.

#include <gtest/gtest.h>
#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "config/loader.h"

namespace tcpsleuth {
namespace {

std::string example_path() { return std::string(TCPSLEUTH_SOURCE_DIR) + "/config/tcpsleuth.example.toml"; }

TEST(ConfigLoader, ExampleParsesToTheBuiltInDefaults) {
    const ConfigLoad load = load_config_file(example_path());
    for (const auto& e : load.errors) ADD_FAILURE() << e.to_string();
    ASSERT_TRUE(load.ok());
    EXPECT_TRUE(load.config == DaemonConfig{}) << "a default in config/*.h and its value in the example file differ";
}

TEST(ConfigLoader, ExampleDocumentsEveryKey) {
    std::ifstream in(example_path());
    std::stringstream text;
    text << in.rdbuf();
    const toml::table root = toml::parse(text.str());
    for (const std::string& key : config_keys()) {
        // Array-of-tables keys are shown commented out: "# device = ...".
        if (key.rfind("ports.", 0) == 0 || key.rfind("rules.", 0) == 0 || key.rfind("impair.", 0) == 0) {
            const std::string shown = "# " + key.substr(key.find('.') + 1) + " = ";
            EXPECT_NE(text.str().find(shown), std::string::npos) << key << " is not shown";
            continue;
        }
        EXPECT_TRUE(root.at_path(key).node() != nullptr) << key << " is missing from the example file";
    }
}

TEST(ConfigLoader, ReadsEveryKind) {
    const ConfigLoad load = load_config_text(R"(mode = "inline"
[dpdk]
eal_args = ["--no-huge", "-m", "512"]
[workers]
count = 2
distribution = "software"
[[ports]]
device = "net_af_packet0,iface=a"
[[ports]]
device = "net_af_packet1,iface=b"
mbufs = 4095
[flows]
capacity = 4096
[mtu]
enabled = false
)",
                                                "t.toml");
    for (const auto& e : load.errors) ADD_FAILURE() << e.to_string();
    ASSERT_TRUE(load.ok());
    const DaemonConfig& c = load.config;
    EXPECT_EQ(c.mode, RunMode::kInline);
    EXPECT_EQ(c.dpdk.eal_args, (std::vector<std::string>{"--no-huge", "-m", "512"}));
    EXPECT_EQ(c.workers.count, 2u);
    EXPECT_EQ(c.workers.distribution, Distribution::kSoftware);
    ASSERT_EQ(c.ports.size(), 2u);
    EXPECT_EQ(c.ports[1].device, "net_af_packet1,iface=b");
    EXPECT_EQ(c.ports[1].line, 9u);
    EXPECT_EQ(c.ports[0].mbufs, 0u) << "unset: dpdk.mbufs_per_port applies";
    EXPECT_EQ(c.ports[1].mbufs, 4095u);
    EXPECT_EQ(c.inspect.flows.capacity, 4096u);
    EXPECT_FALSE(c.inspect.mtu.enabled);
    EXPECT_TRUE(c.inspect.ecn.enabled);
}

// Every problem at once, each where it is: unknown keys (top level, in a table, in a port),
// wrong types, values out of range, a bad choice, a non-power of two, an odd inline pair.
TEST(ConfigLoader, ReportsEveryProblemWithItsPosition) {
    const ConfigLoad load = load_config_text(R"(mode = "inline"
colour = "blue"
[workers]
count = 0
burst = "many"
distribution = "magic"
ring_size = 1000
[flows]
capacity = 8
timeout = 5
[idle]
enabled = 1
[[ports]]
device = "net_null0"
speed = 10
mbufs = 12
)",
                                                "bad.toml");
    std::vector<std::string> got;
    for (const auto& e : load.errors) got.push_back(e.to_string());
    const std::vector<std::string> want = {
        "bad.toml:2:1: colour: unknown key",
        "bad.toml:4:9: workers.count: must be from 1 to 64, not 0",
        "bad.toml:5:9: workers.burst: expected an integer, found a string",
        "bad.toml:6:16: workers.distribution: must be one of \"auto\", \"rss\", \"software\", not \"magic\"",
        "bad.toml:7:13: workers.ring_size: must be a power of two, not 1000",
        "bad.toml:9:12: flows.capacity: must be from 16 to 268435456, not 8",
        "bad.toml:10:1: flows.timeout: unknown key",
        "bad.toml:12:11: idle.enabled: expected true or false, found an integer",
        "bad.toml:13:1: ports: inline mode forwards between port pairs (1st<->2nd, 3rd<->4th, ...): 1 ports is an odd number",
        "bad.toml:15:1: ports.speed: unknown key",
        "bad.toml:16:9: ports.mbufs: expected an integer from 1023 to 67108864",
    };
    EXPECT_EQ(got, want);
    EXPECT_TRUE(load.config == DaemonConfig{}) << "a file with problems yields no configuration";
}

TEST(ConfigLoader, ControlLoggingCoresAndProfiles) {
    const ConfigLoad load = load_config_text(R"([dpdk]
cores = "2,4-5"
[control]
socket = "/tmp/t.sock"
group = "netops"
mode = 0o600
[logging]
level = "debug"
[idle.profiles]
aws_nlb = 400
corp_firewall = 330
)",
                                                "t.toml");
    for (const auto& e : load.errors) ADD_FAILURE() << e.to_string();
    ASSERT_TRUE(load.ok());
    const DaemonConfig& c = load.config;
    EXPECT_EQ(c.dpdk.cores, "2,4-5");
    EXPECT_EQ(c.control.socket, "/tmp/t.sock");
    EXPECT_EQ(c.control.group, "netops");
    EXPECT_EQ(c.control.mode, 0600u);
    EXPECT_EQ(c.logging.level, "debug");
    // Replaced in place, added, and kept sorted by seconds.
    ASSERT_EQ(c.idle_profiles.size(), default_idle_profiles().size() + 1);
    EXPECT_EQ(c.idle_profiles[0].name, "azure_lb");
    EXPECT_EQ(c.idle_profiles[1].name, "corp_firewall");
    EXPECT_EQ(c.idle_profiles[1].seconds, 330u);
    const auto nlb = std::find_if(c.idle_profiles.begin(), c.idle_profiles.end(), [](const IdleProfile& p) { return p.name == "aws_nlb"; });
    ASSERT_NE(nlb, c.idle_profiles.end());
    EXPECT_EQ(nlb->seconds, 400u);
    std::vector<unsigned> cpus;
    ASSERT_TRUE(parse_cpu_list(c.dpdk.cores, cpus));
    EXPECT_EQ(cpus, (std::vector<unsigned>{2, 4, 5}));
}

TEST(ConfigLoader, NewSectionsReportTheirProblems) {
    const ConfigLoad load = load_config_text(R"([dpdk]
eal_args = ["-l", "0-1"]
cores = "1-"
[control]
mode = 0o1777
max_clients = 0
[logging]
level = "loud"
[idle.profiles]
corp = "5m"
slow = 0
)",
                                                "new.toml");
    std::vector<std::string> got;
    for (const auto& e : load.errors) got.push_back(e.to_string());
    const std::vector<std::string> want = {
        "new.toml:3:9: dpdk.cores: expected a CPU list such as \"2-5\" or \"2,4,6\", not \"1-\"",
        "new.toml:3:9: dpdk.cores: give the cores here or as \"-l\" in dpdk.eal_args, not both",
        "new.toml:5:8: control.mode: must be from 0 to 511, not 1023",
        "new.toml:6:15: control.max_clients: must be from 1 to 4096, not 0",
        "new.toml:8:9: logging.level: must be one of \"trace\", \"debug\", \"info\", \"warn\", \"error\", \"off\", not \"loud\"",
        "new.toml:10:8: idle.profiles.corp: expected an idle timeout in seconds, from 1 to 604800",
        "new.toml:11:8: idle.profiles.slow: expected an idle timeout in seconds, from 1 to 604800",
    };
    EXPECT_EQ(got, want);
}

TEST(ConfigLoader, CoresAndAnLcoreListConflict) {
    const ConfigLoad load = load_config_text("[dpdk]\neal_args = [\"-l\", \"0-1\"]\ncores = \"0-1\"\n", "both.toml");
    ASSERT_EQ(load.errors.size(), 1u);
    EXPECT_EQ(load.errors[0].to_string(), "both.toml:3:9: dpdk.cores: give the cores here or as \"-l\" in dpdk.eal_args, not both");
}

// config.show prints every key; loading what it prints gives the same configuration.
TEST(ConfigLoader, RenderedConfigLoadsBackEqual) {
    ConfigLoad load = load_config_text(R"(mode = "inline"
[dpdk]
eal_args = ["--no-huge", "-m", "512", "quote\"d"]
[control]
mode = 0o640
[[ports]]
device = "net_ring0"
[[ports]]
device = "net_ring1"
mbufs = 2047
[two_point]
interval_s = 5
[idle.profiles]
corp = 333
[sack]
enabled = false
)",
                                       "r.toml");
    ASSERT_TRUE(load.ok());
    const std::string text = render_config(load.config);
    EXPECT_NE(text.find("\n[control]\nsocket = \"/run/tcpsleuth/tcpsleuth.sock\"\n"), std::string::npos) << text;
    EXPECT_NE(text.find("mode = 0o640\n"), std::string::npos) << text;
    const ConfigLoad again = load_config_text(text, "rendered.toml");
    for (const auto& e : again.errors) ADD_FAILURE() << e.to_string() << "\n" << text;
    EXPECT_TRUE(again.config == load.config) << text;
}

TEST(ConfigLoader, ChangesSayWhatALiveReloadMayTake) {
    DaemonConfig a;
    DaemonConfig b = a;
    b.inspect.mtu.min_retransmissions = 5;
    b.workers.count = 2;
    b.logging.level = "debug";
    b.idle_profiles.push_back({"corp", 333});
    b.ports.push_back({.device = "net_null0"});
    std::vector<std::string> got;
    for (const ConfigChange& c : config_changes(a, b)) got.push_back(c.key + " " + c.from + " -> " + c.to + (c.live ? " live" : " restart"));
    ASSERT_EQ(got.size(), 5u);
    EXPECT_EQ(got[0], "workers.count 1 -> 2 restart");
    EXPECT_EQ(got[1], "logging.level \"info\" -> \"debug\" live");
    EXPECT_EQ(got[2], "mtu.min_retransmissions 3 -> 5 live");
    EXPECT_TRUE(got[3].starts_with("idle.profiles azure_lb = 240, ") && got[3].find(", corp = 333") != std::string::npos &&
                got[3].ends_with(" live"))
        << got[3];
    EXPECT_EQ(got[4], "ports  -> \"net_null0\" restart");
}

TEST(ConfigLoader, RulesAreReadAndCompiled) {
    const ConfigLoad load = load_config_text(R"([payload]
scan_bytes = 1024
disable_builtin = ["ssh.banner"]

[[rules]]
id = "shop.checkout_error"
pattern = "ERR_CHECKOUT_[0-9]+"
flags = ["caseless", "single-match"]
direction = "server"
ports = [8080, 8443]
severity = "critical"
tag = "shop"

[[rules]]
id = "http.status_502"
pattern = "HTTP/1.1 502"
literal = true
event = false
)",
                                             "rules.toml");
    for (const auto& e : load.errors) ADD_FAILURE() << e.to_string();
    ASSERT_TRUE(load.ok());
    const PayloadRules& p = load.config.rules;
    ASSERT_EQ(p.rules.size(), 2u);
    const RuleSpec& r = p.rules[0];
    EXPECT_EQ(r.id, "shop.checkout_error");
    EXPECT_TRUE(r.caseless && r.single_match && !r.dotall && !r.multiline && !r.literal);
    EXPECT_EQ(r.direction, RuleDirection::kServer);
    EXPECT_EQ(r.ports, (std::vector<std::uint16_t>{8080, 8443}));
    EXPECT_EQ(r.severity, RuleSeverity::kCritical);
    EXPECT_EQ(r.tag, "shop");
    EXPECT_EQ(load.config.inspect.payload.scan_bytes, 1024u);
    // Compiled: the built-ins less the disabled one and the replaced one, then the file's two.
    const auto& set = load.config.inspect.payload.rules;
    ASSERT_NE(set, nullptr);
    EXPECT_EQ(set->rules().size(), builtin_rules().size() - 2 + 2);
    EXPECT_EQ(set->builtin_count(), builtin_rules().size() - 2);
    EXPECT_EQ(rule_names().name(set->rules().back().name), "http.status_502");
    EXPECT_FALSE(set->rules().back().event);
    EXPECT_FALSE(set->rules().back().builtin);

    // Shown and read back equal; a changed pattern is a live change named "rules".
    const ConfigLoad again = load_config_text(render_config(load.config), "rendered.toml");
    for (const auto& e : again.errors) ADD_FAILURE() << e.to_string();
    EXPECT_TRUE(again.config == load.config) << render_config(load.config);
    DaemonConfig changed = load.config;
    changed.rules.rules[1].pattern = "HTTP/1.1 503";
    const auto changes = config_changes(load.config, changed);
    ASSERT_EQ(changes.size(), 1u);
    EXPECT_EQ(changes[0].key, "rules");
    EXPECT_TRUE(changes[0].live);
    EXPECT_NE(changes[0].from, changes[0].to);
}

TEST(ConfigLoader, EveryRejectedPatternIsAnErrorAtItsRuleWithHyperscansMessage) {
    const ConfigLoad load = load_config_text(R"([[rules]]
id = "good"
pattern = "fine[0-9]"

[[rules]]
id = "unbalanced"
pattern = "abc(def"

[[rules]]
id = "bad.range"
pattern = "[z-a]"
)",
                                             "bad.toml");
    ASSERT_EQ(load.errors.size(), 2u);
    EXPECT_EQ(load.errors[0].line, 7u);
    EXPECT_EQ(load.errors[0].column, 11u);
    EXPECT_EQ(load.errors[0].key, "rules.pattern");
    EXPECT_TRUE(load.errors[0].to_string().starts_with("bad.toml:7:11: rules.pattern: rule \"unbalanced\": Hyperscan rejects the pattern: "))
        << load.errors[0].to_string();
    EXPECT_NE(load.errors[0].message.find("parenthes"), std::string::npos) << load.errors[0].message;
    EXPECT_EQ(load.errors[1].line, 11u);
    EXPECT_NE(load.errors[1].message.find("rule \"bad.range\""), std::string::npos) << load.errors[1].message;
    EXPECT_NE(load.errors[1].message.find("range"), std::string::npos) << load.errors[1].message;
    EXPECT_EQ(load.config.inspect.payload.rules, nullptr) << "a file with problems yields no configuration";
}

TEST(ConfigLoader, RuleKeysAreCheckedOneByOne) {
    const ConfigLoad load = load_config_text(R"([payload]
disable_builtin = ["no.such.rule"]

[[rules]]
id = "has space"
pattern = ""
flags = ["caseless", "greedy"]
direction = "up"
ports = [80, 70000]
severity = "fatal"
tag = "Not OK"
colour = "red"

[[rules]]
id = "dup"
pattern = "a"

[[rules]]
id = "dup"
pattern = "b"

[[rules]]
pattern = "no id"
)",
                                             "keys.toml");
    std::vector<std::string> got;
    for (const ConfigError& e : load.errors) got.push_back(std::to_string(e.line) + " " + e.key);
    const std::vector<std::string> want = {"2 payload.disable_builtin", "5 rules.id", "6 rules.pattern", "7 rules.flags",
                                           "8 rules.direction", "9 rules.ports", "10 rules.severity", "11 rules.tag",
                                           "12 rules.colour", "19 rules.id", "22 rules.id"};
    EXPECT_EQ(got, want);
    for (const ConfigError& e : load.errors) EXPECT_FALSE(e.message.empty()) << e.key;
}

TEST(ConfigLoader, SyntaxErrorHasItsPosition) {
    const ConfigLoad load = load_config_text("[flows]\ncapacity = = 3\n", "syntax.toml");
    ASSERT_EQ(load.errors.size(), 1u);
    EXPECT_EQ(load.errors[0].file, "syntax.toml");
    EXPECT_EQ(load.errors[0].line, 2u);
    EXPECT_GT(load.errors[0].column, 0u);
}

TEST(ConfigLoader, MissingFileSaysSo) {
    const ConfigLoad load = load_config_file("/nonexistent/tcpsleuth.toml");
    ASSERT_EQ(load.errors.size(), 1u);
    EXPECT_EQ(load.errors[0].to_string(), "/nonexistent/tcpsleuth.toml: cannot read: No such file or directory");
}

}  // namespace
}  // namespace tcpsleuth

namespace tcpsleuth {
namespace {

TEST(ConfigLoader, ImpairRulesAreReadWithTheirActionsKeys) {
    const ConfigLoad load = load_config_text(R"(mode = "inline"
[inline]
inspect = "server_side"
[[ports]]
device = "net_null0"
[[ports]]
device = "net_null1"
[[impair]]
name = "no-sack"
action = "strip_option"
option = "sack_perm"
fill = "remove"
side = "server"
hosts = ["198.18.2.0/24", "2001:2::/48"]
ports = [443, 8443]
probability = 0.25
[[impair]]
name = "asa"
action = "shift_seq"
offset = 1073741824
rewrite_sack = true
enabled = false
[[impair]]
name = "lossy"
action = "loss"
probability = 0.01
burst = 3
[[impair]]
name = "conntrack"
action = "idle_timeout"
seconds = 8
then = "drop"
[[impair]]
name = "table"
action = "state_limit"
flows = 10
[[impair]]
name = "pmtud"
action = "drop_larger_than"
size = 1400
icmp = true
icmp_per_s = 20
source = ["198.18.0.254", "2001:2::fe"]
ttl = 60
[[impair]]
name = "lb"
action = "idle_timeout"
seconds = 30
then = "rst"
[[impair]]
name = "ips"
action = "inject_rst"
after_s = 2.5
ttl = 128
[[impair]]
name = "sat"
action = "delay"
ms = 300
jitter_ms = 2.5
queue_packets = 2000
[[impair]]
name = "dsl"
action = "rate"
mbps = 0.5
burst_kb = 4
)",
                                             "impair.toml");
    for (const auto& e : load.errors) ADD_FAILURE() << e.to_string();
    ASSERT_EQ(load.config.impair.size(), 10u);
    const ImpairRule& pmtud = load.config.impair[5];
    EXPECT_TRUE(pmtud.icmp);
    EXPECT_EQ(pmtud.icmp_per_s, 20u);
    ASSERT_EQ(pmtud.source.size(), 2u);
    EXPECT_TRUE(is_v4_mapped(pmtud.source[0].addr));
    EXPECT_EQ(pmtud.source[0].addr[15], 254);
    EXPECT_FALSE(is_v4_mapped(pmtud.source[1].addr));
    EXPECT_EQ(pmtud.ttl, 60);
    EXPECT_TRUE(load.config.impair[6].then_rst);
    EXPECT_EQ(load.config.impair[6].ttl, 255) << "the device's own packets: TTL 255 unless told";
    EXPECT_EQ(load.config.impair[7].after_ns, 2'500'000'000u);
    EXPECT_EQ(load.config.impair[7].after_packets, 0u);
    EXPECT_EQ(load.config.impair[7].ttl, 128);
    EXPECT_EQ(load.config.impair[8].delay_ns, 300'000'000u);
    EXPECT_EQ(load.config.impair[8].jitter_ns, 2'500'000u);
    EXPECT_EQ(load.config.impair[8].queue_packets, 2000u);
    EXPECT_DOUBLE_EQ(load.config.impair[9].mbps, 0.5);
    EXPECT_EQ(load.config.impair[9].burst_kb, 4u);
    EXPECT_EQ(load.config.impair[9].queue_kb, 64u) << "a 64 KB queue unless told";
    EXPECT_EQ(load.config.impair[3].seconds, 8u);
    EXPECT_EQ(load.config.impair[3].flows, 65536u) << "idle_timeout tracks 65536 flows unless told";
    EXPECT_EQ(load.config.impair[4].flows, 10u);
    EXPECT_EQ(load.config.impair[4].seconds, 300u) << "a state table's entries last 300 s idle unless told";
    const ImpairRule& r = load.config.impair[0];
    EXPECT_EQ(r.action, ImpairAction::kStripOption);
    EXPECT_EQ(r.option, StripOption::kSackPerm);
    EXPECT_EQ(r.fill, StripFill::kRemove);
    EXPECT_EQ(r.side, ImpairSide::kServer);
    ASSERT_EQ(r.hosts.size(), 2u);
    EXPECT_EQ(r.hosts[0].bits, 96 + 24);
    EXPECT_TRUE(r.hosts[0].contains({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 2, 77}));
    EXPECT_FALSE(r.hosts[0].contains({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 3, 77}));
    EXPECT_EQ(r.hosts[1].bits, 48);
    EXPECT_EQ(r.ports, (std::vector<std::uint16_t>{443, 8443}));
    EXPECT_DOUBLE_EQ(r.probability, 0.25);
    EXPECT_EQ(load.config.impair[1].offset, 1073741824u);
    EXPECT_TRUE(load.config.impair[1].rewrite_sack);
    EXPECT_FALSE(load.config.impair[1].enabled);
    EXPECT_EQ(load.config.impair[2].burst, 3u);
    EXPECT_TRUE(load.config.inspect_server_side);
    // Rendered and read back: the same rules.
    const ConfigLoad again = load_config_text(render_config(load.config), "rendered");
    for (const auto& e : again.errors) ADD_FAILURE() << e.to_string();
    EXPECT_TRUE(again.config.impair == load.config.impair);
}

TEST(ConfigLoader, ImpairProblemsEachAtTheirPlace) {
    const ConfigLoad load = load_config_text(R"(mode = "tap"
[[ports]]
device = "net_null0"
[[impair]]
name = "a"
action = "strip_option"
size = 1200
[[impair]]
name = "a"
action = "teleport"
[[impair]]
action = "clamp_mss"
mss = 20
hosts = ["198.18.2.0/33", "nonsense"]
ports = [0]
probability = 1.5
[[impair]]
name = "b"
action = "loss"
side = "middle"
colour = "red"
[[impair]]
name = "c"
action = "idle_timeout"
then = "reject"
[[impair]]
name = "d"
action = "inject_rst"
[[impair]]
name = "e"
action = "delay"
ms = 10
jitter_ms = 20
queue_packets = 8000
[[impair]]
name = "f"
action = "drop_larger_than"
size = 1400
source = ["198.18.0.1", "198.18.0.2"]
[[impair]]
name = "g"
action = "rate"
mbps = 0
)",
                                             "bad-impair.toml");
    std::vector<std::string> got;
    for (const auto& e : load.errors) got.push_back(e.to_string());
    // An array of literals, not of std::string: GCC 12 at -O3 is slow over long
    // initializer lists of strings.
    static const char* const kWant[] = {
        "bad-impair.toml:4:1: impair.option: missing (strip_option needs it)",
        "bad-impair.toml:4:1: impair: [[impair]] rules need mode = \"inline\" (a tap only watches)",
        "bad-impair.toml:7:1: impair.size: not a key of action strip_option",
        "bad-impair.toml:9:8: impair.name: \"a\" is used by an earlier rule",
        "bad-impair.toml:10:10: impair.action: expected one of drop_larger_than, strip_option, clamp_mss, drop_ecn_syn, bleach_ecn, erase_ce, mark_ce, shift_seq, loss, idle_timeout, state_limit, inject_rst, delay, rate",
        "bad-impair.toml:11:1: impair.name: missing",
        "bad-impair.toml:13:7: impair.mss: expected an integer from 88 to 65535",
        "bad-impair.toml:14:10: impair.hosts: expected an address or prefix such as \"198.18.2.0/24\" or \"2001:2::/48\"",
        "bad-impair.toml:14:27: impair.hosts: expected an address or prefix such as \"198.18.2.0/24\" or \"2001:2::/48\"",
        "bad-impair.toml:15:9: impair.ports: expected a non-empty array of TCP ports from 1 to 65535",
        "bad-impair.toml:16:15: impair.probability: expected a number above 0 and at most 1",
        "bad-impair.toml:20:8: impair.side: expected \"client\", \"server\" or \"both\"",
        "bad-impair.toml:21:1: impair.colour: not a key of action loss (unknown key)",
        "bad-impair.toml:22:1: impair.seconds: missing (idle_timeout needs it)",
        "bad-impair.toml:25:8: impair.then: expected \"drop\" (silently) or \"rst\" (answered with the device's own reset)",
        "bad-impair.toml:26:1: impair.after_packets: inject_rst needs one of after_packets (the flow's Nth packet) or after_s (seconds after its SYN)",
        // 8000 delay slots + 64 KB of 60-byte frames (1093) for the rate rule, at the first of them.
        "bad-impair.toml:29:1: impair: delay and rate rules may hold 9093 packets each way, more than half of the 8191 buffers of a port: raise dpdk.mbufs_per_port to 18186 or shorten queue_packets / queue_kb",
        "bad-impair.toml:33:13: impair.jitter_ms: at most ms (a packet cannot leave before it came)",
        "bad-impair.toml:39:10: impair.source: expected one or two addresses, at most one of each family ([\"198.18.0.254\", \"2001:2::fe\"])",
        "bad-impair.toml:39:10: impair.source: only with icmp = true (a silent drop sends nothing)",
        "bad-impair.toml:43:8: impair.mbps: expected megabits per second from 0.01 to 400000",
    };
    const std::vector<std::string> want(std::begin(kWant), std::end(kWant));
    EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace tcpsleuth

namespace tcpsleuth {
namespace {

TEST(ConfigLoader, MetricsListenIsAnAddressAndPort) {
    for (const char* good : {"127.0.0.1:9580", "[::1]:9580", "0.0.0.0:0"}) {
        const ConfigLoad load = load_config_text(std::string("[metrics]\nlisten = \"") + good + "\"\n", "m.toml");
        EXPECT_TRUE(load.ok()) << good;
        EXPECT_EQ(load.config.metrics.listen, good);
    }
    const std::pair<const char*, const char*> bad[] = {
        {"localhost:9580", "m.toml:2:10: metrics.listen: \"localhost\" is not an IPv4 address (IPv6 goes in brackets: \"[::1]:9580\")"},
        {"::1:9580", "m.toml:2:10: metrics.listen: \"::1\" is not an IPv4 address (IPv6 goes in brackets: \"[::1]:9580\")"},
        {"[::1]:99999", "m.toml:2:10: metrics.listen: the port must be a number from 0 to 65535"},
        {"9580", "m.toml:2:10: metrics.listen: expected ADDRESS:PORT, such as \"127.0.0.1:9580\" or \"[::1]:9580\""},
    };
    for (const auto& [text, want] : bad) {
        const ConfigLoad load = load_config_text(std::string("[metrics]\nlisten = \"") + text + "\"\n", "m.toml");
        ASSERT_EQ(load.errors.size(), 1u) << text;
        EXPECT_EQ(load.errors[0].to_string(), want);
    }
}

TEST(ConfigLoader, ProbeSourceIsAnAddressAndItsTestsAreKnown) {
    const ConfigLoad good = load_config_text("[probe]\nenabled = true\nsource = \"2001:2:1::2\"\ntests = \"options,idle\"\n", "p.toml");
    ASSERT_TRUE(good.ok());
    EXPECT_TRUE(good.config.probe.enabled);
    EXPECT_EQ(good.config.probe.source, "2001:2:1::2");
    EXPECT_EQ(good.config.probe.tests, "options,idle");
    EXPECT_FALSE(DaemonConfig{}.probe.enabled) << "a sensor sends no probe unless told to";
    // Every problem at once, each at its place.
    const ConfigLoad bad = load_config_text(
        "[probe]\nsource = \"eth0\"\ntests = \"options,traceroute\"\nrate_pps = 0\n", "p.toml");
    std::vector<std::string> got;
    for (const ConfigError& e : bad.errors) got.push_back(e.to_string());
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, (std::vector<std::string>{
                       "p.toml:2:10: probe.source: expected an IPv4 or IPv6 address, not \"eth0\"",
                       "p.toml:3:9: probe.tests: unknown test \"traceroute\" (options, ecn, pmtu, rst, seq, idle)",
                       "p.toml:4:12: probe.rate_pps: must be from 1 to 1000, not 0",
                   }));
}

TEST(ConfigLoader, TwoPointPortsAreReadAndRenderedBack) {
    const ConfigLoad load = load_config_text(R"([[ports]]
device = "net_af_packet0,iface=m1"
point = "outside"
[[ports]]
device = "net_af_packet1,iface=n1"
point = "inside"
[two_point]
inspect = "inside"
interval_s = 5
window_s = 60
max_packets = 20000
ring_packets = 4096
)",
                                             "p.toml");
    for (const auto& e : load.errors) ADD_FAILURE() << e.to_string();
    ASSERT_TRUE(load.ok());
    ASSERT_EQ(load.config.ports.size(), 2u);
    EXPECT_EQ(load.config.ports[0].point, Point::kOutside);
    EXPECT_EQ(load.config.ports[1].point, Point::kInside);
    EXPECT_TRUE(two_point_mode(load.config));
    EXPECT_EQ(load.config.two_point.inspect, Point::kInside);
    EXPECT_EQ(load.config.two_point.interval_s, 5u);
    EXPECT_EQ(load.config.two_point.window_s, 60u);
    EXPECT_EQ(load.config.two_point.max_packets, 20000u);
    EXPECT_EQ(load.config.two_point.ring_packets, 4096u);
    const std::string text = render_config(load.config);
    EXPECT_NE(text.find("point = \"inside\"\n"), std::string::npos) << text;
    const ConfigLoad again = load_config_text(text, "rendered.toml");
    for (const auto& e : again.errors) ADD_FAILURE() << e.to_string() << "\n" << text;
    EXPECT_TRUE(again.config == load.config) << text;
    EXPECT_FALSE(two_point_mode(DaemonConfig{}));
}

// Two-point mode watches mirrors of both sides: each problem at its port (in file order), a
// point named wrongly once (not also as missing).
TEST(ConfigLoader, TwoPointProblemsEachAtTheirPort) {
    const ConfigLoad load = load_config_text(R"(mode = "inline"
[[ports]]
device = "net_ring0"
point = "outside"
[[ports]]
device = "net_ring1"
[[ports]]
device = "net_ring2"
point = "middle"
[[ports]]
device = "net_ring3"
point = "outside"
)",
                                             "p.toml");
    std::vector<std::string> got;
    for (const auto& e : load.errors) got.push_back(e.to_string());
    const std::vector<std::string> want = {
        "p.toml:2:1: ports.point: two-point mode watches mirrors: it needs mode = \"tap\"",
        "p.toml:5:1: ports.point: missing: in two-point mode every port names its point (\"outside\" or \"inside\")",
        "p.toml:9:9: ports.point: expected \"outside\" or \"inside\" (the side of the device this port's mirror shows)",
        "p.toml:10:1: ports.point: two-point mode watches mirrors: it needs mode = \"tap\"",
        "p.toml:10:1: ports.point: two-point mode needs a port with point = \"inside\" as well: a device is compared from both sides",
    };
    EXPECT_EQ(got, want);
}

TEST(ConfigLoader, RedisOutputAndSensorName) {
    const ConfigLoad load = load_config_text(R"([sensor]
name = "edge-1"
[output.redis]
server = "/run/redis/redis.sock"
mode = "publish"
key = "findings"
username = "sensor"
password = "s3cret"
max_length = 0
)",
                                             "r.toml");
    for (const auto& e : load.errors) ADD_FAILURE() << e.to_string();
    ASSERT_TRUE(load.ok());
    EXPECT_EQ(load.config.sensor.name, "edge-1");
    EXPECT_EQ(load.config.output.redis.server, "/run/redis/redis.sock");
    EXPECT_EQ(load.config.output.redis.mode, "publish");
    EXPECT_EQ(load.config.output.redis.key, "findings");
    EXPECT_EQ(load.config.output.redis.max_length, 0u);
    EXPECT_EQ(load.config.output.redis.username, "sensor");
    EXPECT_EQ(load.config.output.redis.password, "s3cret");
    const ConfigLoad bad = load_config_text(
        "[output.redis]\nserver = \"redis.example:6379\"\nmode = \"xadd\"\nkey = \"\"\nusername = \"sensor\"\n", "r.toml");
    std::vector<std::string> got;
    for (const auto& e : bad.errors) got.push_back(e.to_string());
    const std::vector<std::string> want = {
        "r.toml:2:10: output.redis.server: \"redis.example\" is not an IPv4 address (IPv6 goes in brackets: \"[::1]:9580\"), or a Unix socket's path",
        "r.toml:3:8: output.redis.mode: must be one of \"stream\", \"rpush\", \"lpush\", \"publish\", not \"xadd\"",
        "r.toml:4:7: output.redis.key: expected a non-empty stream, list or channel name",
        "r.toml:5:12: output.redis.username: a username needs its password (output.redis.password)",
    };
    EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace tcpsleuth
