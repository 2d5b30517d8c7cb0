#include "coordinator/engine_check.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "simdjson.h"
#include "worker/discovery.h"

namespace llmbench::coordinator {
namespace {

struct CurlEasyDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

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

std::optional<std::string> ParseVersion(std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  simdjson::dom::element doc;
  if (parser.parse(padded).get(doc) != simdjson::SUCCESS) return std::nullopt;
  std::string_view version;
  if (doc["version"].get_string().get(version) != simdjson::SUCCESS) return std::nullopt;
  return std::string(version);
}

}  // namespace

EngineHttpAnswer EngineHttpGet(const llmbench::v1::Engine& engine, const std::string& url,
                               int timeout_ms, size_t max_body_bytes) {
  EngineHttpAnswer answer;
  std::unique_ptr<CURL, CurlEasyDeleter> curl(curl_easy_init());
  if (!curl) {
    answer.error = "curl_easy_init failed";
    return answer;
  }
  curl_slist* list = nullptr;
  for (const auto& [name, value] : engine.headers()) {
    list = curl_slist_append(list, absl::StrCat(name, ": ", value).c_str());
  }
  if (!engine.api_key_env().empty()) {
    if (const char* key = std::getenv(engine.api_key_env().c_str()); key != nullptr) {
      list = curl_slist_append(list, absl::StrCat("Authorization: Bearer ", key).c_str());
    }
  }
  std::unique_ptr<curl_slist, SlistDeleter> headers(list);
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
  return answer;
}

EngineReport CheckEngine(const llmbench::v1::Engine& engine, int timeout_ms) {
  EngineReport report;
  report.name = engine.name();
  report.base_url = engine.base_url();
  HttpAnswer health = HttpGet(engine, worker::HealthPathFor(engine.kind()), timeout_ms);
  if (!health.ok) {
    report.health_detail = absl::StrCat("unreachable: ", health.error);
    return report;
  }
  report.reachable = true;
  worker::HealthVerdict verdict =
      worker::InterpretHealth(engine.kind(), static_cast<int>(health.status), health.body);
  report.healthy = verdict.healthy;
  report.health_detail = verdict.detail;
  // GET /health is llama.cpp's (and vLLM's) route, not the OpenAI API's: a generic
  // OpenAI-compatible server (Ollama's /v1, llama-cpp-python) answers 404. For kind `openai`
  // the model list (GET /v1/models, fetched below) then stands in as the health probe.
  const bool openai_without_health =
      engine.kind() == llmbench::v1::ENGINE_KIND_OPENAI && health.status == 404;
  if (std::string path = VersionPath(engine.kind()); !path.empty()) {
    HttpAnswer version = HttpGet(engine, path, timeout_ms);
    if (version.ok && version.status / 100 == 2) report.version = ParseVersion(version.body);
  }
  HttpAnswer models = HttpGet(engine, worker::ModelsPathFor(engine.kind()), timeout_ms);
  if (openai_without_health) {
    report.healthy = models.ok && models.status / 100 == 2;
    const std::string answer =
        models.ok ? absl::StrCat("HTTP ", models.status) : models.error;
    report.health_detail =
        report.healthy ? std::string()
                       : absl::StrCat("no /health route (404) and ",
                                      worker::ModelsPathFor(engine.kind()), " answered ", answer);
  }
  if (!models.ok) {
    report.models_error = models.error;
  } else if (models.status / 100 != 2) {
    report.models_error = absl::StrCat("HTTP ", models.status);
  } else {
    absl::StatusOr<std::vector<std::string>> ids = worker::ParseModelIds(engine.kind(), models.body);
    if (ids.ok()) {
      report.models = *std::move(ids);
    } else {
      report.models_error = std::string(ids.status().message());
    }
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
  if (!report.reachable) {
    return absl::FailedPreconditionError(absl::StrCat("engine ", engine.name(), " at ",
                                                      engine.base_url(), " is ",
                                                      report.health_detail));
  }
  if (!report.healthy) {
    return absl::FailedPreconditionError(absl::StrCat("engine ", engine.name(), " at ",
                                                      engine.base_url(),
                                                      " is not healthy: ", report.health_detail));
  }
  // TGI serves one model and ignores the model field; other engines must list it.
  if (engine.kind() != llmbench::v1::ENGINE_KIND_TGI && !report.models.empty() &&
      !report.model_served) {
    return absl::FailedPreconditionError(
        absl::StrCat("engine ", engine.name(), " at ", engine.base_url(), " does not serve model \"",
                     engine.model(), "\" (it lists: ", absl::StrJoin(report.models, ", "), ")"));
  }
  return absl::OkStatus();
}

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
  return out;
}

}  // namespace llmbench::coordinator
