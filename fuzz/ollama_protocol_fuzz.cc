// Fuzz target: Ollama native protocol (/api/generate, /api/chat NDJSON and JSON bodies).
#include "fuzz/fuzz_targets.h"
#include "fuzz/protocol_fuzz_common.h"

namespace llmbench::fuzz {

int FuzzOllamaProtocol(const uint8_t* data, size_t size) {
  if (size < kProtocolHeaderBytes) return 0;
  llmbench::v1::Engine engine;
  engine.set_name("fuzz");
  engine.set_kind(llmbench::v1::ENGINE_KIND_OLLAMA);
  engine.set_model("m");
  engine.set_api((data[1] & kModeOtherApi) != 0 ? llmbench::v1::API_OLLAMA_CHAT
                                                 : llmbench::v1::API_OLLAMA_GENERATE);
  RunProtocolInput(engine, data, size);
  return 0;
}

}  // namespace llmbench::fuzz
