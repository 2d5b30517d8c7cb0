// Exporters: pure functions from the run's RunResult (and, for the CSV, its records) to the
// artifacts under results/<run-id>/ — summary.json, requests.csv, scenario.yaml — and to the
// console summary table; LoadRunResult() reads summary.json back for `llmbench report DIR`;
// ExitStatusFor() turns a result into the process exit status.
//
// There is no Exporter interface: the JSON and console outputs are single functions of the
// RunResult and the CSV streams per record, so an interface would have one caller per
// implementation.
//
// Thread-compatible; the free functions are thread-safe.
#ifndef LLMBENCH_COORDINATOR_EXPORTERS_H_
#define LLMBENCH_COORDINATOR_EXPORTERS_H_

#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "llmbench/v1/record.pb.h"
#include "llmbench/v1/result.pb.h"
#include "llmbench/v1/scenario.pb.h"

namespace llmbench::coordinator {

inline constexpr char kSummaryFileName[] = "summary.json";
inline constexpr char kRequestsFileName[] = "requests.csv";
inline constexpr char kScenarioFileName[] = "scenario.yaml";

// summary.json: the RunResult as pretty-printed JSON with the proto's snake_case names;
// unset optional metrics stay absent (and so do zero scalars). Ends with a newline.
absl::StatusOr<std::string> SummaryJson(const v1::RunResult& result);

// Reads DIR/summary.json back. NotFound when it is missing, InvalidArgument when it does not
// parse; both name the path.
absl::StatusOr<v1::RunResult> LoadRunResult(const std::string& dir);

// Creates `dir` (and parents) and writes summary.json and, when `scenario_yaml` is not
// empty, scenario.yaml into it. Errors name the file.
absl::Status WriteRunResults(const std::string& dir, const v1::RunResult& result,
                             std::string_view scenario_yaml);

// requests.csv: the header line, then one line per record with every RequestRecord field
// (engine_timings fields as their own columns, chunk_offsets_ns ';'-separated in one column,
// empty cells for absent optionals). RFC 4180 quoting: a field holding a comma, a double
// quote, CR or LF is enclosed in double quotes with inner quotes doubled. Lines end in "\n".
std::string RequestsCsvHeader();
void AppendRequestCsvRow(const v1::RequestRecord& record, std::string* out);
std::string RequestsCsv(std::span<const v1::RequestRecord> records);

// Streams requests.csv as records arrive (the coordinator does not keep records).
class RequestsCsvWriter {
 public:
  // Creates or truncates `path` and writes the header.
  static absl::StatusOr<std::unique_ptr<RequestsCsvWriter>> Open(const std::string& path);
  ~RequestsCsvWriter();
  RequestsCsvWriter(const RequestsCsvWriter&) = delete;
  RequestsCsvWriter& operator=(const RequestsCsvWriter&) = delete;

  // Buffered; a write error is reported by Close().
  void Append(const v1::RequestRecord& record);
  // Flushes and closes; idempotent.
  absl::Status Close();

 private:
  RequestsCsvWriter(std::string path, std::FILE* file);
  absl::Status Flush();

  std::string path_;
  std::FILE* file_;  // owned
  std::string buffer_;
  absl::Status status_;
};

// The console summary: one row per engine (plus "all" when several ran side by side) with
// requests, requests not run (only when some did not), success %, req/s, output tok/s, TTFT
// p50/p99, ITL p50/p99, TPOT p50, E2E p50/p99 (ms) and goodput; "-" for an absent metric;
// then the verdict line, its reasons and the thresholds crossed. Columns are aligned; ends
// with a newline.
std::string ConsoleSummary(const v1::RunResult& result);

// The exit status of a stored result (docs/cli.md, "Exit status"): the verdict's own
// exit_status when it has one; otherwise judged again from the verdict's state and
// ThresholdsCrossed(result, thresholds) (coordinator/aggregate.h), as ExitStatusForVerdict.
// `reason` (optional) receives why, empty for 0.
int ExitStatusFor(const v1::RunResult& result, const v1::Thresholds& thresholds,
                  std::string* reason);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_EXPORTERS_H_
