#include "coordinator/dispatch.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/clock.h"
#include "common/status.h"
#include "common/version.h"
#include "coordinator/aggregate.h"
#include "coordinator/cost.h"
#include "coordinator/dispatch_monitors.h"
#include "coordinator/engine_check.h"
#include "coordinator/engine_telemetry.h"
#include "coordinator/exporters.h"
#include "coordinator/html_report.h"
#include "coordinator/live_metrics.h"
#include "coordinator/local_workers.h"
#include "coordinator/prompts.h"
#include "coordinator/resources.h"
#include "coordinator/scenario_loader.h"
#include "coordinator/sharding.h"
#include "coordinator/worker_addresses.h"
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
  double cpu_wall_s = 0;  // wall time the cpu_seconds were measured over
  uint64_t records_dropped = 0;
  uint64_t in_flight = 0;
  int64_t failed_at_unix_ns = 0;
  uint64_t requests_reassigned = 0;
  uint64_t requests_lost = 0;
  uint64_t duplicate_records = 0;
  std::optional<v1::ResourceSeries> resources;  // WorkerMessage.resources, on the run's clock
};

bool AllEmpty(const std::vector<std::deque<v1::Shard>>& queues) {
  for (const auto& q : queues) {
    if (!q.empty()) return false;
  }
  return true;
}

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
  LLMBENCH_RETURN_IF_ERROR(ValidateTelemetry(scenario));
  absl::StatusOr<std::vector<v1::Prompt>> prompts =
      BuildPrompts(scenario.prompts(), scenario.seed(), options.base_dir);
  if (!prompts.ok()) return prompts.status();
  if (options.check_engines) {
    for (const v1::Engine& engine : scenario.engines()) {
      LLMBENCH_RETURN_IF_ERROR(RequireReady(CheckEngine(engine), engine));
    }
  }

  absl::StatusOr<WorkerClientSecurity> security = LoadWorkerClientSecurity(
      options.tls_ca, options.tls_cert, options.tls_key, options.token_file);
  if (!security.ok()) return security.status();
  const WorkerClientSecurity monitor_security = *security;  // local workers replace *security
  std::unique_ptr<LocalWorkers> local;
  // A DNS name in --workers stands for every address it resolves to (worker_addresses.h).
  std::vector<std::string> addresses, tls_names;
  LLMBENCH_ASSIGN_OR_RETURN(std::vector<WorkerAddress> remote,
                            ExpandWorkerAddresses(options.workers));
  for (const WorkerAddress& w : remote) {
    addresses.push_back(w.address);
    tls_names.push_back(w.tls_name);
  }
  if (addresses.empty()) {
    int count = options.local_workers > 0
                    ? options.local_workers
                    : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    absl::StatusOr<std::unique_ptr<LocalWorkers>> started =
        LocalWorkers::Start(count, std::max(1, options.loop_threads), options.log_level);
    if (!started.ok()) return started.status();
    local = *std::move(started);
    addresses = local->addresses();
    *security = WorkerClientSecurity();  // loopback, no TLS; the local workers' own token
    security->token = local->token();
  }
  std::vector<std::unique_ptr<WorkerClient>> clients;
  std::vector<WorkerState> states(addresses.size());
  for (size_t i = 0; i < addresses.size(); ++i) {
    WorkerClientSecurity worker_security = *security;
    if (i < tls_names.size()) worker_security.tls_server_name = tls_names[i];
    clients.push_back(std::make_unique<WorkerClient>(addresses[i], std::move(worker_security)));
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

  // Host monitors (--monitor, scenario monitors) for the length of the run.
  std::vector<std::string> monitor_addresses = options.monitors;
  monitor_addresses.insert(monitor_addresses.end(), scenario.monitors().begin(),
                           scenario.monitors().end());
  std::unique_ptr<HostMonitors> monitors;
  if (!monitor_addresses.empty()) {
    LLMBENCH_ASSIGN_OR_RETURN(
        monitors, HostMonitors::Start(monitor_addresses, monitor_security, started_unix_ns));
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

  // 3. Run each engine in turn; records merge as they stream in. Each worker runs the shards
  // queued for it one after another; when a worker fails (its stream breaks, or it sends
  // nothing for options.worker_timeout_ms: killed, frozen or cut off), every record it sent
  // is kept, and the unfinished ids of a count-bounded shard are queued on healthy workers.
  std::mutex mu;  // guards everything below that reader threads touch
  std::condition_variable work_cv;
  Aggregator aggregator(scenario.slo());
  if (options.live_metrics != nullptr) options.live_metrics->BeginRun(run_id, scenario);
  struct sigaction action {};
  action.sa_handler = &OnInterrupt;
  struct sigaction old_int {}, old_term {};
  sigaction(SIGINT, &action, &old_int);
  sigaction(SIGTERM, &action, &old_term);
  g_interrupted.store(false);

  const bool tty = isatty(STDERR_FILENO) != 0;
  const uint64_t target = PlannedRequests(scenario);
  const int64_t heartbeat_timeout_ns = int64_t{options.worker_timeout_ms} * 1'000'000;
  bool interrupted = false;
  uint32_t next_shard_index = 0;
  std::map<std::string, v1::EngineTelemetry> telemetry_by_engine;  // engine_telemetry.h
  for (int e = 0; e < scenario.engines_size() && !interrupted; ++e) {
    std::vector<size_t> healthy;
    for (size_t i = 0; i < states.size(); ++i) {
      if (!states[i].failed) healthy.push_back(i);
    }
    if (healthy.empty()) return absl::UnavailableError("every worker has failed");
    // The engine's own metrics: scraped now, periodically, and after its last record.
    std::unique_ptr<EngineTelemetryCollector> telemetry = StartEngineTelemetry(scenario, e, clock);
    const int64_t start_unix_ns = clock.UnixNowNs() + 300'000'000;  // time for every shard to arrive
    absl::StatusOr<std::vector<v1::Shard>> shards = MakeShards(
        scenario, e, *prompts, static_cast<uint32_t>(healthy.size()), run_id, start_unix_ns);
    if (!shards.ok()) return shards.status();
    next_shard_index = static_cast<uint32_t>(shards->size());
    // Per-engine state, guarded by mu.
    std::vector<std::deque<v1::Shard>> queues(states.size());
    for (size_t k = 0; k < shards->size(); ++k) queues[healthy[k]].push_back((*shards)[k]);
    std::unordered_set<uint64_t> seen_ids;  // measured ids already counted (never twice)
    int busy = 0;
    std::vector<int64_t> last_heard(states.size(), 0);
    std::vector<bool> running_shard(states.size(), false);
    std::vector<bool> failing(states.size(), false);

    auto fail_worker = [&](size_t i, const std::string& why) {  // REQUIRES: mu held
      if (states[i].failed) return;
      states[i].failed = true;
      states[i].failure = why;
      states[i].failed_at_unix_ns = clock.UnixNowNs();
      failing[i] = true;
      clients[i]->Cancel();
    };

    auto reader = [&](size_t i) {
      std::unique_lock<std::mutex> lock(mu);
      while (true) {
        work_cv.wait(lock, [&] {
          return states[i].failed || !queues[i].empty() || (busy == 0 && AllEmpty(queues)) ||
                 interrupted;
        });
        if (states[i].failed || interrupted || queues[i].empty()) break;
        v1::Shard shard = std::move(queues[i].front());
        queues[i].pop_front();
        shard.set_start_unix_ns(std::max(shard.start_unix_ns(), clock.UnixNowNs()) +
                                states[i].clock_offset_ns);
        // Resource samples count from the shard's start instant (worker clock); on the run's:
        const double resources_offset_s =
            static_cast<double>(shard.start_unix_ns() - states[i].clock_offset_ns -
                                started_unix_ns) / 1e9;
        ++busy;
        running_shard[i] = true;
        last_heard[i] = clock.NowNs();
        std::unordered_set<uint64_t> finished;  // ids of this shard with a final record
        lock.unlock();
        absl::Status status = clients[i]->RunShard(shard, [&](const v1::WorkerMessage& message) {
          std::lock_guard<std::mutex> guard(mu);
          last_heard[i] = clock.NowNs();
          if (options.live_metrics != nullptr) {
            options.live_metrics->OnWorkerMessage(states[i].worker_id, states[i].loop_threads,
                                                  message);
          }
          switch (message.kind_case()) {
            case v1::WorkerMessage::kRecords:
              for (const v1::RequestRecord& record : message.records().records()) {
                // A failing worker's cancelled requests are not final: they are reassigned.
                if (failing[i] && record.error_class() == v1::ERROR_CLASS_CANCELLED) continue;
                if (!record.warmup() && !seen_ids.insert(record.request_id()).second) {
                  ++states[i].duplicate_records;
                  continue;
                }
                finished.insert(record.request_id());
                aggregator.Add(record);
                if (telemetry) telemetry->AddRecord(record);
                if (options.live_metrics != nullptr) options.live_metrics->Add(record);
                if (csv) csv->Append(record);
              }
              break;
            case v1::WorkerMessage::kProgress:
              states[i].in_flight = message.progress().in_flight();
              break;
            case v1::WorkerMessage::kResources:
              if (!states[i].resources) states[i].resources.emplace();
              AppendResources(message.resources(), resources_offset_s, &*states[i].resources);
              break;
            case v1::WorkerMessage::kSummary:
              states[i].cpu_seconds += message.summary().cpu_seconds();
              states[i].cpu_wall_s += message.summary().cpu_wall_ns() / 1e9;
              states[i].records_dropped += message.summary().records_dropped();
              states[i].in_flight = 0;
              break;
            default:
              break;
          }
        });
        lock.lock();
        running_shard[i] = false;
        --busy;
        if (!status.ok() && !interrupted) fail_worker(i, std::string(status.message()));
        if (states[i].failed) {
          // Reassign what this shard did not finish (count-bounded shards only), plus any
          // shards still queued for this worker.
          std::vector<v1::Shard> orphans = {shard};
          while (!queues[i].empty()) {
            orphans.push_back(std::move(queues[i].front()));
            queues[i].pop_front();
          }
          std::vector<size_t> alive;
          for (size_t j = 0; j < states.size(); ++j) {
            if (!states[j].failed) alive.push_back(j);
          }
          for (size_t o = 0; o < orphans.size(); ++o) {
            const v1::Shard& lost = orphans[o];
            std::vector<uint64_t> unfinished;
            for (uint64_t id : lost.request_ids()) {
              if (o > 0 || !finished.contains(id)) unfinished.push_back(id);
            }
            if (unfinished.empty()) continue;
            if (alive.empty()) {
              states[i].requests_lost += unfinished.size();
              continue;
            }
            absl::StatusOr<std::vector<v1::Shard>> again =
                ReassignRequests(unfinished, lost, static_cast<uint32_t>(alive.size()),
                                 next_shard_index, clock.UnixNowNs());
            if (!again.ok()) {
              states[i].requests_lost += unfinished.size();
              continue;
            }
            next_shard_index += static_cast<uint32_t>(again->size());
            for (size_t k = 0; k < again->size(); ++k) {
              queues[alive[k % alive.size()]].push_back((*again)[k]);
            }
            states[i].requests_reassigned += unfinished.size();
          }
          work_cv.notify_all();
          break;
        }
        work_cv.notify_all();
      }
      work_cv.notify_all();
    };

    std::vector<std::thread> readers;
    for (size_t i : healthy) readers.emplace_back(reader, i);
    // Progress and failure detection until every reader is done; Ctrl-C cancels the shards
    // (the workers flush what they measured).
    auto last_print = std::chrono::steady_clock::now();
    size_t done_readers = 0;
    while (done_readers < readers.size()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      {
        std::lock_guard<std::mutex> lock(mu);
        if (g_interrupted.load() && !interrupted) {
          interrupted = true;
          for (auto& client : clients) client->Cancel();
          work_cv.notify_all();
        }
        const int64_t now = clock.NowNs();
        for (size_t i = 0; i < states.size(); ++i) {
          if (running_shard[i] && !states[i].failed && now - last_heard[i] > heartbeat_timeout_ns) {
            fail_worker(i, absl::StrFormat("no message for %d ms (worker frozen, killed or cut off)",
                                           options.worker_timeout_ms));
          }
        }
        done_readers = (busy == 0 && (AllEmpty(queues) || interrupted)) ? readers.size() : 0;
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
    {
      std::lock_guard<std::mutex> lock(mu);
      work_cv.notify_all();
    }
    for (std::thread& t : readers) t.join();
    if (telemetry) telemetry_by_engine[scenario.engines(e).name()] = telemetry->Finish();
    if (!options.quiet && tty) std::fprintf(stderr, "\n");
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  std::vector<v1::HostMonitor> monitor_results;
  if (monitors) monitor_results = monitors->Stop();

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
    report.failed_at_unix_ns = s.failed_at_unix_ns;
    report.requests_reassigned = s.requests_reassigned;
    report.requests_lost = s.requests_lost;
    report.duplicate_records = s.duplicate_records;
    report.resources = s.resources;
    // Utilization over less than a second of work says more about thread start-up than about
    // saturation: report it only from 1 s of measured wall time on.
    if (s.cpu_wall_s >= 1.0) report.cpu_utilization = s.cpu_seconds / s.cpu_wall_s / s.loop_threads;
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
  *outcome.result.mutable_verdict() = ComputeVerdict(outcome.result, scenario.thresholds());
  AddCosts(&outcome.result);  // engines with a price_per_hour (coordinator/cost.h)
  for (v1::HostMonitor& m : monitor_results) *outcome.result.add_monitors() = std::move(m);
  AttachTelemetry(telemetry_by_engine, &outcome.result);  // coordinator/engine_telemetry.h
  if (interrupted) {
    outcome.result.mutable_verdict()->add_reasons("run interrupted by the user: partial results");
  }
  if (csv) LLMBENCH_RETURN_IF_ERROR(csv->Close());
  LLMBENCH_RETURN_IF_ERROR(WriteRunResults(out_dir, outcome.result, ScenarioToYaml(scenario)));
  LLMBENCH_RETURN_IF_ERROR(WriteResourcesCsv(out_dir, outcome.result));
  LLMBENCH_RETURN_IF_ERROR(WriteHtmlReport(out_dir));
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
