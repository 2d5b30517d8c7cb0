// Running the real `llmbench` binary in tests: stdout and stderr go to files (so stderr is not
// a terminal, as in CI), the child leads its own process group, and a hung run is stopped.
// Also small helpers the end-to-end tests share: files, a closed port, requests.csv.
//
// Thread-safety: RunLlmbench may be called from several threads (distinct file names).
#ifndef LLMBENCH_TESTS_E2E_CLI_RUNNER_H_
#define LLMBENCH_TESTS_E2E_CLI_RUNNER_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/harness/harness.h"

namespace llmbench::e2e {

struct CliRun {
  bool exited = false;
  int code = -1;  // exit code when exited
  int signal = 0;
  std::string out;
  std::string err;
  double wall_s = 0;  // from spawn to exit
};

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& text);

// Runs `llmbench ARGS...` (LLMBENCH_COORDINATOR_BINARY, local workers from
// LLMBENCH_WORKER_BINARY, no token in the environment) with stdout and stderr in files under
// `scratch` and stdin from /dev/null; waits up to `timeout`. `while_running`, when given, is
// called on another thread with the child's pid right after it started (to kill an engine or
// signal the coordinator mid-run); RunLlmbench waits for it to return too. A run that
// outlives `timeout` is interrupted, killed with its process group, and fails the test. A
// process left in its group after it exited (a local worker) also fails the test.
CliRun RunLlmbench(const std::vector<std::string>& args, const std::string& scratch,
                   std::chrono::seconds timeout = std::chrono::seconds(90),
                   const std::function<void(pid_t)>& while_running = nullptr);

// Real llmbench-worker processes on 127.0.0.1 (ephemeral ports, one loop thread, warn logs),
// ids `<id_prefix>0`, `<id_prefix>1`, ...; stopped when this is destroyed.
struct LocalWorkerProcesses {
  std::vector<std::unique_ptr<testing::Subprocess>> processes;
  std::vector<std::string> addresses;  // host:port, in id order

  std::string List() const;  // for --workers
};
// Starts `count` of them; an error names the worker that did not print its address.
absl::StatusOr<LocalWorkerProcesses> StartLocalWorkerProcesses(int count,
                                                               const std::string& id_prefix);

// A loopback port nothing listens on: bound, then released.
int ClosedPort();

// requests.csv as a header and rows of the same width.
struct Csv {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;

  size_t Column(const std::string& name) const;
  const std::string& Get(size_t row, const std::string& name) const;
  int64_t Int(size_t row, const std::string& name) const;
  uint64_t Uint(size_t row, const std::string& name) const;
};
Csv ParseCsv(const std::string& text);

}  // namespace llmbench::e2e

#endif  // LLMBENCH_TESTS_E2E_CLI_RUNNER_H_
