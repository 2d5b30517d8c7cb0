#include "common/logging.h"

#include <memory>
#include <string>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "common/text_safety.h"

namespace llmbench {
namespace {

// %* in the pattern: the message with control characters escaped (common/text_safety.h), so
// that text a peer or an engine chose cannot drive the terminal a log is read on.
class EscapedMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm& /*tm*/,
              spdlog::memory_buf_t& dest) override {
    std::string escaped;
    AppendEscapedControlCharacters(std::string_view(msg.payload.data(), msg.payload.size()),
                                   &escaped);
    dest.append(escaped.data(), escaped.data() + escaped.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<EscapedMessageFlag>();
  }
};

}  // namespace

std::shared_ptr<spdlog::logger> InitLogging(std::string_view role, std::string_view level) {
  const std::string name(role);
  // shared_ptr: spdlog's registry and the caller both hold the logger.
  std::shared_ptr<spdlog::logger> logger = spdlog::get(name);
  if (!logger) logger = spdlog::stderr_color_mt(name);
  spdlog::level::level_enum lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") lvl = spdlog::level::info;
  logger->set_level(lvl);
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<EscapedMessageFlag>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %*");
  logger->set_formatter(std::move(formatter));
  spdlog::set_default_logger(logger);
  return logger;
}

}  // namespace llmbench
