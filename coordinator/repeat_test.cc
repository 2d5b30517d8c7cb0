#include "coordinator/repeat.h"

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace llmbench::coordinator {
namespace {

TEST(RepeatTest, StudentTQuantiles) {
  EXPECT_DOUBLE_EQ(StudentT975(1), 12.706);
  EXPECT_DOUBLE_EQ(StudentT975(2), 4.303);
  EXPECT_DOUBLE_EQ(StudentT975(30), 2.042);
  // Reference values: t(0.975, 40) = 2.0211, t(0.975, 120) = 1.9799.
  EXPECT_NEAR(StudentT975(40), 2.0211, 1e-3);
  EXPECT_NEAR(StudentT975(120), 1.9799, 1e-3);
}

TEST(RepeatTest, IntervalByHand) {
  // values 10, 12, 14: mean 12, stdev 2, half width 4.303 · 2 / √3 = 4.96877.
  const std::vector<double> v = {10, 12, 14};
  MeanInterval ci = StudentTInterval(v);
  EXPECT_DOUBLE_EQ(ci.mean, 12);
  EXPECT_DOUBLE_EQ(ci.stdev, 2);
  EXPECT_NEAR(ci.low, 12 - 4.303 * 2 / std::sqrt(3.0), 1e-12);
  EXPECT_NEAR(ci.high, 12 + 4.303 * 2 / std::sqrt(3.0), 1e-12);
  const std::vector<double> one = {5};
  MeanInterval single = StudentTInterval(one);
  EXPECT_DOUBLE_EQ(single.low, 5);
  EXPECT_DOUBLE_EQ(single.high, 5);
  EXPECT_DOUBLE_EQ(single.stdev, 0);
}

// The t interval covers the true mean in about 95% of experiments: 1000 experiments of K = 3
// normal values; binomial sd = √(1000·0.05·0.95) = 6.9, so 950 ± 25 (3.6 sd).
TEST(RepeatTest, IntervalCoverage) {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> dist(50, 4);
  int covered = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::vector<double> v = {dist(rng), dist(rng), dist(rng)};
    MeanInterval ci = StudentTInterval(v);
    covered += ci.low <= 50 && 50 <= ci.high;
  }
  EXPECT_GE(covered, 925);
  EXPECT_LE(covered, 975);
}

TEST(RepeatTest, BootstrapSeOfTheMedian) {
  // The median of n normal values has SE ≈ 1.2533 · sd / √n = 1.2533 · 10 / 20 = 0.627.
  std::mt19937_64 rng(3);
  std::normal_distribution<double> dist(100, 10);
  std::vector<double> v(400);
  for (double& x : v) x = dist(rng);
  const double se = BootstrapQuantileSe(v, 0.5, 400, 9);
  EXPECT_GT(se, 0.627 * 0.6);
  EXPECT_LT(se, 0.627 * 1.6);
  EXPECT_EQ(se, BootstrapQuantileSe(v, 0.5, 400, 9));  // seeded
  EXPECT_EQ(BootstrapQuantileSe(std::vector<double>{1}, 0.5, 100, 1), 0);
}

v1::RunResult MakeRun(double ttft_p50, double rps) {
  v1::RunResult r;
  r.mutable_scenario()->set_name("s");
  v1::EngineResult* e = r.add_engines();
  e->set_engine("sim");
  v1::Aggregates* a = e->mutable_aggregates();
  a->mutable_ttft_ms()->set_p50(ttft_p50);
  a->mutable_ttft_ms()->set_p99(ttft_p50 * 2);
  a->mutable_e2e_ms()->set_p50(ttft_p50 + 100);
  a->set_measured_window_s(10);
  a->set_request_throughput(rps);
  a->set_output_token_throughput(rps * 10);
  return r;
}

std::map<std::string, RequestSamples> Samples(uint64_t seed, double center) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> dist(center, 2);
  RequestSamples s;
  for (int i = 0; i < 200; ++i) s.ttft_ms.push_back(dist(rng));
  s.e2e_ms = s.ttft_ms;
  for (double& v : s.e2e_ms) v += 100;
  return {{"sim", s}};
}

const v1::RepeatMetric& Metric(const v1::RepeatSummary& s, const std::string& name) {
  for (const v1::RepeatMetric& m : s.engines(0).metrics()) {
    if (m.name() == name) return m;
  }
  ADD_FAILURE() << "no metric " << name;
  return v1::RepeatMetric::default_instance();
}

TEST(RepeatTest, SummaryAgreesWithinNoise) {
  // Three runs whose medians differ by about their standard error (~0.18 ms).
  std::vector<v1::RunResult> runs = {MakeRun(20.0, 10), MakeRun(20.1, 11), MakeRun(19.9, 12)};
  std::vector<std::optional<std::map<std::string, RequestSamples>>> samples = {
      Samples(1, 20), Samples(2, 20), Samples(3, 20)};
  v1::RepeatSummary s = SummarizeRepeats(runs, samples, 1);
  EXPECT_EQ(s.repeats(), 3u);
  EXPECT_EQ(s.scenario_name(), "s");
  ASSERT_EQ(s.engines_size(), 1);
  const v1::RepeatMetric& ttft = Metric(s, "ttft_p50_ms");
  EXPECT_EQ(ttft.values_size(), 3);
  EXPECT_NEAR(ttft.mean(), 20.0, 1e-12);
  EXPECT_NEAR(ttft.stdev(), 0.1, 1e-12);
  EXPECT_NEAR(ttft.ci95_high() - ttft.mean(), 4.303 * 0.1 / std::sqrt(3.0), 1e-12);
  ASSERT_TRUE(ttft.has_within_run_se());
  EXPECT_GT(ttft.within_run_se(), 0.05);
  EXPECT_LT(ttft.noise_ratio(), kNoiseRatioThreshold);
  EXPECT_FALSE(ttft.disagree());
  const v1::RepeatMetric& rps = Metric(s, "request_throughput");
  EXPECT_DOUBLE_EQ(rps.mean(), 11);
  EXPECT_DOUBLE_EQ(rps.stdev(), 1);
  EXPECT_FALSE(rps.has_noise_ratio());  // one value per run: no within-run noise
  EXPECT_TRUE(s.warnings().empty());
}

TEST(RepeatTest, WarnsWhenRunsDisagree) {
  // Medians 20, 25, 30 ms while each run's own median has an SE of ~0.18 ms.
  std::vector<v1::RunResult> runs = {MakeRun(20, 10), MakeRun(25, 10), MakeRun(30, 10)};
  std::vector<std::optional<std::map<std::string, RequestSamples>>> samples = {
      Samples(1, 20), Samples(2, 25), Samples(3, 30)};
  v1::RepeatSummary s = SummarizeRepeats(runs, samples, 1);
  const v1::RepeatMetric& ttft = Metric(s, "ttft_p50_ms");
  EXPECT_TRUE(ttft.disagree());
  EXPECT_GT(ttft.noise_ratio(), 10);
  ASSERT_FALSE(s.warnings().empty());
  EXPECT_EQ(s.warnings(0).rfind("sim ttft_p50_ms: the runs disagree more than their own noise", 0),
            0u)
      << s.warnings(0);
  const std::string table = RepeatTable(s);
  EXPECT_NE(table.find("warning: sim ttft_p50_ms"), std::string::npos) << table;
  absl::StatusOr<std::string> json = RepeatJson(s);
  ASSERT_TRUE(json.ok());
  EXPECT_NE(json->find("\"noise_ratio_threshold\": 3"), std::string::npos) << *json;
}

TEST(RepeatTest, NoSamplesNoNoiseCheck) {
  std::vector<v1::RunResult> runs = {MakeRun(20, 10), MakeRun(30, 10)};
  v1::RepeatSummary s = SummarizeRepeats(runs, {std::nullopt, std::nullopt}, 1);
  EXPECT_FALSE(Metric(s, "ttft_p50_ms").has_within_run_se());
  EXPECT_FALSE(Metric(s, "ttft_p50_ms").disagree());
  EXPECT_TRUE(s.warnings().empty());
}

}  // namespace
}  // namespace llmbench::coordinator
