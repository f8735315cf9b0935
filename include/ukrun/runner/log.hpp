// Loggers: one spdlog logger per component ("runner", "net", "nanos"), on stderr.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace ukrun::runner {

/// The logger of `component`, created on first use. Its level comes from $UKRUN_LOG (debug,
/// info, warn, ...) and is `fallback` when that is unset.
std::shared_ptr<spdlog::logger> component_log(const std::string& component,
                                              spdlog::level::level_enum fallback);

}  // namespace ukrun::runner
