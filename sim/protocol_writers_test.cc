// Renders every recorded engine fixture through the writers with the fixture's own values and
// compares byte for byte.
#include "sim/protocol_writers.h"

#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace llmbench::sim {
namespace {

std::string Fixture(const std::string& rel) {
  const std::string path = std::string(LLMBENCH_SOURCE_DIR) + "/tests/fixtures/engines/" + rel;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// "2025-07-07T20:22:19.2107Z" → Unix ns (test helper; UTC only).
int64_t ParseUtc(const std::string& s) {
  std::tm tm{};
  int frac_start = 0;
  sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
         &tm.tm_min, &tm.tm_sec, &frac_start);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  int64_t ns = static_cast<int64_t>(timegm(&tm)) * 1'000'000'000;
  if (s[static_cast<size_t>(frac_start)] == '.') {
    int64_t frac = 0;
    int digits = 0;
    for (size_t i = static_cast<size_t>(frac_start) + 1; i < s.size() && s[i] != 'Z'; ++i, ++digits) {
      frac = frac * 10 + (s[i] - '0');
    }
    for (; digits < 9; ++digits) frac *= 10;
    ns += frac;
  }
  return ns;
}

TEST(OllamaWritersTest, GenerateStreamFixture) {
  const std::string model = "gemma4";
  const std::vector<std::pair<std::string, std::string>> chunks = {
      {"2025-10-26T17:15:24.097767Z", "That"},      {"2025-10-26T17:15:24.109172Z", "'"},
      {"2025-10-26T17:15:24.121485Z", "s"},         {"2025-10-26T17:15:24.132802Z", " a"},
      {"2025-10-26T17:15:24.143931Z", " fantastic"}, {"2025-10-26T17:15:24.155176Z", " question"},
      {"2025-10-26T17:15:24.166576Z", "!"}};
  std::string out;
  for (const auto& [t, text] : chunks) ollama::AppendGenerateChunk(out, model, ParseUtc(t), text);
  ollama::FinalMetrics m{174560334, 101397084, 11, 13074791, 8, 52479709};
  ollama::AppendGenerateFinal(out, model, ParseUtc("2025-10-26T17:15:24.17806Z"), "", "stop", m, true);
  EXPECT_EQ(out, Fixture("ollama/generate_stream.ndjson"));
}

TEST(OllamaWritersTest, ChatStreamFixture) {
  const std::string model = "llama3.2";
  const std::vector<std::pair<std::string, std::string>> chunks = {
      {"2025-07-07T20:22:19.184789Z", "The"},
      {"2025-07-07T20:22:19.19314Z", " sky"},
      {"2025-07-07T20:22:19.201873Z", " appears"},
      {"2025-07-07T20:22:19.210205Z", " blue"}};
  std::string out;
  for (const auto& [t, text] : chunks) ollama::AppendChatChunk(out, model, ParseUtc(t), text);
  ollama::FinalMetrics m{182242375, 41295167, 31, 24573166, 4, 33959084};
  ollama::AppendChatFinal(out, model, ParseUtc("2025-07-07T20:22:19.2107Z"), "", "length", m, true);
  EXPECT_EQ(out, Fixture("ollama/chat_stream.ndjson"));
}

TEST(OllamaWritersTest, GenerateNonStreamFixtureWithoutContext) {
  // generate.json carries a deprecated "context" array the simulator never sends; compare the
  // rest by rendering and splicing it out of the fixture.
  std::string fixture = Fixture("ollama/generate.json");
  const std::string ctx = ",\"context\":[1,2,3]";
  fixture.erase(fixture.find(ctx), ctx.size());
  std::string out;
  ollama::FinalMetrics m{5043500667, 5025959, 26, 325953000, 290, 4709213000};
  ollama::AppendGenerateFinal(out, "llama3.2", ParseUtc("2023-08-04T19:22:45.499127Z"),
                              "The sky is blue because it is the color of the sky.", "stop", m,
                              false);
  EXPECT_EQ(out, fixture);
}

TEST(OllamaWritersTest, StreamErrorMidstreamFixture) {
  std::string out;
  const std::vector<std::pair<std::string, std::string>> chunks = {
      {"2025-10-26T17:21:21.196249Z", " Yes"},
      {"2025-10-26T17:21:21.207235Z", "."},
      {"2025-10-26T17:21:21.219166Z", "I"},
      {"2025-10-26T17:21:21.231094Z", "can"}};
  for (const auto& [t, text] : chunks) ollama::AppendGenerateChunk(out, "gemma4", ParseUtc(t), text);
  ollama::AppendError(out, "an error was encountered while running the model", true);
  EXPECT_EQ(out, Fixture("ollama/stream_error_midstream.ndjson"));
}

TEST(OllamaWritersTest, OaiChatStreamUsageFixture) {
  std::string out;
  const std::string id = "chatcmpl-386";
  const int64_t created = 1751919739;
  ollama::AppendOaiChatChunk(out, id, created, "llama3.2", "The", true);
  ollama::AppendOaiChatChunk(out, id, created, "llama3.2", " sky", false);
  ollama::AppendOaiChatChunk(out, id, created, "llama3.2", " appears", false);
  ollama::AppendOaiChatChunk(out, id, created, "llama3.2", " blue", false);
  ollama::AppendOaiChatFinishChunk(out, id, created, "llama3.2", "length");
  ollama::AppendOaiChatUsageChunk(out, id, created, "llama3.2", Usage{31, 4});
  ollama::AppendOaiDone(out);
  EXPECT_EQ(out, Fixture("ollama/chat_completions_stream_usage.sse"));
}

TEST(OllamaWritersTest, OaiCompletionsStreamUsageFixture) {
  std::string out;
  const std::string id = "cmpl-512";
  ollama::AppendOaiCompletionChunk(out, id, 1751919801, "llama3.2", "The", std::nullopt, true);
  ollama::AppendOaiCompletionChunk(out, id, 1751919801, "llama3.2", " sky", std::nullopt, true);
  ollama::AppendOaiCompletionChunk(out, id, 1751919802, "llama3.2", " appears", std::nullopt, true);
  ollama::AppendOaiCompletionChunk(out, id, 1751919802, "llama3.2", "", "length", true);
  ollama::AppendOaiCompletionUsageChunk(out, id, 1751919802, "llama3.2", Usage{31, 3});
  ollama::AppendOaiDone(out);
  EXPECT_EQ(out, Fixture("ollama/completions_stream_usage.sse"));
}

TEST(OllamaWritersTest, ErrorFixtures) {
  std::string out;
  ollama::AppendError(out, "model 'llama3.2:70b' not found", false);
  EXPECT_EQ(out, Fixture("ollama/error_404.json"));
  out.clear();
  ollama::AppendError(out, "server busy, please try again.  maximum pending requests exceeded", false);
  EXPECT_EQ(out, Fixture("ollama/error_503_busy.json"));
  out.clear();
  ollama::AppendOaiError(out, "model 'llama3.2:70b' not found", "not_found_error");
  EXPECT_EQ(out, Fixture("ollama/error_404_openai.json"));
}

TEST(OllamaWritersTest, GoHtmlEscapingInContent) {
  std::string out;
  ollama::AppendChatChunk(out, "m", 0, "</think> & co");
  EXPECT_EQ(out,
            "{\"model\":\"m\",\"created_at\":\"1970-01-01T00:00:00Z\",\"message\":{\"role\":"
            "\"assistant\",\"content\":\"\\u003c/think\\u003e \\u0026 co\"},\"done\":false}\n");
}

TEST(VllmWritersTest, ChatStreamContinuousUsageFixture) {
  std::string out;
  const std::string id = "chatcmpl-3f1c2a9d0b6e4e58a1d2c3b4a5f60718";
  const std::string model = "meta-llama/Llama-3.1-8B-Instruct";
  const int64_t created = 1754000000;
  Usage u0{45, 0}, u1{45, 1}, u2{45, 2}, u3{45, 3};
  vllm::AppendChatRoleChunk(out, id, created, model, &u0);
  vllm::AppendChatTokenChunk(out, id, created, model, " three", std::nullopt, &u1);
  vllm::AppendChatTokenChunk(out, id, created, model, ",", std::nullopt, &u2);
  vllm::AppendChatTokenChunk(out, id, created, model, " four", "length", &u3);
  vllm::AppendUsageChunk(out, id, "chat.completion.chunk", created, model, u3);
  vllm::AppendDone(out);
  EXPECT_EQ(out, Fixture("vllm/chat_stream_continuous_usage.sse"));
}

TEST(VllmWritersTest, CompletionsStreamUsageFixture) {
  std::string out;
  const std::string id = "cmpl-9d0ab69d6c9a4321";
  const std::string model = "Qwen/Qwen3-4B";
  const int64_t created = 1748737044;
  vllm::AppendCompletionChunk(out, id, created, model, " city", std::nullopt, nullptr);
  vllm::AppendCompletionChunk(out, id, created, model, " in", std::nullopt, nullptr);
  vllm::AppendCompletionChunk(out, id, created, model, " the", std::nullopt, nullptr);
  vllm::AppendCompletionChunk(out, id, created, model, " state", "length", nullptr);
  vllm::AppendUsageChunk(out, id, "text_completion", created, model, Usage{4, 4});
  vllm::AppendDone(out);
  EXPECT_EQ(out, Fixture("vllm/completions_stream_usage.sse"));
}

TEST(VllmWritersTest, StreamErrorMidstreamFixture) {
  std::string out;
  const std::string id = "chatcmpl-84fd71592962667f";
  const std::string model = "Qwen/Qwen3-8B";
  vllm::AppendChatRoleChunk(out, id, 1779158289, model, nullptr);
  vllm::AppendChatTokenChunk(out, id, 1779158289, model, "Hello", std::nullopt, nullptr);
  vllm::AppendStreamError(
      out, "EngineCore encountered an issue. See stack trace (above) for the root cause.",
      "InternalServerError", 500);
  vllm::AppendDone(out);
  EXPECT_EQ(out, Fixture("vllm/stream_error_midstream.sse"));
}

TEST(VllmWritersTest, StreamErrorIsAsciiEscaped) {
  std::string out;
  vllm::AppendStreamError(out, "naïve 日本", "X", 500);
  EXPECT_EQ(out,
            "data: {\"error\": {\"message\": \"na\\u00efve \\u65e5\\u672c\", \"type\": \"X\", "
            "\"param\": null, \"code\": 500}}\n\n");
}

TEST(VllmWritersTest, ErrorFixtures) {
  std::string out;
  vllm::AppendError(out, "The model `gpt-4o` does not exist.", "NotFoundError", 404);
  EXPECT_EQ(out, Fixture("vllm/error_404_model.json"));
  out.clear();
  vllm::AppendError(out,
                    "This model's maximum context length is 4096 tokens. However, your request has "
                    "5000 input tokens. Please reduce the length of the input messages.",
                    "BadRequestError", 400);
  EXPECT_EQ(out, Fixture("vllm/error_400.json"));
}

TEST(TgiWritersTest, GenerateStreamFixture) {
  struct T {
    int64_t id;
    const char* text;
    const char* logprob;
  };
  const std::vector<T> toks = {{578, " le", "-1.7822266"},   {5608, " faire", "-2.4882812"},
                               {7735, " fond", "-2.4199219"}, {289, "re", "0.0"},
                               {693, " à", "-2.4628906"},     {366, " la", "-1.1308594"},
                               {48844, " cass", "-1.7900391"}, {1744, "ero", "0.0"},
                               {327, "le", "0.0"},            {2940, " avec", "-1.9306641"}};
  std::string out;
  std::string generated;
  for (size_t i = 0; i < toks.size(); ++i) {
    generated += toks[i].text;
    const bool last = i + 1 == toks.size();
    tgi::StreamDetails details{"length", 10, 0, 11};
    tgi::AppendStreamToken(out, static_cast<int64_t>(i + 1),
                           tgi::Token{toks[i].id, toks[i].text, toks[i].logprob, false},
                           last ? std::optional<std::string_view>(generated) : std::nullopt,
                           last ? &details : nullptr);
  }
  EXPECT_EQ(out, Fixture("tgi/generate_stream.sse"));
}

TEST(TgiWritersTest, ChatStreamUsageFixture) {
  std::string out;
  const std::string model = "meta-llama/Llama-3.1-8B-Instruct";
  const std::string fp = "3.1.2-dev0-native";
  tgi::AppendChatChunk(out, 1741265133, model, fp, "OK", std::nullopt);
  tgi::AppendChatChunk(out, 1741265133, model, fp, "!", std::nullopt);
  tgi::AppendChatChunk(out, 1741265133, model, fp, "", "stop");
  tgi::AppendChatUsageChunk(out, 1741265133, model, fp, Usage{39, 3});
  tgi::AppendDone(out);
  EXPECT_EQ(out, Fixture("tgi/chat_stream_usage.sse"));
}

TEST(TgiWritersTest, ErrorFixtures) {
  const std::string msg =
      "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 2048. Given: 11 "
      "`inputs` tokens and 5000 `max_new_tokens`";
  std::string out;
  tgi::AppendStreamError(out, msg, "validation");
  EXPECT_EQ(out, Fixture("tgi/generate_stream_error_validation.sse"));
  out.clear();
  tgi::AppendError(out, msg, "validation");
  EXPECT_EQ(out, Fixture("tgi/error_422.json"));
  out.clear();
  tgi::AppendError(out, "Model is overloaded", "overloaded");
  EXPECT_EQ(out, Fixture("tgi/error_429.json"));
  out.clear();
  tgi::AppendError(out, "unhealthy", "healthcheck");
  EXPECT_EQ(out, Fixture("tgi/health_503.json"));
}

}  // namespace
}  // namespace llmbench::sim
