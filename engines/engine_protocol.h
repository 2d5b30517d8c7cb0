// Engine protocols: each one builds the HTTP request for a prompt and turns the response
// bytes into a measured RequestRecord. Implementations: OllamaProtocol (/api/generate,
// /api/chat), OpenAiProtocol (/v1/completions, /v1/chat/completions for vLLM, Ollama /v1,
// TGI /v1, llama.cpp, any OpenAI-compatible server), TgiProtocol (/generate_stream, /generate).
//
// Thread-safety: an EngineProtocol is immutable after construction and shared by all loop
// threads. A ResponseParser belongs to one request and is used by one thread.
#ifndef LLMBENCH_ENGINES_ENGINE_PROTOCOL_H_
#define LLMBENCH_ENGINES_ENGINE_PROTOCOL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "llmbench/v1/record.pb.h"
#include "llmbench/v1/scenario.pb.h"
#include "llmbench/v1/worker.pb.h"

namespace llmbench::engines {

// Longest engine error message kept in a record (bytes; cut on a UTF-8 boundary).
inline constexpr size_t kMaxErrorMessageBytes = 512;

// What the transport must send. `path` is appended to the engine's base URL.
struct HttpRequestSpec {
  std::string method = "POST";
  std::string path;
  std::string body;  // JSON
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type and auth
};

// Parses one response. The transport calls, in order: OnStatus once (when the status line
// and headers are complete), OnBody for every slice of body bytes with the monotonic time it
// arrived, then Finish exactly once. The parser writes into the record it was given:
// first_token_ns, chunk_offsets_ns, content_chunks, tokens, finish_reason, engine_timings,
// http_status, error_class, error_message, bytes_received. The transport owns sent_ns and
// end_ns and sets them before calling the parser.
class ResponseParser {
 public:
  virtual ~ResponseParser() = default;

  // `headers` are (lower-case name, value) pairs.
  virtual void OnStatus(int http_status,
                        const std::vector<std::pair<std::string, std::string>>& headers) = 0;
  // `now_ns` is on the same clock as record.sent_ns.
  virtual void OnBody(std::string_view bytes, int64_t now_ns) = 0;
  // `transport_error` is set when the transfer failed (connection reset, timeout, cancel):
  // the class it belongs to and curl's message. Otherwise the body ended normally at EOF and
  // the parser decides whether the stream was complete (terminator seen) or broken.
  struct TransportError {
    llmbench::v1::ErrorClass error_class = llmbench::v1::ERROR_CLASS_NONE;
    std::string message;
  };
  virtual void Finish(const TransportError& transport_error) = 0;
};

class EngineProtocol {
 public:
  virtual ~EngineProtocol() = default;

  // The request for `prompt` under the shard's generation settings.
  virtual HttpRequestSpec BuildRequest(const llmbench::v1::Prompt& prompt,
                                       uint64_t request_id) const = 0;
  // A parser writing into `record` (which must outlive it).
  virtual std::unique_ptr<ResponseParser> NewParser(llmbench::v1::RequestRecord* record) const = 0;

  // Discovery routes: health, model listing, tokenizer (empty path when the engine has none).
  virtual std::string HealthPath() const = 0;
  virtual std::string ModelsPath() const = 0;
  virtual std::string TokenizePath() const = 0;
};

// Picks the protocol for an engine + api (API_UNSPECIFIED → the kind's default) and the
// shard's generation settings. InvalidArgument for combinations that do not exist (e.g. TGI
// native API on a vLLM engine).
absl::StatusOr<std::unique_ptr<EngineProtocol>> MakeEngineProtocol(
    const llmbench::v1::Engine& engine, const llmbench::v1::Generation& generation);

}  // namespace llmbench::engines

#endif  // LLMBENCH_ENGINES_ENGINE_PROTOCOL_H_
