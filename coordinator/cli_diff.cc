#include "coordinator/cli_diff.h"

#include <cstdio>
#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "coordinator/diff.h"

namespace llmbench::coordinator {
namespace {

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

int Fail(const absl::Status& status, int exit_status = kExitError) {
  std::fprintf(stderr, "llmbench: %s\n", std::string(status.message()).c_str());
  return exit_status;
}

}  // namespace

void DiffCommand::Add(CLI::App* app) {
  command_ = app->add_subcommand(
      "diff", "Regression check: compare a candidate results folder with a base one");
  command_->footer(
      "Exit status: 0 PASS (every engine in common compared, no metric regressed); 5 a metric "
      "REGRESSED (significant and worse than its maximum regression); 7 NOTHING COMPARED (no "
      "engine in common, or an engine without a metric measured on both sides); 1 error; "
      "2 usage (also a non-empty --out without --force).\n"
      "Metrics: ttft_p50 ttft_p99 tpot_p50 tpot_p99 itl_p50 itl_p99 e2e_p50 e2e_p99 "
      "request_throughput output_token_throughput\n"
      "Examples:\n"
      "  llmbench diff results/base results/candidate\n"
      "  llmbench diff base cand --max-regression ttft_p99=10% --max-regression e2e_p50=5%\n"
      "  llmbench diff base cand --thresholds ci/thresholds.yaml --out results/diff --force");
  command_->add_option("base", base_, "Base results folder (summary.json, requests.csv)")
      ->required();
  command_->add_option("candidate", candidate_, "Candidate results folder")->required();
  command_->add_option("--max-regression", max_regression_,
                       "METRIC=PERCENT: largest allowed worsening of METRIC (repeatable)");
  command_->add_option("--default-max-regression", default_max_regression_,
                       "Largest allowed worsening of metrics not named (default 10%)");
  command_->add_option("--thresholds", thresholds_file_,
                       "YAML file: alpha, default_max_regression, max_regression: {METRIC: "
                       "PERCENT} (flags given on the command line win)");
  command_->add_option("--alpha", alpha_, "Significance level (default 0.05)")
      ->check(CLI::Range(1e-9, 0.5));
  command_->add_option("--seed", seed_, "Bootstrap seed (default 1)");
  command_->add_option("--bootstrap", resamples_, "Bootstrap resamples (default 1000)")
      ->check(CLI::Range(10, 100000));
  command_->add_option("--out", out_,
                       "Folder for diff.html (default: a new results/diff-<UTC stamp>-<4 hex>); "
                       "must be empty or new unless --force");
  command_->add_flag("--force", force_, "Write diff.html into a non-empty --out");
}

bool DiffCommand::Parsed() const { return command_ != nullptr && command_->parsed(); }

int DiffCommand::Run() const {
  DiffOptions options;
  if (!thresholds_file_.empty()) {
    absl::Status loaded = LoadThresholdsFile(thresholds_file_, &options.thresholds);
    if (!loaded.ok()) return Fail(loaded);
  }
  // The command line wins over the file.
  if (command_->count("--default-max-regression") > 0) {
    absl::StatusOr<double> default_max =
        ParsePercent(default_max_regression_, "--default-max-regression");
    if (!default_max.ok()) return Fail(default_max.status());
    options.thresholds.default_max_regression = *default_max;
  }
  if (command_->count("--alpha") > 0) options.thresholds.alpha = alpha_;
  for (const std::string& spec : max_regression_) {
    absl::Status added = AddMaxRegression(spec, &options.thresholds);
    if (!added.ok()) return Fail(added);
  }
  options.seed = seed_;
  options.bootstrap_resamples = resamples_;
  // The page goes into a folder of its own, never into either run's results.
  const std::string out_dir =
      out_.empty() ? DefaultDiffOutDir(SteadyClock::Get().UnixNowNs()) : out_;
  if (absl::Status usable = CheckDiffOutDir(out_dir, force_); !usable.ok()) {
    return Fail(usable, kExitUsage);
  }
  absl::StatusOr<DiffReport> compared = DiffRunDirs(base_, candidate_, options);
  if (!compared.ok()) return Fail(compared.status());
  std::fputs(DiffConsoleTable(*compared).c_str(), stdout);
  if (absl::Status written = WriteDiffHtml(out_dir, *compared, force_); !written.ok()) {
    return Fail(written);
  }
  std::printf("diff report: %s\n",
              (std::filesystem::path(out_dir) / kDiffHtmlFileName).string().c_str());
  std::fflush(stdout);
  return DiffExitStatus(*compared);
}

}  // namespace llmbench::coordinator
