// Local worker processes: without --workers the coordinator starts llmbench-worker processes
// on this machine (listening on 127.0.0.1, port chosen by the kernel) and talks to them over
// gRPC through exactly the same code path as remote workers. Each set of local workers
// requires a fresh random token, handed over in a 0600 file in a 0700 folder that is removed
// as soon as every worker has read it (never in argv, which other local users can read).
//
// Thread-compatible. The destructor stops every started worker.
#ifndef LLMBENCH_COORDINATOR_LOCAL_WORKERS_H_
#define LLMBENCH_COORDINATOR_LOCAL_WORKERS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/subprocess.h"

namespace llmbench::coordinator {

// Where llmbench-worker lives: $LLMBENCH_WORKER_BIN, else beside this executable, else the
// build tree's worker/ folder beside coordinator/, else "llmbench-worker" on PATH.
std::string FindWorkerBinary();

class LocalWorkers {
 public:
  // Starts `count` workers, each with `loop_threads` loop threads; waits for each to print its
  // `listening grpc://HOST:PORT` line.  Every call to them must carry token(). Each worker may
  // send the variables named in `api_key_envs` as engine API keys (--api-key-env, the names
  // the scenario uses), and exits when this process does, even when it is killed
  // (--exit-with-parent: PR_SET_PDEATHSIG, which follows the thread that started the worker, so
  // call this on a thread that lives as long as the process, e.g. the main thread).
  static absl::StatusOr<std::unique_ptr<LocalWorkers>> Start(
      int count, int loop_threads, const std::string& log_level,
      const std::vector<std::string>& api_key_envs = {});
  ~LocalWorkers();

  // host:port of each worker, for gRPC.
  const std::vector<std::string>& addresses() const { return addresses_; }
  // The token the workers require (see WorkerClientSecurity::token).
  const std::string& token() const { return token_; }

 private:
  LocalWorkers() = default;
  std::vector<std::unique_ptr<Subprocess>> processes_;
  std::vector<std::string> addresses_;
  std::string token_;
};

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_LOCAL_WORKERS_H_
