// Logging set-up: one spdlog logger per role ("sim", "worker", "coordinator"), writing to
// stderr. Nothing per request or per token at info level on hot paths.
#ifndef LLMBENCH_COMMON_LOGGING_H_
#define LLMBENCH_COMMON_LOGGING_H_

#include <memory>
#include <string_view>

#include <spdlog/logger.h>

namespace llmbench {

// Creates (or returns) the logger named `role` and makes it the default logger.
// `level` is one of trace, debug, info, warn, error, off; unknown names mean info.
std::shared_ptr<spdlog::logger> InitLogging(std::string_view role, std::string_view level = "info");

}  // namespace llmbench

#endif  // LLMBENCH_COMMON_LOGGING_H_
