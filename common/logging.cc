#include "common/logging.h"

#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace llmbench {

std::shared_ptr<spdlog::logger> InitLogging(std::string_view role, std::string_view level) {
  const std::string name(role);
  // shared_ptr: spdlog's registry and the caller both hold the logger.
  std::shared_ptr<spdlog::logger> logger = spdlog::get(name);
  if (!logger) logger = spdlog::stderr_color_mt(name);
  spdlog::level::level_enum lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") lvl = spdlog::level::info;
  logger->set_level(lvl);
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
  spdlog::set_default_logger(logger);
  return logger;
}

}  // namespace llmbench
