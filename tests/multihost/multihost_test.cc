// Several hosts (docs/reliability.md §"Several hosts" and §"Worker faults"): each worker runs
// on its own host — a network namespace joined to the others by a bridge (netns_lab.h) — with
// the coordinator and the simulator on hosts of their own. A run across three worker hosts
// merges correctly; then one worker is killed (SIGKILL), cut off (its cable: the bridge-side
// veth set down) or frozen (SIGSTOP) mid-run, and the run must still finish with every request
// id exactly once, the failure named with when and what was reassigned, and the fault noticed
// within the stated bound. A worker that comes back serves a new run correctly.
//
// Needs root and iproute2 (CI runs as root). When namespaces cannot be created the tests FAIL
// with a message saying so; they never skip silently.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/harness/harness.h"
#include "tests/multihost/netns_lab.h"
#include "tests/multihost/run_checks.h"

namespace llmbench::testing {
namespace {

namespace v1 = ::llmbench::v1;
using std::chrono::milliseconds;
using std::chrono::seconds;

// The run: 168 requests of 64 tokens at 20 ms per decode step, concurrency 24 (8 per worker),
// so each request takes ~1.3-1.5 s and an undisturbed run ~10 s: a fault injected after the
// first progress report (~2 s in) lands mid-run on any machine.
constexpr uint64_t kRequests = 168;
constexpr uint64_t kShardRequests = kRequests / 3;  // ids per worker shard (contiguous)
constexpr int kConcurrency = 24;
// The coordinator's --worker-timeout in these tests (default 5 s).
constexpr int kWorkerTimeoutS = 2;
// Detection bounds (docs/reliability.md). SIGKILL: the kernel closes the dead worker's
// sockets, the coordinator's stream breaks at once; bound 1 s (measured: milliseconds).
// Cut cable and SIGSTOP: nothing arrives any more; the coordinator declares the worker failed
// once it has heard nothing for --worker-timeout (checked every 100 ms). The last message
// came at most one heartbeat (500 ms) before the fault, so detection lies in
// [timeout - 0.5 s, timeout + 1 s] (the 1 s: the 100 ms check period plus scheduling slack on
// a loaded 2-core machine).
constexpr int64_t kKillDetectBoundNs = 1'000'000'000;
constexpr int64_t kSilentDetectMinNs = int64_t{kWorkerTimeoutS} * 1'000'000'000 - 500'000'000;
constexpr int64_t kSilentDetectMaxNs = int64_t{kWorkerTimeoutS} * 1'000'000'000 + 1'000'000'000;

std::string YamlFor(const std::string& engine_url, uint64_t requests, const std::string& out) {
  return absl::StrCat(R"(name: multihost
engines:
  - kind: vllm
    name: sim
    base_url: )", engine_url, R"(
    model: sim-model
prompts:
  synthetic:
    input_tokens: {kind: fixed, mean: 32}
    count: 64
generation:
  max_tokens: 64
  # Each request's own max_tokens (mean 64, as before): they travel in every host's shard.
  output_tokens: {kind: uniform, min: 32, max: 96}
  ignore_eos: true
  temperature: 0
  stream: true
load:
  concurrency: )", kConcurrency, R"(
  requests: )", requests, R"(
thresholds:
  # A loaded CI machine must not turn these runs INVALID: they test fault handling, not timing.
  max_lateness_p99_ms: 60000
outputs:
  dir: )", out, R"(
  csv: true
  html: false
seed: 7
)");
}

// A multi-turn run (docs/scenario.md "Multi-turn conversations"): `sessions` sessions of 3
// turns, 8 sessions in progress per worker; a turn takes ~1 s (48 tokens at 20 ms), a session
// ~3 s, so the last sessions of each worker start ~3 s in.
std::string MultiTurnYaml(const std::string& engine_url, uint64_t sessions,
                          const std::string& out) {
  return absl::StrCat(R"(name: multihost-sessions
engines:
  - kind: vllm
    name: sim
    base_url: )", engine_url, R"(
    model: sim-model
prompts:
  synthetic:
    input_tokens: {kind: fixed, mean: 32}
    count: 64
  multi_turn:
    turns: 3
    user_tokens: {kind: fixed, mean: 16}
generation:
  max_tokens: 48
  ignore_eos: true
  temperature: 0
  stream: true
load:
  concurrency: )", kConcurrency, R"(
  sessions: )", sessions, R"(
thresholds:
  max_lateness_p99_ms: 60000
outputs:
  dir: )", out, R"(
  csv: true
  html: false
seed: 7
)");
}

class MultihostTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<NetnsLab>> lab =
        NetnsLab::Create({"coord", "w1", "w2", "w3", "eng"});
    ASSERT_TRUE(lab.ok()) << lab.status().message();
    lab_ = *std::move(lab);
    absl::StatusOr<std::string> dir = MakeTempDir("llmbench-multihost");
    ASSERT_TRUE(dir.ok()) << dir.status().message();
    dir_ = *dir;

    const std::string eng_ip = lab_->host("eng").ip;
    absl::StatusOr<Subprocess*> sim =
        lab_->Start("eng", {LLMBENCH_SIM_BINARY, "--listen", absl::StrCat("vllm=", eng_ip, ":0"),
                            "--itl-ms", "20", "--ttft-base-ms", "20", "--seed", "7"});
    ASSERT_TRUE(sim.ok()) << sim.status().message();
    auto line = (*sim)->WaitForStdoutLine(0, seconds(30));
    ASSERT_TRUE(line.ok()) << line.status().message() << "\n" << (*sim)->Stderr();
    // "listening vllm http://10.250.13.15:PORT"
    const std::string prefix = absl::StrCat("listening vllm http://", eng_ip, ":");
    ASSERT_TRUE(absl::StartsWith(line->second, prefix)) << line->second;
    engine_url_ = line->second.substr(std::string("listening vllm ").size());

    for (const char* name : {"w1", "w2", "w3"}) {
      ASSERT_NO_FATAL_FAILURE(StartWorker(name, 0));
    }
  }

  void TearDown() override {
    if (HasFailure()) {
      for (const auto& [name, worker] : workers_) {
        absl::StatusOr<ExitStatus> exit = worker->Wait(milliseconds(0));
        std::printf("[multihost] worker %s: %s\n%s\n", name.c_str(),
                    exit.ok() ? absl::StrCat("exited, code ", exit->code, " signal ",
                                             exit->signal).c_str()
                              : "running",
                    worker->Stderr().c_str());
      }
    }
    lab_.reset();  // kills every process, deletes the namespaces
    if (!dir_.empty()) {
      if (HasFailure()) {
        std::printf("[multihost] outputs kept in %s\n", dir_.c_str());
      } else {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
      }
    }
  }

  // Starts llmbench-worker `name` on its host's address (never 0.0.0.0), port 0 = ephemeral.
  void StartWorker(const std::string& name, int port) {
    const std::string ip = lab_->host(name).ip;
    absl::StatusOr<Subprocess*> worker = lab_->Start(
        name, {LLMBENCH_WORKER_BINARY, "--listen", absl::StrCat(ip, ":", port), "--loop-threads",
               "1", "--worker-id", name, "--log-level", "warn"});
    ASSERT_TRUE(worker.ok()) << worker.status().message();
    auto line = (*worker)->WaitForStdoutLine(0, seconds(30));
    ASSERT_TRUE(line.ok()) << line.status().message() << "\n" << (*worker)->Stderr();
    const std::string prefix = absl::StrCat("listening grpc://", ip, ":");
    ASSERT_TRUE(absl::StartsWith(line->second, prefix)) << line->second;
    workers_[name] = *worker;
    addresses_[name] = line->second.substr(std::string("listening grpc://").size());
  }

  std::string WorkerList() const {
    std::vector<std::string> list;
    for (const auto& [name, address] : addresses_) list.push_back(address);
    return absl::StrJoin(list, ",");
  }

  // Starts `llmbench run` on the coordinator host; outputs go to dir_/`name`.
  Subprocess* StartRun(const std::string& name, uint64_t requests) {
    return StartRunOf(name, YamlFor(engine_url_, requests, absl::StrCat(dir_, "/", name)));
  }

  // The same with the scenario text `scenario`.
  Subprocess* StartRunOf(const std::string& name, const std::string& scenario) {
    const std::string yaml = absl::StrCat(dir_, "/", name, ".yaml");
    EXPECT_TRUE(WriteTextFile(yaml, scenario).ok());
    absl::StatusOr<Subprocess*> run =
        lab_->Start("coord", {LLMBENCH_COORDINATOR_BINARY, "run", yaml, "--workers", WorkerList(),
                              "--worker-timeout", std::to_string(kWorkerTimeoutS)});
    EXPECT_TRUE(run.ok()) << run.status().message();
    return run.ok() ? *run : nullptr;
  }

  // Waits until the coordinator's progress line (stderr, every 2 s when not a terminal)
  // reports at least `completed` finished requests.
  void WaitForProgress(Subprocess* run, uint64_t completed) {
    // "N/M done", or "N done" where the total is not known ahead (multi-turn).
    const std::regex progress(R"((\d+)(?:/\d+)? done)");
    const auto deadline = std::chrono::steady_clock::now() + seconds(90);
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string err = run->Stderr();
      uint64_t best = 0;
      for (auto it = std::sregex_iterator(err.begin(), err.end(), progress);
           it != std::sregex_iterator(); ++it) {
        uint64_t n = 0;
        if (absl::SimpleAtoi((*it)[1].str(), &n)) best = std::max(best, n);
      }
      if (best >= completed) return;
      ASSERT_FALSE(run->Wait(milliseconds(50)).ok())
          << "the coordinator exited before the fault\n" << err;
    }
    FAIL() << "no progress line with >= " << completed << " requests done within 90 s\n"
           << run->Stderr();
  }

  // Waits for the coordinator to exit; returns its exit code.
  int WaitForExit(Subprocess* run) {
    absl::StatusOr<ExitStatus> exit = run->Wait(seconds(150));
    EXPECT_TRUE(exit.ok()) << exit.status().message() << "\n" << run->Stderr();
    if (!exit.ok()) return -1;
    EXPECT_TRUE(exit->exited) << "signal " << exit->signal << "\n" << run->Stderr();
    return exit->code;
  }

  // requests.csv holds every measured id 0..n-1 exactly once; returns rows per worker.
  std::map<std::string, uint64_t> CheckIdsExactlyOnce(const std::string& out, uint64_t n) {
    std::map<std::string, uint64_t> per_worker;
    absl::StatusOr<std::vector<CsvRow>> rows = ReadRequestsCsv(out);
    EXPECT_TRUE(rows.ok()) << rows.status().message();
    if (!rows.ok()) return per_worker;
    std::map<uint64_t, int> seen;
    for (const CsvRow& row : *rows) {
      EXPECT_FALSE(row.warmup);
      ++seen[row.request_id];
      ++per_worker[row.worker_id];
      EXPECT_EQ(row.error_class, "none") << "request " << row.request_id << " on "
                                         << row.worker_id;
    }
    EXPECT_EQ(rows->size(), n);
    EXPECT_EQ(seen.size(), n);
    for (uint64_t id = 0; id < n; ++id) {
      EXPECT_EQ(seen[id], 1) << "request id " << id;
    }
    return per_worker;
  }

  // A run without faults: VALID, exit 0, all three workers did work, ids exactly once.
  void CheckValidRun(const std::string& name, Subprocess* run, uint64_t n) {
    EXPECT_EQ(WaitForExit(run), 0) << run->Stderr();
    const std::string out = absl::StrCat(dir_, "/", name);
    absl::StatusOr<v1::RunResult> result = ReadSummary(out);
    ASSERT_TRUE(result.ok()) << result.status().message();
    EXPECT_EQ(result->verdict().state(), v1::Verdict::STATE_VALID)
        << absl::StrJoin(result->verdict().reasons(), "; ");
    EXPECT_EQ(result->overall().requests(), n);
    EXPECT_EQ(result->overall().successes(), n);
    ASSERT_EQ(result->workers_size(), 3);
    for (const v1::WorkerResult& w : result->workers()) {
      EXPECT_FALSE(w.failed()) << w.worker_id() << ": " << w.failure();
      EXPECT_GT(w.aggregates().requests(), 0u) << w.worker_id() << " had no work";
      EXPECT_EQ(w.requests_reassigned(), 0u);
      EXPECT_EQ(w.duplicate_records(), 0u);
    }
    std::map<std::string, uint64_t> per_worker = CheckIdsExactlyOnce(out, n);
    EXPECT_EQ(per_worker.size(), 3u);
  }

  // A run where `failed` failed at (about) `fault_ns`: DEGRADED (exit 0: DEGRADED alone is
  // not an error exit, see ExitStatusFor), every id exactly once, every record the failed
  // worker sent kept, the rest of its shard reassigned, none lost, none counted twice, and
  // detection within [min_detect_ns, max_detect_ns]. Returns the detection time.
  int64_t CheckDegradedRun(const std::string& name, Subprocess* run, const std::string& failed,
                           int64_t fault_ns, int64_t min_detect_ns, int64_t max_detect_ns) {
    EXPECT_EQ(WaitForExit(run), 0) << run->Stderr();
    const std::string out = absl::StrCat(dir_, "/", name);
    absl::StatusOr<v1::RunResult> result = ReadSummary(out);
    EXPECT_TRUE(result.ok()) << result.status().message();
    if (!result.ok()) return -1;
    EXPECT_EQ(result->verdict().state(), v1::Verdict::STATE_DEGRADED)
        << absl::StrJoin(result->verdict().reasons(), "; ");
    EXPECT_EQ(result->overall().requests(), kRequests);
    EXPECT_EQ(result->overall().successes(), kRequests);
    int64_t detection_ns = -1;
    uint64_t failed_records = 0;
    EXPECT_EQ(result->workers_size(), 3);
    for (const v1::WorkerResult& w : result->workers()) {
      if (w.worker_id() != failed) {
        EXPECT_FALSE(w.failed()) << w.worker_id() << ": " << w.failure();
        EXPECT_EQ(w.requests_reassigned(), 0u);
        EXPECT_EQ(w.duplicate_records(), 0u);
        continue;
      }
      EXPECT_TRUE(w.failed());
      EXPECT_GT(w.failed_at_unix_ns(), 0);
      detection_ns = w.failed_at_unix_ns() - fault_ns;
      failed_records = w.aggregates().requests();
      // The fault landed mid-run: some of its records had arrived, the rest was reassigned.
      EXPECT_GT(failed_records, 0u) << "the fault did not land mid-run";
      EXPECT_GT(w.requests_reassigned(), 0u);
      // Its shard was ids [k*56, (k+1)*56): every one either kept (it sent the record
      // before failing) or reassigned, never both, none lost.
      EXPECT_EQ(failed_records + w.requests_reassigned(), kShardRequests);
      EXPECT_EQ(w.requests_lost(), 0u);
      // Cancelled streams deliver nothing more, and ids with a record are never reassigned.
      EXPECT_EQ(w.duplicate_records(), 0u);
      // "worker w2 failed 4.1 s into the run: WHY; 40 unfinished requests reassigned" (no
      // "lost" part: none was lost).
      const std::string reason = absl::StrCat("worker ", failed, " failed ");
      const std::string tail = absl::StrCat(": ", w.failure(), "; ", w.requests_reassigned(),
                                            " unfinished requests reassigned");
      bool named = false;
      for (const std::string& r : result->verdict().reasons()) {
        if (absl::StartsWith(r, reason) && absl::EndsWith(r, tail) &&
            absl::StrContains(r, " s into the run: ")) {
          named = true;
        }
      }
      EXPECT_TRUE(named) << absl::StrJoin(result->verdict().reasons(), "; ");
      // Its failure message, for the report.
      std::printf("[multihost] %s failure: %s\n", failed.c_str(), w.failure().c_str());
    }
    EXPECT_GE(detection_ns, min_detect_ns);
    EXPECT_LE(detection_ns, max_detect_ns);
    std::map<std::string, uint64_t> per_worker = CheckIdsExactlyOnce(out, kRequests);
    EXPECT_EQ(per_worker[failed], failed_records);
    // Failover keeps one time axis: the requests reassigned from the failed worker's shard
    // were sent after it was declared failed (they used to be laid over the first seconds of
    // the run, with a window and rates as if nothing had happened).
    absl::StatusOr<std::vector<CsvRow>> rows = ReadRequestsCsv(out);
    EXPECT_TRUE(rows.ok());
    if (rows.ok() && result->time_axis_unix_ns() > 0) {
      uint64_t first_id = UINT64_MAX;
      int64_t failed_at = 0;
      for (const CsvRow& row : *rows) {
        if (row.worker_id == failed && !row.warmup) first_id = std::min(first_id, row.request_id);
      }
      for (const v1::WorkerResult& w : result->workers()) {
        if (w.worker_id() == failed) failed_at = w.failed_at_unix_ns();
      }
      const uint64_t shard_begin = first_id / kShardRequests * kShardRequests;
      int reassigned_rows = 0;
      for (const CsvRow& row : *rows) {
        if (row.warmup || row.worker_id == failed || row.request_id < shard_begin ||
            row.request_id >= shard_begin + kShardRequests) {
          continue;
        }
        ++reassigned_rows;
        EXPECT_GE(row.sent_ns + result->time_axis_unix_ns(), failed_at - 50'000'000)
            << "request " << row.request_id << " was reassigned but sent before the failure";
      }
      EXPECT_GT(reassigned_rows, 0);
      EXPECT_GE(result->overall().measured_window_s(),
                static_cast<double>(failed_at - result->time_axis_unix_ns()) / 1e9);
    }
    return detection_ns;
  }

  std::unique_ptr<NetnsLab> lab_;
  std::string dir_;
  std::string engine_url_;
  std::map<std::string, Subprocess*> workers_;
  std::map<std::string, std::string> addresses_;
};

// (a) Three worker hosts: the run merges into exactly the single-machine workload.
TEST_F(MultihostTest, ThreeHostsMergeCorrectly) {
  Subprocess* run = StartRun("three-hosts", kRequests);
  ASSERT_NE(run, nullptr);
  CheckValidRun("three-hosts", run, kRequests);
  // Each worker ran exactly its contiguous third of the ids.
  absl::StatusOr<std::vector<CsvRow>> rows = ReadRequestsCsv(absl::StrCat(dir_, "/three-hosts"));
  ASSERT_TRUE(rows.ok());
  std::map<std::string, std::set<uint64_t>> ids;
  for (const CsvRow& row : *rows) ids[row.worker_id].insert(row.request_id);
  for (const auto& [worker, set] : ids) {
    EXPECT_EQ(set.size(), kShardRequests) << worker;
    EXPECT_EQ(*set.rbegin() - *set.begin() + 1, kShardRequests) << worker << " not contiguous";
  }
  // Per-request output lengths reached the engine from every host (ignore_eos: exactly that
  // many), and prompts were exact to the engine (counted through its /tokenize before the run).
  std::set<std::string> lengths;
  for (const CsvRow& row : *rows) {
    uint64_t out = 0;
    ASSERT_TRUE(absl::SimpleAtoi(row.columns.at("output_tokens"), &out)) << row.request_id;
    EXPECT_GE(out, 32u) << row.request_id;
    EXPECT_LE(out, 96u) << row.request_id;
    lengths.insert(row.columns.at("output_tokens"));
    EXPECT_EQ(row.columns.at("input_tokens"), row.columns.at("prompt_tokens_sent"))
        << row.request_id;
  }
  EXPECT_GT(lengths.size(), 10u) << "a distribution of lengths, not one";
  // The workers really were on other hosts: each record names its worker, each address is
  // that worker's namespace address.
  EXPECT_EQ(addresses_["w1"].rfind(lab_->host("w1").ip + ":", 0), 0u);
}

// (b) SIGKILL: the kernel resets the worker's connection; the coordinator notices at once.
TEST_F(MultihostTest, WorkerKilledMidRun) {
  Subprocess* run = StartRun("killed", kRequests);
  ASSERT_NE(run, nullptr);
  ASSERT_NO_FATAL_FAILURE(WaitForProgress(run, 1));
  const std::string old_port = addresses_["w2"].substr(addresses_["w2"].rfind(':') + 1);
  const int64_t fault_ns = UnixNowNs();
  workers_["w2"]->Signal(SIGKILL);
  const int64_t detection =
      CheckDegradedRun("killed", run, "w2", fault_ns, 0, kKillDetectBoundNs);
  std::printf("[multihost] SIGKILL detection: %.1f ms (bound %.0f ms)\n", detection / 1e6,
              kKillDetectBoundNs / 1e6);
  // The worker comes back on the same address and serves a new run.
  lab_->Stop(workers_["w2"]);
  int port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(old_port, &port));
  ASSERT_NO_FATAL_FAILURE(StartWorker("w2", port));
  Subprocess* again = StartRun("killed-again", 48);
  ASSERT_NE(again, nullptr);
  CheckValidRun("killed-again", again, 48);
}

// (b') SIGKILL in a multi-turn run: a session runs whole on one worker. The killed worker's
// sessions that had sent a record are kept as they were (never rerun elsewhere: a rerun would
// replay a conversation from its start) and count as interrupted unless they had finished;
// its sessions without a record are reassigned whole, so every session starts exactly once.
TEST_F(MultihostTest, WorkerKilledMidMultiTurnRun) {
  constexpr uint64_t kSessions = 36;  // 12 per worker
  const std::string out = absl::StrCat(dir_, "/sessions-killed");
  Subprocess* run = StartRunOf("sessions-killed", MultiTurnYaml(engine_url_, kSessions, out));
  ASSERT_NE(run, nullptr);
  ASSERT_NO_FATAL_FAILURE(WaitForProgress(run, 1));
  workers_["w2"]->Signal(SIGKILL);
  const int code = WaitForExit(run);
  absl::StatusOr<v1::RunResult> result = ReadSummary(out);
  ASSERT_TRUE(result.ok()) << result.status().message() << "\n" << run->Stderr();
  EXPECT_EQ(result->verdict().state(), v1::Verdict::STATE_DEGRADED)
      << absl::StrJoin(result->verdict().reasons(), "; ");
  EXPECT_EQ(code, result->verdict().exit_status()) << run->Stderr();

  absl::StatusOr<std::vector<CsvRow>> rows = ReadRequestsCsv(out);
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  std::map<uint64_t, std::set<std::string>> session_workers;
  std::map<uint64_t, std::set<uint64_t>> session_turns;
  for (const CsvRow& row : *rows) {
    uint64_t session = 0;
    uint64_t turn = 0;
    ASSERT_TRUE(absl::SimpleAtoi(row.columns.at("session_id"), &session)) << row.request_id;
    ASSERT_TRUE(absl::SimpleAtoi(row.columns.at("turn_index"), &turn)) << row.request_id;
    EXPECT_EQ(row.error_class, "none") << "request " << row.request_id << " on " << row.worker_id;
    session_workers[session].insert(row.worker_id);
    EXPECT_TRUE(session_turns[session].insert(turn).second)
        << "session " << session << " turn " << turn << " recorded twice";
  }
  // Every session started exactly once, and ran on one worker only.
  EXPECT_EQ(session_workers.size(), kSessions);
  uint64_t on_killed = 0;
  uint64_t cut_short = 0;
  for (const auto& [session, workers] : session_workers) {
    EXPECT_EQ(workers.size(), 1u) << "session " << session << " ran on several workers";
    const std::set<uint64_t>& turns = session_turns[session];
    // Turns in order from the first: 0, 1, ... with no gap.
    EXPECT_EQ(*turns.begin(), 0u) << "session " << session;
    EXPECT_EQ(*turns.rbegin() + 1, turns.size()) << "session " << session;
    if (workers.contains("w2")) ++on_killed;
    if (turns.size() < 3) {
      EXPECT_TRUE(workers.contains("w2")) << "session " << session << " cut short elsewhere";
      ++cut_short;
    }
  }
  std::printf("[multihost] sessions on the killed worker: %llu, cut short: %llu, exit %d\n",
              static_cast<unsigned long long>(on_killed),
              static_cast<unsigned long long>(cut_short), code);
  EXPECT_GT(on_killed, 0u) << "the kill did not land mid-run";
  EXPECT_GT(cut_short, 0u) << "the kill cut no session short";
  ASSERT_EQ(result->engines_size(), 1);
  ASSERT_TRUE(result->engines(0).has_multi_turn());
  const v1::MultiTurnReport& m = result->engines(0).multi_turn();
  EXPECT_EQ(m.sessions_started(), kSessions);
  EXPECT_EQ(m.sessions_interrupted(), cut_short);
  EXPECT_EQ(m.sessions_failed(), 0u);
  EXPECT_EQ(m.sessions_completed(), kSessions - cut_short);
  for (const v1::WorkerResult& w : result->workers()) {
    if (w.worker_id() == "w2") {
      EXPECT_TRUE(w.failed());
      EXPECT_GT(w.requests_reassigned(), 0u) << "its sessions without a record go elsewhere";
      EXPECT_EQ(w.duplicate_records(), 0u);
    }
  }
}

// (c) Cable cut: the worker's bridge port goes down; nothing arrives any more, no reset.
TEST_F(MultihostTest, WorkerLinkCutMidRun) {
  Subprocess* run = StartRun("link-cut", kRequests);
  ASSERT_NE(run, nullptr);
  ASSERT_NO_FATAL_FAILURE(WaitForProgress(run, 1));
  const int64_t fault_ns = UnixNowNs();
  ASSERT_TRUE(lab_->SetLink("w2", false).ok());
  // Reconnect once the coordinator must have given up on it, while the run still goes on:
  // the old stream was cancelled, so nothing it sends now may count.
  std::this_thread::sleep_for(milliseconds(kSilentDetectMaxNs / 1'000'000 + 500));
  ASSERT_TRUE(lab_->SetLink("w2", true).ok());
  const int64_t detection =
      CheckDegradedRun("link-cut", run, "w2", fault_ns, kSilentDetectMinNs, kSilentDetectMaxNs);
  std::printf("[multihost] link-cut detection: %.1f ms (bound %.0f ms)\n", detection / 1e6,
              kSilentDetectMaxNs / 1e6);
  // (e) The reconnected worker is not confused by the old run: a new run uses it normally.
  Subprocess* again = StartRun("link-cut-again", 48);
  ASSERT_NE(again, nullptr);
  CheckValidRun("link-cut-again", again, 48);
}

// (d) SIGSTOP: the worker is frozen; its kernel still ACKs, but no message comes.
TEST_F(MultihostTest, WorkerFrozenMidRun) {
  Subprocess* run = StartRun("frozen", kRequests);
  ASSERT_NE(run, nullptr);
  ASSERT_NO_FATAL_FAILURE(WaitForProgress(run, 1));
  const int64_t fault_ns = UnixNowNs();
  workers_["w2"]->Signal(SIGSTOP);
  std::this_thread::sleep_for(milliseconds(kSilentDetectMaxNs / 1'000'000 + 500));
  workers_["w2"]->Signal(SIGCONT);
  const int64_t detection =
      CheckDegradedRun("frozen", run, "w2", fault_ns, kSilentDetectMinNs, kSilentDetectMaxNs);
  std::printf("[multihost] SIGSTOP detection: %.1f ms (bound %.0f ms)\n", detection / 1e6,
              kSilentDetectMaxNs / 1e6);
  // (e) The thawed worker finished off its cancelled shard and serves a new run.
  Subprocess* again = StartRun("frozen-again", 48);
  ASSERT_NE(again, nullptr);
  CheckValidRun("frozen-again", again, 48);
}

}  // namespace
}  // namespace llmbench::testing
