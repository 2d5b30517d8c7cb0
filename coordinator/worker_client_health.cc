#include "coordinator/worker_client_health.h"

#include <future>
#include <memory>
#include <vector>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"

namespace llmbench::coordinator {
namespace {

constexpr char kHealthCheckMethod[] = "/grpc.health.v1.Health/Check";

// HealthCheckResponse is one field: `ServingStatus status = 1` (a varint). Empty = UNKNOWN.
absl::StatusOr<std::string> ParseServingStatus(const std::string& bytes) {
  uint64_t value = 0;
  size_t i = 0;
  while (i < bytes.size()) {
    const uint8_t tag = static_cast<uint8_t>(bytes[i++]);
    if (tag != 0x08) return absl::DataLossError("unexpected field in HealthCheckResponse");
    value = 0;
    int shift = 0;
    while (true) {
      if (i >= bytes.size() || shift > 63) {
        return absl::DataLossError("truncated HealthCheckResponse");
      }
      const uint8_t byte = static_cast<uint8_t>(bytes[i++]);
      value |= uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80u) == 0) break;
      shift += 7;
    }
  }
  switch (value) {
    case 0: return std::string("UNKNOWN");
    case 1: return std::string("SERVING");
    case 2: return std::string("NOT_SERVING");
    case 3: return std::string("SERVICE_UNKNOWN");
    default: return absl::StrCat("STATUS_", value);
  }
}

}  // namespace

absl::StatusOr<std::string> CheckWorkerHealth(const std::string& address,
                                              const WorkerClientSecurity& security,
                                              std::chrono::milliseconds timeout) {
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  grpc::ChannelArguments args;
  if (security.tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = security.ca_pem;
    ssl.pem_cert_chain = security.cert_pem;
    ssl.pem_private_key = security.key_pem;
    credentials = grpc::SslCredentials(ssl);
    if (!security.tls_server_name.empty()) {
      args.SetSslTargetNameOverride(security.tls_server_name);
    }
  }
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(address, credentials, args);
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  context.set_wait_for_ready(false);
  grpc::Slice empty_request("");  // HealthCheckRequest{service: ""}: the server as a whole
  grpc::ByteBuffer request(&empty_request, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, kHealthCheckMethod, grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status status) { done.set_value(std::move(status)); });
  const grpc::Status status = done.get_future().get();
  if (!status.ok()) return WorkerCallError(address, FromGrpcStatus(status), &security);
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) {
    return absl::DataLossError(absl::StrCat("worker ", address, ": unreadable health answer"));
  }
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  absl::StatusOr<std::string> serving = ParseServingStatus(bytes);
  if (!serving.ok()) {
    return absl::DataLossError(
        absl::StrCat("worker ", address, ": ", serving.status().message()));
  }
  return serving;
}

}  // namespace llmbench::coordinator
