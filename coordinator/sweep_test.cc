#include "coordinator/sweep.h"

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

// A fake engine with capacity `capacity` req/s: at or below it, achieved = offered and E2E
// 100 ms; above it, achieved = capacity and E2E 1000 ms (requests queue).
SweepProbe FakeEngine(double capacity, std::vector<double>* probed) {
  return [=](double rps, std::string_view, int) -> absl::StatusOr<v1::SweepPoint> {
    probed->push_back(rps);
    v1::SweepPoint p;
    p.set_requests(100);
    p.set_achieved_rps(std::min(rps, capacity));
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
  EXPECT_EQ(r->points(3).reason(), "achieved 33.00 req/s < 90% of offered");
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
  a->set_reason("achieved 15.00 req/s < 90% of offered");
  v1::SweepPoint* b = s->add_points();
  b->set_offered_rps(10);
  b->set_achieved_rps(10);
  b->set_e2e_p50_ms(100);
  b->set_good(true);
  b->set_phase("step");
  s->set_knee_rps(10);
  s->set_note("n");
  EXPECT_EQ(SweepTable(result),
            "sweep of sim (req/s; latencies in ms):\n"
            "offered  achieved  TTFT p50  TTFT p99  E2E p50  E2E p99  SLO %  err %  phase  result\n"
            "  10.00     10.00         -         -   100.00        -      -    0.0  step   good\n"
            "  20.00     15.00         -         -        -        -      -    0.0  step   bad: "
            "achieved 15.00 req/s < 90% of offered\n"
            "knee (max sustainable rate): 10.00 req/s — n\n");
  EXPECT_EQ(SweepTable(v1::RunResult()), "");
}

}  // namespace
}  // namespace llmbench::coordinator
