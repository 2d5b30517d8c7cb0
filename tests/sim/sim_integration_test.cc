// Integration tests for llmbench-sim: one simulator process with all three personalities
// (ollama, vllm, tgi) on 127.0.0.1 ephemeral ports, exercised over loopback with libcurl and
// with the real curl binary. Responses are checked byte-for-byte for framing and field-by-field
// (key order and value types) against the engine fixtures in tests/fixtures/engines/.
//
// Timing tolerances are stated where used; they are generous because the CI machine has two
// shared cores.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <numeric>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/harness/harness.h"
#include "tests/sim/wire_check.h"

namespace llmbench::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using std::chrono::milliseconds;
using Ms = std::chrono::duration<double, std::milli>;

// Latency model of the shared simulator (the defaults, spelled out).
constexpr int kTtftBaseMs = 20;
constexpr int kTtftPerTokenUs = 50;
constexpr int kItlMs = 10;
constexpr int kItlPerSeqUs = 20;
constexpr int kMaxModelLen = 4096;
constexpr char kModel[] = "sim-model";

// "w0 w1 ... w{n-1}": n sim tokens.
std::string Prompt(int words) {
  std::vector<std::string> parts;
  for (int i = 0; i < words; ++i) parts.push_back(absl::StrCat("w", i));
  return absl::StrJoin(parts, " ");
}

// Number of whitespace-separated words (each sim output token is " word").
int WordCount(absl::string_view text) {
  std::vector<absl::string_view> words = absl::StrSplit(text, ' ', absl::SkipEmpty());
  return static_cast<int>(words.size());
}

int64_t PrefillNs(int prompt_tokens) {
  return int64_t{kTtftBaseMs} * 1'000'000 + int64_t{kTtftPerTokenUs} * 1'000 * prompt_tokens;
}

std::vector<WireEvent> Sse(const HttpResponse& r, absl::string_view prefix) {
  std::string error;
  std::vector<WireEvent> events = SplitSse(r.body, r.chunks, prefix, &error);
  EXPECT_EQ(error, "") << "SSE framing (prefix '" << prefix << "')";
  return events;
}

std::vector<WireEvent> Ndjson(const HttpResponse& r) {
  std::string error;
  std::vector<WireEvent> events = SplitNdjson(r.body, r.chunks, &error);
  EXPECT_EQ(error, "") << "NDJSON framing";
  return events;
}

std::vector<WireEvent> FixtureSse(absl::string_view file, absl::string_view prefix) {
  std::string body = ReadFixture(file);
  EXPECT_FALSE(body.empty()) << "missing fixture " << file;
  std::string error;
  std::vector<WireEvent> events = SplitSse(body, {}, prefix, &error);
  EXPECT_EQ(error, "") << "fixture " << file;
  return events;
}

std::vector<WireEvent> FixtureNdjson(absl::string_view file) {
  std::string body = ReadFixture(file);
  EXPECT_FALSE(body.empty()) << "missing fixture " << file;
  std::string error;
  std::vector<WireEvent> events = SplitNdjson(body, {}, &error);
  EXPECT_EQ(error, "") << "fixture " << file;
  return events;
}

// Parses a Prometheus text body into sample name (with labels) -> value.
std::map<std::string, double> ParseProm(const std::string& body) {
  std::map<std::string, double> samples;
  for (absl::string_view line : absl::StrSplit(body, '\n', absl::SkipEmpty())) {
    if (line[0] == '#') continue;
    size_t space = line.rfind(' ');
    if (space == absl::string_view::npos) continue;
    double v = 0;
    if (absl::SimpleAtod(line.substr(space + 1), &v)) {
      samples[std::string(line.substr(0, space))] = v;
    }
  }
  return samples;
}

// Sum of every sample whose name (before '{') is `name`.
double PromSum(const std::map<std::string, double>& samples, absl::string_view name) {
  double sum = 0;
  for (const auto& [key, value] : samples) {
    absl::string_view base = absl::string_view(key).substr(0, key.find('{'));
    if (base == name) sum += value;
  }
  return sum;
}

class SimTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    SimProcess::Options options;
    options.args = {"--model",         kModel,
                    "--ttft-base-ms",  absl::StrCat(kTtftBaseMs),
                    "--ttft-per-token-us", absl::StrCat(kTtftPerTokenUs),
                    "--itl-ms",        absl::StrCat(kItlMs),
                    "--itl-per-seq-us", absl::StrCat(kItlPerSeqUs),
                    "--jitter",        "0",
                    "--max-model-len", absl::StrCat(kMaxModelLen)};
    absl::StatusOr<std::unique_ptr<SimProcess>> sim = SimProcess::Start(options);
    if (sim.ok()) {
      sim_ = sim->release();
    } else {
      *start_error_ = std::string(sim.status().message());
    }
  }
  static void TearDownTestSuite() {
    delete sim_;
    sim_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(sim_, nullptr) << *start_error_; }

  static std::string Url(absl::string_view kind, absl::string_view path) {
    return absl::StrCat(sim_->BaseUrl(std::string_view(kind.data(), kind.size())), path);
  }
  static HttpResponse Post(absl::string_view kind, absl::string_view path, absl::string_view body,
                           HttpOptions options = {}) {
    return HttpPost(Url(kind, path), std::string_view(body.data(), body.size()), options);
  }
  static HttpResponse Get(absl::string_view kind, absl::string_view path) {
    return HttpGet(Url(kind, path));
  }
  static HttpOptions Fault(absl::string_view spec) {
    HttpOptions options;
    options.headers.push_back(absl::StrCat("x-llmbench-fault: ", spec));
    return options;
  }

  // The simulator is still up and answering.
  static void ExpectAlive() {
    HttpResponse r = Get("vllm", "/health");
    EXPECT_EQ(r.curl_code, 0) << r.curl_error;
    EXPECT_EQ(r.status, 200);
    EXPECT_FALSE(sim_->process().Wait(milliseconds(0)).ok()) << "llmbench-sim exited";
  }

  static SimProcess* sim_;
  static std::string* start_error_;
};

SimProcess* SimTest::sim_ = nullptr;
std::string* SimTest::start_error_ = new std::string();

// ---- Ollama ----------------------------------------------------------------------------------

TEST_F(SimTest, OllamaRootAndVersion) {
  HttpResponse root = Get("ollama", "/");
  EXPECT_EQ(root.status, 200);
  EXPECT_EQ(root.body, "Ollama is running");
  EXPECT_THAT(root.Header("content-type").value_or(""), StartsWith("text/plain"));

  HttpResponse version = Get("ollama", "/api/version");
  EXPECT_EQ(version.status, 200);
  EXPECT_EQ(version.Header("content-type").value_or(""), "application/json; charset=utf-8");
  EXPECT_EQ(ShapeDiff(ReadFixture("ollama/version.json"), version.body), "");
  EXPECT_FALSE(absl::EndsWith(version.body, "\n"));
}

TEST_F(SimTest, OllamaTagsAndPs) {
  HttpResponse tags = Get("ollama", "/api/tags");
  EXPECT_EQ(tags.status, 200);
  EXPECT_EQ(tags.Header("content-type").value_or(""), "application/json; charset=utf-8");
  EXPECT_EQ(ShapeDiff(ReadFixture("ollama/tags.json"), tags.body), "");
  Json t(tags.body);
  EXPECT_THAT(t.String("/models/0/name").value_or(""), StartsWith(kModel));

  HttpResponse ps = Get("ollama", "/api/ps");
  EXPECT_EQ(ps.status, 200);
  EXPECT_EQ(ShapeDiff(ReadFixture("ollama/ps.json"), ps.body), "");
  Json p(ps.body);
  EXPECT_THAT(p.String("/models/0/name").value_or(""), StartsWith(kModel));
  EXPECT_EQ(p.Int("/models/0/context_length"), kMaxModelLen);
}

TEST_F(SimTest, OllamaGenerateStreamFramingShapeAndTimings) {
  constexpr int kWords = 9;
  constexpr int kPredict = 5;
  HttpResponse r = Post("ollama", "/api/generate",
                        absl::StrCat(R"({"model":"sim-model","prompt":")", Prompt(kWords),
                                     R"(","options":{"num_predict":)", kPredict, "}}"));
  ASSERT_EQ(r.curl_code, 0) << r.curl_error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-type").value_or(""), "application/x-ndjson");
  std::vector<WireEvent> lines = Ndjson(r);
  std::vector<WireEvent> fixture = FixtureNdjson("ollama/generate_stream.ndjson");
  ASSERT_EQ(lines.size(), kPredict + 1u) << r.body;
  ShapeOptions opts = ShapeOptions::Optional({"load_duration"});
  std::string text;
  const std::regex created_at(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?Z$)");
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    EXPECT_EQ(ShapeDiff(fixture[0].payload, lines[i].payload, opts), "") << "line " << i;
    Json j(lines[i].payload);
    EXPECT_EQ(j.String("/model"), kModel);
    EXPECT_EQ(j.Bool("/done"), false);
    EXPECT_TRUE(std::regex_match(j.String("/created_at").value_or(""), created_at))
        << j.String("/created_at").value_or("");
    text += j.String("/response").value_or("");
  }
  EXPECT_EQ(WordCount(text), kPredict) << text;
  EXPECT_EQ(ShapeDiff(fixture.back().payload, lines.back().payload, opts), "");
  Json last(lines.back().payload);
  EXPECT_EQ(last.Bool("/done"), true);
  EXPECT_EQ(last.String("/done_reason"), "length");
  EXPECT_EQ(last.String("/response"), "");
  EXPECT_EQ(last.Int("/prompt_eval_count"), kWords);
  EXPECT_EQ(last.Int("/eval_count"), kPredict);
  // jitter 0: the reported prefill is exactly the model's.
  EXPECT_EQ(last.Int("/prompt_eval_duration"), PrefillNs(kWords));
  // Decode of tokens 2..N at batch 1: (N-1) steps of itl + per_seq. Reported, not measured.
  EXPECT_GT(last.Int("/eval_duration").value_or(0), 0);
  EXPECT_GE(last.Int("/total_duration").value_or(0),
            last.Int("/prompt_eval_duration").value_or(0) + last.Int("/eval_duration").value_or(0));
}

TEST_F(SimTest, OllamaGenerateNonStream) {
  constexpr int kWords = 4;
  HttpResponse r = Post("ollama", "/api/generate",
                        absl::StrCat(R"({"model":"sim-model","prompt":")", Prompt(kWords),
                                     R"(","stream":false,"options":{"num_predict":3}})"));
  ASSERT_EQ(r.curl_code, 0) << r.curl_error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-type").value_or(""), "application/json; charset=utf-8");
  EXPECT_FALSE(absl::EndsWith(r.body, "\n")) << "gin c.JSON writes no trailing newline";
  EXPECT_EQ(ShapeDiff(ReadFixture("ollama/generate.json"), r.body,
                      ShapeOptions::Optional({"context", "load_duration"})),
            "");
  Json j(r.body);
  EXPECT_EQ(j.String("/done_reason"), "length");
  EXPECT_EQ(WordCount(j.String("/response").value_or("")), 3);
  EXPECT_EQ(j.Int("/eval_count"), 3);
  EXPECT_EQ(j.Int("/prompt_eval_count"), kWords);
  EXPECT_EQ(j.Int("/prompt_eval_duration"), PrefillNs(kWords));
}

TEST_F(SimTest, OllamaChatStreamAndNonStream) {
  // Chat prompt tokens = words of all message contents: 3 + 2.
  const std::string messages =
      R"("messages":[{"role":"system","content":"be very brief"},{"role":"user","content":"hi there"}])";
  HttpResponse r = Post("ollama", "/api/chat",
                        absl::StrCat(R"({"model":"sim-model",)", messages,
                                     R"(,"options":{"num_predict":4}})"));
  ASSERT_EQ(r.curl_code, 0) << r.curl_error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-type").value_or(""), "application/x-ndjson");
  std::vector<WireEvent> lines = Ndjson(r);
  std::vector<WireEvent> fixture = FixtureNdjson("ollama/chat_stream.ndjson");
  ASSERT_EQ(lines.size(), 5u) << r.body;
  ShapeOptions opts = ShapeOptions::Optional({"load_duration"});
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    EXPECT_EQ(ShapeDiff(fixture[0].payload, lines[i].payload, opts), "") << "line " << i;
    EXPECT_EQ(Json(lines[i].payload).String("/message/role"), "assistant");
  }
  EXPECT_EQ(ShapeDiff(fixture.back().payload, lines.back().payload, opts), "");
  Json last(lines.back().payload);
  EXPECT_EQ(last.Int("/prompt_eval_count"), 5);
  EXPECT_EQ(last.Int("/eval_count"), 4);
  EXPECT_EQ(last.String("/done_reason"), "length");
  EXPECT_EQ(last.Int("/prompt_eval_duration"), PrefillNs(5));

  HttpResponse single = Post("ollama", "/api/chat",
                             absl::StrCat(R"({"model":"sim-model","stream":false,)", messages,
                                          R"(,"options":{"num_predict":4}})"));
  EXPECT_EQ(single.status, 200);
  EXPECT_EQ(single.Header("content-type").value_or(""), "application/json; charset=utf-8");
  EXPECT_FALSE(absl::EndsWith(single.body, "\n"));
  EXPECT_EQ(ShapeDiff(fixture.back().payload, single.body, opts), "");
  Json s(single.body);
  EXPECT_EQ(WordCount(s.String("/message/content").value_or("")), 4);
  EXPECT_EQ(s.Int("/eval_count"), 4);
}

TEST_F(SimTest, OllamaOpenAiChatStream) {
  HttpResponse r = Post(
      "ollama", "/v1/chat/completions",
      R"({"model":"sim-model","messages":[{"role":"user","content":"why is the sky blue?"}],)"
      R"("max_tokens":4,"stream":true,"stream_options":{"include_usage":true}})");
  ASSERT_EQ(r.curl_code, 0) << r.curl_error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-type").value_or(""), "text/event-stream");
  std::vector<WireEvent> events = Sse(r, "data: ");
  std::vector<WireEvent> fixture = FixtureSse("ollama/chat_completions_stream_usage.sse", "data: ");
  // 4 token chunks, finish chunk, usage chunk, [DONE] — the fixture's layout exactly.
  ASSERT_EQ(events.size(), fixture.size()) << r.body;
  ASSERT_EQ(events.back().payload, "[DONE]");
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    EXPECT_EQ(ShapeDiff(fixture[i].payload, events[i].payload), "") << "event " << i;
    Json j(events[i].payload);
    EXPECT_EQ(j.String("/object"), "chat.completion.chunk");
    EXPECT_EQ(j.String("/system_fingerprint"), "fp_ollama");
    EXPECT_EQ(j.String("/model"), kModel);
  }
  EXPECT_EQ(Json(events[0].payload).String("/choices/0/delta/role"), "assistant");
  EXPECT_EQ(Json(events[4].payload).String("/choices/0/finish_reason"), "length");
  Json usage(events[5].payload);
  EXPECT_EQ(usage.Int("/usage/prompt_tokens"), 5);
  EXPECT_EQ(usage.Int("/usage/completion_tokens"), 4);
  EXPECT_EQ(usage.Int("/usage/total_tokens"), 9);
}

TEST_F(SimTest, OllamaOpenAiCompletionsStreamAndMaxCompletionTokensIgnored) {
  HttpResponse r = Post("ollama", "/v1/completions",
                        R"({"model":"sim-model","prompt":"Why is the sky blue?","max_tokens":3,)"
                        R"("stream":true,"stream_options":{"include_usage":true}})");
  ASSERT_EQ(r.curl_code, 0) << r.curl_error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-type").value_or(""), "text/event-stream");
  std::vector<WireEvent> events = Sse(r, "data: ");
  std::vector<WireEvent> fixture = FixtureSse("ollama/completions_stream_usage.sse", "data: ");
  ASSERT_EQ(events.size(), fixture.size()) << r.body;
  EXPECT_EQ(events.back().payload, "[DONE]");
  std::string text;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    EXPECT_EQ(ShapeDiff(fixture[i].payload, events[i].payload), "") << "event " << i;
    Json j(events[i].payload);
    EXPECT_EQ(j.String("/object"), "text_completion");
    text += j.String("/choices/0/text").value_or("");
    if (i + 2 < events.size()) {  // every non-final chunk carries a zeroed usage
      EXPECT_EQ(j.Int("/usage/completion_tokens"), 0) << "event " << i;
    }
  }
  EXPECT_EQ(WordCount(text), 3);
  Json usage(events[events.size() - 2].payload);
  EXPECT_EQ(usage.Int("/usage/prompt_tokens"), 5);
  EXPECT_EQ(usage.Int("/usage/completion_tokens"), 3);

  // max_completion_tokens is not an Ollama field: generation is bounded only by num_predict
  // (here absent) and the sim's --natural-tokens (0 = never) / context. Use a short stream by
  // also giving max_tokens and check max_completion_tokens did not cap it.
  HttpResponse ignored = Post(
      "ollama", "/v1/chat/completions",
      R"({"model":"sim-model","messages":[{"role":"user","content":"x"}],"max_tokens":6,)"
      R"("max_completion_tokens":2,"stream":false})");
  EXPECT_EQ(ignored.status, 200);
  Json j(ignored.body);
  EXPECT_EQ(j.Int("/usage/completion_tokens"), 6) << ignored.body;
}

TEST_F(SimTest, OllamaOpenAiModels) {
  HttpResponse r = Get("ollama", "/v1/models");
  EXPECT_EQ(r.status, 200);
  Json j(r.body);
  ASSERT_TRUE(j.ok()) << j.error();
  EXPECT_EQ(j.String("/object"), "list");
  EXPECT_THAT(j.String("/data/0/id").value_or(""), StartsWith(kModel));
  EXPECT_EQ(j.String("/data/0/object"), "model");
}

TEST_F(SimTest, OllamaErrors) {
  HttpResponse unknown = Post("ollama", "/api/generate", R"({"model":"nope","prompt":"hi"})");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body, R"({"error":"model 'nope' not found"})");
  EXPECT_EQ(unknown.Header("content-type").value_or(""), "application/json; charset=utf-8");

  HttpResponse chat_unknown = Post("ollama", "/api/chat",
                                   R"({"model":"nope","messages":[{"role":"user","content":"a"}]})");
  EXPECT_EQ(chat_unknown.status, 404);
  EXPECT_EQ(chat_unknown.body, R"({"error":"model 'nope' not found"})");

  // OpenAI-compatible routes: OpenAI-style error, json.Encoder adds "\n" (error_404_openai.json).
  HttpResponse openai = Post("ollama", "/v1/chat/completions",
                             R"({"model":"nope","messages":[{"role":"user","content":"a"}]})");
  EXPECT_EQ(openai.status, 404);
  EXPECT_EQ(openai.body,
            "{\"error\":{\"message\":\"model 'nope' not found\",\"type\":\"not_found_error\","
            "\"param\":null,\"code\":null}}\n");

  HttpResponse bad_json = Post("ollama", "/api/generate", "{not json");
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_EQ(ShapeDiff(ReadFixture("ollama/error_404.json"), bad_json.body), "");

  HttpResponse missing_model = Post("ollama", "/api/generate", R"({"prompt":"hi"})");
  EXPECT_EQ(missing_model.status, 400);
  EXPECT_EQ(ShapeDiff(ReadFixture("ollama/error_404.json"), missing_model.body), "");
  ExpectAlive();
}

// ---- vLLM ------------------------------------------------------------------------------------

TEST_F(SimTest, VllmHealthVersionModels) {
  HttpResponse health = Get("vllm", "/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "");

  HttpResponse version = Get("vllm", "/version");
  EXPECT_EQ(version.status, 200);
  EXPECT_THAT(version.Header("content-type").value_or(""), StartsWith("application/json"));
  EXPECT_EQ(ShapeDiff(ReadFixture("vllm/version.json"), version.body), "");

  HttpResponse models = Get("vllm", "/v1/models");
  EXPECT_EQ(models.status, 200);
  EXPECT_EQ(ShapeDiff(ReadFixture("vllm/models.json"), models.body), "");
  Json j(models.body);
  EXPECT_EQ(j.String("/data/0/id"), kModel);
  EXPECT_EQ(j.String("/data/0/owned_by"), "vllm");
  EXPECT_EQ(j.Int("/data/0/max_model_len"), kMaxModelLen);
}

TEST_F(SimTest, VllmTokenizeDetokenize) {
  HttpResponse tok = Post("vllm", "/tokenize", R"({"model":"sim-model","prompt":"a b  c\td e"})");
  EXPECT_EQ(tok.status, 200);
  EXPECT_EQ(ShapeDiff(ReadFixture("vllm/tokenize.json"), tok.body), "");
  Json t(tok.body);
  EXPECT_EQ(t.Int("/count"), 5);
  EXPECT_EQ(t.ArraySize("/tokens"), 5);
  EXPECT_EQ(t.Int("/max_model_len"), kMaxModelLen);
  EXPECT_TRUE(t.IsNull("/token_strs"));

  HttpResponse detok = Post("vllm", "/detokenize", R"({"model":"sim-model","tokens":[1,2,3]})");
  EXPECT_EQ(detok.status, 200);
  EXPECT_EQ(ShapeDiff(ReadFixture("vllm/detokenize.json"), detok.body), "");
}

TEST_F(SimTest, VllmCompletionsStreamIgnoreEosExactN) {
  constexpr int kWords = 4;
  constexpr int kN = 7;
  HttpResponse r = Post(
      "vllm", "/v1/completions",
      absl::StrCat(R"({"model":"sim-model","prompt":")", Prompt(kWords), R"(","max_tokens":)", kN,
                   R"(,"min_tokens":)", kN,
                   R"(,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}})"));
  ASSERT_EQ(r.curl_code, 0) << r.curl_error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-type").value_or(""), "text/event-stream; charset=utf-8");
  std::vector<WireEvent> events = Sse(r, "data: ");
  std::vector<WireEvent> fixture = FixtureSse("vllm/completions_stream_usage.sse", "data: ");
  ASSERT_EQ(events.size(), kN + 2u) << r.body;  // N token chunks, usage, [DONE]
  EXPECT_EQ(events.back().payload, "[DONE]");
  std::string text;
  for (int i = 0; i < kN; ++i) {
    EXPECT_EQ(ShapeDiff(fixture[0].payload, events[i].payload), "") << "event " << i;
    Json j(events[i].payload);
    EXPECT_EQ(j.String("/object"), "text_completion");
    text += j.String("/choices/0/text").value_or("");
    if (i + 1 < kN) {
      EXPECT_TRUE(j.IsNull("/choices/0/finish_reason")) << i;
    }
  }
  EXPECT_EQ(WordCount(text), kN);
  EXPECT_EQ(Json(events[kN - 1].payload).String("/choices/0/finish_reason"), "length");
  EXPECT_EQ(ShapeDiff(fixture[fixture.size() - 2].payload, events[kN].payload), "");
  Json usage(events[kN].payload);
  EXPECT_EQ(usage.Keys("/usage"),
            (std::vector<std::string>{"prompt_tokens", "total_tokens", "completion_tokens"}));
  EXPECT_EQ(usage.Int("/usage/prompt_tokens"), kWords);
  EXPECT_EQ(usage.Int("/usage/completion_tokens"), kN);
  EXPECT_EQ(usage.Int("/usage/total_tokens"), kWords + kN);
}

TEST_F(SimTest, VllmCompletionsDefaultMaxTokensIs16) {
  HttpResponse r = Post("vllm", "/v1/completions", R"({"model":"sim-model","prompt":"a b c"})");
  ASSERT_EQ(r.curl_code, 0) << r.curl_error;
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.Header("content-type").value_or(""), StartsWith("application/json"));
  Json j(r.body);
  ASSERT_TRUE(j.ok()) << j.error();
  EXPECT_EQ(j.String("/object"), "text_completion");
  EXPECT_EQ(j.Int("/usage/prompt_tokens"), 3);
  EXPECT_EQ(j.Int("/usage/completion_tokens"), 16);
  EXPECT_EQ(WordCount(j.String("/choices/0/text").value_or("")), 16);
  EXPECT_EQ(j.String("/choices/0/finish_reason"), "length");
}

TEST_F(SimTest, VllmChatStreamShape) {
  constexpr int kN = 5;
  HttpResponse r = Post(
      "vllm", "/v1/chat/completions",
      absl::StrCat(R"({"model":"sim-model","messages":[{"role":"user","content":"one two three"}],)"
                   R"("max_tokens":)",
                   kN, R"(,"ignore_eos":true,"stream":true,"stream_options":{"include_usage":true}})"));
  ASSERT_EQ(r.curl_code, 0) << r.curl_error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-type").value_or(""), "text/event-stream; charset=utf-8");
  std::vector<WireEvent> events = Sse(r, "data: ");
  // Role and token chunk layouts: stream_error_midstream.sse (no reasoning parser); finish and
  // usage chunks: chat_stream_usage.sse without the reasoning parser's reasoning_content.
  std::vector<WireEvent> plain = FixtureSse("vllm/stream_error_midstream.sse", "data: ");
  std::vector<WireEvent> usage_fixture = FixtureSse("vllm/chat_stream_usage.sse", "data: ");
  ShapeOptions opts = ShapeOptions::Ignore({"reasoning_content"});
  ASSERT_GE(events.size(), 4u) << r.body;
  ASSERT_EQ(events.back().payload, "[DONE]");
  EXPECT_EQ(ShapeDiff(plain[0].payload, events[0].payload, opts), "");
  Json role(events[0].payload);
  EXPECT_EQ(role.String("/choices/0/delta/role"), "assistant");
  EXPECT_EQ(role.String("/choices/0/delta/content"), "");
  std::string text;
  size_t usage_index = events.size() - 2;
  for (size_t i = 1; i < usage_index; ++i) {
    Json j(events[i].payload);
    bool finish = !j.IsNull("/choices/0/finish_reason");
    EXPECT_EQ(ShapeDiff(finish ? usage_fixture[3].payload : plain[1].payload, events[i].payload,
                        opts),
              "")
        << "event " << i;
    EXPECT_EQ(finish, i + 1 == usage_index) << "finish_reason only on the last chunk, event " << i;
    text += j.String("/choices/0/delta/content").value_or("");
  }
  EXPECT_EQ(WordCount(text), kN);
  EXPECT_EQ(Json(events[usage_index - 1].payload).String("/choices/0/finish_reason"), "length");
  EXPECT_EQ(ShapeDiff(usage_fixture[4].payload, events[usage_index].payload, opts), "");
  Json usage(events[usage_index].payload);
  EXPECT_EQ(usage.Int("/usage/prompt_tokens"), 3);
  EXPECT_EQ(usage.Int("/usage/completion_tokens"), kN);
  EXPECT_EQ(usage.Int("/usage/total_tokens"), 3 + kN);
  // Every chunk shares one id of the form chatcmpl-...
  EXPECT_THAT(role.String("/id").value_or(""), StartsWith("chatcmpl-"));
}

TEST_F(SimTest, VllmMetrics) {
  HttpResponse before = Get("vllm", "/metrics");
  EXPECT_EQ(before.status, 200);
  EXPECT_THAT(before.Header("content-type").value_or(""), StartsWith("text/plain"));
  for (const char* name :
       {"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:prompt_tokens_total",
        "vllm:generation_tokens_total", "vllm:request_success_total",
        "vllm:time_to_first_token_seconds_bucket", "vllm:e2e_request_latency_seconds_count",
        "vllm:inter_token_latency_seconds_bucket"}) {
    EXPECT_THAT(before.body, HasSubstr(name));
  }
  EXPECT_THAT(before.body, HasSubstr("# TYPE vllm:num_requests_running gauge"));
  auto b = ParseProm(before.body);
  HttpResponse gen = Post("vllm", "/v1/completions",
                          R"({"model":"sim-model","prompt":"a b","max_tokens":3,"ignore_eos":true})");
  EXPECT_EQ(gen.status, 200);
  auto a = ParseProm(Get("vllm", "/metrics").body);
  EXPECT_EQ(PromSum(a, "vllm:generation_tokens_total") - PromSum(b, "vllm:generation_tokens_total"),
            3);
  EXPECT_EQ(PromSum(a, "vllm:prompt_tokens_total") - PromSum(b, "vllm:prompt_tokens_total"), 2);
}

TEST_F(SimTest, VllmErrors) {
  HttpResponse unknown = Post("vllm", "/v1/completions", R"({"model":"nope","prompt":"hi"})");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.body,
            R"({"error":{"message":"The model `nope` does not exist.","type":"NotFoundError","param":null,"code":404}})");
  HttpResponse unknown_stream = Post(
      "vllm", "/v1/chat/completions",
      R"({"model":"nope","messages":[{"role":"user","content":"a"}],"stream":true})");
  EXPECT_EQ(unknown_stream.status, 404) << "errors before the stream are plain JSON";
  EXPECT_EQ(ShapeDiff(ReadFixture("vllm/error_404_model.json"), unknown_stream.body), "");

  HttpResponse bad_json = Post("vllm", "/v1/completions", "{not json");
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_EQ(ShapeDiff(ReadFixture("vllm/error_400.json"), bad_json.body), "");
  EXPECT_EQ(Json(bad_json.body).String("/error/type"), "BadRequestError");

  HttpResponse missing = Post("vllm", "/v1/chat/completions", R"({"model":"sim-model"})");
  EXPECT_EQ(missing.status, 400);
  EXPECT_EQ(ShapeDiff(ReadFixture("vllm/error_400.json"), missing.body), "");

  // prompt + max_tokens > max_model_len → 400 BadRequestError (PROTOCOLS.md §2.4).
  HttpResponse too_long =
      Post("vllm", "/v1/completions",
           absl::StrCat(R"({"model":"sim-model","prompt":")", Prompt(kMaxModelLen + 10),
                        R"(","max_tokens":10})"));
  EXPECT_EQ(too_long.status, 400);
  EXPECT_EQ(ShapeDiff(ReadFixture("vllm/error_400.json"), too_long.body), "");
  EXPECT_THAT(Json(too_long.body).String("/error/message").value_or(""),
              HasSubstr("maximum context length is 4096 tokens"));
  ExpectAlive();
}

// ---- TGI -------------------------------------------------------------------------------------

TEST_F(SimTest, TgiInfoHealthModels) {
  HttpResponse info = Get("tgi", "/info");
  EXPECT_EQ(info.status, 200);
  EXPECT_THAT(info.Header("content-type").value_or(""), StartsWith("application/json"));
  EXPECT_EQ(ShapeDiff(ReadFixture("tgi/info.json"), info.body), "");
  Json i(info.body);
  EXPECT_EQ(i.String("/model_id"), kModel);
  EXPECT_EQ(i.Int("/max_total_tokens"), kMaxModelLen);

  HttpResponse health = Get("tgi", "/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "");

  HttpResponse models = Get("tgi", "/v1/models");
  EXPECT_EQ(models.status, 200);
  EXPECT_EQ(ShapeDiff(ReadFixture("tgi/models.json"), models.body), "");
  EXPECT_EQ(Json(models.body).String("/data/0/id"), kModel);
}

TEST_F(SimTest, TgiTokenize) {
  HttpResponse r = Post("tgi", "/tokenize", R"({"inputs":"a bb ccc"})");
  EXPECT_EQ(r.status, 200);
  Json j(r.body);
  ASSERT_TRUE(j.ok()) << j.error();
  ASSERT_EQ(j.ArraySize(""), 3) << r.body;
  EXPECT_EQ(j.Keys("/0"), (std::vector<std::string>{"id", "text", "start", "stop"}));
  EXPECT_EQ(j.Int("/1/start"), 2);
  EXPECT_EQ(j.Int("/1/stop"), 4);
}

void CheckTgiGenerate(const HttpResponse& r, const std::string& object, int words, int n) {
  ASSERT_EQ(r.curl_code, 0) << r.curl_error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-type").value_or(""), "application/json");
  EXPECT_EQ(ShapeDiff(ReadFixture("tgi/generate.json"), object), "");
  Json j(object);
  EXPECT_EQ(j.String("/details/finish_reason"), "length");
  EXPECT_EQ(j.Int("/details/generated_tokens"), n);
  EXPECT_EQ(j.ArraySize("/details/tokens"), n);
  EXPECT_EQ(WordCount(j.String("/generated_text").value_or("")), n);
  // x-* headers, in generate.headers order and units.
  for (const char* h : {"x-compute-type", "x-compute-time", "x-compute-characters", "x-total-time",
                        "x-validation-time", "x-queue-time", "x-inference-time",
                        "x-time-per-token", "x-prompt-tokens", "x-generated-tokens"}) {
    EXPECT_TRUE(r.Header(h).has_value()) << "missing header " << h;
  }
  EXPECT_EQ(r.Header("x-compute-type"), "gpu+optimized");
  EXPECT_EQ(r.Header("x-prompt-tokens"), absl::StrCat(words));
  EXPECT_EQ(r.Header("x-generated-tokens"), absl::StrCat(n));
  int inference_ms = -1;
  EXPECT_TRUE(absl::SimpleAtoi(r.Header("x-inference-time").value_or(""), &inference_ms));
  // Inference = prefill + (n-1) decode steps at batch 1; integer ms, -1/+15 ms like the TTFT
  // tolerance (a shared 2-core machine may delay a step).
  double model_ms = PrefillNs(words) / 1e6 + (n - 1) * (kItlMs + kItlPerSeqUs / 1000.0);
  EXPECT_GE(inference_ms, static_cast<int>(model_ms) - 1);
  EXPECT_LE(inference_ms, model_ms + 15);
  double compute_s = 0;
  EXPECT_TRUE(absl::SimpleAtod(r.Header("x-compute-time").value_or(""), &compute_s));
  EXPECT_GE(compute_s * 1000, inference_ms - 1) << "x-compute-time is seconds";
}

TEST_F(SimTest, TgiGenerateAndXHeaders) {
  constexpr int kWords = 11;
  constexpr int kN = 10;
  const std::string body = absl::StrCat(R"({"inputs":")", Prompt(kWords),
                                        R"(","parameters":{"max_new_tokens":)", kN,
                                        R"(,"details":true}})");
  HttpResponse r = Post("tgi", "/generate", body);
  CheckTgiGenerate(r, r.body, kWords, kN);
  // POST / dispatches on "stream" (absent = false) and wraps the response in an array
  // (compat_generate: Json(vec![generation])).
  HttpResponse compat = Post("tgi", "/", body);
  ASSERT_TRUE(absl::StartsWith(compat.body, "[") && absl::EndsWith(compat.body, "]"))
      << compat.body;
  CheckTgiGenerate(compat, compat.body.substr(1, compat.body.size() - 2), kWords, kN);
}

void CheckTgiGenerateStream(const HttpResponse& r, int words, int n) {
  ASSERT_EQ(r.curl_code, 0) << r.curl_error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-type").value_or(""), "text/event-stream");
  EXPECT_TRUE(r.Header("x-compute-type").has_value());
  EXPECT_FALSE(r.Header("x-total-time").has_value()) << "timing headers are non-stream only";
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("[DONE]")));
  std::vector<WireEvent> events = Sse(r, "data:");
  std::vector<WireEvent> fixture = FixtureSse("tgi/generate_stream.sse", "data:");
  ASSERT_EQ(events.size(), static_cast<size_t>(n)) << r.body;
  for (int i = 0; i < n; ++i) {
    EXPECT_FALSE(absl::StartsWith(events[i].payload, " ")) << "TGI writes data: with no space";
    const std::string& want = i + 1 < n ? fixture[0].payload : fixture.back().payload;
    EXPECT_EQ(ShapeDiff(want, events[i].payload), "") << "event " << i;
    Json j(events[i].payload);
    EXPECT_EQ(j.Int("/index"), i + 1);
    if (i + 1 < n) {
      EXPECT_TRUE(j.IsNull("/generated_text"));
    }
  }
  Json last(events.back().payload);
  EXPECT_EQ(WordCount(last.String("/generated_text").value_or("")), n);
  EXPECT_EQ(last.String("/details/finish_reason"), "length");
  EXPECT_EQ(last.Int("/details/generated_tokens"), n);
  EXPECT_EQ(last.Int("/details/input_length"), words);
}

TEST_F(SimTest, TgiGenerateStream) {
  constexpr int kWords = 11;
  constexpr int kN = 6;
  const std::string params =
      absl::StrCat(R"("parameters":{"max_new_tokens":)", kN, R"(,"details":true})");
  CheckTgiGenerateStream(
      Post("tgi", "/generate_stream", absl::StrCat(R"({"inputs":")", Prompt(kWords), R"(",)",
                                                   params, "}")),
      kWords, kN);
  CheckTgiGenerateStream(Post("tgi", "/", absl::StrCat(R"({"inputs":")", Prompt(kWords),
                                                      R"(","stream":true,)", params, "}")),
                         kWords, kN);
}

TEST_F(SimTest, TgiOpenAiChatAndCompletionsStream) {
  HttpResponse r = Post("tgi", "/v1/chat/completions",
                        R"({"model":"tgi","messages":[{"role":"user","content":"Say 'OK!'"}],)"
                        R"("stream":true,"max_tokens":4,"stream_options":{"include_usage":true}})");
  ASSERT_EQ(r.curl_code, 0) << r.curl_error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-type").value_or(""), "text/event-stream");
  std::vector<WireEvent> events = Sse(r, "data:");
  std::vector<WireEvent> fixture = FixtureSse("tgi/chat_stream_usage.sse", "data:");
  ASSERT_EQ(events.size(), 6u) << r.body;  // 4 tokens, usage, [DONE]
  EXPECT_EQ(events.back().payload, "[DONE]");
  std::string text;
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(ShapeDiff(fixture[0].payload, events[i].payload), "") << "event " << i;
    Json j(events[i].payload);
    EXPECT_EQ(j.Keys("").front(), "object");
    EXPECT_EQ(j.String("/id"), "");
    EXPECT_EQ(j.String("/choices/0/delta/role"), "assistant");
    EXPECT_TRUE(j.IsNull("/usage"));
    text += j.String("/choices/0/delta/content").value_or("");
  }
  EXPECT_EQ(WordCount(text), 4);
  EXPECT_EQ(Json(events[3].payload).String("/choices/0/finish_reason"), "length");
  EXPECT_EQ(ShapeDiff(fixture[3].payload, events[4].payload), "");
  Json usage(events[4].payload);
  EXPECT_EQ(usage.Keys("/usage"),
            (std::vector<std::string>{"prompt_tokens", "completion_tokens", "total_tokens"}));
  EXPECT_EQ(usage.Int("/usage/prompt_tokens"), 2);
  EXPECT_EQ(usage.Int("/usage/completion_tokens"), 4);

  HttpResponse c = Post("tgi", "/v1/completions",
                        R"({"model":"tgi","prompt":"a b c","max_tokens":3,"stream":true})");
  ASSERT_EQ(c.curl_code, 0) << c.curl_error;
  EXPECT_EQ(c.status, 200);
  std::vector<WireEvent> cevents = Sse(c, "data:");
  ASSERT_GE(cevents.size(), 2u) << c.body;
  EXPECT_EQ(cevents.back().payload, "[DONE]");
  std::string ctext;
  for (size_t i = 0; i + 1 < cevents.size(); ++i) {
    ctext += Json(cevents[i].payload).String("/choices/0/text").value_or("");
  }
  EXPECT_EQ(WordCount(ctext), 3);
}

TEST_F(SimTest, TgiMetrics) {
  HttpResponse before = Get("tgi", "/metrics");
  EXPECT_EQ(before.status, 200);
  for (const char* name : {"tgi_request_count", "tgi_request_success", "tgi_queue_size",
                           "tgi_batch_current_size", "tgi_request_duration_bucket",
                           "tgi_request_generated_tokens", "tgi_request_input_length"}) {
    EXPECT_THAT(before.body, HasSubstr(name));
  }
  EXPECT_THAT(before.body, ::testing::Not(HasSubstr("# HELP"))) << "TGI writes only # TYPE";
  auto b = ParseProm(before.body);
  Post("tgi", "/generate", R"({"inputs":"x","parameters":{"max_new_tokens":2}})");
  auto a = ParseProm(Get("tgi", "/metrics").body);
  EXPECT_EQ(PromSum(a, "tgi_request_count") - PromSum(b, "tgi_request_count"), 1);
  EXPECT_EQ(PromSum(a, "tgi_request_success") - PromSum(b, "tgi_request_success"), 1);
}

TEST_F(SimTest, TgiErrors) {
  HttpResponse bad_json = Post("tgi", "/generate", "{not json");
  EXPECT_EQ(bad_json.status, 422) << "axum Json rejection";
  EXPECT_THAT(bad_json.Header("content-type").value_or(""), StartsWith("text/plain"));

  HttpResponse missing = Post("tgi", "/generate", R"({"parameters":{}})");
  EXPECT_EQ(missing.status, 422);
  EXPECT_THAT(missing.body, HasSubstr("inputs"));

  // Too long: /generate → 422 JSON; /generate_stream → 200 with one in-band error event.
  const std::string too_long =
      absl::StrCat(R"({"inputs":")", Prompt(11), R"(","parameters":{"max_new_tokens":5000}})");
  HttpResponse plain = Post("tgi", "/generate", too_long);
  EXPECT_EQ(plain.status, 422);
  EXPECT_EQ(ShapeDiff(ReadFixture("tgi/error_422.json"), plain.body), "");
  EXPECT_EQ(Json(plain.body).String("/error_type"), "validation");

  HttpResponse stream = Post("tgi", "/generate_stream", too_long);
  EXPECT_EQ(stream.status, 200);
  std::vector<WireEvent> events = Sse(stream, "data:");
  ASSERT_EQ(events.size(), 1u) << stream.body;
  std::vector<WireEvent> fixture =
      FixtureSse("tgi/generate_stream_error_validation.sse", "data:");
  EXPECT_EQ(ShapeDiff(fixture[0].payload, events[0].payload), "");
  EXPECT_EQ(Json(events[0].payload).String("/error_type"), "validation");
  ExpectAlive();
}

// ---- Latency model ---------------------------------------------------------------------------

// Index of the first event carrying generated text, and the arrival times of those events.
std::vector<std::chrono::steady_clock::time_point> TokenTimes(const std::vector<WireEvent>& events,
                                                              absl::string_view pointer) {
  std::vector<std::chrono::steady_clock::time_point> times;
  for (const WireEvent& e : events) {
    Json j(e.payload);
    if (!j.ok()) continue;
    std::optional<std::string> text = j.String(pointer);
    if (text.has_value() && !text->empty()) times.push_back(e.at);
  }
  return times;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

TEST_F(SimTest, LatencyModelTtftAndItlAtBatchOne) {
  // Tolerance: measured TTFT (request sent → first token event received) within
  // [model − 1 ms, model + 15 ms]; the minimum of 3 tries is used so one scheduling hiccup on the
  // shared machine does not fail the test. ITL: median gap within [model − 1 ms, model + 5 ms].
  constexpr int kWords = 200;
  constexpr int kN = 20;
  const double ttft_model_ms = PrefillNs(kWords) / 1e6;            // 30 ms
  const double itl_model_ms = kItlMs + kItlPerSeqUs / 1000.0;      // 10.02 ms
  struct Route {
    const char* kind;
    const char* path;
    std::string body;
    const char* prefix;  // "" = NDJSON
    const char* pointer;
  };
  const std::string prompt = Prompt(kWords);
  std::vector<Route> routes = {
      {"vllm", "/v1/completions",
       absl::StrCat(R"({"model":"sim-model","prompt":")", prompt, R"(","max_tokens":)", kN,
                    R"(,"ignore_eos":true,"stream":true})"),
       "data: ", "/choices/0/text"},
      {"ollama", "/api/generate",
       absl::StrCat(R"({"model":"sim-model","prompt":")", prompt,
                    R"(","options":{"num_predict":)", kN, "}}"),
       "", "/response"},
      {"tgi", "/generate_stream",
       absl::StrCat(R"({"inputs":")", prompt, R"(","parameters":{"max_new_tokens":)", kN, "}}"),
       "data:", "/token/text"},
  };
  for (const Route& route : routes) {
    SCOPED_TRACE(route.kind);
    double best_ttft = 1e9;
    std::vector<double> gaps;
    for (int attempt = 0; attempt < 3; ++attempt) {
      HttpResponse r = Post(route.kind, route.path, route.body);
      ASSERT_EQ(r.curl_code, 0) << r.curl_error;
      ASSERT_EQ(r.status, 200) << r.body;
      std::vector<WireEvent> events =
          absl::string_view(route.prefix).empty() ? Ndjson(r) : Sse(r, route.prefix);
      auto times = TokenTimes(events, route.pointer);
      ASSERT_EQ(times.size(), static_cast<size_t>(kN)) << r.body;
      best_ttft = std::min(best_ttft, Ms(times[0] - r.start).count());
      for (size_t i = 1; i < times.size(); ++i) gaps.push_back(Ms(times[i] - times[i - 1]).count());
    }
    EXPECT_GE(best_ttft, ttft_model_ms - 1);
    EXPECT_LE(best_ttft, ttft_model_ms + 15);
    double median_itl = Median(gaps);
    EXPECT_GE(median_itl, itl_model_ms - 1);
    EXPECT_LE(median_itl, itl_model_ms + 5);
  }
}

TEST(SimBatchTest, ItlGrowsWithBatchSize) {
  // itl = itl_ms + itl_per_seq_us × batch. With 8 concurrent streams and 1 ms per sequence the
  // step is 5 + 8 = 13 ms, against 6 ms alone. Tolerance on the median gap: −1/+5 ms.
  SimProcess::Options options;
  options.kinds = {"vllm"};
  options.args = {"--itl-ms", "5", "--itl-per-seq-us", "1000", "--ttft-base-ms", "5"};
  auto sim = SimProcess::Start(options);
  ASSERT_TRUE(sim.ok()) << sim.status();
  constexpr int kStreams = 8;
  constexpr int kN = 40;
  std::vector<HttpResponse> responses(kStreams);
  std::vector<std::thread> threads;
  const std::string url = (*sim)->BaseUrl("vllm") + "/v1/completions";
  for (int i = 0; i < kStreams; ++i) {
    threads.emplace_back([&, i] {
      responses[i] = HttpPost(url, absl::StrCat(R"({"model":"sim-model","prompt":"a","max_tokens":)",
                                                kN, R"(,"ignore_eos":true,"stream":true})"));
    });
  }
  for (std::thread& t : threads) t.join();
  std::vector<double> gaps;
  for (const HttpResponse& r : responses) {
    ASSERT_EQ(r.curl_code, 0) << r.curl_error;
    auto times = TokenTimes(Sse(r, "data: "), "/choices/0/text");
    ASSERT_EQ(times.size(), static_cast<size_t>(kN));
    // The middle of each stream, where all 8 are running.
    for (size_t i = kN / 4; i < 3 * kN / 4; ++i) gaps.push_back(Ms(times[i] - times[i - 1]).count());
  }
  double median = Median(gaps);
  EXPECT_GE(median, 13 - 1);
  EXPECT_LE(median, 13 + 5);
}

// ---- /sim/metrics ----------------------------------------------------------------------------

TEST_F(SimTest, SimMetricsOnEveryPersonalityCountRequests) {
  for (const char* kind : {"ollama", "vllm", "tgi"}) {
    SCOPED_TRACE(kind);
    HttpResponse r = Get(kind, "/sim/metrics");
    EXPECT_EQ(r.status, 200);
    for (const char* name :
         {"llmbench_sim_requests_total", "llmbench_sim_tokens_generated_total",
          "llmbench_sim_prompt_tokens_total", "llmbench_sim_running", "llmbench_sim_waiting",
          "llmbench_sim_ttft_seconds", "llmbench_sim_step_seconds", "llmbench_sim_faults_total"}) {
      EXPECT_THAT(r.body, HasSubstr(name));
    }
  }
  auto before = ParseProm(Get("vllm", "/sim/metrics").body);
  HttpResponse gen =
      Post("vllm", "/v1/completions",
           R"({"model":"sim-model","prompt":"a b c d e f","max_tokens":9,"ignore_eos":true})");
  ASSERT_EQ(gen.status, 200);
  // Each listener is its own engine with its own counters: read the same one.
  auto after = ParseProm(Get("vllm", "/sim/metrics").body);
  EXPECT_EQ(PromSum(after, "llmbench_sim_tokens_generated_total") -
                PromSum(before, "llmbench_sim_tokens_generated_total"),
            9);
  EXPECT_EQ(PromSum(after, "llmbench_sim_prompt_tokens_total") -
                PromSum(before, "llmbench_sim_prompt_tokens_total"),
            6);
  EXPECT_GE(PromSum(after, "llmbench_sim_requests_total") -
                PromSum(before, "llmbench_sim_requests_total"),
            1);
  EXPECT_EQ(PromSum(after, "llmbench_sim_running"), 0);
}

// ---- Faults ----------------------------------------------------------------------------------

TEST_F(SimTest, StatusFaultsUseEachEnginesErrorBody) {
  for (int code : {400, 404, 422, 429, 500, 503}) {
    SCOPED_TRACE(code);
    HttpOptions fault = Fault(absl::StrCat("status_", code));
    HttpResponse o = Post("ollama", "/api/generate", R"({"model":"sim-model","prompt":"a"})", fault);
    EXPECT_EQ(o.status, code);
    EXPECT_EQ(ShapeDiff(ReadFixture("ollama/error_404.json"), o.body), "");

    HttpResponse v = Post("vllm", "/v1/completions",
                          R"({"model":"sim-model","prompt":"a","stream":true})", fault);
    EXPECT_EQ(v.status, code);
    EXPECT_EQ(ShapeDiff(ReadFixture("vllm/error_404_model.json"), v.body), "");
    EXPECT_EQ(Json(v.body).Int("/error/code"), code);

    HttpResponse t = Post("tgi", "/generate", R"({"inputs":"a"})", fault);
    EXPECT_EQ(t.status, code);
    EXPECT_EQ(ShapeDiff(ReadFixture("tgi/error_429.json"), t.body), "");
  }
  ExpectAlive();
}

TEST_F(SimTest, StreamErrorFaultIsInBand) {
  // Ollama: {"error":"…"} line after 2 tokens, status 200, no done line.
  HttpResponse o = Post("ollama", "/api/generate",
                        R"({"model":"sim-model","prompt":"a","options":{"num_predict":8}})",
                        Fault("stream_error"));
  EXPECT_EQ(o.status, 200);
  std::vector<WireEvent> lines = Ndjson(o);
  ASSERT_EQ(lines.size(), 3u) << o.body;
  std::vector<WireEvent> ofix = FixtureNdjson("ollama/stream_error_midstream.ndjson");
  EXPECT_EQ(ShapeDiff(ofix.back().payload, lines[2].payload), "");

  // vLLM: Python json.dumps-spaced error event, then [DONE]; after=3 tokens.
  HttpResponse v = Post("vllm", "/v1/chat/completions",
                        R"({"model":"sim-model","messages":[{"role":"user","content":"a"}],)"
                        R"("max_tokens":8,"stream":true})",
                        Fault("stream_error;after=3"));
  EXPECT_EQ(v.status, 200);
  std::vector<WireEvent> events = Sse(v, "data: ");
  ASSERT_GE(events.size(), 3u) << v.body;
  EXPECT_EQ(events.back().payload, "[DONE]");
  const std::string& err = events[events.size() - 2].payload;
  EXPECT_THAT(err, StartsWith(R"({"error": {"message": ")"));
  EXPECT_THAT(err, HasSubstr(R"(, "type": "InternalServerError", "param": null, "code": 500}})"));
  std::string text;
  for (size_t i = 0; i + 2 < events.size(); ++i) {
    text += Json(events[i].payload).String("/choices/0/delta/content").value_or("");
  }
  EXPECT_EQ(WordCount(text), 3);

  // TGI: data:{"error":…,"error_type":…} then EOF, no [DONE].
  HttpResponse t = Post("tgi", "/generate_stream",
                        R"({"inputs":"a","parameters":{"max_new_tokens":8}})", Fault("stream_error"));
  EXPECT_EQ(t.status, 200);
  std::vector<WireEvent> tevents = Sse(t, "data:");
  ASSERT_EQ(tevents.size(), 3u) << t.body;
  EXPECT_EQ(Json(tevents[2].payload).Keys(""),
            (std::vector<std::string>{"error", "error_type"}));
  ExpectAlive();
}

TEST_F(SimTest, ResetFaultIsATransportError) {
  for (const char* kind : {"ollama", "vllm", "tgi"}) {
    SCOPED_TRACE(kind);
    HttpResponse r;
    if (absl::string_view(kind) == "ollama") {
      r = Post(kind, "/api/generate",
               R"({"model":"sim-model","prompt":"a","options":{"num_predict":8}})", Fault("reset"));
    } else if (absl::string_view(kind) == "vllm") {
      r = Post(kind, "/v1/completions",
               R"({"model":"sim-model","prompt":"a","max_tokens":8,"stream":true})",
               Fault("reset;after=4"));
    } else {
      r = Post(kind, "/generate_stream", R"({"inputs":"a","parameters":{"max_new_tokens":8}})",
               Fault("reset"));
    }
    EXPECT_NE(r.curl_code, 0) << "a reset must surface as a transport error; body: " << r.body;
    EXPECT_EQ(r.status, 200) << "headers were sent before the reset";
  }
  ExpectAlive();
}

TEST_F(SimTest, StallFaultTimesOutTheClient) {
  HttpOptions options = Fault("stall;after=2");
  options.timeout = milliseconds(1500);
  HttpResponse r = Post("vllm", "/v1/completions",
                        R"({"model":"sim-model","prompt":"a","max_tokens":8,"stream":true})",
                        options);
  EXPECT_EQ(r.curl_code, 28) << "CURLE_OPERATION_TIMEDOUT; got " << r.curl_error;
  std::string error;
  std::vector<WireEvent> events = SplitSse(r.body, r.chunks, "data: ", &error);
  EXPECT_EQ(events.size(), 2u) << r.body;
  EXPECT_EQ(error, "");
  ExpectAlive();
}

TEST_F(SimTest, MalformedFaultSendsOneBadEvent) {
  HttpResponse r = Post("vllm", "/v1/completions",
                        R"({"model":"sim-model","prompt":"a","max_tokens":6,"stream":true})",
                        Fault("malformed"));
  EXPECT_EQ(r.status, 200);
  std::string error;
  std::vector<WireEvent> events = SplitSse(r.body, r.chunks, "data: ", &error);
  int bad = 0;
  for (const WireEvent& e : events) {
    if (e.payload != "[DONE]" && !Json(e.payload).ok()) ++bad;
  }
  EXPECT_EQ(bad, 1) << r.body;

  HttpResponse o = Post("ollama", "/api/generate",
                        R"({"model":"sim-model","prompt":"a","options":{"num_predict":6}})",
                        Fault("malformed"));
  std::vector<WireEvent> lines = SplitNdjson(o.body, o.chunks, &error);
  bad = 0;
  for (const WireEvent& e : lines) {
    if (!Json(e.payload).ok()) ++bad;
  }
  EXPECT_EQ(bad, 1) << o.body;
  ExpectAlive();
}

TEST_F(SimTest, SplitUtf8FaultSplitsACharacterAcrossChunks) {
  for (const char* kind : {"ollama", "vllm", "tgi"}) {
    SCOPED_TRACE(kind);
    HttpResponse r;
    if (absl::string_view(kind) == "ollama") {
      r = Post(kind, "/api/generate",
               R"({"model":"sim-model","prompt":"a","options":{"num_predict":6}})",
               Fault("split_utf8"));
    } else if (absl::string_view(kind) == "vllm") {
      r = Post(kind, "/v1/completions",
               R"({"model":"sim-model","prompt":"a","max_tokens":6,"stream":true})",
               Fault("split_utf8"));
    } else {
      r = Post(kind, "/generate_stream", R"({"inputs":"a","parameters":{"max_new_tokens":6}})",
               Fault("split_utf8"));
    }
    ASSERT_EQ(r.curl_code, 0) << r.curl_error;
    EXPECT_TRUE(IsValidUtf8(r.body)) << "reassembled stream must be valid UTF-8";
    // Some chunk must end inside a multi-byte sequence (the next starts with a continuation
    // byte 10xxxxxx).
    bool split = false;
    for (size_t i = 0; i + 1 < r.chunks.size(); ++i) {
      if (!r.chunks[i + 1].data.empty() &&
          (static_cast<unsigned char>(r.chunks[i + 1].data[0]) & 0xC0) == 0x80) {
        split = true;
      }
    }
    EXPECT_TRUE(split) << "no chunk boundary inside a UTF-8 character (" << r.chunks.size()
                       << " chunks)";
  }
}

TEST_F(SimTest, HugeLineFaultSendsTenMebibytes) {
  constexpr size_t kTenMiB = 10u << 20;
  HttpOptions options = Fault("huge_line");
  options.keep_chunks = false;
  HttpResponse r = Post("vllm", "/v1/completions",
                        R"({"model":"sim-model","prompt":"a","max_tokens":4,"stream":true})",
                        options);
  ASSERT_EQ(r.curl_code, 0) << r.curl_error;
  std::vector<WireEvent> events = Sse(r, "data: ");
  size_t largest = 0;
  for (const WireEvent& e : events) largest = std::max(largest, e.payload.size());
  EXPECT_GE(largest, kTenMiB);

  HttpResponse o = Post("ollama", "/api/generate",
                        R"({"model":"sim-model","prompt":"a","options":{"num_predict":4}})",
                        options);
  ASSERT_EQ(o.curl_code, 0) << o.curl_error;
  largest = 0;
  for (const WireEvent& e : Ndjson(o)) largest = std::max(largest, e.payload.size());
  EXPECT_GE(largest, kTenMiB);
  ExpectAlive();
}

TEST_F(SimTest, FaultsAreCountedInSimMetrics) {
  auto before = ParseProm(Get("vllm", "/sim/metrics").body);
  Post("vllm", "/v1/completions", R"({"model":"sim-model","prompt":"a"})", Fault("status_503"));
  auto after = ParseProm(Get("vllm", "/sim/metrics").body);
  EXPECT_EQ(after["llmbench_sim_faults_total{kind=\"status_503\"}"] -
                before["llmbench_sim_faults_total{kind=\"status_503\"}"],
            1);
}

TEST(SimFaultRateTest, FaultRateOneFailsEveryRequest) {
  SimProcess::Options options;
  options.kinds = {"vllm"};
  options.args = {"--fault-rate", "1", "--fault", "status_503"};
  auto sim = SimProcess::Start(options);
  ASSERT_TRUE(sim.ok()) << sim.status();
  for (int i = 0; i < 3; ++i) {
    HttpResponse r = HttpPost((*sim)->BaseUrl("vllm") + "/v1/completions",
                              R"({"model":"sim-model","prompt":"a"})");
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(ShapeDiff(ReadFixture("vllm/error_404_model.json"), r.body), "");
  }
  auto metrics = ParseProm(HttpGet((*sim)->BaseUrl("vllm") + "/sim/metrics").body);
  EXPECT_EQ(metrics["llmbench_sim_faults_total{kind=\"status_503\"}"], 3);
}

// ---- Process behaviour -----------------------------------------------------------------------

TEST(SimCliTest, BadFlagsExitWithCode2) {
  const std::vector<std::vector<std::string>> cases = {
      {"--no-such-flag"},
      {"--listen", "nope=127.0.0.1:0"},
      {"--listen", "vllm=127.0.0.1:notaport"},
      {"--listen", "vllm"},
      {"--jitter", "abc"},
      {"--max-batch", "zero"},
      {"--fault", "no_such_fault"},
  };
  for (const auto& args : cases) {
    std::vector<std::string> argv = {SimBinaryPath()};
    argv.insert(argv.end(), args.begin(), args.end());
    SCOPED_TRACE(absl::StrJoin(argv, " "));
    auto p = Subprocess::Start(argv);
    ASSERT_TRUE(p.ok()) << p.status();
    auto status = (*p)->Wait(std::chrono::seconds(10));
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_TRUE(status->exited);
    EXPECT_EQ(status->code, 2);
    // Let the drain thread collect stderr.
    for (int i = 0; i < 100 && (*p)->Stderr().empty(); ++i) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    EXPECT_FALSE((*p)->Stderr().empty()) << "a bad flag needs a message on stderr";
  }
}

TEST(SimCliTest, SigtermAndSigintExitZero) {
  for (int sig : {SIGTERM, SIGINT}) {
    SCOPED_TRACE(sig);
    SimProcess::Options options;
    options.kinds = {"ollama", "vllm"};
    auto sim = SimProcess::Start(options);
    ASSERT_TRUE(sim.ok()) << sim.status();
    EXPECT_NE((*sim)->Port("ollama"), (*sim)->Port("vllm"));
    (*sim)->process().Signal(sig);
    auto status = (*sim)->process().Wait(std::chrono::seconds(10));
    ASSERT_TRUE(status.ok()) << status.status();
    EXPECT_TRUE(status->exited);
    EXPECT_EQ(status->code, 0);
  }
}

// ---- The real curl binary --------------------------------------------------------------------

// Runs `/usr/bin/curl -sN` and returns its stdout bytes.
std::string RunCurl(const std::string& url, const std::string& body) {
  auto p = Subprocess::Start({LLMBENCH_CURL_BINARY, "-sS", "-N", "--noproxy", "*", "-H",
                              "Content-Type: application/json", "--data-binary", body, url});
  EXPECT_TRUE(p.ok()) << p.status();
  if (!p.ok()) return "";
  auto status = (*p)->Wait(std::chrono::seconds(30));
  EXPECT_TRUE(status.ok() && status->exited && status->code == 0) << (*p)->Stderr();
  // Stdout closes when curl exits; wait for the drain thread to see EOF.
  (void)(*p)->WaitForStdoutLine(1u << 30, std::chrono::seconds(5));
  std::vector<std::string> lines = (*p)->StdoutLines();
  return absl::StrCat(absl::StrJoin(lines, "\n"), lines.empty() ? "" : "\n");
}

TEST_F(SimTest, CurlBinaryStreamsEveryProtocol) {
  std::string ollama =
      RunCurl(Url("ollama", "/api/generate"),
              R"({"model":"sim-model","prompt":"a b","options":{"num_predict":3}})");
  std::string error;
  std::vector<WireEvent> lines = SplitNdjson(ollama, {}, &error);
  EXPECT_EQ(error, "");
  ASSERT_EQ(lines.size(), 4u) << ollama;
  EXPECT_EQ(Json(lines.back().payload).Bool("/done"), true);

  std::string vllm = RunCurl(Url("vllm", "/v1/completions"),
                             R"({"model":"sim-model","prompt":"a b","max_tokens":3,)"
                             R"("ignore_eos":true,"stream":true})");
  std::vector<WireEvent> vevents = SplitSse(vllm, {}, "data: ", &error);
  EXPECT_EQ(error, "");
  ASSERT_EQ(vevents.size(), 4u) << vllm;
  EXPECT_EQ(vevents.back().payload, "[DONE]");
  EXPECT_TRUE(absl::EndsWith(vllm, "data: [DONE]\n\n"));

  std::string tgi = RunCurl(Url("tgi", "/generate_stream"),
                            R"({"inputs":"a b","parameters":{"max_new_tokens":3}})");
  std::vector<WireEvent> tevents = SplitSse(tgi, {}, "data:", &error);
  EXPECT_EQ(error, "");
  ASSERT_EQ(tevents.size(), 3u) << tgi;
  EXPECT_FALSE(absl::StrContains(tgi, "[DONE]"));
  EXPECT_FALSE(Json(tevents.back().payload).IsNull("/generated_text"));
}

}  // namespace
}  // namespace llmbench::testing
