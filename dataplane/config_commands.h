#pragma once

#include <optional>
#include <string>

#include "config/daemon_config.h"

namespace tcpsleuth {

// The configuration of a one-shot command (analyze, compare): `path`'s, or without one what
// an empty file gives (the defaults, the built-in rules), logging at warn. Every problem is
// printed as file:line:col and then "nothing <verb>"; nullopt then.
std::optional<DaemonConfig> load_command_config(const std::string& path, const char* verb);

// `tcpsleuth check-config FILE`; argv[0] is "check-config". Returns the exit code.
int check_config_main(int argc, char** argv);
// `tcpsleuth rules [FILE]`; argv[0] is "rules".
int rules_main(int argc, char** argv);

}  // namespace tcpsleuth
