#include "engines/ollama_protocol.h"

#include <optional>
#include <string_view>
#include <utility>

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

class OllamaParser : public ResponseParserBase {
 public:
  OllamaParser(RequestRecord* record, bool stream) : ResponseParserBase(record, stream) {}

 protected:
  void ConsumeStream(std::string_view bytes, int64_t now_ns) override {
    absl::Status status = ndjson_.Feed(bytes, [&](std::string_view line) {
      if (failed() || done_) return;
      simdjson::dom::element root;
      auto error = ThreadJsonParser().Parse(line).get(root);
      if (error != simdjson::SUCCESS) {
        Fail(llmbench::v1::ERROR_CLASS_PARSE,
             absl::StrCat("invalid JSON in NDJSON line: ", simdjson::error_message(error)));
        return;
      }
      HandleObject(root, now_ns);
    });
    if (!status.ok()) FailFraming(status);
  }

  void EndStream() override {
    if (!done_) {
      Fail(llmbench::v1::ERROR_CLASS_STREAM_BROKEN,
           "stream ended before the final \"done\":true line");
    }
  }

  void ConsumeBody(simdjson::dom::element root, int64_t now_ns) override {
    HandleObject(root, now_ns);
    if (!failed() && !done_) {
      Fail(llmbench::v1::ERROR_CLASS_STREAM_BROKEN, "response has no \"done\":true");
    }
  }

 private:
  // One line of the stream, or the whole non-stream body.
  void HandleObject(simdjson::dom::element root, int64_t now_ns) {
    if (!root.is_object()) {
      Fail(llmbench::v1::ERROR_CLASS_PARSE, "NDJSON line is not a JSON object");
      return;
    }
    if (auto message = ErrorMessageFromJson(root)) {
      Fail(llmbench::v1::ERROR_CLASS_STREAM_BROKEN, *message);
      return;
    }
    const std::optional<std::string_view> done_reason = GetString(root, "done_reason");
    // Load/unload answers (empty prompt, keep_alive:0) carry no generated text.
    const bool housekeeping = done_reason == "load" || done_reason == "unload";
    if (!housekeeping && HasContent(root)) AddContentChunk(now_ns);
    if (capturing_text() && !housekeeping) {
      if (auto text = GetString(root, "response")) AppendReplyText(*text);
      if (auto message = GetObject(root, "message")) {
        if (auto text = GetString(*message, "content")) AppendReplyText(*text);
      }
    }
    if (GetBool(root, "done") == true) {
      done_ = true;
      RequestRecord* rec = record();
      if (done_reason) rec->set_finish_reason(std::string(*done_reason));
      llmbench::v1::EngineTimings* timings = rec->mutable_engine_timings();
      // Every metric is omitempty on the wire: absent means 0 / not measured.
      if (auto v = GetInt(root, "load_duration")) timings->set_load_duration_ns(*v);
      if (auto v = GetInt(root, "prompt_eval_duration")) timings->set_prompt_eval_duration_ns(*v);
      if (auto v = GetInt(root, "eval_duration")) timings->set_eval_duration_ns(*v);
      if (auto v = GetInt(root, "total_duration")) timings->set_total_duration_ns(*v);
      if (auto v = GetInt(root, "prompt_eval_count")) {
        timings->set_prompt_eval_count(ClampToUint32(*v));
        rec->set_input_tokens(ClampToUint32(*v));
      }
      if (auto v = GetInt(root, "eval_count")) {
        timings->set_eval_count(ClampToUint32(*v));
        rec->set_output_tokens_reported(ClampToUint32(*v));
      }
    }
  }

  // Generated text: /api/generate `response`/`thinking`; /api/chat `message.content`,
  // `message.thinking` or `message.tool_calls`.
  static bool HasContent(simdjson::dom::element root) {
    if (NonEmptyString(root, "response") || NonEmptyString(root, "thinking")) return true;
    simdjson::dom::element message;
    if (root["message"].get(message) != simdjson::SUCCESS || !message.is_object()) return false;
    return NonEmptyString(message, "content") || NonEmptyString(message, "thinking") ||
           NonEmptyArray(message, "tool_calls");
  }

  NdjsonParser ndjson_;
  bool done_ = false;
};

}  // namespace

OllamaProtocol::OllamaProtocol(const llmbench::v1::Engine& engine,
                               const llmbench::v1::Generation& generation, llmbench::v1::Api api)
    : model_(engine.model()),
      generation_(ResolveGeneration(generation)),
      chat_(api == llmbench::v1::API_OLLAMA_CHAT) {}

HttpRequestSpec OllamaProtocol::BuildRequest(const llmbench::v1::Prompt& prompt,
                                             uint64_t /*request_id*/) const {
  HttpRequestSpec spec;
  spec.path = chat_ ? "/api/chat" : "/api/generate";
  std::string& body = spec.body;
  body.reserve(prompt.text().size() + prompt.system().size() + 160);
  body.append("{\"model\":");
  AppendJsonString(body, model_);
  if (chat_) {
    AppendChatMessages(&body, prompt);
  } else {
    body.append(",\"prompt\":");
    AppendJsonString(body, prompt.text());
    if (!prompt.system().empty()) {
      body.append(",\"system\":");
      AppendJsonString(body, prompt.system());
    }
  }
  body.append(generation_.stream ? ",\"stream\":true" : ",\"stream\":false");
  absl::StrAppend(&body, ",\"options\":{\"num_predict\":", MaxTokensFor(prompt, generation_),
                  ",\"temperature\":");
  AppendJsonDouble(&body, generation_.temperature);
  if (generation_.seed) absl::StrAppend(&body, ",\"seed\":", *generation_.seed);
  body.append("}}");
  return spec;
}

std::unique_ptr<ResponseParser> OllamaProtocol::NewParser(RequestRecord* record) const {
  auto parser = std::make_unique<OllamaParser>(record, generation_.stream);
  parser->CaptureReplyText(generation_.reply_text_bytes);
  return parser;
}

std::string OllamaProtocol::HealthPath() const {
  return HealthPathFor(llmbench::v1::ENGINE_KIND_OLLAMA);
}
std::string OllamaProtocol::ModelsPath() const {
  return ModelsPathFor(llmbench::v1::ENGINE_KIND_OLLAMA);
}
std::string OllamaProtocol::TokenizePath() const {
  return TokenizePathFor(llmbench::v1::ENGINE_KIND_OLLAMA);
}

}  // namespace llmbench::engines
