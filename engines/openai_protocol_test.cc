#include "engines/openai_protocol.h"

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

std::unique_ptr<EngineProtocol> MakeOpenAi(llmbench::v1::EngineKind kind, llmbench::v1::Api api,
                                           llmbench::v1::Generation generation = {}) {
  llmbench::v1::Engine engine;
  engine.set_kind(kind);
  engine.set_model(kind == llmbench::v1::ENGINE_KIND_TGI ? "" : "m");
  engine.set_api(api);
  auto protocol = MakeEngineProtocol(engine, generation);
  EXPECT_TRUE(protocol.ok()) << protocol.status();
  return std::move(protocol).value();
}

std::unique_ptr<EngineProtocol> Chat(llmbench::v1::EngineKind kind) {
  return MakeOpenAi(kind, llmbench::v1::API_CHAT_COMPLETIONS);
}

std::unique_ptr<EngineProtocol> Completions(llmbench::v1::EngineKind kind) {
  return MakeOpenAi(kind, llmbench::v1::API_COMPLETIONS);
}

// Expected outcome of a fixture stream.
struct Expect {
  std::vector<size_t> content_events;  // indices of the SSE events that carry content
  uint32_t output_tokens;
  llmbench::v1::TokenSource source;
  std::optional<uint32_t> input_tokens;
  std::string finish_reason;
};

void CheckSuccess(const RequestRecord& record, const std::string& body, const Expect& e) {
  EXPECT_EQ(record.error_class(), llmbench::v1::ERROR_CLASS_NONE) << record.error_message();
  EXPECT_EQ(record.error_message(), "");
  EXPECT_EQ(record.content_chunks(), e.content_events.size());
  const auto ends = EventEndOffsets(body, "\n\n");
  EXPECT_THAT(Offsets(record), ElementsAreArray(Select(ends, e.content_events)));
  if (!e.content_events.empty()) {
    EXPECT_EQ(record.first_token_ns(), kSentNs + ends[e.content_events[0]]);
  }
  EXPECT_EQ(record.output_tokens(), e.output_tokens);
  EXPECT_EQ(record.output_token_source(), e.source);
  EXPECT_EQ(record.has_input_tokens(), e.input_tokens.has_value());
  if (e.input_tokens) {
    EXPECT_EQ(record.input_tokens(), *e.input_tokens);
  }
  EXPECT_EQ(record.finish_reason(), e.finish_reason);
  EXPECT_EQ(record.bytes_received(), body.size());
}

TEST(OpenAiProtocolTest, VllmChatStreamUsage) {
  const std::string body = ReadFixture("vllm/chat_stream_usage.sse");
  const RequestRecord record = RunAllChunkings(*Chat(llmbench::v1::ENGINE_KIND_VLLM), body);
  // Role chunk (content "") and the empty finish chunk are not content: "Okay" and ".".
  CheckSuccess(record, body, {{1, 2}, 3, llmbench::v1::TOKEN_SOURCE_ENGINE, 13, "stop"});
  EXPECT_EQ(record.output_tokens_reported(), 3u);
}

TEST(OpenAiProtocolTest, VllmContinuousUsageTakesOnlyTheFinalUsage) {
  const std::string body = ReadFixture("vllm/chat_stream_continuous_usage.sse");
  const RequestRecord record = RunAllChunkings(*Chat(llmbench::v1::ENGINE_KIND_VLLM), body);
  // The finish chunk carries the last token's text (" four").
  CheckSuccess(record, body, {{1, 2, 3}, 3, llmbench::v1::TOKEN_SOURCE_ENGINE, 45, "length"});
}

TEST(OpenAiProtocolTest, VllmContinuousUsageWithoutUsageChunkFallsBackToTheFinishChunk) {
  std::string body = ReadFixture("vllm/chat_stream_continuous_usage.sse");
  const size_t usage_event = body.find("data: {", body.find("\"finish_reason\":\"length\""));
  const size_t done = body.find("data: [DONE]");
  body.erase(usage_event, done - usage_event);
  const RequestRecord record = RunAllChunkings(*Chat(llmbench::v1::ENGINE_KIND_VLLM), body);
  CheckSuccess(record, body, {{1, 2, 3}, 3, llmbench::v1::TOKEN_SOURCE_ENGINE, 45, "length"});
}

TEST(OpenAiProtocolTest, VllmCompletionsStreamUsage) {
  const std::string body = ReadFixture("vllm/completions_stream_usage.sse");
  const RequestRecord record =
      RunAllChunkings(*Completions(llmbench::v1::ENGINE_KIND_VLLM), body);
  CheckSuccess(record, body, {{0, 1, 2, 3}, 4, llmbench::v1::TOKEN_SOURCE_ENGINE, 4, "length"});
}

TEST(OpenAiProtocolTest, VllmMidStreamErrorIsStreamBroken) {
  const std::string body = ReadFixture("vllm/stream_error_midstream.sse");
  const RequestRecord record = RunAllChunkings(*Chat(llmbench::v1::ENGINE_KIND_VLLM), body);
  EXPECT_EQ(record.error_class(), llmbench::v1::ERROR_CLASS_STREAM_BROKEN);
  EXPECT_EQ(record.error_message(),
            "EngineCore encountered an issue. See stack trace (above) for the root cause.");
  EXPECT_EQ(record.content_chunks(), 1u);
  EXPECT_THAT(Offsets(record), ElementsAreArray(Select(EventEndOffsets(body, "\n\n"), {1})));
  EXPECT_EQ(record.output_tokens(), 1u);
  EXPECT_EQ(record.output_token_source(), llmbench::v1::TOKEN_SOURCE_CHUNKS);
}

TEST(OpenAiProtocolTest, OllamaChatCompletionsStreamUsage) {
  const std::string body = ReadFixture("ollama/chat_completions_stream_usage.sse");
  const RequestRecord record = RunAllChunkings(*Chat(llmbench::v1::ENGINE_KIND_OLLAMA), body);
  CheckSuccess(record, body,
               {{0, 1, 2, 3}, 4, llmbench::v1::TOKEN_SOURCE_ENGINE, 31, "length"});
}

TEST(OpenAiProtocolTest, OllamaCompletionsIgnoresZeroedUsageOnEveryChunk) {
  const std::string body = ReadFixture("ollama/completions_stream_usage.sse");
  const RequestRecord record =
      RunAllChunkings(*Completions(llmbench::v1::ENGINE_KIND_OLLAMA), body);
  CheckSuccess(record, body, {{0, 1, 2}, 3, llmbench::v1::TOKEN_SOURCE_ENGINE, 31, "length"});

  // Without the final usage chunk, the zeroed usage objects give no count: chunks are counted.
  std::string no_usage = body;
  const size_t usage_event =
      no_usage.find("data: {", no_usage.find("\"finish_reason\":\"length\""));
  no_usage.erase(usage_event, no_usage.find("data: [DONE]") - usage_event);
  const RequestRecord counted =
      RunAllChunkings(*Completions(llmbench::v1::ENGINE_KIND_OLLAMA), no_usage);
  CheckSuccess(counted, no_usage, {{0, 1, 2}, 3, llmbench::v1::TOKEN_SOURCE_CHUNKS, {}, "length"});
}

TEST(OpenAiProtocolTest, TgiChatStreamUsage) {
  const std::string body = ReadFixture("tgi/chat_stream_usage.sse");
  const RequestRecord record = RunAllChunkings(*Chat(llmbench::v1::ENGINE_KIND_TGI), body);
  CheckSuccess(record, body, {{0, 1}, 3, llmbench::v1::TOKEN_SOURCE_ENGINE, 39, "stop"});
}

TEST(OpenAiProtocolTest, LlamaCppChatStreamUsageWithTimings) {
  const std::string body = ReadFixture("llamacpp/chat_stream_usage.sse");
  const RequestRecord record = RunAllChunkings(*Chat(llmbench::v1::ENGINE_KIND_OPENAI), body);
  // The role chunk has content:null; the finish chunk has an empty delta.
  CheckSuccess(record, body, {{1, 2, 3}, 3, llmbench::v1::TOKEN_SOURCE_ENGINE, 12, "length"});
  EXPECT_EQ(record.engine_timings().prompt_time_ns(), 19873000);
  EXPECT_EQ(record.engine_timings().predicted_time_ns(), 11406000);
  EXPECT_FALSE(record.engine_timings().has_total_duration_ns());
}

TEST(OpenAiProtocolTest, MissingDoneIsBrokenExceptAfterAFinishOnGenericOpenAi) {
  std::string body = ReadFixture("llamacpp/chat_stream_usage.sse");
  body.erase(body.find("data: [DONE]"));
  // vLLM, Ollama and TGI always send [DONE].
  for (auto kind : {llmbench::v1::ENGINE_KIND_VLLM, llmbench::v1::ENGINE_KIND_OLLAMA,
                    llmbench::v1::ENGINE_KIND_TGI}) {
    const RequestRecord record = RunAllChunkings(*Chat(kind), body);
    EXPECT_EQ(record.error_class(), llmbench::v1::ERROR_CLASS_STREAM_BROKEN);
    EXPECT_EQ(record.error_message(), "stream ended before [DONE]");
    EXPECT_EQ(record.content_chunks(), 3u);
    EXPECT_EQ(record.output_tokens(), 3u);  // the usage chunk had arrived
    EXPECT_EQ(record.output_token_source(), llmbench::v1::TOKEN_SOURCE_ENGINE);
  }
  // llama.cpp-family forks may close right after the finish chunk (ik_llama.cpp).
  const RequestRecord ik = RunAllChunkings(*Chat(llmbench::v1::ENGINE_KIND_OPENAI), body);
  EXPECT_EQ(ik.error_class(), llmbench::v1::ERROR_CLASS_NONE);
  EXPECT_EQ(ik.output_tokens(), 3u);

  // ... but not before the finish chunk, nor in the middle of an event.
  const std::string before_finish =
      body.substr(0, body.find("data: {\"choices\":[{\"finish_reason\":\"length\""));
  const RequestRecord cut = RunAllChunkings(*Chat(llmbench::v1::ENGINE_KIND_OPENAI), before_finish);
  EXPECT_EQ(cut.error_class(), llmbench::v1::ERROR_CLASS_STREAM_BROKEN);
  EXPECT_EQ(cut.error_message(), "stream ended before [DONE]");
  EXPECT_EQ(cut.content_chunks(), 3u);
  EXPECT_EQ(cut.output_token_source(), llmbench::v1::TOKEN_SOURCE_CHUNKS);
  const std::string mid_event = body.substr(0, body.size() - 10);
  const RequestRecord partial = RunAllChunkings(*Chat(llmbench::v1::ENGINE_KIND_OPENAI), mid_event);
  EXPECT_EQ(partial.error_class(), llmbench::v1::ERROR_CLASS_STREAM_BROKEN);
}

TEST(OpenAiProtocolTest, EmptyBodyAndCommentsOnly) {
  auto protocol = Chat(llmbench::v1::ENGINE_KIND_VLLM);
  const RequestRecord empty = RunParser(*protocol, "", Chunking::kWhole);
  EXPECT_EQ(empty.error_class(), llmbench::v1::ERROR_CLASS_STREAM_BROKEN);
  EXPECT_EQ(empty.error_message(), "stream ended before [DONE]");
  EXPECT_EQ(empty.output_tokens(), 0u);
  EXPECT_EQ(empty.output_token_source(), llmbench::v1::TOKEN_SOURCE_CHUNKS);

  const std::string body =
      ": keep-alive\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"A\"},\"finish_reason\":null}]}\n\n"
      ":\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
      "data: [DONE]\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"after done\"}}]}\n\n";
  const RequestRecord record = RunAllChunkings(*protocol, body);
  EXPECT_EQ(record.error_class(), llmbench::v1::ERROR_CLASS_NONE);
  EXPECT_EQ(record.content_chunks(), 1u);
  EXPECT_THAT(Offsets(record), ElementsAreArray(Select(EventEndOffsets(body, "\n\n"), {1})));
  EXPECT_EQ(record.output_token_source(), llmbench::v1::TOKEN_SOURCE_CHUNKS);
  EXPECT_EQ(record.finish_reason(), "stop");
}

TEST(OpenAiProtocolTest, ReasoningAndToolCallsAreContentNullAndEmptyAreNot) {
  const std::string body =
      "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":null}}]}\n\n"
      "data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"think\"}}]}\n\n"
      "data: {\"choices\":[{\"delta\":{\"reasoning\":\"more\"}}]}\n\n"
      "data: {\"choices\":[{\"delta\":{\"content\":\"\"}}]}\n\n"
      "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
      "{\"arguments\":\"{}\"}}]}}]}\n\n"
      "data: {\"choices\":[{\"delta\":{\"tool_calls\":[]}}]}\n\n"
      "data: {\"choices\":[{\"text\":\"\"}]}\n\n"
      "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"tool_calls\"}],\"usage\":null}\n\n"
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":12},"
      "\"metrics\":{\"time_to_first_token_ms\":12.5,\"generation_time_ms\":80,"
      "\"queue_time_ms\":1.25,\"mean_itl_ms\":6.5,\"tokens_per_second\":150}}\n\n"
      "data: [DONE]\n\n";
  const RequestRecord record = RunAllChunkings(*Chat(llmbench::v1::ENGINE_KIND_VLLM), body);
  CheckSuccess(record, body, {{1, 2, 4}, 12, llmbench::v1::TOKEN_SOURCE_ENGINE, 7, "tool_calls"});
  EXPECT_EQ(record.engine_timings().server_ttft_ns(), 12500000);
  EXPECT_EQ(record.engine_timings().inference_time_ns(), 80000000);
  EXPECT_EQ(record.engine_timings().queue_time_ns(), 1250000);
  EXPECT_EQ(record.engine_timings().time_per_token_ns(), 6500000);
}

TEST(OpenAiProtocolTest, InBandErrorShapes) {
  struct Case {
    llmbench::v1::EngineKind kind;
    std::string event;
    std::string message;
  };
  const Case cases[] = {
      // TGI /v1: http_status_code is always 422.
      {llmbench::v1::ENGINE_KIND_TGI,
       "data:{\"error\":{\"message\":\"Input validation error: too long\","
       "\"http_status_code\":422}}\n\n",
       "Input validation error: too long"},
      // llama.cpp current builds.
      {llmbench::v1::ENGINE_KIND_OPENAI,
       "data: {\"error\":{\"code\":500,\"message\":\"boom\",\"type\":\"server_error\"}}\n\n",
       "boom"},
      // llama.cpp builds of early 2025: an `error:` SSE field.
      {llmbench::v1::ENGINE_KIND_OPENAI,
       "error: {\"code\":500,\"message\":\"slot unavailable\",\"type\":\"server_error\"}\n\n",
       "slot unavailable"},
      {llmbench::v1::ENGINE_KIND_OPENAI, "error: plain text\n\n", "plain text"},
      // Legacy flat vLLM error object.
      {llmbench::v1::ENGINE_KIND_VLLM,
       "data: {\"object\":\"error\",\"message\":\"old style\",\"type\":\"BadRequestError\"}\n\n",
       "old style"},
      {llmbench::v1::ENGINE_KIND_OPENAI, "data: {\"error\":\"flat\"}\n\n", "flat"},
  };
  const std::string first =
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"A\"}}]}\n\n";
  for (const Case& c : cases) {
    const std::string body = first + c.event + "data: [DONE]\n\n";
    const RequestRecord record = RunAllChunkings(*Chat(c.kind), body);
    EXPECT_EQ(record.error_class(), llmbench::v1::ERROR_CLASS_STREAM_BROKEN) << c.event;
    EXPECT_EQ(record.error_message(), c.message);
    EXPECT_EQ(record.content_chunks(), 1u);
  }
}

TEST(OpenAiProtocolTest, InvalidJsonAndOverlongLinesAreParseErrors) {
  auto protocol = Chat(llmbench::v1::ENGINE_KIND_VLLM);
  const std::string body =
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"A\"}}]}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"B\"}}]\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"C\"}}]}\n\n"
      "data: [DONE]\n\n";
  const RequestRecord record = RunAllChunkings(*protocol, body);
  EXPECT_EQ(record.error_class(), llmbench::v1::ERROR_CLASS_PARSE);
  EXPECT_EQ(record.error_message(), std::string("invalid JSON in SSE event: ") +
                                        simdjson::error_message(simdjson::TAPE_ERROR));
  EXPECT_EQ(record.content_chunks(), 1u);

  const RequestRecord scalar = RunAllChunkings(*protocol, "data: 42\n\n");
  EXPECT_EQ(scalar.error_class(), llmbench::v1::ERROR_CLASS_PARSE);
  EXPECT_EQ(scalar.error_message(), "SSE event data is not a JSON object");

  std::string huge = "data: {\"choices\":[{\"delta\":{\"content\":\"";
  huge.append(10 << 20, 'x');
  huge.append("\"}}]}\n\ndata: [DONE]\n\n");
  for (Chunking chunking : {Chunking::kWhole, Chunking::kRandom}) {
    const RequestRecord over = RunParser(*protocol, huge, chunking);
    EXPECT_EQ(over.error_class(), llmbench::v1::ERROR_CLASS_PARSE);
    EXPECT_EQ(over.error_message(), "framing error: SSE line exceeds 1048576 bytes");
    EXPECT_EQ(over.content_chunks(), 0u);
    EXPECT_EQ(over.bytes_received(), huge.size());
  }
}

TEST(OpenAiProtocolTest, HttpErrorBodies) {
  struct Case {
    int status;
    std::string body;
    llmbench::v1::ErrorClass error_class;
    std::string message;
  };
  const Case cases[] = {
      {400, ReadFixture("vllm/error_400.json"), llmbench::v1::ERROR_CLASS_HTTP_4XX,
       "This model's maximum context length is 4096 tokens. However, your request has 5000 input "
       "tokens. Please reduce the length of the input messages."},
      {400, ReadFixture("vllm/error_400_legacy.json"), llmbench::v1::ERROR_CLASS_HTTP_4XX,
       "This model's maximum context length is 4096 tokens. However, you requested 4117 tokens "
       "(21 in the messages, 4096 in the completion). Please reduce the length of the messages "
       "or completion."},
      {404, ReadFixture("vllm/error_404_model.json"), llmbench::v1::ERROR_CLASS_HTTP_4XX,
       "The model `gpt-4o` does not exist."},
      {400, ReadFixture("llamacpp/error_400.json"), llmbench::v1::ERROR_CLASS_HTTP_4XX,
       "Field 'temperature': [json.exception.type_error.302] type must be number, but is string"},
      {503, ReadFixture("llamacpp/health_503.json"), llmbench::v1::ERROR_CLASS_HTTP_5XX,
       "Loading model"},
      {401, "{\"error\":\"Unauthorized\"}", llmbench::v1::ERROR_CLASS_HTTP_4XX, "Unauthorized"},
      {429, "{\"error\":{\"message\":\"rate limited\"}}", llmbench::v1::ERROR_CLASS_OVERLOADED,
       "rate limited"},
      {500, "Internal Server Error", llmbench::v1::ERROR_CLASS_HTTP_5XX, "Internal Server Error"},
      {302, "", llmbench::v1::ERROR_CLASS_HTTP_4XX, "unexpected HTTP status 302"},
  };
  for (const Case& c : cases) {
    FeedOptions options;
    options.http_status = c.status;
    const RequestRecord record =
        RunAllChunkings(*Chat(llmbench::v1::ENGINE_KIND_VLLM), c.body, options);
    EXPECT_EQ(record.error_class(), c.error_class) << c.body;
    EXPECT_EQ(record.error_message(), c.message);
    EXPECT_EQ(record.http_status(), static_cast<uint32_t>(c.status));
  }
}

TEST(OpenAiProtocolTest, LongErrorMessagesAreCutOnACharacterBoundary) {
  std::string message;
  for (int i = 0; i < 400; ++i) message.append("é");  // 2 bytes each
  FeedOptions options;
  options.http_status = 400;
  const RequestRecord record = RunParser(*Chat(llmbench::v1::ENGINE_KIND_VLLM),
                                         "{\"error\":{\"message\":\"" + message + "\"}}",
                                         Chunking::kWhole, options);
  // 509 bytes of "é" would split a character: 508 bytes + "…" (3 bytes) = 511.
  EXPECT_EQ(record.error_message(), message.substr(0, 508) + "\xE2\x80\xA6");
  EXPECT_LE(record.error_message().size(), kMaxErrorMessageBytes);
}

TEST(OpenAiProtocolTest, NonStreamChatBody) {
  llmbench::v1::Generation generation;
  generation.set_stream(false);
  auto protocol =
      MakeOpenAi(llmbench::v1::ENGINE_KIND_VLLM, llmbench::v1::API_CHAT_COMPLETIONS, generation);
  const std::string body =
      "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"choices\":[{\"index\":0,"
      "\"message\":{\"role\":\"assistant\",\"content\":\"Hi there\"},\"finish_reason\":\"stop\"}],"
      "\"usage\":{\"prompt_tokens\":5,\"total_tokens\":8,\"completion_tokens\":3}}\n";
  const RequestRecord record = RunAllChunkings(*protocol, body);
  EXPECT_EQ(record.error_class(), llmbench::v1::ERROR_CLASS_NONE) << record.error_message();
  EXPECT_EQ(record.content_chunks(), 1u);
  EXPECT_THAT(Offsets(record),
              ElementsAreArray({kNsPerByte * static_cast<int64_t>(body.size())}));
  EXPECT_EQ(record.output_tokens(), 3u);
  EXPECT_EQ(record.output_token_source(), llmbench::v1::TOKEN_SOURCE_ENGINE);
  EXPECT_EQ(record.input_tokens(), 5u);
  EXPECT_EQ(record.finish_reason(), "stop");

  const RequestRecord truncated = RunAllChunkings(*protocol, body.substr(0, 40));
  EXPECT_EQ(truncated.error_class(), llmbench::v1::ERROR_CLASS_PARSE);
  EXPECT_EQ(truncated.error_message().rfind("invalid JSON in response body: ", 0), 0u)
      << truncated.error_message();
  const RequestRecord no_choices = RunAllChunkings(*protocol, "{\"id\":\"x\"}");
  EXPECT_EQ(no_choices.error_class(), llmbench::v1::ERROR_CLASS_PARSE);
  EXPECT_EQ(no_choices.error_message(), "response body has no \"choices\" array");
}

// ---- request bodies ----

llmbench::v1::Prompt MakePrompt(std::string text, std::string system = "") {
  llmbench::v1::Prompt prompt;
  prompt.set_text(std::move(text));
  prompt.set_system(std::move(system));
  return prompt;
}

llmbench::v1::Generation ExactGeneration() {
  llmbench::v1::Generation generation;
  generation.set_max_tokens(64);
  generation.set_ignore_eos(true);
  generation.set_temperature(0);
  generation.set_seed(42);
  return generation;
}

TEST(OpenAiProtocolTest, VllmChatRequestSendsIgnoreEosAndMinTokens) {
  auto protocol = MakeOpenAi(llmbench::v1::ENGINE_KIND_VLLM, llmbench::v1::API_CHAT_COMPLETIONS,
                             ExactGeneration());
  const HttpRequestSpec spec = protocol->BuildRequest(MakePrompt("hi", "sys"), 3);
  EXPECT_EQ(spec.method, "POST");
  EXPECT_EQ(spec.path, "/v1/chat/completions");
  EXPECT_EQ(spec.body,
            "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"sys\"},"
            "{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":64,\"temperature\":0,"
            "\"seed\":42,\"ignore_eos\":true,\"min_tokens\":64,\"stream\":true,"
            "\"stream_options\":{\"include_usage\":true}}");
}

TEST(OpenAiProtocolTest, GenericOpenAiSendsIgnoreEosOnly) {
  auto protocol = MakeOpenAi(llmbench::v1::ENGINE_KIND_OPENAI, llmbench::v1::API_COMPLETIONS,
                             ExactGeneration());
  const HttpRequestSpec spec =
      protocol->BuildRequest(MakePrompt("San Francisco is a", "ignored"), 3);
  EXPECT_EQ(spec.path, "/v1/completions");
  EXPECT_EQ(spec.body,
            "{\"model\":\"m\",\"prompt\":\"San Francisco is a\",\"max_tokens\":64,"
            "\"temperature\":0,\"seed\":42,\"ignore_eos\":true,\"stream\":true,"
            "\"stream_options\":{\"include_usage\":true}}");
}

TEST(OpenAiProtocolTest, OllamaAndTgiNeverGetExtensions) {
  auto ollama = MakeOpenAi(llmbench::v1::ENGINE_KIND_OLLAMA,
                           llmbench::v1::API_CHAT_COMPLETIONS, ExactGeneration());
  EXPECT_EQ(ollama->BuildRequest(MakePrompt("hi"), 1).body,
            "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
            "\"max_tokens\":64,\"temperature\":0,\"seed\":42,\"stream\":true,"
            "\"stream_options\":{\"include_usage\":true}}");
  auto tgi = MakeOpenAi(llmbench::v1::ENGINE_KIND_TGI, llmbench::v1::API_CHAT_COMPLETIONS,
                        ExactGeneration());
  EXPECT_EQ(tgi->BuildRequest(MakePrompt("hi"), 1).body,
            "{\"model\":\"tgi\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
            "\"max_tokens\":64,\"temperature\":0,\"seed\":42,\"stream\":true,"
            "\"stream_options\":{\"include_usage\":true}}");
}

TEST(OpenAiProtocolTest, NonStreamRequestHasNoStreamOptionsAndDefaultsApply) {
  llmbench::v1::Generation generation;
  generation.set_stream(false);
  generation.set_temperature(0.25);
  auto protocol =
      MakeOpenAi(llmbench::v1::ENGINE_KIND_VLLM, llmbench::v1::API_COMPLETIONS, generation);
  EXPECT_EQ(protocol->BuildRequest(MakePrompt("a\tb\x01\xff"), 1).body,
            "{\"model\":\"m\",\"prompt\":\"a\\tb\\u0001\xEF\xBF\xBD\",\"max_tokens\":128,"
            "\"temperature\":0.25,\"stream\":false}");
}

TEST(OpenAiProtocolTest, DiscoveryPathsFollowTheEngineKind) {
  EXPECT_EQ(Chat(llmbench::v1::ENGINE_KIND_VLLM)->HealthPath(), "/health");
  EXPECT_EQ(Chat(llmbench::v1::ENGINE_KIND_VLLM)->ModelsPath(), "/v1/models");
  EXPECT_EQ(Chat(llmbench::v1::ENGINE_KIND_VLLM)->TokenizePath(), "/tokenize");
  EXPECT_EQ(Chat(llmbench::v1::ENGINE_KIND_OLLAMA)->HealthPath(), "/");
  EXPECT_EQ(Chat(llmbench::v1::ENGINE_KIND_OLLAMA)->ModelsPath(), "/api/tags");
  EXPECT_EQ(Chat(llmbench::v1::ENGINE_KIND_OLLAMA)->TokenizePath(), "");
  EXPECT_EQ(Chat(llmbench::v1::ENGINE_KIND_TGI)->ModelsPath(), "/info");
  EXPECT_EQ(Chat(llmbench::v1::ENGINE_KIND_OPENAI)->TokenizePath(), "/tokenize");
}

}  // namespace
}  // namespace llmbench::engines
