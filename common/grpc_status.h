// Conversion between absl::Status and grpc::Status at the RPC edge. The two share code
// numbers (both follow google.rpc.Code), so conversion keeps the code and the message.
// Include only from files that already speak gRPC.
#ifndef LLMBENCH_COMMON_GRPC_STATUS_H_
#define LLMBENCH_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace llmbench {

[[nodiscard]] grpc::Status ToGrpcStatus(const absl::Status& status);
[[nodiscard]] absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace llmbench

#endif  // LLMBENCH_COMMON_GRPC_STATUS_H_
