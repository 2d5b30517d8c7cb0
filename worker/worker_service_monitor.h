// MonitorService: the gRPC face of host monitoring (llmbench.v1.MonitorService, callback API),
// served by `llmbench-worker --monitor` (with health only) and by every normal worker.
//
//   Monitor  streams ResourceSeries messages until the caller cancels or the server shuts
//            down: the first, sent at once, describes the host (hostname, cores, interval, the
//            GPUs of the Nvml or the "no GPU telemetry: ..." note) and carries no sample; then
//            one message per interval (MonitorRequest.interval_ms, default 1000, at least 100)
//            with one ResourceSample, its t_s in seconds since the call started. A procfs read
//            that fails mid-stream sends the message with `note` set and no sample.
//   The shared token is checked first (UNAUTHENTICATED "missing or wrong llmbench token"); a
//   host that cannot read procfs at all refuses with FAILED_PRECONDITION
//   "procfs unavailable: <path>: <reason>"; more than max_streams concurrent calls are
//   refused with RESOURCE_EXHAUSTED "too many Monitor streams (at most N)".
//
// Each stream has one sampling thread that sleeps on a condition variable between samples
// and keeps one write in flight; the reactor's reactions only signal it.
//
// Thread-safety: thread-safe. Lifetime: call BeginShutdown() and WaitIdle() before the
// service is destroyed (the destructor does both).
#ifndef LLMBENCH_WORKER_WORKER_SERVICE_MONITOR_H_
#define LLMBENCH_WORKER_WORKER_SERVICE_MONITOR_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "llmbench/v1/worker.grpc.pb.h"
#include "worker/nvml.h"

namespace llmbench::worker {

struct MonitorServiceOptions {
  std::string hostname;
  std::string token;  // shared token every call must carry; "" = none
  // GPU samples when set (not owned; must outlive the service). Otherwise gpu_note says why
  // there are none.
  const Nvml* nvml = nullptr;
  std::string gpu_note;
  std::string procfs_root = "/proc";
  int max_streams = 8;
};

class MonitorService final : public llmbench::v1::MonitorService::CallbackService {
 public:
  explicit MonitorService(MonitorServiceOptions options);
  ~MonitorService() override;

  grpc::ServerWriteReactor<llmbench::v1::ResourceSeries>* Monitor(
      grpc::CallbackServerContext* context, const llmbench::v1::MonitorRequest* request) override;

  // Ends every stream (each finishes with OK after its current write) and refuses new ones
  // with UNAVAILABLE "monitor is shutting down".
  void BeginShutdown();
  // Blocks until every stream's thread has ended.
  void WaitIdle();
  bool WaitIdleFor(std::chrono::milliseconds timeout);

 private:
  class MonitorStream;
  friend class MonitorStream;
  void OnStreamFinished(MonitorStream* stream);

  const MonitorServiceOptions options_;
  std::mutex mu_;
  std::condition_variable idle_cv_;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  std::set<MonitorStream*> streams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace llmbench::worker

#endif  // LLMBENCH_WORKER_WORKER_SERVICE_MONITOR_H_
