#include "worker/worker_service_monitor.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "spdlog/spdlog.h"
#include "worker/resource_sampler.h"
#include "worker/worker_service_security.h"

namespace llmbench::worker {

namespace v1 = ::llmbench::v1;

namespace {

class RefusedMonitor final : public grpc::ServerWriteReactor<v1::ResourceSeries> {
 public:
  explicit RefusedMonitor(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

// One Monitor call. Owned by its thread and by gRPC (until OnDone); the last to let go
// deletes it.
class MonitorService::MonitorStream final : public grpc::ServerWriteReactor<v1::ResourceSeries> {
 public:
  MonitorStream(MonitorService* service, int64_t interval_ms,
                std::unique_ptr<ResourceSampler> sampler)
      : service_(service), interval_ms_(interval_ms), sampler_(std::move(sampler)) {}

  void Begin() { std::thread([this] { Run(); }).detach(); }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      write_in_flight_ = false;
      write_ok_ = ok;
    }
    cv_.notify_all();
  }

  void OnCancel() override { Stop(); }

  void OnDone() override { Release(); }

 private:
  void Release() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

  bool WriteAndWait(const v1::ResourceSeries& message) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!write_ok_ || stopped_) return false;
    write_in_flight_ = true;
    lock.unlock();
    StartWrite(&message);
    lock.lock();
    cv_.wait(lock, [this] { return !write_in_flight_; });
    return write_ok_;
  }

  void Run() {
    const MonitorServiceOptions& options = service_->options_;
    bool writable = WriteAndWait(ResourceSeriesHeader(options.hostname, sampler_->cores(),
                                                      interval_ms_, options.nvml,
                                                      options.gpu_note));
    int64_t next_ns = sampler_->last_reading_ns() + interval_ms_ * 1'000'000;
    while (writable) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        const int64_t wait_ns = std::max<int64_t>(0, next_ns - SteadyClock::Get().NowNs());
        cv_.wait_for(lock, std::chrono::nanoseconds(wait_ns), [this] { return stopped_; });
        if (stopped_) break;
      }
      if (SteadyClock::Get().NowNs() < next_ns) continue;  // spurious wake-up
      next_ns += interval_ms_ * 1'000'000;
      v1::ResourceSeries message;
      absl::StatusOr<v1::ResourceSample> sample = sampler_->Sample();
      if (sample.ok()) {
        *message.add_samples() = *std::move(sample);
      } else {
        message.set_note(absl::StrCat("procfs unavailable: ", sample.status().message()));
      }
      writable = WriteAndWait(message);
    }
    Finish(grpc::Status::OK);
    service_->OnStreamFinished(this);
    Release();
  }

  MonitorService* const service_;
  const int64_t interval_ms_;
  const std::unique_ptr<ResourceSampler> sampler_;  // this stream's thread only
  std::atomic<int> refs_{2};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  bool write_in_flight_ = false;
  bool write_ok_ = true;
};

MonitorService::MonitorService(MonitorServiceOptions options) : options_(std::move(options)) {}

MonitorService::~MonitorService() {
  BeginShutdown();
  WaitIdle();
}

grpc::ServerWriteReactor<v1::ResourceSeries>* MonitorService::Monitor(
    grpc::CallbackServerContext* context, const v1::MonitorRequest* request) {
  if (grpc::Status auth = CheckCallToken(*context, options_.token); !auth.ok()) {
    return new RefusedMonitor(auth);
  }
  const int64_t interval_ms =
      request->interval_ms() == 0
          ? kDefaultResourceIntervalMs
          : std::max<int64_t>(kMinResourceIntervalMs, request->interval_ms());
  ResourceSamplerOptions sampler_options;
  sampler_options.procfs_root = options_.procfs_root;
  sampler_options.reference_ns = SteadyClock::Get().NowNs();
  sampler_options.nvml = options_.nvml;
  auto sampler = std::make_unique<ResourceSampler>(sampler_options);
  if (absl::Status primed = sampler->Prime(); !primed.ok()) {
    return new RefusedMonitor(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                           absl::StrCat("procfs unavailable: ", primed.message())));
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (shutting_down_) {
    return new RefusedMonitor(
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "monitor is shutting down"));
  }
  if (static_cast<int>(streams_.size()) >= options_.max_streams) {
    return new RefusedMonitor(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("too many Monitor streams (at most ", options_.max_streams, ")")));
  }
  auto* stream = new MonitorStream(this, interval_ms, std::move(sampler));
  streams_.insert(stream);
  spdlog::info("Monitor stream started ({} ms interval, {} open)", interval_ms, streams_.size());
  stream->Begin();
  return stream;
}

void MonitorService::OnStreamFinished(MonitorStream* stream) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    streams_.erase(stream);
  }
  idle_cv_.notify_all();
}

void MonitorService::BeginShutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  shutting_down_ = true;
  for (MonitorStream* stream : streams_) stream->Stop();
}

void MonitorService::WaitIdle() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_cv_.wait(lock, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return streams_.empty(); });
}

bool MonitorService::WaitIdleFor(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_cv_.wait_for(lock, timeout, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return streams_.empty();
  });
}

}  // namespace llmbench::worker
