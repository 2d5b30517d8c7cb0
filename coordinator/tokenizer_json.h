// A HuggingFace `tokenizer.json` read and run locally, to count prompt tokens exactly the way
// the model's tokenizer does when the engine has no tokenize route (docs/scenario.md, "Exact
// prompt lengths"). No network: the file is read from disk.
//
// Why by hand: the reference implementation (HuggingFace `tokenizers`) is Rust; Debian ships no
// C or C++ binding of it, and its C++ ports (tokenizers-cpp, ...) are not packaged. Debian's
// SentencePiece reads `.model` files, not tokenizer.json. What is hand-written here is the
// tokenizer.json pipeline and the BPE / WordPiece algorithms; the two hard parts come from
// Debian's libraries: PCRE2 runs the pre-tokenizers' split regexes (Unicode properties,
// look-ahead) and ICU the Unicode normalizers. The result is tested id for id against the real
// `tokenizers` library on tokenizers it trained (coordinator/tokenizer_json_test.cc,
// tests/fixtures/tokenizers/).
//
// Supported (anything else fails to load, naming what is not supported):
// - models: BPE (merges as "a b" strings or [a, b] pairs; byte_fallback, unk_token, fuse_unk,
//   continuing_subword_prefix, end_of_word_suffix, ignore_merges), WordPiece;
// - normalizers: NFC, NFD, NFKC, NFKD, Lowercase, Strip, Prepend, Replace (string pattern),
//   BertNormalizer, Sequence;
// - pre-tokenizers: ByteLevel (GPT-2 regex, add_prefix_space), Split (regex or string; behavior
//   Isolated, Removed, MergedWithPrevious, MergedWithNext, Contiguous), Metaspace,
//   Whitespace, WhitespaceSplit, BertPreTokenizer, Digits, Punctuation, Sequence;
// - post-processors: TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel,
//   Sequence (what matters for counting: the special tokens a single sequence gets);
// - added tokens (split out of the text before everything else, one token each).
//
// Thread-safety: Encode() is const but caches results per pre-token behind a mutex, so one
// TokenizerJson may be shared by threads.
#ifndef LLMBENCH_COORDINATOR_TOKENIZER_JSON_H_
#define LLMBENCH_COORDINATOR_TOKENIZER_JSON_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace llmbench::coordinator {

class TokenizerJson {
 public:
  // Reads and compiles `path`. Errors name the file and what is wrong or not supported, e.g.
  // "tok.json: model type \"Unigram\" is not supported (BPE and WordPiece are)".
  static absl::StatusOr<std::unique_ptr<TokenizerJson>> Load(const std::string& path);
  // The same from the file's text (`name` is used in messages).
  static absl::StatusOr<std::unique_ptr<TokenizerJson>> Parse(std::string_view json,
                                                              const std::string& name);
  ~TokenizerJson();
  TokenizerJson(const TokenizerJson&) = delete;
  TokenizerJson& operator=(const TokenizerJson&) = delete;

  // The token ids of `text`; with `add_special_tokens` the post-processor's special tokens for
  // a single sequence are included (e.g. Llama's BOS), as tokenizer.encode(text) does.
  std::vector<uint32_t> Encode(std::string_view text, bool add_special_tokens) const;
  // Encode(text, add_special_tokens).size().
  uint32_t Count(std::string_view text, bool add_special_tokens) const;
  // The special tokens the post-processor adds to a single sequence.
  uint32_t SpecialTokensAdded() const;
  // "BPE" or "WordPiece".
  const std::string& model_type() const;

 private:
  struct State;
  explicit TokenizerJson(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_TOKENIZER_JSON_H_
