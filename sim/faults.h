// Fault injection's wire side: the engine's error answer for a status_* fault (FaultError),
// the event a stream_error fault ends a stream with, the cut-off event of a malformed fault and
// the size of a huge_line token. Which faults exist, how a request asks for one and how the
// random ones are drawn: sim/sim_config.h and Engine::NextRequestNo; when each fires:
// Session::FireFault.
// Thread-safety: stateless free functions.
#ifndef LLMBENCH_SIM_FAULTS_H_
#define LLMBENCH_SIM_FAULTS_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "sim/sim_config.h"
#include "sim/token_render.h"

namespace llmbench::sim {

// The huge_line fault's token: one event of this many bytes.
inline constexpr size_t kHugeTokenBytes = 10u * 1024 * 1024;

// An error answer: HTTP status, message and the engine's error type.
struct ErrorInfo {
  int status;
  std::string message;
  std::string type;
};

// The error `kind` answers with for HTTP `status` (a status_* fault, or 500 when a stream_error
// fault hits a non-stream request).
ErrorInfo FaultError(EngineKind kind, std::string_view model, int status);

// Appends (unframed) the in-stream error a stream_error fault ends gen's stream with.
void AppendStreamFaultEvent(std::string& b, const Generation& gen);

// Appends (unframed) the truncated event of a malformed fault.
void AppendMalformedEvent(std::string& b, const Generation& gen);

}  // namespace llmbench::sim

#endif  // LLMBENCH_SIM_FAULTS_H_
