#include "sim/sim_engine.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <string>
#include <utility>

#include <boost/asio.hpp>

#include "sim/http_session.h"
#include "sim/sim_server.h"

namespace llmbench::sim {

namespace asio = boost::asio;

Engine::Engine(EngineKind kind, const SimConfig& cfg, asio::io_context& home)
    : kind_(kind),
      cfg_(cfg),
      home_(home),
      sched_(cfg.latency),
      timer_(home),
      fault_rng_(cfg.latency.seed ^ 0xfa017ULL),
      unix_offset_ns_(SteadyClock::Get().UnixNowNs() - NowNs()),
      start_unix_s_(SteadyClock::Get().UnixNowNs() / 1'000'000'000) {}

uint64_t Engine::NextRequestNo(FaultSpec* random_fault) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t no = ++request_no_;
  if (cfg_.fault_rate > 0) {
    const double u = static_cast<double>(Mix64(fault_rng_ + no) >> 11) * 0x1.0p-53;
    if (u < cfg_.fault_rate) {
      const auto& kinds = cfg_.fault_kinds.empty() ? AllFaultKinds() : cfg_.fault_kinds;
      random_fault->kind = kinds[Mix64(fault_rng_ ^ (no * 0x9E37ULL)) % kinds.size()];
      random_fault->after = 2;
    }
  }
  return no;
}

uint64_t Engine::Submit(std::shared_ptr<Session> session, asio::io_context* ctx,
                        const GenRequest& req, int64_t arrival_ns) {
  uint64_t seq;
  {
    std::lock_guard<std::mutex> lock(mu_);
    seq = sched_.Submit(arrival_ns, req.prompt_tokens, req.output_tokens);
    Live& live = live_[seq];
    live.session = std::move(session);
    live.ctx = ctx;
    live.arrival_ns = arrival_ns;
    live.prompt_tokens = req.prompt_tokens;
    live.output_tokens = req.output_tokens;
    live.max_tokens = req.max_tokens;
    live.eos = req.eos;
    stats_.CountSubmit(req.prompt_tokens);
  }
  RearmFromAnyThread(ctx);
  return seq;
}

void Engine::Cancel(uint64_t seq, Outcome outcome, asio::io_context* ctx) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(seq);
    if (it == live_.end()) return;
    live_.erase(it);
    sched_.Cancel(NowNs(), seq);
    stats_.CountCancel(outcome);
  }
  RearmFromAnyThread(ctx);
}

void Engine::SetStalled(uint64_t seq, bool stalled, asio::io_context* ctx) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (live_.find(seq) == live_.end()) return;
    sched_.SetStalled(NowNs(), seq, stalled);
    if (stalled) stats_.CountStall();
  }
  if (!stalled) RearmFromAnyThread(ctx);
}

void Engine::CountError(std::string_view tgi_error_type) {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.CountError(tgi_error_type);
}

void Engine::CountFault(FaultKind kind) {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.CountFault(kind);
}

void Engine::ObserveWrites(int64_t now_ns, const std::vector<int64_t>& at_ns, int64_t read_ns,
                           int64_t prev_write_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.ObserveWrites(now_ns, at_ns, read_ns, prev_write_ns);
}

void Engine::ObserveReadLag(int64_t lag_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.ObserveReadLag(lag_ns);
}

void Engine::RearmFromAnyThread(asio::io_context* ctx) {
  if (ctx == &home_) {
    Rearm();
  } else {
    asio::post(home_, [this] { Rearm(); });
  }
}

void Engine::Rearm() {
  int64_t deadline;
  {
    std::lock_guard<std::mutex> lock(mu_);
    deadline = sched_.NextDeadlineNs();
  }
  if (deadline == BatchScheduler::kIdle) return;
  if (armed_ && deadline == armed_deadline_) return;
  armed_ = true;
  armed_deadline_ = deadline;
  const uint64_t gen = ++timer_gen_;
  timer_.expires_at(asio::steady_timer::time_point(std::chrono::nanoseconds(deadline)));
  timer_.async_wait([this, gen](const boost::system::error_code& ec) {
    if (ec || gen != timer_gen_) return;
    armed_ = false;
    OnTimer();
  });
}

void Engine::OnTimer() {
  dispatch_.clear();
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.clear();
    // At most kMaxCatchUpSteps steps per timer callback: their tokens reach the sessions
    // (which may stall their sequence) before later steps run, and a late engine still sends a
    // stream several tokens per write instead of one (the kernel's send is the dominant cost).
    sched_.AdvanceTo(NowNs(), events_, kMaxCatchUpSteps);
    for (const SchedulerEvent& ev : events_) {
      if (ev.kind == SchedulerEvent::Kind::kStep) {
        stats_.ObserveStep(ev);
        continue;
      }
      auto it = live_.find(ev.seq);
      if (it == live_.end()) continue;
      Live& live = it->second;
      if (ev.token_index == 0) live.first_ns = ev.at_ns;
      stats_.ObserveToken(ev, live.arrival_ns, live.first_ns, live.last_ns, live.output_tokens,
                          live.eos);
      live.last_ns = ev.at_ns;
      dispatch_.push_back(Dispatch{ev.last ? std::move(live.session) : live.session, live.ctx, ev});
      if (ev.last) live_.erase(it);
    }
  }
  for (Dispatch& d : dispatch_) {
    if (d.ctx == &home_) {
      d.session->OnToken(d.ev);
    } else {
      asio::post(*d.ctx, [s = d.session, ev = d.ev] { s->OnToken(ev); });
    }
  }
  dispatch_.clear();
  Rearm();
}

SchedulerGauges Engine::Gauges() const {
  return SchedulerGauges{sched_.running(), sched_.waiting(), sched_.stalled()};
}

std::string Engine::EngineMetrics() {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_.EngineMetrics(kind_, cfg_.model, cfg_.latency.max_batch, Gauges());
}

std::string Engine::SimMetrics() {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_.SimMetrics(Gauges(), chat_history_);
}

}  // namespace llmbench::sim
