// Test harness for integration tests that run real llmbench processes over loopback.
//
// - Subprocess: starts a program (posix_spawn, argv only, no shell), drains its stdout and
//   stderr on a background thread, and kills it (SIGTERM, then SIGKILL) when destroyed.
// - SimProcess: starts `llmbench-sim` with one listener per personality on 127.0.0.1:0,
//   reads back the `listening KIND http://HOST:PORT` lines and exposes the base URLs.
// - HttpGet / HttpPost: a tiny blocking libcurl client that returns status, headers, body
//   and, for streams, every body chunk with its arrival time.
//
// Thread-safety: Subprocess and SimProcess are thread-compatible (one owner), except that the
// output accessors (StdoutLines, Stderr, WaitForStdoutLine) may be called from any thread.
// HttpGet/HttpPost are thread-safe (one curl easy handle per call).
#ifndef LLMBENCH_TESTS_HARNESS_HARNESS_H_
#define LLMBENCH_TESTS_HARNESS_HARNESS_H_

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace llmbench::testing {

// How a child process ended.
struct ExitStatus {
  bool exited = false;  // true: returned from main / called exit; `code` is valid
  int code = -1;        // exit code when `exited`
  int signal = 0;       // terminating signal when !exited
};

// A child process with captured stdout/stderr.
//
// Lifetime: the destructor sends SIGTERM, waits up to 5 s, then SIGKILLs and reaps the child,
// so a test never leaks a process, even when an assertion fails half-way.
class Subprocess {
 public:
  // Starts argv[0] (an absolute or relative path; PATH is not searched) with argv.
  // `extra_env` entries ("NAME=value") are appended to the current environment.
  // Returns an error naming the program when it cannot be spawned.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(
      std::vector<std::string> argv, std::vector<std::string> extra_env = {});

  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  ~Subprocess();

  pid_t pid() const { return pid_; }
  const std::vector<std::string>& argv() const { return argv_; }

  // Waits until a complete stdout line at index >= `from_line` exists and returns it with its
  // index. DeadlineExceeded after `timeout`; FailedPrecondition when the output ended first
  // (stdout and stderr both closed: everything the child wrote to either has been read).
  absl::StatusOr<std::pair<size_t, std::string>> WaitForStdoutLine(
      size_t from_line, std::chrono::milliseconds timeout);

  // Complete stdout lines so far (without '\n').
  std::vector<std::string> StdoutLines() const;
  // Everything written to stderr so far.
  std::string Stderr() const;

  // Sends `sig` to the child (no-op once it has been reaped).
  void Signal(int sig);

  // Waits up to `timeout` for the child to exit and reaps it, then (a few seconds at most) for
  // its stdout and stderr to be read to the end, so Stderr() and StdoutLines() are complete.
  // DeadlineExceeded if it is still running. Idempotent: later calls return the same status.
  absl::StatusOr<ExitStatus> Wait(std::chrono::milliseconds timeout);

  // SIGTERM, wait up to `grace`, then SIGKILL. Returns how it ended.
  ExitStatus Stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

 private:
  Subprocess(std::vector<std::string> argv, pid_t pid, int out_fd, int err_fd);
  void DrainLoop(int out_fd, int err_fd);

  std::vector<std::string> argv_;
  pid_t pid_;
  int wake_fd_ = -1;  // eventfd: wakes the drain thread at teardown
  std::optional<ExitStatus> exit_status_;
  std::thread drain_thread_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string stdout_partial_;          // guarded by mu_
  std::vector<std::string> stdout_lines_;  // guarded by mu_
  std::string stderr_;                  // guarded by mu_
  bool stdout_closed_ = false;          // guarded by mu_
};

// Path of the freshly built simulator: ${LLMBENCH_BINARY_DIR}/sim/llmbench-sim.
std::string SimBinaryPath();

// A running llmbench-sim with listeners on 127.0.0.1 ephemeral ports.
class SimProcess {
 public:
  struct Options {
    // One listener per kind ("ollama", "vllm", "tgi"), each `--listen KIND=127.0.0.1:0`.
    std::vector<std::string> kinds = {"ollama", "vllm", "tgi"};
    // Further flags, e.g. {"--itl-ms", "2", "--natural-tokens", "5"}.
    std::vector<std::string> args;
    // How long to wait for every `listening` line.
    std::chrono::milliseconds startup_timeout = std::chrono::seconds(15);
    // Defaults to SimBinaryPath().
    std::string binary;
  };

  // Starts the simulator and waits for one `listening KIND http://HOST:PORT` line per kind.
  // On failure the error says what was missing and includes the child's stderr.
  static absl::StatusOr<std::unique_ptr<SimProcess>> Start(Options options);

  // "http://127.0.0.1:PORT" for `kind`. REQUIRES: kind was in Options::kinds.
  const std::string& BaseUrl(std::string_view kind) const;
  // The bound port for `kind`. REQUIRES: kind was in Options::kinds.
  int Port(std::string_view kind) const;

  Subprocess& process() { return *process_; }

 private:
  SimProcess() = default;
  std::unique_ptr<Subprocess> process_;
  std::map<std::string, std::string, std::less<>> urls_;
  std::map<std::string, int, std::less<>> ports_;
};

// One body write as libcurl delivered it.
struct HttpChunk {
  std::string data;
  std::chrono::steady_clock::time_point at;
};

// Result of one HTTP exchange. A transport failure (reset, timeout) is data, not an error:
// `curl_code` != 0 and `curl_error` explains it; whatever arrived before is kept.
struct HttpResponse {
  long status = 0;                                        // NOLINT(runtime/int): curl's type
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, in order
  std::string body;                                       // all chunks joined
  std::vector<HttpChunk> chunks;                          // each write callback
  std::chrono::steady_clock::time_point start;            // just before curl_easy_perform
  std::chrono::steady_clock::time_point end;              // just after it returned
  int curl_code = 0;                                      // CURLcode
  std::string curl_error;

  // First header value named `name` (case-insensitive), or nullopt.
  std::optional<std::string> Header(std::string_view name) const;
};

struct HttpOptions {
  std::vector<std::string> headers;  // "Name: value"
  // Whole-exchange timeout (CURLOPT_TIMEOUT_MS). 0 = none.
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
  // Keep each body write in `chunks` (the body is always kept).
  bool keep_chunks = true;
};

// Blocking GET / POST. POST sends `body` with `Content-Type: application/json` unless
// `options.headers` sets another Content-Type.
HttpResponse HttpGet(const std::string& url, const HttpOptions& options = {});
HttpResponse HttpPost(const std::string& url, std::string_view body,
                      const HttpOptions& options = {});

// Splits CSV text (RFC 4180: quoted fields may hold commas, doubled quotes and line breaks; CR
// outside quotes is dropped) into records of fields. A last line without a newline counts.
std::vector<std::vector<std::string>> ParseCsvRecords(std::string_view text);

}  // namespace llmbench::testing

#endif  // LLMBENCH_TESTS_HARNESS_HARNESS_H_
