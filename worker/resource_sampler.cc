#include "worker/resource_sampler.h"

#include <unistd.h>

#include <algorithm>
#include <thread>
#include <utility>

#include "common/status.h"

namespace llmbench::worker {

namespace v1 = ::llmbench::v1;

ResourceSampler::ResourceSampler(ResourceSamplerOptions options)
    : reader_(options.procfs_root),
      options_(std::move(options)),
      ticks_per_second_(options_.ticks_per_second > 0
                            ? options_.ticks_per_second
                            : static_cast<int64_t>(sysconf(_SC_CLK_TCK))) {}

absl::Status ResourceSampler::Prime() {
  LLMBENCH_ASSIGN_OR_RETURN(ProcfsSnapshot snapshot, reader_.Read());
  last_ns_ = options_.clock->NowNs();
  cores_ = snapshot.host_cpu.cores > 0 ? snapshot.host_cpu.cores
                                       : std::max(1u, std::thread::hardware_concurrency());
  last_ = std::move(snapshot);
  return absl::OkStatus();
}

absl::StatusOr<v1::ResourceSample> ResourceSampler::Sample() {
  if (!last_.has_value()) return absl::FailedPreconditionError("ResourceSampler: not primed");
  LLMBENCH_ASSIGN_OR_RETURN(ProcfsSnapshot now, reader_.Read());
  const int64_t now_ns = options_.clock->NowNs();
  const ProcfsSnapshot& before = *last_;
  const double wall_s = static_cast<double>(now_ns - last_ns_) / 1e9;

  v1::ResourceSample sample;
  sample.set_t_s(static_cast<double>(now_ns - options_.reference_ns) / 1e9);
  const uint64_t total_before = before.host_cpu.Total();
  const uint64_t total_now = now.host_cpu.Total();
  const uint64_t busy_before = before.host_cpu.Busy();
  const uint64_t busy_now = now.host_cpu.Busy();
  if (total_now > total_before && busy_now >= busy_before) {
    sample.set_host_cpu_percent(100.0 * static_cast<double>(busy_now - busy_before) /
                                static_cast<double>(total_now - total_before));
  }
  const uint64_t process_before = before.process_cpu.utime + before.process_cpu.stime;
  const uint64_t process_now = now.process_cpu.utime + now.process_cpu.stime;
  if (wall_s > 0 && process_now >= process_before && ticks_per_second_ > 0) {
    sample.set_process_cpu_percent(100.0 * static_cast<double>(process_now - process_before) /
                                   static_cast<double>(ticks_per_second_) / wall_s);
  }
  sample.set_host_mem_total_bytes(now.memory.total_bytes);
  sample.set_host_mem_used_bytes(now.memory.total_bytes - now.memory.available_bytes);
  sample.set_process_rss_bytes(now.process_rss_bytes);
  if (wall_s > 0 && now.net.rx_bytes >= before.net.rx_bytes) {
    sample.set_net_rx_bytes_per_s(static_cast<double>(now.net.rx_bytes - before.net.rx_bytes) /
                                  wall_s);
  }
  if (wall_s > 0 && now.net.tx_bytes >= before.net.tx_bytes) {
    sample.set_net_tx_bytes_per_s(static_cast<double>(now.net.tx_bytes - before.net.tx_bytes) /
                                  wall_s);
  }
  if (options_.nvml != nullptr) {
    for (v1::GpuSample& gpu : options_.nvml->Sample()) *sample.add_gpus() = std::move(gpu);
  }
  last_ = std::move(now);
  last_ns_ = now_ns;
  return sample;
}

v1::ResourceSeries ResourceSeriesHeader(const std::string& hostname, uint32_t cores,
                                        int64_t interval_ms, const Nvml* nvml,
                                        const std::string& gpu_note) {
  v1::ResourceSeries series;
  series.set_hostname(hostname);
  series.set_cores(cores);
  series.set_interval_s(static_cast<double>(interval_ms) / 1000.0);
  if (nvml != nullptr) {
    for (const v1::GpuDevice& device : nvml->devices()) *series.add_gpus() = device;
  } else {
    series.set_gpu_note(gpu_note);
  }
  return series;
}

}  // namespace llmbench::worker
