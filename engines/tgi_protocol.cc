#include "engines/tgi_protocol.h"

#include <charconv>
#include <optional>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "common/framing.h"
#include "engines/discovery.h"

namespace llmbench::engines {
namespace {

using llmbench::v1::RequestRecord;

// An integer header value (TGI writes ms and counts as integers).
std::optional<int64_t> ParseIntHeader(std::string_view value) {
  value = StripWhitespace(value);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || end != value.data() + value.size() || v < 0) return std::nullopt;
  return v;
}

std::optional<int64_t> MillisHeaderToNanos(std::string_view value) {
  auto ms = ParseIntHeader(value);
  if (!ms || *ms > 9'000'000'000'000) return std::nullopt;
  return *ms * 1'000'000;
}

class TgiParser : public ResponseParserBase {
 public:
  TgiParser(RequestRecord* record, bool stream) : ResponseParserBase(record, stream) {}

 protected:
  void ConsumeHeaders(const HeaderList& headers) override {
    llmbench::v1::EngineTimings* timings = record()->mutable_engine_timings();
    for (const auto& [name, value] : headers) {
      if (name == "x-queue-time") {
        if (auto ns = MillisHeaderToNanos(value)) timings->set_queue_time_ns(*ns);
      } else if (name == "x-inference-time") {
        if (auto ns = MillisHeaderToNanos(value)) timings->set_inference_time_ns(*ns);
      } else if (name == "x-time-per-token") {
        if (auto ns = MillisHeaderToNanos(value)) timings->set_time_per_token_ns(*ns);
      } else if (name == "x-validation-time") {
        if (auto ns = MillisHeaderToNanos(value)) timings->set_validation_time_ns(*ns);
      } else if (name == "x-total-time") {
        if (auto ns = MillisHeaderToNanos(value)) timings->set_server_total_time_ns(*ns);
      } else if (name == "x-prompt-tokens") {
        if (auto n = ParseIntHeader(value)) header_prompt_tokens_ = n;
      } else if (name == "x-generated-tokens") {
        if (auto n = ParseIntHeader(value)) header_generated_tokens_ = n;
      }
    }
  }

  void ConsumeStream(std::string_view bytes, int64_t now_ns) override {
    absl::Status status =
        sse_.Feed(bytes, [&](const SseEvent& event) { HandleEvent(event, now_ns); });
    if (!status.ok()) FailFraming(status);
  }

  void EndStream() override {
    if (!done_) {
      Fail(llmbench::v1::ERROR_CLASS_STREAM_BROKEN,
           "stream ended before the final event with generated_text");
    }
  }

  void ConsumeBody(simdjson::dom::element root, int64_t now_ns) override {
    if (HandleError(root)) return;
    auto text = GetString(root, "generated_text");
    if (!text) {
      Fail(llmbench::v1::ERROR_CLASS_PARSE, "response body has no \"generated_text\"");
      return;
    }
    if (!text->empty()) AddContentChunk(now_ns);
    if (capturing_text()) AppendReplyText(*text);
    ReadDetails(root);
  }

  void Finalize() override {
    RequestRecord* rec = record();
    if (!rec->has_input_tokens() && header_prompt_tokens_) {
      rec->set_input_tokens(ClampToUint32(*header_prompt_tokens_));
    }
    if (!rec->has_output_tokens_reported()) {
      if (header_generated_tokens_) {
        rec->set_output_tokens_reported(ClampToUint32(*header_generated_tokens_));
      } else if (done_) {
        // No details requested: TGI sends exactly one event per generated token.
        rec->set_output_tokens_reported(token_events_);
      }
    }
  }

 private:
  void HandleEvent(const SseEvent& event, int64_t now_ns) {
    if (failed() || done_) return;
    if (event.error_field) {
      Fail(llmbench::v1::ERROR_CLASS_STREAM_BROKEN, StripWhitespace(event.data));
      return;
    }
    simdjson::dom::element root;
    auto error = ThreadJsonParser().Parse(event.data).get(root);
    if (error != simdjson::SUCCESS) {
      Fail(llmbench::v1::ERROR_CLASS_PARSE,
           absl::StrCat("invalid JSON in SSE event: ", simdjson::error_message(error)));
      return;
    }
    if (!root.is_object()) {
      Fail(llmbench::v1::ERROR_CLASS_PARSE, "SSE event data is not a JSON object");
      return;
    }
    if (HandleError(root)) return;
    if (auto token = GetObject(root, "token")) {
      ++token_events_;
      auto text = GetString(*token, "text");
      if (GetBool(*token, "special") != true && text && !text->empty()) {
        AddContentChunk(now_ns);
        if (capturing_text()) AppendReplyText(*text);
      }
    }
    if (GetString(root, "generated_text")) {
      done_ = true;
      ReadDetails(root);
    }
  }

  // An in-band {"error","error_type"}; true when `root` was one.
  bool HandleError(simdjson::dom::element root) {
    auto message = ErrorMessageFromJson(root);
    if (!message) return false;
    const auto type = GetString(root, "error_type");
    llmbench::v1::ErrorClass error_class = llmbench::v1::ERROR_CLASS_STREAM_BROKEN;
    if (type == "overloaded") {
      error_class = llmbench::v1::ERROR_CLASS_OVERLOADED;
    } else if (type == "validation") {
      error_class = llmbench::v1::ERROR_CLASS_HTTP_4XX;
    }
    Fail(error_class, *message);
    return true;
  }

  void ReadDetails(simdjson::dom::element root) {
    auto details = GetObject(root, "details");
    if (!details) return;
    RequestRecord* rec = record();
    if (auto finish = GetString(*details, "finish_reason")) {
      rec->set_finish_reason(std::string(*finish));
    }
    if (auto n = GetInt(*details, "generated_tokens")) {
      rec->set_output_tokens_reported(ClampToUint32(*n));
    }
    if (auto n = GetInt(*details, "input_length")) rec->set_input_tokens(ClampToUint32(*n));
  }

  SseParser sse_;
  bool done_ = false;
  uint32_t token_events_ = 0;
  std::optional<int64_t> header_prompt_tokens_;
  std::optional<int64_t> header_generated_tokens_;
};

}  // namespace

TgiProtocol::TgiProtocol(const llmbench::v1::Engine& /*engine*/,
                         const llmbench::v1::Generation& generation)
    : generation_(ResolveGeneration(generation)) {}

HttpRequestSpec TgiProtocol::BuildRequest(const llmbench::v1::Prompt& prompt,
                                          uint64_t /*request_id*/) const {
  HttpRequestSpec spec;
  spec.path = generation_.stream ? "/generate_stream" : "/generate";
  std::string& body = spec.body;
  // TGI's native API has no system role: the system prompt is prepended to the inputs.
  std::string inputs;
  if (!prompt.system().empty()) inputs = absl::StrCat(prompt.system(), "\n\n", prompt.text());
  const std::string& text = prompt.system().empty() ? prompt.text() : inputs;
  body.reserve(text.size() + 160);
  body.append("{\"inputs\":");
  AppendJsonString(body, text);
  absl::StrAppend(&body, ",\"parameters\":{\"max_new_tokens\":", MaxTokensFor(prompt, generation_),
                  ",\"details\":true");
  if (generation_.seed) absl::StrAppend(&body, ",\"seed\":", *generation_.seed);
  if (generation_.temperature > 0) {
    body.append(",\"do_sample\":true,\"temperature\":");
    AppendJsonDouble(&body, generation_.temperature);
  } else {
    body.append(",\"do_sample\":false");
  }
  body.append("}}");
  return spec;
}

std::unique_ptr<ResponseParser> TgiProtocol::NewParser(RequestRecord* record) const {
  auto parser = std::make_unique<TgiParser>(record, generation_.stream);
  parser->CaptureReplyText(generation_.reply_text_bytes);
  return parser;
}

std::string TgiProtocol::HealthPath() const { return HealthPathFor(llmbench::v1::ENGINE_KIND_TGI); }
std::string TgiProtocol::ModelsPath() const { return ModelsPathFor(llmbench::v1::ENGINE_KIND_TGI); }
std::string TgiProtocol::TokenizePath() const {
  return TokenizePathFor(llmbench::v1::ENGINE_KIND_TGI);
}

}  // namespace llmbench::engines
