// What a run of a scenario would do, in words, computed without contacting anything: the
// prompts (lengths as the words rule or a local tokenizer.json count them; an engine's tokenize
// route is used only at run time), the shards each of `workers` workers would get, and the
// arrival schedule's first `seconds` and totals. `llmbench validate` prints it
// (coordinator/cli_validate.h).
//
// Thread-safety: a free function without shared state.
#ifndef LLMBENCH_COORDINATOR_RUN_PLAN_H_
#define LLMBENCH_COORDINATOR_RUN_PLAN_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "llmbench/v1/scenario.pb.h"

namespace llmbench::coordinator {

// Errors: a scenario that cannot be sharded or planned (its dataset, its tokenizer.json).
absl::StatusOr<std::string> DescribePlan(const llmbench::v1::Scenario& scenario,
                                         const std::string& base_dir, uint32_t workers,
                                         uint32_t seconds);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_RUN_PLAN_H_
