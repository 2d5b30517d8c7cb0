#include "coordinator/dispatch_sweep.h"

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/clock.h"
#include "common/status.h"
#include "common/version.h"
#include "coordinator/aggregate.h"
#include "coordinator/cost.h"
#include "coordinator/exporters.h"
#include "coordinator/html_report.h"
#include "coordinator/local_workers.h"
#include "coordinator/request_samples.h"
#include "coordinator/run_id.h"
#include "coordinator/scenario_loader.h"

namespace llmbench::coordinator {
namespace {

namespace v1 = ::llmbench::v1;

// A folder-safe form of an engine name.
std::string SafeName(const std::string& name) {
  std::string out;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    out.push_back(ok ? c : '_');
  }
  if (out.empty() || out == "." || out == "..") out = absl::StrCat("engine", out);
  return out;
}

bool HasSlo(const v1::Slo& slo) {
  return slo.has_ttft_ms() || slo.has_itl_ms() || slo.has_tpot_ms() || slo.has_e2e_ms();
}

}  // namespace

absl::StatusOr<RunOutcome> RunSweep(const v1::Scenario& scenario, const RunOptions& options,
                                    const SweepCriteria& criteria) {
  if (!scenario.load().has_sweep()) {
    return absl::InvalidArgumentError("RunSweep: the scenario's load is not a sweep");
  }
  const Clock& clock = SteadyClock::Get();
  const int64_t started_unix_ns = clock.UnixNowNs();
  const std::string run_id = MakeRunId("sweep", started_unix_ns);
  std::string out_dir = options.out_dir;
  if (out_dir.empty()) out_dir = scenario.outputs().dir();
  if (out_dir.empty()) out_dir = (std::filesystem::path("results") / run_id).string();
  const v1::SweepLoad& sweep = scenario.load().sweep();

  // One set of local workers for every run: started once, not once per run.
  std::unique_ptr<LocalWorkers> local;
  RunOptions shared = options;
  if (options.workers.empty() && options.local_workers_pool == nullptr) {
    LLMBENCH_ASSIGN_OR_RETURN(local, StartLocalWorkers(scenario, options));
    shared.local_workers_pool = local.get();
  }
  RunOutcome outcome;
  v1::RunResult& result = outcome.result;
  int stop_signal = 0;
  for (const v1::Engine& engine : scenario.engines()) {
    v1::RunResult knee_result;  // the knee probe's result
    bool have_knee = false;
    std::map<std::string, v1::RunResult> probe_results;  // by probe folder, kept in memory
    const std::string engine_dir = (std::filesystem::path(out_dir) / SafeName(engine.name())).string();
    auto probe = [&](double rps, std::string_view phase,
                     int index) -> absl::StatusOr<v1::SweepPoint> {
      v1::Scenario s = scenario;
      s.clear_engines();
      *s.add_engines() = engine;
      v1::Load* load = s.mutable_load();
      load->clear_requests();
      load->set_duration_seconds(sweep.step_seconds());
      v1::RateLoad* rate = load->mutable_rate();  // replaces the sweep in the oneof
      rate->set_rps(rps);
      rate->set_arrival(v1::ARRIVAL_CONSTANT);
      s.mutable_outputs()->clear_dir();
      RunOptions o = shared;
      o.quiet = true;
      // The probe is judged from its per-request send and end times (MeasureSendingWindow),
      // kept in memory by the run.
      o.collect_samples = true;
      o.out_dir = (std::filesystem::path(engine_dir) /
                   absl::StrFormat("probe-%02d-%.3frps", index, rps))
                      .string();
      if (!options.quiet) {
        std::fprintf(stderr, "sweep %s: %s probe %d at %.3f req/s for %.1f s ...\n",
                     engine.name().c_str(), std::string(phase).c_str(), index, rps,
                     sweep.step_seconds());
      }
      // A probe is a scenario built here, not one that entered through the loader or the
      // flags: its rate comes from the search (RunSweepSearch). It is checked, once, so that a
      // search bug is an error rather than a run at an out-of-range rate; its files are the
      // sweep scenario's, checked when that entered, so the check does not open them again.
      ValidateOptions checks;
      checks.base_dir = options.base_dir;
      checks.check_files = false;
      LLMBENCH_RETURN_IF_ERROR(ValidateScenario(s, checks));
      absl::StatusOr<RunOutcome> run = RunScenario(s, o);
      if (!run.ok()) return run.status();
      if (run->result.verdict().state() == v1::Verdict::STATE_INTERRUPTED) {
        return absl::CancelledError(run->exit_reason);  // a signal: no more probes
      }
      v1::SweepPoint point = PointFromResult(run->result, engine.name(), rps);
      point.set_out_dir(run->out_dir);
      if (auto it = run->samples.find(engine.name()); it != run->samples.end()) {
        MeasureSendingWindow(it->second.sent_ns, it->second.end_ns, &point);
      }
      probe_results[point.out_dir()] = std::move(run->result);
      if (!options.quiet) {
        std::fprintf(stderr,
                     "  sustained %s req/s (achieved %.2f incl. drain), E2E p50 %.1f ms, %llu "
                     "requests\n",
                     point.has_sustained_rps()
                         ? absl::StrFormat("%.2f", point.sustained_rps()).c_str()
                         : "-",
                     point.achieved_rps(), point.e2e_p50_ms(),
                     static_cast<unsigned long long>(point.requests()));
      }
      return point;
    };
    absl::StatusOr<v1::SweepResult> searched =
        RunSweepSearch(sweep, criteria, HasSlo(scenario.slo()), probe);
    if (!searched.ok() && searched.status().code() == absl::StatusCode::kCancelled &&
        options.stop_signal != nullptr && options.stop_signal->load() != 0) {
      stop_signal = options.stop_signal->load();
      break;  // the probes so far stay in their folders; the sweep result says it stopped
    }
    if (!searched.ok()) return searched.status();
    searched->set_engine(engine.name());
    if (searched->has_knee_rps()) {
      for (const v1::SweepPoint& p : searched->points()) {
        if (p.good() && p.offered_rps() == searched->knee_rps()) {
          if (auto it = probe_results.find(p.out_dir()); it != probe_results.end()) {
            knee_result = std::move(it->second);
            have_knee = true;
          }
          break;
        }
      }
    }
    if (have_knee) {
      for (const v1::EngineResult& e : knee_result.engines()) {
        if (e.engine() == engine.name()) *result.add_engines() = e;
      }
    } else {
      v1::EngineResult* e = result.add_engines();
      e->set_engine(engine.name());
    }
    *result.add_sweeps() = *std::move(searched);
  }
  result.set_run_id(run_id);
  result.set_llmbench_version(kVersion);
  *result.mutable_scenario() = scenario;
  result.set_started_unix_ns(started_unix_ns);
  result.set_finished_unix_ns(clock.UnixNowNs());
  v1::Verdict* verdict = result.mutable_verdict();
  verdict->set_state(stop_signal != 0 ? v1::Verdict::STATE_INTERRUPTED
                                      : v1::Verdict::STATE_VALID);
  if (stop_signal != 0) {
    verdict->add_reasons(absl::StrCat("stopped by ", SignalName(stop_signal),
                                      " during the sweep: partial results"));
  }
  for (const v1::SweepResult& s : result.sweeps()) {
    if (!s.has_knee_rps()) verdict->add_reasons(absl::StrCat("sweep of ", s.engine(), ": ", s.note()));
  }
  std::string exit_reason;
  verdict->set_exit_status(ExitStatusForVerdict(*verdict, stop_signal, &exit_reason));
  verdict->set_exit_reason(exit_reason);
  AddCosts(&result);
  const std::string scenario_yaml = ScenarioToYaml(scenario);
  LLMBENCH_RETURN_IF_ERROR(WriteRunResults(out_dir, result, scenario_yaml));
  LLMBENCH_RETURN_IF_ERROR(WriteHtmlReport(out_dir, result, scenario_yaml, nullptr));
  outcome.out_dir = out_dir;
  outcome.exit_status = verdict->exit_status();
  outcome.exit_reason = verdict->exit_reason();
  return outcome;
}

}  // namespace llmbench::coordinator
