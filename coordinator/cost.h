// Cost: what the measured throughput costs at each engine's price (Engine.price_per_hour, the
// whole deployment's price per hour; gpu_count is informational and copied into the result).
// Formulas (docs/metrics.md, "Cost"): with price P per hour, cost per second is P / 3600, and
//   per_million_output_tokens = P / 3600 / output_token_throughput * 1e6
//   per_million_total_tokens  = P / 3600 / total_token_throughput * 1e6
//   per_request               = P / 3600 / request_throughput
// Each is absent when its throughput is zero (nothing measured).
//
// Thread-safety: pure functions.
#ifndef LLMBENCH_COORDINATOR_COST_H_
#define LLMBENCH_COORDINATOR_COST_H_

#include <optional>

#include "llmbench/v1/result.pb.h"
#include "llmbench/v1/scenario.pb.h"

namespace llmbench::coordinator {

// The cost of `aggregates` for `engine`; nullopt when the engine has no price.
std::optional<v1::Cost> ComputeCost(const v1::Engine& engine, const v1::Aggregates& aggregates);

// Sets EngineResult.cost for every engine of result->scenario() that has a price (matched by
// name); clears it for the others.
void AddCosts(v1::RunResult* result);

// True when any engine of `result` carries a cost.
bool HasAnyCost(const v1::RunResult& result);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_COST_H_
