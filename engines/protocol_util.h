// Helpers shared by the engine protocols: JSON text building (escaping), UTF-8-safe message
// truncation, a padded simdjson DOM parser, engine error-body classification, and
// ResponseParserBase, the bookkeeping every ResponseParser shares (status, error bodies,
// content-chunk timestamps, token accounting, first-failure-wins outcomes).
//
// Thread-compatible: a ResponseParserBase belongs to one request on one thread. The JSON
// parser returned by ThreadJsonParser() is per thread; a parsed document is valid only until
// the next Parse() on the same thread.
#ifndef LLMBENCH_ENGINES_PROTOCOL_UTIL_H_
#define LLMBENCH_ENGINES_PROTOCOL_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/json_writer.h"
#include "engines/engine_protocol.h"
#include "llmbench/v1/record.pb.h"
#include "simdjson.h"

namespace llmbench::engines {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Most bytes of a non-streamed success body kept for parsing; a longer body is a PARSE error.
inline constexpr size_t kMaxResponseBodyBytes = 16 << 20;
// Chunk arrival offsets kept per request. A stream that goes on past it (an engine that
// ignores max_tokens) is still read and its chunks counted, but its record stays bounded
// (RequestRecord.chunk_offsets_dropped counts the offsets not kept).
inline constexpr int kMaxChunkOffsets = 65536;
// Most bytes of an HTTP error body kept (enough for any engine's error JSON).
inline constexpr size_t kMaxErrorBodyBytes = 64 << 10;

// ---- Generation settings -----------------------------------------------------------------

// A shard's Generation with the schema defaults applied.
struct GenerationSettings {
  uint32_t max_tokens = 128;
  bool ignore_eos = false;
  double temperature = 0;
  std::optional<uint64_t> seed;
  bool stream = true;
  uint32_t reply_text_bytes = 0;  // RequestRecord.reply_text cap; 0 = the text is not kept
};
GenerationSettings ResolveGeneration(const llmbench::v1::Generation& generation);
// The max_tokens a request for `prompt` asks: its own (Prompt.max_tokens) or the shard's.
inline uint32_t MaxTokensFor(const llmbench::v1::Prompt& prompt,
                             const GenerationSettings& generation) {
  return prompt.has_max_tokens() ? prompt.max_tokens() : generation.max_tokens;
}

// ---- JSON text ---------------------------------------------------------------------------

// JSON strings in request bodies: AppendJsonString (common/json_writer.h, compact mode: control
// characters, '"' and '\\' escaped, invalid UTF-8 bytes as U+FFFD, so a body is always valid JSON).

// Appends `,"messages":[...]` for a chat request: the prompt's system message (when set)
// the prompt's history (multi-turn: earlier user and assistant messages) and its user message.
// Shared by the Ollama /api/chat and OpenAI chat builders.
void AppendChatMessages(std::string* out, const llmbench::v1::Prompt& prompt);
// Appends a JSON number for a finite double (shortest round-trip form, e.g. 0.7, 0, 1e-05).
void AppendJsonDouble(std::string* out, double value);

// ---- Text --------------------------------------------------------------------------------

// `s` without leading and trailing ASCII whitespace. (Debian's Abseil has its own
// absl::string_view, so absl's string helpers do not take std::string_view.)
std::string_view StripWhitespace(std::string_view s);

// ---- UTF-8 -------------------------------------------------------------------------------

// `s` with every invalid UTF-8 sequence replaced by U+FFFD.
std::string SanitizeUtf8(std::string_view s);
// `s` sanitized and cut to at most `max_bytes` bytes on a character boundary; when cut, the
// result ends in "…" (U+2026) and still fits in `max_bytes`.
std::string TruncateUtf8(std::string_view s, size_t max_bytes);

// ---- JSON parsing ------------------------------------------------------------------------

// A simdjson DOM parser with its own padded input buffer (the input is copied, so callers may
// pass views into framing buffers). Reuses its memory across documents.
class JsonParser {
 public:
  simdjson::simdjson_result<simdjson::dom::element> Parse(std::string_view json);

 private:
  simdjson::dom::parser parser_;
  std::string buffer_;
};

// The calling thread's parser.
JsonParser& ThreadJsonParser();

// Field readers that never throw: nullopt when the key is missing, null or of another type.
std::optional<std::string_view> GetString(simdjson::dom::element obj, std::string_view key);
std::optional<int64_t> GetInt(simdjson::dom::element obj, std::string_view key);  // int/uint/double
std::optional<double> GetDouble(simdjson::dom::element obj, std::string_view key);
std::optional<bool> GetBool(simdjson::dom::element obj, std::string_view key);
// The field when it is a JSON object.
std::optional<simdjson::dom::element> GetObject(simdjson::dom::element obj, std::string_view key);
std::optional<simdjson::dom::array> GetArray(simdjson::dom::element obj, std::string_view key);
// Saturating conversion for token counts.
uint32_t ClampToUint32(int64_t value);
// Milliseconds (float) to nanoseconds; nullopt when not finite or out of range.
std::optional<int64_t> MillisToNanos(double ms);

// The message of an in-band or body error object, or nullopt when `root` is not an error:
// {"error":"…"} (Ollama, TGI), {"error":{"message":"…"}} (OpenAI, vLLM, llama.cpp, TGI /v1),
// {"object":"error","message":"…"} (legacy vLLM). An error object without a message yields
// its JSON text.
std::optional<std::string> ErrorMessageFromJson(simdjson::dom::element root);

// ---- HTTP errors -------------------------------------------------------------------------

struct EngineError {
  llmbench::v1::ErrorClass error_class = llmbench::v1::ERROR_CLASS_NONE;
  std::string message;  // truncated to kMaxErrorMessageBytes
};

// Classifies a non-2xx response from its status and body: 429 or TGI error_type "overloaded"
// → OVERLOADED; 503 whose message contains "server busy" (Ollama's queue) → OVERLOADED;
// other 5xx → HTTP_5XX; 4xx → HTTP_4XX; any other non-2xx status (1xx/3xx) → HTTP_4XX with
// "unexpected HTTP status N". The message is the engine's (JSON shapes as in
// ErrorMessageFromJson, else the body text trimmed), or "HTTP N with an empty body".
EngineError ClassifyHttpError(int http_status, std::string_view body);

// ---- Parser base -------------------------------------------------------------------------

// Shared ResponseParser bookkeeping. Subclasses handle the 2xx body: streamed slices
// (ConsumeStream + EndStream) or one JSON document (ConsumeBody).
//
// Outcome rules: the first failure wins (an in-band engine error seen before a connection
// reset stays the outcome); after a failure further body bytes are only counted. Every
// measurement taken before a failure is kept. Finish() fills output_tokens: the engine's count
// when it reported one (TOKEN_SOURCE_ENGINE), else content_chunks (TOKEN_SOURCE_CHUNKS).
class ResponseParserBase : public ResponseParser {
 public:
  ResponseParserBase(llmbench::v1::RequestRecord* record, bool stream);

  void OnStatus(int http_status, const HeaderList& headers) override;
  void OnBody(std::string_view bytes, int64_t now_ns) override;
  void Finish(const TransportError& transport_error) override;

  // Keeps up to `max_bytes` of the reply's generated text in record.reply_text (0 = none, the
  // default: nothing is copied on the hot path). Call before the first OnBody.
  void CaptureReplyText(uint32_t max_bytes) { reply_text_limit_ = max_bytes; }

 protected:
  // Headers of a 2xx response.
  virtual void ConsumeHeaders(const HeaderList& headers) {}
  // Stream mode: one slice of the 2xx body.
  virtual void ConsumeStream(std::string_view bytes, int64_t now_ns) = 0;
  // Stream mode: the body ended at EOF with no failure so far; checks the terminator.
  virtual void EndStream() = 0;
  // Non-stream mode: the whole 2xx body, completely arrived at `now_ns`.
  virtual void ConsumeBody(simdjson::dom::element root, int64_t now_ns) = 0;
  // Called once at the end of Finish, before token accounting, whatever the outcome.
  virtual void Finalize() {}

  // Records one content-bearing chunk that arrived at `now_ns`.
  void AddContentChunk(int64_t now_ns);
  // Records the request's failure unless one is already recorded.
  void Fail(llmbench::v1::ErrorClass error_class, std::string_view message);
  bool failed() const;
  // Reports a framing error (over-long line) as PARSE.
  void FailFraming(const absl::Status& status);
  // Whether the reply's text is kept (CaptureReplyText), and appending a piece of it: kept up to
  // the limit, cut on a UTF-8 boundary, record.reply_text_truncated set when cut.
  bool capturing_text() const { return reply_text_limit_ > 0; }
  void AppendReplyText(std::string_view text);

  llmbench::v1::RequestRecord* record() const { return record_; }

 private:
  llmbench::v1::RequestRecord* record_;
  bool stream_;
  bool status_seen_ = false;
  bool finished_ = false;
  int http_status_ = 0;
  std::string body_;        // non-stream success body, or an error body
  bool body_overflow_ = false;
  int64_t last_body_ns_ = 0;
  uint32_t reply_text_limit_ = 0;
};

}  // namespace llmbench::engines

#endif  // LLMBENCH_ENGINES_PROTOCOL_UTIL_H_
