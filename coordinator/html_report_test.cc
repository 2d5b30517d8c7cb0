#include "coordinator/html_report.h"

#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "coordinator/exporters.h"
#include "coordinator/html_report_assets.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace llmbench::coordinator {
namespace {

using google::protobuf::Value;

const std::string kGoldenDir = std::string(LLMBENCH_SOURCE_DIR) + "/tests/golden";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

Value ParseJson(const std::string& json) {
  Value value;
  auto status = google::protobuf::util::JsonStringToMessage(json, &value);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << json;
  return value;
}

const Value& At(const Value& v, const std::string& key) {
  static const Value kMissing;
  auto it = v.struct_value().fields().find(key);
  if (it == v.struct_value().fields().end()) {
    ADD_FAILURE() << "no key " << key;
    return kMissing;
  }
  return it->second;
}

const Value& At(const Value& v, int index) { return v.list_value().values(index); }

// Numbers of a JSON array; null becomes -1 (no value in these tests is negative).
std::vector<double> Nums(const Value& v) {
  std::vector<double> out;
  for (const Value& x : v.list_value().values()) {
    out.push_back(x.has_null_value() ? -1 : x.number_value());
  }
  return out;
}

// The JSON keeps 7 significant digits (%.7g), so derived values compare within 1e-5 relative.
void ExpectNear(const std::vector<double>& actual, const std::vector<double>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], 1e-5 * std::max(1.0, std::abs(expected[i])))
        << "index " << i;
  }
}

v1::RunResult GoldenResult() {
  absl::StatusOr<v1::RunResult> result = LoadRunResult(kGoldenDir);
  EXPECT_TRUE(result.ok()) << result.status();
  return *result;
}

absl::StatusOr<std::string> DataFor(const std::string& csv) {
  std::istringstream in(csv);
  return ReportDataJson(GoldenResult(), &in);
}

TEST(ReportDataJsonTest, WithoutRequestsCsv) {
  absl::StatusOr<std::string> json = ReportDataJson(GoldenResult(), nullptr);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(*json, "{\"has_requests\":false}");
}

// tests/golden/requests.csv: row 0 is warm-up; vllm has rows 1, 2 (ok) and 6 (stream_broken),
// ollama rows 3, 4 (ok) and 5 (http_5xx). Expected values worked out by hand from the file.
TEST(ReportDataJsonTest, GoldenDistributions) {
  std::ifstream csv(kGoldenDir + "/requests.csv");
  absl::StatusOr<std::string> json = ReportDataJson(GoldenResult(), &csv);
  ASSERT_TRUE(json.ok()) << json.status();
  Value data = ParseJson(*json);
  EXPECT_TRUE(At(data, "has_requests").bool_value());
  EXPECT_EQ(At(data, "rows").number_value(), 7);
  ASSERT_EQ(At(data, "engines").list_value().values_size(), 2);
  EXPECT_EQ(At(At(data, "engines"), 0).string_value(), "vllm");
  EXPECT_EQ(At(At(data, "engines"), 1).string_value(), "ollama");

  const Value& dist = At(data, "dist");
  const Value& ttft_vllm = At(At(At(dist, "ttft_ms"), "engines"), 0);
  EXPECT_EQ(At(ttft_vllm, "n").number_value(), 2);
  ExpectNear(Nums(At(At(ttft_vllm, "cdf"), "x")), {12, 15});
  ExpectNear(Nums(At(At(ttft_vllm, "cdf"), "p")), {0.5, 1});
  const Value& e2e_ollama = At(At(At(dist, "e2e_ms"), "engines"), 1);
  ExpectNear(Nums(At(At(e2e_ollama, "cdf"), "x")), {64.7, 140.6});
  // TPOT = (E2E - TTFT) / (tokens - 1): vllm (39.8-12)/3 and (34.9-15)/2.
  ExpectNear(Nums(At(At(At(At(At(dist, "tpot_ms"), "engines"), 0), "cdf"), "x")),
             {27.8 / 3, 9.95});
  // ITL pooled gaps; duplicates collapse into one CDF step.
  const Value& itl_ollama = At(At(At(dist, "itl_ms"), "engines"), 1);
  EXPECT_EQ(At(itl_ollama, "n").number_value(), 6);
  ExpectNear(Nums(At(At(itl_ollama, "cdf"), "x")), {15, 16, 19, 20, 26});
  ExpectNear(Nums(At(At(itl_ollama, "cdf"), "p")), {2.0 / 6, 3.0 / 6, 4.0 / 6, 5.0 / 6, 1});

  // TTFT histogram: bins from the smallest value (12) to the largest p99.5 (ollama's
  // 30 + 0.995 * 30 = 59.85); ollama's 60 lies beyond.
  const Value& hist = At(At(dist, "ttft_ms"), "hist");
  std::vector<double> edges = Nums(At(hist, "edges"));
  ASSERT_EQ(edges.size(), 41u);
  EXPECT_DOUBLE_EQ(edges.front(), 12);
  EXPECT_NEAR(edges.back(), 59.85, 1e-9);
  std::vector<double> vllm_counts = Nums(At(At(hist, "counts"), 0));
  std::vector<double> ollama_counts = Nums(At(At(hist, "counts"), 1));
  ASSERT_EQ(vllm_counts.size(), 40u);
  EXPECT_EQ(vllm_counts[0], 1);   // 12
  EXPECT_EQ(vllm_counts[2], 1);   // 15: (15 - 12) / 1.19625 = 2.5
  EXPECT_EQ(ollama_counts[15], 1);  // 30: 18 / 1.19625 = 15.05
  double total = 0;
  for (double c : ollama_counts) total += c;
  EXPECT_EQ(total, 1);
  ExpectNear(Nums(At(hist, "overflow")), {0, 1});
}

TEST(ReportDataJsonTest, GoldenTimeSeries) {
  std::ifstream csv(kGoldenDir + "/requests.csv");
  absl::StatusOr<std::string> json = ReportDataJson(GoldenResult(), &csv);
  ASSERT_TRUE(json.ok()) << json.status();
  Value data = ParseJson(*json);
  EXPECT_EQ(At(data, "bucket_s").number_value(), 1);
  // vllm's window: first measured send 100.2 ms to last end 340 ms = 0.2398 s, one bucket.
  const Value& vllm = At(At(data, "time"), 0);
  const double window_s = 0.2398;
  ExpectNear(Nums(At(vllm, "completions_per_s")), {2 / window_s});
  ExpectNear(Nums(At(vllm, "output_tokens_per_s")), {7 / window_s});
  // Time-averaged in flight = sum of E2E / window = summary.json's mean_concurrency for vllm.
  ExpectNear(Nums(At(vllm, "concurrency")), {0.39449541284403666});
  ExpectNear(Nums(At(At(vllm, "errors_per_s"), "stream_broken")), {1 / window_s});
  EXPECT_EQ(At(vllm, "errors_per_s").struct_value().fields_size(), 1);
  ExpectNear(Nums(At(vllm, "ttft_p50_ms")), {13.5});
  ExpectNear(Nums(At(vllm, "ttft_p99_ms")), {12 + 0.99 * 3});
  ExpectNear(Nums(At(vllm, "e2e_p50_ms")), {37.35});
  ExpectNear(Nums(At(vllm, "e2e_p99_ms")), {34.9 + 0.99 * 4.9});
  const Value& scatter = At(vllm, "scatter");
  EXPECT_EQ(At(scatter, "stride").number_value(), 1);
  ExpectNear(Nums(At(scatter, "x")), {0, 0.0499});
  ExpectNear(Nums(At(scatter, "e2e_ms")), {39.8, 34.9});
  ExpectNear(Nums(At(scatter, "ttft_ms")), {12, 15});
  ExpectNear(Nums(At(scatter, "fail_x")), {0.2199});
  ExpectNear(Nums(At(scatter, "fail_e2e_ms")), {19.9});

  // Workers per engine, in summary.json's worker order.
  const Value& workers = At(data, "workers");
  ASSERT_EQ(workers.list_value().values_size(), 4);
  EXPECT_EQ(At(At(workers, 0), "worker").string_value(), "w1");
  EXPECT_EQ(At(At(workers, 0), "engine").string_value(), "vllm");
  ExpectNear(Nums(At(At(workers, 0), "completions_per_s")), {1 / window_s});
  ExpectNear(Nums(At(At(workers, 0), "concurrency")), {(39.8 + 19.9) / 239.8});
  EXPECT_EQ(At(At(workers, 3), "worker").string_value(), "w2");
  EXPECT_EQ(At(At(workers, 3), "engine").string_value(), "ollama");
}

// Longer than one bucket: 3 requests over 2.5 s; the last bucket covers 0.5 s.
TEST(ReportDataJsonTest, BucketsAndPartialLastBucket) {
  const std::string csv =
      "engine,worker_id,warmup,sent_ns,first_token_ns,end_ns,chunk_offsets_ns,output_tokens,"
      "error_class\n"
      "vllm,w1,false,1000000000,1100000000,2500000000,100000000;200000000,2,none\n"
      "vllm,w1,false,1500000000,,2000000000,,0,timeout\n"
      "vllm,w1,false,3000000000,3010000000,3500000000,10000000,1,none\n";
  absl::StatusOr<std::string> json = DataFor(csv);
  ASSERT_TRUE(json.ok()) << json.status();
  Value data = ParseJson(*json);
  const Value& vllm = At(At(data, "time"), 0);
  // Ends at 1.5 s (bucket 1) and 2.5 s (bucket 2, covering 0.5 s); the timeout at 1.0 s.
  ExpectNear(Nums(At(vllm, "completions_per_s")), {0, 1, 2});
  ExpectNear(Nums(At(vllm, "output_tokens_per_s")), {0, 2, 2});
  ExpectNear(Nums(At(At(vllm, "errors_per_s"), "timeout")), {0, 1, 0});
  // In flight: [0, 1.5] and [0.5, 1.0] and [2.0, 2.5].
  ExpectNear(Nums(At(vllm, "concurrency")), {1.5, 0.5, 1});
  ExpectNear(Nums(At(vllm, "e2e_p50_ms")), {1500, -1, 500});
  // One CDF point per distinct value; TPOT needs >= 2 tokens.
  EXPECT_EQ(At(At(At(At(data, "dist"), "tpot_ms"), "engines"), 0).struct_value().fields().at("n").number_value(), 1);
}

TEST(ReportDataJsonTest, LargeRunIsDownsampled) {
  std::string csv =
      "engine,worker_id,warmup,sent_ns,first_token_ns,end_ns,chunk_offsets_ns,output_tokens,"
      "error_class\n";
  const int n = 20000;  // 2 requests per ms for 10 s
  for (int i = 0; i < n; ++i) {
    const int64_t sent = int64_t{i} * 500'000;
    csv += "vllm,w1,false," + std::to_string(sent) + "," + std::to_string(sent + 10'000'000 + i) +
           "," + std::to_string(sent + 50'000'000) + ",10000000;20000000,2,none\n";
  }
  absl::StatusOr<std::string> json = DataFor(csv);
  ASSERT_TRUE(json.ok()) << json.status();
  Value data = ParseJson(*json);
  const Value& scatter = At(At(At(data, "time"), 0), "scatter");
  EXPECT_EQ(At(scatter, "stride").number_value(), 4);  // ceil(20000 / 5000)
  EXPECT_EQ(At(scatter, "x").list_value().values_size(), 5000);
  const Value& cdf = At(At(At(At(At(data, "dist"), "ttft_ms"), "engines"), 0), "cdf");
  EXPECT_EQ(At(cdf, "x").list_value().values_size(), static_cast<int>(kCdfPoints));
  EXPECT_EQ(At(At(At(data, "time"), 0), "concurrency").list_value().values_size(), 11);
}

TEST(ReportDataJsonTest, MalformedCsvNamesTheProblem) {
  const std::string header =
      "engine,worker_id,warmup,sent_ns,first_token_ns,end_ns,chunk_offsets_ns,output_tokens,"
      "error_class\n";
  EXPECT_EQ(DataFor("").status().message(), "requests.csv: empty (no header line)");
  EXPECT_EQ(DataFor("engine,worker_id\n").status().message(),
            "requests.csv:1: no column \"warmup\" (not a llmbench requests.csv)");
  EXPECT_EQ(DataFor(header + "vllm,w1,false,1\n").status().message(),
            "requests.csv:2: 4 fields, the header has 9");
  EXPECT_EQ(DataFor(header + "vllm,w1,false,abc,,5,,0,none\n").status().message(),
            "requests.csv:2: column sent_ns: 'abc' is not an integer");
  EXPECT_EQ(DataFor(header + "vllm,w1,maybe,1,,5,,0,none\n").status().message(),
            "requests.csv:2: column warmup: 'maybe' is not true or false");
  EXPECT_EQ(DataFor(header + "vllm,w1,false,1,,5,1;x,0,none\n").status().message(),
            "requests.csv:2: column chunk_offsets_ns: '1;x' is not a ';'-separated list of "
            "integers");
  EXPECT_EQ(DataFor(header + "vllm,w1,false,1,,5,,-3,none\n").status().message(),
            "requests.csv:2: column output_tokens: '-3' is not a count");
  EXPECT_EQ(DataFor(header + "\"vllm,w1,false,1,,5,,0,none\n").status().message(),
            "requests.csv:2: a quoted field is not closed before the end of the file");
  EXPECT_EQ(DataFor(header + "\"vllm\"x,w1,false,1,,5,,0,none\n").status().message(),
            "requests.csv:2: field 1 has text after its closing quote");
  EXPECT_EQ(DataFor(header + "vllm,w1,false,1,,5,,0,none\n").status().code(),
            absl::StatusCode::kOk);
}

TEST(RenderHtmlReportTest, SelfContainedAndEscaped) {
  v1::RunResult result = GoldenResult();
  result.mutable_verdict()->add_reasons("odd </script><script>alert(1)</script> reason");
  absl::StatusOr<std::string> summary = SummaryJson(result);
  ASSERT_TRUE(summary.ok());
  std::ifstream csv(kGoldenDir + "/requests.csv");
  absl::StatusOr<std::string> html =
      RenderHtmlReport(result, *summary, "name: </script>golden\n", &csv);
  ASSERT_TRUE(html.ok()) << html.status();
  // Exactly the three inline scripts we put there (error capture, uPlot, report) plus the
  // data; the hostile strings did not close any of them.
  size_t closes = 0;
  for (size_t at = html->find("</script>"); at != std::string::npos;
       at = html->find("</script>", at + 1)) {
    ++closes;
  }
  EXPECT_EQ(closes, 4u);
  // summary.json's text as protobuf printed it (it escapes '<' and '>' itself).
  EXPECT_NE(html->find("odd \\u003c/script\\u003e\\u003cscript\\u003ealert(1)\\u003c/script\\u003e reason"),
            std::string::npos);
  // The scenario's YAML as the report writes it (common/json_writer.h, Go-HTML mode: '<', '>'
  // and '&' as \u escapes, like protobuf's JSON above).
  EXPECT_NE(html->find("name: \\u003c/script\\u003egolden\\n"), std::string::npos);
  EXPECT_NE(html->find(std::string(report_assets::UplotJs())), std::string::npos);
  EXPECT_NE(html->find(std::string(report_assets::ReportJs())), std::string::npos);
  EXPECT_NE(html->find("\"uplot_version\":\"" + std::string(report_assets::UplotVersion())),
            std::string::npos);
  // Offline: nothing is fetched.
  EXPECT_EQ(html->find("<script src"), std::string::npos);
  EXPECT_EQ(html->find("<link"), std::string::npos);
  EXPECT_EQ(html->find("src=\"http"), std::string::npos);
  EXPECT_EQ(html->find("url(http"), std::string::npos);
  EXPECT_EQ(html->find("@import"), std::string::npos);
}

// A run with two priced engines and one capacity sweep whose probes ran out of throughput order.
v1::RunResult CostSweepResult() {
  v1::RunResult result;
  v1::EngineResult* a = result.add_engines();
  a->set_engine("vllm");
  a->mutable_cost()->set_price_per_hour(3.6);
  a->mutable_cost()->set_gpu_count(1);
  a->mutable_cost()->set_per_million_output_tokens(2.5);
  a->mutable_cost()->set_per_million_total_tokens(1.25);
  a->mutable_cost()->set_per_request(0.0004);
  result.add_engines()->set_engine("unpriced");
  v1::EngineResult* b = result.add_engines();
  b->set_engine("tgi <x>");
  b->mutable_cost()->set_price_per_hour(7.2);
  b->mutable_cost()->set_per_million_output_tokens(5);  // no throughput for the others
  v1::SweepResult* sweep = result.add_sweeps();
  sweep->set_engine("vllm");
  sweep->set_knee_rps(6);
  sweep->set_first_bad_rps(8);
  sweep->set_note("bisected");
  auto add = [&](double offered, double achieved, bool good, bool has_latency) {
    v1::SweepPoint* p = sweep->add_points();
    p->set_offered_rps(offered);
    p->set_achieved_rps(achieved);
    p->set_good(good);
    if (has_latency) {
      p->set_ttft_p50_ms(10 * offered);
      p->set_ttft_p99_ms(20 * offered);
      p->set_e2e_p50_ms(100 * offered);
      p->set_e2e_p99_ms(200 * offered);
    }
  };
  add(2, 2, true, true);     // probe 0
  add(8, 6.5, false, true);  // probe 1
  add(4, 4, true, true);     // probe 2
  add(16, 0, false, false);  // probe 3: nothing succeeded
  add(6, 5.9, true, true);   // probe 4: the knee
  return result;
}

TEST(CostSweepJsonTest, CostsAndSortedSweepSeries) {
  const std::string json = CostSweepJson(CostSweepResult());
  const Value data = ParseJson(json);
  const Value& costs = At(data, "costs");
  ASSERT_EQ(costs.list_value().values_size(), 2);  // the unpriced engine has no row
  const Value& vllm = At(costs, 0);
  EXPECT_EQ(At(vllm, "engine").string_value(), "vllm");
  EXPECT_EQ(At(vllm, "price_per_hour").number_value(), 3.6);
  EXPECT_EQ(At(vllm, "gpu_count").number_value(), 1);
  EXPECT_EQ(At(vllm, "per_million_output_tokens").number_value(), 2.5);
  EXPECT_EQ(At(vllm, "per_million_total_tokens").number_value(), 1.25);
  EXPECT_EQ(At(vllm, "per_request").number_value(), 0.0004);
  EXPECT_EQ(At(vllm, "output_vs_cheapest").number_value(), 1);
  const Value& tgi = At(costs, 1);
  EXPECT_EQ(At(tgi, "engine").string_value(), "tgi <x>");
  EXPECT_TRUE(At(tgi, "gpu_count").has_null_value());
  EXPECT_TRUE(At(tgi, "per_million_total_tokens").has_null_value());
  EXPECT_TRUE(At(tgi, "per_request").has_null_value());
  EXPECT_EQ(At(tgi, "output_vs_cheapest").number_value(), 2);
  EXPECT_EQ(json.find('<'), std::string::npos) << "engine names are escaped";

  const Value& sweeps = At(data, "sweeps");
  ASSERT_EQ(sweeps.list_value().values_size(), 1);
  const Value& sweep = At(sweeps, 0);
  EXPECT_EQ(At(sweep, "engine").string_value(), "vllm");
  EXPECT_EQ(At(sweep, "knee_rps").number_value(), 6);
  EXPECT_EQ(At(sweep, "first_bad_rps").number_value(), 8);
  EXPECT_EQ(At(sweep, "note").string_value(), "bisected");
  // Sorted by achieved rate: probes 3 (0), 0 (2), 2 (4), 4 (5.9), 1 (6.5).
  EXPECT_EQ(Nums(At(sweep, "probe")), (std::vector<double>{3, 0, 2, 4, 1}));
  EXPECT_EQ(Nums(At(sweep, "achieved_rps")), (std::vector<double>{0, 2, 4, 5.9, 6.5}));
  EXPECT_EQ(Nums(At(sweep, "offered_rps")), (std::vector<double>{16, 2, 4, 6, 8}));
  EXPECT_EQ(Nums(At(sweep, "good")), (std::vector<double>{0, 1, 1, 1, 0}));
  EXPECT_EQ(Nums(At(sweep, "ttft_p50_ms")), (std::vector<double>{-1, 20, 40, 60, 80}));
  EXPECT_EQ(Nums(At(sweep, "ttft_p99_ms")), (std::vector<double>{-1, 40, 80, 120, 160}));
  EXPECT_EQ(Nums(At(sweep, "e2e_p50_ms")), (std::vector<double>{-1, 200, 400, 600, 800}));
  EXPECT_EQ(Nums(At(sweep, "e2e_p99_ms")), (std::vector<double>{-1, 400, 800, 1200, 1600}));
  EXPECT_EQ(At(sweep, "knee_index").number_value(), 3);
}

TEST(CostSweepJsonTest, NoCostNoSweepAndNoKnee) {
  EXPECT_EQ(CostSweepJson(GoldenResult()), "{\"costs\":[],\"sweeps\":[]}");
  v1::RunResult result;
  v1::SweepResult* sweep = result.add_sweeps();
  sweep->set_engine("e");
  sweep->set_note("no probe sustained its rate");
  v1::SweepPoint* p = sweep->add_points();
  p->set_offered_rps(1);
  p->set_reason("no successful request");
  EXPECT_EQ(CostSweepJson(result),
            "{\"costs\":[],\"sweeps\":[{\"engine\":\"e\",\"knee_rps\":null,"
            "\"first_bad_rps\":null,\"note\":\"no probe sustained its rate\",\"knee_index\":-1,"
            "\"achieved_rps\":[0],\"offered_rps\":[1],\"ttft_p50_ms\":[null],"
            "\"ttft_p99_ms\":[null],\"e2e_p50_ms\":[null],\"e2e_p99_ms\":[null],"
            "\"good\":[0],\"probe\":[0]}]}");
}

TEST(RenderHtmlReportTest, EmbedsCostAndSweepData) {
  const v1::RunResult result = CostSweepResult();
  absl::StatusOr<std::string> summary = SummaryJson(result);
  ASSERT_TRUE(summary.ok());
  absl::StatusOr<std::string> html = RenderHtmlReport(result, *summary, "", nullptr);
  ASSERT_TRUE(html.ok()) << html.status();
  EXPECT_NE(html->find("\"requests\":{\"has_requests\":false},\"derived\":" +
                       CostSweepJson(result) + ",\"banner\":" + VerdictBannerJson(result) +
                       ",\"telemetry\":" + TelemetryComparisonJson(result) + "}</script>"),
            std::string::npos);
  // summary.json rides along verbatim, sweeps and costs included.
  EXPECT_NE(html->find("\"per_million_output_tokens\": 2.5"), std::string::npos);
  EXPECT_NE(html->find("\"knee_rps\": 6"), std::string::npos);
}

TEST(WriteHtmlReportTest, WritesReportBesideSummary) {
  const std::string dir = testing::TempDir() + "/html_report_test_run";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const char* name : {"summary.json", "requests.csv"}) {
    std::filesystem::copy_file(kGoldenDir + "/" + name, dir + "/" + name);
  }
  ASSERT_TRUE(WriteHtmlReport(dir).ok());
  const std::string html = ReadFile(dir + "/report.html");
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("<title>llmbench report 20240101-000000-golden</title>"),
            std::string::npos);
  EXPECT_NE(html.find("\"has_requests\":true"), std::string::npos);

  // Without requests.csv the page still renders from summary.json.
  std::filesystem::remove(dir + "/requests.csv");
  ASSERT_TRUE(WriteHtmlReport(dir).ok());
  EXPECT_NE(ReadFile(dir + "/report.html").find("\"requests\":{\"has_requests\":false}"),
            std::string::npos);

  // A broken requests.csv is an error naming the file and line.
  std::ofstream(dir + "/requests.csv") << "engine,worker_id\n";
  absl::Status status = WriteHtmlReport(dir);
  EXPECT_EQ(status.message(),
            dir + "/requests.csv:1: no column \"warmup\" (not a llmbench requests.csv)");
  std::filesystem::remove_all(dir);
}

// A run of `requests` requests, `successes` of them successful, with the verdict `state`.
v1::RunResult BannerRun(v1::Verdict::State state, uint64_t requests, uint64_t successes) {
  v1::RunResult result;
  result.mutable_verdict()->set_state(state);
  result.mutable_overall()->set_requests(requests);
  result.mutable_overall()->set_successes(successes);
  result.mutable_overall()->set_failures(requests - successes);
  v1::EngineResult* engine = result.add_engines();
  engine->set_engine("sim");
  *engine->mutable_aggregates() = result.overall();
  return result;
}

TEST(VerdictBannerJsonTest, ValidRunThatExited0IsGreen) {
  v1::RunResult result = BannerRun(v1::Verdict::STATE_VALID, 200, 200);
  result.mutable_verdict()->set_exit_status(0);
  EXPECT_EQ(VerdictBannerJson(result),
            R"j({"tone":"good","state":"VALID","exit_status":0,"exit_reason":"","problems":[],)j"
            R"j("requests":200,"successes":200,"success_rate":1,"engines_below":[],"note":""})j");
}

TEST(VerdictBannerJsonTest, AllFailedIsRedWithTheErrorRateFirst) {
  v1::RunResult result = BannerRun(v1::Verdict::STATE_VALID, 400, 0);
  v1::Verdict* v = result.mutable_verdict();
  v->add_thresholds_crossed("error rate 100.0% (400 of 400 requests) > max_error_rate 5.0%");
  v->set_exit_status(3);
  v->set_exit_reason("thresholds crossed");
  EXPECT_EQ(VerdictBannerJson(result),
            R"j({"tone":"bad","state":"VALID","exit_status":3,"exit_reason":"thresholds crossed",)j"
            R"j("problems":["threshold crossed: error rate 100.0% (400 of 400 requests) \u003e )j"
            R"j(max_error_rate 5.0%","exit status 3: thresholds crossed",)j"
            R"j("no request succeeded (0 of 400)"],"requests":400,"successes":0,"success_rate":0,)j"
            R"j("engines_below":[],"note":""})j");
}

TEST(VerdictBannerJsonTest, EngineDownInterruptedAndInvalidAreRed) {
  for (v1::Verdict::State state : {v1::Verdict::STATE_ENGINE_DOWN, v1::Verdict::STATE_INTERRUPTED,
                                   v1::Verdict::STATE_INVALID}) {
    v1::RunResult result = BannerRun(state, 50, 10);
    result.mutable_verdict()->add_reasons("why it is so");
    result.mutable_verdict()->set_exit_status(state == v1::Verdict::STATE_INTERRUPTED ? 130 : 4);
    const Value banner = ParseJson(VerdictBannerJson(result));
    EXPECT_EQ(At(banner, "tone").string_value(), "bad") << state;
    EXPECT_EQ(At(At(banner, "problems"), 0).string_value(), "why it is so") << state;
    EXPECT_DOUBLE_EQ(At(banner, "success_rate").number_value(), 0.2);
  }
  v1::RunResult down = BannerRun(v1::Verdict::STATE_ENGINE_DOWN, 0, 0);
  down.mutable_verdict()->add_reasons(
      "engine sim was unreachable for 3.0 s (every request failed to connect)");
  const Value banner = ParseJson(VerdictBannerJson(down));
  EXPECT_EQ(At(banner, "state").string_value(), "ENGINE_DOWN");
  EXPECT_EQ(At(banner, "tone").string_value(), "bad");
  EXPECT_TRUE(At(banner, "exit_status").has_null_value());
  ASSERT_EQ(At(banner, "problems").list_value().values_size(), 2);
  EXPECT_EQ(At(At(banner, "problems"), 1).string_value(), "no request was measured");
  EXPECT_TRUE(At(banner, "success_rate").has_null_value());
}

TEST(VerdictBannerJsonTest, DegradedIsAmberAndAFailedExitIsRed) {
  v1::RunResult result = BannerRun(v1::Verdict::STATE_DEGRADED, 100, 99);
  result.mutable_verdict()->add_reasons("worker w1 failed at 2.0 s; 10 requests reassigned");
  result.mutable_verdict()->set_exit_status(0);
  Value banner = ParseJson(VerdictBannerJson(result));
  EXPECT_EQ(At(banner, "tone").string_value(), "warn");
  EXPECT_EQ(At(At(banner, "problems"), 0).string_value(),
            "worker w1 failed at 2.0 s; 10 requests reassigned");
  result.mutable_verdict()->set_exit_status(3);
  banner = ParseJson(VerdictBannerJson(result));
  EXPECT_EQ(At(banner, "tone").string_value(), "bad");
  EXPECT_EQ(At(At(banner, "problems"), 1).string_value(), "exit status 3");
}

// A VALID verdict that says it exited 0 is still not green when nothing succeeded.
TEST(VerdictBannerJsonTest, NoSuccessIsNeverGreen) {
  v1::RunResult result = BannerRun(v1::Verdict::STATE_VALID, 8, 0);
  result.mutable_verdict()->set_exit_status(0);
  const Value banner = ParseJson(VerdictBannerJson(result));
  EXPECT_EQ(At(banner, "tone").string_value(), "bad");
  EXPECT_EQ(At(At(banner, "problems"), 0).string_value(), "no request succeeded (0 of 8)");
}

// summary.json files from before exit statuses: unknown, never taken as 0.
TEST(VerdictBannerJsonTest, OlderSummaryWithoutExitStatusIsUnknown) {
  const std::string note =
      "exit status not recorded (a summary.json from an older llmbench): judge the success rate "
      "and the numbers below";
  // The golden summary.json (VALID, 4 of 6 succeeded) as an older llmbench wrote it.
  v1::RunResult older = GoldenResult();
  older.mutable_verdict()->clear_exit_status();
  older.mutable_verdict()->clear_exit_reason();
  older.mutable_verdict()->clear_thresholds_crossed();
  const Value golden = ParseJson(VerdictBannerJson(older));
  EXPECT_EQ(At(golden, "tone").string_value(), "unknown");
  EXPECT_TRUE(At(golden, "exit_status").has_null_value());
  EXPECT_EQ(At(golden, "note").string_value(), note);
  EXPECT_EQ(At(golden, "problems").list_value().values_size(), 0);
  EXPECT_NEAR(At(golden, "success_rate").number_value(), 4.0 / 6, 1e-6);
  // An old all-failed run: red on the facts alone.
  const Value failed = ParseJson(VerdictBannerJson(BannerRun(v1::Verdict::STATE_VALID, 5, 0)));
  EXPECT_EQ(At(failed, "tone").string_value(), "bad");
  EXPECT_EQ(At(At(failed, "problems"), 0).string_value(), "no request succeeded (0 of 5)");
  EXPECT_EQ(At(failed, "note").string_value(), note);
}

// Exit status 0 survives summary.json (proto3 JSON would drop a plain zero) and an absent one
// stays absent.
TEST(VerdictBannerJsonTest, ExitStatusZeroRoundTripsThroughSummaryJson) {
  v1::RunResult result = BannerRun(v1::Verdict::STATE_VALID, 3, 3);
  result.mutable_verdict()->set_exit_status(0);
  absl::StatusOr<std::string> json = SummaryJson(result);
  ASSERT_TRUE(json.ok());
  EXPECT_NE(json->find("\"exit_status\": 0"), std::string::npos) << *json;
  v1::RunResult back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(*json, &back).ok());
  EXPECT_TRUE(back.verdict().has_exit_status());
  EXPECT_EQ(At(ParseJson(VerdictBannerJson(back)), "tone").string_value(), "good");
  result.mutable_verdict()->clear_exit_status();
  json = SummaryJson(result);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(json->find("exit_status"), std::string::npos);
}

TEST(VerdictBannerJsonTest, EnginesBelowFullSuccessAndSweeps) {
  v1::RunResult result = BannerRun(v1::Verdict::STATE_VALID, 20, 15);
  result.mutable_verdict()->set_exit_status(0);
  result.mutable_engines(0)->mutable_aggregates()->set_requests(10);
  result.mutable_engines(0)->mutable_aggregates()->set_successes(10);
  v1::EngineResult* b = result.add_engines();
  b->set_engine("other <b>");
  b->mutable_aggregates()->set_requests(10);
  b->mutable_aggregates()->set_successes(5);
  EXPECT_EQ(VerdictBannerJson(result),
            R"j({"tone":"good","state":"VALID","exit_status":0,"exit_reason":"","problems":[],)j"
            R"j("requests":20,"successes":15,"success_rate":0.75,"engines_below":[{"engine":)j"
            R"j("other \u003cb\u003e","requests":10,"successes":5,"success_rate":0.5}],)j"
            R"j("note":""})j");
  // A capacity sweep has no run-wide aggregates: its knee probes count.
  v1::RunResult sweep = BannerRun(v1::Verdict::STATE_VALID, 0, 0);
  sweep.mutable_verdict()->set_exit_status(0);
  sweep.mutable_engines(0)->mutable_aggregates()->set_requests(30);
  sweep.mutable_engines(0)->mutable_aggregates()->set_successes(30);
  sweep.add_sweeps()->set_engine("sim");
  const Value banner = ParseJson(VerdictBannerJson(sweep));
  EXPECT_EQ(At(banner, "tone").string_value(), "good");
  EXPECT_EQ(At(banner, "requests").number_value(), 30);
}

TEST(TelemetryComparisonJsonTest, BucketsAndOnlyResolvableDifferences) {
  v1::RunResult result;
  v1::EngineResult* e = result.add_engines();
  e->set_engine("vllm");
  v1::EngineTelemetry* t = e->mutable_telemetry();
  // TTFT: 2 in (10, 20] ms, 2 in (20, 40] ms. Queue: all 4 in the first bucket (0, 300] ms.
  for (const auto& [le, count] : std::vector<std::pair<double, double>>{
           {0.01, 0}, {0.02, 2}, {0.04, 4}, {std::numeric_limits<double>::infinity(), 4}}) {
    v1::HistogramBucket* bucket = t->mutable_server_ttft()->add_buckets();
    bucket->set_le(le);
    bucket->set_count(count);
  }
  t->mutable_server_ttft()->set_count(4);
  for (const auto& [le, count] : std::vector<std::pair<double, double>>{
           {0.3, 4}, {std::numeric_limits<double>::infinity(), 4}}) {
    v1::HistogramBucket* bucket = t->mutable_server_queue()->add_buckets();
    bucket->set_le(le);
    bucket->set_count(count);
  }
  t->mutable_server_queue()->set_count(4);
  t->mutable_server_queue()->set_mean_ms(0);
  v1::ClientVsServer* c = t->mutable_client_vs_server();
  c->set_client_ttft_p50_ms(25);    // above (10, 20]: 5 ms, between 5 and 15
  c->set_client_ttft_p99_ms(29.9);  // inside (20, 40]
  c->set_ttft_p99_diff_ms(-9.7);    // as an older llmbench stored it: ignored
  result.add_engines()->set_engine("no telemetry");
  EXPECT_EQ(
      TelemetryComparisonJson(result),
      R"j({"engines":[{"engine":"vllm","quantiles":{"ttft":{"p50":{"estimate":20,"lower":10,)j"
      R"j("upper":20},"p90":{"estimate":36,"lower":20,"upper":40},"p99":{"estimate":39.6,)j"
      R"j("lower":20,"upper":40}},"queue":{"p50":{"estimate":150,"lower":0,"upper":300},)j"
      R"j("p90":{"estimate":270,"lower":0,"upper":300},"p99":{"estimate":297,"lower":0,)j"
      R"j("upper":300}}},"compare":{"ttft_p50":{"diff":5,"min":5,"max":15,"why_not":""},)j"
      R"j("ttft_p99":{"diff":null,"min":null,"max":null,"why_not":"too coarse to compare: )j"
      R"j(the server's value lies somewhere in its 20–40 ms bucket, which holds the client's )j"
      R"j(29.9 ms too"}}}]})j");
}

TEST(WriteHtmlReportTest, MissingSummaryIsNotFound) {
  const std::string dir = testing::TempDir() + "/html_report_test_missing";
  std::filesystem::remove_all(dir);
  absl::Status status = WriteHtmlReport(dir);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace llmbench::coordinator
