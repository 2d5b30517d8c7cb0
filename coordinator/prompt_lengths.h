// Exact prompt lengths and the requested-vs-reported comparison (docs/scenario.md, "Exact
// prompt lengths"; docs/metrics.md, "Prompt and output lengths").
//
// Before a run, ResolvePromptLengths() reworks one engine's copy of the prompt plan with that
// engine's token counter (coordinator/token_counter.h):
// - a synthetic prompt is adjusted until the counter says it is exactly its target (the drawn
//   length plus the shared prefix): it is counted; if it is short, words that are one token
//   each to this counter are appended; if it is long, words are removed from its end (never
//   from the shared prefix, never the last word); recounted; up to kFastCalibrationRounds
//   rounds, and when that has not converged (a tokenizer whose words are several tokens each)
//   the number of words is bisected, the rest filled with one-token words. The
//   starting text is the word-built prompt, so that with the words counter (and any engine
//   that counts one token per word, like llmbench-sim) nothing changes. A prompt that cannot be
//   made exact (the route's own tokens -- chat template, BOS -- exceed the target) keeps its
//   closest text and is counted in prompts_off_target, with a note.
// - a dataset prompt is counted as it is (approx_tokens = its count);
// - a dataset reply (output_tokens_from_dataset) is counted without special tokens and becomes
//   the prompt's max_tokens.
// Prompt.approx_tokens is then the counted length, which the worker copies into every record
// (prompt_tokens_sent) and LengthStats compares with the engine's count.
//
// LengthStats accumulates one engine's measured successful records and fills the comparison
// part of its LengthReport. Thread-compatible.
#ifndef LLMBENCH_COORDINATOR_PROMPT_LENGTHS_H_
#define LLMBENCH_COORDINATOR_PROMPT_LENGTHS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/prompts.h"
#include "coordinator/token_counter.h"
#include "llmbench/v1/record.pb.h"
#include "llmbench/v1/result.pb.h"
#include "llmbench/v1/worker.pb.h"

namespace llmbench::coordinator {

// Rounds of appending or dropping words before (and after) the number of words is bisected.
inline constexpr int kFastCalibrationRounds = 4;

struct ResolvedPrompts {
  std::vector<llmbench::v1::Prompt> prompts;
  llmbench::v1::LengthReport report;  // method, source, notes and the counting figures
};

// Counts (and for synthetic prompts, calibrates) `plan` with `counter`. `seed` seeds the words
// appended. Errors are the counter's (an engine that stopped answering).
absl::StatusOr<ResolvedPrompts> ResolvePromptLengths(const PromptPlan& plan, TokenCounter& counter,
                                                     uint64_t seed);

class LengthStats {
 public:
  // Measured successful records only; the others are ignored.
  void Add(const llmbench::v1::RequestRecord& record);
  // Fills report's comparison fields (input_*, output_*).
  void Fill(llmbench::v1::LengthReport* report) const;

 private:
  std::vector<double> input_requested_;
  uint64_t input_compared_ = 0;
  uint64_t input_exact_ = 0;
  double input_error_sum_ = 0;
  double input_abs_pct_sum_ = 0;
  double input_max_abs_error_ = 0;
  std::vector<double> output_requested_;
  uint64_t output_reached_ = 0;
};

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_PROMPT_LENGTHS_H_
