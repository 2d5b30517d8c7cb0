// HTML report: results/<run-id>/report.html, one self-contained page that works offline
// (opened by double-click; no CDN, no network). It shows the run's verdict and why, the summary
// tables (per engine, per worker, errors), the distributions of TTFT, ITL, TPOT and E2E (CDF and
// histogram, engines side by side), latency, throughput, concurrency and errors over time (per
// engine and per worker), the scenario and the metric definitions.
//
// The page inlines the uPlot charting library (pinned in web/package.json, compiled into the
// binary; see html_report_assets.h), the report's JS/CSS (web/src/) and its data: one JSON object
// in a <script type="application/json"> element, every '<' escaped as \u003c so no value can
// close the script. The data is summary.json verbatim plus series derived here from
// requests.csv (see ReportDataJson), sized for the browser: CDFs of at most 501 points,
// 40-bin histograms, per-second buckets (wider for runs over 20 minutes, at most 1200
// buckets) and a latency scatter downsampled to at most 5000 requests per engine, so a run of
// 100k+ requests stays fast to open. Cost (EngineResult.cost) and capacity sweeps
// (RunResult.sweeps) get their own sections, drawn from chart-ready series derived here
// (CostSweepJson); each appears only when the run has that data. Engines with telemetry
// (EngineResult.telemetry, coordinator/engine_telemetry.h) get a "Client vs server" section
// drawn from summary.json: client and server TTFT/E2E/ITL and token counts side by side, the
// server histograms and counters, Ollama /api/ps and per-request timings, and a gauge chart.
//
// Thread-safe: free functions without shared state.
#ifndef LLMBENCH_COORDINATOR_HTML_REPORT_H_
#define LLMBENCH_COORDINATOR_HTML_REPORT_H_

#include <istream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "llmbench/v1/record.pb.h"
#include "llmbench/v1/result.pb.h"

namespace llmbench::coordinator {

inline constexpr char kHtmlReportFileName[] = "report.html";

// Most points per engine in the latency scatter (successes; failures get as many again).
inline constexpr size_t kMaxScatterPoints = 5000;
// Most time buckets; the bucket is 1 s unless the run is longer than this many seconds.
inline constexpr size_t kMaxTimeBuckets = 1200;
// Points of a CDF: every sorted value up to this count, else this many evenly spaced quantiles.
inline constexpr size_t kCdfPoints = 501;
inline constexpr int kHistogramBins = 40;

// The series derived from requests.csv, as one JSON object (compact). `requests_csv` is the
// file's contents as a stream; nullptr when the run wrote none, which gives
// {"has_requests":false}. Measured requests only (warm-up excluded), with the definitions of
// docs/metrics.md: distributions over successes, failures counted by their end time. Each
// engine's time axis starts at its earliest measured send (engines run one after another,
// each on its own shard clock). InvalidArgument naming the line and column for a malformed
// file.
absl::StatusOr<std::string> ReportDataJson(const v1::RunResult& result,
                                           std::istream* requests_csv);

// Cost and sweep series, as one JSON object (compact):
//   {"costs":[{"engine", "price_per_hour", "gpu_count", "per_million_output_tokens",
//              "per_million_total_tokens", "per_request", "output_vs_cheapest"}...],
//    "sweeps":[{"engine", "knee_rps", "first_bad_rps", "note", "knee_index",
//               "achieved_rps":[...], "offered_rps":[...], "ttft_p50_ms":[...],
//               "ttft_p99_ms":[...], "e2e_p50_ms":[...], "e2e_p99_ms":[...],
//               "good":[0|1...], "probe":[...]}...]}
// costs: engines with a price, in result order; an absent value is null; output_vs_cheapest
// is per_million_output_tokens over the lowest one of the run (null without one). sweeps: one
// per SweepResult with its points sorted by achieved rate (then offered rate), so a chart can
// draw latency against throughput; probe is each point's index in probe order, knee_index the
// sorted index of the good point probed at knee_rps (-1 without a knee).
std::string CostSweepJson(const v1::RunResult& result);

// The verdict banner at the top of the page, as one JSON object (compact), decided here so
// that it is tested without a browser:
//   {"tone", "state", "exit_status" (null when summary.json has none), "exit_reason",
//    "problems":[...], "requests", "successes", "success_rate" (null without requests),
//    "engines_below":[{"engine", "requests", "successes", "success_rate"}...], "note"}
// tone: "good" (green) only for a VALID verdict with exit status 0, no threshold crossed and
// at least one request succeeded; "warn" (amber) for DEGRADED; "bad" (red) for INVALID,
// ENGINE_DOWN, INTERRUPTED, any crossed threshold, a non-zero exit status, or a run where no
// request succeeded (or none was measured); "unknown" (grey) otherwise — a verdict without a
// state, or a VALID one from a summary.json written before exit statuses were recorded (an
// absent exit status is unknown, never 0). problems: what the banner says in large text — each
// crossed threshold, the verdict's reasons (any state but VALID), the exit status and reason
// when not 0, and "no request succeeded (0 of N)". The request counts are the run's (a capacity
// sweep's: its engines' knee probes); engines_below lists engines under 100% success when
// there are several. note: what the page cannot tell (an unrecorded exit status).
std::string VerdictBannerJson(const v1::RunResult& result);

// The client-vs-server comparisons of every engine with telemetry, recomputed from the
// server histograms' buckets (coordinator/server_histogram.h, CompareWithServerBucket), so
// that a summary.json written before differences were checked never shows an impossible one:
//   {"engines":[{"engine",
//     "quantiles":{"ttft"|"itl"|"e2e"|"queue"|"inference":{"p50"|"p90"|"p99":
//                  {"estimate","lower","upper"} (null bounds above the last finite bound)}},
//     "compare":{"ttft_p50"|"ttft_p99"|"e2e_p50"|"e2e_p99":
//                {"diff", "min", "max", "why_not"}}}...]}
// (ms; an absent value is null; a server histogram without observations has no entry).
std::string TelemetryComparisonJson(const v1::RunResult& result);

// The report's per-request series (ReportDataJson's object), built from records as a run
// streams them, so the run's report needs nothing read back from disk; `llmbench report DIR`
// feeds it the records of a stored requests.csv (requests_csv.h). Engines and workers in the
// order of the run's result (others follow as first seen). Thread-compatible.
class ReportBuilder;
class ReportSeries {
 public:
  ReportSeries(const std::vector<std::string>& engines, const std::vector<std::string>& workers);
  ~ReportSeries();
  ReportSeries(const ReportSeries&) = delete;
  ReportSeries& operator=(const ReportSeries&) = delete;

  void Add(const v1::RequestRecord& record);
  // {"has_requests":true,...}; sorts what it holds (call once, at the end).
  std::string Json();

 private:
  std::unique_ptr<ReportBuilder> builder_;
};

// The whole page. `summary_json` is summary.json's text (embedded verbatim), `scenario_yaml`
// scenario.yaml's (may be empty), `requests_csv` as for ReportDataJson.
absl::StatusOr<std::string> RenderHtmlReport(const v1::RunResult& result,
                                             std::string_view summary_json,
                                             std::string_view scenario_yaml,
                                             std::istream* requests_csv);
// The same from the series already built (ReportSeries::Json or {"has_requests":false}).
std::string RenderHtmlReportWith(const v1::RunResult& result, std::string_view summary_json,
                                 std::string_view scenario_yaml, std::string_view series_json);

// One metric's distributions as report.html draws them, for each sample in order (each is sorted
// in place): {"engines":[{"n":N,"cdf":{"x":[...],"p":[...]}}...],"hist":{"edges":[...],
// "counts":[[...]...],"overflow":[...]}|null}. CDFs of at most kCdfPoints points, kHistogramBins
// shared bins. Used by `llmbench diff` for its overlaid CDFs (diff.h).
std::string DistributionJson(std::vector<std::vector<double>*> samples);

// A self-contained page: uPlot, report.css and report.js inlined around `data_json`, a JSON
// object without a raw '<' (write strings with JsonEscape::kGoHtml), which report.js draws — a
// run's report, or with a "diff" member `llmbench diff`'s page (diff.h). `noscript`: the text
// shown without JavaScript.
std::string ReportPage(std::string_view title, std::string_view llmbench_version,
                       std::string_view noscript, std::string_view data_json);

// Reads DIR/summary.json (LoadRunResult), DIR/scenario.yaml and DIR/requests.csv when present,
// and writes DIR/report.html. Errors name the file. (`llmbench report DIR`.)
absl::Status WriteHtmlReport(const std::string& dir);
// Writes DIR/report.html of a run held in memory: `series` built as its records streamed
// (nullptr when it kept none).
absl::Status WriteHtmlReport(const std::string& dir, const v1::RunResult& result,
                             std::string_view scenario_yaml, ReportSeries* series);
// Writes `html` as DIR/report.html.
absl::Status WriteReportFile(const std::string& dir, std::string_view html);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_HTML_REPORT_H_
