#include "proto/wire/trace_schedule.h"

#include <limits>

#include "absl/strings/str_cat.h"

namespace llmbench::wire {

int64_t TraceSchedule::TimeOf(const llmbench::v1::Shard& shard, uint64_t id) {
  const auto n = static_cast<uint64_t>(shard.prompts_size());
  const int64_t offset = shard.prompts(static_cast<int>(id % n)).trace_offset_ns();
  const uint64_t repetition = id / n;
  const auto period = static_cast<uint64_t>(shard.load().trace().period_ns());
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  if (repetition > 0 &&
      period > (static_cast<uint64_t>(kMax) - static_cast<uint64_t>(offset)) / repetition) {
    return kMax;
  }
  return offset + static_cast<int64_t>(repetition * period);
}

int64_t TraceSchedule::Next() {
  if (next_ >= ids_.size()) return std::numeric_limits<int64_t>::max();
  return TimeOf(shard_, ids_.IdAt(next_++));
}

absl::Status CheckTraceShard(const llmbench::v1::Shard& shard, const ShardIds& ids) {
  if (ids.size() == 0) {
    return absl::InvalidArgumentError(
        "shard.load.trace: a trace shard needs request_ids or request_ranges");
  }
  if (shard.warmup_requests() > 0 || shard.warmup_seconds() > 0) {
    return absl::InvalidArgumentError("shard.load.trace: a trace shard has no warm-up");
  }
  if (shard.load().trace().period_ns() <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("shard.load.trace.period_ns must be > 0, got ",
                                                   shard.load().trace().period_ns()));
  }
  const auto n = static_cast<uint64_t>(shard.prompts_size());
  int64_t previous = 0;
  for (uint64_t j = 0; j < ids.size(); ++j) {
    const uint64_t id = ids.IdAt(j);
    const llmbench::v1::Prompt& prompt = shard.prompts(static_cast<int>(id % n));
    if (!prompt.has_trace_offset_ns() || prompt.trace_offset_ns() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("shard.prompts[", id % n,
                       "].trace_offset_ns must be set and >= 0 (request id ", id, ")"));
    }
    const int64_t t = TraceSchedule::TimeOf(shard, id);
    if (t < previous) {
      return absl::InvalidArgumentError(absl::StrCat("shard.load.trace: request id ", id,
                                                     " is scheduled at ", t,
                                                     " ns, before the shard's previous request (",
                                                     previous, " ns): ids must be in time order"));
    }
    previous = t;
  }
  return absl::OkStatus();
}

}  // namespace llmbench::wire
