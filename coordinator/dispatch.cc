#include "coordinator/dispatch.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/clock.h"
#include "common/status.h"
#include "common/version.h"
#include "coordinator/aggregate.h"
#include "coordinator/engine_check.h"
#include "coordinator/exporters.h"
#include "coordinator/local_workers.h"
#include "coordinator/prompts.h"
#include "coordinator/scenario_loader.h"
#include "coordinator/sharding.h"
#include "coordinator/worker_client.h"

namespace llmbench::coordinator {
namespace {

namespace v1 = ::llmbench::v1;

std::atomic<bool> g_interrupted{false};

void OnInterrupt(int) { g_interrupted.store(true); }

std::string NewRunId(int64_t unix_ns) {
  std::time_t seconds = static_cast<std::time_t>(unix_ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
  std::random_device rd;
  return absl::StrFormat("%s-%04x", stamp, rd() & 0xffff);
}

// What a reader thread learned about its worker.
struct WorkerState {
  std::string address;
  std::string worker_id;
  uint32_t loop_threads = 1;
  int64_t clock_offset_ns = 0;
  bool failed = false;
  std::string failure;
  double cpu_seconds = 0;
  double elapsed_s = 0;
  uint64_t records_dropped = 0;
  uint64_t in_flight = 0;
};

uint64_t PlannedRequests(const v1::Scenario& scenario) {
  const v1::Load& load = scenario.load();
  if (!load.has_requests()) return 0;
  return (load.requests() + load.warmup_requests()) * static_cast<uint64_t>(scenario.engines_size());
}

std::string ProgressLine(const LiveSnapshot& s, uint64_t target, uint64_t in_flight, bool tty) {
  std::string bar;
  if (tty && target > 0) {
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(kWidth * std::min<double>(1.0, double(s.completed) / target));
    bar = absl::StrCat("[", std::string(filled, '#'), std::string(kWidth - filled, '.'), "] ");
  }
  std::string count = target > 0 ? absl::StrFormat("%d/%d", s.completed, target)
                                 : absl::StrFormat("%d", s.completed);
  std::string ttft = s.ttft_p50_ms.has_value() ? absl::StrFormat("%.1f ms", *s.ttft_p50_ms) : "-";
  return absl::StrFormat("%s%s done, %d in flight, %.1f req/s, %.0f out tok/s, %d errors, TTFT p50 %s",
                         bar, count, in_flight, s.requests_per_s, s.output_tokens_per_s, s.errors,
                         ttft);
}

}  // namespace

absl::StatusOr<RunOutcome> RunScenario(const v1::Scenario& scenario, const RunOptions& options) {
  const Clock& clock = SteadyClock::Get();
  const int64_t started_unix_ns = clock.UnixNowNs();
  const std::string run_id = NewRunId(started_unix_ns);

  // 1. Everything that can fail does so before any request is sent.
  LLMBENCH_RETURN_IF_ERROR(ValidateScenario(scenario, ValidateOptions{options.base_dir}));
  absl::StatusOr<std::vector<v1::Prompt>> prompts =
      BuildPrompts(scenario.prompts(), scenario.seed(), options.base_dir);
  if (!prompts.ok()) return prompts.status();
  if (options.check_engines) {
    for (const v1::Engine& engine : scenario.engines()) {
      LLMBENCH_RETURN_IF_ERROR(RequireReady(CheckEngine(engine), engine));
    }
  }

  std::unique_ptr<LocalWorkers> local;
  std::vector<std::string> addresses = options.workers;
  if (addresses.empty()) {
    int count = options.local_workers > 0
                    ? options.local_workers
                    : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    absl::StatusOr<std::unique_ptr<LocalWorkers>> started =
        LocalWorkers::Start(count, std::max(1, options.loop_threads), options.log_level);
    if (!started.ok()) return started.status();
    local = *std::move(started);
    addresses = local->addresses();
  }
  std::vector<std::unique_ptr<WorkerClient>> clients;
  std::vector<WorkerState> states(addresses.size());
  for (size_t i = 0; i < addresses.size(); ++i) {
    clients.push_back(std::make_unique<WorkerClient>(addresses[i]));
    absl::StatusOr<WorkerInfo> info = clients.back()->Describe();
    if (!info.ok()) return info.status();
    if (info->describe.protocol_version() != kProtocolVersion) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "worker %s runs llmbench %s (protocol %d); this coordinator is llmbench %s (protocol %d)",
          addresses[i], info->describe.version(), info->describe.protocol_version(), kVersion,
          kProtocolVersion));
    }
    states[i].address = addresses[i];
    states[i].worker_id = info->describe.worker_id();
    states[i].loop_threads = std::max<uint32_t>(1, info->describe.loop_threads());
    states[i].clock_offset_ns = info->clock_offset_ns;
  }

  // 2. Outputs.
  std::string out_dir = options.out_dir;
  if (out_dir.empty()) out_dir = scenario.outputs().dir();
  if (out_dir.empty()) out_dir = (std::filesystem::path("results") / run_id).string();
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return absl::PermissionDeniedError(absl::StrCat("cannot create ", out_dir, ": ", ec.message()));
  std::unique_ptr<RequestsCsvWriter> csv;
  if (scenario.outputs().csv()) {
    absl::StatusOr<std::unique_ptr<RequestsCsvWriter>> opened =
        RequestsCsvWriter::Open((std::filesystem::path(out_dir) / kRequestsFileName).string());
    if (!opened.ok()) return opened.status();
    csv = *std::move(opened);
  }

  // 3. Run each engine in turn; records merge as they stream in.
  std::mutex mu;  // guards aggregator, csv, states
  Aggregator aggregator(scenario.slo());
  struct sigaction action {};
  action.sa_handler = &OnInterrupt;
  struct sigaction old_int {}, old_term {};
  sigaction(SIGINT, &action, &old_int);
  sigaction(SIGTERM, &action, &old_term);
  g_interrupted.store(false);

  const bool tty = isatty(STDERR_FILENO) != 0;
  const uint64_t target = PlannedRequests(scenario);
  bool interrupted = false;
  for (int e = 0; e < scenario.engines_size() && !interrupted; ++e) {
    const int64_t start_unix_ns = clock.UnixNowNs() + 300'000'000;  // time for every shard to arrive
    absl::StatusOr<std::vector<v1::Shard>> shards = MakeShards(
        scenario, e, *prompts, static_cast<uint32_t>(clients.size()), run_id, start_unix_ns);
    if (!shards.ok()) return shards.status();
    std::vector<std::thread> readers;
    std::atomic<int> running{0};
    for (size_t i = 0; i < shards->size() && i < clients.size(); ++i) {
      v1::Shard shard = (*shards)[i];
      shard.set_start_unix_ns(shard.start_unix_ns() + states[i].clock_offset_ns);
      running.fetch_add(1);
      readers.emplace_back([&, i, shard = std::move(shard)] {
        absl::Status status = clients[i]->RunShard(shard, [&](const v1::WorkerMessage& message) {
          std::lock_guard<std::mutex> lock(mu);
          switch (message.kind_case()) {
            case v1::WorkerMessage::kRecords:
              for (const v1::RequestRecord& record : message.records().records()) {
                aggregator.Add(record);
                if (csv) csv->Append(record);
              }
              break;
            case v1::WorkerMessage::kProgress:
              states[i].in_flight = message.progress().in_flight();
              break;
            case v1::WorkerMessage::kSummary:
              states[i].cpu_seconds += message.summary().cpu_seconds();
              states[i].elapsed_s += message.summary().elapsed_ns() / 1e9;
              states[i].records_dropped += message.summary().records_dropped();
              states[i].in_flight = 0;
              break;
            default:
              break;
          }
        });
        if (!status.ok() && !g_interrupted.load()) {
          std::lock_guard<std::mutex> lock(mu);
          states[i].failed = true;
          states[i].failure = std::string(status.message());
        }
        running.fetch_sub(1);
      });
    }
    // Progress until every reader is done; Ctrl-C cancels the shards (they flush).
    auto last_print = std::chrono::steady_clock::now();
    while (running.load() > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (g_interrupted.load() && !interrupted) {
        interrupted = true;
        for (auto& client : clients) client->Cancel();
      }
      auto now = std::chrono::steady_clock::now();
      if (!options.quiet && now - last_print >= std::chrono::milliseconds(tty ? 250 : 2000)) {
        last_print = now;
        std::lock_guard<std::mutex> lock(mu);
        uint64_t in_flight = 0;
        for (const WorkerState& s : states) in_flight += s.in_flight;
        std::string line = ProgressLine(aggregator.Snapshot(), target, in_flight, tty);
        std::fprintf(stderr, tty ? "\r\033[K%s" : "%s\n", line.c_str());
      }
    }
    for (std::thread& t : readers) t.join();
    if (!options.quiet && tty) std::fprintf(stderr, "\n");
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);

  // 4. Aggregate and write.
  FinishOptions finish;
  for (const v1::Engine& engine : scenario.engines()) finish.engine_names.push_back(engine.name());
  for (const WorkerState& s : states) {
    WorkerReport report;
    report.worker_id = s.worker_id;
    report.address = s.address;
    report.failed = s.failed;
    report.failure = s.failure;
    report.records_dropped = s.records_dropped;
    if (s.elapsed_s > 0) report.cpu_utilization = s.cpu_seconds / s.elapsed_s / s.loop_threads;
    finish.workers.push_back(std::move(report));
  }
  finish.thresholds = scenario.thresholds();
  RunOutcome outcome;
  outcome.result = aggregator.Finish(finish);
  outcome.result.set_run_id(run_id);
  outcome.result.set_llmbench_version(kVersion);
  *outcome.result.mutable_scenario() = scenario;
  outcome.result.set_started_unix_ns(started_unix_ns);
  outcome.result.set_finished_unix_ns(clock.UnixNowNs());
  if (interrupted) {
    outcome.result.mutable_verdict()->add_reasons("run interrupted by the user: partial results");
  }
  if (csv) LLMBENCH_RETURN_IF_ERROR(csv->Close());
  LLMBENCH_RETURN_IF_ERROR(WriteRunResults(out_dir, outcome.result, ScenarioToYaml(scenario)));
  outcome.out_dir = out_dir;
  outcome.exit_status = ExitStatusFor(outcome.result, scenario.thresholds(), &outcome.exit_reason);
  if (interrupted && outcome.exit_status == 0) {
    outcome.exit_status = 130;
    outcome.exit_reason = "interrupted";
  }
  return outcome;
}

void PrintOutcome(const RunOutcome& outcome) {
  std::fputs(ConsoleSummary(outcome.result).c_str(), stdout);
  std::printf("results: %s\n", outcome.out_dir.c_str());
  if (outcome.exit_status != 0) {
    std::printf("exit status %d: %s\n", outcome.exit_status, outcome.exit_reason.c_str());
  }
  std::fflush(stdout);
}

}  // namespace llmbench::coordinator
