// The per-request workload fields the protocols honour (issue 17): a prompt's own max_tokens in
// every request builder, and the reply text kept in the record only when the shard asks for it
// (Generation.reply_text_bytes), bounded and cut on a UTF-8 boundary.
#include <memory>
#include <string>

#include "engines/engine_protocol.h"
#include "engines/protocol_test_util.h"
#include "gtest/gtest.h"

namespace llmbench::engines {
namespace {

using ::llmbench::v1::RequestRecord;
using namespace ::llmbench::engines::testing;  // NOLINT

std::unique_ptr<EngineProtocol> Make(llmbench::v1::EngineKind kind, llmbench::v1::Api api,
                                     uint32_t reply_text_bytes = 0) {
  llmbench::v1::Engine engine;
  engine.set_kind(kind);
  engine.set_model("m");
  engine.set_api(api);
  llmbench::v1::Generation generation;
  generation.set_max_tokens(128);
  generation.set_ignore_eos(true);
  generation.set_reply_text_bytes(reply_text_bytes);
  auto protocol = MakeEngineProtocol(engine, generation);
  EXPECT_TRUE(protocol.ok()) << protocol.status();
  return std::move(protocol).value();
}

llmbench::v1::Prompt PromptWithMax(std::optional<uint32_t> max_tokens) {
  llmbench::v1::Prompt prompt;
  prompt.set_text("hello there");
  if (max_tokens) prompt.set_max_tokens(*max_tokens);
  return prompt;
}

TEST(WorkloadFieldsTest, EachBuilderSendsThePromptsOwnMaxTokens) {
  const auto vllm = Make(llmbench::v1::ENGINE_KIND_VLLM, llmbench::v1::API_COMPLETIONS);
  EXPECT_EQ(vllm->BuildRequest(PromptWithMax(37), 0).body,
            "{\"model\":\"m\",\"prompt\":\"hello there\",\"max_tokens\":37,\"temperature\":0,"
            "\"ignore_eos\":true,\"min_tokens\":37,\"stream\":true,\"stream_options\":"
            "{\"include_usage\":true}}");
  EXPECT_EQ(vllm->BuildRequest(PromptWithMax(std::nullopt), 0).body,
            "{\"model\":\"m\",\"prompt\":\"hello there\",\"max_tokens\":128,\"temperature\":0,"
            "\"ignore_eos\":true,\"min_tokens\":128,\"stream\":true,\"stream_options\":"
            "{\"include_usage\":true}}");
  const auto ollama = Make(llmbench::v1::ENGINE_KIND_OLLAMA, llmbench::v1::API_OLLAMA_GENERATE);
  EXPECT_EQ(ollama->BuildRequest(PromptWithMax(5), 0).body,
            "{\"model\":\"m\",\"prompt\":\"hello there\",\"stream\":true,\"options\":"
            "{\"num_predict\":5,\"temperature\":0}}");
  const auto tgi = Make(llmbench::v1::ENGINE_KIND_TGI, llmbench::v1::API_TGI_GENERATE);
  EXPECT_EQ(tgi->BuildRequest(PromptWithMax(900), 0).body,
            "{\"inputs\":\"hello there\",\"parameters\":{\"max_new_tokens\":900,"
            "\"details\":true,\"do_sample\":false}}");
}

TEST(WorkloadFieldsTest, ReplyTextIsNotKeptUnlessAsked) {
  const auto protocol = Make(llmbench::v1::ENGINE_KIND_VLLM, llmbench::v1::API_CHAT_COMPLETIONS);
  const RequestRecord record =
      RunAllChunkings(*protocol, ReadFixture("vllm/chat_stream_usage.sse"));
  EXPECT_EQ(record.error_class(), llmbench::v1::ERROR_CLASS_NONE);
  EXPECT_EQ(record.reply_text(), "");
  EXPECT_FALSE(record.reply_text_truncated());
}

TEST(WorkloadFieldsTest, ReplyTextOfEveryRouteWhenAsked) {
  struct Case {
    llmbench::v1::EngineKind kind;
    llmbench::v1::Api api;
    const char* fixture;
    const char* text;
  };
  const Case cases[] = {
      {llmbench::v1::ENGINE_KIND_VLLM, llmbench::v1::API_CHAT_COMPLETIONS,
       "vllm/chat_stream_usage.sse", "Okay."},
      {llmbench::v1::ENGINE_KIND_VLLM, llmbench::v1::API_COMPLETIONS,
       "vllm/completions_stream_usage.sse", " city in the state"},
      {llmbench::v1::ENGINE_KIND_OLLAMA, llmbench::v1::API_OLLAMA_GENERATE,
       "ollama/generate_stream.ndjson", "That's a fantastic question!"},
      {llmbench::v1::ENGINE_KIND_OLLAMA, llmbench::v1::API_OLLAMA_CHAT, "ollama/chat_stream.ndjson",
       "The sky appears blue"},
      {llmbench::v1::ENGINE_KIND_TGI, llmbench::v1::API_TGI_GENERATE, "tgi/generate_stream.sse",
       " le faire fondre \xC3\xA0 la casserole avec"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.fixture);
    const auto protocol = Make(c.kind, c.api, 1024);
    const RequestRecord record = RunAllChunkings(*protocol, ReadFixture(c.fixture));
    EXPECT_EQ(record.error_class(), llmbench::v1::ERROR_CLASS_NONE) << record.error_message();
    EXPECT_EQ(record.reply_text(), c.text);
    EXPECT_FALSE(record.reply_text_truncated());
  }
}

TEST(WorkloadFieldsTest, ReplyTextIsCutAtTheLimitOnACharacterBoundary) {
  // " le faire fondre à ...": the 18th byte is the second byte of "à" (0xC3 0xA0).
  const auto protocol = Make(llmbench::v1::ENGINE_KIND_TGI, llmbench::v1::API_TGI_GENERATE, 18);
  const RequestRecord record = RunAllChunkings(*protocol, ReadFixture("tgi/generate_stream.sse"));
  EXPECT_EQ(record.reply_text(), " le faire fondre ");
  EXPECT_TRUE(record.reply_text_truncated());
  const auto wide = Make(llmbench::v1::ENGINE_KIND_TGI, llmbench::v1::API_TGI_GENERATE, 19);
  EXPECT_EQ(RunAllChunkings(*wide, ReadFixture("tgi/generate_stream.sse")).reply_text(),
            " le faire fondre \xC3\xA0");
}

TEST(WorkloadFieldsTest, ReplyTextOfNonStreamedBodies) {
  llmbench::v1::Generation generation;
  generation.set_stream(false);
  generation.set_reply_text_bytes(1024);
  llmbench::v1::Engine engine;
  engine.set_kind(llmbench::v1::ENGINE_KIND_TGI);
  engine.set_api(llmbench::v1::API_TGI_GENERATE);
  auto plain = MakeEngineProtocol(engine, generation);
  ASSERT_TRUE(plain.ok());
  const RequestRecord record = RunAllChunkings(**plain, ReadFixture("tgi/generate.json"));
  EXPECT_EQ(record.reply_text(), " le faire fondre \xC3\xA0 la casserole avec");
}

}  // namespace
}  // namespace llmbench::engines
