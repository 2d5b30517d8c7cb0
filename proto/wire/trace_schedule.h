// TraceSchedule: the open-loop schedule of a trace shard (ShardLoad.trace; worker.proto): each
// request is sent at the time its id fixes, prompts[id % N].trace_offset_ns +
// (id / N) * period_ns (N = the shard's prompt count), so a request keeps its absolute trace
// time on whichever worker runs it. Beside ConstantSchedule, PoissonSchedule, ... in
// proto/wire/load_profile.h; kept in its own file.
//
// Thread-compatible: one instance per loop thread, like every ArrivalSchedule.
#ifndef LLMBENCH_PROTO_WIRE_TRACE_SCHEDULE_H_
#define LLMBENCH_PROTO_WIRE_TRACE_SCHEDULE_H_

#include <cstdint>

#include "absl/status/status.h"
#include "llmbench/v1/worker.pb.h"
#include "proto/wire/shard_ids.h"
#include "proto/wire/load_profile.h"

namespace llmbench::wire {

class TraceSchedule final : public ArrivalSchedule {
 public:
  // REQUIRES: CheckTraceShard(shard, ids) is OK; `shard` and `ids` outlive the schedule.
  TraceSchedule(const llmbench::v1::Shard& shard, const ShardIds& ids)
      : shard_(shard), ids_(ids) {}
  // The time of the shard's next measured id, in order; INT64_MAX once they are all returned
  // (the shard's count bound stops dispatch first).
  int64_t Next() override;

  // The send time of request `id` (ns from the start instant), saturating at INT64_MAX.
  static int64_t TimeOf(const llmbench::v1::Shard& shard, uint64_t id);

 private:
  const llmbench::v1::Shard& shard_;
  const ShardIds& ids_;
  uint64_t next_ = 0;
};

// InvalidArgument naming the field unless `shard` is a usable trace shard: count-bounded, no
// warm-up, period_ns > 0, every id's prompt has a trace_offset_ns >= 0 and the ids' times do
// not decrease in the shard's order.
absl::Status CheckTraceShard(const llmbench::v1::Shard& shard, const ShardIds& ids);

}  // namespace llmbench::wire

#endif  // LLMBENCH_PROTO_WIRE_TRACE_SCHEDULE_H_
