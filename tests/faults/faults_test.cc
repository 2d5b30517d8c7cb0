// Engine faults (docs/reliability.md §"Engine faults"): a run through the real coordinator and
// a real llmbench-worker against llmbench-sim's three personalities with --fault-rate 0.3 and
// every fault kind (429, 500, 503, an error inside a 200 stream, a connection reset, a stall
// past the request timeout, malformed JSON, a multi-byte character split across writes, a
// 10 MB line; and 400/404/422, which the simulator also draws). The simulator counts the faults it injected (/sim/metrics); the run must
// classify exactly that many requests in each error class, count split_utf8 requests as
// successes, give the other requests normal latency (compared with a fault-free engine in the
// same run), and keep the worker's peak memory under a stated bound.
// Loopback only (127.0.0.1).
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/harness/harness.h"
#include "tests/multihost/run_checks.h"

namespace llmbench::testing {
namespace {

namespace v1 = ::llmbench::v1;
using std::chrono::seconds;

constexpr uint64_t kRequestsPerEngine = 150;
// Request timeouts of the run: a stalled stream ends as `timeout` after total_ms.
constexpr int kTotalTimeoutMs = 3000;
// The worker's peak RSS bound (VmHWM). A 10 MB line is cut at the 1 MiB line cap
// (common/framing.h kDefaultMaxLineBytes) and never buffered whole; with 8 requests in flight
// the worker's peak stays far below this (measured 29 MiB, docs/reliability.md).
constexpr uint64_t kPeakRssBoundKib = 64 * 1024;

// llmbench_sim_faults_total{kind="..."} from a listener's /sim/metrics.
std::map<std::string, uint64_t> FaultCounts(const std::string& base_url) {
  std::map<std::string, uint64_t> counts;
  HttpResponse response = HttpGet(base_url + "/sim/metrics");
  EXPECT_EQ(response.status, 200) << response.curl_error;
  for (absl::string_view line : absl::StrSplit(response.body, '\n')) {
    constexpr absl::string_view kPrefix = "llmbench_sim_faults_total{kind=\"";
    if (!absl::StartsWith(line, kPrefix)) continue;
    line.remove_prefix(kPrefix.size());
    const size_t quote = line.find('"');
    const size_t space = line.rfind(' ');
    if (quote == absl::string_view::npos || space == absl::string_view::npos) continue;
    double value = 0;
    if (absl::SimpleAtod(line.substr(space + 1), &value)) {
      counts[std::string(line.substr(0, quote))] = static_cast<uint64_t>(value);
    }
  }
  EXPECT_EQ(counts.size(), 12u) << response.body;  // 9 kinds of issue 5 + 400/404/422
  return counts;
}

std::string EngineYaml(const std::string& name, const std::string& kind, const std::string& url) {
  return absl::StrCat("  - kind: ", kind, "\n    name: ", name, "\n    base_url: ", url,
                      "\n    model: sim-model\n    timeouts: {connect_ms: 2000, first_byte_ms: ",
                      kTotalTimeoutMs, ", total_ms: ", kTotalTimeoutMs, "}\n");
}

const v1::Aggregates* EngineAggregates(const v1::RunResult& result, const std::string& name) {
  for (const v1::EngineResult& e : result.engines()) {
    if (e.engine() == name) return &e.aggregates();
  }
  return nullptr;
}

uint64_t ErrorCount(const v1::Aggregates& aggregates, const std::string& error_class) {
  for (const v1::ErrorCount& e : aggregates.errors()) {
    if (e.error_class() == error_class) return e.count();
  }
  return 0;
}

TEST(EngineFaultsTest, MixedFaultRunIsClassifiedAndBounded) {
  SimProcess::Options faulty;
  faulty.binary = LLMBENCH_SIM_BINARY;
  faulty.kinds = {"ollama", "vllm", "tgi"};
  faulty.args = {"--itl-ms", "5", "--ttft-base-ms", "5", "--fault-rate", "0.3", "--seed", "11"};
  absl::StatusOr<std::unique_ptr<SimProcess>> sim = SimProcess::Start(faulty);
  ASSERT_TRUE(sim.ok()) << sim.status().message();
  SimProcess::Options clean;
  clean.binary = LLMBENCH_SIM_BINARY;
  clean.kinds = {"vllm"};
  clean.args = {"--itl-ms", "5", "--ttft-base-ms", "5", "--seed", "11"};
  absl::StatusOr<std::unique_ptr<SimProcess>> control = SimProcess::Start(clean);
  ASSERT_TRUE(control.ok()) << control.status().message();

  absl::StatusOr<std::unique_ptr<Subprocess>> worker =
      Subprocess::Start({LLMBENCH_WORKER_BINARY, "--listen", "127.0.0.1:0", "--loop-threads", "1",
                         "--worker-id", "fw", "--log-level", "warn"});
  ASSERT_TRUE(worker.ok()) << worker.status().message();
  auto listening = (*worker)->WaitForStdoutLine(0, seconds(30));
  ASSERT_TRUE(listening.ok()) << listening.status().message() << (*worker)->Stderr();
  ASSERT_TRUE(absl::StartsWith(listening->second, "listening grpc://127.0.0.1:"));
  const std::string address = listening->second.substr(std::string("listening grpc://").size());

  const std::vector<std::string> kinds = {"ollama", "vllm", "tgi"};
  std::map<std::string, std::map<std::string, uint64_t>> before;
  for (const std::string& kind : kinds) before[kind] = FaultCounts((*sim)->BaseUrl(kind));

  absl::StatusOr<std::string> dir = MakeTempDir("llmbench-faults");
  ASSERT_TRUE(dir.ok());
  const std::string out = *dir + "/run";
  std::string yaml = "name: engine-faults\nengines:\n";
  for (const std::string& kind : kinds) yaml += EngineYaml(kind, kind, (*sim)->BaseUrl(kind));
  yaml += EngineYaml("control", "vllm", (*control)->BaseUrl("vllm"));
  absl::StrAppend(&yaml, R"(prompts:
  synthetic:
    input_tokens: {kind: fixed, mean: 32}
    count: 64
generation:
  max_tokens: 32
  ignore_eos: true
  temperature: 0
  stream: true
load:
  concurrency: 8
  requests: )", kRequestsPerEngine, R"(
thresholds:
  max_lateness_p99_ms: 60000
outputs:
  dir: )", out, R"(
  csv: true
  html: false
seed: 5
)");
  ASSERT_TRUE(WriteTextFile(*dir + "/faults.yaml", yaml).ok());
  absl::StatusOr<std::unique_ptr<Subprocess>> run = Subprocess::Start(
      {LLMBENCH_COORDINATOR_BINARY, "run", *dir + "/faults.yaml", "--workers", address, "-q"});
  ASSERT_TRUE(run.ok()) << run.status().message();
  absl::StatusOr<ExitStatus> exit = (*run)->Wait(seconds(240));
  ASSERT_TRUE(exit.ok()) << exit.status().message() << (*run)->Stderr();
  // Read the worker's peak memory before it exits.
  absl::StatusOr<uint64_t> peak_kib = PeakRssKib((*worker)->pid());
  ASSERT_TRUE(peak_kib.ok()) << peak_kib.status().message();
  EXPECT_TRUE(exit->exited);
  // 38.67% of each engine's requests fail on purpose: above the default max_error_rate (5%),
  // so the run fails its threshold (exit 3) while the measurements stay VALID.
  EXPECT_EQ(exit->code, 3) << absl::StrJoin((*run)->StdoutLines(), "\n") << (*run)->Stderr();

  absl::StatusOr<v1::RunResult> result = ReadSummary(out);
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->verdict().state(), v1::Verdict::STATE_VALID)
      << absl::StrJoin(result->verdict().reasons(), "; ");

  // Exact classification: each class holds exactly the requests the simulator faulted so.
  const v1::Aggregates* control_agg = EngineAggregates(*result, "control");
  ASSERT_NE(control_agg, nullptr);
  EXPECT_EQ(control_agg->successes(), kRequestsPerEngine);
  uint64_t total_faults = 0;
  for (const std::string& kind : kinds) {
    std::map<std::string, uint64_t> after = FaultCounts((*sim)->BaseUrl(kind));
    std::map<std::string, uint64_t> f;
    for (const auto& [k, n] : after) f[k] = n - before[kind][k];
    // Only Ollama's 503 says "server busy" (overloaded); vLLM's and TGI's are plain 5xx.
    const bool ollama = kind == "ollama";
    std::map<std::string, uint64_t> expected = {
        {"overloaded", f["status_429"] + (ollama ? f["status_503"] : 0)},
        {"http_5xx", f["status_500"] + (ollama ? 0 : f["status_503"])},
        {"stream_broken", f["stream_error"] + f["reset"]},
        {"timeout", f["stall"]},
        {"parse", f["malformed"] + f["huge_line"]},
        {"http_4xx", f["status_400"] + f["status_404"] + f["status_422"]},
    };
    uint64_t faults = 0;
    for (const auto& [k, n] : f) {
      faults += n;
      // The draw is deterministic (--seed 11): every kind is injected at least once.
      EXPECT_GT(n, 0u) << kind << ": no " << k << " fault was injected";
    }
    total_faults += faults;
    const v1::Aggregates* agg = EngineAggregates(*result, kind);
    ASSERT_NE(agg, nullptr) << kind;
    EXPECT_EQ(agg->requests(), kRequestsPerEngine) << kind;
    EXPECT_EQ(agg->successes(), kRequestsPerEngine - faults + f["split_utf8"]) << kind;
    std::printf("[faults] %s injected:", kind.c_str());
    for (const auto& [k, n] : f) std::printf(" %s=%llu", k.c_str(), static_cast<unsigned long long>(n));
    std::printf("\n[faults] %s classified:", kind.c_str());
    for (const v1::ErrorCount& e : agg->errors()) {
      std::printf(" %s=%llu", e.error_class().c_str(), static_cast<unsigned long long>(e.count()));
    }
    std::printf(" successes=%llu\n", static_cast<unsigned long long>(agg->successes()));
    for (const auto& [error_class, n] : expected) {
      EXPECT_EQ(ErrorCount(*agg, error_class), n) << kind << " " << error_class;
    }
    uint64_t classified = 0;
    for (const v1::ErrorCount& e : agg->errors()) classified += e.count();
    EXPECT_EQ(classified, faults - f["split_utf8"]) << kind << ": an unexpected error class";
    // The run's other requests are unaffected: their latency matches the fault-free engine's.
    ASSERT_TRUE(agg->has_e2e_ms() && control_agg->has_e2e_ms());
    // Tolerance: 1.5x the control's median + 50 ms, for a loaded 2-core machine.
    EXPECT_LE(agg->e2e_ms().p50(), 1.5 * control_agg->e2e_ms().p50() + 50) << kind;
    // No success waited on a stalled stream (those take the full 3 s timeout).
    EXPECT_LT(agg->e2e_ms().max(), kTotalTimeoutMs * 0.66) << kind;
  }
  // Rate 0.3 over 450 faulted-engine requests: 183 faults with --seed 11.
  EXPECT_GT(total_faults, 60u);

  // requests.csv agrees row by row: split_utf8 successes included, each id once per engine.
  absl::StatusOr<std::vector<CsvRow>> rows = ReadRequestsCsv(out);
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  EXPECT_EQ(rows->size(), 4 * kRequestsPerEngine);
  std::map<std::string, std::map<std::string, uint64_t>> csv_classes;
  for (const CsvRow& row : *rows) ++csv_classes[row.engine][row.error_class];
  for (const std::string& engine : {std::string("ollama"), std::string("vllm"),
                                    std::string("tgi")}) {
    const v1::Aggregates* agg = EngineAggregates(*result, engine);
    ASSERT_NE(agg, nullptr);
    EXPECT_EQ(csv_classes[engine]["none"], agg->successes()) << engine;
    for (const v1::ErrorCount& e : agg->errors()) {
      EXPECT_EQ(csv_classes[engine][e.error_class()], e.count()) << engine << " " << e.error_class();
    }
  }

  std::printf("[faults] worker peak RSS (VmHWM): %.1f MiB (bound %.0f MiB)\n", *peak_kib / 1024.0,
              kPeakRssBoundKib / 1024.0);
  EXPECT_LT(*peak_kib, kPeakRssBoundKib);
  EXPECT_EQ((*worker)->Stop().code, 0);
  if (!HasFailure()) {
    std::error_code ec;
    std::filesystem::remove_all(*dir, ec);
  }
}

}  // namespace
}  // namespace llmbench::testing
