// coordinator::CheckEngine (the pre-run health/model check) against a real llmbench-sim. The
// sim's Ollama personality answers like real Ollama: GET /health is 404 ("404 page not
// found"), GET /v1/models lists the model. A generic OpenAI-compatible server has no /health
// (Ollama's /v1, llama-cpp-python: found by tests/real_engines), so for kind `openai` the model
// list stands in as the health probe; other kinds keep /health strict.
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
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
  const llmbench::v1::Engine engine = Engine(llmbench::v1::ENGINE_KIND_VLLM, "");
  EngineReport report = CheckEngine(engine);
  EXPECT_TRUE(report.reachable);
  EXPECT_FALSE(report.healthy);
  EXPECT_EQ(report.health_detail, "GET /health answered HTTP 404: 404 page not found");
  // ... and the server answers Ollama's routes: the report says so.
  EXPECT_EQ(report.likely_kind, llmbench::v1::ENGINE_KIND_OLLAMA);
  EXPECT_EQ(report.kind_hint,
            "this looks like an Ollama server: try --engine ollama (kind: ollama in a scenario "
            "file)");
  EXPECT_EQ(RequireReady(report, engine).message(),
            absl::StrCat("engine e at ", sim_->BaseUrl("ollama"),
                         " is not healthy: GET /health answered HTTP 404: 404 page not found; "
                         "this looks like an Ollama server: try --engine ollama (kind: ollama in "
                         "a scenario file)"));
  EXPECT_FALSE(EngineReady(report));
}

// The probe finds the first other kind whose own routes answer; none for a path that 404s
// everything.
TEST_F(EngineCheckTest, ProbeEngineKindFindsOllama) {
  ASSERT_NE(sim_, nullptr);
  const llmbench::v1::Engine engine = Engine(llmbench::v1::ENGINE_KIND_TGI, "");
  EXPECT_EQ(ProbeEngineKind(engine, llmbench::v1::ENGINE_KIND_TGI, 5000),
            llmbench::v1::ENGINE_KIND_OLLAMA);
  // Without Ollama, its /v1 routes still make it an OpenAI-compatible server.
  EXPECT_EQ(ProbeEngineKind(engine, llmbench::v1::ENGINE_KIND_OLLAMA, 5000),
            llmbench::v1::ENGINE_KIND_OPENAI);
  EXPECT_EQ(ProbeEngineKind(Engine(llmbench::v1::ENGINE_KIND_TGI, "/nothing"),
                            llmbench::v1::ENGINE_KIND_TGI, 5000),
            std::nullopt);
}

// A healthy engine that does not list the model: not ready, the model named, no kind hint.
TEST_F(EngineCheckTest, MissingModelIsNotReady) {
  ASSERT_NE(sim_, nullptr);
  llmbench::v1::Engine engine = Engine(llmbench::v1::ENGINE_KIND_OLLAMA, "");
  engine.set_model("not-here");
  EngineReport report = CheckEngine(engine);
  EXPECT_TRUE(report.healthy);
  EXPECT_FALSE(report.model_served);
  EXPECT_EQ(report.kind_hint, "");
  EXPECT_FALSE(EngineReady(report));
  EXPECT_EQ(RequireReady(report, engine).message(),
            absl::StrCat("engine e at ", sim_->BaseUrl("ollama"),
                         " does not serve model \"not-here\" (it lists: sim-model)"));
  EXPECT_EQ(FormatEngineReport(report),
            absl::StrCat("e  ", sim_->BaseUrl("ollama"),
                         "\n"
                         "  health:  ok\n"
                         "  version: 0.12.6\n"
                         "  models:  sim-model\n"
                         "  model:   MISSING: \"not-here\" is not among the engine's models\n"));
  engine.set_model("sim-model");
  EXPECT_TRUE(EngineReady(CheckEngine(engine)));
}

}  // namespace
}  // namespace llmbench::coordinator
