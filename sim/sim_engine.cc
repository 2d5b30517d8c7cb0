#include "sim/sim_engine.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <string>
#include <utility>

#include <boost/asio.hpp>

#include "common/json_writer.h"
#include "sim/http_session.h"
#include "sim/sim_server.h"
#include "sim/str_cat.h"

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
      start_unix_s_(SteadyClock::Get().UnixNowNs() / 1'000'000'000),
      vllm_ttft_({0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5,
                  5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}),
      vllm_itl_({0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0,
                 7.5, 10.0, 20.0, 40.0, 80.0}),
      vllm_e2e_({0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0,
                 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0}),
      vllm_queue_(vllm_e2e_),
      tgi_duration_(TgiDurationBuckets()),
      tgi_queue_(TgiDurationBuckets()),
      tgi_inference_(TgiDurationBuckets()),
      tgi_mean_tpt_(TgiDurationBuckets()),
      tgi_generated_({1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192}),
      tgi_input_({1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192}),
      sim_ttft_({0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0,
                 2.5, 5.0, 10.0, 20.0, 40.0, 80.0}),
      sim_step_({0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2,
                 0.5, 1.0}) {}

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
    prompt_tokens_total_ += req.prompt_tokens;
    tgi_input_.Observe(req.prompt_tokens);
    ++tgi_request_count_;
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
    ++outcomes_[static_cast<int>(outcome)];
    if (outcome == Outcome::kCancelled) {
      ++vllm_success_abort_;
    } else {
      ++tgi_failure_["generation"];
    }
  }
  RearmFromAnyThread(ctx);
}

void Engine::SetStalled(uint64_t seq, bool stalled, asio::io_context* ctx) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (live_.find(seq) == live_.end()) return;
    sched_.SetStalled(NowNs(), seq, stalled);
    if (stalled) ++backpressure_stalls_;
  }
  if (!stalled) RearmFromAnyThread(ctx);
}

void Engine::CountError(std::string_view tgi_error_type) {
  std::lock_guard<std::mutex> lock(mu_);
  ++outcomes_[static_cast<int>(Outcome::kError)];
  ++tgi_request_count_;
  ++tgi_failure_[std::string(tgi_error_type.empty() ? "validation" : tgi_error_type)];
}

void Engine::CountFault(FaultKind kind) {
  std::lock_guard<std::mutex> lock(mu_);
  ++faults_[kind];
}

void Engine::ObserveWrites(int64_t now_ns, const std::vector<int64_t>& at_ns, int64_t read_ns,
                           int64_t prev_write_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < at_ns.size(); ++i) {
    const double late = static_cast<double>(now_ns - at_ns[i]) * 1e-9;
    write_lateness_.Add(std::max(late, 0.0));
    write_lateness_hist_.Observe(late);
    if (i > 0) {
      observed_itl_.Add(0);
    } else if (prev_write_ns >= 0) {
      observed_itl_.Add(static_cast<double>(now_ns - prev_write_ns) * 1e-9);
    }
  }
  if (read_ns >= 0) {
    const double ttft = static_cast<double>(now_ns - read_ns) * 1e-9;
    observed_ttft_.Add(ttft);
    observed_ttft_hist_.Observe(ttft);
  }
}

void Engine::ObserveReadLag(int64_t lag_ns) {
  std::lock_guard<std::mutex> lock(mu_);
  read_lag_.Add(static_cast<double>(lag_ns) * 1e-9);
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
        ++steps_;
        sim_step_.Observe(static_cast<double>(ev.duration_ns) * 1e-9);
        continue;
      }
      auto it = live_.find(ev.seq);
      if (it == live_.end()) continue;
      Live& live = it->second;
      ++generation_tokens_total_;
      if (ev.token_index == 0) {
        ++prefills_;
        live.first_ns = ev.at_ns;
        const double ttft = static_cast<double>(ev.at_ns - live.arrival_ns) * 1e-9;
        vllm_ttft_.Observe(ttft);
        sim_ttft_.Observe(ttft);
        vllm_queue_.Observe(static_cast<double>(ev.admitted_ns - live.arrival_ns) * 1e-9);
        tgi_queue_.Observe(static_cast<double>(ev.admitted_ns - live.arrival_ns) * 1e-9);
      } else {
        vllm_itl_.Observe(static_cast<double>(ev.at_ns - live.last_ns) * 1e-9);
      }
      live.last_ns = ev.at_ns;
      dispatch_.push_back(Dispatch{ev.last ? std::move(live.session) : live.session, live.ctx, ev});
      if (ev.last) {
        const double e2e = static_cast<double>(ev.at_ns - live.arrival_ns) * 1e-9;
        vllm_e2e_.Observe(e2e);
        tgi_duration_.Observe(e2e);
        tgi_inference_.Observe(static_cast<double>(ev.at_ns - ev.admitted_ns) * 1e-9);
        if (ev.token_index > 0) {  // TGI: the request's mean time per token after the first
          tgi_mean_tpt_.Observe(static_cast<double>(ev.at_ns - live.first_ns) * 1e-9 /
                                static_cast<double>(ev.token_index));
        }
        tgi_generated_.Observe(live.output_tokens);
        ++tgi_request_success_;
        ++outcomes_[static_cast<int>(Outcome::kSuccess)];
        if (live.eos) {
          ++vllm_success_stop_;
        } else {
          ++vllm_success_length_;
        }
        live_.erase(it);
      }
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

std::string Engine::EngineMetrics() {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  if (kind_ == EngineKind::kVllm) {
    const std::string labels = [&] {
      std::string l = "engine=\"0\",model_name=";
      AppendJsonString(l, cfg_.model);
      return l;
    }();
    auto family = [&](std::string_view name, std::string_view type, std::string_view help) {
      out.append("# HELP ").append(name).append(" ").append(help).append("\n");
      out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
    };
    family("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.");
    AppendSample(out, "vllm:num_requests_running", labels, sched_.running(), true);
    family("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.");
    AppendSample(out, "vllm:num_requests_waiting", labels, sched_.waiting(), true);
    family("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.");
    AppendSample(out, "vllm:kv_cache_usage_perc", labels,
                 static_cast<double>(sched_.running()) / std::max(cfg_.latency.max_batch, 1), true);
    family("vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.");
    AppendSample(out, "vllm:prompt_tokens_total", labels, static_cast<double>(prompt_tokens_total_), true);
    family("vllm:generation_tokens_total", "counter", "Number of generation tokens processed.");
    AppendSample(out, "vllm:generation_tokens_total", labels,
                 static_cast<double>(generation_tokens_total_), true);
    family("vllm:request_success_total", "counter", "Count of successfully processed requests.");
    std::string model_label;
    AppendJsonString(model_label, cfg_.model);
    for (auto [reason, v] : {std::pair<std::string_view, uint64_t>{"abort", vllm_success_abort_},
                             {"length", vllm_success_length_},
                             {"stop", vllm_success_stop_}}) {
      AppendSample(out, "vllm:request_success_total",
                   Cat("engine=\"0\",finished_reason=\"", reason, "\",model_name=", model_label),
                   static_cast<double>(v), true);
    }
    family("vllm:time_to_first_token_seconds", "histogram", "Histogram of time to first token in seconds.");
    vllm_ttft_.Append(out, "vllm:time_to_first_token_seconds", labels, true, false);
    family("vllm:inter_token_latency_seconds", "histogram", "Histogram of inter-token latency in seconds.");
    vllm_itl_.Append(out, "vllm:inter_token_latency_seconds", labels, true, false);
    family("vllm:e2e_request_latency_seconds", "histogram",
           "Histogram of e2e request latency in seconds.");
    vllm_e2e_.Append(out, "vllm:e2e_request_latency_seconds", labels, true, false);
    family("vllm:request_queue_time_seconds", "histogram",
           "Histogram of time spent in WAITING phase for request.");
    vllm_queue_.Append(out, "vllm:request_queue_time_seconds", labels, true, false);
  } else if (kind_ == EngineKind::kTgi) {
    auto type = [&](std::string_view name, std::string_view t) {
      out.append("# TYPE ").append(name).append(" ").append(t).append("\n");
    };
    type("tgi_request_count", "counter");
    AppendSample(out, "tgi_request_count", "", static_cast<double>(tgi_request_count_), false);
    out.append("\n");
    type("tgi_request_success", "counter");
    AppendSample(out, "tgi_request_success", "", static_cast<double>(tgi_request_success_), false);
    out.append("\n");
    if (!tgi_failure_.empty()) {
      type("tgi_request_failure", "counter");
      for (const auto& [err, v] : tgi_failure_) {
        AppendSample(out, "tgi_request_failure", Cat("err=\"", err, "\""),
                     static_cast<double>(v), false);
      }
      out.append("\n");
    }
    type("tgi_queue_size", "gauge");
    AppendSample(out, "tgi_queue_size", "", sched_.waiting(), false);
    out.append("\n");
    type("tgi_batch_current_size", "gauge");
    AppendSample(out, "tgi_batch_current_size", "", sched_.running(), false);
    out.append("\n");
    type("tgi_batch_inference_count", "counter");
    AppendSample(out, "tgi_batch_inference_count", "method=\"decode\"", static_cast<double>(steps_), false);
    AppendSample(out, "tgi_batch_inference_count", "method=\"prefill\"", static_cast<double>(prefills_), false);
    out.append("\n");
    const std::pair<std::string_view, const Histogram*> hists[] = {
        {"tgi_request_duration", &tgi_duration_},
        {"tgi_request_queue_duration", &tgi_queue_},
        {"tgi_request_inference_duration", &tgi_inference_},
        {"tgi_request_mean_time_per_token_duration", &tgi_mean_tpt_},
        {"tgi_request_generated_tokens", &tgi_generated_},
        {"tgi_request_input_length", &tgi_input_},
    };
    for (const auto& [name, h] : hists) {
      type(name, "histogram");
      h->Append(out, name, "", false, true);
      out.append("\n");
    }
  }
  // vLLM style (HELP + TYPE, float counts); TGI style (TYPE only, as metrics-rs writes).
  if (kind_ != EngineKind::kOllama) {
    AppendObserved(out, kind_ == EngineKind::kVllm, kind_ == EngineKind::kVllm);
  }
  return out;
}

void Engine::AppendObserved(std::string& out, bool float_style, bool with_help) {
  auto family = [&](std::string_view name, std::string_view type, std::string_view help) {
    if (with_help) out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  };
  auto summary = [&](std::string_view name, const LogHistogram& h, std::string_view help) {
    family(name, "summary", help);
    for (const char* q : {"0.5", "0.9", "0.99", "1"}) {
      const double v = std::string_view(q) == "1" ? h.max() : h.Quantile(std::stod(q));
      AppendSample(out, name, Cat("quantile=\"", q, "\""), h.count() == 0 ? 0.0 : v, true);
    }
    AppendSample(out, Cat(name, "_sum"), "", h.sum(), true);
    AppendSample(out, Cat(name, "_count"), "", static_cast<double>(h.count()), float_style);
  };
  summary("llmbench_sim_observed_ttft_seconds", observed_ttft_,
          "Observed time to first token: request arrival (kernel receive timestamp) until the "
          "write carrying the first token completed (what the simulator did; "
          "llmbench_sim_ttft_seconds is what it modelled).");
  summary("llmbench_sim_observed_itl_seconds", observed_itl_,
          "Observed inter-token latency: between completed writes of a stream's consecutive "
          "tokens (0 for tokens sharing a write).");
  summary("llmbench_sim_chunk_write_lateness_seconds", write_lateness_,
          "Per token event: write completed minus the modelled emit time (how late the "
          "simulator was against its own model).");
  summary("llmbench_sim_request_read_lag_seconds", read_lag_,
          "Per generation request: parsed minus arrived (kernel receive timestamp of its first "
          "bytes): how late the simulator read requests. Observed and modelled TTFT count from "
          "the arrival.");
  family("llmbench_sim_observed_ttft_histogram_seconds", "histogram",
         "Observed time to first token (buckets).");
  observed_ttft_hist_.Append(out, "llmbench_sim_observed_ttft_histogram_seconds", "", float_style,
                             true);
  family("llmbench_sim_chunk_write_lateness_histogram_seconds", "histogram",
         "Per token event write lateness against the model (buckets).");
  write_lateness_hist_.Append(out, "llmbench_sim_chunk_write_lateness_histogram_seconds", "",
                              float_style, true);
}

std::string Engine::SimMetrics() {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  auto family = [&](std::string_view name, std::string_view type, std::string_view help) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  };
  family("llmbench_sim_requests_total", "counter",
         "Requests by outcome (success, error: answered with an error status, fault: ended by a "
         "mid-stream fault, cancelled: client went away).");
  for (int i = 0; i < 4; ++i) {
    AppendSample(out, "llmbench_sim_requests_total",
                 Cat("outcome=\"", kOutcomeNames[i], "\""),
                 static_cast<double>(outcomes_[i]), false);
  }
  family("llmbench_sim_tokens_generated_total", "counter", "Output tokens emitted by the model.");
  AppendSample(out, "llmbench_sim_tokens_generated_total", "",
               static_cast<double>(generation_tokens_total_), false);
  family("llmbench_sim_prompt_tokens_total", "counter", "Prompt tokens of admitted requests.");
  AppendSample(out, "llmbench_sim_prompt_tokens_total", "", static_cast<double>(prompt_tokens_total_), false);
  family("llmbench_sim_running", "gauge", "Sequences prefilling or decoding.");
  AppendSample(out, "llmbench_sim_running", "", sched_.running(), false);
  family("llmbench_sim_waiting", "gauge", "Sequences waiting for a batch slot.");
  AppendSample(out, "llmbench_sim_waiting", "", sched_.waiting(), false);
  family("llmbench_sim_stalled", "gauge",
         "Running sequences paused by backpressure: their client is not draining the socket.");
  AppendSample(out, "llmbench_sim_stalled", "", sched_.stalled(), false);
  family("llmbench_sim_backpressure_stalls_total", "counter",
         "Times a sequence was paused because its unwritten output exceeded the cap.");
  AppendSample(out, "llmbench_sim_backpressure_stalls_total", "",
               static_cast<double>(backpressure_stalls_), false);
  family("llmbench_sim_ttft_seconds", "histogram",
         "Intended time to first token from request arrival.");
  sim_ttft_.Append(out, "llmbench_sim_ttft_seconds", "", false, true);
  family("llmbench_sim_step_seconds", "histogram", "Planned decode step durations.");
  sim_step_.Append(out, "llmbench_sim_step_seconds", "", false, true);
  AppendObserved(out, false, true);
  chat_history_.AppendMetrics(&out);
  family("llmbench_sim_faults_total", "counter", "Injected faults by kind.");
  for (FaultKind k : AllFaultKinds()) {
    auto it = faults_.find(k);
    AppendSample(out, "llmbench_sim_faults_total",
                 Cat("kind=\"", FaultKindName(k), "\""),
                 static_cast<double>(it == faults_.end() ? 0 : it->second), false);
  }
  return out;
}

}  // namespace llmbench::sim
