#include "common/prometheus_text.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace llmbench {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// absl::string_view is not std::string_view in this Abseil build: a local concatenation.
void AppendPiece(std::string& out, std::string_view piece) { out.append(piece); }
void AppendPiece(std::string& out, const char* piece) { out.append(piece); }
void AppendPiece(std::string& out, const std::string& piece) { out.append(piece); }
void AppendPiece(std::string& out, int value) { out.append(std::to_string(value)); }
void AppendPiece(std::string& out, size_t value) { out.append(std::to_string(value)); }

template <typename... Args>
std::string Cat(const Args&... args) {
  std::string out;
  (AppendPiece(out, args), ...);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (absl::ascii_tolower(static_cast<unsigned char>(a[i])) !=
        absl::ascii_tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool IsSpace(char c) { return c == ' ' || c == '\t'; }
bool IsNameStart(char c) { return absl::ascii_isalpha(c) || c == '_' || c == ':'; }
bool IsNameChar(char c) { return absl::ascii_isalnum(c) || c == '_' || c == ':'; }
bool IsLabelStart(char c) { return absl::ascii_isalpha(c) || c == '_'; }
bool IsLabelChar(char c) { return absl::ascii_isalnum(c) || c == '_'; }

void SkipSpace(std::string_view line, size_t* pos) {
  while (*pos < line.size() && IsSpace(line[*pos])) ++*pos;
}

// The next whitespace-delimited token at *pos (after skipping blanks); empty at the end.
std::string_view NextToken(std::string_view line, size_t* pos) {
  SkipSpace(line, pos);
  const size_t start = *pos;
  while (*pos < line.size() && !IsSpace(line[*pos])) ++*pos;
  return line.substr(start, *pos - start);
}

// A float as Go's strconv.ParseFloat reads it in Prometheus' parser: decimal or exponent
// notation, an optional sign, and NaN / Inf / +Inf / -Inf in any letter case.
std::optional<double> ParseFloat(std::string_view text) {
  if (text.empty()) return std::nullopt;
  bool negative = false;
  std::string_view body = text;
  if (body[0] == '+' || body[0] == '-') {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (EqualsIgnoreCase(body, "inf") || EqualsIgnoreCase(body, "infinity")) {
    return negative ? -kInf : kInf;
  }
  if (EqualsIgnoreCase(body, "nan")) {
    if (body.size() != text.size()) return std::nullopt;  // no signed NaN
    return kNaN;
  }
  if (body.empty() || !(absl::ascii_isdigit(body[0]) || body[0] == '.')) return std::nullopt;
  double value = 0;
  auto [ptr, ec] = std::from_chars(body.data(), body.data() + body.size(), value,
                                   std::chars_format::general);
  if (ec == std::errc::result_out_of_range) {
    // Overflow reads as ±Inf, underflow as 0, like strconv.ParseFloat's value.
    std::string copy(body);
    value = std::strtod(copy.c_str(), nullptr);
  } else if (ec != std::errc() || ptr != body.data() + body.size()) {
    return std::nullopt;
  }
  return negative ? -value : value;
}

std::string Unescape(std::string_view text, bool quotes) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      const char next = text[i + 1];
      if (next == '\\' || next == 'n' || (quotes && next == '"')) {
        out.push_back(next == 'n' ? '\n' : next);
        ++i;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

std::optional<MetricType> ParseType(std::string_view text) {
  if (text == "counter") return MetricType::kCounter;
  if (text == "gauge") return MetricType::kGauge;
  if (text == "histogram") return MetricType::kHistogram;
  if (text == "summary") return MetricType::kSummary;
  if (text == "untyped") return MetricType::kUntyped;
  return std::nullopt;
}

std::string FormatLe(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return absl::StrCat(v);
}

class Parser {
 public:
  absl::StatusOr<MetricSet> Parse(std::string_view text) {
    size_t start = 0;
    while (start <= text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string_view::npos) end = text.size();
      std::string_view line = text.substr(start, end - start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      ++line_no_;
      absl::Status status = ParseLine(line);
      if (!status.ok()) return status;
      if (end == text.size()) break;
      start = end + 1;
    }
    for (MetricFamily& family : set_.families) {
      for (HistogramSeries& h : family.histograms) {
        std::sort(h.buckets.begin(), h.buckets.end(),
                  [](const HistogramBucket& a, const HistogramBucket& b) {
                    return a.upper_bound < b.upper_bound;
                  });
      }
      for (SummarySeries& s : family.summaries) {
        std::sort(s.quantiles.begin(), s.quantiles.end(),
                  [](const SummaryQuantile& a, const SummaryQuantile& b) {
                    return a.quantile < b.quantile;
                  });
      }
    }
    return std::move(set_);
  }

 private:
  absl::Status Error(std::string_view what) const {
    return absl::InvalidArgumentError(Cat("line ", line_no_, ": ", what));
  }

  MetricFamily& Family(std::string_view name) {
    auto it = index_.find(name);
    if (it != index_.end()) return set_.families[it->second];
    index_.emplace(std::string(name), set_.families.size());
    set_.families.emplace_back();
    set_.families.back().name = std::string(name);
    return set_.families.back();
  }
  MetricFamily* FindFamily(std::string_view name) {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &set_.families[it->second];
  }

  absl::Status ParseLine(std::string_view line) {
    size_t pos = 0;
    SkipSpace(line, &pos);
    if (pos == line.size()) return absl::OkStatus();
    if (line[pos] == '#') return ParseComment(line.substr(pos + 1));
    return ParseSample(line.substr(pos));
  }

  absl::Status ParseComment(std::string_view line) {
    size_t pos = 0;
    const std::string_view keyword = NextToken(line, &pos);
    if (keyword != "HELP" && keyword != "TYPE") return absl::OkStatus();  // a comment
    const std::string_view name = NextToken(line, &pos);
    if (name.empty()) return Error(Cat(keyword, " line without a metric name"));
    if (!IsNameStart(name[0]) ||
        !std::all_of(name.begin(), name.end(), [](char c) { return IsNameChar(c); })) {
      return Error(Cat("invalid metric name '", name, "' in ", keyword, " line"));
    }
    if (keyword == "HELP") {
      if (pos < line.size()) ++pos;  // the one blank after the name
      MetricFamily& family = Family(name);
      if (helped_.count(std::string(name)) > 0) {
        return Error(Cat("second HELP line for '", name, "'"));
      }
      helped_.insert({std::string(name), true});
      family.help = Unescape(line.substr(pos), /*quotes=*/false);
      return absl::OkStatus();
    }
    const std::string_view type_text = NextToken(line, &pos);
    if (type_text.empty()) return Error(Cat("TYPE line for '", name, "' without a type"));
    std::optional<MetricType> type = ParseType(type_text);
    if (!type.has_value()) {
      return Error(Cat("unknown metric type '", type_text, "' for '", name, "'"));
    }
    const std::string_view extra = NextToken(line, &pos);
    if (!extra.empty()) {
      return Error(Cat("unexpected text '", extra, "' after the TYPE of '", name, "'"));
    }
    MetricFamily& family = Family(name);
    if (typed_.count(std::string(name)) > 0) {
      return Error(Cat("second TYPE line for '", name, "'"));
    }
    if (!family.samples.empty()) {
      return Error(Cat("TYPE line for '", name, "' after its samples"));
    }
    typed_.insert({std::string(name), true});
    family.type = *type;
    return absl::OkStatus();
  }

  absl::Status ParseLabels(std::string_view line, size_t* pos, Labels* labels) {
    ++*pos;  // '{'
    while (true) {
      SkipSpace(line, pos);
      if (*pos >= line.size()) return Error("unterminated label set (no '}')");
      if (line[*pos] == '}') {
        ++*pos;
        break;
      }
      const size_t name_start = *pos;
      if (!IsLabelStart(line[*pos])) {
        return Error(Cat("expected a label name at '", line.substr(*pos, 10), "'"));
      }
      while (*pos < line.size() && IsLabelChar(line[*pos])) ++*pos;
      std::string name(line.substr(name_start, *pos - name_start));
      SkipSpace(line, pos);
      if (*pos >= line.size() || line[*pos] != '=') {
        return Error(Cat("expected '=' after label name '", name, "'"));
      }
      ++*pos;
      SkipSpace(line, pos);
      if (*pos >= line.size() || line[*pos] != '"') {
        return Error(Cat("expected '\"' to open the value of label '", name, "'"));
      }
      ++*pos;
      std::string value;
      bool closed = false;
      while (*pos < line.size()) {
        const char c = line[*pos];
        if (c == '"') {
          ++*pos;
          closed = true;
          break;
        }
        if (c == '\\') {
          if (*pos + 1 >= line.size()) break;
          const char next = line[*pos + 1];
          if (next == '\\' || next == '"') {
            value.push_back(next);
          } else if (next == 'n') {
            value.push_back('\n');
          } else {
            return Error(Cat("invalid escape '\\", std::string(1, next),
                                      "' in the value of label '", name, "'"));
          }
          *pos += 2;
          continue;
        }
        value.push_back(c);
        ++*pos;
      }
      if (!closed) return Error(Cat("unterminated value of label '", name, "'"));
      for (const auto& [existing, v] : *labels) {
        if (existing == name) return Error(Cat("duplicate label '", name, "'"));
      }
      labels->emplace_back(std::move(name), std::move(value));
      SkipSpace(line, pos);
      if (*pos < line.size() && line[*pos] == ',') {
        ++*pos;
        continue;
      }
      if (*pos < line.size() && line[*pos] == '}') {
        ++*pos;
        break;
      }
      return Error(
          Cat("expected ',' or '}' after label '", labels->back().first, "'"));
    }
    std::sort(labels->begin(), labels->end());
    return absl::OkStatus();
  }

  absl::Status ParseSample(std::string_view line) {
    size_t pos = 0;
    if (!IsNameStart(line[0])) {
      return Error(Cat("expected a metric name at '", line.substr(0, 20), "'"));
    }
    while (pos < line.size() && IsNameChar(line[pos])) ++pos;
    Sample sample;
    sample.name = std::string(line.substr(0, pos));
    if (pos < line.size() && line[pos] == '{') {
      LLMBENCH_RETURN_IF_ERROR(ParseLabels(line, &pos, &sample.labels));
    } else if (pos < line.size() && !IsSpace(line[pos])) {
      return Error(Cat("invalid character '", std::string(1, line[pos]),
                                "' in metric name '", line.substr(0, pos + 1), "'"));
    }
    const std::string_view value_text = NextToken(line, &pos);
    if (value_text.empty()) return Error(Cat("missing value for '", sample.name, "'"));
    std::optional<double> value = ParseFloat(value_text);
    if (!value.has_value()) {
      return Error(Cat("bad value '", value_text, "' for '", sample.name, "'"));
    }
    sample.value = *value;
    const std::string_view ts_text = NextToken(line, &pos);
    if (!ts_text.empty()) {
      int64_t ts = 0;
      auto [end, ec] = std::from_chars(ts_text.data(), ts_text.data() + ts_text.size(), ts);
      if (ec != std::errc() || end != ts_text.data() + ts_text.size()) {
        return Error(Cat("bad timestamp '", ts_text, "' for '", sample.name, "'"));
      }
      sample.timestamp_ms = ts;
      const std::string_view extra = NextToken(line, &pos);
      if (!extra.empty()) {
        return Error(Cat("unexpected text '", extra, "' after the sample of '",
                                  sample.name, "'"));
      }
    }
    return AddSample(std::move(sample));
  }

  // Which family a sample belongs to, and in what role.
  absl::Status AddSample(Sample sample) {
    const std::string& name = sample.name;
    if (MetricFamily* family = FindFamily(name); family != nullptr) {
      if (family->type == MetricType::kHistogram) {
        return Error(Cat("histogram sample '", name,
                                  "' must end in _bucket, _sum or _count"));
      }
      if (family->type == MetricType::kSummary) return AddSummaryQuantile(*family, std::move(sample));
      family->samples.push_back(std::move(sample));
      return absl::OkStatus();
    }
    for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
      if (name.size() <= suffix.size() || !std::string_view(name).ends_with(suffix)) continue;
      MetricFamily* base = FindFamily(std::string_view(name).substr(0, name.size() - suffix.size()));
      if (base == nullptr) continue;
      if (base->type == MetricType::kHistogram) return AddHistogramPart(*base, suffix, std::move(sample));
      if (base->type == MetricType::kSummary && suffix != "_bucket") {
        return AddSummaryPart(*base, suffix, std::move(sample));
      }
    }
    Family(name).samples.push_back(std::move(sample));
    return absl::OkStatus();
  }

  static std::optional<std::string> TakeLabel(Labels* labels, std::string_view key) {
    for (auto it = labels->begin(); it != labels->end(); ++it) {
      if (it->first == key) {
        std::string value = std::move(it->second);
        labels->erase(it);
        return value;
      }
    }
    return std::nullopt;
  }

  template <typename Series>
  static Series& SeriesFor(std::vector<Series>& all, const Labels& labels) {
    for (Series& s : all) {
      if (s.labels == labels) return s;
    }
    all.emplace_back();
    all.back().labels = labels;
    return all.back();
  }

  absl::Status AddHistogramPart(MetricFamily& family, std::string_view suffix, Sample sample) {
    Labels labels = sample.labels;
    if (suffix == "_bucket") {
      std::optional<std::string> le = TakeLabel(&labels, "le");
      if (!le.has_value()) {
        return Error(Cat("histogram bucket '", sample.name, "' has no 'le' label"));
      }
      std::optional<double> bound = ParseFloat(*le);
      if (!bound.has_value() || std::isnan(*bound)) {
        return Error(Cat("bad 'le' value '", *le, "' for '", sample.name, "'"));
      }
      HistogramSeries& series = SeriesFor(family.histograms, labels);
      for (const HistogramBucket& b : series.buckets) {
        if (b.upper_bound == *bound) {
          return Error(Cat("duplicate bucket le=\"", FormatLe(*bound), "\" for '",
                                    family.name, "'"));
        }
      }
      series.buckets.push_back(HistogramBucket{*bound, sample.value});
    } else {
      HistogramSeries& series = SeriesFor(family.histograms, labels);
      std::optional<double>& slot = suffix == "_sum" ? series.sum : series.count;
      if (slot.has_value()) return Error(Cat("duplicate sample '", sample.name, "'"));
      slot = sample.value;
    }
    family.samples.push_back(std::move(sample));
    return absl::OkStatus();
  }

  absl::Status AddSummaryQuantile(MetricFamily& family, Sample sample) {
    Labels labels = sample.labels;
    std::optional<std::string> q = TakeLabel(&labels, "quantile");
    if (!q.has_value()) {
      return Error(Cat("summary sample '", sample.name, "' has no 'quantile' label"));
    }
    std::optional<double> quantile = ParseFloat(*q);
    if (!quantile.has_value()) {
      return Error(Cat("bad 'quantile' value '", *q, "' for '", sample.name, "'"));
    }
    SeriesFor(family.summaries, labels).quantiles.push_back(SummaryQuantile{*quantile, sample.value});
    family.samples.push_back(std::move(sample));
    return absl::OkStatus();
  }

  absl::Status AddSummaryPart(MetricFamily& family, std::string_view suffix, Sample sample) {
    SummarySeries& series = SeriesFor(family.summaries, sample.labels);
    std::optional<double>& slot = suffix == "_sum" ? series.sum : series.count;
    if (slot.has_value()) return Error(Cat("duplicate sample '", sample.name, "'"));
    slot = sample.value;
    family.samples.push_back(std::move(sample));
    return absl::OkStatus();
  }

  MetricSet set_;
  std::map<std::string, size_t, std::less<>> index_;
  std::map<std::string, bool, std::less<>> helped_;
  std::map<std::string, bool, std::less<>> typed_;
  int line_no_ = 0;
};

}  // namespace

std::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
    case MetricType::kSummary: return "summary";
    case MetricType::kUntyped: break;
  }
  return "untyped";
}

const MetricFamily* MetricSet::Find(std::string_view name) const {
  for (const MetricFamily& family : families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

std::optional<double> MetricSet::Sum(std::string_view name) const {
  const MetricFamily* family = Find(name);
  if (family == nullptr || family->samples.empty()) return std::nullopt;
  double sum = 0;
  for (const Sample& s : family->samples) sum += s.value;
  return sum;
}

absl::StatusOr<MetricSet> ParsePrometheusText(std::string_view text) {
  return Parser().Parse(text);
}

double HistogramQuantile(double q, std::span<const HistogramBucket> input) {
  if (std::isnan(q)) return kNaN;
  if (q < 0) return -kInf;
  if (q > 1) return kInf;
  if (input.empty()) return kNaN;
  std::vector<HistogramBucket> buckets(input.begin(), input.end());
  std::sort(buckets.begin(), buckets.end(), [](const HistogramBucket& a, const HistogramBucket& b) {
    return a.upper_bound < b.upper_bound;
  });
  if (!std::isinf(buckets.back().upper_bound) || buckets.back().upper_bound < 0) return kNaN;
  if (buckets.size() < 2) return kNaN;
  double max = -kInf;
  for (HistogramBucket& b : buckets) {  // PromQL's ensureMonotonic
    if (b.count < max) b.count = max;
    max = std::max(max, b.count);
  }
  const double observations = buckets.back().count;
  if (observations == 0) return kNaN;
  double rank = q * observations;
  size_t b = 0;
  while (b < buckets.size() - 1 && buckets[b].count < rank) ++b;
  if (b == buckets.size() - 1) return buckets[buckets.size() - 2].upper_bound;
  if (b == 0 && buckets[0].upper_bound <= 0) return buckets[0].upper_bound;
  double bucket_start = 0;
  const double bucket_end = buckets[b].upper_bound;
  double count = buckets[b].count;
  if (b > 0) {
    bucket_start = buckets[b - 1].upper_bound;
    count -= buckets[b - 1].count;
    rank -= buckets[b - 1].count;
  }
  return bucket_start + (bucket_end - bucket_start) * (rank / count);
}

double CounterIncrease(double start, double end, bool* reset) {
  const bool went_back = end < start;
  if (reset != nullptr) *reset = went_back;
  return went_back ? end : end - start;
}

absl::StatusOr<HistogramSeries> HistogramDelta(const HistogramSeries* start,
                                               const HistogramSeries& end, bool* reset) {
  if (reset != nullptr) *reset = false;
  if (start == nullptr) return end;
  if (start->buckets.size() != end.buckets.size()) {
    return absl::InvalidArgumentError(Cat("histogram buckets changed between scrapes (",
                                                   start->buckets.size(), " then ",
                                                   end.buckets.size(), " buckets)"));
  }
  bool went_back = false;
  for (size_t i = 0; i < end.buckets.size(); ++i) {
    if (start->buckets[i].upper_bound != end.buckets[i].upper_bound) {
      return absl::InvalidArgumentError(Cat(
          "histogram buckets changed between scrapes (le=", FormatLe(start->buckets[i].upper_bound),
          " then le=", FormatLe(end.buckets[i].upper_bound), ")"));
    }
    if (end.buckets[i].count < start->buckets[i].count) went_back = true;
  }
  if (start->count.has_value() && end.count.has_value() && *end.count < *start->count) {
    went_back = true;
  }
  if (went_back) {
    if (reset != nullptr) *reset = true;
    return end;
  }
  HistogramSeries delta = end;
  for (size_t i = 0; i < end.buckets.size(); ++i) delta.buckets[i].count -= start->buckets[i].count;
  if (delta.sum.has_value() && start->sum.has_value()) *delta.sum -= *start->sum;
  if (delta.count.has_value() && start->count.has_value()) *delta.count -= *start->count;
  return delta;
}

std::optional<double> SampleValue(const MetricSet& set, std::string_view sample_name,
                                  bool average) {
  double sum = 0;
  size_t n = 0;
  for (const MetricFamily& family : set.families) {
    for (const Sample& s : family.samples) {
      if (s.name != sample_name || std::isnan(s.value)) continue;
      sum += s.value;
      ++n;
    }
  }
  if (n == 0) return std::nullopt;
  return average ? sum / static_cast<double>(n) : sum;
}

std::optional<HistogramSeries> CombinedHistogram(const MetricSet& set,
                                                 std::string_view family_name) {
  const MetricFamily* family = set.Find(family_name);
  if (family == nullptr || family->type != MetricType::kHistogram || family->histograms.empty()) {
    return std::nullopt;
  }
  HistogramSeries combined = family->histograms[0];
  combined.labels.clear();
  for (size_t i = 1; i < family->histograms.size(); ++i) {
    const HistogramSeries& h = family->histograms[i];
    if (h.buckets.size() != combined.buckets.size()) continue;
    bool same = true;
    for (size_t b = 0; b < h.buckets.size(); ++b) {
      same = same && h.buckets[b].upper_bound == combined.buckets[b].upper_bound;
    }
    if (!same) continue;
    for (size_t b = 0; b < h.buckets.size(); ++b) combined.buckets[b].count += h.buckets[b].count;
    if (combined.sum.has_value() && h.sum.has_value()) *combined.sum += *h.sum;
    if (combined.count.has_value() && h.count.has_value()) *combined.count += *h.count;
  }
  return combined;
}

HistogramSeries ZeroedHistogram(HistogramSeries h) {
  for (HistogramBucket& b : h.buckets) b.count = 0;
  if (h.sum.has_value()) h.sum = 0;
  if (h.count.has_value()) h.count = 0;
  return h;
}

void AddHistogramInto(const HistogramSeries& delta, HistogramSeries* total) {
  for (size_t b = 0; b < total->buckets.size() && b < delta.buckets.size(); ++b) {
    total->buckets[b].count += delta.buckets[b].count;
  }
  if (total->sum.has_value() && delta.sum.has_value()) *total->sum += *delta.sum;
  if (total->count.has_value() && delta.count.has_value()) *total->count += *delta.count;
}

}  // namespace llmbench
