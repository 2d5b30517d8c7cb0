#include "engines/ollama_protocol.h"

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

std::unique_ptr<EngineProtocol> MakeOllama(llmbench::v1::Api api, bool stream = true) {
  llmbench::v1::Engine engine;
  engine.set_kind(llmbench::v1::ENGINE_KIND_OLLAMA);
  engine.set_model("llama3.2");
  engine.set_api(api);
  llmbench::v1::Generation generation;
  generation.set_stream(stream);
  auto protocol = MakeEngineProtocol(engine, generation);
  EXPECT_TRUE(protocol.ok()) << protocol.status();
  return std::move(protocol).value();
}

TEST(OllamaProtocolTest, GenerateStreamFixture) {
  const std::string body = ReadFixture("ollama/generate_stream.ndjson");
  auto protocol = MakeOllama(llmbench::v1::API_OLLAMA_GENERATE);
  const RequestRecord record = RunAllChunkings(*protocol, body);
  EXPECT_EQ(record.error_class(), llmbench::v1::ERROR_CLASS_NONE) << record.error_message();
  EXPECT_EQ(record.error_message(), "");
  EXPECT_EQ(record.http_status(), 200u);
  EXPECT_EQ(record.content_chunks(), 7u);
  const auto line_ends = EventEndOffsets(body, "\n");
  ASSERT_EQ(line_ends.size(), 8u);
  EXPECT_THAT(Offsets(record), ElementsAreArray(Select(line_ends, {0, 1, 2, 3, 4, 5, 6})));
  EXPECT_EQ(record.first_token_ns(), kSentNs + line_ends[0]);
  EXPECT_EQ(record.output_tokens_reported(), 8u);
  EXPECT_EQ(record.output_tokens(), 8u);
  EXPECT_EQ(record.output_token_source(), llmbench::v1::TOKEN_SOURCE_ENGINE);
  EXPECT_EQ(record.input_tokens(), 11u);
  EXPECT_EQ(record.finish_reason(), "stop");
  const auto& t = record.engine_timings();
  EXPECT_EQ(t.total_duration_ns(), 174560334);
  EXPECT_EQ(t.load_duration_ns(), 101397084);
  EXPECT_EQ(t.prompt_eval_duration_ns(), 13074791);
  EXPECT_EQ(t.eval_duration_ns(), 52479709);
  EXPECT_EQ(t.prompt_eval_count(), 11u);
  EXPECT_EQ(t.eval_count(), 8u);
  EXPECT_FALSE(t.has_queue_time_ns());
  EXPECT_EQ(record.bytes_received(), body.size());
}

TEST(OllamaProtocolTest, ChatStreamFixture) {
  const std::string body = ReadFixture("ollama/chat_stream.ndjson");
  auto protocol = MakeOllama(llmbench::v1::API_OLLAMA_CHAT);
  const RequestRecord record = RunAllChunkings(*protocol, body);
  EXPECT_EQ(record.error_class(), llmbench::v1::ERROR_CLASS_NONE) << record.error_message();
  EXPECT_EQ(record.content_chunks(), 4u);
  EXPECT_THAT(Offsets(record), ElementsAreArray(Select(EventEndOffsets(body, "\n"), {0, 1, 2, 3})));
  EXPECT_EQ(record.output_tokens(), 4u);
  EXPECT_EQ(record.output_token_source(), llmbench::v1::TOKEN_SOURCE_ENGINE);
  EXPECT_EQ(record.input_tokens(), 31u);
  EXPECT_EQ(record.finish_reason(), "length");
  EXPECT_EQ(record.engine_timings().total_duration_ns(), 182242375);
  EXPECT_EQ(record.engine_timings().load_duration_ns(), 41295167);
  EXPECT_EQ(record.engine_timings().prompt_eval_duration_ns(), 24573166);
  EXPECT_EQ(record.engine_timings().eval_duration_ns(), 33959084);
}

TEST(OllamaProtocolTest, ErrorLineInsideA200StreamIsStreamBroken) {
  const std::string body = ReadFixture("ollama/stream_error_midstream.ndjson");
  auto protocol = MakeOllama(llmbench::v1::API_OLLAMA_GENERATE);
  const RequestRecord record = RunAllChunkings(*protocol, body);
  EXPECT_EQ(record.error_class(), llmbench::v1::ERROR_CLASS_STREAM_BROKEN);
  EXPECT_EQ(record.error_message(), "an error was encountered while running the model");
  EXPECT_EQ(record.http_status(), 200u);
  EXPECT_EQ(record.content_chunks(), 4u);
  EXPECT_THAT(Offsets(record), ElementsAreArray(Select(EventEndOffsets(body, "\n"), {0, 1, 2, 3})));
  EXPECT_FALSE(record.has_output_tokens_reported());
  EXPECT_EQ(record.output_tokens(), 4u);
  EXPECT_EQ(record.output_token_source(), llmbench::v1::TOKEN_SOURCE_CHUNKS);
}

TEST(OllamaProtocolTest, NonStreamGenerateCountsOneChunkAtTheEndOfTheBody) {
  const std::string body = ReadFixture("ollama/generate.json");
  auto protocol = MakeOllama(llmbench::v1::API_OLLAMA_GENERATE, /*stream=*/false);
  const RequestRecord record = RunAllChunkings(*protocol, body);
  EXPECT_EQ(record.error_class(), llmbench::v1::ERROR_CLASS_NONE) << record.error_message();
  EXPECT_EQ(record.content_chunks(), 1u);
  // No streaming: the first token is known only when the whole body has arrived.
  const int64_t end_offset = kNsPerByte * static_cast<int64_t>(body.size());
  EXPECT_THAT(Offsets(record), ElementsAreArray({end_offset}));
  EXPECT_EQ(record.first_token_ns(), kSentNs + end_offset);
  EXPECT_EQ(record.output_tokens(), 290u);
  EXPECT_EQ(record.output_token_source(), llmbench::v1::TOKEN_SOURCE_ENGINE);
  EXPECT_EQ(record.input_tokens(), 26u);
  EXPECT_EQ(record.finish_reason(), "stop");
  EXPECT_EQ(record.engine_timings().total_duration_ns(), 5043500667);
  EXPECT_EQ(record.engine_timings().eval_duration_ns(), 4709213000);
}

TEST(OllamaProtocolTest, StreamWithoutDoneLineIsBroken) {
  const std::string full = ReadFixture("ollama/generate_stream.ndjson");
  const size_t last_line = full.rfind('\n', full.size() - 2) + 1;
  auto protocol = MakeOllama(llmbench::v1::API_OLLAMA_GENERATE);
  // Cut before the final line, and in the middle of it.
  for (size_t cut : {last_line, last_line + 40}) {
    const RequestRecord record = RunAllChunkings(*protocol, full.substr(0, cut));
    EXPECT_EQ(record.error_class(), llmbench::v1::ERROR_CLASS_STREAM_BROKEN);
    EXPECT_EQ(record.error_message(), "stream ended before the final \"done\":true line");
    EXPECT_EQ(record.content_chunks(), 7u);
    EXPECT_EQ(record.output_tokens(), 7u);
    EXPECT_EQ(record.output_token_source(), llmbench::v1::TOKEN_SOURCE_CHUNKS);
    EXPECT_FALSE(record.has_input_tokens());
  }
}

TEST(OllamaProtocolTest, EmptyBodyWith200IsBroken) {
  auto protocol = MakeOllama(llmbench::v1::API_OLLAMA_GENERATE);
  const RequestRecord record = RunParser(*protocol, "", Chunking::kWhole);
  EXPECT_EQ(record.error_class(), llmbench::v1::ERROR_CLASS_STREAM_BROKEN);
  EXPECT_EQ(record.error_message(), "stream ended before the final \"done\":true line");
  EXPECT_EQ(record.content_chunks(), 0u);
  EXPECT_EQ(record.output_tokens(), 0u);
  EXPECT_EQ(record.output_token_source(), llmbench::v1::TOKEN_SOURCE_CHUNKS);
  EXPECT_FALSE(record.has_first_token_ns());

  auto non_stream = MakeOllama(llmbench::v1::API_OLLAMA_GENERATE, /*stream=*/false);
  const RequestRecord empty = RunParser(*non_stream, "", Chunking::kWhole);
  EXPECT_EQ(empty.error_class(), llmbench::v1::ERROR_CLASS_STREAM_BROKEN);
  EXPECT_EQ(empty.error_message(), "response body is empty");
}

TEST(OllamaProtocolTest, InvalidJsonLineIsParseErrorAndKeepsEarlierChunks) {
  const std::string body =
      "{\"model\":\"m\",\"response\":\"a\",\"done\":false}\n"
      "{\"model\":\"m\",\"response\":\"b\",\"done\":false}\n"
      "{\"model\":\"m\",\"response\":\"c\",\"done\n"
      "{\"model\":\"m\",\"response\":\"d\",\"done\":false}\n";
  auto protocol = MakeOllama(llmbench::v1::API_OLLAMA_GENERATE);
  const RequestRecord record = RunAllChunkings(*protocol, body);
  EXPECT_EQ(record.error_class(), llmbench::v1::ERROR_CLASS_PARSE);
  EXPECT_EQ(record.error_message(),
            std::string("invalid JSON in NDJSON line: ") +
                simdjson::error_message(simdjson::UNCLOSED_STRING));
  EXPECT_EQ(record.content_chunks(), 2u);  // parsing stops at the bad line
  EXPECT_EQ(record.output_tokens(), 2u);
  EXPECT_EQ(record.bytes_received(), body.size());
}

TEST(OllamaProtocolTest, NonObjectLineIsParseError) {
  auto protocol = MakeOllama(llmbench::v1::API_OLLAMA_GENERATE);
  const RequestRecord record = RunAllChunkings(*protocol, "[1,2]\n");
  EXPECT_EQ(record.error_class(), llmbench::v1::ERROR_CLASS_PARSE);
  EXPECT_EQ(record.error_message(), "NDJSON line is not a JSON object");
}

TEST(OllamaProtocolTest, OverlongLineIsParseError) {
  std::string body = "{\"model\":\"m\",\"response\":\"a\",\"done\":false}\n{\"response\":\"";
  body.append(10 << 20, 'x');
  body.append("\",\"done\":false}\n");
  auto protocol = MakeOllama(llmbench::v1::API_OLLAMA_GENERATE);
  for (Chunking chunking : {Chunking::kWhole, Chunking::kRandom}) {
    const RequestRecord record = RunParser(*protocol, body, chunking);
    EXPECT_EQ(record.error_class(), llmbench::v1::ERROR_CLASS_PARSE);
    EXPECT_EQ(record.error_message(), "framing error: NDJSON line exceeds 1048576 bytes");
    EXPECT_EQ(record.content_chunks(), 1u);
    EXPECT_EQ(record.bytes_received(), body.size());
  }
}

TEST(OllamaProtocolTest, LoadLineIsNotATokenAndThinkingIs) {
  auto protocol = MakeOllama(llmbench::v1::API_OLLAMA_GENERATE);
  const RequestRecord load = RunAllChunkings(
      *protocol,
      "{\"model\":\"m\",\"created_at\":\"2025-01-01T00:00:00Z\",\"response\":\"\",\"done\":true,"
      "\"done_reason\":\"load\"}\n");
  EXPECT_EQ(load.error_class(), llmbench::v1::ERROR_CLASS_NONE);
  EXPECT_EQ(load.content_chunks(), 0u);
  EXPECT_EQ(load.finish_reason(), "load");
  EXPECT_FALSE(load.has_first_token_ns());
  // Omitted (omitempty) metrics stay unset.
  EXPECT_FALSE(load.engine_timings().has_eval_count());
  EXPECT_EQ(load.output_token_source(), llmbench::v1::TOKEN_SOURCE_CHUNKS);

  const std::string body =
      "{\"model\":\"m\",\"response\":\"\",\"thinking\":\"hm\",\"done\":false}\n"
      "{\"model\":\"m\",\"response\":\"\",\"done\":false}\n"
      "{\"model\":\"m\",\"response\":\"\\u003c/think\\u003e\",\"done\":false}\n"
      "{\"model\":\"m\",\"response\":\"\",\"done\":true,\"done_reason\":\"stop\","
      "\"eval_count\":3}\n";
  const RequestRecord thinking = RunAllChunkings(*protocol, body);
  EXPECT_EQ(thinking.error_class(), llmbench::v1::ERROR_CLASS_NONE);
  EXPECT_EQ(thinking.content_chunks(), 2u);
  EXPECT_THAT(Offsets(thinking), ElementsAreArray(Select(EventEndOffsets(body, "\n"), {0, 2})));
  EXPECT_EQ(thinking.output_tokens(), 3u);
  EXPECT_FALSE(thinking.has_input_tokens());
}

TEST(OllamaProtocolTest, ChatToolCallsAreContent) {
  auto protocol = MakeOllama(llmbench::v1::API_OLLAMA_CHAT);
  const RequestRecord record = RunAllChunkings(
      *protocol,
      "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"\",\"tool_calls\":"
      "[{\"function\":{\"name\":\"f\",\"arguments\":{}}}]},\"done\":false}\n"
      "{\"model\":\"m\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,"
      "\"done_reason\":\"stop\",\"prompt_eval_count\":5,\"eval_count\":9}\n");
  EXPECT_EQ(record.error_class(), llmbench::v1::ERROR_CLASS_NONE);
  EXPECT_EQ(record.content_chunks(), 1u);
  EXPECT_EQ(record.output_tokens(), 9u);
  EXPECT_EQ(record.input_tokens(), 5u);
}

TEST(OllamaProtocolTest, HttpErrorBodies) {
  auto protocol = MakeOllama(llmbench::v1::API_OLLAMA_GENERATE);
  struct Case {
    int status;
    std::string body;
    llmbench::v1::ErrorClass error_class;
    std::string message;
  };
  const Case cases[] = {
      {404, ReadFixture("ollama/error_404.json"), llmbench::v1::ERROR_CLASS_HTTP_4XX,
       "model 'llama3.2:70b' not found"},
      {503, ReadFixture("ollama/error_503_busy.json"), llmbench::v1::ERROR_CLASS_OVERLOADED,
       "server busy, please try again.  maximum pending requests exceeded"},
      {404, ReadFixture("ollama/error_404_openai.json"), llmbench::v1::ERROR_CLASS_HTTP_4XX,
       "model 'llama3.2:70b' not found"},
      {500, "{\"error\":\"llama runner process has terminated\"}",
       llmbench::v1::ERROR_CLASS_HTTP_5XX, "llama runner process has terminated"},
      {503, "{\"error\":\"model is loading\"}", llmbench::v1::ERROR_CLASS_HTTP_5XX,
       "model is loading"},
      {429, "slow down\n", llmbench::v1::ERROR_CLASS_OVERLOADED, "slow down"},
      {502, "", llmbench::v1::ERROR_CLASS_HTTP_5XX, "HTTP 502 with an empty body"},
      {499, "{\"error\":\"request canceled\"}", llmbench::v1::ERROR_CLASS_HTTP_4XX,
       "request canceled"},
  };
  for (const Case& c : cases) {
    FeedOptions options;
    options.http_status = c.status;
    const RequestRecord record = RunAllChunkings(*protocol, c.body, options);
    EXPECT_EQ(record.http_status(), static_cast<uint32_t>(c.status));
    EXPECT_EQ(record.error_class(), c.error_class) << c.body;
    EXPECT_EQ(record.error_message(), c.message);
    EXPECT_EQ(record.content_chunks(), 0u);
    EXPECT_EQ(record.bytes_received(), c.body.size());
  }
}

TEST(OllamaProtocolTest, TransportErrorKeepsItsClassAndTheMeasurements) {
  const std::string full = ReadFixture("ollama/generate_stream.ndjson");
  const std::string body = full.substr(0, full.find('\n') + 1);
  auto protocol = MakeOllama(llmbench::v1::API_OLLAMA_GENERATE);
  FeedOptions options;
  options.transport_error = {llmbench::v1::ERROR_CLASS_TIMEOUT, "total timeout after 600000 ms"};
  const RequestRecord record = RunAllChunkings(*protocol, body, options);
  EXPECT_EQ(record.error_class(), llmbench::v1::ERROR_CLASS_TIMEOUT);
  EXPECT_EQ(record.error_message(), "total timeout after 600000 ms");
  EXPECT_EQ(record.content_chunks(), 1u);
  EXPECT_EQ(record.output_tokens(), 1u);

  // An engine error seen before the connection dropped stays the outcome.
  options.transport_error = {llmbench::v1::ERROR_CLASS_STREAM_BROKEN, "connection reset"};
  const RequestRecord first_wins =
      RunAllChunkings(*protocol, ReadFixture("ollama/stream_error_midstream.ndjson"), options);
  EXPECT_EQ(first_wins.error_class(), llmbench::v1::ERROR_CLASS_STREAM_BROKEN);
  EXPECT_EQ(first_wins.error_message(), "an error was encountered while running the model");
}

TEST(OllamaProtocolTest, NoStatusLineIsBroken) {
  auto protocol = MakeOllama(llmbench::v1::API_OLLAMA_GENERATE);
  RequestRecord record;
  auto parser = protocol->NewParser(&record);
  parser->Finish({});
  EXPECT_EQ(record.error_class(), llmbench::v1::ERROR_CLASS_STREAM_BROKEN);
  EXPECT_EQ(record.error_message(), "response ended before the status line");
  EXPECT_EQ(record.http_status(), 0u);
}

// ---- request bodies ----

llmbench::v1::Prompt MakePrompt(std::string text, std::string system = "") {
  llmbench::v1::Prompt prompt;
  prompt.set_text(std::move(text));
  prompt.set_system(std::move(system));
  return prompt;
}

TEST(OllamaProtocolTest, GenerateRequestBodyWithDefaults) {
  auto protocol = MakeOllama(llmbench::v1::API_OLLAMA_GENERATE);
  const HttpRequestSpec spec = protocol->BuildRequest(MakePrompt("Why is \"the\" sky\nblue?"), 7);
  EXPECT_EQ(spec.method, "POST");
  EXPECT_EQ(spec.path, "/api/generate");
  EXPECT_EQ(spec.body,
            "{\"model\":\"llama3.2\",\"prompt\":\"Why is \\\"the\\\" sky\\nblue?\",\"stream\":true,"
            "\"options\":{\"num_predict\":128,\"temperature\":0}}");
  EXPECT_TRUE(spec.headers.empty());
}

TEST(OllamaProtocolTest, ChatRequestBodyWithEverySetting) {
  llmbench::v1::Engine engine;
  engine.set_kind(llmbench::v1::ENGINE_KIND_OLLAMA);
  engine.set_model("llama3.2");
  engine.set_api(llmbench::v1::API_OLLAMA_CHAT);
  llmbench::v1::Generation generation;
  generation.set_max_tokens(64);
  generation.set_ignore_eos(true);  // Ollama has no ignore_eos: never sent
  generation.set_temperature(0.7);
  generation.set_seed(42);
  generation.set_stream(false);
  auto protocol = MakeEngineProtocol(engine, generation);
  ASSERT_TRUE(protocol.ok()) << protocol.status();
  const HttpRequestSpec spec = (*protocol)->BuildRequest(MakePrompt("hi", "Be brief."), 1);
  EXPECT_EQ(spec.path, "/api/chat");
  EXPECT_EQ(spec.body,
            "{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
            "{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":false,"
            "\"options\":{\"num_predict\":64,\"temperature\":0.7,\"seed\":42}}");

  engine.set_api(llmbench::v1::API_OLLAMA_GENERATE);
  auto generate = MakeEngineProtocol(engine, generation);
  ASSERT_TRUE(generate.ok());
  EXPECT_EQ((*generate)->BuildRequest(MakePrompt("hi", "Be brief."), 1).body,
            "{\"model\":\"llama3.2\",\"prompt\":\"hi\",\"system\":\"Be brief.\",\"stream\":false,"
            "\"options\":{\"num_predict\":64,\"temperature\":0.7,\"seed\":42}}");
}

TEST(OllamaProtocolTest, DiscoveryPaths) {
  auto protocol = MakeOllama(llmbench::v1::API_OLLAMA_GENERATE);
  EXPECT_EQ(protocol->HealthPath(), "/");
  EXPECT_EQ(protocol->ModelsPath(), "/api/tags");
  EXPECT_EQ(protocol->TokenizePath(), "");
}

}  // namespace
}  // namespace llmbench::engines
