// Capacity sweep search: finds the highest request rate an engine sustains by running rate
// probes, stepping start_rps × step_factor^k up to max_rps until a probe fails, then bisecting
// between the last good and the first bad rate (docs/metrics.md, "Capacity sweep"). The
// probes themselves are run by the caller (dispatch_sweep.h runs each as a duration-bounded
// open-loop scenario); this file holds the pure search, the judgement of one probe and the
// console table, so they are testable without processes.
//
// Thread-safety: pure functions; RunSweepSearch calls `probe` sequentially on its own thread.
#ifndef LLMBENCH_COORDINATOR_SWEEP_H_
#define LLMBENCH_COORDINATOR_SWEEP_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "llmbench/v1/result.pb.h"
#include "llmbench/v1/scenario.pb.h"

namespace llmbench::coordinator {

// When a probe counts as sustained. A probe FAILS when any of these holds:
// - its verdict is INVALID (the generator, not the engine, fell behind);
// - error rate (failures / requests) > max_error_rate, or no request succeeded;
// - sustained throughput (MeasureSendingWindow: completions per second while the probe was
//   sending, drain excluded) < min_throughput_ratio × offered; with fewer than
//   kMinWindowRequests successes, the achieved throughput (successes / measured window, drain
//   included) instead;
// - with SLOs: slo_attainment < min_slo_attainment;
// - without SLOs: E2E p50 > max_latency_growth × the first probe's E2E p50 (latency turned
//   sharply: requests are queueing).
struct SweepCriteria {
  double max_error_rate = 0.01;
  double min_throughput_ratio = 0.90;
  double min_slo_attainment = 0.95;
  double max_latency_growth = 2.0;
};

// The throughput a probe is judged on. A probe sends at the offered rate over its sending
// window [first send, last send]; its requests complete one latency later. Counting successes
// over the whole measured window (achieved_rps) adds the drain of the last requests, so short
// probes or long generations would make a healthy engine look slow. Instead: the slope b of
// end time over send time (Theil–Sen: the median of the slopes between every pair of requests,
// robust to a few outliers). An engine that keeps up completes each request a latency after
// sending it, whatever that latency is: b ≈ 1. An overloaded engine queues requests and
// completes them at its capacity C while they arrive at R: b ≈ R / C. So
//   sustained_rps = send_rps / b, send_rps = (n − 1) / (last send − first send)
// is ≈ offered for a healthy engine and ≈ C for an overloaded one.
// Sets sending_window_s, send_rps, completion_slope and sustained_rps of `point` from the send
// and end instants (ns, parallel, any order) of a probe's successful measured requests; leaves
// them absent with fewer than kMinWindowRequests requests, a zero window or a slope <= 0. Above
// kMaxSlopeRequests requests the slope uses that many, evenly spaced in send order.
inline constexpr size_t kMinWindowRequests = 3;
inline constexpr size_t kMaxSlopeRequests = 2000;
void MeasureSendingWindow(std::span<const int64_t> sent_ns, std::span<const int64_t> end_ns,
                          v1::SweepPoint* point);

// What a probe is judged on, in words (SweepResult.judged_on).
std::string SweepJudgedOn(const SweepCriteria& criteria, bool has_slo);

// The measurements of `engine` in a probe's result, with offered_rps set; not judged yet.
v1::SweepPoint PointFromResult(const v1::RunResult& result, std::string_view engine,
                               double offered_rps);

// Sets point->good and point->reason. `baseline_e2e_p50_ms`: the first probe's E2E p50
// (nullopt for the first probe itself); `has_slo`: the scenario gives an SLO.
void JudgeProbe(const SweepCriteria& criteria, bool has_slo,
                std::optional<double> baseline_e2e_p50_ms, v1::SweepPoint* point);

// Runs one probe at `rps`; `phase` is "step" or "bisect", `index` counts probes from 0.
using SweepProbe =
    std::function<absl::StatusOr<v1::SweepPoint>(double rps, std::string_view phase, int index)>;

// The search. A probe error stops it and is returned. REQUIRES: 0 < start_rps <= max_rps,
// step_factor > 1 (a defaulted, valid scenario).
absl::StatusOr<v1::SweepResult> RunSweepSearch(const v1::SweepLoad& sweep,
                                               const SweepCriteria& criteria, bool has_slo,
                                               const SweepProbe& probe);

// The sweep tables of result.sweeps() (one per engine: offered, sustained and achieved req/s,
// TTFT and E2E p50/p99, SLO attainment, errors, good/bad and why), each knee and what the
// probes were judged on; "" when none.
std::string SweepTable(const v1::RunResult& result);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_SWEEP_H_
