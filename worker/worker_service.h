// WorkerService: the gRPC face of a worker (llmbench.v1.WorkerService, callback API).
//
//   Describe  version, cores, loop threads, limits, wall clock, hostname, busy.
//   RunShard  runs one shard (ShardRunner) and streams WorkerMessages: RecordBatch messages of
//             up to shard.record_batch_size records (sent when a batch is full, and at every
//             progress interval with whatever has completed; a batch is also cut at ~1 MiB so
//             that no message nears gRPC's default 4 MiB receive limit), a Progress heartbeat
//             every progress_interval_ms even when nothing completes, and a final ShardSummary.
//             About once a second (and once when the shard ends) a ResourceSeries message
//             with procfs samples of this host and process (options.resource_interval_ms).
//             Cancelling the call cancels the shard (in-flight requests become
//             ERROR_CLASS_CANCELLED records) and flushes what the stream still accepts.
//   StopShard stops the running shard named by run_id/shard_index the graceful way: the same
//             cancellation, but the RunShard stream stays open, sends every record and the
//             summary and ends OK (engine down, Ctrl-C). NOT_FOUND for another shard.
//   A stream that accepts no write for options.write_stall_timeout_ms (the coordinator stopped
//   reading) is cancelled and its shard stopped, with a warning saying so; a coordinator that
//   stops answering keepalive pings loses its calls the same way (OnCancel, logged).
//   Every call first checks the shared token (options.token, see worker_service_security.h):
//   without the right one it is refused with UNAUTHENTICATED "missing or wrong llmbench token"
//   before anything else is looked at.
//   One shard at a time: a RunShard while another runs is refused with RESOURCE_EXHAUSTED
//   "worker busy: shard <run_id>/<index> is running" (the coordinator gives each worker one
//   shard). An invalid shard is refused with INVALID_ARGUMENT naming the field.
//
// Each RunShard stream has one pump thread that moves records from the shard's bounded queue
// to the stream with one write in flight; the reactor's reactions only signal it and never
// block. The event loops never wait for gRPC: when the reader is slow, the queue overflows and
// records are dropped and counted (ShardSummary.records_dropped and note).
//
// Thread-safety: thread-safe (gRPC calls the reactions from its own threads).
#ifndef LLMBENCH_WORKER_WORKER_SERVICE_H_
#define LLMBENCH_WORKER_WORKER_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "llmbench/v1/worker.grpc.pb.h"
#include "worker/api_keys.h"
#include "worker/nvml.h"
#include "worker/record_queue.h"
#include "worker/worker_service_security.h"

namespace llmbench::worker {

class ShardRunner;

struct WorkerServiceOptions {
  std::string worker_id;
  std::string hostname;
  uint32_t loop_threads = 1;
  uint32_t max_concurrency = 10000;
  size_t queue_capacity = kDefaultRecordQueueCapacity;
  std::string token;  // shared token every call must carry; "" = none
  // Which Engine.api_key_env names shards may use (--api-key-env, worker/api_keys.h).
  ApiKeyPolicy api_keys;
  // A RunShard whose stream accepts no write for this long (the coordinator stopped reading:
  // frozen, or cut off while its kernel still acknowledges) is cancelled, with a warning.
  int64_t write_stall_timeout_ms = 10'000;
  // Resource samples sent during RunShard (WorkerMessage.resources, worker/resource_sampler.h):
  // one every resource_interval_ms (checked at each progress interval) and one at the end.
  int64_t resource_interval_ms = 1000;
  std::string procfs_root = "/proc";
  // GPU samples in them when set (--gpu-telemetry; not owned, must outlive the service);
  // otherwise gpu_note says why there are none.
  const Nvml* nvml = nullptr;
  std::string gpu_note;
};

class WorkerService final : public llmbench::v1::WorkerService::CallbackService {
 public:
  explicit WorkerService(WorkerServiceOptions options);
  ~WorkerService() override;

  grpc::ServerUnaryReactor* Describe(grpc::CallbackServerContext* context,
                                     const llmbench::v1::DescribeRequest* request,
                                     llmbench::v1::DescribeResponse* response) override;
  grpc::ServerWriteReactor<llmbench::v1::WorkerMessage>* RunShard(
      grpc::CallbackServerContext* context,
      const llmbench::v1::RunShardRequest* request) override;
  grpc::ServerUnaryReactor* StopShard(grpc::CallbackServerContext* context,
                                      const llmbench::v1::StopShardRequest* request,
                                      llmbench::v1::StopShardResponse* response) override;

  // Graceful shutdown, step 1: refuse new shards (UNAVAILABLE "worker is shutting down") and
  // cancel the running one; its stream still gets its records and summary. Then shut the
  // server down (grpc::Server::Shutdown with a deadline) and call WaitIdle().
  void BeginShutdown();
  // Blocks until no shard runs and every stream's pump thread has ended.
  void WaitIdle();
  // WaitIdle for at most `timeout`; false when a stream is still active.
  bool WaitIdleFor(std::chrono::milliseconds timeout);
  bool busy() const;

 private:
  class ShardStream;
  friend class ShardStream;

  // Called by a stream's pump thread: when its shard is over (before the final Finish), and
  // when it touches the service no more.
  void OnShardDone();
  void OnStreamFinished();

  const WorkerServiceOptions options_;
  mutable std::mutex mu_;
  std::condition_variable idle_cv_;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  ShardStream* running_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::string running_name_ ABSL_GUARDED_BY(mu_);
  int active_streams_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace llmbench::worker

#endif  // LLMBENCH_WORKER_WORKER_SERVICE_H_
