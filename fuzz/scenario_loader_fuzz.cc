// Fuzz target: the scenario loader (YAML → Scenario, defaults, validation, and back to YAML).
#include <string>
#include <string_view>

#include "absl/strings/match.h"
#include "coordinator/scenario_loader.h"
#include "fuzz/fuzz_targets.h"
#include "fuzz/fuzz_util.h"
#include "google/protobuf/util/message_differencer.h"

namespace llmbench::fuzz {

int FuzzScenarioLoader(const uint8_t* data, size_t size) {
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<llmbench::v1::Scenario> scenario =
      llmbench::coordinator::ParseScenarioYaml(yaml, "fuzz.yaml", "/nonexistent");
  if (!scenario.ok()) {
    const absl::Status& status = scenario.status();
    LLMBENCH_FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument ||
                            status.code() == absl::StatusCode::kNotFound,
                        std::string(status.ToString()).c_str());
    LLMBENCH_FUZZ_CHECK(absl::StartsWith(status.message(), "fuzz.yaml:"),
                        std::string(status.message()).c_str());
    LLMBENCH_FUZZ_CHECK(IsValidUtf8(std::string_view(status.message().data(),
                                                     status.message().size())),
                        "error message is not UTF-8");
    return 0;
  }
  // A loaded scenario round-trips (scenario_loader.h).
  const std::string text = llmbench::coordinator::ScenarioToYaml(*scenario);
  const absl::StatusOr<llmbench::v1::Scenario> again =
      llmbench::coordinator::ParseScenarioYaml(text, "roundtrip.yaml", "/nonexistent");
  LLMBENCH_FUZZ_CHECK(again.ok(), std::string(again.status().ToString()).c_str());
  LLMBENCH_FUZZ_CHECK(google::protobuf::util::MessageDifferencer::Equals(*scenario, *again),
                      "ScenarioToYaml does not round-trip");
  return 0;
}

}  // namespace llmbench::fuzz
