#include "logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace tcpsleuth {

spdlog::level::level_enum log_level_named(const std::string& name) {
    if (name == "trace") return spdlog::level::trace;
    if (name == "debug") return spdlog::level::debug;
    if (name == "warn") return spdlog::level::warn;
    if (name == "error") return spdlog::level::err;
    if (name == "off") return spdlog::level::off;
    return spdlog::level::info;
}

namespace {
constexpr const char* kFileLogger = "tcpsleuth-file";
}  // namespace

bool reopen_log_file(const LoggingConfig& cfg, std::string& error) {
    if (cfg.file.empty()) return true;
    const std::shared_ptr<spdlog::logger> before = spdlog::default_logger();
    try {
        spdlog::drop(kFileLogger);
        auto logger = spdlog::basic_logger_mt(kFileLogger, cfg.file);  // appends: a fresh file after a move
        logger->flush_on(spdlog::level::info);
        logger->set_level(before->level());
        spdlog::set_default_logger(logger);
    } catch (const spdlog::spdlog_ex& e) {
        error = "logging.file: " + cfg.file + ": " + e.what() + " (logs keep going to the old file)";
        spdlog::set_default_logger(before);
        return false;
    }
    return true;
}

bool setup_logging(const LoggingConfig& cfg, std::optional<spdlog::level::level_enum> forced, std::string& error) {
    if (!cfg.file.empty()) {
        try {
            auto logger = spdlog::basic_logger_mt(kFileLogger, cfg.file);
            logger->flush_on(spdlog::level::info);
            spdlog::set_default_logger(logger);
        } catch (const spdlog::spdlog_ex& e) {
            error = "logging.file: " + cfg.file + ": " + e.what();
            return false;
        }
    }
    spdlog::set_level(forced ? *forced : log_level_named(cfg.level));
    return true;
}

}  // namespace tcpsleuth
