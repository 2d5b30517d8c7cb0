#include "coordinator/worker_client.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>
#include <utility>

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/clock.h"
#include "common/grpc_status.h"
#include "common/files.h"
#include "common/status.h"
#include "llmbench/v1/worker.grpc.pb.h"

namespace llmbench::coordinator {
namespace {

constexpr int kMaxMessageBytes = 64 << 20;

std::shared_ptr<grpc::ChannelCredentials> MakeCredentials(const WorkerClientSecurity& security) {
  if (!security.tls) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = security.ca_pem;
  ssl.pem_cert_chain = security.cert_pem;
  ssl.pem_private_key = security.key_pem;
  return grpc::SslCredentials(ssl);
}

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address,
                                           const WorkerClientSecurity& security) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  // Keepalive agreed with the worker: a dead peer is noticed within ~20 s even when idle.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  if (security.tls && !security.tls_server_name.empty()) {
    args.SetSslTargetNameOverride(security.tls_server_name);
  }
  return grpc::CreateCustomChannel(address, MakeCredentials(security), args);
}

absl::Status WithAddress(const std::string& address, const grpc::Status& status,
                         const WorkerClientSecurity* security = nullptr) {
  return WorkerCallError(address, FromGrpcStatus(status), security);
}

// gRPC reports a refused TCP connection as UNAVAILABLE with the socket error in its message
// ("... Failed to connect to remote host: Connection refused").
bool ConnectionRefused(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable &&
         absl::StrContains(absl::AsciiStrToLower(status.message()), "connection refused");
}

}  // namespace

absl::Status WorkerCallError(const std::string& address, const absl::Status& status,
                             const WorkerClientSecurity* security) {
  if (security != nullptr && security->tls && status.code() == absl::StatusCode::kUnavailable &&
      absl::StrContains(status.message(), "Socket closed")) {
    const std::string hint =
        security->cert_pem.empty()
            ? "(the worker closed the TLS connection: it requires a client certificate (mutual "
              "TLS): give --tls-cert and --tls-key)"
            : "(the worker closed the TLS connection: it refused our client certificate (mutual "
              "TLS): --tls-cert must be signed by the CA the worker was given with "
              "--tls-client-ca)";
    return absl::UnavailableError(
        absl::StrCat("worker ", address, ": ", status.message(), " ", hint));
  }
  if (ConnectionRefused(status)) {
    return absl::UnavailableError(absl::StrCat(
        "worker ", address, ": nothing is listening at ", address,
        " (connection refused): start llmbench-worker there or check the address"));
  }
  std::string hint;
  if (status.code() == absl::StatusCode::kUnauthenticated) {
    hint = absl::StrCat(" (give the worker's token with --token-file or $", kCoordinatorTokenEnv,
                        ")");
  }
  return absl::Status(status.code(),
                      absl::StrCat("worker ", address, ": ", status.message(), hint));
}

absl::StatusOr<WorkerClientSecurity> LoadWorkerClientSecurity(const std::string& ca_file,
                                                              const std::string& cert_file,
                                                              const std::string& key_file,
                                                              const std::string& token_file,
                                                              const char* token_env) {
  WorkerClientSecurity security;
  if (cert_file.empty() != key_file.empty()) {
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together");
  }
  if (!cert_file.empty() && ca_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert/--tls-key (mutual TLS) need TLS: give --tls-ca, the CA of the workers' "
        "certificates");
  }
  if (!ca_file.empty()) {
    security.tls = true;
    absl::StatusOr<std::string> ca = ReadPemFile(ca_file, "--tls-ca");
    if (!ca.ok()) return ca.status();
    security.ca_pem = *std::move(ca);
    if (!cert_file.empty()) {
      absl::StatusOr<std::string> cert = ReadPemFile(cert_file, "--tls-cert");
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key = ReadPemFile(key_file, "--tls-key");
      if (!key.ok()) return key.status();
      security.cert_pem = *std::move(cert);
      security.key_pem = *std::move(key);
    }
  }
  LLMBENCH_ASSIGN_OR_RETURN(security.token, LoadToken(token_file, token_env));
  return security;
}

std::vector<std::string> ApiKeyEnvs(const llmbench::v1::Scenario& scenario) {
  std::vector<std::string> names;
  for (const llmbench::v1::Engine& engine : scenario.engines()) {
    const std::string& name = engine.api_key_env();
    if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(name);
    }
  }
  return names;
}

absl::Status CheckWorkerApiKeys(const llmbench::v1::Scenario& scenario, const std::string& address,
                                const llmbench::v1::DescribeResponse& describe) {
  for (const llmbench::v1::Engine& engine : scenario.engines()) {
    const std::string& name = engine.api_key_env();
    if (name.empty() || std::find(describe.api_key_envs().begin(), describe.api_key_envs().end(),
                                  name) != describe.api_key_envs().end()) {
      continue;
    }
    const std::string sends =
        describe.api_key_envs().empty()
            ? "it sends no API key variable"
            : absl::StrCat("it sends ", absl::StrJoin(describe.api_key_envs(), ", "));
    return absl::FailedPreconditionError(absl::StrCat(
        "configuration error: engine ", engine.name(), " names api_key_env ", name,
        ", which worker ", address, " does not send (", sends, "): start that worker with "
        "--api-key-env ", name, " and the variable set in its environment, or use a variable "
        "named LLMBENCH_KEY_*"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> NewRandomToken() {
  unsigned char bytes[32];
  size_t got = 0;
  while (got < sizeof(bytes)) {
    ssize_t n = getrandom(bytes + got, sizeof(bytes) - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("getrandom: ", std::strerror(errno)));
    }
    got += static_cast<size_t>(n);
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

WorkerClient::WorkerClient(std::string address, WorkerClientSecurity security)
    : address_(std::move(address)),
      token_(std::move(security.token)),
      tls_(security.tls),
      client_cert_(!security.cert_pem.empty()),
      channel_(MakeChannel(address_, security)) {}

WorkerClient::~WorkerClient() = default;

absl::StatusOr<WorkerInfo> WorkerClient::Describe(int probes, int timeout_ms) {
  auto stub = llmbench::v1::WorkerService::NewStub(channel_);
  const Clock& clock = SteadyClock::Get();
  WorkerInfo best;
  best.rtt_ns = std::numeric_limits<int64_t>::max();
  // The first probe fails fast and is retried until the deadline, so that a worker still
  // starting is waited for and one that refuses us (TLS) is reported with gRPC's own reason
  // rather than a bare "Deadline Exceeded".
  const auto first_deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (int i = 0; i < probes; ++i) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
    if (!token_.empty()) context.AddMetadata("authorization", absl::StrCat("Bearer ", token_));
    llmbench::v1::DescribeResponse response;
    const int64_t t0_mono = clock.NowNs();
    const int64_t t0_unix = clock.UnixNowNs();
    grpc::Status status = stub->Describe(&context, llmbench::v1::DescribeRequest(), &response);
    const int64_t rtt = clock.NowNs() - t0_mono;
    if (i == 0 && status.error_code() == grpc::StatusCode::UNAVAILABLE &&
        std::chrono::steady_clock::now() + std::chrono::milliseconds(100) < first_deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      --i;
      continue;
    }
    if (!status.ok()) {
      WorkerClientSecurity shown;  // what the TLS hint needs: TLS on, a certificate or not
      shown.tls = tls_;
      if (client_cert_) shown.cert_pem = "present";
      absl::Status error = WithAddress(address_, status, i == 0 ? &shown : nullptr);
      if (i == 0 && !tls_ && status.error_code() == grpc::StatusCode::UNAVAILABLE &&
          !ConnectionRefused(FromGrpcStatus(status))) {
        // A TLS worker closes a plaintext connection: say so, it is the likely cause. Not for
        // a refused connection: nothing listens there, TLS or not.
        return absl::UnavailableError(absl::StrCat(
            error.message(), " (if the worker serves TLS, give its CA with --tls-ca)"));
      }
      return error;
    }
    if (rtt < best.rtt_ns) {
      best.rtt_ns = rtt;
      best.clock_offset_ns = response.unix_time_ns() - (t0_unix + rtt / 2);
      best.describe = std::move(response);
    }
  }
  return best;
}

template <typename Message, typename Start, typename OnMessage>
absl::Status WorkerClient::ReadServerStream(Start start, const OnMessage& on_message) {
  grpc::ClientContext context;
  if (!token_.empty()) context.AddMetadata("authorization", absl::StrCat("Bearer ", token_));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (cancelled_) return absl::CancelledError(absl::StrCat("worker ", address_, ": cancelled"));
    running_ = &context;
  }
  std::unique_ptr<grpc::ClientReader<Message>> reader = start(&context);
  Message message;
  while (reader->Read(&message)) on_message(message);
  grpc::Status status = reader->Finish();
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_ = nullptr;
  }
  if (!status.ok()) return WithAddress(address_, status);
  return absl::OkStatus();
}

absl::Status WorkerClient::RunShard(
    const llmbench::v1::Shard& shard,
    const std::function<void(llmbench::v1::WorkerMessage&)>& on_message) {
  auto stub = llmbench::v1::WorkerService::NewStub(channel_);
  llmbench::v1::RunShardRequest request;
  *request.mutable_shard() = shard;
  return ReadServerStream<llmbench::v1::WorkerMessage>(
      [&](grpc::ClientContext* context) { return stub->RunShard(context, request); },
      on_message);
}

absl::Status WorkerClient::StopShard(const std::string& run_id, uint32_t shard_index,
                                     int timeout_ms) {
  auto stub = llmbench::v1::WorkerService::NewStub(channel_);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
  if (!token_.empty()) context.AddMetadata("authorization", absl::StrCat("Bearer ", token_));
  llmbench::v1::StopShardRequest request;
  request.set_run_id(run_id);
  request.set_shard_index(shard_index);
  llmbench::v1::StopShardResponse response;
  grpc::Status status = stub->StopShard(&context, request, &response);
  if (!status.ok()) return WithAddress(address_, status);
  return absl::OkStatus();
}

absl::Status WorkerClient::Monitor(
    uint32_t interval_ms,
    const std::function<void(const llmbench::v1::ResourceSeries&)>& on_message) {
  auto stub = llmbench::v1::MonitorService::NewStub(channel_);
  llmbench::v1::MonitorRequest request;
  request.set_interval_ms(interval_ms);
  return ReadServerStream<llmbench::v1::ResourceSeries>(
      [&](grpc::ClientContext* context) { return stub->Monitor(context, request); },
      on_message);
}

void WorkerClient::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  if (running_ != nullptr) running_->TryCancel();
}

}  // namespace llmbench::coordinator
