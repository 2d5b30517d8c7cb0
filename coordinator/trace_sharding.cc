#include "coordinator/trace_sharding.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "coordinator/sharding.h"
#include "coordinator/trace_plan.h"

namespace llmbench::coordinator {

namespace v1 = ::llmbench::v1;

absl::StatusOr<std::vector<v1::Shard>> MakeTraceShards(
    const v1::Scenario& scenario, int engine_index, const std::vector<v1::Prompt>& prompts,
    uint32_t worker_count, const std::string& run_id, int64_t start_unix_ns,
    const std::vector<double>& weights) {
  const v1::Load& load = scenario.load();
  if (load.warmup_requests() > 0 || load.warmup_seconds() > 0) {
    return absl::InvalidArgumentError(
        "load.trace: a trace replays as recorded; warmup_requests and warmup_seconds do not apply");
  }
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (!prompts[i].has_trace_offset_ns() ||
        (i > 0 && prompts[i].trace_offset_ns() < prompts[i - 1].trace_offset_ns())) {
      return absl::InvalidArgumentError(
          absl::StrCat("load.trace: prompt ", i, " has no trace time in order (plan the trace)"));
    }
  }
  LLMBENCH_ASSIGN_OR_RETURN(const uint64_t total, TraceRequestCount(load, prompts));
  const size_t n = prompts.size();

  // Owner of each window entry.
  std::vector<uint32_t> owner(n, 0);
  std::vector<uint64_t> owned(worker_count, 0);
  for (size_t i = 0; i < n; ++i) {
    uint32_t best = 0;
    if (weights.empty()) {
      best = static_cast<uint32_t>(i % worker_count);
    } else {
      for (uint32_t w = 1; w < worker_count; ++w) {
        if (static_cast<double>(owned[w]) / weights[w] <
            static_cast<double>(owned[best]) / weights[best]) {
          best = w;
        }
      }
    }
    owner[i] = best;
    ++owned[best];
  }
  // Workers with entries get shard indices 0 .. S-1, in worker order.
  std::vector<int64_t> shard_of(worker_count, -1);
  uint32_t shard_count = 0;
  for (uint32_t w = 0; w < worker_count; ++w) {
    // A worker whose entries all lie beyond G (requests or duration cut) gets nothing either.
    bool any = false;
    for (size_t i = 0; i < n && i < total && !any; ++i) any = owner[i] == w;
    if (any) shard_of[w] = shard_count++;
  }

  std::vector<v1::Shard> shards(shard_count);
  for (uint32_t w = 0; w < worker_count; ++w) {
    if (shard_of[w] < 0) continue;
    v1::Shard& shard = shards[static_cast<size_t>(shard_of[w])];
    shard.set_run_id(run_id);
    shard.set_shard_index(static_cast<uint32_t>(shard_of[w]));
    shard.set_shard_count(shard_count);
    *shard.mutable_engine() = scenario.engines(engine_index);
    *shard.mutable_generation() = scenario.generation();
    for (size_t i = 0; i < n; ++i) {
      if (owner[i] == w) {
        *shard.add_prompts() = prompts[i];
      } else {
        shard.add_prompts();
      }
    }
    shard.mutable_load()->mutable_trace()->set_period_ns(TracePeriodNs(load.trace(), prompts));
    shard.mutable_load()->set_seed(ShardSeed(scenario.seed(), static_cast<uint32_t>(shard_of[w])));
    shard.set_start_unix_ns(start_unix_ns);
    shard.set_record_batch_size(kDefaultRecordBatchSize);
    shard.set_progress_interval_ms(kDefaultProgressIntervalMs);
  }
  for (uint64_t g = 0; g < total; ++g) {
    shards[static_cast<size_t>(shard_of[owner[g % n]])].add_request_ids(g);
  }
  return shards;
}

}  // namespace llmbench::coordinator
