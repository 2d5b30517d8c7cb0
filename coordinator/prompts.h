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
//
// Thread-safety: free functions without shared state.
#ifndef LLMBENCH_COORDINATOR_PROMPTS_H_
#define LLMBENCH_COORDINATOR_PROMPTS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "llmbench/v1/scenario.pb.h"
#include "coordinator/dataset_file.h"
#include "llmbench/v1/worker.pb.h"

namespace llmbench::coordinator {


// Builds the prompt list. Dataset paths are resolved against base_dir unless absolute; errors
// name the file as written in the scenario, plus the line (JSONL) or entry index (JSON).
absl::StatusOr<std::vector<llmbench::v1::Prompt>> BuildPrompts(
    const llmbench::v1::Prompts& prompts, uint64_t seed, const std::string& base_dir);

// Number of whitespace-separated words in `text` (the simulator's token count).
uint32_t CountWords(const std::string& text);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_PROMPTS_H_
