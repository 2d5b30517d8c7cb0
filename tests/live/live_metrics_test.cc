// The live metrics endpoint end to end: a real llmbench-sim (vLLM personality, deterministic
// latency model), one real llmbench-worker (port 0) and the real `llmbench load` with
// `--metrics-listen 127.0.0.1:0`. The test reads the printed address from llmbench's stderr,
// scrapes /metrics repeatedly while the run goes on, and checks:
//   - every scrape is valid exposition text (HELP and TYPE before a family's samples, samples
//     of a histogram family are _bucket/_sum/_count, buckets cumulative up to +Inf, _count
//     equal to the +Inf bucket);
//   - scrapes taken while the process still runs (checked after each scrape) show counters
//     that never go back and that grew between the first and the last;
//   - the last mid-run scrape's counts are <= what summary.json reports for the whole run,
//     and run_info names the run that summary.json describes;
//   - the endpoint is gone once the run is over.
// Timing on the 2-core CI machine: a 6 s open-loop run at 20 req/s of ~0.16 s requests; one
// scrape every 400 ms gives ~15 mid-run scrapes; the test needs 2 with records between them.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/prometheus_text.h"
#include "common/version.h"
#include "coordinator/exporters.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/harness.h"

namespace llmbench::live {
namespace {

namespace v1 = ::llmbench::v1;
using llmbench::testing::HttpGet;
using llmbench::testing::SimProcess;
using llmbench::testing::Subprocess;

// ---------------------------------------------------------------------------------------------
// Scrapes.

struct ScrapedSample {
  std::string name;
  Labels labels;  // sorted by name, unescaped
  double value = 0;

  std::string Label(std::string_view key) const {
    for (const auto& [k, v] : labels) {
      if (k == key) return v;
    }
    return "";
  }
  // "name{k=v,...}" without `drop` (to find a bucket's histogram series).
  std::string Key(std::string_view drop = "") const {
    std::string key = name + "{";
    for (const auto& [k, v] : labels) {
      if (k == drop) continue;
      absl::StrAppend(&key, k, "=", v, ",");
    }
    return key + "}";
  }
};

struct Scrape {
  std::vector<ScrapedSample> samples;
  std::map<std::string, std::string> types;  // family -> counter | gauge | histogram

  // Sum of the samples named `name` whose labels include every (key, value) in `match`.
  double Sum(std::string_view name,
             const std::vector<std::pair<std::string, std::string>>& match = {}) const {
    double total = 0;
    for (const ScrapedSample& s : samples) {
      if (s.name != name) continue;
      bool all = true;
      for (const auto& [k, v] : match) all = all && s.Label(k) == v;
      if (all) total += s.value;
    }
    return total;
  }
};

// Parses `text` with the strict parser of common/prometheus_text.h and checks what a valid
// exposition needs beyond parsing: HELP then TYPE once per family before its samples, no bare
// sample in a histogram family, and every histogram series with increasing bounds ending at
// +Inf, cumulative counts and _count equal to the +Inf bucket. Violations are test failures.
Scrape Parse(const std::string& text) {
  Scrape scrape;
  EXPECT_TRUE(text.empty() || text.back() == '\n') << "the text must end with a newline";
  std::set<std::string> helped;
  std::map<std::string, std::string> declared;  // family -> type, in line order
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<std::string> parts = absl::StrSplit(line, absl::MaxSplits(' ', 3));
    if (absl::StartsWith(line, "# HELP ")) {
      EXPECT_EQ(parts.size(), 4u) << line;
      if (parts.size() == 4) helped.insert(parts[2]);
    } else if (absl::StartsWith(line, "# TYPE ")) {
      EXPECT_EQ(parts.size(), 4u) << line;
      if (parts.size() != 4) continue;
      EXPECT_TRUE(helped.contains(parts[2])) << "TYPE before HELP: " << line;
      EXPECT_FALSE(declared.contains(parts[2])) << "family declared twice: " << line;
      declared[parts[2]] = parts[3];
    } else {
      EXPECT_FALSE(absl::StartsWith(line, "#")) << line;
      const std::string name(line.substr(0, line.find_first_of("{ ")));
      std::string family = name;
      for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
        const std::string base = name.substr(0, name.size() - std::min(name.size(), suffix.size()));
        if (name.ends_with(suffix) && declared[base] == "histogram") family = base;
      }
      EXPECT_TRUE(declared.contains(family)) << "sample before its TYPE: " << line;
      if (declared[family] == "histogram") {
        EXPECT_NE(family, name) << "a bare sample in a histogram family: " << line;
      }
    }
  }
  absl::StatusOr<MetricSet> parsed = ParsePrometheusText(text);
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  if (!parsed.ok()) return scrape;
  for (const MetricFamily& family : parsed->families) {
    EXPECT_THAT(family.type, ::testing::AnyOf(MetricType::kCounter, MetricType::kGauge,
                                              MetricType::kHistogram))
        << family.name;
    scrape.types[family.name] = std::string(MetricTypeName(family.type));
    for (const Sample& sample : family.samples) {
      if (family.type == MetricType::kCounter || family.type == MetricType::kHistogram) {
        EXPECT_GE(sample.value, 0) << sample.name;
      }
      scrape.samples.push_back({sample.name, sample.labels, sample.value});
    }
    if (family.type != MetricType::kHistogram) continue;
    for (const HistogramSeries& series : family.histograms) {
      std::string where = family.name;
      for (const auto& [k, v] : series.labels) absl::StrAppend(&where, " ", k, "=", v);
      EXPECT_GE(series.buckets.size(), 2u) << where;
      if (series.buckets.size() < 2) continue;
      EXPECT_EQ(series.buckets.back().upper_bound, std::numeric_limits<double>::infinity())
          << where;
      for (size_t k = 1; k < series.buckets.size(); ++k) {
        EXPECT_LT(series.buckets[k - 1].upper_bound, series.buckets[k].upper_bound) << where;
        EXPECT_LE(series.buckets[k - 1].count, series.buckets[k].count)
            << where << " is not cumulative";
      }
      EXPECT_TRUE(series.count.has_value() && series.sum.has_value()) << where;
      EXPECT_EQ(series.count.value_or(-1), series.buckets.back().count)
          << where << ": _count differs from the +Inf bucket";
    }
  }
  return scrape;
}

// ---------------------------------------------------------------------------------------------

class LiveMetricsIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("LLMBENCH_WORKER_TOKEN");
    unsetenv("LLMBENCH_TOKEN");
    SimProcess::Options options;
    options.kinds = {"vllm"};
    options.args = {"--jitter", "0", "--ttft-base-ms", "30", "--itl-ms", "8",
                    "--itl-per-seq-us", "0", "--natural-tokens", "0", "--max-batch", "256",
                    "--seed", "7", "--threads", "1"};
    absl::StatusOr<std::unique_ptr<SimProcess>> sim = SimProcess::Start(options);
    ASSERT_TRUE(sim.ok()) << sim.status();
    sim_ = *std::move(sim);
    absl::StatusOr<std::unique_ptr<Subprocess>> worker =
        Subprocess::Start({LLMBENCH_WORKER_BINARY, "--listen", "127.0.0.1:0", "--loop-threads",
                           "1", "--worker-id", "live-worker", "--log-level", "warn"});
    ASSERT_TRUE(worker.ok()) << worker.status();
    worker_ = *std::move(worker);
    auto line = worker_->WaitForStdoutLine(0, std::chrono::seconds(15));
    constexpr std::string_view kPrefix = "listening grpc://";
    ASSERT_TRUE(line.ok() && line->second.starts_with(kPrefix))
        << (line.ok() ? line->second : std::string(line.status().message())) << "; stderr: "
        << worker_->Stderr();
    worker_address_ = line->second.substr(kPrefix.size());
    char templ[] = "/tmp/llmbench-live-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    scratch_ = templ;
  }

  void TearDown() override {
    if (!scratch_.empty() && !HasFailure()) {
      std::error_code ec;
      std::filesystem::remove_all(scratch_, ec);
    }
  }

  std::unique_ptr<SimProcess> sim_;
  std::unique_ptr<Subprocess> worker_;
  std::string worker_address_;
  std::string scratch_;
};

TEST_F(LiveMetricsIntegrationTest, ScrapedMidRunCountersGrowAndStayWithinTheSummary) {
  const std::string out = scratch_ + "/run";
  absl::StatusOr<std::unique_ptr<Subprocess>> started = Subprocess::Start(
      {LLMBENCH_COORDINATOR_BINARY, "load", "-e", "vllm", "-u", sim_->BaseUrl("vllm"), "-m",
       "sim-model", "--rate", "20", "--duration", "6", "--max-tokens", "16", "--prompt-tokens",
       "32", "--warmup", "3", "--workers", worker_address_, "--out", out, "--quiet",
       "--metrics-listen", "127.0.0.1:0"});
  ASSERT_TRUE(started.ok()) << started.status();
  Subprocess& llmbench = **started;

  // The address, printed to stderr before the run starts.
  constexpr std::string_view kPrefix = "live metrics ";
  std::string url;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (url.empty() && std::chrono::steady_clock::now() < deadline) {
    const std::string err = llmbench.Stderr();
    const size_t at = err.find(kPrefix);
    const size_t eol = at == std::string::npos ? at : err.find('\n', at);
    if (eol != std::string::npos) {
      url = err.substr(at + kPrefix.size(), eol - at - kPrefix.size());
    } else if (llmbench.Wait(std::chrono::milliseconds(0)).ok()) {
      break;  // exited without printing it
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ASSERT_THAT(url, ::testing::MatchesRegex("http://127\\.0\\.0\\.1:[0-9]+/metrics"))
      << "stderr: " << llmbench.Stderr();

  // Scrape until the run is over; keep the scrapes taken while it still ran.
  std::vector<Scrape> mid_run;
  std::string last_text;
  const auto run_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (std::chrono::steady_clock::now() < run_deadline) {
    testing::HttpOptions options;
    options.timeout = std::chrono::seconds(10);
    testing::HttpResponse r = HttpGet(url, options);
    const bool still_running = !llmbench.Wait(std::chrono::milliseconds(0)).ok();
    if (!still_running) break;  // this scrape may have raced the end of the run
    ASSERT_EQ(r.status, 200) << r.curl_error;
    EXPECT_EQ(r.Header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    mid_run.push_back(Parse(r.body));
    if (::testing::Test::HasFailure()) FAIL() << "invalid scrape:\n" << r.body;
    last_text = r.body;
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
  }
  absl::StatusOr<testing::ExitStatus> exit = llmbench.Wait(std::chrono::seconds(60));
  ASSERT_TRUE(exit.ok()) << exit.status();
  ASSERT_TRUE(exit->exited);
  // 0, or 4 when the verdict is INVALID because a loaded CI machine made the generator late:
  // either way the run completed and wrote its results, which is what this test compares.
  ASSERT_THAT(exit->code, ::testing::AnyOf(0, 4)) << llmbench.Stderr();
  ASSERT_GE(mid_run.size(), 2u) << "a 6 s run scraped every 0.4 s";
  RecordProperty("mid_run_scrapes", static_cast<int>(mid_run.size()));

  // Counters never go back; they grew between the first and the last mid-run scrape.
  for (size_t k = 1; k < mid_run.size(); ++k) {
    std::map<std::string, double> before;
    for (const ScrapedSample& s : mid_run[k - 1].samples) before[s.Key()] = s.value;
    for (const ScrapedSample& s : mid_run[k].samples) {
      const std::string family =
          mid_run[k].types.contains(s.name) ? s.name : s.name.substr(0, s.name.rfind('_'));
      if (mid_run[k].types[family] == "gauge") continue;
      if (!before.contains(s.Key())) continue;  // a new series (first error of a class)
      EXPECT_GE(s.value, before[s.Key()]) << s.Key() << " went back between scrapes " << k - 1
                                          << " and " << k;
    }
  }
  const Scrape& first = mid_run.front();
  const Scrape& last = mid_run.back();
  EXPECT_GT(last.Sum("llmbench_requests_total"), first.Sum("llmbench_requests_total"));
  EXPECT_GT(last.Sum("llmbench_output_tokens_total"), first.Sum("llmbench_output_tokens_total"));
  EXPECT_GT(last.Sum("llmbench_e2e_seconds_count"), first.Sum("llmbench_e2e_seconds_count"));
  double max_in_flight = 0;
  for (const Scrape& s : mid_run) {
    max_in_flight = std::max(max_in_flight, s.Sum("llmbench_requests_in_flight",
                                                  {{"worker", "live-worker"}}));
    // Open loop: every measured request has a schedule, so lateness counts all of them.
    EXPECT_EQ(s.Sum("llmbench_schedule_lateness_seconds_count"), s.Sum("llmbench_requests_total"));
  }
  // Arrivals every 50 ms of ~0.16 s requests keep about 3 in flight all the time.
  EXPECT_GT(max_in_flight, 0);
  RecordProperty("last_mid_run_requests",
                 static_cast<int>(mid_run.back().Sum("llmbench_requests_total")));

  // The last mid-run scrape is within what summary.json reports for the whole run.
  absl::StatusOr<v1::RunResult> result = coordinator::LoadRunResult(out);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->engines_size(), 1);
  const v1::Aggregates& engine = result->engines(0).aggregates();
  const std::vector<std::pair<std::string, std::string>> vllm = {{"engine", "vllm"}};
  EXPECT_GT(last.Sum("llmbench_requests_total", vllm), 0) << last_text;
  EXPECT_LE(last.Sum("llmbench_requests_total", vllm), engine.requests());
  EXPECT_LE(last.Sum("llmbench_requests_total", {{"engine", "vllm"}, {"outcome", "success"}}),
            engine.successes());
  EXPECT_LE(last.Sum("llmbench_output_tokens_total", vllm), engine.output_tokens_total());
  EXPECT_LE(last.Sum("llmbench_input_tokens_total", vllm), engine.input_tokens_total());
  EXPECT_LE(last.Sum("llmbench_ttft_seconds_count", vllm), engine.ttft_ms().count());
  EXPECT_LE(last.Sum("llmbench_itl_seconds_count", vllm), engine.itl_ms().count());
  EXPECT_LE(last.Sum("llmbench_e2e_seconds_count", vllm), engine.e2e_ms().count());
  EXPECT_LE(last.Sum("llmbench_schedule_lateness_seconds_count", vllm),
            engine.schedule_lateness_ms().count());
  // Every request generated exactly --max-tokens tokens (the sim never stops on its own).
  EXPECT_EQ(last.Sum("llmbench_output_tokens_total", vllm),
            16 * last.Sum("llmbench_requests_total", {{"engine", "vllm"}, {"outcome", "success"}}));
  EXPECT_EQ(last.Sum("llmbench_run_info", {{"run_id", result->run_id()},
                                           {"scenario", "load"},
                                           {"version", kVersion}}),
            1);
  EXPECT_GT(last.Sum("llmbench_run_elapsed_seconds"), first.Sum("llmbench_run_elapsed_seconds"));

  // The endpoint is gone with the run.
  testing::HttpOptions options;
  options.timeout = std::chrono::seconds(5);
  EXPECT_NE(HttpGet(url, options).curl_code, 0);
}

TEST_F(LiveMetricsIntegrationTest, AMalformedAddressFailsBeforeAnyRequest) {
  absl::StatusOr<std::unique_ptr<Subprocess>> started = Subprocess::Start(
      {LLMBENCH_COORDINATOR_BINARY, "quick", "-e", "vllm", "-u", sim_->BaseUrl("vllm"), "-m",
       "sim-model", "-n", "5", "--workers", worker_address_, "--out", scratch_ + "/bad",
       "--metrics-listen", "127.0.0.1:http"});
  ASSERT_TRUE(started.ok()) << started.status();
  absl::StatusOr<testing::ExitStatus> exit = (*started)->Wait(std::chrono::seconds(60));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(exit->exited);
  EXPECT_EQ(exit->code, 1);
  // The drain thread may still be reading the last bytes of stderr.
  for (int i = 0; i < 500 && !absl::EndsWith((*started)->Stderr(), "\n"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ((*started)->Stderr(),
            "llmbench: --metrics-listen \"127.0.0.1:http\": port \"http\" is not a number from "
            "0 to 65535 (expected HOST:PORT, e.g. 127.0.0.1:9464)\n");
  EXPECT_FALSE(std::filesystem::exists(scratch_ + "/bad/summary.json"));
}

}  // namespace
}  // namespace llmbench::live
