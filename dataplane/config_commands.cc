// `tcpsleuth check-config FILE` and `tcpsleuth rules [FILE]`: the configuration and the
// payload rules read, checked and shown, without starting anything.

#include "config_commands.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "config/loader.h"

namespace tcpsleuth {

std::optional<DaemonConfig> load_command_config(const std::string& path, const char* verb) {
    const std::string name = path.empty() ? "the built-in defaults" : path;
    ConfigLoad load = path.empty() ? load_config_text("", name) : load_config_file(path);
    if (!load.ok()) {
        for (const ConfigError& e : load.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
        std::fprintf(stderr, "tcpsleuth: %zu problem(s) in %s; nothing %s\n", load.errors.size(), name.c_str(), verb);
        return std::nullopt;
    }
    DaemonConfig config = std::move(load.config);
    if (path.empty()) config.logging.level = "warn";  // a one-shot command: quiet unless something is wrong
    return config;
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
    std::printf("%s: valid: mode %s, %zu port(s), %u worker(s), %u flows per worker, %zu payload rule(s)\n", argv[1],
                to_string(c.mode), c.ports.size(), c.workers.count, c.inspect.flows.capacity,
                c.inspect.payload.rules ? c.inspect.payload.rules->rules().size() : 0);
    return 0;
}

int rules_main(int argc, char** argv) {
    if (argc > 2 || (argc == 2 && (std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "--help") == 0))) {
        std::fputs("usage: tcpsleuth rules [FILE]\n\nLists the payload rules in effect: the built-in set, and FILE's [[rules]]\n"
                   "and [payload] settings when given. Compiles them, so a bad pattern shows here as at start.\n"
                   "exit status: 0 listed, 1 problems found\n",
                   argc == 2 ? stdout : stderr);
        return argc == 2 ? 0 : 1;
    }
    // Without a file: what an empty one gives, the built-in rules compiled.
    ConfigLoad load = argc == 2 ? load_config_file(argv[1]) : load_config_text("", "(built-in defaults)");
    for (const ConfigError& e : load.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    if (!load.ok()) {
        std::fprintf(stderr, "%zu problem(s) in %s\n", load.errors.size(), argc == 2 ? argv[1] : "the built-in rules");
        return 1;
    }
    const DaemonConfig& c = load.config;
    const std::vector<RuleSpec> rules = effective_rules(c.rules);
    std::printf("%-22s %-7s %-10s %-8s %-5s %-6s %s\n", "id", "side", "tag", "severity", "event", "origin", "pattern");
    for (std::size_t i = 0; i < rules.size(); ++i) {
        const RuleSpec& r = rules[i];
        std::vector<const char*> names = rule_flag_names(r);
        if (r.literal) names.insert(names.begin(), "literal");
        std::string flags;
        for (const char* name : names) flags += std::string(flags.empty() ? "  [" : ", ") + name;
        if (!flags.empty()) flags += "]";
        std::string ports;
        for (const std::uint16_t p : r.ports) ports += (ports.empty() ? "  ports " : ",") + std::to_string(p);
        const bool builtin = i < c.inspect.payload.rules->builtin_count();
        std::printf("%-22s %-7s %-10s %-8s %-5s %-6s %s%s%s\n", r.id.c_str(), to_string(r.direction),
                    r.tag.empty() ? "-" : r.tag.c_str(), to_string(r.severity), r.event ? "yes" : "no",
                    builtin ? "built" : "file", r.pattern.c_str(), flags.c_str(), ports.c_str());
    }
    const RuleSet& set = *c.inspect.payload.rules;
    std::printf("\n%zu rule(s); scanning %s, the first %u bytes of each direction; stream state %zu B (client) + %zu B "
                "(server) per flow, %u flows per worker: %.1f MiB per worker\n",
                rules.size(), c.inspect.payload.enabled ? "on" : "off", c.inspect.payload.scan_bytes,
                set.stream_bytes(0), set.stream_bytes(1), c.inspect.payload.streams,
                static_cast<double>(set.stream_bytes(0) + set.stream_bytes(1)) * c.inspect.payload.streams / (1 << 20));
    return 0;
}

}  // namespace tcpsleuth
