// ResourceSampler: turns two procfs readings (worker/procfs.h) into one ResourceSample: host
// CPU % from the jiffy deltas of /proc/stat, this process's CPU % from its utime + stime
// delta per wall second, host memory used/total, this process's RSS, network receive and
// transmit bytes per second, and (with an Nvml) one GpuSample per GPU.
//
// Prime() takes the baseline; each Sample() covers the interval since the previous reading.
// It has no thread and never sleeps: the caller decides when to sample (the RunShard pump and
// the Monitor stream, worker/worker_service.cc and worker/monitor_service.cc), and tests drive
// it with a FakeClock and a fixture procfs root.
//
// Thread-compatible: one caller at a time.
#ifndef LLMBENCH_WORKER_RESOURCE_SAMPLER_H_
#define LLMBENCH_WORKER_RESOURCE_SAMPLER_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "llmbench/v1/resources.pb.h"
#include "worker/nvml.h"
#include "worker/procfs.h"

namespace llmbench::worker {

// Default sampling interval of workers (during RunShard) and monitors.
inline constexpr int64_t kDefaultResourceIntervalMs = 1000;
// Shortest interval a Monitor call may ask for.
inline constexpr int64_t kMinResourceIntervalMs = 100;

struct ResourceSamplerOptions {
  std::string procfs_root = "/proc";
  const Clock* clock = &SteadyClock::Get();
  // Monotonic instant (clock->NowNs()) that sample times count from.
  int64_t reference_ns = 0;
  // Clock ticks per second of /proc/self/stat (sysconf(_SC_CLK_TCK)); 0 = ask sysconf.
  int64_t ticks_per_second = 0;
  // GPU samples when set. Not owned; must outlive the sampler.
  const Nvml* nvml = nullptr;
};

class ResourceSampler {
 public:
  explicit ResourceSampler(ResourceSamplerOptions options);

  // Reads the baseline. The procfs error (path and reason) when it cannot be read.
  absl::Status Prime();
  // A sample over the interval since the previous reading (Prime or Sample). A share or rate
  // whose interval is empty (no wall time, no jiffies) or whose counter went backwards is
  // left absent. REQUIRES: Prime() succeeded.
  absl::StatusOr<llmbench::v1::ResourceSample> Sample();

  // Online CPUs ("cpuN" lines of /proc/stat). Known after Prime().
  uint32_t cores() const { return cores_; }
  // Monotonic time of the latest reading.
  int64_t last_reading_ns() const { return last_ns_; }

 private:
  const ProcfsReader reader_;
  const ResourceSamplerOptions options_;
  const int64_t ticks_per_second_;
  std::optional<ProcfsSnapshot> last_;
  int64_t last_ns_ = 0;
  uint32_t cores_ = 0;
};

// The descriptive part of a series (no samples): hostname, cores, interval, and the GPUs of
// `nvml` or, without one, `gpu_note` (which should start "no GPU telemetry: ").
llmbench::v1::ResourceSeries ResourceSeriesHeader(const std::string& hostname, uint32_t cores,
                                                  int64_t interval_ms, const Nvml* nvml,
                                                  const std::string& gpu_note);

}  // namespace llmbench::worker

#endif  // LLMBENCH_WORKER_RESOURCE_SAMPLER_H_
