#include "coordinator/sweep.h"

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace llmbench::coordinator {
namespace {

v1::SweepLoad Sweep(double start, double max, double factor, uint32_t bisect) {
  v1::SweepLoad s;
  s.set_start_rps(start);
  s.set_max_rps(max);
  s.set_step_factor(factor);
  s.set_step_seconds(1);
  s.set_bisect_iterations(bisect);
  return s;
}

// A fake engine with capacity `capacity` req/s: at or below it, sustained = offered and E2E
// 100 ms; above it, sustained = capacity and E2E 1000 ms (requests queue). Achieved (drain
// included) is lower: 80% of that.
SweepProbe FakeEngine(double capacity, std::vector<double>* probed) {
  return [=](double rps, std::string_view, int) -> absl::StatusOr<v1::SweepPoint> {
    probed->push_back(rps);
    v1::SweepPoint p;
    p.set_requests(100);
    p.set_sustained_rps(std::min(rps, capacity));
    p.set_completion_slope(rps / std::min(rps, capacity));
    p.set_achieved_rps(0.8 * std::min(rps, capacity));
    p.set_e2e_p50_ms(rps <= capacity ? 100 : 1000);
    p.set_verdict(v1::Verdict::STATE_VALID);
    return p;
  };
}

TEST(SweepSearchTest, StepsThenBisectsToTheKnee) {
  std::vector<double> probed;
  absl::StatusOr<v1::SweepResult> r =
      RunSweepSearch(Sweep(5, 1000, 2, 4), SweepCriteria(), false, FakeEngine(33, &probed));
  ASSERT_TRUE(r.ok()) << r.status();
  // Steps 5, 10, 20, 40 (achieved 33 < 90% of 40: bad), then bisect 30 (good), 35 (E2E
  // 1000 ms > 2 × 100: bad), 32.5 (good), 33.75 (bad).
  EXPECT_EQ(probed, std::vector<double>({5, 10, 20, 40, 30, 35, 32.5, 33.75}));
  EXPECT_DOUBLE_EQ(r->knee_rps(), 32.5);
  EXPECT_DOUBLE_EQ(r->first_bad_rps(), 33.75);
  ASSERT_EQ(r->points_size(), 8);
  EXPECT_EQ(r->points(3).phase(), "step");
  EXPECT_FALSE(r->points(3).good());
  EXPECT_EQ(r->points(3).reason(),
            "sustained 33.00 req/s < 90% of offered (completions fell behind: end/send slope "
            "1.21)");
  EXPECT_EQ(r->judged_on(),
            "sustained req/s (completions per second while sending, drain excluded: send rate / "
            "slope of end time over send time) >= 90% of offered (achieved req/s with fewer "
            "than 3 successes); error rate <= 1.0%; E2E p50 <= 2.0x the first probe's; verdict "
            "not INVALID");
  EXPECT_EQ(r->points(4).phase(), "bisect");
  EXPECT_EQ(r->points(5).reason(), "E2E p50 1000.0 ms > 2.0x the first probe's 100.0 ms");
  EXPECT_EQ(r->note(), "max sustainable rate between 32.5 and 33.8 req/s");
}

TEST(SweepSearchTest, ClampsToMaxAndReportsSustained) {
  std::vector<double> probed;
  absl::StatusOr<v1::SweepResult> r =
      RunSweepSearch(Sweep(4, 12, 2, 4), SweepCriteria(), false, FakeEngine(100, &probed));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(probed, std::vector<double>({4, 8, 12}));
  EXPECT_DOUBLE_EQ(r->knee_rps(), 12);
  EXPECT_FALSE(r->has_first_bad_rps());
  EXPECT_EQ(r->note(), "sustained up to max_rps: the capacity may be higher");
}

TEST(SweepSearchTest, StartAlreadyFails) {
  std::vector<double> probed;
  absl::StatusOr<v1::SweepResult> r =
      RunSweepSearch(Sweep(50, 100, 2, 4), SweepCriteria(), false, FakeEngine(10, &probed));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(probed, std::vector<double>({50}));
  EXPECT_FALSE(r->has_knee_rps());
  EXPECT_DOUBLE_EQ(r->first_bad_rps(), 50);
  EXPECT_EQ(r->note(), "start_rps already fails: the engine sustains less than start_rps");
}

TEST(SweepSearchTest, ProbeErrorStops) {
  int calls = 0;
  absl::StatusOr<v1::SweepResult> r = RunSweepSearch(
      Sweep(1, 100, 2, 4), SweepCriteria(), false,
      [&](double, std::string_view, int) -> absl::StatusOr<v1::SweepPoint> {
        if (++calls == 2) return absl::UnavailableError("engine down");
        v1::SweepPoint p;
        p.set_requests(10);
        p.set_achieved_rps(1000);
        return p;
      });
  EXPECT_EQ(r.status().message(), "engine down");
  EXPECT_EQ(calls, 2);
}

TEST(JudgeProbeTest, EachCriterion) {
  SweepCriteria c;
  v1::SweepPoint p;
  p.set_offered_rps(10);
  p.set_achieved_rps(10);
  p.set_requests(100);
  p.set_e2e_p50_ms(100);
  JudgeProbe(c, false, std::nullopt, &p);
  EXPECT_TRUE(p.good());
  EXPECT_EQ(p.reason(), "");

  v1::SweepPoint q = p;
  q.set_verdict(v1::Verdict::STATE_INVALID);
  JudgeProbe(c, false, std::nullopt, &q);
  EXPECT_EQ(q.reason(), "verdict INVALID (the generator fell behind)");

  q = p;
  q.set_error_rate(0.02);
  JudgeProbe(c, false, std::nullopt, &q);
  EXPECT_EQ(q.reason(), "error rate 2.0% > 1.0%");

  q = p;
  q.set_requests(0);
  JudgeProbe(c, false, std::nullopt, &q);
  EXPECT_EQ(q.reason(), "no successful request");

  q = p;
  q.set_slo_attainment(0.9);
  JudgeProbe(c, true, 10.0, &q);  // with SLOs the latency growth rule is off
  EXPECT_EQ(q.reason(), "SLO attainment 90.0% < 95%");
  q.set_slo_attainment(0.96);
  JudgeProbe(c, true, 10.0, &q);
  EXPECT_TRUE(q.good());

  // Throughput: the sustained rate when measured, else the achieved one (drain included).
  q = p;
  q.set_achieved_rps(5);
  q.set_sustained_rps(9.5);
  q.set_completion_slope(1.05);
  JudgeProbe(c, false, std::nullopt, &q);
  EXPECT_TRUE(q.good()) << q.reason();
  q.set_sustained_rps(8.5);
  q.set_completion_slope(1.18);
  JudgeProbe(c, false, std::nullopt, &q);
  EXPECT_EQ(q.reason(),
            "sustained 8.50 req/s < 90% of offered (completions fell behind: end/send slope "
            "1.18)");
  q.clear_sustained_rps();
  JudgeProbe(c, false, std::nullopt, &q);
  EXPECT_EQ(q.reason(),
            "achieved 5.00 req/s < 90% of offered (fewer than 3 successes: judged over the "
            "whole window, drain included)");

  q = p;
  JudgeProbe(c, false, 49.0, &q);
  EXPECT_EQ(q.reason(), "E2E p50 100.0 ms > 2.0x the first probe's 49.0 ms");
  JudgeProbe(c, false, 50.0, &q);
  EXPECT_TRUE(q.good());
}

TEST(SweepTableTest, SortedByRateWithKnee) {
  v1::RunResult result;
  v1::SweepResult* s = result.add_sweeps();
  s->set_engine("sim");
  v1::SweepPoint* a = s->add_points();
  a->set_offered_rps(20);
  a->set_achieved_rps(15);
  a->set_phase("step");
  a->set_sustained_rps(15.5);
  a->set_reason("sustained 15.50 req/s < 90% of offered");
  v1::SweepPoint* b = s->add_points();
  b->set_offered_rps(10);
  b->set_achieved_rps(10);
  b->set_e2e_p50_ms(100);
  b->set_good(true);
  b->set_phase("step");
  s->set_knee_rps(10);
  s->set_note("n");
  s->set_judged_on("j");
  EXPECT_EQ(SweepTable(result),
            "sweep of sim (req/s; latencies in ms):\n"
            "offered  sustained  achieved  TTFT p50  TTFT p99  E2E p50  E2E p99  SLO %  err %  "
            "phase  result\n"
            "  10.00          -     10.00         -         -   100.00        -      -    0.0  "
            "step   good\n"
            "  20.00      15.50     15.00         -         -        -        -      -    0.0  "
            "step   bad: sustained 15.50 req/s < 90% of offered\n"
            "knee (max sustainable rate): 10.00 req/s — n\n"
            "judged on: j; achieved = successes / whole window, drain included\n");
  EXPECT_EQ(SweepTable(v1::RunResult()), "");
}

// ---------------------------------------------------------------------------------------------
// MeasureSendingWindow: the probe's throughput over its sending window, both ways.

constexpr int64_t kNsPerS = 1'000'000'000;

// A probe at `rps` for `seconds` (constant arrivals) against an engine that completes a request
// `latency_s(i)` after it can start it; with `capacity` > 0 it starts at most `capacity`
// requests per second (one FIFO server of service time 1 / capacity), else at once.
struct FakeProbe {
  std::vector<int64_t> sent, end;
};
FakeProbe Probe(double rps, double seconds, const std::function<double(int)>& latency_s,
                double capacity = 0) {
  FakeProbe p;
  double free_at = 0;
  for (int i = 0; i < static_cast<int>(rps * seconds); ++i) {
    const double sent = i / rps;
    double start = sent;
    if (capacity > 0) {
      start = std::max(sent, free_at);
      free_at = start + 1 / capacity;
    }
    p.sent.push_back(static_cast<int64_t>(sent * kNsPerS) + 5 * kNsPerS);  // any clock origin
    p.end.push_back(static_cast<int64_t>((start + latency_s(i)) * kNsPerS) + 5 * kNsPerS);
  }
  return p;
}

v1::SweepPoint Measured(const FakeProbe& p) {
  v1::SweepPoint point;
  MeasureSendingWindow(p.sent, p.end, &point);
  return point;
}

// The case: 2 req/s for 4 s with 200-token generations (E2E ≈ 2 s, ±2% jitter). The
// whole-window rate is 8 / (3.5 + 2) = 1.45 req/s (a false knee at 90%); the sending window
// gives the offered rate.
TEST(SendingWindowTest, HealthyEngineWithLongGenerationsKeepsUp) {
  for (uint64_t seed = 0; seed < 50; ++seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> jitter(-0.02, 0.02);
    FakeProbe p = Probe(2, 4, [&](int) { return 2.0 * (1 + jitter(rng)); });
    v1::SweepPoint point = Measured(p);
    ASSERT_TRUE(point.has_sustained_rps());
    EXPECT_DOUBLE_EQ(point.sending_window_s(), 3.5);
    EXPECT_DOUBLE_EQ(point.send_rps(), 2);
    EXPECT_NEAR(point.completion_slope(), 1, 0.03) << seed;
    EXPECT_NEAR(point.sustained_rps(), 2, 0.06) << seed;
    point.set_offered_rps(2);
    point.set_requests(8);
    point.set_achieved_rps(8 / (3.5 + 2));
    JudgeProbe(SweepCriteria(), false, std::nullopt, &point);
    EXPECT_TRUE(point.good()) << point.reason();
  }
  // Whatever the latency: 20 ms or 20 s, as long as it does not grow.
  for (double latency : {0.02, 20.0}) {
    v1::SweepPoint point = Measured(Probe(50, 2, [&](int) { return latency; }));
    EXPECT_NEAR(point.sustained_rps(), 50, 1e-6) << latency;
  }
}

// An engine that serves 8 req/s, offered 12 and 3 req/s over 4 s, with a 0.5 s or 1.5 s
// latency on top of its queue: the sustained rate is its capacity.
TEST(SendingWindowTest, OverloadedEngineShowsItsCapacity) {
  v1::SweepPoint point = Measured(Probe(12, 4, [](int) { return 0.5; }, 8));
  EXPECT_NEAR(point.completion_slope(), 1.5, 0.01);
  EXPECT_NEAR(point.sustained_rps(), 8, 0.1);
  point.set_offered_rps(12);
  point.set_requests(48);
  point.set_achieved_rps(48 / (47.0 / 12 + 0.5 + 2));
  JudgeProbe(SweepCriteria(), false, std::nullopt, &point);
  EXPECT_FALSE(point.good());
  EXPECT_EQ(point.reason(),
            "sustained 8.00 req/s < 90% of offered (completions fell behind: end/send slope "
            "1.50)");
  point = Measured(Probe(3, 4, [](int) { return 1.5; }, 2));
  EXPECT_NEAR(point.sustained_rps(), 2, 0.05);
  // Just under capacity it keeps up.
  point = Measured(Probe(9, 4, [](int) { return 0.5; }, 10));
  EXPECT_NEAR(point.sustained_rps(), 9, 0.01);
}

// The median of pairwise slopes ignores a few outliers: one request of 40 requests that took
// 10 s instead of 1 s leaves the rate where it was.
TEST(SendingWindowTest, RobustToAnOutlier) {
  v1::SweepPoint point = Measured(Probe(10, 4, [](int i) { return i == 38 ? 10.0 : 1.0; }));
  EXPECT_NEAR(point.sustained_rps(), 10, 0.01);
}

TEST(SendingWindowTest, TooFewRequestsOrNoWindowLeaveItAbsent) {
  v1::SweepPoint point;
  const std::vector<int64_t> two = {0, kNsPerS}, two_end = {kNsPerS, 2 * kNsPerS};
  MeasureSendingWindow(two, two_end, &point);
  EXPECT_FALSE(point.has_sustained_rps());
  EXPECT_FALSE(point.has_sending_window_s());
  const std::vector<int64_t> same = {7, 7, 7}, ends = {8, 9, 10};
  MeasureSendingWindow(same, ends, &point);
  EXPECT_FALSE(point.has_sustained_rps());
  // Unsorted input is sorted by send time first.
  const std::vector<int64_t> sent = {2 * kNsPerS, 0, kNsPerS}, end = {3 * kNsPerS, kNsPerS,
                                                                     2 * kNsPerS};
  MeasureSendingWindow(sent, end, &point);
  EXPECT_DOUBLE_EQ(point.sustained_rps(), 1);
  EXPECT_DOUBLE_EQ(point.completion_slope(), 1);
}

// Above kMaxSlopeRequests requests the slope is taken over an even subsample.
TEST(SendingWindowTest, LargeProbesAreSubsampled) {
  v1::SweepPoint point = Measured(Probe(1000, 10, [](int) { return 0.2; }, 500));
  EXPECT_NEAR(point.sustained_rps(), 500, 1);
  EXPECT_DOUBLE_EQ(point.send_rps(), 1000);
}

}  // namespace
}  // namespace llmbench::coordinator
