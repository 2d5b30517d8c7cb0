// Validation of a (defaulted) scenario: the range table (one rule per proto field, wherever
// the field appears) and the cross-field rules (engines and their routes, prompts and dataset
// files, load, trace replay, multi-turn, run labels). The first problem found comes back as an
// InvalidArgument `FILE:LINE:COL: FIELD.PATH: REASON` when a source map is given, else
// `FIELD.PATH: REASON`.
//
// Thread-safety: free functions without shared state; safe to call from any thread.
#ifndef LLMBENCH_COORDINATOR_SCENARIO_VALIDATE_H_
#define LLMBENCH_COORDINATOR_SCENARIO_VALIDATE_H_

#include <string>

#include "absl/status/status.h"
#include "coordinator/scenario_source_map.h"
#include "llmbench/v1/scenario.pb.h"

namespace llmbench::coordinator {

struct ValidateOptions {
  // Folder that relative dataset paths are resolved against ("" = the current directory).
  std::string base_dir;
  // Positions for error messages; nullptr gives "PATH: REASON" messages.
  const ScenarioSourceMap* source = nullptr;
  // Check that a dataset file can be opened.
  bool check_files = true;
};

// Checks ranges and cross-field rules of a (defaulted) scenario; the first problem found.
absl::Status ValidateScenario(const llmbench::v1::Scenario& scenario,
                              const ValidateOptions& options = {});

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_SCENARIO_VALIDATE_H_
