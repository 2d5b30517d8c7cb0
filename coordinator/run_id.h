// Names of results folders and the dates shown beside them.
//
// Thread-safety: free functions (MakeRunId draws from std::random_device).
#ifndef LLMBENCH_COORDINATOR_RUN_ID_H_
#define LLMBENCH_COORDINATOR_RUN_ID_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace llmbench::coordinator {

// "PREFIX-YYYYMMDD-HHMMSS-hhhh" for `unix_ns` in UTC and 16 random bits ("YYYYMMDD-HHMMSS-hhhh"
// when `prefix` is empty), e.g. "sweep-20261127-120000-ab12".
std::string MakeRunId(std::string_view prefix, int64_t unix_ns);

// "YYYY-MM-DD HH:MM:SS UTC" for `unix_ns`; "unknown date" for 0 (absent in summary.json).
std::string FormatUtc(int64_t unix_ns);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_RUN_ID_H_
