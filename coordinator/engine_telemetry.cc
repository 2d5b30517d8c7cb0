#include "coordinator/engine_telemetry.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/absl_string_view.h"
#include "coordinator/csv.h"
#include "coordinator/engine_check.h"
#include "coordinator/request_metrics.h"
#include "coordinator/server_histogram.h"
#include "simdjson.h"

namespace llmbench::coordinator {
namespace {

namespace v1 = ::llmbench::v1;

// ---------------------------------------------------------------------------------------------
// What each engine calls its metrics. The first name of a list that the engine exposes wins
// (newer names first).

struct GaugeSpec {
  std::string_view name;
  std::vector<std::string_view> metrics;
  bool average;  // a ratio: averaged over label sets instead of summed
};
struct CounterSpec {
  std::string_view name;
  std::vector<std::string_view> metrics;  // sample names (a histogram's _sum works too)
};
struct HistogramSpec {
  std::string_view name;  // ttft, itl, e2e, queue, inference
  std::vector<std::string_view> families;
};
struct Dialect {
  std::string_view name;
  std::string_view prefix;
  std::vector<GaugeSpec> gauges;
  std::vector<CounterSpec> counters;
  std::vector<HistogramSpec> histograms;
};

const std::vector<Dialect>& Dialects() {
  static const std::vector<Dialect>* dialects = new std::vector<Dialect>{
      {"vllm",
       "vllm:",
       {{"running_requests", {"vllm:num_requests_running"}, false},
        {"queue_length", {"vllm:num_requests_waiting"}, false},
        {"kv_cache_usage", {"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"}, true}},
       {{"prompt_tokens", {"vllm:prompt_tokens_total"}},
        {"generation_tokens", {"vllm:generation_tokens_total"}},
        {"requests_success", {"vllm:request_success_total"}},
        {"preemptions", {"vllm:num_preemptions_total"}}},
       {{"ttft", {"vllm:time_to_first_token_seconds"}},
        {"itl", {"vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"}},
        {"e2e", {"vllm:e2e_request_latency_seconds"}},
        {"queue", {"vllm:request_queue_time_seconds"}},
        {"inference", {"vllm:request_inference_time_seconds"}}}},
      {"tgi",
       "tgi_",
       {{"queue_length", {"tgi_queue_size"}, false},
        {"batch_size", {"tgi_batch_current_size"}, false},
        {"batch_max_tokens", {"tgi_batch_current_max_tokens"}, false}},
       {{"requests", {"tgi_request_count"}},
        {"requests_success", {"tgi_request_success"}},
        {"requests_failure", {"tgi_request_failure"}},
        {"generation_tokens", {"tgi_request_generated_tokens_sum"}},
        {"prompt_tokens", {"tgi_request_input_length_sum"}}},
       {{"itl", {"tgi_request_mean_time_per_token_duration"}},
        {"e2e", {"tgi_request_duration"}},
        {"queue", {"tgi_request_queue_duration"}},
        {"inference", {"tgi_request_inference_duration"}}}},
      {"llamacpp",
       "llamacpp:",
       {{"running_requests", {"llamacpp:requests_processing"}, false},
        {"queue_length", {"llamacpp:requests_deferred"}, false},
        {"batch_size", {"llamacpp:n_busy_slots_per_decode"}, true},
        {"kv_cache_usage", {"llamacpp:kv_cache_usage_ratio"}, true},
        {"prompt_tokens_per_s", {"llamacpp:prompt_tokens_seconds"}, true},
        {"decode_tokens_per_s", {"llamacpp:predicted_tokens_seconds"}, true}},
       {{"prompt_tokens", {"llamacpp:prompt_tokens_total"}},
        {"generation_tokens", {"llamacpp:tokens_predicted_total"}},
        {"decode_calls", {"llamacpp:n_decode_total"}}},
       {}},
      {"sglang",
       "sglang:",
       {{"running_requests", {"sglang:num_running_reqs"}, false},
        {"queue_length", {"sglang:num_queue_reqs"}, false},
        {"kv_cache_usage", {"sglang:token_usage"}, true},
        {"decode_tokens_per_s", {"sglang:gen_throughput"}, false}},
       {{"prompt_tokens", {"sglang:prompt_tokens_total"}},
        {"generation_tokens", {"sglang:generation_tokens_total"}},
        {"requests", {"sglang:num_requests_total"}}},
       {{"ttft", {"sglang:time_to_first_token_seconds"}},
        {"itl", {"sglang:inter_token_latency_seconds", "sglang:time_per_output_token_seconds"}},
        {"e2e", {"sglang:e2e_request_latency_seconds"}},
        {"queue", {"sglang:queue_time_seconds"}}}},
  };
  return *dialects;
}

const Dialect* FindDialect(std::string_view name) {
  for (const Dialect& d : Dialects()) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

void SetTimingStats(std::vector<double> values, v1::TimingStats* out) {
  std::optional<SummaryStats> s = Summarize(values);
  if (!s.has_value()) return;
  out->set_count(s->count);
  out->set_mean(s->mean);
  out->set_min(s->min);
  out->set_p50(s->p50);
  out->set_p90(s->p90);
  out->set_p99(s->p99);
  out->set_max(s->max);
}

std::string TrimmedBaseUrl(const v1::Engine& engine) {
  std::string url = engine.base_url();
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Scenario.

bool TelemetryEnabled(const v1::Scenario& scenario) {
  return !scenario.telemetry().has_enabled() || scenario.telemetry().enabled();
}

double TelemetryIntervalS(const v1::Scenario& scenario) {
  return scenario.telemetry().has_interval_seconds() ? scenario.telemetry().interval_seconds()
                                                     : kDefaultTelemetryIntervalS;
}

absl::Status ValidateTelemetry(const v1::Scenario& scenario) {
  if (!scenario.telemetry().has_interval_seconds()) return absl::OkStatus();
  const double v = scenario.telemetry().interval_seconds();
  if (!std::isfinite(v) || v < kMinTelemetryIntervalS) {
    return absl::InvalidArgumentError(
        absl::StrCat("telemetry.interval_seconds: must be >= ", kMinTelemetryIntervalS, ", got ",
                     ShortestNumber(v)));
  }
  return absl::OkStatus();
}

std::string TelemetryUrl(const v1::Engine& engine) {
  return TrimmedBaseUrl(engine) +
         (engine.kind() == v1::ENGINE_KIND_OLLAMA ? "/api/ps" : "/metrics");
}

TelemetryFetcher CurlTelemetryFetcher(const v1::Engine& engine, int timeout_ms) {
  return [engine, timeout_ms](const std::string& url) -> absl::StatusOr<std::string> {
    // A /metrics page is far smaller than 16 MiB.
    EngineHttpAnswer answer = EngineHttpGet(engine, url, timeout_ms, size_t{16} << 20);
    if (!answer.ok) return absl::UnavailableError(absl::StrCat("GET ", url, ": ", answer.error));
    if (answer.status < 200 || answer.status > 299) {
      return absl::UnavailableError(absl::StrCat("GET ", url, ": HTTP ", answer.status));
    }
    return std::move(answer.body);
  };
}

// ---------------------------------------------------------------------------------------------
// ScrapeAccumulator.

ScrapeAccumulator::ScrapeAccumulator(const v1::Engine& engine, double interval_s)
    : engine_(engine), interval_s_(interval_s), ollama_(engine.kind() == v1::ENGINE_KIND_OLLAMA) {}

void ScrapeAccumulator::Note(std::string note) {
  if (notes_.size() < kMaxTelemetryNotes) {
    notes_.push_back(std::move(note));
  } else {
    ++notes_dropped_;
  }
}

void ScrapeAccumulator::AddScrape(int64_t unix_ns, const absl::StatusOr<std::string>& body) {
  if (!body.ok()) {
    ++errors_;
    Note(absl::StrCat("scrape failed: ", body.status().message()));
    return;
  }
  if (ollama_) {
    if (!AddPs(scrapes_ == 0 ? 0 : static_cast<double>(unix_ns - first_unix_ns_) / 1e9, *body)) {
      ++errors_;
      return;
    }
  } else {
    absl::StatusOr<MetricSet> set = ParsePrometheusText(*body);
    if (!set.ok()) {
      ++errors_;
      Note(absl::StrCat("unparsable /metrics: ", set.status().message()));
      return;
    }
    AddMetrics(scrapes_ == 0 ? 0 : static_cast<double>(unix_ns - first_unix_ns_) / 1e9, *set);
  }
  if (scrapes_ == 0) first_unix_ns_ = unix_ns;
  last_unix_ns_ = unix_ns;
  ++scrapes_;
}

void ScrapeAccumulator::AddMetrics(double t_s, const MetricSet& set) {
  const bool first = scrapes_ == 0;
  if (dialect_.empty()) {
    for (const Dialect& d : Dialects()) {
      for (const MetricFamily& family : set.families) {
        if (std::string_view(family.name).starts_with(d.prefix)) dialect_ = std::string(d.name);
        if (!dialect_.empty()) break;
      }
      if (!dialect_.empty()) break;
    }
    if (dialect_.empty()) {
      dialect_ = "unknown";
      Note(absl::StrCat("no vllm:, tgi_, llamacpp: or sglang: metrics at ",
                        TelemetryUrl(engine_)));
    }
  }
  const Dialect* dialect = FindDialect(dialect_);
  if (dialect == nullptr) return;
  for (const GaugeSpec& spec : dialect->gauges) {
    for (std::string_view metric : spec.metrics) {
      std::optional<double> v = SampleValue(set, metric, spec.average);
      if (!v.has_value()) continue;
      Gauge& g = gauges_[std::string(spec.name)];
      if (g.metric.empty()) g.metric = std::string(metric);
      g.t_s.push_back(t_s);
      g.values.push_back(*v);
      break;
    }
  }
  for (const CounterSpec& spec : dialect->counters) {
    for (std::string_view metric : spec.metrics) {
      std::optional<double> v = SampleValue(set, metric, false);
      if (!v.has_value()) continue;
      Counter& c = counters_[std::string(spec.name)];
      if (!c.seen) {
        c.seen = true;
        c.metric = std::string(metric);
        c.start = first ? *v : 0;        // appeared during the window: it started at 0
        c.increase = first ? 0 : *v;
      } else {
        bool reset = false;
        c.increase += CounterIncrease(c.last, *v, &reset);
        if (reset) {
          c.reset = true;
          Note(absl::StrCat(ToAbsl(metric), " went back from ", ShortestNumber(c.last), " to ",
                            ShortestNumber(*v), " (engine restarted?)"));
        }
      }
      c.last = *v;
      break;
    }
  }
  for (const HistogramSpec& spec : dialect->histograms) {
    for (std::string_view metric : spec.families) {
      std::optional<HistogramSeries> h = CombinedHistogram(set, metric);
      if (!h.has_value()) continue;
      Histogram& acc = histograms_[std::string(spec.name)];
      if (acc.metric.empty()) acc.metric = std::string(metric);
      if (!acc.last.has_value()) {
        acc.increase = first ? ZeroedHistogram(*h) : *h;
      } else {
        bool reset = false;
        absl::StatusOr<HistogramSeries> delta = HistogramDelta(&*acc.last, *h, &reset);
        if (!delta.ok()) {
          Note(absl::StrCat(ToAbsl(metric), ": ", delta.status().message(),
                            "; restarted its window"));
          acc.increase = ZeroedHistogram(*h);
        } else {
          if (reset) {
            acc.reset = true;
            Note(absl::StrCat(ToAbsl(metric), " went back (engine restarted?)"));
          }
          AddHistogramInto(*delta, &*acc.increase);
        }
      }
      acc.last = std::move(h);
      break;
    }
  }
}

bool ScrapeAccumulator::AddPs(double t_s, std::string_view body) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(body);
  simdjson::dom::element doc;
  simdjson::dom::array models;
  if (parser.parse(padded).get(doc) != simdjson::SUCCESS ||
      doc["models"].get_array().get(models) != simdjson::SUCCESS) {
    Note("unparsable /api/ps answer (expected {\"models\":[...]})");
    return false;
  }
  dialect_ = "ollama";
  v1::OllamaPsSample sample;
  sample.set_t_s(t_s);
  for (simdjson::dom::element m : models) {
    v1::OllamaLoadedModel* model = sample.add_models();
    std::string_view text;
    if (m["name"].get_string().get(text) == simdjson::SUCCESS) model->set_name(std::string(text));
    if (m["expires_at"].get_string().get(text) == simdjson::SUCCESS) {
      model->set_expires_at(std::string(text));
    }
    uint64_t n = 0;
    if (m["size"].get_uint64().get(n) == simdjson::SUCCESS) model->set_size_bytes(n);
    if (m["size_vram"].get_uint64().get(n) == simdjson::SUCCESS) model->set_size_vram_bytes(n);
    if (m["context_length"].get_uint64().get(n) == simdjson::SUCCESS && n <= UINT32_MAX) {
      model->set_context_length(static_cast<uint32_t>(n));
    }
  }
  ps_.push_back(std::move(sample));
  return true;
}

std::optional<double> ScrapeAccumulator::CounterIncreaseOf(std::string_view name) const {
  if (scrapes_ < 2) return std::nullopt;
  auto it = counters_.find(name);
  if (it == counters_.end()) return std::nullopt;
  return it->second.increase;
}

void ScrapeAccumulator::Fill(v1::EngineTelemetry* out) const {
  out->set_source(ollama_ ? v1::EngineTelemetry::SOURCE_OLLAMA_PS
                          : v1::EngineTelemetry::SOURCE_PROMETHEUS);
  out->set_dialect(dialect_);
  out->set_url(TelemetryUrl(engine_));
  out->set_interval_s(interval_s_);
  out->set_scrapes(scrapes_);
  out->set_scrape_errors(errors_);
  for (const std::string& note : notes_) out->add_notes(note);
  if (notes_dropped_ > 0) out->add_notes(absl::StrCat(notes_dropped_, " more notes left out"));
  if (scrapes_ > 0) {
    out->set_first_scrape_unix_ns(first_unix_ns_);
    out->set_last_scrape_unix_ns(last_unix_ns_);
    out->set_window_s(static_cast<double>(last_unix_ns_ - first_unix_ns_) / 1e9);
  }
  if (scrapes_ == 1 && !ollama_) {
    out->add_notes("only one successful scrape: no increases over the run");
  }
  for (const auto& [name, g] : gauges_) {
    v1::GaugeSeries* series = out->add_gauges();
    series->set_name(name);
    series->set_metric(g.metric);
    double sum = 0, lo = g.values[0], hi = g.values[0];
    for (size_t i = 0; i < g.values.size(); ++i) {
      series->add_t_s(g.t_s[i]);
      series->add_values(g.values[i]);
      sum += g.values[i];
      lo = std::min(lo, g.values[i]);
      hi = std::max(hi, g.values[i]);
    }
    series->set_min(lo);
    series->set_mean(sum / static_cast<double>(g.values.size()));
    series->set_max(hi);
  }
  for (const v1::OllamaPsSample& s : ps_) *out->add_ps_samples() = s;
  if (scrapes_ < 2) return;
  for (const auto& [name, c] : counters_) {
    v1::CounterDelta* d = out->add_counters();
    d->set_name(name);
    d->set_metric(c.metric);
    d->set_start(c.start);
    d->set_end(c.last);
    d->set_delta(c.increase);
    d->set_reset(c.reset);
  }
  for (const auto& [name, h] : histograms_) {
    if (!h.increase.has_value()) continue;
    v1::ServerHistogram* target = nullptr;
    if (name == "ttft") target = out->mutable_server_ttft();
    if (name == "itl") target = out->mutable_server_itl();
    if (name == "e2e") target = out->mutable_server_e2e();
    if (name == "queue") target = out->mutable_server_queue();
    if (name == "inference") target = out->mutable_server_inference();
    if (target != nullptr) FillServerHistogram(h.metric, *h.increase, target);
  }
}

// ---------------------------------------------------------------------------------------------
// ClientRecordStats.

void ClientRecordStats::Add(const v1::RequestRecord& record) {
  ++requests_;
  output_tokens_ += record.output_tokens();
  if (record.error_class() != v1::ERROR_CLASS_NONE) return;
  ++successes_;
  if (record.has_input_tokens()) {
    input_tokens_ += record.input_tokens();
  } else {
    ++successes_without_input_;
  }
  const RequestMetrics m = MetricsOf(record);
  if (m.ttft_ns) ttft_ms_.push_back(static_cast<double>(*m.ttft_ns) / 1e6);
  e2e_ms_.push_back(static_cast<double>(m.e2e_ns) / 1e6);
  sorted_ = false;
  ForEachGap(record, [&](int64_t gap) {
    itl_ms_.Add(static_cast<double>(std::max<int64_t>(gap, 0)) / 1e6);
  });
  const v1::EngineTimings& t = record.engine_timings();
  bool any = false;
  auto add = [&](std::string_view key, double v) {
    timings_[std::string(key)].push_back(v);
    any = true;
  };
  if (t.has_load_duration_ns()) add("load_ms", static_cast<double>(t.load_duration_ns()) / 1e6);
  if (t.has_prompt_eval_duration_ns()) {
    add("prompt_eval_ms", static_cast<double>(t.prompt_eval_duration_ns()) / 1e6);
    if (t.has_prompt_eval_count() && t.prompt_eval_duration_ns() > 0) {
      add("prompt_eval_tokens_per_s",
          t.prompt_eval_count() / (static_cast<double>(t.prompt_eval_duration_ns()) / 1e9));
    }
  }
  if (t.has_eval_count() && t.has_eval_duration_ns() && t.eval_duration_ns() > 0) {
    add("decode_tokens_per_s", t.eval_count() / (static_cast<double>(t.eval_duration_ns()) / 1e9));
  }
  if (t.has_total_duration_ns()) add("total_ms", static_cast<double>(t.total_duration_ns()) / 1e6);
  if (t.has_queue_time_ns()) add("queue_ms", static_cast<double>(t.queue_time_ns()) / 1e6);
  if (t.has_server_ttft_ns()) add("server_ttft_ms", static_cast<double>(t.server_ttft_ns()) / 1e6);
  if (any) ++timed_;
}

std::optional<uint64_t> ClientRecordStats::input_tokens() const {
  if (successes_ == 0 || successes_without_input_ > 0) return std::nullopt;
  return input_tokens_;
}

std::optional<double> ClientRecordStats::TtftMs(double q) const {
  if (ttft_ms_.empty()) return std::nullopt;
  if (!sorted_) {
    std::sort(ttft_ms_.begin(), ttft_ms_.end());
    std::sort(e2e_ms_.begin(), e2e_ms_.end());
    sorted_ = true;
  }
  return SortedQuantile(ttft_ms_, q);
}

std::optional<double> ClientRecordStats::E2eMs(double q) const {
  if (e2e_ms_.empty()) return std::nullopt;
  if (!sorted_) {
    std::sort(ttft_ms_.begin(), ttft_ms_.end());
    std::sort(e2e_ms_.begin(), e2e_ms_.end());
    sorted_ = true;
  }
  return SortedQuantile(e2e_ms_, q);
}

std::optional<double> ClientRecordStats::ItlMs(double q) const {
  if (itl_ms_.count() == 0) return std::nullopt;
  return itl_ms_.Quantile(q);
}

std::optional<v1::ServerTimingSummary> ClientRecordStats::ServerTimings() const {
  if (timed_ == 0) return std::nullopt;
  v1::ServerTimingSummary s;
  s.set_requests(timed_);
  auto fill = [&](std::string_view key, v1::TimingStats* out) {
    auto it = timings_.find(key);
    if (it != timings_.end()) SetTimingStats(it->second, out);
  };
  if (timings_.contains("load_ms")) fill("load_ms", s.mutable_load_ms());
  if (timings_.contains("prompt_eval_ms")) fill("prompt_eval_ms", s.mutable_prompt_eval_ms());
  if (timings_.contains("prompt_eval_tokens_per_s")) {
    fill("prompt_eval_tokens_per_s", s.mutable_prompt_eval_tokens_per_s());
  }
  if (timings_.contains("decode_tokens_per_s")) {
    fill("decode_tokens_per_s", s.mutable_decode_tokens_per_s());
  }
  if (timings_.contains("total_ms")) fill("total_ms", s.mutable_total_ms());
  if (timings_.contains("queue_ms")) fill("queue_ms", s.mutable_queue_ms());
  if (timings_.contains("server_ttft_ms")) fill("server_ttft_ms", s.mutable_server_ttft_ms());
  return s;
}

// ---------------------------------------------------------------------------------------------
// BuildEngineTelemetry.

v1::EngineTelemetry BuildEngineTelemetry(const ScrapeAccumulator& scrapes,
                                         const ClientRecordStats& records) {
  v1::EngineTelemetry out;
  scrapes.Fill(&out);
  if (std::optional<v1::ServerTimingSummary> timings = records.ServerTimings()) {
    *out.mutable_server_timings() = *std::move(timings);
  }
  if (out.source() != v1::EngineTelemetry::SOURCE_PROMETHEUS || out.scrapes() < 2) return out;
  v1::ClientVsServer* c = out.mutable_client_vs_server();
  c->set_client_requests(records.requests());
  c->set_client_successes(records.successes());
  if (std::optional<double> v = scrapes.CounterIncreaseOf("requests_success")) {
    c->set_server_requests_success(*v);
  }
  std::vector<std::string> coarse_notes;
  auto pair = [&coarse_notes](std::optional<double> client, const v1::ServerHistogram* server,
                              double q, auto set_client, auto set_server, auto set_diff,
                              const char* what) {
    if (client.has_value()) set_client(*client);
    std::optional<double> s;
    if (server != nullptr) {
      if (q == 0.5 && server->has_p50_ms()) s = server->p50_ms();
      if (q == 0.99 && server->has_p99_ms()) s = server->p99_ms();
    }
    if (s.has_value()) set_server(*s);
    if (!client.has_value() || !s.has_value() || !set_diff) return;
    std::optional<ServerQuantileBucket> bucket = FindServerQuantileBucket(*server, q);
    if (!bucket.has_value()) return;
    ServerComparison compared = CompareWithServerBucket(*client, *bucket);
    if (compared.diff_ms.has_value()) {
      set_diff(*compared.diff_ms);
    } else {
      coarse_notes.push_back(absl::StrCat(what, " client − server: ", compared.why_not));
    }
  };
  const v1::ServerHistogram* ttft = out.has_server_ttft() ? &out.server_ttft() : nullptr;
  const v1::ServerHistogram* e2e = out.has_server_e2e() ? &out.server_e2e() : nullptr;
  const v1::ServerHistogram* itl = out.has_server_itl() ? &out.server_itl() : nullptr;
  using Set = std::function<void(double)>;
  pair(records.TtftMs(0.5), ttft, 0.5, Set([c](double v) { c->set_client_ttft_p50_ms(v); }),
       Set([c](double v) { c->set_server_ttft_p50_ms(v); }),
       Set([c](double v) { c->set_ttft_p50_diff_ms(v); }), "TTFT p50");
  pair(records.TtftMs(0.99), ttft, 0.99, Set([c](double v) { c->set_client_ttft_p99_ms(v); }),
       Set([c](double v) { c->set_server_ttft_p99_ms(v); }),
       Set([c](double v) { c->set_ttft_p99_diff_ms(v); }), "TTFT p99");
  pair(records.E2eMs(0.5), e2e, 0.5, Set([c](double v) { c->set_client_e2e_p50_ms(v); }),
       Set([c](double v) { c->set_server_e2e_p50_ms(v); }),
       Set([c](double v) { c->set_e2e_p50_diff_ms(v); }), "E2E p50");
  pair(records.E2eMs(0.99), e2e, 0.99, Set([c](double v) { c->set_client_e2e_p99_ms(v); }),
       Set([c](double v) { c->set_server_e2e_p99_ms(v); }),
       Set([c](double v) { c->set_e2e_p99_diff_ms(v); }), "E2E p99");
  pair(records.ItlMs(0.5), itl, 0.5, Set([c](double v) { c->set_client_itl_p50_ms(v); }),
       Set([c](double v) { c->set_server_itl_p50_ms(v); }), Set(), "ITL p50");
  for (std::string& note : coarse_notes) {
    if (static_cast<size_t>(out.notes_size()) < kMaxTelemetryNotes) out.add_notes(std::move(note));
  }

  c->set_client_output_tokens(records.output_tokens());
  if (std::optional<double> v = scrapes.CounterIncreaseOf("generation_tokens")) {
    c->set_server_generation_tokens(*v);
    c->set_output_tokens_diff(static_cast<double>(records.output_tokens()) - *v);
  }
  std::optional<uint64_t> input = records.input_tokens();
  if (input.has_value()) c->set_client_input_tokens(*input);
  if (std::optional<double> v = scrapes.CounterIncreaseOf("prompt_tokens")) {
    c->set_server_prompt_tokens(*v);
    if (input.has_value()) c->set_input_tokens_diff(static_cast<double>(*input) - *v);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// EngineTelemetryCollector.

EngineTelemetryCollector::EngineTelemetryCollector(const v1::Engine& engine, double interval_s,
                                                   TelemetryFetcher fetcher, const Clock& clock)
    : url_(TelemetryUrl(engine)),
      interval_s_(interval_s),
      fetcher_(std::move(fetcher)),
      clock_(clock),
      scrapes_(engine, interval_s) {}

std::unique_ptr<EngineTelemetryCollector> EngineTelemetryCollector::Start(
    const v1::Engine& engine, double interval_s, TelemetryFetcher fetcher, const Clock& clock) {
  std::unique_ptr<EngineTelemetryCollector> c(
      new EngineTelemetryCollector(engine, interval_s, std::move(fetcher), clock));
  c->ScrapeOnce();
  c->thread_ = std::thread([raw = c.get()] { raw->Loop(); });
  return c;
}

EngineTelemetryCollector::~EngineTelemetryCollector() { StopThread(); }

void EngineTelemetryCollector::ScrapeOnce() {
  absl::StatusOr<std::string> body = fetcher_(url_);
  const int64_t at = clock_.UnixNowNs();
  std::lock_guard<std::mutex> lock(scrape_mu_);
  scrapes_.AddScrape(at, body);
}

void EngineTelemetryCollector::Loop() {
  const auto interval = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(interval_s_));
  std::unique_lock<std::mutex> lock(stop_mu_);
  while (!stop_) {
    if (stop_cv_.wait_for(lock, interval, [this] { return stop_; })) break;
    lock.unlock();
    ScrapeOnce();
    lock.lock();
  }
}

void EngineTelemetryCollector::StopThread() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EngineTelemetryCollector::AddRecord(const v1::RequestRecord& record) {
  std::lock_guard<std::mutex> lock(records_mu_);
  records_.Add(record);
}

v1::EngineTelemetry EngineTelemetryCollector::Finish() {
  StopThread();
  ScrapeOnce();
  std::lock_guard<std::mutex> a(scrape_mu_);
  std::lock_guard<std::mutex> b(records_mu_);
  return BuildEngineTelemetry(scrapes_, records_);
}

std::unique_ptr<EngineTelemetryCollector> StartEngineTelemetry(const v1::Scenario& scenario,
                                                               int engine_index,
                                                               const Clock& clock) {
  if (!TelemetryEnabled(scenario) || engine_index < 0 ||
      engine_index >= scenario.engines_size()) {
    return nullptr;
  }
  const v1::Engine& engine = scenario.engines(engine_index);
  const double interval_s = std::max(kMinTelemetryIntervalS, TelemetryIntervalS(scenario));
  const int timeout_ms = static_cast<int>(std::clamp(interval_s * 1000.0, 1000.0, 5000.0));
  return EngineTelemetryCollector::Start(engine, interval_s,
                                         CurlTelemetryFetcher(engine, timeout_ms), clock);
}

void AttachTelemetry(const std::map<std::string, v1::EngineTelemetry>& by_engine,
                     v1::RunResult* result) {
  for (v1::EngineResult& engine : *result->mutable_engines()) {
    auto it = by_engine.find(engine.engine());
    if (it != by_engine.end()) *engine.mutable_telemetry() = it->second;
  }
}

}  // namespace llmbench::coordinator
