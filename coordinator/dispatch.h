// Runs a scenario: checks the engines, starts or connects workers, describes them (version and
// clock offset), runs the engines in phases (one engine after another, or all side by side on
// their own shares of the workers), gives every shard of a phase one start instant, streams
// records back into the Aggregator and the CSV as they arrive, shows live progress, and writes
// the results.
//
// Time axis: a record's times are ns relative to its shard's start instant on the worker; the
// dispatcher moves them onto the run's axis (ns since the first phase's start instant) by the
// shard's own start, so engines run one after another, side by side, and reassigned work
// share one axis and every window and rate is over real time.
//
// Stopping early: an engine whose every request failed to connect for
// thresholds.engine_down_seconds is declared down (verdict ENGINE_DOWN) and its shards are
// stopped gracefully (WorkerService.StopShard: the workers send every record they have); the
// same happens to every shard when *options.stop_signal becomes non-zero (the CLI's signal
// handlers set it). Requests that never ran count against the run (Aggregates.requests_not_run).
//
// Thread-safety: RunScenario is called from one thread. For each phase it starts one reader
// thread per healthy worker, which runs that worker's queued shards one after another (one
// RunShard stream at a time); there is no progress thread: the calling thread itself watches
// the phase (progress lines, heartbeats, stops, reassignment) until every reader is joined,
// before the next phase starts.
#ifndef LLMBENCH_COORDINATOR_DISPATCH_H_
#define LLMBENCH_COORDINATOR_DISPATCH_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/request_samples.h"
#include "llmbench/v1/result.pb.h"
#include "llmbench/v1/scenario.pb.h"

namespace llmbench::coordinator {

class LiveMetrics;
class LocalWorkers;
class WorkerConnection;
struct WorkerClientSecurity;

struct RunOptions {
  std::vector<std::string> workers;  // host:port of remote workers; empty = start local ones
  int local_workers = 0;             // 0 = one per core
  int loop_threads = 1;              // per local worker
  std::string out_dir;               // "" = scenario outputs.dir, else results/<run-id>
  std::string base_dir;              // folder for relative dataset paths
  bool quiet = false;
  bool check_engines = true;         // health + model check before the run
  std::string log_level = "warn";    // for local workers
  // A worker that sends nothing (no record, no progress heartbeat — sent every 500 ms) for
  // this long is declared failed: frozen, killed without a reset, or cut off.
  int worker_timeout_ms = 5000;
  // Remote workers' transport security (docs/security.md); "" = not given. TLS when tls_ca is
  // set; tls_cert + tls_key add a client certificate (mutual TLS). The token comes from
  // token_file, else $LLMBENCH_TOKEN. Local workers always get a fresh random token instead.
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string token_file;
  // --repeat K: the CLI runs the scenario K times (dispatch_repeat.h); RunScenario ignores it.
  int repeat = 1;
  // --metrics-listen HOST:PORT: the CLI serves `live_metrics` there (coordinator/live_metrics.h)
  // for the whole command; RunScenario feeds it when set (not owned).
  std::string metrics_listen;
  LiveMetrics* live_metrics = nullptr;
  // --monitor ADDR (repeatable): host monitors sampled for the length of the run, beside the
  // scenario's `monitors` (coordinator/dispatch_monitors.h). Same TLS and token as --workers.
  std::vector<std::string> monitors;
  // Set by the caller's signal handlers to the signal that asks the run to stop (SIGINT,
  // SIGTERM, SIGHUP); the run stops its shards gracefully, keeps what was measured, and its
  // verdict says INTERRUPTED with exit status 128 + signal. nullptr = no signal handling.
  const std::atomic<int>* stop_signal = nullptr;
  // Keep every successful measured request's TTFT/TPOT/ITL/E2E and send/end instants in
  // RunOutcome::samples (capacity-sweep probes and --repeat runs use them; a plain run does
  // not pay for them).
  bool collect_samples = false;
  // Local workers started once for several runs (StartLocalWorkers: a sweep's probes, --repeat
  // runs), used instead of starting new ones when `workers` is empty (not owned).
  const LocalWorkers* local_workers_pool = nullptr;
  // Opens the connection to the worker at `address` (coordinator/worker_client.h); unset = the
  // gRPC WorkerClient. Tests give scripted workers here.
  std::function<std::unique_ptr<WorkerConnection>(const std::string& address,
                                                  const WorkerClientSecurity& security)>
      connect_worker;
};

struct RunOutcome {
  llmbench::v1::RunResult result;
  SamplesByEngine samples;  // only with RunOptions::collect_samples
  std::string out_dir;
  int exit_status = 0;
  std::string exit_reason;
};

// Runs every engine of `scenario` in turn with the same workload. Errors (an unreachable engine
// or worker, an incompatible worker, a trace that plans more requests than load.requests
// allows) come back before any request is sent.
// REQUIRES: `scenario` is resolved: defaulted and validated once, where it entered
// (LoadScenarioFile / ParseScenarioYaml for a file, the CLI for a scenario built from flags:
// cli.cc, Finish). RunScenario does not validate it again; options.base_dir is the folder its
// relative paths were checked against. Code that builds or changes a scenario validates it
// (ValidateScenario) before calling.
absl::StatusOr<RunOutcome> RunScenario(const llmbench::v1::Scenario& scenario,
                                       const RunOptions& options);

// Starts the local worker processes a run of `scenario` uses when no --workers are given:
// options.local_workers (default one per core), at least one per engine side by side.
absl::StatusOr<std::unique_ptr<LocalWorkers>> StartLocalWorkers(
    const llmbench::v1::Scenario& scenario, const RunOptions& options);

// Prints `outcome`'s summary table and exit reason (used by every command that runs).
void PrintOutcome(const RunOutcome& outcome);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_DISPATCH_H_
