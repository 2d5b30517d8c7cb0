#include "coordinator/diff.h"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/stats.h"
#include "gtest/gtest.h"

namespace llmbench::coordinator {
namespace {

std::vector<double> Normal(uint64_t seed, size_t n, double mean, double sd) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> dist(mean, sd);
  std::vector<double> v(n);
  for (double& x : v) x = dist(rng);
  return v;
}

// Latency-like: a floor plus an exponential tail.
std::vector<double> Skewed(uint64_t seed, size_t n, double floor_ms, double tail_ms) {
  std::mt19937_64 rng(seed);
  std::exponential_distribution<double> dist(1.0 / tail_ms);
  std::vector<double> v(n);
  for (double& x : v) x = floor_ms + dist(rng);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Mann–Whitney U

TEST(MannWhitneyTest, SeparatedSamplesByHand) {
  // a entirely below b: U_a = 0. Mean 4.5, variance 3*3*7/12 = 5.25, no ties.
  // z = (4.5 − 0.5) / sqrt(5.25) = 1.745743; p = erfc(z / √2) = 0.080856.
  const std::vector<double> a = {1, 2, 3}, b = {4, 5, 6};
  MannWhitneyResult r = MannWhitneyU(a, b);
  EXPECT_DOUBLE_EQ(r.u, 0);
  EXPECT_NEAR(r.z, 4.0 / std::sqrt(5.25), 1e-12);
  EXPECT_NEAR(r.p_value, std::erfc(4.0 / std::sqrt(5.25) / std::sqrt(2.0)), 1e-12);
  EXPECT_NEAR(r.p_value, 0.080856, 1e-6);
  // Symmetric: swapping the samples gives U_b = n1·n2 − U_a and the same p.
  MannWhitneyResult s = MannWhitneyU(b, a);
  EXPECT_DOUBLE_EQ(s.u, 9);
  EXPECT_DOUBLE_EQ(s.p_value, r.p_value);
}

TEST(MannWhitneyTest, TieCorrectionByHand) {
  // a = {1, 2, 2}, b = {2, 3, 4}: ranks 1, (2,3,4 → 3 each), 5, 6. R_a = 1 + 3 + 3 = 7,
  // U_a = 7 − 6 = 1. One tie group of 3: Σ(t³ − t) = 24. n = 6:
  // var = 9/12 · (7 − 24 / 30) = 0.75 · 6.2 = 4.65; z = (|1 − 4.5| − 0.5) / √4.65.
  const std::vector<double> a = {1, 2, 2}, b = {2, 3, 4};
  MannWhitneyResult r = MannWhitneyU(a, b);
  EXPECT_DOUBLE_EQ(r.u, 1);
  EXPECT_NEAR(r.z, 3.0 / std::sqrt(4.65), 1e-12);
}

TEST(MannWhitneyTest, AllEqualIsNoEvidence) {
  const std::vector<double> a(10, 5.0), b(12, 5.0);
  MannWhitneyResult r = MannWhitneyU(a, b);
  EXPECT_DOUBLE_EQ(r.p_value, 1.0);
}

TEST(MannWhitneyTest, DetectsKnownShifts) {
  // A 0.5 sd shift with 200 values per side has z ≈ 5: significant at 0.05 for every seed.
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    std::vector<double> base = Normal(seed, 200, 100, 10);
    std::vector<double> cand = Normal(seed + 1000, 200, 105, 10);
    EXPECT_LT(MannWhitneyU(base, cand).p_value, 0.05) << "seed " << seed;
  }
  // A 10% TTFT shift on a skewed latency sample.
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    std::vector<double> base = Skewed(seed, 300, 20, 2);
    std::vector<double> cand = Skewed(seed + 1000, 300, 22, 2);
    EXPECT_LT(MannWhitneyU(base, cand).p_value, 0.05) << "seed " << seed;
  }
}

// Identical distributions: the false-alarm rate must not exceed alpha beyond binomial noise.
// 400 independent trials at alpha = 0.05: expected ≤ 20 alarms, sd = √(400·0.05·0.95) = 4.36;
// the bound 20 + 3 sd = 33 fails a correct test with probability < 0.2%. The seeds are fixed,
// so the outcome is deterministic.
TEST(MannWhitneyTest, FalseAlarmRateAtMostAlpha) {
  int alarms = 0;
  for (uint64_t seed = 0; seed < 400; ++seed) {
    std::vector<double> base = Skewed(2 * seed + 1, 150, 20, 3);
    std::vector<double> cand = Skewed(2 * seed + 2, 150, 20, 3);
    if (MannWhitneyU(base, cand).p_value < 0.05) ++alarms;
  }
  EXPECT_LE(alarms, 33);
  EXPECT_GE(alarms, 7);  // 20 − 3 sd: a test that never fires would be broken too
}

// ---------------------------------------------------------------------------------------------
// Bootstrap

TEST(BootstrapTest, DeterministicForASeed) {
  std::vector<double> a = Skewed(1, 500, 20, 3), b = Skewed(2, 500, 21, 3);
  const double qs[] = {0.5, 0.99};
  std::vector<Interval> x = BootstrapQuantileDiff(a, b, qs, 300, 0.95, 42);
  std::vector<Interval> y = BootstrapQuantileDiff(a, b, qs, 300, 0.95, 42);
  ASSERT_EQ(x.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(x[i].low, y[i].low);
    EXPECT_EQ(x[i].high, y[i].high);
    EXPECT_LT(x[i].low, x[i].high);
  }
  std::vector<Interval> z = BootstrapQuantileDiff(a, b, qs, 300, 0.95, 43);
  EXPECT_NE(x[0].low, z[0].low);
}

TEST(BootstrapTest, IntervalCoversAKnownShift) {
  // Medians differ by exactly 10 (same shape shifted); the 95% interval contains 10, not 0.
  std::vector<double> a = Normal(7, 400, 100, 5);
  std::vector<double> b = a;
  for (double& v : b) v += 10;
  const double qs[] = {0.5};
  Interval ci = BootstrapQuantileDiff(a, b, qs, 500, 0.95, 1)[0];
  EXPECT_LT(ci.low, 10);
  EXPECT_GT(ci.high, 10);
  EXPECT_GT(ci.low, 0);
}

TEST(BootstrapTest, ConstantSamplesGiveAPointInterval) {
  const std::vector<double> a(50, 3.0), b(60, 4.5);
  const double qs[] = {0.5, 0.99};
  for (const Interval& ci : BootstrapQuantileDiff(a, b, qs, 100, 0.9, 5)) {
    EXPECT_DOUBLE_EQ(ci.low, 1.5);
    EXPECT_DOUBLE_EQ(ci.high, 1.5);
  }
}

// ---------------------------------------------------------------------------------------------
// Thresholds

TEST(ThresholdsTest, ParsesPercentages) {
  EXPECT_DOUBLE_EQ(*ParsePercent("10%", "x"), 0.10);
  EXPECT_DOUBLE_EQ(*ParsePercent(" 2.5 ", "x"), 0.025);
  EXPECT_EQ(ParsePercent("-1%", "x").status().message(),
            "x: expected a non-negative percentage such as 10% or 2.5, got \"-1%\"");
  EXPECT_EQ(ParsePercent("%", "x").status().message(),
            "x: expected a non-negative percentage such as 10% or 2.5, got \"%\"");
  DiffThresholds t;
  ASSERT_TRUE(AddMaxRegression("ttft_p99=10%", &t).ok());
  EXPECT_DOUBLE_EQ(t.max_regression.at("ttft_p99"), 0.10);
  EXPECT_EQ(AddMaxRegression("ttft_p98=10%", &t).message(),
            "--max-regression ttft_p98=10%: unknown metric \"ttft_p98\" (expected one of "
            "ttft_p50, ttft_p99, tpot_p50, tpot_p99, itl_p50, itl_p99, e2e_p50, e2e_p99, "
            "request_throughput, output_token_throughput)");
  EXPECT_EQ(AddMaxRegression("ttft_p99", &t).message(),
            "--max-regression ttft_p99: expected METRIC=PERCENT, e.g. ttft_p99=10%");
}

TEST(ThresholdsTest, LoadsYaml) {
  DiffThresholds t;
  ASSERT_TRUE(LoadThresholdsYaml("alpha: 0.01\ndefault_max_regression: 20%\n"
                                 "max_regression:\n  e2e_p50: 5%\n  request_throughput: 3\n",
                                 "t.yaml", &t)
                  .ok());
  EXPECT_DOUBLE_EQ(t.alpha, 0.01);
  EXPECT_DOUBLE_EQ(t.default_max_regression, 0.20);
  EXPECT_DOUBLE_EQ(t.max_regression.at("e2e_p50"), 0.05);
  EXPECT_DOUBLE_EQ(t.max_regression.at("request_throughput"), 0.03);
  EXPECT_EQ(LoadThresholdsYaml("alpha: 2\n", "t.yaml", &t).message(),
            "t.yaml: alpha: expected a number in (0, 1), got \"2\"");
  EXPECT_EQ(LoadThresholdsYaml("max_regresion: {}\n", "t.yaml", &t).message(),
            "t.yaml: unknown key \"max_regresion\" (expected alpha, default_max_regression or "
            "max_regression)");
  EXPECT_EQ(LoadThresholdsYaml("max_regression: {foo: 1%}\n", "t.yaml", &t).message(),
            "t.yaml: max_regression.foo: unknown metric \"foo\" (expected one of ttft_p50, "
            "ttft_p99, tpot_p50, tpot_p99, itl_p50, itl_p99, e2e_p50, e2e_p99, "
            "request_throughput, output_token_throughput)");
  EXPECT_EQ(LoadThresholdsYaml("[1, 2\n", "t.yaml", &t).code(),
            absl::StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// DiffResults

v1::Distribution Dist(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  v1::Distribution d;
  d.set_count(v.size());
  d.set_p50(SortedQuantile(v, 0.5));
  d.set_p99(SortedQuantile(v, 0.99));
  return d;
}

// A one-engine result whose TTFT and E2E come from `samples`, with `rps` req/s.
v1::RunResult Result(const std::string& engine, const RequestSamples& samples, double rps) {
  v1::RunResult r;
  v1::EngineResult* e = r.add_engines();
  e->set_engine(engine);
  v1::Aggregates* a = e->mutable_aggregates();
  *a->mutable_ttft_ms() = Dist(samples.ttft_ms);
  *a->mutable_e2e_ms() = Dist(samples.e2e_ms);
  a->set_requests(samples.e2e_ms.size());
  a->set_successes(samples.e2e_ms.size());
  a->set_measured_window_s(10);
  a->set_request_throughput(rps);
  a->set_output_token_throughput(rps * 100);
  return r;
}

RequestSamples Samples(uint64_t seed, double ttft_floor, size_t n = 200) {
  RequestSamples s;
  s.ttft_ms = Skewed(seed, n, ttft_floor, 2);
  s.e2e_ms = s.ttft_ms;
  for (double& v : s.e2e_ms) v += 100;
  return s;
}

const MetricDiff& Row(const DiffReport& report, const std::string& metric) {
  for (const MetricDiff& r : report.rows) {
    if (r.metric == metric) return r;
  }
  static const MetricDiff none;
  ADD_FAILURE() << "no row " << metric;
  return none;
}

DiffOptions Options(double default_max) {
  DiffOptions o;
  o.thresholds.default_max_regression = default_max;
  o.bootstrap_resamples = 300;
  return o;
}

TEST(DiffResultsTest, KnownTtftShiftRegresses) {
  std::map<std::string, RequestSamples> base = {{"sim", Samples(1, 20)}};
  std::map<std::string, RequestSamples> cand = {{"sim", Samples(2, 40)}};
  DiffReport report = DiffResults(Result("sim", base["sim"], 10), &base,
                                  Result("sim", cand["sim"], 10), &cand, Options(0.10));
  const MetricDiff& ttft = Row(report, "ttft_p50");
  EXPECT_TRUE(ttft.tested);
  EXPECT_TRUE(ttft.significant);
  EXPECT_NEAR(*ttft.change, 20.0 / 21.4, 0.1);  // floor 20 → 40, median ≈ floor + 1.4
  EXPECT_EQ(ttft.verdict, DiffVerdict::kRegressed);
  EXPECT_GT(ttft.ci->low, 15);  // the median moved by ≈ 20 ms
  EXPECT_LT(ttft.ci->high, 25);
  // E2E = TTFT + 100 ms: +20 ms is ≈ +19%, over the 10% threshold.
  EXPECT_EQ(Row(report, "e2e_p50").verdict, DiffVerdict::kRegressed);
  EXPECT_EQ(Row(report, "request_throughput").verdict, DiffVerdict::kPass);
  EXPECT_EQ(Row(report, "tpot_p50").verdict, DiffVerdict::kNotAvailable);
  EXPECT_TRUE(report.regressed);
  EXPECT_EQ(DiffExitStatus(report), kExitRegression);
  const std::string table = DiffConsoleTable(report);
  EXPECT_NE(table.find("diff: REGRESSED ("), std::string::npos) << table;
  const std::string html = DiffHtml(report);
  EXPECT_NE(html.find("[\"sim\",\"ttft_p50\",\"ms\",\""), std::string::npos);
  EXPECT_NE(html.find("\"outcome\":\"REGRESSED\""), std::string::npos);

  // A larger threshold for E2E lets it pass while TTFT still regresses.
  DiffOptions o = Options(0.10);
  o.thresholds.max_regression["e2e_p50"] = 0.25;
  o.thresholds.max_regression["e2e_p99"] = 0.25;
  report = DiffResults(Result("sim", base["sim"], 10), &base, Result("sim", cand["sim"], 10),
                       &cand, o);
  EXPECT_EQ(Row(report, "e2e_p50").verdict, DiffVerdict::kPass);
  EXPECT_EQ(Row(report, "ttft_p50").verdict, DiffVerdict::kRegressed);

  // The other way round it is an improvement, and the exit status is 0.
  report = DiffResults(Result("sim", cand["sim"], 10), &cand, Result("sim", base["sim"], 10),
                       &base, Options(0.10));
  EXPECT_EQ(Row(report, "ttft_p50").verdict, DiffVerdict::kImproved);
  EXPECT_EQ(DiffExitStatus(report), 0);
}

TEST(DiffResultsTest, ThroughputDropIsJudgedOnItsChange) {
  std::map<std::string, RequestSamples> base = {{"sim", Samples(1, 20)}};
  std::map<std::string, RequestSamples> cand = {{"sim", Samples(2, 20)}};
  DiffReport report = DiffResults(Result("sim", base["sim"], 10), &base,
                                  Result("sim", cand["sim"], 8), &cand, Options(0.10));
  const MetricDiff& rps = Row(report, "request_throughput");
  EXPECT_FALSE(rps.tested);
  EXPECT_DOUBLE_EQ(*rps.change, -0.2);
  EXPECT_EQ(rps.verdict, DiffVerdict::kRegressed);
  EXPECT_EQ(DiffExitStatus(report), kExitRegression);
}

TEST(DiffResultsTest, EnginesMatchedByNameAndNotes) {
  RequestSamples s = Samples(1, 20);
  v1::RunResult base = Result("a", s, 10);
  *base.add_engines() = Result("b", s, 10).engines(0);
  v1::RunResult cand = Result("a", s, 10);
  *cand.add_engines() = Result("c", s, 10).engines(0);
  DiffReport report = DiffResults(base, nullptr, cand, nullptr, Options(0.10));
  ASSERT_EQ(report.rows.size(), DiffMetricNames().size());
  EXPECT_EQ(report.rows[0].engine, "a");
  EXPECT_FALSE(report.rows[0].tested);
  EXPECT_EQ(report.rows[0].verdict, DiffVerdict::kPass);  // identical, untested
  EXPECT_EQ(report.notes,
            std::vector<std::string>(
                {"engine b is only in the base", "engine c is only in the candidate",
                 "engine a: no per-request values on one side (requests.csv missing or without "
                 "this engine); percentiles judged on their change alone, untested"}));
}

// No false alarm at the stated confidence: 200 pairs of runs from the same distribution with
// a 0% threshold (any significant worsening would count). A metric REGRESSES only when the
// two-sided U test rejects (probability alpha = 0.05) in the worse direction (half of that),
// so the expected count per metric is ≤ 200 · 0.025 = 5; sd = √(200·0.025·0.975) = 2.2; the
// bound 5 + 3 sd ≈ 12. The seeds are fixed, so this is deterministic.
TEST(DiffResultsTest, NoFalseAlarmAtTheStatedConfidence) {
  int ttft_alarms = 0, any_alarms = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    std::map<std::string, RequestSamples> base = {{"sim", Samples(2 * seed + 1, 20, 150)}};
    std::map<std::string, RequestSamples> cand = {{"sim", Samples(2 * seed + 2, 20, 150)}};
    DiffOptions o = Options(0.0);
    o.bootstrap_resamples = 200;
    o.seed = seed;
    DiffReport report =
        DiffResults(Result("sim", base["sim"], 10), &base, Result("sim", cand["sim"], 10), &cand, o);
    ttft_alarms += Row(report, "ttft_p50").verdict == DiffVerdict::kRegressed;
    // Throughputs are identical here, so any alarm comes from a tested percentile.
    any_alarms += report.regressed;
  }
  EXPECT_LE(ttft_alarms, 12);
  // Four tested percentiles (TTFT and E2E p50/p99, E2E = TTFT + constant so p50s and p99s are
  // perfectly correlated): at most 2 · 0.025 · 200 = 10 expected; bound 10 + 3·3.1 ≈ 20.
  EXPECT_LE(any_alarms, 20);
}

// ---------------------------------------------------------------------------------------------
// Nothing compared is not a pass (exit 7), and what was missing is named.

v1::RunResult Engines(const std::vector<std::string>& names) {
  v1::RunResult r;
  for (const std::string& name : names) r.add_engines()->set_engine(name);
  return r;
}

TEST(DiffNothingComparedTest, NoEngineInCommon) {
  RequestSamples s = Samples(1, 20);
  v1::RunResult base = Result("a", s, 10);
  *base.add_engines() = Result("b", s, 10).engines(0);
  v1::RunResult cand = Result("c", s, 10);
  *cand.add_engines() = Result("d", s, 10).engines(0);
  DiffReport report = DiffResults(base, nullptr, cand, nullptr, Options(0.10));
  EXPECT_TRUE(report.rows.empty());
  EXPECT_EQ(report.nothing_compared, "no engine in common: base has a, b; candidate has c, d");
  EXPECT_EQ(DiffOutcome(report), "NOTHING COMPARED");
  EXPECT_EQ(DiffExitStatus(report), kExitNothingCompared);
  EXPECT_EQ(kExitNothingCompared, 7);
  const std::string table = DiffConsoleTable(report);
  EXPECT_TRUE(table.ends_with(
      "note: engine a is only in the base\n"
      "note: engine b is only in the base\n"
      "note: engine c is only in the candidate\n"
      "note: engine d is only in the candidate\n"
      "diff: NOTHING COMPARED (no engine in common: base has a, b; candidate has c, d)\n"))
      << table;

  // A side without any engine.
  report = DiffResults(v1::RunResult(), nullptr, cand, nullptr, Options(0.10));
  EXPECT_EQ(report.nothing_compared, "no engine in common: base has no engine; candidate has c, d");
  EXPECT_EQ(DiffExitStatus(report), kExitNothingCompared);
}

// A capacity sweep without a knee stores an engine with empty aggregates: every metric N/A.
TEST(DiffNothingComparedTest, NoMetricWithDataOnBothSides) {
  v1::RunResult empty = Engines({"sim"});
  empty.mutable_engines(0)->mutable_aggregates()->set_requests(12);
  DiffReport report =
      DiffResults(empty, nullptr, Engines({"sim"}), nullptr, Options(0.10));
  ASSERT_EQ(report.rows.size(), DiffMetricNames().size());
  for (const MetricDiff& row : report.rows) EXPECT_EQ(row.verdict, DiffVerdict::kNotAvailable);
  EXPECT_EQ(report.nothing_compared,
            "no metric has data on both sides for engine sim (base: no successful request (12 "
            "measured); candidate: no successful request (0 measured))");
  EXPECT_EQ(DiffExitStatus(report), kExitNothingCompared);

  // Data on one side only is still nothing compared.
  RequestSamples s = Samples(1, 20);
  v1::RunResult full = Result("sim", s, 10);
  report = DiffResults(full, nullptr, Engines({"sim"}), nullptr, Options(0.10));
  EXPECT_EQ(report.nothing_compared,
            "no metric has data on both sides for engine sim (base: 200 successful requests; "
            "candidate: no successful request (0 measured))");
  EXPECT_TRUE(DiffConsoleTable(report).ends_with(
      "diff: NOTHING COMPARED (no metric has data on both sides for engine sim (base: 200 "
      "successful requests; candidate: no successful request (0 measured)))\n"));
}

// Runs where every request failed: a throughput of 0 is data (a candidate that fails
// everything REGRESSED), but no latency was compared, so it never passes.
TEST(DiffNothingComparedTest, EveryRequestFailedOnASide) {
  RequestSamples s = Samples(1, 20);
  v1::RunResult fine = Result("sim", s, 10);
  v1::RunResult failed = Engines({"sim"});
  v1::Aggregates* a = failed.mutable_engines(0)->mutable_aggregates();
  a->set_requests(20);
  a->set_failures(20);
  a->set_measured_window_s(2);
  DiffReport report = DiffResults(fine, nullptr, failed, nullptr, Options(0.10));
  EXPECT_EQ(Row(report, "request_throughput").verdict, DiffVerdict::kRegressed);
  EXPECT_EQ(DiffExitStatus(report), kExitRegression);
  EXPECT_EQ(report.nothing_compared,
            "only throughputs compared for engine sim: a side has no successful request (base: "
            "200 successful requests; candidate: no successful request (20 measured))");
  EXPECT_NE(DiffConsoleTable(report).find("note: not compared: only throughputs compared"),
            std::string::npos);

  report = DiffResults(failed, nullptr, fine, nullptr, Options(0.10));
  EXPECT_EQ(Row(report, "request_throughput").verdict, DiffVerdict::kPass);  // from 0: no change
  EXPECT_EQ(DiffExitStatus(report), kExitNothingCompared);

  report = DiffResults(failed, nullptr, failed, nullptr, Options(0.10));
  EXPECT_EQ(report.nothing_compared,
            "only throughputs compared for engine sim: a side has no successful request (base: no "
            "successful request (20 measured); candidate: no successful request (20 measured))");
  EXPECT_TRUE(DiffConsoleTable(report).ends_with(
      "diff: NOTHING COMPARED (only throughputs compared for engine sim: a side has no "
      "successful request (base: no successful request (20 measured); candidate: no successful "
      "request (20 measured)))\n"));
  EXPECT_EQ(DiffExitStatus(report), kExitNothingCompared);
}

// Two engines in common, one without data: not a pass either; a regression elsewhere wins.
TEST(DiffNothingComparedTest, OneEngineOfTwoNotCompared) {
  std::map<std::string, RequestSamples> base = {{"a", Samples(1, 20)}};
  std::map<std::string, RequestSamples> same = {{"a", Samples(2, 20)}};
  std::map<std::string, RequestSamples> slow = {{"a", Samples(2, 40)}};
  v1::RunResult b = Result("a", base["a"], 10);
  b.add_engines()->set_engine("b");
  v1::RunResult c = Result("a", same["a"], 10);
  c.add_engines()->set_engine("b");
  DiffReport report = DiffResults(b, &base, c, &same, Options(0.10));
  EXPECT_FALSE(report.regressed);
  EXPECT_EQ(report.nothing_compared,
            "no metric has data on both sides for engine b (base: no successful request (0 "
            "measured); candidate: no successful request (0 measured))");
  EXPECT_EQ(DiffExitStatus(report), kExitNothingCompared);

  v1::RunResult r = Result("a", slow["a"], 10);
  r.add_engines()->set_engine("b");
  report = DiffResults(b, &base, r, &slow, Options(0.10));
  EXPECT_TRUE(report.regressed);
  EXPECT_EQ(DiffExitStatus(report), kExitRegression);
  const std::string table = DiffConsoleTable(report);
  EXPECT_NE(table.find("note: not compared: no metric has data on both sides for engine b"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("diff: REGRESSED ("), std::string::npos) << table;
}

// The console table: both runs with id, date and scenario, a unit for every metric.
TEST(DiffConsoleTest, RunsAndUnits) {
  RequestSamples s = Samples(1, 20);
  v1::RunResult base = Result("sim", s, 10);
  base.set_run_id("20261127-120000-ab12");
  base.set_started_unix_ns(1'795'780'800'000'000'000);  // 2026-11-27 12:00:00 UTC
  base.mutable_scenario()->set_name("nightly");
  v1::RunResult cand = Result("sim", s, 8);
  cand.set_run_id("20261128-120000-cd34");
  DiffReport report = DiffResults(base, nullptr, cand, nullptr, Options(0.10));
  report.base.dir = "results/base";
  report.candidate.dir = "results/cand";
  EXPECT_EQ(
      DiffConsoleTable(report),
      "base:      results/base (run 20261127-120000-ab12, 2026-11-27 12:00:00 UTC, scenario "
      "nightly)\n"
      "candidate: results/cand (run 20261128-120000-cd34, unknown date)\n"
      "engine  metric                   unit       base  candidate  change  p (U test)  CI of diff"
      "  significant  max regr.    verdict\n"
      "------------------------------------------------------------------------------------------"
      "------------------------------------\n"
      "sim     ttft_p50                 ms       21.328     21.328   +0.0%           -           -"
      "     untested      10.0%       PASS\n"
      "sim     ttft_p99                 ms       26.825     26.825   +0.0%           -           -"
      "     untested      10.0%       PASS\n"
      "sim     tpot_p50                 ms            -          -       -           -           -"
      "            -      10.0%        N/A\n"
      "sim     tpot_p99                 ms            -          -       -           -           -"
      "            -      10.0%        N/A\n"
      "sim     itl_p50                  ms            -          -       -           -           -"
      "            -      10.0%        N/A\n"
      "sim     itl_p99                  ms            -          -       -           -           -"
      "            -      10.0%        N/A\n"
      "sim     e2e_p50                  ms      121.328    121.328   +0.0%           -           -"
      "     untested      10.0%       PASS\n"
      "sim     e2e_p99                  ms      126.825    126.825   +0.0%           -           -"
      "     untested      10.0%       PASS\n"
      "sim     request_throughput       req/s    10.000      8.000  -20.0%           -           -"
      "     untested      10.0%  REGRESSED\n"
      "sim     output_token_throughput  tok/s  1000.000    800.000  -20.0%           -           -"
      "     untested      10.0%  REGRESSED\n"
      "(change = (candidate - base) / base; CI: 95% bootstrap interval of candidate - base, in "
      "the metric's unit; significant: U test p < 0.05 and the CI excludes 0)\n"
      "note: engine sim: no per-request values on one side (requests.csv missing or without "
      "this engine); percentiles judged on their change alone, untested\n"
      "diff: REGRESSED (2 regressed, 0 improved)\n");
  EXPECT_EQ(DiffMetricUnit("itl_p99"), "ms");
  EXPECT_EQ(DiffMetricUnit("request_throughput"), "req/s");
  EXPECT_EQ(DiffMetricUnit("output_token_throughput"), "tok/s");
  EXPECT_EQ(DiffMetricUnit("nope"), "");
}

// diff.html: the run report's page (uPlot, report.css, report.js) with the diff's data — both
// runs' ids and dates, the rows with units and, with per-request values, both sides' CDFs.
TEST(DiffHtmlTest, DataForTheReportScript) {
  std::map<std::string, RequestSamples> base = {{"sim", Samples(1, 20)}};
  std::map<std::string, RequestSamples> cand = {{"sim", Samples(2, 40)}};
  v1::RunResult b = Result("sim", base["sim"], 10);
  b.set_run_id("base-run");
  b.set_started_unix_ns(1'795'780'800'000'000'000);
  b.set_finished_unix_ns(1'795'780'812'500'000'000);
  v1::RunResult c = Result("sim", cand["sim"], 10);
  c.set_run_id("cand-<run>");
  DiffReport report = DiffResults(b, &base, c, &cand, Options(0.10));
  ASSERT_EQ(report.pairs.size(), 1u);
  EXPECT_EQ(report.pairs[0].compared, 6);  // TTFT and E2E p50/p99, two throughputs
  const std::string html = DiffHtml(report);
  EXPECT_TRUE(html.starts_with("<!DOCTYPE html>"));
  EXPECT_NE(html.find("<title>llmbench diff base-run vs cand-&lt;run&gt;</title>"),
            std::string::npos);
  EXPECT_NE(html.find(".verdict-state"), std::string::npos);  // report.css
  EXPECT_NE(html.find("function diffPage("), std::string::npos);  // report.js
  EXPECT_NE(html.find("\"base\":{\"dir\":\"\",\"run_id\":\"base-run\",\"scenario\":\"\","
                      "\"llmbench_version\":\"\",\"started\":\"2026-11-27 12:00:00 UTC\","
                      "\"wall_s\":12.500,\"engines\":[\"sim\"],\"label\":\"\",\"tags\":{}}"),
            std::string::npos);
  // No raw '<' from the data can close the script.
  EXPECT_NE(html.find("\"run_id\":\"cand-\\u003crun\\u003e\""), std::string::npos);
  EXPECT_NE(html.find("\"columns\":[\"engine\",\"metric\",\"unit\","), std::string::npos);
  // Both sides' CDFs of each metric: n = 200 TTFTs on each side, no TPOT values.
  const size_t dist = html.find("\"dist\":{\"ttft_ms\":{\"engines\":[{\"n\":200,\"cdf\":");
  ASSERT_NE(dist, std::string::npos);
  EXPECT_NE(html.find("\"tpot_ms\":{\"engines\":[{\"n\":0,", dist), std::string::npos);
  EXPECT_NE(html.find("\"e2e_ms\":{\"engines\":[{\"n\":200,", dist), std::string::npos);

  // Without per-request values there are no CDFs.
  report = DiffResults(b, nullptr, c, nullptr, Options(0.10));
  EXPECT_NE(DiffHtml(report).find("\"compared\":6,\"dist\":null}"), std::string::npos);
}

TEST(DiffOutDirTest, NewOrEmptyUnlessForced) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / absl::StrCat("diff-out-", getpid());
  std::filesystem::remove_all(dir);
  DiffReport report = DiffResults(Result("sim", Samples(1, 20), 10), nullptr,
                                  Result("sim", Samples(1, 20), 10), nullptr, Options(0.10));
  const std::string out = (dir / "new").string();
  EXPECT_TRUE(CheckDiffOutDir(out, false).ok());
  ASSERT_TRUE(WriteDiffHtml(out, report, false).ok());
  EXPECT_TRUE(std::filesystem::exists(out + "/diff.html"));
  // Again into the same folder: refused, then allowed with force.
  absl::Status again = WriteDiffHtml(out, report, false);
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(again.message(),
            absl::StrCat("--out ", out, " is not empty (diff.html); give --force to write "
                         "diff.html into it anyway, or choose another folder"));
  EXPECT_TRUE(WriteDiffHtml(out, report, true).ok());
  for (const char* name : {"a", "b", "c", "d"}) std::ofstream(out + "/" + name) << "x";
  EXPECT_EQ(CheckDiffOutDir(out, false).message(),
            absl::StrCat("--out ", out, " is not empty (a, b, c, ... (5 entries)); give --force "
                         "to write diff.html into it anyway, or choose another folder"));
  EXPECT_EQ(CheckDiffOutDir(out + "/a", false).message(),
            absl::StrCat("--out ", out, "/a is not a folder"));
  std::filesystem::create_directories(dir / "empty");
  EXPECT_TRUE(CheckDiffOutDir((dir / "empty").string(), false).ok());
  // results/diff-<UTC stamp>-<4 hex>
  EXPECT_TRUE(std::regex_match(DefaultDiffOutDir(1'795'780'800'000'000'000),
                               std::regex("results/diff-20261127-120000-[0-9a-f]{4}")))
      << DefaultDiffOutDir(1'795'780'800'000'000'000);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace llmbench::coordinator
