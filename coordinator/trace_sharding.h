// Trace shards (Load.trace): the window's entries split over the workers so that every request
// keeps its absolute time (coordinator/trace_plan.h) whichever worker sends it.
//
// - Entry i of the window goes to one shard, the same in every repetition: round-robin
//   (i % S) with equal weights; with weights, each entry to the shard whose count / weight is
//   lowest (ties to the lower index), so shares are proportional and interleaved in time.
// - Request ids: 0 .. G-1 (TraceRequestCount), id g belonging to the shard of entry g % N;
//   each shard lists its ids in ascending order (request_ids), which is ascending send time.
//   A shard with no id is dropped; shard indices are 0 .. S-1 over the rest.
// - Prompts: every shard carries N prompts, so that request id g uses prompts[g % N] as for
//   every profile; the entries of other shards are left empty (no text) to keep shards small.
// - ShardLoad.trace.period_ns = TracePeriodNs; no warm-up, no duration (the plan already cut
//   the requests at load.duration_seconds).
//
// Thread-safety: a free function without shared state.
#ifndef LLMBENCH_COORDINATOR_TRACE_SHARDING_H_
#define LLMBENCH_COORDINATOR_TRACE_SHARDING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "llmbench/v1/scenario.pb.h"
#include "llmbench/v1/worker.pb.h"

namespace llmbench::coordinator {

// `prompts`: the window's entries (trace_offset_ns set, ascending), as planned. `weights` as
// MakeShards (empty = equal; validated by it).
absl::StatusOr<std::vector<llmbench::v1::Shard>> MakeTraceShards(
    const llmbench::v1::Scenario& scenario, int engine_index,
    const std::vector<llmbench::v1::Prompt>& prompts, uint32_t worker_count,
    const std::string& run_id, int64_t start_unix_ns, const std::vector<double>& weights);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_TRACE_SHARDING_H_
