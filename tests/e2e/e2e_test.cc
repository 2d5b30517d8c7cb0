// End-to-end tests of the whole system: a real llmbench-sim, two real llmbench-worker
// processes (port 0, passed with --workers) and the real `llmbench` binary run as a
// subprocess with --out into a temporary folder. Results are read back from summary.json
// (LoadRunResult: the proto's JSON parser) and requests.csv.
//
// The simulator runs a deterministic latency model (--jitter 0):
//   TTFT = kTtftBaseMs + kTtftPerTokenUs/1000 * P   (P = prompt tokens the engine counted)
//   ITL  = kItlMs per decode step (--itl-per-seq-us 0: batch size does not matter)
// and never stops on its own (--natural-tokens 0), so every request generates exactly
// max_tokens tokens. Measurements can only be later than the model (the sim's timers fire at
// or after their intended instants and the client starts its clock before the sim sees the
// request), so lower bounds are tight (kEarlyMs) and upper bounds generous (kLateMs for
// medians) because the CI machine has 2 shared cores.
//
// The coordinator's stdout and stderr go to files (so stderr is not a terminal, as in CI).
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/version.h"
#include "coordinator/exporters.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/cli_runner.h"
#include "tests/harness/harness.h"


namespace llmbench::e2e {
namespace {

namespace v1 = ::llmbench::v1;
using llmbench::testing::HttpGet;
using llmbench::testing::SimProcess;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// The simulator's latency model (see the file comment).
constexpr double kTtftBaseMs = 30;
constexpr double kTtftPerTokenUs = 100;
constexpr double kItlMs = 8;
// Tolerances. A measured latency may be at most kEarlyMs below the model (clock reads on
// two processes); medians at most kLateMs above it (loopback, curl, scheduling on 2 cores).
constexpr double kEarlyMs = 0.2;
constexpr double kLateMs = 15;

double ModelTtftMs(double prompt_tokens) {
  return kTtftBaseMs + kTtftPerTokenUs / 1000.0 * prompt_tokens;
}

// ---------------------------------------------------------------------------------------------
// The simulator's own request counter (GET /sim/metrics, llmbench_sim_requests_total summed
// over its outcomes). Health, version and model routes do not count.
uint64_t SimRequests(const std::string& base_url) {
  testing::HttpResponse r = HttpGet(base_url + "/sim/metrics");
  EXPECT_EQ(r.status, 200) << base_url << "/sim/metrics: " << r.curl_error;
  uint64_t total = 0;
  for (absl::string_view line : absl::StrSplit(r.body, '\n')) {
    if (!absl::ConsumePrefix(&line, "llmbench_sim_requests_total{")) continue;
    const size_t space = line.rfind(' ');
    double v = 0;
    EXPECT_TRUE(absl::SimpleAtod(line.substr(space + 1), &v)) << line;
    total += static_cast<uint64_t>(v);
  }
  return total;
}

// Lines of `text` without the last `drop` lines.
std::string WithoutLastLines(const std::string& text, int drop) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  lines.resize(lines.size() > static_cast<size_t>(drop) ? lines.size() - drop : 0);
  return absl::StrJoin(lines, "\n");
}

// Sum of output_tokens over CSV rows, and so on: the union of the per-shard records.
struct CsvTotals {
  uint64_t rows = 0;
  uint64_t output_tokens = 0;
  uint64_t input_tokens = 0;
  double ttft_ms_sum = 0;
  double e2e_ms_sum = 0;
};

// ---------------------------------------------------------------------------------------------
// The fixture: one simulator (Ollama and vLLM personalities) and two workers for the suite.

class E2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The workers this test starts require no token, and the coordinator must not send one.
    unsetenv("LLMBENCH_WORKER_TOKEN");
    unsetenv("LLMBENCH_TOKEN");
    SimProcess::Options options;
    options.kinds = {"ollama", "vllm"};
    options.args = {"--jitter", "0", "--ttft-base-ms", "30", "--ttft-per-token-us", "100",
                    "--itl-ms", "8", "--itl-per-seq-us", "0", "--natural-tokens", "0",
                    "--max-batch", "256", "--seed", "11", "--threads", "2"};
    absl::StatusOr<std::unique_ptr<SimProcess>> sim = SimProcess::Start(options);
    if (!sim.ok()) {
      setup_error_ = new std::string(std::string(sim.status().message()));
      return;
    }
    sim_ = sim->release();
    absl::StatusOr<LocalWorkerProcesses> workers = StartLocalWorkerProcesses(2, "e2e-worker-");
    if (!workers.ok()) {
      setup_error_ = new std::string(std::string(workers.status().message()));
      return;
    }
    workers_ = new LocalWorkerProcesses(*std::move(workers));
  }

  static void TearDownTestSuite() {
    delete workers_;  // stops the workers
    workers_ = nullptr;
    delete sim_;
    sim_ = nullptr;
    delete setup_error_;
    setup_error_ = nullptr;
  }

  void SetUp() override {
    ASSERT_EQ(setup_error_, nullptr) << *setup_error_;
    char templ[] = "/tmp/llmbench-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    scratch_ = templ;
  }

  void TearDown() override {
    if (!scratch_.empty() && !HasFailure()) {
      std::error_code ec;
      std::filesystem::remove_all(scratch_, ec);
    } else if (!scratch_.empty()) {
      std::cerr << "kept " << scratch_ << " for inspection\n";
    }
  }

  static const std::string& Url(std::string_view kind) { return sim_->BaseUrl(kind); }
  static std::string Workers() { return workers_->List(); }
  static uint64_t SimTotal() { return SimRequests(Url("vllm")) + SimRequests(Url("ollama")); }

  std::string Path(const std::string& name) const { return scratch_ + "/" + name; }

  // Writes a scenario file and returns its path.
  std::string Scenario(const std::string& name, const std::string& yaml) const {
    const std::string path = Path(name);
    WriteFile(path, yaml);
    return path;
  }

  static v1::RunResult Load(const std::string& dir) {
    absl::StatusOr<v1::RunResult> result = coordinator::LoadRunResult(dir);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : v1::RunResult();
  }

  static inline std::string* setup_error_ = nullptr;
  static inline SimProcess* sim_ = nullptr;
  static inline LocalWorkerProcesses* workers_ = nullptr;
  std::string scratch_;
};

// A count-bounded, closed-loop vLLM scenario against the suite's simulator.
std::string VllmScenario(const std::string& url, uint64_t requests, uint64_t warmup,
                         uint32_t concurrency, uint32_t prompt_tokens, uint32_t max_tokens,
                         const std::string& extra = "") {
  return absl::StrCat(
      "name: e2e\n"
      "engines:\n"
      "  - kind: vllm\n"
      "    name: sim-vllm\n"
      "    base_url: ", url, "\n"
      "    model: sim-model\n"
      "prompts:\n"
      "  synthetic:\n"
      "    input_tokens: {kind: fixed, mean: ", prompt_tokens, "}\n"
      "    count: 10\n"
      "generation:\n"
      "  max_tokens: ", max_tokens, "\n"
      "  ignore_eos: true\n"
      "  stream: true\n"
      "load:\n"
      "  concurrency: ", concurrency, "\n"
      "  requests: ", requests, "\n"
      "  warmup_requests: ", warmup, "\n"
      "outputs:\n"
      "  csv: true\n"
      "seed: 7\n",
      extra);
}

// ---------------------------------------------------------------------------------------------
// The merged numbers against the latency model and against the union of the shards' records.

TEST_F(E2eTest, RunMergesTwoWorkersShardsMatchingTheLatencyModel) {
  constexpr uint64_t kRequests = 40;
  constexpr uint64_t kWarmup = 4;
  constexpr uint32_t kPromptTokens = 100;
  constexpr uint32_t kMaxTokens = 16;
  const std::string scenario =
      Scenario("run.yaml", VllmScenario(Url("vllm"), kRequests, kWarmup, /*concurrency=*/4,
                                        kPromptTokens, kMaxTokens));
  const std::string out = Path("out");
  const uint64_t sim_before = SimRequests(Url("vllm"));
  CliRun run = RunLlmbench({"run", scenario, "--workers", Workers(), "--out", out, "--quiet"},
                           scratch_);
  ASSERT_TRUE(run.exited) << run.err;
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr(absl::StrCat("results: ", out, "\n")));
  EXPECT_THAT(run.err, Not(HasSubstr(" in flight, "))) << "--quiet prints no progress";
  // The engine saw every measured and warm-up request exactly once.
  EXPECT_EQ(SimRequests(Url("vllm")) - sim_before, kRequests + kWarmup);

  // summary.json: structure and counts.
  const std::string json = ReadFile(out + "/summary.json");
  v1::RunResult result = Load(out);
  EXPECT_FALSE(result.run_id().empty());
  EXPECT_EQ(result.llmbench_version(), kVersion);
  EXPECT_EQ(result.scenario().name(), "e2e");
  EXPECT_EQ(result.scenario().load().requests(), kRequests);
  EXPECT_GT(result.finished_unix_ns(), result.started_unix_ns());
  EXPECT_EQ(result.verdict().state(), v1::Verdict::STATE_VALID)
      << absl::StrJoin(result.verdict().reasons(), "; ");
  EXPECT_GT(result.definitions_size(), 0);
  const v1::Aggregates& all = result.overall();
  EXPECT_EQ(all.requests(), kRequests);
  EXPECT_EQ(all.successes(), kRequests);
  EXPECT_EQ(all.failures(), 0u);
  EXPECT_EQ(all.success_rate(), 1.0);
  EXPECT_EQ(all.errors_size(), 0);
  // Closed loop without SLOs: no schedule metrics, no goodput — absent, not zero.
  EXPECT_FALSE(all.has_schedule_lateness_ms());
  EXPECT_FALSE(all.has_ttft_from_schedule_ms());
  EXPECT_FALSE(all.has_e2e_from_schedule_ms());
  EXPECT_FALSE(all.has_goodput());
  EXPECT_FALSE(all.has_slo_attainment());
  // As JSON keys (the metric definitions name them too, as values).
  for (const char* absent : {"\"schedule_lateness_ms\": {", "\"ttft_from_schedule_ms\": {",
                             "\"goodput\": ", "\"slo_attainment\": ", "\"failures\": ",
                             "\"errors\": "}) {
    EXPECT_FALSE(absl::StrContains(json, absent)) << absent << " in summary.json";
  }
  for (const char* present : {"\"ttft_ms\": {", "\"itl_ms\": {", "\"tpot_ms\": {", "\"e2e_ms\": {",
                              "\"workers\": [", "\"engines\": [", "\"definitions\": [",
                              "\"verdict\": {", "\"cpu_utilization\": "}) {
    EXPECT_TRUE(absl::StrContains(json, present)) << present << " not in summary.json";
  }
  ASSERT_EQ(result.engines_size(), 1);
  EXPECT_EQ(result.engines(0).engine(), "sim-vllm");
  EXPECT_EQ(result.engines(0).aggregates().requests(), kRequests);

  // Token counts are exact: ignore_eos gives max_tokens; every prompt has the same length.
  ASSERT_TRUE(all.has_output_tokens());
  EXPECT_EQ(all.output_tokens().min(), kMaxTokens);
  EXPECT_EQ(all.output_tokens().max(), kMaxTokens);
  EXPECT_EQ(all.output_tokens_total(), kRequests * kMaxTokens);
  ASSERT_TRUE(all.has_input_tokens());
  const double engine_prompt_tokens = all.input_tokens().min();
  EXPECT_EQ(all.input_tokens().max(), engine_prompt_tokens);
  EXPECT_EQ(engine_prompt_tokens, kPromptTokens);
  EXPECT_EQ(all.input_tokens_total(), kRequests * kPromptTokens);

  // Latencies against the model.
  const double ttft = ModelTtftMs(engine_prompt_tokens);  // 40 ms
  ASSERT_TRUE(all.has_ttft_ms());
  EXPECT_EQ(all.ttft_ms().count(), kRequests);
  EXPECT_GE(all.ttft_ms().min(), ttft - kEarlyMs);
  EXPECT_LE(all.ttft_ms().p50(), ttft + kLateMs);
  ASSERT_TRUE(all.has_itl_ms());
  EXPECT_EQ(all.itl_ms().count(), kRequests * (kMaxTokens - 1));
  // A gap can be shorter than a step when the sim catches up on a late step (intended
  // times), so the median carries the model: within [-1, +4] ms of 8 ms.
  EXPECT_GE(all.itl_ms().p50(), kItlMs - 1);
  EXPECT_LE(all.itl_ms().p50(), kItlMs + 4);
  ASSERT_TRUE(all.has_tpot_ms());
  // The first decode token waits for the current step to end (up to one step), so TPOT is
  // between 8 and 8 + 8/15 ms in the model.
  EXPECT_GE(all.tpot_ms().p50(), kItlMs - 0.5);
  EXPECT_LE(all.tpot_ms().p50(), kItlMs + 4);
  ASSERT_TRUE(all.has_e2e_ms());
  EXPECT_GE(all.e2e_ms().min(), ttft + (kMaxTokens - 1) * kItlMs - 1);
  EXPECT_LE(all.e2e_ms().p50(), ttft + kMaxTokens * kItlMs + 2 * kLateMs);

  // Per-worker aggregates: both workers got work; their counts sum to the overall count.
  ASSERT_EQ(result.workers_size(), 2);
  std::map<std::string, const v1::WorkerResult*> workers;
  uint64_t worker_requests = 0;
  uint64_t worker_output_tokens = 0;
  for (const v1::WorkerResult& w : result.workers()) {
    workers[w.worker_id()] = &w;
    EXPECT_FALSE(w.failed()) << w.failure();
    EXPECT_GT(w.aggregates().requests(), 0u) << w.worker_id() << " got no work";
    EXPECT_EQ(w.records_dropped(), 0u);
    EXPECT_EQ(w.duplicate_records(), 0u);
    worker_requests += w.aggregates().requests();
    worker_output_tokens += w.aggregates().output_tokens_total();
  }
  EXPECT_EQ(worker_requests, kRequests);
  EXPECT_EQ(worker_output_tokens, kRequests * kMaxTokens);
  ASSERT_EQ(workers.count("e2e-worker-0"), 1u);
  ASSERT_EQ(workers.count("e2e-worker-1"), 1u);
  EXPECT_EQ(workers["e2e-worker-0"]->address(), workers_->addresses[0]);
  EXPECT_EQ(workers["e2e-worker-1"]->address(), workers_->addresses[1]);
  // 4 streams over 2 equal workers: 2 each, and 40 ids split 20/20.
  EXPECT_EQ(workers["e2e-worker-0"]->aggregates().requests(), kRequests / 2);
  EXPECT_EQ(workers["e2e-worker-1"]->aggregates().requests(), kRequests / 2);

  // requests.csv: the union of the shards' records.
  const std::string csv_text = ReadFile(out + "/requests.csv");
  ASSERT_THAT(csv_text, StartsWith(coordinator::RequestsCsvHeader()));
  Csv csv = ParseCsv(csv_text);
  ASSERT_EQ(csv.rows.size(), kRequests + kWarmup);
  std::vector<uint64_t> measured_ids;
  std::set<uint64_t> warmup_ids;
  std::map<std::string, CsvTotals> per_worker;
  CsvTotals totals;
  for (size_t i = 0; i < csv.rows.size(); ++i) {
    const uint64_t id = csv.Uint(i, "request_id");
    const std::string& warmup = csv.Get(i, "warmup");
    EXPECT_EQ(csv.Get(i, "engine"), "sim-vllm");
    EXPECT_EQ(csv.Get(i, "error_class"), "none") << csv.Get(i, "error_message");
    EXPECT_EQ(csv.Get(i, "http_status"), "200");
    EXPECT_EQ(csv.Uint(i, "output_tokens"), kMaxTokens);
    EXPECT_EQ(csv.Get(i, "output_token_source"), "engine");
    EXPECT_EQ(csv.Uint(i, "input_tokens"), kPromptTokens);
    const double row_ttft_ms = (csv.Int(i, "first_token_ns") - csv.Int(i, "sent_ns")) / 1e6;
    const double row_e2e_ms = (csv.Int(i, "end_ns") - csv.Int(i, "sent_ns")) / 1e6;
    EXPECT_GE(row_ttft_ms, ttft - kEarlyMs) << "request " << id;
    const std::vector<std::string> offsets =
        absl::StrSplit(csv.Get(i, "chunk_offsets_ns"), ';', absl::SkipEmpty());
    EXPECT_EQ(offsets.size(), csv.Uint(i, "content_chunks"));
    if (warmup == "true") {
      EXPECT_GE(id, uint64_t{1} << 63) << "warm-up ids have bit 63 set";
      EXPECT_TRUE(warmup_ids.insert(id).second) << "warm-up id " << id << " twice";
      continue;
    }
    ASSERT_EQ(warmup, "false");
    measured_ids.push_back(id);
    CsvTotals& w = per_worker[csv.Get(i, "worker_id")];
    for (CsvTotals* t : {&w, &totals}) {
      ++t->rows;
      t->output_tokens += csv.Uint(i, "output_tokens");
      t->input_tokens += csv.Uint(i, "input_tokens");
      t->ttft_ms_sum += row_ttft_ms;
      t->e2e_ms_sum += row_e2e_ms;
    }
  }
  EXPECT_EQ(warmup_ids.size(), kWarmup);
  // No request lost, none counted twice: exactly 0..N-1 once each.
  std::sort(measured_ids.begin(), measured_ids.end());
  std::vector<uint64_t> expected_ids(kRequests);
  for (uint64_t k = 0; k < kRequests; ++k) expected_ids[k] = k;
  EXPECT_EQ(measured_ids, expected_ids);
  // The merged numbers are those of the union of the records.
  EXPECT_EQ(totals.output_tokens, all.output_tokens_total());
  EXPECT_EQ(totals.input_tokens, all.input_tokens_total());
  EXPECT_NEAR(totals.ttft_ms_sum / totals.rows, all.ttft_ms().mean(), 1e-6);
  EXPECT_NEAR(totals.e2e_ms_sum / totals.rows, all.e2e_ms().mean(), 1e-6);
  ASSERT_EQ(per_worker.size(), 2u);
  for (const auto& [id, t] : per_worker) {
    ASSERT_EQ(workers.count(id), 1u) << "CSV worker " << id << " not in summary.json";
    const v1::Aggregates& wa = workers[id]->aggregates();
    EXPECT_EQ(t.rows, wa.requests()) << id;
    EXPECT_EQ(t.output_tokens, wa.output_tokens_total()) << id;
    EXPECT_NEAR(t.ttft_ms_sum / t.rows, wa.ttft_ms().mean(), 1e-6) << id;
  }

  // The other artifacts.
  EXPECT_TRUE(std::filesystem::exists(out + "/scenario.yaml"));
  EXPECT_TRUE(std::filesystem::exists(out + "/report.html"));
}

// ---------------------------------------------------------------------------------------------
// Commands.

TEST_F(E2eTest, QuickWithLocalWorkersThenReportReRendersTheSummary) {
  const std::string out = Path("quick");
  CliRun run = RunLlmbench({"quick", "--engine", "vllm", "--url", Url("vllm"), "--model",
                            "sim-model", "-n", "12", "-c", "3", "--max-tokens", "8",
                            "--prompt-tokens", "50", "--ignore-eos", "--local-workers", "2",
                            "--out", out, "--quiet"},
                           scratch_);
  ASSERT_TRUE(run.exited) << run.err;
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  v1::RunResult result = Load(out);
  EXPECT_EQ(result.scenario().name(), "quick");
  ASSERT_EQ(result.engines_size(), 1);
  EXPECT_EQ(result.engines(0).engine(), "vllm");
  EXPECT_EQ(result.overall().requests(), 12u);
  EXPECT_EQ(result.overall().successes(), 12u);
  EXPECT_EQ(result.overall().output_tokens().min(), 8);
  EXPECT_EQ(result.overall().output_tokens().max(), 8);
  EXPECT_EQ(result.overall().input_tokens().min(), 50);
  EXPECT_GE(result.overall().ttft_ms().min(), ModelTtftMs(50) - kEarlyMs);
  EXPECT_LE(result.overall().ttft_ms().p50(), ModelTtftMs(50) + kLateMs);
  // Two local workers (3 streams: 2 + 1), both used.
  ASSERT_EQ(result.workers_size(), 2);
  EXPECT_GT(result.workers(0).aggregates().requests(), 0u);
  EXPECT_GT(result.workers(1).aggregates().requests(), 0u);
  EXPECT_EQ(result.workers(0).aggregates().requests() + result.workers(1).aggregates().requests(),
            12u);

  // The console table: header, rule, one row for the engine (no "all" row for one engine).
  std::vector<std::string> lines = absl::StrSplit(run.out, '\n');
  ASSERT_GE(lines.size(), 3u);
  EXPECT_THAT(lines[0], ::testing::MatchesRegex(
                            "engine +requests +ok % +req/s +out tok/s +TTFT p50 +TTFT p99 +ITL p50 "
                            "+ITL p99 +TPOT p50 +E2E p50 +E2E p99 +goodput"));
  EXPECT_THAT(lines[2], ::testing::MatchesRegex("vllm +12 +100\\.0 .*"));
  EXPECT_THAT(run.out, Not(HasSubstr("\nall ")));

  // `report DIR` prints the same table from the stored summary.json.
  std::filesystem::remove(out + "/report.html");
  CliRun report = RunLlmbench({"report", out}, scratch_);
  ASSERT_TRUE(report.exited);
  EXPECT_EQ(report.code, 0) << report.err;
  EXPECT_EQ(WithoutLastLines(report.out, 1), WithoutLastLines(run.out, 1));
  EXPECT_THAT(report.out, HasSubstr(absl::StrCat("report: ", out, "/report.html\n")));
  EXPECT_TRUE(std::filesystem::exists(out + "/report.html"));

  // A folder without summary.json.
  CliRun missing = RunLlmbench({"report", Path("nothing-here")}, scratch_);
  ASSERT_TRUE(missing.exited);
  EXPECT_EQ(missing.code, 1);
  EXPECT_THAT(missing.err, HasSubstr(Path("nothing-here")));
}

// Progress lines on a non-terminal stderr: plain lines (no bar, no carriage return, no escape
// codes) every 2 s; --quiet prints none. Also: duration-bounded load over two workers.
TEST_F(E2eTest, LoadForDurationPrintsPlainProgressUnlessQuiet) {
  const std::string out = Path("load");
  const std::vector<std::string> common = {
      "load", "--engine", "ollama", "--url", Url("ollama"), "--model", "sim-model",
      "-c", "2", "--duration", "3", "--max-tokens", "8", "--prompt-tokens", "64",
      "--workers", Workers()};
  std::vector<std::string> args = common;
  args.insert(args.end(), {"--out", out});
  CliRun run = RunLlmbench(args, scratch_);
  ASSERT_TRUE(run.exited) << run.err;
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  std::vector<std::string> progress;
  // Before the run: how the prompts were counted (Ollama has no tokenize route: words).
  EXPECT_THAT(run.err, StartsWith("prompt lengths for ollama: words, 1000 prompts, 1000 exact\n"
                                  "  note: no engine tokenize route"));
  for (absl::string_view line : absl::StrSplit(run.err, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "prompt lengths for ") || absl::StartsWith(line, "  note: ")) {
      continue;
    }
    progress.emplace_back(line);
    EXPECT_THAT(progress.back(), ::testing::MatchesRegex(
                          "[0-9]+ done, [0-9]+ in flight, [0-9.]+ req/s, [0-9]+ out tok/s, "
                          "[0-9]+ errors, TTFT p50 ([0-9.]+ ms|-), elapsed [0-9]+:[0-9]{2}, "
                          "ETA ([0-9]+:[0-9]{2}|-)"));
  }
  EXPECT_GE(progress.size(), 1u) << "a 3 s run prints at least one line (every 2 s)";
  EXPECT_EQ(run.err.find('\r'), std::string::npos);
  EXPECT_EQ(run.err.find('\033'), std::string::npos);

  v1::RunResult result = Load(out);
  EXPECT_EQ(result.scenario().name(), "load");
  const v1::Aggregates& all = result.overall();
  EXPECT_GT(all.requests(), 0u);
  EXPECT_EQ(all.failures(), 0u);
  // Ollama has no ignore_eos; the sim never stops on its own, so num_predict = 8 decides.
  EXPECT_EQ(all.output_tokens().min(), 8);
  EXPECT_EQ(all.output_tokens().max(), 8);
  // The measured window is the 3 s of load plus the tail of the last requests (~0.1 s each).
  EXPECT_GE(all.measured_window_s(), 2.5);
  EXPECT_LE(all.measured_window_s(), 4.5);
  // One request every ~0.1 s per stream: at least 2 streams * 2.5 s / 0.2 s.
  EXPECT_GE(all.requests(), 25u);
  ASSERT_EQ(result.workers_size(), 2);
  for (const v1::WorkerResult& w : result.workers()) {
    EXPECT_GT(w.aggregates().requests(), 0u) << w.worker_id();
  }
  // Duration-bounded shards number their requests first_id = shard, stride 2: each worker's
  // ids have one parity, the two workers different ones, and no id repeats.
  Csv csv = ParseCsv(ReadFile(out + "/requests.csv"));
  ASSERT_EQ(csv.rows.size(), all.requests());
  std::set<uint64_t> ids;
  std::map<std::string, std::set<uint64_t>> parities;
  for (size_t i = 0; i < csv.rows.size(); ++i) {
    const uint64_t id = csv.Uint(i, "request_id");
    EXPECT_TRUE(ids.insert(id).second) << "request id " << id << " twice";
    parities[csv.Get(i, "worker_id")].insert(id % 2);
  }
  ASSERT_EQ(parities.size(), 2u);
  for (const auto& [worker, p] : parities) EXPECT_EQ(p.size(), 1u) << worker;
  EXPECT_NE(*parities.begin()->second.begin(), *parities.rbegin()->second.begin());

  // --quiet: the same run prints no progress at all.
  args = common;
  args.insert(args.end(), {"--out", Path("load-quiet"), "--quiet"});
  CliRun quiet = RunLlmbench(args, scratch_);
  ASSERT_TRUE(quiet.exited);
  ASSERT_EQ(quiet.code, 0) << quiet.err;
  EXPECT_EQ(quiet.err, "");
  EXPECT_THAT(quiet.out, HasSubstr("verdict: VALID"));
}

TEST_F(E2eTest, CompareTwoPersonalitiesOneAfterAnother) {
  const std::string out = Path("compare");
  CliRun run = RunLlmbench(
      {"compare", "--target", absl::StrCat("ol=ollama,", Url("ollama"), ",sim-model"),
       "--target", absl::StrCat("vl=vllm,", Url("vllm"), ",sim-model"), "-n", "8", "-c", "2",
       "--max-tokens", "8", "--prompt-tokens", "40", "--ignore-eos", "--workers", Workers(),
       "--out", out, "--quiet"},
      scratch_);
  ASSERT_TRUE(run.exited) << run.err;
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  // One row per engine; one after another, no combined row.
  std::vector<std::string> lines = absl::StrSplit(run.out, '\n');
  ASSERT_GE(lines.size(), 6u);
  EXPECT_THAT(lines[0], StartsWith("engine "));
  EXPECT_THAT(lines[2], ::testing::MatchesRegex("ol +8 +100\\.0 .*"));
  EXPECT_THAT(lines[3], ::testing::MatchesRegex("vl +8 +100\\.0 .*"));
  EXPECT_THAT(lines[4], StartsWith("(latencies in ms"));
  EXPECT_EQ(lines[5], "(engines ran one after another: each row is over its own window; no "
                      "combined row)");

  v1::RunResult result = Load(out);
  ASSERT_EQ(result.engines_size(), 2);
  EXPECT_EQ(result.engines(0).engine(), "ol");
  EXPECT_EQ(result.engines(1).engine(), "vl");
  EXPECT_EQ(result.overall().requests(), 16u);
  for (const v1::EngineResult& e : result.engines()) {
    const v1::Aggregates& a = e.aggregates();
    EXPECT_EQ(a.requests(), 8u) << e.engine();
    EXPECT_EQ(a.successes(), 8u) << e.engine();
    EXPECT_EQ(a.output_tokens_total(), 64u) << e.engine();
    ASSERT_TRUE(a.has_ttft_ms()) << e.engine();
    // The two personalities share one latency model (their own prompt token counts).
    const double ttft = ModelTtftMs(a.input_tokens().min());
    EXPECT_GE(a.ttft_ms().min(), ttft - kEarlyMs) << e.engine();
    EXPECT_LE(a.ttft_ms().p50(), ttft + kLateMs) << e.engine();
  }
  // Each engine's measured ids are 0..7 once each.
  Csv csv = ParseCsv(ReadFile(out + "/requests.csv"));
  std::map<std::string, std::multiset<uint64_t>> ids;
  for (size_t i = 0; i < csv.rows.size(); ++i) {
    ids[csv.Get(i, "engine")].insert(csv.Uint(i, "request_id"));
  }
  const std::multiset<uint64_t> expected = {0, 1, 2, 3, 4, 5, 6, 7};
  EXPECT_EQ(ids["ol"], expected);
  EXPECT_EQ(ids["vl"], expected);
}

TEST_F(E2eTest, EnginesPrintsHealthVersionAndModels) {
  const int port = ClosedPort();
  const std::string down = absl::StrCat("http://127.0.0.1:", port);
  CliRun run = RunLlmbench(
      {"engines", "--target", absl::StrCat("ol=ollama,", Url("ollama"), ",sim-model"),
       "--target", absl::StrCat("vl=vllm,", Url("vllm"), ",sim-model")},
      scratch_);
  ASSERT_TRUE(run.exited);
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out, absl::StrCat("ol  ", Url("ollama"),
                                  "\n"
                                  "  health:  ok\n"
                                  "  version: 0.12.6\n"
                                  "  models:  sim-model\n"
                                  "vl  ",
                                  Url("vllm"),
                                  "\n"
                                  "  health:  ok\n"
                                  "  version: 0.11.0\n"
                                  "  models:  sim-model\n"));

  CliRun bad = RunLlmbench({"engines", "--target", absl::StrCat("gone=vllm,", down, ",m")},
                           scratch_);
  ASSERT_TRUE(bad.exited);
  EXPECT_EQ(bad.code, 1);
  EXPECT_THAT(bad.out, StartsWith(absl::StrCat("gone  ", down, "\n  health:  NOT OK (unreachable: ")));
}

// The demo's flow (scripts/demo.sh): examples/sim.yaml with its engine's URL overridden and
// local workers. This sim decodes faster (1 ms steps) so the 532 requests take a few seconds.
TEST_F(E2eTest, DemoScenarioRunsAgainstASimulator) {
  SimProcess::Options options;
  options.kinds = {"vllm"};
  options.args = {"--itl-ms", "1", "--itl-per-seq-us", "0", "--jitter", "0.05"};
  absl::StatusOr<std::unique_ptr<SimProcess>> sim = SimProcess::Start(options);
  ASSERT_TRUE(sim.ok()) << sim.status();
  const std::string out = Path("demo");
  CliRun run = RunLlmbench({"run", std::string(LLMBENCH_SOURCE_DIR) + "/examples/sim.yaml",
                            "--url", "sim-vllm=" + (*sim)->BaseUrl("vllm"), "--out", out},
                           scratch_);
  ASSERT_TRUE(run.exited) << run.err;
  EXPECT_EQ(run.code, 0) << run.out << run.err;
  v1::RunResult result = Load(out);
  EXPECT_EQ(result.scenario().name(), "sim-default");
  EXPECT_EQ(result.scenario().engines(0).base_url(), (*sim)->BaseUrl("vllm"));
  EXPECT_EQ(result.overall().requests(), 500u);
  EXPECT_EQ(result.overall().successes(), 500u);
  EXPECT_EQ(result.overall().output_tokens_total(), 500u * 64u);
  // The scenario has SLOs, so goodput and attainment are present.
  EXPECT_TRUE(result.overall().has_goodput());
  EXPECT_TRUE(result.overall().has_slo_attainment());
  EXPECT_EQ(SimRequests((*sim)->BaseUrl("vllm")), 500u + 32u);
  EXPECT_THAT(run.out, HasSubstr("sim-vllm"));
}

// ---------------------------------------------------------------------------------------------
// Exit statuses.

// A scenario whose engine carries the sim's x-llmbench-fault header, so every request fails.
std::string FaultyScenario(const std::string& url, const std::string& fault, uint32_t max_tokens) {
  return absl::StrCat("name: faulty\n"
                      "engines:\n"
                      "  - kind: vllm\n"
                      "    name: sim-vllm\n"
                      "    base_url: ", url, "\n"
                      "    model: sim-model\n"
                      "    headers: {x-llmbench-fault: \"", fault, "\"}\n"
                      "prompts:\n"
                      "  synthetic:\n"
                      "    input_tokens: {kind: fixed, mean: 20}\n"
                      "generation:\n"
                      "  max_tokens: ", max_tokens, "\n"
                      "  ignore_eos: true\n"
                      "load:\n"
                      "  concurrency: 2\n"
                      "  requests: 10\n"
                      "thresholds:\n"
                      "  max_error_rate: 0.01\n");
}

TEST_F(E2eTest, ErrorRateOverThresholdExits3) {
  // Every stream breaks after 4 tokens (vLLM's in-stream error event), so each request runs
  // ~60 ms before failing. (Requests that fail at once make a ~1 ms shard, which currently
  // trips the worker CPU-saturation check instead: see DISABLED_ test below.)
  const std::string scenario =
      Scenario("faulty.yaml", FaultyScenario(Url("vllm"), "stream_error;after=4", 16));
  const std::string out = Path("faulty");
  const uint64_t before = SimRequests(Url("vllm"));
  CliRun run = RunLlmbench({"run", scenario, "--workers", Workers(), "--out", out, "--quiet"},
                           scratch_);
  ASSERT_TRUE(run.exited) << run.err;
  EXPECT_EQ(run.code, 3) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("\nexit status 3: threshold crossed: engine sim-vllm: error rate "
                                 "100.00% (10 failed, of 10) > max_error_rate 1.00%\n"));
  EXPECT_THAT(run.out, HasSubstr("\nverdict: VALID\n  THRESHOLD CROSSED: engine sim-vllm: error rate "
                                 "100.00% (10 failed, of 10) > max_error_rate 1.00%\n"));
  EXPECT_EQ(SimRequests(Url("vllm")) - before, 10u);
  v1::RunResult result = Load(out);
  EXPECT_EQ(result.overall().requests(), 10u);
  EXPECT_EQ(result.overall().successes(), 0u);
  EXPECT_EQ(result.overall().failures(), 10u);
  ASSERT_EQ(result.overall().errors_size(), 1);
  EXPECT_EQ(result.overall().errors(0).error_class(), "stream_broken");
  EXPECT_EQ(result.overall().errors(0).count(), 10u);
  EXPECT_THAT(run.out, HasSubstr("errors: stream_broken x10 (e.g. \""));
  // `report` gives the same status from the stored summary.
  CliRun report = RunLlmbench({"report", out}, scratch_);
  ASSERT_TRUE(report.exited);
  EXPECT_EQ(report.code, 3);
  EXPECT_THAT(report.out, HasSubstr("\nexit status 3: threshold crossed: engine sim-vllm: error rate "
                                    "100.00% (10 failed, of 10)"));
}

// Regression: a shard's CPU use used to be counted from ShardRunner::Start(), up to ~300 ms
// before the shard's start instant, while its elapsed time was counted from that instant, so a
// shard of immediate failures looked like a saturated worker (INVALID, exit 4). The worker now
// reports the wall time its CPU was measured over, and the coordinator judges saturation only
// from 1 s of it.
TEST_F(E2eTest, ImmediateFailuresAreAnErrorRateNotASaturatedWorker) {
  const std::string scenario =
      Scenario("faulty.yaml", FaultyScenario(Url("vllm"), "status_500", 4));
  const std::string out = Path("faulty");
  CliRun run = RunLlmbench({"run", scenario, "--workers", Workers(), "--out", out, "--quiet"},
                           scratch_);
  ASSERT_TRUE(run.exited) << run.err;
  EXPECT_EQ(run.code, 3) << run.out;
  v1::RunResult result = Load(out);
  EXPECT_EQ(result.overall().errors(0).error_class(), "http_5xx");
  for (const v1::WorkerResult& w : result.workers()) {
    EXPECT_LT(w.cpu_utilization(), 0.9) << w.worker_id();
  }
}

// INVALID needs the generator to fall behind its own schedule. A rate the worker truly cannot
// hold depends on the machine, so this run makes the verdict's threshold strict instead:
// max_lateness_p99_ms 0.001 (1 us). The lateness is still measured honestly by the workers
// (first byte handed to the socket minus the intended send time); no real event loop + curl
// sends within 1 us of its timer for 99% of 40 requests.
TEST_F(E2eTest, GeneratorBehindScheduleIsInvalidAndExits4) {
  const std::string scenario = Scenario(
      "open-loop.yaml",
      absl::StrCat("name: open-loop\n"
                   "engines:\n"
                   "  - kind: vllm\n"
                   "    name: sim-vllm\n"
                   "    base_url: ", Url("vllm"), "\n"
                   "    model: sim-model\n"
                   "prompts:\n"
                   "  synthetic:\n"
                   "    input_tokens: {kind: fixed, mean: 20}\n"
                   "generation:\n"
                   "  max_tokens: 2\n"
                   "  ignore_eos: true\n"
                   "load:\n"
                   "  rate: {rps: 100, arrival: constant}\n"
                   "  requests: 40\n"
                   "thresholds:\n"
                   "  max_lateness_p99_ms: 0.001\n"));
  const std::string out = Path("open-loop");
  CliRun run = RunLlmbench({"run", scenario, "--workers", Workers(), "--out", out, "--quiet"},
                           scratch_);
  ASSERT_TRUE(run.exited) << run.err;
  EXPECT_EQ(run.code, 4) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("verdict: INVALID\n"));
  EXPECT_THAT(run.out, HasSubstr("exit status 4: the run is INVALID: generator fell behind its "
                                 "schedule: schedule lateness p99 "));
  v1::RunResult result = Load(out);
  EXPECT_EQ(result.verdict().state(), v1::Verdict::STATE_INVALID);
  ASSERT_TRUE(result.overall().has_schedule_lateness_ms());
  EXPECT_GT(result.overall().schedule_lateness_ms().p99(), 0.001);
  EXPECT_TRUE(result.overall().has_ttft_from_schedule_ms());
  EXPECT_EQ(result.overall().requests(), 40u);
  EXPECT_EQ(result.overall().successes(), 40u);
  // The verdict is about the schedule, not about a busy worker.
  for (const v1::WorkerResult& w : result.workers()) {
    EXPECT_LT(w.cpu_utilization(), 0.9) << w.worker_id();
  }
}

TEST_F(E2eTest, UnreachableEngineExits1BeforeAnyRequest) {
  const int port = ClosedPort();
  const std::string down = absl::StrCat("http://127.0.0.1:", port);
  // The reachable engine comes first: every engine is checked before any request is sent.
  const std::string scenario = Scenario(
      "down.yaml",
      absl::StrCat("name: down\n"
                   "engines:\n"
                   "  - kind: vllm\n"
                   "    name: sim-vllm\n"
                   "    base_url: ", Url("vllm"), "\n"
                   "    model: sim-model\n"
                   "  - kind: vllm\n"
                   "    name: gone\n"
                   "    base_url: ", down, "\n"
                   "    model: sim-model\n"
                   "load:\n"
                   "  concurrency: 1\n"
                   "  requests: 5\n"));
  const uint64_t before = SimTotal();
  const std::string out = Path("down");
  CliRun run = RunLlmbench({"run", scenario, "--workers", Workers(), "--out", out}, scratch_);
  ASSERT_TRUE(run.exited) << run.err;
  EXPECT_EQ(run.code, 1);
  EXPECT_THAT(run.err, StartsWith(absl::StrCat("llmbench: engine gone at ", down,
                                               " is unreachable: ")));
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(SimTotal(), before) << "no request was sent";
  EXPECT_FALSE(std::filesystem::exists(out + "/summary.json"));
}

TEST_F(E2eTest, UnreachableOrIncompatibleWorkerExits1BeforeAnyRequest) {
  const std::string scenario =
      Scenario("ok.yaml", VllmScenario(Url("vllm"), 5, 0, 1, 20, 2));
  const uint64_t before = SimTotal();
  // Nothing listens there (the coordinator waits up to 5 s for a worker still starting).
  const std::string closed = absl::StrCat("127.0.0.1:", ClosedPort());
  CliRun run = RunLlmbench({"run", scenario, "--workers", absl::StrCat(workers_->addresses[0], ",", closed),
                            "--out", Path("w1")},
                           scratch_);
  ASSERT_TRUE(run.exited) << run.err;
  EXPECT_EQ(run.code, 1);
  EXPECT_THAT(run.err, StartsWith(absl::StrCat("llmbench: worker ", closed, ": ")));
  EXPECT_EQ(SimTotal(), before) << "no request was sent";
  EXPECT_FALSE(std::filesystem::exists(Path("w1") + "/summary.json"));

  // Something that is not an llmbench worker (the simulator's HTTP/1.1 port) answers there.
  const std::string http = absl::StrCat("127.0.0.1:", sim_->Port("ollama"));
  CliRun wrong = RunLlmbench({"run", scenario, "--workers", http, "--out", Path("w2")}, scratch_);
  ASSERT_TRUE(wrong.exited) << wrong.err;
  EXPECT_EQ(wrong.code, 1);
  EXPECT_THAT(wrong.err, StartsWith(absl::StrCat("llmbench: worker ", http, ": ")));
  EXPECT_EQ(SimTotal(), before) << "no request was sent";
  EXPECT_FALSE(std::filesystem::exists(Path("w2") + "/summary.json"));
}

TEST_F(E2eTest, BadUsageExits2) {
  struct Case {
    std::vector<std::string> args;
    std::string stderr_has;
  };
  const std::vector<Case> cases = {
      {{}, "A subcommand is required"},
      {{"run"}, "scenario is required"},
      {{"run", "x.yaml", "--bogus"}, "--bogus"},
      {{"quick", "--engine", "vllm"}, "--url is required"},
      {{"load", "-e", "vllm", "-u", Url("vllm"), "-m", "sim-model"}, "--duration is required"},
      {{"quick", "-e", "vllm", "-u", Url("vllm"), "-m", "m", "-c", "2", "--rate", "3"},
       "excludes"},
      {{"compare", "--target", "a=vllm,http://127.0.0.1:1,m"},
       "llmbench compare: give a scenario or at least two --target"},
      {{"engines"}, "llmbench engines: give a scenario or --target"},
  };
  const uint64_t before = SimTotal();
  for (const Case& c : cases) {
    CliRun run = RunLlmbench(c.args, scratch_);
    ASSERT_TRUE(run.exited) << absl::StrJoin(c.args, " ");
    EXPECT_EQ(run.code, 2) << absl::StrJoin(c.args, " ") << "\n" << run.err;
    EXPECT_THAT(run.err, HasSubstr(c.stderr_has)) << absl::StrJoin(c.args, " ");
  }
  EXPECT_EQ(SimTotal(), before);
}

TEST_F(E2eTest, BadScenarioFileFailsWithFileLineColumnBeforeAnyRequest) {
  // Line 12, column 5 holds the bad field's key (the loader points at the key).
  const std::string scenario = Scenario(
      "bad.yaml",
      absl::StrCat("name: bad\n"                  // 1
                   "engines:\n"                   // 2
                   "  - kind: vllm\n"             // 3
                   "    name: sim-vllm\n"         // 4
                   "    base_url: ", Url("vllm"), "\n"  // 5
                   "    model: sim-model\n"       // 6
                   "generation:\n"                // 7
                   "  max_tokens: 4\n"            // 8
                   "load:\n"                      // 9
                   "  requests: 10\n"             // 10
                   "  rate:\n"                    // 11
                   "    rps: -3\n"));             // 12
  const uint64_t before = SimTotal();
  CliRun run = RunLlmbench({"run", scenario, "--workers", Workers(), "--out", Path("bad")},
                           scratch_);
  ASSERT_TRUE(run.exited) << run.err;
  EXPECT_EQ(run.code, 1);
  EXPECT_EQ(run.err,
            absl::StrCat("llmbench: ", scenario, ":12:5: load.rate.rps: must be > 0, got -3\n"));
  EXPECT_EQ(SimTotal(), before) << "no request was sent";
  EXPECT_FALSE(std::filesystem::exists(Path("bad")));

  // A file that is not there.
  CliRun missing = RunLlmbench({"run", Path("missing.yaml"), "--workers", Workers()}, scratch_);
  ASSERT_TRUE(missing.exited);
  EXPECT_EQ(missing.code, 1);
  EXPECT_THAT(missing.err, HasSubstr(Path("missing.yaml")));

  // An unknown --url engine name.
  CliRun url = RunLlmbench({"run", Scenario("ok.yaml", VllmScenario(Url("vllm"), 5, 0, 1, 20, 2)),
                            "--url", "nope=http://127.0.0.1:1", "--workers", Workers()},
                           scratch_);
  ASSERT_TRUE(url.exited);
  EXPECT_EQ(url.code, 2);  // a flag's value refused: usage
  EXPECT_EQ(url.err, "llmbench run: --url nope=http://127.0.0.1:1: the scenario has no engine "
                     "named \"nope\"\n");
  EXPECT_EQ(SimTotal(), before) << "no request was sent";
}

}  // namespace
}  // namespace llmbench::e2e
