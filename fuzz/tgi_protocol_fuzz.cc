// Fuzz target: TGI's native routes (/generate_stream SSE, /generate JSON).
#include "fuzz/fuzz_targets.h"
#include "fuzz/protocol_fuzz_common.h"

namespace llmbench::fuzz {

int FuzzTgiProtocol(const uint8_t* data, size_t size) {
  if (size < kProtocolHeaderBytes) return 0;
  llmbench::v1::Engine engine;
  engine.set_name("fuzz");
  engine.set_kind(llmbench::v1::ENGINE_KIND_TGI);
  engine.set_api(llmbench::v1::API_TGI_GENERATE);
  RunProtocolInput(engine, data, size);
  return 0;
}

}  // namespace llmbench::fuzz
