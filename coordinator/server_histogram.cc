#include "coordinator/server_histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "absl/strings/str_format.h"

namespace llmbench::coordinator {

namespace v1 = ::llmbench::v1;

void FillServerHistogram(const std::string& metric, const HistogramSeries& h,
                         v1::ServerHistogram* out) {
  out->set_metric(metric);
  double count = h.count.value_or(h.buckets.empty() ? 0 : h.buckets.back().count);
  out->set_count(count);
  for (const HistogramBucket& b : h.buckets) {
    v1::HistogramBucket* bucket = out->add_buckets();
    bucket->set_le(b.upper_bound);
    bucket->set_count(b.count);
  }
  if (count <= 0) return;
  if (h.sum.has_value()) out->set_mean_ms(*h.sum / count * 1000.0);
  auto quantile = [&](double q, void (v1::ServerHistogram::*set)(double)) {
    const double v = HistogramQuantile(q, h.buckets);
    if (std::isfinite(v)) (out->*set)(v * 1000.0);
  };
  quantile(0.5, &v1::ServerHistogram::set_p50_ms);
  quantile(0.9, &v1::ServerHistogram::set_p90_ms);
  quantile(0.99, &v1::ServerHistogram::set_p99_ms);
}

std::optional<ServerQuantileBucket> FindServerQuantileBucket(const v1::ServerHistogram& histogram,
                                                             double q) {
  std::vector<HistogramBucket> buckets;
  buckets.reserve(static_cast<size_t>(histogram.buckets_size()));
  for (const v1::HistogramBucket& b : histogram.buckets()) {
    buckets.push_back(HistogramBucket{b.le(), b.count()});
  }
  const double estimate = HistogramQuantile(q, buckets);
  if (!std::isfinite(estimate)) return std::nullopt;
  // The bucket histogram_quantile took the rank from, found the same way (sorted, counts
  // made monotonic, first bucket whose cumulative count reaches q * total).
  std::sort(buckets.begin(), buckets.end(), [](const HistogramBucket& a, const HistogramBucket& b) {
    return a.upper_bound < b.upper_bound;
  });
  double max = -std::numeric_limits<double>::infinity();
  for (HistogramBucket& b : buckets) {
    b.count = std::max(b.count, max);
    max = b.count;
  }
  const double rank = q * buckets.back().count;
  size_t i = 0;
  while (i < buckets.size() - 1 && buckets[i].count < rank) ++i;
  ServerQuantileBucket out;
  out.estimate_ms = estimate * 1000.0;
  out.lower_ms = i == 0 ? std::min(0.0, buckets[0].upper_bound) * 1000.0
                        : buckets[i - 1].upper_bound * 1000.0;
  out.upper_ms = buckets[i].upper_bound * 1000.0;  // +Inf for the last bucket
  return out;
}

ServerComparison CompareWithServerBucket(double client_ms, const ServerQuantileBucket& bucket) {
  ServerComparison out;
  const double diff = client_ms - bucket.estimate_ms;
  const std::string where =
      std::isinf(bucket.upper_ms)
          ? absl::StrFormat("above %g ms (its +Inf bucket)", bucket.lower_ms)
          : absl::StrFormat("in its %g–%g ms bucket", bucket.lower_ms, bucket.upper_ms);
  if (client_ms < bucket.lower_ms) {
    out.why_not = absl::StrFormat(
        "not comparable: the client's %.4g ms is below the server's value (%s): the engine "
        "counted other requests, or measures from another instant",
        client_ms, where);
    return out;
  }
  if (!(client_ms >= bucket.upper_ms)) {  // also for the +Inf bucket
    out.why_not = absl::StrFormat(
        "too coarse to compare: the server's value lies somewhere %s, which holds the client's "
        "%.4g ms too",
        where, client_ms);
    return out;
  }
  out.diff_ms = diff;
  out.min_diff_ms = client_ms - bucket.upper_ms;
  out.max_diff_ms = client_ms - bucket.lower_ms;
  return out;
}

}  // namespace llmbench::coordinator
