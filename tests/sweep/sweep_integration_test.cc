// End-to-end tests of the capacity sweep, `llmbench diff` and `--repeat`: real llmbench-sim
// processes (loopback, ephemeral ports), the real `llmbench` binary as a subprocess with one
// local llmbench-worker, results read back from --out.
//
// The simulator runs a deterministic latency model (--jitter 0, --natural-tokens 0 and
// ignore_eos: every request generates exactly max_tokens tokens, --ttft-per-token-us 0,
// --itl-per-seq-us 0: a decode step lasts --itl-ms whatever the batch). A request holds one of
// --max-batch slots for its prefill T plus L − 1 decode steps of S (plus up to one step
// waiting to join the running batch), so the sim sustains about B / (T + (L − 1)·S) req/s.
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "coordinator/exporters.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "llmbench/v1/result.pb.h"
#include "tests/harness/harness.h"

namespace llmbench::sweep_test {
namespace {

namespace v1 = ::llmbench::v1;
using llmbench::testing::SimProcess;
using llmbench::testing::Subprocess;

struct CliRun {
  int code = -1;  // exit code, -1 when it did not exit normally
  std::string out;
  std::string err;
};

// Runs `llmbench ARGS...`, waiting up to `timeout`; the Subprocess destructor kills a hung one.
CliRun RunLlmbench(const std::vector<std::string>& args,
                   std::chrono::seconds timeout = std::chrono::seconds(120)) {
  std::vector<std::string> argv = {LLMBENCH_COORDINATOR_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  CliRun run;
  absl::StatusOr<std::unique_ptr<Subprocess>> p = Subprocess::Start(argv);
  if (!p.ok()) {
    run.err = std::string(p.status().message());
    return run;
  }
  absl::StatusOr<testing::ExitStatus> status = (*p)->Wait(timeout);
  if (!status.ok()) {
    ADD_FAILURE() << "llmbench " << absl::StrJoin(args, " ") << " still running after "
                  << timeout.count() << " s";
    (*p)->Stop();
  } else if (status->exited) {
    run.code = status->code;
  }
  run.out = absl::StrJoin((*p)->StdoutLines(), "\n");
  run.err = (*p)->Stderr();
  return run;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

class SweepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Local workers get their own token; no outer token may leak in.
    unsetenv("LLMBENCH_TOKEN");
    unsetenv("LLMBENCH_WORKER_TOKEN");
    setenv("LLMBENCH_WORKER_BIN", LLMBENCH_WORKER_BINARY, 1);
    dir_ = std::filesystem::path(::testing::TempDir()) /
           absl::StrCat("llmbench-sweep-", ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                        "-", getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  static std::unique_ptr<SimProcess> StartSim(std::vector<std::string> args) {
    SimProcess::Options options;
    options.kinds = {"vllm"};
    options.args = {"--jitter", "0", "--natural-tokens", "0", "--itl-per-seq-us", "0",
                    "--ttft-per-token-us", "0", "--threads", "1"};
    options.args.insert(options.args.end(), args.begin(), args.end());
    absl::StatusOr<std::unique_ptr<SimProcess>> sim = SimProcess::Start(options);
    EXPECT_TRUE(sim.ok()) << sim.status();
    return sim.ok() ? *std::move(sim) : nullptr;
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // `llmbench quick` against `url`: 60 requests, 2 streams, 8 output tokens.
  CliRun Quick(const std::string& url, const std::string& out, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"quick",        "-e",           "vllm",  "-u",
                                     url,            "-m",           "sim-model", "-n",
                                     "60",           "-c",           "2",     "--max-tokens",
                                     "8",            "--prompt-tokens", "16", "--ignore-eos",
                                     "--local-workers", "1",         "--out", out,
                                     "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunLlmbench(args);
  }

  std::filesystem::path dir_;
};

// The sweep's knee against the simulator's capacity. B = 4, T = 10 ms, S = 5 ms, L = 20:
// capacity = 4 / (0.010 + 19 · 0.005) = 38.1 req/s (37.2 with the average half-step wait to
// join the batch). Probes of 1.5 s from 6 req/s doubling: 6, 12, 24 good, 48 bad, then 4
// bisections. Above capacity the backlog grows (achieved < 90% of offered, E2E p50 > 2× the
// first probe's), so the knee lands within a few percent of capacity; the stated band is
// ±30% (noise on a shared 2-core machine: a probe whose client is late counts as bad, so the
// knee can only err low, and the band leaves room for that).
TEST_F(SweepTest, KneeMatchesTheSimulatorsCapacity) {
  std::unique_ptr<SimProcess> sim =
      StartSim({"--max-batch", "4", "--ttft-base-ms", "10", "--itl-ms", "5"});
  ASSERT_NE(sim, nullptr);
  const std::string scenario = Path("sweep.yaml");
  WriteFile(scenario, absl::StrCat(R"(name: sweep-sim
engines:
  - kind: vllm
    name: sim
    base_url: )", sim->BaseUrl("vllm"), R"(
    model: sim-model
    price_per_hour: 3.6
    gpu_count: 1
prompts:
  synthetic:
    input_tokens: {kind: fixed, mean: 16}
generation:
  max_tokens: 20
  ignore_eos: true
load:
  sweep: {start_rps: 6, max_rps: 400, step_factor: 2, step_seconds: 1.5, bisect_iterations: 4}
thresholds:
  max_lateness_p99_ms: 50
seed: 7
)"));
  // max_lateness_p99_ms: 50 — a probe has ~10–70 requests, so its p99 lateness is nearly its
  // worst; 50 ms keeps one scheduling hiccup of the loaded CI machine from voiding a probe.
  const std::string out = Path("sweep-out");
  const auto started = std::chrono::steady_clock::now();
  CliRun run = RunLlmbench({"run", scenario, "--out", out, "--local-workers", "1", "--quiet"},
                           std::chrono::seconds(150));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  absl::StatusOr<v1::RunResult> result = coordinator::LoadRunResult(out);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->sweeps_size(), 1);
  const v1::SweepResult& sweep = result->sweeps(0);
  EXPECT_EQ(sweep.engine(), "sim");
  ASSERT_TRUE(sweep.has_knee_rps()) << run.out;
  const double capacity = 4 / (0.010 + 19 * 0.005);
  EXPECT_GE(sweep.knee_rps(), 0.7 * capacity) << run.out;
  EXPECT_LE(sweep.knee_rps(), 1.3 * capacity) << run.out;
  ASSERT_TRUE(sweep.has_first_bad_rps());
  EXPECT_GT(sweep.first_bad_rps(), sweep.knee_rps());
  // Steps then bisections, every probe in its own results folder.
  ASSERT_GE(sweep.points_size(), 4 + 4);
  EXPECT_EQ(sweep.points(0).offered_rps(), 6);
  EXPECT_EQ(sweep.points(0).phase(), "step");
  EXPECT_TRUE(sweep.points(0).good()) << sweep.points(0).reason();
  EXPECT_EQ(sweep.points(sweep.points_size() - 1).phase(), "bisect");
  for (const v1::SweepPoint& p : sweep.points()) {
    EXPECT_TRUE(std::filesystem::exists(p.out_dir() + "/summary.json")) << p.out_dir();
    EXPECT_EQ(p.good(), p.reason().empty());
  }
  // At a good low rate the achieved rate is the offered one (±10%: a 1.5 s window).
  EXPECT_NEAR(sweep.points(0).achieved_rps(), 6, 0.6);
  // The top-level engine is the knee probe's, priced: 3.6/h = 0.001/s.
  ASSERT_EQ(result->engines_size(), 1);
  ASSERT_TRUE(result->engines(0).has_cost());
  const v1::Aggregates& knee = result->engines(0).aggregates();
  EXPECT_NEAR(result->engines(0).cost().per_request(), 0.001 / knee.request_throughput(), 1e-12);
  EXPECT_NE(run.out.find("knee (max sustainable rate): "), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("cost/req"), std::string::npos) << run.out;
  EXPECT_TRUE(std::filesystem::exists(out + "/report.html"));
  // `llmbench report` re-renders the sweep table from summary.json.
  CliRun report = RunLlmbench({"report", out});
  EXPECT_EQ(report.code, 0) << report.err;
  EXPECT_NE(report.out.find("sweep of sim (req/s; latencies in ms):"), std::string::npos);
  std::printf("sweep: knee %.2f req/s (capacity %.2f), first bad %.2f, %d probes, %.1f s\n",
              sweep.knee_rps(), capacity, sweep.first_bad_rps(), sweep.points_size(), seconds);
}

// `llmbench diff` between real runs: TTFT 20 ms vs 40 ms is a regression (exit 5); the same
// configuration twice passes (exit 0). Thresholds are a CI's: 30% for every metric, as the
// loaded 2-core machine shifts ms-scale latencies by a few percent between runs.
TEST_F(SweepTest, DiffDetectsATtftShiftAndPassesTheSameConfig) {
  std::unique_ptr<SimProcess> fast = StartSim({"--ttft-base-ms", "20", "--itl-ms", "10"});
  std::unique_ptr<SimProcess> slow = StartSim({"--ttft-base-ms", "40", "--itl-ms", "10"});
  ASSERT_NE(fast, nullptr);
  ASSERT_NE(slow, nullptr);
  const std::string base = Path("base"), again = Path("again"), cand = Path("cand");
  for (const auto& [url, out] : {std::pair{fast->BaseUrl("vllm"), base},
                                 std::pair{fast->BaseUrl("vllm"), again},
                                 std::pair{slow->BaseUrl("vllm"), cand}}) {
    CliRun run = Quick(url, out);
    ASSERT_EQ(run.code, 0) << run.out << run.err;
  }
  const std::string thresholds = Path("thresholds.yaml");
  WriteFile(thresholds, "alpha: 0.05\ndefault_max_regression: 30%\n");

  CliRun regressed =
      RunLlmbench({"diff", base, cand, "--thresholds", thresholds, "--out", Path("diff1")});
  EXPECT_EQ(regressed.code, 5) << regressed.out << regressed.err;
  // TTFT p50 +100% (20 → 40 ms), significant; E2E 90 → 110 ms is +22%, under 30%.
  EXPECT_NE(regressed.out.find("REGRESSED"), std::string::npos);
  bool ttft_row = false;
  for (const std::string& line : std::vector<std::string>(absl::StrSplit(regressed.out, '\n'))) {
    if (line.starts_with("vllm    ttft_p50")) {
      ttft_row = true;
      EXPECT_TRUE(line.ends_with("REGRESSED")) << line;
      EXPECT_NE(line.find("  yes  "), std::string::npos) << line;
    }
  }
  EXPECT_TRUE(ttft_row) << regressed.out;
  EXPECT_NE(regressed.out.find("diff: REGRESSED"), std::string::npos) << regressed.out;
  // Units in the table; the page in the diff's own folder, with both runs and the same row.
  EXPECT_NE(regressed.out.find("engine  metric                   unit"), std::string::npos)
      << regressed.out;
  EXPECT_NE(regressed.out.find("diff report: " + Path("diff1") + "/diff.html"),
            std::string::npos);
  const std::string html = ReadFile(Path("diff1") + "/diff.html");
  EXPECT_NE(html.find("[\"vllm\",\"ttft_p50\",\"ms\",\""), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(cand + "/diff.html"));
  v1::RunResult base_result = *coordinator::LoadRunResult(base);
  EXPECT_NE(html.find("\"run_id\":\"" + base_result.run_id() + "\""), std::string::npos);

  // The command line overrides the file: allowing TTFT +150% passes. (Generous limits for the
  // p99s and E2E: on a loaded 2-core machine one slow request of 60 is the p99, and a decode
  // step lost to the scheduler adds 10 ms to E2E.)
  CliRun allowed = RunLlmbench({"diff", base, cand, "--thresholds", thresholds,
                                "--max-regression", "ttft_p50=150%", "--max-regression",
                                "ttft_p99=400%", "--max-regression", "e2e_p50=100%",
                                "--max-regression", "e2e_p99=100%", "--out", Path("diff2")});
  EXPECT_EQ(allowed.code, 0) << allowed.out << allowed.err;

  CliRun same = RunLlmbench({"diff", base, again, "--thresholds", thresholds, "--out",
                             Path("diff3")});
  EXPECT_EQ(same.code, 0) << same.out << same.err;
  EXPECT_NE(same.out.find("diff: PASS"), std::string::npos) << same.out;

  // Errors: a folder without summary.json; an unknown metric.
  CliRun missing = RunLlmbench({"diff", Path("nope"), base});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("llmbench: cannot read " + Path("nope") + "/summary.json"),
            std::string::npos)
      << missing.err;
  CliRun bad = RunLlmbench({"diff", base, cand, "--max-regression", "latency=5%"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("unknown metric \"latency\""), std::string::npos) << bad.err;
}

// `llmbench diff` never passes on nothing: real runs with no engine in common, and a sweep
// folder whose only engine has no data (start_rps already failed), exit 7 with a message naming
// what was missing. The page goes to a new folder of its own; a non-empty --out is refused
// (exit 2) unless --force.
TEST_F(SweepTest, DiffWithNothingComparedFails) {
  std::unique_ptr<SimProcess> sim = StartSim({"--ttft-base-ms", "5", "--itl-ms", "2"});
  ASSERT_NE(sim, nullptr);
  const std::string url = sim->BaseUrl("vllm");
  const std::string ab = Path("ab"), cd = Path("cd");
  for (const auto& [out, names] : {std::pair{ab, std::pair{"a", "b"}},
                                   std::pair{cd, std::pair{"c", "d"}}}) {
    CliRun run = RunLlmbench({"compare", "--target",
                              absl::StrCat(names.first, "=vllm,", url, ",sim-model"), "--target",
                              absl::StrCat(names.second, "=vllm,", url, ",sim-model"), "-n", "16",
                              "-c", "2", "--max-tokens", "4", "--local-workers", "1", "--out",
                              out, "--quiet"});
    ASSERT_EQ(run.code, 0) << run.out << run.err;
  }
  CliRun none = RunLlmbench({"diff", ab, cd, "--out", Path("diff-none")});
  EXPECT_EQ(none.code, 7) << none.out << none.err;
  EXPECT_NE(none.out.find("\ndiff: NOTHING COMPARED (no engine in common: base has a, b; "
                          "candidate has c, d)\n"),
            std::string::npos)
      << none.out;
  EXPECT_EQ(none.out.find("diff: PASS"), std::string::npos) << none.out;
  const std::string html = ReadFile(Path("diff-none") + "/diff.html");
  EXPECT_NE(html.find("\"outcome\":\"NOTHING COMPARED\""), std::string::npos);

  // The same folders again into the now non-empty --out: refused before comparing.
  CliRun again = RunLlmbench({"diff", ab, ab, "--out", Path("diff-none")});
  EXPECT_EQ(again.code, 2) << again.out << again.err;
  EXPECT_EQ(again.err, "llmbench: --out " + Path("diff-none") +
                           " is not empty (diff.html); give --force to write diff.html into it "
                           "anyway, or choose another folder\n");
  EXPECT_EQ(again.out, "");
  CliRun forced = RunLlmbench({"diff", ab, ab, "--out", Path("diff-none"), "--force"});
  EXPECT_EQ(forced.code, 0) << forced.out << forced.err;
  EXPECT_NE(forced.out.find("\ndiff: PASS (0 regressed, 0 improved)\n"), std::string::npos)
      << forced.out;
  EXPECT_NE(ReadFile(Path("diff-none") + "/diff.html").find("\"outcome\":\"PASS\""),
            std::string::npos);

  // Without --out: a new results/diff-<UTC stamp>-<4 hex> in the working directory, printed.
  CliRun fresh = RunLlmbench({"diff", ab, ab});
  EXPECT_EQ(fresh.code, 0) << fresh.out << fresh.err;
  const size_t at = fresh.out.find("diff report: results/diff-");
  ASSERT_NE(at, std::string::npos) << fresh.out;
  const std::string page = fresh.out.substr(at + 13, fresh.out.find('\n', at) - at - 13);
  EXPECT_TRUE(page.ends_with("/diff.html")) << page;
  EXPECT_EQ(page.size(), std::string("results/diff-20261127-120000-ab12/diff.html").size()) << page;
  EXPECT_TRUE(std::filesystem::exists(page)) << page;
  std::filesystem::remove_all(std::filesystem::path(page).parent_path());
  EXPECT_FALSE(std::filesystem::exists(ab + "/diff.html"));

  // A sweep whose start rate already fails keeps its engine without data: diffing it is
  // nothing compared, not "all N/A, PASS". One slot, 20 tokens of 5 ms: ≈ 9.5 req/s; offered 40.
  std::unique_ptr<SimProcess> tiny =
      StartSim({"--max-batch", "1", "--ttft-base-ms", "5", "--itl-ms", "5"});
  ASSERT_NE(tiny, nullptr);
  const std::string scenario = Path("sweep-none.yaml");
  WriteFile(scenario, absl::StrCat(R"(name: sweep-none
engines:
  - {kind: vllm, name: sim, base_url: )", tiny->BaseUrl("vllm"), R"(, model: sim-model}
prompts: {synthetic: {input_tokens: {kind: fixed, mean: 8}}}
generation: {max_tokens: 20, ignore_eos: true}
load:
  sweep: {start_rps: 40, max_rps: 40, step_seconds: 1, bisect_iterations: 0}
)"));
  const std::string sweep = Path("sweep-none");
  CliRun swept = RunLlmbench({"run", scenario, "--out", sweep, "--local-workers", "1", "--quiet"});
  ASSERT_EQ(swept.code, 0) << swept.out << swept.err;
  ASSERT_NE(swept.out.find("knee: none — start_rps already fails"), std::string::npos)
      << swept.out;
  CliRun empty = RunLlmbench({"diff", sweep, sweep, "--out", Path("diff-sweep")});
  EXPECT_EQ(empty.code, 7) << empty.out << empty.err;
  EXPECT_NE(empty.out.find("\ndiff: NOTHING COMPARED (no metric has data on both sides for "
                           "engine sim (base: no successful request (0 measured); candidate: no "
                           "successful request (0 measured)))\n"),
            std::string::npos)
      << empty.out;
}

// The capacity sweep judges a probe over its sending window, so a healthy engine with long
// generations and short probes is not a knee: 200 tokens of 10 ms (E2E ≈ 2 s) at 2 and 4 req/s
// for 4 s each. Counting successes over the whole window (drain included) gave 8 / (3.5 + 2)
// = 1.45 req/s at 2 req/s offered: "start_rps already fails" while the sim was idle.
TEST_F(SweepTest, HealthySimWithLongGenerationsIsNotAKnee) {
  std::unique_ptr<SimProcess> sim =
      StartSim({"--max-batch", "64", "--ttft-base-ms", "10", "--itl-ms", "10"});
  ASSERT_NE(sim, nullptr);
  const std::string scenario = Path("long.yaml");
  WriteFile(scenario, absl::StrCat(R"(name: long-generations
engines:
  - {kind: vllm, name: sim, base_url: )", sim->BaseUrl("vllm"), R"(, model: sim-model}
prompts: {synthetic: {input_tokens: {kind: fixed, mean: 16}}}
generation: {max_tokens: 200, ignore_eos: true}
load:
  sweep: {start_rps: 2, max_rps: 4, step_factor: 2, step_seconds: 4, bisect_iterations: 1}
thresholds: {max_lateness_p99_ms: 250}
)"));
  // max_lateness_p99_ms: 250 — a probe of 8–16 requests has its worst lateness as p99, and the
  // loaded CI machine delays a send by 80 ms now and then. The sustained rate uses the actual
  // send times, so a late send does not bias it.
  const std::string out = Path("long-out");
  CliRun run = RunLlmbench({"run", scenario, "--out", out, "--local-workers", "1", "--quiet"},
                           std::chrono::seconds(120));
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  absl::StatusOr<v1::RunResult> result = coordinator::LoadRunResult(out);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->sweeps_size(), 1);
  const v1::SweepResult& sweep = result->sweeps(0);
  ASSERT_EQ(sweep.points_size(), 2) << run.out;
  for (const v1::SweepPoint& p : sweep.points()) {
    EXPECT_TRUE(p.good()) << p.offered_rps() << ": " << p.reason() << "\n" << run.out;
    // The whole-window rate is well below offered; the sending window's is offered.
    EXPECT_LT(p.achieved_rps(), 0.85 * p.offered_rps()) << run.out;
    ASSERT_TRUE(p.has_sustained_rps()) << run.out;
    EXPECT_NEAR(p.sustained_rps(), p.offered_rps(), 0.05 * p.offered_rps()) << run.out;
    EXPECT_NEAR(p.completion_slope(), 1, 0.05) << run.out;
    EXPECT_NEAR(p.send_rps(), p.offered_rps(), 0.01 * p.offered_rps()) << run.out;
    EXPECT_NEAR(p.sending_window_s(), 4 - 1 / p.offered_rps(), 0.05) << run.out;
  }
  EXPECT_DOUBLE_EQ(sweep.knee_rps(), 4) << run.out;
  EXPECT_FALSE(sweep.has_first_bad_rps()) << run.out;
  EXPECT_EQ(sweep.note(), "sustained up to max_rps: the capacity may be higher");
  // What the knee was judged on: in summary.json and under the console table.
  EXPECT_TRUE(sweep.judged_on().starts_with("sustained req/s (completions per second while "
                                            "sending, drain excluded"))
      << sweep.judged_on();
  EXPECT_NE(run.out.find("\njudged on: " + sweep.judged_on() +
                         "; achieved = successes / whole window, drain included\n"),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("offered  sustained  achieved"), std::string::npos) << run.out;
  std::printf("long generations: sustained %.2f / %.2f req/s at 2 / 4 offered (achieved %.2f / "
              "%.2f)\n",
              sweep.points(0).sustained_rps(), sweep.points(1).sustained_rps(),
              sweep.points(0).achieved_rps(), sweep.points(1).achieved_rps());
}

// ... and a sim of limited capacity with the same long generations is found near its capacity:
// 6 slots, a slot held 10 + 99 · 10 ms ≈ 1.0 s (+ up to one 10 ms step to join): ≈ 5.97 req/s.
// Probes 1, 2, 4 (good), 8 (bad: sustained ≈ 6), then bisections. The whole-window rate made
// the knee 1 req/s here (2 req/s: 8 / (3.5 + 1) = 1.8 < 90%).
TEST_F(SweepTest, LimitedCapacityWithLongGenerationsIsFound) {
  std::unique_ptr<SimProcess> sim =
      StartSim({"--max-batch", "6", "--ttft-base-ms", "10", "--itl-ms", "10"});
  ASSERT_NE(sim, nullptr);
  const std::string scenario = Path("capacity.yaml");
  WriteFile(scenario, absl::StrCat(R"(name: limited
engines:
  - {kind: vllm, name: sim, base_url: )", sim->BaseUrl("vllm"), R"(, model: sim-model}
prompts: {synthetic: {input_tokens: {kind: fixed, mean: 16}}}
generation: {max_tokens: 100, ignore_eos: true}
load:
  sweep: {start_rps: 1, max_rps: 64, step_factor: 2, step_seconds: 4, bisect_iterations: 2}
thresholds: {max_lateness_p99_ms: 250}
)"));  // 250 ms: as above
  const std::string out = Path("capacity-out");
  const auto started = std::chrono::steady_clock::now();
  CliRun run = RunLlmbench({"run", scenario, "--out", out, "--local-workers", "1", "--quiet"},
                           std::chrono::seconds(180));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  absl::StatusOr<v1::RunResult> result = coordinator::LoadRunResult(out);
  ASSERT_TRUE(result.ok()) << result.status();
  const v1::SweepResult& sweep = result->sweeps(0);
  const double capacity = 6 / (0.010 + 99 * 0.010 + 0.005);
  ASSERT_TRUE(sweep.has_knee_rps()) << run.out;
  EXPECT_GE(sweep.knee_rps(), 0.75 * capacity) << run.out;
  EXPECT_LE(sweep.knee_rps(), 1.1 * capacity) << run.out;
  ASSERT_TRUE(sweep.has_first_bad_rps()) << run.out;
  EXPECT_LE(sweep.first_bad_rps(), 1.5 * capacity) << run.out;
  // The first failing step (8 req/s) completed at the sim's capacity while it was sent; at
  // 2 req/s the whole-window rate was below 90% of offered (the old false knee), the sustained
  // one at offered.
  const v1::SweepPoint* over = nullptr;
  for (const v1::SweepPoint& p : sweep.points()) {
    if (p.offered_rps() == 8) over = &p;
    if (p.offered_rps() == 2) {
      EXPECT_TRUE(p.good()) << p.reason();
      EXPECT_LT(p.achieved_rps(), 0.9 * 2) << run.out;
      EXPECT_NEAR(p.sustained_rps(), 2, 0.1) << run.out;
    }
  }
  ASSERT_NE(over, nullptr) << run.out;
  EXPECT_FALSE(over->good());
  ASSERT_TRUE(over->has_sustained_rps());
  EXPECT_NEAR(over->sustained_rps(), capacity, 0.15 * capacity) << run.out;
  EXPECT_TRUE(over->reason().starts_with("sustained ")) << over->reason();
  std::printf("limited capacity: knee %.2f req/s (capacity %.2f), first bad %.2f, sustained at "
              "8 req/s %.2f, %d probes, %.1f s\n",
              sweep.knee_rps(), capacity, sweep.first_bad_rps(), over->sustained_rps(),
              sweep.points_size(), seconds);
}

TEST_F(SweepTest, RepeatWritesRunsAndRepeatJson) {
  std::unique_ptr<SimProcess> sim = StartSim({"--ttft-base-ms", "15", "--itl-ms", "5"});
  ASSERT_NE(sim, nullptr);
  const std::string out = Path("repeat");
  CliRun run = Quick(sim->BaseUrl("vllm"), out, {"--repeat", "3"});
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  for (int i = 1; i <= 3; ++i) {
    EXPECT_TRUE(std::filesystem::exists(absl::StrCat(out, "/run-", i, "/summary.json")));
  }
  v1::RepeatSummary summary;
  google::protobuf::util::JsonParseOptions options;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(ReadFile(out + "/repeat.json"), &summary,
                                                          options)
                  .ok());
  EXPECT_EQ(summary.repeats(), 3u);
  EXPECT_EQ(summary.scenario_name(), "quick");
  ASSERT_EQ(summary.run_dirs_size(), 3);
  EXPECT_EQ(summary.run_dirs(0), out + "/run-1");
  ASSERT_EQ(summary.engines_size(), 1);
  const v1::RepeatEngine& engine = summary.engines(0);
  EXPECT_EQ(engine.engine(), "vllm");
  ASSERT_EQ(engine.metrics_size(), 5);
  const v1::RepeatMetric& ttft = engine.metrics(0);
  EXPECT_EQ(ttft.name(), "ttft_p50_ms");
  ASSERT_EQ(ttft.values_size(), 3);
  // The model's TTFT is 15 ms; every run's median is at or a little above it.
  for (double v : ttft.values()) {
    EXPECT_GE(v, 15 - 0.2);
    EXPECT_LE(v, 15 + 15);
  }
  EXPECT_LE(ttft.ci95_low(), ttft.mean());
  EXPECT_GE(ttft.ci95_high(), ttft.mean());
  EXPECT_TRUE(ttft.has_within_run_se());
  EXPECT_NE(run.out.find("3 repetitions of quick:"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("repeat summary: " + out + "/repeat.json"), std::string::npos);
}

}  // namespace
}  // namespace llmbench::sweep_test
