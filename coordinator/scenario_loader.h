// Scenario loading: YAML file -> llmbench.v1.Scenario, defaults, validation, and back to YAML.
//
// The YAML keys are the proto field names (snake_case); enums are written in lower case
// without their prefix (`kind: vllm`, `arrival: poisson`, `api: chat_completions`). The
// mapping is driven by protobuf reflection, so every field of the schema is covered by the
// same code; range checks live in one table keyed by the proto field's full name
// (scenario_loader.cc). docs/scenario.md documents the format and every default.
//
// Every error is an InvalidArgument whose message reads exactly
//   FILE:LINE:COL: FIELD.PATH: REASON        (1-based line and column)
// e.g. `bad.yaml:7:5: load.rate.rps: must be > 0, got -3`. Validation of a scenario built in
// code (no source map) gives `FIELD.PATH: REASON`.
//
// Thread-safety: free functions without shared state; safe to call from any thread.
#ifndef LLMBENCH_COORDINATOR_SCENARIO_LOADER_H_
#define LLMBENCH_COORDINATOR_SCENARIO_LOADER_H_

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "llmbench/v1/scenario.pb.h"

namespace llmbench::coordinator {

// Largest scenario file accepted (bytes).
inline constexpr std::size_t kMaxScenarioBytes = 16u << 20;

// A 1-based position in the scenario file.
struct SourcePosition {
  int line = 1;
  int column = 1;
};

// Where each field of a parsed scenario was written, so that validation errors can name the
// line. Paths look like `engines[0].timeouts.connect_ms` or `load.rate.rps`; the root is "".
class ScenarioSourceMap {
 public:
  explicit ScenarioSourceMap(std::string filename) : filename_(std::move(filename)) {}

  void Record(const std::string& path, SourcePosition position);
  // The position of `path`, else of its nearest recorded ancestor, else 1:1.
  SourcePosition Find(std::string_view path) const;
  // "FILE:LINE:COL: PATH: REASON"; the root path "" is shown as "scenario".
  std::string Format(std::string_view path, std::string_view reason) const;
  const std::string& filename() const { return filename_; }

 private:
  std::string filename_;
  std::map<std::string, SourcePosition, std::less<>> positions_;
};

struct ValidateOptions {
  // Folder that relative dataset paths are resolved against ("" = the current directory).
  std::string base_dir;
  // Positions for error messages; nullptr gives "PATH: REASON" messages.
  const ScenarioSourceMap* source = nullptr;
  // Check that a dataset file can be opened.
  bool check_files = true;
};

// Reads, parses, defaults and validates a scenario file. Dataset paths are relative to the
// file's folder. Fails (InvalidArgument / NotFound) before anything is sent to an engine.
absl::StatusOr<llmbench::v1::Scenario> LoadScenarioFile(const std::string& path);

// Parses YAML text (named `filename` in messages), applies defaults and validates.
absl::StatusOr<llmbench::v1::Scenario> ParseScenarioYaml(std::string_view yaml,
                                                         std::string_view filename,
                                                         const std::string& base_dir);

// Fills every unset field with its documented default (docs/scenario.md). Idempotent.
void ApplyScenarioDefaults(llmbench::v1::Scenario* scenario);

// Defaults ApplyScenarioDefaults writes (docs/scenario.md) that other parts also fall back on.
// thresholds.max_error_rate: the largest error rate ((failures + requests not run) / (requests
// + requests not run)) a run may have and pass.
inline constexpr double kDefaultMaxErrorRate = 0.05;
// thresholds.engine_down_seconds: an engine whose every request failed to connect for this
// long is declared down.
inline constexpr double kDefaultEngineDownSeconds = 5;
// load.requests (and --requests): at most this many measured requests per engine. The
// coordinator keeps the values exact percentiles need, 56 + 4 x (chunks - 1) bytes per
// request (bench/README.md, "Coordinator merge"): about 3 GB at this bound with 64-chunk
// responses. Longer runs are duration-bounded.
inline constexpr uint64_t kMaxRequests = 10'000'000;
// The prompt part of the above (used by BuildPrompts on its own input).
void ApplyPromptsDefaults(llmbench::v1::Prompts* prompts);

// Checks ranges and cross-field rules of a (defaulted) scenario; the first problem found.
absl::Status ValidateScenario(const llmbench::v1::Scenario& scenario,
                              const ValidateOptions& options = {});

// The scenario as YAML (written into results as "the scenario as run"). Round-trips:
// ParseScenarioYaml(ScenarioToYaml(s)) equals s for any defaulted, valid s.
std::string ScenarioToYaml(const llmbench::v1::Scenario& scenario);

// The YAML spelling of an enum value: lower case, without the enum's prefix
// (ENGINE_KIND_VLLM -> "vllm"). Exposed for messages and exporters.
std::string EnumYamlName(const google::protobuf::EnumValueDescriptor* value);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_SCENARIO_LOADER_H_
