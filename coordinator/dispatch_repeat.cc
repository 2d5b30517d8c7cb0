#include "coordinator/dispatch_repeat.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/clock.h"
#include "common/status.h"
#include "coordinator/diff.h"
#include "coordinator/local_workers.h"
#include "coordinator/repeat.h"
#include "coordinator/run_id.h"

namespace llmbench::coordinator {

namespace v1 = ::llmbench::v1;

absl::StatusOr<RepeatOutcome> RunRepeated(const v1::Scenario& scenario, const RunOptions& options,
                                          int repeats) {
  if (repeats < 1) return absl::InvalidArgumentError("--repeat must be at least 1");
  if (scenario.load().has_sweep()) {
    return absl::InvalidArgumentError(
        "--repeat does not apply to a sweep (each sweep probe is already a run)");
  }
  RepeatOutcome outcome;
  outcome.out_dir = options.out_dir;
  if (outcome.out_dir.empty()) outcome.out_dir = scenario.outputs().dir();
  if (outcome.out_dir.empty()) {
    outcome.out_dir = (std::filesystem::path("results") /
                       MakeRunId("repeat", SteadyClock::Get().UnixNowNs()))
                          .string();
  }
  // One set of local workers for every run: started once, not once per run.
  std::unique_ptr<LocalWorkers> local;
  RunOptions shared = options;
  if (options.workers.empty() && options.local_workers_pool == nullptr) {
    LLMBENCH_ASSIGN_OR_RETURN(local, StartLocalWorkers(scenario, options));
    shared.local_workers_pool = local.get();
  }
  std::vector<v1::RunResult> results;
  std::vector<std::optional<std::map<std::string, RequestSamples>>> samples;
  for (int i = 1; i <= repeats; ++i) {
    RunOptions o = shared;
    o.out_dir = (std::filesystem::path(outcome.out_dir) / absl::StrCat("run-", i)).string();
    o.collect_samples = true;
    v1::Scenario s = scenario;
    s.mutable_outputs()->clear_dir();
    if (!options.quiet) std::fprintf(stderr, "repeat: run %d of %d\n", i, repeats);
    absl::StatusOr<RunOutcome> run = RunScenario(s, o);
    if (!run.ok()) {
      return absl::Status(run.status().code(),
                          absl::StrCat("run ", i, " of ", repeats, ": ", run.status().message()));
    }
    if (!options.quiet) PrintOutcome(*run);
    if (outcome.exit_status == 0 && run->exit_status != 0) {
      outcome.exit_status = run->exit_status;
      outcome.exit_reason = absl::StrCat("run ", i, ": ", run->exit_reason);
    }
    const bool stopped = run->result.verdict().state() == v1::Verdict::STATE_INTERRUPTED ||
                         run->exit_status >= 128;
    results.push_back(run->result);
    samples.push_back(std::move(run->samples));  // kept in memory by the run
    outcome.runs.push_back(*std::move(run));
    if (stopped) break;  // a signal stopped the run: no more repeats
  }
  outcome.summary = SummarizeRepeats(results, samples, scenario.has_seed() ? scenario.seed() : 1);
  for (const RunOutcome& r : outcome.runs) outcome.summary.add_run_dirs(r.out_dir);
  LLMBENCH_ASSIGN_OR_RETURN(std::string json, RepeatJson(outcome.summary));
  const std::string path = (std::filesystem::path(outcome.out_dir) / kRepeatFileName).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << json;
  out.close();
  if (!out) {
    return absl::UnavailableError(absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  return outcome;
}

void PrintRepeatOutcome(const RepeatOutcome& outcome) {
  std::fputs(RepeatTable(outcome.summary).c_str(), stdout);
  std::printf("repeat summary: %s/%s\n", outcome.out_dir.c_str(), kRepeatFileName);
  if (outcome.exit_status != 0) {
    std::printf("exit status %d: %s\n", outcome.exit_status, outcome.exit_reason.c_str());
  }
  std::fflush(stdout);
}

}  // namespace llmbench::coordinator
