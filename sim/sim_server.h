// llmbench-sim's HTTP server: Boost.Beast/Asio, one io_context per thread, one simulated engine
// (BatchScheduler + one shared decode-step timer) per --listen endpoint, speaking Ollama, vLLM
// or TGI byte-faithfully (see shared/engines/PROTOCOLS.md), with fault injection and metrics.
//
// Lifetime: Start() binds every listener (after it returns, Endpoints() holds the real ports);
// Run() serves on the calling thread plus threads-1 more until Stop() (or SIGINT/SIGTERM when
// handle_signals). Thread-safety: Stop() may be called from any thread; the rest from one.
#ifndef LLMBENCH_SIM_SIM_SERVER_H_
#define LLMBENCH_SIM_SIM_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "sim/sim_config.h"

namespace llmbench::sim {

struct BoundEndpoint {
  EngineKind kind;
  std::string host;
  uint16_t port;
};

class SimServer {
 public:
  explicit SimServer(SimConfig config);
  ~SimServer();
  SimServer(const SimServer&) = delete;
  SimServer& operator=(const SimServer&) = delete;

  [[nodiscard]] absl::Status Start();
  const std::vector<BoundEndpoint>& Endpoints() const;
  // Blocks until stopped.
  void Run(bool handle_signals);
  void Stop();

  struct State;

 private:
  std::unique_ptr<State> state_;
};

// "listening vllm http://127.0.0.1:8000"
std::string ListeningLine(const BoundEndpoint& ep);

}  // namespace llmbench::sim

#endif  // LLMBENCH_SIM_SIM_SERVER_H_
