// `--repeat K`: runs the same scenario K times (RunScenario), each into OUT/run-<i>/, then
// summarizes the headline metrics across the runs (repeat.h) into OUT/repeat.json.
//
// Thread-safety: call from one thread (RunScenario's contract).
#ifndef LLMBENCH_COORDINATOR_DISPATCH_REPEAT_H_
#define LLMBENCH_COORDINATOR_DISPATCH_REPEAT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/dispatch.h"
#include "llmbench/v1/result.pb.h"
#include "llmbench/v1/scenario.pb.h"

namespace llmbench::coordinator {

struct RepeatOutcome {
  llmbench::v1::RepeatSummary summary;
  std::vector<RunOutcome> runs;
  std::string out_dir;
  int exit_status = 0;  // the first non-zero exit status of the runs, else 0
  std::string exit_reason;
};

// REQUIRES: repeats >= 1; not a sweep; `scenario` is resolved (RunScenario's contract,
// dispatch.h): each run's copy differs only in outputs.dir and is not validated again.
// Prints each run's summary unless options.quiet.
absl::StatusOr<RepeatOutcome> RunRepeated(const llmbench::v1::Scenario& scenario,
                                          const RunOptions& options, int repeats);

// Prints the repeat table, warnings, where repeat.json is and the exit reason.
void PrintRepeatOutcome(const RepeatOutcome& outcome);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_DISPATCH_REPEAT_H_
