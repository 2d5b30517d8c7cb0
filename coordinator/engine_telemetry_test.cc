#include "coordinator/engine_telemetry.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "coordinator/engine_metrics_csv.h"

namespace llmbench::coordinator {
namespace {

namespace v1 = ::llmbench::v1;

std::string Fixture(const std::string& path) {
  std::ifstream in(std::string(LLMBENCH_SOURCE_DIR) + "/tests/fixtures/engines/" + path,
                   std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

v1::Engine MakeEngine(v1::EngineKind kind, const std::string& url = "http://127.0.0.1:9/") {
  v1::Engine e;
  e.set_name("e");
  e.set_kind(kind);
  e.set_base_url(url);
  return e;
}

// A vLLM page with the given counters and one TTFT histogram (buckets 0.01, 0.02, 0.04, +Inf).
std::string VllmPage(double generation, double prompt, double running,
                     std::vector<double> ttft_cumulative, double ttft_sum) {
  std::ostringstream o;
  o << "# TYPE vllm:num_requests_running gauge\n"
    << "vllm:num_requests_running{model_name=\"m\"} " << running << "\n"
    << "# TYPE vllm:num_requests_waiting gauge\n"
    << "vllm:num_requests_waiting{model_name=\"m\"} 1.0\n"
    << "# TYPE vllm:generation_tokens_total counter\n"
    << "vllm:generation_tokens_total{model_name=\"m\"} " << generation << "\n"
    << "# TYPE vllm:prompt_tokens_total counter\n"
    << "vllm:prompt_tokens_total{model_name=\"m\"} " << prompt << "\n"
    << "# TYPE vllm:time_to_first_token_seconds histogram\n";
  const char* les[] = {"0.01", "0.02", "0.04", "+Inf"};
  for (int i = 0; i < 4; ++i) {
    o << "vllm:time_to_first_token_seconds_bucket{le=\"" << les[i] << "\",model_name=\"m\"} "
      << ttft_cumulative[i] << "\n";
  }
  o << "vllm:time_to_first_token_seconds_count{model_name=\"m\"} " << ttft_cumulative[3] << "\n"
    << "vllm:time_to_first_token_seconds_sum{model_name=\"m\"} " << ttft_sum << "\n";
  return o.str();
}

v1::RequestRecord Record(int64_t ttft_ms, int64_t e2e_ms, uint32_t out, uint32_t in,
                         bool ok = true) {
  v1::RequestRecord r;
  r.set_sent_ns(1'000'000'000);
  if (ok) r.set_first_token_ns(r.sent_ns() + ttft_ms * 1'000'000);
  r.set_end_ns(r.sent_ns() + e2e_ms * 1'000'000);
  r.set_output_tokens(out);
  r.set_input_tokens(in);
  if (!ok) r.set_error_class(v1::ERROR_CLASS_HTTP_5XX);
  return r;
}

const v1::CounterDelta* FindCounter(const v1::EngineTelemetry& t, const std::string& name) {
  for (const v1::CounterDelta& c : t.counters()) {
    if (c.name() == name) return &c;
  }
  return nullptr;
}

const v1::GaugeSeries* FindGauge(const v1::EngineTelemetry& t, const std::string& name) {
  for (const v1::GaugeSeries& g : t.gauges()) {
    if (g.name() == name) return &g;
  }
  return nullptr;
}

TEST(EngineTelemetryTest, VllmWindowDeltasQuantilesAndClientComparison) {
  ScrapeAccumulator scrapes(MakeEngine(v1::ENGINE_KIND_VLLM), 2.0);
  // Before the run: lifetime counts that must not leak into the window.
  scrapes.AddScrape(10'000'000'000, VllmPage(1000, 400, 0, {50, 50, 50, 50}, 0.25));
  scrapes.AddScrape(12'000'000'000, VllmPage(1030, 440, 3, {50, 51, 52, 52}, 0.30));
  scrapes.AddScrape(14'500'000'000, VllmPage(1060, 480, 0, {50, 52, 54, 54}, 0.35));
  ClientRecordStats records;
  records.Add(Record(20, 100, 30, 40));
  records.Add(Record(30, 120, 30, 40));
  records.Add(Record(0, 5, 0, 0, /*ok=*/false));  // a failure: counted, no latency

  v1::EngineTelemetry t = BuildEngineTelemetry(scrapes, records);
  EXPECT_EQ(t.source(), v1::EngineTelemetry::SOURCE_PROMETHEUS);
  EXPECT_EQ(t.dialect(), "vllm");
  EXPECT_EQ(t.url(), "http://127.0.0.1:9/metrics");
  EXPECT_EQ(t.interval_s(), 2.0);
  EXPECT_EQ(t.scrapes(), 3u);
  EXPECT_EQ(t.scrape_errors(), 0u);
  // The one comparison the buckets cannot resolve (below) is the only note.
  ASSERT_EQ(t.notes_size(), 1);
  EXPECT_EQ(t.notes(0),
            "TTFT p99 client − server: too coarse to compare: the server's value lies "
            "somewhere in its 20–40 ms bucket, which holds the client's 29.9 ms too");
  EXPECT_EQ(t.window_s(), 4.5);
  EXPECT_EQ(t.first_scrape_unix_ns(), 10'000'000'000);
  EXPECT_EQ(t.last_scrape_unix_ns(), 14'500'000'000);

  const v1::CounterDelta* gen = FindCounter(t, "generation_tokens");
  ASSERT_NE(gen, nullptr);
  EXPECT_EQ(gen->metric(), "vllm:generation_tokens_total");
  EXPECT_EQ(gen->start(), 1000.0);
  EXPECT_EQ(gen->end(), 1060.0);
  EXPECT_EQ(gen->delta(), 60.0);
  EXPECT_FALSE(gen->reset());
  EXPECT_EQ(FindCounter(t, "prompt_tokens")->delta(), 80.0);
  EXPECT_EQ(FindCounter(t, "requests_success"), nullptr);  // not exposed: absent

  const v1::GaugeSeries* running = FindGauge(t, "running_requests");
  ASSERT_NE(running, nullptr);
  EXPECT_EQ(running->metric(), "vllm:num_requests_running");
  EXPECT_EQ(std::vector<double>(running->t_s().begin(), running->t_s().end()),
            (std::vector<double>{0, 2, 4.5}));
  EXPECT_EQ(std::vector<double>(running->values().begin(), running->values().end()),
            (std::vector<double>{0, 3, 0}));
  EXPECT_EQ(running->min(), 0.0);
  EXPECT_EQ(running->mean(), 1.0);
  EXPECT_EQ(running->max(), 3.0);
  EXPECT_EQ(FindGauge(t, "kv_cache_usage"), nullptr);

  // The window's TTFT histogram: 2 in (0.01, 0.02], 2 in (0.02, 0.04]; sum 0.10 s.
  ASSERT_TRUE(t.has_server_ttft());
  const v1::ServerHistogram& ttft = t.server_ttft();
  EXPECT_EQ(ttft.metric(), "vllm:time_to_first_token_seconds");
  EXPECT_EQ(ttft.count(), 4.0);
  EXPECT_NEAR(ttft.mean_ms(), 25.0, 1e-9);
  EXPECT_NEAR(ttft.p50_ms(), 20.0, 1e-9);               // rank 2 = top of (0.01, 0.02]
  EXPECT_NEAR(ttft.p90_ms(), 20.0 + 20.0 * 1.6 / 2, 1e-9);  // rank 3.6: 1.6 of 2 in
  EXPECT_NEAR(ttft.p99_ms(), 20.0 + 20.0 * 1.96 / 2, 1e-9);
  ASSERT_EQ(ttft.buckets_size(), 4);
  EXPECT_EQ(ttft.buckets(0).le(), 0.01);
  EXPECT_EQ(ttft.buckets(0).count(), 0.0);
  EXPECT_EQ(ttft.buckets(3).le(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(ttft.buckets(3).count(), 4.0);
  EXPECT_FALSE(t.has_server_itl());
  EXPECT_FALSE(t.has_server_e2e());
  EXPECT_FALSE(t.has_server_timings());
  EXPECT_EQ(t.ps_samples_size(), 0);

  ASSERT_TRUE(t.has_client_vs_server());
  const v1::ClientVsServer& c = t.client_vs_server();
  EXPECT_EQ(c.client_requests(), 3u);
  EXPECT_EQ(c.client_successes(), 2u);
  EXPECT_FALSE(c.has_server_requests_success());
  EXPECT_DOUBLE_EQ(c.client_ttft_p50_ms(), 25.0);
  EXPECT_DOUBLE_EQ(c.client_ttft_p99_ms(), 29.9);
  EXPECT_NEAR(c.server_ttft_p50_ms(), 20.0, 1e-9);
  // p50: the server's value is in (10, 20] ms and the client's 25 ms above it: 5 ms (5–15).
  EXPECT_NEAR(c.ttft_p50_diff_ms(), 5.0, 1e-9);
  // p99: the server's value is somewhere in (20, 40] ms, and so is the client's 29.9 ms: the
  // interpolated 39.6 ms would give an impossible -9.7 ms. No difference.
  EXPECT_NEAR(c.server_ttft_p99_ms(), 20.0 + 20.0 * 1.96 / 2, 1e-9);
  EXPECT_FALSE(c.has_ttft_p99_diff_ms());
  EXPECT_DOUBLE_EQ(c.client_e2e_p50_ms(), 110.0);
  EXPECT_FALSE(c.has_server_e2e_p50_ms());  // no E2E histogram on this page
  EXPECT_FALSE(c.has_e2e_p50_diff_ms());
  EXPECT_EQ(c.client_output_tokens(), 60u);
  EXPECT_EQ(c.server_generation_tokens(), 60.0);
  EXPECT_EQ(c.output_tokens_diff(), 0.0);
  EXPECT_EQ(c.client_input_tokens(), 80u);
  EXPECT_EQ(c.server_prompt_tokens(), 80.0);
  EXPECT_EQ(c.input_tokens_diff(), 0.0);
}

TEST(EngineTelemetryTest, CounterResetAndLateSeriesAndFailedScrapes) {
  ScrapeAccumulator scrapes(MakeEngine(v1::ENGINE_KIND_TGI), 1.0);
  scrapes.AddScrape(0, "# TYPE tgi_request_count counter\ntgi_request_count 10\n");
  scrapes.AddScrape(1'000'000'000, absl::UnavailableError("GET http://x/metrics: HTTP 503"));
  scrapes.AddScrape(2'000'000'000, "this is not prometheus {\n");
  // The engine restarted (10 -> 4) and a failure counter appeared during the window.
  scrapes.AddScrape(3'000'000'000,
                    "# TYPE tgi_request_count counter\ntgi_request_count 4\n"
                    "# TYPE tgi_request_failure counter\ntgi_request_failure{err=\"x\"} 2\n");
  scrapes.AddScrape(4'000'000'000,
                    "# TYPE tgi_request_count counter\ntgi_request_count 7\n"
                    "# TYPE tgi_request_failure counter\ntgi_request_failure{err=\"x\"} 3\n");
  v1::EngineTelemetry t = BuildEngineTelemetry(scrapes, ClientRecordStats());
  EXPECT_EQ(t.dialect(), "tgi");
  EXPECT_EQ(t.scrapes(), 3u);
  EXPECT_EQ(t.scrape_errors(), 2u);
  ASSERT_EQ(t.notes_size(), 3);
  EXPECT_EQ(t.notes(0), "scrape failed: GET http://x/metrics: HTTP 503");
  EXPECT_EQ(t.notes(1), "unparsable /metrics: line 1: bad value 'is' for 'this'");
  EXPECT_EQ(t.notes(2), "tgi_request_count went back from 10 to 4 (engine restarted?)");
  const v1::CounterDelta* requests = FindCounter(t, "requests");
  ASSERT_NE(requests, nullptr);
  EXPECT_EQ(requests->start(), 10.0);
  EXPECT_EQ(requests->end(), 7.0);
  EXPECT_EQ(requests->delta(), 4.0 + 3.0);  // 4 after the restart, then 3 more
  EXPECT_TRUE(requests->reset());
  const v1::CounterDelta* failures = FindCounter(t, "requests_failure");
  ASSERT_NE(failures, nullptr);
  EXPECT_EQ(failures->start(), 0.0);
  EXPECT_EQ(failures->delta(), 3.0);
  EXPECT_EQ(t.window_s(), 4.0);
  // No records: the client side is zero requests, and there is no token comparison to make
  // beyond the (zero) client total.
  ASSERT_TRUE(t.has_client_vs_server());
  EXPECT_EQ(t.client_vs_server().client_requests(), 0u);
  EXPECT_FALSE(t.client_vs_server().has_client_ttft_p50_ms());
  EXPECT_FALSE(t.client_vs_server().has_server_generation_tokens());
}

TEST(EngineTelemetryTest, UnparsableNoteNamesTheLine) {
  ScrapeAccumulator scrapes(MakeEngine(v1::ENGINE_KIND_VLLM), 1.0);
  scrapes.AddScrape(0, "a 1\nb{x=1} 2\n");
  v1::EngineTelemetry t = BuildEngineTelemetry(scrapes, ClientRecordStats());
  EXPECT_EQ(t.scrapes(), 0u);
  EXPECT_EQ(t.scrape_errors(), 1u);
  ASSERT_EQ(t.notes_size(), 1);
  EXPECT_EQ(t.notes(0),
            "unparsable /metrics: line 2: expected '\"' to open the value of label 'x'");
  EXPECT_FALSE(t.has_client_vs_server());
}

TEST(EngineTelemetryTest, OneScrapeHasNoIncreases) {
  ScrapeAccumulator scrapes(MakeEngine(v1::ENGINE_KIND_VLLM), 1.0);
  scrapes.AddScrape(0, Fixture("vllm/metrics.prom"));
  v1::EngineTelemetry t = BuildEngineTelemetry(scrapes, ClientRecordStats());
  EXPECT_EQ(t.scrapes(), 1u);
  EXPECT_EQ(t.counters_size(), 0);
  EXPECT_FALSE(t.has_server_ttft());
  EXPECT_FALSE(t.has_client_vs_server());
  ASSERT_EQ(t.notes_size(), 1);
  EXPECT_EQ(t.notes(0), "only one successful scrape: no increases over the run");
  // Gauges are still a (one-point) series: running 3, waiting 1, KV cache 0.0421875.
  EXPECT_EQ(FindGauge(t, "running_requests")->values(0), 3.0);
  EXPECT_EQ(FindGauge(t, "queue_length")->values(0), 1.0);
  EXPECT_EQ(FindGauge(t, "kv_cache_usage")->values(0), 0.0421875);
}

// Every fixture's names map onto the canonical ones (two scrapes of the same page: zero
// increases, but every mapped counter and histogram is present).
TEST(EngineTelemetryTest, FixtureDialects) {
  struct Case {
    v1::EngineKind kind;
    std::string fixture;
    std::string dialect;
    std::vector<std::string> counters;
    std::vector<std::string> gauges;
  };
  const std::vector<Case> cases = {
      {v1::ENGINE_KIND_VLLM, "vllm/metrics.prom", "vllm",
       {"generation_tokens", "prompt_tokens", "requests_success"},
       {"kv_cache_usage", "queue_length", "running_requests"}},
      {v1::ENGINE_KIND_TGI, "tgi/metrics.prom", "tgi",
       {"requests", "requests_failure", "requests_success"},
       {"batch_max_tokens", "batch_size", "queue_length"}},
      // llama.cpp and SGLang run as kind openai: the names decide.
      {v1::ENGINE_KIND_OPENAI, "llamacpp/metrics.prom", "llamacpp",
       {"decode_calls", "generation_tokens", "prompt_tokens"},
       {"batch_size", "decode_tokens_per_s", "prompt_tokens_per_s", "queue_length",
        "running_requests"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.fixture);
    ScrapeAccumulator scrapes(MakeEngine(c.kind), 1.0);
    scrapes.AddScrape(0, Fixture(c.fixture));
    scrapes.AddScrape(1'000'000'000, Fixture(c.fixture));
    v1::EngineTelemetry t = BuildEngineTelemetry(scrapes, ClientRecordStats());
    EXPECT_EQ(t.dialect(), c.dialect);
    EXPECT_EQ(t.notes_size(), 0);
    std::vector<std::string> counters, gauges;
    for (const auto& d : t.counters()) {
      counters.push_back(d.name());
      EXPECT_EQ(d.delta(), 0.0) << d.name();
    }
    for (const auto& g : t.gauges()) gauges.push_back(g.name());
    EXPECT_EQ(counters, c.counters);
    EXPECT_EQ(gauges, c.gauges);
  }
  // The llama.cpp fixture's exact gauge values.
  ScrapeAccumulator llama(MakeEngine(v1::ENGINE_KIND_OPENAI), 1.0);
  llama.AddScrape(0, Fixture("llamacpp/metrics.prom"));
  v1::EngineTelemetry t = BuildEngineTelemetry(llama, ClientRecordStats());
  EXPECT_EQ(FindGauge(t, "batch_size")->values(0), 1.92);
  EXPECT_EQ(FindGauge(t, "decode_tokens_per_s")->values(0), 38.5123);
  EXPECT_EQ(FindGauge(t, "running_requests")->values(0), 2.0);
}

TEST(EngineTelemetryTest, UnknownEngineIsANote) {
  ScrapeAccumulator scrapes(MakeEngine(v1::ENGINE_KIND_OPENAI), 1.0);
  scrapes.AddScrape(0, "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 3\n");
  scrapes.AddScrape(1, "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 4\n");
  v1::EngineTelemetry t = BuildEngineTelemetry(scrapes, ClientRecordStats());
  EXPECT_EQ(t.dialect(), "unknown");
  ASSERT_EQ(t.notes_size(), 1);
  EXPECT_EQ(t.notes(0),
            "no vllm:, tgi_, llamacpp: or sglang: metrics at http://127.0.0.1:9/metrics");
  EXPECT_EQ(t.counters_size(), 0);
}

TEST(EngineTelemetryTest, OllamaPsAndServerTimings) {
  ScrapeAccumulator scrapes(MakeEngine(v1::ENGINE_KIND_OLLAMA, "http://127.0.0.1:11434"), 2.0);
  scrapes.AddScrape(5'000'000'000, Fixture("ollama/ps.json"));
  scrapes.AddScrape(6'000'000'000, std::string("{\"models\":[]}"));
  scrapes.AddScrape(7'000'000'000, std::string("<html>"));
  ClientRecordStats records;
  // Timings as in ollama/generate.json, and a second request twice as fast at decoding.
  for (int64_t eval_ns : {4'709'213'000LL, 2'354'606'500LL}) {
    v1::RequestRecord r = Record(40, 500, 290, 26);
    v1::EngineTimings* t = r.mutable_engine_timings();
    t->set_load_duration_ns(5'025'959);
    t->set_prompt_eval_count(26);
    t->set_prompt_eval_duration_ns(325'953'000);
    t->set_eval_count(290);
    t->set_eval_duration_ns(eval_ns);
    t->set_total_duration_ns(5'043'500'667);
    records.Add(r);
  }
  records.Add(Record(40, 500, 10, 26));  // no timings (e.g. an OpenAI route)
  v1::EngineTelemetry t = BuildEngineTelemetry(scrapes, records);
  EXPECT_EQ(t.source(), v1::EngineTelemetry::SOURCE_OLLAMA_PS);
  EXPECT_EQ(t.dialect(), "ollama");
  EXPECT_EQ(t.url(), "http://127.0.0.1:11434/api/ps");
  EXPECT_EQ(t.scrapes(), 2u);
  EXPECT_EQ(t.scrape_errors(), 1u);  // the HTML answer
  ASSERT_EQ(t.notes_size(), 1);
  EXPECT_EQ(t.notes(0), "unparsable /api/ps answer (expected {\"models\":[...]})");
  ASSERT_EQ(t.ps_samples_size(), 2);
  EXPECT_EQ(t.ps_samples(0).t_s(), 0.0);
  ASSERT_EQ(t.ps_samples(0).models_size(), 1);
  const v1::OllamaLoadedModel& m = t.ps_samples(0).models(0);
  EXPECT_EQ(m.name(), "mistral:latest");
  EXPECT_EQ(m.size_bytes(), 5137025024u);
  EXPECT_EQ(m.size_vram_bytes(), 5137025024u);
  EXPECT_EQ(m.context_length(), 4096u);
  EXPECT_EQ(m.expires_at(), "2024-06-04T14:38:31.83753-07:00");
  EXPECT_EQ(t.ps_samples(1).t_s(), 1.0);
  EXPECT_EQ(t.ps_samples(1).models_size(), 0);
  // No Prometheus block for Ollama.
  EXPECT_EQ(t.counters_size(), 0);
  EXPECT_EQ(t.gauges_size(), 0);
  EXPECT_FALSE(t.has_server_ttft());
  EXPECT_FALSE(t.has_client_vs_server());

  ASSERT_TRUE(t.has_server_timings());
  const v1::ServerTimingSummary& s = t.server_timings();
  EXPECT_EQ(s.requests(), 2u);
  EXPECT_EQ(s.load_ms().count(), 2u);
  EXPECT_DOUBLE_EQ(s.load_ms().p50(), 5.025959);
  EXPECT_DOUBLE_EQ(s.prompt_eval_ms().mean(), 325.953);
  EXPECT_DOUBLE_EQ(s.prompt_eval_tokens_per_s().p50(), 26 / 0.325953);
  const double slow = 290 / 4.709213, fast = 290 / 2.3546065;
  EXPECT_DOUBLE_EQ(s.decode_tokens_per_s().min(), slow);
  EXPECT_DOUBLE_EQ(s.decode_tokens_per_s().max(), fast);
  EXPECT_DOUBLE_EQ(s.decode_tokens_per_s().p50(), (slow + fast) / 2);
  EXPECT_DOUBLE_EQ(s.total_ms().p99(), 5043.500667);
  EXPECT_FALSE(s.has_queue_ms());
  EXPECT_FALSE(s.has_server_ttft_ms());
}

// The collector: one scrape at Start, one at Finish; the interval thread never fires here
// (an hour), so nothing sleeps.
TEST(EngineTelemetryCollectorTest, StartAndFinishScrape) {
  std::vector<std::string> pages = {VllmPage(0, 0, 0, {0, 0, 0, 0}, 0),
                                    VllmPage(25, 10, 0, {0, 1, 1, 1}, 0.015)};
  std::vector<std::string> urls;
  size_t next = 0;
  FakeClock clock;
  TelemetryFetcher fetcher = [&](const std::string& url) -> absl::StatusOr<std::string> {
    urls.push_back(url);
    clock.AdvanceNs(1'500'000'000);
    return pages[std::min(next++, pages.size() - 1)];
  };
  std::unique_ptr<EngineTelemetryCollector> collector = EngineTelemetryCollector::Start(
      MakeEngine(v1::ENGINE_KIND_VLLM, "http://127.0.0.1:8000///"), 3600, fetcher, clock);
  collector->AddRecord(Record(12, 300, 25, 10));
  v1::EngineTelemetry t = collector->Finish();
  EXPECT_EQ(urls, (std::vector<std::string>{"http://127.0.0.1:8000/metrics",
                                            "http://127.0.0.1:8000/metrics"}));
  EXPECT_EQ(t.scrapes(), 2u);
  EXPECT_EQ(t.window_s(), 1.5);
  EXPECT_EQ(t.interval_s(), 3600.0);
  EXPECT_EQ(t.client_vs_server().client_output_tokens(), 25u);
  EXPECT_EQ(t.client_vs_server().server_generation_tokens(), 25.0);
  EXPECT_EQ(t.client_vs_server().output_tokens_diff(), 0.0);
  EXPECT_NEAR(t.client_vs_server().server_ttft_p50_ms(), 15.0, 1e-9);  // one in (0.01, 0.02]
  EXPECT_DOUBLE_EQ(t.client_vs_server().client_ttft_p50_ms(), 12.0);
}

// A collector destroyed without Finish() stops its thread (no leak, no hang).
TEST(EngineTelemetryCollectorTest, DestroyWithoutFinish) {
  int calls = 0;
  auto collector = EngineTelemetryCollector::Start(
      MakeEngine(v1::ENGINE_KIND_VLLM), 3600,
      [&](const std::string&) -> absl::StatusOr<std::string> {
        ++calls;
        return absl::UnavailableError("down");
      },
      SteadyClock::Get());
  collector.reset();
  EXPECT_EQ(calls, 1);
}

TEST(EngineTelemetryScenarioTest, DefaultsAndValidation) {
  v1::Scenario s;
  EXPECT_TRUE(TelemetryEnabled(s));
  EXPECT_EQ(TelemetryIntervalS(s), 2.0);
  EXPECT_TRUE(ValidateTelemetry(s).ok());
  s.mutable_telemetry()->set_enabled(false);
  EXPECT_FALSE(TelemetryEnabled(s));
  s.mutable_engines()->Add()->set_kind(v1::ENGINE_KIND_VLLM);
  EXPECT_EQ(StartEngineTelemetry(s, 0, SteadyClock::Get()), nullptr);
  s.mutable_telemetry()->set_interval_seconds(0.5);
  EXPECT_EQ(TelemetryIntervalS(s), 0.5);
  EXPECT_TRUE(ValidateTelemetry(s).ok());
  s.mutable_telemetry()->set_interval_seconds(0.01);
  absl::Status status = ValidateTelemetry(s);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "telemetry.interval_seconds: must be >= 0.1, got 0.01");
  s.mutable_telemetry()->set_interval_seconds(std::nan(""));
  EXPECT_EQ(ValidateTelemetry(s).message(), "telemetry.interval_seconds: must be >= 0.1, got NaN");
}

TEST(EngineMetricsCsvTest, RowsPerSection) {
  ScrapeAccumulator scrapes(MakeEngine(v1::ENGINE_KIND_VLLM), 2.0);
  scrapes.AddScrape(0, VllmPage(0, 0, 0, {0, 0, 0, 0}, 0));
  scrapes.AddScrape(2'000'000'000, VllmPage(30, 40, 2, {0, 1, 1, 1}, 0.015));
  ClientRecordStats records;
  records.Add(Record(12, 300, 30, 40));
  v1::RunResult result;
  v1::EngineResult* engine = result.add_engines();
  engine->set_engine("vllm,a");
  *engine->mutable_telemetry() = BuildEngineTelemetry(scrapes, records);
  result.add_engines()->set_engine("no-telemetry");
  EXPECT_EQ(EngineMetricsCsv(result),
            "engine,section,name,metric,t_s,client,server,diff\n"
            "\"vllm,a\",client_vs_server,requests_success,,,1,,\n"
            // The client's 12 ms lies in the server's (10, 20] ms bucket: no difference (the
            // interpolated estimates would give an impossible -3 and -7.9 ms).
            "\"vllm,a\",client_vs_server,ttft_p50_ms,vllm:time_to_first_token_seconds,,12,15,\n"
            // Shortest round-trip text of the computed doubles: (0.01 + 0.01 * 0.99) * 1000 is
            // 19.900000000000002 in binary floating point, and 0.019 * 1000 is 19.000000000000004.
            "\"vllm,a\",client_vs_server,ttft_p99_ms,vllm:time_to_first_token_seconds,,12,"
            "19.900000000000002,\n"
            "\"vllm,a\",client_vs_server,e2e_p50_ms,,,300,,\n"
            "\"vllm,a\",client_vs_server,e2e_p99_ms,,,300,,\n"
            "\"vllm,a\",client_vs_server,itl_p50_ms,,,,,\n"
            "\"vllm,a\",client_vs_server,output_tokens,,,30,30,0\n"
            "\"vllm,a\",client_vs_server,input_tokens,,,40,40,0\n"
            "\"vllm,a\",counter,generation_tokens,vllm:generation_tokens_total,,,30,\n"
            "\"vllm,a\",counter,prompt_tokens,vllm:prompt_tokens_total,,,40,\n"
            "\"vllm,a\",histogram,server_ttft_count,vllm:time_to_first_token_seconds,,,1,\n"
            "\"vllm,a\",histogram,server_ttft_mean_ms,vllm:time_to_first_token_seconds,,,15,\n"
            "\"vllm,a\",histogram,server_ttft_p50_ms,vllm:time_to_first_token_seconds,,,15,\n"
            "\"vllm,a\",histogram,server_ttft_p90_ms,vllm:time_to_first_token_seconds,,,"
            "19.000000000000004,\n"
            "\"vllm,a\",histogram,server_ttft_p99_ms,vllm:time_to_first_token_seconds,,,"
            "19.900000000000002,\n"
            "\"vllm,a\",gauge,queue_length,vllm:num_requests_waiting,0,,1,\n"
            "\"vllm,a\",gauge,queue_length,vllm:num_requests_waiting,2,,1,\n"
            "\"vllm,a\",gauge,running_requests,vllm:num_requests_running,0,,0,\n"
            "\"vllm,a\",gauge,running_requests,vllm:num_requests_running,2,,2,\n");
  v1::RunResult none;
  none.add_engines()->set_engine("x");
  EXPECT_EQ(EngineMetricsCsv(none), "engine,section,name,metric,t_s,client,server,diff\n");
}

TEST(AttachTelemetryTest, ByEngineName) {
  v1::RunResult result;
  result.add_engines()->set_engine("a");
  result.add_engines()->set_engine("b");
  std::map<std::string, v1::EngineTelemetry> by_engine;
  by_engine["b"].set_dialect("tgi");
  AttachTelemetry(by_engine, &result);
  EXPECT_FALSE(result.engines(0).has_telemetry());
  ASSERT_TRUE(result.engines(1).has_telemetry());
  EXPECT_EQ(result.engines(1).telemetry().dialect(), "tgi");
}

}  // namespace
}  // namespace llmbench::coordinator
