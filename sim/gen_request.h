// Parsing of generation requests for every simulated route, and the output-length rules of
// each engine (vLLM max_tokens/min_tokens/ignore_eos, Ollama num_predict, TGI max_new_tokens).
// Bad input becomes a RequestError carrying the engine's status code and message; the HTTP
// layer renders it in the engine's error shape.
// Thread-safety: stateless (a thread_local simdjson parser is used inside).
#ifndef LLMBENCH_SIM_GEN_REQUEST_H_
#define LLMBENCH_SIM_GEN_REQUEST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "sim/sim_vocab.h"

namespace llmbench::sim {

enum class Api {
  kOllamaGenerate,
  kOllamaChat,
  kOllamaOaiChat,
  kOllamaOaiCompletion,
  kVllmChat,
  kVllmCompletion,
  kTgiGenerate,        // /generate and /generate_stream (stream set by the route)
  kTgiCompat,          // POST / : dispatches on "stream"
  kTgiChat,
  kTgiCompletion,
};

// TGI's native API (/generate, /generate_stream, POST /), as opposed to its OpenAI routes.
inline bool IsTgiNative(Api a) { return a == Api::kTgiGenerate || a == Api::kTgiCompat; }

struct GenRequest {
  Api api = Api::kVllmCompletion;
  bool stream = false;
  std::string model;       // as echoed in responses
  int prompt_tokens = 1;   // whitespace words, min 1
  int64_t prompt_chars = 0;
  int output_tokens = 1;   // tokens the model will generate (incl. a final EOS)
  bool eos = false;        // the last token is EOS ("stop"/"eos_token"), else "length"
  int max_tokens = 0;      // the effective cap (for metrics)
  bool include_usage = false;
  bool continuous_usage = false;
  bool details = false;    // TGI parameters.details
  std::optional<uint64_t> seed;
  bool load_only = false;  // Ollama: empty prompt/messages → done_reason "load"
};

struct RequestError {
  int status = 400;
  std::string message;
  std::string type;         // engine-specific error type (vLLM/OpenAI type, TGI error_type)
  bool plain_text = false;  // TGI/axum JSON rejections are text/plain
};

struct EngineLimits {
  std::string_view model;
  int max_model_len = 4096;
  int natural_tokens = 0;
  TokenRule token_rule = TokenRule::kWords;  // how prompt tokens are counted
};

using ParseResult = std::variant<GenRequest, RequestError>;

// `stream_route`: for TGI /generate_stream (true) vs /generate (false); ignored elsewhere.
ParseResult ParseGenRequest(Api api, std::string_view body, const EngineLimits& limits,
                            bool stream_route = false);

// Number of whitespace-separated words (the simulator's tokenizer), not clamped.
int CountWords(std::string_view text);

}  // namespace llmbench::sim

#endif  // LLMBENCH_SIM_GEN_REQUEST_H_
