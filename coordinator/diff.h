// Regression detection (`llmbench diff BASE CANDIDATE`): compares two results folders
// (summary.json + requests.csv) metric by metric and engine by engine.
//
// For each latency percentile (TTFT, TPOT, ITL, E2E at p50 and p99) a change is SIGNIFICANT
// when both
//   - the two-sided Mann–Whitney U test on the per-request values (normal approximation with
//     tie correction and a 0.5 continuity correction) gives p < alpha, and
//   - the percentile-bootstrap (1 − alpha) confidence interval of the percentile difference
//     (candidate − base; both samples resampled independently, seeded RNG) excludes 0.
// Requiring both keeps the false-alarm rate at or below alpha (the U test's level) while the
// bootstrap ties the decision to the percentile actually reported. Throughputs
// (request_throughput, output_token_throughput) are one number per run: they have no test and
// are judged on their change alone. Each metric then gets a verdict against its threshold
// (maximum allowed relative worsening): REGRESSED when significant and worse by more than the
// threshold, IMPROVED when significant and better by more than it, PASS otherwise, N/A when a
// side lacks the metric. Nothing compared is not a pass: with no engine in common, or an engine
// in common without a single metric that has a value on both sides, the outcome is NOTHING
// COMPARED (exit kExitNothingCompared) with a message naming what was missing. Details and
// caveats: docs/metrics.md, "Regression detection".
//
// Thread-safety: pure functions.
#ifndef LLMBENCH_COORDINATOR_DIFF_H_
#define LLMBENCH_COORDINATOR_DIFF_H_

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "coordinator/request_samples.h"
#include "llmbench/v1/result.pb.h"

namespace llmbench::coordinator {

// Exit status of `llmbench diff` when any metric REGRESSED.
inline constexpr int kExitRegression = 5;
// Exit status of `llmbench diff` when nothing was compared: no engine in common, or an engine
// in common without any metric that has a value on both sides. Nothing compared is not a pass.
inline constexpr int kExitNothingCompared = 7;
inline constexpr char kDiffHtmlFileName[] = "diff.html";

struct MannWhitneyResult {
  double u = 0;        // U of the first sample
  double z = 0;        // continuity-corrected, >= 0
  double p_value = 1;  // two-sided
};
// REQUIRES: both samples non-empty.
MannWhitneyResult MannWhitneyU(std::span<const double> a, std::span<const double> b);

struct Interval {
  double low = 0;
  double high = 0;
};
// Percentile-bootstrap CIs at `confidence` of quantile_q(b) − quantile_q(a) for each q of
// `quantiles` (R-7 quantiles), from `resamples` independent resamples of each side drawn by a
// std::mt19937_64 seeded with `seed` (so equal inputs give equal intervals). Samples larger
// than kMaxBootstrapSample are first subsampled (seeded) to that size, which only widens the
// intervals. REQUIRES: both samples non-empty, resamples >= 1.
inline constexpr size_t kMaxBootstrapSample = 20000;
std::vector<Interval> BootstrapQuantileDiff(std::span<const double> a, std::span<const double> b,
                                            std::span<const double> quantiles, int resamples,
                                            double confidence, uint64_t seed);

// Thresholds: the maximum relative worsening allowed per metric (0.10 = 10%).
struct DiffThresholds {
  std::map<std::string, double> max_regression;
  double default_max_regression = 0.10;
  double alpha = 0.05;
};
// Metric names accepted in thresholds, in table order.
const std::vector<std::string>& DiffMetricNames();
// Parses "10%", "10" (also percent) or "2.5%" into a fraction. Errors name `what`.
absl::StatusOr<double> ParsePercent(const std::string& text, const std::string& what);
// Applies one "--max-regression METRIC=PCT".
absl::Status AddMaxRegression(const std::string& spec, DiffThresholds* thresholds);
// YAML: {alpha: 0.05, default_max_regression: 10%, max_regression: {ttft_p99: 10%, ...}}; every
// key optional; unknown keys are errors. Overrides only what the file gives.
absl::Status LoadThresholdsYaml(const std::string& yaml, const std::string& source,
                                DiffThresholds* thresholds);
absl::Status LoadThresholdsFile(const std::string& path, DiffThresholds* thresholds);

enum class DiffVerdict { kPass, kRegressed, kImproved, kNotAvailable };
const char* DiffVerdictName(DiffVerdict verdict);

struct MetricDiff {
  std::string engine;
  std::string metric;
  std::optional<double> base;
  std::optional<double> candidate;
  std::optional<double> change;  // (candidate − base) / base
  bool tested = false;           // a significance test ran
  std::optional<double> p_value;
  std::optional<Interval> ci;    // of candidate − base, in the metric's unit
  bool significant = false;      // tested and significant, or untested
  double threshold = 0;
  DiffVerdict verdict = DiffVerdict::kNotAvailable;
};

struct DiffOptions {
  DiffThresholds thresholds;
  int bootstrap_resamples = 1000;
  uint64_t seed = 1;
};

// One side of a comparison, from its summary.json.
struct DiffRunInfo {
  std::string dir;  // the folder given on the command line (set by DiffRunDirs)
  std::string run_id;
  std::string scenario;  // the scenario's name
  std::string llmbench_version;
  int64_t started_unix_ns = 0;
  int64_t finished_unix_ns = 0;
  std::vector<std::string> engines;
  std::string label;                        // Scenario.label (--label)
  std::map<std::string, std::string> tags;  // Scenario.tags (--tag K=V), sorted
};

// Two engines compared with each other.
struct DiffEnginePair {
  std::string label;  // the table's engine column: the name, or "base -> candidate"
  std::string base_engine;
  std::string candidate_engine;
  int compared = 0;  // metrics with a value on both sides
  // The page's overlaid CDFs: {"ttft_ms": DistributionJson({base, candidate}), "tpot_ms", "itl_ms",
  // "e2e_ms"} (html_report.h); "" without per-request values on both sides.
  std::string distributions_json;
};

struct DiffReport {
  DiffRunInfo base;
  DiffRunInfo candidate;
  std::vector<DiffEnginePair> pairs;
  std::vector<MetricDiff> rows;
  std::vector<std::string> notes;  // engines only on one side, missing requests.csv, ...
  double alpha = 0.05;
  bool regressed = false;
  // What was not compared, naming what was missing ("no engine in common: base has a, b;
  // candidate has c"); "" when every engine in common had a metric with data on both sides.
  std::string nothing_compared;
};

// Compares two loaded results. `base_samples` / `candidate_samples` may be null (no
// requests.csv): percentiles then come from the summaries and are judged untested.
// Engines are matched by name; when each side has exactly one engine they are matched
// whatever their names.
DiffReport DiffResults(const v1::RunResult& base, const std::map<std::string, RequestSamples>* base_samples,
                       const v1::RunResult& candidate,
                       const std::map<std::string, RequestSamples>* candidate_samples,
                       const DiffOptions& options);
// Loads both folders and compares them.
absl::StatusOr<DiffReport> DiffRunDirs(const std::string& base_dir,
                                       const std::string& candidate_dir,
                                       const DiffOptions& options);

// Unit of a metric's values ("ms", "req/s", "tok/s"); "" for an unknown name.
std::string_view DiffMetricUnit(std::string_view metric);

// "PASS", "REGRESSED" or "NOTHING COMPARED": the outcome DiffExitStatus reports.
std::string DiffOutcome(const DiffReport& report);

// The console table (one row per engine and metric, with units), the notes and a final line
// "diff: OUTCOME (...)"; ends with "\n".
std::string DiffConsoleTable(const DiffReport& report);
// diff.html: a self-contained page drawn by report.js (html_report.h ReportPage) in the run
// report's style: both runs' ids and dates, the outcome, the table with units, the notes and,
// per engine pair with per-request values, base and candidate CDFs of TTFT, TPOT, ITL and E2E
// overlaid.
std::string DiffHtml(const DiffReport& report);
// The folder `diff` writes into by default: results/diff-<UTC stamp>-<4 hex>.
std::string DefaultDiffOutDir(int64_t unix_ns);
// OK when OUT is missing, an empty folder, or `force`; else FailedPrecondition naming OUT and
// what it holds ("--out X is not empty (a, b); give --force ...").
absl::Status CheckDiffOutDir(const std::string& out_dir, bool force);
// Writes OUT/diff.html, creating OUT, after CheckDiffOutDir. Errors name the path.
absl::Status WriteDiffHtml(const std::string& out_dir, const DiffReport& report, bool force);
// kExitRegression when any metric regressed, else kExitNothingCompared when something was not
// compared, else 0.
int DiffExitStatus(const DiffReport& report);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_DIFF_H_
