#include "coordinator/html_report.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/absl_string_view.h"
#include "common/files.h"
#include "common/json_writer.h"
#include "coordinator/aggregate.h"
#include "coordinator/exporters.h"
#include "coordinator/html_report_assets.h"
#include "coordinator/request_metrics.h"
#include "coordinator/requests_csv.h"
#include "coordinator/server_histogram.h"

namespace llmbench::coordinator {

namespace {

constexpr int64_t kNsPerS = 1'000'000'000;

// ---------------------------------------------------------------------------------------------
// JSON writing (strings through AppendJsonString in Go-HTML mode: <, > and & as \u escapes, so
// the data can never close the page's <script> element).

void AppendNumber(double v, std::string* out) {
  if (!std::isfinite(v)) {
    out->append("null");
    return;
  }
  absl::StrAppendFormat(out, "%.7g", v);
}

void AppendNumbers(const std::vector<double>& values, std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendNumber(values[i], out);
  }
  out->push_back(']');
}

void AppendKey(std::string_view key, std::string* out) {
  AppendJsonString(*out, key, JsonEscape::kGoHtml);
  out->push_back(':');
}

// NaN marks "no value" (null in JSON).
constexpr double kNull = std::numeric_limits<double>::quiet_NaN();

// ---------------------------------------------------------------------------------------------
// Accumulated per-request data.

struct Row {
  int64_t sent_ns = 0;
  int64_t end_ns = 0;
  int64_t ttft_ns = 0;
  bool has_ttft = false;  // a first token arrived
  uint32_t output_tokens = 0;
  uint32_t worker = 0;  // index into ReportBuilder::workers_
  uint32_t error = 0;   // index into ReportBuilder::error_classes_; 0 = "none"
};

struct EngineData {
  std::string name;
  std::vector<Row> rows;  // measured requests
  std::vector<double> ttft_ms, tpot_ms, e2e_ms;
  std::vector<float> itl_ms;  // pooled gaps: floats keep 100k requests x 1000 tokens in memory
};

// R-7 quantile of sorted values (docs/metrics.md).
template <typename T>
double Quantile(const std::vector<T>& sorted, double q) {
  if (sorted.empty()) return kNull;
  const double h = (static_cast<double>(sorted.size()) - 1) * q;
  const size_t lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double a = static_cast<double>(sorted[lo]);
  const double b = static_cast<double>(sorted[hi]);
  return a + (h - static_cast<double>(lo)) * (b - a);
}

template <typename T>
void AppendCdf(const std::vector<T>& sorted, std::string* out) {
  std::vector<double> x, p;
  const size_t n = sorted.size();
  if (n <= kCdfPoints) {
    // The empirical CDF: fraction of values <= x, one point per distinct value.
    for (size_t i = 0; i < n; ++i) {
      if (i + 1 < n && sorted[i + 1] == sorted[i]) continue;
      x.push_back(static_cast<double>(sorted[i]));
      p.push_back(static_cast<double>(i + 1) / static_cast<double>(n));
    }
  } else {
    for (size_t k = 0; k < kCdfPoints; ++k) {
      const double q = static_cast<double>(k) / static_cast<double>(kCdfPoints - 1);
      const double v = Quantile(sorted, q);
      if (!x.empty() && v == x.back()) {
        p.back() = q;
        continue;
      }
      x.push_back(v);
      p.push_back(q);
    }
  }
  out->append("{");
  AppendKey("x", out);
  AppendNumbers(x, out);
  out->append(",");
  AppendKey("p", out);
  AppendNumbers(p, out);
  out->append("}");
}

// One metric's distributions across engines: per-engine CDFs and histograms over shared bins.
// `name` "" writes the object alone (DistributionJson).
template <typename T>
void AppendDistribution(std::string_view name, std::vector<std::vector<T>*> per_engine,
                        std::string* out) {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  for (std::vector<T>* values : per_engine) {
    std::sort(values->begin(), values->end());
    if (values->empty()) continue;
    lo = std::min(lo, static_cast<double>(values->front()));
    hi = std::max(hi, Quantile(*values, 0.995));
  }
  if (!name.empty()) AppendKey(name, out);
  out->append("{\"engines\":[");
  for (size_t e = 0; e < per_engine.size(); ++e) {
    if (e > 0) out->push_back(',');
    absl::StrAppend(out, "{\"n\":", per_engine[e]->size(), ",\"cdf\":");
    AppendCdf(*per_engine[e], out);
    out->push_back('}');
  }
  out->append("],\"hist\":");
  if (!std::isfinite(lo)) {
    out->append("null}");
    return;
  }
  if (hi <= lo) hi = lo + std::max(1.0, std::abs(lo) * 0.01);
  const double width = (hi - lo) / kHistogramBins;
  std::vector<double> edges;
  for (int b = 0; b <= kHistogramBins; ++b) edges.push_back(lo + width * b);
  edges.back() = hi;
  out->append("{");
  AppendKey("edges", out);
  AppendNumbers(edges, out);
  out->append(",\"counts\":[");
  std::string overflow;
  for (size_t e = 0; e < per_engine.size(); ++e) {
    std::vector<double> counts(kHistogramBins, 0);
    uint64_t above = 0;
    for (T v : *per_engine[e]) {
      const double d = static_cast<double>(v);
      if (d > hi) {
        ++above;
        continue;
      }
      int b = static_cast<int>((d - lo) / width);
      b = std::clamp(b, 0, kHistogramBins - 1);
      counts[b] += 1;
    }
    if (e > 0) {
      out->push_back(',');
      overflow.push_back(',');
    }
    AppendNumbers(counts, out);
    absl::StrAppend(&overflow, above);
  }
  absl::StrAppend(out, "],\"overflow\":[", overflow, "]}}");
}

}  // namespace

class ReportBuilder {
 public:
  // Engines and workers in the result's order (engines or workers only seen in records
  // follow, in the order seen).
  ReportBuilder(const std::vector<std::string>& engines, const std::vector<std::string>& workers) {
    for (const std::string& engine : engines) EngineIndex(engine);
    for (const std::string& worker : workers) WorkerIndex(worker);
    error_classes_.push_back("none");
    error_index_["none"] = 0;
  }

  void Add(const v1::RequestRecord& record) {
    ++rows_read_;
    if (record.warmup()) return;
    const RequestMetrics m = MetricsOf(record);
    Row row;
    row.sent_ns = record.sent_ns();
    row.end_ns = record.end_ns();
    if (m.ttft_ns) {
      row.ttft_ns = *m.ttft_ns;
      row.has_ttft = true;
    }
    row.output_tokens = record.output_tokens();
    row.worker = WorkerIndex(record.worker_id());
    const std::string error_class(ErrorClassName(record.error_class()));
    auto [it, inserted] = error_index_.try_emplace(error_class, error_classes_.size());
    if (inserted) error_classes_.push_back(error_class);
    row.error = static_cast<uint32_t>(it->second);

    EngineData& engine = engines_[EngineIndex(record.engine())];
    engine.rows.push_back(row);
    if (row.error != 0) return;
    const double e2e_ms = static_cast<double>(m.e2e_ns) / 1e6;
    engine.e2e_ms.push_back(e2e_ms);
    if (m.ttft_ns) {
      const double ttft_ms = static_cast<double>(*m.ttft_ns) / 1e6;
      engine.ttft_ms.push_back(ttft_ms);
      if (m.tpot_ns) engine.tpot_ms.push_back((e2e_ms - ttft_ms) / (row.output_tokens - 1));
    }
    ForEachGap(record, [&](int64_t gap) {
      engine.itl_ms.push_back(static_cast<float>(gap) / 1e6f);
    });
  }

  std::string Json() {
    std::string out = "{\"has_requests\":true";
    absl::StrAppend(&out, ",\"rows\":", rows_read_, ",\"engines\":[");
    for (size_t e = 0; e < engines_.size(); ++e) {
      if (e > 0) out.push_back(',');
      AppendJsonString(out, engines_[e].name, JsonEscape::kGoHtml);
    }
    out.append("],\"dist\":{");
    AppendDistribution("ttft_ms", Collect(&EngineData::ttft_ms), &out);
    out.push_back(',');
    AppendDistribution("itl_ms", Collect(&EngineData::itl_ms), &out);
    out.push_back(',');
    AppendDistribution("tpot_ms", Collect(&EngineData::tpot_ms), &out);
    out.push_back(',');
    AppendDistribution("e2e_ms", Collect(&EngineData::e2e_ms), &out);
    out.append("},");
    AppendTime(&out);
    out.push_back('}');
    return out;
  }

 private:
  size_t EngineIndex(const std::string& name) {
    auto [it, inserted] = engine_index_.try_emplace(name, engines_.size());
    if (inserted) {
      engines_.emplace_back();
      engines_.back().name = name;
    }
    return it->second;
  }
  uint32_t WorkerIndex(const std::string& id) {
    auto [it, inserted] = worker_index_.try_emplace(id, workers_.size());
    if (inserted) workers_.push_back(id);
    return static_cast<uint32_t>(it->second);
  }

  template <typename T>
  std::vector<std::vector<T>*> Collect(std::vector<T> EngineData::*member) {
    std::vector<std::vector<T>*> out;
    for (EngineData& e : engines_) out.push_back(&(e.*member));
    return out;
  }

  // Time series, the latency scatter and the per-worker series.
  void AppendTime(std::string* out) {
    // Each engine's axis starts at its earliest measured send.
    std::vector<int64_t> t0(engines_.size(), 0), span(engines_.size(), 0);
    int64_t max_span = 0;
    for (size_t e = 0; e < engines_.size(); ++e) {
      std::vector<Row>& rows = engines_[e].rows;
      std::stable_sort(rows.begin(), rows.end(),
                       [](const Row& a, const Row& b) { return a.sent_ns < b.sent_ns; });
      if (rows.empty()) continue;
      t0[e] = rows.front().sent_ns;
      int64_t last = t0[e];
      for (const Row& r : rows) last = std::max(last, r.end_ns);
      span[e] = last - t0[e];
      max_span = std::max(max_span, span[e]);
    }
    // 1 s buckets, wider (whole seconds) when the run is longer than kMaxTimeBuckets seconds.
    int64_t bucket_ns = kNsPerS;
    while (max_span / bucket_ns + 1 > static_cast<int64_t>(kMaxTimeBuckets)) bucket_ns += kNsPerS;
    const size_t buckets = static_cast<size_t>(max_span / bucket_ns) + 1;
    absl::StrAppend(out, "\"bucket_s\":", bucket_ns / kNsPerS, ",\"time\":[");
    std::string workers_json;
    bool first_worker = true;
    for (size_t e = 0; e < engines_.size(); ++e) {
      if (e > 0) out->push_back(',');
      const EngineData& engine = engines_[e];
      // Seconds each bucket covers within this engine's window (the last one is partial).
      std::vector<double> covered(buckets, 0);
      if (!engine.rows.empty()) {
        for (size_t b = 0; b < buckets; ++b) {
          const int64_t start = static_cast<int64_t>(b) * bucket_ns;
          const int64_t end = std::min<int64_t>(start + bucket_ns, span[e]);
          if (end > start) covered[b] = static_cast<double>(end - start) / 1e9;
        }
        if (span[e] == 0) covered[0] = static_cast<double>(bucket_ns) / 1e9;
      }
      auto bucket_of = [&](int64_t t) {
        const int64_t rel = std::max<int64_t>(0, t - t0[e]);
        return std::min(static_cast<size_t>(rel / bucket_ns), buckets - 1);
      };
      auto rates = [&](std::vector<double> v) {
        for (size_t b = 0; b < buckets; ++b) v[b] = covered[b] > 0 ? v[b] / covered[b] : kNull;
        return v;
      };
      // Adds the time-averaged in-flight count of [sent, end] to `busy` (ns per bucket).
      auto add_busy = [&](const Row& r, std::vector<double>* busy) {
        const int64_t s = std::max<int64_t>(0, r.sent_ns - t0[e]);
        const int64_t f = std::max(s, r.end_ns - t0[e]);
        size_t b = static_cast<size_t>(s / bucket_ns);
        int64_t at = s;
        while (at < f && b < buckets) {
          const int64_t bucket_end = std::min<int64_t>(static_cast<int64_t>(b + 1) * bucket_ns, f);
          (*busy)[b] += static_cast<double>(bucket_end - at);
          at = bucket_end;
          ++b;
        }
      };
      std::vector<double> completions(buckets, 0), tokens(buckets, 0), busy(buckets, 0);
      std::map<uint32_t, std::vector<double>> errors;  // by error class index
      std::map<uint32_t, std::vector<double>> worker_completions, worker_busy;
      for (const Row& r : engine.rows) {
        const size_t b = bucket_of(r.end_ns);
        add_busy(r, &busy);
        auto [wc, wc_new] = worker_completions.try_emplace(r.worker, buckets, 0.0);
        auto [wb, wb_new] = worker_busy.try_emplace(r.worker, buckets, 0.0);
        add_busy(r, &wb->second);
        if (r.error == 0) {
          completions[b] += 1;
          tokens[b] += r.output_tokens;
          wc->second[b] += 1;
        } else {
          auto [it, inserted] = errors.try_emplace(r.error, buckets, 0.0);
          it->second[b] += 1;
        }
      }
      auto concurrency = [&](std::vector<double> v) {
        for (size_t b = 0; b < buckets; ++b) {
          v[b] = covered[b] > 0 ? v[b] / (covered[b] * 1e9) : kNull;
        }
        return v;
      };
      // Latency percentiles per send bucket.
      std::vector<double> ttft_p50(buckets, kNull), ttft_p99(buckets, kNull),
          e2e_p50(buckets, kNull), e2e_p99(buckets, kNull);
      std::vector<double> bucket_ttft, bucket_e2e;
      for (size_t i = 0; i < engine.rows.size();) {
        const size_t b = bucket_of(engine.rows[i].sent_ns);
        bucket_ttft.clear();
        bucket_e2e.clear();
        for (; i < engine.rows.size() && bucket_of(engine.rows[i].sent_ns) == b; ++i) {
          const Row& r = engine.rows[i];
          if (r.error != 0) continue;
          bucket_e2e.push_back(static_cast<double>(r.end_ns - r.sent_ns) / 1e6);
          if (r.has_ttft) bucket_ttft.push_back(static_cast<double>(r.ttft_ns) / 1e6);
        }
        std::sort(bucket_ttft.begin(), bucket_ttft.end());
        std::sort(bucket_e2e.begin(), bucket_e2e.end());
        ttft_p50[b] = Quantile(bucket_ttft, 0.5);
        ttft_p99[b] = Quantile(bucket_ttft, 0.99);
        e2e_p50[b] = Quantile(bucket_e2e, 0.5);
        e2e_p99[b] = Quantile(bucket_e2e, 0.99);
      }

      out->append("{");
      AppendKey("completions_per_s", out);
      AppendNumbers(rates(completions), out);
      out->append(",");
      AppendKey("output_tokens_per_s", out);
      AppendNumbers(rates(tokens), out);
      out->append(",");
      AppendKey("concurrency", out);
      AppendNumbers(concurrency(busy), out);
      out->append(",\"errors_per_s\":{");
      bool first = true;
      for (auto& [error, counts] : errors) {
        if (!first) out->push_back(',');
        first = false;
        AppendKey(error_classes_[error], out);
        AppendNumbers(rates(counts), out);
      }
      out->append("},");
      AppendKey("ttft_p50_ms", out);
      AppendNumbers(ttft_p50, out);
      out->append(",");
      AppendKey("ttft_p99_ms", out);
      AppendNumbers(ttft_p99, out);
      out->append(",");
      AppendKey("e2e_p50_ms", out);
      AppendNumbers(e2e_p50, out);
      out->append(",");
      AppendKey("e2e_p99_ms", out);
      AppendNumbers(e2e_p99, out);
      out->append(",");
      AppendScatter(engine, t0[e], out);
      out->append("}");

      for (auto& [worker, counts] : worker_completions) {
        if (!first_worker) workers_json.push_back(',');
        first_worker = false;
        workers_json.append("{");
        AppendKey("worker", &workers_json);
        AppendJsonString(workers_json, workers_[worker], JsonEscape::kGoHtml);
        workers_json.append(",");
        AppendKey("engine", &workers_json);
        AppendJsonString(workers_json, engine.name, JsonEscape::kGoHtml);
        workers_json.append(",");
        AppendKey("completions_per_s", &workers_json);
        AppendNumbers(rates(counts), &workers_json);
        workers_json.append(",");
        AppendKey("concurrency", &workers_json);
        AppendNumbers(concurrency(worker_busy[worker]), &workers_json);
        workers_json.append("}");
      }
    }
    absl::StrAppend(out, "],\"workers\":[", workers_json, "]");
  }

  // Successes as (send time s, E2E ms, TTFT ms or null), failures as (send time s, E2E ms),
  // each kept to kMaxScatterPoints by taking every k-th in send order.
  static void AppendScatter(const EngineData& engine, int64_t t0, std::string* out) {
    size_t successes = 0;
    for (const Row& r : engine.rows) successes += r.error == 0 ? 1 : 0;
    const size_t failures = engine.rows.size() - successes;
    const size_t ok_stride = std::max<size_t>(1, (successes + kMaxScatterPoints - 1) / kMaxScatterPoints);
    const size_t fail_stride = std::max<size_t>(1, (failures + kMaxScatterPoints - 1) / kMaxScatterPoints);
    std::vector<double> x, e2e, ttft, fail_x, fail_e2e;
    size_t ok_seen = 0, fail_seen = 0;
    for (const Row& r : engine.rows) {
      const double t = static_cast<double>(r.sent_ns - t0) / 1e9;
      const double e2e_ms = static_cast<double>(r.end_ns - r.sent_ns) / 1e6;
      if (r.error == 0) {
        if (ok_seen++ % ok_stride != 0) continue;
        x.push_back(t);
        e2e.push_back(e2e_ms);
        ttft.push_back(r.has_ttft ? static_cast<double>(r.ttft_ns) / 1e6 : kNull);
      } else {
        if (fail_seen++ % fail_stride != 0) continue;
        fail_x.push_back(t);
        fail_e2e.push_back(e2e_ms);
      }
    }
    out->append("\"scatter\":{");
    absl::StrAppend(out, "\"stride\":", ok_stride, ",\"fail_stride\":", fail_stride, ",");
    AppendKey("x", out);
    AppendNumbers(x, out);
    out->append(",");
    AppendKey("e2e_ms", out);
    AppendNumbers(e2e, out);
    out->append(",");
    AppendKey("ttft_ms", out);
    AppendNumbers(ttft, out);
    out->append(",");
    AppendKey("fail_x", out);
    AppendNumbers(fail_x, out);
    out->append(",");
    AppendKey("fail_e2e_ms", out);
    AppendNumbers(fail_e2e, out);
    out->append("}");
  }

  std::vector<EngineData> engines_;
  std::unordered_map<std::string, size_t> engine_index_;
  std::vector<std::string> workers_;
  std::unordered_map<std::string, size_t> worker_index_;
  std::vector<std::string> error_classes_;
  std::unordered_map<std::string, size_t> error_index_;
  uint64_t rows_read_ = 0;
};

namespace {

std::string HtmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out.append("&amp;");
        break;
      case '<':
        out.append("&lt;");
        break;
      case '>':
        out.append("&gt;");
        break;
      case '"':
        out.append("&quot;");
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// Runs before the libraries: records uncaught errors and console.error calls on <html> so a
// test (or a curious reader) sees them in the DOM.
constexpr char kErrorCaptureJs[] =
    "(function(){var n=0;function mark(m){n++;var h=document.documentElement;"
    "h.setAttribute('data-errors',String(n));h.setAttribute('data-last-error',String(m));}"
    "window.addEventListener('error',function(e){mark(e.message||'error');});"
    "window.addEventListener('unhandledrejection',function(e){mark(String(e.reason));});"
    "var ce=console.error;console.error=function(){mark(Array.prototype.join.call(arguments,' '));"
    "return ce.apply(console,arguments);};})();";

void AppendOptional(bool has, double v, std::string* out) { AppendNumber(has ? v : kNull, out); }

}  // namespace

std::string CostSweepJson(const v1::RunResult& result) {
  std::string out = "{\"costs\":[";
  double cheapest = kNull;
  for (const v1::EngineResult& e : result.engines()) {
    if (!e.has_cost() || !e.cost().has_per_million_output_tokens()) continue;
    const double v = e.cost().per_million_output_tokens();
    if (v > 0 && (std::isnan(cheapest) || v < cheapest)) cheapest = v;
  }
  bool first = true;
  for (const v1::EngineResult& e : result.engines()) {
    if (!e.has_cost()) continue;
    const v1::Cost& c = e.cost();
    if (!first) out.push_back(',');
    first = false;
    out.append("{");
    AppendKey("engine", &out);
    AppendJsonString(out, e.engine(), JsonEscape::kGoHtml);
    out.append(",");
    AppendKey("price_per_hour", &out);
    AppendNumber(c.price_per_hour(), &out);
    out.append(",");
    AppendKey("gpu_count", &out);
    AppendOptional(c.has_gpu_count(), c.gpu_count(), &out);
    out.append(",");
    AppendKey("per_million_output_tokens", &out);
    AppendOptional(c.has_per_million_output_tokens(), c.per_million_output_tokens(), &out);
    out.append(",");
    AppendKey("per_million_total_tokens", &out);
    AppendOptional(c.has_per_million_total_tokens(), c.per_million_total_tokens(), &out);
    out.append(",");
    AppendKey("per_request", &out);
    AppendOptional(c.has_per_request(), c.per_request(), &out);
    out.append(",");
    AppendKey("output_vs_cheapest", &out);
    AppendNumber(c.has_per_million_output_tokens() && !std::isnan(cheapest)
                     ? c.per_million_output_tokens() / cheapest
                     : kNull,
                 &out);
    out.append("}");
  }
  out.append("],\"sweeps\":[");
  for (int s = 0; s < result.sweeps_size(); ++s) {
    const v1::SweepResult& sweep = result.sweeps(s);
    if (s > 0) out.push_back(',');
    std::vector<int> order(static_cast<size_t>(sweep.points_size()));
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
      const v1::SweepPoint& pa = sweep.points(a);
      const v1::SweepPoint& pb = sweep.points(b);
      if (pa.achieved_rps() != pb.achieved_rps()) return pa.achieved_rps() < pb.achieved_rps();
      return pa.offered_rps() < pb.offered_rps();
    });
    int knee_index = -1;
    std::vector<double> achieved, offered, ttft_p50, ttft_p99, e2e_p50, e2e_p99, good, probe;
    for (size_t k = 0; k < order.size(); ++k) {
      const v1::SweepPoint& p = sweep.points(order[k]);
      if (knee_index < 0 && sweep.has_knee_rps() && p.good() &&
          p.offered_rps() == sweep.knee_rps()) {
        knee_index = static_cast<int>(k);
      }
      achieved.push_back(p.achieved_rps());
      offered.push_back(p.offered_rps());
      ttft_p50.push_back(p.has_ttft_p50_ms() ? p.ttft_p50_ms() : kNull);
      ttft_p99.push_back(p.has_ttft_p99_ms() ? p.ttft_p99_ms() : kNull);
      e2e_p50.push_back(p.has_e2e_p50_ms() ? p.e2e_p50_ms() : kNull);
      e2e_p99.push_back(p.has_e2e_p99_ms() ? p.e2e_p99_ms() : kNull);
      good.push_back(p.good() ? 1 : 0);
      probe.push_back(order[k]);
    }
    out.append("{");
    AppendKey("engine", &out);
    AppendJsonString(out, sweep.engine(), JsonEscape::kGoHtml);
    out.append(",");
    AppendKey("knee_rps", &out);
    AppendOptional(sweep.has_knee_rps(), sweep.knee_rps(), &out);
    out.append(",");
    AppendKey("first_bad_rps", &out);
    AppendOptional(sweep.has_first_bad_rps(), sweep.first_bad_rps(), &out);
    out.append(",");
    AppendKey("note", &out);
    AppendJsonString(out, sweep.note(), JsonEscape::kGoHtml);
    absl::StrAppend(&out, ",\"knee_index\":", knee_index);
    for (const auto& [key, values] :
         std::vector<std::pair<const char*, const std::vector<double>*>>{
             {"achieved_rps", &achieved}, {"offered_rps", &offered},
             {"ttft_p50_ms", &ttft_p50},  {"ttft_p99_ms", &ttft_p99},
             {"e2e_p50_ms", &e2e_p50},    {"e2e_p99_ms", &e2e_p99},
             {"good", &good},             {"probe", &probe}}) {
      out.append(",");
      AppendKey(key, &out);
      AppendNumbers(*values, &out);
    }
    out.append("}");
  }
  out.append("]}");
  return out;
}

std::string VerdictBannerJson(const v1::RunResult& result) {
  const v1::Verdict& v = result.verdict();
  const std::string state =
      v.state() == v1::Verdict::STATE_UNSPECIFIED
          ? std::string("UNSPECIFIED")
          : v1::Verdict::State_Name(v.state()).substr(std::string_view("STATE_").size());
  // The run's requests; a capacity sweep records no run-wide aggregates, its engines' knee
  // probes stand in (as the page's headline figures do).
  uint64_t requests = result.overall().requests();
  uint64_t successes = result.overall().successes();
  if (requests == 0) {
    for (const v1::EngineResult& e : result.engines()) {
      requests += e.aggregates().requests();
      successes += e.aggregates().successes();
    }
  }
  const bool sweep = result.sweeps_size() > 0;
  std::vector<std::string> problems;
  for (const std::string& t : v.thresholds_crossed()) {
    problems.push_back(absl::StrCat("threshold crossed: ", t));
  }
  if (v.state() != v1::Verdict::STATE_VALID) {
    problems.insert(problems.end(), v.reasons().begin(), v.reasons().end());
  }
  const bool failed_exit = v.has_exit_status() && v.exit_status() != 0;
  if (failed_exit) {
    problems.push_back(absl::StrCat("exit status ", v.exit_status(),
                                    v.exit_reason().empty() ? "" : ": ", v.exit_reason()));
  }
  const bool none_succeeded = requests > 0 && successes == 0;
  const bool none_measured = requests == 0 && !sweep;
  if (none_succeeded) {
    problems.push_back(absl::StrCat("no request succeeded (0 of ", requests, ")"));
  } else if (none_measured) {
    problems.push_back("no request was measured");
  }
  std::string tone = "unknown";
  if (v.state() == v1::Verdict::STATE_INVALID || v.state() == v1::Verdict::STATE_ENGINE_DOWN ||
      v.state() == v1::Verdict::STATE_INTERRUPTED || v.thresholds_crossed_size() > 0 ||
      failed_exit || none_succeeded || none_measured) {
    tone = "bad";
  } else if (v.state() == v1::Verdict::STATE_DEGRADED) {
    tone = "warn";
  } else if (v.state() == v1::Verdict::STATE_VALID && v.has_exit_status()) {
    tone = "good";  // exit status 0: failed_exit is false
  }
  std::string note;
  if (!v.has_exit_status()) {
    note = "exit status not recorded (a summary.json from an older llmbench): judge the "
           "success rate and the numbers below";
  }

  std::string out = "{";
  AppendKey("tone", &out);
  AppendJsonString(out, tone, JsonEscape::kGoHtml);
  out.append(",");
  AppendKey("state", &out);
  AppendJsonString(out, state, JsonEscape::kGoHtml);
  out.append(",");
  AppendKey("exit_status", &out);
  if (v.has_exit_status()) {
    absl::StrAppend(&out, v.exit_status());
  } else {
    out.append("null");
  }
  out.append(",");
  AppendKey("exit_reason", &out);
  AppendJsonString(out, v.exit_reason(), JsonEscape::kGoHtml);
  out.append(",");
  AppendKey("problems", &out);
  out.append("[");
  for (size_t i = 0; i < problems.size(); ++i) {
    if (i > 0) out.append(",");
    AppendJsonString(out, problems[i], JsonEscape::kGoHtml);
  }
  out.append("],");
  absl::StrAppend(&out, "\"requests\":", requests, ",\"successes\":", successes, ",");
  AppendKey("success_rate", &out);
  AppendNumber(requests > 0 ? static_cast<double>(successes) / static_cast<double>(requests)
                            : kNull,
               &out);
  out.append(",");
  AppendKey("engines_below", &out);
  out.append("[");
  bool first = true;
  for (const v1::EngineResult& e : result.engines()) {
    const v1::Aggregates& a = e.aggregates();
    if (result.engines_size() < 2 || a.requests() == 0 || a.successes() == a.requests()) continue;
    if (!first) out.append(",");
    first = false;
    out.append("{");
    AppendKey("engine", &out);
    AppendJsonString(out, e.engine(), JsonEscape::kGoHtml);
    absl::StrAppend(&out, ",\"requests\":", a.requests(), ",\"successes\":", a.successes(),
                    ",");
    AppendKey("success_rate", &out);
    AppendNumber(static_cast<double>(a.successes()) / static_cast<double>(a.requests()), &out);
    out.append("}");
  }
  out.append("],");
  AppendKey("note", &out);
  AppendJsonString(out, note, JsonEscape::kGoHtml);
  out.append("}");
  return out;
}

std::string TelemetryComparisonJson(const v1::RunResult& result) {
  std::string out = "{\"engines\":[";
  bool first_engine = true;
  for (const v1::EngineResult& e : result.engines()) {
    if (!e.has_telemetry()) continue;
    const v1::EngineTelemetry& t = e.telemetry();
    if (!first_engine) out.append(",");
    first_engine = false;
    out.append("{");
    AppendKey("engine", &out);
    AppendJsonString(out, e.engine(), JsonEscape::kGoHtml);
    out.append(",\"quantiles\":{");
    const std::vector<std::pair<const char*, const v1::ServerHistogram*>> histograms = {
        {"ttft", t.has_server_ttft() ? &t.server_ttft() : nullptr},
        {"itl", t.has_server_itl() ? &t.server_itl() : nullptr},
        {"e2e", t.has_server_e2e() ? &t.server_e2e() : nullptr},
        {"queue", t.has_server_queue() ? &t.server_queue() : nullptr},
        {"inference", t.has_server_inference() ? &t.server_inference() : nullptr}};
    bool first_histogram = true;
    for (const auto& [name, h] : histograms) {
      if (h == nullptr) continue;
      std::string quantiles;
      for (const auto& [key, q] :
           std::vector<std::pair<const char*, double>>{{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}}) {
        std::optional<ServerQuantileBucket> b = FindServerQuantileBucket(*h, q);
        if (!b.has_value()) continue;
        if (!quantiles.empty()) quantiles.append(",");
        AppendKey(key, &quantiles);
        quantiles.append("{");
        AppendKey("estimate", &quantiles);
        AppendNumber(b->estimate_ms, &quantiles);
        quantiles.append(",");
        AppendKey("lower", &quantiles);
        AppendNumber(b->lower_ms, &quantiles);
        quantiles.append(",");
        AppendKey("upper", &quantiles);
        AppendNumber(b->upper_ms, &quantiles);  // +Inf: null
        quantiles.append("}");
      }
      if (quantiles.empty()) continue;
      if (!first_histogram) out.append(",");
      first_histogram = false;
      AppendKey(name, &out);
      absl::StrAppend(&out, "{", quantiles, "}");
    }
    out.append("},\"compare\":{");
    if (t.has_client_vs_server()) {
      const v1::ClientVsServer& c = t.client_vs_server();
      struct Pair {
        const char* key;
        bool has_client;
        double client;
        const v1::ServerHistogram* server;
        double q;
      };
      const std::vector<Pair> pairs = {
          {"ttft_p50", c.has_client_ttft_p50_ms(), c.client_ttft_p50_ms(),
           t.has_server_ttft() ? &t.server_ttft() : nullptr, 0.5},
          {"ttft_p99", c.has_client_ttft_p99_ms(), c.client_ttft_p99_ms(),
           t.has_server_ttft() ? &t.server_ttft() : nullptr, 0.99},
          {"e2e_p50", c.has_client_e2e_p50_ms(), c.client_e2e_p50_ms(),
           t.has_server_e2e() ? &t.server_e2e() : nullptr, 0.5},
          {"e2e_p99", c.has_client_e2e_p99_ms(), c.client_e2e_p99_ms(),
           t.has_server_e2e() ? &t.server_e2e() : nullptr, 0.99}};
      bool first_pair = true;
      for (const Pair& p : pairs) {
        if (!p.has_client || p.server == nullptr) continue;
        std::optional<ServerQuantileBucket> b = FindServerQuantileBucket(*p.server, p.q);
        if (!b.has_value()) continue;
        const ServerComparison compared = CompareWithServerBucket(p.client, *b);
        if (!first_pair) out.append(",");
        first_pair = false;
        AppendKey(p.key, &out);
        out.append("{");
        AppendKey("diff", &out);
        AppendNumber(compared.diff_ms.value_or(kNull), &out);
        out.append(",");
        AppendKey("min", &out);
        AppendNumber(compared.diff_ms.has_value() ? compared.min_diff_ms : kNull, &out);
        out.append(",");
        AppendKey("max", &out);
        AppendNumber(compared.diff_ms.has_value() ? compared.max_diff_ms : kNull, &out);
        out.append(",");
        AppendKey("why_not", &out);
        AppendJsonString(out, compared.why_not, JsonEscape::kGoHtml);
        out.append("}");
      }
    }
    out.append("}}");
  }
  out.append("]}");
  return out;
}

namespace {

std::vector<std::string> EngineNames(const v1::RunResult& result) {
  std::vector<std::string> out;
  for (const v1::EngineResult& e : result.engines()) out.push_back(e.engine());
  return out;
}

std::vector<std::string> WorkerIds(const v1::RunResult& result) {
  std::vector<std::string> out;
  for (const v1::WorkerResult& w : result.workers()) out.push_back(w.worker_id());
  return out;
}

}  // namespace

ReportSeries::ReportSeries(const std::vector<std::string>& engines,
                           const std::vector<std::string>& workers)
    : builder_(std::make_unique<ReportBuilder>(engines, workers)) {}

ReportSeries::~ReportSeries() = default;

void ReportSeries::Add(const v1::RequestRecord& record) { builder_->Add(record); }

std::string ReportSeries::Json() { return builder_->Json(); }

absl::StatusOr<std::string> ReportDataJson(const v1::RunResult& result,
                                           std::istream* requests_csv) {
  if (requests_csv == nullptr) return std::string("{\"has_requests\":false}");
  ReportSeries series(EngineNames(result), WorkerIds(result));
  RequestsCsvReader reader(requests_csv, kRequestsFileName);
  v1::RequestRecord record;
  while (true) {
    absl::StatusOr<bool> got = reader.Next(&record);
    if (!got.ok()) return got.status();
    if (!*got) break;
    series.Add(record);
  }
  return series.Json();
}

std::string DistributionJson(std::vector<std::vector<double>*> samples) {
  std::string out;
  AppendDistribution("", std::move(samples), &out);
  return out;
}

std::string ReportPage(std::string_view title, std::string_view llmbench_version,
                       std::string_view noscript, std::string_view data_json) {
  std::string html;
  html.reserve(data_json.size() + 80'000);
  absl::StrAppend(&html,
                  "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                  "<meta name=\"generator\" content=\"llmbench ",
                  HtmlEscape(llmbench_version), ", uPlot ",
                  ToAbsl(report_assets::UplotVersion()), "\">\n<title>", HtmlEscape(title),
                  "</title>\n<script>", kErrorCaptureJs,
                  "</script>\n<style>\n", ToAbsl(report_assets::UplotCss()), "\n",
                  ToAbsl(report_assets::ReportCss()), "\n</style>\n</head>\n<body>\n",
                  "<div id=\"app\"><noscript>", HtmlEscape(noscript), "</noscript></div>\n"
                  "<script type=\"application/json\" id=\"llmbench-data\">",
                  ToAbsl(data_json), "</script>\n<script>\n", ToAbsl(report_assets::UplotJs()),
                  "\n</script>\n<script>\n", ToAbsl(report_assets::ReportJs()),
                  "\n</script>\n</body>\n</html>\n");
  return html;
}

absl::StatusOr<std::string> RenderHtmlReport(const v1::RunResult& result,
                                             std::string_view summary_json,
                                             std::string_view scenario_yaml,
                                             std::istream* requests_csv) {
  absl::StatusOr<std::string> requests = ReportDataJson(result, requests_csv);
  if (!requests.ok()) return requests.status();
  return RenderHtmlReportWith(result, summary_json, scenario_yaml, *requests);
}

std::string RenderHtmlReportWith(const v1::RunResult& result, std::string_view summary_json,
                                 std::string_view scenario_yaml, std::string_view series_json) {
  std::string data = "{\"summary\":";
  // summary.json is JSON: a '<' can only sit inside a string, where \u003c means the same.
  for (char c : summary_json) {
    if (c == '<') {
      data.append("\\u003c");
    } else {
      data.push_back(c);
    }
  }
  data.append(",\"scenario_yaml\":");
  AppendJsonString(data, scenario_yaml, JsonEscape::kGoHtml);
  data.append(",\"uplot_version\":");
  AppendJsonString(data, report_assets::UplotVersion(), JsonEscape::kGoHtml);
  absl::StrAppend(&data, ",\"requests\":", ToAbsl(series_json),
                  ",\"derived\":", CostSweepJson(result), ",\"banner\":", VerdictBannerJson(result),
                  ",\"telemetry\":", TelemetryComparisonJson(result), "}");

  return ReportPage(absl::StrCat("llmbench report ", result.run_id()), result.llmbench_version(),
                    "This report needs JavaScript to draw its tables and charts; the data is in "
                    "summary.json beside it.",
                    data);
}

absl::Status WriteHtmlReport(const std::string& dir) {
  absl::StatusOr<v1::RunResult> result = LoadRunResult(dir);
  if (!result.ok()) return result.status();
  const std::filesystem::path base(dir);
  absl::StatusOr<std::string> summary_json = ReadFileText((base / kSummaryFileName).string());
  if (!summary_json.ok()) return summary_json.status();
  std::string scenario_yaml;
  std::error_code ec;
  if (std::filesystem::exists(base / kScenarioFileName, ec)) {
    absl::StatusOr<std::string> yaml = ReadFileText((base / kScenarioFileName).string());
    if (!yaml.ok()) return yaml.status();
    scenario_yaml = *std::move(yaml);
  }
  const std::filesystem::path csv_path = base / kRequestsFileName;
  std::ifstream csv;
  if (std::filesystem::exists(csv_path, ec)) {
    csv.open(csv_path, std::ios::binary);
    if (!csv) {
      return absl::UnavailableError(
          absl::StrCat("cannot read ", csv_path.string(), ": ", std::strerror(errno)));
    }
  }
  absl::StatusOr<std::string> html =
      RenderHtmlReport(*result, *summary_json, scenario_yaml, csv.is_open() ? &csv : nullptr);
  if (!html.ok()) {
    return absl::Status(html.status().code(), absl::StrCat(dir, "/", html.status().message()));
  }
  return WriteReportFile(dir, *html);
}

absl::Status WriteHtmlReport(const std::string& dir, const v1::RunResult& result,
                             std::string_view scenario_yaml, ReportSeries* series) {
  absl::StatusOr<std::string> summary_json = SummaryJson(result);
  if (!summary_json.ok()) return summary_json.status();
  const std::string series_json =
      series != nullptr ? series->Json() : std::string("{\"has_requests\":false}");
  return WriteReportFile(dir,
                         RenderHtmlReportWith(result, *summary_json, scenario_yaml, series_json));
}

absl::Status WriteReportFile(const std::string& dir, std::string_view html) {
  const std::filesystem::path out_path = std::filesystem::path(dir) / kHtmlReportFileName;
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  if (!out) {
    return absl::UnavailableError(
        absl::StrCat("cannot write ", out_path.string(), ": ", std::strerror(errno)));
  }
  out.write(html.data(), static_cast<std::streamsize>(html.size()));
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", out_path.string()));
  return absl::OkStatus();
}

}  // namespace llmbench::coordinator
