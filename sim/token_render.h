// Rendering of a generation's output as the engine's wire units: each token event of a stream
// (Ollama NDJSON lines, vLLM and TGI SSE events, chunk-framed when the response is chunked),
// and the body and headers of a non-stream response, with the ids and finish reasons they
// carry. Pure functions of the Generation and the times passed in (no clock inside): Session
// decides when the bytes are rendered and where they are written.
// Thread-safety: stateless free functions.
#ifndef LLMBENCH_SIM_TOKEN_RENDER_H_
#define LLMBENCH_SIM_TOKEN_RENDER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/gen_request.h"
#include "sim/sim_config.h"

namespace llmbench::sim {

// One generation in flight on a session.
struct Generation {
  GenRequest req;
  uint64_t seq = 0;
  uint64_t request_no = 0;
  uint64_t key = 0;
  int64_t arrival_ns = 0;
  int64_t admitted_ns = 0;
  int64_t first_ns = 0;
  std::string id;
  int64_t created = 0;
  FaultSpec fault;
  int fault_at = -1;  // token index at which a mid-stream fault fires
  bool tgi_stream_details = false;
  std::string text;  // accumulated output
  bool role_sent = false;
};

// Chunked transfer framing of one unit appended to `out`: BeginChunk reserves an 8-hex-digit
// size line and returns its position, EndChunk fills it in and ends the chunk. No-ops (and
// BeginChunk returns out.size()) when !chunked.
size_t BeginChunk(std::string& out, bool chunked);
void EndChunk(std::string& out, size_t pos, bool chunked);

// "stop"/"length", or TGI-native "eos_token"/"length".
std::string_view FinishReason(const GenRequest& req);

// Sets gen.id and gen.created as `kind` writes them for a request of `api` that arrived at
// arrival_unix_ns (Ollama's created is its first token's time, set when that token comes).
void AssignResponseId(Generation& gen, EngineKind kind, Api api, int64_t arrival_unix_ns);

// Appends a stream's events for token `index` (emitted at at_ns, unix_ns on the wall clock)
// with text `text` (empty for the EOS token): the role chunk before the first token where the
// API has one, the token event, and after the last token the finish, usage and [DONE] events.
// Marks gen.role_sent.
void AppendStreamToken(std::string& out, bool chunked, Generation& gen, int index,
                       std::string_view text, bool last, int64_t at_ns, int64_t unix_ns);

// A non-stream response: its body, content type and extra headers.
struct NonStreamResponse {
  std::string body;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;
};
// The response of a non-stream generation whose last token came at at_ns (unix_ns).
NonStreamResponse RenderNonStream(const Generation& gen, int64_t at_ns, int64_t unix_ns);

}  // namespace llmbench::sim

#endif  // LLMBENCH_SIM_TOKEN_RENDER_H_
