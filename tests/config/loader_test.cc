// The TOML loader: the example file documents every key with its built-in default, and a
// bad file yields every problem with its line and column, and no configuration.

#include <gtest/gtest.h>
#include <toml++/toml.h>

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
        if (key == "ports.device" || key == "ports.mbufs") {
            const std::string shown = key == "ports.device" ? "# device = \"" : "# mbufs = ";
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
