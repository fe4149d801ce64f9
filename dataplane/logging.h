#pragma once
// spdlog set-up from [logging] and -v/-q, shared by `run` and `analyze`. Logs go to stderr
// (stdout carries events) or to logging.file.

#include <optional>
#include <string>

#include <spdlog/spdlog.h>

#include "config/daemon_config.h"

namespace tcpsleuth {

// "info" -> spdlog::level::info; the loader has already checked the name.
spdlog::level::level_enum log_level_named(const std::string& name);

// Installs the default logger. `forced` (from -v/-q) wins over cfg.level. False with a
// message when the log file cannot be opened.
bool setup_logging(const LoggingConfig& cfg, std::optional<spdlog::level::level_enum> forced, std::string& error);

// After logrotate moved logging.file away: logs go on in a fresh file of that name. False
// with a message (logs keep going to the old file) when it cannot be opened.
bool reopen_log_file(const LoggingConfig& cfg, std::string& error);

}  // namespace tcpsleuth
