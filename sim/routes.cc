#include "sim/routes.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "common/json_writer.h"
#include "common/str_cat.h"
#include "sim/protocol_writers.h"
#include "sim/sim_vocab.h"
#include "sim/time_format.h"

namespace llmbench::sim {

namespace {

constexpr std::string_view kOllamaVersion = "0.12.6";
constexpr std::string_view kVllmVersion = "0.11.0";
constexpr std::string_view kTgiVersion = "3.3.6-dev0";

void RouteOllama(Session& session, Engine& engine, const HttpRequest& req, std::string_view path) {
  const auto& cfg = engine.cfg();
  const bool get = req.method() == http::verb::get || req.method() == http::verb::head;
  const bool post = req.method() == http::verb::post;
  if (get && path == "/") {
    session.WriteSimple(200, "text/plain; charset=utf-8", "Ollama is running", {});
  } else if (get && path == "/api/version") {
    session.WriteSimple(200, "application/json; charset=utf-8",
                        Cat("{\"version\":\"", kOllamaVersion, "\"}"), {});
  } else if (get && (path == "/api/tags" || path == "/api/ps")) {
    std::string b = "{\"models\":[{\"name\":";
    AppendJsonString(b, cfg.model, JsonEscape::kGoHtml);
    b.append(",\"model\":");
    AppendJsonString(b, cfg.model, JsonEscape::kGoHtml);
    if (path == "/api/tags") {
      b.append(",\"modified_at\":\"");
      AppendRfc3339Nano(b, engine.start_unix_s() * 1'000'000'000);
      b.append("\"");
    }
    b.append(
        ",\"size\":2019393189,\"digest\":\"a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72\","
        "\"details\":{\"parent_model\":\"\",\"format\":\"gguf\",\"family\":\"llama\",\"families\":[\"llama\"],"
        "\"parameter_size\":\"3.2B\",\"quantization_level\":\"Q4_K_M\"}");
    if (path == "/api/ps") {
      b.append(",\"expires_at\":\"");
      AppendRfc3339Nano(b, (engine.start_unix_s() + 86400 * 365) * 1'000'000'000);
      b.append("\",\"size_vram\":2019393189,\"context_length\":");
      AppendInt(b, cfg.max_model_len);
    }
    b.append("}]}");
    session.WriteSimple(200, "application/json; charset=utf-8", b, {});
  } else if (get && path == "/v1/models") {
    std::string b = "{\"object\":\"list\",\"data\":[{\"id\":";
    AppendJsonString(b, cfg.model, JsonEscape::kGoHtml);
    b.append(",\"object\":\"model\",\"created\":");
    AppendInt(b, engine.start_unix_s());
    b.append(",\"owned_by\":\"library\"}]}\n");
    session.WriteSimple(200, "application/json", b, {});
  } else if (post && path == "/api/generate") {
    session.StartGeneration(Api::kOllamaGenerate, req, true);
  } else if (post && path == "/api/chat") {
    session.StartGeneration(Api::kOllamaChat, req, true);
  } else if (post && path == "/v1/chat/completions") {
    session.StartGeneration(Api::kOllamaOaiChat, req, true);
  } else if (post && path == "/v1/completions") {
    session.StartGeneration(Api::kOllamaOaiCompletion, req, true);
  } else {
    session.WriteSimple(404, "text/plain", "404 page not found", {});
  }
}

void RouteVllm(Session& session, Engine& engine, const HttpRequest& req, std::string_view path) {
  const auto& cfg = engine.cfg();
  const bool get = req.method() == http::verb::get;
  const bool post = req.method() == http::verb::post;
  if (get && path == "/health") {
    session.WriteSimple(200, "", "", {});
  } else if (get && path == "/version") {
    session.WriteSimple(200, "application/json", Cat("{\"version\":\"", kVllmVersion, "\"}"), {});
  } else if (get && path == "/v1/models") {
    std::string b = "{\"object\":\"list\",\"data\":[{\"id\":";
    AppendJsonString(b, cfg.model);
    b.append(",\"object\":\"model\",\"created\":");
    AppendInt(b, engine.start_unix_s());
    b.append(",\"owned_by\":\"vllm\",\"root\":");
    AppendJsonString(b, cfg.model);
    b.append(",\"parent\":null,\"max_model_len\":");
    AppendInt(b, cfg.max_model_len);
    b.append(",\"permission\":[{\"id\":\"modelperm-0000000000000000\",\"object\":\"model_permission\",\"created\":");
    AppendInt(b, engine.start_unix_s());
    b.append(
        ",\"allow_create_engine\":false,\"allow_sampling\":true,\"allow_logprobs\":true,"
        "\"allow_search_indices\":false,\"allow_view\":true,\"allow_fine_tuning\":false,"
        "\"organization\":\"*\",\"group\":null,\"is_blocking\":false}]}]}");
    session.WriteSimple(200, "application/json", b, {});
  } else if (get && path == "/metrics") {
    session.WriteSimple(200, "text/plain; version=0.0.4; charset=utf-8", engine.EngineMetrics(),
                        {});
  } else if (post && (path == "/tokenize" || path == "/detokenize")) {
    const bool tokenize = path == "/tokenize";
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    simdjson::dom::object root;
    std::string b;
    if (parser.parse(req.body()).get(doc) != simdjson::SUCCESS ||
        doc.get_object().get(root) != simdjson::SUCCESS) {
      vllm::AppendError(b, "JSON decode error", "BadRequestError", 400);
      engine.CountError("");
      session.WriteSimple(400, "application/json", b, {});
      return;
    }
    if (tokenize) {
      std::string text;
      std::string_view prompt;
      simdjson::dom::element messages;
      if (root.at_key("prompt").get_string().get(prompt) == simdjson::SUCCESS) {
        text = std::string(prompt);
      } else if (root.at_key("messages").get(messages) == simdjson::SUCCESS) {
        simdjson::dom::array arr;
        if (messages.get_array().get(arr) == simdjson::SUCCESS) {
          for (auto m : arr) {
            std::string_view c;
            if (m.at_key("content").get_string().get(c) == simdjson::SUCCESS) {
              text.append(c);
              text.push_back(' ');
            }
          }
        }
      } else {
        vllm::AppendError(b, "[{'type': 'missing', 'loc': ('body', 'prompt'), 'msg': 'Field required'}]",
                          "BadRequestError", 400);
        session.WriteSimple(400, "application/json", b, {});
        return;
      }
      std::vector<int64_t> ids;
      for (const SimToken& t : Tokenize(text, cfg.token_rule)) ids.push_back(t.id);
      b = "{\"count\":";
      AppendInt(b, static_cast<int64_t>(ids.size()));
      b.append(",\"max_model_len\":");
      AppendInt(b, cfg.max_model_len);
      b.append(",\"tokens\":[");
      for (size_t i = 0; i < ids.size(); ++i) {
        if (i) b.push_back(',');
        AppendInt(b, ids[i]);
      }
      b.append("],\"token_strs\":null}");
    } else {
      simdjson::dom::array arr;
      if (root.at_key("tokens").get_array().get(arr) != simdjson::SUCCESS) {
        vllm::AppendError(b, "[{'type': 'missing', 'loc': ('body', 'tokens'), 'msg': 'Field required'}]",
                          "BadRequestError", 400);
        session.WriteSimple(400, "application/json", b, {});
        return;
      }
      std::string text;
      for (auto t : arr) {
        int64_t id;
        if (t.get_int64().get(id) == simdjson::SUCCESS) text.append(TokenIdText(id));
      }
      b = "{\"prompt\":";
      AppendJsonString(b, text);
      b.append("}");
    }
    session.WriteSimple(200, "application/json", b, {});
  } else if (post && path == "/v1/chat/completions") {
    session.StartGeneration(Api::kVllmChat, req, true);
  } else if (post && path == "/v1/completions") {
    session.StartGeneration(Api::kVllmCompletion, req, true);
  } else {
    session.WriteSimple(404, "application/json", "{\"detail\":\"Not Found\"}", {});
  }
}

// TGI's /tokenize answer for `inputs`: [{"id","text","start","stop"},...].
std::string TgiTokens(std::string_view inputs, TokenRule rule) {
  std::string b = "[";
  bool first = true;
  for (const SimToken& t : Tokenize(inputs, rule)) {
    if (!first) b.push_back(',');
    first = false;
    b.append("{\"id\":");
    AppendInt(b, t.id);
    b.append(",\"text\":");
    AppendJsonString(b, inputs.substr(t.start, t.length));
    b.append(",\"start\":");
    AppendInt(b, static_cast<int64_t>(t.start));
    b.append(",\"stop\":");
    AppendInt(b, static_cast<int64_t>(t.start + t.length));
    b.push_back('}');
  }
  b.push_back(']');
  return b;
}

void RouteTgi(Session& session, Engine& engine, const HttpRequest& req, std::string_view path) {
  const auto& cfg = engine.cfg();
  const bool get = req.method() == http::verb::get;
  const bool post = req.method() == http::verb::post;
  if (get && path == "/health") {
    session.WriteSimple(200, "", "", {});
  } else if (get && path == "/info") {
    std::string b = "{\"model_id\":";
    AppendJsonString(b, cfg.model);
    b.append(
        ",\"model_sha\":null,\"model_pipeline_tag\":\"text-generation\",\"max_concurrent_requests\":");
    AppendInt(b, std::max(128, cfg.latency.max_batch));
    b.append(",\"max_best_of\":2,\"max_stop_sequences\":4,\"max_input_tokens\":");
    AppendInt(b, std::max(cfg.max_model_len - 1, 1));
    b.append(",\"max_total_tokens\":");
    AppendInt(b, cfg.max_model_len);
    b.append(
        ",\"validation_workers\":2,\"max_client_batch_size\":4,\"router\":\"text-generation-router\","
        "\"version\":\"");
    b.append(kTgiVersion);
    b.append("\",\"sha\":null,\"docker_label\":null}");
    session.WriteSimple(200, "application/json", b, {});
  } else if (get && path == "/v1/models") {
    std::string b = "{\"object\":\"list\",\"data\":[{\"id\":";
    AppendJsonString(b, cfg.model);
    b.append(",\"object\":\"model\",\"created\":0,\"owned_by\":");
    AppendJsonString(b, cfg.model);
    b.append("}]}");
    session.WriteSimple(200, "application/json", b, {});
  } else if (get && path == "/metrics") {
    session.WriteSimple(200, "text/plain", engine.EngineMetrics(), {});
  } else if (post && path == "/tokenize") {
    simdjson::dom::parser parser;
    std::string_view inputs;
    if (parser.parse(req.body()).at_key("inputs").get_string().get(inputs) != simdjson::SUCCESS) {
      session.WriteSimple(422, "text/plain; charset=utf-8",
                          "Failed to deserialize the JSON body into the target type: missing field `inputs`",
                          {});
      return;
    }
    session.WriteSimple(200, "application/json", TgiTokens(inputs, cfg.token_rule), {});
  } else if (post && path == "/chat_tokenize") {
    // The messages' contents, each its own text (the simulator has no chat template).
    simdjson::dom::parser parser;
    simdjson::dom::array messages;
    if (parser.parse(req.body()).at_key("messages").get_array().get(messages) != simdjson::SUCCESS) {
      session.WriteSimple(422, "text/plain; charset=utf-8",
                          "Failed to deserialize the JSON body into the target type: missing field `messages`",
                          {});
      return;
    }
    std::string text;
    for (auto m : messages) {
      std::string_view c;
      if (m.at_key("content").get_string().get(c) == simdjson::SUCCESS) {
        text.append(c);
        text.push_back(' ');
      }
    }
    std::string b = "{\"tokenize_response\":";
    b.append(TgiTokens(text, cfg.token_rule));
    b.append(",\"templated_text\":");
    AppendJsonString(b, text);
    b.push_back('}');
    session.WriteSimple(200, "application/json", b, {});
  } else if (post && path == "/generate") {
    session.StartGeneration(Api::kTgiGenerate, req, false);
  } else if (post && path == "/generate_stream") {
    session.StartGeneration(Api::kTgiGenerate, req, true);
  } else if (post && path == "/") {
    session.StartGeneration(Api::kTgiCompat, req, false);
  } else if (post && path == "/v1/chat/completions") {
    session.StartGeneration(Api::kTgiChat, req, true);
  } else if (post && path == "/v1/completions") {
    session.StartGeneration(Api::kTgiCompletion, req, true);
  } else {
    session.WriteSimple(404, "", "", {});
  }
}

}  // namespace

void RouteRequest(Session& session, Engine& engine, const HttpRequest& req) {
  std::string_view target(req.target().data(), req.target().size());
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  if (req.method() == http::verb::get && path == "/sim/metrics") {
    session.WriteSimple(200, "text/plain; version=0.0.4; charset=utf-8", engine.SimMetrics(), {});
    return;
  }
  switch (engine.kind()) {
    case EngineKind::kOllama: RouteOllama(session, engine, req, path); break;
    case EngineKind::kVllm: RouteVllm(session, engine, req, path); break;
    case EngineKind::kTgi: RouteTgi(session, engine, req, path); break;
  }
}

}  // namespace llmbench::sim
