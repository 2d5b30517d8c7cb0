// HostMonitors: one MonitorService.Monitor stream per `--monitor ADDR` (docs/metrics.md,
// "Resources and monitors") for the length of a run; what they sent becomes
// RunResult.monitors. Sample times are moved onto the run's clock: a monitor's t_s counts from
// its call's start, which the coordinator takes as the moment it sent the call (error: half
// a round trip).
//
// Thread-safety: one reader thread per monitor, started by Start() and joined by Stop() or the
// destructor; the object itself is used from one thread.
#ifndef LLMBENCH_COORDINATOR_DISPATCH_MONITORS_H_
#define LLMBENCH_COORDINATOR_DISPATCH_MONITORS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/worker_client.h"
#include "llmbench/v1/resources.pb.h"

namespace llmbench::coordinator {

// Sampling interval asked of monitors.
inline constexpr uint32_t kMonitorIntervalMs = 1000;

class HostMonitors {
 public:
  // Calls Monitor on every address and waits (up to `timeout_ms` in all) for each monitor's
  // first message. A monitor that cannot be reached or refuses fails the whole call before any
  // load is sent: "monitor ADDR: <reason>". `run_started_unix_ns`: the run's start on the
  // coordinator's wall clock.
  static absl::StatusOr<std::unique_ptr<HostMonitors>> Start(
      const std::vector<std::string>& addresses, const WorkerClientSecurity& security,
      int64_t run_started_unix_ns, uint32_t interval_ms = kMonitorIntervalMs,
      int timeout_ms = 10000);
  ~HostMonitors();
  HostMonitors(const HostMonitors&) = delete;
  HostMonitors& operator=(const HostMonitors&) = delete;

  // Ends the streams and returns what each monitor sent, in address order. A stream that
  // broke during the run keeps its samples and says why in HostMonitor.error.
  std::vector<llmbench::v1::HostMonitor> Stop();

 private:
  struct Monitor;
  HostMonitors() = default;
  std::vector<std::unique_ptr<Monitor>> monitors_;
};

}  // namespace llmbench::coordinator

#endif  // LLMBENCH_COORDINATOR_DISPATCH_MONITORS_H_
