// Engine discovery: the health, model-listing and tokenizer routes of each engine kind, and
// parsers for what those routes answer (model ids, health verdict, prompt token counts).
// See shared/engines/PROTOCOLS.md §1.1, §2.1, §3.1, §4.1.
//
// Thread-safe: free functions without state.
#ifndef LLMBENCH_ENGINES_DISCOVERY_H_
#define LLMBENCH_ENGINES_DISCOVERY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "llmbench/v1/scenario.pb.h"

namespace llmbench::engines {

// GET route answering 2xx when the engine serves: ollama "/", vllm/tgi/openai "/health".
std::string HealthPathFor(llmbench::v1::EngineKind kind);
// GET route listing models: ollama "/api/tags", tgi "/info", vllm/openai "/v1/models".
std::string ModelsPathFor(llmbench::v1::EngineKind kind);
// POST route counting prompt tokens: vllm/tgi/openai (llama.cpp) "/tokenize"; "" for ollama,
// which has none.
std::string TokenizePathFor(llmbench::v1::EngineKind kind);

// Model ids from a ModelsPathFor() answer: Ollama tags models[].name, OpenAI-style
// data[].id, TGI /info model_id (an OpenAI-style list is accepted for TGI too).
// InvalidArgument naming what was wrong for bodies of another shape.
absl::StatusOr<std::vector<std::string>> ParseModelIds(llmbench::v1::EngineKind kind,
                                                       std::string_view body);

struct HealthVerdict {
  bool healthy = false;
  // Empty when healthy; otherwise the engine's message (e.g. "Loading model", "unhealthy")
  // or "HTTP N with an empty body".
  std::string detail;
};
// Interprets a HealthPathFor() answer: any 2xx is healthy (Ollama's text, vLLM/TGI empty
// body, llama.cpp {"status":"ok"}); llama.cpp 200 with a status other than "ok" is not.
HealthVerdict InterpretHealth(llmbench::v1::EngineKind kind, int http_status,
                              std::string_view body);

// The JSON body for TokenizePathFor(): vllm {"model","prompt"}, tgi {"inputs"},
// openai/llama.cpp {"content"}. Empty for ollama.
std::string BuildTokenizeBody(llmbench::v1::EngineKind kind, std::string_view model,
                              std::string_view text);

// The token count of a tokenize answer: vLLM `count` (else `tokens` length), TGI array length,
// llama.cpp `tokens` length. InvalidArgument for other shapes.
absl::StatusOr<uint32_t> ParseTokenCount(llmbench::v1::EngineKind kind, std::string_view body);

}  // namespace llmbench::engines

#endif  // LLMBENCH_ENGINES_DISCOVERY_H_
