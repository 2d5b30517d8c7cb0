#include "sim/engine_stats.h"

#include <algorithm>
#include <string>
#include <utility>

#include "common/json_writer.h"
#include "common/str_cat.h"

namespace llmbench::sim {

EngineStats::EngineStats()
    : vllm_ttft_({0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5,
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

void EngineStats::CountSubmit(int prompt_tokens) {
  prompt_tokens_total_ += prompt_tokens;
  tgi_input_.Observe(prompt_tokens);
  ++tgi_request_count_;
}

void EngineStats::CountCancel(Outcome outcome) {
  ++outcomes_[static_cast<int>(outcome)];
  if (outcome == Outcome::kCancelled) {
    ++vllm_success_abort_;
  } else {
    ++tgi_failure_["generation"];
  }
}

void EngineStats::CountStall() { ++backpressure_stalls_; }

void EngineStats::CountError(std::string_view tgi_error_type) {
  ++outcomes_[static_cast<int>(Outcome::kError)];
  ++tgi_request_count_;
  ++tgi_failure_[std::string(tgi_error_type.empty() ? "validation" : tgi_error_type)];
}

void EngineStats::CountFault(FaultKind kind) { ++faults_[kind]; }

void EngineStats::ObserveStep(const SchedulerEvent& ev) {
  ++steps_;
  sim_step_.Observe(static_cast<double>(ev.duration_ns) * 1e-9);
}

void EngineStats::ObserveToken(const SchedulerEvent& ev, int64_t arrival_ns, int64_t first_ns,
                               int64_t prev_ns, int output_tokens, bool eos) {
  ++generation_tokens_total_;
  if (ev.token_index == 0) {
    ++prefills_;
    const double ttft = static_cast<double>(ev.at_ns - arrival_ns) * 1e-9;
    vllm_ttft_.Observe(ttft);
    sim_ttft_.Observe(ttft);
    vllm_queue_.Observe(static_cast<double>(ev.admitted_ns - arrival_ns) * 1e-9);
    tgi_queue_.Observe(static_cast<double>(ev.admitted_ns - arrival_ns) * 1e-9);
  } else {
    vllm_itl_.Observe(static_cast<double>(ev.at_ns - prev_ns) * 1e-9);
  }
  if (ev.last) {
    const double e2e = static_cast<double>(ev.at_ns - arrival_ns) * 1e-9;
    vllm_e2e_.Observe(e2e);
    tgi_duration_.Observe(e2e);
    tgi_inference_.Observe(static_cast<double>(ev.at_ns - ev.admitted_ns) * 1e-9);
    if (ev.token_index > 0) {  // TGI: the request's mean time per token after the first
      tgi_mean_tpt_.Observe(static_cast<double>(ev.at_ns - first_ns) * 1e-9 /
                            static_cast<double>(ev.token_index));
    }
    tgi_generated_.Observe(output_tokens);
    ++tgi_request_success_;
    ++outcomes_[static_cast<int>(Outcome::kSuccess)];
    if (eos) {
      ++vllm_success_stop_;
    } else {
      ++vllm_success_length_;
    }
  }
}

void EngineStats::ObserveWrites(int64_t now_ns, const std::vector<int64_t>& at_ns,
                                int64_t read_ns, int64_t prev_write_ns) {
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

void EngineStats::ObserveReadLag(int64_t lag_ns) {
  read_lag_.Add(static_cast<double>(lag_ns) * 1e-9);
}

std::string EngineStats::EngineMetrics(EngineKind kind, std::string_view model, int max_batch,
                                       const SchedulerGauges& gauges) const {
  std::string out;
  if (kind == EngineKind::kVllm) {
    const std::string labels = [&] {
      std::string l = "engine=\"0\",model_name=";
      AppendJsonString(l, model);
      return l;
    }();
    auto family = [&](std::string_view name, std::string_view type, std::string_view help) {
      out.append("# HELP ").append(name).append(" ").append(help).append("\n");
      out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
    };
    family("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.");
    AppendSample(out, "vllm:num_requests_running", labels, gauges.running, true);
    family("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.");
    AppendSample(out, "vllm:num_requests_waiting", labels, gauges.waiting, true);
    family("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.");
    AppendSample(out, "vllm:kv_cache_usage_perc", labels,
                 static_cast<double>(gauges.running) / std::max(max_batch, 1), true);
    family("vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.");
    AppendSample(out, "vllm:prompt_tokens_total", labels, static_cast<double>(prompt_tokens_total_), true);
    family("vllm:generation_tokens_total", "counter", "Number of generation tokens processed.");
    AppendSample(out, "vllm:generation_tokens_total", labels,
                 static_cast<double>(generation_tokens_total_), true);
    family("vllm:request_success_total", "counter", "Count of successfully processed requests.");
    std::string model_label;
    AppendJsonString(model_label, model);
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
  } else if (kind == EngineKind::kTgi) {
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
    AppendSample(out, "tgi_queue_size", "", gauges.waiting, false);
    out.append("\n");
    type("tgi_batch_current_size", "gauge");
    AppendSample(out, "tgi_batch_current_size", "", gauges.running, false);
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
  if (kind != EngineKind::kOllama) {
    AppendObserved(out, kind == EngineKind::kVllm, kind == EngineKind::kVllm);
  }
  return out;
}

void EngineStats::AppendObserved(std::string& out, bool float_style, bool with_help) const {
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

std::string EngineStats::SimMetrics(const SchedulerGauges& gauges,
                                    const ChatHistoryLog& chat_history) const {
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
  AppendSample(out, "llmbench_sim_running", "", gauges.running, false);
  family("llmbench_sim_waiting", "gauge", "Sequences waiting for a batch slot.");
  AppendSample(out, "llmbench_sim_waiting", "", gauges.waiting, false);
  family("llmbench_sim_stalled", "gauge",
         "Running sequences paused by backpressure: their client is not draining the socket.");
  AppendSample(out, "llmbench_sim_stalled", "", gauges.stalled, false);
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
  chat_history.AppendMetrics(&out);
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
