// `llmbench health ADDRESS`: asks a worker's gRPC health service whether it is SERVING and
// exits 0 when it is, 1 otherwise (printing why) — the check behind the container image's
// HEALTHCHECK and the Kubernetes exec probes (deploy/, docs/deploy.md). Speaks TLS or mutual
// TLS like `llmbench run`; needs no token (the health service answers without one).
//
// Thread-safety: one instance per command line, used on the main thread.
#ifndef LLMBENCH_COORDINATOR_CLI_HEALTH_H_
#define LLMBENCH_COORDINATOR_CLI_HEALTH_H_

#include <string>

namespace CLI {
class App;
}  // namespace CLI

namespace llmbench::coordinator {

class HealthCommand {
 public:
  // Adds the `health` subcommand and its flags to `app`.
  void Add(CLI::App* app);
  // True when the command line chose `health` (after app->parse).
  bool Parsed() const;
  // Runs the check; returns the process exit status (0 SERVING, 1 anything else).
  int Run() const;

 private:
  CLI::App* command_ = nullptr;
  std::string address_;
  std::string tls_ca_, tls_cert_, tls_key_, tls_name_;
  double timeout_s_ = 3;
};

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_CLI_HEALTH_H_
