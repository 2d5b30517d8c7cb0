// GPU telemetry without NVML on the load host: NVIDIA DCGM exporters (dcgm-exporter, on the
// engine hosts, Prometheus text on :9400/metrics) scraped for the length of the run, beside the
// engines' own /metrics (telemetry.gpu_metrics, `--gpu-metrics URL`; docs/metrics.md, "GPU
// metrics from DCGM").
//
// Every DCGM_FI_* gauge becomes a series per GPU (labels gpu, UUID, modelName, Hostname) with
// a canonical name (DCGM_FI_DEV_GPU_UTIL -> gpu_util_pct, DCGM_FI_DEV_FB_USED -> fb_used_mib,
// DCGM_FI_DEV_POWER_USAGE -> power_w, ... ; other DCGM_FI_ names in lower case without the
// prefix); DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION (a counter in mJ) becomes energy_j, its
// increase since the first scrape. A failed scrape is a note, never a failed run.
//
// GpuMetricsAccumulator is a plain value (feed scrapes in time order); GpuMetricsCollector
// scrapes every URL on its own thread and is thread-safe to Stop() from the run's thread.
#ifndef LLMBENCH_COORDINATOR_GPU_METRICS_H_
#define LLMBENCH_COORDINATOR_GPU_METRICS_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "llmbench/v1/result.pb.h"
#include "llmbench/v1/telemetry.pb.h"

namespace llmbench::coordinator {

inline constexpr char kGpuMetricsFileName[] = "gpu_metrics.csv";

// The canonical name of a DCGM field, e.g. "gpu_util_pct" for DCGM_FI_DEV_GPU_UTIL.
std::string DcgmCanonicalName(std::string_view metric);

class GpuMetricsAccumulator {
 public:
  GpuMetricsAccumulator(std::string url, double interval_s);

  void AddScrape(int64_t unix_ns, const absl::StatusOr<std::string>& body);
  llmbench::v1::GpuMetricsTelemetry Result() const;

 private:
  struct Series {
    std::string metric;
    std::vector<double> t_s;
    std::vector<double> values;
  };
  struct Gpu {
    std::string gpu, uuid, model_name, hostname;
    std::map<std::string, Series> series;  // by canonical name
    std::optional<double> energy_start_mj;
  };
  void Note(std::string note);

  std::string url_;
  double interval_s_;
  uint32_t scrapes_ = 0;
  uint32_t errors_ = 0;
  uint64_t blanks_ = 0;  // DCGM blank values skipped
  int64_t first_unix_ns_ = 0;
  int64_t last_unix_ns_ = 0;
  std::vector<std::string> notes_;
  std::map<std::string, Gpu> gpus_;  // by "Hostname/gpu/UUID"
};

using GpuMetricsFetcher = std::function<absl::StatusOr<std::string>(const std::string& url)>;
// GET with libcurl, `timeout_ms` per request.
GpuMetricsFetcher CurlGpuMetricsFetcher(int timeout_ms);

class GpuMetricsCollector {
 public:
  // Scrapes every URL once before returning, then every interval_s on a thread.
  static std::unique_ptr<GpuMetricsCollector> Start(std::vector<std::string> urls,
                                                    double interval_s, GpuMetricsFetcher fetcher,
                                                    const Clock& clock);
  ~GpuMetricsCollector();
  GpuMetricsCollector(const GpuMetricsCollector&) = delete;
  GpuMetricsCollector& operator=(const GpuMetricsCollector&) = delete;

  // Stops the thread, scrapes once more and returns one result per URL, in order.
  // REQUIRES: called once.
  std::vector<llmbench::v1::GpuMetricsTelemetry> Stop();

 private:
  GpuMetricsCollector(std::vector<std::string> urls, double interval_s, GpuMetricsFetcher fetcher,
                      const Clock& clock);
  void ScrapeAll();
  void StopThread();

  const std::vector<std::string> urls_;
  const double interval_s_;
  GpuMetricsFetcher fetcher_;
  const Clock& clock_;
  std::mutex mu_;
  std::vector<GpuMetricsAccumulator> accumulators_ ABSL_GUARDED_BY(mu_);
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::thread thread_;
};

// gpu_metrics.csv: url,hostname,gpu,uuid,model_name,name,metric,t_s,value (one row per sample;
// t_s since the exporter's first scrape). Header only when nothing was scraped.
std::string GpuMetricsCsv(const llmbench::v1::RunResult& result);
// Writes DIR/gpu_metrics.csv when the result has GPU metrics; OK and nothing otherwise.
absl::Status WriteGpuMetricsCsv(const std::string& dir, const llmbench::v1::RunResult& result);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_GPU_METRICS_H_
