#include "proto/wire/load_profile.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace llmbench::wire {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

std::vector<int64_t> Take(ArrivalSchedule& s, size_t n) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < n; ++i) out.push_back(s.Next());
  return out;
}

llmbench::v1::RateLoad Rate(double rps,
                            llmbench::v1::Arrival arrival = llmbench::v1::ARRIVAL_CONSTANT) {
  llmbench::v1::RateLoad r;
  r.set_rps(rps);
  r.set_arrival(arrival);
  return r;
}

std::unique_ptr<ArrivalSchedule> Make(const llmbench::v1::RateLoad& rate, uint64_t seed = 1) {
  auto s = MakeArrivalSchedule(rate, seed);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

// ---------------------------------------------------------------------------------------
// Constant

TEST(ConstantScheduleTest, ExactTimes) {
  ConstantSchedule s(4);
  EXPECT_EQ(Take(s, 6), (std::vector<int64_t>{0, 250'000'000, 500'000'000, 750'000'000,
                                              1'000'000'000, 1'250'000'000}));
}

TEST(ConstantScheduleTest, NoDriftOverManyArrivals) {
  // 1/3 s is not representable; times are k/rps rounded, never accumulated.
  ConstantSchedule s(3);
  std::vector<int64_t> t = Take(s, 3'000'001);
  EXPECT_EQ(t[1], 333'333'333);
  EXPECT_EQ(t[2], 666'666'667);
  EXPECT_EQ(t[3], kSecond);
  EXPECT_EQ(t[3'000'000], 1'000'000 * kSecond);
}

TEST(MakeArrivalScheduleTest, UnspecifiedArrivalIsConstant) {
  auto s = Make(Rate(2, llmbench::v1::ARRIVAL_UNSPECIFIED));
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Take(*s, 4), (std::vector<int64_t>{0, 500'000'000, kSecond, 1'500'000'000}));
  auto c = Make(Rate(2, llmbench::v1::ARRIVAL_CONSTANT));
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Take(*c, 4), (std::vector<int64_t>{0, 500'000'000, kSecond, 1'500'000'000}));
}

TEST(ConstantScheduleTest, SaturatesInsteadOfOverflowing) {
  ConstantSchedule s(1e-12);  // one request every ~31700 years
  EXPECT_EQ(s.Next(), 0);
  EXPECT_EQ(s.Next(), std::numeric_limits<int64_t>::max());
}

// ---------------------------------------------------------------------------------------
// Poisson

TEST(PoissonScheduleTest, MeanRateAndDispersion) {
  // 100k arrivals at 50 rps. The time of the n-th arrival is Gamma(n, λ): relative standard
  // deviation 1/√n = 0.32%, so a 2% tolerance is > 6σ. The gaps of a Poisson process are
  // exponential, so their coefficient of variation is 1; its estimate from 100k gaps has a
  // standard deviation of about 0.5% (exponential kurtosis 9), so 3% is > 6σ. The seed is
  // fixed, so the test is deterministic anyway; the tolerances say the seed is not cherry-picked.
  constexpr int kN = 100'000;
  constexpr double kRps = 50;
  PoissonSchedule s(kRps, 12345);
  std::vector<int64_t> t = Take(s, kN);
  EXPECT_GT(t[0], 0);  // the first request comes one gap after the start
  double sum = 0, sum_sq = 0;
  int64_t prev = 0;
  for (int64_t x : t) {
    ASSERT_GE(x, prev);
    const double gap = static_cast<double>(x - prev) / 1e9;
    sum += gap;
    sum_sq += gap * gap;
    prev = x;
  }
  const double mean_rate = kN / (static_cast<double>(t.back()) / 1e9);
  EXPECT_NEAR(mean_rate, kRps, 0.02 * kRps);
  const double mean_gap = sum / kN;
  const double sd_gap = std::sqrt(sum_sq / kN - mean_gap * mean_gap);
  EXPECT_NEAR(sd_gap / mean_gap, 1.0, 0.03);
}

TEST(PoissonScheduleTest, SameSeedSameSequenceDifferentSeedDiffers) {
  PoissonSchedule a(100, 7), b(100, 7), c(100, 8);
  const auto ta = Take(a, 1000), tb = Take(b, 1000), tc = Take(c, 1000);
  EXPECT_EQ(ta, tb);
  EXPECT_NE(ta, tc);
  // Through the factory too, with the seed argument.
  auto f1 = Make(Rate(100, llmbench::v1::ARRIVAL_POISSON), 7);
  auto f2 = Make(Rate(100, llmbench::v1::ARRIVAL_POISSON), 7);
  auto f3 = Make(Rate(100, llmbench::v1::ARRIVAL_POISSON), 9);
  ASSERT_TRUE(f1 && f2 && f3);
  const auto t1 = Take(*f1, 1000);
  EXPECT_EQ(t1, ta);
  EXPECT_EQ(Take(*f2, 1000), t1);
  EXPECT_NE(Take(*f3, 1000), t1);
}

// ---------------------------------------------------------------------------------------
// Ramp

llmbench::v1::RateLoad RampRate(double from, double to, double seconds,
                                llmbench::v1::Arrival arrival = llmbench::v1::ARRIVAL_CONSTANT) {
  llmbench::v1::RateLoad r;
  r.set_rps(12345);  // ignored when a ramp is set
  r.set_arrival(arrival);
  r.mutable_ramp()->set_from_rps(from);
  r.mutable_ramp()->set_to_rps(to);
  r.mutable_ramp()->set_seconds(seconds);
  return r;
}

TEST(RampScheduleTest, ExactTimesZeroToTen) {
  // r(t) = t for t in [0, 10], so Λ(t) = t²/2 and request k is at √(2k): 0, √2, 2, √6, ..., 4
  // (k = 8), ..., 10 (k = 50); after the ramp the rate is 10, so k = 51 is at 10.1 s.
  auto s = Make(RampRate(0, 10, 10));
  ASSERT_NE(s, nullptr);
  std::vector<int64_t> t = Take(*s, 53);
  EXPECT_EQ(t[0], 0);
  EXPECT_EQ(t[1], std::llround(std::sqrt(2.0) * 1e9));
  EXPECT_EQ(t[2], 2 * kSecond);
  EXPECT_EQ(t[3], std::llround(std::sqrt(6.0) * 1e9));
  EXPECT_EQ(t[8], 4 * kSecond);
  EXPECT_EQ(t[18], 6 * kSecond);
  EXPECT_EQ(t[50], 10 * kSecond);
  EXPECT_EQ(t[51], 10'100'000'000);
  EXPECT_EQ(t[52], 10'200'000'000);
}

TEST(RampScheduleTest, ExactTimesDecreasing) {
  // r(t) = 4 − t on [0, 2] then 2: Λ(t) = 4t − t²/2, Λ(2) = 6. k = 0..6 at t = 4 − √(16 − 2k):
  // k = 6 -> 2 s; k = 7 -> 2.5 s.
  RampSchedule s(4, 2, 2);
  std::vector<int64_t> t = Take(s, 8);
  for (int k = 0; k <= 6; ++k) {
    EXPECT_NEAR(static_cast<double>(t[static_cast<size_t>(k)]),
                (4 - std::sqrt(16.0 - 2 * k)) * 1e9, 1.0)
        << k;
  }
  EXPECT_EQ(t[6], 2 * kSecond);
  EXPECT_EQ(t[7], 2'500'000'000);
}

TEST(RampScheduleTest, FlatRampEqualsConstant) {
  RampSchedule ramp(5, 5, 3);
  ConstantSchedule constant(5);
  EXPECT_EQ(Take(ramp, 100), Take(constant, 100));
}

TEST(RampScheduleTest, CountInWindowEqualsIntegralOfRate) {
  // For several ramps and windows T, the number of arrivals in [0, T] is Λ(T) ± 1 (exactly
  // floor(Λ(T)) + 1 with the first request at t = 0).
  struct Case {
    double from, to, seconds;
  };
  for (const Case& c :
       {Case{1, 100, 30}, Case{100, 1, 30}, Case{0, 37.5, 12.3}, Case{2, 3, 100}}) {
    RampSchedule s(c.from, c.to, c.seconds);
    auto lambda = [&](double t) {
      if (t <= c.seconds) return c.from * t + (c.to - c.from) * t * t / (2 * c.seconds);
      return (c.from + c.to) * c.seconds / 2 + c.to * (t - c.seconds);
    };
    std::vector<int64_t> times = Take(s, 20000);
    for (double T : {0.5, 1.0, 7.25, c.seconds / 2, c.seconds, c.seconds * 1.5}) {
      const int64_t t_ns = std::llround(T * 1e9);
      const auto count = std::upper_bound(times.begin(), times.end(), t_ns) - times.begin();
      ASSERT_LT(count, 20000) << "take more arrivals";
      EXPECT_NEAR(static_cast<double>(count), lambda(T), 1.0)
          << c.from << "->" << c.to << " over " << c.seconds << " s, T=" << T;
    }
    for (size_t i = 1; i < times.size(); ++i) ASSERT_GE(times[i], times[i - 1]);
  }
}

TEST(RampScheduleTest, PoissonRampFollowsTheRate) {
  // Inhomogeneous Poisson: 1 -> 200 rps over 100 s, Λ(100) = 10050. The count in [0, T] is
  // Poisson(Λ(T)); 5% is > 4σ for Λ >= 2500 (σ/Λ = 1/√Λ <= 2%).
  RampSchedule s(1, 200, 100, 99);
  std::vector<int64_t> times = Take(s, 11000);
  auto count_until = [&](double T) {
    const int64_t t_ns = std::llround(T * 1e9);
    return static_cast<double>(std::upper_bound(times.begin(), times.end(), t_ns) -
                               times.begin());
  };
  auto lambda = [](double t) { return t + 199 * t * t / 200; };
  for (double T : {50.0, 75.0, 100.0}) {
    EXPECT_NEAR(count_until(T), lambda(T), 0.05 * lambda(T)) << T;
  }
  RampSchedule same(1, 200, 100, 99), other(1, 200, 100, 100);
  EXPECT_EQ(Take(same, 11000), times);
  EXPECT_NE(Take(other, 11000), times);
  // Through the factory: POISSON + ramp uses the seed.
  auto f = Make(RampRate(1, 200, 100, llmbench::v1::ARRIVAL_POISSON), 99);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(Take(*f, 11000), times);
}

// ---------------------------------------------------------------------------------------
// Burst

TEST(BurstScheduleTest, ExactInstants) {
  // 2 rps base (0, .5, 1, 1.5, ...) plus 3 requests at 1 s, 2 s, 3 s, ...; at a tie the
  // burst comes first (same instant either way).
  BurstSchedule s(std::make_unique<ConstantSchedule>(2), 3, 1.0);
  EXPECT_EQ(Take(s, 16),
            (std::vector<int64_t>{0, 500'000'000,                               //
                                  kSecond, kSecond, kSecond, kSecond,           // burst + base
                                  1'500'000'000,                                //
                                  2 * kSecond, 2 * kSecond, 2 * kSecond, 2 * kSecond,  //
                                  2'500'000'000,                                //
                                  3 * kSecond, 3 * kSecond, 3 * kSecond, 3 * kSecond}));
}

TEST(BurstScheduleTest, BurstsBetweenSlowBaseArrivals) {
  // Base every 10 s; bursts of 2 every 3 s.
  BurstSchedule s(std::make_unique<ConstantSchedule>(0.1), 2, 3.0);
  EXPECT_EQ(Take(s, 10), (std::vector<int64_t>{0, 3 * kSecond, 3 * kSecond, 6 * kSecond,
                                               6 * kSecond, 9 * kSecond, 9 * kSecond,
                                               10 * kSecond, 12 * kSecond, 12 * kSecond}));
}

TEST(BurstScheduleTest, ThroughFactoryWithPoissonBaseIsOrdered) {
  llmbench::v1::RateLoad r = Rate(20, llmbench::v1::ARRIVAL_POISSON);
  r.mutable_burst()->set_size(5);
  r.mutable_burst()->set_every_seconds(0.5);
  auto s = Make(r, 3);
  ASSERT_NE(s, nullptr);
  std::vector<int64_t> t = Take(*s, 5000);
  int at_burst_instants = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    if (i > 0) {
      ASSERT_GE(t[i], t[i - 1]);
    }
    if (t[i] % 500'000'000 == 0 && t[i] > 0) ++at_burst_instants;
  }
  // The burst share: 10 rps of bursts beside 20 rps of base -> one third of the requests.
  EXPECT_NEAR(at_burst_instants, 5000.0 / 3, 5000.0 / 3 * 0.05);
  EXPECT_EQ(at_burst_instants % 5, 0);
}

TEST(BurstScheduleTest, ZeroBurstMeansNoBurst) {
  llmbench::v1::RateLoad r = Rate(4);
  r.mutable_burst();  // present but all zero
  auto s = Make(r);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(Take(*s, 3), (std::vector<int64_t>{0, 250'000'000, 500'000'000}));
}

// ---------------------------------------------------------------------------------------
// Validation: exact messages.

void ExpectInvalid(const llmbench::v1::RateLoad& r, const std::string& message) {
  auto s = MakeArrivalSchedule(r, 1);
  EXPECT_EQ(s.status(), absl::InvalidArgumentError(message));
}

TEST(MakeArrivalScheduleTest, RejectsBadRates) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  ExpectInvalid(Rate(0), "rate.rps must be a finite number > 0, got 0");
  ExpectInvalid(Rate(-2.5), "rate.rps must be a finite number > 0, got -2.5");
  ExpectInvalid(Rate(nan), "rate.rps must be a finite number > 0, got nan");
  ExpectInvalid(Rate(inf, llmbench::v1::ARRIVAL_POISSON),
                "rate.rps must be a finite number > 0, got inf");
  llmbench::v1::RateLoad bad_arrival = Rate(1);
  bad_arrival.set_arrival(static_cast<llmbench::v1::Arrival>(7));
  ExpectInvalid(bad_arrival, "rate.arrival has unknown value 7");
}

TEST(MakeArrivalScheduleTest, RejectsBadRamps) {
  ExpectInvalid(RampRate(-1, 10, 5), "rate.ramp.from_rps must be a finite number >= 0, got -1");
  ExpectInvalid(RampRate(std::numeric_limits<double>::quiet_NaN(), 10, 5),
                "rate.ramp.from_rps must be a finite number >= 0, got nan");
  ExpectInvalid(RampRate(1, 0, 5), "rate.ramp.to_rps must be a finite number > 0, got 0");
  ExpectInvalid(RampRate(1, -3, 5), "rate.ramp.to_rps must be a finite number > 0, got -3");
  ExpectInvalid(RampRate(1, 10, -5), "rate.ramp.seconds must be a finite number > 0, got -5");
  ExpectInvalid(RampRate(1, 10, 0), "rate.ramp.seconds must be a finite number > 0, got 0");
  ExpectInvalid(RampRate(1, 10, std::numeric_limits<double>::infinity()),
                "rate.ramp.seconds must be a finite number > 0, got inf");
  // With a ramp, rps is ignored even when invalid.
  llmbench::v1::RateLoad r = RampRate(1, 10, 5);
  r.set_rps(0);
  EXPECT_TRUE(MakeArrivalSchedule(r, 1).ok());
}

TEST(MakeArrivalScheduleTest, RejectsBadBursts) {
  llmbench::v1::RateLoad r = Rate(1);
  r.mutable_burst()->set_size(0);
  r.mutable_burst()->set_every_seconds(2);
  ExpectInvalid(r, "rate.burst.size must be > 0 when rate.burst.every_seconds is set "
                   "(every_seconds 2)");
  r.mutable_burst()->set_size(4);
  r.mutable_burst()->set_every_seconds(0);
  ExpectInvalid(r, "rate.burst.every_seconds must be a finite number > 0, got 0");
  r.mutable_burst()->set_every_seconds(-1);
  ExpectInvalid(r, "rate.burst.every_seconds must be a finite number > 0, got -1");
  r.mutable_burst()->set_every_seconds(std::numeric_limits<double>::quiet_NaN());
  ExpectInvalid(r, "rate.burst.every_seconds must be a finite number > 0, got nan");
}

// ---------------------------------------------------------------------------------------
// Closed loop

TEST(ClosedLoopGateTest, Available) {
  ClosedLoopGate gate(4);
  EXPECT_EQ(gate.concurrency(), 4u);
  EXPECT_EQ(gate.Available(0), 4u);
  EXPECT_EQ(gate.Available(1), 3u);
  EXPECT_EQ(gate.Available(4), 0u);
  EXPECT_EQ(gate.Available(9), 0u);  // more in flight than allowed (e.g. after a resize)
  EXPECT_EQ(ClosedLoopGate(0).Available(0), 0u);
}

}  // namespace
}  // namespace llmbench::wire
