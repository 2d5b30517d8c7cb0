#include "coordinator/diff.h"

#include <cmath>
#include <random>
#include <string>
#include <vector>

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
// requests.csv

constexpr char kCsvHeader[] =
    "request_id,engine,warmup,sent_ns,first_token_ns,end_ns,chunk_offsets_ns,output_tokens,"
    "error_class,error_message\n";

TEST(RequestSamplesTest, ParsesMeasuredSuccesses) {
  const std::string csv = std::string(kCsvHeader) +
      // TTFT 10 ms, E2E 40 ms, 4 tokens: TPOT 10 ms; gaps 10, 10, 10 ms.
      "0,a,false,1000000000,1010000000,1040000000,10000000;20000000;30000000;40000000,4,none,\n"
      // warm-up: skipped
      "1,a,true,0,1000000,2000000,1000000,1,none,\n"
      // failure with a quoted message holding a comma, a quote and a newline: skipped
      "2,a,false,0,,5000000,,0,timeout,\"slow, \"\"very\"\"\nslow\"\n"
      // another engine, no first token (non-streamed)
      "3,\"b,1\",false,0,,7000000,,3,none,\n";
  absl::StatusOr<std::map<std::string, RequestSamples>> s = ParseRequestSamples(csv, "x.csv");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->size(), 2u);
  const RequestSamples& a = s->at("a");
  EXPECT_EQ(a.ttft_ms, std::vector<double>({10}));
  EXPECT_EQ(a.e2e_ms, std::vector<double>({40}));
  EXPECT_EQ(a.tpot_ms, std::vector<double>({10}));
  EXPECT_EQ(a.itl_ms, std::vector<double>({10, 10, 10}));
  const RequestSamples& b = s->at("b,1");
  EXPECT_TRUE(b.ttft_ms.empty());
  EXPECT_TRUE(b.tpot_ms.empty());
  EXPECT_EQ(b.e2e_ms, std::vector<double>({7}));
}

TEST(RequestSamplesTest, ErrorsNameTheLine) {
  EXPECT_EQ(ParseRequestSamples("", "r.csv").status().message(), "r.csv: empty (no header line)");
  EXPECT_EQ(ParseRequestSamples("a,b\n1,2\n", "r.csv").status().message(),
            "r.csv:1: no column \"engine\" (not a llmbench requests.csv)");
  EXPECT_EQ(ParseRequestSamples(std::string(kCsvHeader) + "0,a,false,1,2\n", "r.csv")
                .status()
                .message(),
            "r.csv:2: 5 fields, the header has 10");
  EXPECT_EQ(ParseRequestSamples(std::string(kCsvHeader) + "0,a,false,x,2,3,,1,none,\n", "r.csv")
                .status()
                .message(),
            "r.csv:2: sent_ns, end_ns or output_tokens is not an integer");
  EXPECT_EQ(ParseRequestSamples(std::string(kCsvHeader) + "0,a,false,1,2,3,,1,none,\"x\n",
                                "r.csv")
                .status()
                .message(),
            "r.csv:2: unterminated quoted field");
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
  EXPECT_NE(DiffHtml(report).find("<tr class=\"REGRESSED\">"), std::string::npos);

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

}  // namespace
}  // namespace llmbench::coordinator
