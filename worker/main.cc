// llmbench-worker: the load-generating gRPC server (see worker/worker_service.h).
// Prints "listening grpc://HOST:PORT" on stdout once bound (port 0 = ephemeral) and shuts down
// gracefully on SIGTERM/SIGINT: new shards are refused, the running shard is cancelled and
// flushed, and the process exits 0. TLS, mutual TLS, the shared token and the server limits:
// worker/worker_service_security.h and docs/security.md.
// --monitor: serve only host monitoring (MonitorService, worker/worker_service_monitor.h) and
// health, with GPU samples through NVML (worker/nvml.h) where libnvidia-ml.so.1 loads; run it on
// the engine host. A normal worker serves MonitorService too (procfs only), and
// --gpu-telemetry adds the GPU samples to it and to its RunShard resource samples.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/version.h"
#include "worker/nvml.h"
#include "worker/worker_service.h"
#include "worker/worker_service_listener.h"
#include "worker/worker_service_monitor.h"
#include "worker/worker_service_security.h"

namespace {

// The shared token's environment variable, the same name the coordinator reads
// (coordinator/worker_client.h); kWorkerTokenEnv ($LLMBENCH_WORKER_TOKEN) is its older name,
// still read.
constexpr char kTokenEnv[] = "LLMBENCH_TOKEN";

// Which variable to read the token from when --token-file is absent: $LLMBENCH_TOKEN, else
// $LLMBENCH_WORKER_TOKEN, else none (nullptr). Both set to different tokens (surrounding
// whitespace ignored) is an error rather than a guess.
absl::StatusOr<const char*> TokenEnvToRead() {
  const char* current = std::getenv(kTokenEnv);
  const char* older = std::getenv(llmbench::worker::kWorkerTokenEnv);
  if (current != nullptr && older != nullptr &&
      absl::StripAsciiWhitespace(current) != absl::StripAsciiWhitespace(older)) {
    return absl::InvalidArgumentError(
        absl::StrCat("$", kTokenEnv, " and $", llmbench::worker::kWorkerTokenEnv,
                     " (its older name) are both set, to different tokens: unset one, or give "
                     "--token-file"));
  }
  if (current != nullptr) return kTokenEnv;
  if (older != nullptr) return llmbench::worker::kWorkerTokenEnv;
  return static_cast<const char*>(nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:50051";
  unsigned loop_threads = std::max(1u, std::thread::hardware_concurrency());
  unsigned max_concurrency = 10000;
  std::string log_level = "info";
  std::string worker_id;
  llmbench::worker::WorkerSecurityOptions security_options;
  unsigned max_message_mb = 64;
  bool monitor_only = false;
  bool gpu_telemetry = false;
  int max_connections = 128;
  std::vector<std::string> api_key_envs;
  pid_t exit_with_parent = 0;
  CLI::App app{"llmbench-worker: runs benchmark shards for the llmbench coordinator"};
  app.add_option("--listen", listen,
                 "gRPC address HOST:PORT (PORT 0 = ephemeral); default 127.0.0.1:50051, "
                 "loopback only: give 0.0.0.0:PORT to serve other machines (with TLS and a token)");
  app.add_option("--loop-threads", loop_threads, "event-loop threads (default: one per core)")
      ->check(CLI::Range(1u, 1024u));
  app.add_option("--max-concurrency", max_concurrency,
                 "largest closed-loop concurrency a shard may ask for")
      ->check(CLI::Range(1u, 1000000u));
  app.add_option("--worker-id", worker_id, "id put in every record (default HOSTNAME-PID)");
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  auto* tls_cert = app.add_option("--tls-cert", security_options.tls_cert_file,
                                  "PEM certificate chain: serve gRPC over TLS");
  auto* tls_key = app.add_option("--tls-key", security_options.tls_key_file,
                                 "PEM private key of --tls-cert");
  tls_cert->needs(tls_key);
  tls_key->needs(tls_cert);
  app.add_option("--tls-client-ca", security_options.tls_client_ca_file,
                 "PEM CA bundle: require client certificates signed by it (mutual TLS)")
      ->needs(tls_cert);
  app.add_option("--token-file", security_options.token_file,
                 "File holding the shared token every call must carry (default: "
                 "$LLMBENCH_TOKEN, as the coordinator reads it, or its older name "
                 "$LLMBENCH_WORKER_TOKEN; both set to different tokens is an error). A token is "
                 "never taken on the command line, which other local users can read in /proc");
  app.add_option("--max-connections", max_connections,
                 "Most gRPC connections open at once (default 128, at most a quarter of the "
                 "open-file limit); more are closed at once")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--api-key-env", api_key_envs,
                 "Name of an environment variable this worker may send to engines as their API "
                 "key when a shard names it (repeatable); variables named LLMBENCH_KEY_* are "
                 "always allowed. Any other name a shard gives is refused")
      ->take_all();
  app.add_option("--exit-with-parent", exit_with_parent,
                 "Stop (SIGTERM) when process PID, the one that started this worker, exits "
                 "(the coordinator's local workers)")
      ->check(CLI::Range(1, 1 << 30));
  app.add_option("--max-message-mb", max_message_mb,
                 "Largest gRPC message received or sent, in MiB (default 64)")
      ->check(CLI::Range(1u, 1024u));
  auto* monitor_flag = app.add_flag(
      "--monitor", monitor_only,
      "Monitor mode: serve only host monitoring (CPU, memory, network and GPU samples through "
      "NVML from libnvidia-ml.so.1) and health, for `llmbench --monitor ADDR`; run it on the "
      "engine host");
  app.add_flag("--gpu-telemetry", gpu_telemetry,
               "A normal worker that also samples the host's GPUs (NVML) in its resource samples "
               "and Monitor stream")
      ->excludes(monitor_flag);
  app.set_version_flag("--version", std::string(llmbench::kVersion));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return e.get_exit_code() == 0 ? rc : 2;
  }
  if (exit_with_parent != 0) {
    // Tied to the coordinator's life: SIGTERM when it dies, even by SIGKILL. It may have died
    // before prctl: then getppid() is no longer it.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != exit_with_parent) {
      std::cerr << "llmbench-worker: the process that started it (" << exit_with_parent
                << ") has exited\n";
      return 1;
    }
  }
  const uint64_t fd_limit = llmbench::worker::RaiseOpenFileLimit();
  auto logger = llmbench::InitLogging("worker", log_level);
  absl::StatusOr<const char*> token_env = static_cast<const char*>(nullptr);
  if (security_options.token_file.empty()) token_env = TokenEnvToRead();
  if (!token_env.ok()) {
    std::cerr << "llmbench-worker: " << token_env.status().message() << "\n";
    return 2;
  }
  absl::StatusOr<llmbench::worker::WorkerServerSecurity> security =
      llmbench::worker::LoadWorkerServerSecurity(security_options, *token_env);
  if (!security.ok()) {
    std::cerr << "llmbench-worker: " << security.status().message() << "\n";
    return 2;
  }

  // Signals are taken by sigwait below; every thread started from here on inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  char host_buffer[256] = {};
  gethostname(host_buffer, sizeof(host_buffer) - 1);
  // GPU telemetry: NVML loaded at run time; where it is absent the samples say why.
  std::unique_ptr<llmbench::worker::Nvml> nvml;
  std::string gpu_note =
      absl::StrCat(llmbench::worker::kNoGpuTelemetry,
                   "not requested (llmbench-worker --monitor or --gpu-telemetry)");
  if (monitor_only || gpu_telemetry) {
    absl::StatusOr<std::unique_ptr<llmbench::worker::Nvml>> loaded =
        llmbench::worker::Nvml::Load();
    if (loaded.ok()) {
      nvml = *std::move(loaded);
      gpu_note.clear();
      logger->info("GPU telemetry: {} GPU(s) through {}", nvml->devices().size(), nvml->library());
    } else {
      gpu_note = std::string(loaded.status().message());
      logger->warn("{}", gpu_note);
    }
  }
  llmbench::worker::WorkerServiceOptions options;
  options.hostname = host_buffer;
  options.worker_id = worker_id.empty() ? absl::StrCat(options.hostname, "-", getpid()) : worker_id;
  options.loop_threads = loop_threads;
  options.max_concurrency = max_concurrency;
  options.token = security->token;
  options.api_keys = llmbench::worker::ApiKeyPolicy(api_key_envs);
  options.nvml = nvml.get();
  options.gpu_note = gpu_note;
  llmbench::worker::WorkerService service(options);
  llmbench::worker::MonitorServiceOptions monitor_options;
  monitor_options.hostname = options.hostname;
  monitor_options.token = security->token;
  monitor_options.nvml = nvml.get();
  monitor_options.gpu_note = gpu_note;
  llmbench::worker::MonitorService monitor(monitor_options);

  // The health service answers without a token (it tells only SERVING, and orchestrators'
  // probes cannot send one); reflection is off when a token is required.
  grpc::EnableDefaultHealthCheckService(true);
  if (security->token.empty()) grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  // The worker binds and accepts itself (worker/worker_service_listener.h): no SO_REUSEPORT,
  // a connection cap, and it keeps accepting after running out of descriptors.
  absl::StatusOr<std::unique_ptr<llmbench::worker::WorkerListener>> listener =
      llmbench::worker::WorkerListener::Bind(listen);
  if (!listener.ok()) {
    std::cerr << "llmbench-worker: " << listener.status().message() << "\n";
    return 1;
  }
  const int port = (*listener)->port();
  grpc::ServerBuilder builder;
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor =
      builder.experimental().AddExternalConnectionAcceptor(
          grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD,
          security->credentials);
  if (!monitor_only) builder.RegisterService(&service);
  builder.RegisterService(&monitor);
  llmbench::worker::WorkerServerLimits limits;
  limits.max_message_bytes = static_cast<int>(max_message_mb) << 20;
  llmbench::worker::ConfigureWorkerServerBuilder(&builder, limits);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    std::cerr << "llmbench-worker: cannot start the gRPC server on " << listen << "\n";
    return 1;
  }
  const int connection_cap = llmbench::worker::EffectiveConnectionCap(max_connections, fd_limit);
  (*listener)->Start(std::move(acceptor), connection_cap, /*relay_headers=*/!security->tls,
                     limits.max_header_block_bytes);
  const std::string host = listen.substr(0, listen.rfind(':'));
  std::printf("listening grpc://%s:%d\n", host.c_str(), port);
  std::fflush(stdout);
  logger->info(
      "llmbench-worker {} listening on {}:{} ({}, {} loop threads, id {}, {}, {}, at most {} "
      "connections, open-file limit {})",
      llmbench::kVersion, host, port, monitor_only ? "monitor only" : "worker", loop_threads,
      options.worker_id,
      security->mutual_tls ? "mutual TLS" : (security->tls ? "TLS" : "plaintext"),
      security->token.empty() ? "no token" : "token required", connection_cap, fd_limit);
  const bool loopback = host.rfind("127.", 0) == 0 || host == "localhost" || host == "[::1]";
  if (!loopback && (!security->tls || security->token.empty())) {
    logger->warn(
        "listening on {} without {}: anyone who can reach this port can make this machine "
        "send load (see docs/security.md)",
        host, !security->tls ? "TLS" : "a token");
  }

  int received = 0;
  sigwait(&signals, &received);
  logger->info("signal {}: shutting down", received);
  // Cancel the running shard and let its stream flush records and summary; then stop the
  // server. Shutdown's deadline is short because nothing of ours is pending any more (an idle
  // connected client would otherwise hold Shutdown until its deadline); a stream stuck on a
  // client that stopped reading is cancelled by it.
  service.BeginShutdown();
  monitor.BeginShutdown();
  if (!service.WaitIdleFor(std::chrono::seconds(10)) ||
      !monitor.WaitIdleFor(std::chrono::seconds(1))) {
    logger->warn("the running shard did not flush within 10 s; cancelling its stream");
  }
  (*listener)->Stop();  // before Shutdown: gRPC leaks a descriptor handed over after it
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  service.WaitIdle();
  monitor.WaitIdle();
  logger->info("stopped");
  return 0;
}
