// A parser for the Prometheus text exposition format 0.0.4 (what vLLM, TGI, llama.cpp and
// SGLang serve on /metrics), plus the computations a benchmark needs from its scrapes: the
// delta of a counter or histogram over the window, a histogram quantile estimated the way
// PromQL's histogram_quantile() does it, and the sums behind them (a sample over label sets,
// a histogram family's series, consecutive deltas).
//
// Format handled: `# HELP name text` (escapes \\ and \n), `# TYPE name counter|gauge|
// histogram|summary|untyped`, other `#` lines are comments; samples `name{l="v",...} value
// [timestamp_ms]` with label-value escapes \\ \" \n, an optional trailing comma in the label
// set, values as floats including NaN, +Inf, -Inf (and Inf), blank lines, "\r\n" line ends.
// Samples of a histogram family (`X_bucket{le=..}`, `X_sum`, `X_count`) are grouped per label
// set into HistogramSeries; a summary's `X{quantile=..}`, `X_sum`, `X_count` into
// SummarySeries. Malformed input is an InvalidArgument error "line N: what was wrong".
//
// Thread-safety: free functions without shared state; the structs are plain values.
#ifndef LLMBENCH_COMMON_PROMETHEUS_TEXT_H_
#define LLMBENCH_COMMON_PROMETHEUS_TEXT_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace llmbench {

enum class MetricType { kUntyped, kCounter, kGauge, kHistogram, kSummary };

// "counter", "gauge", ... as in a TYPE line.
std::string_view MetricTypeName(MetricType type);

// Label pairs sorted by name (so equal label sets compare equal).
using Labels = std::vector<std::pair<std::string, std::string>>;

// One sample line as written.
struct Sample {
  std::string name;  // the full sample name, e.g. "x_bucket"
  Labels labels;
  double value = 0;
  std::optional<int64_t> timestamp_ms;
};

struct HistogramBucket {
  double upper_bound = 0;  // the `le` label; +Inf for the last bucket
  double count = 0;        // cumulative
};

// One label set of a histogram family.
struct HistogramSeries {
  Labels labels;                         // without `le`
  std::vector<HistogramBucket> buckets;  // sorted by upper_bound
  std::optional<double> sum;
  std::optional<double> count;
};

struct SummaryQuantile {
  double quantile = 0;
  double value = 0;
};

// One label set of a summary family.
struct SummarySeries {
  Labels labels;  // without `quantile`
  std::vector<SummaryQuantile> quantiles;  // sorted by quantile
  std::optional<double> sum;
  std::optional<double> count;
};

struct MetricFamily {
  std::string name;
  MetricType type = MetricType::kUntyped;
  std::string help;  // unescaped; empty without a HELP line
  std::vector<Sample> samples;  // every sample of the family, in input order
  std::vector<HistogramSeries> histograms;  // kHistogram only, in first-seen order
  std::vector<SummarySeries> summaries;     // kSummary only, in first-seen order
};

struct MetricSet {
  std::vector<MetricFamily> families;  // in order of first appearance

  // The family named `name` (the base name for histograms and summaries); nullptr if absent.
  const MetricFamily* Find(std::string_view name) const;
  // Sum of the values of every sample of family `name` (all label sets); nullopt when the
  // family is absent or has no samples. For histograms/summaries use the series instead.
  std::optional<double> Sum(std::string_view name) const;
};

// Parses a whole exposition. InvalidArgument "line N: ..." for the first malformed line.
absl::StatusOr<MetricSet> ParsePrometheusText(std::string_view text);

// PromQL histogram_quantile(q, ...) of one series' cumulative buckets (sorted by upper bound,
// the last one +Inf): NaN when there are fewer than two buckets, the last is not +Inf, or the
// total count is 0; -Inf for q < 0 and +Inf for q > 1. With rank = q * total, the first bucket
// whose count reaches the rank holds it: the result interpolates linearly between that
// bucket's lower bound (the previous upper bound, or 0 for the first bucket when its upper
// bound is positive) and its upper bound. A rank in the +Inf bucket returns the highest finite
// upper bound. Non-monotonic counts (a scrape racing an update) are first made monotonic.
double HistogramQuantile(double q, std::span<const HistogramBucket> buckets);

// The increase of a counter between two scrapes: end - start, or `end` when the counter went
// backwards (a reset; `reset` receives true).
double CounterIncrease(double start, double end, bool* reset = nullptr);

// The change of a histogram series between two scrapes: per-bucket, sum and count increases.
// `start` may be nullptr (the series appeared during the window: the delta is `end`). When any
// count went backwards the engine restarted: the delta is `end` and `reset` receives true.
// InvalidArgument when the two have different bucket bounds.
absl::StatusOr<HistogramSeries> HistogramDelta(const HistogramSeries* start,
                                               const HistogramSeries& end,
                                               bool* reset = nullptr);

// Sum of the values of every sample named `sample_name` (the full sample name, e.g.
// "x_total" or a histogram's "x_sum"), whatever family the parser put it in, over all label
// sets; with `average`, their mean instead (for ratios). NaN values are skipped. nullopt when
// there is no such sample.
std::optional<double> SampleValue(const MetricSet& set, std::string_view sample_name,
                                  bool average);

// The series of histogram family `family_name` summed over label sets (buckets, sum and count;
// labels cleared), as PromQL's sum() over the family. Series whose bucket bounds differ from
// the first series' are skipped. nullopt when the family is absent, not a histogram, or has
// no series.
std::optional<HistogramSeries> CombinedHistogram(const MetricSet& set,
                                                 std::string_view family_name);

// `h` with every count zero (buckets, and sum and count where present): the increase of a
// series over a window that has only just begun.
HistogramSeries ZeroedHistogram(HistogramSeries h);

// Adds `delta` into `total`: bucket by bucket up to the shorter of the two, and sum and count
// where both have one. For summing consecutive HistogramDelta()s over a window.
void AddHistogramInto(const HistogramSeries& delta, HistogramSeries* total);

}  // namespace llmbench

#endif  // LLMBENCH_COMMON_PROMETHEUS_TEXT_H_
