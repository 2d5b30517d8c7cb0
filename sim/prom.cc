#include "sim/prom.h"

#include <cmath>

#include "common/json_writer.h"

namespace llmbench::sim {
namespace {

void AppendValue(std::string& out, double v, bool float_style) {
  if (!float_style && v == std::floor(v) && std::fabs(v) < 9e15) {
    AppendInt(out, static_cast<int64_t>(v));
  } else {
    AppendPythonFloat(out, v);
  }
}

}  // namespace

void Histogram::Observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  ++count_;
  sum_ += v;
}

void AppendSample(std::string& out, std::string_view name, std::string_view labels, double value,
                  bool float_style) {
  out.append(name);
  if (!labels.empty()) {
    out.push_back('{');
    out.append(labels);
    out.push_back('}');
  }
  out.push_back(' ');
  AppendValue(out, value, float_style);
  out.push_back('\n');
}

void Histogram::Append(std::string& out, std::string_view name, std::string_view labels,
                       bool float_style, bool sum_before_count) const {
  uint64_t cum = 0;
  const std::string bucket = std::string(name) + "_bucket";
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cum += counts_[i];
    std::string l(labels);
    if (!l.empty()) l.push_back(',');
    l.append("le=\"");
    if (i == bounds_.size()) {
      l.append("+Inf");
    } else {
      AppendPythonFloat(l, bounds_[i]);
    }
    l.push_back('"');
    AppendSample(out, bucket, l, static_cast<double>(cum), float_style);
  }
  if (sum_before_count) {
    AppendSample(out, std::string(name) + "_sum", labels, sum_, true);
    AppendSample(out, std::string(name) + "_count", labels, static_cast<double>(count_), float_style);
  } else {
    AppendSample(out, std::string(name) + "_count", labels, static_cast<double>(count_), float_style);
    AppendSample(out, std::string(name) + "_sum", labels, sum_, true);
  }
}

std::vector<double> TgiDurationBuckets() {
  std::vector<double> b;
  double v = 1e-4;
  for (int k = 1; k <= 35; ++k) {
    v *= 1.5;
    b.push_back(v);
  }
  return b;
}

}  // namespace llmbench::sim
