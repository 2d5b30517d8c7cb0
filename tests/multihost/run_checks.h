// Helpers for tests that run the real `llmbench` coordinator and then read what it wrote:
// summary.json parsed back into a RunResult, requests.csv parsed into rows, a scenario file
// written from YAML text, and a process's peak resident memory from /proc.
//
// Thread-safety: free functions without shared state.
#ifndef LLMBENCH_TESTS_MULTIHOST_RUN_CHECKS_H_
#define LLMBENCH_TESTS_MULTIHOST_RUN_CHECKS_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "llmbench/v1/result.pb.h"

namespace llmbench::testing {

// `dir`/summary.json parsed into a RunResult (protobuf JSON, unknown fields are an error).
absl::StatusOr<llmbench::v1::RunResult> ReadSummary(const std::string& dir);

// One requests.csv row: the columns these tests look at, plus every column by header name.
struct CsvRow {
  uint64_t request_id = 0;
  std::string worker_id;
  std::string engine;
  bool warmup = false;
  std::string error_class;
  int64_t sent_ns = 0;
  int64_t end_ns = 0;
  std::map<std::string, std::string> columns;
};

// `dir`/requests.csv parsed (RFC 4180 quoting, as RequestsCsvWriter writes it).
absl::StatusOr<std::vector<CsvRow>> ReadRequestsCsv(const std::string& dir);

// Writes `text` to `path`.
absl::Status WriteTextFile(const std::string& path, const std::string& text);

// The peak resident set size (VmHWM) of process `pid` in KiB, from /proc/<pid>/status.
absl::StatusOr<uint64_t> PeakRssKib(pid_t pid);
// The current resident set size (VmRSS) of process `pid` in KiB.
absl::StatusOr<uint64_t> RssKib(pid_t pid);

// A fresh empty directory under $TMPDIR (or /tmp) named `stem`-XXXXXX.
absl::StatusOr<std::string> MakeTempDir(const std::string& stem);

// Wall-clock now in ns since the epoch (the clock of failed_at_unix_ns).
int64_t UnixNowNs();

}  // namespace llmbench::testing

#endif  // LLMBENCH_TESTS_MULTIHOST_RUN_CHECKS_H_
