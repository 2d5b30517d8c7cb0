// What a CI gates on, end to end: the real `llmbench` binary with local workers against a
// real llmbench-sim. Each test makes a number or an exit status lie on purpose (an engine
// that dies, total failure, several engines, a bad flag, a signal) and checks that the verdict
// and the exit status say so (docs/cli.md, "Exit status").
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
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

// A fast, deterministic simulator: 5 ms to the first token, 2 ms per token, no natural end.
std::unique_ptr<SimProcess> StartSim(std::vector<std::string> kinds,
                                     std::vector<std::string> extra = {}) {
  SimProcess::Options options;
  options.kinds = std::move(kinds);
  options.args = {"--jitter", "0", "--ttft-base-ms", "5", "--ttft-per-token-us", "0",
                  "--itl-ms", "2", "--itl-per-seq-us", "0", "--natural-tokens", "0",
                  "--max-batch", "256", "--threads", "1"};
  options.args.insert(options.args.end(), extra.begin(), extra.end());
  absl::StatusOr<std::unique_ptr<SimProcess>> sim = SimProcess::Start(options);
  EXPECT_TRUE(sim.ok()) << sim.status();
  return sim.ok() ? *std::move(sim) : nullptr;
}

// Requests the simulator received on its generation routes (llmbench_sim_requests_total).
uint64_t SimRequests(const std::string& base_url) {
  testing::HttpResponse r = HttpGet(base_url + "/sim/metrics");
  uint64_t total = 0;
  for (absl::string_view line : absl::StrSplit(r.body, '\n')) {
    if (!absl::ConsumePrefix(&line, "llmbench_sim_requests_total{")) continue;
    double v = 0;
    if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &v)) total += static_cast<uint64_t>(v);
  }
  return total;
}

class GateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("LLMBENCH_TOKEN");
    unsetenv("LLMBENCH_WORKER_TOKEN");
    char templ[] = "/tmp/llmbench-gate-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    scratch_ = templ;
  }
  void TearDown() override {
    std::error_code ec;
    if (!HasFailure()) {
      std::filesystem::remove_all(scratch_, ec);
    } else {
      std::cerr << "kept " << scratch_ << " for inspection\n";
    }
  }

  std::string Path(const std::string& name) const { return scratch_ + "/" + name; }

  // `llmbench ARGS... --local-workers N --loop-threads 1`.
  CliRun Run(std::vector<std::string> args, int local_workers = 1,
             std::chrono::seconds timeout = std::chrono::seconds(90),
             const std::function<void(pid_t)>& while_running = nullptr) {
    args.insert(args.end(), {"--local-workers", absl::StrCat(local_workers), "--loop-threads",
                             "1"});
    return RunLlmbench(args, scratch_, timeout, while_running);
  }

  static v1::RunResult Load(const std::string& dir) {
    absl::StatusOr<v1::RunResult> result = coordinator::LoadRunResult(dir);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : v1::RunResult();
  }

  static std::vector<std::string> Single(const std::string& command, const std::string& kind,
                                         const std::string& url) {
    return {command, "-e", kind, "-u", url, "-m", "sim-model"};
  }

  std::string scratch_;
};

// 1. A closed-loop run whose engine dies: before, every slot retried at once (298,368 connect
// failures in 3 s, 100% CPU) and the run ended VALID with exit 0. Now a failed slot backs
// off, the engine is declared down after --engine-down-after seconds of nothing but
// connection failures, the run stops early, keeps what it measured, and exits 6.
TEST_F(GateTest, DeadEngineStopsTheRunEarlyAsEngineDown) {
  std::unique_ptr<SimProcess> sim = StartSim({"vllm"});
  ASSERT_NE(sim, nullptr);
  const std::string out = Path("dead");
  CliRun run = Run(
      {"load", "-e", "vllm", "-u", sim->BaseUrl("vllm"), "-m", "sim-model", "-c", "8", "-d", "60",
       "--max-tokens", "4", "--engine-down-after", "3", "--out", out, "-q"},
      1, std::chrono::seconds(60), [&](pid_t) {
        std::this_thread::sleep_for(std::chrono::seconds(3));
        sim->process().Signal(SIGKILL);
      });
  ASSERT_TRUE(run.exited) << run.err;
  EXPECT_EQ(run.code, 6) << run.out << run.err;
  // Stopped ~3 s after the engine died, not at the 60 s bound.
  EXPECT_LT(run.wall_s, 30) << run.out;
  EXPECT_THAT(run.out, HasSubstr("\nverdict: ENGINE_DOWN\n  - engine vllm unreachable for "));
  EXPECT_THAT(run.out, HasSubstr("\nexit status 6: ENGINE_DOWN: engine vllm unreachable for "));
  v1::RunResult result = Load(out);
  EXPECT_EQ(result.verdict().state(), v1::Verdict::STATE_ENGINE_DOWN);
  EXPECT_EQ(result.verdict().exit_status(), 6);
  ASSERT_EQ(result.engines_size(), 1);
  const v1::Aggregates& a = result.engines(0).aggregates();
  EXPECT_GT(a.successes(), 100u) << "what was measured before the engine died is kept";
  EXPECT_GT(a.failures(), 0u);
  // The failures are bounded by the back-off (a tight loop made hundreds of thousands).
  EXPECT_LT(a.failures(), 400u);
  ASSERT_EQ(result.workers_size(), 1);
  EXPECT_GT(result.workers(0).failure_backoffs(), 0u);
  // `report` keeps the status.
  CliRun report = RunLlmbench({"report", out}, scratch_);
  EXPECT_EQ(report.code, 6) << report.out;
}

// --engine-down-after 0 turns the check off: a run against a closed port then fails on its
// error rate (every request failed to connect), never as VALID.
TEST_F(GateTest, AllConnectionsRefusedFailsOnTheErrorRate) {
  const std::string url = absl::StrCat("http://127.0.0.1:", ClosedPort());
  const std::string out = Path("refused");
  CliRun run = Run({"quick", "-e", "vllm", "-u", url, "-m", "m", "-n", "6", "-c", "2",
                    "--no-engine-check", "--engine-down-after", "0", "--out", out, "-q"});
  ASSERT_TRUE(run.exited) << run.err;
  EXPECT_EQ(run.code, 3) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("\nverdict: VALID\n  THRESHOLD CROSSED: engine vllm: error rate "
                                 "100.00% (6 failed, of 6) > max_error_rate 5.00%\n"));
  EXPECT_THAT(run.out, HasSubstr("\nexit status 3: threshold crossed: engine vllm: error rate "));
  v1::RunResult result = Load(out);
  EXPECT_EQ(result.verdict().exit_status(), 3);
  ASSERT_EQ(result.verdict().thresholds_crossed_size(), 1);
}

// 2. Every request fails: before, `quick` exited 0 as VALID. The default --max-error-rate is
// 5%; a higher one given on the command line passes the same run.
TEST_F(GateTest, TotalFailureCrossesTheDefaultErrorRate) {
  std::unique_ptr<SimProcess> sim =
      StartSim({"vllm"}, {"--fault-rate", "1", "--fault", "status_500"});
  ASSERT_NE(sim, nullptr);
  const std::string out = Path("failing");
  CliRun run = Run({"quick", "-e", "vllm", "-u", sim->BaseUrl("vllm"), "-m", "sim-model", "-n",
                    "12", "-c", "4", "--max-tokens", "4", "--out", out, "-q"});
  ASSERT_TRUE(run.exited) << run.err;
  EXPECT_EQ(run.code, 3) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("THRESHOLD CROSSED: engine vllm: error rate 100.00% (12 failed, "
                                 "of 12) > max_error_rate 5.00%\n"));
  v1::RunResult result = Load(out);
  EXPECT_EQ(result.overall().successes(), 0u);
  EXPECT_EQ(result.verdict().exit_status(), 3);
  EXPECT_DOUBLE_EQ(result.scenario().thresholds().max_error_rate(), 0.05);

  CliRun tolerant = Run({"quick", "-e", "vllm", "-u", sim->BaseUrl("vllm"), "-m", "sim-model",
                         "-n", "4", "-c", "4", "--max-tokens", "4", "--max-error-rate", "100%",
                         "--out", Path("tolerant"), "-q"});
  EXPECT_EQ(tolerant.code, 0) << tolerant.out << tolerant.err;
}

// --slo makes goodput measurable from the flag commands; --min-slo-attainment gates on it.
TEST_F(GateTest, SloFlagsGiveGoodputAndGateOnAttainment) {
  std::unique_ptr<SimProcess> sim = StartSim({"vllm"});
  ASSERT_NE(sim, nullptr);
  const std::string met = Path("met");
  CliRun ok = Run({"quick", "-e", "vllm", "-u", sim->BaseUrl("vllm"), "-m", "sim-model", "-n",
                   "10", "-c", "2", "--max-tokens", "4", "--slo", "ttft=5s,e2e=10000",
                   "--min-slo-attainment", "90%", "--out", met, "-q"});
  ASSERT_TRUE(ok.exited) << ok.err;
  EXPECT_EQ(ok.code, 0) << ok.out << ok.err;
  v1::RunResult result = Load(met);
  ASSERT_TRUE(result.overall().has_goodput());
  EXPECT_GT(result.overall().goodput(), 0);
  EXPECT_DOUBLE_EQ(result.overall().slo_attainment(), 1.0);
  EXPECT_DOUBLE_EQ(result.scenario().slo().ttft_ms(), 5000);

  // 1 ms to the first token is impossible against a 5 ms model.
  const std::string missed = Path("missed");
  CliRun bad = Run({"quick", "-e", "vllm", "-u", sim->BaseUrl("vllm"), "-m", "sim-model", "-n",
                    "10", "-c", "2", "--max-tokens", "4", "--slo", "ttft=1", "--min-slo-attainment",
                    "0.9", "--out", missed, "-q"});
  ASSERT_TRUE(bad.exited) << bad.err;
  EXPECT_EQ(bad.code, 3) << bad.out << bad.err;
  EXPECT_THAT(bad.out, HasSubstr("THRESHOLD CROSSED: engine vllm: SLO attainment 0.00% < "
                                 "min_slo_attainment 90.00%\n"));
  EXPECT_DOUBLE_EQ(Load(missed).overall().goodput(), 0);
}

// Per-engine windows on one axis, from requests.csv: [first sent, last end] in ns.
std::map<std::string, std::pair<int64_t, int64_t>> EngineSpans(const std::string& dir) {
  Csv csv = ParseCsv(ReadFile(dir + "/requests.csv"));
  std::map<std::string, std::pair<int64_t, int64_t>> spans;
  for (size_t i = 0; i < csv.rows.size(); ++i) {
    const std::string& engine = csv.Get(i, "engine");
    const int64_t sent = csv.Int(i, "sent_ns");
    const int64_t end = csv.Int(i, "end_ns");
    auto [it, inserted] = spans.try_emplace(engine, sent, end);
    if (!inserted) {
      it->second.first = std::min(it->second.first, sent);
      it->second.second = std::max(it->second.second, end);
    }
  }
  return spans;
}

std::vector<std::string> CompareTargets(const SimProcess& sim) {
  return {"compare",
          "--target", absl::StrCat("a=vllm,", sim.BaseUrl("vllm"), ",sim-model"),
          "--target", absl::StrCat("b=tgi,", sim.BaseUrl("tgi"), ",sim-model"),
          "--target", absl::StrCat("c=ollama,", sim.BaseUrl("ollama"), ",sim-model"),
          "--max-tokens", "4", "-c", "2"};
}

// 3. Engines one after another: each engine's times used to restart at 0, so the overall
// window was one engine's and the "all" row summed three engines' requests over it (3x the
// real rate, mean concurrency 3x the -c). Now every record is on the run's axis: the engines'
// spans follow each other, the overall figures are over the real window, and the console has
// no combined row.
TEST_F(GateTest, CompareOneAfterAnotherKeepsRealTimeAndNoCombinedRow) {
  std::unique_ptr<SimProcess> sim = StartSim({"vllm", "tgi", "ollama"});
  ASSERT_NE(sim, nullptr);
  const std::string out = Path("sequential");
  std::vector<std::string> args = CompareTargets(*sim);
  args.insert(args.end(), {"-n", "60", "--out", out, "-q"});
  CliRun run = Run(args);
  ASSERT_TRUE(run.exited) << run.err;
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  EXPECT_THAT(run.out, Not(HasSubstr("\nall ")));
  EXPECT_THAT(run.out, HasSubstr("(engines ran one after another: each row is over its own "
                                 "window; no combined row)\n"));
  const auto spans = EngineSpans(out);
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_GE(spans.at("b").first, spans.at("a").second) << "b started before a ended";
  EXPECT_GE(spans.at("c").first, spans.at("b").second) << "c started before b ended";
  v1::RunResult result = Load(out);
  double fastest = 0;
  for (const v1::EngineResult& e : result.engines()) {
    fastest = std::max(fastest, e.aggregates().request_throughput());
    EXPECT_NEAR(e.aggregates().mean_concurrency(), 2, 0.5) << e.engine();
  }
  // Over the whole span the rate is below every engine's own and concurrency is at most -c.
  EXPECT_LT(result.overall().request_throughput(), fastest);
  EXPECT_LE(result.overall().mean_concurrency(), 2.05);
  EXPECT_NEAR(result.overall().measured_window_s(),
              static_cast<double>(spans.at("c").second - spans.at("a").first) / 1e9, 1e-6);
}

// Side by side: every engine at once on its own worker; the combined row is the load the
// engines took together, and its concurrency is the sum of theirs.
TEST_F(GateTest, CompareSideBySideRunsEnginesAtOnce) {
  std::unique_ptr<SimProcess> sim = StartSim({"vllm", "tgi", "ollama"});
  ASSERT_NE(sim, nullptr);
  const std::string out = Path("side");
  std::vector<std::string> args = CompareTargets(*sim);
  args.insert(args.end(), {"-d", "3", "--side-by-side", "--out", out, "-q"});
  CliRun run = Run(args, /*local_workers=*/1);  // one per engine is started regardless
  ASSERT_TRUE(run.exited) << run.err;
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("\nall "));
  const auto spans = EngineSpans(out);
  ASSERT_EQ(spans.size(), 3u);
  for (const auto& [engine, span] : spans) {
    for (const auto& [other, other_span] : spans) {
      EXPECT_LT(span.first, other_span.second) << engine << " and " << other << " overlap";
    }
  }
  v1::RunResult result = Load(out);
  EXPECT_EQ(result.workers_size(), 3);
  double sum_rate = 0;
  for (const v1::EngineResult& e : result.engines()) {
    sum_rate += e.aggregates().request_throughput();
  }
  EXPECT_NEAR(result.overall().request_throughput(), sum_rate, 0.15 * sum_rate);
  EXPECT_NEAR(result.overall().mean_concurrency(), 6, 1.0);
}

// 6. Bad flag values used to run something else (an open loop at --rate -1 became a closed
// loop of 1; -n -5 wrapped to 1.84e19). Now each names its flag and exits 2 before anything
// is sent or written.
TEST_F(GateTest, BadFlagValuesNameTheFlagAndExit2) {
  std::unique_ptr<SimProcess> sim = StartSim({"vllm"});
  ASSERT_NE(sim, nullptr);
  const std::string url = sim->BaseUrl("vllm");
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--rate", "-1"}, "llmbench quick: --rate: must be > 0 and <= 10000000, got \"-1\"\n"},
      {{"--rate", "0"}, "llmbench quick: --rate: must be > 0 and <= 10000000, got \"0\"\n"},
      {{"--rate", "nan"}, "llmbench quick: --rate: must be a finite number, got \"nan\"\n"},
      {{"-c", "0"}, "llmbench quick: --concurrency: must be between 1 and 1000000, got \"0\"\n"},
      {{"--prompt-tokens", "0"},
       "llmbench quick: --prompt-tokens: must be between 1 and 1000000, got \"0\"\n"},
      {{"--local-workers", "-1"},
       "llmbench quick: --local-workers: must be between 1 and 1024, got \"-1\"\n"},
      {{"-d", "0"}, "llmbench quick: --duration: must be > 0 and <= 2592000, got \"0\"\n"},
      {{"-n", "-5"},
       "llmbench quick: --requests: must be between 1 and 10000000, got \"-5\"\n"},
      {{"--max-error-rate", "2"},
       "llmbench quick: --max-error-rate: must be between 0 and 1 (0% and 100%), got \"2\"\n"},
      {{"--slo", "ttft=fast"},
       "llmbench quick: --slo: \"ttft\" needs a latency > 0 in ms, got \"ttft=fast\"\n"},
      {{"--timeout", "-3"},
       "llmbench quick: --timeout: must be a duration > 0 (seconds, or with ms/s/m), got "
       "\"-3\"\n"},
  };
  const uint64_t before = SimRequests(url);
  for (const Case& c : cases) {
    std::vector<std::string> args = Single("quick", "vllm", url);
    args.insert(args.end(), c.args.begin(), c.args.end());
    args.insert(args.end(), {"--out", Path("never"), "-q"});
    // Without --local-workers appended by Run(): the case may be about that flag.
    CliRun run = RunLlmbench(args, scratch_);
    ASSERT_TRUE(run.exited) << run.err;
    EXPECT_EQ(run.code, 2) << absl::StrJoin(c.args, " ") << ": " << run.err;
    EXPECT_EQ(run.err, c.message) << absl::StrJoin(c.args, " ");
  }
  EXPECT_EQ(SimRequests(url), before);
  EXPECT_FALSE(std::filesystem::exists(Path("never")));
}

// `-d` alone means "run for that long": it used to run the default 100 requests and stop.
TEST_F(GateTest, DurationAloneRunsForThatLongAndShowsElapsedAndEta) {
  std::unique_ptr<SimProcess> sim = StartSim({"vllm"});
  ASSERT_NE(sim, nullptr);
  const std::string out = Path("timed");
  CliRun run = Run({"quick", "-e", "vllm", "-u", sim->BaseUrl("vllm"), "-m", "sim-model", "-c",
                    "4", "-d", "3", "--max-tokens", "2", "--out", out});
  ASSERT_TRUE(run.exited) << run.err;
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  v1::RunResult result = Load(out);
  EXPECT_FALSE(result.scenario().load().has_requests());
  EXPECT_DOUBLE_EQ(result.scenario().load().duration_seconds(), 3);
  EXPECT_GT(result.overall().requests(), 100u);
  EXPECT_GE(result.overall().measured_window_s(), 2.9);
  // Not quiet and not a terminal: a progress line every 2 s, with elapsed time and an ETA.
  EXPECT_THAT(run.err, ::testing::ContainsRegex("done, [0-9]+ in flight, .* elapsed 0:0[0-9], "
                                                "ETA 0:0[0-9]\n"));
}

// 7. A stalled stream used to hold `quick` for the default 600 s total timeout (and show
// nothing with -q). --idle-timeout ends it as a timeout once no byte came for that long.
TEST_F(GateTest, StalledStreamEndsAtTheIdleTimeout) {
  std::unique_ptr<SimProcess> sim = StartSim({"vllm"}, {"--fault-rate", "1", "--fault", "stall"});
  ASSERT_NE(sim, nullptr);
  const std::string out = Path("stalled");
  CliRun run = Run({"quick", "-e", "vllm", "-u", sim->BaseUrl("vllm"), "-m", "sim-model", "-n",
                    "2", "-c", "2", "--max-tokens", "16", "--idle-timeout", "1", "--out", out,
                    "-q"},
                   1, std::chrono::seconds(60));
  ASSERT_TRUE(run.exited) << run.err;
  EXPECT_EQ(run.code, 3) << run.out << run.err;  // every request failed
  EXPECT_LT(run.wall_s, 20) << "the stall was waited out";
  v1::RunResult result = Load(out);
  ASSERT_EQ(result.overall().errors_size(), 1);
  EXPECT_EQ(result.overall().errors(0).error_class(), "timeout");
  EXPECT_EQ(result.overall().errors(0).example_message(),
            "no data from the engine for 1000 ms in the middle of the response (idle timeout)");
  EXPECT_EQ(result.scenario().engines(0).timeouts().idle_ms(), 1000u);
}

// --timeout alone bounds the first byte too: the default first-byte timeout (60 s) is lowered
// to the total instead of failing the run on a field the user never wrote
// ("engines[0].timeouts.first_byte_ms: must be <= total_ms"). A stalled first byte then ends
// at the total.
TEST_F(GateTest, TimeoutAloneBoundsTheFirstByte) {
  SimProcess::Options slow;  // 5 s to the first token
  slow.kinds = {"vllm"};
  slow.args = {"--jitter", "0", "--ttft-base-ms", "5000", "--itl-ms", "2"};
  absl::StatusOr<std::unique_ptr<SimProcess>> sim = SimProcess::Start(slow);
  ASSERT_TRUE(sim.ok()) << sim.status();
  const std::string out = Path("total-timeout");
  CliRun run = Run({"quick", "-e", "vllm", "-u", (*sim)->BaseUrl("vllm"), "-m", "sim-model", "-n",
                    "2", "-c", "2", "--max-tokens", "4", "--timeout", "1s", "--no-engine-check",
                    "--out", out, "-q"},
                   1, std::chrono::seconds(60));
  ASSERT_TRUE(run.exited) << run.err;
  EXPECT_EQ(run.code, 3) << run.out << run.err;  // both requests timed out
  EXPECT_LT(run.wall_s, 20) << "the 5 s first token was waited out";
  v1::RunResult result = Load(out);
  EXPECT_EQ(result.scenario().engines(0).timeouts().total_ms(), 1000u);
  EXPECT_EQ(result.scenario().engines(0).timeouts().first_byte_ms(), 1000u);
  ASSERT_EQ(result.overall().errors_size(), 1);
  EXPECT_EQ(result.overall().errors(0).error_class(), "timeout");
}

// 8. Re-running into an existing --out used to overwrite silently and leave stale files.
TEST_F(GateTest, NonEmptyOutIsRefusedUnlessForced) {
  std::unique_ptr<SimProcess> sim = StartSim({"vllm"});
  ASSERT_NE(sim, nullptr);
  const std::string out = Path("again");
  std::vector<std::string> args = Single("quick", "vllm", sim->BaseUrl("vllm"));
  args.insert(args.end(), {"-n", "4", "--max-tokens", "2", "--out", out, "-q"});
  ASSERT_EQ(Run(args).code, 0);
  WriteFile(out + "/diff.html", "stale");
  WriteFile(out + "/notes.txt", "mine");
  CliRun refused = Run(args);
  ASSERT_TRUE(refused.exited);
  EXPECT_EQ(refused.code, 2);
  EXPECT_THAT(refused.err, HasSubstr(absl::StrCat("llmbench: --out ", out, " is not empty (")));
  EXPECT_THAT(refused.err, HasSubstr("): give a new folder, or --force to replace the results "
                                     "in it\n"));
  args.push_back("--force");
  CliRun forced = Run(args);
  EXPECT_EQ(forced.code, 0) << forced.err;
  EXPECT_FALSE(std::filesystem::exists(out + "/diff.html")) << "a stale diff.html was kept";
  EXPECT_EQ(ReadFile(out + "/notes.txt"), "mine");
  EXPECT_TRUE(std::filesystem::exists(out + "/summary.json"));
}

// 9. SIGTERM (a CI job's timeout, `kill`) stops the run gracefully: results are written, the
// verdict says it was stopped by SIGTERM (it used to say "interrupted by the user" and VALID),
// and the exit status is 143. Requests cancelled by the stop are not counted as failures.
TEST_F(GateTest, SigtermWritesPartialResultsAndExits143) {
  std::unique_ptr<SimProcess> sim = StartSim({"vllm"});
  ASSERT_NE(sim, nullptr);
  const std::string out = Path("terminated");
  CliRun run = Run({"load", "-e", "vllm", "-u", sim->BaseUrl("vllm"), "-m", "sim-model", "-c",
                    "4", "-d", "60", "--max-tokens", "50", "--out", out, "-q"},
                   1, std::chrono::seconds(60), [](pid_t pid) {
                     std::this_thread::sleep_for(std::chrono::seconds(3));
                     kill(pid, SIGTERM);
                   });
  ASSERT_TRUE(run.exited) << run.err;
  EXPECT_EQ(run.code, 143) << run.out << run.err;
  EXPECT_LT(run.wall_s, 20);
  EXPECT_THAT(run.out, HasSubstr("\nverdict: INTERRUPTED\n  - stopped by SIGTERM before the "
                                 "workload finished: partial results\n"));
  EXPECT_THAT(run.out, HasSubstr("\nexit status 143: stopped by SIGTERM: partial results\n"));
  v1::RunResult result = Load(out);
  EXPECT_EQ(result.verdict().state(), v1::Verdict::STATE_INTERRUPTED);
  EXPECT_GT(result.overall().successes(), 10u);
  EXPECT_EQ(result.overall().failures(), 0u) << "cancelled requests counted as failures";
}

// An engine that streams past max_tokens grew the worker without bound (1.06 GB for one request)
// and its record past the message cap, so the worker was declared failed. The record now keeps
// at most 65,536 chunk offsets, counts the rest, and is marked over_max_tokens; the verdict
// warns.
TEST_F(GateTest, RunawayStreamIsBoundedAndFlagged) {
  absl::StatusOr<std::unique_ptr<testing::Subprocess>> engine = testing::Subprocess::Start(
      {"/usr/bin/python3", std::string(LLMBENCH_SOURCE_DIR) + "/tests/e2e/runaway_engine.py",
       "70000"});
  ASSERT_TRUE(engine.ok()) << engine.status();
  absl::StatusOr<std::pair<size_t, std::string>> line =
      (*engine)->WaitForStdoutLine(0, std::chrono::seconds(20));
  ASSERT_TRUE(line.ok()) << line.status() << (*engine)->Stderr();
  const std::string url = line->second.substr(std::string("listening ").size());
  const std::string out = Path("runaway");
  CliRun run = Run({"quick", "-e", "openai", "-u", url, "-m", "m", "-n", "2", "--max-tokens",
                    "8", "--no-engine-check", "--out", out, "-q"});
  ASSERT_TRUE(run.exited) << run.err;
  EXPECT_EQ(run.code, 0) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("warning: engine openai streamed past max_tokens (8) on 2 "
                                 "requests"));
  v1::RunResult result = Load(out);
  EXPECT_EQ(result.overall().successes(), 2u);
  EXPECT_EQ(result.engines(0).aggregates().over_max_tokens(), 2u);
  EXPECT_FALSE(result.workers(0).failed());
  Csv csv = ParseCsv(ReadFile(out + "/requests.csv"));
  ASSERT_EQ(csv.rows.size(), 2u);
  for (size_t i = 0; i < csv.rows.size(); ++i) {
    EXPECT_EQ(csv.Uint(i, "content_chunks"), 70000u);
    EXPECT_EQ(csv.Uint(i, "chunk_offsets_dropped"), 70000u - 65536u);
    EXPECT_EQ(csv.Get(i, "over_max_tokens"), "true");
    const std::string& offsets = csv.Get(i, "chunk_offsets_ns");
    EXPECT_EQ(std::count(offsets.begin(), offsets.end(), ';'), 65535);
  }
}

}  // namespace
}  // namespace llmbench::e2e
