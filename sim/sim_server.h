// llmbench-sim's HTTP server: Boost.Beast/Asio, one io_context per thread, one simulated engine
// (BatchScheduler + one shared decode-step timer) per --listen endpoint, speaking Ollama, vLLM
// or TGI byte-faithfully (see shared/engines/PROTOCOLS.md), with fault injection and metrics.
//
// Files, by job: sim_server.cc (listeners, io_context threads, signals); sim_engine.h (Engine:
// scheduler, step timer, live sequences); engine_stats.h (its counters and Prometheus text);
// http_session.h (Session: one connection's reads, writes, backpressure and generations);
// routes.h (routing and the static endpoints); token_render.h (a generation's wire units);
// faults.h (the faults' wire bytes); protocol_writers.h (each engine's JSON units).
//
// Lifetime: HandleSignals() (optional, first) makes SIGINT/SIGTERM stop the server from then
// on, even if they arrive before Run(); Start() binds every listener (after it returns,
// Endpoints() holds the real ports); Run() serves on the calling thread plus threads-1 more
// until Stop() or a handled signal, then returns promptly even under load (the io_contexts stop;
// the destructor closes every socket and frees every buffer). Thread-safety: Stop() may be
// called from any thread; the rest from one.
//
// Backpressure: a connection keeps at most one write in flight and queues later output. When
// its unwritten output (queued + in flight) exceeds kMaxUnwrittenBytes, its sequence is stalled
// in the scheduler (BatchScheduler::SetStalled: it keeps its batch slot, gets no tokens, and
// decode steps neither wait for it nor count it) until the output drains back to the cap, as a
// real engine's request waits while the server's send is blocked (uvicorn/asyncio pause at a
// 64 KiB write-buffer high-water mark). Effects: a stalled stream's inter-token gap includes the
// stall (vllm:inter_token_latency_seconds too); /sim/metrics counts only emitted tokens
// (llmbench_sim_tokens_generated_total), still counts the stream in llmbench_sim_running, and
// reports llmbench_sim_stalled (gauge) and llmbench_sim_backpressure_stalls_total.
// Memory per connection is therefore bounded: at most kMaxUnwrittenBytes + kMaxCatchUpSteps
// token events (a few hundred bytes each) of output is queued, held in two std::string buffers whose capacity can
// reach twice that (so <= 2 x kMaxUnwrittenBytes allocated), plus a fixed overhead under 32 KiB
// (session, HTTP parser holding the request, read buffer up to kMaxPipelinedBytes when a client
// pipelines) — measured ~105 KiB of RSS per stalled stream (tests/sim/sim_backpressure_test.cc)
// — plus, for TGI-native streams and non-stream requests only, the generated text (<= max_tokens
// tokens). The huge_line fault (one 10 MiB event) exceeds the cap once, by design. Kernel socket
// buffers (up to net.ipv4.tcp_wmem's max per socket) come on top and are not in the RSS.
//
// What it did beside what it modelled (issue 13): a request arrives when its first bytes reach
// the socket (SO_TIMESTAMPNS kernel receive timestamp), which is when the model starts counting;
// the simulator reports its request read lag (parsed − arrived), the observed TTFT (arrived →
// the write carrying the first token completed), the observed ITL (between a stream's token
// writes) and each token's write lateness against its modelled time, as summaries in
// /sim/metrics and in the vLLM/TGI /metrics it serves, so a client's figures can be checked
// against a yardstick that states its own error.
//
// Closed connections: while a generation runs, a read stays pending on the socket; EOF or an
// error (the client closed or reset) cancels the sequence at once (outcome="cancelled"), frees
// its buffers and closes the socket; a failed write does the same.
#ifndef LLMBENCH_SIM_SIM_SERVER_H_
#define LLMBENCH_SIM_SIM_SERVER_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "sim/sim_config.h"

namespace llmbench::sim {

// Per-connection cap on output not yet written to the socket (see Backpressure above).
inline constexpr size_t kMaxUnwrittenBytes = 64 * 1024;
// Decode steps one timer callback may run when the engine is late (CPU-starved): a stalled
// stream can receive at most this many tokens beyond the cap before its stall takes effect.
inline constexpr int kMaxCatchUpSteps = 16;
// Bytes a client may send ahead (pipelining) while a generation runs before the server stops
// reading its socket until the response ends.
inline constexpr size_t kMaxPipelinedBytes = 64 * 1024;

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

  // Installs the SIGINT/SIGTERM handling that Run() serves; call before announcing the server.
  void HandleSignals();
  [[nodiscard]] absl::Status Start();
  const std::vector<BoundEndpoint>& Endpoints() const;
  // Blocks until stopped. handle_signals: call HandleSignals() first if not done yet.
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
