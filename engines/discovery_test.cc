#include "engines/discovery.h"

#include <string>

#include "engines/protocol_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace llmbench::engines {
namespace {

using ::llmbench::engines::testing::ReadFixture;
using ::testing::ElementsAre;

TEST(DiscoveryTest, Paths) {
  EXPECT_EQ(HealthPathFor(llmbench::v1::ENGINE_KIND_OLLAMA), "/");
  EXPECT_EQ(HealthPathFor(llmbench::v1::ENGINE_KIND_VLLM), "/health");
  EXPECT_EQ(HealthPathFor(llmbench::v1::ENGINE_KIND_TGI), "/health");
  EXPECT_EQ(HealthPathFor(llmbench::v1::ENGINE_KIND_OPENAI), "/health");
  EXPECT_EQ(ModelsPathFor(llmbench::v1::ENGINE_KIND_OLLAMA), "/api/tags");
  EXPECT_EQ(ModelsPathFor(llmbench::v1::ENGINE_KIND_VLLM), "/v1/models");
  EXPECT_EQ(ModelsPathFor(llmbench::v1::ENGINE_KIND_TGI), "/info");
  EXPECT_EQ(ModelsPathFor(llmbench::v1::ENGINE_KIND_OPENAI), "/v1/models");
  EXPECT_EQ(TokenizePathFor(llmbench::v1::ENGINE_KIND_OLLAMA), "");
  EXPECT_EQ(TokenizePathFor(llmbench::v1::ENGINE_KIND_VLLM), "/tokenize");
  EXPECT_EQ(TokenizePathFor(llmbench::v1::ENGINE_KIND_TGI), "/tokenize");
  EXPECT_EQ(TokenizePathFor(llmbench::v1::ENGINE_KIND_OPENAI), "/tokenize");
}

TEST(DiscoveryTest, ModelIdsFromFixtures) {
  auto ollama = ParseModelIds(llmbench::v1::ENGINE_KIND_OLLAMA, ReadFixture("ollama/tags.json"));
  ASSERT_TRUE(ollama.ok()) << ollama.status();
  EXPECT_THAT(*ollama, ElementsAre("deepseek-r1:latest", "llama3.2:latest"));

  auto vllm = ParseModelIds(llmbench::v1::ENGINE_KIND_VLLM, ReadFixture("vllm/models.json"));
  ASSERT_TRUE(vllm.ok()) << vllm.status();
  EXPECT_THAT(*vllm, ElementsAre("Qwen/Qwen3-4B"));

  auto tgi_info = ParseModelIds(llmbench::v1::ENGINE_KIND_TGI, ReadFixture("tgi/info.json"));
  ASSERT_TRUE(tgi_info.ok()) << tgi_info.status();
  EXPECT_THAT(*tgi_info, ElementsAre("bigscience/bloom-560m"));

  auto tgi_models = ParseModelIds(llmbench::v1::ENGINE_KIND_TGI, ReadFixture("tgi/models.json"));
  ASSERT_TRUE(tgi_models.ok()) << tgi_models.status();
  EXPECT_THAT(*tgi_models, ElementsAre("bigscience/bloom-560m"));

  auto empty = ParseModelIds(llmbench::v1::ENGINE_KIND_OPENAI, "{\"object\":\"list\",\"data\":[]}");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(DiscoveryTest, ModelIdsErrors) {
  auto bad = ParseModelIds(llmbench::v1::ENGINE_KIND_VLLM, "<html>");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message().substr(0, 40), "invalid JSON in model list from /v1/mode");
  auto no_data = ParseModelIds(llmbench::v1::ENGINE_KIND_VLLM, "{\"models\":[]}");
  EXPECT_EQ(no_data.status().message(), "model list from /v1/models: no \"data\" array");
  auto no_models = ParseModelIds(llmbench::v1::ENGINE_KIND_OLLAMA, "{\"data\":[]}");
  EXPECT_EQ(no_models.status().message(), "model list from /api/tags: no \"models\" array");
  auto tgi = ParseModelIds(llmbench::v1::ENGINE_KIND_TGI, "{}");
  EXPECT_EQ(tgi.status().message(), "model list from /info: no \"model_id\" and no \"data\" array");
  auto no_id =
      ParseModelIds(llmbench::v1::ENGINE_KIND_OPENAI, "{\"data\":[{\"object\":\"model\"}]}");
  EXPECT_EQ(no_id.status().message(), "model list from /v1/models: an entry has no string \"id\"");
}

TEST(DiscoveryTest, Health) {
  HealthVerdict ollama =
      InterpretHealth(llmbench::v1::ENGINE_KIND_OLLAMA, 200, "Ollama is running");
  EXPECT_TRUE(ollama.healthy);
  EXPECT_EQ(ollama.detail, "");
  EXPECT_TRUE(InterpretHealth(llmbench::v1::ENGINE_KIND_VLLM, 200, "").healthy);
  EXPECT_TRUE(InterpretHealth(llmbench::v1::ENGINE_KIND_TGI, 200, "").healthy);
  EXPECT_TRUE(InterpretHealth(llmbench::v1::ENGINE_KIND_OPENAI, 200,
                              ReadFixture("llamacpp/health_200.json"))
                  .healthy);

  HealthVerdict loading = InterpretHealth(llmbench::v1::ENGINE_KIND_OPENAI, 503,
                                          ReadFixture("llamacpp/health_503.json"));
  EXPECT_FALSE(loading.healthy);
  EXPECT_EQ(loading.detail, "Loading model");
  HealthVerdict tgi =
      InterpretHealth(llmbench::v1::ENGINE_KIND_TGI, 503, ReadFixture("tgi/health_503.json"));
  EXPECT_FALSE(tgi.healthy);
  EXPECT_EQ(tgi.detail, "unhealthy");
  HealthVerdict vllm = InterpretHealth(llmbench::v1::ENGINE_KIND_VLLM, 503, "");
  EXPECT_FALSE(vllm.healthy);
  EXPECT_EQ(vllm.detail, "HTTP 503 with an empty body");
  HealthVerdict not_ok =
      InterpretHealth(llmbench::v1::ENGINE_KIND_OPENAI, 200, "{\"status\":\"loading\"}");
  EXPECT_FALSE(not_ok.healthy);
  EXPECT_EQ(not_ok.detail, "status \"loading\"");
}

TEST(DiscoveryTest, TokenizeBodies) {
  EXPECT_EQ(BuildTokenizeBody(llmbench::v1::ENGINE_KIND_VLLM, "meta-llama/Llama-3.1-8B-Instruct",
                              "What is generative AI?") + "\n",
            ReadFixture("vllm/tokenize.request.json"));
  EXPECT_EQ(BuildTokenizeBody(llmbench::v1::ENGINE_KIND_TGI, "m", "a \"b\""),
            "{\"inputs\":\"a \\\"b\\\"\"}");
  EXPECT_EQ(BuildTokenizeBody(llmbench::v1::ENGINE_KIND_OPENAI, "m", "Hello world"),
            "{\"content\":\"Hello world\"}");
  EXPECT_EQ(BuildTokenizeBody(llmbench::v1::ENGINE_KIND_OLLAMA, "m", "x"), "");
}

TEST(DiscoveryTest, TokenCounts) {
  auto vllm = ParseTokenCount(llmbench::v1::ENGINE_KIND_VLLM, ReadFixture("vllm/tokenize.json"));
  ASSERT_TRUE(vllm.ok()) << vllm.status();
  EXPECT_EQ(*vllm, 7u);
  auto llamacpp =
      ParseTokenCount(llmbench::v1::ENGINE_KIND_OPENAI, ReadFixture("llamacpp/tokenize.json"));
  ASSERT_TRUE(llamacpp.ok()) << llamacpp.status();
  EXPECT_EQ(*llamacpp, 2u);
  auto ids = ParseTokenCount(llmbench::v1::ENGINE_KIND_OPENAI, "{\"tokens\":[1,2,3]}");
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, 3u);
  auto tgi = ParseTokenCount(
      llmbench::v1::ENGINE_KIND_TGI,
      "[{\"id\":1,\"text\":\"a\",\"start\":0,\"stop\":1},{\"id\":2,\"text\":\"b\",\"start\":1,"
      "\"stop\":2}]");
  ASSERT_TRUE(tgi.ok());
  EXPECT_EQ(*tgi, 2u);
  auto bad = ParseTokenCount(llmbench::v1::ENGINE_KIND_VLLM, "{\"detail\":\"nope\"}");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "tokenize answer from /tokenize: expected a JSON array, \"count\" or a \"tokens\" "
            "array");
}

}  // namespace
}  // namespace llmbench::engines
