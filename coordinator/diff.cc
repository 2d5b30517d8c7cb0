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
#include "common/stats.h"
#include "common/status.h"
#include "coordinator/exporters.h"
#include "yaml-cpp/yaml.h"

namespace llmbench::coordinator {
namespace {

// ---------------------------------------------------------------------------------------------
// requests.csv

// Splits RFC 4180 text into rows of fields; `line_of_row` gets each row's first line (1-based).
absl::StatusOr<std::vector<std::vector<std::string>>> SplitCsv(std::string_view text,
                                                               const std::string& source,
                                                               std::vector<size_t>* line_of_row) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false;
  bool row_started = false;
  size_t line = 1;
  size_t row_line = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (!row_started) {
      row_started = true;
      row_line = line;
    }
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        if (c == '\n') ++line;
        field.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.push_back(std::move(field));
      field.clear();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      fields.push_back(std::move(field));
      field.clear();
      rows.push_back(std::move(fields));
      fields.clear();
      line_of_row->push_back(row_line);
      row_started = false;
      ++line;
    } else {
      field.push_back(c);
    }
  }
  if (quoted) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", row_line, ": unterminated quoted field"));
  }
  if (row_started) {
    fields.push_back(std::move(field));
    rows.push_back(std::move(fields));
    line_of_row->push_back(row_line);
  }
  return rows;
}

}  // namespace

absl::StatusOr<std::map<std::string, RequestSamples>> ParseRequestSamples(
    std::string_view csv, const std::string& source) {
  std::vector<size_t> lines;
  absl::StatusOr<std::vector<std::vector<std::string>>> rows = SplitCsv(csv, source, &lines);
  if (!rows.ok()) return rows.status();
  if (rows->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": empty (no header line)"));
  }
  const std::vector<std::string>& header = rows->front();
  auto column = [&](const std::string& name) -> absl::StatusOr<size_t> {
    auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ":1: no column \"", name, "\" (not a llmbench requests.csv)"));
    }
    return static_cast<size_t>(it - header.begin());
  };
  LLMBENCH_ASSIGN_OR_RETURN(size_t engine_col, column("engine"));
  LLMBENCH_ASSIGN_OR_RETURN(size_t warmup_col, column("warmup"));
  LLMBENCH_ASSIGN_OR_RETURN(size_t sent_col, column("sent_ns"));
  LLMBENCH_ASSIGN_OR_RETURN(size_t first_col, column("first_token_ns"));
  LLMBENCH_ASSIGN_OR_RETURN(size_t end_col, column("end_ns"));
  LLMBENCH_ASSIGN_OR_RETURN(size_t chunks_col, column("chunk_offsets_ns"));
  LLMBENCH_ASSIGN_OR_RETURN(size_t tokens_col, column("output_tokens"));
  LLMBENCH_ASSIGN_OR_RETURN(size_t error_col, column("error_class"));

  std::map<std::string, RequestSamples> out;
  for (size_t r = 1; r < rows->size(); ++r) {
    const std::vector<std::string>& row = (*rows)[r];
    if (row.size() == 1 && row[0].empty()) continue;  // blank line
    auto bad = [&](const std::string& what) {
      return absl::InvalidArgumentError(absl::StrCat(source, ":", lines[r], ": ", what));
    };
    if (row.size() != header.size()) {
      return bad(absl::StrFormat("%d fields, the header has %d", row.size(), header.size()));
    }
    if (row[warmup_col] == "true" || row[error_col] != "none") continue;
    auto int_of = [&](size_t col, int64_t* v) {
      return absl::SimpleAtoi(row[col], v);
    };
    int64_t sent = 0, end = 0, tokens = 0;
    if (!int_of(sent_col, &sent) || !int_of(end_col, &end) || !int_of(tokens_col, &tokens)) {
      return bad("sent_ns, end_ns or output_tokens is not an integer");
    }
    RequestSamples& s = out[row[engine_col]];
    const double e2e_ms = static_cast<double>(end - sent) / 1e6;
    s.e2e_ms.push_back(e2e_ms);
    if (!row[first_col].empty()) {
      int64_t first = 0;
      if (!int_of(first_col, &first)) return bad("first_token_ns is not an integer");
      const double ttft_ms = static_cast<double>(first - sent) / 1e6;
      s.ttft_ms.push_back(ttft_ms);
      if (tokens >= 2) s.tpot_ms.push_back((e2e_ms - ttft_ms) / static_cast<double>(tokens - 1));
    }
    if (!row[chunks_col].empty()) {
      int64_t previous = 0;
      bool first_chunk = true;
      for (absl::string_view part : absl::StrSplit(row[chunks_col], ';')) {
        int64_t offset = 0;
        if (!absl::SimpleAtoi(part, &offset)) return bad("chunk_offsets_ns is not a list of integers");
        if (!first_chunk) s.itl_ms.push_back(static_cast<double>(offset - previous) / 1e6);
        previous = offset;
        first_chunk = false;
      }
    }
  }
  return out;
}

absl::StatusOr<std::map<std::string, RequestSamples>> LoadRequestSamples(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / kRequestsFileName).string();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  std::stringstream contents;
  contents << in.rdbuf();
  return ParseRequestSamples(contents.str(), path);
}

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
  const char* label;
  bool higher_is_better;
  // Per-request metric (nullptr for throughputs) and its quantile.
  std::vector<double> RequestSamples::*samples;
  double quantile;
};

const std::vector<MetricSpec>& MetricSpecs() {
  static const std::vector<MetricSpec> specs = {
      {"ttft_p50", "ttft", "TTFT p50 (ms)", false, &RequestSamples::ttft_ms, 0.50},
      {"ttft_p99", "ttft", "TTFT p99 (ms)", false, &RequestSamples::ttft_ms, 0.99},
      {"tpot_p50", "tpot", "TPOT p50 (ms)", false, &RequestSamples::tpot_ms, 0.50},
      {"tpot_p99", "tpot", "TPOT p99 (ms)", false, &RequestSamples::tpot_ms, 0.99},
      {"itl_p50", "itl", "ITL p50 (ms)", false, &RequestSamples::itl_ms, 0.50},
      {"itl_p99", "itl", "ITL p99 (ms)", false, &RequestSamples::itl_ms, 0.99},
      {"e2e_p50", "e2e", "E2E p50 (ms)", false, &RequestSamples::e2e_ms, 0.50},
      {"e2e_p99", "e2e", "E2E p99 (ms)", false, &RequestSamples::e2e_ms, 0.99},
      {"request_throughput", "", "req/s", true, nullptr, 0},
      {"output_token_throughput", "", "out tok/s", true, nullptr, 0},
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
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  std::stringstream contents;
  contents << in.rdbuf();
  return LoadThresholdsYaml(contents.str(), path, thresholds);
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

}  // namespace

DiffReport DiffResults(const v1::RunResult& base,
                       const std::map<std::string, RequestSamples>* base_samples,
                       const v1::RunResult& candidate,
                       const std::map<std::string, RequestSamples>* candidate_samples,
                       const DiffOptions& options) {
  DiffReport report;
  report.alpha = options.thresholds.alpha;
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
  for (const auto& [base_name, candidate_name] : pairs) {
    const v1::Aggregates ba = aggregates_of(base, base_name);
    const v1::Aggregates ca = aggregates_of(candidate, candidate_name);
    const RequestSamples* bs = FindSamples(base_samples, base_name);
    const RequestSamples* cs = FindSamples(candidate_samples, candidate_name);
    const std::string label =
        base_name == candidate_name ? base_name : absl::StrCat(base_name, " -> ", candidate_name);
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
    if (bs == nullptr || cs == nullptr) {
      report.notes.push_back(absl::StrCat(
          "engine ", label,
          ": no per-request values on one side (requests.csv missing or without this engine); "
          "percentiles judged on their change alone, untested"));
    }
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
  report.base_label = base_dir;
  report.candidate_label = candidate_dir;
  return report;
}

// ---------------------------------------------------------------------------------------------
// Output

namespace {

std::string Num(const std::optional<double>& v) {
  return v.has_value() ? absl::StrFormat("%.3f", *v) : "-";
}

std::vector<std::string> RowCells(const MetricDiff& r) {
  return {r.engine,
          r.metric,
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
      "engine", "metric", "base", "candidate", "change", "p (U test)",
      "CI of diff", "significant", "max regr.", "verdict"};
  return header;
}

std::string HtmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::string DiffConsoleTable(const DiffReport& report) {
  std::vector<std::vector<std::string>> rows = {Header()};
  for (const MetricDiff& r : report.rows) rows.push_back(RowCells(r));
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  if (!report.base_label.empty()) {
    absl::StrAppend(&out, "base:      ", report.base_label, "\ncandidate: ",
                    report.candidate_label, "\n");
  }
  for (size_t r = 0; r < rows.size(); ++r) {
    std::string line;
    for (size_t i = 0; i < rows[r].size(); ++i) {
      if (i > 0) line += "  ";
      const std::string pad(widths[i] - rows[r][i].size(), ' ');
      line += i < 2 ? rows[r][i] + pad : pad + rows[r][i];
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    absl::StrAppend(&out, line, "\n");
    if (r == 0) {
      size_t total = 2 * (widths.size() - 1);
      for (size_t w : widths) total += w;
      absl::StrAppend(&out, std::string(total, '-'), "\n");
    }
  }
  absl::StrAppend(&out,
                  absl::StrFormat("(change = (candidate - base) / base; CI: %.0f%% bootstrap "
                                  "interval of candidate - base; significant: U test p < %g "
                                  "and the CI excludes 0)\n",
                                  100 * (1 - report.alpha), report.alpha));
  for (const std::string& note : report.notes) absl::StrAppend(&out, "note: ", note, "\n");
  int regressed = 0, improved = 0;
  for (const MetricDiff& r : report.rows) {
    regressed += r.verdict == DiffVerdict::kRegressed;
    improved += r.verdict == DiffVerdict::kImproved;
  }
  absl::StrAppend(&out, absl::StrFormat("diff: %s (%d regressed, %d improved)\n",
                                        report.regressed ? "REGRESSED" : "PASS", regressed,
                                        improved));
  return out;
}

std::string DiffHtml(const DiffReport& report) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<title>llmbench diff</title>\n<style>\n"
      "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\n"
      "table{border-collapse:collapse}\n"
      "th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}\n"
      "td:nth-child(-n+2),th{text-align:left}\n"
      "tr.REGRESSED td{background:#fdd}\ntr.IMPROVED td{background:#dfd}\n"
      "tr.NA td{color:#888}\n.verdict{font-size:1.4em;font-weight:bold}\n"
      "</style>\n</head>\n<body>\n<h1>llmbench diff</h1>\n";
  absl::StrAppend(&out, "<p>base: <code>", HtmlEscape(report.base_label),
                  "</code><br>candidate: <code>", HtmlEscape(report.candidate_label),
                  "</code></p>\n");
  absl::StrAppend(&out, "<p class=\"verdict\">", report.regressed ? "REGRESSED" : "PASS",
                  "</p>\n<table>\n<tr>");
  for (const std::string& h : Header()) absl::StrAppend(&out, "<th>", HtmlEscape(h), "</th>");
  absl::StrAppend(&out, "</tr>\n");
  for (const MetricDiff& r : report.rows) {
    const std::string verdict = DiffVerdictName(r.verdict);
    absl::StrAppend(&out, "<tr class=\"", verdict == "N/A" ? "NA" : verdict, "\">");
    for (const std::string& cell : RowCells(r)) {
      absl::StrAppend(&out, "<td>", HtmlEscape(cell), "</td>");
    }
    absl::StrAppend(&out, "</tr>\n");
  }
  absl::StrAppend(&out, "</table>\n<p>",
                  HtmlEscape(absl::StrFormat(
                      "change = (candidate − base) / base. CI: %.0f%% percentile-bootstrap "
                      "interval of candidate − base. Significant: two-sided Mann–Whitney U "
                      "p < %g and the CI excludes 0. A metric REGRESSED when significant and "
                      "worse by more than its maximum regression.",
                      100 * (1 - report.alpha), report.alpha)),
                  "</p>\n");
  for (const std::string& note : report.notes) {
    absl::StrAppend(&out, "<p>note: ", HtmlEscape(note), "</p>\n");
  }
  absl::StrAppend(&out, "</body>\n</html>\n");
  return out;
}

int DiffExitStatus(const DiffReport& report) { return report.regressed ? kExitRegression : 0; }

}  // namespace llmbench::coordinator
