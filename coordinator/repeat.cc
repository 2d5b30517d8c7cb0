#include "coordinator/repeat.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/stats.h"
#include "google/protobuf/util/json_util.h"

namespace llmbench::coordinator {

double StudentT975(int df) {
  static constexpr double kTable[] = {
      12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
      2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
      2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};
  if (df < 1) df = 1;
  if (df <= 30) return kTable[df - 1];
  const double z = 1.959963985;
  const double n = df;
  const double z3 = z * z * z, z5 = z3 * z * z;
  return z + (z3 + z) / (4 * n) + (5 * z5 + 16 * z3 + 3 * z) / (96 * n * n);
}

MeanInterval StudentTInterval(std::span<const double> values) {
  MeanInterval r;
  const double n = static_cast<double>(values.size());
  for (double v : values) r.mean += v;
  r.mean /= n;
  if (values.size() < 2) {
    r.low = r.high = r.mean;
    return r;
  }
  double ss = 0;
  for (double v : values) ss += (v - r.mean) * (v - r.mean);
  r.stdev = std::sqrt(ss / (n - 1));
  const double half = StudentT975(static_cast<int>(values.size()) - 1) * r.stdev / std::sqrt(n);
  r.low = r.mean - half;
  r.high = r.mean + half;
  return r;
}

double BootstrapQuantileSe(std::span<const double> values, double q, int resamples,
                           uint64_t seed) {
  if (values.size() < 2 || resamples < 2) return 0;
  std::mt19937_64 rng(seed);
  std::vector<double> resample(values.size());
  double sum = 0, sum_sq = 0;
  for (int r = 0; r < resamples; ++r) {
    for (double& v : resample) {
      v = values[static_cast<size_t>(rng() % values.size())];
    }
    std::sort(resample.begin(), resample.end());
    const double x = SortedQuantile(resample, q);
    sum += x;
    sum_sq += x * x;
  }
  const double n = resamples;
  const double variance = std::max(0.0, (sum_sq - sum * sum / n) / (n - 1));
  return std::sqrt(variance);
}

namespace {

struct HeadlineMetric {
  const char* name;
  std::vector<double> RequestSamples::*samples;  // nullptr: no noise check
  double quantile;
};

const std::vector<HeadlineMetric>& Headlines() {
  static const std::vector<HeadlineMetric> metrics = {
      {"ttft_p50_ms", &RequestSamples::ttft_ms, 0.50},
      {"ttft_p99_ms", &RequestSamples::ttft_ms, 0.99},
      {"e2e_p50_ms", &RequestSamples::e2e_ms, 0.50},
      {"output_token_throughput", nullptr, 0},
      {"request_throughput", nullptr, 0},
  };
  return metrics;
}

std::optional<double> HeadlineValue(const v1::Aggregates& a, std::string_view name) {
  if (name == "ttft_p50_ms" && a.has_ttft_ms()) return a.ttft_ms().p50();
  if (name == "ttft_p99_ms" && a.has_ttft_ms()) return a.ttft_ms().p99();
  if (name == "e2e_p50_ms" && a.has_e2e_ms()) return a.e2e_ms().p50();
  if (a.measured_window_s() <= 0) return std::nullopt;
  if (name == "output_token_throughput") return a.output_token_throughput();
  if (name == "request_throughput") return a.request_throughput();
  return std::nullopt;
}

}  // namespace

v1::RepeatSummary SummarizeRepeats(
    const std::vector<v1::RunResult>& runs,
    const std::vector<std::optional<std::map<std::string, RequestSamples>>>& samples,
    uint64_t seed) {
  v1::RepeatSummary summary;
  summary.set_repeats(static_cast<uint32_t>(runs.size()));
  summary.set_noise_ratio_threshold(kNoiseRatioThreshold);
  if (runs.empty()) return summary;
  summary.set_scenario_name(runs.front().scenario().name());
  for (const v1::EngineResult& first : runs.front().engines()) {
    const std::string& engine = first.engine();
    v1::RepeatEngine* out = summary.add_engines();
    out->set_engine(engine);
    for (const HeadlineMetric& metric : Headlines()) {
      std::vector<double> values;
      double se_sq_sum = 0;
      bool all_se = metric.samples != nullptr;
      for (size_t k = 0; k < runs.size(); ++k) {
        for (const v1::EngineResult& e : runs[k].engines()) {
          if (e.engine() != engine) continue;
          std::optional<double> v = HeadlineValue(e.aggregates(), metric.name);
          if (v.has_value()) values.push_back(*v);
        }
        if (!all_se) continue;
        const std::vector<double>* x = nullptr;
        if (k < samples.size() && samples[k].has_value()) {
          auto it = samples[k]->find(engine);
          if (it != samples[k]->end()) x = &(it->second.*metric.samples);
        }
        if (x == nullptr || x->size() < 2) {
          all_se = false;
          continue;
        }
        const double se =
            BootstrapQuantileSe(*x, metric.quantile, kWithinRunBootstrapResamples, seed + k);
        se_sq_sum += se * se;
      }
      if (values.size() != runs.size()) continue;  // missing in some run: no statistic
      v1::RepeatMetric* m = out->add_metrics();
      m->set_name(metric.name);
      for (double v : values) m->add_values(v);
      const MeanInterval ci = StudentTInterval(values);
      m->set_mean(ci.mean);
      m->set_stdev(ci.stdev);
      m->set_ci95_low(ci.low);
      m->set_ci95_high(ci.high);
      if (all_se && values.size() >= 2) {
        const double within = std::sqrt(se_sq_sum / static_cast<double>(runs.size()));
        m->set_within_run_se(within);
        // Identical runs (both zero) agree; any spread over zero noise disagrees.
        const double ratio = within > 0 ? ci.stdev / within : (ci.stdev > 0 ? INFINITY : 0.0);
        if (std::isfinite(ratio)) m->set_noise_ratio(ratio);
        if (ratio > kNoiseRatioThreshold) {
          m->set_disagree(true);
          summary.add_warnings(absl::StrFormat(
              "%s %s: the runs disagree more than their own noise (stdev across runs %.3g, "
              "within-run standard error %.3g, ratio %s > %.0f)",
              engine, metric.name, ci.stdev, within,
              std::isfinite(ratio) ? absl::StrFormat("%.1f", ratio) : "inf",
              kNoiseRatioThreshold));
        }
      }
    }
  }
  return summary;
}

std::string RepeatTable(const v1::RepeatSummary& summary) {
  std::vector<std::vector<std::string>> rows = {
      {"engine", "metric", "mean", "95% CI", "stdev", "noise ratio", "values"}};
  for (const v1::RepeatEngine& e : summary.engines()) {
    for (const v1::RepeatMetric& m : e.metrics()) {
      std::vector<std::string> values;
      for (double v : m.values()) values.push_back(absl::StrFormat("%.2f", v));
      rows.push_back({e.engine(), m.name(), absl::StrFormat("%.3f", m.mean()),
                      absl::StrFormat("[%.3f, %.3f]", m.ci95_low(), m.ci95_high()),
                      absl::StrFormat("%.3f", m.stdev()),
                      m.has_noise_ratio() ? absl::StrFormat("%.2f%s", m.noise_ratio(),
                                                            m.disagree() ? " !" : "")
                      : m.disagree()      ? "inf !"
                                          : "-",
                      absl::StrJoin(values, " ")});
    }
  }
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out = absl::StrFormat("%d repetitions of %s:\n", summary.repeats(),
                                    summary.scenario_name());
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line += "  ";
      const std::string pad(widths[i] - row[i].size(), ' ');
      line += (i < 2 || i + 1 == row.size()) ? row[i] + pad : pad + row[i];
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    absl::StrAppend(&out, line, "\n");
  }
  for (const std::string& w : summary.warnings()) absl::StrAppend(&out, "warning: ", w, "\n");
  return out;
}

absl::StatusOr<std::string> RepeatJson(const v1::RepeatSummary& summary) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(summary, &json, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("cannot print the repeat summary: ", status.ToString()));
  }
  if (json.empty() || json.back() != '\n') json.push_back('\n');
  return json;
}

}  // namespace llmbench::coordinator
