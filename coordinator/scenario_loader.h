// Scenario loading, the public entry: YAML file -> llmbench.v1.Scenario, defaulted and
// validated. Includes the parts it is built from, so that callers include this header only:
//   scenario_yaml.h       YAML text -> proto, recording positions (scenario_source_map.h)
//   scenario_defaults.h   ApplyScenarioDefaults and the documented defaults
//   scenario_validate.h   ValidateScenario: range table and cross-field rules
//   scenario_yaml_out.h   ScenarioToYaml: the scenario as run, back to YAML
//   scenario_fields.h     EnumYamlName and the path/quoting helpers the others share
//
// The YAML keys are the proto field names (snake_case); enums are written in lower case
// without their prefix (`kind: vllm`, `arrival: poisson`, `api: chat_completions`). The
// mapping is driven by protobuf reflection, so every field of the schema is covered by the
// same code; range checks live in one table keyed by the proto field's full name
// (scenario_validate.cc). docs/scenario.md documents the format and every default.
//
// Every error is an InvalidArgument whose message reads exactly
//   FILE:LINE:COL: FIELD.PATH: REASON        (1-based line and column)
// e.g. `bad.yaml:7:5: load.rate.rps: must be > 0, got -3`. Validation of a scenario built in
// code (no source map) gives `FIELD.PATH: REASON`.
//
// Thread-safety: free functions without shared state; safe to call from any thread.
#ifndef LLMBENCH_COORDINATOR_SCENARIO_LOADER_H_
#define LLMBENCH_COORDINATOR_SCENARIO_LOADER_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "coordinator/scenario_defaults.h"
#include "coordinator/scenario_fields.h"
#include "coordinator/scenario_source_map.h"
#include "coordinator/scenario_validate.h"
#include "coordinator/scenario_yaml.h"
#include "coordinator/scenario_yaml_out.h"
#include "llmbench/v1/scenario.pb.h"

namespace llmbench::coordinator {

// Reads, parses, defaults and validates a scenario file. Dataset paths are relative to the
// file's folder. Fails (InvalidArgument / NotFound) before anything is sent to an engine.
absl::StatusOr<llmbench::v1::Scenario> LoadScenarioFile(const std::string& path);

// Parses YAML text (named `filename` in messages), applies defaults and validates.
absl::StatusOr<llmbench::v1::Scenario> ParseScenarioYaml(std::string_view yaml,
                                                         std::string_view filename,
                                                         const std::string& base_dir);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_SCENARIO_LOADER_H_
