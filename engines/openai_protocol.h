// OpenAiProtocol: the OpenAI-compatible routes POST /v1/completions and
// POST /v1/chat/completions as served by vLLM, Ollama /v1, TGI /v1, llama.cpp and any other
// OpenAI-compatible server. Streams are SSE ending in `data: [DONE]`. See
// shared/engines/PROTOCOLS.md §1.6, §2, §3.5, §4.3.
//
// Request body: {"model", "prompt"|"messages", "max_tokens", "temperature", ["seed"],
// "stream", ["stream_options":{"include_usage":true}] (streams only: vLLM rejects
// stream_options without stream), [extensions]}. `max_tokens` is always used, never
// `max_completion_tokens` (Ollama ignores the latter and generates without bound).
// Extensions when generation.ignore_eos is set:
//   - ENGINE_KIND_VLLM: "ignore_eos":true and "min_tokens":max_tokens (exact N tokens).
//   - ENGINE_KIND_OPENAI: "ignore_eos":true only (llama.cpp and SGLang accept it; min_tokens
//     is a vLLM/SGLang extension that llama.cpp does not know).
//   - Ollama and TGI accept neither, so nothing is sent.
//
// Parsing rules:
//   - A content chunk has non-empty delta.content / delta.reasoning / delta.reasoning_content,
//     a non-empty delta.tool_calls, or non-empty choices[].text. Role-only deltas,
//     content:null, empty strings, usage-only chunks and [DONE] are not content.
//   - Usage is authoritative only from a chunk with "choices":[] (or no choices). Failing
//     that, the last non-zero usage seen on or after the chunk carrying finish_reason is used
//     (vLLM continuous_usage_stats without a trailing usage chunk). Ollama's zeroed usage on
//     every completions chunk and vLLM's cumulative usage on earlier chunks are ignored.
//   - llama.cpp `timings` (ms) → engine_timings.prompt_time_ns / predicted_time_ns; vLLM
//     per-request `metrics` (ms): time_to_first_token_ms → server_ttft_ns, queue_time_ms →
//     queue_time_ns, generation_time_ms → inference_time_ns, mean_itl_ms → time_per_token_ns.
//   - In-band errors (vLLM `data: {"error": {...}}`, TGI /v1 `{"error":{"message",
//     "http_status_code"}}`, llama.cpp `{"error":{...}}` or the old `error:` SSE field,
//     legacy `{"object":"error"}`) → STREAM_BROKEN with the engine's message.
//   - EOF without [DONE] → STREAM_BROKEN "stream ended before [DONE]". One exception, for
//     ENGINE_KIND_OPENAI only: llama.cpp-family forks (ik_llama.cpp without --send-done,
//     PROTOCOLS.md §4.3) close the stream right after the finish chunk, so there EOF after a
//     finish_reason, with no partial event buffered, counts as a complete stream. vLLM,
//     Ollama and TGI always send [DONE]; for them EOF before it is a broken stream.
//   - Non-stream (generation.stream false): one JSON body; its content counts as one chunk
//     at the time the body completed, so TTFT equals E2E.
//
// Thread-safety: immutable after construction; parsers are per request.
#ifndef LLMBENCH_ENGINES_OPENAI_PROTOCOL_H_
#define LLMBENCH_ENGINES_OPENAI_PROTOCOL_H_

#include <memory>
#include <string>

#include "engines/engine_protocol.h"
#include "engines/protocol_util.h"

namespace llmbench::engines {

class OpenAiProtocol : public EngineProtocol {
 public:
  // REQUIRES: api is API_COMPLETIONS or API_CHAT_COMPLETIONS.
  OpenAiProtocol(const llmbench::v1::Engine& engine, const llmbench::v1::Generation& generation,
                 llmbench::v1::Api api);

  HttpRequestSpec BuildRequest(const llmbench::v1::Prompt& prompt,
                               uint64_t request_id) const override;
  std::unique_ptr<ResponseParser> NewParser(llmbench::v1::RequestRecord* record) const override;
  std::string HealthPath() const override;
  std::string ModelsPath() const override;
  std::string TokenizePath() const override;

 private:
  llmbench::v1::EngineKind kind_;
  std::string model_;
  GenerationSettings generation_;
  bool chat_;
};

}  // namespace llmbench::engines

#endif  // LLMBENCH_ENGINES_OPENAI_PROTOCOL_H_
