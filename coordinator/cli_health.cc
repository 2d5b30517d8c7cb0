#include "coordinator/cli_health.h"

#include <chrono>
#include <cstdio>

#include <CLI/CLI.hpp>

#include "absl/status/statusor.h"
#include "coordinator/worker_client.h"
#include "coordinator/worker_client_health.h"

namespace llmbench::coordinator {

void HealthCommand::Add(CLI::App* app) {
  command_ = app->add_subcommand(
      "health", "Ask a worker's gRPC health service whether it is SERVING (exit 0 if so)");
  command_->footer(
      "Examples:\n"
      "  llmbench health 127.0.0.1:50051\n"
      "  llmbench health 127.0.0.1:50051 --tls-ca ca.crt --tls-name llmbench-workers");
  command_->add_option("address", address_, "Worker address HOST:PORT")->required();
  command_->add_option("--tls-ca", tls_ca_, "PEM CA of the worker's certificate: use TLS");
  auto* cert = command_->add_option("--tls-cert", tls_cert_,
                                    "PEM client certificate for a worker that requires mutual TLS");
  auto* key = command_->add_option("--tls-key", tls_key_, "PEM private key of --tls-cert");
  cert->needs(key);
  key->needs(cert);
  command_->add_option("--tls-name", tls_name_,
                       "Name the worker's certificate must carry (default: the host of ADDRESS)");
  command_->add_option("--timeout", timeout_s_, "Seconds to wait for the answer (default 3)")
      ->check(CLI::Range(0.1, 600.0));
}

bool HealthCommand::Parsed() const { return command_ != nullptr && command_->parsed(); }

int HealthCommand::Run() const {
  absl::StatusOr<WorkerClientSecurity> security =
      LoadWorkerClientSecurity(tls_ca_, tls_cert_, tls_key_, "", nullptr);
  if (!security.ok()) {
    std::fprintf(stderr, "llmbench health: %s\n", std::string(security.status().message()).c_str());
    return 1;
  }
  security->tls_server_name = tls_name_;
  absl::StatusOr<std::string> serving = CheckWorkerHealth(
      address_, *security,
      std::chrono::milliseconds(static_cast<int64_t>(timeout_s_ * 1000)));
  if (!serving.ok()) {
    std::fprintf(stderr, "llmbench health: %s\n", std::string(serving.status().message()).c_str());
    return 1;
  }
  std::printf("%s: %s\n", address_.c_str(), serving->c_str());
  return *serving == "SERVING" ? 0 : 1;
}

}  // namespace llmbench::coordinator
