// The simulator's toy tokenizer and output vocabulary: prompts are counted in
// whitespace-separated words; output tokens are words from a fixed vocabulary, each with a
// leading space, chosen deterministically from a per-request key and the token index.
// Thread-safety: stateless.
#ifndef LLMBENCH_SIM_SIM_VOCAB_H_
#define LLMBENCH_SIM_SIM_VOCAB_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmbench::sim {

// A well-mixed 64-bit hash of `key` (splitmix64 finaliser).
uint64_t MixKey(uint64_t key);
// The request key from the seed and the per-engine request number.
uint64_t RequestKey(uint64_t seed, uint64_t request_no);

// Output token `index` of the request with key `key`, e.g. " lorem".
std::string_view VocabToken(uint64_t key, int index);
// Its token id and serde-style logprob text.
int64_t VocabTokenId(uint64_t key, int index);
std::string_view VocabLogprob(uint64_t key, int index);

// Token ids for the words of `text` (a stable hash of each word).
std::vector<int64_t> WordTokenIds(std::string_view text);

// How the simulator counts prompt tokens (`llmbench-sim --tokenizer`): kWords, one token per
// whitespace-separated word (the default); kSubword4, ceil(bytes / 4) tokens per word, so that
// long words are several tokens and a word count is not a token count (what exact prompt
// lengths are tested against). The generation routes and /tokenize count alike.
enum class TokenRule { kWords, kSubword4 };
// The tokens of `text` under `rule`, each as (id, byte offset, byte length) in `text`.
struct SimToken {
  int64_t id;
  size_t start;
  size_t length;
};
std::vector<SimToken> Tokenize(std::string_view text, TokenRule rule);
int CountTokens(std::string_view text, TokenRule rule);
// The text of a token id for /detokenize: a vocabulary word when the id is one, else " <id>".
std::string TokenIdText(int64_t id);

}  // namespace llmbench::sim

#endif  // LLMBENCH_SIM_SIM_VOCAB_H_
