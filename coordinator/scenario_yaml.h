// YAML text -> llmbench.v1.Scenario, without defaults or validation: the file-level checks
// (size, UTF-8, one document), the YAML parse, and the reflection-driven mapping of keys onto
// proto fields, recording where each field was written. Every error reads
// `FILE:LINE:COL: FIELD.PATH: REASON` (scenario_loader.h).
//
// Thread-safety: free functions without shared state; safe to call from any thread.
#ifndef LLMBENCH_COORDINATOR_SCENARIO_YAML_H_
#define LLMBENCH_COORDINATOR_SCENARIO_YAML_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "coordinator/scenario_source_map.h"
#include "llmbench/v1/scenario.pb.h"

namespace llmbench::coordinator {

// Largest scenario file accepted (bytes).
inline constexpr std::size_t kMaxScenarioBytes = 16u << 20;

// Maps YAML text (named source->filename() in messages) onto a Scenario, recording each
// field's position in `source`. No defaults, no validation.
absl::StatusOr<llmbench::v1::Scenario> MapScenarioYaml(std::string_view yaml,
                                                       ScenarioSourceMap* source);

// "FILE:LINE:COL: scenario: REASON", for problems with the file as a whole.
std::string ScenarioFileError(std::string_view filename, SourcePosition position,
                              std::string_view reason);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_SCENARIO_YAML_H_
