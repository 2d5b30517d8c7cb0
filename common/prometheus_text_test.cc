#include "common/prometheus_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace llmbench {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string Fixture(const std::string& engine) {
  const std::string path =
      std::string(LLMBENCH_SOURCE_DIR) + "/tests/fixtures/engines/" + engine + "/metrics.prom";
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const Sample* FindSample(const MetricFamily& family, const std::string& name, const Labels& labels) {
  for (const Sample& s : family.samples) {
    if (s.name == name && s.labels == labels) return &s;
  }
  return nullptr;
}

std::string ParseError(std::string_view text) {
  absl::StatusOr<MetricSet> set = ParsePrometheusText(text);
  if (set.ok()) return "OK";
  EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(set.status().message());
}

// ---------------------------------------------------------------------------------------------
// Every engine fixture parses; exact values per fixture below.

TEST(PrometheusFixturesTest, EveryFixtureParses) {
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(
           std::string(LLMBENCH_SOURCE_DIR) + "/tests/fixtures/engines")) {
    const auto path = entry.path() / "metrics.prom";
    if (!std::filesystem::exists(path)) continue;
    ++files;
    absl::StatusOr<MetricSet> set = ParsePrometheusText(Fixture(entry.path().filename().string()));
    ASSERT_TRUE(set.ok()) << path << ": " << set.status();
    EXPECT_FALSE(set->families.empty()) << path;
  }
  // vllm, tgi, llamacpp: a new fixture must get its exact-value test below too.
  EXPECT_EQ(files, 3);
}

TEST(PrometheusFixturesTest, Vllm) {
  absl::StatusOr<MetricSet> set = ParsePrometheusText(Fixture("vllm"));
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->families.size(), 8u);
  const Labels model = {{"engine", "0"}, {"model_name", "Qwen/Qwen3-4B"}};

  const MetricFamily* running = set->Find("vllm:num_requests_running");
  ASSERT_NE(running, nullptr);
  EXPECT_EQ(running->type, MetricType::kGauge);
  EXPECT_EQ(running->help, "Number of requests in model execution batches.");
  ASSERT_EQ(running->samples.size(), 1u);
  EXPECT_EQ(running->samples[0].labels, model);
  EXPECT_EQ(running->samples[0].value, 3.0);
  EXPECT_FALSE(running->samples[0].timestamp_ms.has_value());
  EXPECT_EQ(set->Sum("vllm:num_requests_waiting"), 1.0);
  EXPECT_EQ(set->Sum("vllm:kv_cache_usage_perc"), 0.0421875);
  EXPECT_EQ(set->Sum("vllm:prompt_tokens_total"), 80.0);
  EXPECT_EQ(set->Sum("vllm:generation_tokens_total"), 500.0);
  EXPECT_EQ(set->Find("vllm:generation_tokens_total")->type, MetricType::kCounter);

  const MetricFamily* success = set->Find("vllm:request_success_total");
  ASSERT_NE(success, nullptr);
  ASSERT_EQ(success->samples.size(), 3u);
  const Sample* length = FindSample(
      *success, "vllm:request_success_total",
      {{"engine", "0"}, {"finished_reason", "length"}, {"model_name", "Qwen/Qwen3-4B"}});
  ASSERT_NE(length, nullptr);
  EXPECT_EQ(length->value, 10.0);
  EXPECT_EQ(set->Sum("vllm:request_success_total"), 10.0);

  const MetricFamily* ttft = set->Find("vllm:time_to_first_token_seconds");
  ASSERT_NE(ttft, nullptr);
  EXPECT_EQ(ttft->type, MetricType::kHistogram);
  EXPECT_EQ(ttft->samples.size(), 25u);  // 23 buckets + _count + _sum
  ASSERT_EQ(ttft->histograms.size(), 1u);
  const HistogramSeries& h = ttft->histograms[0];
  EXPECT_EQ(h.labels, model);
  ASSERT_EQ(h.buckets.size(), 23u);
  EXPECT_EQ(h.buckets[0].upper_bound, 0.001);
  EXPECT_EQ(h.buckets[3].upper_bound, 0.02);
  EXPECT_EQ(h.buckets[3].count, 4.0);
  EXPECT_EQ(h.buckets[4].upper_bound, 0.04);
  EXPECT_EQ(h.buckets[4].count, 10.0);
  EXPECT_EQ(h.buckets[21].upper_bound, 2560.0);
  EXPECT_EQ(h.buckets[22].upper_bound, kInf);
  EXPECT_EQ(h.buckets[22].count, 10.0);
  EXPECT_EQ(h.count, 10.0);
  EXPECT_EQ(h.sum, 0.205);
  // rank 5 lies in (0.02, 0.04] holding 6 of them, 1 in: 0.02 + 0.02 * 1/6.
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.5, h.buckets), 0.02 + 0.02 * (1.0 / 6.0));
  // rank 9.9: 0.02 + 0.02 * 5.9/6.
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.99, h.buckets), 0.02 + 0.02 * (5.9 / 6.0));
  // rank 2: inside (0.01, 0.02] holding 4: 0.01 + 0.01 * 2/4.
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.2, h.buckets), 0.015);

  const MetricFamily* itl = set->Find("vllm:inter_token_latency_seconds");
  ASSERT_NE(itl, nullptr);
  ASSERT_EQ(itl->histograms.size(), 1u);
  EXPECT_EQ(itl->histograms[0].buckets.size(), 20u);
  EXPECT_EQ(itl->histograms[0].count, 490.0);
  EXPECT_EQ(itl->histograms[0].sum, 0.864);
  // rank 245 lies in the first bucket (0, 0.01] holding 480: 0.01 * 245/480.
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.5, itl->histograms[0].buckets), 0.01 * 245.0 / 480.0);
}

TEST(PrometheusFixturesTest, Tgi) {
  absl::StatusOr<MetricSet> set = ParsePrometheusText(Fixture("tgi"));
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->families.size(), 8u);
  EXPECT_EQ(set->Sum("tgi_request_count"), 12.0);
  EXPECT_EQ(set->Sum("tgi_request_success"), 11.0);
  const MetricFamily* failure = set->Find("tgi_request_failure");
  ASSERT_NE(failure, nullptr);
  EXPECT_EQ(failure->help, "");
  ASSERT_EQ(failure->samples.size(), 1u);
  EXPECT_EQ(failure->samples[0].labels, (Labels{{"err", "validation"}}));
  EXPECT_EQ(failure->samples[0].value, 1.0);
  EXPECT_EQ(set->Sum("tgi_queue_size"), 0.0);
  EXPECT_EQ(set->Sum("tgi_batch_current_size"), 2.0);
  EXPECT_EQ(set->Sum("tgi_batch_current_max_tokens"), 512.0);
  const MetricFamily* inference = set->Find("tgi_batch_inference_count");
  ASSERT_NE(inference, nullptr);
  EXPECT_EQ(FindSample(*inference, "tgi_batch_inference_count", {{"method", "decode"}})->value, 292.0);
  EXPECT_EQ(FindSample(*inference, "tgi_batch_inference_count", {{"method", "prefill"}})->value, 11.0);

  const MetricFamily* duration = set->Find("tgi_request_duration");
  ASSERT_NE(duration, nullptr);
  EXPECT_EQ(duration->type, MetricType::kHistogram);
  ASSERT_EQ(duration->histograms.size(), 1u);
  const HistogramSeries& h = duration->histograms[0];
  EXPECT_TRUE(h.labels.empty());
  ASSERT_EQ(h.buckets.size(), 36u);
  EXPECT_EQ(h.buckets[0].upper_bound, 0.00015000000000000001);
  EXPECT_EQ(h.buckets[19].upper_bound, 0.33252567300796504);
  EXPECT_EQ(h.buckets[19].count, 4.0);
  EXPECT_EQ(h.buckets[20].upper_bound, 0.49878850951194753);
  EXPECT_EQ(h.buckets[20].count, 10.0);
  EXPECT_EQ(h.buckets[34].upper_bound, 145.61096060497135);
  EXPECT_EQ(h.buckets[35].upper_bound, kInf);
  EXPECT_EQ(h.sum, 4.08);
  EXPECT_EQ(h.count, 11.0);
  // rank 5.5 lies in (0.3325..., 0.4987...] holding 6, 1.5 in.
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.5, h.buckets),
                   0.33252567300796504 + (0.49878850951194753 - 0.33252567300796504) * 0.25);
  // rank 10.89 lies in (0.4987..., 0.7481...] holding 1, 0.89 in.
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.99, h.buckets),
                   0.49878850951194753 + (0.7481827642679213 - 0.49878850951194753) * 0.89);
}

TEST(PrometheusFixturesTest, LlamaCpp) {
  absl::StatusOr<MetricSet> set = ParsePrometheusText(Fixture("llamacpp"));
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->families.size(), 11u);
  EXPECT_EQ(set->Sum("llamacpp:prompt_tokens_total"), 1234.0);
  EXPECT_EQ(set->Sum("llamacpp:prompt_seconds_total"), 1.843);
  EXPECT_EQ(set->Sum("llamacpp:tokens_predicted_total"), 1.23457e+07);
  EXPECT_EQ(set->Sum("llamacpp:tokens_predicted_seconds_total"), 98765.4);
  EXPECT_EQ(set->Sum("llamacpp:n_decode_total"), 4321.0);
  EXPECT_EQ(set->Sum("llamacpp:n_tokens_max"), 8192.0);
  EXPECT_EQ(set->Sum("llamacpp:n_busy_slots_per_decode"), 1.92);
  EXPECT_EQ(set->Sum("llamacpp:prompt_tokens_seconds"), 669.56);
  EXPECT_EQ(set->Sum("llamacpp:predicted_tokens_seconds"), 38.5123);
  EXPECT_EQ(set->Sum("llamacpp:requests_processing"), 2.0);
  EXPECT_EQ(set->Sum("llamacpp:requests_deferred"), 0.0);
  const MetricFamily* predicted = set->Find("llamacpp:tokens_predicted_total");
  EXPECT_EQ(predicted->type, MetricType::kCounter);
  EXPECT_EQ(predicted->help, "Number of generation tokens processed.");
  EXPECT_EQ(set->Find("llamacpp:requests_processing")->type, MetricType::kGauge);
}

// ---------------------------------------------------------------------------------------------
// Format details.

TEST(PrometheusTextTest, SpecialValuesTimestampsAndEscapes) {
  absl::StatusOr<MetricSet> set = ParsePrometheusText(
      "# HELP m A help with \\\\ and \\n inside.\r\n"
      "# a plain comment\n"
      "\n"
      "  \t\n"
      "m{path=\"C:\\\\dir\",msg=\"say \\\"hi\\\"\\nbye\",} NaN 1700000000000\r\n"
      "m{path=\"x\"} +Inf\n"
      "m{path=\"y\"}\t-Inf   -5\n"
      "m{path=\"z\"} Inf\n"
      "m{path=\"w\"} 1.5e-3\n"
      "m{ } -0.25\n"
      "untyped_thing 7\n");
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->families.size(), 2u);
  const MetricFamily& m = set->families[0];
  EXPECT_EQ(m.name, "m");
  EXPECT_EQ(m.type, MetricType::kUntyped);
  EXPECT_EQ(m.help, "A help with \\ and \n inside.");
  ASSERT_EQ(m.samples.size(), 6u);
  EXPECT_TRUE(std::isnan(m.samples[0].value));
  EXPECT_EQ(m.samples[0].labels, (Labels{{"msg", "say \"hi\"\nbye"}, {"path", "C:\\dir"}}));
  EXPECT_EQ(m.samples[0].timestamp_ms, 1700000000000);
  EXPECT_EQ(m.samples[1].value, kInf);
  EXPECT_EQ(m.samples[2].value, -kInf);
  EXPECT_EQ(m.samples[2].timestamp_ms, -5);
  EXPECT_EQ(m.samples[3].value, kInf);
  EXPECT_EQ(m.samples[4].value, 1.5e-3);
  EXPECT_TRUE(m.samples[5].labels.empty());
  EXPECT_EQ(m.samples[5].value, -0.25);
  EXPECT_EQ(set->families[1].name, "untyped_thing");
  EXPECT_EQ(set->Sum("untyped_thing"), 7.0);
  EXPECT_EQ(set->Find("absent"), nullptr);
  EXPECT_EQ(set->Sum("absent"), std::nullopt);
}

TEST(PrometheusTextTest, HistogramSeriesGroupedPerLabelSetAndSorted) {
  absl::StatusOr<MetricSet> set = ParsePrometheusText(
      "# TYPE h histogram\n"
      "h_bucket{le=\"+Inf\",code=\"a\"} 4\n"
      "h_bucket{code=\"a\",le=\"1\"} 1\n"
      "h_bucket{code=\"b\",le=\"1\"} 2\n"
      "h_bucket{code=\"a\",le=\"0.5\"} 0\n"
      "h_sum{code=\"a\"} 9.5\n"
      "h_count{code=\"a\"} 4\n"
      "h_bucket{code=\"b\",le=\"+Inf\"} 2\n"
      "h_created{code=\"a\"} 1.7e9\n");
  ASSERT_TRUE(set.ok()) << set.status();
  const MetricFamily* h = set->Find("h");
  ASSERT_NE(h, nullptr);
  ASSERT_EQ(h->histograms.size(), 2u);
  EXPECT_EQ(h->histograms[0].labels, (Labels{{"code", "a"}}));
  ASSERT_EQ(h->histograms[0].buckets.size(), 3u);
  EXPECT_EQ(h->histograms[0].buckets[0].upper_bound, 0.5);
  EXPECT_EQ(h->histograms[0].buckets[1].upper_bound, 1.0);
  EXPECT_EQ(h->histograms[0].buckets[2].upper_bound, kInf);
  EXPECT_EQ(h->histograms[0].sum, 9.5);
  EXPECT_EQ(h->histograms[0].count, 4.0);
  EXPECT_EQ(h->histograms[1].labels, (Labels{{"code", "b"}}));
  EXPECT_FALSE(h->histograms[1].sum.has_value());
  // _created is not part of a 0.0.4 histogram: its own untyped family.
  ASSERT_NE(set->Find("h_created"), nullptr);
  EXPECT_EQ(set->Find("h_created")->type, MetricType::kUntyped);
}

TEST(PrometheusTextTest, Summary) {
  absl::StatusOr<MetricSet> set = ParsePrometheusText(
      "# TYPE rpc summary\n"
      "rpc{quantile=\"0.99\"} 0.9\n"
      "rpc{quantile=\"0.5\"} 0.2\n"
      "rpc_sum 17\n"
      "rpc_count 40\n");
  ASSERT_TRUE(set.ok()) << set.status();
  const MetricFamily* rpc = set->Find("rpc");
  ASSERT_NE(rpc, nullptr);
  EXPECT_EQ(rpc->type, MetricType::kSummary);
  ASSERT_EQ(rpc->summaries.size(), 1u);
  ASSERT_EQ(rpc->summaries[0].quantiles.size(), 2u);
  EXPECT_EQ(rpc->summaries[0].quantiles[0].quantile, 0.5);
  EXPECT_EQ(rpc->summaries[0].quantiles[0].value, 0.2);
  EXPECT_EQ(rpc->summaries[0].quantiles[1].value, 0.9);
  EXPECT_EQ(rpc->summaries[0].sum, 17.0);
  EXPECT_EQ(rpc->summaries[0].count, 40.0);
  EXPECT_EQ(rpc->samples.size(), 4u);
}

TEST(PrometheusTextTest, EmptyInputIsAnEmptySet) {
  absl::StatusOr<MetricSet> set = ParsePrometheusText("");
  ASSERT_TRUE(set.ok());
  EXPECT_TRUE(set->families.empty());
}

TEST(PrometheusTextTest, MalformedInputNamesTheLine) {
  EXPECT_EQ(ParseError("a 1\nb{x=\"1\" 2\n"), "line 2: expected ',' or '}' after label 'x'");
  EXPECT_EQ(ParseError("a{x=\"1} 2\n"), "line 1: unterminated value of label 'x'");
  EXPECT_EQ(ParseError("a{x 2\n"), "line 1: expected '=' after label name 'x'");
  EXPECT_EQ(ParseError("a{x=1} 2\n"), "line 1: expected '\"' to open the value of label 'x'");
  EXPECT_EQ(ParseError("a{9x=\"1\"} 2\n"), "line 1: expected a label name at '9x=\"1\"} 2'");
  EXPECT_EQ(ParseError("a{x=\"\\t\"} 2\n"), "line 1: invalid escape '\\t' in the value of label 'x'");
  EXPECT_EQ(ParseError("a{x=\"1\",x=\"2\"} 2\n"), "line 1: duplicate label 'x'");
  EXPECT_EQ(ParseError("a{x=\"1\",\n"), "line 1: unterminated label set (no '}')");
  EXPECT_EQ(ParseError("\n\na\n"), "line 3: missing value for 'a'");
  EXPECT_EQ(ParseError("a one\n"), "line 1: bad value 'one' for 'a'");
  EXPECT_EQ(ParseError("a -NaN\n"), "line 1: bad value '-NaN' for 'a'");
  EXPECT_EQ(ParseError("a 1 12.5\n"), "line 1: bad timestamp '12.5' for 'a'");
  EXPECT_EQ(ParseError("a 1 12 x\n"), "line 1: unexpected text 'x' after the sample of 'a'");
  EXPECT_EQ(ParseError("a-b 1\n"), "line 1: invalid character '-' in metric name 'a-'");
  EXPECT_EQ(ParseError("1a 1\n"), "line 1: expected a metric name at '1a 1'");
  EXPECT_EQ(ParseError("# TYPE a\n"), "line 1: TYPE line for 'a' without a type");
  EXPECT_EQ(ParseError("# TYPE a countr\n"), "line 1: unknown metric type 'countr' for 'a'");
  EXPECT_EQ(ParseError("# TYPE a counter extra\n"),
            "line 1: unexpected text 'extra' after the TYPE of 'a'");
  EXPECT_EQ(ParseError("# TYPE\n"), "line 1: TYPE line without a metric name");
  EXPECT_EQ(ParseError("# HELP a-b x\n"), "line 1: invalid metric name 'a-b' in HELP line");
  EXPECT_EQ(ParseError("# TYPE a gauge\n# TYPE a counter\n"), "line 2: second TYPE line for 'a'");
  EXPECT_EQ(ParseError("# HELP a x\n# HELP a y\n"), "line 2: second HELP line for 'a'");
  EXPECT_EQ(ParseError("a 1\n# TYPE a gauge\n"), "line 2: TYPE line for 'a' after its samples");
  EXPECT_EQ(ParseError("# TYPE h histogram\nh_bucket 1\n"),
            "line 2: histogram bucket 'h_bucket' has no 'le' label");
  EXPECT_EQ(ParseError("# TYPE h histogram\nh_bucket{le=\"x\"} 1\n"),
            "line 2: bad 'le' value 'x' for 'h_bucket'");
  EXPECT_EQ(ParseError("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"1.0\"} 1\n"),
            "line 3: duplicate bucket le=\"1\" for 'h'");
  EXPECT_EQ(ParseError("# TYPE h histogram\nh_sum 1\nh_sum 2\n"), "line 3: duplicate sample 'h_sum'");
  EXPECT_EQ(ParseError("# TYPE h histogram\nh 1\n"),
            "line 2: histogram sample 'h' must end in _bucket, _sum or _count");
  EXPECT_EQ(ParseError("# TYPE s summary\ns 1\n"),
            "line 2: summary sample 's' has no 'quantile' label");
  EXPECT_EQ(ParseError("# TYPE s summary\ns{quantile=\"high\"} 1\n"),
            "line 2: bad 'quantile' value 'high' for 's'");
}

// ---------------------------------------------------------------------------------------------
// HistogramQuantile: PromQL's edge cases.

TEST(HistogramQuantileTest, EdgeCases) {
  const std::vector<HistogramBucket> h = {{1, 2}, {2, 6}, {4, 8}, {kInf, 10}};
  EXPECT_EQ(HistogramQuantile(-0.1, h), -kInf);
  EXPECT_EQ(HistogramQuantile(1.1, h), kInf);
  EXPECT_TRUE(std::isnan(HistogramQuantile(std::nan(""), h)));
  // rank 5: (1, 2] holds 4, 3 in.
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.5, h), 1.75);
  // rank 1: the first bucket starts at 0.
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.1, h), 0.5);
  // rank 9 is in the +Inf bucket: the highest finite bound.
  EXPECT_EQ(HistogramQuantile(0.9, h), 4.0);
  EXPECT_EQ(HistogramQuantile(1.0, h), 4.0);
  // rank 8 exactly: the bucket whose count reaches it, at its upper bound.
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.8, h), 4.0);
  // Unsorted input is sorted first.
  const std::vector<HistogramBucket> shuffled = {{kInf, 10}, {2, 6}, {4, 8}, {1, 2}};
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.5, shuffled), 1.75);
  // Undefined: no +Inf bucket, a single bucket, no observations.
  EXPECT_TRUE(std::isnan(HistogramQuantile(0.5, std::vector<HistogramBucket>{{1, 1}, {2, 2}})));
  EXPECT_TRUE(std::isnan(HistogramQuantile(0.5, std::vector<HistogramBucket>{{kInf, 3}})));
  EXPECT_TRUE(std::isnan(HistogramQuantile(0.5, std::vector<HistogramBucket>{{1, 0}, {kInf, 0}})));
  EXPECT_TRUE(std::isnan(HistogramQuantile(0.5, std::vector<HistogramBucket>{})));
  // A first bucket with a non-positive bound returns that bound.
  EXPECT_EQ(HistogramQuantile(0.1, std::vector<HistogramBucket>{{-1, 5}, {0, 6}, {kInf, 6}}), -1.0);
  // Non-monotonic counts are made monotonic: (1, 2] becomes 4 -> rank 2 at 1.0.
  EXPECT_DOUBLE_EQ(
      HistogramQuantile(0.5, std::vector<HistogramBucket>{{1, 4}, {2, 3}, {kInf, 4}}), 0.5);
}

// ---------------------------------------------------------------------------------------------
// Deltas.

TEST(DeltaTest, Counter) {
  bool reset = true;
  EXPECT_EQ(CounterIncrease(10, 25, &reset), 15.0);
  EXPECT_FALSE(reset);
  EXPECT_EQ(CounterIncrease(10, 4, &reset), 4.0);
  EXPECT_TRUE(reset);
  EXPECT_EQ(CounterIncrease(3, 3), 0.0);
}

TEST(DeltaTest, Histogram) {
  HistogramSeries start{{}, {{0.1, 1}, {1, 3}, {kInf, 4}}, 2.0, 4.0};
  HistogramSeries end{{}, {{0.1, 2}, {1, 7}, {kInf, 9}}, 5.5, 9.0};
  bool reset = true;
  absl::StatusOr<HistogramSeries> delta = HistogramDelta(&start, end, &reset);
  ASSERT_TRUE(delta.ok()) << delta.status();
  EXPECT_FALSE(reset);
  ASSERT_EQ(delta->buckets.size(), 3u);
  EXPECT_EQ(delta->buckets[0].count, 1.0);
  EXPECT_EQ(delta->buckets[1].count, 4.0);
  EXPECT_EQ(delta->buckets[2].count, 5.0);
  EXPECT_EQ(delta->sum, 3.5);
  EXPECT_EQ(delta->count, 5.0);

  // A series that appeared during the window: the delta is the end.
  delta = HistogramDelta(nullptr, end, &reset);
  ASSERT_TRUE(delta.ok());
  EXPECT_FALSE(reset);
  EXPECT_EQ(delta->count, 9.0);

  // The engine restarted: counts went back; the delta is the end.
  HistogramSeries restarted{{}, {{0.1, 0}, {1, 1}, {kInf, 1}}, 0.3, 1.0};
  delta = HistogramDelta(&start, restarted, &reset);
  ASSERT_TRUE(delta.ok());
  EXPECT_TRUE(reset);
  EXPECT_EQ(delta->count, 1.0);
  EXPECT_EQ(delta->buckets[1].count, 1.0);

  HistogramSeries other{{}, {{0.2, 2}, {1, 7}, {kInf, 9}}, 5.5, 9.0};
  delta = HistogramDelta(&start, other, &reset);
  EXPECT_EQ(delta.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(delta.status().message(),
            "histogram buckets changed between scrapes (le=0.1 then le=0.2)");
  HistogramSeries fewer{{}, {{1, 7}, {kInf, 9}}, 5.5, 9.0};
  EXPECT_EQ(HistogramDelta(&start, fewer).status().message(),
            "histogram buckets changed between scrapes (3 then 2 buckets)");
}

// Two scrapes of the same engine: the delta's quantile is the window's, not the lifetime's.
TEST(DeltaTest, QuantileOfTheWindow) {
  absl::StatusOr<MetricSet> before = ParsePrometheusText(
      "# TYPE t histogram\nt_bucket{le=\"0.1\"} 100\nt_bucket{le=\"1\"} 100\n"
      "t_bucket{le=\"+Inf\"} 100\nt_sum 5\nt_count 100\n");
  absl::StatusOr<MetricSet> after = ParsePrometheusText(
      "# TYPE t histogram\nt_bucket{le=\"0.1\"} 100\nt_bucket{le=\"1\"} 110\n"
      "t_bucket{le=\"+Inf\"} 110\nt_sum 10\nt_count 110\n");
  ASSERT_TRUE(before.ok() && after.ok());
  absl::StatusOr<HistogramSeries> delta =
      HistogramDelta(&before->Find("t")->histograms[0], after->Find("t")->histograms[0]);
  ASSERT_TRUE(delta.ok());
  EXPECT_EQ(delta->count, 10.0);
  EXPECT_EQ(delta->sum, 5.0);
  // All ten window observations are in (0.1, 1]: p50 = 0.1 + 0.9 * 5/10.
  EXPECT_DOUBLE_EQ(HistogramQuantile(0.5, delta->buckets), 0.55);
}

// ---------------------------------------------------------------------------------------------
// Sums over label sets and windows.

TEST(SumTest, SampleValueOverFamiliesAndLabelSets) {
  absl::StatusOr<MetricSet> set = ParsePrometheusText(
      "# TYPE g gauge\ng{a=\"1\"} 0.2\ng{a=\"2\"} 0.6\ng{a=\"3\"} NaN\n"
      "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 3\nh_sum 1.5\nh_count 3\n");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_DOUBLE_EQ(*SampleValue(*set, "g", false), 0.8);  // NaN skipped
  EXPECT_DOUBLE_EQ(*SampleValue(*set, "g", true), 0.4);
  EXPECT_EQ(SampleValue(*set, "h_sum", false), 1.5);  // a histogram's sample by its own name
  EXPECT_FALSE(SampleValue(*set, "h", false).has_value());
  EXPECT_FALSE(SampleValue(*set, "absent", true).has_value());
}

TEST(SumTest, CombinedHistogramSumsLabelSetsWithTheSameBounds) {
  absl::StatusOr<MetricSet> set = ParsePrometheusText(
      "# TYPE t histogram\n"
      "t_bucket{m=\"a\",le=\"1\"} 1\nt_bucket{m=\"a\",le=\"+Inf\"} 2\nt_sum{m=\"a\"} 3\n"
      "t_count{m=\"a\"} 2\n"
      "t_bucket{m=\"b\",le=\"1\"} 4\nt_bucket{m=\"b\",le=\"+Inf\"} 4\nt_sum{m=\"b\"} 1\n"
      "t_count{m=\"b\"} 4\n"
      "t_bucket{m=\"c\",le=\"2\"} 9\nt_bucket{m=\"c\",le=\"+Inf\"} 9\nt_sum{m=\"c\"} 9\n"
      "t_count{m=\"c\"} 9\n"
      "# TYPE g gauge\ng 1\n");
  ASSERT_TRUE(set.ok()) << set.status();
  std::optional<HistogramSeries> t = CombinedHistogram(*set, "t");
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->labels.empty());
  ASSERT_EQ(t->buckets.size(), 2u);
  EXPECT_EQ(t->buckets[0].count, 5.0);  // m="c" has other bounds: left out
  EXPECT_EQ(t->buckets[1].count, 6.0);
  EXPECT_EQ(t->sum, 4.0);
  EXPECT_EQ(t->count, 6.0);
  EXPECT_FALSE(CombinedHistogram(*set, "g").has_value());
  EXPECT_FALSE(CombinedHistogram(*set, "absent").has_value());
}

TEST(SumTest, ZeroedAndAddedHistograms) {
  const HistogramSeries h{{}, {{0.1, 2}, {kInf, 5}}, 1.25, 5.0};
  HistogramSeries total = ZeroedHistogram(h);
  ASSERT_EQ(total.buckets.size(), 2u);
  EXPECT_EQ(total.buckets[0].upper_bound, 0.1);
  EXPECT_EQ(total.buckets[1].count, 0.0);
  EXPECT_EQ(total.sum, 0.0);
  EXPECT_EQ(total.count, 0.0);
  AddHistogramInto(h, &total);
  AddHistogramInto(h, &total);
  EXPECT_EQ(total.buckets[0].count, 4.0);
  EXPECT_EQ(total.buckets[1].count, 10.0);
  EXPECT_EQ(total.sum, 2.5);
  EXPECT_EQ(total.count, 10.0);
  // Without a sum on either side, the sum stays absent.
  HistogramSeries no_sum = ZeroedHistogram(HistogramSeries{{}, {{kInf, 1}}, std::nullopt, 1.0});
  AddHistogramInto(h, &no_sum);
  EXPECT_FALSE(no_sum.sum.has_value());
  EXPECT_EQ(no_sum.buckets[0].count, 2.0);  // the shorter of the two bucket lists
  EXPECT_EQ(no_sum.count, 5.0);
}

}  // namespace
}  // namespace llmbench
