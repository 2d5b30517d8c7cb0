#include "sim/gen_request.h"

#include <gtest/gtest.h>

#include "sim/sim_config.h"

namespace llmbench::sim {
namespace {

EngineLimits Lim(int natural = 0) { return EngineLimits{"sim-model", 4096, natural}; }

GenRequest Ok(Api api, std::string_view body, EngineLimits lim = Lim(), bool stream_route = false) {
  ParseResult r = ParseGenRequest(api, body, lim, stream_route);
  if (auto* e = std::get_if<RequestError>(&r)) {
    ADD_FAILURE() << "unexpected error " << e->status << ": " << e->message;
    return {};
  }
  return std::get<GenRequest>(r);
}

RequestError Bad(Api api, std::string_view body, EngineLimits lim = Lim()) {
  ParseResult r = ParseGenRequest(api, body, lim);
  if (auto* e = std::get_if<RequestError>(&r)) return *e;
  ADD_FAILURE() << "expected an error";
  return {};
}

TEST(GenRequestTest, VllmCompletionDefaultsTo16Tokens) {
  GenRequest r = Ok(Api::kVllmCompletion, R"({"model":"sim-model","prompt":"a b  c"})");
  EXPECT_EQ(r.prompt_tokens, 3);
  EXPECT_EQ(r.output_tokens, 16);
  EXPECT_FALSE(r.eos);
  EXPECT_FALSE(r.stream);
}

TEST(GenRequestTest, VllmChatDefaultsToRemainingContext) {
  GenRequest r = Ok(Api::kVllmChat, R"({"messages":[{"role":"user","content":"a b"},{"role":"user","content":[{"type":"text","text":"c"}]}]})");
  EXPECT_EQ(r.prompt_tokens, 3);
  EXPECT_EQ(r.output_tokens, 4093);
}

TEST(GenRequestTest, VllmNaturalEosUnlessIgnoreEos) {
  GenRequest r = Ok(Api::kVllmCompletion, R"({"prompt":"a","max_tokens":10})", Lim(4));
  EXPECT_EQ(r.output_tokens, 4);
  EXPECT_TRUE(r.eos);
  r = Ok(Api::kVllmCompletion, R"({"prompt":"a","max_tokens":10,"ignore_eos":true})", Lim(4));
  EXPECT_EQ(r.output_tokens, 10);
  EXPECT_FALSE(r.eos);
  r = Ok(Api::kVllmCompletion, R"({"prompt":"a","max_tokens":10,"min_tokens":6})", Lim(4));
  EXPECT_EQ(r.output_tokens, 6);
  EXPECT_TRUE(r.eos);
}

TEST(GenRequestTest, VllmErrors) {
  RequestError e = Bad(Api::kVllmCompletion, R"({"model":"gpt-4o","prompt":"a"})");
  EXPECT_EQ(e.status, 404);
  EXPECT_EQ(e.message, "The model `gpt-4o` does not exist.");
  EXPECT_EQ(e.type, "NotFoundError");
  e = Bad(Api::kVllmCompletion, R"({"prompt":"a b","max_tokens":5000})");
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.message,
            "'max_tokens' or 'max_completion_tokens' is too large: 5000. This model's maximum "
            "context length is 4096 tokens and your request has 2 input tokens (5000 > 4096 - 2).");
  e = Bad(Api::kVllmCompletion, R"({"prompt":)");
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.type, "BadRequestError");
  e = Bad(Api::kVllmChat, R"({"model":"sim-model"})");
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.message, "[{'type': 'missing', 'loc': ('body', 'messages'), 'msg': 'Field required'}]");
}

TEST(GenRequestTest, OllamaNumPredictCapsAndStreamDefaultsTrue) {
  GenRequest r = Ok(Api::kOllamaGenerate, R"({"model":"sim-model","prompt":"x y","options":{"num_predict":7}})");
  EXPECT_TRUE(r.stream);
  EXPECT_EQ(r.output_tokens, 7);
  r = Ok(Api::kOllamaGenerate, R"({"model":"sim-model:latest","prompt":"x"})", Lim(5));
  EXPECT_EQ(r.output_tokens, 5);
  EXPECT_TRUE(r.eos);
  r = Ok(Api::kOllamaGenerate, R"({"model":"sim-model","prompt":""})");
  EXPECT_TRUE(r.load_only);
}

TEST(GenRequestTest, OllamaOpenAiIgnoresMaxCompletionTokens) {
  GenRequest r = Ok(Api::kOllamaOaiChat,
                    R"({"model":"sim-model","messages":[{"role":"user","content":"a"}],"max_completion_tokens":3})");
  EXPECT_FALSE(r.stream);
  EXPECT_EQ(r.output_tokens, 4095);
  r = Ok(Api::kOllamaOaiChat,
         R"({"model":"sim-model","messages":[{"role":"user","content":"a"}],"max_tokens":3,"ignore_eos":true})",
         Lim(2));
  EXPECT_EQ(r.output_tokens, 2);  // no ignore_eos in Ollama
  EXPECT_TRUE(r.eos);
}

TEST(GenRequestTest, OllamaErrors) {
  RequestError e = Bad(Api::kOllamaChat, R"({"model":"llama3.2:70b","messages":[]})");
  EXPECT_EQ(e.status, 404);
  EXPECT_EQ(e.message, "model 'llama3.2:70b' not found");
  e = Bad(Api::kOllamaGenerate, R"({"prompt":"a"})");
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.message, "model is required");
}

TEST(GenRequestTest, TgiRulesAndErrors) {
  GenRequest r = Ok(Api::kTgiGenerate, R"({"inputs":"a b c","parameters":{"max_new_tokens":5,"details":true,"seed":0}})",
                    Lim(), true);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.details);
  EXPECT_EQ(r.output_tokens, 5);
  ASSERT_TRUE(r.seed.has_value());
  EXPECT_EQ(*r.seed, 0u);
  r = Ok(Api::kTgiCompat, R"({"inputs":"a","stream":true})", Lim(3));
  EXPECT_TRUE(r.stream);
  EXPECT_EQ(r.output_tokens, 3);
  EXPECT_TRUE(r.eos);
  RequestError e = Bad(Api::kTgiGenerate, R"({"inputs":"a b c d e f g h i j k","parameters":{"max_new_tokens":5000}})",
                       EngineLimits{"m", 2048, 0});
  EXPECT_EQ(e.status, 422);
  EXPECT_EQ(e.type, "validation");
  EXPECT_EQ(e.message,
            "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 2048. Given: 11 "
            "`inputs` tokens and 5000 `max_new_tokens`");
  e = Bad(Api::kTgiGenerate, R"({"parameters":{}})");
  EXPECT_EQ(e.status, 422);
  EXPECT_TRUE(e.plain_text);
  EXPECT_EQ(e.message, "Failed to deserialize the JSON body into the target type: missing field `inputs`");
}

TEST(SimConfigTest, FaultHeader) {
  auto f = ParseFaultHeader("reset");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->kind, FaultKind::kReset);
  EXPECT_EQ(f->after, 2);
  f = ParseFaultHeader("stall; after=5");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->kind, FaultKind::kStall);
  EXPECT_EQ(f->after, 5);
  f = ParseFaultHeader("status_503");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(FaultStatus(f->kind), 503);
  f = ParseFaultHeader("reset;after=x");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().message(), "fault parameter 'after=x': after must be an integer >= 0");
  EXPECT_FALSE(ParseFaultHeader("explode").ok());
  EXPECT_FALSE(ParseFaultHeader("reset;before=1").ok());
}

TEST(SimConfigTest, ListenSpec) {
  auto l = ParseListenSpec("tgi=127.0.0.1:0");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->kind, EngineKind::kTgi);
  EXPECT_EQ(l->host, "127.0.0.1");
  EXPECT_EQ(l->port, 0);
  EXPECT_EQ(ParseListenSpec("foo=1.2.3.4:1").status().message(),
            "--listen 'foo=1.2.3.4:1': unknown engine kind 'foo' (ollama|vllm|tgi)");
  EXPECT_FALSE(ParseListenSpec("vllm=127.0.0.1:70000").ok());
  EXPECT_FALSE(ParseListenSpec("vllm127.0.0.1:80").ok());
}

}  // namespace
}  // namespace llmbench::sim
