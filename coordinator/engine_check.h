// Engine discovery from the coordinator: health, version and models of an engine, asked over
// plain HTTP before a run (so a wrong URL or model fails before any request is sent) and by
// `llmbench engines`.
//
// Thread-safe: each call uses its own curl easy handle.
#ifndef LLMBENCH_COORDINATOR_ENGINE_CHECK_H_
#define LLMBENCH_COORDINATOR_ENGINE_CHECK_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "llmbench/v1/scenario.pb.h"

namespace llmbench::coordinator {

struct EngineReport {
  std::string name;
  std::string base_url;
  llmbench::v1::EngineKind kind = llmbench::v1::ENGINE_KIND_UNSPECIFIED;
  std::string model;                     // Engine.model
  bool reachable = false;
  bool healthy = false;
  std::string health_detail;             // why not healthy / unreachable
  std::optional<std::string> version;    // absent when the engine has no version route
  std::vector<std::string> models;       // empty when listing failed
  std::string models_error;              // e.g. "HTTP 404 from /info"
  bool model_served = false;             // Engine.model is among `models`
  // When the health or model route answered like a server of another kind (a 400/404/405/
  // 410/501, or a model list of the wrong shape) and that kind's own routes answer: the kind
  // the server looks like, and the sentence that says so (LikelyKindHint).
  std::optional<llmbench::v1::EngineKind> likely_kind;
  std::string kind_hint;
};

// One GET of `url` with the engine's headers, API key (Engine.api_key_env) and CA file; the
// body is capped at `max_body_bytes` (a longer one fails the transfer). Shared by discovery and
// the telemetry scraper (engine_telemetry.h).
struct EngineHttpAnswer {
  bool ok = false;  // a response arrived
  long status = 0;  // NOLINT(runtime/int): curl's type
  std::string body;
  std::string error;  // when !ok: curl's reason
};
EngineHttpAnswer EngineHttpGet(const llmbench::v1::Engine& engine, const std::string& url,
                               int timeout_ms, size_t max_body_bytes);

// Asks the engine's health, version and model routes (each with `timeout_ms`). When the
// health or model route fails in a way a wrong engine kind explains, asks the other kinds'
// routes too (ProbeEngineKind) and fills likely_kind and kind_hint.
EngineReport CheckEngine(const llmbench::v1::Engine& engine, int timeout_ms = 5000);

// The first kind other than `except` whose own routes answer at engine.base_url, asked in
// this order: ollama (GET /api/tags lists models), tgi (GET /info has a model_id), vllm
// (GET /version has a version and GET /v1/models lists models), openai (GET /v1/models lists
// models). nullopt when none answers.
std::optional<llmbench::v1::EngineKind> ProbeEngineKind(const llmbench::v1::Engine& engine,
                                                        llmbench::v1::EngineKind except,
                                                        int timeout_ms);

// "this looks like an Ollama server: try --engine ollama (kind: ollama in a scenario file)".
std::string LikelyKindHint(llmbench::v1::EngineKind kind);

// FailedPrecondition naming the engine and the problem when the engine is unreachable,
// unhealthy, does not list the scenario's model (when it lists models at all; TGI serves one
// model whatever the name), or its model route failed while it looks like another kind.
// The message ends with kind_hint when there is one.
absl::Status RequireReady(const EngineReport& report, const llmbench::v1::Engine& engine);

// True when RequireReady() passes: what `llmbench engines` exits 0 on.
bool EngineReady(const EngineReport& report);

// A human-readable block for `llmbench engines`: health, version, models, and lines for a
// model the engine does not list ("model:   MISSING ...") and for a likely kind ("hint:").
std::string FormatEngineReport(const EngineReport& report);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_ENGINE_CHECK_H_
