// coordinator::CheckEngine (the pre-run health/model check) against a real llmbench-sim. The
// sim's Ollama personality answers like real Ollama: GET /health is 404 ("404 page not
// found"), GET /v1/models lists the model. A generic OpenAI-compatible server has no /health
// (Ollama's /v1, llama-cpp-python: found by tests/real_engines), so for kind `openai` the model
// list stands in as the health probe; other kinds keep /health strict.
#include <memory>
#include <string>

#include "coordinator/engine_check.h"
#include "gtest/gtest.h"
#include "llmbench/v1/scenario.pb.h"
#include "tests/harness/harness.h"

namespace llmbench::coordinator {
namespace {

using llmbench::testing::SimProcess;

class EngineCheckTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    SimProcess::Options options;
    options.kinds = {"ollama"};
    auto sim = SimProcess::Start(options);
    ASSERT_TRUE(sim.ok()) << sim.status();
    sim_ = sim->release();
  }
  static void TearDownTestSuite() {
    delete sim_;
    sim_ = nullptr;
  }

  static llmbench::v1::Engine Engine(llmbench::v1::EngineKind kind, const std::string& suffix) {
    llmbench::v1::Engine engine;
    engine.set_name("e");
    engine.set_kind(kind);
    engine.set_base_url(sim_->BaseUrl("ollama") + suffix);
    engine.set_model("sim-model");
    return engine;
  }

  static inline SimProcess* sim_ = nullptr;
};

TEST_F(EngineCheckTest, OpenAiKindWithoutHealthRouteUsesTheModelList) {
  ASSERT_NE(sim_, nullptr);
  const llmbench::v1::Engine engine = Engine(llmbench::v1::ENGINE_KIND_OPENAI, "");
  EngineReport report = CheckEngine(engine);
  EXPECT_TRUE(report.reachable);
  EXPECT_TRUE(report.healthy) << report.health_detail;
  EXPECT_EQ(report.health_detail, "");
  EXPECT_TRUE(report.model_served);
  EXPECT_TRUE(RequireReady(report, engine).ok()) << RequireReady(report, engine);
}

TEST_F(EngineCheckTest, OpenAiKindWithoutHealthOrModelListIsUnhealthy) {
  ASSERT_NE(sim_, nullptr);
  // Under /nothing both routes are 404.
  const llmbench::v1::Engine engine = Engine(llmbench::v1::ENGINE_KIND_OPENAI, "/nothing");
  EngineReport report = CheckEngine(engine);
  EXPECT_TRUE(report.reachable);
  EXPECT_FALSE(report.healthy);
  EXPECT_EQ(report.health_detail, "no /health route (404) and /v1/models answered HTTP 404");
  EXPECT_FALSE(RequireReady(report, engine).ok());
}

TEST_F(EngineCheckTest, VllmKindStillNeedsItsHealthRoute) {
  ASSERT_NE(sim_, nullptr);
  EngineReport report = CheckEngine(Engine(llmbench::v1::ENGINE_KIND_VLLM, ""));
  EXPECT_TRUE(report.reachable);
  EXPECT_FALSE(report.healthy);
  EXPECT_NE(report.health_detail.find("404"), std::string::npos) << report.health_detail;
}

}  // namespace
}  // namespace llmbench::coordinator
