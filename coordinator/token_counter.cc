#include "coordinator/token_counter.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/json_writer.h"
#include "common/status.h"
#include "coordinator/prompts.h"
#include "coordinator/tokenizer_json.h"
#include "engines/curl_handles.h"
#include "simdjson.h"

namespace llmbench::coordinator {
namespace {

namespace v1 = ::llmbench::v1;

// The route's request shape.
enum class Shape { kVllm, kTgi, kLlamaCpp };

bool ChatApi(v1::Api api) { return api == v1::API_CHAT_COMPLETIONS || api == v1::API_OLLAMA_CHAT; }

// Whether the route puts the system prompt into the same sequence as the prompt: chat messages,
// and TGI's generate (the worker prepends it to the inputs).
bool SendsSystem(v1::Api api) { return ChatApi(api) || api == v1::API_TGI_GENERATE; }

std::string TgiInputs(const v1::Prompt& prompt) {
  return prompt.system().empty() ? prompt.text()
                                 : absl::StrCat(prompt.system(), "\n\n", prompt.text());
}

std::string Messages(const v1::Prompt& prompt) {
  std::string out = "[";
  if (!prompt.system().empty()) {
    out.append("{\"role\":\"system\",\"content\":");
    AppendJsonString(out, prompt.system());
    out.append("},");
  }
  out.append("{\"role\":\"user\",\"content\":");
  AppendJsonString(out, prompt.text());
  out.append("}]");
  return out;
}

TokenizeCall CallFor(Shape shape, const v1::Engine& engine, const v1::Prompt& prompt,
                     bool whole_request) {
  TokenizeCall call;
  const bool chat = whole_request && ChatApi(engine.api());
  switch (shape) {
    case Shape::kVllm:
      call.route = "/tokenize";
      call.body = "{\"model\":";
      AppendJsonString(call.body, engine.model());
      if (chat) {
        absl::StrAppend(&call.body, ",\"messages\":", Messages(prompt), "}");
      } else {
        call.body.append(",\"prompt\":");
        AppendJsonString(call.body, prompt.text());
        call.body.append(whole_request ? "}" : ",\"add_special_tokens\":false}");
      }
      break;
    case Shape::kTgi:
      if (chat) {
        call.route = "/chat_tokenize";
        call.body = "{\"model\":";
        AppendJsonString(call.body, engine.model().empty() ? std::string("tgi") : engine.model());
        absl::StrAppend(&call.body, ",\"messages\":", Messages(prompt), "}");
      } else {
        call.route = "/tokenize";
        call.body = "{\"inputs\":";
        AppendJsonString(call.body, whole_request && engine.api() == v1::API_TGI_GENERATE
                                        ? TgiInputs(prompt)
                                        : prompt.text());
        call.body.append("}");
      }
      break;
    case Shape::kLlamaCpp:
      if (chat) {
        call.route = "/apply-template";
        absl::StrAppend(&call.body, "{\"messages\":", Messages(prompt), "}");
      } else {
        call.route = "/tokenize";
        call.body = "{\"content\":";
        AppendJsonString(call.body, prompt.text());
        call.body.append(whole_request ? ",\"add_special\":true,\"parse_special\":true}"
                                       : ",\"add_special\":false}");
      }
      break;
  }
  return call;
}

std::optional<uint32_t> ParseCount(Shape shape, std::string_view route, std::string_view body,
                                   bool content_only) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(simdjson::padded_string(body)).get(root) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  simdjson::dom::array tokens;
  switch (shape) {
    case Shape::kVllm: {
      uint64_t count = 0;
      if (root["count"].get_uint64().get(count) == simdjson::SUCCESS) {
        return static_cast<uint32_t>(count);
      }
      if (root["tokens"].get_array().get(tokens) == simdjson::SUCCESS) {
        return static_cast<uint32_t>(tokens.size());
      }
      return std::nullopt;
    }
    case Shape::kTgi:
      if (route == "/chat_tokenize") {
        if (root["tokenize_response"].get_array().get(tokens) != simdjson::SUCCESS) {
          return std::nullopt;
        }
        return static_cast<uint32_t>(tokens.size());
      }
      if (root.get_array().get(tokens) != simdjson::SUCCESS) return std::nullopt;
      if (!content_only) return static_cast<uint32_t>(tokens.size());
      {
        // Special tokens (BOS, ...) cover no text: start == stop.
        uint32_t n = 0;
        for (simdjson::dom::element token : tokens) {
          uint64_t start = 0, stop = 0;
          if (token["start"].get_uint64().get(start) == simdjson::SUCCESS &&
              token["stop"].get_uint64().get(stop) == simdjson::SUCCESS && stop > start) {
            ++n;
          }
        }
        return n;
      }
    case Shape::kLlamaCpp:
      if (root["tokens"].get_array().get(tokens) != simdjson::SUCCESS) return std::nullopt;
      return static_cast<uint32_t>(tokens.size());
  }
  return std::nullopt;
}

Shape ShapeOf(v1::EngineKind kind) {
  switch (kind) {
    case v1::ENGINE_KIND_VLLM:
      return Shape::kVllm;
    case v1::ENGINE_KIND_TGI:
      return Shape::kTgi;
    default:
      return Shape::kLlamaCpp;
  }
}

// ---- words ----------------------------------------------------------------------------------

class WordCounter : public TokenCounter {
 public:
  explicit WordCounter(v1::Api api) : api_(api) {}
  absl::StatusOr<uint32_t> CountRequest(const v1::Prompt& prompt) override {
    uint32_t words = CountWords(prompt.text());
    if (SendsSystem(api_)) words += CountWords(prompt.system());
    return std::max<uint32_t>(words, 1);  // llmbench-sim counts an empty prompt as 1 token
  }
  absl::StatusOr<uint32_t> CountText(std::string_view text) override {
    return CountWords(std::string(text));
  }
  std::string method() const override { return "words"; }
  std::string source() const override { return ""; }

 private:
  v1::Api api_;
};

// ---- tokenizer.json -------------------------------------------------------------------------

class TokenizerCounter : public TokenCounter {
 public:
  TokenizerCounter(v1::Api api, std::unique_ptr<TokenizerJson> tokenizer, std::string path)
      : api_(api), tokenizer_(std::move(tokenizer)), path_(std::move(path)) {}
  absl::StatusOr<uint32_t> CountRequest(const v1::Prompt& prompt) override {
    if (api_ == v1::API_TGI_GENERATE) return tokenizer_->Count(TgiInputs(prompt), true);
    uint32_t n = tokenizer_->Count(prompt.text(), true);
    if (SendsSystem(api_) && !prompt.system().empty())
      n += tokenizer_->Count(prompt.system(), false);
    return n;
  }
  absl::StatusOr<uint32_t> CountText(std::string_view text) override {
    return tokenizer_->Count(text, false);
  }
  std::string method() const override { return "tokenizer"; }
  std::string source() const override { return path_; }

 private:
  v1::Api api_;
  std::unique_ptr<TokenizerJson> tokenizer_;
  std::string path_;
};

// ---- engine ---------------------------------------------------------------------------------

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() + size * count > (size_t{64} << 20)) return 0;  // fail the transfer
  body->append(data, size * count);
  return size * count;
}

class EngineCounter : public TokenCounter {
 public:
  EngineCounter(const v1::Engine& engine, Shape shape, int timeout_ms)
      : engine_(engine), shape_(shape), timeout_ms_(timeout_ms), curl_(curl_easy_init()) {
    std::string base = engine.base_url();
    while (!base.empty() && base.back() == '/') base.pop_back();
    base_ = base;
    curl_slist* list = curl_slist_append(nullptr, "Content-Type: application/json");
    for (const auto& [name, value] : engine.headers()) {
      list = curl_slist_append(list, absl::StrCat(name, ": ", value).c_str());
    }
    if (!engine.api_key_env().empty()) {
      if (const char* key = std::getenv(engine.api_key_env().c_str()); key != nullptr) {
        list = curl_slist_append(list, absl::StrCat("Authorization: Bearer ", key).c_str());
      }
    }
    headers_.reset(list);
  }

  absl::StatusOr<uint32_t> CountRequest(const v1::Prompt& prompt) override {
    return Count(prompt, true);
  }
  absl::StatusOr<uint32_t> CountText(std::string_view text) override {
    v1::Prompt prompt;
    prompt.set_text(std::string(text));
    return Count(prompt, false);
  }
  std::string method() const override { return "engine"; }
  std::string source() const override {
    const bool chat = ChatApi(engine_.api());
    if (shape_ == Shape::kTgi && chat) return base_ + "/chat_tokenize";
    if (shape_ == Shape::kLlamaCpp && chat) return base_ + "/apply-template + /tokenize";
    return base_ + "/tokenize";
  }
  uint64_t calls() const override { return calls_; }

 private:
  absl::StatusOr<uint32_t> Count(const v1::Prompt& prompt, bool whole_request) {
    TokenizeCall call = CallFor(shape_, engine_, prompt, whole_request);
    LLMBENCH_ASSIGN_OR_RETURN(std::string body, Post(call.route, call.body));
    if (call.route == "/apply-template") {
      // llama.cpp chat: the templated prompt, then its tokens with the special ones parsed.
      simdjson::dom::parser parser;
      std::string_view templated;
      if (parser.parse(simdjson::padded_string(body))["prompt"].get_string().get(templated) !=
          simdjson::SUCCESS) {
        return absl::UnavailableError(
            absl::StrCat("POST ", base_, call.route, ": answer has no \"prompt\""));
      }
      std::string tokenize = "{\"content\":";
      AppendJsonString(tokenize, templated);
      tokenize.append(",\"add_special\":true,\"parse_special\":true}");
      call.route = "/tokenize";
      LLMBENCH_ASSIGN_OR_RETURN(body, Post(call.route, tokenize));
    }
    std::optional<uint32_t> count = ParseCount(shape_, call.route, body, !whole_request);
    if (!count) {
      // The body is not quoted: an engine may echo what it was sent, the API key included.
      return absl::UnavailableError(absl::StrCat("POST ", base_, call.route,
                                                 ": not a tokenize answer (", body.size(),
                                                 " bytes)"));
    }
    return *count;
  }

  absl::StatusOr<std::string> Post(const std::string& route, const std::string& payload) {
    if (!curl_) return absl::InternalError("curl_easy_init failed");
    ++calls_;
    std::string body;
    char error[CURL_ERROR_SIZE] = {0};
    CURL* c = curl_.get();
    const std::string url = base_ + route;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(payload.size()));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers_.get());
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms_));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &AppendBody);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
    if (!engine_.tls_ca_file().empty()) {
      curl_easy_setopt(c, CURLOPT_CAINFO, engine_.tls_ca_file().c_str());
    }
    const CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
      return absl::UnavailableError(
          absl::StrCat("POST ", url, ": ", error[0] != 0 ? error : curl_easy_strerror(rc)));
    }
    long status = 0;  // NOLINT(runtime/int): curl's type
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
      return absl::UnavailableError(absl::StrCat("POST ", url, ": HTTP ", status));
    }
    return body;
  }

  v1::Engine engine_;
  Shape shape_;
  int timeout_ms_;
  std::string base_;
  engines::CurlEasyPtr curl_;
  engines::CurlSlistPtr headers_;
  uint64_t calls_ = 0;
};

}  // namespace

TokenizeCall TokenizeRequestFor(const v1::Engine& engine, const v1::Prompt& prompt,
                                bool whole_request) {
  return CallFor(ShapeOf(engine.kind()), engine, prompt, whole_request);
}

std::optional<uint32_t> ParseTokenizeCount(v1::EngineKind kind, std::string_view route,
                                           std::string_view body, bool content_only) {
  return ParseCount(ShapeOf(kind), route, body, content_only);
}

std::unique_ptr<TokenCounter> MakeWordTokenCounter(const v1::Engine& engine) {
  return std::make_unique<WordCounter>(engine.api());
}

absl::StatusOr<std::unique_ptr<TokenCounter>> MakeTokenizerJsonCounter(const v1::Engine& engine,
                                                                       const std::string& path) {
  LLMBENCH_ASSIGN_OR_RETURN(std::unique_ptr<TokenizerJson> tokenizer, TokenizerJson::Load(path));
  return std::unique_ptr<TokenCounter>(
      std::make_unique<TokenizerCounter>(engine.api(), std::move(tokenizer), path));
}

absl::StatusOr<std::unique_ptr<TokenCounter>> MakeEngineTokenCounter(const v1::Engine& engine,
                                                                     int timeout_ms) {
  if (engine.kind() == v1::ENGINE_KIND_OLLAMA) {
    return absl::UnimplementedError("Ollama has no tokenize route");
  }
  // llama.cpp's shape first for other OpenAI-compatible servers, then vLLM's (its forks).
  std::vector<Shape> shapes = {ShapeOf(engine.kind())};
  if (engine.kind() == v1::ENGINE_KIND_OPENAI) shapes.push_back(Shape::kVllm);
  absl::Status first;
  for (Shape shape : shapes) {
    auto counter = std::make_unique<EngineCounter>(engine, shape, timeout_ms);
    absl::StatusOr<uint32_t> probe = counter->CountText("hello world");
    if (probe.ok()) {
      v1::Prompt prompt;
      prompt.set_text("hello world");
      probe = counter->CountRequest(prompt);  // the chat route's own shape too
    }
    if (probe.ok()) return std::unique_ptr<TokenCounter>(std::move(counter));
    if (first.ok()) first = probe.status();
  }
  return first;
}

absl::StatusOr<std::unique_ptr<TokenCounter>> ChooseTokenCounter(const v1::Prompts& prompts,
                                                                 const v1::Engine& engine,
                                                                 const std::string& base_dir,
                                                                 std::vector<std::string>* notes) {
  const std::string tokenizer =
      prompts.tokenizer().empty() || prompts.tokenizer()[0] == '/' || base_dir.empty()
          ? prompts.tokenizer()
          : absl::StrCat(base_dir, "/", prompts.tokenizer());
  switch (prompts.length_method()) {
    case v1::PROMPT_LENGTH_METHOD_WORDS:
      return MakeWordTokenCounter(engine);
    case v1::PROMPT_LENGTH_METHOD_TOKENIZER:
      return MakeTokenizerJsonCounter(engine, tokenizer);
    case v1::PROMPT_LENGTH_METHOD_ENGINE: {
      absl::StatusOr<std::unique_ptr<TokenCounter>> counter = MakeEngineTokenCounter(engine);
      if (!counter.ok()) {
        return absl::FailedPreconditionError(
            absl::StrCat("engine ", engine.name(),
                         ": prompts.length_method engine: ", counter.status().message()));
      }
      return counter;
    }
    default:
      break;
  }
  absl::StatusOr<std::unique_ptr<TokenCounter>> counter = MakeEngineTokenCounter(engine);
  if (counter.ok()) return counter;
  const std::string why = std::string(counter.status().message());
  if (!prompts.tokenizer().empty()) {
    notes->push_back(
        absl::StrCat("no engine tokenize route (", why, "): counted with ", prompts.tokenizer()));
    return MakeTokenizerJsonCounter(engine, tokenizer);
  }
  notes->push_back(absl::StrCat("no engine tokenize route (", why,
                                ") and no tokenizer.json: counted one token per word; the error "
                                "against the engine's counts is measured below"));
  return MakeWordTokenCounter(engine);
}

}  // namespace llmbench::coordinator
