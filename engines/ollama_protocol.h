// OllamaProtocol: Ollama's native routes, POST /api/generate and POST /api/chat.
// Streams are NDJSON (one JSON object per line); the line with "done":true ends the stream and
// carries the engine's counts and ns durations. Non-stream responses are that final object
// with the whole text. See shared/engines/PROTOCOLS.md §1.
//
// Request body: {"model","prompt"|"messages","stream","options":{"num_predict","temperature",
// ["seed"]}}. Ollama has no ignore_eos/min_tokens, so generation.ignore_eos is not sent;
// num_predict only caps the output (check finish_reason "length").
//
// Thread-safety: immutable after construction; parsers are per request.
#ifndef LLMBENCH_ENGINES_OLLAMA_PROTOCOL_H_
#define LLMBENCH_ENGINES_OLLAMA_PROTOCOL_H_

#include <memory>
#include <string>

#include "engines/engine_protocol.h"
#include "engines/protocol_util.h"

namespace llmbench::engines {

class OllamaProtocol : public EngineProtocol {
 public:
  // REQUIRES: api is API_OLLAMA_GENERATE or API_OLLAMA_CHAT.
  OllamaProtocol(const llmbench::v1::Engine& engine, const llmbench::v1::Generation& generation,
                 llmbench::v1::Api api);

  HttpRequestSpec BuildRequest(const llmbench::v1::Prompt& prompt,
                               uint64_t request_id) const override;
  std::unique_ptr<ResponseParser> NewParser(llmbench::v1::RequestRecord* record) const override;
  std::string HealthPath() const override;
  std::string ModelsPath() const override;
  std::string TokenizePath() const override;

 private:
  std::string model_;
  GenerationSettings generation_;
  bool chat_;
};

}  // namespace llmbench::engines

#endif  // LLMBENCH_ENGINES_OLLAMA_PROTOCOL_H_
