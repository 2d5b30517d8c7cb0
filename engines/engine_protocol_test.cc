#include "engines/engine_protocol.h"

#include <string>

#include "gtest/gtest.h"
#include "llmbench/v1/worker.pb.h"

namespace llmbench::engines {
namespace {

llmbench::v1::Engine MakeEngine(llmbench::v1::EngineKind kind, llmbench::v1::Api api,
                                std::string model = "m") {
  llmbench::v1::Engine engine;
  engine.set_name("e1");
  engine.set_kind(kind);
  engine.set_api(api);
  engine.set_model(std::move(model));
  return engine;
}

std::string PathFor(llmbench::v1::EngineKind kind, llmbench::v1::Api api) {
  auto protocol = MakeEngineProtocol(MakeEngine(kind, api), {});
  EXPECT_TRUE(protocol.ok()) << protocol.status();
  if (!protocol.ok()) return "";
  return (*protocol)->BuildRequest(llmbench::v1::Prompt(), 1).path;
}

TEST(MakeEngineProtocolTest, DefaultApiPerKind) {
  EXPECT_EQ(PathFor(llmbench::v1::ENGINE_KIND_OLLAMA, llmbench::v1::API_UNSPECIFIED),
            "/api/generate");
  EXPECT_EQ(PathFor(llmbench::v1::ENGINE_KIND_TGI, llmbench::v1::API_UNSPECIFIED),
            "/generate_stream");
  EXPECT_EQ(PathFor(llmbench::v1::ENGINE_KIND_VLLM, llmbench::v1::API_UNSPECIFIED),
            "/v1/chat/completions");
  EXPECT_EQ(PathFor(llmbench::v1::ENGINE_KIND_OPENAI, llmbench::v1::API_UNSPECIFIED),
            "/v1/chat/completions");
}

TEST(MakeEngineProtocolTest, EverySupportedCombination) {
  EXPECT_EQ(PathFor(llmbench::v1::ENGINE_KIND_OLLAMA, llmbench::v1::API_OLLAMA_CHAT), "/api/chat");
  EXPECT_EQ(PathFor(llmbench::v1::ENGINE_KIND_OLLAMA, llmbench::v1::API_COMPLETIONS),
            "/v1/completions");
  EXPECT_EQ(PathFor(llmbench::v1::ENGINE_KIND_OLLAMA, llmbench::v1::API_CHAT_COMPLETIONS),
            "/v1/chat/completions");
  EXPECT_EQ(PathFor(llmbench::v1::ENGINE_KIND_VLLM, llmbench::v1::API_COMPLETIONS),
            "/v1/completions");
  EXPECT_EQ(PathFor(llmbench::v1::ENGINE_KIND_TGI, llmbench::v1::API_CHAT_COMPLETIONS),
            "/v1/chat/completions");
  EXPECT_EQ(PathFor(llmbench::v1::ENGINE_KIND_TGI, llmbench::v1::API_COMPLETIONS),
            "/v1/completions");
  EXPECT_EQ(PathFor(llmbench::v1::ENGINE_KIND_OPENAI, llmbench::v1::API_COMPLETIONS),
            "/v1/completions");
}

TEST(MakeEngineProtocolTest, ImpossibleCombinationsAreInvalidArgument) {
  struct Case {
    llmbench::v1::EngineKind kind;
    llmbench::v1::Api api;
    std::string message;
  };
  const Case cases[] = {
      {llmbench::v1::ENGINE_KIND_VLLM, llmbench::v1::API_OLLAMA_CHAT,
       "engine \"e1\": api ollama_chat (/api/chat) does not exist on a vllm engine; vllm serves "
       "completions and chat_completions"},
      {llmbench::v1::ENGINE_KIND_OLLAMA, llmbench::v1::API_TGI_GENERATE,
       "engine \"e1\": api tgi_generate (/generate_stream) does not exist on a ollama engine; "
       "ollama serves ollama_generate, ollama_chat, completions and chat_completions"},
      {llmbench::v1::ENGINE_KIND_VLLM, llmbench::v1::API_TGI_GENERATE,
       "engine \"e1\": api tgi_generate (/generate_stream) does not exist on a vllm engine; vllm "
       "serves completions and chat_completions"},
      {llmbench::v1::ENGINE_KIND_TGI, llmbench::v1::API_OLLAMA_GENERATE,
       "engine \"e1\": api ollama_generate (/api/generate) does not exist on a tgi engine; tgi "
       "serves tgi_generate, completions and chat_completions"},
      {llmbench::v1::ENGINE_KIND_OPENAI, llmbench::v1::API_OLLAMA_GENERATE,
       "engine \"e1\": api ollama_generate (/api/generate) does not exist on a openai engine; "
       "openai serves completions and chat_completions"},
      {llmbench::v1::ENGINE_KIND_UNSPECIFIED, llmbench::v1::API_CHAT_COMPLETIONS,
       "engine \"e1\": kind is unspecified or unknown (0); expected ollama, vllm, tgi or openai"},
      {llmbench::v1::ENGINE_KIND_VLLM, static_cast<llmbench::v1::Api>(99),
       "engine \"e1\": unknown api 99"},
  };
  for (const Case& c : cases) {
    auto protocol = MakeEngineProtocol(MakeEngine(c.kind, c.api), {});
    ASSERT_FALSE(protocol.ok());
    EXPECT_EQ(protocol.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(protocol.status().message(), c.message);
  }
}

TEST(MakeEngineProtocolTest, ModelIsRequiredExceptForTgi) {
  auto vllm = MakeEngineProtocol(
      MakeEngine(llmbench::v1::ENGINE_KIND_VLLM, llmbench::v1::API_UNSPECIFIED, ""), {});
  ASSERT_FALSE(vllm.ok());
  EXPECT_EQ(vllm.status().message(),
            "engine \"e1\": model is empty; a vllm engine needs the model name in every request");
  EXPECT_TRUE(MakeEngineProtocol(
                  MakeEngine(llmbench::v1::ENGINE_KIND_TGI, llmbench::v1::API_UNSPECIFIED, ""), {})
                  .ok());
}

}  // namespace
}  // namespace llmbench::engines
