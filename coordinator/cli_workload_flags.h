// Flags of issue 17 for the commands that run load, kept out of cli.cc's own flag structs:
//
// RunLabelFlags (run, quick, load, compare):
//   --tag K=V (repeatable)    Scenario.tags: recorded in summary.json, shown in the report and
//                             by `diff`; keys [A-Za-z0-9_.-]{1,64}, values <= 256 bytes
//   --label TEXT              Scenario.label (<= 256 bytes)
//   --export-text             outputs.text: requests.jsonl with prompts and replies
//   --export-text-max-bytes N outputs.text_max_bytes (1 .. 1048576, default 65536)
//   --gpu-metrics URL         telemetry.gpu_metrics (repeatable): a DCGM exporter to scrape
//   --tokenizer PATH          prompts.tokenizer: a local tokenizer.json (checked readable now)
//   --prompt-lengths METHOD   prompts.length_method: auto | engine | tokenizer | words
// WorkloadExtraFlags (quick, load, compare without a scenario file):
//   --dataset PATH            prompts.dataset.path (ShareGPT JSON or JSONL); excludes
//                             --prompt-tokens
//   --seed N                  the master seed (prompts, output lengths, Poisson arrivals)
//   --header K:V (repeatable) a request header for every engine; CR/LF refused
//   --output-tokens-dist D    per-request output lengths: fixed:N, uniform:MIN:MAX,
//                             normal:MEAN:STDDEV[:MIN:MAX], lognormal:MEAN:SIGMA[:MIN:MAX], or
//                             dataset (the dataset's reply lengths)
//   --trace FILE ...          trace replay (coordinator/cli_trace_flags.h)
//   --turns, --think-time, --load-unit, --sessions: multi-turn sessions (coordinator/multi_turn.h)
// A bad value is a usage error (exit 2) whose message names the flag, like cli.cc's flags:
//   "--tag: expected K=V with K of A-Z a-z 0-9 _ . -, got \"a b\"".
#ifndef LLMBENCH_COORDINATOR_CLI_WORKLOAD_FLAGS_H_
#define LLMBENCH_COORDINATOR_CLI_WORKLOAD_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "coordinator/cli_trace_flags.h"
#include "coordinator/multi_turn.h"
#include "llmbench/v1/scenario.pb.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace llmbench::coordinator {

struct RunLabelFlags {
  std::vector<std::string> tags;
  std::string label;
  bool export_text = false;
  std::string export_text_max_bytes;
  std::vector<std::string> gpu_metrics;
  std::string tokenizer;
  std::string prompt_lengths;

  void Add(CLI::App* app);
  absl::Status Apply(llmbench::v1::Scenario* scenario) const;
};

struct WorkloadExtraFlags {
  std::string dataset;
  std::string seed;
  std::vector<std::string> headers;
  std::string output_tokens_dist;
  TraceFlags trace;  // --trace and its options (coordinator/cli_trace_flags.h)
  MultiTurnFlags multi_turn;

  // `prompt_tokens` is the command's --prompt-tokens option (excluded by --dataset).
  void Add(CLI::App* app, CLI::Option* prompt_tokens);
  absl::Status Apply(llmbench::v1::Scenario* scenario) const;
};

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_CLI_WORKLOAD_FLAGS_H_
