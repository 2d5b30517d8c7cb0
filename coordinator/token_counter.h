// Token counters: how the coordinator counts a prompt's tokens before a run, so that a
// synthetic prompt of "512 tokens" is 512 tokens to the engine (coordinator/prompt_lengths.h;
// docs/scenario.md, "Exact prompt lengths"). Three methods:
//
// - engine: the engine's own tokenize route, shaped like the request's route so that the count
//   is what the engine will report as the request's input tokens (special tokens, chat
//   template and system prompt included):
//     vLLM       POST /tokenize {"model","prompt"} (completions) or {"model","messages"} (chat)
//                -> {"count":N,...}
//     TGI        POST /tokenize {"inputs"} -> [{"id","text","start","stop"},...] (generate,
//                completions; the system prompt prepended as the worker does), POST
//                /chat_tokenize {"model","messages"} -> {"tokenize_response":[...]} (chat)
//     llama.cpp  (kind openai) POST /tokenize {"content","add_special":true,"parse_special":true}
//                -> {"tokens":[...]}; chat: POST /apply-template {"messages"} -> {"prompt"},
//                then /tokenize of that prompt
//   Ollama has no tokenize route.
// - tokenizer: a local tokenizer.json (coordinator/tokenizer_json.h) with the tokenizer's own
//   special tokens; a chat template is not applied (tokenizer.json carries none), so chat
//   routes count the messages' tokens only.
// - words: one token per whitespace-separated word (llmbench-sim's rule), the system prompt
//   counted where the route sends it in the same sequence (chat routes, TGI's generate).
//
// Thread-compatible: one counter is used by one thread at a time (the engine counter keeps one
// HTTP connection open across calls).
#ifndef LLMBENCH_COORDINATOR_TOKEN_COUNTER_H_
#define LLMBENCH_COORDINATOR_TOKEN_COUNTER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "llmbench/v1/scenario.pb.h"
#include "llmbench/v1/worker.pb.h"

namespace llmbench::coordinator {

class TokenCounter {
 public:
  virtual ~TokenCounter() = default;

  // The input tokens of the request the worker sends for `prompt`, as this method knows them.
  virtual absl::StatusOr<uint32_t> CountRequest(const llmbench::v1::Prompt& prompt) = 0;
  // The tokens of `text` alone (no special tokens, no template): a reply's length.
  virtual absl::StatusOr<uint32_t> CountText(std::string_view text) = 0;

  virtual std::string method() const = 0;  // "engine", "tokenizer" or "words"
  virtual std::string source() const = 0;  // the route's URL, the file, or ""
  // Requests sent to the engine so far (engine method).
  virtual uint64_t calls() const { return 0; }
};

std::unique_ptr<TokenCounter> MakeWordTokenCounter(const llmbench::v1::Engine& engine);

// Loads `path` (already resolved). Errors name the file.
absl::StatusOr<std::unique_ptr<TokenCounter>> MakeTokenizerJsonCounter(
    const llmbench::v1::Engine& engine, const std::string& path);

// The engine's tokenize route for the engine's kind and api, checked with one request
// ("hello world"). Unimplemented when the kind has none (Ollama); Unavailable naming the URL
// and the answer when the route does not answer as expected, e.g.
// "POST http://h:8000/tokenize: HTTP 404".
absl::StatusOr<std::unique_ptr<TokenCounter>> MakeEngineTokenCounter(
    const llmbench::v1::Engine& engine, int timeout_ms = 10000);

// The counter prompts.length_method asks for (auto: engine, else tokenizer when given, else
// words; each fallback adds a note saying why). `base_dir` resolves a relative tokenizer path.
// An explicit method that cannot be had is an error (FailedPrecondition naming the engine).
absl::StatusOr<std::unique_ptr<TokenCounter>> ChooseTokenCounter(
    const llmbench::v1::Prompts& prompts, const llmbench::v1::Engine& engine,
    const std::string& base_dir, std::vector<std::string>* notes);

// The request bodies and answers of the engine method, exposed for tests against the recorded
// engine fixtures. `route` is the path; nullopt count: the answer is not the expected shape.
struct TokenizeCall {
  std::string route;
  std::string body;
};
TokenizeCall TokenizeRequestFor(const llmbench::v1::Engine& engine,
                                const llmbench::v1::Prompt& prompt, bool whole_request);
std::optional<uint32_t> ParseTokenizeCount(llmbench::v1::EngineKind kind, std::string_view route,
                                           std::string_view body, bool content_only);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_TOKEN_COUNTER_H_
