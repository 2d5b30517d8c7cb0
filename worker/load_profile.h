// Load profiles: when each request of a shard is released. Pure code driven by a clock, so
// tests use FakeClock and never sleep.
//
// Open loop (ArrivalSchedule): each request has a scheduled time, fixed in advance of the
// send; the generator never queues silently, it records lateness = sent − scheduled.
// Closed loop (ClosedLoopGate): keep N requests in flight.
//
// Thread-compatible: one instance per shard, used by the shard's dispatch thread.
#ifndef LLMBENCH_WORKER_LOAD_PROFILE_H_
#define LLMBENCH_WORKER_LOAD_PROFILE_H_

#include <cstdint>
#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "llmbench/v1/scenario.pb.h"

namespace llmbench::worker {

// A sequence of scheduled send times (ns, relative to the shard start). Implementations:
// ConstantSchedule, PoissonSchedule (seeded), RampSchedule (linear r0→r1 then r1), and
// BurstSchedule (decorator adding `size` requests every `every_seconds`).
class ArrivalSchedule {
 public:
  virtual ~ArrivalSchedule() = default;
  // The scheduled time of the next request; non-decreasing from call to call.
  virtual int64_t Next() = 0;
};

// Builds the schedule for a rate profile; InvalidArgument for rps <= 0, NaN, etc.
absl::StatusOr<std::unique_ptr<ArrivalSchedule>> MakeArrivalSchedule(
    const llmbench::v1::RateLoad& rate, uint64_t seed);

// Closed loop: the number of requests that may be started now.
class ClosedLoopGate {
 public:
  explicit ClosedLoopGate(uint32_t concurrency) : concurrency_(concurrency) {}
  // How many more requests may start given `in_flight`.
  uint32_t Available(uint32_t in_flight) const {
    return in_flight >= concurrency_ ? 0 : concurrency_ - in_flight;
  }
  uint32_t concurrency() const { return concurrency_; }

 private:
  uint32_t concurrency_;
};

// Bounds of a shard: count and/or duration; warm-up requests come first and are marked.
struct ShardBounds {
  std::optional<uint64_t> requests;      // measured requests (after warm-up)
  std::optional<int64_t> duration_ns;    // measured phase length (after warm-up time)
  uint64_t warmup_requests = 0;
  int64_t warmup_ns = 0;
};

}  // namespace llmbench::worker

#endif  // LLMBENCH_WORKER_LOAD_PROFILE_H_
