// llmbench-worker: the load-generating gRPC server (see worker/worker_service.h).
// Prints "listening grpc://HOST:PORT" on stdout once bound (port 0 = ephemeral) and shuts down
// gracefully on SIGTERM/SIGINT: new shards are refused, the running shard is cancelled and
// flushed, and the process exits 0.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/version.h"
#include "worker/worker_service.h"

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:50051";
  unsigned loop_threads = std::max(1u, std::thread::hardware_concurrency());
  unsigned max_concurrency = 10000;
  std::string log_level = "info";
  std::string worker_id;
  CLI::App app{"llmbench-worker: runs benchmark shards for the llmbench coordinator"};
  app.add_option("--listen", listen, "gRPC address HOST:PORT (PORT 0 = ephemeral)");
  app.add_option("--loop-threads", loop_threads, "event-loop threads (default: one per core)")
      ->check(CLI::Range(1u, 1024u));
  app.add_option("--max-concurrency", max_concurrency,
                 "largest closed-loop concurrency a shard may ask for")
      ->check(CLI::Range(1u, 1000000u));
  app.add_option("--worker-id", worker_id, "id put in every record (default HOSTNAME-PID)");
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.set_version_flag("--version", std::string(llmbench::kVersion));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return e.get_exit_code() == 0 ? rc : 2;
  }
  auto logger = llmbench::InitLogging("worker", log_level);

  // Signals are taken by sigwait below; every thread started from here on inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  char host_buffer[256] = {};
  gethostname(host_buffer, sizeof(host_buffer) - 1);
  llmbench::worker::WorkerServiceOptions options;
  options.hostname = host_buffer;
  options.worker_id = worker_id.empty() ? absl::StrCat(options.hostname, "-", getpid()) : worker_id;
  options.loop_threads = loop_threads;
  options.max_concurrency = max_concurrency;
  llmbench::worker::WorkerService service(options);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  llmbench::worker::ConfigureWorkerServerBuilder(&builder);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "llmbench-worker: cannot listen on " << listen << "\n";
    return 1;
  }
  const std::string host = listen.substr(0, listen.rfind(':'));
  std::printf("listening grpc://%s:%d\n", host.c_str(), port);
  std::fflush(stdout);
  logger->info("llmbench-worker {} listening on {}:{} ({} loop threads, id {})",
               llmbench::kVersion, host, port, loop_threads, options.worker_id);

  int received = 0;
  sigwait(&signals, &received);
  logger->info("signal {}: shutting down", received);
  // Cancel the running shard and let its stream flush records and summary; then stop the
  // server. Shutdown's deadline is short because nothing of ours is pending any more (an idle
  // connected client would otherwise hold Shutdown until its deadline); a stream stuck on a
  // client that stopped reading is cancelled by it.
  service.BeginShutdown();
  if (!service.WaitIdleFor(std::chrono::seconds(10))) {
    logger->warn("the running shard did not flush within 10 s; cancelling its stream");
  }
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  service.WaitIdle();
  logger->info("stopped");
  return 0;
}
