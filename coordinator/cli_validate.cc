#include "coordinator/cli_validate.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "coordinator/run_plan.h"
#include "coordinator/scenario_loader.h"

namespace llmbench::coordinator {
namespace {

namespace v1 = ::llmbench::v1;
constexpr int kExitUsage = 2;

}  // namespace

void ValidateCommand::Add(CLI::App* app) {
  command_ = app->add_subcommand("validate",
                                 "Check a scenario and show what a run would do, sending nothing");
  command_->footer(
      "Exit status: 0 the scenario is valid; 2 it is not (file:line:column: field: reason).\n"
      "Examples:\n"
      "  llmbench validate examples/sim.yaml\n"
      "  llmbench validate scenario.yaml --workers 4 --seconds 10\n"
      "  llmbench validate scenario.yaml --workers hostA:50051,hostB:50051");
  command_->add_option("scenario", scenario_, "Scenario YAML file")->required();
  command_
      ->add_option("--workers", workers_,
                   "Worker count N, or the worker addresses (counted, not contacted); "
                   "default: one local worker per core")
      ->delimiter(',');
  command_->add_option("--seconds", seconds_,
                       "Seconds of the arrival schedule shown per second (default 5, at most "
                       "3600)");
}

bool ValidateCommand::Parsed() const { return command_ != nullptr && command_->parsed(); }

int ValidateCommand::Run() const {
  auto usage = [](const std::string& message) {
    std::fprintf(stderr, "llmbench validate: %s\n", message.c_str());
    return kExitUsage;
  };
  uint32_t seconds = 0;
  if (!absl::SimpleAtoi(seconds_, &seconds) || seconds < 1 || seconds > 3600) {
    return usage(absl::StrCat("--seconds: must be between 1 and 3600, got \"", seconds_, "\""));
  }
  uint32_t workers = std::max(1u, std::thread::hardware_concurrency());
  if (workers_.size() == 1 && !workers_[0].empty() && workers_[0].find(':') == std::string::npos) {
    if (!absl::SimpleAtoi(workers_[0], &workers) || workers < 1 || workers > 100000) {
      return usage(absl::StrCat(
          "--workers: must be a worker count between 1 and 100000 or host:port addresses, got \"",
          workers_[0], "\""));
    }
  } else if (!workers_.empty()) {
    for (const std::string& w : workers_) {
      if (w.find(':') == std::string::npos) {
        return usage(absl::StrCat("--workers: \"", w,
                                  "\" is not host:port (give a count alone, or addresses)"));
      }
    }
    workers = static_cast<uint32_t>(workers_.size());
  }
  absl::StatusOr<v1::Scenario> scenario = LoadScenarioFile(scenario_);
  if (!scenario.ok()) {
    std::fprintf(stderr, "llmbench validate: %s\n",
                 std::string(scenario.status().message()).c_str());
    return kExitUsage;
  }
  const std::string base_dir = std::filesystem::path(scenario_).parent_path().string();
  absl::StatusOr<std::string> plan = DescribePlan(*scenario, base_dir, workers, seconds);
  if (!plan.ok()) {
    std::fprintf(stderr, "llmbench validate: %s: %s\n", scenario_.c_str(),
                 std::string(plan.status().message()).c_str());
    return kExitUsage;
  }
  std::fputs(ScenarioToYaml(*scenario).c_str(), stdout);
  std::fputs(plan->c_str(), stdout);
  std::printf("\nvalid: %s (nothing was sent)\n", scenario_.c_str());
  return 0;
}

}  // namespace llmbench::coordinator
