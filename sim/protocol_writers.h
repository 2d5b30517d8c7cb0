// Byte-faithful renderers for the engines' wire formats (Ollama, vLLM, TGI). Every function
// appends one complete unit (an NDJSON line, an SSE event with its framing, or a JSON body) to
// `out`, writing keys in the engine's own order. All values — ids, timestamps, model names,
// token texts — are parameters, so the unit tests render the recorded fixtures byte for byte.
// See shared/engines/PROTOCOLS.md §1–§3.
// Thread-safety: stateless free functions.
#ifndef LLMBENCH_SIM_PROTOCOL_WRITERS_H_
#define LLMBENCH_SIM_PROTOCOL_WRITERS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace llmbench::sim {

// Token usage; each engine writes the keys in its own order.
struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
};

namespace ollama {

// The final line's metrics (omitempty: zero values are left out). Durations in ns.
struct FinalMetrics {
  int64_t total_duration = 0;
  int64_t load_duration = 0;
  int64_t prompt_eval_count = 0;
  int64_t prompt_eval_duration = 0;
  int64_t eval_count = 0;
  int64_t eval_duration = 0;
};

// `created_at` is Unix ns, written as trimmed RFC3339Nano. Stream lines end with '\n'.
void AppendGenerateChunk(std::string& out, std::string_view model, int64_t created_at_ns,
                         std::string_view text);
void AppendChatChunk(std::string& out, std::string_view model, int64_t created_at_ns,
                     std::string_view text);
// done_reason empty = omitted. newline: true in a stream (json.Encoder), false for gin c.JSON.
void AppendGenerateFinal(std::string& out, std::string_view model, int64_t created_at_ns,
                         std::string_view response, std::string_view done_reason,
                         const FinalMetrics& m, bool newline);
void AppendChatFinal(std::string& out, std::string_view model, int64_t created_at_ns,
                     std::string_view content, std::string_view done_reason,
                     const FinalMetrics& m, bool newline);
// {"error":"..."}; newline for the in-stream error line.
void AppendError(std::string& out, std::string_view message, bool newline);

// OpenAI compatibility layer (/v1/*). SSE "data: ...\n\n".
void AppendOaiChatChunk(std::string& out, std::string_view id, int64_t created,
                        std::string_view model, std::string_view text, bool with_role);
// delta:{} with finish_reason (nullopt = null; an errored stream's last chunk).
void AppendOaiChatFinishChunk(std::string& out, std::string_view id, int64_t created,
                              std::string_view model, std::optional<std::string_view> finish);
void AppendOaiChatUsageChunk(std::string& out, std::string_view id, int64_t created,
                             std::string_view model, const Usage& usage);
// finish nullopt = null. zero_usage: the zeroed usage object of include_usage streams.
void AppendOaiCompletionChunk(std::string& out, std::string_view id, int64_t created,
                              std::string_view model, std::string_view text,
                              std::optional<std::string_view> finish, bool zero_usage);
void AppendOaiCompletionUsageChunk(std::string& out, std::string_view id, int64_t created,
                                   std::string_view model, const Usage& usage);
void AppendOaiDone(std::string& out);
// Non-stream bodies (json.Encoder: trailing newline).
void AppendOaiChatCompletion(std::string& out, std::string_view id, int64_t created,
                             std::string_view model, std::string_view content,
                             std::string_view finish, const Usage& usage);
void AppendOaiCompletion(std::string& out, std::string_view id, int64_t created,
                         std::string_view model, std::string_view text, std::string_view finish,
                         const Usage& usage);
// {"error":{"message","type","param":null,"code":null}}\n
void AppendOaiError(std::string& out, std::string_view message, std::string_view type);

}  // namespace ollama

namespace vllm {

// Chat role chunk: delta {"role":"assistant","content":""}; usage when continuous stats are on.
void AppendChatRoleChunk(std::string& out, std::string_view id, int64_t created,
                         std::string_view model, const Usage* usage);
// finish nullopt = a token chunk; otherwise the finish chunk (adds "stop_reason":null).
void AppendChatTokenChunk(std::string& out, std::string_view id, int64_t created,
                          std::string_view model, std::string_view text,
                          std::optional<std::string_view> finish, const Usage* usage);
void AppendCompletionChunk(std::string& out, std::string_view id, int64_t created,
                           std::string_view model, std::string_view text,
                           std::optional<std::string_view> finish, const Usage* usage);
// object: "chat.completion.chunk" or "text_completion".
void AppendUsageChunk(std::string& out, std::string_view id, std::string_view object,
                      int64_t created, std::string_view model, const Usage& usage);
void AppendDone(std::string& out);
// Python json.dumps (", " / ": ", ensure_ascii) error event inside a stream.
void AppendStreamError(std::string& out, std::string_view message, std::string_view type,
                       int code);
// Compact {"error":{"message","type","param":null,"code":N}} (no newline).
void AppendError(std::string& out, std::string_view message, std::string_view type, int code);
void AppendChatCompletion(std::string& out, std::string_view id, int64_t created,
                          std::string_view model, std::string_view content,
                          std::string_view finish, const Usage& usage);
void AppendCompletion(std::string& out, std::string_view id, int64_t created,
                      std::string_view model, std::string_view text, std::string_view finish,
                      const Usage& usage);

}  // namespace vllm

namespace tgi {

struct Token {
  int64_t id = 0;
  std::string_view text;
  std::string_view logprob;  // as serde writes the f32, e.g. "-1.7822266" or "0.0"
  bool special = false;
};

struct StreamDetails {
  std::string_view finish_reason;  // length | eos_token | stop_sequence
  int64_t generated_tokens = 0;
  std::optional<uint64_t> seed;
  int64_t input_length = 0;
};

// data:{"index":n,"token":{...},"generated_text":null|"...","details":null|{...}}\n\n
void AppendStreamToken(std::string& out, int64_t index, const Token& token,
                       std::optional<std::string_view> generated_text,
                       const StreamDetails* details);
void AppendChatChunk(std::string& out, int64_t created, std::string_view model,
                     std::string_view fingerprint, std::string_view text,
                     std::optional<std::string_view> finish);
void AppendChatUsageChunk(std::string& out, int64_t created, std::string_view model,
                          std::string_view fingerprint, const Usage& usage);
void AppendCompletionChunk(std::string& out, int64_t created, std::string_view model,
                           std::string_view fingerprint, std::string_view text,
                           std::optional<std::string_view> finish);
void AppendDone(std::string& out);
// {"error":"...","error_type":"..."} (no framing).
void AppendError(std::string& out, std::string_view message, std::string_view error_type);
// data:{"error":...,"error_type":...}\n\n
void AppendStreamError(std::string& out, std::string_view message, std::string_view error_type);
// data:{"error":{"message":...,"http_status_code":422}}\n\n (chat/completions streams)
void AppendOaiStreamError(std::string& out, std::string_view message);
void AppendChatCompletion(std::string& out, int64_t created, std::string_view model,
                          std::string_view fingerprint, std::string_view content,
                          std::string_view finish, const Usage& usage);
void AppendCompletion(std::string& out, int64_t created, std::string_view model,
                      std::string_view fingerprint, std::string_view text,
                      std::string_view finish, const Usage& usage);

}  // namespace tgi

}  // namespace llmbench::sim

#endif  // LLMBENCH_SIM_PROTOCOL_WRITERS_H_

namespace llmbench::sim::tgi {
// {"id":..,"text":..,"logprob":..,"special":..} (special omitted when with_special is false,
// as in prefill entries).
void AppendTokenJson(std::string& out, const Token& token, bool with_special);
}  // namespace llmbench::sim::tgi
