// What the hardware did during a run, coordinator side (docs/metrics.md, "Resources and
// monitors"):
//   - AppendResources: a worker's WorkerMessage.resources fragments, shifted from the shard's
//     clock onto the run's, become WorkerResult.resources;
//   - (HostMonitors, dispatch_monitors.h: one Monitor stream per `--monitor ADDR` for the
//     length of a run, becoming RunResult.monitors;)
//   - SaturatedHostReasons: a load host whose CPU stayed at or above kSaturatedHostCpuPercent
//     for kSaturatedHostSamples samples in a row gives a verdict warning;
//   - resources.csv: every sample of every worker and monitor, one row per host sample and one
//     per GPU sample.
//
// Thread-safety: AppendResources, SaturatedHostReasons and the CSV functions are pure.
#ifndef LLMBENCH_COORDINATOR_RESOURCES_H_
#define LLMBENCH_COORDINATOR_RESOURCES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "llmbench/v1/resources.pb.h"
#include "llmbench/v1/result.pb.h"

namespace llmbench::coordinator {

inline constexpr char kResourcesFileName[] = "resources.csv";

// A load host is saturated when its host CPU is at or above this many percent (of all its
// cores) ...
inline constexpr double kSaturatedHostCpuPercent = 95.0;
// ... in at least this many consecutive samples (about 3 s at the default 1 s interval).
inline constexpr int kSaturatedHostSamples = 3;

// Merges one resources message into `series`: descriptive fields (hostname, cores, interval,
// GPUs, notes) when the message carries them, and every sample with `offset_s` added to its
// t_s (the wire's t_s counts from the stream's reference instant; offset_s is that instant in
// seconds since the run start).
void AppendResources(const llmbench::v1::ResourceSeries& message, double offset_s,
                     llmbench::v1::ResourceSeries* series);

// The verdict warnings for saturated load hosts (see the constants above), one per host
// (workers on the same host are named together), e.g.
//   "load host h1 (worker w1) was saturated: host CPU >= 95% for 4 samples in a row
//    (from 1.0 s, peak 99.8%)".
std::vector<std::string> SaturatedHostReasons(const llmbench::v1::RunResult& result);

// resources.csv: header and one row per host sample and per GPU sample, workers first (in
// result order), then monitors. Columns: source (worker | monitor), name (worker id or
// monitor address), hostname, kind (host | gpu), t_s, host_cpu_percent, process_cpu_percent,
// host_mem_used_bytes, host_mem_total_bytes, process_rss_bytes, net_rx_bytes_per_s,
// net_tx_bytes_per_s, gpu_index, gpu_name, gpu_util_percent, gpu_mem_util_percent,
// gpu_mem_used_bytes, gpu_mem_total_bytes, gpu_power_w, gpu_sm_clock_mhz, gpu_mem_clock_mhz.
// An absent value is an empty cell.
std::string ResourcesCsv(const llmbench::v1::RunResult& result);
// Writes ResourcesCsv to dir/resources.csv.
absl::Status WriteResourcesCsv(const std::string& dir, const llmbench::v1::RunResult& result);

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_RESOURCES_H_
