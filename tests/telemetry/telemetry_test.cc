// Engine telemetry end to end: a real llmbench-sim (vLLM, TGI and Ollama personalities), one
// real llmbench-worker and the real `llmbench run` as subprocesses over loopback. The engines'
// own metrics must come back beside the client's in summary.json, engine_metrics.csv and
// report.html.
//
// The simulator counts exactly (every generated token increments its counters before the
// client can see it) and never stops on its own (--natural-tokens 0, ignore_eos), so the
// engine's generation-token increase over the window equals the client's output-token total
// exactly. Its TTFT histogram measures from the request's arrival at the engine, which is
// after the client started its clock, so the server TTFT is below the client's; the estimate
// from buckets can be at most the top of the bucket holding the true value, which gives the
// stated tolerance below. Timeouts are generous for a loaded 2-core machine.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "coordinator/engine_metrics_csv.h"
#include "coordinator/engine_telemetry.h"
#include "coordinator/exporters.h"
#include "coordinator/server_histogram.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/harness.h"

namespace llmbench::telemetry_test {
namespace {

namespace v1 = ::llmbench::v1;
using llmbench::testing::ExitStatus;
using llmbench::testing::SimProcess;
using llmbench::testing::Subprocess;
using ::testing::HasSubstr;
using ::testing::Not;
using coordinator::FindServerQuantileBucket;
using coordinator::ServerQuantileBucket;

constexpr char kChromium[] = "/usr/bin/chromium";
constexpr uint64_t kRequests = 24;
constexpr uint64_t kWarmup = 2;
constexpr uint32_t kMaxTokens = 12;
constexpr uint32_t kPromptTokens = 50;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string EngineYaml(const std::string& name, const std::string& kind, const std::string& url) {
  return absl::StrCat("  - name: ", name, "\n    kind: ", kind, "\n    base_url: ", url,
                      "\n    model: sim-model\n");
}

std::string ScenarioYaml(const std::string& engines) {
  return absl::StrCat(
      "name: telemetry\n"
      "engines:\n", engines,
      "prompts:\n"
      "  synthetic:\n"
      "    input_tokens: {kind: fixed, mean: ", kPromptTokens, "}\n"
      "    count: 10\n"
      "generation:\n"
      "  max_tokens: ", kMaxTokens, "\n"
      "  ignore_eos: true\n"
      "  stream: true\n"
      "load:\n"
      "  concurrency: 4\n"
      "  requests: ", kRequests, "\n"
      "  warmup_requests: ", kWarmup, "\n"
      "telemetry:\n"
      "  interval_seconds: 0.2\n"
      "outputs:\n"
      "  csv: true\n"
      "seed: 3\n");
}

const v1::EngineResult* FindEngine(const v1::RunResult& result, const std::string& name) {
  for (const v1::EngineResult& e : result.engines()) {
    if (e.engine() == name) return &e;
  }
  return nullptr;
}

const v1::CounterDelta* FindCounter(const v1::EngineTelemetry& t, const std::string& name) {
  for (const v1::CounterDelta& c : t.counters()) {
    if (c.name() == name) return &c;
  }
  return nullptr;
}

const v1::GaugeSeries* FindGauge(const v1::EngineTelemetry& t, const std::string& name) {
  for (const v1::GaugeSeries& g : t.gauges()) {
    if (g.name() == name) return &g;
  }
  return nullptr;
}

// The smallest bucket bound >= v: the most a bucket-interpolated estimate of a value <= v can be.
double BucketTopAtOrAbove(const v1::ServerHistogram& h, double v_ms) {
  for (const v1::HistogramBucket& b : h.buckets()) {
    if (b.le() * 1000.0 >= v_ms) return b.le() * 1000.0;
  }
  return std::numeric_limits<double>::infinity();
}

class TelemetryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    unsetenv("LLMBENCH_WORKER_TOKEN");
    unsetenv("LLMBENCH_TOKEN");
    SimProcess::Options options;
    options.kinds = {"ollama", "vllm", "tgi"};
    options.args = {"--jitter", "0", "--ttft-base-ms", "30", "--ttft-per-token-us", "100",
                    "--itl-ms", "5", "--itl-per-seq-us", "0", "--natural-tokens", "0",
                    "--max-batch", "64", "--seed", "5", "--threads", "2"};
    absl::StatusOr<std::unique_ptr<SimProcess>> sim = SimProcess::Start(options);
    if (!sim.ok()) {
      setup_error_ = new std::string(sim.status().message());
      return;
    }
    sim_ = sim->release();
    absl::StatusOr<std::unique_ptr<Subprocess>> worker = Subprocess::Start(
        {LLMBENCH_WORKER_BINARY, "--listen", "127.0.0.1:0", "--loop-threads", "1", "--worker-id",
         "telemetry-worker", "--log-level", "warn"});
    if (!worker.ok()) {
      setup_error_ = new std::string(worker.status().message());
      return;
    }
    auto line = (*worker)->WaitForStdoutLine(0, std::chrono::seconds(15));
    constexpr std::string_view kPrefix = "listening grpc://";
    if (!line.ok() || !line->second.starts_with(kPrefix)) {
      setup_error_ = new std::string(absl::StrCat("worker did not print its address; stderr: ",
                                                  (*worker)->Stderr()));
      return;
    }
    address_ = new std::string(line->second.substr(kPrefix.size()));
    worker_ = worker->release();
  }

  static void TearDownTestSuite() {
    delete worker_;  // stops the worker
    worker_ = nullptr;
    delete sim_;
    sim_ = nullptr;
    delete address_;
    address_ = nullptr;
    delete setup_error_;
    setup_error_ = nullptr;
  }

  void SetUp() override {
    ASSERT_EQ(setup_error_, nullptr) << *setup_error_;
    char templ[] = "/tmp/llmbench-telemetry-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    scratch_ = templ;
  }

  void TearDown() override {
    std::error_code ec;
    if (!HasFailure()) std::filesystem::remove_all(scratch_, ec);
  }

  // Runs `llmbench run SCENARIO --workers W --out OUT --quiet`; returns its exit status.
  ExitStatus RunLlmbench(const std::string& scenario, const std::string& out, std::string* log) {
    auto process = Subprocess::Start({LLMBENCH_COORDINATOR_BINARY, "run", scenario, "--workers",
                                      *address_, "--out", out, "--quiet"});
    if (!process.ok()) {
      ADD_FAILURE() << process.status();
      return ExitStatus();
    }
    auto status = (*process)->Wait(std::chrono::seconds(120));
    ExitStatus exit = status.ok() ? *status : (*process)->Stop();
    EXPECT_TRUE(status.ok()) << "llmbench still running after 120 s";
    *log = absl::StrCat(absl::StrJoin((*process)->StdoutLines(), "\n"), "\n",
                        (*process)->Stderr());
    return exit;
  }

  // report.html as headless Chromium rendered it, up to the embedded data element.
  std::string RenderedDom(const std::string& report) {
    const std::string profile = scratch_ + "/chromium";
    auto process = Subprocess::Start(
        {kChromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--user-data-dir=" + profile, "--virtual-time-budget=10000",
         "--window-size=1400,6200", "--dump-dom", "file://" + report},
        {"HOME=" + profile});
    if (!process.ok()) {
      ADD_FAILURE() << "cannot start " << kChromium << " (install it with "
                    << "scripts/install-deps.sh): " << process.status();
      return "";
    }
    auto status = (*process)->Wait(std::chrono::seconds(120));
    EXPECT_TRUE(status.ok() && status->exited && status->code == 0)
        << "chromium failed: " << (*process)->Stderr();
    const std::string dom = absl::StrJoin((*process)->StdoutLines(), "\n");
    return dom.substr(0, dom.find("id=\"llmbench-data\""));
  }

  static inline std::string* setup_error_ = nullptr;
  static inline SimProcess* sim_ = nullptr;
  static inline Subprocess* worker_ = nullptr;
  static inline std::string* address_ = nullptr;
  std::string scratch_;
};

TEST_F(TelemetryTest, VllmAndTgiServerMetricsBesideClientMetrics) {
  const std::string scenario = scratch_ + "/scenario.yaml";
  WriteFile(scenario, ScenarioYaml(EngineYaml("sim-vllm", "vllm", sim_->BaseUrl("vllm")) +
                                   EngineYaml("sim-tgi", "tgi", sim_->BaseUrl("tgi"))));
  const std::string out = scratch_ + "/out";
  std::string log;
  ExitStatus exit = RunLlmbench(scenario, out, &log);
  ASSERT_TRUE(exit.exited && exit.code == 0) << log;
  absl::StatusOr<v1::RunResult> result = coordinator::LoadRunResult(out);
  ASSERT_TRUE(result.ok()) << result.status();
  // Every request the engine served in the window: measured plus warm-up, all successful,
  // each exactly kMaxTokens long.
  constexpr uint64_t kServed = kRequests + kWarmup;

  // vLLM.
  const v1::EngineResult* vllm = FindEngine(*result, "sim-vllm");
  ASSERT_NE(vllm, nullptr);
  ASSERT_TRUE(vllm->has_telemetry());
  const v1::EngineTelemetry& t = vllm->telemetry();
  EXPECT_EQ(t.source(), v1::EngineTelemetry::SOURCE_PROMETHEUS);
  EXPECT_EQ(t.dialect(), "vllm");
  EXPECT_EQ(t.url(), sim_->BaseUrl("vllm") + "/metrics");
  EXPECT_EQ(t.interval_s(), 0.2);
  EXPECT_GE(t.scrapes(), 2u);
  EXPECT_EQ(t.scrape_errors(), 0u);
  // The only notes: client − server comparisons the buckets cannot resolve.
  for (const std::string& note : t.notes()) {
    EXPECT_NE(note.find(" client − server: too coarse to compare: "), std::string::npos) << note;
  }
  EXPECT_GT(t.window_s(), 0.0);
  ASSERT_TRUE(t.has_client_vs_server());
  const v1::ClientVsServer& c = t.client_vs_server();
  EXPECT_EQ(c.client_requests(), kServed);
  EXPECT_EQ(c.client_successes(), kServed);
  EXPECT_EQ(c.server_requests_success(), static_cast<double>(kServed));
  // Tokens: exact.
  EXPECT_EQ(c.client_output_tokens(), kServed * kMaxTokens);
  EXPECT_EQ(vllm->aggregates().output_tokens_total(), kRequests * kMaxTokens);
  EXPECT_EQ(c.server_generation_tokens(), static_cast<double>(c.client_output_tokens()));
  EXPECT_EQ(c.output_tokens_diff(), 0.0);
  ASSERT_TRUE(c.has_client_input_tokens());
  EXPECT_EQ(c.server_prompt_tokens(), static_cast<double>(c.client_input_tokens()));
  EXPECT_EQ(FindCounter(t, "generation_tokens")->delta(), static_cast<double>(kServed * kMaxTokens));
  // TTFT: the server's p50 is positive and at most the top of the bucket holding the client's
  // p50 (the true server value is below the client's; interpolation stays inside its bucket).
  ASSERT_TRUE(t.has_server_ttft());
  EXPECT_EQ(t.server_ttft().count(), static_cast<double>(kServed));
  ASSERT_TRUE(c.has_server_ttft_p50_ms() && c.has_client_ttft_p50_ms());
  EXPECT_GT(c.server_ttft_p50_ms(), 0.0);
  EXPECT_LE(c.server_ttft_p50_ms(), BucketTopAtOrAbove(t.server_ttft(), c.client_ttft_p50_ms()));
  // client − server only where the client's value is at or above the server's whole bucket
  // (then it is >= 0); otherwise absent, with a note.
  std::optional<ServerQuantileBucket> p50_bucket = FindServerQuantileBucket(t.server_ttft(), 0.5);
  ASSERT_TRUE(p50_bucket.has_value());
  if (c.client_ttft_p50_ms() >= p50_bucket->upper_ms) {
    EXPECT_DOUBLE_EQ(c.ttft_p50_diff_ms(), c.client_ttft_p50_ms() - c.server_ttft_p50_ms());
    EXPECT_GE(c.ttft_p50_diff_ms(), 0.0);
  } else {
    EXPECT_FALSE(c.has_ttft_p50_diff_ms()) << c.ttft_p50_diff_ms();
    EXPECT_NE(absl::StrJoin(t.notes(), "\n").find("TTFT p50 client − server: "), std::string::npos);
  }
  // The server's mean TTFT is exact (sum / count) and below the client's median plus the
  // spread of the model (all prompts are equal: every TTFT is >= 35 ms in the model).
  EXPECT_GE(t.server_ttft().mean_ms(), 35.0 - 0.5);
  EXPECT_LE(t.server_ttft().mean_ms(), vllm->aggregates().ttft_ms().max());
  ASSERT_TRUE(t.has_server_e2e());
  EXPECT_EQ(t.server_e2e().count(), static_cast<double>(kServed));
  ASSERT_TRUE(t.has_server_itl());
  EXPECT_EQ(t.server_itl().count(), static_cast<double>(kServed * (kMaxTokens - 1)));
  const v1::GaugeSeries* running = FindGauge(t, "running_requests");
  ASSERT_NE(running, nullptr);
  EXPECT_EQ(running->values_size(), static_cast<int>(t.scrapes()));
  EXPECT_LE(running->max(), 4.0);  // concurrency 4
  EXPECT_EQ(running->values(running->values_size() - 1), 0.0);  // all done at the end scrape

  // TGI: no TTFT histogram in TGI, but tokens, queue and E2E.
  const v1::EngineResult* tgi = FindEngine(*result, "sim-tgi");
  ASSERT_NE(tgi, nullptr);
  ASSERT_TRUE(tgi->has_telemetry());
  const v1::EngineTelemetry& g = tgi->telemetry();
  EXPECT_EQ(g.dialect(), "tgi");
  EXPECT_EQ(g.scrape_errors(), 0u);
  ASSERT_TRUE(g.has_client_vs_server());
  EXPECT_EQ(g.client_vs_server().client_output_tokens(), kServed * kMaxTokens);
  EXPECT_EQ(g.client_vs_server().server_generation_tokens(),
            static_cast<double>(kServed * kMaxTokens));
  EXPECT_EQ(g.client_vs_server().server_requests_success(), static_cast<double>(kServed));
  EXPECT_FALSE(g.has_server_ttft());
  EXPECT_FALSE(g.client_vs_server().has_server_ttft_p50_ms());
  EXPECT_TRUE(g.client_vs_server().has_client_ttft_p50_ms());
  ASSERT_TRUE(g.has_server_queue());
  EXPECT_EQ(g.server_queue().count(), static_cast<double>(kServed));
  ASSERT_TRUE(g.has_server_e2e());
  EXPECT_GT(g.client_vs_server().server_e2e_p50_ms(), 0.0);
  EXPECT_NE(FindGauge(g, "batch_size"), nullptr);
  // TGI's per-request mean time per token (one observation per request), against the
  // model's 5 ms steps: the mean can only be later than the schedule, never earlier.
  ASSERT_TRUE(g.has_server_itl());
  EXPECT_EQ(g.server_itl().metric(), "tgi_request_mean_time_per_token_duration");
  EXPECT_EQ(g.server_itl().count(), static_cast<double>(kServed));
  EXPECT_GE(g.server_itl().mean_ms(), 5.0 - 1e-6);

  // summary.json carries it (LoadRunResult read it from there); the CSV has both engines.
  const std::string summary = ReadFile(out + "/summary.json");
  EXPECT_THAT(summary, HasSubstr("\"client_vs_server\""));
  const std::string csv = ReadFile(out + "/" + coordinator::kEngineMetricsFileName);
  EXPECT_THAT(csv, HasSubstr("engine,section,name,metric,t_s,client,server,diff\n"));
  EXPECT_THAT(csv, HasSubstr(absl::StrCat("sim-vllm,client_vs_server,output_tokens,,,",
                                          kServed * kMaxTokens, ",", kServed * kMaxTokens, ",0\n")));
  EXPECT_THAT(csv, HasSubstr(absl::StrCat("sim-tgi,client_vs_server,output_tokens,,,",
                                          kServed * kMaxTokens, ",", kServed * kMaxTokens, ",0\n")));
  EXPECT_THAT(csv, HasSubstr("sim-vllm,gauge,running_requests,vllm:num_requests_running,0,,"));

  // report.html: the section, rendered by a browser, with a row per engine's comparison.
  const std::string dom = RenderedDom(out + "/report.html");
  EXPECT_THAT(dom, HasSubstr("<section id=\"client-vs-server\"><h2>Client vs server</h2>"));
  EXPECT_THAT(dom, HasSubstr("data-engine=\"sim-vllm\""));
  EXPECT_THAT(dom, HasSubstr("data-engine=\"sim-tgi\""));
  EXPECT_THAT(dom, HasSubstr(">TTFT p50 (ms)</td>"));
  EXPECT_THAT(dom, HasSubstr(">output tokens</td>"));
  EXPECT_THAT(dom, HasSubstr("vllm:time_to_first_token_seconds"));
  EXPECT_THAT(dom, HasSubstr("data-chart=\"telemetry-gauges-0\""));
}

TEST_F(TelemetryTest, OllamaPsSamplesAndServerTimingsWithoutPrometheus) {
  const std::string scenario = scratch_ + "/scenario.yaml";
  WriteFile(scenario, ScenarioYaml(EngineYaml("sim-ollama", "ollama", sim_->BaseUrl("ollama"))));
  const std::string out = scratch_ + "/out";
  std::string log;
  ExitStatus exit = RunLlmbench(scenario, out, &log);
  ASSERT_TRUE(exit.exited && exit.code == 0) << log;
  absl::StatusOr<v1::RunResult> result = coordinator::LoadRunResult(out);
  ASSERT_TRUE(result.ok()) << result.status();
  const v1::EngineResult* ollama = FindEngine(*result, "sim-ollama");
  ASSERT_NE(ollama, nullptr);
  ASSERT_TRUE(ollama->has_telemetry());
  const v1::EngineTelemetry& t = ollama->telemetry();
  EXPECT_EQ(t.source(), v1::EngineTelemetry::SOURCE_OLLAMA_PS);
  EXPECT_EQ(t.dialect(), "ollama");
  EXPECT_EQ(t.url(), sim_->BaseUrl("ollama") + "/api/ps");
  EXPECT_EQ(t.scrape_errors(), 0u);
  ASSERT_GE(t.ps_samples_size(), 2);
  EXPECT_EQ(t.ps_samples(0).t_s(), 0.0);
  ASSERT_EQ(t.ps_samples(0).models_size(), 1);
  EXPECT_EQ(t.ps_samples(0).models(0).name(), "sim-model");
  EXPECT_EQ(t.ps_samples(0).models(0).size_vram_bytes(), 2019393189u);
  EXPECT_EQ(t.ps_samples(0).models(0).context_length(), 4096u);
  ASSERT_TRUE(t.has_server_timings());
  const v1::ServerTimingSummary& s = t.server_timings();
  EXPECT_EQ(s.requests(), kRequests + kWarmup);
  EXPECT_EQ(s.decode_tokens_per_s().count(), kRequests + kWarmup);
  // The model decodes one token per 5 ms: eval_count / eval_duration is at most 200 tokens/s
  // (eval_duration spans the 11 steps after the first token; see docs/metrics.md).
  EXPECT_GT(s.decode_tokens_per_s().p50(), 0.0);
  EXPECT_LE(s.decode_tokens_per_s().max(), 1000.0 / 5.0 * kMaxTokens / (kMaxTokens - 1) + 1e-6);
  // Prompt evaluation is the model's TTFT, 30 ms + 0.1 ms x 50 tokens = 35 ms, exactly (the
  // simulator reports its schedule, not its timer): 50 tokens / 35 ms.
  EXPECT_EQ(s.prompt_eval_ms().count(), kRequests + kWarmup);
  EXPECT_DOUBLE_EQ(s.prompt_eval_ms().p50(), 35.0);
  EXPECT_NEAR(s.prompt_eval_tokens_per_s().p50(), 50 / 0.035, 1e-6);
  EXPECT_TRUE(s.has_total_ms());
  // Every request is admitted at once (max batch 64), so load_duration is 0, which Ollama (and
  // the simulator) leave out of the answer: unmeasured, so absent rather than zero.
  EXPECT_FALSE(s.has_load_ms());
  // No Prometheus block.
  EXPECT_EQ(t.counters_size(), 0);
  EXPECT_EQ(t.gauges_size(), 0);
  EXPECT_FALSE(t.has_server_ttft());
  EXPECT_FALSE(t.has_client_vs_server());
  const std::string csv = ReadFile(out + "/" + coordinator::kEngineMetricsFileName);
  EXPECT_THAT(csv, HasSubstr("sim-ollama,ollama_ps,sim-model,size_vram_bytes,0,,2019393189,\n"));
  EXPECT_THAT(csv, Not(HasSubstr("client_vs_server")));
}

}  // namespace
}  // namespace llmbench::telemetry_test
