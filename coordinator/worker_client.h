// A connection to one llmbench-worker over gRPC: Describe (with clock-offset estimation) and
// RunShard (a server stream read on the calling thread).
//
// Thread-safety: RunShard blocks the calling thread; Cancel() may be called from any other
// thread while it runs. One RunShard at a time per client.
#ifndef LLMBENCH_COORDINATOR_WORKER_CLIENT_H_
#define LLMBENCH_COORDINATOR_WORKER_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "llmbench/v1/worker.pb.h"

namespace grpc {
class Channel;
class ClientContext;
}  // namespace grpc

namespace llmbench::coordinator {

struct WorkerInfo {
  llmbench::v1::DescribeResponse describe;
  int64_t clock_offset_ns = 0;  // worker wall clock − coordinator wall clock (best of N probes)
  int64_t rtt_ns = 0;           // round trip of the probe the offset came from
};

class WorkerClient {
 public:
  explicit WorkerClient(std::string address);
  ~WorkerClient();
  WorkerClient(const WorkerClient&) = delete;
  WorkerClient& operator=(const WorkerClient&) = delete;

  const std::string& address() const { return address_; }

  // Describes the worker `probes` times and keeps the offset of the probe with the smallest
  // round trip (NTP-style midpoint). Fails with the gRPC status, prefixed with the address.
  absl::StatusOr<WorkerInfo> Describe(int probes = 5, int timeout_ms = 5000);

  // Runs `shard` to completion, calling `on_message` for every message (on this thread).
  // Returns OK when the worker closed the stream normally.
  absl::Status RunShard(const llmbench::v1::Shard& shard,
                        const std::function<void(const llmbench::v1::WorkerMessage&)>& on_message);

  // Cancels a running RunShard (the worker flushes what it measured).
  void Cancel();

 private:
  const std::string address_;
  std::shared_ptr<grpc::Channel> channel_;  // shared with gRPC stubs
  std::mutex mu_;
  grpc::ClientContext* running_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_WORKER_CLIENT_H_
