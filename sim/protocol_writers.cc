#include "sim/protocol_writers.h"

#include "common/json_writer.h"
#include "sim/time_format.h"

namespace llmbench::sim {
namespace {

constexpr JsonEscape kGo = JsonEscape::kGoHtml;
constexpr JsonEscape kPy = JsonEscape::kCompact;

void Str(std::string& out, std::string_view s, JsonEscape mode) { AppendJsonString(out, s, mode); }

void NullableStr(std::string& out, std::optional<std::string_view> s, JsonEscape mode) {
  if (s) {
    AppendJsonString(out, *s, mode);
  } else {
    out.append("null");
  }
}

// vLLM key order: prompt, total, completion.
void VllmUsage(std::string& out, const Usage& u) {
  out.append("{\"prompt_tokens\":");
  AppendInt(out, u.prompt_tokens);
  out.append(",\"total_tokens\":");
  AppendInt(out, u.prompt_tokens + u.completion_tokens);
  out.append(",\"completion_tokens\":");
  AppendInt(out, u.completion_tokens);
  out.push_back('}');
}

// Ollama / TGI key order: prompt, completion, total.
void OpenAiUsage(std::string& out, const Usage& u) {
  out.append("{\"prompt_tokens\":");
  AppendInt(out, u.prompt_tokens);
  out.append(",\"completion_tokens\":");
  AppendInt(out, u.completion_tokens);
  out.append(",\"total_tokens\":");
  AppendInt(out, u.prompt_tokens + u.completion_tokens);
  out.push_back('}');
}

}  // namespace

// ---------------------------------------------------------------------------------- Ollama
namespace ollama {
namespace {

void Head(std::string& out, std::string_view model, int64_t created_at_ns) {
  out.append("{\"model\":");
  Str(out, model, kGo);
  out.append(",\"created_at\":\"");
  AppendRfc3339Nano(out, created_at_ns);
  out.push_back('"');
}

void Metric(std::string& out, std::string_view key, int64_t v) {
  if (v == 0) return;
  out.append(",\"");
  out.append(key);
  out.append("\":");
  AppendInt(out, v);
}

void Tail(std::string& out, std::string_view done_reason, const FinalMetrics& m, bool newline) {
  out.append(",\"done\":true");
  if (!done_reason.empty()) {
    out.append(",\"done_reason\":");
    Str(out, done_reason, kGo);
  }
  Metric(out, "total_duration", m.total_duration);
  Metric(out, "load_duration", m.load_duration);
  Metric(out, "prompt_eval_count", m.prompt_eval_count);
  Metric(out, "prompt_eval_duration", m.prompt_eval_duration);
  Metric(out, "eval_count", m.eval_count);
  Metric(out, "eval_duration", m.eval_duration);
  out.push_back('}');
  if (newline) out.push_back('\n');
}

void OaiHead(std::string& out, std::string_view id, std::string_view object, int64_t created,
             std::string_view model) {
  out.append("{\"id\":");
  Str(out, id, kGo);
  out.append(",\"object\":\"");
  out.append(object);
  out.append("\",\"created\":");
  AppendInt(out, created);
  out.append(",\"model\":");
  Str(out, model, kGo);
  out.append(",\"system_fingerprint\":\"fp_ollama\"");
}

// Completion chunks put choices before model.
void OaiCompletionHead(std::string& out, std::string_view id, int64_t created) {
  out.append("data: {\"id\":");
  Str(out, id, kGo);
  out.append(",\"object\":\"text_completion\",\"created\":");
  AppendInt(out, created);
}

void OaiCompletionModel(std::string& out, std::string_view model) {
  out.append(",\"model\":");
  Str(out, model, kGo);
  out.append(",\"system_fingerprint\":\"fp_ollama\"");
}

}  // namespace

void AppendGenerateChunk(std::string& out, std::string_view model, int64_t created_at_ns,
                         std::string_view text) {
  Head(out, model, created_at_ns);
  out.append(",\"response\":");
  Str(out, text, kGo);
  out.append(",\"done\":false}\n");
}

void AppendChatChunk(std::string& out, std::string_view model, int64_t created_at_ns,
                     std::string_view text) {
  Head(out, model, created_at_ns);
  out.append(",\"message\":{\"role\":\"assistant\",\"content\":");
  Str(out, text, kGo);
  out.append("},\"done\":false}\n");
}

void AppendGenerateFinal(std::string& out, std::string_view model, int64_t created_at_ns,
                         std::string_view response, std::string_view done_reason,
                         const FinalMetrics& m, bool newline) {
  Head(out, model, created_at_ns);
  out.append(",\"response\":");
  Str(out, response, kGo);
  Tail(out, done_reason, m, newline);
}

void AppendChatFinal(std::string& out, std::string_view model, int64_t created_at_ns,
                     std::string_view content, std::string_view done_reason,
                     const FinalMetrics& m, bool newline) {
  Head(out, model, created_at_ns);
  out.append(",\"message\":{\"role\":\"assistant\",\"content\":");
  Str(out, content, kGo);
  out.push_back('}');
  Tail(out, done_reason, m, newline);
}

void AppendError(std::string& out, std::string_view message, bool newline) {
  out.append("{\"error\":");
  Str(out, message, kGo);
  out.push_back('}');
  if (newline) out.push_back('\n');
}

void AppendOaiChatChunk(std::string& out, std::string_view id, int64_t created,
                        std::string_view model, std::string_view text, bool with_role) {
  out.append("data: ");
  OaiHead(out, id, "chat.completion.chunk", created, model);
  out.append(with_role ? ",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":"
                       : ",\"choices\":[{\"index\":0,\"delta\":{\"content\":");
  Str(out, text, kGo);
  out.append("},\"finish_reason\":null}]}\n\n");
}

void AppendOaiChatFinishChunk(std::string& out, std::string_view id, int64_t created,
                              std::string_view model, std::optional<std::string_view> finish) {
  out.append("data: ");
  OaiHead(out, id, "chat.completion.chunk", created, model);
  out.append(",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":");
  NullableStr(out, finish, kGo);
  out.append("}]}\n\n");
}

void AppendOaiChatUsageChunk(std::string& out, std::string_view id, int64_t created,
                             std::string_view model, const Usage& usage) {
  out.append("data: ");
  OaiHead(out, id, "chat.completion.chunk", created, model);
  out.append(",\"choices\":[],\"usage\":");
  OpenAiUsage(out, usage);
  out.append("}\n\n");
}

void AppendOaiCompletionChunk(std::string& out, std::string_view id, int64_t created,
                              std::string_view model, std::string_view text,
                              std::optional<std::string_view> finish, bool zero_usage) {
  OaiCompletionHead(out, id, created);
  out.append(",\"choices\":[{\"text\":");
  Str(out, text, kGo);
  out.append(",\"index\":0,\"finish_reason\":");
  NullableStr(out, finish, kGo);
  out.append("}]");
  OaiCompletionModel(out, model);
  if (zero_usage) out.append(",\"usage\":{\"prompt_tokens\":0,\"completion_tokens\":0,\"total_tokens\":0}");
  out.append("}\n\n");
}

void AppendOaiCompletionUsageChunk(std::string& out, std::string_view id, int64_t created,
                                   std::string_view model, const Usage& usage) {
  OaiCompletionHead(out, id, created);
  out.append(",\"choices\":[]");
  OaiCompletionModel(out, model);
  out.append(",\"usage\":");
  OpenAiUsage(out, usage);
  out.append("}\n\n");
}

void AppendOaiDone(std::string& out) { out.append("data: [DONE]\n\n"); }

void AppendOaiChatCompletion(std::string& out, std::string_view id, int64_t created,
                             std::string_view model, std::string_view content,
                             std::string_view finish, const Usage& usage) {
  OaiHead(out, id, "chat.completion", created, model);
  out.append(",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
  Str(out, content, kGo);
  out.append("},\"finish_reason\":");
  Str(out, finish, kGo);
  out.append("}],\"usage\":");
  OpenAiUsage(out, usage);
  out.append("}\n");
}

void AppendOaiCompletion(std::string& out, std::string_view id, int64_t created,
                         std::string_view model, std::string_view text, std::string_view finish,
                         const Usage& usage) {
  out.append("{\"id\":");
  Str(out, id, kGo);
  out.append(",\"object\":\"text_completion\",\"created\":");
  AppendInt(out, created);
  out.append(",\"model\":");
  Str(out, model, kGo);
  out.append(",\"system_fingerprint\":\"fp_ollama\",\"choices\":[{\"text\":");
  Str(out, text, kGo);
  out.append(",\"index\":0,\"finish_reason\":");
  Str(out, finish, kGo);
  out.append("}],\"usage\":");
  OpenAiUsage(out, usage);
  out.append("}\n");
}

void AppendOaiError(std::string& out, std::string_view message, std::string_view type) {
  out.append("{\"error\":{\"message\":");
  Str(out, message, kGo);
  out.append(",\"type\":");
  Str(out, type, kGo);
  out.append(",\"param\":null,\"code\":null}}\n");
}

}  // namespace ollama

// ------------------------------------------------------------------------------------ vLLM
namespace vllm {
namespace {

void Head(std::string& out, std::string_view id, std::string_view object, int64_t created,
          std::string_view model) {
  out.append("{\"id\":");
  Str(out, id, kPy);
  out.append(",\"object\":\"");
  out.append(object);
  out.append("\",\"created\":");
  AppendInt(out, created);
  out.append(",\"model\":");
  Str(out, model, kPy);
}

void Finish(std::string& out, std::optional<std::string_view> finish) {
  out.append(",\"finish_reason\":");
  if (finish) {
    Str(out, *finish, kPy);
    out.append(",\"stop_reason\":null");
  } else {
    out.append("null");
  }
}

}  // namespace

void AppendChatRoleChunk(std::string& out, std::string_view id, int64_t created,
                         std::string_view model, const Usage* usage) {
  out.append("data: ");
  Head(out, id, "chat.completion.chunk", created, model);
  out.append(
      ",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
      "\"logprobs\":null,\"finish_reason\":null}]");
  if (usage) {
    out.append(",\"usage\":");
    VllmUsage(out, *usage);
  }
  out.append(",\"prompt_token_ids\":null}\n\n");
}

void AppendChatTokenChunk(std::string& out, std::string_view id, int64_t created,
                          std::string_view model, std::string_view text,
                          std::optional<std::string_view> finish, const Usage* usage) {
  out.append("data: ");
  Head(out, id, "chat.completion.chunk", created, model);
  out.append(",\"choices\":[{\"index\":0,\"delta\":{\"content\":");
  Str(out, text, kPy);
  out.append("},\"logprobs\":null");
  Finish(out, finish);
  out.append(",\"token_ids\":null}]");
  if (usage) {
    out.append(",\"usage\":");
    VllmUsage(out, *usage);
  }
  out.append("}\n\n");
}

void AppendCompletionChunk(std::string& out, std::string_view id, int64_t created,
                           std::string_view model, std::string_view text,
                           std::optional<std::string_view> finish, const Usage* usage) {
  out.append("data: ");
  Head(out, id, "text_completion", created, model);
  out.append(",\"choices\":[{\"index\":0,\"text\":");
  Str(out, text, kPy);
  out.append(",\"logprobs\":null,\"finish_reason\":");
  NullableStr(out, finish, kPy);
  out.append(",\"stop_reason\":null,\"prompt_token_ids\":null,\"token_ids\":null}]");
  if (usage) {
    out.append(",\"usage\":");
    VllmUsage(out, *usage);
  }
  out.append("}\n\n");
}

void AppendUsageChunk(std::string& out, std::string_view id, std::string_view object,
                      int64_t created, std::string_view model, const Usage& usage) {
  out.append("data: ");
  Head(out, id, object, created, model);
  out.append(",\"choices\":[],\"usage\":");
  VllmUsage(out, usage);
  out.append("}\n\n");
}

void AppendDone(std::string& out) { out.append("data: [DONE]\n\n"); }

void AppendStreamError(std::string& out, std::string_view message, std::string_view type,
                       int code) {
  out.append("data: {\"error\": {\"message\": ");
  AppendJsonString(out, message, JsonEscape::kAscii);
  out.append(", \"type\": ");
  AppendJsonString(out, type, JsonEscape::kAscii);
  out.append(", \"param\": null, \"code\": ");
  AppendInt(out, code);
  out.append("}}\n\n");
}

void AppendError(std::string& out, std::string_view message, std::string_view type, int code) {
  out.append("{\"error\":{\"message\":");
  Str(out, message, kPy);
  out.append(",\"type\":");
  Str(out, type, kPy);
  out.append(",\"param\":null,\"code\":");
  AppendInt(out, code);
  out.append("}}");
}

void AppendChatCompletion(std::string& out, std::string_view id, int64_t created,
                          std::string_view model, std::string_view content,
                          std::string_view finish, const Usage& usage) {
  Head(out, id, "chat.completion", created, model);
  out.append(",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
  Str(out, content, kPy);
  out.append(
      ",\"refusal\":null,\"annotations\":null,\"audio\":null,\"function_call\":null,"
      "\"tool_calls\":[],\"reasoning_content\":null},\"logprobs\":null,\"finish_reason\":");
  Str(out, finish, kPy);
  out.append(",\"stop_reason\":null}],\"service_tier\":null,\"system_fingerprint\":null,\"usage\":");
  VllmUsage(out, usage);
  out.pop_back();
  out.append(",\"prompt_tokens_details\":null},\"prompt_logprobs\":null,\"kv_transfer_params\":null}");
}

void AppendCompletion(std::string& out, std::string_view id, int64_t created,
                      std::string_view model, std::string_view text, std::string_view finish,
                      const Usage& usage) {
  Head(out, id, "text_completion", created, model);
  out.append(",\"choices\":[{\"index\":0,\"text\":");
  Str(out, text, kPy);
  out.append(",\"logprobs\":null,\"finish_reason\":");
  Str(out, finish, kPy);
  out.append(",\"stop_reason\":null,\"prompt_logprobs\":null}],\"usage\":");
  VllmUsage(out, usage);
  out.pop_back();
  out.append(",\"prompt_tokens_details\":null},\"kv_transfer_params\":null}");
}

}  // namespace vllm

// ------------------------------------------------------------------------------------- TGI
namespace tgi {
namespace {

void ChatHead(std::string& out, std::string_view object, int64_t created, std::string_view model,
              std::string_view fingerprint) {
  out.append("{\"object\":\"");
  out.append(object);
  out.append("\",\"id\":\"\",\"created\":");
  AppendInt(out, created);
  out.append(",\"model\":");
  Str(out, model, kPy);
  out.append(",\"system_fingerprint\":");
  Str(out, fingerprint, kPy);
}

}  // namespace

void AppendTokenJson(std::string& out, const Token& token, bool with_special) {
  out.append("{\"id\":");
  AppendInt(out, token.id);
  out.append(",\"text\":");
  Str(out, token.text, kPy);
  out.append(",\"logprob\":");
  out.append(token.logprob.empty() ? std::string_view("null") : token.logprob);
  if (with_special) out.append(token.special ? ",\"special\":true" : ",\"special\":false");
  out.push_back('}');
}

void AppendStreamToken(std::string& out, int64_t index, const Token& token,
                       std::optional<std::string_view> generated_text,
                       const StreamDetails* details) {
  out.append("data:{\"index\":");
  AppendInt(out, index);
  out.append(",\"token\":");
  AppendTokenJson(out, token, true);
  out.append(",\"generated_text\":");
  NullableStr(out, generated_text, kPy);
  out.append(",\"details\":");
  if (details) {
    out.append("{\"finish_reason\":");
    Str(out, details->finish_reason, kPy);
    out.append(",\"generated_tokens\":");
    AppendInt(out, details->generated_tokens);
    out.append(",\"seed\":");
    if (details->seed) {
      out.append(std::to_string(*details->seed));
    } else {
      out.append("null");
    }
    out.append(",\"input_length\":");
    AppendInt(out, details->input_length);
    out.push_back('}');
  } else {
    out.append("null");
  }
  out.append("}\n\n");
}

void AppendChatChunk(std::string& out, int64_t created, std::string_view model,
                     std::string_view fingerprint, std::string_view text,
                     std::optional<std::string_view> finish) {
  out.append("data:");
  ChatHead(out, "chat.completion.chunk", created, model, fingerprint);
  out.append(",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":");
  Str(out, text, kPy);
  out.append("},\"logprobs\":null,\"finish_reason\":");
  NullableStr(out, finish, kPy);
  out.append("}],\"usage\":null}\n\n");
}

void AppendChatUsageChunk(std::string& out, int64_t created, std::string_view model,
                          std::string_view fingerprint, const Usage& usage) {
  out.append("data:");
  ChatHead(out, "chat.completion.chunk", created, model, fingerprint);
  out.append(",\"choices\":[],\"usage\":");
  OpenAiUsage(out, usage);
  out.append("}\n\n");
}

void AppendCompletionChunk(std::string& out, int64_t created, std::string_view model,
                           std::string_view fingerprint, std::string_view text,
                           std::optional<std::string_view> finish) {
  out.append("data:{\"object\":\"text_completion\",\"id\":\"\",\"created\":");
  AppendInt(out, created);
  out.append(",\"choices\":[{\"index\":0,\"text\":");
  Str(out, text, kPy);
  out.append(",\"logprobs\":null,\"finish_reason\":");
  NullableStr(out, finish, kPy);
  out.append("}],\"model\":");
  Str(out, model, kPy);
  out.append(",\"system_fingerprint\":");
  Str(out, fingerprint, kPy);
  out.append("}\n\n");
}

void AppendDone(std::string& out) { out.append("data:[DONE]\n\n"); }

void AppendError(std::string& out, std::string_view message, std::string_view error_type) {
  out.append("{\"error\":");
  Str(out, message, kPy);
  out.append(",\"error_type\":");
  Str(out, error_type, kPy);
  out.push_back('}');
}

void AppendStreamError(std::string& out, std::string_view message, std::string_view error_type) {
  out.append("data:");
  AppendError(out, message, error_type);
  out.append("\n\n");
}

void AppendOaiStreamError(std::string& out, std::string_view message) {
  out.append("data:{\"error\":{\"message\":");
  Str(out, message, kPy);
  out.append(",\"http_status_code\":422}}\n\n");
}

void AppendChatCompletion(std::string& out, int64_t created, std::string_view model,
                          std::string_view fingerprint, std::string_view content,
                          std::string_view finish, const Usage& usage) {
  ChatHead(out, "chat.completion", created, model, fingerprint);
  out.append(",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
  Str(out, content, kPy);
  out.append("},\"logprobs\":null,\"finish_reason\":");
  Str(out, finish, kPy);
  out.append("}],\"usage\":");
  OpenAiUsage(out, usage);
  out.push_back('}');
}

void AppendCompletion(std::string& out, int64_t created, std::string_view model,
                      std::string_view fingerprint, std::string_view text,
                      std::string_view finish, const Usage& usage) {
  ChatHead(out, "text_completion", created, model, fingerprint);
  out.append(",\"choices\":[{\"index\":0,\"text\":");
  Str(out, text, kPy);
  out.append(",\"logprobs\":null,\"finish_reason\":");
  Str(out, finish, kPy);
  out.append("}],\"usage\":");
  OpenAiUsage(out, usage);
  out.push_back('}');
}

}  // namespace tgi
}  // namespace llmbench::sim
