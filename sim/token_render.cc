#include "sim/token_render.h"

#include <algorithm>
#include <optional>
#include <string>

#include "common/json_writer.h"
#include "common/str_cat.h"
#include "sim/protocol_writers.h"
#include "sim/sim_vocab.h"

namespace llmbench::sim {

namespace {

constexpr std::string_view kTgiFingerprint = "3.3.6-dev0-native";

}  // namespace

size_t BeginChunk(std::string& out, bool chunked) {
  const size_t pos = out.size();
  if (chunked) out.append("00000000\r\n");
  return pos;
}

void EndChunk(std::string& out, size_t pos, bool chunked) {
  if (!chunked) return;
  const size_t len = out.size() - pos - 10;
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 7; i >= 0; --i) out[pos + static_cast<size_t>(7 - i)] = kHex[(len >> (4 * i)) & 0xF];
  out.append("\r\n");
}

std::string_view FinishReason(const GenRequest& req) {
  const bool eos = req.eos;
  if (IsTgiNative(req.api)) return eos ? "eos_token" : "length";
  return eos ? "stop" : "length";
}

void AssignResponseId(Generation& gen, EngineKind kind, Api api, int64_t arrival_unix_ns) {
  const uint64_t key = gen.key;
  switch (kind) {
    case EngineKind::kOllama:
      gen.id = Cat(api == Api::kOllamaOaiChat ? "chatcmpl-" : "cmpl-", MixKey(key) % 999);
      break;
    case EngineKind::kVllm: {
      gen.id = api == Api::kVllmChat ? "chatcmpl-" : "cmpl-";
      static constexpr char kHex[] = "0123456789abcdef";
      uint64_t h = MixKey(key);
      for (int i = 0; i < 16; ++i) gen.id.push_back(kHex[(h >> (60 - 4 * i)) & 0xF]);
      gen.created = arrival_unix_ns / 1'000'000'000;
      break;
    }
    case EngineKind::kTgi: gen.created = arrival_unix_ns / 1'000'000'000; break;
  }
}

void AppendStreamToken(std::string& out, bool chunked, Generation& gen, int index,
                       std::string_view text, bool last, int64_t at_ns, int64_t unix_ns) {
  const GenRequest& r = gen.req;
  const bool eos_token = last && r.eos;
  const std::string_view finish = FinishReason(r);
  Usage usage{r.prompt_tokens, index + 1};
  switch (r.api) {
    case Api::kOllamaGenerate:
    case Api::kOllamaChat: {
      if (!eos_token) {
        const size_t pos = BeginChunk(out, chunked);
        if (r.api == Api::kOllamaGenerate) {
          ollama::AppendGenerateChunk(out, r.model, unix_ns, text);
        } else {
          ollama::AppendChatChunk(out, r.model, unix_ns, text);
        }
        EndChunk(out, pos, chunked);
      }
      if (last) {
        ollama::FinalMetrics m;
        m.total_duration = at_ns - gen.arrival_ns;
        m.load_duration = gen.admitted_ns - gen.arrival_ns;
        m.prompt_eval_count = r.prompt_tokens;
        m.prompt_eval_duration = gen.first_ns - gen.admitted_ns;
        m.eval_count = index + 1;
        m.eval_duration = at_ns - gen.first_ns;
        const size_t pos = BeginChunk(out, chunked);
        if (r.api == Api::kOllamaGenerate) {
          ollama::AppendGenerateFinal(out, r.model, unix_ns, "", finish, m, true);
        } else {
          ollama::AppendChatFinal(out, r.model, unix_ns, "", finish, m, true);
        }
        EndChunk(out, pos, chunked);
      }
      break;
    }
    case Api::kOllamaOaiChat: {
      size_t pos = BeginChunk(out, chunked);
      if (!eos_token) {
        ollama::AppendOaiChatChunk(out, gen.id, gen.created, r.model, text, !gen.role_sent);
        gen.role_sent = true;
      }
      if (last) {
        ollama::AppendOaiChatFinishChunk(out, gen.id, gen.created, r.model, finish);
        if (r.include_usage) {
          ollama::AppendOaiChatUsageChunk(out, gen.id, gen.created, r.model, usage);
        }
        ollama::AppendOaiDone(out);
      }
      EndChunk(out, pos, chunked);
      break;
    }
    case Api::kOllamaOaiCompletion: {
      size_t pos = BeginChunk(out, chunked);
      if (!eos_token) {
        ollama::AppendOaiCompletionChunk(out, gen.id, gen.created, r.model, text, std::nullopt,
                                         r.include_usage);
      }
      if (last) {
        ollama::AppendOaiCompletionChunk(out, gen.id, gen.created, r.model, "", finish,
                                         r.include_usage);
        if (r.include_usage) {
          ollama::AppendOaiCompletionUsageChunk(out, gen.id, gen.created, r.model, usage);
        }
        ollama::AppendOaiDone(out);
      }
      EndChunk(out, pos, chunked);
      break;
    }
    case Api::kVllmChat:
    case Api::kVllmCompletion: {
      const Usage* cu = r.continuous_usage ? &usage : nullptr;
      size_t pos = BeginChunk(out, chunked);
      if (index == 0 && r.api == Api::kVllmChat) {
        Usage zero{r.prompt_tokens, 0};
        vllm::AppendChatRoleChunk(out, gen.id, gen.created, r.model, cu ? &zero : nullptr);
      }
      std::optional<std::string_view> f;
      if (last) f = finish;
      if (r.api == Api::kVllmChat) {
        vllm::AppendChatTokenChunk(out, gen.id, gen.created, r.model, text, f, cu);
      } else {
        vllm::AppendCompletionChunk(out, gen.id, gen.created, r.model, text, f, cu);
      }
      if (last) {
        if (r.include_usage) {
          vllm::AppendUsageChunk(out, gen.id,
                                 r.api == Api::kVllmChat ? "chat.completion.chunk" : "text_completion",
                                 gen.created, r.model, usage);
        }
        vllm::AppendDone(out);
      }
      EndChunk(out, pos, chunked);
      break;
    }
    case Api::kTgiGenerate:
    case Api::kTgiCompat: {
      tgi::Token tok;
      if (eos_token) {
        tok = tgi::Token{2, "</s>", "-0.1", true};
      } else {
        tok = tgi::Token{VocabTokenId(gen.key, index), text,
                         VocabLogprob(gen.key, index), false};
      }
      tgi::StreamDetails details{finish, index + 1, r.seed, r.prompt_tokens};
      const size_t pos = BeginChunk(out, chunked);
      tgi::AppendStreamToken(out, index + 1, tok,
                             last ? std::optional<std::string_view>(gen.text) : std::nullopt,
                             last && r.details ? &details : nullptr);
      EndChunk(out, pos, chunked);
      break;
    }
    case Api::kTgiChat:
    case Api::kTgiCompletion: {
      const std::string_view oai_finish = r.eos ? "stop" : "length";
      std::optional<std::string_view> f;
      if (last) f = oai_finish;
      size_t pos = BeginChunk(out, chunked);
      if (r.api == Api::kTgiChat) {
        tgi::AppendChatChunk(out, gen.created, r.model, kTgiFingerprint, text, f);
        if (last && r.include_usage) {
          tgi::AppendChatUsageChunk(out, gen.created, r.model, kTgiFingerprint, usage);
        }
      } else {
        tgi::AppendCompletionChunk(out, gen.created, r.model, kTgiFingerprint, text, f);
      }
      if (last) tgi::AppendDone(out);
      EndChunk(out, pos, chunked);
      break;
    }
  }
}

NonStreamResponse RenderNonStream(const Generation& gen, int64_t at_ns, int64_t unix_ns) {
  const GenRequest& r = gen.req;
  const std::string_view finish = FinishReason(r);
  const int completion = r.output_tokens;
  Usage usage{r.prompt_tokens, completion};
  std::string b;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type = "application/json";
  switch (r.api) {
    case Api::kOllamaGenerate:
    case Api::kOllamaChat: {
      ollama::FinalMetrics m;
      m.total_duration = at_ns - gen.arrival_ns;
      m.load_duration = gen.admitted_ns - gen.arrival_ns;
      m.prompt_eval_count = r.prompt_tokens;
      m.prompt_eval_duration = gen.first_ns - gen.admitted_ns;
      m.eval_count = completion;
      m.eval_duration = at_ns - gen.first_ns;
      if (r.api == Api::kOllamaGenerate) {
        ollama::AppendGenerateFinal(b, r.model, unix_ns, gen.text, finish, m, false);
      } else {
        ollama::AppendChatFinal(b, r.model, unix_ns, gen.text, finish, m, false);
      }
      content_type = "application/json; charset=utf-8";
      break;
    }
    case Api::kOllamaOaiChat:
      ollama::AppendOaiChatCompletion(b, gen.id, gen.created, r.model, gen.text, finish, usage);
      break;
    case Api::kOllamaOaiCompletion:
      ollama::AppendOaiCompletion(b, gen.id, gen.created, r.model, gen.text, finish, usage);
      break;
    case Api::kVllmChat:
      vllm::AppendChatCompletion(b, gen.id, gen.created, r.model, gen.text, finish, usage);
      break;
    case Api::kVllmCompletion:
      vllm::AppendCompletion(b, gen.id, gen.created, r.model, gen.text, finish, usage);
      break;
    case Api::kTgiGenerate:
    case Api::kTgiCompat: {
      if (r.api == Api::kTgiCompat) b.push_back('[');
      b.append("{\"generated_text\":");
      AppendJsonString(b, gen.text);
      if (r.details) {
        b.append(",\"details\":{\"finish_reason\":\"");
        b.append(finish);
        b.append("\",\"generated_tokens\":");
        AppendInt(b, completion);
        b.append(",\"seed\":");
        b.append(r.seed ? std::to_string(*r.seed) : std::string("null"));
        b.append(",\"prefill\":[],\"tokens\":[");
        for (int i = 0; i < completion; ++i) {
          if (i) b.push_back(',');
          if (i == completion - 1 && r.eos) {
            tgi::AppendTokenJson(b, tgi::Token{2, "</s>", "-0.1", true}, true);
          } else {
            tgi::AppendTokenJson(b, tgi::Token{VocabTokenId(gen.key, i), VocabToken(gen.key, i),
                                               VocabLogprob(gen.key, i), false},
                                 true);
          }
        }
        b.append("]}");
      }
      b.push_back('}');
      if (r.api == Api::kTgiCompat) b.push_back(']');
      const int64_t total_ms = (at_ns - gen.arrival_ns) / 1'000'000;
      const int64_t queue_ms = (gen.admitted_ns - gen.arrival_ns) / 1'000'000;
      const int64_t inference_ms = (at_ns - gen.admitted_ns) / 1'000'000;
      std::string compute_time;
      AppendShortestDouble(compute_time, static_cast<double>(at_ns - gen.arrival_ns) * 1e-9);
      headers = {{"x-compute-type", "gpu+optimized"},
                 {"x-compute-time", compute_time},
                 {"x-compute-characters", std::to_string(r.prompt_chars)},
                 {"x-total-time", std::to_string(total_ms)},
                 {"x-validation-time", "0"},
                 {"x-queue-time", std::to_string(queue_ms)},
                 {"x-inference-time", std::to_string(inference_ms)},
                 {"x-time-per-token", std::to_string(inference_ms / std::max(completion, 1))},
                 {"x-prompt-tokens", std::to_string(r.prompt_tokens)},
                 {"x-generated-tokens", std::to_string(completion)}};
      break;
    }
    case Api::kTgiChat:
      tgi::AppendChatCompletion(b, gen.created, r.model, kTgiFingerprint, gen.text,
                                r.eos ? "stop" : "length", usage);
      break;
    case Api::kTgiCompletion:
      tgi::AppendCompletion(b, gen.created, r.model, kTgiFingerprint, gen.text,
                            r.eos ? "stop" : "length", usage);
      break;
  }
  return NonStreamResponse{std::move(b), std::move(content_type), std::move(headers)};
}

}  // namespace llmbench::sim
