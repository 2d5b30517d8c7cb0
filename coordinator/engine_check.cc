#include "coordinator/engine_check.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/text_safety.h"
#include "engines/curl_handles.h"
#include "engines/discovery.h"
#include "simdjson.h"

namespace llmbench::coordinator {
namespace {

struct BodySink {
  std::string* body;
  size_t max_bytes;
};

size_t AppendBody(char* data, size_t size, size_t count, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  const size_t n = size * count;
  if (sink->body->size() + n > sink->max_bytes) return 0;
  sink->body->append(data, n);
  return n;
}

using HttpAnswer = EngineHttpAnswer;

// Discovery answers are small: cap them at 8 MiB.
HttpAnswer HttpGet(const llmbench::v1::Engine& engine, const std::string& path, int timeout_ms) {
  std::string url = engine.base_url();
  while (!url.empty() && url.back() == '/') url.pop_back();
  return EngineHttpGet(engine, url + path, timeout_ms, size_t{8} << 20);
}

std::string VersionPath(llmbench::v1::EngineKind kind) {
  switch (kind) {
    case llmbench::v1::ENGINE_KIND_OLLAMA:
      return "/api/version";
    case llmbench::v1::ENGINE_KIND_VLLM:
      return "/version";
    case llmbench::v1::ENGINE_KIND_TGI:
      return "/info";
    default:
      return "";
  }
}

// The string field `key` of a JSON object body; nullopt for another body.
std::optional<std::string> JsonStringField(std::string_view body, const char* key) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  simdjson::dom::element doc;
  if (parser.parse(padded).get(doc) != simdjson::SUCCESS) return std::nullopt;
  std::string_view value;
  if (doc[key].get_string().get(value) != simdjson::SUCCESS) return std::nullopt;
  return std::string(value);
}

std::optional<std::string> ParseVersion(std::string_view body) {
  return JsonStringField(body, "version");
}

// An answer that a server of another kind gives to a route it does not have: not found,
// method not allowed, gone, not implemented, or a bad request (a route that exists with
// another meaning). Not 401/403 (a key problem) and not 429/5xx (a busy or loading engine).
bool RouteMissingStatus(long status) {  // NOLINT(runtime/int): curl's type
  return status == 400 || status == 404 || status == 405 || status == 410 || status == 501;
}

// True when GET `path` answers 2xx with a model list of `kind`'s shape.
bool ListsModels(const llmbench::v1::Engine& engine, llmbench::v1::EngineKind kind,
                 const std::string& path, int timeout_ms) {
  HttpAnswer answer = HttpGet(engine, path, timeout_ms);
  return answer.ok && answer.status / 100 == 2 && engines::ParseModelIds(kind, answer.body).ok();
}

bool AnswersKind(const llmbench::v1::Engine& engine, llmbench::v1::EngineKind kind,
                 int timeout_ms) {
  switch (kind) {
    case llmbench::v1::ENGINE_KIND_OLLAMA:
      return ListsModels(engine, kind, "/api/tags", timeout_ms);
    case llmbench::v1::ENGINE_KIND_TGI: {
      HttpAnswer info = HttpGet(engine, "/info", timeout_ms);
      return info.ok && info.status / 100 == 2 &&
             JsonStringField(info.body, "model_id").has_value();
    }
    case llmbench::v1::ENGINE_KIND_VLLM: {
      HttpAnswer version = HttpGet(engine, "/version", timeout_ms);
      return version.ok && version.status / 100 == 2 && ParseVersion(version.body).has_value() &&
             ListsModels(engine, kind, "/v1/models", timeout_ms);
    }
    case llmbench::v1::ENGINE_KIND_OPENAI:
      return ListsModels(engine, kind, "/v1/models", timeout_ms);
    default:
      return false;
  }
}

// Why the engine is not ready ("" when it is), after "engine NAME at URL".
std::string NotReadyReason(const EngineReport& report) {
  const std::string hint = report.kind_hint.empty() ? "" : absl::StrCat("; ", report.kind_hint);
  if (!report.reachable) return absl::StrCat("is ", report.health_detail);
  if (!report.healthy) return absl::StrCat("is not healthy: ", report.health_detail, hint);
  // TGI serves one model and ignores the model field; other engines must list it.
  if (report.kind != llmbench::v1::ENGINE_KIND_TGI && !report.models.empty() &&
      !report.model_served) {
    return absl::StrCat("does not serve model \"", report.model,
                        "\" (it lists: ", absl::StrJoin(report.models, ", "), ")");
  }
  // A model route that fails is tolerated (some servers have none), unless the server
  // answers another kind's routes: then the kind is wrong.
  if (report.likely_kind.has_value()) {
    return absl::StrCat("could not list its models (", report.models_error, ")", hint);
  }
  return "";
}

}  // namespace

std::optional<llmbench::v1::EngineKind> ProbeEngineKind(const llmbench::v1::Engine& engine,
                                                        llmbench::v1::EngineKind except,
                                                        int timeout_ms) {
  for (llmbench::v1::EngineKind kind :
       {llmbench::v1::ENGINE_KIND_OLLAMA, llmbench::v1::ENGINE_KIND_TGI,
        llmbench::v1::ENGINE_KIND_VLLM, llmbench::v1::ENGINE_KIND_OPENAI}) {
    if (kind != except && AnswersKind(engine, kind, timeout_ms)) return kind;
  }
  return std::nullopt;
}

std::string LikelyKindHint(llmbench::v1::EngineKind kind) {
  const char* server = "";
  const char* flag = "";
  switch (kind) {
    case llmbench::v1::ENGINE_KIND_OLLAMA:
      server = "an Ollama server";
      flag = "ollama";
      break;
    case llmbench::v1::ENGINE_KIND_VLLM:
      server = "a vLLM server";
      flag = "vllm";
      break;
    case llmbench::v1::ENGINE_KIND_TGI:
      server = "a TGI server";
      flag = "tgi";
      break;
    case llmbench::v1::ENGINE_KIND_OPENAI:
      server = "an OpenAI-compatible server";
      flag = "openai";
      break;
    default:
      return "";
  }
  return absl::StrCat("this looks like ", server, ": try --engine ", flag, " (kind: ", flag,
                      " in a scenario file)");
}

EngineHttpAnswer EngineHttpGet(const llmbench::v1::Engine& engine, const std::string& url,
                               int timeout_ms, size_t max_body_bytes) {
  EngineHttpAnswer answer;
  engines::CurlEasyPtr curl(curl_easy_init());
  if (!curl) {
    answer.error = "curl_easy_init failed";
    return answer;
  }
  curl_slist* list = nullptr;
  for (const auto& [name, value] : engine.headers()) {
    list = curl_slist_append(list, absl::StrCat(name, ": ", value).c_str());
  }
  std::string key;
  if (!engine.api_key_env().empty()) {
    if (const char* value = std::getenv(engine.api_key_env().c_str()); value != nullptr) {
      key = value;
      list = curl_slist_append(list, absl::StrCat("Authorization: Bearer ", key).c_str());
    }
  }
  engines::CurlSlistPtr headers(list);
  BodySink sink{&answer.body, max_body_bytes};
  char error_buffer[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, &AppendBody);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, error_buffer);
  if (!engine.tls_ca_file().empty()) {
    curl_easy_setopt(curl.get(), CURLOPT_CAINFO, engine.tls_ca_file().c_str());
  }
  CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) {
    answer.error = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(rc);
    return answer;
  }
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &answer.status);
  answer.ok = true;
  // An engine may echo a wrong key back ("Incorrect API key provided: sk-..."): every message
  // made from the body then shows "[redacted]" instead.
  RedactSecret(&answer.body, key);
  return answer;
}

EngineReport CheckEngine(const llmbench::v1::Engine& engine, int timeout_ms) {
  EngineReport report;
  report.name = engine.name();
  report.base_url = engine.base_url();
  report.kind = engine.kind();
  report.model = engine.model();
  HttpAnswer health = HttpGet(engine, engines::HealthPathFor(engine.kind()), timeout_ms);
  if (!health.ok) {
    report.health_detail = absl::StrCat("unreachable: ", health.error);
    return report;
  }
  report.reachable = true;
  engines::HealthVerdict verdict =
      engines::InterpretHealth(engine.kind(), static_cast<int>(health.status), health.body);
  report.healthy = verdict.healthy;
  report.health_detail = verdict.detail;
  if (!report.healthy && RouteMissingStatus(health.status)) {
    report.health_detail = absl::StrCat("GET ", engines::HealthPathFor(engine.kind()),
                                        " answered HTTP ", health.status, ": ", verdict.detail);
  }
  // GET /health is llama.cpp's (and vLLM's) route, not the OpenAI API's: a generic
  // OpenAI-compatible server (Ollama's /v1, llama-cpp-python) answers 404. For kind `openai`
  // the model list (GET /v1/models, fetched below) then stands in as the health probe.
  const bool openai_without_health =
      engine.kind() == llmbench::v1::ENGINE_KIND_OPENAI && health.status == 404;
  if (std::string path = VersionPath(engine.kind()); !path.empty()) {
    HttpAnswer version = HttpGet(engine, path, timeout_ms);
    if (version.ok && version.status / 100 == 2) report.version = ParseVersion(version.body);
  }
  HttpAnswer models = HttpGet(engine, engines::ModelsPathFor(engine.kind()), timeout_ms);
  if (openai_without_health) {
    report.healthy = models.ok && models.status / 100 == 2;
    const std::string answer =
        models.ok ? absl::StrCat("HTTP ", models.status) : models.error;
    report.health_detail =
        report.healthy ? std::string()
                       : absl::StrCat("no /health route (404) and ",
                                      engines::ModelsPathFor(engine.kind()), " answered ", answer);
  }
  bool models_wrong_kind = false;  // the model route answered like another kind's server
  if (!models.ok) {
    report.models_error = models.error;
  } else if (models.status / 100 != 2) {
    report.models_error = absl::StrCat("GET ", engines::ModelsPathFor(engine.kind()),
                                       " answered HTTP ", models.status);
    models_wrong_kind = RouteMissingStatus(models.status);
  } else {
    absl::StatusOr<std::vector<std::string>> ids = engines::ParseModelIds(engine.kind(), models.body);
    if (ids.ok()) {
      report.models = *std::move(ids);
    } else {
      report.models_error = std::string(ids.status().message());
      models_wrong_kind = true;
    }
  }
  // A route of this kind missing (or answering in another shape) is what a server of another
  // kind does: find which, so the message can say so.
  const bool health_wrong_kind = !report.healthy && RouteMissingStatus(health.status);
  if (health_wrong_kind || models_wrong_kind) {
    report.likely_kind = ProbeEngineKind(engine, engine.kind(), timeout_ms);
    if (report.likely_kind.has_value()) report.kind_hint = LikelyKindHint(*report.likely_kind);
  }
  const std::string& want = engine.model();
  report.model_served = std::any_of(report.models.begin(), report.models.end(),
                                    [&](const std::string& m) {
                                      // Ollama lists "name:tag"; "llama3.2" means ":latest".
                                      return m == want || m == want + ":latest";
                                    });
  return report;
}

absl::Status RequireReady(const EngineReport& report, const llmbench::v1::Engine& engine) {
  const std::string reason = NotReadyReason(report);
  if (reason.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("engine ", engine.name(), " at ", engine.base_url(), " ", reason));
}

bool EngineReady(const EngineReport& report) { return NotReadyReason(report).empty(); }

std::string FormatEngineReport(const EngineReport& report) {
  std::string out = absl::StrCat(report.name, "  ", report.base_url, "\n");
  absl::StrAppend(&out, "  health:  ",
                  report.healthy ? "ok" : absl::StrCat("NOT OK (", report.health_detail, ")"), "\n");
  absl::StrAppend(&out, "  version: ", report.version.value_or("-"), "\n");
  if (!report.models_error.empty()) {
    absl::StrAppend(&out, "  models:  (listing failed: ", report.models_error, ")\n");
  } else {
    absl::StrAppend(&out, "  models:  ",
                    report.models.empty() ? "-" : absl::StrJoin(report.models, ", "), "\n");
  }
  if (report.kind != llmbench::v1::ENGINE_KIND_TGI && !report.models.empty() &&
      !report.model_served) {
    absl::StrAppend(&out, "  model:   MISSING: \"", report.model,
                    "\" is not among the engine's models\n");
  }
  if (!report.kind_hint.empty()) absl::StrAppend(&out, "  hint:    ", report.kind_hint, "\n");
  return out;
}

}  // namespace llmbench::coordinator
