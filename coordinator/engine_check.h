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
  bool reachable = false;
  bool healthy = false;
  std::string health_detail;             // why not healthy / unreachable
  std::optional<std::string> version;    // absent when the engine has no version route
  std::vector<std::string> models;       // empty when listing failed
  std::string models_error;
  bool model_served = false;             // Engine.model is among `models`
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

// Asks the engine's health, version and model routes (each with `timeout_ms`).
EngineReport CheckEngine(const llmbench::v1::Engine& engine, int timeout_ms = 5000);

// FailedPrecondition naming the engine and the problem when the engine is unreachable,
// unhealthy, or does not list the scenario's model (when it lists models at all).
absl::Status RequireReady(const EngineReport& report, const llmbench::v1::Engine& engine);

// A human-readable block for `llmbench engines`.
std::string FormatEngineReport(const EngineReport& report);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_ENGINE_CHECK_H_
