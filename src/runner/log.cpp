// Loggers per component, on stderr.
#include "ukrun/runner/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <cstdlib>

namespace ukrun::runner {

std::shared_ptr<spdlog::logger> component_log(const std::string& component,
                                              spdlog::level::level_enum fallback) {
    if (auto existing = spdlog::get(component)) return existing;
    auto log = spdlog::stderr_color_mt(component);
    const char* level = std::getenv("UKRUN_LOG");
    log->set_level(level ? spdlog::level::from_str(level) : fallback);
    return log;
}

}  // namespace ukrun::runner
