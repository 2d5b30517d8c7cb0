// Load profiles: when each request of a shard is released. Pure code driven by a clock, so
// tests use FakeClock and never sleep.
//
// Open loop (ArrivalSchedule): each request has a scheduled time, fixed in advance of the
// send; the generator never queues silently, it records lateness = sent − scheduled.
// Closed loop (ClosedLoopGate): keep N requests in flight.
//
// Thread-compatible: one instance per shard, used by the shard's dispatch thread.
#ifndef LLMBENCH_PROTO_WIRE_LOAD_PROFILE_H_
#define LLMBENCH_PROTO_WIRE_LOAD_PROFILE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <random>

#include "absl/status/statusor.h"
#include "llmbench/v1/scenario.pb.h"

namespace llmbench::wire {

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
//   arrival CONSTANT or UNSPECIFIED -> ConstantSchedule(rps); POISSON -> PoissonSchedule(rps,
//   seed). With `ramp` set, rps is ignored and a RampSchedule (constant or Poisson spacing) is
//   used instead. With `burst` set (size > 0), the result is wrapped in a BurstSchedule;
//   a burst with size 0 and every_seconds 0 means "no burst".
absl::StatusOr<std::unique_ptr<ArrivalSchedule>> MakeArrivalSchedule(
    const llmbench::v1::RateLoad& rate, uint64_t seed);

// Concrete schedules. Constructors take already validated parameters (MakeArrivalSchedule
// validates): REQUIRES rates finite and > 0 (ramp from_rps >= 0), seconds finite and > 0.
// Times are rounded to the nearest ns from an exact double computation (no accumulated
// rounding) and saturate at INT64_MAX.

// k-th request (k = 0, 1, ...) at k / rps seconds: the first at t = 0.
class ConstantSchedule final : public ArrivalSchedule {
 public:
  explicit ConstantSchedule(double rps) : rps_(rps) {}
  int64_t Next() override;

 private:
  double rps_;
  uint64_t k_ = 0;
};

// Poisson process: independent exponential gaps of mean 1/rps; the first request comes one
// gap after t = 0. Gaps are drawn by inversion, -log(1 − u)/rps with u = 53 random bits of a
// std::mt19937_64 seeded with `seed`, so the same seed gives the same sequence on every
// platform with the same libm.
class PoissonSchedule final : public ArrivalSchedule {
 public:
  PoissonSchedule(double rps, uint64_t seed);
  int64_t Next() override;

 private:
  double rps_;
  std::mt19937_64 rng_;
  double t_seconds_ = 0;
};

// Rate rising (or falling) linearly from from_rps to to_rps over `seconds`, then to_rps.
// With Λ(t) the integral of the rate, request k is at the t where Λ(t) = x_k, solved in
// closed form. Constant spacing: x_k = k (k = 0, 1, ..., first at t = 0). Poisson spacing
// (seeded as PoissonSchedule): x_k = sum of k+1 unit exponential gaps, an inhomogeneous
// Poisson process with this rate.
class RampSchedule final : public ArrivalSchedule {
 public:
  RampSchedule(double from_rps, double to_rps, double seconds,
               std::optional<uint64_t> poisson_seed = std::nullopt);
  int64_t Next() override;
  // The t (seconds) at which Λ(t) = x, x >= 0.
  double InverseIntegral(double x) const;

 private:
  double from_rps_;
  double to_rps_;
  double seconds_;
  double ramp_area_;  // Λ(seconds)
  std::optional<std::mt19937_64> rng_;
  uint64_t k_ = 0;
  double x_ = 0;
};

// Decorator: the base schedule plus `size` requests released together at every_seconds,
// 2·every_seconds, ... (the first burst one period after the start), merged in time order.
// At equal times the burst requests come first.
class BurstSchedule final : public ArrivalSchedule {
 public:
  BurstSchedule(std::unique_ptr<ArrivalSchedule> base, uint32_t size, double every_seconds);
  int64_t Next() override;

 private:
  std::unique_ptr<ArrivalSchedule> base_;
  uint32_t size_;
  double every_seconds_;
  std::optional<int64_t> base_next_;  // peeked, not yet returned
  uint64_t burst_index_ = 1;          // the next burst is at burst_index_ · every_seconds
  uint32_t burst_left_;               // requests of that burst still to release
};

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

}  // namespace llmbench::wire

#endif  // LLMBENCH_PROTO_WIRE_LOAD_PROFILE_H_
