// `llmbench diff BASE CANDIDATE`: the regression check between two results folders (diff.h).
// Prints the table, writes diff.html into a folder of its own (default
// results/diff-<UTC stamp>-<4 hex>; a non-empty --out only with --force) and exits 0 (PASS),
// 5 (a metric REGRESSED) or 7 (nothing compared), 1 on an error, 2 on a usage error.
//
// Thread-safety: one instance per command line, used on the main thread.
#ifndef LLMBENCH_COORDINATOR_CLI_DIFF_H_
#define LLMBENCH_COORDINATOR_CLI_DIFF_H_

#include <cstdint>
#include <string>
#include <vector>

namespace CLI {
class App;
}  // namespace CLI

namespace llmbench::coordinator {

class DiffCommand {
 public:
  // Adds the `diff` subcommand and its flags to `app`.
  void Add(CLI::App* app);
  // True when the command line chose `diff` (after app->parse).
  bool Parsed() const;
  // Runs the comparison; returns the process exit status.
  int Run() const;

 private:
  CLI::App* command_ = nullptr;
  std::string base_, candidate_, out_, thresholds_file_;
  std::vector<std::string> max_regression_;
  std::string default_max_regression_ = "10%";
  double alpha_ = 0.05;
  uint64_t seed_ = 1;
  int resamples_ = 1000;
  bool force_ = false;
};

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_CLI_DIFF_H_
