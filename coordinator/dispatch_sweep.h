// Runs a scenario whose load profile is a capacity sweep (load.sweep): for each engine in
// turn, RunSweepSearch (sweep.h) with probes that are duration-bounded open-loop runs of
// RunScenario at a constant rate, each written to OUT/<engine>/probe-NN-<rps>rps/. OUT gets a
// summary.json whose `sweeps` hold every probe and the knee, and whose engines hold the
// aggregates (and cost) of each engine's knee probe.
//
// Thread-safety: call from one thread (RunScenario's contract).
#ifndef LLMBENCH_COORDINATOR_DISPATCH_SWEEP_H_
#define LLMBENCH_COORDINATOR_DISPATCH_SWEEP_H_

#include "absl/status/statusor.h"
#include "coordinator/dispatch.h"
#include "coordinator/sweep.h"
#include "llmbench/v1/scenario.pb.h"

namespace llmbench::coordinator {

// REQUIRES: scenario.load().has_sweep(); `scenario` is resolved (RunScenario's contract,
// dispatch.h): not validated again. Errors (a probe that could not run) stop the sweep.
absl::StatusOr<RunOutcome> RunSweep(const llmbench::v1::Scenario& scenario,
                                    const RunOptions& options,
                                    const SweepCriteria& criteria = SweepCriteria());

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_DISPATCH_SWEEP_H_
