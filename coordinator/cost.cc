#include "coordinator/cost.h"

namespace llmbench::coordinator {

std::optional<v1::Cost> ComputeCost(const v1::Engine& engine, const v1::Aggregates& aggregates) {
  if (!engine.has_price_per_hour()) return std::nullopt;
  v1::Cost cost;
  const double per_second = engine.price_per_hour() / 3600.0;
  cost.set_price_per_hour(engine.price_per_hour());
  if (engine.has_gpu_count()) cost.set_gpu_count(engine.gpu_count());
  if (aggregates.output_token_throughput() > 0) {
    cost.set_per_million_output_tokens(per_second / aggregates.output_token_throughput() * 1e6);
  }
  if (aggregates.total_token_throughput() > 0) {
    cost.set_per_million_total_tokens(per_second / aggregates.total_token_throughput() * 1e6);
  }
  if (aggregates.request_throughput() > 0) {
    cost.set_per_request(per_second / aggregates.request_throughput());
  }
  return cost;
}

void AddCosts(v1::RunResult* result) {
  for (v1::EngineResult& e : *result->mutable_engines()) {
    e.clear_cost();
    for (const v1::Engine& engine : result->scenario().engines()) {
      if (engine.name() != e.engine()) continue;
      std::optional<v1::Cost> cost = ComputeCost(engine, e.aggregates());
      if (cost.has_value()) *e.mutable_cost() = *std::move(cost);
      break;
    }
  }
}

bool HasAnyCost(const v1::RunResult& result) {
  for (const v1::EngineResult& e : result.engines()) {
    if (e.has_cost()) return true;
  }
  return false;
}

}  // namespace llmbench::coordinator
