// The simulator's configuration (what the command line sets) and the small parsers for its
// structured flag values: --listen KIND=HOST:PORT, --fault KIND and the per-request
// `x-llmbench-fault: KIND[;after=N]` header.
// Thread-safety: plain values; the parsers are stateless.
#ifndef LLMBENCH_SIM_SIM_CONFIG_H_
#define LLMBENCH_SIM_SIM_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "sim/batch_scheduler.h"
#include "sim/sim_vocab.h"

namespace llmbench::sim {

enum class EngineKind { kOllama, kVllm, kTgi };
std::string_view EngineKindName(EngineKind kind);

struct ListenSpec {
  EngineKind kind = EngineKind::kVllm;
  std::string host = "127.0.0.1";
  uint16_t port = 8000;
};

enum class FaultKind {
  kNone,
  kStatus400,
  kStatus404,
  kStatus422,
  kStatus429,
  kStatus500,
  kStatus503,
  kStreamError,
  kReset,
  kStall,
  kMalformed,
  kSplitUtf8,
  kHugeLine,
};

struct FaultSpec {
  FaultKind kind = FaultKind::kNone;
  int after = 2;  // tokens sent before a mid-stream fault
};

struct SimConfig {
  std::vector<ListenSpec> listens;
  std::string model = "sim-model";
  LatencyParams latency;
  int natural_tokens = 0;
  int max_model_len = 4096;
  double fault_rate = 0;
  std::vector<FaultKind> fault_kinds;  // empty = all kinds
  int threads = 1;
  bool reuse_port = false;  // SO_REUSEPORT on the listeners (several processes, one port)
  std::string log_level = "warn";
  TokenRule token_rule = TokenRule::kWords;  // --tokenizer words|subword4
};

// "vllm=127.0.0.1:8000" → ListenSpec. Error names what was wrong.
absl::StatusOr<ListenSpec> ParseListenSpec(std::string_view text);
// "status_503" → kStatus503 etc.
absl::StatusOr<FaultKind> ParseFaultKind(std::string_view text);
// "reset" or "reset;after=5" (whitespace around parts is ignored).
absl::StatusOr<FaultSpec> ParseFaultHeader(std::string_view text);
std::string_view FaultKindName(FaultKind kind);
// The HTTP status of a status_* fault, 0 for the others.
int FaultStatus(FaultKind kind);
// Every injectable kind, in declaration order.
const std::vector<FaultKind>& AllFaultKinds();

}  // namespace llmbench::sim

#endif  // LLMBENCH_SIM_SIM_CONFIG_H_
