#include "coordinator/diff.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/json_writer.h"
#include "common/stats.h"
#include "common/status.h"
#include "coordinator/exporters.h"
#include "coordinator/html_report.h"
#include "coordinator/html_report_assets.h"
#include "coordinator/run_id.h"
#include "yaml-cpp/yaml.h"

namespace llmbench::coordinator {

// ---------------------------------------------------------------------------------------------
// Statistics

MannWhitneyResult MannWhitneyU(std::span<const double> a, std::span<const double> b) {
  const size_t n1 = a.size(), n2 = b.size(), n = n1 + n2;
  std::vector<std::pair<double, bool>> all;  // (value, from a)
  all.reserve(n);
  for (double v : a) all.emplace_back(v, true);
  for (double v : b) all.emplace_back(v, false);
  std::sort(all.begin(), all.end(),
            [](const auto& x, const auto& y) { return x.first < y.first; });
  double rank_sum_a = 0;
  double tie_term = 0;  // Σ (t³ − t) over groups of ties
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && all[j].first == all[i].first) ++j;
    const double t = static_cast<double>(j - i);
    const double average_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (size_t k = i; k < j; ++k) {
      if (all[k].second) rank_sum_a += average_rank;
    }
    tie_term += t * t * t - t;
    i = j;
  }
  const double dn1 = static_cast<double>(n1), dn2 = static_cast<double>(n2),
               dn = static_cast<double>(n);
  MannWhitneyResult result;
  result.u = rank_sum_a - dn1 * (dn1 + 1) / 2.0;
  const double mean = dn1 * dn2 / 2.0;
  const double variance =
      n > 1 ? dn1 * dn2 / 12.0 * ((dn + 1) - tie_term / (dn * (dn - 1))) : 0.0;
  if (variance <= 0) return result;  // every value equal: no evidence of a difference
  result.z = std::max(0.0, (std::fabs(result.u - mean) - 0.5) / std::sqrt(variance));
  result.p_value = std::erfc(result.z / std::sqrt(2.0));
  return result;
}

namespace {

// Uniform index in [0, n) from one 64-bit draw (modulo; the bias, below n / 2^64, is
// negligible for any sample we hold).
size_t DrawIndex(std::mt19937_64& rng, size_t n) {
  return static_cast<size_t>(rng() % n);
}

std::vector<double> Subsample(std::span<const double> values, std::mt19937_64& rng) {
  if (values.size() <= kMaxBootstrapSample) return std::vector<double>(values.begin(), values.end());
  std::vector<double> out(values.begin(), values.end());
  // Partial Fisher–Yates: the first kMaxBootstrapSample entries become a uniform subsample.
  for (size_t i = 0; i < kMaxBootstrapSample; ++i) {
    std::swap(out[i], out[i + DrawIndex(rng, out.size() - i)]);
  }
  out.resize(kMaxBootstrapSample);
  return out;
}

// R-7 quantiles of `values` (reordered in place) for ascending `quantiles`.
void Quantiles(std::vector<double>& values, std::span<const double> quantiles,
               std::vector<double>* out) {
  out->clear();
  std::sort(values.begin(), values.end());
  for (double q : quantiles) out->push_back(SortedQuantile(values, q));
}

}  // namespace

std::vector<Interval> BootstrapQuantileDiff(std::span<const double> a, std::span<const double> b,
                                            std::span<const double> quantiles, int resamples,
                                            double confidence, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::vector<double> sa = Subsample(a, rng);
  const std::vector<double> sb = Subsample(b, rng);
  std::vector<std::vector<double>> diffs(quantiles.size());
  std::vector<double> ra(sa.size()), rb(sb.size()), qa, qb;
  for (int r = 0; r < resamples; ++r) {
    for (double& v : ra) v = sa[DrawIndex(rng, sa.size())];
    for (double& v : rb) v = sb[DrawIndex(rng, sb.size())];
    Quantiles(ra, quantiles, &qa);
    Quantiles(rb, quantiles, &qb);
    for (size_t k = 0; k < quantiles.size(); ++k) diffs[k].push_back(qb[k] - qa[k]);
  }
  std::vector<Interval> out;
  const double tail = (1.0 - confidence) / 2.0;
  for (std::vector<double>& d : diffs) {
    std::sort(d.begin(), d.end());
    out.push_back(Interval{SortedQuantile(d, tail), SortedQuantile(d, 1.0 - tail)});
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Thresholds

namespace {

struct MetricSpec {
  const char* name;
  const char* family;  // the per-request metric ("ttft", ...), "" for throughputs
  const char* unit;
  bool higher_is_better;
  // Per-request metric (nullptr for throughputs) and its quantile.
  std::vector<double> RequestSamples::*samples;
  double quantile;
};

const std::vector<MetricSpec>& MetricSpecs() {
  static const std::vector<MetricSpec> specs = {
      {"ttft_p50", "ttft", "ms", false, &RequestSamples::ttft_ms, 0.50},
      {"ttft_p99", "ttft", "ms", false, &RequestSamples::ttft_ms, 0.99},
      {"tpot_p50", "tpot", "ms", false, &RequestSamples::tpot_ms, 0.50},
      {"tpot_p99", "tpot", "ms", false, &RequestSamples::tpot_ms, 0.99},
      {"itl_p50", "itl", "ms", false, &RequestSamples::itl_ms, 0.50},
      {"itl_p99", "itl", "ms", false, &RequestSamples::itl_ms, 0.99},
      {"e2e_p50", "e2e", "ms", false, &RequestSamples::e2e_ms, 0.50},
      {"e2e_p99", "e2e", "ms", false, &RequestSamples::e2e_ms, 0.99},
      {"request_throughput", "", "req/s", true, nullptr, 0},
      {"output_token_throughput", "", "tok/s", true, nullptr, 0},
  };
  return specs;
}

// The summary's value of a metric, if measured.
std::optional<double> SummaryValue(const v1::Aggregates& a, std::string_view name) {
  auto pct = [](bool has, const v1::Distribution& d, double q) -> std::optional<double> {
    if (!has || d.count() == 0) return std::nullopt;
    return q == 0.5 ? d.p50() : d.p99();
  };
  if (name == "ttft_p50") return pct(a.has_ttft_ms(), a.ttft_ms(), 0.5);
  if (name == "ttft_p99") return pct(a.has_ttft_ms(), a.ttft_ms(), 0.99);
  if (name == "tpot_p50") return pct(a.has_tpot_ms(), a.tpot_ms(), 0.5);
  if (name == "tpot_p99") return pct(a.has_tpot_ms(), a.tpot_ms(), 0.99);
  if (name == "itl_p50") return pct(a.has_itl_ms(), a.itl_ms(), 0.5);
  if (name == "itl_p99") return pct(a.has_itl_ms(), a.itl_ms(), 0.99);
  if (name == "e2e_p50") return pct(a.has_e2e_ms(), a.e2e_ms(), 0.5);
  if (name == "e2e_p99") return pct(a.has_e2e_ms(), a.e2e_ms(), 0.99);
  if (a.measured_window_s() <= 0) return std::nullopt;
  if (name == "request_throughput") return a.request_throughput();
  if (name == "output_token_throughput") return a.output_token_throughput();
  return std::nullopt;
}

}  // namespace

const std::vector<std::string>& DiffMetricNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const MetricSpec& s : MetricSpecs()) v.push_back(s.name);
    return v;
  }();
  return names;
}

absl::StatusOr<double> ParsePercent(const std::string& text, const std::string& what) {
  absl::string_view t = absl::StripAsciiWhitespace(text);
  absl::ConsumeSuffix(&t, "%");
  double v = 0;
  if (t.empty() || !absl::SimpleAtod(t, &v) || !std::isfinite(v) || v < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": expected a non-negative percentage such as 10% or 2.5, got \"", text, "\""));
  }
  return v / 100.0;
}

namespace {

absl::Status CheckMetricName(const std::string& name, const std::string& what) {
  const auto& names = DiffMetricNames();
  if (std::find(names.begin(), names.end(), name) != names.end()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(what, ": unknown metric \"", name,
                                                 "\" (expected one of ",
                                                 absl::StrJoin(names, ", "), ")"));
}

}  // namespace

absl::Status AddMaxRegression(const std::string& spec, DiffThresholds* thresholds) {
  const std::string what = absl::StrCat("--max-regression ", spec);
  std::pair<std::string, std::string> kv = absl::StrSplit(spec, absl::MaxSplits('=', 1));
  if (kv.first.empty() || kv.second.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": expected METRIC=PERCENT, e.g. ttft_p99=10%"));
  }
  LLMBENCH_RETURN_IF_ERROR(CheckMetricName(kv.first, what));
  LLMBENCH_ASSIGN_OR_RETURN(double v, ParsePercent(kv.second, what));
  thresholds->max_regression[kv.first] = v;
  return absl::OkStatus();
}

absl::Status LoadThresholdsYaml(const std::string& yaml, const std::string& source,
                                DiffThresholds* thresholds) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not YAML: ", e.what()));
  }
  if (root.IsNull()) return absl::OkStatus();
  if (!root.IsMap()) return absl::InvalidArgumentError(absl::StrCat(source, ": expected a mapping"));
  auto scalar = [&](const YAML::Node& node, const std::string& key) -> absl::StatusOr<std::string> {
    if (!node.IsScalar()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": ", key, ": expected a value"));
    }
    return node.Scalar();
  };
  for (const auto& entry : root) {
    const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "";
    if (key == "alpha") {
      LLMBENCH_ASSIGN_OR_RETURN(std::string text, scalar(entry.second, key));
      double alpha = 0;
      if (!absl::SimpleAtod(text, &alpha) || !(alpha > 0 && alpha < 1)) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": alpha: expected a number in (0, 1), got \"", text, "\""));
      }
      thresholds->alpha = alpha;
    } else if (key == "default_max_regression") {
      LLMBENCH_ASSIGN_OR_RETURN(std::string text, scalar(entry.second, key));
      LLMBENCH_ASSIGN_OR_RETURN(thresholds->default_max_regression,
                                ParsePercent(text, absl::StrCat(source, ": ", key)));
    } else if (key == "max_regression") {
      if (!entry.second.IsMap()) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": max_regression: expected a mapping METRIC: PERCENT"));
      }
      for (const auto& m : entry.second) {
        const std::string metric = m.first.IsScalar() ? m.first.Scalar() : "";
        const std::string what = absl::StrCat(source, ": max_regression.", metric);
        LLMBENCH_RETURN_IF_ERROR(CheckMetricName(metric, what));
        LLMBENCH_ASSIGN_OR_RETURN(std::string text, scalar(m.second, what));
        LLMBENCH_ASSIGN_OR_RETURN(thresholds->max_regression[metric], ParsePercent(text, what));
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": unknown key \"", key,
          "\" (expected alpha, default_max_regression or max_regression)"));
    }
  }
  return absl::OkStatus();
}

absl::Status LoadThresholdsFile(const std::string& path, DiffThresholds* thresholds) {
  absl::StatusOr<std::string> contents = ReadFileText(path);
  if (!contents.ok()) return contents.status();
  return LoadThresholdsYaml(*contents, path, thresholds);
}

const char* DiffVerdictName(DiffVerdict verdict) {
  switch (verdict) {
    case DiffVerdict::kPass:
      return "PASS";
    case DiffVerdict::kRegressed:
      return "REGRESSED";
    case DiffVerdict::kImproved:
      return "IMPROVED";
    case DiffVerdict::kNotAvailable:
      break;
  }
  return "N/A";
}

// ---------------------------------------------------------------------------------------------
// The comparison

namespace {

// Fewer values than this on either side: no test (the normal approximation is poor).
constexpr size_t kMinTestSample = 8;

const RequestSamples* FindSamples(const std::map<std::string, RequestSamples>* samples,
                                  const std::string& engine) {
  if (samples == nullptr) return nullptr;
  auto it = samples->find(engine);
  return it == samples->end() ? nullptr : &it->second;
}

DiffRunInfo RunInfoOf(const v1::RunResult& r) {
  DiffRunInfo info;
  info.run_id = r.run_id();
  info.scenario = r.scenario().name();
  info.llmbench_version = r.llmbench_version();
  info.started_unix_ns = r.started_unix_ns();
  info.finished_unix_ns = r.finished_unix_ns();
  for (const v1::EngineResult& e : r.engines()) info.engines.push_back(e.engine());
  info.label = r.scenario().label();
  info.tags.insert(r.scenario().tags().begin(), r.scenario().tags().end());
  return info;
}

std::string EngineList(const std::vector<std::string>& engines) {
  return engines.empty() ? "no engine" : absl::StrJoin(engines, ", ");
}

// What one side holds for an engine, for the nothing-compared message.
std::string SideData(const v1::Aggregates& a) {
  if (a.successes() == 0) {
    return absl::StrFormat("no successful request (%d measured)", a.requests());
  }
  return absl::StrFormat("%d successful request%s", a.successes(), a.successes() == 1 ? "" : "s");
}

// The page's CDF data of one engine pair: base then candidate, per per-request metric.
std::string PairDistributions(const RequestSamples& base, const RequestSamples& candidate) {
  const std::pair<const char*, std::vector<double> RequestSamples::*> metrics[] = {
      {"ttft_ms", &RequestSamples::ttft_ms},
      {"tpot_ms", &RequestSamples::tpot_ms},
      {"itl_ms", &RequestSamples::itl_ms},
      {"e2e_ms", &RequestSamples::e2e_ms}};
  std::string out = "{";
  for (const auto& [key, member] : metrics) {
    if (out.size() > 1) out.push_back(',');
    AppendJsonString(out, key, JsonEscape::kGoHtml);
    out.push_back(':');
    std::vector<double> b = base.*member;  // DistributionJson sorts in place
    std::vector<double> c = candidate.*member;
    out += DistributionJson({&b, &c});
  }
  out.push_back('}');
  return out;
}

}  // namespace

DiffReport DiffResults(const v1::RunResult& base,
                       const std::map<std::string, RequestSamples>* base_samples,
                       const v1::RunResult& candidate,
                       const std::map<std::string, RequestSamples>* candidate_samples,
                       const DiffOptions& options) {
  DiffReport report;
  report.alpha = options.thresholds.alpha;
  report.base = RunInfoOf(base);
  report.candidate = RunInfoOf(candidate);
  // Engine pairs (base name, candidate name).
  std::vector<std::pair<std::string, std::string>> pairs;
  if (base.engines_size() == 1 && candidate.engines_size() == 1) {
    pairs.emplace_back(base.engines(0).engine(), candidate.engines(0).engine());
  } else {
    for (const v1::EngineResult& b : base.engines()) {
      bool found = false;
      for (const v1::EngineResult& c : candidate.engines()) found |= c.engine() == b.engine();
      if (found) {
        pairs.emplace_back(b.engine(), b.engine());
      } else {
        report.notes.push_back(absl::StrCat("engine ", b.engine(), " is only in the base"));
      }
    }
    for (const v1::EngineResult& c : candidate.engines()) {
      bool found = false;
      for (const v1::EngineResult& b : base.engines()) found |= c.engine() == b.engine();
      if (!found) {
        report.notes.push_back(absl::StrCat("engine ", c.engine(), " is only in the candidate"));
      }
    }
  }
  auto aggregates_of = [](const v1::RunResult& r, const std::string& name) {
    for (const v1::EngineResult& e : r.engines()) {
      if (e.engine() == name) return e.aggregates();
    }
    return v1::Aggregates();
  };
  const double alpha = options.thresholds.alpha;
  uint64_t seed = options.seed;
  std::vector<std::string> not_compared;
  for (const auto& [base_name, candidate_name] : pairs) {
    const v1::Aggregates ba = aggregates_of(base, base_name);
    const v1::Aggregates ca = aggregates_of(candidate, candidate_name);
    const RequestSamples* bs = FindSamples(base_samples, base_name);
    const RequestSamples* cs = FindSamples(candidate_samples, candidate_name);
    DiffEnginePair pair;
    pair.label =
        base_name == candidate_name ? base_name : absl::StrCat(base_name, " -> ", candidate_name);
    pair.base_engine = base_name;
    pair.candidate_engine = candidate_name;
    const std::string& label = pair.label;
    // Bootstrap intervals per per-request metric, p50 and p99 from the same resamples.
    std::map<std::string, std::vector<Interval>> intervals;  // by family
    std::map<std::string, MannWhitneyResult> tests;
    for (const MetricSpec& spec : MetricSpecs()) {
      MetricDiff row;
      row.engine = label;
      row.metric = spec.name;
      auto t = options.thresholds.max_regression.find(spec.name);
      row.threshold = t != options.thresholds.max_regression.end()
                          ? t->second
                          : options.thresholds.default_max_regression;
      row.base = SummaryValue(ba, spec.name);
      row.candidate = SummaryValue(ca, spec.name);
      if (spec.samples != nullptr && bs != nullptr && cs != nullptr) {
        const std::vector<double>& x = bs->*spec.samples;
        const std::vector<double>& y = cs->*spec.samples;
        if (!x.empty() && !y.empty()) {
          // Prefer the summary's exact percentiles; fall back to the samples'.
          if (!row.base.has_value()) {
            std::vector<double> sorted = x;
            std::sort(sorted.begin(), sorted.end());
            row.base = SortedQuantile(sorted, spec.quantile);
          }
          if (!row.candidate.has_value()) {
            std::vector<double> sorted = y;
            std::sort(sorted.begin(), sorted.end());
            row.candidate = SortedQuantile(sorted, spec.quantile);
          }
        }
        if (x.size() >= kMinTestSample && y.size() >= kMinTestSample) {
          if (!intervals.contains(spec.family)) {
            const double qs[] = {0.50, 0.99};
            intervals[spec.family] = BootstrapQuantileDiff(
                x, y, qs, options.bootstrap_resamples, 1.0 - alpha, seed++);
            tests[spec.family] = MannWhitneyU(x, y);
          }
          row.tested = true;
          row.p_value = tests[spec.family].p_value;
          row.ci = intervals[spec.family][spec.quantile == 0.5 ? 0 : 1];
        }
      }
      if (!row.base.has_value() || !row.candidate.has_value()) {
        row.verdict = DiffVerdict::kNotAvailable;
        report.rows.push_back(std::move(row));
        continue;
      }
      ++pair.compared;
      if (*row.base != 0) row.change = (*row.candidate - *row.base) / std::fabs(*row.base);
      row.significant = !row.tested || (*row.p_value < alpha &&
                                        (row.ci->low > 0 || row.ci->high < 0));
      row.verdict = DiffVerdict::kPass;
      if (row.change.has_value() && row.significant) {
        const double worsening = spec.higher_is_better ? -*row.change : *row.change;
        if (worsening > row.threshold) {
          row.verdict = DiffVerdict::kRegressed;
        } else if (-worsening > row.threshold) {
          row.verdict = DiffVerdict::kImproved;
        }
      }
      if (row.verdict == DiffVerdict::kRegressed) report.regressed = true;
      report.rows.push_back(std::move(row));
    }
    if (pair.compared == 0) {
      not_compared.push_back(absl::StrCat("no metric has data on both sides for engine ", label,
                                          " (base: ", SideData(ba), "; candidate: ",
                                          SideData(ca), ")"));
    } else if (ba.successes() == 0 || ca.successes() == 0) {
      // Throughputs of 0 are data, but no latency was compared.
      not_compared.push_back(absl::StrCat("only throughputs compared for engine ", label,
                                          ": a side has no successful request (base: ",
                                          SideData(ba), "; candidate: ", SideData(ca), ")"));
    }
    if (bs == nullptr || cs == nullptr) {
      report.notes.push_back(absl::StrCat(
          "engine ", label,
          ": no per-request values on one side (requests.csv missing or without this engine); "
          "percentiles judged on their change alone, untested"));
    } else {
      pair.distributions_json = PairDistributions(*bs, *cs);
    }
    report.pairs.push_back(std::move(pair));
  }
  if (pairs.empty()) {
    report.nothing_compared =
        absl::StrCat("no engine in common: base has ", EngineList(report.base.engines),
                     "; candidate has ", EngineList(report.candidate.engines));
  } else {
    report.nothing_compared = absl::StrJoin(not_compared, "; ");
  }
  return report;
}

absl::StatusOr<DiffReport> DiffRunDirs(const std::string& base_dir,
                                       const std::string& candidate_dir,
                                       const DiffOptions& options) {
  LLMBENCH_ASSIGN_OR_RETURN(v1::RunResult base, LoadRunResult(base_dir));
  LLMBENCH_ASSIGN_OR_RETURN(v1::RunResult candidate, LoadRunResult(candidate_dir));
  auto samples_of = [](const std::string& dir)
      -> absl::StatusOr<std::optional<std::map<std::string, RequestSamples>>> {
    absl::StatusOr<std::map<std::string, RequestSamples>> s = LoadRequestSamples(dir);
    if (absl::IsNotFound(s.status())) return std::nullopt;
    if (!s.ok()) return s.status();
    return *std::move(s);
  };
  LLMBENCH_ASSIGN_OR_RETURN(auto base_samples, samples_of(base_dir));
  LLMBENCH_ASSIGN_OR_RETURN(auto candidate_samples, samples_of(candidate_dir));
  DiffReport report =
      DiffResults(base, base_samples ? &*base_samples : nullptr, candidate,
                  candidate_samples ? &*candidate_samples : nullptr, options);
  report.base.dir = base_dir;
  report.candidate.dir = candidate_dir;
  return report;
}

// ---------------------------------------------------------------------------------------------
// Output

std::string_view DiffMetricUnit(std::string_view metric) {
  for (const MetricSpec& spec : MetricSpecs()) {
    if (spec.name == metric) return spec.unit;
  }
  return "";
}

std::string DiffOutcome(const DiffReport& report) {
  if (report.regressed) return "REGRESSED";
  if (!report.nothing_compared.empty()) return "NOTHING COMPARED";
  return "PASS";
}

namespace {

std::string Num(const std::optional<double>& v) {
  return v.has_value() ? absl::StrFormat("%.3f", *v) : "-";
}

std::vector<std::string> RowCells(const MetricDiff& r) {
  return {r.engine,
          r.metric,
          std::string(DiffMetricUnit(r.metric)),
          Num(r.base),
          Num(r.candidate),
          r.change.has_value() ? absl::StrFormat("%+.1f%%", 100 * *r.change) : "-",
          r.p_value.has_value() ? absl::StrFormat("%.2g", *r.p_value) : "-",
          r.ci.has_value() ? absl::StrFormat("[%.3f, %.3f]", r.ci->low, r.ci->high) : "-",
          !r.base.has_value() || !r.candidate.has_value() ? "-"
          : !r.tested                                      ? "untested"
          : r.significant                                  ? "yes"
                                                           : "no",
          absl::StrFormat("%.1f%%", 100 * r.threshold),
          std::string(DiffVerdictName(r.verdict))};
}

const std::vector<std::string>& Header() {
  static const std::vector<std::string> header = {
      "engine", "metric", "unit", "base", "candidate", "change", "p (U test)",
      "CI of diff", "significant", "max regr.", "verdict"};
  return header;
}
// Left-aligned columns (the rest are numbers, right-aligned).
constexpr size_t kTextColumns = 3;

// "DIR (run ID, DATE, scenario NAME)".
std::string RunLine(const DiffRunInfo& run) {
  std::vector<std::string> parts;
  parts.push_back(absl::StrCat("run ", run.run_id.empty() ? "?" : run.run_id));
  parts.push_back(FormatUtc(run.started_unix_ns));
  if (!run.scenario.empty()) parts.push_back(absl::StrCat("scenario ", run.scenario));
  if (!run.label.empty()) parts.push_back(absl::StrCat("label ", run.label));
  if (!run.tags.empty()) {
    parts.push_back(absl::StrCat("tags ", absl::StrJoin(run.tags, " ", absl::PairFormatter("="))));
  }
  return absl::StrCat(run.dir.empty() ? "-" : run.dir, " (", absl::StrJoin(parts, ", "), ")");
}

std::string Legend(double alpha) {
  return absl::StrFormat(
      "change = (candidate - base) / base; CI: %.0f%% bootstrap interval of candidate - base, "
      "in the metric's unit; significant: U test p < %g and the CI excludes 0",
      100 * (1 - alpha), alpha);
}

// The final line's parenthesis: counts, or what was not compared.
std::string OutcomeDetail(const DiffReport& report) {
  if (!report.regressed && !report.nothing_compared.empty()) return report.nothing_compared;
  int regressed = 0, improved = 0;
  for (const MetricDiff& r : report.rows) {
    regressed += r.verdict == DiffVerdict::kRegressed;
    improved += r.verdict == DiffVerdict::kImproved;
  }
  return absl::StrFormat("%d regressed, %d improved", regressed, improved);
}

void AppendJsonStrings(const std::vector<std::string>& values, std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendJsonString(*out, values[i], JsonEscape::kGoHtml);
  }
  out->push_back(']');
}

void AppendRunJson(const DiffRunInfo& run, std::string* out) {
  out->append("{\"dir\":");
  AppendJsonString(*out, run.dir, JsonEscape::kGoHtml);
  out->append(",\"run_id\":");
  AppendJsonString(*out, run.run_id, JsonEscape::kGoHtml);
  out->append(",\"scenario\":");
  AppendJsonString(*out, run.scenario, JsonEscape::kGoHtml);
  out->append(",\"llmbench_version\":");
  AppendJsonString(*out, run.llmbench_version, JsonEscape::kGoHtml);
  out->append(",\"started\":");
  AppendJsonString(*out, FormatUtc(run.started_unix_ns), JsonEscape::kGoHtml);
  out->append(",\"wall_s\":");
  if (run.started_unix_ns != 0 && run.finished_unix_ns >= run.started_unix_ns) {
    absl::StrAppendFormat(out, "%.3f",
                          static_cast<double>(run.finished_unix_ns - run.started_unix_ns) / 1e9);
  } else {
    out->append("null");
  }
  out->append(",\"engines\":");
  AppendJsonStrings(run.engines, out);
  out->append(",\"label\":");
  AppendJsonString(*out, run.label, JsonEscape::kGoHtml);
  out->append(",\"tags\":{");
  bool first = true;
  for (const auto& [key, value] : run.tags) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(*out, key, JsonEscape::kGoHtml);
    out->push_back(':');
    AppendJsonString(*out, value, JsonEscape::kGoHtml);
  }
  out->append("}}");
}

}  // namespace

std::string DiffConsoleTable(const DiffReport& report) {
  std::string out;
  absl::StrAppend(&out, "base:      ", RunLine(report.base), "\ncandidate: ",
                  RunLine(report.candidate), "\n");
  if (!report.rows.empty()) {
    std::vector<std::vector<std::string>> rows = {Header()};
    for (const MetricDiff& r : report.rows) rows.push_back(RowCells(r));
    std::vector<size_t> widths(rows[0].size(), 0);
    for (const auto& row : rows) {
      for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
    }
    for (size_t r = 0; r < rows.size(); ++r) {
      std::string line;
      for (size_t i = 0; i < rows[r].size(); ++i) {
        if (i > 0) line += "  ";
        const std::string pad(widths[i] - rows[r][i].size(), ' ');
        line += i < kTextColumns ? rows[r][i] + pad : pad + rows[r][i];
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      absl::StrAppend(&out, line, "\n");
      if (r == 0) {
        size_t total = 2 * (widths.size() - 1);
        for (size_t w : widths) total += w;
        absl::StrAppend(&out, std::string(total, '-'), "\n");
      }
    }
    absl::StrAppend(&out, "(", Legend(report.alpha), ")\n");
  }
  for (const std::string& note : report.notes) absl::StrAppend(&out, "note: ", note, "\n");
  if (report.regressed && !report.nothing_compared.empty()) {
    absl::StrAppend(&out, "note: not compared: ", report.nothing_compared, "\n");
  }
  absl::StrAppend(&out, "diff: ", DiffOutcome(report), " (", OutcomeDetail(report), ")\n");
  return out;
}

std::string DiffHtml(const DiffReport& report) {
  std::string d = "{\"outcome\":";
  AppendJsonString(d, DiffOutcome(report), JsonEscape::kGoHtml);
  d.append(",\"detail\":");
  AppendJsonString(d, OutcomeDetail(report), JsonEscape::kGoHtml);
  d.append(",\"nothing_compared\":");
  AppendJsonString(d, report.nothing_compared, JsonEscape::kGoHtml);
  d.append(",\"legend\":");
  AppendJsonString(d, Legend(report.alpha), JsonEscape::kGoHtml);
  d.append(",\"base\":");
  AppendRunJson(report.base, &d);
  d.append(",\"candidate\":");
  AppendRunJson(report.candidate, &d);
  d.append(",\"columns\":");
  AppendJsonStrings(Header(), &d);
  d.append(",\"rows\":[");
  for (size_t i = 0; i < report.rows.size(); ++i) {
    if (i > 0) d.push_back(',');
    AppendJsonStrings(RowCells(report.rows[i]), &d);
  }
  d.append("],\"notes\":");
  std::vector<std::string> notes = report.notes;
  if (report.regressed && !report.nothing_compared.empty()) {
    notes.push_back(absl::StrCat("not compared: ", report.nothing_compared));
  }
  AppendJsonStrings(notes, &d);
  d.append(",\"pairs\":[");
  for (size_t i = 0; i < report.pairs.size(); ++i) {
    const DiffEnginePair& p = report.pairs[i];
    if (i > 0) d.push_back(',');
    d.append("{\"label\":");
    AppendJsonString(d, p.label, JsonEscape::kGoHtml);
    d.append(",\"base_engine\":");
    AppendJsonString(d, p.base_engine, JsonEscape::kGoHtml);
    d.append(",\"candidate_engine\":");
    AppendJsonString(d, p.candidate_engine, JsonEscape::kGoHtml);
    absl::StrAppend(&d, ",\"compared\":", p.compared, ",\"dist\":",
                    p.distributions_json.empty() ? "null" : p.distributions_json, "}");
  }
  d.append("]}");
  std::string data = "{\"diff\":";
  absl::StrAppend(&data, d, ",\"uplot_version\":");
  AppendJsonString(data, report_assets::UplotVersion(), JsonEscape::kGoHtml);
  data.push_back('}');
  const std::string version = !report.candidate.llmbench_version.empty()
                                  ? report.candidate.llmbench_version
                                  : report.base.llmbench_version;
  return ReportPage(absl::StrCat("llmbench diff ", report.base.run_id, " vs ",
                                 report.candidate.run_id),
                    version,
                    absl::StrCat("This page needs JavaScript to draw its table and charts. diff: ",
                                 DiffOutcome(report), " (", OutcomeDetail(report), ")"),
                    data);
}

std::string DefaultDiffOutDir(int64_t unix_ns) {
  return (std::filesystem::path("results") / MakeRunId("diff", unix_ns)).string();
}

absl::Status CheckDiffOutDir(const std::string& out_dir, bool force) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(out_dir, ec)) return absl::OkStatus();
  if (!fs::is_directory(out_dir, ec)) {
    return absl::FailedPreconditionError(absl::StrCat("--out ", out_dir, " is not a folder"));
  }
  if (force) return absl::OkStatus();
  std::vector<std::string> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(out_dir, ec)) {
    names.push_back(entry.path().filename().string());
  }
  if (names.empty()) return absl::OkStatus();
  std::sort(names.begin(), names.end());
  const size_t shown = std::min<size_t>(names.size(), 3);
  std::string list = absl::StrJoin(names.begin(), names.begin() + shown, ", ");
  if (names.size() > shown) absl::StrAppend(&list, ", ... (", names.size(), " entries)");
  return absl::FailedPreconditionError(
      absl::StrCat("--out ", out_dir, " is not empty (", list, "); give --force to write ",
                   kDiffHtmlFileName, " into it anyway, or choose another folder"));
}

absl::Status WriteDiffHtml(const std::string& out_dir, const DiffReport& report, bool force) {
  namespace fs = std::filesystem;
  LLMBENCH_RETURN_IF_ERROR(CheckDiffOutDir(out_dir, force));
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  const std::string path = (fs::path(out_dir) / kDiffHtmlFileName).string();
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot create ", out_dir, ": ", ec.message()));
  }
  const std::string page = DiffHtml(report);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    return absl::UnavailableError(absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  out.write(page.data(), static_cast<std::streamsize>(page.size()));
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

int DiffExitStatus(const DiffReport& report) {
  if (report.regressed) return kExitRegression;
  if (!report.nothing_compared.empty()) return kExitNothingCompared;
  return 0;
}

}  // namespace llmbench::coordinator
