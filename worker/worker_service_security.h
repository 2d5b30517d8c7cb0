// Transport security and resource limits of the worker's gRPC server (see docs/security.md):
//
//   TLS          --tls-cert/--tls-key: grpc::SslServerCredentials with that key pair.
//   mutual TLS   --tls-client-ca as well: every client must present a certificate signed by
//                that CA (GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY).
//   token        --token-file FILE or $LLMBENCH_WORKER_TOKEN (never a value on the command
//                line: /proc/<pid>/cmdline is readable by every local user). Every call must
//                carry "authorization: Bearer <token>"; the comparison is constant-time and a
//                refusal is UNAUTHENTICATED "missing or wrong llmbench token",
//                which never echoes what was presented.
//   limits       message sizes, concurrent streams per connection, handshake timeout, memory
//                quota and keepalive enforcement agreed with the coordinator's client.
//
// Thread-safety: the functions are thread-safe; WorkerServerSecurity is an immutable value.
#ifndef LLMBENCH_WORKER_WORKER_SERVICE_SECURITY_H_
#define LLMBENCH_WORKER_WORKER_SERVICE_SECURITY_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace llmbench::worker {

// The status message of a call refused for its token.
inline constexpr char kTokenRefusedMessage[] = "missing or wrong llmbench token";
// Environment variable read for the token when --token-file is not given.
inline constexpr char kWorkerTokenEnv[] = "LLMBENCH_WORKER_TOKEN";

struct WorkerSecurityOptions {
  std::string tls_cert_file;       // PEM certificate chain; with tls_key_file turns TLS on
  std::string tls_key_file;        // PEM private key
  std::string tls_client_ca_file;  // PEM CA bundle; turns mutual TLS on (needs TLS)
  std::string token_file;          // shared token; "" = $LLMBENCH_WORKER_TOKEN, else none
};

struct WorkerServerSecurity {
  std::shared_ptr<grpc::ServerCredentials> credentials;
  std::string token;  // "" = no token required
  bool tls = false;
  bool mutual_tls = false;
};

// Reads the files named by `options` (and the token environment variable `token_env`, when
// not null and --token-file is absent). Errors name the flag and the file, never a secret.
absl::StatusOr<WorkerServerSecurity> LoadWorkerServerSecurity(const WorkerSecurityOptions& options,
                                                              const char* token_env = kWorkerTokenEnv);


// Constant-time equality: the time depends on the lengths only, not on where they differ.
bool TokensEqual(std::string_view expected, std::string_view presented);

// OK when `expected` is empty or the call's "authorization" metadata is "Bearer <expected>";
// else UNAUTHENTICATED kTokenRefusedMessage.
grpc::Status CheckCallToken(const grpc::ServerContextBase& context, std::string_view expected);

struct WorkerServerLimits {
  // Largest message received or sent. A shard carries its whole prompt set, so this bounds
  // the prompt set one worker can be given (the coordinator's client allows 64 MiB too).
  int max_message_bytes = 64 << 20;
  // Concurrent calls (HTTP/2 streams) per connection; the coordinator uses two at most.
  int max_concurrent_streams = 16;
  // Memory gRPC may use for connections and calls, and its thread cap.
  int64_t memory_quota_bytes = int64_t{1} << 30;
  int max_threads = 64;
  // A connection that has not finished its TLS/HTTP/2 handshake by then is closed.
  int handshake_timeout_ms = 10'000;
  // Largest header list of a call (GRPC_ARG_MAX_METADATA_SIZE, checked by gRPC per field).
  int max_metadata_bytes = 16 << 10;
  // Largest HTTP/2 header block (HEADERS + CONTINUATION frames, encoded) on a plaintext
  // connection: a longer one closes the connection before gRPC parses it
  // (worker/worker_service_header_guard.h).
  uint32_t max_header_block_bytes = 64 << 10;
};

// Server channel settings: the limits above, keepalive pings every 10 s (timeout 10 s: a
// coordinator that stopped answering, e.g. SIGSTOPped, loses its calls within 20 s),
// and keepalive enforcement that accepts the coordinator's pings (one every 10 s, even with
// no call running) with a 2x margin: pings closer than 5 s apart count as strikes, and a
// client that keeps doing so is sent GOAWAY.
void ConfigureWorkerServerBuilder(grpc::ServerBuilder* builder,
                                  const WorkerServerLimits& limits = {});

}  // namespace llmbench::worker

#endif  // LLMBENCH_WORKER_WORKER_SERVICE_SECURITY_H_
