// Fuzz target: the OpenAI-compatible routes (/v1/completions, /v1/chat/completions) as vLLM,
// a generic OpenAI server, Ollama /v1 and TGI /v1 serve them.
#include "fuzz/fuzz_targets.h"
#include "fuzz/protocol_fuzz_common.h"

namespace llmbench::fuzz {

int FuzzOpenAiProtocol(const uint8_t* data, size_t size) {
  if (size < kProtocolHeaderBytes) return 0;
  constexpr llmbench::v1::EngineKind kKinds[] = {
      llmbench::v1::ENGINE_KIND_VLLM, llmbench::v1::ENGINE_KIND_OPENAI,
      llmbench::v1::ENGINE_KIND_OLLAMA, llmbench::v1::ENGINE_KIND_TGI};
  llmbench::v1::Engine engine;
  engine.set_name("fuzz");
  engine.set_kind(kKinds[(data[1] >> kModeKindShift) & 3]);
  engine.set_model("m");
  engine.set_api((data[1] & kModeOtherApi) != 0 ? llmbench::v1::API_COMPLETIONS
                                                 : llmbench::v1::API_CHAT_COMPLETIONS);
  RunProtocolInput(engine, data, size);
  return 0;
}

}  // namespace llmbench::fuzz
