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
// side lacks the metric. Details and caveats: docs/metrics.md, "Regression detection".
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
#include "llmbench/v1/result.pb.h"

namespace llmbench::coordinator {

// Exit status of `llmbench diff` when any metric REGRESSED.
inline constexpr int kExitRegression = 5;
inline constexpr char kDiffHtmlFileName[] = "diff.html";

// Per-request values of one engine's successful measured requests, from requests.csv.
struct RequestSamples {
  std::vector<double> ttft_ms;  // first_token − sent, requests with a first token
  std::vector<double> e2e_ms;   // end − sent
  std::vector<double> tpot_ms;  // (E2E − TTFT) / (output_tokens − 1), output_tokens >= 2
  std::vector<double> itl_ms;   // every gap between consecutive chunk offsets, pooled
};

// Parses requests.csv text (RFC 4180, the header names the columns) into samples per engine.
// Errors name `source` and the line.
absl::StatusOr<std::map<std::string, RequestSamples>> ParseRequestSamples(
    std::string_view csv, const std::string& source);
// Reads and parses DIR/requests.csv. NotFound when it is missing.
absl::StatusOr<std::map<std::string, RequestSamples>> LoadRequestSamples(const std::string& dir);

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

struct DiffReport {
  std::string base_label;
  std::string candidate_label;
  std::vector<MetricDiff> rows;
  std::vector<std::string> notes;  // engines only on one side, missing requests.csv, ...
  double alpha = 0.05;
  bool regressed = false;
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

// The console table (one row per engine and metric) and a final line; ends with "\n".
std::string DiffConsoleTable(const DiffReport& report);
// A self-contained HTML page with the same table.
std::string DiffHtml(const DiffReport& report);
// kExitRegression when any metric regressed, else 0.
int DiffExitStatus(const DiffReport& report);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_DIFF_H_
