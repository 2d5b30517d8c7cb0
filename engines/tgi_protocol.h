// TgiProtocol: HuggingFace text-generation-inference native routes, POST /generate_stream
// (SSE, `data:` without a space, no [DONE]: the event with non-null generated_text is the last)
// and POST /generate (one JSON body plus x-* timing headers). See
// shared/engines/PROTOCOLS.md §3.
//
// Request body: {"inputs","parameters":{"max_new_tokens","details":true,["seed"],
// "do_sample":false}} — or "do_sample":true,"temperature":T when temperature > 0 (TGI rejects
// temperature 0). TGI has no ignore_eos over HTTP, so generation.ignore_eos is not sent.
//
// Parsing rules: one event per generated token, including special tokens; an event whose
// token is not special and has non-empty text is a content chunk (an empty text is a token
// that split a UTF-8 character, not content). The final event's details give finish_reason,
// generated_tokens (→ output_tokens_reported) and input_length (→ input_tokens); without
// details the number of token events is reported. In-band {"error","error_type"} events
// arrive with HTTP 200: error_type "overloaded" → OVERLOADED, "validation" → HTTP_4XX, others
// → STREAM_BROKEN. Non-stream: x-queue-time, x-inference-time, x-time-per-token,
// x-validation-time, x-total-time (ms) → engine_timings in ns; x-prompt-tokens → input
// tokens, x-generated-tokens when the body has no details; the text counts as one chunk at
// the time the body completed (TTFT equals E2E).
//
// Thread-safety: immutable after construction; parsers are per request.
#ifndef LLMBENCH_ENGINES_TGI_PROTOCOL_H_
#define LLMBENCH_ENGINES_TGI_PROTOCOL_H_

#include <memory>
#include <string>

#include "engines/engine_protocol.h"
#include "engines/protocol_util.h"

namespace llmbench::engines {

class TgiProtocol : public EngineProtocol {
 public:
  TgiProtocol(const llmbench::v1::Engine& engine, const llmbench::v1::Generation& generation);

  HttpRequestSpec BuildRequest(const llmbench::v1::Prompt& prompt,
                               uint64_t request_id) const override;
  std::unique_ptr<ResponseParser> NewParser(llmbench::v1::RequestRecord* record) const override;
  std::string HealthPath() const override;
  std::string ModelsPath() const override;
  std::string TokenizePath() const override;

 private:
  GenerationSettings generation_;
};

}  // namespace llmbench::engines

#endif  // LLMBENCH_ENGINES_TGI_PROTOCOL_H_
