// The per-request metrics of docs/metrics.md, computed in one place for every consumer of
// records (the aggregator, live metrics, engine telemetry, the report's series and the
// per-request samples of `diff`, sweeps and repeats).
//
// Thread-safety: pure functions.
#ifndef LLMBENCH_COORDINATOR_REQUEST_METRICS_H_
#define LLMBENCH_COORDINATOR_REQUEST_METRICS_H_

#include <cstdint>
#include <optional>

#include "llmbench/v1/record.pb.h"

namespace llmbench::coordinator {

struct RequestMetrics {
  bool success = false;                // error class none
  int64_t e2e_ns = 0;                  // end − sent
  std::optional<int64_t> ttft_ns;      // first_token − sent, when a first token arrived
  // (E2E − TTFT) / (output_tokens − 1), for a first token and output_tokens >= 2; in ns, not
  // rounded (the aggregator keeps it in ps).
  std::optional<double> tpot_ns;
};

inline RequestMetrics MetricsOf(const llmbench::v1::RequestRecord& r) {
  RequestMetrics m;
  m.success = r.error_class() == llmbench::v1::ERROR_CLASS_NONE;
  m.e2e_ns = r.end_ns() - r.sent_ns();
  if (r.has_first_token_ns()) {
    m.ttft_ns = r.first_token_ns() - r.sent_ns();
    if (r.output_tokens() >= 2) {
      m.tpot_ns = static_cast<double>(m.e2e_ns - *m.ttft_ns) /
                  static_cast<double>(r.output_tokens() - 1);
    }
  }
  return m;
}

// Calls `on_gap(ns)` for every inter-token gap (ITL): chunk i − chunk i−1, i >= 1.
template <typename OnGap>
void ForEachGap(const llmbench::v1::RequestRecord& r, OnGap on_gap) {
  for (int i = 1; i < r.chunk_offsets_ns_size(); ++i) {
    on_gap(r.chunk_offsets_ns(i) - r.chunk_offsets_ns(i - 1));
  }
}

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_REQUEST_METRICS_H_
