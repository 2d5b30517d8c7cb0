// Engine telemetry: what each engine says about itself during a run, beside what the client
// measured (issue 7 §1; docs/metrics.md, "Engine telemetry").
//
// - Engines with Prometheus /metrics (vLLM `vllm:*`, TGI `tgi_*`, llama.cpp `llamacpp:*`,
//   SGLang `sglang:*`) are scraped before the engine's run starts, every interval during it,
//   and after its last record arrived. Gauges become time series (queue length, running
//   requests, KV-cache use, batch size); counters and histograms become increases over the
//   scrape window, summed over consecutive scrapes so a restarted engine (a counter going back)
//   is survived and noted. Server-side TTFT / ITL / E2E / queue quantiles are estimated from
//   the histogram increases the way PromQL's histogram_quantile() does it.
// - Ollama has no /metrics: /api/ps (loaded models and their memory) is sampled instead, and
//   the per-request timings the worker recorded (load, prompt evaluation and decode) are
//   summarised.
// - A ClientVsServer block puts the client's TTFT/E2E/ITL and token totals beside the
//   engine's own over the same window.
// A scrape that fails is a note and a count in the result; it never fails the run. Whatever
// was not measured is absent, never zero.
//
// Pieces: ScrapeAccumulator (the scrape side) and ClientRecordStats (the record side) are
// plain, thread-compatible values; BuildEngineTelemetry() combines them. EngineTelemetryCollector
// runs the scrapes on its own thread (one libcurl easy handle per scrape) and is thread-safe:
// AddRecord() may be called from any thread while it runs.
// Elsewhere, by job: the Prometheus series math (sums, deltas, quantiles) in
// common/prometheus_text.h; the server histograms and their comparison with client quantiles
// in coordinator/server_histogram.h; engine_metrics.csv in coordinator/engine_metrics_csv.h.
#ifndef LLMBENCH_COORDINATOR_ENGINE_TELEMETRY_H_
#define LLMBENCH_COORDINATOR_ENGINE_TELEMETRY_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/prometheus_text.h"
#include "common/stats.h"
#include "llmbench/v1/record.pb.h"
#include "llmbench/v1/result.pb.h"
#include "llmbench/v1/scenario.pb.h"
#include "llmbench/v1/telemetry.pb.h"

namespace llmbench::coordinator {

inline constexpr double kDefaultTelemetryIntervalS = 2.0;
inline constexpr double kMinTelemetryIntervalS = 0.1;
inline constexpr size_t kMaxTelemetryNotes = 20;

// Whether scenario.telemetry asks for scrapes (default: yes) and at what interval.
bool TelemetryEnabled(const v1::Scenario& scenario);
double TelemetryIntervalS(const v1::Scenario& scenario);
// InvalidArgument naming the field when telemetry.interval_seconds is set below 0.1 s or is
// not finite.
absl::Status ValidateTelemetry(const v1::Scenario& scenario);

// What is scraped: ".../metrics", or ".../api/ps" for Ollama.
std::string TelemetryUrl(const v1::Engine& engine);

// GETs one URL: the body of a 2xx answer, else Unavailable naming the URL and the HTTP status
// or transport error.
using TelemetryFetcher = std::function<absl::StatusOr<std::string>(const std::string& url)>;
// libcurl, with the engine's headers, API key (Bearer) and CA file; `timeout_ms` per request.
TelemetryFetcher CurlTelemetryFetcher(const v1::Engine& engine, int timeout_ms);

// The scrape side. Feed every scrape in time order.
class ScrapeAccumulator {
 public:
  ScrapeAccumulator(const v1::Engine& engine, double interval_s);

  // One fetch at `unix_ns`: the body, or the fetch error (recorded as a note).
  void AddScrape(int64_t unix_ns, const absl::StatusOr<std::string>& body);

  // Fills every field of `out` this side knows (source, dialect, scrapes, gauges, counters,
  // server histograms, ps samples, notes).
  void Fill(v1::EngineTelemetry* out) const;

  // The canonical counter's increase over the window (e.g. "generation_tokens"); nullopt when
  // the engine does not expose it.
  std::optional<double> CounterIncreaseOf(std::string_view name) const;

 private:
  struct Gauge {
    std::string metric;
    std::vector<double> t_s;
    std::vector<double> values;
  };
  struct Counter {
    std::string metric;
    bool seen = false;
    double start = 0;
    double last = 0;
    double increase = 0;
    bool reset = false;
  };
  struct Histogram {
    std::string metric;
    std::optional<HistogramSeries> last;  // previous scrape's combined series
    std::optional<HistogramSeries> increase;
    bool reset = false;
  };

  void AddMetrics(double t_s, const MetricSet& set);
  bool AddPs(double t_s, std::string_view body);  // false (and a note) when unparsable
  void Note(std::string note);

  v1::Engine engine_;
  double interval_s_;
  bool ollama_;
  std::string dialect_;  // decided at the first successful scrape
  uint32_t scrapes_ = 0;
  uint32_t errors_ = 0;
  int64_t first_unix_ns_ = 0;
  int64_t last_unix_ns_ = 0;
  std::vector<std::string> notes_;
  size_t notes_dropped_ = 0;
  std::map<std::string, Gauge, std::less<>> gauges_;        // by canonical name
  std::map<std::string, Counter, std::less<>> counters_;    // by canonical name
  std::map<std::string, Histogram, std::less<>> histograms_;  // by canonical name
  std::vector<v1::OllamaPsSample> ps_;
};

// The record side: every record of the engine that arrived during the scrape window (warm-up
// included: the engine served those too).
class ClientRecordStats {
 public:
  void Add(const v1::RequestRecord& record);

  uint64_t requests() const { return requests_; }
  uint64_t successes() const { return successes_; }
  uint64_t output_tokens() const { return output_tokens_; }
  // Sum of engine-reported input tokens; nullopt when a successful record lacks one.
  std::optional<uint64_t> input_tokens() const;
  // Client TTFT / E2E quantile in ms over successes; nullopt without data.
  std::optional<double> TtftMs(double q) const;
  std::optional<double> E2eMs(double q) const;
  // Client inter-chunk gap quantile in ms (log histogram, ≤ 1% relative error).
  std::optional<double> ItlMs(double q) const;
  // Summary of the engine-reported per-request timings; nullopt when no success had any.
  std::optional<v1::ServerTimingSummary> ServerTimings() const;

 private:
  uint64_t requests_ = 0;
  uint64_t successes_ = 0;
  uint64_t output_tokens_ = 0;
  uint64_t input_tokens_ = 0;
  uint64_t successes_without_input_ = 0;
  mutable std::vector<double> ttft_ms_;  // sorted lazily
  mutable std::vector<double> e2e_ms_;
  mutable bool sorted_ = true;
  LogHistogram itl_ms_{0.01, 1e-6};
  uint64_t timed_ = 0;  // successes with any engine timing
  std::map<std::string, std::vector<double>, std::less<>> timings_;  // by summary field
};

// Combines both sides into the message attached to EngineResult.telemetry. A client − server
// difference (ClientVsServer.*_diff_ms) is set only when CompareWithServerBucket
// (coordinator/server_histogram.h) resolves it; otherwise a note says why (e.g. "TTFT p50: too coarse to compare: ...").
v1::EngineTelemetry BuildEngineTelemetry(const ScrapeAccumulator& scrapes,
                                         const ClientRecordStats& records);

// Scrapes one engine on its own thread while it runs.
class EngineTelemetryCollector {
 public:
  // Scrapes once before returning (the window's start), then every `interval_s` on a thread.
  static std::unique_ptr<EngineTelemetryCollector> Start(const v1::Engine& engine,
                                                          double interval_s,
                                                          TelemetryFetcher fetcher,
                                                          const Clock& clock);
  // Stops the thread (without a final scrape) if Finish() was not called.
  ~EngineTelemetryCollector();
  EngineTelemetryCollector(const EngineTelemetryCollector&) = delete;
  EngineTelemetryCollector& operator=(const EngineTelemetryCollector&) = delete;

  // Thread-safe.
  void AddRecord(const v1::RequestRecord& record);

  // Stops the periodic thread, scrapes once more (the window's end) and builds the result.
  // REQUIRES: called once.
  v1::EngineTelemetry Finish();

 private:
  EngineTelemetryCollector(const v1::Engine& engine, double interval_s, TelemetryFetcher fetcher,
                           const Clock& clock);
  void ScrapeOnce();
  void Loop();
  void StopThread();

  const std::string url_;
  const double interval_s_;
  TelemetryFetcher fetcher_;
  const Clock& clock_;
  std::mutex scrape_mu_;
  ScrapeAccumulator scrapes_ ABSL_GUARDED_BY(scrape_mu_);
  std::mutex records_mu_;
  ClientRecordStats records_ ABSL_GUARDED_BY(records_mu_);
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::thread thread_;
};

// Starts a collector for scenario.engines(engine_index) when telemetry is enabled (else
// nullptr), with the libcurl fetcher and the scenario's interval.
std::unique_ptr<EngineTelemetryCollector> StartEngineTelemetry(const v1::Scenario& scenario,
                                                               int engine_index,
                                                               const Clock& clock);

// Sets EngineResult.telemetry of each engine of `result` found in `by_engine` (by name).
void AttachTelemetry(const std::map<std::string, v1::EngineTelemetry>& by_engine,
                     v1::RunResult* result);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_ENGINE_TELEMETRY_H_
