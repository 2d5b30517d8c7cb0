// A connection to one llmbench-worker over gRPC: Describe (with clock-offset estimation) and
// RunShard (a server stream read on the calling thread). With WorkerClientSecurity it speaks
// TLS (verifying the worker against a given CA), presents a client certificate (mutual TLS),
// and sends the shared token as "authorization: Bearer <token>" metadata on every call
// (see docs/security.md).
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
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "llmbench/v1/scenario.pb.h"
#include "llmbench/v1/worker.pb.h"

namespace grpc {
class Channel;
class ClientContext;
}  // namespace grpc

namespace llmbench::coordinator {

// Environment variable read for the token when --token-file is not given.
inline constexpr char kCoordinatorTokenEnv[] = "LLMBENCH_TOKEN";

struct WorkerClientSecurity {
  std::string token;    // sent on every call; "" = none
  bool tls = false;     // TLS on: verify the worker's certificate against ca_pem
  std::string ca_pem;   // PEM roots the worker's certificate must chain to
  std::string cert_pem; // client certificate chain for mutual TLS ("" = none)
  std::string key_pem;  // its private key
  // Name the worker's certificate is verified against when the address dialled is an IP found
  // through a DNS name (coordinator/worker_addresses.h); "" = the host of the address.
  std::string tls_server_name;
};

// Reads --tls-ca, --tls-cert, --tls-key and --token-file (each "" = not given; without
// --token-file the token comes from $`token_env` when set). TLS is on when `ca_file` is given;
// the client certificate needs it, and cert and key go together. Errors name the flag and
// the file, never a secret.
absl::StatusOr<WorkerClientSecurity> LoadWorkerClientSecurity(
    const std::string& ca_file, const std::string& cert_file, const std::string& key_file,
    const std::string& token_file, const char* token_env = kCoordinatorTokenEnv);

// The error of a failed call to the worker at `address`, as "worker ADDRESS: MESSAGE", said
// plainly: a refused connection (nothing listens there) becomes "nothing is listening at
// ADDRESS (connection refused): start llmbench-worker there or check the address"; an
// UNAUTHENTICATED one names --token-file and $LLMBENCH_TOKEN. The code is kept.
// With `security` given and TLS on, a connection the worker closed during or right after the
// TLS handshake ("Socket closed": what a mutual-TLS worker does to a client without an
// acceptable certificate; gRPC reports nothing more precise) gets a hint: without a client
// certificate "(the worker closed the TLS connection: it requires a client certificate (mutual
// TLS): give --tls-cert and --tls-key)", with one "(the worker closed the TLS connection: it
// refused our client certificate (mutual TLS): --tls-cert must be signed by the CA the worker
// was given with --tls-client-ca)".
absl::Status WorkerCallError(const std::string& address, const absl::Status& status,
                             const WorkerClientSecurity* security = nullptr);

// The distinct Engine.api_key_env names `scenario` uses, in engine order (for local workers'
// --api-key-env).
std::vector<std::string> ApiKeyEnvs(const llmbench::v1::Scenario& scenario);

// OK when the worker at `address` reported (Describe.api_key_envs) every API key variable the
// scenario's engines name; else FailedPrecondition, before any load, e.g. "configuration error:
// engine vllm names api_key_env OPENAI_API_KEY, which worker ADDR does not send (it sends
// LLMBENCH_KEY_A): start that worker with --api-key-env OPENAI_API_KEY and the variable set in
// its environment, or use a variable named LLMBENCH_KEY_*".
absl::Status CheckWorkerApiKeys(const llmbench::v1::Scenario& scenario, const std::string& address,
                                const llmbench::v1::DescribeResponse& describe);

// A fresh random token (256 bits from getrandom, hex) for local workers.
absl::StatusOr<std::string> NewRandomToken();

struct WorkerInfo {
  llmbench::v1::DescribeResponse describe;
  int64_t clock_offset_ns = 0;  // worker wall clock − coordinator wall clock (best of N probes)
  int64_t rtt_ns = 0;           // round trip of the probe the offset came from
};

// What the dispatcher needs of a worker (coordinator/dispatch.h): the seam in front of the
// gRPC client, so that failover and reassignment are unit-tested with scripted workers.
// WorkerClient is the real one.
class WorkerConnection {
 public:
  virtual ~WorkerConnection() = default;
  virtual const std::string& address() const = 0;
  // Version, limits and the worker's clock offset.
  virtual absl::StatusOr<WorkerInfo> Describe() = 0;
  // Runs `shard`; every message goes to `on_message` on the calling thread; OK when the
  // stream ended normally.
  virtual absl::Status RunShard(
      const llmbench::v1::Shard& shard,
      const std::function<void(llmbench::v1::WorkerMessage&)>& on_message) = 0;
  // Stops the running shard gracefully (its stream still delivers everything).
  virtual absl::Status StopShard(const std::string& run_id, uint32_t shard_index) = 0;
  // Cuts the running stream at once (what was not delivered is lost).
  virtual void Cancel() = 0;
};

class WorkerClient final : public WorkerConnection {
 public:
  explicit WorkerClient(std::string address, WorkerClientSecurity security = {});
  ~WorkerClient() override;
  WorkerClient(const WorkerClient&) = delete;
  WorkerClient& operator=(const WorkerClient&) = delete;

  const std::string& address() const override { return address_; }
  absl::StatusOr<WorkerInfo> Describe() override { return Describe(5, 5000); }

  // Describes the worker `probes` times and keeps the offset of the probe with the smallest
  // round trip (NTP-style midpoint). Fails with the gRPC status, prefixed with the address;
  // the first probe retries an unreachable worker until `timeout_ms` and then reports the
  // last connection error (a TLS handshake failure, a refused connection).
  absl::StatusOr<WorkerInfo> Describe(int probes, int timeout_ms);

  // Runs `shard` to completion, calling `on_message` for every message (on this thread; the
  // callee may modify the message, which is reused for the next one). Returns OK when the
  // worker closed the stream normally.
  absl::Status RunShard(
      const llmbench::v1::Shard& shard,
      const std::function<void(llmbench::v1::WorkerMessage&)>& on_message) override;

  // Streams host monitoring (MonitorService.Monitor) until Cancel(), calling `on_message` for
  // every ResourceSeries (on this thread). Returns the stream's end status, prefixed with the
  // address; CANCELLED after Cancel().
  absl::Status Monitor(uint32_t interval_ms,
                       const std::function<void(const llmbench::v1::ResourceSeries&)>& on_message);

  // Asks the worker to stop shard `run_id`/`shard_index` gracefully (StopShard): the running
  // RunShard then receives every record (in-flight requests as cancelled) and the summary and
  // returns OK. May be called from any thread while RunShard runs.
  absl::Status StopShard(const std::string& run_id, uint32_t shard_index) override {
    return StopShard(run_id, shard_index, 2000);
  }
  absl::Status StopShard(const std::string& run_id, uint32_t shard_index, int timeout_ms);

  // Cancels a running RunShard or Monitor at once: what the worker had not sent is lost.
  void Cancel() override;

 private:
  // Runs one server-streaming call: `start(context)` opens it; every message goes to
  // `on_message` until the stream ends; Cancel() cancels it meanwhile.
  template <typename Message, typename Start, typename OnMessage>
  absl::Status ReadServerStream(Start start, const OnMessage& on_message);

  const std::string address_;
  const std::string token_;
  const bool tls_;
  const bool client_cert_;  // mutual TLS: a client certificate is presented
  std::shared_ptr<grpc::Channel> channel_;  // shared with gRPC stubs
  std::mutex mu_;
  grpc::ClientContext* running_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_WORKER_CLIENT_H_
