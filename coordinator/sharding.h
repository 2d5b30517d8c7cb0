// Sharding: divides one engine's workload into per-worker shards so that the union of the
// shards is the workload a single machine would have run.
//
// Contract (tested by coordinator/sharding_test.cc for many workload x worker-count pairs):
// - Count-bounded runs (load.requests = N): the measured request ids are exactly 0..N-1, each
//   in one shard. Ids are CONTIGUOUS per shard, sent as one request_range: shard 0 gets
//   [0, n0), shard 1 [n0, n0+n1), ...
//   with n_i proportional to the shard's share of the load (largest remainder; equal shares
//   give the first N % S shards one extra). A shard whose share of N is 0 is dropped.
// - Duration-bounded runs (no requests): request_ids is empty; shard i numbers its requests
//   first_id = i, id_stride = S (the shard count), so ids never collide.
// - Warm-up requests (load.warmup_requests) are extra: split over the shards with remainders.
//   The worker numbers them itself (proto/wire/shard_ids.h WarmupRequestId: bit 63 set, the
//   shard index, the ordinal), so they never collide with measured ids, which stay below 2^63.
// - Prompts: every shard carries the full list; request id k uses prompts[k % size] (warm-up
//   ids too), so the assignment is the same whatever the worker count.
// - Concurrency C over W workers (weights default equal): largest remainder, e.g. 10 over 3
//   -> 4,3,3. When C < W only C workers get a shard (concurrency 1 each); the others idle.
// - Rate R: shard i gets R * w_i / sum(w) (the last shard gets the remainder so the sum is
//   R up to rounding); ramp from/to rps are split the same way; burst size is split with
//   remainders (a shard whose burst share is 0 has no burst). Every worker gets a rate shard
//   unless the request count leaves it nothing to do.
// - Trace replay (load.trace): coordinator/trace_sharding.h (entries round-robin, each request
//   keeping its absolute time).
// - Seeds: shard seed = SplitMix64(scenario seed + (index + 1) * golden ratio), distinct for
//   distinct indices (SplitMix64 is a bijection).
//
// Thread-safety: free functions without shared state.
#ifndef LLMBENCH_COORDINATOR_SHARDING_H_
#define LLMBENCH_COORDINATOR_SHARDING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "llmbench/v1/scenario.pb.h"
#include "llmbench/v1/worker.pb.h"

namespace llmbench::coordinator {

// Defaults written into every shard.
inline constexpr uint32_t kDefaultRecordBatchSize = 256;
inline constexpr uint32_t kDefaultProgressIntervalMs = 500;

// The seed of shard `index` of a run with master seed `seed`.
uint64_t ShardSeed(uint64_t seed, uint32_t index);

// Splits the load of scenario.engines(engine_index) over `worker_count` workers.
// `weights` (one per worker, > 0; empty = equal) set each worker's share of concurrency,
// rate and requests. The scenario must be defaulted and valid; a sweep profile is run as a
// series of rate scenarios and is rejected here. Returns no shards when requests == 0.
// Shard k of the result was made for worker `shard.shard_index()`'s position among the
// workers that got one (workers with a zero share are skipped; indices are 0..S-1).
absl::StatusOr<std::vector<llmbench::v1::Shard>> MakeShards(
    const llmbench::v1::Scenario& scenario, int engine_index,
    const std::vector<llmbench::v1::Prompt>& prompts, uint32_t worker_count,
    const std::string& run_id, int64_t start_unix_ns, const std::vector<double>& weights = {});

// Re-splits the unfinished request ids of a failed count-bounded shard (`unfinished`, ranges
// of its ids in any order) over `worker_count` remaining workers: ids are sorted and split
// contiguously with remainders, as request_ranges; the failed
// shard's concurrency (or rate, ramp, burst) is split the same way so the total load stays
// that of the failed shard; no warm-up. New shards get indices next_shard_index,
// next_shard_index + 1, ... and shard_count = next_shard_index + (number of new shards), and
// seeds derived from the failed shard's seed. Workers whose share of the ids is 0 get none.
absl::StatusOr<std::vector<llmbench::v1::Shard>> ReassignRequests(
    const std::vector<llmbench::v1::IdRange>& unfinished, const llmbench::v1::Shard& failed,
    uint32_t worker_count, uint32_t next_shard_index, int64_t start_unix_ns);

// Splits `total` into parts proportional to `weights` (largest remainder, ties to the lower
// index); the parts sum to `total`. Exposed for tests.
std::vector<uint64_t> SplitProportionally(uint64_t total, const std::vector<double>& weights);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_SHARDING_H_
