#include "coordinator/dispatch.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
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
#include "coordinator/multi_turn.h"
#include "coordinator/prompts.h"
#include "coordinator/record_check.h"
#include "coordinator/resources.h"
#include "coordinator/run_id.h"
#include "coordinator/scenario_loader.h"
#include "coordinator/sharding.h"
#include "coordinator/trace_plan.h"
#include "coordinator/worker_addresses.h"
#include "coordinator/worker_client.h"
#include "coordinator/workload_run.h"
#include "proto/wire/shard_ids.h"

namespace llmbench::coordinator {
namespace {

namespace v1 = ::llmbench::v1;

constexpr int64_t kNsPerS = 1'000'000'000;
// The largest shard a worker receives (its gRPC receive limit, worker_service_security.h, less
// room for the request around it).
constexpr size_t kMaxShardBytes = (size_t{64} << 20) - 4096;
// Time between choosing a phase's start instant and reaching it: every shard must arrive first.
constexpr int64_t kStartLeadNs = 300'000'000;

// Whether `record` failed without ever reaching the engine: the connection was refused or
// could not be made (including a connect timeout), so nothing was sent to it.
bool Unreachable(const v1::RequestRecord& record) {
  if (record.error_class() == v1::ERROR_CLASS_CONNECT) return true;
  return record.error_class() == v1::ERROR_CLASS_TIMEOUT && record.http_status() == 0 &&
         record.bytes_received() == 0 &&
         absl::StrContains(absl::AsciiStrToLower(record.error_message()), "connect");
}

// Moves `record`'s times from its shard's axis onto the run's (shard start + offset_ns).
// chunk_offsets_ns are relative to sent_ns and stay as they are.
void ShiftTimes(int64_t offset_ns, v1::RequestRecord* record) {
  if (offset_ns == 0) return;
  if (record->has_scheduled_ns()) record->set_scheduled_ns(record->scheduled_ns() + offset_ns);
  record->set_sent_ns(record->sent_ns() + offset_ns);
  if (record->has_first_token_ns()) {
    record->set_first_token_ns(record->first_token_ns() + offset_ns);
  }
  record->set_end_ns(record->end_ns() + offset_ns);
}

std::string FormatDuration(double seconds) {
  const int64_t s = static_cast<int64_t>(std::max(0.0, seconds) + 0.5);
  if (s >= 3600) return absl::StrFormat("%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
  return absl::StrFormat("%d:%02d", s / 60, s % 60);
}

// Watches one engine's records for a run of unreachable outcomes (Unreachable) with nothing
// else in between: once that run spans `down_after_ns` on the run's axis (from the first
// such request's send to the latest one's end), the engine is down.
class EngineWatch {
 public:
  explicit EngineWatch(int64_t down_after_ns) : down_after_ns_(down_after_ns) {}

  // True once the engine is down (and from then on).
  bool Add(const v1::RequestRecord& record) {
    if (down_after_ns_ <= 0 || down_) return down_;
    if (!Unreachable(record)) {
      streak_start_ns_.reset();
      streak_failures_ = 0;
      return false;
    }
    if (!streak_start_ns_) {
      streak_start_ns_ = record.sent_ns();
      streak_end_ns_ = record.end_ns();
      example_ = record.error_message();
    }
    streak_start_ns_ = std::min(*streak_start_ns_, record.sent_ns());
    streak_end_ns_ = std::max(streak_end_ns_, record.end_ns());
    ++streak_failures_;
    if (streak_end_ns_ - *streak_start_ns_ >= down_after_ns_) {
      down_ = true;
      down_at_ns_ = streak_end_ns_;
    }
    return down_;
  }

  bool down() const { return down_; }
  // Why, for the verdict: "engine NAME unreachable for 5.0 s (N requests failed to connect,
  // e.g. "..."): its run was stopped 7.3 s into the run".
  std::string Reason(const std::string& engine) const {
    return absl::StrFormat(
        "engine %s unreachable for %.1f s (%d requests in a row failed to connect, e.g. \"%s\"): "
        "its run was stopped %.1f s into it, what was measured is kept",
        engine, static_cast<double>(streak_end_ns_ - streak_start_ns_.value_or(0)) / kNsPerS,
        streak_failures_, example_, static_cast<double>(down_at_ns_) / kNsPerS);
  }

 private:
  const int64_t down_after_ns_;
  std::optional<int64_t> streak_start_ns_;
  int64_t streak_end_ns_ = 0;
  uint64_t streak_failures_ = 0;
  std::string example_;
  bool down_ = false;
  int64_t down_at_ns_ = 0;
};

// What the dispatcher learned about a worker over the whole run.
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
  uint64_t backoffs = 0;
  uint64_t in_flight = 0;
  int64_t failed_at_unix_ns = 0;
  uint64_t requests_reassigned = 0;
  uint64_t requests_lost = 0;
  uint64_t duplicate_records = 0;
  uint64_t invalid_records = 0;        // records that failed RecordProblem: not counted
  std::string invalid_example;         // the first one's problem
  uint32_t max_concurrency = 0;        // Describe: the most requests in flight it accepts
  std::optional<v1::ResourceSeries> resources;  // WorkerMessage.resources, on the run's clock
  std::vector<v1::LoopWindow> loop_windows;      // ShardSummary.loop_windows, on the run's clock
};

// Measured ids of one engine already counted, so none is counted twice: a bitmap over the
// count-bounded run's ids 0..planned-1 (every valid id of such a run is below it), a hash set
// for the ids of a duration-bounded run.
class SeenIds {
 public:
  explicit SeenIds(uint64_t dense) : dense_(dense, false) {}
  // False when `id` was seen before.
  bool Insert(uint64_t id) {
    if (id < dense_.size()) {
      if (dense_[id]) return false;
      dense_[id] = true;
      return true;
    }
    return sparse_.insert(id).second;
  }

 private:
  std::vector<bool> dense_;
  absl::flat_hash_set<uint64_t> sparse_;
};

// One engine's share of a phase.
struct EngineRun {
  int index = 0;  // in scenario.engines
  std::string name;
  std::vector<size_t> workers;                       // its group of workers
  std::unique_ptr<SeenIds> seen_ids;                 // measured ids counted (never twice)
  std::unique_ptr<EngineTelemetryCollector> telemetry;
  std::unique_ptr<EngineWatch> watch;
  bool stop_requested = false;  // declared down or the run stopped: stop its shards
};

// The shard a worker's reader runs, and what its records have covered so far.
struct RunningShard {
  explicit RunningShard(v1::Shard s) : shard(std::move(s)), ids(shard), finished(ids.size()) {}
  v1::Shard shard;
  const wire::ShardIds ids;     // count-bounded: its measured ids (empty otherwise)
  std::vector<bool> finished;   // by measured index: a final record arrived
  EngineRun* run = nullptr;
  int64_t start_unix_ns = 0;    // its start instant, coordinator wall clock
  int64_t axis_offset_ns = 0;   // its records' times + this = the run's axis
  double resources_offset_s = 0;
  bool heard = false;           // any message arrived
};

// The worker turned the shard down before running it (it was never going to): an invalid
// shard, a key it may not send, more concurrency than it accepts, a wrong token.
bool IsRefusal(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kOutOfRange:
      return true;
    default:
      return false;
  }
}

// The stream broke on what the worker sent rather than on the worker (a message above the
// receive limit): rerunning the same requests elsewhere would break again.
bool IsDataFailure(const absl::Status& status) {
  return status.code() == absl::StatusCode::kResourceExhausted &&
         absl::StrContains(status.message(), "larger than max");
}

void PrintProgress(const std::string& line, bool tty) {
  std::fprintf(stderr, tty ? "\r\033[K%s" : "%s\n", line.c_str());
}

}  // namespace

// One run of a scenario, phase by phase (see dispatch.h).
class ScenarioRun {
 public:
  ScenarioRun(const v1::Scenario& scenario, const RunOptions& options)
      : scenario_(scenario),
        options_(options),
        clock_(SteadyClock::Get()),
        started_unix_ns_(clock_.UnixNowNs()),
        run_id_(MakeRunId("", started_unix_ns_)),
        aggregator_(scenario.slo()) {}

  absl::StatusOr<RunOutcome> Run() {
    LLMBENCH_RETURN_IF_ERROR(Prepare());
    LLMBENCH_RETURN_IF_ERROR(ConnectWorkers());
    // Each engine's copy of the prompts, counted with its tokenizer (exact lengths).
    LLMBENCH_RETURN_IF_ERROR(workload_->CountPrompts(options_.quiet));
    LLMBENCH_RETURN_IF_ERROR(CheckPlan());
    LLMBENCH_RETURN_IF_ERROR(StartMonitors());
    LLMBENCH_RETURN_IF_ERROR(OpenOutputs());
    if (options_.live_metrics != nullptr) options_.live_metrics->BeginRun(run_id_, scenario_);
    for (const std::vector<int>& phase : Phases()) {
      if (StopSignal() != 0) break;
      LLMBENCH_RETURN_IF_ERROR(RunPhase(phase));
    }
    return Finish();
  }

 private:
  // 1. Everything that can fail does so before any request is sent.
  absl::Status Prepare() {
    // The scenario is resolved (RunScenario's contract): not validated again here.
    LLMBENCH_RETURN_IF_ERROR(ValidateTelemetry(scenario_));
    if (options_.check_engines) {
      for (const v1::Engine& engine : scenario_.engines()) {
        LLMBENCH_RETURN_IF_ERROR(RequireReady(CheckEngine(engine), engine));
      }
    }
    // The prompts and their output lengths (counted per engine once the workers are up).
    LLMBENCH_ASSIGN_OR_RETURN(workload_, WorkloadRun::Plan(scenario_, options_.base_dir));
    const v1::Thresholds& t = scenario_.thresholds();
    const double down_s =
        t.has_engine_down_seconds() ? t.engine_down_seconds() : kDefaultEngineDownSeconds;
    engine_down_after_ns_ = static_cast<int64_t>(down_s * 1e9);
    return absl::OkStatus();
  }

  // Engines that run at the same time, in order.
  std::vector<std::vector<int>> Phases() const {
    std::vector<std::vector<int>> phases;
    if (scenario_.load().side_by_side() && scenario_.engines_size() > 1) {
      phases.emplace_back();
      for (int e = 0; e < scenario_.engines_size(); ++e) phases.back().push_back(e);
    } else {
      for (int e = 0; e < scenario_.engines_size(); ++e) phases.push_back({e});
    }
    return phases;
  }

  size_t MinWorkers() const {
    return scenario_.load().side_by_side() ? static_cast<size_t>(scenario_.engines_size()) : 1;
  }

  // 2. Local or remote workers, described (version and clock offset).
  absl::Status ConnectWorkers() {
    LLMBENCH_ASSIGN_OR_RETURN(WorkerClientSecurity security,
                              LoadWorkerClientSecurity(options_.tls_ca, options_.tls_cert,
                                                       options_.tls_key, options_.token_file));
    monitor_security_ = security;  // local workers replace `security` below
    // A DNS name in --workers stands for every address it resolves to (worker_addresses.h).
    std::vector<std::string> addresses, tls_names;
    LLMBENCH_ASSIGN_OR_RETURN(std::vector<WorkerAddress> remote,
                              ExpandWorkerAddresses(options_.workers));
    for (const WorkerAddress& w : remote) {
      addresses.push_back(w.address);
      tls_names.push_back(w.tls_name);
    }
    if (addresses.empty()) {
      // Local workers: those the caller keeps for several runs (a sweep's probes, --repeat),
      // else started for this run.
      const LocalWorkers* local = options_.local_workers_pool;
      if (local == nullptr) {
        LLMBENCH_ASSIGN_OR_RETURN(local_, StartLocalWorkers(scenario_, options_));
        local = local_.get();
      }
      addresses = local->addresses();
      security = WorkerClientSecurity();  // loopback, no TLS; the local workers' own token
      security.token = local->token();
    } else if (addresses.size() < MinWorkers()) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "side by side, each of the %d engines needs its own worker: --workers gives %d",
          scenario_.engines_size(), addresses.size()));
    }
    states_.resize(addresses.size());
    for (size_t i = 0; i < addresses.size(); ++i) {
      WorkerClientSecurity worker_security = security;
      if (i < tls_names.size()) worker_security.tls_server_name = tls_names[i];
      clients_.push_back(options_.connect_worker
                             ? options_.connect_worker(addresses[i], worker_security)
                             : std::make_unique<WorkerClient>(addresses[i], worker_security));
      LLMBENCH_ASSIGN_OR_RETURN(WorkerInfo info, clients_.back()->Describe());
      if (info.describe.protocol_version() != kProtocolVersion) {
        return absl::FailedPreconditionError(absl::StrFormat(
            "worker %s runs llmbench %s (protocol %d); this coordinator is llmbench %s "
            "(protocol %d)",
            addresses[i], info.describe.version(), info.describe.protocol_version(), kVersion,
            kProtocolVersion));
      }
      LLMBENCH_RETURN_IF_ERROR(CheckWorkerApiKeys(scenario_, addresses[i], info.describe));
      states_[i].address = addresses[i];
      states_[i].worker_id = info.describe.worker_id();
      states_[i].loop_threads = std::max<uint32_t>(1, info.describe.loop_threads());
      states_[i].clock_offset_ns = info.clock_offset_ns;
      states_[i].max_concurrency = info.describe.max_concurrency();
    }
    return absl::OkStatus();
  }

  // Engine k of a phase of `engines` engines runs on workers[j] for every j = k mod engines.
  static std::vector<std::vector<size_t>> Groups(size_t engines, const std::vector<size_t>& workers) {
    std::vector<std::vector<size_t>> groups(engines);
    for (size_t j = 0; j < workers.size(); ++j) groups[j % engines].push_back(workers[j]);
    return groups;
  }

  // Configuration errors a worker would only find when its shard arrives, found before any
  // load: a shard asking more requests in flight than its worker accepts, a shard too large
  // to send (the prompt set is in every shard).
  absl::Status CheckPlan() const ABSL_NO_THREAD_SAFETY_ANALYSIS {
    std::vector<size_t> all(states_.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    for (const std::vector<int>& phase : Phases()) {
      const std::vector<std::vector<size_t>> groups = Groups(phase.size(), all);
      for (size_t k = 0; k < phase.size(); ++k) {
        const v1::Engine& engine = scenario_.engines(phase[k]);
        LLMBENCH_ASSIGN_OR_RETURN(std::vector<v1::Shard> shards,
                                  MakeShards(scenario_, phase[k], workload_->PromptsFor(phase[k]),
                                             static_cast<uint32_t>(groups[k].size()), run_id_, 0));
        for (size_t j = 0; j < shards.size(); ++j) {
          const WorkerState& w = states_[groups[k][j]];
          const v1::ShardLoad& load = shards[j].load();
          if (load.has_concurrency() && w.max_concurrency > 0 &&
              load.concurrency().concurrency() > w.max_concurrency) {
            return absl::FailedPreconditionError(absl::StrFormat(
                "engine %s: worker %s accepts at most %d requests in flight "
                "(llmbench-worker --max-concurrency) but its share of the concurrency is %d: "
                "add workers or lower the concurrency",
                engine.name(), w.address, w.max_concurrency, load.concurrency().concurrency()));
          }
          const size_t bytes = shards[j].ByteSizeLong();
          if (bytes > kMaxShardBytes) {
            return absl::FailedPreconditionError(absl::StrFormat(
                "engine %s: the shard for worker %s is %.1f MiB, above the %d MiB a worker "
                "accepts (every shard carries the whole prompt set: %d prompts)",
                engine.name(), w.address, static_cast<double>(bytes) / (1 << 20),
                kMaxShardBytes >> 20, shards[j].prompts_size()));
          }
        }
      }
    }
    return absl::OkStatus();
  }

  // Host monitors (--monitor, scenario monitors) for the length of the run.
  absl::Status StartMonitors() {
    std::vector<std::string> addresses = options_.monitors;
    addresses.insert(addresses.end(), scenario_.monitors().begin(), scenario_.monitors().end());
    if (addresses.empty()) return absl::OkStatus();
    LLMBENCH_ASSIGN_OR_RETURN(monitors_,
                              HostMonitors::Start(addresses, monitor_security_, started_unix_ns_));
    return absl::OkStatus();
  }

  absl::Status OpenOutputs() {
    out_dir_ = options_.out_dir;
    if (out_dir_.empty()) out_dir_ = scenario_.outputs().dir();
    if (out_dir_.empty()) out_dir_ = (std::filesystem::path("results") / run_id_).string();
    std::error_code ec;
    std::filesystem::create_directories(out_dir_, ec);
    if (ec) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot create ", out_dir_, ": ", ec.message()));
    }
    if (scenario_.outputs().csv()) {
      LLMBENCH_ASSIGN_OR_RETURN(
          csv_, RequestsCsvWriter::Open((std::filesystem::path(out_dir_) / kRequestsFileName).string()));
      // The report's per-request series, built as the records stream past (as from the CSV).
      std::vector<std::string> engines, workers;
      for (const v1::Engine& engine : scenario_.engines()) engines.push_back(engine.name());
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (const WorkerState& w : states_) workers.push_back(w.worker_id);
      }
      report_series_ = std::make_unique<ReportSeries>(engines, workers);
    }
    return workload_->Start(out_dir_, clock_);  // requests.jsonl, GPU metrics
  }

  int StopSignal() const {
    return options_.stop_signal != nullptr ? options_.stop_signal->load() : 0;
  }

  // 3. The engines of `phase` run at the same instant, each on its own group of the healthy
  // workers (all of them when the phase has one engine). Each worker runs the shards queued
  // for it one after another; when a worker fails (its stream breaks, or it sends nothing for
  // options.worker_timeout_ms: killed, frozen or cut off), every record it sent is kept, and
  // the unfinished ids of a count-bounded shard are queued on healthy workers.
  absl::Status RunPhase(const std::vector<int>& phase) {
    std::vector<size_t> healthy;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (size_t i = 0; i < states_.size(); ++i) {
        if (!states_[i].failed) healthy.push_back(i);
      }
    }
    if (healthy.size() < phase.size()) {
      // Nothing can run them: what they were asked counts as not run.
      for (int e : phase) {
        not_run_reasons_.push_back(absl::StrCat("engine ", scenario_.engines(e).name(),
                                                " did not run: every worker had failed"));
      }
      return absl::OkStatus();
    }
    const int64_t start_unix_ns = clock_.UnixNowNs() + kStartLeadNs;
    if (axis_origin_unix_ns_ == 0) axis_origin_unix_ns_ = start_unix_ns;
    std::vector<std::unique_ptr<EngineRun>> engines;
    {
      std::lock_guard<std::mutex> lock(mu_);
      phase_ = {};
      phase_.queues.assign(states_.size(), {});
      phase_.running.assign(states_.size(), std::nullopt);
      phase_.last_heard.assign(states_.size(), 0);
      phase_.failing.assign(states_.size(), false);
      phase_.stopping.assign(states_.size(), false);
      phase_.no_reassign.assign(states_.size(), false);
      phase_.engine_of_worker.assign(states_.size(), -1);
      aggregator_.ResetLive();
      const std::vector<std::vector<size_t>> groups = Groups(phase.size(), healthy);
      for (size_t k = 0; k < phase.size(); ++k) {
        auto run = std::make_unique<EngineRun>();
        run->index = phase[k];
        run->name = scenario_.engines(phase[k]).name();
        run->workers = groups[k];
        run->watch = std::make_unique<EngineWatch>(engine_down_after_ns_);
        run->seen_ids = std::make_unique<SeenIds>(
            scenario_.load().has_requests() ? scenario_.load().requests() : 0);
        // The engine's own metrics: scraped now, periodically, and after its last record.
        run->telemetry = StartEngineTelemetry(scenario_, phase[k], clock_);
        LLMBENCH_ASSIGN_OR_RETURN(
            std::vector<v1::Shard> shards,
            MakeShards(scenario_, phase[k], workload_->PromptsFor(phase[k]),
                       static_cast<uint32_t>(run->workers.size()), run_id_, start_unix_ns));
        workload_->AdjustShards(&shards);
        for (size_t s = 0; s < shards.size(); ++s) {
          phase_.queues[run->workers[s]].push_back(std::move(shards[s]));
        }
        phase_.next_shard_index =
            std::max(phase_.next_shard_index, static_cast<uint32_t>(shards.size()));
        for (size_t w : run->workers) phase_.engine_of_worker[w] = static_cast<int>(k);
        engines.push_back(std::move(run));
      }
      phase_.engines = &engines;
      phase_.start_mono_ns = clock_.NowNs() + kStartLeadNs;
    }

    std::vector<std::thread> readers;
    for (size_t i : healthy) readers.emplace_back([this, i] { ReadWorker(i); });
    WatchPhase(phase);
    {
      std::lock_guard<std::mutex> lock(mu_);
      work_cv_.notify_all();
    }
    for (std::thread& t : readers) t.join();
    for (auto& run : engines) {
      if (run->telemetry) telemetry_by_engine_[run->name] = run->telemetry->Finish();
      if (run->watch->down()) engines_down_.push_back(run->watch->Reason(run->name));
    }
    std::lock_guard<std::mutex> lock(mu_);
    phase_.engines = nullptr;
    return absl::OkStatus();
  }

  // Progress, heartbeats and stops until every reader of the phase is done. Runs on the
  // calling thread; StopShard calls are made here, never under mu_.
  void WatchPhase(const std::vector<int>& phase) {
    const bool tty = isatty(STDERR_FILENO) != 0;
    const v1::Load& load = scenario_.load();
    const uint64_t target =
        load.has_requests() ? (load.requests() + load.warmup_requests()) * phase.size() : 0;
    const double planned_s =
        load.has_duration_seconds() ? load.warmup_seconds() + load.duration_seconds() : 0;
    std::string label;
    if (scenario_.engines_size() > 1) {
      std::vector<std::string> names;
      for (int e : phase) names.push_back(scenario_.engines(e).name());
      label = absl::StrCat(absl::StrJoin(names, "+"), ": ");
    }
    const int64_t heartbeat_timeout_ns = int64_t{options_.worker_timeout_ms} * 1'000'000;
    auto last_print = std::chrono::steady_clock::now();
    while (true) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      std::vector<std::pair<size_t, v1::Shard>> to_stop;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (const int signal = StopSignal(); signal != 0 && stop_signal_ == 0) {
          stop_signal_ = signal;
          stop_all_ = true;
          for (auto& q : phase_.queues) q.clear();  // never started: not run
          work_cv_.notify_all();
        }
        if (stop_all_) {
          for (auto& q : phase_.queues) q.clear();
        }
        for (auto& run : *phase_.engines) {
          if (run->stop_requested) continue;
          if (run->watch->down() || stop_all_) {
            run->stop_requested = true;
            for (size_t w : run->workers) DropQueuedShards(w, run->index);
          }
        }
        const int64_t now = clock_.NowNs();
        for (size_t i = 0; i < states_.size(); ++i) {
          if (!phase_.running[i] || states_[i].failed) continue;
          const EngineRun* run = EngineOf(phase_.running[i]->engine().name());
          if (run != nullptr && run->stop_requested && !phase_.stopping[i]) {
            phase_.stopping[i] = true;
            to_stop.emplace_back(i, *phase_.running[i]);
          } else if (now - phase_.last_heard[i] > heartbeat_timeout_ns) {
            FailWorker(i, absl::StrFormat("no message for %d ms (worker frozen, killed or cut off)",
                                          options_.worker_timeout_ms));
          }
        }
        if (phase_.busy == 0 && AllQueuesEmpty()) break;
      }
      for (const auto& [i, shard] : to_stop) {
        // Graceful: the worker sends every record and its summary. A worker that cannot be
        // asked (frozen, gone) is cut off; its reader then ends without failing it.
        if (!clients_[i]->StopShard(shard.run_id(), shard.shard_index()).ok()) {
          clients_[i]->Cancel();
        }
      }
      const auto now = std::chrono::steady_clock::now();
      if (!options_.quiet && now - last_print >= std::chrono::milliseconds(tty ? 250 : 2000)) {
        last_print = now;
        std::lock_guard<std::mutex> lock(mu_);
        uint64_t in_flight = 0;
        for (const WorkerState& s : states_) in_flight += s.in_flight;
        const double elapsed_s =
            static_cast<double>(clock_.NowNs() - phase_.start_mono_ns) / kNsPerS;
        PrintProgress(label + ProgressLine(aggregator_.Snapshot(), target, in_flight,
                                           std::max(0.0, elapsed_s), planned_s, tty),
                      tty);
      }
    }
    if (!options_.quiet && tty) std::fprintf(stderr, "\n");
  }

  static std::string ProgressLine(const LiveSnapshot& s, uint64_t target, uint64_t in_flight,
                                  double elapsed_s, double planned_s, bool tty) {
    std::string bar;
    double fraction = -1;
    if (target > 0) fraction = std::min(1.0, static_cast<double>(s.completed) / target);
    if (planned_s > 0) fraction = std::max(fraction, std::min(1.0, elapsed_s / planned_s));
    if (tty && fraction >= 0) {
      constexpr int kWidth = 24;
      const int filled = static_cast<int>(kWidth * fraction);
      bar = absl::StrCat("[", std::string(filled, '#'), std::string(kWidth - filled, '.'), "] ");
    }
    // ETA: by time for a duration bound (then the requests in flight finish); by the recent
    // completion rate for a count bound.
    std::string eta = "-";
    if (planned_s > 0) {
      eta = FormatDuration(planned_s - elapsed_s);
    } else if (target > 0 && s.completed > 0 && elapsed_s > 0) {
      const double per_s = static_cast<double>(s.completed) / elapsed_s;
      eta = FormatDuration(static_cast<double>(target - std::min(target, s.completed)) / per_s);
    }
    const std::string count = target > 0 ? absl::StrFormat("%d/%d", s.completed, target)
                                         : absl::StrFormat("%d", s.completed);
    const std::string ttft =
        s.ttft_p50_ms.has_value() ? absl::StrFormat("%.1f ms", *s.ttft_p50_ms) : "-";
    return absl::StrFormat(
        "%s%s done, %d in flight, %.1f req/s, %.0f out tok/s, %d errors, TTFT p50 %s, elapsed "
        "%s, ETA %s",
        bar, count, in_flight, s.requests_per_s, s.output_tokens_per_s, s.errors, ttft,
        FormatDuration(elapsed_s), eta);
  }

  EngineRun* EngineOf(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (auto& run : *phase_.engines) {
      if (run->name == name) return run.get();
    }
    return nullptr;
  }

  bool AllQueuesEmpty() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (const auto& q : phase_.queues) {
      if (!q.empty()) return false;
    }
    return true;
  }

  // Removes the shards of engine `engine_index` queued for worker `w` (not started: not run).
  void DropQueuedShards(size_t w, int engine_index) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::deque<v1::Shard>& q = phase_.queues[w];
    const std::string& name = scenario_.engines(engine_index).name();
    q.erase(std::remove_if(q.begin(), q.end(),
                           [&](const v1::Shard& s) { return s.engine().name() == name; }),
            q.end());
  }

  void FailWorker(size_t i, const std::string& why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (states_[i].failed) return;
    states_[i].failed = true;
    states_[i].failure = why;
    states_[i].failed_at_unix_ns = clock_.UnixNowNs();
    phase_.failing[i] = true;
    clients_[i]->Cancel();
  }

  // One worker's reader thread: runs the shards queued for it, one after another.
  void ReadWorker(size_t i) {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      work_cv_.wait(lock, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return states_[i].failed || !phase_.queues[i].empty() ||
               (phase_.busy == 0 && AllQueuesEmpty()) || stop_all_;
      });
      if (states_[i].failed || stop_all_ || phase_.queues[i].empty()) break;
      RunningShard rs(std::move(phase_.queues[i].front()));
      phase_.queues[i].pop_front();
      v1::Shard& shard = rs.shard;
      // The instant the shard starts, on the coordinator's clock; the worker gets it on its own.
      rs.start_unix_ns = std::max(shard.start_unix_ns(), clock_.UnixNowNs());
      shard.set_start_unix_ns(rs.start_unix_ns + states_[i].clock_offset_ns);
      rs.axis_offset_ns = rs.start_unix_ns - axis_origin_unix_ns_;
      // Resource samples count from the shard's start instant; on the run's clock:
      rs.resources_offset_s = static_cast<double>(rs.start_unix_ns - started_unix_ns_) / kNsPerS;
      rs.run = EngineOf(shard.engine().name());
      ++phase_.busy;
      phase_.running[i] = shard;
      phase_.last_heard[i] = clock_.NowNs();
      lock.unlock();
      absl::Status status = clients_[i]->RunShard(shard, [&](v1::WorkerMessage& message) {
        std::lock_guard<std::mutex> guard(mu_);
        rs.heard = true;
        phase_.last_heard[i] = clock_.NowNs();
        OnMessage(i, &rs, &message);
      });
      lock.lock();
      phase_.running[i].reset();
      --phase_.busy;
      const bool stopped = phase_.stopping[i];
      phase_.stopping[i] = false;
      if (!status.ok() && !stopped && !stop_all_) {
        if (!rs.heard && IsRefusal(status)) {
          // The worker refused the shard itself (an invalid shard, a key it may not send, more
          // concurrency than it accepts): a configuration error, not a failed worker. The run
          // stops; nothing is reassigned (every worker would refuse it alike).
          if (config_error_.empty()) {
            config_error_ = absl::StrCat("worker ", states_[i].address, " refused the shard: ",
                                         status.message());
            stop_all_ = true;  // every running shard is stopped, as for a signal
            for (auto& q : phase_.queues) q.clear();
          }
        } else {
          FailWorker(i, std::string(status.message()));
          if (IsDataFailure(status)) {
            // The stream broke on what the worker sent (a message over the size limit): the
            // same requests would break the next worker too. They count as not run.
            states_[i].failure += " (its unfinished requests are not reassigned: the failure "
                                  "came with the data)";
            phase_.no_reassign[i] = true;
          }
        }
      }
      if (states_[i].failed) {
        if (!phase_.no_reassign[i]) Reassign(i, rs);
        work_cv_.notify_all();
        break;
      }
      work_cv_.notify_all();
    }
    work_cv_.notify_all();
  }

  void OnMessage(size_t i, RunningShard* rs, v1::WorkerMessage* message)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    WorkerState& state = states_[i];
    EngineRun* run = rs->run;
    switch (message->kind_case()) {
      case v1::WorkerMessage::kRecords: {
        const int64_t elapsed_ns = clock_.UnixNowNs() - rs->start_unix_ns;
        auto* records = message->mutable_records()->mutable_records();
        // Records that fail their checks are dropped from the message (so live metrics never
        // see them either) and counted against the worker.
        int kept = 0;
        for (int r = 0; r < records->size(); ++r) {
          v1::RequestRecord& record = (*records)[r];
          if (std::string problem = RecordProblem(record, rs->shard, rs->ids, elapsed_ns);
              !problem.empty()) {
            if (state.invalid_records++ == 0) state.invalid_example = std::move(problem);
            continue;
          }
          if (kept != r) records->SwapElements(kept, r);
          ++kept;
        }
        records->DeleteSubrange(kept, records->size() - kept);
        if (options_.live_metrics != nullptr) {
          options_.live_metrics->OnWorkerMessage(state.worker_id, state.loop_threads, *message);
        }
        for (v1::RequestRecord& record : *records) {
          if (record.error_class() == v1::ERROR_CLASS_CANCELLED) {
            // A failing worker's cancelled requests are not final: they are reassigned. Those
            // cancelled because the run was stopped (signal, configuration error) never
            // finished: they are not the engine's failures.
            if (phase_.failing[i] || stop_all_) continue;
          }
          if (run != nullptr && !record.warmup() && !run->seen_ids->Insert(record.request_id())) {
            ++state.duplicate_records;
            continue;
          }
          if (!record.warmup() && rs->ids.size() > 0) {
            // Multi-turn: a session with any record started, so it is never run again
            // elsewhere (docs/scenario.md "Multi-turn conversations": worker failures).
            rs->finished[*rs->ids.IndexOf(record.has_session_id() ? record.session_id()
                                                                   : record.request_id())] =
                true;
          }
          ShiftTimes(rs->axis_offset_ns, &record);
          if (run != nullptr) workload_->OnRecord(run->index, &record);
          aggregator_.Add(record);
          if (run != nullptr) {
            if (!record.warmup()) run->watch->Add(record);
            if (run->telemetry) run->telemetry->AddRecord(record);
          }
          if (options_.live_metrics != nullptr) options_.live_metrics->Add(record);
          if (csv_) csv_->Append(record);
          if (report_series_) report_series_->Add(record);
          if (options_.collect_samples) AddSample(record, &samples_);
        }
        break;
      }
      case v1::WorkerMessage::kProgress:
        state.in_flight = message->progress().in_flight();
        break;
      case v1::WorkerMessage::kResources:
        if (!state.resources) state.resources.emplace();
        AppendResources(message->resources(), rs->resources_offset_s, &*state.resources);
        break;
      case v1::WorkerMessage::kSummary:
        state.cpu_seconds += message->summary().cpu_seconds();
        state.cpu_wall_s += message->summary().cpu_wall_ns() / 1e9;
        state.records_dropped += message->summary().records_dropped();
        state.backoffs += message->summary().backoffs();
        state.in_flight = 0;
        for (v1::LoopWindow w : message->summary().loop_windows()) {
          w.set_t_s(w.t_s() + rs->resources_offset_s);  // on the run's clock
          state.loop_windows.push_back(std::move(w));
        }
        break;
      default:
        break;
    }
    if (message->kind_case() != v1::WorkerMessage::kRecords && options_.live_metrics != nullptr) {
      options_.live_metrics->OnWorkerMessage(state.worker_id, state.loop_threads, *message);
    }
  }

  // Worker `i` failed while running `rs` (or before its queue was empty): the ids of a
  // count-bounded shard that have no final record, and every shard still queued for it, go
  // to the healthy workers of its engine's group (else any healthy worker). Engines that are
  // down or stopped get nothing reassigned: what they did not run counts as not run.
  void Reassign(size_t i, const RunningShard& rs) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<std::pair<const v1::Shard*, std::vector<v1::IdRange>>> orphans;
    google::protobuf::RepeatedPtrField<v1::IdRange> open;
    for (uint64_t j = 0; j < rs.ids.size();) {
      if (rs.finished[j]) {
        ++j;
        continue;
      }
      uint64_t end = j;
      while (end < rs.ids.size() && !rs.finished[end]) ++end;
      rs.ids.AppendIdRanges(j, end, &open);
      j = end;
    }
    orphans.emplace_back(&rs.shard, std::vector<v1::IdRange>(open.begin(), open.end()));
    std::deque<v1::Shard> queued = std::move(phase_.queues[i]);
    phase_.queues[i].clear();
    for (const v1::Shard& q : queued) {
      const wire::ShardIds ids(q);
      google::protobuf::RepeatedPtrField<v1::IdRange> all;
      ids.AppendIdRanges(0, ids.size(), &all);
      orphans.emplace_back(&q, std::vector<v1::IdRange>(all.begin(), all.end()));
    }
    for (const auto& [lost, unfinished] : orphans) {
      uint64_t count = 0;
      for (const v1::IdRange& r : unfinished) count += r.count();
      if (count == 0) continue;  // duration-bounded: nothing to rerun
      EngineRun* run = EngineOf(lost->engine().name());
      if (run == nullptr || run->stop_requested || stop_all_) continue;
      std::vector<size_t> alive;
      for (size_t j : run->workers) {
        if (!states_[j].failed) alive.push_back(j);
      }
      if (alive.empty()) {
        for (size_t j = 0; j < states_.size(); ++j) {
          if (!states_[j].failed && phase_.engine_of_worker[j] >= 0) alive.push_back(j);
        }
      }
      if (alive.empty()) {
        states_[i].requests_lost += count;
        continue;
      }
      absl::StatusOr<std::vector<v1::Shard>> again =
          ReassignRequests(unfinished, *lost, static_cast<uint32_t>(alive.size()),
                           phase_.next_shard_index, clock_.UnixNowNs());
      if (!again.ok()) {
        states_[i].requests_lost += count;
        continue;
      }
      phase_.next_shard_index += static_cast<uint32_t>(again->size());
      for (size_t k = 0; k < again->size(); ++k) {
        phase_.queues[alive[k % alive.size()]].push_back((*again)[k]);
      }
      states_[i].requests_reassigned += count;
    }
  }

  // 4. Aggregate and write.
  absl::StatusOr<RunOutcome> Finish() {
    std::vector<v1::HostMonitor> monitor_results;
    if (monitors_) monitor_results = monitors_->Stop();
    FinishOptions finish;
    for (const v1::Engine& engine : scenario_.engines()) {
      finish.engine_names.push_back(engine.name());
      if (scenario_.load().has_requests()) {
        finish.planned_requests[engine.name()] = scenario_.load().requests();
      }
    }
    for (const WorkerState& s : states_) {
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
      report.failure_backoffs = s.backoffs;
      report.invalid_records = s.invalid_records;
      report.invalid_example = s.invalid_example;
      report.resources = s.resources;
      report.loop_windows = s.loop_windows;
      // Utilization over less than a second of work says more about thread start-up than
      // about saturation: report it only from 1 s of measured wall time on.
      if (s.cpu_wall_s >= 1.0) {
        report.cpu_utilization = s.cpu_seconds / s.cpu_wall_s / s.loop_threads;
      }
      finish.workers.push_back(std::move(report));
    }
    finish.thresholds = scenario_.thresholds();
    finish.conditions.engines_down = engines_down_;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_signal_ == 0) stop_signal_ = StopSignal();  // arrived between phases
      finish.conditions.stop_signal = stop_signal_;
    }
    finish.conditions.degraded = not_run_reasons_;
    std::string config_error;
    {
      std::lock_guard<std::mutex> lock(mu_);
      config_error = config_error_;
    }
    RunOutcome outcome;
    outcome.result = aggregator_.Finish(finish);
    if (!config_error.empty() && outcome.result.overall().requests() == 0) {
      // Refused before anything was measured: an error like those found before the run.
      if (csv_) (void)csv_->Close();
      return absl::FailedPreconditionError(config_error);
    }
    outcome.result.set_run_id(run_id_);
    outcome.result.set_llmbench_version(kVersion);
    *outcome.result.mutable_scenario() = scenario_;
    for (v1::EngineResult& er : *outcome.result.mutable_engines()) {
      if (er.has_multi_turn()) {
        er.mutable_multi_turn()->set_load_unit(LoadUnitName(scenario_.load().load_unit()));
      }
    }
    outcome.result.set_started_unix_ns(started_unix_ns_);
    outcome.result.set_time_axis_unix_ns(axis_origin_unix_ns_);
    outcome.result.set_finished_unix_ns(clock_.UnixNowNs());
    // Again, now that the run's start is known (a failed worker's "N s into the run").
    *outcome.result.mutable_verdict() =
        ComputeVerdict(outcome.result, scenario_.thresholds(), finish.conditions);
    if (!config_error.empty()) {
      // Refused after some engine had run: the results so far are written, and the command
      // fails as for any configuration error.
      v1::Verdict* verdict = outcome.result.mutable_verdict();
      verdict->add_reasons(absl::StrCat("configuration error: ", config_error));
      verdict->set_exit_status(1);
      verdict->set_exit_reason(absl::StrCat("configuration error: ", config_error));
    }
    AddCosts(&outcome.result);  // engines with a price_per_hour (coordinator/cost.h)
    for (v1::HostMonitor& m : monitor_results) *outcome.result.add_monitors() = std::move(m);
    AttachTelemetry(telemetry_by_engine_, &outcome.result);  // coordinator/engine_telemetry.h
    LLMBENCH_RETURN_IF_ERROR(workload_->Finish(out_dir_, &outcome.result));  // lengths, GPU
    // The exporters get the run in memory; nothing written is read back.
    if (csv_) LLMBENCH_RETURN_IF_ERROR(csv_->Close());
    const std::string scenario_yaml = ScenarioToYaml(scenario_);
    LLMBENCH_RETURN_IF_ERROR(WriteRunResults(out_dir_, outcome.result, scenario_yaml));
    LLMBENCH_RETURN_IF_ERROR(WriteResourcesCsv(out_dir_, outcome.result));
    LLMBENCH_RETURN_IF_ERROR(
        WriteHtmlReport(out_dir_, outcome.result, scenario_yaml, report_series_.get()));
    outcome.out_dir = out_dir_;
    outcome.samples = std::move(samples_);
    outcome.exit_status = outcome.result.verdict().exit_status();
    outcome.exit_reason = outcome.result.verdict().exit_reason();
    return outcome;
  }

  // State of the phase that runs now; guarded by mu_.
  struct PhaseState {
    std::vector<std::deque<v1::Shard>> queues;         // per worker
    std::vector<std::optional<v1::Shard>> running;     // per worker: the shard it runs
    std::vector<int64_t> last_heard;                   // per worker, steady ns
    std::vector<bool> failing;                         // failed during this phase
    std::vector<bool> stopping;                        // asked to stop its shard
    std::vector<bool> no_reassign;                     // failed on its data: keep its work
    std::vector<int> engine_of_worker;                 // index into *engines, -1 = none
    std::vector<std::unique_ptr<EngineRun>>* engines = nullptr;
    int busy = 0;
    uint32_t next_shard_index = 0;
    int64_t start_mono_ns = 0;
  };

  const v1::Scenario& scenario_;
  const RunOptions& options_;
  const Clock& clock_;
  const int64_t started_unix_ns_;
  const std::string run_id_;

  std::unique_ptr<WorkloadRun> workload_;  // prompts per engine, lengths, raw export, GPU
  int64_t engine_down_after_ns_ = 0;
  WorkerClientSecurity monitor_security_;
  std::unique_ptr<LocalWorkers> local_;
  std::vector<std::unique_ptr<WorkerConnection>> clients_;  // one per worker, fixed after connect
  std::unique_ptr<HostMonitors> monitors_;
  std::string out_dir_;
  // The run's time axis: ns since this instant (the first phase's start, coordinator clock).
  int64_t axis_origin_unix_ns_ = 0;
  // Results of finished phases (calling thread only).
  std::map<std::string, v1::EngineTelemetry> telemetry_by_engine_;
  std::vector<std::string> engines_down_;
  std::vector<std::string> not_run_reasons_;

  std::mutex mu_;  // guards what the reader threads touch
  std::condition_variable work_cv_;
  std::vector<WorkerState> states_ ABSL_GUARDED_BY(mu_);
  PhaseState phase_ ABSL_GUARDED_BY(mu_);
  Aggregator aggregator_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<RequestsCsvWriter> csv_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<ReportSeries> report_series_ ABSL_GUARDED_BY(mu_);
  SamplesByEngine samples_ ABSL_GUARDED_BY(mu_);
  int stop_signal_ ABSL_GUARDED_BY(mu_) = 0;  // the signal that stopped the run, 0 = none
  // Every shard is to stop (a signal, a configuration error): no more shards start, none is
  // reassigned, and requests cancelled by the stop are not counted.
  bool stop_all_ ABSL_GUARDED_BY(mu_) = false;
  std::string config_error_ ABSL_GUARDED_BY(mu_);  // a worker refused a shard: why
};

absl::StatusOr<std::unique_ptr<LocalWorkers>> StartLocalWorkers(const v1::Scenario& scenario,
                                                                 const RunOptions& options) {
  int count = options.local_workers > 0
                  ? options.local_workers
                  : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  // Side by side, every engine needs a worker of its own.
  if (scenario.load().side_by_side()) count = std::max(count, scenario.engines_size());
  return LocalWorkers::Start(count, std::max(1, options.loop_threads), options.log_level,
                             ApiKeyEnvs(scenario));
}

absl::StatusOr<RunOutcome> RunScenario(const v1::Scenario& scenario, const RunOptions& options) {
  if (scenario.load().has_trace() && !scenario.load().has_requests()) {
    // Trace replay: the requests the trace plans are the run's planned requests.
    LLMBENCH_ASSIGN_OR_RETURN(const v1::Scenario resolved,
                              ResolveTraceRequests(scenario, options.base_dir));
    // load.requests now comes from the trace file (read here, not where the scenario entered),
    // and a looped trace over a long duration can plan more than load.requests allows: this
    // scenario is new, so it is checked, once. Its files were checked when the scenario
    // entered (and the trace was just read), so the check does not open them again.
    ValidateOptions checks;
    checks.base_dir = options.base_dir;
    checks.check_files = false;
    LLMBENCH_RETURN_IF_ERROR(ValidateScenario(resolved, checks));
    return RunScenario(resolved, options);
  }
  ScenarioRun run(scenario, options);
  return run.Run();
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
