// Live metrics: what a run has measured so far, served in the Prometheus text exposition
// format (version 0.0.4) at GET /metrics while the run goes on (`--metrics-listen HOST:PORT`),
// so that a dashboard can watch a long run. docs/metrics.md, "Live metrics endpoint", lists
// every series, its labels and the fixed histogram buckets.
//
// - LiveMetrics: the registry. The dispatcher feeds it every record it merges (the same
//   records the Aggregator gets: duplicates and a failing worker's cancelled requests are
//   already filtered out; warm-up records are skipped here, as in the results) and every
//   worker's progress and summary messages. Render() writes the exposition text.
// - LiveMetricsServer: a small HTTP/1.1 server (Boost.Beast) on its own thread. GET /metrics
//   answers 200 with Render(); another path 404; another method 405; a malformed request 400.
//
// Thread-safety: LiveMetrics is thread-safe: one mutex guards its state; Add/OnWorkerMessage
// hold it for a few counter bumps, Render() holds it only to copy the state (a few hundred
// numbers) and formats after releasing it, so a scrape never stalls the merge path.
// LiveMetricsServer is thread-compatible (one owner); it calls its render function on its own
// thread.
//
// Lifetime: the LiveMetrics a server renders must outlive the server (destroy or Stop() the
// server first). Counters restart at zero when a run begins (BeginRun: each --repeat run and
// each sweep step is a run of its own); Prometheus treats that as a counter reset.
#ifndef LLMBENCH_COORDINATOR_LIVE_METRICS_H_
#define LLMBENCH_COORDINATOR_LIVE_METRICS_H_

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "llmbench/v1/record.pb.h"
#include "llmbench/v1/scenario.pb.h"
#include "llmbench/v1/worker.pb.h"

namespace llmbench::coordinator {

// Fixed histogram bucket upper bounds ("le"), in nanoseconds (rendered in seconds).
inline constexpr std::array<int64_t, 15> kLiveTtftBucketsNs = {
    1'000'000,   2'500'000,   5'000'000,     10'000'000,    25'000'000,
    50'000'000,  100'000'000, 250'000'000,   500'000'000,   1'000'000'000,
    2'500'000'000, 5'000'000'000, 10'000'000'000, 30'000'000'000, 60'000'000'000};
inline constexpr std::array<int64_t, 15> kLiveItlBucketsNs = {
    500'000,    1'000'000,   2'500'000,   5'000'000,   10'000'000,
    15'000'000, 20'000'000,  25'000'000,  50'000'000,  75'000'000,
    100'000'000, 250'000'000, 500'000'000, 1'000'000'000, 2'500'000'000};
inline constexpr std::array<int64_t, 15> kLiveE2eBucketsNs = {
    10'000'000,     25'000'000,     50'000'000,     100'000'000,    250'000'000,
    500'000'000,    1'000'000'000,  2'500'000'000,  5'000'000'000,  10'000'000'000,
    20'000'000'000, 30'000'000'000, 60'000'000'000, 120'000'000'000, 300'000'000'000};
inline constexpr std::array<int64_t, 13> kLiveLatenessBucketsNs = {
    100'000,    250'000,    500'000,     1'000'000,   2'500'000,   5'000'000,  10'000'000,
    25'000'000, 50'000'000, 100'000'000, 250'000'000, 500'000'000, 1'000'000'000};

// The Content-Type of the exposition text.
inline constexpr char kPrometheusTextContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// A fixed-bucket histogram of nanosecond values. Thread-compatible.
class LiveHistogram {
 public:
  explicit LiveHistogram(std::span<const int64_t> bounds_ns)
      : bounds_ns_(bounds_ns), counts_(bounds_ns.size() + 1, 0) {}

  // Counts `ns` in the first bucket whose bound is >= ns (Prometheus "le" is inclusive). A
  // negative value (only from a broken clock) counts as 0 so that _sum never decreases.
  void Observe(int64_t ns);

  std::span<const int64_t> bounds_ns() const { return bounds_ns_; }
  // Per bucket (not cumulative); the last one is +Inf.
  const std::vector<uint64_t>& counts() const { return counts_; }
  uint64_t count() const { return count_; }
  int64_t sum_ns() const { return sum_ns_; }

 private:
  std::span<const int64_t> bounds_ns_;
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  int64_t sum_ns_ = 0;
};

class LiveMetrics {
 public:
  // `clock` (not owned, must outlive this) times llmbench_run_elapsed_seconds.
  explicit LiveMetrics(const Clock& clock = SteadyClock::Get());
  ~LiveMetrics();
  LiveMetrics(const LiveMetrics&) = delete;
  LiveMetrics& operator=(const LiveMetrics&) = delete;

  // A run begins: forgets the previous run's numbers, sets llmbench_run_info and starts the
  // elapsed clock. The scenario's engines get their (empty) histograms at once.
  void BeginRun(std::string run_id, const llmbench::v1::Scenario& scenario);

  // One merged record. Warm-up records are ignored. Requests count by outcome ("success" or
  // the error class); tokens and latency histograms count successful requests only, as the
  // results do (docs/metrics.md); schedule lateness counts every measured open-loop request.
  void Add(const llmbench::v1::RequestRecord& record);

  // A worker's progress (in flight, CPU) or summary (in flight back to 0); other kinds are
  // ignored. `loop_threads` normalizes CPU use to one event-loop core, as summary.json does.
  void OnWorkerMessage(std::string_view worker_id, uint32_t loop_threads,
                       const llmbench::v1::WorkerMessage& message);

  // The exposition text (HELP and TYPE for every family, series sorted by labels).
  std::string Render() const;

 private:
  // Outcome slots: 0 = success, then ErrorClass 1..8, then kUnknownOutcome.
  static constexpr size_t kOutcomeSlots = 10;
  struct Cell {  // one (engine, worker)
    std::array<uint64_t, kOutcomeSlots> requests{};
    uint64_t output_tokens = 0;
    uint64_t input_tokens = 0;
  };
  struct EngineHistograms {
    EngineHistograms();
    LiveHistogram ttft;
    LiveHistogram itl;
    LiveHistogram e2e;
    LiveHistogram lateness;
  };
  struct WorkerGauges {
    uint64_t in_flight = 0;
    std::optional<double> cpu_utilization;
  };
  struct State {
    bool running = false;
    std::string run_id;
    std::string scenario;
    int64_t started_ns = 0;
    std::map<std::pair<std::string, std::string>, Cell> cells;  // (engine, worker)
    std::map<std::string, EngineHistograms> engines;
    std::map<std::string, WorkerGauges> workers;
  };

  static std::string Format(const State& state, int64_t now_ns);

  const Clock& clock_;
  mutable std::mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_);
  // One-entry cache of the last record's cell (std::map nodes never move).
  Cell* last_cell_ ABSL_GUARDED_BY(mu_) = nullptr;
  EngineHistograms* last_engine_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::string last_engine_name_ ABSL_GUARDED_BY(mu_);
  std::string last_worker_name_ ABSL_GUARDED_BY(mu_);
};

// Prometheus label value escaping: backslash, double quote and line feed.
std::string EscapeLabelValue(std::string_view value);

// Shortest text that reads back as `value` ("0.0025", "1", "1e+20", "+Inf", "NaN").
std::string FormatPrometheusDouble(double value);

class LiveMetricsServer {
 public:
  // Listens on `listen` ("HOST:PORT", HOST an IPv4 address, a bracketed IPv6 address or
  // "localhost"; PORT 0 picks a free port) and serves `render()` at GET /metrics on its own
  // thread. Errors name the flag and the address: a malformed address (InvalidArgument), an
  // address that cannot be bound (Unavailable).
  static absl::StatusOr<std::unique_ptr<LiveMetricsServer>> Start(
      const std::string& listen, std::function<std::string()> render);

  ~LiveMetricsServer();  // Stop()
  LiveMetricsServer(const LiveMetricsServer&) = delete;
  LiveMetricsServer& operator=(const LiveMetricsServer&) = delete;

  // "http://HOST:PORT/metrics" with the bound port.
  const std::string& url() const { return url_; }
  int port() const { return port_; }

  // Closes the listener and every connection and joins the thread. Idempotent.
  void Stop();

 private:
  struct Loop;
  LiveMetricsServer(std::unique_ptr<Loop> loop, std::string url, int port);

  std::unique_ptr<Loop> loop_;
  std::string url_;
  int port_ = 0;
};

// For the CLI: serves `metrics` at `listen` and prints "live metrics URL" to stderr.
absl::StatusOr<std::unique_ptr<LiveMetricsServer>> ServeLiveMetrics(const std::string& listen,
                                                                    const LiveMetrics* metrics);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_LIVE_METRICS_H_
