// EngineStats: what one simulated engine counts, and its Prometheus text. Counters and fixed
// bucket histograms of what the model did (requests by outcome, tokens, steps, vLLM's and TGI's
// own latency families), plus what the simulator observed of itself beside the model (observed
// TTFT and ITL, write lateness, request read lag; see sim/sim_server.h). EngineMetrics() renders
// the personality's /metrics as vLLM (prometheus_client) or TGI (metrics-rs) write it; an Ollama
// engine has none. SimMetrics() renders the simulator's own /sim/metrics.
//
// Thread-safety: not thread-safe; Engine guards its EngineStats with its mutex.
#ifndef LLMBENCH_SIM_ENGINE_STATS_H_
#define LLMBENCH_SIM_ENGINE_STATS_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/stats.h"
#include "sim/batch_scheduler.h"
#include "sim/chat_history.h"
#include "sim/prom.h"
#include "sim/sim_config.h"

namespace llmbench::sim {

// How a request ended (llmbench_sim_requests_total{outcome=...}).
enum class Outcome { kSuccess, kError, kFault, kCancelled };
inline constexpr std::string_view kOutcomeNames[] = {"success", "error", "fault", "cancelled"};

// The scheduler's gauges at the time of a scrape.
struct SchedulerGauges {
  int running = 0;
  int waiting = 0;
  int stalled = 0;
};

class EngineStats {
 public:
  EngineStats();

  // A generation was submitted to the scheduler.
  void CountSubmit(int prompt_tokens);
  // A live sequence was removed before its last token (client gone or a fault ended it).
  void CountCancel(Outcome outcome);
  // A sequence was stalled by backpressure.
  void CountStall();
  // A request answered with an error before generation.
  void CountError(std::string_view tgi_error_type);
  void CountFault(FaultKind kind);

  // A decode step started (SchedulerEvent::Kind::kStep).
  void ObserveStep(const SchedulerEvent& ev);
  // A token event of a live sequence that arrived at arrival_ns, emitted its first token at
  // first_ns (ev.at_ns for the first token itself) and its previous token at prev_ns.
  void ObserveToken(const SchedulerEvent& ev, int64_t arrival_ns, int64_t first_ns,
                    int64_t prev_ns, int output_tokens, bool eos);

  // What the simulator did, beside what it modelled: a write that carried the token events
  // modelled at `at_ns` completed at `now_ns`. `read_ns` >= 0 when the write carried the
  // stream's first token (request read at read_ns); `prev_write_ns` >= 0 is when the stream's
  // previous token write completed.
  void ObserveWrites(int64_t now_ns, const std::vector<int64_t>& at_ns, int64_t read_ns,
                     int64_t prev_write_ns);
  void ObserveReadLag(int64_t lag_ns);

  // The personality's /metrics body ("" for Ollama).
  std::string EngineMetrics(EngineKind kind, std::string_view model, int max_batch,
                            const SchedulerGauges& gauges) const;
  // The /sim/metrics body; chat_history's families sit between the observed and fault ones.
  std::string SimMetrics(const SchedulerGauges& gauges, const ChatHistoryLog& chat_history) const;

 private:
  // Appends the observed families: a summary per LogHistogram (p50, p90, p99, max; sum,
  // count) and the write lateness / observed TTFT histograms.
  void AppendObserved(std::string& out, bool float_style, bool with_help) const;

  uint64_t outcomes_[4] = {0, 0, 0, 0};
  std::unordered_map<FaultKind, uint64_t> faults_;
  uint64_t prompt_tokens_total_ = 0;
  uint64_t generation_tokens_total_ = 0;
  uint64_t vllm_success_stop_ = 0;
  uint64_t vllm_success_length_ = 0;
  uint64_t vllm_success_abort_ = 0;
  uint64_t tgi_request_count_ = 0;
  uint64_t tgi_request_success_ = 0;
  std::map<std::string, uint64_t> tgi_failure_;
  uint64_t steps_ = 0;
  uint64_t prefills_ = 0;
  uint64_t backpressure_stalls_ = 0;
  Histogram vllm_ttft_, vllm_itl_, vllm_e2e_, vllm_queue_;
  Histogram tgi_duration_, tgi_queue_, tgi_inference_, tgi_mean_tpt_, tgi_generated_, tgi_input_;
  Histogram sim_ttft_, sim_step_;
  // Observed (ObserveWrites): 0.1% relative error, values in seconds.
  LogHistogram observed_ttft_{0.001, 1e-7};
  LogHistogram observed_itl_{0.001, 1e-7};
  LogHistogram write_lateness_{0.001, 1e-7};
  LogHistogram read_lag_{0.001, 1e-7};
  Histogram observed_ttft_hist_{{0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25,
                                 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0}};
  Histogram write_lateness_hist_{{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                  0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0}};
};

}  // namespace llmbench::sim

#endif  // LLMBENCH_SIM_ENGINE_STATS_H_
