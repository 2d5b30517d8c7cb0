#include "engines/tgi_protocol.h"

#include <memory>
#include <string>

#include "engines/protocol_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace llmbench::engines {
namespace {

using ::llmbench::v1::RequestRecord;
using ::testing::ElementsAreArray;
using namespace ::llmbench::engines::testing;  // NOLINT

std::unique_ptr<EngineProtocol> MakeTgi(llmbench::v1::Generation generation = {}) {
  llmbench::v1::Engine engine;
  engine.set_kind(llmbench::v1::ENGINE_KIND_TGI);
  auto protocol = MakeEngineProtocol(engine, generation);
  EXPECT_TRUE(protocol.ok()) << protocol.status();
  return std::move(protocol).value();
}

std::unique_ptr<EngineProtocol> MakeTgiNonStream() {
  llmbench::v1::Generation generation;
  generation.set_stream(false);
  return MakeTgi(generation);
}

TEST(TgiProtocolTest, GenerateStreamFixture) {
  const std::string body = ReadFixture("tgi/generate_stream.sse");
  const RequestRecord record = RunAllChunkings(*MakeTgi(), body);
  EXPECT_EQ(record.error_class(), llmbench::v1::ERROR_CLASS_NONE) << record.error_message();
  EXPECT_EQ(record.content_chunks(), 10u);
  EXPECT_THAT(Offsets(record), ElementsAreArray(EventEndOffsets(body, "\n\n")));
  EXPECT_EQ(record.output_tokens_reported(), 10u);
  EXPECT_EQ(record.output_tokens(), 10u);
  EXPECT_EQ(record.output_token_source(), llmbench::v1::TOKEN_SOURCE_ENGINE);
  EXPECT_EQ(record.input_tokens(), 11u);
  EXPECT_EQ(record.finish_reason(), "length");
  EXPECT_EQ(record.bytes_received(), body.size());
}

TEST(TgiProtocolTest, InBandValidationErrorIsHttp4xx) {
  const std::string body = ReadFixture("tgi/generate_stream_error_validation.sse");
  const RequestRecord record = RunAllChunkings(*MakeTgi(), body);
  EXPECT_EQ(record.http_status(), 200u);
  EXPECT_EQ(record.error_class(), llmbench::v1::ERROR_CLASS_HTTP_4XX);
  EXPECT_EQ(record.error_message(),
            "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 2048. Given: "
            "11 `inputs` tokens and 5000 `max_new_tokens`");
  EXPECT_EQ(record.content_chunks(), 0u);
  EXPECT_EQ(record.output_token_source(), llmbench::v1::TOKEN_SOURCE_CHUNKS);
}

TEST(TgiProtocolTest, InBandErrorTypes) {
  const std::string first =
      "data:{\"index\":1,\"token\":{\"id\":1,\"text\":\"a\",\"logprob\":-1.1920929e-7,"
      "\"special\":false},\"generated_text\":null,\"details\":null}\n\n";
  struct Case {
    std::string event;
    llmbench::v1::ErrorClass error_class;
    std::string message;
  };
  const Case cases[] = {
      {"data:{\"error\":\"Model is overloaded\",\"error_type\":\"overloaded\"}\n\n",
       llmbench::v1::ERROR_CLASS_OVERLOADED, "Model is overloaded"},
      {"data:{\"error\":\"CUDA out of memory\",\"error_type\":\"generation\"}\n\n",
       llmbench::v1::ERROR_CLASS_STREAM_BROKEN, "CUDA out of memory"},
      {"data:{\"error\":\"Incomplete generation\",\"error_type\":\"incomplete_generation\"}\n\n",
       llmbench::v1::ERROR_CLASS_STREAM_BROKEN, "Incomplete generation"},
  };
  for (const Case& c : cases) {
    const RequestRecord record = RunAllChunkings(*MakeTgi(), first + c.event);
    EXPECT_EQ(record.error_class(), c.error_class);
    EXPECT_EQ(record.error_message(), c.message);
    EXPECT_EQ(record.content_chunks(), 1u);
  }
}

TEST(TgiProtocolTest, SpecialAndSplitUtf8TokensAreTokensButNotContent) {
  const std::string body =
      ":\n\n"  // axum keep-alive
      "data:{\"index\":1,\"token\":{\"id\":5,\"text\":\"\",\"logprob\":0.0,\"special\":false},"
      "\"generated_text\":null,\"details\":null}\n\n"
      "data:{\"index\":2,\"token\":{\"id\":6,\"text\":\"\xE6\x97\xA5\",\"logprob\":null,"
      "\"special\":false},\"generated_text\":null,\"details\":null}\n\n"
      "data:{\"index\":3,\"token\":{\"id\":2,\"text\":\"</s>\",\"logprob\":-0.1,\"special\":true},"
      "\"generated_text\":\"\xE6\x97\xA5\",\"details\":null}\n\n";
  const RequestRecord record = RunAllChunkings(*MakeTgi(), body);
  EXPECT_EQ(record.error_class(), llmbench::v1::ERROR_CLASS_NONE) << record.error_message();
  EXPECT_EQ(record.content_chunks(), 1u);
  EXPECT_THAT(Offsets(record), ElementsAreArray(Select(EventEndOffsets(body, "\n\n"), {2})));
  // No details requested: one event per generated token.
  EXPECT_EQ(record.output_tokens(), 3u);
  EXPECT_EQ(record.output_token_source(), llmbench::v1::TOKEN_SOURCE_ENGINE);
  EXPECT_FALSE(record.has_input_tokens());
  EXPECT_EQ(record.finish_reason(), "");
}

TEST(TgiProtocolTest, StreamWithoutGeneratedTextIsBroken) {
  const std::string full = ReadFixture("tgi/generate_stream.sse");
  const std::string body = full.substr(0, full.rfind("data:"));
  const RequestRecord record = RunAllChunkings(*MakeTgi(), body);
  EXPECT_EQ(record.error_class(), llmbench::v1::ERROR_CLASS_STREAM_BROKEN);
  EXPECT_EQ(record.error_message(), "stream ended before the final event with generated_text");
  EXPECT_EQ(record.content_chunks(), 9u);
  EXPECT_EQ(record.output_tokens(), 9u);
  EXPECT_EQ(record.output_token_source(), llmbench::v1::TOKEN_SOURCE_CHUNKS);

  const RequestRecord empty = RunParser(*MakeTgi(), "", Chunking::kWhole);
  EXPECT_EQ(empty.error_class(), llmbench::v1::ERROR_CLASS_STREAM_BROKEN);
  EXPECT_EQ(empty.error_message(), "stream ended before the final event with generated_text");
}

TEST(TgiProtocolTest, InvalidJsonAndOverlongLines) {
  const RequestRecord bad = RunAllChunkings(*MakeTgi(), "data:{\"index\":1,\"token\":\n\n");
  EXPECT_EQ(bad.error_class(), llmbench::v1::ERROR_CLASS_PARSE);
  EXPECT_EQ(bad.error_message().rfind("invalid JSON in SSE event: ", 0), 0u) << bad.error_message();
  std::string huge = "data:{\"index\":1,\"token\":{\"text\":\"";
  huge.append(10 << 20, 'y');
  huge.append("\"}}\n\n");
  const RequestRecord over = RunParser(*MakeTgi(), huge, Chunking::kRandom);
  EXPECT_EQ(over.error_class(), llmbench::v1::ERROR_CLASS_PARSE);
  EXPECT_EQ(over.error_message(), "framing error: SSE line exceeds 1048576 bytes");
}

HeaderList ParseHeaderFixture(const std::string& text) {
  HeaderList headers;
  size_t pos = text.find('\n') + 1;  // skip the status line
  while (pos < text.size()) {
    const size_t end = text.find('\n', pos);
    const std::string line = text.substr(pos, end - pos);
    pos = end == std::string::npos ? text.size() : end + 1;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    headers.emplace_back(line.substr(0, colon),
                         std::string(StripWhitespace(line.substr(colon + 1))));
  }
  return headers;
}

TEST(TgiProtocolTest, NonStreamGenerateWithTimingHeaders) {
  const std::string body = ReadFixture("tgi/generate.json");
  FeedOptions options;
  options.headers = ParseHeaderFixture(ReadFixture("tgi/generate.headers"));
  ASSERT_EQ(options.headers.size(), 13u);
  const RequestRecord record = RunAllChunkings(*MakeTgiNonStream(), body, options);
  EXPECT_EQ(record.error_class(), llmbench::v1::ERROR_CLASS_NONE) << record.error_message();
  EXPECT_EQ(record.content_chunks(), 1u);
  EXPECT_THAT(Offsets(record), ElementsAreArray({kNsPerByte * static_cast<int64_t>(body.size())}));
  EXPECT_EQ(record.output_tokens(), 10u);
  EXPECT_EQ(record.output_token_source(), llmbench::v1::TOKEN_SOURCE_ENGINE);
  EXPECT_EQ(record.input_tokens(), 11u);  // x-prompt-tokens: details has no input_length here
  EXPECT_EQ(record.finish_reason(), "length");
  const auto& t = record.engine_timings();
  EXPECT_EQ(t.queue_time_ns(), 0);
  EXPECT_TRUE(t.has_queue_time_ns());
  EXPECT_EQ(t.inference_time_ns(), 349'000'000);
  EXPECT_EQ(t.time_per_token_ns(), 34'000'000);
  EXPECT_EQ(t.validation_time_ns(), 1'000'000);
  EXPECT_EQ(t.server_total_time_ns(), 351'000'000);

  // Without details the x-generated-tokens header gives the count.
  const RequestRecord plain = RunAllChunkings(
      *MakeTgiNonStream(), "{\"generated_text\":\" le faire\"}", options);
  EXPECT_EQ(plain.error_class(), llmbench::v1::ERROR_CLASS_NONE);
  EXPECT_EQ(plain.output_tokens(), 10u);
  EXPECT_EQ(plain.output_token_source(), llmbench::v1::TOKEN_SOURCE_ENGINE);
}

TEST(TgiProtocolTest, HttpErrorBodies) {
  struct Case {
    int status;
    std::string body;
    llmbench::v1::ErrorClass error_class;
    std::string message;
  };
  const Case cases[] = {
      {422, ReadFixture("tgi/error_422.json"), llmbench::v1::ERROR_CLASS_HTTP_4XX,
       "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 2048. Given: 11 "
       "`inputs` tokens and 5000 `max_new_tokens`"},
      {429, ReadFixture("tgi/error_429.json"), llmbench::v1::ERROR_CLASS_OVERLOADED,
       "Model is overloaded"},
      {503, ReadFixture("tgi/health_503.json"), llmbench::v1::ERROR_CLASS_HTTP_5XX, "unhealthy"},
      {424, "{\"error\":\"Request failed during generation\",\"error_type\":\"generation\"}",
       llmbench::v1::ERROR_CLASS_HTTP_4XX, "Request failed during generation"},
      {422, "Failed to deserialize the JSON body into the target type: missing field `inputs`",
       llmbench::v1::ERROR_CLASS_HTTP_4XX,
       "Failed to deserialize the JSON body into the target type: missing field `inputs`"},
  };
  for (const Case& c : cases) {
    FeedOptions options;
    options.http_status = c.status;
    const RequestRecord record = RunAllChunkings(*MakeTgiNonStream(), c.body, options);
    EXPECT_EQ(record.error_class(), c.error_class) << c.body;
    EXPECT_EQ(record.error_message(), c.message);
  }
}

llmbench::v1::Prompt MakePrompt(std::string text, std::string system = "") {
  llmbench::v1::Prompt prompt;
  prompt.set_text(std::move(text));
  prompt.set_system(std::move(system));
  return prompt;
}

TEST(TgiProtocolTest, RequestBodies) {
  llmbench::v1::Generation generation;
  generation.set_max_tokens(10);
  generation.set_seed(0);
  generation.set_ignore_eos(true);  // impossible over TGI's HTTP API: never sent
  const HttpRequestSpec greedy =
      MakeTgi(generation)->BuildRequest(MakePrompt("Pour déguster un ortolan"), 1);
  EXPECT_EQ(greedy.method, "POST");
  EXPECT_EQ(greedy.path, "/generate_stream");
  EXPECT_EQ(greedy.body,
            "{\"inputs\":\"Pour déguster un ortolan\",\"parameters\":{\"max_new_tokens\":10,"
            "\"details\":true,\"seed\":0,\"do_sample\":false}}");

  generation.set_temperature(0.6);
  generation.set_stream(false);
  const HttpRequestSpec sampled = MakeTgi(generation)->BuildRequest(MakePrompt("q", "sys"), 1);
  EXPECT_EQ(sampled.path, "/generate");
  EXPECT_EQ(sampled.body,
            "{\"inputs\":\"sys\\n\\nq\",\"parameters\":{\"max_new_tokens\":10,\"details\":true,"
            "\"seed\":0,\"do_sample\":true,\"temperature\":0.6}}");
}

TEST(TgiProtocolTest, DiscoveryPaths) {
  auto protocol = MakeTgi();
  EXPECT_EQ(protocol->HealthPath(), "/health");
  EXPECT_EQ(protocol->ModelsPath(), "/info");
  EXPECT_EQ(protocol->TokenizePath(), "/tokenize");
}

}  // namespace
}  // namespace llmbench::engines
