#include "proto/wire/load_profile.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace llmbench::wire {
namespace {

// Seconds to ns, rounded to nearest, saturating at INT64_MAX (a schedule so slow that it
// overflows simply never fires).
int64_t SecondsToNs(double seconds) {
  const double ns = seconds * 1e9;
  if (!(ns < 9.2e18)) return std::numeric_limits<int64_t>::max();
  if (ns <= 0) return 0;
  return static_cast<int64_t>(std::llround(ns));
}

// A unit-mean exponential variate by inversion: u in [0, 1) from the top 53 bits.
double UnitExponential(std::mt19937_64& rng) {
  const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
  return -std::log1p(-u);
}

bool FinitePositive(double v) { return std::isfinite(v) && v > 0; }

}  // namespace

int64_t ConstantSchedule::Next() {
  const double t = static_cast<double>(k_) / rps_;
  ++k_;
  return SecondsToNs(t);
}

PoissonSchedule::PoissonSchedule(double rps, uint64_t seed) : rps_(rps), rng_(seed) {}

int64_t PoissonSchedule::Next() {
  t_seconds_ += UnitExponential(rng_) / rps_;
  return SecondsToNs(t_seconds_);
}

RampSchedule::RampSchedule(double from_rps, double to_rps, double seconds,
                           std::optional<uint64_t> poisson_seed)
    : from_rps_(from_rps),
      to_rps_(to_rps),
      seconds_(seconds),
      ramp_area_((from_rps + to_rps) * seconds / 2) {
  if (poisson_seed.has_value()) rng_.emplace(*poisson_seed);
}

double RampSchedule::InverseIntegral(double x) const {
  if (!(x > 0)) return 0;
  if (x >= ramp_area_) return seconds_ + (x - ramp_area_) / to_rps_;
  // Λ(t) = r0·t + a·t² with a = (r1 − r0)/(2T). The root of a·t² + r0·t − x = 0 in the
  // cancellation-free form t = 2x / (r0 + sqrt(r0² + 4ax)); valid for a of either sign and
  // for a = 0, and the discriminant is >= r1² >= 0 on [0, Λ(T)] (clamped against rounding).
  const double a = (to_rps_ - from_rps_) / (2 * seconds_);
  const double disc = std::max(0.0, from_rps_ * from_rps_ + 4 * a * x);
  const double t = 2 * x / (from_rps_ + std::sqrt(disc));
  return std::min(t, seconds_);
}

int64_t RampSchedule::Next() {
  double x;
  if (rng_.has_value()) {
    x_ += UnitExponential(*rng_);
    x = x_;
  } else {
    x = static_cast<double>(k_);
    ++k_;
  }
  return SecondsToNs(InverseIntegral(x));
}

BurstSchedule::BurstSchedule(std::unique_ptr<ArrivalSchedule> base, uint32_t size,
                             double every_seconds)
    : base_(std::move(base)), size_(size), every_seconds_(every_seconds), burst_left_(size) {}

int64_t BurstSchedule::Next() {
  if (!base_next_.has_value()) base_next_ = base_->Next();
  if (size_ > 0) {
    const int64_t burst_t = SecondsToNs(static_cast<double>(burst_index_) * every_seconds_);
    if (burst_t <= *base_next_) {
      if (--burst_left_ == 0) {
        ++burst_index_;
        burst_left_ = size_;
      }
      return burst_t;
    }
  }
  const int64_t t = *base_next_;
  base_next_.reset();
  return t;
}

absl::StatusOr<std::unique_ptr<ArrivalSchedule>> MakeArrivalSchedule(
    const llmbench::v1::RateLoad& rate, uint64_t seed) {
  bool poisson = false;
  switch (rate.arrival()) {
    case llmbench::v1::ARRIVAL_UNSPECIFIED:
    case llmbench::v1::ARRIVAL_CONSTANT:
      break;
    case llmbench::v1::ARRIVAL_POISSON:
      poisson = true;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("rate.arrival has unknown value ", static_cast<int>(rate.arrival())));
  }

  std::unique_ptr<ArrivalSchedule> schedule;
  if (rate.has_ramp()) {
    const auto& ramp = rate.ramp();
    if (!(std::isfinite(ramp.from_rps()) && ramp.from_rps() >= 0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "rate.ramp.from_rps must be a finite number >= 0, got ", ramp.from_rps()));
    }
    if (!FinitePositive(ramp.to_rps())) {
      return absl::InvalidArgumentError(
          absl::StrCat("rate.ramp.to_rps must be a finite number > 0, got ", ramp.to_rps()));
    }
    if (!FinitePositive(ramp.seconds())) {
      return absl::InvalidArgumentError(
          absl::StrCat("rate.ramp.seconds must be a finite number > 0, got ", ramp.seconds()));
    }
    schedule = std::make_unique<RampSchedule>(ramp.from_rps(), ramp.to_rps(), ramp.seconds(),
                                              poisson ? std::optional<uint64_t>(seed)
                                                      : std::nullopt);
  } else {
    if (!FinitePositive(rate.rps())) {
      return absl::InvalidArgumentError(
          absl::StrCat("rate.rps must be a finite number > 0, got ", rate.rps()));
    }
    if (poisson) {
      schedule = std::make_unique<PoissonSchedule>(rate.rps(), seed);
    } else {
      schedule = std::make_unique<ConstantSchedule>(rate.rps());
    }
  }

  if (rate.has_burst()) {
    const auto& burst = rate.burst();
    if (burst.size() == 0 && burst.every_seconds() == 0) return schedule;  // no burst
    if (burst.size() == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "rate.burst.size must be > 0 when rate.burst.every_seconds is set (every_seconds ",
          burst.every_seconds(), ")"));
    }
    if (!FinitePositive(burst.every_seconds())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "rate.burst.every_seconds must be a finite number > 0, got ", burst.every_seconds()));
    }
    schedule = std::make_unique<BurstSchedule>(std::move(schedule), burst.size(),
                                               burst.every_seconds());
  }
  return schedule;
}

}  // namespace llmbench::wire
