#include "coordinator/gpu_metrics.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/prometheus_text.h"
#include "coordinator/csv.h"
#include "coordinator/engine_check.h"

namespace llmbench::coordinator {
namespace {

namespace v1 = ::llmbench::v1;

constexpr size_t kMaxNotes = 20;
constexpr char kEnergyMetric[] = "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION";

// DCGM's "blank" values (dcgm_structs.h): a field the GPU does not support, was not found or
// may not be read is exported as the int64 blank (0x7ffffffffffffff0 and up) or the double blank
// (140737488355328.0 and the next three). They are not measurements.
bool IsDcgmBlank(double v) {
  constexpr double kInt64Blank = 9223372036854775792.0;
  constexpr double kFp64Blank = 140737488355328.0;
  return !std::isfinite(v) || v >= kInt64Blank || (v >= kFp64Blank && v <= kFp64Blank + 3);
}

std::string LabelOf(const Labels& labels, std::string_view name) {
  for (const auto& [key, value] : labels) {
    if (key == name) return value;
  }
  return "";
}

std::string Num(double v) {
  if (v == static_cast<double>(static_cast<int64_t>(v)) && std::abs(v) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(v));
  }
  return absl::StrFormat("%.6g", v);
}

}  // namespace

std::string DcgmCanonicalName(std::string_view metric) {
  static const std::pair<std::string_view, std::string_view> kNames[] = {
      {"DCGM_FI_DEV_GPU_UTIL", "gpu_util_pct"},
      {"DCGM_FI_DEV_MEM_COPY_UTIL", "mem_copy_util_pct"},
      {"DCGM_FI_DEV_ENC_UTIL", "enc_util_pct"},
      {"DCGM_FI_DEV_DEC_UTIL", "dec_util_pct"},
      {"DCGM_FI_DEV_FB_USED", "fb_used_mib"},
      {"DCGM_FI_DEV_FB_FREE", "fb_free_mib"},
      {"DCGM_FI_DEV_FB_RESERVED", "fb_reserved_mib"},
      {"DCGM_FI_DEV_POWER_USAGE", "power_w"},
      {"DCGM_FI_DEV_GPU_TEMP", "gpu_temp_c"},
      {"DCGM_FI_DEV_MEMORY_TEMP", "memory_temp_c"},
      {"DCGM_FI_DEV_SM_CLOCK", "sm_clock_mhz"},
      {"DCGM_FI_DEV_MEM_CLOCK", "mem_clock_mhz"},
      {"DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gr_engine_active_ratio"},
      {"DCGM_FI_PROF_SM_ACTIVE", "sm_active_ratio"},
      {"DCGM_FI_PROF_SM_OCCUPANCY", "sm_occupancy_ratio"},
      {"DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "tensor_active_ratio"},
      {"DCGM_FI_PROF_DRAM_ACTIVE", "dram_active_ratio"},
      {"DCGM_FI_PROF_PCIE_TX_BYTES", "pcie_tx_bytes_per_s"},
      {"DCGM_FI_PROF_PCIE_RX_BYTES", "pcie_rx_bytes_per_s"},
      {"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "energy_j"},
  };
  for (const auto& [dcgm, name] : kNames) {
    if (metric == dcgm) return std::string(name);
  }
  std::string rest(metric);
  if (rest.rfind("DCGM_FI_", 0) == 0) rest.erase(0, 8);
  return absl::AsciiStrToLower(rest);
}

GpuMetricsAccumulator::GpuMetricsAccumulator(std::string url, double interval_s)
    : url_(std::move(url)), interval_s_(interval_s) {}

void GpuMetricsAccumulator::Note(std::string note) {
  if (notes_.size() < kMaxNotes) notes_.push_back(std::move(note));
}

void GpuMetricsAccumulator::AddScrape(int64_t unix_ns, const absl::StatusOr<std::string>& body) {
  if (!body.ok()) {
    ++errors_;
    Note(absl::StrCat("scrape failed: ", body.status().message()));
    return;
  }
  absl::StatusOr<MetricSet> set = ParsePrometheusText(*body);
  if (!set.ok()) {
    ++errors_;
    Note(absl::StrCat("unparsable metrics: ", set.status().message()));
    return;
  }
  const double t_s = scrapes_ == 0 ? 0 : static_cast<double>(unix_ns - first_unix_ns_) / 1e9;
  bool any = false;
  for (const MetricFamily& family : set->families) {
    if (!absl::StartsWith(family.name, "DCGM_FI_")) continue;
    const bool energy = family.name == kEnergyMetric;
    for (const Sample& sample : family.samples) {
      any = true;
      if (IsDcgmBlank(sample.value)) {
        ++blanks_;
        continue;
      }
      const std::string gpu = LabelOf(sample.labels, "gpu");
      const std::string uuid = LabelOf(sample.labels, "UUID");
      const std::string host = LabelOf(sample.labels, "Hostname");
      Gpu& g = gpus_[absl::StrCat(host, "/", gpu, "/", uuid)];
      if (g.gpu.empty() && g.uuid.empty()) {
        g.gpu = gpu;
        g.uuid = uuid;
        g.hostname = host;
        g.model_name = LabelOf(sample.labels, "modelName");
      }
      double value = sample.value;
      if (energy) {  // mJ since boot -> J since the first scrape
        if (!g.energy_start_mj) g.energy_start_mj = value;
        value = (value - *g.energy_start_mj) / 1000;
      }
      Series& s = g.series[DcgmCanonicalName(family.name)];
      s.metric = family.name;
      s.t_s.push_back(t_s);
      s.values.push_back(value);
    }
  }
  if (!any) Note("no DCGM_FI_* metrics in the answer (is this a DCGM exporter?)");
  if (scrapes_ == 0) first_unix_ns_ = unix_ns;
  last_unix_ns_ = unix_ns;
  ++scrapes_;
}

v1::GpuMetricsTelemetry GpuMetricsAccumulator::Result() const {
  v1::GpuMetricsTelemetry out;
  out.set_url(url_);
  out.set_interval_s(interval_s_);
  out.set_scrapes(scrapes_);
  out.set_scrape_errors(errors_);
  for (const std::string& note : notes_) out.add_notes(note);
  if (blanks_ > 0) {
    out.add_notes(absl::StrCat(blanks_,
                               " values were DCGM blanks (a field the GPU does not support): "
                               "left out"));
  }
  out.set_window_s(scrapes_ > 0 ? static_cast<double>(last_unix_ns_ - first_unix_ns_) / 1e9 : 0);
  out.set_first_scrape_unix_ns(first_unix_ns_);
  std::vector<const Gpu*> ordered;
  for (const auto& [key, gpu] : gpus_) ordered.push_back(&gpu);
  std::stable_sort(ordered.begin(), ordered.end(), [](const Gpu* a, const Gpu* b) {
    if (a->hostname != b->hostname) return a->hostname < b->hostname;
    int ia = 0, ib = 0;
    const bool na = absl::SimpleAtoi(a->gpu, &ia), nb = absl::SimpleAtoi(b->gpu, &ib);
    if (na && nb && ia != ib) return ia < ib;
    return a->gpu < b->gpu;
  });
  for (const Gpu* g : ordered) {
    v1::DcgmGpu* gpu = out.add_gpus();
    gpu->set_gpu(g->gpu);
    gpu->set_uuid(g->uuid);
    gpu->set_model_name(g->model_name);
    gpu->set_hostname(g->hostname);
    for (const auto& [name, s] : g->series) {
      v1::GaugeSeries* series = gpu->add_metrics();
      series->set_name(name);
      series->set_metric(s.metric);
      double sum = 0, low = s.values.front(), high = s.values.front();
      for (size_t i = 0; i < s.values.size(); ++i) {
        series->add_t_s(s.t_s[i]);
        series->add_values(s.values[i]);
        sum += s.values[i];
        low = std::min(low, s.values[i]);
        high = std::max(high, s.values[i]);
      }
      series->set_min(low);
      series->set_mean(sum / static_cast<double>(s.values.size()));
      series->set_max(high);
    }
  }
  return out;
}

GpuMetricsFetcher CurlGpuMetricsFetcher(int timeout_ms) {
  return [timeout_ms](const std::string& url) -> absl::StatusOr<std::string> {
    EngineHttpAnswer answer = EngineHttpGet(v1::Engine(), url, timeout_ms, size_t{16} << 20);
    if (!answer.ok) return absl::UnavailableError(absl::StrCat("GET ", url, ": ", answer.error));
    if (answer.status < 200 || answer.status > 299) {
      return absl::UnavailableError(absl::StrCat("GET ", url, ": HTTP ", answer.status));
    }
    return std::move(answer.body);
  };
}

GpuMetricsCollector::GpuMetricsCollector(std::vector<std::string> urls, double interval_s,
                                         GpuMetricsFetcher fetcher, const Clock& clock)
    : urls_(std::move(urls)), interval_s_(interval_s), fetcher_(std::move(fetcher)), clock_(clock) {
  for (const std::string& url : urls_) accumulators_.emplace_back(url, interval_s_);
}

std::unique_ptr<GpuMetricsCollector> GpuMetricsCollector::Start(std::vector<std::string> urls,
                                                                double interval_s,
                                                                GpuMetricsFetcher fetcher,
                                                                const Clock& clock) {
  std::unique_ptr<GpuMetricsCollector> c(
      new GpuMetricsCollector(std::move(urls), interval_s, std::move(fetcher), clock));
  c->ScrapeAll();
  c->thread_ = std::thread([raw = c.get()] {
    const auto interval = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(raw->interval_s_));
    std::unique_lock<std::mutex> lock(raw->stop_mu_);
    while (!raw->stop_) {
      if (raw->stop_cv_.wait_for(lock, interval, [raw] { return raw->stop_; })) break;
      lock.unlock();
      raw->ScrapeAll();
      lock.lock();
    }
  });
  return c;
}

GpuMetricsCollector::~GpuMetricsCollector() { StopThread(); }

void GpuMetricsCollector::ScrapeAll() {
  for (size_t i = 0; i < urls_.size(); ++i) {
    absl::StatusOr<std::string> body = fetcher_(urls_[i]);
    const int64_t at = clock_.UnixNowNs();
    std::lock_guard<std::mutex> lock(mu_);
    accumulators_[i].AddScrape(at, body);
  }
}

void GpuMetricsCollector::StopThread() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<v1::GpuMetricsTelemetry> GpuMetricsCollector::Stop() {
  StopThread();
  ScrapeAll();
  std::vector<v1::GpuMetricsTelemetry> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const GpuMetricsAccumulator& a : accumulators_) out.push_back(a.Result());
  return out;
}

std::string GpuMetricsCsv(const v1::RunResult& result) {
  std::string out = "url,hostname,gpu,uuid,model_name,name,metric,t_s,value\n";
  for (const v1::GpuMetricsTelemetry& exporter : result.gpu_metrics()) {
    for (const v1::DcgmGpu& gpu : exporter.gpus()) {
      const std::string prefix = absl::StrCat(
          CsvField(exporter.url()), ",", CsvField(gpu.hostname()), ",", CsvField(gpu.gpu()), ",",
          CsvField(gpu.uuid()), ",", CsvField(gpu.model_name()), ",");
      for (const v1::GaugeSeries& s : gpu.metrics()) {
        for (int i = 0; i < s.values_size(); ++i) {
          absl::StrAppend(&out, prefix, CsvField(s.name()), ",", CsvField(s.metric()), ",",
                          Num(s.t_s(i)), ",", Num(s.values(i)), "\n");
        }
      }
    }
  }
  return out;
}

absl::Status WriteGpuMetricsCsv(const std::string& dir, const v1::RunResult& result) {
  if (result.gpu_metrics().empty()) return absl::OkStatus();
  const std::string path = (std::filesystem::path(dir) / kGpuMetricsFileName).string();
  std::FILE* file = std::fopen(path.c_str(), "w");
  if (file == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  const std::string csv = GpuMetricsCsv(result);
  const bool ok = std::fwrite(csv.data(), 1, csv.size(), file) == csv.size();
  if (std::fclose(file) != 0 || !ok) {
    return absl::DataLossError(absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace llmbench::coordinator
