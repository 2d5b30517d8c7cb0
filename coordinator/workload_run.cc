#include "coordinator/workload_run.h"

#include <cstdio>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status.h"
#include "coordinator/engine_telemetry.h"
#include "coordinator/token_counter.h"
#include "coordinator/trace_plan.h"

namespace llmbench::coordinator {

namespace v1 = ::llmbench::v1;

absl::StatusOr<std::unique_ptr<WorkloadRun>> WorkloadRun::Plan(const v1::Scenario& scenario,
                                                               const std::string& base_dir) {
  std::unique_ptr<WorkloadRun> run(new WorkloadRun(scenario));
  run->base_dir_ = base_dir;
  if (scenario.load().has_trace()) {
    // Trace replay: the trace gives the prompts and their times (coordinator/trace_plan.h).
    LLMBENCH_ASSIGN_OR_RETURN(TracePlan trace, PlanTrace(scenario, base_dir));
    run->plan_ = std::move(trace.prompts);
    run->trace_ = std::move(trace.info);
  } else {
    LLMBENCH_ASSIGN_OR_RETURN(run->plan_, PlanPrompts(scenario.prompts(), scenario.generation(),
                                                      scenario.seed(), base_dir));
  }
  run->reply_text_bytes_ = ReplyTextBytes(scenario);
  return run;
}

absl::Status WorkloadRun::CountPrompts(bool quiet) {
  for (const v1::Engine& engine : scenario_.engines()) {
    std::vector<std::string> notes;
    LLMBENCH_ASSIGN_OR_RETURN(std::unique_ptr<TokenCounter> counter,
                              ChooseTokenCounter(scenario_.prompts(), engine, base_dir_, &notes));
    absl::StatusOr<ResolvedPrompts> resolved =
        ResolvePromptLengths(plan_, *counter, scenario_.seed());
    if (!resolved.ok()) {
      return absl::Status(resolved.status().code(),
                          absl::StrCat("engine ", engine.name(),
                                       ": counting prompt tokens: ", resolved.status().message()));
    }
    for (std::string& note : notes) resolved->report.add_notes(std::move(note));
    const v1::LengthReport& r = resolved->report;
    if (!quiet) {
      std::string line =
          absl::StrFormat("prompt lengths for %s: %s%s%s, %d prompts", engine.name(), r.method(),
                          r.source().empty() ? "" : " ", r.source(), r.prompts());
      if (plan_.synthetic) {
        absl::StrAppend(&line, ", ", r.prompts() - r.prompts_off_target(), " exact");
      }
      if (r.tokenize_calls() > 0) {
        absl::StrAppend(
            &line, absl::StrFormat(" (%d calls, %.1f s)", r.tokenize_calls(), r.count_seconds()));
      }
      std::fprintf(stderr, "%s\n", line.c_str());
      for (const std::string& note : r.notes()) std::fprintf(stderr, "  note: %s\n", note.c_str());
    }
    prompts_.push_back(std::move(resolved->prompts));
    reports_.push_back(resolved->report);
  }
  stats_.resize(prompts_.size());
  return absl::OkStatus();
}

const std::vector<v1::Prompt>& WorkloadRun::PromptsFor(int engine_index) const {
  return prompts_.at(static_cast<size_t>(engine_index));
}

void WorkloadRun::AdjustShards(std::vector<v1::Shard>* shards) const {
  if (reply_text_bytes_ == 0) return;
  for (v1::Shard& shard : *shards) {
    shard.mutable_generation()->set_reply_text_bytes(reply_text_bytes_);
  }
}

absl::Status WorkloadRun::Start(const std::string& out_dir, const Clock& clock) {
  if (reply_text_bytes_ > 0) {
    LLMBENCH_ASSIGN_OR_RETURN(
        text_,
        TextExportWriter::Open((std::filesystem::path(out_dir) / kRequestsJsonlFileName).string()));
  }
  const auto& urls = scenario_.telemetry().gpu_metrics();
  if (!urls.empty()) {
    gpu_ = GpuMetricsCollector::Start(std::vector<std::string>(urls.begin(), urls.end()),
                                      TelemetryIntervalS(scenario_), CurlGpuMetricsFetcher(5000),
                                      clock);
  }
  return absl::OkStatus();
}

void WorkloadRun::OnRecord(int engine_index, v1::RequestRecord* record) {
  if (engine_index < 0 || static_cast<size_t>(engine_index) >= stats_.size()) return;
  stats_[engine_index].Add(*record);
  if (text_) {
    const std::vector<v1::Prompt>& prompts = prompts_[engine_index];
    const v1::Prompt* prompt =
        record->prompt_index() < prompts.size() ? &prompts[record->prompt_index()] : nullptr;
    text_->Append(*record, prompt);
  }
  record->clear_reply_text();
}

absl::Status WorkloadRun::Finish(const std::string& out_dir, v1::RunResult* result) {
  for (v1::EngineResult& engine : *result->mutable_engines()) {
    for (int e = 0; e < scenario_.engines_size(); ++e) {
      if (scenario_.engines(e).name() != engine.engine()) continue;
      v1::LengthReport report = reports_[e];
      stats_[e].Fill(&report);
      *engine.mutable_lengths() = std::move(report);
    }
  }
  if (trace_.has_value()) *result->mutable_trace() = *trace_;
  if (gpu_) {
    for (v1::GpuMetricsTelemetry& t : gpu_->Stop()) *result->add_gpu_metrics() = std::move(t);
    gpu_.reset();
  }
  absl::Status status = absl::OkStatus();
  if (text_) status = text_->Close();
  if (status.ok()) status = WriteGpuMetricsCsv(out_dir, *result);
  return status;
}

}  // namespace llmbench::coordinator
