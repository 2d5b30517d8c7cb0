// Variance across repetitions (`--repeat K`): the mean and Student-t 95% confidence interval
// of each headline metric over K runs of the same scenario, and a check that the runs agree
// within their own noise (docs/metrics.md, "Variance").
//
// Noise check: for the per-request percentiles (TTFT p50/p99, E2E p50) each run's standard
// error is estimated by bootstrapping that run's requests (seeded); within_run_se is the
// root-mean-square of those K errors and noise_ratio = (stdev of the K values) / within_run_se.
// If the runs differ only by sampling noise the ratio is about 1 ((K−1)·ratio² follows a
// chi-square law with K−1 degrees of freedom), so ratio > kNoiseRatioThreshold (3) has a
// probability below 0.3% for K = 2 and 0.013% for K = 3: such a metric is flagged as
// disagreeing (drift, warm-up, interference between runs). Throughputs are one number per
// run, so they get a CI but no noise check.
//
// Thread-safety: pure functions.
#ifndef LLMBENCH_COORDINATOR_REPEAT_H_
#define LLMBENCH_COORDINATOR_REPEAT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "coordinator/diff.h"
#include "llmbench/v1/result.pb.h"

namespace llmbench::coordinator {

inline constexpr char kRepeatFileName[] = "repeat.json";
inline constexpr double kNoiseRatioThreshold = 3.0;
inline constexpr int kWithinRunBootstrapResamples = 200;

// The 0.975 quantile of Student's t with `df` degrees of freedom (exact table to 30, a
// Cornish–Fisher expansion beyond, within 1e-3). REQUIRES: df >= 1.
double StudentT975(int df);

struct MeanInterval {
  double mean = 0;
  double stdev = 0;  // sample (n−1); 0 for one value
  double low = 0;    // mean ∓ t(0.975, n−1) · stdev / √n; equal to the mean for one value
  double high = 0;
};
// REQUIRES: values non-empty.
MeanInterval StudentTInterval(std::span<const double> values);

// Bootstrap standard error of the R-7 quantile q of `values` (`resamples` resamples, seeded
// std::mt19937_64). 0 for fewer than 2 values.
double BootstrapQuantileSe(std::span<const double> values, double q, int resamples,
                           uint64_t seed);

// The repeat summary of K run results (in run order) with their per-request samples (nullopt
// where a run has no requests.csv: the noise check is then skipped for that metric).
// Engines are those of the first run.
v1::RepeatSummary SummarizeRepeats(
    const std::vector<v1::RunResult>& runs,
    const std::vector<std::optional<std::map<std::string, RequestSamples>>>& samples,
    uint64_t seed);

// Console table: engine, metric, mean, 95% CI, stdev, values, noise ratio; then warnings.
std::string RepeatTable(const v1::RepeatSummary& summary);

// repeat.json: the summary as JSON with the proto's snake_case names.
absl::StatusOr<std::string> RepeatJson(const v1::RepeatSummary& summary);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_REPEAT_H_
