// The workload pieces of one run that issue 17 added beside the dispatcher (dispatch.cc calls
// these at its steps, so that the dispatcher itself changes in a few lines):
// - Plan: the prompt plan (coordinator/prompts.h); CountPrompts: each engine's copy counted
//   with its token counter (exact synthetic lengths, dataset reply lengths;
//   coordinator/prompt_lengths.h);
// - per shard: the reply-text cap the worker keeps when outputs.text asks for it;
// - per record: requested vs engine-reported lengths (LengthStats) and the raw export
//   (requests.jsonl, coordinator/text_export.h; the reply text is dropped from the record
//   once written, so nothing downstream holds it);
// - for the run: the DCGM exporters' GPU metrics (coordinator/gpu_metrics.h);
// - Finish: EngineResult.lengths, RunResult.gpu_metrics, gpu_metrics.csv, RunResult.trace.
// Trace replay (load.trace): Plan reads the trace instead (coordinator/trace_plan.h).
//
// Thread-compatible: the dispatcher calls OnRecord under its lock, the rest from its own thread.
#ifndef LLMBENCH_COORDINATOR_WORKLOAD_RUN_H_
#define LLMBENCH_COORDINATOR_WORKLOAD_RUN_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "coordinator/gpu_metrics.h"
#include "coordinator/prompt_lengths.h"
#include "coordinator/text_export.h"
#include "llmbench/v1/result.pb.h"
#include "llmbench/v1/scenario.pb.h"
#include "llmbench/v1/worker.pb.h"

namespace llmbench::coordinator {

class WorkloadRun {
 public:
  // Plans the prompts (reads the dataset): errors come before any engine or worker is asked.
  static absl::StatusOr<std::unique_ptr<WorkloadRun>> Plan(const llmbench::v1::Scenario& scenario,
                                                           const std::string& base_dir);
  // Counts the prompts for every engine (the engine method asks the engines, so they must be
  // up). Unless `quiet`, prints one line per engine to stderr, e.g. "prompt lengths for vllm:
  // engine http://h:8000/tokenize, 1000 prompts, 1000 exact (1003 calls, 0.4 s)", and a
  // "  note: ..." line per note (a fallback to words, prompts off target); summary.json has
  // them either way. REQUIRES: called once, before PromptsFor.
  absl::Status CountPrompts(bool quiet);

  // The prompts every shard of engine `engine_index` carries.
  const std::vector<llmbench::v1::Prompt>& PromptsFor(int engine_index) const;
  // Sets what the scenario asks of the workers beyond the scenario's own generation settings.
  void AdjustShards(std::vector<llmbench::v1::Shard>* shards) const;

  // Opens requests.jsonl (outputs.text) in `out_dir` and starts the GPU metrics scrapes.
  absl::Status Start(const std::string& out_dir, const Clock& clock);
  // One record of engine `engine_index`, as counted (after the dispatcher's checks).
  void OnRecord(int engine_index, llmbench::v1::RequestRecord* record);
  // Attaches lengths and GPU metrics to `result`, closes requests.jsonl and writes
  // gpu_metrics.csv.
  absl::Status Finish(const std::string& out_dir, llmbench::v1::RunResult* result);

 private:
  explicit WorkloadRun(const llmbench::v1::Scenario& scenario) : scenario_(scenario) {}

  const llmbench::v1::Scenario& scenario_;
  std::string base_dir_;
  PromptPlan plan_;
  std::vector<std::vector<llmbench::v1::Prompt>> prompts_;  // by engine index
  std::vector<llmbench::v1::LengthReport> reports_;         // by engine index
  std::vector<LengthStats> stats_;                          // by engine index
  uint32_t reply_text_bytes_ = 0;
  std::unique_ptr<TextExportWriter> text_;
  std::unique_ptr<GpuMetricsCollector> gpu_;
  std::optional<llmbench::v1::TraceInfo> trace_;  // load.trace: RunResult.trace
};

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_WORKLOAD_RUN_H_
