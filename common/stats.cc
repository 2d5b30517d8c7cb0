#include "common/stats.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

namespace llmbench {

double SortedQuantile(std::span<const double> sorted, double q) {
  if (sorted.empty()) return 0;  // REQUIRES violated; never read out of bounds.
  if (!(q > 0)) return sorted.front();  // also catches NaN
  if (q >= 1) return sorted.back();
  const double h = static_cast<double>(sorted.size() - 1) * q;
  const double lo_h = std::floor(h);
  const size_t lo = static_cast<size_t>(lo_h);
  if (lo + 1 >= sorted.size()) return sorted.back();
  const double frac = h - lo_h;
  return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

std::optional<SummaryStats> Summarize(std::vector<double>& values) {
  // NaN has no place in an order; drop it rather than hand std::sort an inconsistent
  // comparator (undefined behaviour).
  values.erase(std::remove_if(values.begin(), values.end(),
                              [](double v) { return std::isnan(v); }),
               values.end());
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());

  SummaryStats s;
  s.count = values.size();
  const double n = static_cast<double>(values.size());
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / n;
  if (values.size() >= 2) {
    // Two-pass variance: exact enough for latencies, no catastrophic cancellation.
    double ss = 0;
    for (double v : values) {
      const double d = v - s.mean;
      ss += d * d;
    }
    s.stdev = std::sqrt(ss / (n - 1));
  }
  const std::span<const double> sorted(values);
  s.min = values.front();
  s.max = values.back();
  s.p50 = SortedQuantile(sorted, 0.50);
  s.p90 = SortedQuantile(sorted, 0.90);
  s.p95 = SortedQuantile(sorted, 0.95);
  s.p99 = SortedQuantile(sorted, 0.99);
  s.p999 = SortedQuantile(sorted, 0.999);
  return s;
}

// LogHistogram.
//
// Value v >= min_value goes to bucket i = floor(log(v) / log γ), which covers [γ^i, γ^(i+1)).
// The bucket reports 2γ^(i+1)/(1+γ): its distance to either edge, relative to the value, is
// exactly α = (γ−1)/(γ+1), so every value in the bucket is reported within α.
//
// Quantile(q) reports the order statistic at 0-based rank round(q·(n−1)) (the nearest of the
// two ranks R-7 interpolates between) within α, clamped to the exact [min, max]. q = 0 and
// q = 1 are therefore exact.
//
// Non-finite values (NaN, ±inf) are ignored: they cannot be bucketed and would poison sum.
// Negative values (outside the contract) land in the below-min_value bucket.

namespace {

constexpr double kDefaultRelativeError = 0.01;
constexpr double kDefaultMinValue = 1e-9;

double SanitizeAlpha(double alpha) {
  // REQUIRES 0 < α < 1; a bad value falls back to the default instead of crashing later.
  assert(alpha > 0 && alpha < 1);
  return (alpha > 0 && alpha < 1) ? alpha : kDefaultRelativeError;
}

double SanitizeMinValue(double min_value) {
  assert(min_value > 0 && std::isfinite(min_value));
  return (min_value > 0 && std::isfinite(min_value)) ? min_value : kDefaultMinValue;
}

}  // namespace

LogHistogram::LogHistogram(double relative_error, double min_value)
    : alpha_(SanitizeAlpha(relative_error)),
      gamma_((1 + alpha_) / (1 - alpha_)),
      log_gamma_(std::log(gamma_)),
      min_value_(SanitizeMinValue(min_value)) {}

int32_t LogHistogram::BucketIndex(double value) const {
  // value is finite and >= min_value_ > 0, so the index is bounded by log(DBL_MAX)/log γ,
  // which fits int32 for any α above ~1e-7; clamp anyway.
  const double idx = std::floor(std::log(value) / log_gamma_);
  constexpr double kLimit = static_cast<double>(std::numeric_limits<int32_t>::max() / 2);
  return static_cast<int32_t>(std::clamp(idx, -kLimit, kLimit));
}

void LogHistogram::Add(double value, uint64_t count) {
  if (count == 0 || !std::isfinite(value)) return;
  if (count_ == 0) {
    min_ = value;
    max_ = value;
  } else {
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
  }
  count_ += count;
  sum_ += value * static_cast<double>(count);
  if (value < min_value_) {
    zero_count_ += count;
    return;
  }
  const int32_t idx = BucketIndex(value);
  if (counts_.empty()) {
    offset_ = idx;
    counts_.assign(1, 0);
  } else if (idx < offset_) {
    counts_.insert(counts_.begin(), static_cast<size_t>(offset_ - idx), 0);
    offset_ = idx;
  } else if (idx >= offset_ + static_cast<int32_t>(counts_.size())) {
    counts_.resize(static_cast<size_t>(idx - offset_) + 1, 0);
  }
  counts_[static_cast<size_t>(idx - offset_)] += count;
}

void LogHistogram::Merge(const LogHistogram& other) {
  if (other.count_ == 0) return;
  // REQUIRES: same parameters. Debug builds stop here; release builds degrade gracefully by
  // re-adding the other histogram's bucket representatives (approximate, never a crash).
  const bool same_params = alpha_ == other.alpha_ && min_value_ == other.min_value_;
  assert(same_params && "LogHistogram::Merge: relative_error and min_value must match");
  if (!same_params) {
    const double other_min = other.min_;
    const double other_max = other.max_;
    const double other_sum = other.sum_;
    const uint64_t before = count_;
    const double sum_before = sum_;
    if (other.zero_count_ > 0) Add(std::clamp(0.0, other_min, other_max), other.zero_count_);
    for (size_t i = 0; i < other.counts_.size(); ++i) {
      if (other.counts_[i] == 0) continue;
      const double lower = std::pow(other.gamma_, other.offset_ + static_cast<int32_t>(i));
      const double mid = 2 * lower * other.gamma_ / (1 + other.gamma_);
      Add(std::clamp(mid, other_min, other_max), other.counts_[i]);
    }
    // Keep the exact moments of the other side.
    min_ = before == 0 ? other_min : std::min(min_, other_min);
    max_ = before == 0 ? other_max : std::max(max_, other_max);
    sum_ = sum_before + other_sum;
    return;
  }

  if (count_ == 0) {
    min_ = other.min_;
    max_ = other.max_;
  } else {
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }
  count_ += other.count_;
  sum_ += other.sum_;
  zero_count_ += other.zero_count_;
  if (other.counts_.empty()) return;
  if (counts_.empty()) {
    offset_ = other.offset_;
    counts_ = other.counts_;
    return;
  }
  const int32_t lo = std::min(offset_, other.offset_);
  const int32_t hi = std::max(offset_ + static_cast<int32_t>(counts_.size()),
                              other.offset_ + static_cast<int32_t>(other.counts_.size()));
  if (lo < offset_) {
    counts_.insert(counts_.begin(), static_cast<size_t>(offset_ - lo), 0);
    offset_ = lo;
  }
  if (hi > offset_ + static_cast<int32_t>(counts_.size())) {
    counts_.resize(static_cast<size_t>(hi - offset_), 0);
  }
  const size_t shift = static_cast<size_t>(other.offset_ - offset_);
  for (size_t i = 0; i < other.counts_.size(); ++i) counts_[shift + i] += other.counts_[i];
}

double LogHistogram::Quantile(double q) const {
  if (count_ == 0) return 0;
  if (!(q > 0)) return min_;  // also NaN
  if (q >= 1) return max_;
  const uint64_t rank =
      static_cast<uint64_t>(std::llround(q * static_cast<double>(count_ - 1)));
  if (rank == 0) return min_;
  if (rank >= count_ - 1) return max_;
  double estimate = 0;
  if (rank < zero_count_) {
    estimate = 0;  // below min_value: not resolved further
  } else {
    uint64_t seen = zero_count_;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (rank < seen) {
        const double lower = std::pow(gamma_, offset_ + static_cast<int32_t>(i));
        estimate = 2 * lower * gamma_ / (1 + gamma_);
        break;
      }
    }
  }
  return std::clamp(estimate, min_, max_);
}

std::vector<LogHistogram::Bucket> LogHistogram::Buckets() const {
  std::vector<Bucket> out;
  if (zero_count_ > 0) out.push_back({0, min_value_, zero_count_});
  for (size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] == 0) continue;
    const double lower = std::pow(gamma_, offset_ + static_cast<int32_t>(i));
    // The bucket holding min_value starts below it; values under min_value are in the
    // zero bucket, so report the real lower edge.
    out.push_back({std::max(lower, min_value_), lower * gamma_, counts_[i]});
  }
  return out;
}

bool LogHistogram::operator==(const LogHistogram& other) const {
  if (alpha_ != other.alpha_ || min_value_ != other.min_value_ || count_ != other.count_ ||
      zero_count_ != other.zero_count_ || min_ != other.min_ || max_ != other.max_) {
    return false;
  }
  // Floating-point addition is not associative: the sum of a merge and the sum of the union
  // differ in the last bits. Compare it to within 1e-9 relative.
  const double scale = std::max({std::abs(sum_), std::abs(other.sum_), 1e-300});
  if (std::abs(sum_ - other.sum_) > 1e-9 * scale) return false;
  // Bucket counts, ignoring how far each vector happens to extend with zeros.
  auto count_at = [](const LogHistogram& h, int64_t idx) -> uint64_t {
    const int64_t i = idx - h.offset_;
    if (i < 0 || i >= static_cast<int64_t>(h.counts_.size())) return 0;
    return h.counts_[static_cast<size_t>(i)];
  };
  const int64_t lo = std::min<int64_t>(offset_, other.offset_);
  const int64_t hi = std::max<int64_t>(offset_ + static_cast<int64_t>(counts_.size()),
                                       other.offset_ + static_cast<int64_t>(other.counts_.size()));
  for (int64_t idx = lo; idx < hi; ++idx) {
    if (count_at(*this, idx) != count_at(other, idx)) return false;
  }
  return true;
}

}  // namespace llmbench
