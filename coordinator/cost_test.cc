#include "coordinator/cost.h"

#include <string>

#include "coordinator/exporters.h"
#include "gtest/gtest.h"

namespace llmbench::coordinator {
namespace {

v1::Aggregates Throughputs(double rps, double out_tps, double total_tps) {
  v1::Aggregates a;
  a.set_measured_window_s(10);
  a.set_request_throughput(rps);
  a.set_output_token_throughput(out_tps);
  a.set_total_token_throughput(total_tps);
  return a;
}

TEST(CostTest, FromPriceAndThroughput) {
  v1::Engine engine;
  engine.set_price_per_hour(3.6);  // 0.001 per second
  engine.set_gpu_count(2);
  std::optional<v1::Cost> cost = ComputeCost(engine, Throughputs(4, 500, 2000));
  ASSERT_TRUE(cost.has_value());
  EXPECT_DOUBLE_EQ(cost->price_per_hour(), 3.6);
  EXPECT_EQ(cost->gpu_count(), 2u);
  // 0.001 / 500 tokens/s * 1e6 = 2 per million output tokens.
  EXPECT_DOUBLE_EQ(cost->per_million_output_tokens(), 2.0);
  EXPECT_DOUBLE_EQ(cost->per_million_total_tokens(), 0.5);
  EXPECT_DOUBLE_EQ(cost->per_request(), 0.00025);
}

TEST(CostTest, AbsentWithoutPriceOrThroughput) {
  v1::Engine engine;
  EXPECT_FALSE(ComputeCost(engine, Throughputs(4, 500, 2000)).has_value());
  engine.set_price_per_hour(0);  // free: every cost is 0
  std::optional<v1::Cost> free_cost = ComputeCost(engine, Throughputs(4, 500, 2000));
  ASSERT_TRUE(free_cost.has_value());
  EXPECT_DOUBLE_EQ(free_cost->per_request(), 0);
  engine.set_price_per_hour(10);
  std::optional<v1::Cost> idle = ComputeCost(engine, v1::Aggregates());
  ASSERT_TRUE(idle.has_value());
  EXPECT_FALSE(idle->has_gpu_count());
  EXPECT_FALSE(idle->has_per_million_output_tokens());
  EXPECT_FALSE(idle->has_per_million_total_tokens());
  EXPECT_FALSE(idle->has_per_request());
}

v1::RunResult TwoEngines() {
  v1::RunResult r;
  v1::Engine* a = r.mutable_scenario()->add_engines();
  a->set_name("a");
  a->set_price_per_hour(7.2);
  r.mutable_scenario()->add_engines()->set_name("b");
  v1::EngineResult* ea = r.add_engines();
  ea->set_engine("a");
  *ea->mutable_aggregates() = Throughputs(2, 1000, 4000);
  v1::EngineResult* eb = r.add_engines();
  eb->set_engine("b");
  *eb->mutable_aggregates() = Throughputs(1, 100, 400);
  eb->mutable_cost()->set_price_per_hour(1);  // stale: cleared because b has no price
  return r;
}

TEST(CostTest, AddCostsMatchesEnginesByName) {
  v1::RunResult r = TwoEngines();
  AddCosts(&r);
  ASSERT_TRUE(r.engines(0).has_cost());
  EXPECT_DOUBLE_EQ(r.engines(0).cost().per_million_output_tokens(), 2.0);  // 0.002/s / 1000
  EXPECT_DOUBLE_EQ(r.engines(0).cost().per_request(), 0.001);
  EXPECT_FALSE(r.engines(1).has_cost());
  EXPECT_TRUE(HasAnyCost(r));
  EXPECT_FALSE(HasAnyCost(v1::RunResult()));
}

TEST(CostTest, ConsoleSummaryShowsCostColumnsOnlyWithAPrice) {
  v1::RunResult r = TwoEngines();
  AddCosts(&r);
  const std::string with = ConsoleSummary(r);
  EXPECT_NE(with.find("cost/M out tok"), std::string::npos) << with;
  EXPECT_NE(with.find("cost/req"), std::string::npos) << with;
  // Right-aligned under "cost/M out tok" (14 wide), "cost/M tok" (10), "cost/req" (8).
  EXPECT_NE(with.find(std::string(13, ' ') + "2" + std::string(9, ' ') + "0.5" +
                      std::string(5, ' ') + "0.001\n"),
            std::string::npos)
      << with;
  r.mutable_scenario()->mutable_engines(0)->clear_price_per_hour();
  AddCosts(&r);
  const std::string without = ConsoleSummary(r);
  EXPECT_EQ(without.find("cost/"), std::string::npos) << without;
}

}  // namespace
}  // namespace llmbench::coordinator
