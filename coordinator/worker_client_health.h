// Asks an llmbench-worker's standard gRPC health service (grpc.health.v1.Health/Check, which
// answers without the shared token) whether it is SERVING — over TLS or mutual TLS when
// `security` says so. `llmbench health` uses it, and the container image's HEALTHCHECK and the
// Kubernetes exec probes call that (deploy/, docs/deploy.md): the kubelet's built-in gRPC
// probe cannot speak TLS.
//
// Thread-safety: a free function; each call opens its own channel.
#ifndef LLMBENCH_COORDINATOR_WORKER_CLIENT_HEALTH_H_
#define LLMBENCH_COORDINATOR_WORKER_CLIENT_HEALTH_H_

#include <chrono>
#include <string>

#include "absl/status/statusor.h"
#include "coordinator/worker_client.h"

namespace llmbench::coordinator {

// The ServingStatus name the worker answered: "SERVING", "NOT_SERVING", "UNKNOWN" or
// "SERVICE_UNKNOWN". An error (gRPC's, prefixed with "worker ADDRESS: ") when the call fails,
// e.g. nothing listens, TLS fails, or no answer within `timeout`.
absl::StatusOr<std::string> CheckWorkerHealth(const std::string& address,
                                              const WorkerClientSecurity& security,
                                              std::chrono::milliseconds timeout);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_WORKER_CLIENT_HEALTH_H_
