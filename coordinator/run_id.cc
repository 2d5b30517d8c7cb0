#include "coordinator/run_id.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace llmbench::coordinator {

std::string MakeRunId(std::string_view prefix, int64_t unix_ns) {
  const std::string stamp =
      absl::FormatTime("%Y%m%d-%H%M%S", absl::FromUnixNanos(unix_ns), absl::UTCTimeZone());
  std::random_device rd;
  const std::string id = absl::StrFormat("%s-%04x", stamp, rd() & 0xffff);
  return prefix.empty() ? id : absl::StrCat(std::string(prefix), "-", id);
}

std::string FormatUtc(int64_t unix_ns) {
  if (unix_ns == 0) return "unknown date";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixNanos(unix_ns),
                          absl::UTCTimeZone());
}

}  // namespace llmbench::coordinator
