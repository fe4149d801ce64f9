#pragma once
// The TOML loader: reads the whole file, checks every key against the schema, and reports
// every problem at once as `file:line:col: dotted.key: message`. A file with any problem
// yields no configuration: nothing starts half-configured.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "daemon_config.h"

namespace tcpsleuth {

struct ConfigError {
    std::string file;
    std::uint32_t line = 0;
    std::uint32_t column = 0;
    std::string key;  // dotted; empty for syntax errors
    std::string message;

    std::string to_string() const;
};

struct ConfigLoad {
    DaemonConfig config;
    std::vector<ConfigError> errors;
    bool ok() const noexcept { return errors.empty(); }
};

ConfigLoad load_config_file(const std::string& path);
// `name` stands for the file in messages.
ConfigLoad load_config_text(std::string_view text, std::string_view name);

// The configuration as TOML, every key with its value, in the example file's order
// (`config.show`). Loading the text gives the same configuration back.
std::string render_config(const DaemonConfig& c);

// What differs between two configurations, key by key, and whether a running daemon can
// take the new value (`reload`).
struct ConfigChange {
    std::string key;
    std::string from, to;  // TOML literals
    bool live = false;
};
std::vector<ConfigChange> config_changes(const DaemonConfig& from, const DaemonConfig& to);

// "2-5", "2,4,6", "0,2-3" -> the CPUs in order. False when the text is not such a list.
bool parse_cpu_list(std::string_view s, std::vector<unsigned>& out);

// Every scalar key the schema knows, dotted ("flows.capacity"), in schema order; the
// per-port keys appear as "ports.device".
std::vector<std::string> config_keys();

}  // namespace tcpsleuth
