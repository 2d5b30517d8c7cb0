// A child process started without a shell (posix_spawn), with its stdout read line by line.
// Used by the coordinator to start local workers and by tests to start real processes.
//
// Thread-compatible. The destructor stops the child (SIGTERM, then SIGKILL after a grace
// period) and reaps it, so a child never outlives its owner by accident.
#ifndef LLMBENCH_COMMON_SUBPROCESS_H_
#define LLMBENCH_COMMON_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace llmbench {

class Subprocess {
 public:
  // Starts argv[0] (a path) with argv. stdout is a pipe read by ReadLine; stderr goes to
  // `stderr_path` when given (appended), else it is inherited.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(
      const std::vector<std::string>& argv, const std::string& stderr_path = "");
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }

  // The next stdout line (without '\n'), waiting at most `timeout_ms`. DeadlineExceeded on
  // timeout; OutOfRange at EOF (the child closed stdout or exited).
  absl::StatusOr<std::string> ReadLine(int timeout_ms);

  // Waits for a line starting with `prefix` (other lines are skipped) and returns it.
  absl::StatusOr<std::string> WaitForLine(const std::string& prefix, int timeout_ms);

  // Sends `signal` to the child.
  void Signal(int signal);
  // Waits up to `timeout_ms` for the child to exit; returns its wait status decoded as an exit
  // code (128+signal when killed), or nullopt when still running.
  std::optional<int> Wait(int timeout_ms);
  // SIGTERM, wait `grace_ms`, then SIGKILL; returns the exit code.
  int Stop(int grace_ms = 3000);

 private:
  Subprocess(pid_t pid, int stdout_fd) : pid_(pid), stdout_fd_(stdout_fd) {}

  pid_t pid_;
  int stdout_fd_;
  std::string buffer_;
  std::optional<int> exit_code_;
};

}  // namespace llmbench

#endif  // LLMBENCH_COMMON_SUBPROCESS_H_
