// Issue 17 end to end, multi-worker: a real llmbench-sim whose tokenizer is NOT one token per
// word (`--tokenizer subword4`: a word is ceil(bytes/4) tokens, on the generation routes and
// /tokenize alike), two real llmbench-worker processes (--workers), and the real `llmbench`
// binary. What is checked, from the files the runs wrote:
// - exact prompt lengths: calibrated against vLLM's /tokenize and TGI's /tokenize and
//   /chat_tokenize, every request's engine-reported input tokens equal the requested length;
//   with the word heuristic they do not, and the error is stated; Ollama (no route) falls back
//   to words with a note; a tokenizer.json is used when asked;
// - output lengths: per-request max_tokens from a distribution and from a ShareGPT dataset's
//   replies reach the engine (ignore_eos: the sim generates exactly that many), across shards;
// - raw export: requests.jsonl with prompts and replies, bounded;
// - GPU metrics from a fixture DCGM exporter (a real HTTP server serving recorded text);
// - --tag / --label in summary.json, the report and `diff`; `validate`; flag errors (exit 2).
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "coordinator/exporters.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "simdjson.h"
#include "tests/e2e/cli_runner.h"
#include "tests/harness/harness.h"

namespace llmbench::e2e {
namespace {

namespace v1 = ::llmbench::v1;
using llmbench::testing::SimProcess;
using llmbench::testing::Subprocess;
using ::testing::HasSubstr;

// The simulator's subword4 rule: tokens of `text`.
uint32_t Subword4(std::string_view text) {
  uint32_t n = 0;
  for (absl::string_view word : absl::StrSplit(absl::string_view(text.data(), text.size()),
                                               absl::ByAnyChar(" \t\n"), absl::SkipEmpty())) {
    n += static_cast<uint32_t>((word.size() + 3) / 4);
  }
  return n;
}

struct JsonlLine {
  uint64_t request_id = 0;
  std::string worker_id;
  uint32_t max_tokens = 0;
  uint32_t input_tokens = 0;
  uint32_t output_tokens = 0;
  std::string prompt;
  std::string reply;
  bool truncated = false;
};

std::vector<JsonlLine> ReadJsonl(const std::string& path) {
  std::vector<JsonlLine> lines;
  simdjson::dom::parser parser;
  for (absl::string_view text : absl::StrSplit(ReadFile(path), '\n', absl::SkipEmpty())) {
    simdjson::dom::element e;
    EXPECT_EQ(parser.parse(text.data(), text.size()).get(e), simdjson::SUCCESS) << text;
    JsonlLine l;
    uint64_t n = 0;
    std::string_view s;
    bool b = false;
    if (e["request_id"].get_uint64().get(n) == simdjson::SUCCESS) l.request_id = n;
    if (e["worker_id"].get_string().get(s) == simdjson::SUCCESS) l.worker_id = std::string(s);
    if (e["max_tokens"].get_uint64().get(n) == simdjson::SUCCESS)
      l.max_tokens = static_cast<uint32_t>(n);
    if (e["input_tokens"].get_uint64().get(n) == simdjson::SUCCESS)
      l.input_tokens = static_cast<uint32_t>(n);
    if (e["output_tokens"].get_uint64().get(n) == simdjson::SUCCESS)
      l.output_tokens = static_cast<uint32_t>(n);
    if (e["prompt"].get_string().get(s) == simdjson::SUCCESS) l.prompt = std::string(s);
    EXPECT_EQ(e["reply"].get_string().get(s), simdjson::SUCCESS) << text;
    l.reply = std::string(s);
    EXPECT_EQ(e["reply_truncated"].get_bool().get(b), simdjson::SUCCESS) << text;
    l.truncated = b;
    lines.push_back(std::move(l));
  }
  return lines;
}

class WorkloadTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    unsetenv("LLMBENCH_WORKER_TOKEN");
    unsetenv("LLMBENCH_TOKEN");
    SimProcess::Options options;
    options.kinds = {"ollama", "vllm", "tgi"};
    options.args = {"--jitter",         "0",       "--ttft-base-ms", "2",   "--itl-ms", "1",
                    "--natural-tokens", "0",       "--max-batch",    "256", "--seed",   "5",
                    "--tokenizer",      "subword4"};
    absl::StatusOr<std::unique_ptr<SimProcess>> sim = SimProcess::Start(options);
    if (!sim.ok()) {
      setup_error_ = new std::string(std::string(sim.status().message()));
      return;
    }
    sim_ = sim->release();
    absl::StatusOr<LocalWorkerProcesses> workers = StartLocalWorkerProcesses(2, "w");
    if (!workers.ok()) {
      setup_error_ = new std::string(std::string(workers.status().message()));
      return;
    }
    workers_ = new LocalWorkerProcesses(*std::move(workers));
  }

  static void TearDownTestSuite() {
    delete workers_;
    workers_ = nullptr;
    delete sim_;
    sim_ = nullptr;
    delete setup_error_;
    setup_error_ = nullptr;
  }

  void SetUp() override {
    ASSERT_EQ(setup_error_, nullptr) << *setup_error_;
    char templ[] = "/tmp/llmbench-workload-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    scratch_ = templ;
  }

  void TearDown() override {
    if (!HasFailure()) {
      std::error_code ec;
      std::filesystem::remove_all(scratch_, ec);
    } else {
      std::cerr << "kept " << scratch_ << " for inspection\n";
    }
  }

  static const std::string& Url(std::string_view kind) { return sim_->BaseUrl(kind); }
  static std::string Workers() { return workers_->List(); }
  std::string Path(const std::string& name) const { return scratch_ + "/" + name; }

  // `llmbench quick -e KIND -u URL -m sim-model ARGS... --workers W --out OUT` (not --quiet:
  // the prompt-lengths lines on stderr are checked).
  CliRun Quick(const std::string& kind, const std::string& out, std::vector<std::string> args) {
    std::vector<std::string> all = {"quick",     "-e",        kind,      "-u",    Url(kind), "-m",
                                    "sim-model", "--workers", Workers(), "--out", out};
    all.insert(all.end(), args.begin(), args.end());
    return RunLlmbench(all, scratch_);
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

TEST_F(WorkloadTest, PromptsAreExactToTheEngineThroughItsTokenizeRoute) {
  const std::string out = Path("exact");
  CliRun run =
      Quick("vllm", out,
            {"--prompt-tokens", "60", "-n", "30", "-c", "4", "--max-tokens", "4", "--ignore-eos"});
  ASSERT_TRUE(run.exited) << run.err;
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  const std::string route = Url("vllm") + "/tokenize";
  EXPECT_THAT(run.err, HasSubstr(absl::StrCat("prompt lengths for vllm: engine ", route,
                                              ", 1000 prompts, 1000 exact (")));
  v1::RunResult r = Load(out);
  ASSERT_EQ(r.engines_size(), 1);
  const v1::LengthReport& l = r.engines(0).lengths();
  EXPECT_EQ(l.method(), "engine");
  EXPECT_EQ(l.source(), route);
  EXPECT_EQ(l.prompts(), 1000u);
  EXPECT_EQ(l.prompts_off_target(), 0u);
  EXPECT_GT(l.prompts_adjusted(), 900u) << "60 words are more than 60 subword4 tokens";
  EXPECT_GE(l.tokenize_calls(), 2000u);
  EXPECT_EQ(l.input_compared(), 30u);
  EXPECT_EQ(l.input_exact(), 30u);
  EXPECT_EQ(l.input_mean_error(), 0);
  EXPECT_EQ(l.input_max_abs_error(), 0);
  EXPECT_EQ(r.overall().input_tokens().min(), 60);
  EXPECT_EQ(r.overall().input_tokens().max(), 60);
  EXPECT_THAT(run.out, HasSubstr(absl::StrCat(
                           "input tokens (vllm): counted by engine ", route,
                           "; requested mean 60.0; engine-reported equal in 30 of 30 (mean error "
                           "+0.00 tokens, mean |error| 0.00%, max |error| 0)\n")));
  // Both workers ran a share: the exact prompts travel in every shard.
  const Csv csv = ParseCsv(ReadFile(out + "/requests.csv"));
  std::set<std::string> workers;
  for (size_t i = 0; i < csv.rows.size(); ++i) workers.insert(csv.Get(i, "worker_id"));
  EXPECT_EQ(workers, (std::set<std::string>{"w0", "w1"}));

  // The word heuristic on the same engine: not exact, and the error says by how much.
  const std::string words = Path("words");
  run = Quick("vllm", words,
              {"--prompt-tokens", "60", "-n", "30", "-c", "4", "--max-tokens", "4",
               "--prompt-lengths", "words"});
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  const v1::RunResult w_result = Load(words);
  const v1::LengthReport& w = w_result.engines(0).lengths();
  EXPECT_EQ(w.method(), "words");
  EXPECT_EQ(w.input_compared(), 30u);
  EXPECT_EQ(w.input_exact(), 0u);
  EXPECT_GT(w.input_mean_error(), 5) << "long words are several subword4 tokens";
  EXPECT_GT(w.input_mean_abs_error_pct(), 8);
  EXPECT_THAT(run.out, HasSubstr("input tokens (vllm): counted by words; requested mean 60.0; "
                                 "engine-reported equal in 0 of 30 (mean error +"));
}

TEST_F(WorkloadTest, TgiGenerateAndChatRoutesAreExactTaggedAndDiffed) {
  const std::string out = Path("tgi");
  CliRun run = RunLlmbench({"compare",
                            "--target",
                            absl::StrCat("gen=tgi,", Url("tgi"), ",sim-model"),
                            "--target",
                            absl::StrCat("chat=tgi,", Url("tgi"), ",sim-model,chat_completions"),
                            "--workers",
                            Workers(),
                            "--out",
                            out,

                            "--prompt-tokens",
                            "40",
                            "-n",
                            "20",
                            "-c",
                            "2",
                            "--max-tokens",
                            "3",
                            "--tag",
                            "gpu=h100",
                            "--tag",
                            "commit=abc123",
                            "--label",
                            "tgi routes"},
                           scratch_);
  ASSERT_TRUE(run.exited) << run.err;
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  EXPECT_THAT(run.err, HasSubstr(absl::StrCat("prompt lengths for gen: engine ", Url("tgi"),
                                              "/tokenize, 1000 prompts, 1000 exact (")));
  EXPECT_THAT(run.err, HasSubstr(absl::StrCat("prompt lengths for chat: engine ", Url("tgi"),
                                              "/chat_tokenize, 1000 prompts, 1000 exact (")));
  v1::RunResult r = Load(out);
  ASSERT_EQ(r.engines_size(), 2);
  for (const v1::EngineResult& e : r.engines()) {
    SCOPED_TRACE(e.engine());
    EXPECT_EQ(e.lengths().input_compared(), 20u);
    EXPECT_EQ(e.lengths().input_exact(), 20u);
  }
  EXPECT_EQ(r.scenario().label(), "tgi routes");
  EXPECT_EQ(r.scenario().tags().at("gpu"), "h100");
  EXPECT_EQ(r.scenario().tags().at("commit"), "abc123");
  EXPECT_THAT(run.out, HasSubstr("run: label \"tgi routes\" tags commit=abc123 gpu=h100\n"));
  const std::string html = ReadFile(out + "/report.html");
  EXPECT_THAT(html, HasSubstr("\"label\": \"tgi routes\""));
  EXPECT_THAT(html, HasSubstr("function lengthsSection("));

  // diff shows both sides' labels and tags.
  const std::string other = Path("tgi2");
  run = RunLlmbench(
      {"quick", "-e", "tgi", "-u", Url("tgi"), "-m", "sim-model", "--workers", Workers(), "--out",
       other, "-q", "-n", "10", "--max-tokens", "3", "--tag", "gpu=a100"},
      scratch_);
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  run = RunLlmbench({"diff", out, other, "--out", Path("diff")}, scratch_);
  EXPECT_THAT(run.out, HasSubstr("label tgi routes, tags commit=abc123 gpu=h100)\n"));
  EXPECT_THAT(run.out, HasSubstr("tags gpu=a100)\n"));
}

TEST_F(WorkloadTest, OllamaHasNoRouteAndATokenizerJsonIsUsedWhenAsked) {
  const std::string out = Path("ollama");
  CliRun run = Quick("ollama", out, {"--prompt-tokens", "30", "-n", "10", "--max-tokens", "2"});
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  EXPECT_THAT(run.err, HasSubstr("  note: no engine tokenize route (Ollama has no tokenize route) "
                                 "and no tokenizer.json: counted one token per word; the error "
                                 "against the engine's counts is measured below\n"));
  const v1::RunResult l_result = Load(out);
  const v1::LengthReport& l = l_result.engines(0).lengths();
  EXPECT_EQ(l.method(), "words");
  EXPECT_EQ(l.input_compared(), 10u);
  EXPECT_GT(l.input_mean_error(), 0);

  // A tokenizer.json: prompts are exact to it (here, not to the simulator, whose rule differs;
  // the comparison says so).
  const std::string tokenizer =
      std::string(LLMBENCH_SOURCE_DIR) + "/tests/fixtures/tokenizers/llama3-bpe.json";
  const std::string tok = Path("tokenizer");
  run = Quick("vllm", tok,
              {"--prompt-tokens", "30", "-n", "10", "--max-tokens", "2", "--tokenizer", tokenizer,
               "--prompt-lengths", "tokenizer"});
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  const v1::RunResult t_result = Load(tok);
  const v1::LengthReport& t = t_result.engines(0).lengths();
  EXPECT_EQ(t.method(), "tokenizer");
  EXPECT_EQ(t.source(), tokenizer);
  EXPECT_EQ(t.prompts_off_target(), 0u);
  EXPECT_EQ(t.input_requested().min(), 30);
  EXPECT_EQ(t.input_requested().max(), 30);
  EXPECT_EQ(t.input_compared(), 10u);
}

TEST_F(WorkloadTest, OutputLengthsFromADistributionReachTheEngineWithTheirTexts) {
  const std::string out = Path("dist");
  CliRun run = Quick("vllm", out,
                     {"--prompt-tokens", "8", "-n", "40", "-c", "4", "--ignore-eos",
                      "--output-tokens-dist", "uniform:3:12", "--seed", "99", "--export-text"});
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  v1::RunResult r = Load(out);
  const v1::LengthReport& l = r.engines(0).lengths();
  EXPECT_EQ(l.output_compared(), 40u);
  EXPECT_EQ(l.output_reached(), 40u) << "ignore_eos: the sim generates exactly max_tokens";
  EXPECT_GE(l.output_requested().min(), 3);
  EXPECT_LE(l.output_requested().max(), 12);
  EXPECT_EQ(r.scenario().seed(), 99u);
  EXPECT_EQ(r.scenario().generation().output_tokens().kind(),
            v1::TokenLengthDistribution::KIND_UNIFORM);
  const std::vector<JsonlLine> lines = ReadJsonl(out + "/requests.jsonl");
  ASSERT_EQ(lines.size(), 40u);
  std::set<uint32_t> lengths;
  std::set<std::string> workers;
  for (const JsonlLine& line : lines) {
    SCOPED_TRACE(line.request_id);
    EXPECT_GE(line.max_tokens, 3u);
    EXPECT_LE(line.max_tokens, 12u);
    EXPECT_EQ(line.output_tokens, line.max_tokens);
    // The sim's output tokens are vocabulary words with a leading space: one word per token.
    const std::vector<std::string> reply_words = absl::StrSplit(line.reply, ' ', absl::SkipEmpty());
    EXPECT_EQ(reply_words.size(), line.max_tokens) << line.reply;
    EXPECT_EQ(line.reply[0], ' ');
    EXPECT_FALSE(line.truncated);
    EXPECT_EQ(line.input_tokens, 8u);
    EXPECT_EQ(Subword4(line.prompt), 8u) << line.prompt;
    lengths.insert(line.max_tokens);
    workers.insert(line.worker_id);
  }
  EXPECT_GT(lengths.size(), 3u) << "a distribution, not one length";
  EXPECT_EQ(workers, (std::set<std::string>{"w0", "w1"}));

  // The same seed gives the same lengths; the cap bounds the kept reply.
  const std::string again = Path("again");
  run =
      Quick("vllm", again,
            {"--prompt-tokens", "8", "-n", "40", "-c", "4", "--ignore-eos", "--output-tokens-dist",
             "uniform:3:12", "--seed", "99", "--export-text", "--export-text-max-bytes", "10"});
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  std::map<uint64_t, uint32_t> first, second;
  for (const JsonlLine& line : lines) first[line.request_id] = line.max_tokens;
  size_t truncated = 0;
  for (const JsonlLine& line : ReadJsonl(again + "/requests.jsonl")) {
    second[line.request_id] = line.max_tokens;
    EXPECT_LE(line.reply.size(), 10u);
    truncated += line.truncated;
  }
  EXPECT_EQ(first, second);
  EXPECT_GT(truncated, 30u) << "3 to 12 words of 4+ bytes rarely fit in 10 bytes";
  // Without --export-text nothing is written.
  EXPECT_FALSE(std::filesystem::exists(Path("words") + "/requests.jsonl"));
}

TEST_F(WorkloadTest, ShareGptReplyLengthsBecomeEachRequestsMaxTokens) {
  const std::string dataset = Path("sharegpt.json");
  WriteFile(
      dataset,
      R"([{"conversations":[{"from":"human","value":"Describe the weather."},)"
      R"({"from":"gpt","value":"It is sunny with a light breeze and no clouds at all today."}]},)"
      R"({"conversations":[{"from":"human","value":"Name a color."},{"from":"gpt","value":"Blue."}]},)"
      R"({"conversations":[{"from":"human","value":"Count to five."},)"
      R"({"from":"gpt","value":"one two three four five"}]}])");
  const std::string out = Path("sharegpt");
  CliRun run = Quick("vllm", out,
                     {"--dataset", dataset, "--output-tokens-dist", "dataset", "--ignore-eos", "-n",
                      "12", "-c", "3", "--export-text"});
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  const std::map<std::string, uint32_t> expected = {
      {"Describe the weather.",
       Subword4("It is sunny with a light breeze and no clouds at all today.")},
      {"Name a color.", Subword4("Blue.")},
      {"Count to five.", Subword4("one two three four five")}};
  const std::vector<JsonlLine> lines = ReadJsonl(out + "/requests.jsonl");
  ASSERT_EQ(lines.size(), 12u);
  for (const JsonlLine& line : lines) {
    ASSERT_TRUE(expected.contains(line.prompt)) << line.prompt;
    EXPECT_EQ(line.max_tokens, expected.at(line.prompt)) << line.prompt;
    EXPECT_EQ(line.output_tokens, line.max_tokens);
    EXPECT_EQ(line.input_tokens, Subword4(line.prompt)) << "dataset prompts counted, not changed";
  }
  const v1::RunResult l_result = Load(out);
  const v1::LengthReport& l = l_result.engines(0).lengths();
  EXPECT_EQ(l.input_exact(), 12u);
  EXPECT_EQ(l.output_reached(), 12u);
}

TEST_F(WorkloadTest, GpuMetricsFromAFixtureDcgmExporter) {
  const std::string fixtures = std::string(LLMBENCH_SOURCE_DIR) + "/tests/fixtures/dcgm/";
  absl::StatusOr<std::unique_ptr<Subprocess>> exporter = Subprocess::Start(
      {"/usr/bin/python3", std::string(LLMBENCH_SOURCE_DIR) + "/tests/e2e/dcgm_exporter.py",
       fixtures + "h100x2-scrape1.prom", fixtures + "h100x2-scrape2.prom"});
  ASSERT_TRUE(exporter.ok()) << exporter.status();
  auto line = (*exporter)->WaitForStdoutLine(0, std::chrono::seconds(15));
  ASSERT_TRUE(line.ok()) << (*exporter)->Stderr();
  ASSERT_TRUE(line->second.starts_with("listening ")) << line->second;
  const std::string url = line->second.substr(10) + "/metrics";
  const std::string dead = absl::StrCat("http://127.0.0.1:", ClosedPort(), "/metrics");
  const std::string out = Path("gpu");
  CliRun run = Quick(
      "vllm", out, {"-n", "10", "--max-tokens", "2", "--gpu-metrics", url, "--gpu-metrics", dead});
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  v1::RunResult r = Load(out);
  ASSERT_EQ(r.gpu_metrics_size(), 2);
  const v1::GpuMetricsTelemetry& g = r.gpu_metrics(0);
  EXPECT_EQ(g.url(), url);
  EXPECT_GE(g.scrapes(), 2u) << "before the run and after it";
  EXPECT_EQ(g.scrape_errors(), 0u);
  ASSERT_EQ(g.gpus_size(), 2);
  EXPECT_EQ(g.gpus(0).model_name(), "NVIDIA H100 80GB HBM3");
  bool util = false;
  for (const v1::GaugeSeries& s : g.gpus(0).metrics()) {
    if (s.name() != "gpu_util_pct") continue;
    util = true;
    EXPECT_EQ(s.values(0), 87);
    EXPECT_EQ(s.max(), 99);
  }
  EXPECT_TRUE(util);
  // An exporter that does not answer is a note, never a failed run.
  EXPECT_EQ(r.gpu_metrics(1).scrapes(), 0u);
  EXPECT_GE(r.gpu_metrics(1).scrape_errors(), 2u);
  EXPECT_THAT(r.gpu_metrics(1).notes(0),
              HasSubstr(absl::StrCat("scrape failed: GET ", dead, ": ")));
  EXPECT_THAT(run.out,
              HasSubstr(absl::StrCat("GPU gpu-node-7 0 NVIDIA H100 80GB HBM3: util mean ")));
  const std::string csv = ReadFile(out + "/gpu_metrics.csv");
  EXPECT_THAT(csv,
              ::testing::StartsWith("url,hostname,gpu,uuid,model_name,name,metric,t_s,value\n"));
  EXPECT_THAT(csv, HasSubstr(absl::StrCat(url,
                                          ",gpu-node-7,0,GPU-927d7444-b45a-7c49-8402-"
                                          "5e686e46a026,NVIDIA H100 80GB HBM3,gpu_util_pct,"
                                          "DCGM_FI_DEV_GPU_UTIL,0,87\n")));
  EXPECT_THAT(ReadFile(out + "/report.html"), HasSubstr("function gpuMetricsSection("));
}

TEST_F(WorkloadTest, ValidateShowsThePlanAndSendsNothing) {
  const std::string scenario = Path("v.yaml");
  WriteFile(scenario, absl::StrCat("engines: [{name: a, kind: vllm, base_url: ", Url("vllm"),
                                   ", model: sim-model}]\n"
                                   "generation: {output_tokens: {kind: lognormal, mean: 64, "
                                   "sigma: 0.5}}\n"
                                   "load: {rate: {rps: 10, arrival: poisson}, requests: 50}\n"));
  CliRun run = RunLlmbench({"validate", scenario, "--workers", Workers()}, scratch_);
  ASSERT_TRUE(run.exited);
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_THAT(run.out, ::testing::StartsWith("# llmbench scenario, as run (defaults applied)\n"));
  EXPECT_THAT(run.out, HasSubstr("# shards of engine a (" + Url("vllm") + ") over 2 workers\n"));
  EXPECT_THAT(run.out, HasSubstr("rate 5 rps poisson"));
  EXPECT_THAT(run.out, HasSubstr("total: 50 requests scheduled, the last at "));
  EXPECT_THAT(run.out, HasSubstr("valid: " + scenario + " (nothing was sent)\n"));
  const std::string bad = Path("bad.yaml");
  WriteFile(bad,
            "engines: [{kind: vllm, base_url: http://h:1, model: m}]\nload: {rate: {rps: -3}}\n");
  run = RunLlmbench({"validate", bad}, scratch_);
  EXPECT_EQ(run.code, 2);
  EXPECT_EQ(run.err, absl::StrCat("llmbench validate: ", bad,
                                  ":2:15: load.rate.rps: must be > 0, got -3\n"));
  EXPECT_EQ(run.out, "");
}

TEST_F(WorkloadTest, BadFlagValuesExit2NamingTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string err;
  };
  const std::string dir = Path("");
  const std::vector<Case> cases = {
      {{"--header", "X-Team:a\r\nInjected: 1"},
       "llmbench quick: --header: a header must not contain CR, LF or NUL, got "
       "\"X-Team:a\r\nInjected: 1\"\n"},
      {{"--header", "no colon"},
       "llmbench quick: --header: expected NAME:VALUE with NAME an HTTP token, got \"no colon\"\n"},
      {{"--tag", "bad key=1"},
       "llmbench quick: --tag: expected K=V with K of A-Z a-z 0-9 _ . - (at most 64), got \"bad "
       "key=1\"\n"},
      {{"--seed", "-1"},
       "llmbench quick: --seed: must be a whole number between 0 and 18446744073709551615, got "
       "\"-1\"\n"},
      {{"--output-tokens-dist", "normal:64"},
       "llmbench quick: --output-tokens-dist: expected fixed:N, uniform:MIN:MAX, "
       "normal:MEAN:STDDEV[:MIN:MAX], lognormal:MEAN:SIGMA[:MIN:MAX] or dataset, got "
       "\"normal:64\"\n"},
      {{"--output-tokens-dist", "dataset"},
       "llmbench quick: --output-tokens-dist: dataset needs --dataset, got \"dataset\"\n"},
      {{"--dataset", "/nonexistent.json"},
       "llmbench quick: --dataset: must be a readable dataset file, got \"/nonexistent.json\"\n"},
      {{"--gpu-metrics", "gpu:9400"},
       "llmbench quick: --gpu-metrics: must be an http:// or https:// URL, got \"gpu:9400\"\n"},
      {{"--export-text-max-bytes", "0"},
       "llmbench quick: --export-text-max-bytes: must be between 1 and 1048576, got \"0\"\n"},
      {{"--prompt-lengths", "exact"},
       "llmbench quick: --prompt-lengths: expected auto, engine, tokenizer or words, got "
       "\"exact\"\n"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrJoin(c.args, " "));
    std::vector<std::string> args = {"quick", "-e",        "vllm",      "-u",      Url("vllm"),
                                     "-m",    "sim-model", "--workers", Workers(), "-q"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    CliRun run = RunLlmbench(args, scratch_);
    ASSERT_TRUE(run.exited);
    EXPECT_EQ(run.code, 2);
    EXPECT_EQ(run.err, c.err);
  }
}

}  // namespace
}  // namespace llmbench::e2e
