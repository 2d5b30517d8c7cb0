#include "worker/worker_service.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/grpc_status.h"
#include "common/version.h"
#include "spdlog/spdlog.h"
#include "worker/event_loop.h"
#include "worker/resource_sampler.h"
#include "worker/shard_runner.h"

namespace llmbench::worker {

using llmbench::v1::WorkerMessage;

namespace {

constexpr size_t kMaxBatchBytes = 1 << 20;

// A write reactor that only reports an error (refused shard).
class RefusedStream final : public grpc::ServerWriteReactor<WorkerMessage> {
 public:
  explicit RefusedStream(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

int64_t UnixNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// One RunShard call. Owned by two parties, the pump thread and gRPC (until OnDone); the last
// to let go deletes it.
class WorkerService::ShardStream final : public grpc::ServerWriteReactor<WorkerMessage> {
 public:
  ShardStream(WorkerService* service, grpc::CallbackServerContext* context,
              std::unique_ptr<ShardRunner> runner)
      : service_(service),
        context_(context),
        name_(absl::StrCat(runner->shard().run_id(), "/", runner->shard().shard_index())),
        runner_(std::move(runner)) {}

  // Starts the pump thread (the shard itself was started by the caller).
  void Begin() { std::thread([this] { Pump(); }).detach(); }

  void Cancel() { runner_->Cancel(); }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      write_in_flight_ = false;
      write_ok_ = ok;
    }
    cv_.notify_all();
  }

  void OnCancel() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      call_cancelled_ = true;
      if (!stalled_ && runner_ != nullptr) {
        spdlog::info(
            "shard {}: the RunShard call ended (cancelled by the coordinator, or its connection "
            "was lost: no answer to keepalive pings within 20 s); stopping the shard",
            name_);
      }
      // gRPC may deliver the cancellation after the pump thread has already seen a failed
      // write, finished the shard and released the runner (a thawed SIGSTOPped worker).
      if (runner_ != nullptr) runner_->Cancel();
    }
    cv_.notify_all();
  }

  void OnDone() override {
    spdlog::debug("RunShard stream done");
    Release();
  }

 private:
  void Release() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }

  // Writes `message` and waits for OnWriteDone. False when the stream is no longer writable.
  // A write that does not complete within write_stall_timeout_ms means the coordinator stopped
  // reading: the call is cancelled (the shard stops, see Pump) rather than load going on for a
  // reader that is gone.
  bool WriteAndWait(const WorkerMessage& message) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!write_ok_ || call_cancelled_) return false;
    write_in_flight_ = true;
    lock.unlock();
    StartWrite(&message);
    lock.lock();
    const auto stall = std::chrono::milliseconds(service_->options_.write_stall_timeout_ms);
    if (!cv_.wait_for(lock, stall, [this] { return !write_in_flight_; })) {
      stalled_ = true;
      lock.unlock();
      spdlog::warn(
          "shard {}: no write to the coordinator completed for {} ms (it stopped reading: "
          "frozen, or cut off); stopping the shard",
          name_, stall.count());
      runner_->Cancel();
      context_->TryCancel();
      lock.lock();
      cv_.wait(lock, [this] { return !write_in_flight_; });
      return false;
    }
    return write_ok_;
  }

  // Sends `records` as one or more RecordBatch messages (cut at kMaxBatchBytes).
  bool WriteRecords(std::vector<llmbench::v1::RequestRecord>* records) {
    WorkerMessage message;
    size_t bytes = 0;
    for (llmbench::v1::RequestRecord& record : *records) {
      const size_t size = record.ByteSizeLong();
      if (bytes > 0 && bytes + size > kMaxBatchBytes) {
        if (!WriteAndWait(message)) return false;
        records_written_ += static_cast<uint64_t>(message.records().records_size());
        message.Clear();
        bytes = 0;
      }
      *message.mutable_records()->add_records() = std::move(record);
      bytes += size;
    }
    records->clear();
    if (bytes == 0 && message.records().records_size() == 0) return true;
    if (!WriteAndWait(message)) return false;
    records_written_ += static_cast<uint64_t>(message.records().records_size());
    return true;
  }

  // Starts the resource sampler (worker/resource_sampler.h); sample times count from the
  // shard's start instant. Without procfs the first resources message carries the note.
  void StartSampling() {
    const WorkerServiceOptions& options = service_->options_;
    const Clock& clock = SteadyClock::Get();
    const int64_t start_unix_ns = runner_->shard().start_unix_ns();
    const int64_t ahead_ns =
        start_unix_ns > 0 ? std::max<int64_t>(0, start_unix_ns - clock.UnixNowNs()) : 0;
    ResourceSamplerOptions sampler_options;
    sampler_options.procfs_root = options.procfs_root;
    sampler_options.reference_ns = clock.NowNs() + ahead_ns;
    sampler_options.nvml = options.nvml;
    sampler_ = std::make_unique<ResourceSampler>(sampler_options);
    absl::Status primed = sampler_->Prime();
    *pending_resources_.mutable_resources() =
        ResourceSeriesHeader(options.hostname, sampler_->cores(), options.resource_interval_ms,
                             options.nvml, options.gpu_note);
    if (!primed.ok()) {
      pending_resources_.mutable_resources()->set_note(
          absl::StrCat("procfs unavailable: ", primed.message()));
      sampler_.reset();
    }
  }

  // Samples when one is due (at the end: when 200 ms have passed since the last reading, or
  // always when nothing was sent yet, so every shard reports at least one sample) and writes
  // the resources message. False when the stream is no longer writable.
  bool MaybeSendResources(int64_t progress_interval_ns, bool final) {
    if (sampler_ == nullptr) {  // procfs unreadable: the note goes out once
      if (resources_header_sent_) return true;
      resources_header_sent_ = true;
      return WriteAndWait(pending_resources_);
    }
    const int64_t interval_ns = service_->options_.resource_interval_ms * 1'000'000;
    const int64_t due_ns =
        final ? (resources_header_sent_ ? 200'000'000 : 0)
              : std::max<int64_t>(0, interval_ns - progress_interval_ns / 2);
    if (SteadyClock::Get().NowNs() - sampler_->last_reading_ns() < due_ns) return true;
    absl::StatusOr<llmbench::v1::ResourceSample> sample = sampler_->Sample();
    llmbench::v1::ResourceSeries* series = pending_resources_.mutable_resources();
    if (sample.ok()) {
      *series->add_samples() = *std::move(sample);
    } else {
      series->set_note(absl::StrCat("procfs unavailable: ", sample.status().message()));
    }
    const bool writable = WriteAndWait(pending_resources_);
    resources_header_sent_ = true;
    series->Clear();
    return writable;
  }

  void Pump() {
    const llmbench::v1::Shard& shard = runner_->shard();
    const size_t batch_size = shard.record_batch_size();
    const int64_t interval_ns = static_cast<int64_t>(shard.progress_interval_ms()) * 1'000'000;
    StartSampling();
    RecordQueue& queue = runner_->records();
    std::vector<llmbench::v1::RequestRecord> records;
    records.reserve(batch_size);
    bool writable = true;
    int64_t next_progress = EventLoop::MonotonicNowNs() + interval_ns;
    while (writable) {
      queue.WaitPop(&records, batch_size, next_progress);
      if (!records.empty()) writable = WriteRecords(&records);
      if (writable && EventLoop::MonotonicNowNs() >= next_progress) {
        WorkerMessage message;
        *message.mutable_progress() = runner_->progress();
        writable = WriteAndWait(message) && MaybeSendResources(interval_ns, false);
        next_progress = EventLoop::MonotonicNowNs() + interval_ns;
      }
      if (queue.drained()) break;
      std::lock_guard<std::mutex> lock(mu_);
      if (call_cancelled_) writable = false;
    }
    if (!writable) runner_->Cancel();
    runner_->Join();
    // Whatever the loops produced after the last batch.
    while (writable && queue.TryPop(&records, batch_size) > 0) writable = WriteRecords(&records);
    if (writable) writable = MaybeSendResources(interval_ns, true);
    llmbench::v1::ShardSummary summary = runner_->summary();
    summary.set_records_sent(records_written_);
    bool cancelled_by_peer;
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_by_peer = call_cancelled_;
    }
    if (writable) {
      WorkerMessage message;
      *message.mutable_summary() = summary;
      writable = WriteAndWait(message);
    }
    spdlog::info(
        "shard {}/{} done: {} requests, {} records sent, {} dropped, {} errors, cancelled={}, "
        "{:.3f} s",
        shard.run_id(), shard.shard_index(), summary.requests_sent(), summary.records_sent(),
        summary.records_dropped(), runner_->progress().errors(), summary.cancelled(),
        static_cast<double>(summary.elapsed_ns()) / 1e9);
    WorkerService* service = service_;
    service->OnShardDone();  // not busy any more: from here on BeginShutdown ignores us
    {
      std::lock_guard<std::mutex> lock(mu_);  // OnCancel may look at runner_ concurrently
      runner_.reset();
    }
    Finish(cancelled_by_peer ? grpc::Status(grpc::StatusCode::CANCELLED, "RunShard cancelled")
                             : grpc::Status::OK);
    service->OnStreamFinished();
    Release();
  }

  WorkerService* const service_;
  grpc::CallbackServerContext* const context_;
  const std::string name_;  // run_id/shard_index
  std::unique_ptr<ShardRunner> runner_;
  std::atomic<int> refs_{2};
  uint64_t records_written_ = 0;  // pump thread only
  std::unique_ptr<ResourceSampler> sampler_;    // pump thread only
  WorkerMessage pending_resources_;             // pump thread only
  bool resources_header_sent_ = false;          // pump thread only
  std::mutex mu_;
  std::condition_variable cv_;
  bool write_in_flight_ = false;
  bool write_ok_ = true;
  bool call_cancelled_ = false;
  bool stalled_ = false;  // WriteAndWait gave up on the coordinator
};

WorkerService::WorkerService(WorkerServiceOptions options) : options_(std::move(options)) {}

WorkerService::~WorkerService() {
  BeginShutdown();
  WaitIdle();
}

grpc::ServerUnaryReactor* WorkerService::Describe(grpc::CallbackServerContext* context,
                                                  const llmbench::v1::DescribeRequest* /*request*/,
                                                  llmbench::v1::DescribeResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (grpc::Status auth = CheckCallToken(*context, options_.token); !auth.ok()) {
    reactor->Finish(auth);
    return reactor;
  }
  response->set_worker_id(options_.worker_id);
  response->set_version(kVersion);
  response->set_protocol_version(kProtocolVersion);
  response->set_cores(std::max(1u, std::thread::hardware_concurrency()));
  response->set_loop_threads(options_.loop_threads);
  response->set_max_concurrency(options_.max_concurrency);
  response->set_hostname(options_.hostname);
  response->set_busy(busy());
  response->set_unix_time_ns(UnixNowNs());
  for (std::string& name : options_.api_keys.SendableNames()) {
    response->add_api_key_envs(std::move(name));
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<WorkerMessage>* WorkerService::RunShard(
    grpc::CallbackServerContext* context, const llmbench::v1::RunShardRequest* request) {
  if (grpc::Status auth = CheckCallToken(*context, options_.token); !auth.ok()) {
    return new RefusedStream(auth);
  }
  const llmbench::v1::Shard& shard = request->shard();
  std::lock_guard<std::mutex> lock(mu_);
  if (shutting_down_) {
    return new RefusedStream(
        grpc::Status(grpc::StatusCode::UNAVAILABLE, "worker is shutting down"));
  }
  if (running_ != nullptr) {
    return new RefusedStream(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("worker busy: shard ", running_name_, " is running")));
  }
  ShardRunnerOptions runner_options;
  runner_options.loop_threads = options_.loop_threads;
  runner_options.max_concurrency = options_.max_concurrency;
  runner_options.queue_capacity = options_.queue_capacity;
  runner_options.worker_id = options_.worker_id;
  runner_options.api_keys = options_.api_keys;
  absl::StatusOr<std::unique_ptr<ShardRunner>> runner = ShardRunner::Create(shard, runner_options);
  if (!runner.ok()) return new RefusedStream(ToGrpcStatus(runner.status()));
  if (absl::Status status = (*runner)->Start(); !status.ok()) {
    return new RefusedStream(ToGrpcStatus(status));
  }
  spdlog::info("shard {}/{} started: {} loop threads", shard.run_id(), shard.shard_index(),
               (*runner)->loop_count());
  auto* stream = new ShardStream(this, context, *std::move(runner));
  running_ = stream;
  running_name_ = absl::StrCat(shard.run_id(), "/", shard.shard_index());
  ++active_streams_;
  stream->Begin();
  return stream;
}

grpc::ServerUnaryReactor* WorkerService::StopShard(grpc::CallbackServerContext* context,
                                                   const llmbench::v1::StopShardRequest* request,
                                                   llmbench::v1::StopShardResponse* /*response*/) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (grpc::Status auth = CheckCallToken(*context, options_.token); !auth.ok()) {
    reactor->Finish(auth);
    return reactor;
  }
  const std::string name = absl::StrCat(request->run_id(), "/", request->shard_index());
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (running_ == nullptr || running_name_ != name) {
      reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND,
                                   absl::StrCat("shard ", name, " is not running here")));
      return reactor;
    }
    spdlog::info("shard {} stopped by the coordinator", name);
    running_->Cancel();  // the pump flushes every record and the summary, then ends OK
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

void WorkerService::OnShardDone() {
  std::lock_guard<std::mutex> lock(mu_);
  running_ = nullptr;
  running_name_.clear();
}

void WorkerService::OnStreamFinished() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    --active_streams_;
  }
  idle_cv_.notify_all();
}

void WorkerService::BeginShutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  shutting_down_ = true;
  if (running_ != nullptr) running_->Cancel();
}

void WorkerService::WaitIdle() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_cv_.wait(lock, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return active_streams_ == 0;
  });
}

bool WorkerService::WaitIdleFor(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_cv_.wait_for(lock, timeout, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return active_streams_ == 0;
  });
}

bool WorkerService::busy() const {
  std::lock_guard<std::mutex> lock(mu_);
  return running_ != nullptr;
}

}  // namespace llmbench::worker
