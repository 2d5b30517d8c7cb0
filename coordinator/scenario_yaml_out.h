// A resolved scenario back to YAML: "the scenario as run", written into results and printed by
// `llmbench validate`. Round-trips: ParseScenarioYaml(ScenarioToYaml(s)) equals s for any
// defaulted, valid s.
//
// Thread-safety: free functions without shared state; safe to call from any thread.
#ifndef LLMBENCH_COORDINATOR_SCENARIO_YAML_OUT_H_
#define LLMBENCH_COORDINATOR_SCENARIO_YAML_OUT_H_

#include <string>

#include "llmbench/v1/scenario.pb.h"

namespace llmbench::coordinator {

// The scenario as YAML (written into results as "the scenario as run"). Round-trips:
// ParseScenarioYaml(ScenarioToYaml(s)) equals s for any defaulted, valid s.
std::string ScenarioToYaml(const llmbench::v1::Scenario& scenario);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_SCENARIO_YAML_OUT_H_
