// Multi-turn sessions end to end with two real llmbench-worker processes against a real
// llmbench-sim and the real `llmbench` binary: sessions are split whole over the workers, every
// turn carries the engine's actual replies (the sim checks them), and summary.json, the console
// and requests.csv show the metrics per turn index.
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "coordinator/exporters.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/cli_runner.h"
#include "tests/harness/harness.h"

namespace llmbench::e2e {
namespace {

namespace v1 = ::llmbench::v1;
using llmbench::testing::SimProcess;
using ::testing::HasSubstr;

double SimMetric(const std::string& base_url, const std::string& name) {
  llmbench::testing::HttpResponse r = llmbench::testing::HttpGet(base_url + "/sim/metrics");
  for (absl::string_view line : absl::StrSplit(r.body, '\n')) {
    if (line.size() > name.size() && line.substr(0, name.size()) == name &&
        line[name.size()] == ' ') {
      double v = 0;
      if (absl::SimpleAtod(line.substr(name.size() + 1), &v)) return v;
    }
  }
  return -1;
}

TEST(MultiTurnE2eTest, TwoWorkersRunWholeSessionsWithTtftPerTurnIndex) {
  SimProcess::Options options;
  options.kinds = {"vllm"};
  options.args = {"--jitter", "0", "--ttft-base-ms", "2", "--itl-ms", "1", "--natural-tokens", "0"};
  absl::StatusOr<std::unique_ptr<SimProcess>> sim = SimProcess::Start(options);
  ASSERT_TRUE(sim.ok()) << sim.status();
  absl::StatusOr<LocalWorkerProcesses> workers = StartLocalWorkerProcesses(2, "w");
  ASSERT_TRUE(workers.ok()) << workers.status();
  char templ[] = "/tmp/llmbench-multiturn-XXXXXX";
  ASSERT_NE(mkdtemp(templ), nullptr);
  const std::string scratch = templ;
  const std::string out = scratch + "/out";
  const std::string url = (*sim)->BaseUrl("vllm");
  CliRun run = RunLlmbench({"quick",
                            "-e",
                            "vllm",
                            "-u",
                            url,
                            "-m",
                            "sim-model",
                            "--workers",
                            workers->List(),
                            "--out",
                            out,
                            "--turns",
                            "3",
                            "--sessions",
                            "8",
                            "-c",
                            "4",
                            "--think-time",
                            "5ms",
                            "--max-tokens",
                            "6",
                            "--ignore-eos",
                            "--prompt-tokens",
                            "20"},
                           scratch);
  ASSERT_TRUE(run.exited) << run.err;
  ASSERT_EQ(run.code, 0) << run.out << run.err;
  EXPECT_THAT(run.out, HasSubstr("multi-turn (vllm):\n  sessions: 8 started, 8 completed, 0 "
                                 "failed, 0 interrupted (load unit sessions)\n"));

  absl::StatusOr<v1::RunResult> result = coordinator::LoadRunResult(out);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->engines_size(), 1);
  EXPECT_EQ(result->engines(0).aggregates().requests(), 24u);
  ASSERT_TRUE(result->engines(0).has_multi_turn());
  const v1::MultiTurnReport& m = result->engines(0).multi_turn();
  EXPECT_EQ(m.sessions_completed(), 8u);
  ASSERT_EQ(m.turns_size(), 3);
  for (int t = 0; t < 3; ++t) {
    EXPECT_EQ(m.turns(t).turn_index(), static_cast<uint32_t>(t));
    EXPECT_EQ(m.turns(t).requests(), 8u);
    ASSERT_TRUE(m.turns(t).has_ttft_ms()) << t;
    ASSERT_TRUE(m.turns(t).has_input_tokens()) << t;
    // The history grows: each turn adds the previous user message and the 6-token reply.
    if (t > 0) {
      EXPECT_GT(m.turns(t).input_tokens().min(), m.turns(t - 1).input_tokens().max());
    }
  }

  // requests.csv: every session ran whole on one worker, and both workers ran sessions.
  const Csv csv = ParseCsv(ReadFile(out + "/requests.csv"));
  ASSERT_EQ(csv.rows.size(), 24u);
  std::map<std::string, std::set<std::string>> workers_of_session;
  std::set<std::string> used;
  for (size_t i = 0; i < csv.rows.size(); ++i) {
    workers_of_session[csv.Get(i, "session_id")].insert(csv.Get(i, "worker_id"));
    used.insert(csv.Get(i, "worker_id"));
  }
  EXPECT_EQ(workers_of_session.size(), 8u);
  for (const auto& [session, ws] : workers_of_session) EXPECT_EQ(ws.size(), 1u) << session;
  EXPECT_EQ(used, (std::set<std::string>{"w0", "w1"}));

  // The sim saw the actual replies in every history: 8 x (0 + 1 + 2) assistant messages.
  EXPECT_EQ(SimMetric(url, "llmbench_sim_chat_assistant_messages_total"), 24);
  EXPECT_EQ(SimMetric(url, "llmbench_sim_chat_assistant_replies_matched_total"), 24);

  // A completion-only route is a scenario error before any request: exit 2.
  CliRun bad =
      RunLlmbench({"quick", "-e", "ollama", "-u", url, "-m", "sim-model", "--workers",
                   workers->List(), "--out", scratch + "/bad", "--turns", "2"},
                  scratch);
  EXPECT_EQ(bad.code, 2) << bad.out << bad.err;
  EXPECT_THAT(bad.err, HasSubstr("--turns: multi-turn sessions need the chat route"));
  if (!HasFailure()) {
    std::error_code ec;
    std::filesystem::remove_all(scratch, ec);
  }
}

}  // namespace
}  // namespace llmbench::e2e
