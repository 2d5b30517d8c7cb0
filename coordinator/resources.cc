#include "coordinator/resources.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "coordinator/csv.h"

namespace llmbench::coordinator {

namespace v1 = ::llmbench::v1;

void AppendResources(const v1::ResourceSeries& message, double offset_s,
                     v1::ResourceSeries* series) {
  if (!message.hostname().empty()) series->set_hostname(message.hostname());
  if (message.cores() > 0) series->set_cores(message.cores());
  if (message.interval_s() > 0) series->set_interval_s(message.interval_s());
  if (!message.note().empty()) series->set_note(message.note());
  if (message.gpus_size() > 0) *series->mutable_gpus() = message.gpus();
  if (!message.gpu_note().empty()) series->set_gpu_note(message.gpu_note());
  for (const v1::ResourceSample& sample : message.samples()) {
    v1::ResourceSample* added = series->add_samples();
    *added = sample;
    added->set_t_s(sample.t_s() + offset_s);
  }
}

namespace {

// The longest run of consecutive samples at or above the threshold in `series`.
struct Streak {
  int length = 0;
  double start_s = 0;
  double peak = 0;
};

Streak LongestSaturatedStreak(const v1::ResourceSeries& series) {
  Streak best, current;
  for (const v1::ResourceSample& s : series.samples()) {
    if (s.has_host_cpu_percent() && s.host_cpu_percent() >= kSaturatedHostCpuPercent) {
      if (current.length == 0) {
        current.start_s = s.t_s();
        current.peak = 0;
      }
      ++current.length;
      current.peak = std::max(current.peak, s.host_cpu_percent());
      if (current.length > best.length) best = current;
    } else {
      current = Streak();
    }
  }
  return best;
}

}  // namespace

std::vector<std::string> SaturatedHostReasons(const v1::RunResult& result) {
  struct Host {
    std::vector<std::string> workers;
    Streak streak;
  };
  std::map<std::string, Host> hosts;  // by hostname, for a stable order
  std::vector<std::string> order;
  for (const v1::WorkerResult& w : result.workers()) {
    if (!w.has_resources()) continue;
    const std::string host =
        w.resources().hostname().empty() ? w.address() : w.resources().hostname();
    auto [it, inserted] = hosts.try_emplace(host);
    if (inserted) order.push_back(host);
    it->second.workers.push_back(w.worker_id());
    Streak streak = LongestSaturatedStreak(w.resources());
    if (streak.length > it->second.streak.length) it->second.streak = streak;
  }
  std::vector<std::string> reasons;
  for (const std::string& name : order) {
    const Host& host = hosts[name];
    if (host.streak.length < kSaturatedHostSamples) continue;
    reasons.push_back(absl::StrFormat(
        "load host %s (%s %s) was saturated: host CPU >= %.0f%% for %d samples in a row (from "
        "%.1f s, peak %.1f%%)",
        name, host.workers.size() == 1 ? "worker" : "workers", absl::StrJoin(host.workers, ", "),
        kSaturatedHostCpuPercent, host.streak.length, host.streak.start_s, host.streak.peak));
  }
  return reasons;
}

namespace {

std::string Num(double v) { return absl::StrFormat("%.6g", v); }
template <typename T>
std::string Opt(bool has, T v) {
  if (!has) return "";
  if constexpr (std::is_floating_point_v<T>) {
    return Num(v);
  } else {
    return absl::StrCat(v);
  }
}

void AppendSeries(const std::string& source, const std::string& name,
                  const v1::ResourceSeries& series, std::string* out) {
  std::map<uint32_t, std::string> gpu_names;
  for (const v1::GpuDevice& d : series.gpus()) gpu_names[d.index()] = d.name();
  const std::string prefix =
      absl::StrCat(source, ",", CsvField(name), ",", CsvField(series.hostname()), ",");
  for (const v1::ResourceSample& s : series.samples()) {
    absl::StrAppend(out, prefix, "host,", Num(s.t_s()), ",",
                    Opt(s.has_host_cpu_percent(), s.host_cpu_percent()), ",",
                    Opt(s.has_process_cpu_percent(), s.process_cpu_percent()), ",",
                    s.host_mem_used_bytes(), ",", s.host_mem_total_bytes(), ",",
                    s.process_rss_bytes(), ",",
                    Opt(s.has_net_rx_bytes_per_s(), s.net_rx_bytes_per_s()), ",",
                    Opt(s.has_net_tx_bytes_per_s(), s.net_tx_bytes_per_s()), ",,,,,,,,,\n");
    for (const v1::GpuSample& g : s.gpus()) {
      absl::StrAppend(out, prefix, "gpu,", Num(s.t_s()), ",,,,,,,,", g.index(), ",",
                      CsvField(gpu_names[g.index()]), ",",
                      Opt(g.has_util_percent(), g.util_percent()), ",",
                      Opt(g.has_mem_util_percent(), g.mem_util_percent()), ",",
                      Opt(g.has_mem_used_bytes(), g.mem_used_bytes()), ",",
                      Opt(g.has_mem_total_bytes(), g.mem_total_bytes()), ",",
                      Opt(g.has_power_w(), g.power_w()), ",",
                      Opt(g.has_sm_clock_mhz(), g.sm_clock_mhz()), ",",
                      Opt(g.has_mem_clock_mhz(), g.mem_clock_mhz()), "\n");
    }
  }
}

}  // namespace

std::string ResourcesCsv(const v1::RunResult& result) {
  std::string out =
      "source,name,hostname,kind,t_s,host_cpu_percent,process_cpu_percent,host_mem_used_bytes,"
      "host_mem_total_bytes,process_rss_bytes,net_rx_bytes_per_s,net_tx_bytes_per_s,gpu_index,"
      "gpu_name,gpu_util_percent,gpu_mem_util_percent,gpu_mem_used_bytes,gpu_mem_total_bytes,"
      "gpu_power_w,gpu_sm_clock_mhz,gpu_mem_clock_mhz\n";
  for (const v1::WorkerResult& w : result.workers()) {
    if (w.has_resources()) AppendSeries("worker", w.worker_id(), w.resources(), &out);
  }
  for (const v1::HostMonitor& m : result.monitors()) {
    AppendSeries("monitor", m.address(), m.resources(), &out);
  }
  return out;
}

absl::Status WriteResourcesCsv(const std::string& dir, const v1::RunResult& result) {
  const std::string path = (std::filesystem::path(dir) / kResourcesFileName).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    return absl::UnavailableError(absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  const std::string csv = ResourcesCsv(result);
  out.write(csv.data(), static_cast<std::streamsize>(csv.size()));
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace llmbench::coordinator
