// Aggregator: merges the per-request records of a run as they stream in and turns them into
// the run's aggregates (per engine, per worker and overall), its verdict and its metric
// definitions (docs/metrics.md is the contract for every number produced here).
//
// Add() is the hot path (designed for >= 1,000,000 records/s on one core): it finds the
// record's (engine, worker) cell through a one-entry cache, appends a few integers to that
// cell's columnar vectors (amortized growth only, no per-record allocation) and bumps the
// live counters. Only the values the aggregates need are retained — never the records:
// 32 bytes per successful request (56 in open loop) plus 4 bytes per inter-token gap (see
// RetainedBytes() and bench/README.md, "Coordinator merge").
//
// Finish() computes each group (an engine's cells, a worker's cells, all cells) over the
// union of its cells' columns with an exact selection (histogram, then the few buckets that
// hold a wanted rank), so every percentile is exact (R-7, as common/stats.h's Summarize) and
// nothing depends on the order the records arrived in. Finish() is const and may be called
// again.
//
// Thread-compatible: the caller serializes Add(), Snapshot() and Finish() (the dispatcher
// holds one mutex around them).
#ifndef LLMBENCH_COORDINATOR_AGGREGATE_H_
#define LLMBENCH_COORDINATOR_AGGREGATE_H_

#include <array>
#include <map>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/stats.h"
#include "coordinator/turn_aggregate.h"
#include "llmbench/v1/record.pb.h"
#include "llmbench/v1/result.pb.h"
#include "llmbench/v1/scenario.pb.h"

namespace llmbench::coordinator {

// Generator health thresholds (documented in docs/metrics.md, "Verdict").
inline constexpr double kDefaultMaxLatenessP99Ms = 10.0;
// A worker whose CPU use per event-loop core is at or above this is saturated.
inline constexpr double kSaturatedCpuUtilization = 0.9;
// Default dispatch delay p99 limit (thresholds.max_dispatch_delay_p99_ms).
inline constexpr double kDefaultMaxDispatchDelayP99Ms = 5.0;
// A loop window whose load (cpu + runq_wait, or busy without run-queue figures) is at or above
// this is saturated: the loop had no time to spare in that second.
inline constexpr double kSaturatedLoopLoad = 0.95;
// A loop window this long (its 1 s timer ran this late) is saturated too: the loop did not get
// to run at all for that long (stopped, frozen, or one callback that long).
inline constexpr double kLateLoopWindowS = 1.25;
// The load of a loop window (see kSaturatedLoopLoad).
double LoopWindowLoad(const v1::LoopWindow& w);
// Load >= kSaturatedLoopLoad or length >= kLateLoopWindowS.
bool LoopWindowSaturated(const v1::LoopWindow& w);

// A cheap view of the run so far, for progress lines. Windows and rates use the records'
// own time axis (earliest sent to latest end of the measured records seen so far).
struct LiveSnapshot {
  uint64_t completed = 0;  // records received, warm-up included
  uint64_t warmup = 0;     // of which warm-up
  uint64_t measured = 0;   // non-warm-up records
  uint64_t successes = 0;  // measured successes
  uint64_t errors = 0;     // measured failures
  double elapsed_s = 0;    // measured window so far
  double requests_per_s = 0;       // measured successes / elapsed_s
  double output_tokens_per_s = 0;  // output tokens of measured successes / elapsed_s
  std::optional<double> ttft_p50_ms;  // within 1% (LogHistogram); absent before the first
};

// What the caller knows about a worker beyond its records.
struct WorkerReport {
  std::string worker_id;
  std::string address;
  bool failed = false;
  std::string failure;  // why, when failed
  // Worker CPU seconds per wall second per event-loop core (1.0 = one core fully busy).
  std::optional<double> cpu_utilization;
  uint64_t records_dropped = 0;
  int64_t failed_at_unix_ns = 0;     // when declared failed (0 = not failed)
  uint64_t requests_reassigned = 0;  // its unfinished requests given to other workers
  uint64_t requests_lost = 0;        // unfinished requests no worker could run
  uint64_t duplicate_records = 0;    // records dropped because their id was already counted
  uint64_t failure_backoffs = 0;     // closed-loop waits after failed requests
  uint64_t invalid_records = 0;      // records that could not belong to its shard (dropped)
  std::string invalid_example;       // the first one's problem
  // Procfs samples of its host and process (coordinator/resources.h), when it sent any.
  std::optional<v1::ResourceSeries> resources;
  // Its event loops' ~1 s windows (ShardSummary.loop_windows), all shards.
  std::vector<v1::LoopWindow> loop_windows;
};

// What the dispatcher knows about how the run went, beyond records and workers.
struct RunConditions {
  // Engines declared down (unreachable for thresholds.engine_down_seconds), one reason each.
  std::vector<std::string> engines_down;
  // The signal that stopped the run before it finished (SIGINT, SIGTERM, SIGHUP), 0 = none.
  int stop_signal = 0;
  // Other reasons the run is DEGRADED (an engine that could not run: no worker left).
  std::vector<std::string> degraded;
};

struct FinishOptions {
  // Engines in scenario order; each gets an EngineResult even with no records. Engines seen
  // only in records follow, sorted by name.
  std::vector<std::string> engine_names;
  // Workers in dispatch order; workers seen only in records follow, sorted by id.
  std::vector<WorkerReport> workers;
  v1::Thresholds thresholds;
  // Count-bounded runs: the measured requests asked of each engine (Aggregates.requests_planned;
  // what produced no record counts as not run). Engines absent here were duration-bounded.
  std::map<std::string, uint64_t> planned_requests;
  RunConditions conditions;
};

class Aggregator {
 public:
  // `slo`: the scenario's SLOs; goodput and slo_attainment are reported only when at least
  // one is set.
  explicit Aggregator(const v1::Slo& slo = v1::Slo());
  ~Aggregator();

  Aggregator(const Aggregator&) = delete;
  Aggregator& operator=(const Aggregator&) = delete;

  // Merges one record. Never fails: odd values (negative gaps, unknown error classes) are
  // kept as data.
  void Add(const v1::RequestRecord& record);

  // O(1) apart from one histogram quantile walk.
  LiveSnapshot Snapshot() const;
  // Starts the live counters of Snapshot() afresh (a new phase of the run: the next engine of
  // a comparison); the retained data Finish() uses is kept.
  void ResetLive();

  // Aggregates, workers, verdict and metric definitions. The caller fills run_id, version,
  // scenario and timestamps.
  v1::RunResult Finish(const FinishOptions& options) const;

  // Bytes held by the retained columns (vector capacities), for the memory bound.
  size_t RetainedBytes() const;

 private:
  struct Cell;

  size_t CellIndexFor(const v1::RequestRecord& record);

  bool has_slo_;
  v1::Slo slo_;

  std::vector<std::unique_ptr<Cell>> cells_;  // unique_ptr: the index keys view cell strings
  // worker_id -> (engine, cell index) pairs; the string_views point into cells_ strings.
  std::unordered_map<std::string_view, std::vector<std::pair<std::string_view, size_t>>>
      cells_by_worker_;
  size_t last_cell_ = 0;

  // Live counters.
  uint64_t completed_ = 0;
  uint64_t warmup_ = 0;
  uint64_t measured_ = 0;
  uint64_t successes_ = 0;
  uint64_t output_tokens_ = 0;
  int64_t min_sent_ns_;
  int64_t max_end_ns_;
  LogHistogram ttft_ms_histogram_;
  TurnAggregator turns_;  // multi-turn records: per turn index and per session
};

// Verdict from the aggregates already in `result` (overall, engines and workers) and the
// run's `conditions`. The state, most serious first: ENGINE_DOWN when an engine was declared
// down; INVALID when the generator fell behind (lateness p99 over the threshold, overall or on
// any worker) or a worker is saturated; INTERRUPTED when a signal stopped the run; DEGRADED
// when a worker failed or dropped records; VALID otherwise. Every reason is listed. A
// saturated load host (SaturatedHostReasons, coordinator/resources.h) is a warning, whatever
// the state. thresholds_crossed lists ThresholdsCrossed(); exit_status and exit_reason follow
// ExitStatusForVerdict().
v1::Verdict ComputeVerdict(const v1::RunResult& result, const v1::Thresholds& thresholds,
                           const RunConditions& conditions = {});

// The thresholds `result` crossed, one line each with the measured value and the limit, per
// engine: the error rate ((failures + requests not run) / (requests + requests not run)) above
// thresholds.max_error_rate (default kDefaultMaxErrorRate, scenario_loader.h); no measured request at all; SLO
// attainment below thresholds.min_slo_attainment.
std::vector<std::string> ThresholdsCrossed(const v1::RunResult& result,
                                           const v1::Thresholds& thresholds);

// "SIGINT (Ctrl-C)", "SIGTERM", "SIGHUP", else "signal N".
std::string SignalName(int signal);

// Exit statuses (docs/cli.md, "Exit status").
inline constexpr int kExitOk = 0;
inline constexpr int kExitThresholds = 3;   // a threshold crossed (error rate, SLO attainment)
inline constexpr int kExitInvalid = 4;      // INVALID: the generator fell behind
inline constexpr int kExitEngineDown = 6;   // ENGINE_DOWN: an engine was unreachable

// The exit status of a run with `verdict` (state and thresholds_crossed filled) stopped by
// `stop_signal` (0 = none): 128 + signal when stopped by a signal; else kExitEngineDown,
// kExitInvalid, kExitThresholds in that order; else 0. `reason` receives why ("" for 0).
int ExitStatusForVerdict(const v1::Verdict& verdict, int stop_signal, std::string* reason);

// The name, unit and definition of every metric in Aggregates (RunResult.definitions).
std::vector<v1::MetricDefinition> MetricDefinitions();

// "timeout", "http_4xx", ...; "none" for success; "unknown" outside the enum.
std::string_view ErrorClassName(v1::ErrorClass error_class);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_AGGREGATE_H_
