#include "coordinator/worker_client.h"

#include <chrono>
#include <limits>
#include <utility>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/grpc_status.h"
#include "llmbench/v1/worker.grpc.pb.h"

namespace llmbench::coordinator {
namespace {

constexpr int kMaxMessageBytes = 64 << 20;

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  // Keepalive agreed with the worker: a dead peer is noticed within ~20 s even when idle.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

absl::Status WithAddress(const std::string& address, const grpc::Status& status) {
  absl::Status s = FromGrpcStatus(status);
  return absl::Status(s.code(), absl::StrCat("worker ", address, ": ", s.message()));
}

}  // namespace

WorkerClient::WorkerClient(std::string address)
    : address_(std::move(address)), channel_(MakeChannel(address_)) {}

WorkerClient::~WorkerClient() = default;

absl::StatusOr<WorkerInfo> WorkerClient::Describe(int probes, int timeout_ms) {
  auto stub = llmbench::v1::WorkerService::NewStub(channel_);
  const Clock& clock = SteadyClock::Get();
  WorkerInfo best;
  best.rtt_ns = std::numeric_limits<int64_t>::max();
  for (int i = 0; i < probes; ++i) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
    if (i == 0) context.set_wait_for_ready(true);
    llmbench::v1::DescribeResponse response;
    const int64_t t0_mono = clock.NowNs();
    const int64_t t0_unix = clock.UnixNowNs();
    grpc::Status status = stub->Describe(&context, llmbench::v1::DescribeRequest(), &response);
    const int64_t rtt = clock.NowNs() - t0_mono;
    if (!status.ok()) return WithAddress(address_, status);
    if (rtt < best.rtt_ns) {
      best.rtt_ns = rtt;
      best.clock_offset_ns = response.unix_time_ns() - (t0_unix + rtt / 2);
      best.describe = std::move(response);
    }
  }
  return best;
}

absl::Status WorkerClient::RunShard(
    const llmbench::v1::Shard& shard,
    const std::function<void(const llmbench::v1::WorkerMessage&)>& on_message) {
  auto stub = llmbench::v1::WorkerService::NewStub(channel_);
  grpc::ClientContext context;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (cancelled_) return absl::CancelledError(absl::StrCat("worker ", address_, ": cancelled"));
    running_ = &context;
  }
  llmbench::v1::RunShardRequest request;
  *request.mutable_shard() = shard;
  std::unique_ptr<grpc::ClientReader<llmbench::v1::WorkerMessage>> reader =
      stub->RunShard(&context, request);
  llmbench::v1::WorkerMessage message;
  while (reader->Read(&message)) on_message(message);
  grpc::Status status = reader->Finish();
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_ = nullptr;
  }
  if (!status.ok()) return WithAddress(address_, status);
  return absl::OkStatus();
}

void WorkerClient::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  if (running_ != nullptr) running_->TryCancel();
}

}  // namespace llmbench::coordinator
