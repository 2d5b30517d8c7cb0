// Server-side latency histograms (v1::ServerHistogram, docs/metrics.md "Engine telemetry"):
// filled from the increase of a Prometheus histogram over the scrape window, with quantiles
// estimated the way PromQL's histogram_quantile() does it; and where such an estimate can lie,
// so that a client quantile is compared with it only where the buckets resolve a difference.
// Used by engine telemetry (coordinator/engine_telemetry.h) and report.html.
//
// Thread-safety: free functions without shared state; the structs are plain values.
#ifndef LLMBENCH_COORDINATOR_SERVER_HISTOGRAM_H_
#define LLMBENCH_COORDINATOR_SERVER_HISTOGRAM_H_

#include <optional>
#include <string>

#include "common/prometheus_text.h"
#include "llmbench/v1/telemetry.pb.h"

namespace llmbench::coordinator {

// Fills `out` from a histogram series' increase (seconds): the metric name, the count, the
// buckets, the mean (from the sum) and p50/p90/p99 estimated by HistogramQuantile, in ms. Mean
// and quantiles stay absent when the count is 0 (and a quantile when it is not finite).
void FillServerHistogram(const std::string& metric, const HistogramSeries& h,
                         v1::ServerHistogram* out);

// Where a server quantile estimated from histogram buckets can lie: the bucket that holds the
// rank, (lower_ms, upper_ms] (upper_ms is +Inf for a rank in the +Inf bucket; lower_ms is 0
// for the first bucket). `estimate_ms` is histogram_quantile's interpolation inside it.
struct ServerQuantileBucket {
  double estimate_ms = 0;
  double lower_ms = 0;
  double upper_ms = 0;
};
// nullopt when the histogram has no observations or no usable buckets (the same cases where
// histogram_quantile gives no value).
std::optional<ServerQuantileBucket> FindServerQuantileBucket(const v1::ServerHistogram& histogram,
                                                             double q);

// A client quantile against the server's bucket estimate of the same quantile. The client's
// latency of a request contains the engine's, so client − server is never negative, but the
// server's true value can be anywhere in its bucket: the difference is resolvable only when
// the client value is at or above the whole bucket (client >= upper), and then lies between
// client − upper and client − lower. A client value inside the bucket is too coarse to
// compare (the difference could be anything from negative to client − lower); one below the
// bucket is impossible for the same requests (another client's traffic, or the engine times
// from another instant).
struct ServerComparison {
  std::optional<double> diff_ms;  // client − estimate, only when resolvable (then >= 0)
  double min_diff_ms = 0;         // client − upper (when resolvable)
  double max_diff_ms = 0;         // client − lower (when resolvable)
  // Why there is no difference, e.g. "too coarse to compare: the server's value lies
  // somewhere in its 20–40 ms bucket, which holds the client's 23.1 ms too"; "" when resolvable.
  std::string why_not;
};
ServerComparison CompareWithServerBucket(double client_ms, const ServerQuantileBucket& bucket);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_SERVER_HISTOGRAM_H_
