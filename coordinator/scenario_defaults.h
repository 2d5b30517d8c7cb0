// The scenario's documented defaults (docs/scenario.md): ApplyScenarioDefaults fills every
// unset field, and the constants below are the defaults and bounds other parts fall back on.
//
// Thread-safety: free functions without shared state; safe to call from any thread.
#ifndef LLMBENCH_COORDINATOR_SCENARIO_DEFAULTS_H_
#define LLMBENCH_COORDINATOR_SCENARIO_DEFAULTS_H_

#include <cstdint>

#include "llmbench/v1/scenario.pb.h"

namespace llmbench::coordinator {

// Fills every unset field with its documented default (docs/scenario.md). Idempotent.
void ApplyScenarioDefaults(llmbench::v1::Scenario* scenario);

// Defaults ApplyScenarioDefaults writes (docs/scenario.md) that other parts also fall back on.
// thresholds.max_error_rate: the largest error rate ((failures + requests not run) / (requests
// + requests not run)) a run may have and pass.
inline constexpr double kDefaultMaxErrorRate = 0.05;
// thresholds.engine_down_seconds: an engine whose every request failed to connect for this
// long is declared down.
inline constexpr double kDefaultEngineDownSeconds = 5;
// load.requests (and --requests): at most this many measured requests per engine. The
// coordinator keeps the values exact percentiles need, 56 + 4 x (chunks - 1) bytes per
// request (bench/README.md, "Coordinator merge"): about 3 GB at this bound with 64-chunk
// responses. Longer runs are duration-bounded.
inline constexpr uint64_t kMaxRequests = 10'000'000;
// The prompt part of the above (used by BuildPrompts on its own input).
void ApplyPromptsDefaults(llmbench::v1::Prompts* prompts);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_SCENARIO_DEFAULTS_H_
