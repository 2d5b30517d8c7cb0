// Expands the coordinator's `--workers` list into the addresses it dials, one per worker.
//
// Each entry is HOST:PORT. A literal address (`10.0.0.5:50051`, `[fd00::5]:50051`), `localhost`
// and gRPC target URIs (`dns:///...`, `ipv4:...`, `unix:...`) are dialled as given. Any other
// host is a DNS name: it is resolved (every A and AAAA record, via the system resolver, so
// /etc/hosts counts) and every distinct address it resolves to becomes one worker, in a stable
// order (IPv4 before IPv6, then numerically). A Kubernetes headless Service name therefore
// stands for every ready worker pod behind it. A name that resolves to exactly one address is
// dialled by name, as before. A name that resolves to nothing is an error naming it.
//
// Workers found through a name are dialled by IP; `tls_name` keeps the name so that TLS still
// verifies the worker's certificate against the name given (it must be in its
// subjectAltName; docs/deploy.md).
//
// Thread-safety: free functions without shared state; ResolveHost calls getaddrinfo, which is
// thread-safe.
#ifndef LLMBENCH_COORDINATOR_WORKER_ADDRESSES_H_
#define LLMBENCH_COORDINATOR_WORKER_ADDRESSES_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace llmbench::coordinator {

struct WorkerAddress {
  std::string address;   // what the coordinator dials: "IP:PORT", "[IPv6]:PORT" or as given
  std::string tls_name;  // host name TLS verifies the worker against; "" = the host of address
};

// Resolves a host name to numeric addresses ("10.0.0.5", "fd00::5"), in any order and possibly
// with duplicates. An error (or an empty list) when the name does not resolve.
using HostResolver =
    std::function<absl::StatusOr<std::vector<std::string>>(const std::string& host)>;

// The system resolver (getaddrinfo, AF_UNSPEC, SOCK_STREAM): every address of `host`.
// NotFound with getaddrinfo's message when the name does not resolve.
absl::StatusOr<std::vector<std::string>> ResolveHost(const std::string& host);

// Expands `specs` (the --workers entries, in order) into one WorkerAddress per worker.
// InvalidArgument for an empty entry, a missing or bad port; NotFound for a name that
// resolves to no address. Errors start with "--workers ENTRY: ".
absl::StatusOr<std::vector<WorkerAddress>> ExpandWorkerAddresses(
    const std::vector<std::string>& specs, const HostResolver& resolver = ResolveHost);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_WORKER_ADDRESSES_H_
