// Statistics for latency and token metrics.
//
// - Summarize(): exact order statistics of a sample (sorts a copy). Percentiles use linear
//   interpolation between closest ranks (the "R-7" / NumPy default method): for quantile q of
//   n sorted values x[0..n-1], h = (n-1)·q, result = x[floor h] + (h − floor h)·(x[floor h+1] −
//   x[floor h]). Documented in docs/metrics.md.
// - LogHistogram: a mergeable log-bucketed histogram with bounded relative error (≤ 1% by
//   default) for live views and very long runs; Merge(a, b) equals the histogram of the union.
//
// Thread-compatible.
#ifndef LLMBENCH_COMMON_STATS_H_
#define LLMBENCH_COMMON_STATS_H_

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace llmbench {

struct SummaryStats {
  uint64_t count = 0;
  double mean = 0;
  double stdev = 0;  // sample standard deviation (n−1); 0 when count < 2
  double min = 0;
  double p50 = 0;
  double p90 = 0;
  double p95 = 0;
  double p99 = 0;
  double p999 = 0;
  double max = 0;
};

// Exact quantile of already sorted values (R-7 linear interpolation). REQUIRES: non-empty,
// sorted ascending, 0 <= q <= 1.
double SortedQuantile(std::span<const double> sorted, double q);

// Exact summary; std::nullopt for an empty sample (a metric with no data is absent, not zero).
// Sorts `values` in place.
std::optional<SummaryStats> Summarize(std::vector<double>& values);

// Log-bucketed histogram of non-negative values. Bucket i covers [γ^i, γ^(i+1)) with
// γ = (1+α)/(1−α); reporting the bucket's midpoint 2γ^i/(1+γ)·γ keeps relative error ≤ α.
// Values below `min_value` share one bucket reported as 0 ... min_value. Exact count, sum,
// min and max are kept beside the buckets.
class LogHistogram {
 public:
  explicit LogHistogram(double relative_error = 0.01, double min_value = 1e-9);

  void Add(double value, uint64_t count = 1);
  // REQUIRES: same relative_error and min_value.
  void Merge(const LogHistogram& other);

  uint64_t count() const { return count_; }
  double sum() const { return sum_; }
  double min() const { return min_; }
  double max() const { return max_; }
  double mean() const { return count_ == 0 ? 0 : sum_ / static_cast<double>(count_); }
  // Value at quantile q (0..1) within the relative error; 0 when empty.
  double Quantile(double q) const;
  double relative_error() const { return alpha_; }

  // Non-empty buckets as (lower bound, upper bound, count), ascending.
  struct Bucket {
    double lower;
    double upper;
    uint64_t count;
  };
  std::vector<Bucket> Buckets() const;

  bool operator==(const LogHistogram& other) const;

 private:
  int32_t BucketIndex(double value) const;

  double alpha_;
  double gamma_;
  double log_gamma_;
  double min_value_;
  uint64_t zero_count_ = 0;  // values below min_value_
  int32_t offset_ = 0;       // index of counts_[0]
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  double sum_ = 0;
  double min_ = 0;
  double max_ = 0;
};

}  // namespace llmbench

#endif  // LLMBENCH_COMMON_STATS_H_
