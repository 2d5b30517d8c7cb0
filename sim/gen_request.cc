#include "sim/gen_request.h"
#include "common/str_cat.h"

#include <algorithm>

#include <simdjson.h>


namespace llmbench::sim {
namespace {

using simdjson::dom::element;
using simdjson::dom::object;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// Optional typed getters: absent or null → nullopt; wrong type → error flag.
struct Getter {
  object obj;
  std::string bad_field;

  bool Has(std::string_view key) {
    element e;
    return obj.at_key(key).get(e) == simdjson::SUCCESS && !e.is_null();
  }
  std::optional<int64_t> Int(std::string_view key) {
    element e;
    if (obj.at_key(key).get(e) != simdjson::SUCCESS || e.is_null()) return std::nullopt;
    int64_t v;
    if (e.get_int64().get(v) == simdjson::SUCCESS) return v;
    double d;
    if (e.get_double().get(d) == simdjson::SUCCESS && d == static_cast<double>(static_cast<int64_t>(d))) {
      return static_cast<int64_t>(d);
    }
    if (bad_field.empty()) bad_field = std::string(key);
    return std::nullopt;
  }
  std::optional<bool> Bool(std::string_view key) {
    element e;
    if (obj.at_key(key).get(e) != simdjson::SUCCESS || e.is_null()) return std::nullopt;
    bool v;
    if (e.get_bool().get(v) == simdjson::SUCCESS) return v;
    if (bad_field.empty()) bad_field = std::string(key);
    return std::nullopt;
  }
  std::optional<std::string_view> Str(std::string_view key) {
    element e;
    if (obj.at_key(key).get(e) != simdjson::SUCCESS || e.is_null()) return std::nullopt;
    std::string_view v;
    if (e.get_string().get(v) == simdjson::SUCCESS) return v;
    if (bad_field.empty()) bad_field = std::string(key);
    return std::nullopt;
  }
  std::optional<object> Obj(std::string_view key) {
    element e;
    if (obj.at_key(key).get(e) != simdjson::SUCCESS || e.is_null()) return std::nullopt;
    object v;
    if (e.get_object().get(v) == simdjson::SUCCESS) return v;
    if (bad_field.empty()) bad_field = std::string(key);
    return std::nullopt;
  }
};

// Counts words of chat messages (string content or [{"type":"text","text":...}] parts).
// Returns false when messages is not an array of objects.
bool CountMessages(element messages, int& words, int64_t& chars, TokenRule rule) {
  simdjson::dom::array arr;
  if (messages.get_array().get(arr) != simdjson::SUCCESS) return false;
  for (element m : arr) {
    object mo;
    if (m.get_object().get(mo) != simdjson::SUCCESS) return false;
    element content;
    if (mo.at_key("content").get(content) != simdjson::SUCCESS || content.is_null()) continue;
    std::string_view s;
    if (content.get_string().get(s) == simdjson::SUCCESS) {
      words += CountTokens(s, rule);
      chars += static_cast<int64_t>(s.size());
      continue;
    }
    simdjson::dom::array parts;
    if (content.get_array().get(parts) != simdjson::SUCCESS) return false;
    for (element p : parts) {
      object po;
      std::string_view text;
      if (p.get_object().get(po) == simdjson::SUCCESS &&
          po.at_key("text").get_string().get(text) == simdjson::SUCCESS) {
        words += CountTokens(text, rule);
        chars += static_cast<int64_t>(text.size());
      }
    }
  }
  return true;
}

// Output length under a cap and the model's natural EOS (EOS is the Nth token).
void ApplyLength(GenRequest& req, int cap, int natural, int min_tokens, bool ignore_eos) {
  cap = std::max(cap, 1);
  req.max_tokens = cap;
  if (natural > 0 && !ignore_eos) {
    const int natural_end = std::max(natural, min_tokens);
    if (natural_end <= cap) {
      req.output_tokens = natural_end;
      req.eos = true;
      return;
    }
  }
  req.output_tokens = cap;
  req.eos = false;
}

RequestError Err(int status, std::string message, std::string type = "", bool plain = false) {
  return RequestError{status, std::move(message), std::move(type), plain};
}

bool ModelMatches(std::string_view requested, std::string_view served) {
  if (requested == served) return true;
  // Ollama resolves "name" and "name:latest" to the same model.
  constexpr std::string_view kLatest = ":latest";
  if (requested.size() == served.size() + kLatest.size() &&
      requested.substr(0, served.size()) == served && requested.substr(served.size()) == kLatest) {
    return true;
  }
  if (served.size() == requested.size() + kLatest.size() &&
      served.substr(0, requested.size()) == requested && served.substr(requested.size()) == kLatest) {
    return true;
  }
  return false;
}

simdjson::dom::parser& Parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

// ------------------------------------------------------------------------------- Ollama
ParseResult ParseOllama(Api api, object root, const EngineLimits& lim) {
  const bool oai = api == Api::kOllamaOaiChat || api == Api::kOllamaOaiCompletion;
  const bool chat = api == Api::kOllamaChat || api == Api::kOllamaOaiChat;
  Getter g{root, {}};
  GenRequest req;
  req.api = api;
  auto model = g.Str("model");
  if (!model || model->empty()) {
    return Err(400, "model is required", "invalid_request_error");
  }
  req.model = std::string(*model);
  if (!ModelMatches(*model, lim.model)) {
    return Err(404, Cat("model '", std::string(*model), "' not found"), "not_found_error");
  }
  int words = 0;
  int64_t chars = 0;
  bool empty_input = false;
  if (chat) {
    element messages;
    if (root.at_key("messages").get(messages) != simdjson::SUCCESS || messages.is_null()) {
      if (oai) return Err(400, "[] is too short - 'messages'", "invalid_request_error");
      empty_input = true;
    } else {
      if (!CountMessages(messages, words, chars, lim.token_rule)) {
        return Err(400, "invalid message format", "invalid_request_error");
      }
      simdjson::dom::array arr;
      empty_input = messages.get_array().get(arr) != simdjson::SUCCESS || arr.size() == 0;
    }
  } else {
    auto prompt = g.Str("prompt");
    if (prompt) {
      words = CountTokens(*prompt, lim.token_rule);
      chars = static_cast<int64_t>(prompt->size());
    }
    empty_input = !prompt || prompt->empty();
    if (oai && !prompt) return Err(400, "invalid prompt", "invalid_request_error");
  }
  req.stream = oai ? g.Bool("stream").value_or(false) : g.Bool("stream").value_or(true);
  req.prompt_tokens = std::max(words, 1);
  req.prompt_chars = chars;
  int64_t cap = -1;
  if (oai) {
    cap = g.Int("max_tokens").value_or(-1);
    if (auto so = g.Obj("stream_options")) {
      Getter sg{*so, {}};
      req.include_usage = sg.Bool("include_usage").value_or(false);
    }
    if (auto seed = g.Int("seed")) req.seed = static_cast<uint64_t>(*seed);
  } else {
    if (auto opts = g.Obj("options")) {
      Getter og{*opts, {}};
      cap = og.Int("num_predict").value_or(-1);
      if (!og.bad_field.empty()) {
        return Err(400, Cat("option \"", og.bad_field, "\" must be of type number"),
                   "invalid_request_error");
      }
    }
  }
  if (!g.bad_field.empty()) {
    return Err(400, Cat("invalid type for field \"", g.bad_field, "\""),
               "invalid_request_error");
  }
  if (empty_input && !oai) {
    req.load_only = true;
    req.output_tokens = 0;
    return req;
  }
  const int context_left = std::max(lim.max_model_len - req.prompt_tokens, 1);
  const int effective_cap =
      cap > 0 ? static_cast<int>(std::min<int64_t>(cap, context_left)) : context_left;
  ApplyLength(req, effective_cap, lim.natural_tokens, 0, false);
  return req;
}

// --------------------------------------------------------------------------------- vLLM
ParseResult ParseVllm(Api api, object root, const EngineLimits& lim) {
  const bool chat = api == Api::kVllmChat;
  Getter g{root, {}};
  GenRequest req;
  req.api = api;
  auto model = g.Str("model");
  if (model && *model != lim.model) {
    return Err(404, Cat("The model `", std::string(*model), "` does not exist."), "NotFoundError");
  }
  req.model = model ? std::string(*model) : std::string(lim.model);
  int words = 0;
  int64_t chars = 0;
  if (chat) {
    element messages;
    if (root.at_key("messages").get(messages) != simdjson::SUCCESS) {
      return Err(400, "[{'type': 'missing', 'loc': ('body', 'messages'), 'msg': 'Field required'}]",
                 "BadRequestError");
    }
    if (!CountMessages(messages, words, chars, lim.token_rule)) {
      return Err(400, "[{'type': 'list_type', 'loc': ('body', 'messages'), 'msg': 'Input should be a valid list'}]",
                 "BadRequestError");
    }
  } else {
    element prompt;
    if (root.at_key("prompt").get(prompt) != simdjson::SUCCESS) {
      return Err(400, "[{'type': 'missing', 'loc': ('body', 'prompt'), 'msg': 'Field required'}]",
                 "BadRequestError");
    }
    std::string_view p;
    if (prompt.get_string().get(p) == simdjson::SUCCESS) {
      words = CountTokens(p, lim.token_rule);
      chars = static_cast<int64_t>(p.size());
    } else {
      simdjson::dom::array arr;
      if (prompt.get_array().get(arr) != simdjson::SUCCESS) {
        return Err(400, "Either prompt or prompt_embeds must be provided and non-empty.",
                   "BadRequestError");
      }
      words = static_cast<int>(arr.size());  // token ids
    }
  }
  req.prompt_tokens = std::max(words, 1);
  req.prompt_chars = chars;
  req.stream = g.Bool("stream").value_or(false);
  std::optional<int64_t> max_tokens =
      chat ? g.Int("max_completion_tokens") : std::optional<int64_t>();
  if (!max_tokens) max_tokens = g.Int("max_tokens");
  const int64_t min_tokens = g.Int("min_tokens").value_or(0);
  const bool ignore_eos = g.Bool("ignore_eos").value_or(false);
  if (auto so = g.Obj("stream_options")) {
    Getter sg{*so, {}};
    req.include_usage = sg.Bool("include_usage").value_or(false);
    req.continuous_usage = sg.Bool("continuous_usage_stats").value_or(false);
  }
  if (auto seed = g.Int("seed")) req.seed = static_cast<uint64_t>(*seed);
  if (!g.bad_field.empty()) {
    return Err(400, Cat("[{'type': 'type_error', 'loc': ('body', '", g.bad_field,
                                 "'), 'msg': 'Input has the wrong type'}]"),
               "BadRequestError");
  }
  if (req.prompt_tokens >= lim.max_model_len) {
    return Err(400, Cat("This model's maximum context length is ", lim.max_model_len,
                                 " tokens. However, your request has ", req.prompt_tokens,
                                 " input tokens. Please reduce the length of the input messages."),
               "BadRequestError");
  }
  if (max_tokens && *max_tokens < 1) {
    return Err(400, Cat("max_tokens must be at least 1, got ", *max_tokens, "."),
               "BadRequestError");
  }
  if (max_tokens && *max_tokens + req.prompt_tokens > lim.max_model_len) {
    return Err(400,
               Cat("'max_tokens' or 'max_completion_tokens' is too large: ", *max_tokens,
                            ". This model's maximum context length is ", lim.max_model_len,
                            " tokens and your request has ", req.prompt_tokens,
                            " input tokens (", *max_tokens, " > ", lim.max_model_len, " - ",
                            req.prompt_tokens, ")."),
               "BadRequestError");
  }
  const int64_t cap =
      max_tokens ? *max_tokens : (chat ? lim.max_model_len - req.prompt_tokens : 16);
  if (min_tokens < 0 || min_tokens > cap) {
    return Err(400,
               Cat("min_tokens must be less than or equal to max_tokens=", cap,
                            ", got ", min_tokens, "."),
               "BadRequestError");
  }
  ApplyLength(req, static_cast<int>(cap), lim.natural_tokens, static_cast<int>(min_tokens),
              ignore_eos);
  return req;
}

// ---------------------------------------------------------------------------------- TGI
ParseResult ParseTgi(Api api, object root, const EngineLimits& lim, bool stream_route) {
  Getter g{root, {}};
  GenRequest req;
  req.api = api;
  req.model = std::string(lim.model);
  int words = 0;
  int64_t chars = 0;
  std::optional<int64_t> max_new;
  if (api == Api::kTgiGenerate || api == Api::kTgiCompat) {
    auto inputs = g.Str("inputs");
    if (!inputs) {
      return Err(422,
                 "Failed to deserialize the JSON body into the target type: missing field "
                 "`inputs`",
                 "", true);
    }
    words = CountTokens(*inputs, lim.token_rule);
    chars = static_cast<int64_t>(inputs->size());
    if (auto params = g.Obj("parameters")) {
      Getter pg{*params, {}};
      max_new = pg.Int("max_new_tokens");
      req.details = pg.Bool("details").value_or(false) || pg.Bool("decoder_input_details").value_or(false);
      if (auto seed = pg.Int("seed")) req.seed = static_cast<uint64_t>(*seed);
      if (!pg.bad_field.empty()) {
        return Err(422,
                   Cat("Failed to deserialize the JSON body into the target type: "
                                "parameters.", pg.bad_field, ": invalid type"),
                   "", true);
      }
    }
    req.stream = api == Api::kTgiCompat ? g.Bool("stream").value_or(false) : stream_route;
  } else {
    if (api == Api::kTgiChat) {
      element messages;
      if (root.at_key("messages").get(messages) != simdjson::SUCCESS ||
          !CountMessages(messages, words, chars, lim.token_rule)) {
        return Err(422,
                   "Failed to deserialize the JSON body into the target type: missing field "
                   "`messages`",
                   "", true);
      }
    } else {
      auto prompt = g.Str("prompt");
      if (!prompt) {
        return Err(422,
                   "Failed to deserialize the JSON body into the target type: missing field "
                   "`prompt`",
                   "", true);
      }
      words = CountTokens(*prompt, lim.token_rule);
      chars = static_cast<int64_t>(prompt->size());
    }
    max_new = g.Int("max_tokens");
    if (!max_new) max_new = g.Int("max_completion_tokens");
    req.stream = g.Bool("stream").value_or(false);
    if (auto so = g.Obj("stream_options")) {
      Getter sg{*so, {}};
      req.include_usage = sg.Bool("include_usage").value_or(false);
    }
    if (auto seed = g.Int("seed")) req.seed = static_cast<uint64_t>(*seed);
    if (auto model = g.Str("model")) req.model = std::string(lim.model);
  }
  if (!g.bad_field.empty()) {
    return Err(422,
               Cat("Failed to deserialize the JSON body into the target type: ",
                            g.bad_field, ": invalid type"),
               "", true);
  }
  req.prompt_tokens = std::max(words, 1);
  req.prompt_chars = chars;
  if (req.prompt_tokens >= lim.max_model_len) {
    return Err(422,
               Cat("Input validation error: `inputs` must have less than ",
                            lim.max_model_len, " tokens. Given: ", req.prompt_tokens),
               "validation");
  }
  if (max_new && *max_new < 1) {
    return Err(422, "Input validation error: `max_new_tokens` must be strictly positive",
               "validation");
  }
  if (max_new && *max_new + req.prompt_tokens > lim.max_model_len) {
    return Err(422,
               Cat("Input validation error: `inputs` tokens + `max_new_tokens` must be <= ",
                            lim.max_model_len, ". Given: ", req.prompt_tokens,
                            " `inputs` tokens and ", *max_new, " `max_new_tokens`"),
               "validation");
  }
  const int64_t cap = max_new ? *max_new : lim.max_model_len - req.prompt_tokens;
  ApplyLength(req, static_cast<int>(cap), lim.natural_tokens, 0, false);
  return req;
}

}  // namespace

int CountWords(std::string_view text) {
  int n = 0;
  bool in_word = false;
  for (char c : text) {
    if (IsSpace(c)) {
      in_word = false;
    } else if (!in_word) {
      in_word = true;
      ++n;
    }
  }
  return n;
}

ParseResult ParseGenRequest(Api api, std::string_view body, const EngineLimits& limits,
                            bool stream_route) {
  const bool tgi = api == Api::kTgiGenerate || api == Api::kTgiCompat || api == Api::kTgiChat ||
                   api == Api::kTgiCompletion;
  const bool vllm = api == Api::kVllmChat || api == Api::kVllmCompletion;
  element doc;
  const auto err = Parser().parse(body.data(), body.size(), true).get(doc);
  object root;
  if (err != simdjson::SUCCESS || doc.get_object().get(root) != simdjson::SUCCESS) {
    const std::string why = err != simdjson::SUCCESS ? simdjson::error_message(err)
                                                     : "the body is not a JSON object";
    if (tgi) {
      return Err(422, Cat("Failed to parse the request body as JSON: ", why), "", true);
    }
    if (vllm) {
      return Err(400, Cat("JSON decode error: ", why), "BadRequestError");
    }
    return Err(400, Cat("invalid JSON: ", why), "invalid_request_error");
  }
  if (tgi) return ParseTgi(api, root, limits, stream_route);
  if (vllm) return ParseVllm(api, root, limits);
  return ParseOllama(api, root, limits);
}

}  // namespace llmbench::sim
