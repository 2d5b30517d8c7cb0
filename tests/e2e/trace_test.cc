// Trace replay (issue 17 item 2) end to end with two workers: a real llmbench-sim (one token per
// word), two real llmbench-worker processes (--workers) and the real `llmbench` binary. What is
// checked, from the files the runs wrote:
// - every request is scheduled at exactly its trace time / speedup from the run's start,
//   whichever worker sent it (requests.csv scheduled_ns), and sent near it (sent_ns);
// - Mooncake hash_ids: requests with equal leading ids carry equal text prefixes, different ids
//   different blocks, across workers (requests.jsonl); input_length is what the engine counted,
//   output_length the request's max_tokens;
// - a plain trace looped for a duration (scenario YAML): out-of-order lines sorted, its own
//   max_tokens, the repetitions at their period; `validate` shows the schedule;
// - summary.json's trace object and report.html's Trace section;
// - a burst the client cannot keep up with is INVALID (exit 4) by schedule lateness;
// - a bad trace line fails before any request, naming the file, line and field.
#include <stdlib.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
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
using ::testing::HasSubstr;

const std::string kFixtures = std::string(LLMBENCH_SOURCE_DIR) + "/tests/fixtures/traces/";

struct MooncakeLine {
  double timestamp_ms = 0;
  uint32_t input_length = 0;
  uint32_t output_length = 0;
  std::vector<uint64_t> hash_ids;
};

std::vector<MooncakeLine> ReadMooncake(const std::string& path) {
  std::vector<MooncakeLine> out;
  simdjson::dom::parser parser;
  for (absl::string_view text : absl::StrSplit(ReadFile(path), '\n', absl::SkipEmpty())) {
    simdjson::dom::element e;
    EXPECT_EQ(parser.parse(text.data(), text.size()).get(e), simdjson::SUCCESS);
    MooncakeLine l;
    uint64_t n = 0;
    EXPECT_EQ(e["timestamp"].get_double().get(l.timestamp_ms), simdjson::SUCCESS);
    EXPECT_EQ(e["input_length"].get_uint64().get(n), simdjson::SUCCESS);
    l.input_length = static_cast<uint32_t>(n);
    EXPECT_EQ(e["output_length"].get_uint64().get(n), simdjson::SUCCESS);
    l.output_length = static_cast<uint32_t>(n);
    simdjson::dom::array ids;
    if (e["hash_ids"].get_array().get(ids) == simdjson::SUCCESS) {
      for (simdjson::dom::element id : ids) l.hash_ids.push_back(id.get_uint64().value());
    }
    out.push_back(std::move(l));
  }
  return out;
}

struct Exported {
  std::string worker_id;
  uint32_t max_tokens = 0;
  uint32_t input_tokens = 0;
  uint32_t output_tokens = 0;
  std::string prompt;
};

std::map<uint64_t, Exported> ReadExport(const std::string& path) {
  std::map<uint64_t, Exported> out;
  simdjson::dom::parser parser;
  for (absl::string_view text : absl::StrSplit(ReadFile(path), '\n', absl::SkipEmpty())) {
    simdjson::dom::element e;
    EXPECT_EQ(parser.parse(text.data(), text.size()).get(e), simdjson::SUCCESS);
    Exported x;
    uint64_t id = 0, n = 0;
    std::string_view s;
    EXPECT_EQ(e["request_id"].get_uint64().get(id), simdjson::SUCCESS);
    if (e["worker_id"].get_string().get(s) == simdjson::SUCCESS) x.worker_id = std::string(s);
    if (e["max_tokens"].get_uint64().get(n) == simdjson::SUCCESS) {
      x.max_tokens = static_cast<uint32_t>(n);
    }
    if (e["input_tokens"].get_uint64().get(n) == simdjson::SUCCESS) {
      x.input_tokens = static_cast<uint32_t>(n);
    }
    if (e["output_tokens"].get_uint64().get(n) == simdjson::SUCCESS) {
      x.output_tokens = static_cast<uint32_t>(n);
    }
    if (e["prompt"].get_string().get(s) == simdjson::SUCCESS) x.prompt = std::string(s);
    out[id] = std::move(x);
  }
  return out;
}

std::vector<std::string> Words(const std::string& text) {
  return absl::StrSplit(text, ' ', absl::SkipEmpty());
}

class TraceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    unsetenv("LLMBENCH_WORKER_TOKEN");
    unsetenv("LLMBENCH_TOKEN");
    SimProcess::Options options;
    options.kinds = {"vllm"};
    options.args = {"--jitter",         "0", "--ttft-base-ms", "2",    "--itl-ms", "1",
                    "--natural-tokens", "0", "--max-batch",    "8192", "--seed",   "5"};
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
    char templ[] = "/tmp/llmbench-trace-XXXXXX";
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

  static const std::string& Url() { return sim_->BaseUrl("vllm"); }
  static std::string Workers() { return workers_->List(); }
  std::string Path(const std::string& name) const { return scratch_ + "/" + name; }

  CliRun Quick(const std::string& out, std::vector<std::string> args) {
    std::vector<std::string> all = {"quick",     "-e",        "vllm",    "-u",    Url(), "-m",
                                    "sim-model", "--workers", Workers(), "--out", out,   "-q"};
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

// Lateness allowed per request (and the run's lateness and dispatch-delay gates loosened to
// match): the workers share two cores with the sim and the test runner, and a loaded CI
// machine must not turn these runs INVALID; the INVALID gate is tested on its own below.
constexpr int64_t kMaxLatenessNs = 250'000'000;

TEST_F(TraceTest, MooncakeTraceKeepsAbsoluteTimesAndPrefixesAcrossTwoWorkers) {
  const std::string trace = kFixtures + "mooncake_small.jsonl";
  const std::vector<MooncakeLine> lines = ReadMooncake(trace);
  ASSERT_EQ(lines.size(), 24u);
  const std::string out = Path("mooncake");
  CliRun run = Quick(out, {"--trace", trace, "--trace-speedup", "2", "--ignore-eos",
                           "--export-text", "--max-lateness", "250", "--max-dispatch-delay",
                           "250"});
  ASSERT_EQ(run.code, 0) << run.out << run.err;

  // requests.csv: each request at its trace time / 2, on either worker.
  const Csv csv = ParseCsv(ReadFile(out + "/requests.csv"));
  ASSERT_EQ(csv.rows.size(), lines.size());
  std::set<std::string> workers;
  for (size_t i = 0; i < csv.rows.size(); ++i) {
    const uint64_t id = csv.Uint(i, "request_id");
    ASSERT_LT(id, lines.size());
    SCOPED_TRACE(absl::StrCat("request ", id));
    const int64_t expected =
        std::llround((lines[id].timestamp_ms - lines[0].timestamp_ms) / 2 * 1e6);
    EXPECT_EQ(csv.Int(i, "scheduled_ns"), expected);
    const int64_t lateness = csv.Int(i, "sent_ns") - csv.Int(i, "scheduled_ns");
    EXPECT_GE(lateness, 0);
    EXPECT_LT(lateness, kMaxLatenessNs);
    EXPECT_EQ(csv.Get(i, "error_class"), "none") << csv.Get(i, "error_message");
    workers.insert(csv.Get(i, "worker_id"));
  }
  EXPECT_EQ(workers, (std::set<std::string>{"w0", "w1"}));

  // requests.jsonl: lengths and prompt blocks.
  const std::map<uint64_t, Exported> exported = ReadExport(out + "/requests.jsonl");
  ASSERT_EQ(exported.size(), lines.size());
  std::map<uint64_t, std::vector<std::string>> words;
  for (const auto& [id, x] : exported) {
    SCOPED_TRACE(absl::StrCat("request ", id));
    EXPECT_EQ(x.input_tokens, lines[id].input_length);
    EXPECT_EQ(x.max_tokens, lines[id].output_length);
    EXPECT_EQ(x.output_tokens, lines[id].output_length);
    words[id] = Words(x.prompt);
    EXPECT_EQ(words[id].size(), lines[id].input_length);
  }
  size_t shared = 0, shared_across_workers = 0, differing = 0;
  for (uint64_t a = 0; a < lines.size(); ++a) {
    for (uint64_t b = a + 1; b < lines.size(); ++b) {
      size_t k = 0;
      while (k < lines[a].hash_ids.size() && k < lines[b].hash_ids.size() &&
             lines[a].hash_ids[k] == lines[b].hash_ids[k]) {
        ++k;
      }
      const size_t common = std::min<size_t>({k * 512, words[a].size(), words[b].size()});
      EXPECT_TRUE(std::equal(words[a].begin(), words[a].begin() + common, words[b].begin()))
          << a << " and " << b << " share " << k << " blocks";
      if (k > 0) {
        ++shared;
        // Text prefix, byte for byte.
        const std::string& pa = exported.at(a).prompt;
        const std::string& pb = exported.at(b).prompt;
        const size_t bytes = std::min(pa.size(), pb.size());
        size_t same = 0;
        while (same < bytes && pa[same] == pb[same]) ++same;
        EXPECT_GE(same + 1, common * 2) << "at least `common` words of the text are equal";
        if (exported.at(a).worker_id != exported.at(b).worker_id) ++shared_across_workers;
      }
      // A different block k: different words there.
      if (k < lines[a].hash_ids.size() && k < lines[b].hash_ids.size() &&
          words[a].size() > k * 512 + 16 && words[b].size() > k * 512 + 16) {
        EXPECT_FALSE(std::equal(words[a].begin() + static_cast<long>(k * 512),
                                words[a].begin() + static_cast<long>(k * 512 + 16),
                                words[b].begin() + static_cast<long>(k * 512)))
            << a << " and " << b << " differ at block " << k;
        ++differing;
      }
    }
  }
  EXPECT_GT(shared, 20u);
  EXPECT_GT(shared_across_workers, 5u);
  EXPECT_GT(differing, 20u);

  // summary.json and the report.
  const v1::RunResult r = Load(out);
  ASSERT_TRUE(r.has_trace());
  EXPECT_EQ(r.trace().format(), "mooncake");
  EXPECT_EQ(r.trace().file(), trace);
  EXPECT_EQ(r.trace().file_entries(), 24u);
  EXPECT_EQ(r.trace().requests(), 24u);
  EXPECT_EQ(r.trace().repetitions(), 1u);
  EXPECT_EQ(r.trace().speedup(), 2);
  EXPECT_EQ(r.trace().block_tokens(), 512u);
  EXPECT_GT(r.trace().reused_blocks(), 10u);
  EXPECT_NEAR(r.trace().schedule_seconds(), (lines.back().timestamp_ms / 2) / 1000, 1e-9);
  EXPECT_EQ(r.scenario().load().requests(), 24u);
  EXPECT_EQ(r.overall().requests(), 24u);
  EXPECT_EQ(r.overall().successes(), 24u);
  EXPECT_TRUE(r.overall().has_schedule_lateness_ms());
  const std::string summary = ReadFile(out + "/summary.json");
  EXPECT_THAT(summary, HasSubstr("\"trace\": {"));
  EXPECT_THAT(summary, HasSubstr("\"format\": \"mooncake\""));
  const std::string report = ReadFile(out + "/report.html");
  EXPECT_THAT(report, HasSubstr("Trace replay"));
}

TEST_F(TraceTest, PlainTraceLoopedForADurationFromAScenarioFile) {
  const std::string trace = kFixtures + "plain_small.jsonl";
  const std::string scenario = Path("plain.yaml");
  WriteFile(scenario, absl::StrCat("engines: [{name: sim, kind: vllm, base_url: ", Url(),
                                   ", model: sim-model}]\n"
                                   "generation: {max_tokens: 3, ignore_eos: true}\n"
                                   "load:\n"
                                   "  trace: {file: ",
                                   trace,
                                   ", speedup: 4, loop: true}\n"
                                   "  duration_seconds: 0.6\n"
                                   "thresholds: {max_lateness_p99_ms: 250, "
                                   "max_dispatch_delay_p99_ms: 250}\n"));
  // Sorted: 0, 120, 120, 350.5, 400, 900 ms; / 4: 0, 30, 30, 87.625, 100, 225 ms. Period:
  // (900 + 900 / 5) / 4 = 270 ms; before 0.6 s: 6 + 6 + 3 requests.
  const std::vector<int64_t> offsets = {0,          30'000'000,  30'000'000,
                                        87'625'000, 100'000'000, 225'000'000};
  const std::vector<uint32_t> max_tokens = {8, 4, 3, 6, 12, 2};  // 3: generation.max_tokens
  const int64_t period = 270'000'000;

  CliRun validate = RunLlmbench({"validate", scenario, "--workers", Workers()}, scratch_);
  ASSERT_EQ(validate.code, 0) << validate.err;
  EXPECT_THAT(validate.out, HasSubstr("# trace\n"));
  EXPECT_THAT(validate.out, HasSubstr(": plain format, 6 entries (1 out of order, sorted by "
                                      "timestamp)\n"));
  EXPECT_THAT(validate.out, HasSubstr("speedup x4, looped: 15 requests (3 repetitions, every "
                                      "0.27 s), the last sent 0.57 s after the start\n"));
  EXPECT_THAT(validate.out, HasSubstr("trace replay, period 0.27 s"));
  EXPECT_THAT(validate.out, HasSubstr("total: 15 requests scheduled, the last at 0.57 s"));

  const std::string out = Path("plain");
  CliRun run = RunLlmbench(
      {"run", scenario, "--workers", Workers(), "--out", out, "--quiet", "--export-text"},
      scratch_);
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr(absl::StrCat("trace: ", trace, " (plain), 6 of 6 entries, x4, "
                                              "looped 3 times every 0.270 s: 15 requests, the "
                                              "last scheduled at 0.570 s\n")));
  const Csv csv = ParseCsv(ReadFile(out + "/requests.csv"));
  ASSERT_EQ(csv.rows.size(), 15u);
  std::set<uint64_t> ids;
  for (size_t i = 0; i < csv.rows.size(); ++i) {
    const uint64_t id = csv.Uint(i, "request_id");
    SCOPED_TRACE(absl::StrCat("request ", id));
    ids.insert(id);
    EXPECT_EQ(csv.Int(i, "scheduled_ns"), offsets[id % 6] + static_cast<int64_t>(id / 6) * period);
    const int64_t lateness = csv.Int(i, "sent_ns") - csv.Int(i, "scheduled_ns");
    EXPECT_GE(lateness, 0);
    EXPECT_LT(lateness, kMaxLatenessNs);
    EXPECT_EQ(csv.Uint(i, "prompt_index"), id % 6);
  }
  EXPECT_EQ(ids.size(), 15u);
  EXPECT_EQ(*ids.rbegin(), 14u);
  for (const auto& [id, x] : ReadExport(out + "/requests.jsonl")) {
    SCOPED_TRACE(absl::StrCat("request ", id));
    EXPECT_EQ(x.output_tokens, max_tokens[id % 6]);
  }
  EXPECT_EQ(ReadExport(out + "/requests.jsonl").at(7).prompt, "List three prime numbers.");
  const v1::RunResult r = Load(out);
  EXPECT_EQ(r.trace().format(), "plain");
  EXPECT_EQ(r.trace().requests(), 15u);
  EXPECT_EQ(r.trace().repetitions(), 3u);
  EXPECT_EQ(r.trace().reordered_entries(), 1u);
  EXPECT_TRUE(r.trace().loop());
  EXPECT_NEAR(r.trace().period_seconds(), 0.27, 1e-9);
}

// 3000 requests at one instant over two single-loop workers: each loop hands 1500 requests to
// its sockets, 64 per loop turn, so the last go out tens of ms after their time; the default
// lateness gate (p99 10 ms) makes the run INVALID.
TEST_F(TraceTest, ABurstTheClientCannotKeepUpWithIsInvalid) {
  const std::string trace = Path("burst.jsonl");
  std::string text;
  for (int i = 0; i < 3000; ++i) {
    absl::StrAppend(&text, "{\"timestamp\": 0, \"input_length\": 4, \"output_length\": 1}\n");
  }
  WriteFile(trace, text);
  const std::string out = Path("burst");
  CliRun run = Quick(out, {"--trace", trace, "--ignore-eos"});
  ASSERT_TRUE(run.exited) << run.err;
  EXPECT_EQ(run.code, 4) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("verdict: INVALID\n"));
  EXPECT_THAT(run.out, HasSubstr("schedule lateness p99 "));
  const v1::RunResult r = Load(out);
  EXPECT_EQ(r.verdict().state(), v1::Verdict::STATE_INVALID);
  ASSERT_TRUE(r.overall().has_schedule_lateness_ms());
  EXPECT_GT(r.overall().schedule_lateness_ms().p99(), 10);
  EXPECT_EQ(r.trace().requests(), 3000u);
}

TEST_F(TraceTest, BadTracesAndFlagsFailBeforeAnyRequest) {
  const std::string bad = kFixtures + "bad_negative_timestamp.jsonl";
  CliRun run = Quick(Path("bad"), {"--trace", bad});
  ASSERT_TRUE(run.exited);
  EXPECT_EQ(run.code, 1);
  EXPECT_EQ(run.err, absl::StrCat("llmbench: ", bad,
                                  ":2: timestamp: must be a number >= 0 (milliseconds), got -3\n"));
  EXPECT_FALSE(std::filesystem::exists(Path("bad") + "/requests.csv"));
  struct Case {
    std::vector<std::string> args;
    std::string err;
  };
  const std::string good = kFixtures + "plain_small.jsonl";
  const std::vector<Case> cases = {
      {{"--trace", "/nonexistent.jsonl"},
       "llmbench quick: --trace: must be a readable trace file, got \"/nonexistent.jsonl\"\n"},
      {{"--trace", good, "--rate", "5"},
       "llmbench quick: --trace: the trace sets the load and the prompts: drop --rate, got \"" +
           good + "\"\n"},
      {{"--trace", good, "--trace-speedup", "0"},
       "llmbench quick: --trace-speedup: must be a number > 0 and <= 1000000, got \"0\"\n"},
      {{"--trace", good, "--trace-start", "2", "--trace-end", "1"},
       "llmbench quick: --trace-end: must be after --trace-start, got \"1\"\n"},
      {{"--trace", good, "--trace-format", "csv"},
       "llmbench quick: --trace-format: expected auto, mooncake or plain, got \"csv\"\n"},
      {{"--trace", good, "--trace-loop"},
       "llmbench quick: --trace-loop: needs --duration or --requests to end the replay, got "
       "\"\"\n"},
      {{"--trace-speedup", "2"}, "llmbench quick: --trace-speedup: needs --trace FILE, got \"\"\n"},
      {{"--trace", good, "--trace-block-size", "0"},
       "llmbench quick: --trace-block-size: must be a whole number of tokens from 1 to 1000000, "
       "got \"0\"\n"},
      {{"--trace", good, "--trace-format", "plain", "--trace-block-size", "16"},
       "llmbench quick: --trace-block-size: only for mooncake traces (hash_ids), got \"16\"\n"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrJoin(c.args, " "));
    run = Quick(Path("flags"), c.args);
    ASSERT_TRUE(run.exited);
    EXPECT_EQ(run.code, 2);
    EXPECT_EQ(run.err, c.err);
  }
  // A window with no entry.
  run = Quick(Path("window"), {"--trace", good, "--trace-start", "5"});
  EXPECT_EQ(run.code, 1);
  EXPECT_EQ(run.err, absl::StrCat("llmbench: load.trace: no entry of ", good,
                                  " lies between start_seconds 5 and end_seconds (none) (its "
                                  "entries span 0.9 s from the first timestamp)\n"));
}

}  // namespace
}  // namespace llmbench::e2e
