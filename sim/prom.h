// Minimal Prometheus text-format helpers: a fixed-bucket histogram and writers for sample
// lines in two styles (vLLM/prometheus_client floats with HELP/TYPE, TGI/metrics-rs integers
// with TYPE only).
// Thread-safety: Histogram is not thread-safe; the owning engine serialises access.
#ifndef LLMBENCH_SIM_PROM_H_
#define LLMBENCH_SIM_PROM_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llmbench::sim {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1) {}
  void Observe(double v);
  // Appends _bucket/_sum/_count lines. `labels` is "" or `a="b",c="d"` (no braces).
  // float_style: values as "3.0" (prometheus_client) rather than "3".
  void Append(std::string& out, std::string_view name, std::string_view labels, bool float_style,
              bool sum_before_count) const;
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  double sum_ = 0;
};

// Appends "name{labels} value\n" (labels may be empty).
void AppendSample(std::string& out, std::string_view name, std::string_view labels, double value,
                  bool float_style);

// TGI's geometric duration buckets: 1.5^k * 1e-4 s for k = 1..35.
std::vector<double> TgiDurationBuckets();

}  // namespace llmbench::sim

#endif  // LLMBENCH_SIM_PROM_H_
