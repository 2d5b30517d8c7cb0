// Engine: one simulated engine behind one --listen endpoint. It owns the BatchScheduler, the
// single decode-step timer that drives it on the engine's home io_context, the map of live
// sequences (each with the Session that receives its tokens) and the engine's metrics. Sessions
// on any thread submit, cancel and stall sequences; the timer hands each token event to its
// session on the session's own io_context (Session::OnToken).
//
// Thread-safety: thread-safe; mu_ guards the scheduler, the live map and the metrics. The timer
// and Rearm() run on home_ only (calls from other threads post there). Lifetime: outlives every
// session and the io_contexts' handlers (SimServer destroys engines after the contexts stop).
#ifndef LLMBENCH_SIM_SIM_ENGINE_H_
#define LLMBENCH_SIM_SIM_ENGINE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/clock.h"
#include "sim/batch_scheduler.h"
#include "sim/chat_history.h"
#include "sim/engine_stats.h"
#include "sim/gen_request.h"
#include "sim/sim_config.h"

namespace llmbench::sim {

class Session;

// Steady-clock nanoseconds: the time base of the scheduler and the sessions.
inline int64_t NowNs() { return SteadyClock::Get().NowNs(); }

class Engine {
 public:
  Engine(EngineKind kind, const SimConfig& cfg, boost::asio::io_context& home);

  EngineKind kind() const { return kind_; }
  const SimConfig& cfg() const { return cfg_; }
  int64_t ToUnixNs(int64_t steady_ns) const { return steady_ns + unix_offset_ns_; }
  int64_t FromUnixNs(int64_t unix_ns) const { return unix_ns - unix_offset_ns_; }
  int64_t start_unix_s() const { return start_unix_s_; }
  EngineLimits Limits() const {
    return EngineLimits{cfg_.model, cfg_.max_model_len, cfg_.natural_tokens, cfg_.token_rule};
  }

  // Numbers requests and decides the random fault (deterministic from the seed).
  uint64_t NextRequestNo(FaultSpec* random_fault);

  // Enqueues a generation whose tokens go to `session` on `ctx`. Returns its sequence id.
  uint64_t Submit(std::shared_ptr<Session> session, boost::asio::io_context* ctx,
                  const GenRequest& req, int64_t arrival_ns);

  // Removes a live sequence (client gone or a fault ended it).
  void Cancel(uint64_t seq, Outcome outcome, boost::asio::io_context* ctx);

  // Backpressure: `stalled` pauses the sequence's decoding (see BatchScheduler::SetStalled).
  void SetStalled(uint64_t seq, bool stalled, boost::asio::io_context* ctx);

  // A request answered with an error before generation.
  void CountError(std::string_view tgi_error_type);
  void CountFault(FaultKind kind);

  // What the simulator did, beside what it modelled (EngineStats::ObserveWrites).
  void ObserveWrites(int64_t now_ns, const std::vector<int64_t>& at_ns, int64_t read_ns,
                     int64_t prev_write_ns);

  void ObserveReadLag(int64_t lag_ns);

  // The personality's /metrics and the simulator's /sim/metrics (sim/engine_stats.h).
  std::string EngineMetrics();
  std::string SimMetrics();
  // Multi-turn histories seen on the chat routes (sim/chat_history.h); thread-safe.
  ChatHistoryLog& chat_history() { return chat_history_; }

 private:
  struct Live {
    std::shared_ptr<Session> session;
    boost::asio::io_context* ctx = nullptr;
    int64_t arrival_ns = 0;
    int64_t first_ns = 0;
    int64_t last_ns = 0;
    int prompt_tokens = 0;
    int output_tokens = 0;
    int max_tokens = 0;
    bool eos = false;
  };
  struct Dispatch {
    std::shared_ptr<Session> session;
    boost::asio::io_context* ctx;
    SchedulerEvent ev;
  };

  static uint64_t Mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  void RearmFromAnyThread(boost::asio::io_context* ctx);
  // On home_ only.
  void Rearm();
  void OnTimer();
  // The scheduler's gauges now. REQUIRES: mu_ held.
  SchedulerGauges Gauges() const;

  EngineKind kind_;
  const SimConfig& cfg_;
  boost::asio::io_context& home_;
  std::mutex mu_;
  BatchScheduler sched_;
  std::unordered_map<uint64_t, Live> live_;
  std::vector<SchedulerEvent> events_;
  std::vector<Dispatch> dispatch_;
  boost::asio::steady_timer timer_;
  bool armed_ = false;
  int64_t armed_deadline_ = 0;
  uint64_t timer_gen_ = 0;
  uint64_t request_no_ = 0;
  uint64_t fault_rng_;
  const int64_t unix_offset_ns_;
  const int64_t start_unix_s_;

  ChatHistoryLog chat_history_;
  EngineStats stats_;  // guarded by mu_
};

}  // namespace llmbench::sim

#endif  // LLMBENCH_SIM_SIM_ENGINE_H_
