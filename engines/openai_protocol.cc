#include "engines/openai_protocol.h"

#include <optional>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "common/framing.h"
#include "engines/discovery.h"

namespace llmbench::engines {
namespace {

using llmbench::v1::RequestRecord;

bool NonEmptyString(simdjson::dom::element obj, std::string_view key) {
  auto value = GetString(obj, key);
  return value && !value->empty();
}

bool NonEmptyArray(simdjson::dom::element obj, std::string_view key) {
  auto value = GetArray(obj, key);
  return value && value->size() > 0;
}

// Generated text in a delta (stream) or message (non-stream).
bool MessageHasContent(simdjson::dom::element message) {
  return NonEmptyString(message, "content") || NonEmptyString(message, "reasoning") ||
         NonEmptyString(message, "reasoning_content") || NonEmptyArray(message, "tool_calls");
}

struct Usage {
  std::optional<int64_t> prompt_tokens;
  std::optional<int64_t> completion_tokens;
};

class OpenAiParser : public ResponseParserBase {
 public:
  OpenAiParser(RequestRecord* record, bool stream, llmbench::v1::EngineKind kind)
      : ResponseParserBase(record, stream), kind_(kind) {}

 protected:
  void ConsumeStream(std::string_view bytes, int64_t now_ns) override {
    absl::Status status =
        sse_.Feed(bytes, [&](const SseEvent& event) { HandleEvent(event, now_ns); });
    if (!status.ok()) FailFraming(status);
  }

  void EndStream() override {
    if (done_) return;
    if (kind_ == llmbench::v1::ENGINE_KIND_OPENAI && finish_seen_ && !sse_.HasPartialEvent()) {
      return;  // llama.cpp-family forks without [DONE]; see the header
    }
    Fail(llmbench::v1::ERROR_CLASS_STREAM_BROKEN, "stream ended before [DONE]");
  }

  void ConsumeBody(simdjson::dom::element root, int64_t now_ns) override {
    if (auto message = ErrorMessageFromJson(root)) {
      Fail(llmbench::v1::ERROR_CLASS_STREAM_BROKEN, *message);
      return;
    }
    auto choices = GetArray(root, "choices");
    if (!choices) {
      Fail(llmbench::v1::ERROR_CLASS_PARSE, "response body has no \"choices\" array");
      return;
    }
    bool content = false;
    for (simdjson::dom::element choice : *choices) {
      if (NonEmptyString(choice, "text")) content = true;
      if (auto message = GetObject(choice, "message"); message && MessageHasContent(*message)) {
        content = true;
      }
      if (capturing_text()) CaptureText(choice, "message");
      if (auto finish = GetString(choice, "finish_reason")) {
        record()->set_finish_reason(std::string(*finish));
      }
    }
    if (content) AddContentChunk(now_ns);
    if (auto usage = GetObject(root, "usage")) ApplyUsage(ReadUsage(*usage));
    ReadTimings(root);
  }

  void Finalize() override {
    if (!final_usage_seen_ && fallback_usage_) ApplyUsage(*fallback_usage_);
  }

 private:
  void HandleEvent(const SseEvent& event, int64_t now_ns) {
    if (failed() || done_) return;  // events after [DONE] are ignored
    if (event.error_field) {  // llama.cpp builds of early 2025: `error: {json}`
      Fail(llmbench::v1::ERROR_CLASS_STREAM_BROKEN, ErrorFieldMessage(event.data));
      return;
    }
    const std::string_view data = StripWhitespace(event.data);
    if (data == "[DONE]") {
      done_ = true;
      return;
    }
    simdjson::dom::element root;
    auto error = ThreadJsonParser().Parse(data).get(root);
    if (error != simdjson::SUCCESS) {
      Fail(llmbench::v1::ERROR_CLASS_PARSE,
           absl::StrCat("invalid JSON in SSE event: ", simdjson::error_message(error)));
      return;
    }
    if (!root.is_object()) {
      Fail(llmbench::v1::ERROR_CLASS_PARSE, "SSE event data is not a JSON object");
      return;
    }
    if (auto message = ErrorMessageFromJson(root)) {
      Fail(llmbench::v1::ERROR_CLASS_STREAM_BROKEN, *message);
      return;
    }
    auto choices = GetArray(root, "choices");
    bool content = false;
    if (choices) {
      for (simdjson::dom::element choice : *choices) {
        if (NonEmptyString(choice, "text")) content = true;
        if (auto delta = GetObject(choice, "delta"); delta && MessageHasContent(*delta)) {
          content = true;
        }
        if (capturing_text()) CaptureText(choice, "delta");
        if (auto finish = GetString(choice, "finish_reason")) {
          finish_seen_ = true;
          record()->set_finish_reason(std::string(*finish));
        }
      }
    }
    if (content) AddContentChunk(now_ns);
    if (auto usage_object = GetObject(root, "usage")) {
      Usage usage = ReadUsage(*usage_object);
      if (!choices || choices->size() == 0) {
        final_usage_seen_ = true;
        ApplyUsage(usage);
      } else if (finish_seen_ && usage.completion_tokens.value_or(0) > 0) {
        fallback_usage_ = usage;
      }
    }
    ReadTimings(root);
  }

  // The generated text of a choice: `text` (completions) or `content` of its delta/message.
  void CaptureText(simdjson::dom::element choice, std::string_view message_key) {
    if (auto text = GetString(choice, "text")) AppendReplyText(*text);
    if (auto message = GetObject(choice, message_key)) {
      if (auto text = GetString(*message, "content")) AppendReplyText(*text);
    }
  }

  static Usage ReadUsage(simdjson::dom::element usage) {
    return Usage{GetInt(usage, "prompt_tokens"), GetInt(usage, "completion_tokens")};
  }

  void ApplyUsage(const Usage& usage) {
    if (usage.prompt_tokens) record()->set_input_tokens(ClampToUint32(*usage.prompt_tokens));
    if (usage.completion_tokens) {
      record()->set_output_tokens_reported(ClampToUint32(*usage.completion_tokens));
    }
  }

  // llama.cpp `timings` and vLLM per-request `metrics`, both in ms.
  void ReadTimings(simdjson::dom::element root) {
    llmbench::v1::EngineTimings* timings = record()->mutable_engine_timings();
    if (auto t = GetObject(root, "timings")) {
      if (auto ms = GetDouble(*t, "prompt_ms")) {
        if (auto ns = MillisToNanos(*ms)) timings->set_prompt_time_ns(*ns);
      }
      if (auto ms = GetDouble(*t, "predicted_ms")) {
        if (auto ns = MillisToNanos(*ms)) timings->set_predicted_time_ns(*ns);
      }
    }
    if (auto m = GetObject(root, "metrics")) {
      if (auto ms = GetDouble(*m, "time_to_first_token_ms")) {
        if (auto ns = MillisToNanos(*ms)) timings->set_server_ttft_ns(*ns);
      }
      if (auto ms = GetDouble(*m, "queue_time_ms")) {
        if (auto ns = MillisToNanos(*ms)) timings->set_queue_time_ns(*ns);
      }
      if (auto ms = GetDouble(*m, "generation_time_ms")) {
        if (auto ns = MillisToNanos(*ms)) timings->set_inference_time_ns(*ns);
      }
      if (auto ms = GetDouble(*m, "mean_itl_ms")) {
        if (auto ns = MillisToNanos(*ms)) timings->set_time_per_token_ns(*ns);
      }
    }
  }

  // The payload of an `error:` SSE field: {"error":{…}}, {"code","message","type"} or text.
  static std::string ErrorFieldMessage(std::string_view data) {
    simdjson::dom::element root;
    if (ThreadJsonParser().Parse(data).get(root) == simdjson::SUCCESS) {
      if (auto message = ErrorMessageFromJson(root)) return *message;
      if (auto message = GetString(root, "message")) return std::string(*message);
    }
    std::string_view text = StripWhitespace(data);
    return text.empty() ? std::string("error event without a message") : std::string(text);
  }

  llmbench::v1::EngineKind kind_;
  SseParser sse_;
  bool done_ = false;
  bool finish_seen_ = false;
  bool final_usage_seen_ = false;
  std::optional<Usage> fallback_usage_;
};

}  // namespace

OpenAiProtocol::OpenAiProtocol(const llmbench::v1::Engine& engine,
                               const llmbench::v1::Generation& generation, llmbench::v1::Api api)
    : kind_(engine.kind()),
      model_(engine.model()),
      generation_(ResolveGeneration(generation)),
      chat_(api == llmbench::v1::API_CHAT_COMPLETIONS) {
  // TGI's Messages API ignores the model name but needs the field; "tgi" is its convention.
  if (model_.empty() && kind_ == llmbench::v1::ENGINE_KIND_TGI) model_ = "tgi";
}

HttpRequestSpec OpenAiProtocol::BuildRequest(const llmbench::v1::Prompt& prompt,
                                             uint64_t /*request_id*/) const {
  HttpRequestSpec spec;
  spec.path = chat_ ? "/v1/chat/completions" : "/v1/completions";
  std::string& body = spec.body;
  body.reserve(prompt.text().size() + prompt.system().size() + 200);
  body.append("{\"model\":");
  AppendJsonString(body, model_);
  if (chat_) {
    AppendChatMessages(&body, prompt);
  } else {
    body.append(",\"prompt\":");
    AppendJsonString(body, prompt.text());
  }
  const uint32_t max_tokens = MaxTokensFor(prompt, generation_);
  absl::StrAppend(&body, ",\"max_tokens\":", max_tokens, ",\"temperature\":");
  AppendJsonDouble(&body, generation_.temperature);
  if (generation_.seed) absl::StrAppend(&body, ",\"seed\":", *generation_.seed);
  if (generation_.ignore_eos) {
    if (kind_ == llmbench::v1::ENGINE_KIND_VLLM) {
      absl::StrAppend(&body, ",\"ignore_eos\":true,\"min_tokens\":", max_tokens);
    } else if (kind_ == llmbench::v1::ENGINE_KIND_OPENAI) {
      body.append(",\"ignore_eos\":true");
    }
  }
  if (generation_.stream) {
    body.append(",\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
  } else {
    body.append(",\"stream\":false}");
  }
  return spec;
}

std::unique_ptr<ResponseParser> OpenAiProtocol::NewParser(RequestRecord* record) const {
  auto parser = std::make_unique<OpenAiParser>(record, generation_.stream, kind_);
  parser->CaptureReplyText(generation_.reply_text_bytes);
  return parser;
}

std::string OpenAiProtocol::HealthPath() const { return HealthPathFor(kind_); }
std::string OpenAiProtocol::ModelsPath() const { return ModelsPathFor(kind_); }
std::string OpenAiProtocol::TokenizePath() const { return TokenizePathFor(kind_); }

}  // namespace llmbench::engines
