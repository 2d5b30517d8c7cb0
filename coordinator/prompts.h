// Prompt generation: turns the scenario's `prompts` section into the list of prompts every
// shard carries (request id k uses prompts[k % size]).
//
// - synthetic: `count` prompts of N whitespace-separated words from a fixed English-like
//   vocabulary, N drawn from input_tokens (fixed / uniform / normal clamped to [min, max],
//   at least 1). llmbench-sim counts one token per word; real engines tokenize differently,
//   so approx_tokens records the intent. Deterministic from the seed on every platform
//   (mt19937_64 plus hand-written transforms, not the implementation-defined std
//   distributions).
// - dataset: a ShareGPT-style JSON array ({"conversations":[{"from":"human","value":...}]},
//   first human turn) or JSONL with one {"prompt":...}, {"text":...} or ShareGPT object per
//   line; entries without a human turn, empty ones, and ones shorter than min_input_chars are
//   skipped; max_prompts caps the count; approx_tokens = word count.
// - shared_prefix: `groups` distinct prefixes of prefix_tokens words; prompt i is prefix
//   i % groups, a space, then its own text (the input_tokens distribution sizes the own part).
// - system_prompt is copied into every prompt's `system`.
// - output lengths (generation.output_tokens, output_tokens_from_dataset): each prompt's own
//   max_tokens, drawn from the distribution (own seeded stream) or taken from the dataset:
//   ShareGPT's first gpt/assistant turn after the human turn used (its length is counted later,
//   per engine, like the prompts: coordinator/prompt_lengths.h), a JSONL entry's "max_tokens"
//   or "output_tokens" number. Lengths are clamped to [1, 1 000 000].
//
// Thread-safety: free functions without shared state.
#ifndef LLMBENCH_COORDINATOR_PROMPTS_H_
#define LLMBENCH_COORDINATOR_PROMPTS_H_

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "llmbench/v1/scenario.pb.h"
#include "coordinator/dataset_file.h"
#include "llmbench/v1/worker.pb.h"

namespace llmbench::coordinator {


// The prompt list and what exact lengths need to rework it per engine.
struct PromptPlan {
  std::vector<llmbench::v1::Prompt> prompts;  // approx_tokens = words; max_tokens as above
  bool synthetic = false;
  // Synthetic: the intended tokens of each prompt (shared prefix + own part), and the number of
  // leading words that are the shared prefix (never changed by calibration).
  std::vector<uint32_t> targets;
  std::vector<uint32_t> prefix_words;
  // Dataset with output_tokens_from_dataset: each prompt's reply text ("" when the entry had
  // none or gave a number instead; the number is then already in max_tokens).
  std::vector<std::string> replies;
};

// Builds the prompt list. Dataset paths are resolved against base_dir unless absolute; errors
// name the file as written in the scenario, plus the line (JSONL) or entry index (JSON).
// Output lengths from `generation` (output_tokens, output_tokens_from_dataset); a dataset
// reply's length is its word count here (PromptPlan::replies lets a token counter redo it).
// REQUIRES: `prompts` has its defaults (ApplyPromptsDefaults, scenario_defaults.h), as every
// resolved scenario's has; PlanPrompts does not apply them again.
absl::StatusOr<PromptPlan> PlanPrompts(const llmbench::v1::Prompts& prompts,
                                       const llmbench::v1::Generation& generation, uint64_t seed,
                                       const std::string& base_dir);
// PlanPrompts(...).prompts, for a prompts section built in code: applies
// ApplyPromptsDefaults to its own copy of `prompts` first.
absl::StatusOr<std::vector<llmbench::v1::Prompt>> BuildPrompts(
    const llmbench::v1::Prompts& prompts, uint64_t seed, const std::string& base_dir,
    const llmbench::v1::Generation& generation = {});

// One length drawn from `distribution` (fixed / uniform / normal / lognormal, clamped to
// [max(1, min), max] with max 0 meaning 1 000 000). Deterministic on every platform.
uint32_t DrawLength(const llmbench::v1::TokenLengthDistribution& distribution,
                    std::mt19937_64& rng);

// `count` words of the synthetic vocabulary drawn with `rng`, appended to `out` (space-separated).
// `vocabulary` (non-empty) restricts the words to a subset; empty: the whole vocabulary.
void AppendSyntheticWords(std::mt19937_64& rng, uint32_t count, std::string* out,
                          const std::vector<std::string_view>& vocabulary = {});
// Parses an output-length distribution as `--output-tokens-dist` writes it into `generation`:
// fixed:N, uniform:MIN:MAX, normal:MEAN:STDDEV[:MIN:MAX], lognormal:MEAN:SIGMA[:MIN:MAX]
// (generation.output_tokens), or dataset (output_tokens_from_dataset). InvalidArgument
// "--output-tokens-dist: WHY, got \"TEXT\"".
absl::Status ParseOutputTokensDist(const std::string& text, llmbench::v1::Generation* generation);

// The synthetic vocabulary (plain common English words).
std::vector<std::string_view> SyntheticVocabulary();
uint64_t SplitMix64(uint64_t x);

// Number of whitespace-separated words in `text` (the simulator's token count).
uint32_t CountWords(const std::string& text);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_PROMPTS_H_
