#include "engines/discovery.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engines/protocol_util.h"

namespace llmbench::engines {
namespace {

using llmbench::v1::EngineKind;

absl::StatusOr<simdjson::dom::element> ParseJson(std::string_view body, std::string_view what) {
  simdjson::dom::element root;
  auto error = ThreadJsonParser().Parse(body).get(root);
  if (error != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid JSON in ", std::string(what), ": ", simdjson::error_message(error)));
  }
  return root;
}

// Appends `field` of every object in `array`; InvalidArgument when one lacks it.
absl::Status CollectIds(simdjson::dom::array array, std::string_view field,
                        std::string_view what, std::vector<std::string>* ids) {
  for (simdjson::dom::element item : array) {
    auto id = GetString(item, field);
    if (!id) {
      return absl::InvalidArgumentError(
          absl::StrCat(std::string(what), ": an entry has no string \"", std::string(field), "\""));
    }
    ids->emplace_back(*id);
  }
  return absl::OkStatus();
}

}  // namespace

std::string HealthPathFor(EngineKind kind) {
  return kind == llmbench::v1::ENGINE_KIND_OLLAMA ? "/" : "/health";
}

std::string ModelsPathFor(EngineKind kind) {
  switch (kind) {
    case llmbench::v1::ENGINE_KIND_OLLAMA:
      return "/api/tags";
    case llmbench::v1::ENGINE_KIND_TGI:
      return "/info";
    default:
      return "/v1/models";
  }
}

std::string TokenizePathFor(EngineKind kind) {
  return kind == llmbench::v1::ENGINE_KIND_OLLAMA ? "" : "/tokenize";
}

absl::StatusOr<std::vector<std::string>> ParseModelIds(EngineKind kind, std::string_view body) {
  const std::string what = absl::StrCat("model list from ", ModelsPathFor(kind));
  auto root = ParseJson(body, what);
  if (!root.ok()) return root.status();
  std::vector<std::string> ids;
  if (kind == llmbench::v1::ENGINE_KIND_OLLAMA) {
    auto models = GetArray(*root, "models");
    if (!models) return absl::InvalidArgumentError(absl::StrCat(what, ": no \"models\" array"));
    if (auto s = CollectIds(*models, "name", what, &ids); !s.ok()) return s;
    return ids;
  }
  if (kind == llmbench::v1::ENGINE_KIND_TGI) {
    if (auto id = GetString(*root, "model_id")) {
      ids.emplace_back(*id);
      return ids;
    }
  }
  auto data = GetArray(*root, "data");
  if (!data) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, kind == llmbench::v1::ENGINE_KIND_TGI ? ": no \"model_id\" and no \"data\" array"
                                                    : ": no \"data\" array"));
  }
  if (auto s = CollectIds(*data, "id", what, &ids); !s.ok()) return s;
  return ids;
}

HealthVerdict InterpretHealth(EngineKind kind, int http_status, std::string_view body) {
  HealthVerdict verdict;
  if (http_status < 200 || http_status >= 300) {
    verdict.detail = ClassifyHttpError(http_status, body).message;
    return verdict;
  }
  if (kind == llmbench::v1::ENGINE_KIND_OPENAI) {
    // llama.cpp answers {"status":"ok"}; other OpenAI-compatible servers answer anything.
    simdjson::dom::element root;
    if (ThreadJsonParser().Parse(body).get(root) == simdjson::SUCCESS) {
      auto status = GetString(root, "status");
      if (status && *status != "ok") {
        verdict.detail = absl::StrCat("status \"", std::string(*status), "\"");
        return verdict;
      }
    }
  }
  verdict.healthy = true;
  return verdict;
}

std::string BuildTokenizeBody(EngineKind kind, std::string_view model, std::string_view text) {
  std::string body;
  switch (kind) {
    case llmbench::v1::ENGINE_KIND_OLLAMA:
      return body;
    case llmbench::v1::ENGINE_KIND_VLLM:
      body.append("{\"model\":");
      AppendJsonString(body, model);
      body.append(",\"prompt\":");
      AppendJsonString(body, text);
      break;
    case llmbench::v1::ENGINE_KIND_TGI:
      body.append("{\"inputs\":");
      AppendJsonString(body, text);
      break;
    default:
      body.append("{\"content\":");
      AppendJsonString(body, text);
      break;
  }
  body.push_back('}');
  return body;
}

absl::StatusOr<uint32_t> ParseTokenCount(EngineKind kind, std::string_view body) {
  const std::string what = absl::StrCat("tokenize answer from ", TokenizePathFor(kind));
  auto root = ParseJson(body, what);
  if (!root.ok()) return root.status();
  simdjson::dom::array array;
  if (root->get_array().get(array) == simdjson::SUCCESS) {  // TGI: [{id,text,start,stop},…]
    return ClampToUint32(static_cast<int64_t>(array.size()));
  }
  if (auto count = GetInt(*root, "count"); count && *count >= 0) {  // vLLM
    return ClampToUint32(*count);
  }
  if (auto tokens = GetArray(*root, "tokens")) {  // llama.cpp, vLLM without count
    return ClampToUint32(static_cast<int64_t>(tokens->size()));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": expected a JSON array, \"count\" or a \"tokens\" array"));
}

}  // namespace llmbench::engines
